package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/workloads"
)

// programSizeMax bounds a program file (it is read whole).
const programSizeMax = 1 << 20

// readProgram reads a .lxm file whole.
func readProgram(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > programSizeMax {
		return "", fmt.Errorf("%s: program larger than %d bytes", path, programSizeMax)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return string(src), nil
}

// loadProgram reads and compiles a .lxm file. Compile errors are all
// printed to stderr (FILE:LINE:COL: message) and returned as one error.
func loadProgram(path string, stderr io.Writer) (*lang.Program, *runfile.Program, error) {
	src, err := readProgram(path)
	if err != nil {
		return nil, nil, err
	}
	prog := &runfile.Program{Path: path, Text: src}
	p, err := compileProgram(prog, stderr)
	if err != nil {
		return nil, nil, err
	}
	return p, prog, nil
}

// compileProgram compiles a program's text; its compile errors are all
// printed to stderr and returned as one error.
func compileProgram(prog *runfile.Program, stderr io.Writer) (*lang.Program, error) {
	p, err := lang.Compile(prog.Path, prog.Text)
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

var langUsage = map[string]string{
	"run": `usage: lexbench run FILE.lxm [flags]
  run a workload written in the Lexum language (docs/language.md): the program's
  keys become flags, the rest are a workload's flags; the program's text is
  recorded in the run file beside --journal, so resume and replay run it again.
  lexbench run FILE.lxm --help lists the program's flags.
`,
	"check": `usage: lexbench check [-v] FILE.lxm
  report every error of a program, one per line on stderr (FILE:LINE:COL: message),
  then what linking it with the default parameters finds (what run without flags
  would report before its first message); nothing and exit 0 for a valid program.
  -v, --verbose   for a valid program, print its cells (--detect local) and the
                  fields oscillation detection leaves out (counters) on stdout
`,
	"disasm": `usage: lexbench disasm FILE.lxm
  print a program's bytecode on stdout.
`,
}

func isHelp(a string) bool { return a == "-h" || a == "--help" }

// programArg is the one FILE.lxm argument of check and disasm; help is
// true for --help.
func programArg(fs *pflag.FlagSet, cmd string, args []string, stdout io.Writer) (path string, help bool, err error) {
	codes := map[string]string{
		"check":  commandExitCodes("the program has no errors", "it has errors (each one line on stderr), or it cannot be read"),
		"disasm": commandExitCodes("the bytecode printed", "the program has errors, or cannot be read"),
	}[cmd]
	return parseOneArg(fs, cmd, "FILE.lxm", langUsage[cmd]+codes, args, stdout)
}

// cmdLangRun is `lexbench run FILE.lxm [flags]`: the program's keys become
// flags; everything else is as for a native workload.
func cmdLangRun(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) >= 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, langUsage["run"]+exitCodesHelp)
		return exitOK, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return exitBadInput, &usageError{msg: "run: want FILE.lxm before the flags", usage: langUsage["run"]}
	}
	p, prog, err := loadProgram(args[0], stderr)
	if err != nil {
		return exitBadInput, err
	}
	return cmdRun(p.Spec(), prog, args[1:], stdout, stderr)
}

// cmdCheck is `lexbench check [-v] FILE.lxm`: every error, or nothing.
// With -v, a program without errors is described on stdout: its cells
// and the fields oscillation detection leaves out (docs/language.md).
func cmdCheck(args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	verbose := fs.BoolP("verbose", "v", false, "")
	path, help, err := programArg(fs, "check", args, stdout)
	if help {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	p, _, err := loadProgram(path, stderr)
	if err != nil {
		return exitBadInput, err
	}
	// what run would report before its first message, with the parameters
	// it takes without flags (faults that hold for any parameters are
	// compile errors already)
	spec := p.Spec()
	pr := spec.Defaults()
	if err := p.CheckLink(pr); err != nil {
		fmt.Fprintf(stderr, "%v (with the default parameters: %s)\n", err, defaultParams(spec, pr))
		return exitBadInput, errPrinted
	}
	if *verbose {
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

// defaultParams lists parameters as flags: "--k 2 -n 100000000 --seed 1
// --batch 4096".
func defaultParams(spec *workloads.Spec, pr workloads.Params) string {
	var b strings.Builder
	for i, k := range spec.Keys {
		fmt.Fprintf(&b, "--%s %d ", k.Name, pr.K[i])
	}
	fmt.Fprintf(&b, "-n %d --seed %d --batch %d", pr.N, pr.Seed, pr.Batch)
	return b.String()
}

// cmdDisasm is `lexbench disasm FILE.lxm`: the bytecode on stdout.
func cmdDisasm(args []string, stdout, stderr io.Writer) (int, error) {
	path, help, err := programArg(pflag.NewFlagSet("disasm", pflag.ContinueOnError), "disasm", args, stdout)
	if help {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	p, _, err := loadProgram(path, stderr)
	if err != nil {
		return exitBadInput, err
	}
	p.Disasm(stdout)
	return exitOK, nil
}
