package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lexbench/lexbench/lang"
)

// programSizeMax bounds a program file (it is read whole).
const programSizeMax = 1 << 20

// loadProgram reads and compiles a .lxm file. Compile errors are all
// printed to stderr (FILE:LINE:COL: message) and returned as one error.
func loadProgram(path string, stderr io.Writer) (*lang.Program, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	if st.Size() > programSizeMax {
		return nil, fmt.Errorf("%s: program larger than %d bytes", path, programSizeMax)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	p, err := lang.Compile(path, string(src))
	if err != nil {
		var el *lang.ErrorList
		if errors.As(err, &el) {
			for _, e := range el.List {
				fmt.Fprintln(stderr, e)
			}
			return nil, errPrinted
		}
		return nil, err
	}
	return p, nil
}

// errPrinted is an error already reported on stderr.
var errPrinted = errors.New("errors printed")

// programArg is the one FILE.lxm argument of check and disasm.
func programArg(cmd string, args []string) (string, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return "", &usageError{msg: cmd + ": want one argument, FILE.lxm", usage: topUsage()}
	}
	return args[0], nil
}

// cmdLangRun is `lexbench run FILE.lxm [flags]`: the program's keys become
// flags; everything else is as for a native workload.
func cmdLangRun(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return exitBadInput, &usageError{msg: "run: want FILE.lxm before the flags", usage: topUsage()}
	}
	p, err := loadProgram(args[0], stderr)
	if err != nil {
		return exitBadInput, err
	}
	return cmdRun(p.Spec(), args[1:], stdout, stderr)
}

// cmdCheck is `lexbench check [-v] FILE.lxm`: every error, or nothing.
// With -v, a program without errors is described on stdout: its cells
// and the fields oscillation detection leaves out (docs/language.md).
func cmdCheck(args []string, stdout, stderr io.Writer) (int, error) {
	verbose := len(args) > 0 && (args[0] == "-v" || args[0] == "--verbose")
	if verbose {
		args = args[1:]
	}
	path, err := programArg("check", args)
	if err != nil {
		return exitBadInput, err
	}
	p, err := loadProgram(path, stderr)
	if err != nil {
		return exitBadInput, err
	}
	if verbose {
		fmt.Fprintf(stdout, "%s: cells (--detect local):\n", path)
		for _, l := range p.CellsText() {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
		hidden := p.HiddenFields()
		if ts := p.TickDependent(); len(ts) > 0 {
			fmt.Fprintf(stdout, "%s: oscillation detection does not run: the transitions of %s use now (the tick) in a condition, an emission or a compared field, so a repeated configuration proves no cycle\n",
				path, strings.Join(ts, ", "))
		}
		if len(hidden) == 0 {
			fmt.Fprintf(stdout, "%s: oscillation detection compares every field\n", path)
		} else {
			fmt.Fprintf(stdout, "%s: oscillation detection leaves out (counters: read only by their own updates, program goals and figures):\n", path)
			for _, l := range hidden {
				fmt.Fprintf(stdout, "  %s\n", l)
			}
		}
	}
	return exitOK, nil
}

// cmdDisasm is `lexbench disasm FILE.lxm`: the bytecode on stdout.
func cmdDisasm(args []string, stdout, stderr io.Writer) (int, error) {
	path, err := programArg("disasm", args)
	if err != nil {
		return exitBadInput, err
	}
	p, err := loadProgram(path, stderr)
	if err != nil {
		return exitBadInput, err
	}
	p.Disasm(stdout)
	return exitOK, nil
}
