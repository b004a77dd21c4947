package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/recovery"
)

const verifyUsage = `usage: lexbench verify JOURNAL
       lexbench verify JOURNAL.p0 JOURNAL.p1 …   (a partitioned run's journals, one per partition)
  check every block and link of a journal (docs/journal.md) and, if its run
  file says its run closed it, that it is exactly as closed (a run file
  JOURNAL.run that is there but damaged, or another journal's, is an error,
  as for resume, replay and log); print its params,
  trace hash, blocks and entries. stdout ends with a verify: line, ok or
  failed; a failure is also one line on stderr, exit 1.
`

// cmdVerify is `lexbench verify JOURNAL`.
func cmdVerify(args []string, stdout io.Writer) (int, error) {
	if len(args) >= 1 && isPartitionJournal(args[0]) {
		return cmdVerifySet(args, stdout)
	}
	path, help, err := parseOneArg(pflag.NewFlagSet("verify", pflag.ContinueOnError), "verify", "JOURNAL", verifyUsage+commandExitCodes("the journal verified: stdout ends verify: ok", "it did not (verify: failed: …, one line on stderr), or bad input"), args, stdout)
	if help {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	args = []string{path}
	sum, rf, err := recovery.Verify(args[0])
	var out bytes.Buffer // one write: a reader that stops after the trace line still gets it all
	defer func() { _, _ = stdout.Write(out.Bytes()) }()
	if sum.Params != "" {
		fmt.Fprintf(&out, "params: %s\n", sum.Params)
	}
	if err != nil {
		var d *mmap.Damage
		if sum.Params != "" || errors.As(err, &d) {
			fmt.Fprintf(&out, "valid-blocks: %d\n", sum.Blocks)
		}
		fmt.Fprintf(&out, "verify: failed: %s\n", firstLine(err.Error()))
		return exitBadInput, err
	}
	fmt.Fprintf(&out, "trace: %016x\nblocks: %d\nentries: %d\n", sum.Trace, sum.Blocks, sum.Entries)
	if rf != nil {
		fmt.Fprintf(&out, "# run file: %s, state %s\n", args[0]+".run", rf.State)
	}
	fmt.Fprintf(&out, "verify: ok\n")
	return exitOK, nil
}
