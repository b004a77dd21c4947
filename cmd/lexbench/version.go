package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// build is what the binary knows of its build (debug.ReadBuildInfo): go
// build and go install record the commit of a clone; go run does not.
type build struct {
	module, version, goVersion string
	rev, dirty, time           string // vcs.revision ("" if none), "+dirty", vcs.time
}

func buildFacts() (build, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return build{}, false
	}
	b := build{module: bi.Path, version: bi.Main.Version, goVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				b.dirty = "+dirty"
			}
		case "vcs.time":
			b.time = s.Value
		}
	}
	return b, true
}

const versionUsage = "usage: lexbench version\n  print the module version, the commit (vcs.revision, +dirty if modified) and the Go version\n"

// cmdVersion is `lexbench version`: the module's version, the commit the
// binary was built from and the Go version.
func cmdVersion(args []string, stdout io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, versionUsage)
		return exitOK
	}
	b, ok := buildFacts()
	if !ok {
		fmt.Fprintln(stdout, "lexbench: no build information")
		return exitOK
	}
	rev, when := "unknown (built by go run or outside a repository)", ""
	if b.rev != "" {
		rev = b.rev + b.dirty
	}
	if b.time != "" {
		when = " (" + b.time + ")"
	}
	fmt.Fprintf(stdout, "lexbench %s\ncommit %s%s\n%s %s\n", b.version, rev, when, b.goVersion, b.module)
	return exitOK
}
