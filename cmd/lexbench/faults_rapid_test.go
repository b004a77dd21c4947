package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// TestFaultyRunsReplayAndResumeAtAnyShardCount: for random workloads,
// parameters and fault profiles (SPEC §7), through the CLI as a user runs
// it: any shard count gives the same result, `replay` of the journal
// reports no divergence, and `resume` of the journal cut at a random
// byte, with or without its snapshots, ends with the uninterrupted result
// and journal.
func TestFaultyRunsReplayAndResumeAtAnyShardCount(t *testing.T) {
	dir := t.TempDir()
	k := 0
	rapid.Check(t, func(rt *rapid.T) {
		spec := rapid.SampledFrom(workloads.All).Draw(rt, "workload")
		args := []string{spec.Name, "-n", fmt.Sprint(rapid.IntRange(0, 2000).Draw(rt, "n")),
			"--seed", fmt.Sprint(rapid.Uint64Range(0, 50).Draw(rt, "seed")),
			"--batch", fmt.Sprint(rapid.IntRange(1, 600).Draw(rt, "batch"))}
		for _, key := range spec.Keys {
			args = append(args, "--"+key.Name, fmt.Sprint(key.Min+rapid.Uint64Range(0, min(key.Max-key.Min, 5)).Draw(rt, key.Name)))
		}
		rate := func(name string) string {
			return fmt.Sprint(rapid.SampledFrom([]int{0, 10, 1000, 30_000, 200_000}).Draw(rt, name))
		}
		args = append(args, "--drop", rate("drop"), "--dup", rate("dup"), "--delay", rate("delay"),
			"--max-delay", fmt.Sprint(rapid.SampledFrom([]int{1, 3, 8, 100, 1024}).Draw(rt, "maxdelay")),
			"--fault-seed", fmt.Sprint(rapid.Uint64().Draw(rt, "fseed")), "--max-ticks", "400")
		k++
		j := filepath.Join(dir, fmt.Sprintf("run%d.lxj", k))
		shards := func(name string) string { return fmt.Sprint(rapid.IntRange(1, 7).Draw(rt, name)) }
		out, errs, code := runArgs(append(args, "--journal", j, "--sync", "none", "--snapshot-every", fmt.Sprint(rapid.SampledFrom([]int{2, 7, 30}).Draw(rt, "every")), "--shards", shards("shards"))...)
		if code == exitBadInput {
			rt.Fatalf("lexbench %s: %s", strings.Join(args, " "), errs)
		}
		want := configLines(out)
		result := func(m map[string]string) string {
			return fmt.Sprintf("trace %s state %s %s ticks %s msgs %s faults %s", m["trace"], m["state"], m["outcome"], m["ticks"], m["msgs"], m["faults"])
		}
		other, _, _ := runArgs(append(args, "--shards", shards("other shards"))...)
		if result(configLines(other)) != result(want) {
			rt.Fatalf("lexbench %s: %s, with the journal %s", strings.Join(args, " "), result(configLines(other)), result(want))
		}
		rep, errs, code := runArgs("replay", j, "--shards", shards("replay shards"))
		if code != exitOK || !strings.Contains(rep, "replay: identical") || configLines(rep)["trace"] != want["trace"] {
			rt.Fatalf("replay of lexbench %s: exit %d %s%s", strings.Join(args, " "), code, rep, errs)
		}
		full, err := os.ReadFile(j)
		if err != nil {
			rt.Fatal(err)
		}
		plen, err := trace.DecodeFileHeader(full)
		if err != nil {
			rt.Fatal(err)
		}
		// a cut inside the header or params leaves nothing to resume from;
		// a crash leaves the run file saying the run is running (a journal
		// whose run closed it may not shrink)
		cut := rapid.IntRange(trace.PrologueSize(plen), len(full)).Draw(rt, "cut")
		if err := markRunning(j); err != nil {
			rt.Fatal(err)
		}
		if err := os.WriteFile(j, full[:cut], 0o644); err != nil {
			rt.Fatal(err)
		}
		if !rapid.Bool().Draw(rt, "snapshots") {
			_ = os.RemoveAll(snapshot.Dir(j))
		}
		res, errs, code := runArgs("resume", j, "--shards", shards("resume shards"), "--max-ticks", "400")
		if code == exitBadInput {
			rt.Fatalf("resume of lexbench %s cut at %d of %d bytes: %s", strings.Join(args, " "), cut, len(full), errs)
		}
		if result(configLines(res)) != result(want) {
			rt.Fatalf("resume of lexbench %s cut at %d: %s, uninterrupted %s", strings.Join(args, " "), cut, result(configLines(res)), result(want))
		}
		if got, _ := os.ReadFile(j); !bytes.Equal(got, full) {
			rt.Fatalf("resume of lexbench %s cut at %d: the journal differs from the uninterrupted one", strings.Join(args, " "), cut)
		}
	})
}
