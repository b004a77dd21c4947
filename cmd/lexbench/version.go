package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// cmdVersion is `lexbench version`: the module's version, the commit the
// binary was built from (go build and go install record it; go run does
// not) and the Go version, from the binary's build information.
func cmdVersion(args []string, stdout io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, "usage: lexbench version\n  print the module version, the commit (vcs.revision, +dirty if modified) and the Go version\n")
		return exitOK
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "lexbench: no build information")
		return exitOK
	}
	rev, dirty, when := "unknown (built by go run or outside a repository)", "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		case "vcs.time":
			when = " (" + s.Value + ")"
		}
	}
	fmt.Fprintf(stdout, "lexbench %s\ncommit %s%s%s\n%s %s\n", bi.Main.Version, rev, dirty, when, bi.GoVersion, bi.Path)
	return exitOK
}
