package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Each shipped _broken control plane ends `violated` (exit 2) at the
// tick its invariant breaks, with the same trace and state at every
// shard count, the invariant named on stdout and stderr, and a journal
// that verifies to the printed trace.
func TestBrokenProgramsEndViolated(t *testing.T) {
	for _, c := range []struct {
		file  string
		args  []string
		ticks string
		inv   string
	}{
		{"replicaset_broken", []string{"-n", "50"}, "5", "invariant Pod.StartedOnce: tick 4, "},
		{"fight_broken", []string{"-n", "20", "--apps", "64"}, "2", "invariant Deployment.SaneRecommendation: tick 1, "},
		{"twophase_broken", []string{"-n", "1000"}, "41", "invariant Coordinator.Atomic: tick 40, "},
		{"ratelimit_broken", []string{"-n", "200", "--clients", "32"}, "10583", "invariant Limiter.BucketSize: tick 10582, "},
	} {
		var first map[string]string
		for _, s := range []string{"1", "2", "7"} {
			j := filepath.Join(t.TempDir(), c.file+".lxj")
			args := append([]string{"run", filepath.Join("../../workloads/lxm/control", c.file+".lxm"), "--shards", s, "--journal", j}, c.args...)
			out, errs, code := runArgs(args...)
			got := configLines(out)
			if code != exitViolated || got["outcome"] != "violated" || got["ticks"] != c.ticks ||
				!strings.HasPrefix(got["violation"], c.inv) || !strings.Contains("\n"+errs, "\nlexbench: "+c.inv) {
				t.Fatalf("%s shards=%s: exit %d, outcome %q ticks %q violation %q, stderr %q", c.file, s, code,
					got["outcome"], got["ticks"], got["violation"], errs)
			}
			vout, verrs, vcode := runArgs("verify", j)
			if v := configLines(vout); vcode != 0 || v["trace"] != got["trace"] {
				t.Fatalf("%s shards=%s: verify: exit %d, trace %s, the run printed %s (%s)", c.file, s, vcode, v["trace"], got["trace"], verrs)
			}
			if first == nil {
				first = got
			} else if got["trace"] != first["trace"] || got["state"] != first["state"] || got["msgs"] != first["msgs"] {
				t.Fatalf("%s: shards=%s: %v, shards=1: %v", c.file, s, got, first)
			}
		}
	}
}

// TestResumeOfAViolatedRunSaysWhatWasViolated: a resumed run that ends
// `violated` says so on stderr with the line the uninterrupted run
// printed (the invariant, or `goal violated: …` for a native goal), and
// the same violation on stdout, not only the exit code.
func TestResumeOfAViolatedRunSaysWhatWasViolated(t *testing.T) {
	for _, c := range []struct{ name, line string }{
		{"invariant", "lexbench: invariant Coordinator.Atomic: tick 40, "},
		{"goal", "lexbench: goal violated: "},
	} {
		j := filepath.Join(t.TempDir(), c.name+".lxj")
		args := []string{"run", "../../workloads/lxm/control/twophase_broken.lxm", "-n", "1000"}
		if c.name == "goal" {
			args = []string{"storm", "-n", "1e4", "--drop", "100000", "--seed", "3"}
		}
		out, errs, code := runArgs(append(args, "--shards", "1", "--journal", j)...)
		if code != exitViolated || !strings.Contains("\n"+errs, "\n"+c.line) {
			t.Fatalf("%s: run: exit %d, stderr %q, want a line starting %q", c.name, code, errs, c.line)
		}
		want := configLines(out)
		if err := markRunning(j); err != nil {
			t.Fatal(err)
		}
		rout, rerrs, rcode := runArgs("resume", j, "--shards", "2")
		got := configLines(rout)
		if rcode != exitViolated || got["violation"] != want["violation"] || got["trace"] != want["trace"] ||
			!strings.Contains("\n"+rerrs, "\n"+c.line) {
			t.Fatalf("%s: resume: exit %d, violation %q trace %s, stderr %q; the run: violation %q trace %s, stderr line %q",
				c.name, rcode, got["violation"], got["trace"], rerrs, want["violation"], want["trace"], c.line)
		}
	}
}
