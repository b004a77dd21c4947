//go:build !invariants

package mmap

// invariants is false without -tags invariants: the checks compile away.
const invariants = false
