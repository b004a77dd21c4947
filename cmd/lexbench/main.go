// Command lexbench runs the Lexum experiments of SPEC §5 on the engine and
// prints their results in Go benchmark format (SPEC §6).
//
//	lexbench <workload> [flags]     run banking|storm|sync|conflict|oscillation
//	lexbench verify JOURNAL         check every block and link of a journal
//	lexbench resume JOURNAL         continue an interrupted run (snapshots, torn tail)
//	lexbench replay JOURNAL         re-execute a journal's run, report the first divergence
//	lexbench run FILE.lxm [flags]   run a workload written in the Lexum language
//	lexbench check FILE.lxm         report every error of a program
//	lexbench disasm FILE.lxm        print a program's bytecode
//	lexbench cluster WORKLOAD       a replicated run on an embedded NATS server (replica.go);
//	                                with --partitions P, a partitioned run (partition.go)
//	lexbench publish|replica|agree  the replicated run's parts, one process each
//	lexbench partition WORKLOAD     one partition of a partitioned run
//	lexbench merge OUT J.p0 …       a set of partition journals as one journal
//	lexbench nats                   an embedded NATS server with JetStream
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

	"github.com/lexbench/lexbench/workloads"
)

// Exit codes (SPEC §6).
const (
	exitOK          = 0
	exitBadInput    = 1
	exitViolated    = 2
	exitOscillating = 3
	exitBudget      = 4
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is bad input: one line naming what is wrong, then usage.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "lexbench: missing command\n%s", topUsage())
		return exitBadInput
	}
	var err error
	code := exitOK
	switch cmd := args[0]; cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, topUsage())
		return exitOK
	case "verify":
		code, err = cmdVerify(args[1:], stdout)
	case "merge":
		code, err = cmdMerge(args[1:], stdout)
	case "partition":
		code, err = cmdPartition(args[1:], stdout, stderr)
	case "resume":
		code, err = cmdResume(args[1:], stdout)
	case "replay":
		code, err = cmdReplay(args[1:], stdout)
	case "run":
		code, err = cmdLangRun(args[1:], stdout, stderr)
	case "check":
		code, err = cmdCheck(args[1:], stderr)
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
	default:
		spec := workloads.Lookup(cmd)
		if spec == nil {
			err = &usageError{msg: fmt.Sprintf("unknown workload or command %q (want %s|verify|resume|replay)", cmd, workloads.Names()), usage: topUsage()}
			break
		}
		code, err = cmdRun(spec, args[1:], stdout, stderr)
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

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func topUsage() string {
	return "usage: lexbench <workload> [flags]   workload: " + workloads.Names() + "\n" +
		"       lexbench verify JOURNAL | JOURNAL.p0 JOURNAL.p1 …   check a journal, or a partitioned run's set\n" +
		"       lexbench resume JOURNAL [--shards N]\n" +
		"       lexbench replay JOURNAL [--shards N]\n" +
		"       lexbench run FILE.lxm [flags]    run a program (docs/language.md); its keys are flags\n" +
		"       lexbench check FILE.lxm          report every error of a program\n" +
		"       lexbench disasm FILE.lxm         print a program's bytecode\n" +
		"       lexbench cluster WORKLOAD|FILE.lxm [--replicas N]   replicated run on an embedded NATS server, checked\n" +
		"       lexbench publish|replica|agree WORKLOAD|FILE.lxm --nats URL   the same, one process each (docs/replication.md)\n" +
		"       lexbench cluster WORKLOAD|FILE.lxm --partitions P   partitioned run on an embedded NATS server, journals verified\n" +
		"       lexbench partition WORKLOAD|FILE.lxm --partitions P --index K --nats URL   one partition (docs/distributed.md)\n" +
		"       lexbench merge OUT JOURNAL.p0 …  a partitioned run's journals as one journal\n" +
		"       lexbench nats [--listen ADDR]    run an embedded NATS server with JetStream\n" +
		"       lexbench <workload> --help       flags of a workload\n"
}
