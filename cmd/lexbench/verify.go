package main

import (
	"fmt"
	"io"

	"github.com/lexbench/lexbench/journal/mmap"
)

func cmdVerify(args []string, stdout io.Writer) (int, error) {
	usage := "usage: lexbench verify JOURNAL\n       lexbench verify JOURNAL.p0 JOURNAL.p1 …   (a partitioned run's journals, one per partition)\n"
	if len(args) >= 1 && isPartitionJournal(args[0]) {
		return cmdVerifySet(args, stdout)
	}
	if len(args) != 1 {
		return exitBadInput, &usageError{msg: "verify: want exactly one JOURNAL argument (or every partition journal of a run)", usage: usage}
	}
	sum, err := mmap.Verify(args[0])
	if sum.Params != "" {
		fmt.Fprintf(stdout, "params: %s\n", sum.Params)
	}
	if err != nil {
		fmt.Fprintf(stdout, "valid-blocks: %d\n", sum.Blocks)
		return exitBadInput, err
	}
	fmt.Fprintf(stdout, "trace: %016x\nblocks: %d\nentries: %d\n", sum.Trace, sum.Blocks, sum.Entries)
	return exitOK, nil
}
