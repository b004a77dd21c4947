// Command lexbench runs the Lexum experiments of SPEC §5 on the engine and
// prints their results in Go benchmark format (SPEC §6). `lexbench help`
// lists the commands, `lexbench COMMAND --help` their flags, and
// docs/cli.md is the whole contract: commands, output, exit codes.
//
// stdout is data (configuration and Benchmark lines, benchstat reads it);
// errors and progress go to stderr.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/workloads"
)

// Exit codes. 0..4 are SPEC §6's results; the rest are this
// implementation's, chosen so that no crash or interruption can be read as
// a result.
const (
	exitOK          = 0   // converged (and oscillating/damped for the oscillation workload)
	exitBadInput    = 1   // bad input, or an error (a damaged journal, a divergence, I/O)
	exitViolated    = 2   // a goal violated
	exitOscillating = 3   // oscillating or damped (workloads other than oscillation)
	exitBudget      = 4   // a budget ended the run
	exitCrash       = 70  // lexbench itself crashed: a panic, a Go runtime fatal error, a memory fault (EX_SOFTWARE)
	exitInterrupted = 130 // stopped by SIGINT (Ctrl-C) at a tick boundary; 143 for SIGTERM; 128+N for other signals N
)

func main() {
	os.Exit(supervise(os.Args[1:]))
}

// usageError is bad input: one line naming what is wrong, then usage.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string { return e.msg }

// commands are the commands besides the workloads, in help order.
var commands = []struct{ name, args, what string }{
	{"verify", "JOURNAL | J.p0 J.p1 …", "check every block and link of a journal (or a partitioned run's set), print its trace hash"},
	{"resume", "JOURNAL", "continue an interrupted run (kill -9, Ctrl-C, crash) to the uninterrupted result"},
	{"replay", "JOURNAL", "re-execute a journal's run and compare every block; print the first divergence"},
	{"run", "FILE.lxm", "run a workload written in the Lexum language (docs/language.md)"},
	{"check", "[-v] FILE.lxm", "report every error of a program (FILE:LINE:COL: message); -v: its cells and the fields detection leaves out"},
	{"disasm", "FILE.lxm", "print a program's bytecode"},
	{"log", "JOURNAL", "print a journal's messages, decoded (--tick A..B, --domain D, --faults)"},
	{"sim", "WORKLOAD|FILE.lxm", "run many seeds with faults: failing seeds, their commands, shrunk runs (docs/simulation.md)"},
	{"cluster", "WORKLOAD|FILE.lxm", "a replicated run (--replicas N) or a partitioned one (--partitions P) on an embedded NATS server, checked"},
	{"publish", "WORKLOAD|FILE.lxm", "publish a replicated run's inputs to a JetStream stream (--nats URL; docs/replication.md)"},
	{"replica", "WORKLOAD|FILE.lxm", "one replica of a replicated run: consume the stream, journal, checkpoint"},
	{"agree", "WORKLOAD|FILE.lxm", "check that the replicas agree with each other and with the single-process run"},
	{"partition", "WORKLOAD|FILE.lxm", "one partition of a partitioned run (--partitions P --index K --nats URL; docs/distributed.md)"},
	{"merge", "OUT J.p0 J.p1 …", "a partitioned run's journals as one single-process journal and its run file"},
	{"nats", "", "run an embedded NATS server with JetStream (--listen ADDR, --expose)"},
	{"version", "", "print the module version, commit and Go version"},
	{"help", "", "print this help"},
}

func commandNames() string {
	names := []string{workloads.Names()}
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, "|")
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "lexbench: missing command\n%s", topUsage())
		return exitBadInput
	}
	var err error
	code := exitOK
	switch cmd := args[0]; cmd {
	case "-h", "--help", "help":
		if cmd == "help" && len(args) == 2 && args[1] != "help" && !strings.HasPrefix(args[1], "-") {
			return run([]string{args[1], "--help"}, stdout, stderr) // help COMMAND is COMMAND --help
		}
		if len(args) > 1 && !(cmd == "help" && len(args) == 2 && args[1] == "help") {
			fmt.Fprintf(stderr, "lexbench: help: want at most one COMMAND argument\n%s", topUsage())
			return exitBadInput
		}
		fmt.Fprint(stdout, topUsage())
		return exitOK
	case "version", "--version":
		if len(args) > 1 && !isHelp(args[1]) {
			fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			msg := "version: takes no arguments"
			if perr := fs.Parse(args[1:]); perr != nil {
				msg = "version: " + perr.Error()
			}
			err = &usageError{msg: msg, usage: versionUsage}
			break
		}
		return cmdVersion(args[1:], stdout)
	case "verify":
		code, err = cmdVerify(args[1:], stdout)
	case "merge":
		code, err = cmdMerge(args[1:], stdout, stderr)
	case "partition":
		code, err = cmdPartition(args[1:], stdout, stderr)
	case "resume":
		code, err = cmdResume(args[1:], stdout, stderr)
	case "replay":
		code, err = cmdReplay(args[1:], stdout, stderr)
	case "run":
		code, err = cmdLangRun(args[1:], stdout, stderr)
	case "check":
		code, err = cmdCheck(args[1:], stdout, stderr)
	case "disasm":
		code, err = cmdDisasm(args[1:], stdout, stderr)
	case "cluster":
		code, err = cmdCluster(args[1:], stdout, stderr)
	case "publish":
		code, err = cmdPublish(args[1:], stdout, stderr)
	case "replica":
		code, err = cmdReplica(args[1:], stdout, stderr)
	case "agree":
		code, err = cmdAgree(args[1:], stdout, stderr)
	case "nats":
		code, err = cmdNATS(args[1:], stdout, stderr)
	case "log":
		code, err = cmdLog(args[1:], stdout, stderr)
	case "sim":
		code, err = cmdSim(args[1:], stdout, stderr)
	default:
		spec := workloads.Lookup(cmd)
		if spec == nil {
			err = &usageError{msg: fmt.Sprintf("unknown workload or command %q (want %s)", cmd, commandNames()), usage: topUsage()}
			break
		}
		code, err = cmdRun(spec, nil, args[1:], stdout, stderr)
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "lexbench: %s\n%s", firstLine(ue.msg), ue.usage)
			return exitBadInput
		}
		if err != errPrinted {
			fmt.Fprintf(stderr, "lexbench: %s\n", firstLine(err.Error()))
		}
		if code == exitOK {
			code = exitBadInput
		}
	}
	return code
}

// parseFlags parses args with fs, as fs.Parse, and refuses a string flag
// given an empty value (--journal "", --keep=, --program ""): no flag of
// lexbench means "unset" by an empty string, so an empty value is a
// mistake (an unset shell variable, most often) that must not pass as the
// flag left out.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err == nil && f.Changed && f.Value.Type() == "string" && f.Value.String() == "" {
			err = fmt.Errorf("invalid value \"\" for --%s: empty", f.Name)
		}
	})
	return err
}

// parseOneArg parses the args of a command that takes one argument (what
// names it: JOURNAL, FILE.lxm) and the flags of fs, if any: --help prints
// usage (help true); an unknown flag is named as pflag names it, before
// the count of arguments is looked at (verify J --json is an unknown
// flag, not a second argument).
func parseOneArg(fs *pflag.FlagSet, cmd, what, usage string, args []string, stdout io.Writer) (arg string, help bool, err error) {
	fs.SetOutput(io.Discard)
	if err := parseFlags(fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, usage)
			return "", true, nil
		}
		return "", false, &usageError{msg: cmd + ": " + err.Error(), usage: usage}
	}
	if fs.NArg() != 1 {
		return "", false, &usageError{msg: fmt.Sprintf("%s: want exactly one %s argument", cmd, what), usage: usage}
	}
	return fs.Arg(0), false, nil
}

// flagUsages is fs's flag list for a command's help. A flag whose usage
// text states its default itself (in words, or in the form it is written,
// as "1e4") gets no second "(default …)" from pflag.
func flagUsages(fs *pflag.FlagSet) string {
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.Contains(f.Usage, "default") {
			f.DefValue = "" // pflag prints no default for a zero value
		}
	})
	return fs.FlagUsages()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func topUsage() string {
	var b strings.Builder
	b.WriteString("usage: lexbench <workload> [flags]      workload: " + workloads.Names() + " (docs/workloads.md)\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "       lexbench %-22s %s\n", strings.TrimSpace(c.name+" "+c.args), c.what)
	}
	b.WriteString("\n`lexbench COMMAND --help` shows a command's flags and the range of each value.\n")
	b.WriteString(exitCodesHelp)
	b.WriteString("stdout is Go benchmark format (benchstat reads it); errors and progress go to stderr.\n")
	b.WriteString("The whole contract: docs/cli.md; the model, journal and workloads: docs/.\n")
	return b.String()
}

// commandExitCodes is the exit code table of a command that reports no
// run (verify, replay, log, check, disasm): what 0 and 1 mean for it, then
// the codes any lexbench process may end with.
func commandExitCodes(ok, bad string) string {
	return "exit codes:\n  0    " + ok + "\n  1    " + bad + "\n" +
		"  70   lexbench crashed (a panic, a runtime fatal error, a memory fault): never a result\n" +
		"  130  interrupted by Ctrl-C (143: SIGTERM); 128+N: killed by signal N\n"
}

// exitCodesHelp is the exit code table of a run (a workload, run, resume).
const exitCodesHelp = `exit codes:
  0    converged (the oscillation workload: also oscillating or damped)
  1    bad input or an error: a bad flag, a damaged journal, a divergence, an I/O error
  2    a goal was violated
  3    oscillating or damped (workloads other than oscillation)
  4    a budget (--max-ticks, --max-msgs) ended the run
  70   lexbench crashed (a panic, a runtime fatal error, a memory fault): never a result
  130  interrupted by Ctrl-C (143: SIGTERM) at a tick boundary; lexbench resume continues a journaled run
  128+N  killed by signal N (137: SIGKILL, for example the kernel's out-of-memory killer)
`
