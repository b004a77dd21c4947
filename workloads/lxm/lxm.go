// Package lxm holds the SPEC experiments (and an example) written in the
// Lexum language (docs/language.md): each reproduces its native workload
// bit for bit. They are embedded so that the CLI can name the domains and
// message kinds of a native workload's journal (lexbench log).
package lxm

import "embed"

// Files are the programs, by file name (banking.lxm, …).
//
//go:embed *.lxm
var Files embed.FS
