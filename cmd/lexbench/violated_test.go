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
