package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/workloads"
)

// simSeed is one failing seed of sim's text report.
type simSeed struct {
	seed, kind, message string
	command, trace      string
	goal, shrunk        string
	shrunkMsg           string
	journal             string
}

var (
	seedHead   = regexp.MustCompile(`^seed (\d+): (violated|budget|error): (.*)$`)
	traceLine  = regexp.MustCompile(`^  trace ([0-9a-f]{16}), `)
	shrunkLine = regexp.MustCompile(`^    \d+ ticks, \d+ messages: (.*)$`)
)

// parseSim reads the failing seeds of a text report.
func parseSim(t *testing.T, out string) []simSeed {
	t.Helper()
	var seeds []simSeed
	in := false // in a seed's entry: its lines are indented
	for _, line := range strings.Split(out, "\n") {
		if m := seedHead.FindStringSubmatch(line); m != nil {
			seeds = append(seeds, simSeed{seed: m[1], kind: m[2], message: m[3]})
			in = true
			continue
		}
		if in = in && strings.HasPrefix(line, "  "); !in {
			continue
		}
		s := &seeds[len(seeds)-1]
		switch {
		case strings.HasPrefix(line, "  lexbench "):
			s.command = strings.TrimPrefix(line, "  ")
		case traceLine.MatchString(line):
			s.trace = traceLine.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, "  goal: "):
			s.goal = strings.TrimPrefix(line, "  goal: ")
		case strings.HasPrefix(line, "  shrunk: lexbench "):
			s.shrunk = strings.TrimPrefix(line, "  shrunk: ")
		case shrunkLine.MatchString(line):
			s.shrunkMsg = shrunkLine.FindStringSubmatch(line)[1]
		case strings.HasPrefix(line, "  journal: "):
			s.journal = strings.TrimPrefix(line, "  journal: ")
		}
	}
	return seeds
}

// runCommand runs a printed `lexbench …` command in-process.
func runCommand(t *testing.T, cmd string) (map[string]string, int) {
	t.Helper()
	args := strings.Fields(cmd)
	if args[0] != "lexbench" {
		t.Fatalf("%q is not a lexbench command", cmd)
	}
	out, errs, code := runArgs(args[1:]...)
	if code != exitViolated && code != exitOK && code != exitBudget {
		t.Fatalf("%s: exit %d: %s", cmd, code, errs)
	}
	return configLines(out), code
}

// TestSimStormDropReproducesEverySeed is issue 18's acceptance: `lexbench
// sim storm -n 1e4 --seeds 1..500 --drop 100` reports violations, each
// printed command, run as printed, gives the same violation and trace,
// each shrunk command violates the same goal, and replay of a kept
// journal reports no divergence.
func TestSimStormDropReproducesEverySeed(t *testing.T) {
	seeds := "1..500"
	if testing.Short() {
		seeds = "1..60"
	}
	keep := filepath.Join(t.TempDir(), "kept")
	out, errs, code := runArgs("sim", "storm", "-n", "1e4", "--seeds", seeds, "--drop", "100", "-j", "2", "--keep", keep)
	if code != exitViolated {
		t.Fatalf("exit %d, want 2; stderr %s", code, errs)
	}
	if !regexp.MustCompile(`(?m)^violated +[1-9]\d*$`).MatchString(out) {
		t.Fatalf("no violations counted:\n%s", out)
	}
	short := regexp.MustCompile(`(?m)^shortest shrunk run: seed \d+, (\d+) ticks.*\n  (lexbench .*)$`).FindStringSubmatch(out)
	if short == nil {
		t.Fatalf("no shortest shrunk run:\n%s", out)
	}
	if got, code := runCommand(t, short[2]); code != exitViolated || got["ticks"] != short[1] {
		t.Errorf("%s: exit %d, ticks %s; sim printed %s ticks", short[2], code, got["ticks"], short[1])
	}
	listed := parseSim(t, out)
	if len(listed) != 10 {
		t.Fatalf("%d failing seeds listed, want the first 10:\n%s", len(listed), out)
	}
	for _, s := range listed {
		if s.kind != "violated" || s.command == "" || s.trace == "" || s.goal != "storm.delivered" || s.shrunk == "" || s.journal == "" {
			t.Fatalf("seed %s: incomplete entry %+v\n%s", s.seed, s, out)
		}
		got, code := runCommand(t, s.command)
		if code != exitViolated || got["trace"] != s.trace || got["violation"] != s.message || got["outcome"] != "violated" {
			t.Errorf("%s: exit %d trace %s violation %q; sim printed trace %s violation %q", s.command, code, got["trace"], got["violation"], s.trace, s.message)
		}
		sh, code := runCommand(t, s.shrunk)
		if code != exitViolated || sh["violation"] != s.shrunkMsg || !strings.HasPrefix(sh["violation"], "consumers: counts sum to") {
			t.Errorf("%s: exit %d violation %q, sim printed %q", s.shrunk, code, sh["violation"], s.shrunkMsg)
		}
		rep, _, code := runArgs("replay", s.journal)
		if code != exitOK || !strings.Contains(rep, "replay: identical") || configLines(rep)["trace"] != s.trace {
			t.Errorf("replay %s: exit %d\n%s", s.journal, code, rep)
		}
	}
}

// TestSimReportDoesNotDependOnJobs: everything but the timing comment is
// the same for -j 1 and -j 3, in text and JSON, swarm included.
func TestSimReportDoesNotDependOnJobs(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "storm", "-n", "3000", "--seeds", "1..40", "--drop", "300", "--dup", "1000", "--delay", "2k"},
		{"sim", "sync", "-n", "300", "--groups", "2", "--seeds", "5..30,100", "--swarm", "-v"},
	} {
		var first string
		for _, j := range []string{"1", "3"} {
			out, errs, code := runArgs(append(args, "-j", j)...)
			if code != exitViolated {
				t.Fatalf("%v -j %s: exit %d %s", args, j, code, errs)
			}
			var kept []string
			for _, l := range strings.Split(out, "\n") {
				if !strings.HasPrefix(l, "# ") && !strings.HasPrefix(l, "BenchmarkSim/") {
					kept = append(kept, l)
				}
			}
			if j == "1" {
				first = strings.Join(kept, "\n")
			} else if strings.Join(kept, "\n") != first {
				t.Fatalf("%v: -j 1 and -j 3 differ:\n%s\n---\n%s", args, first, strings.Join(kept, "\n"))
			}
		}
		var m map[string]any
		out, _, _ := runArgs(append(args, "--json")...)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v --json: %v\n%s", args, err, out)
		}
		if m["outcomes"].(map[string]any)["violated"].(float64) == 0 || len(m["violated"].([]any)) == 0 {
			t.Fatalf("%v --json: %s", args, out)
		}
	}
}

// TestSimSwarmPrintsTheProfile: under --swarm every listed seed's command
// carries its own profile, and runs to the same trace.
func TestSimSwarmPrintsTheProfile(t *testing.T) {
	out, _, code := runArgs("sim", "banking", "-n", "2000", "--banks", "3", "--seeds", "1..30", "--swarm", "--no-shrink")
	if code != exitViolated || !strings.Contains(out, "swarm: ") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	profiles := map[string]bool{}
	for _, s := range parseSim(t, out) {
		profiles[regexp.MustCompile(` --seed \d+`).ReplaceAllString(s.command, "")] = true
		got, _ := runCommand(t, s.command)
		if got["trace"] != s.trace || got["violation"] != s.message {
			t.Errorf("%s: trace %s violation %q, sim %s %q", s.command, got["trace"], got["violation"], s.trace, s.message)
		}
	}
	if len(profiles) < 3 {
		t.Fatalf("the listed seeds share %d fault profiles:\n%s", len(profiles), out)
	}
}

func TestSimBadInput(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim"}, "sim"},
		{[]string{"sim", "nosuch"}, `"nosuch"`},
		{[]string{"sim", "storm", "--seeds", "5..1"}, "--seeds"},
		{[]string{"sim", "storm", "--seeds", "1..5,3"}, "--seeds"},
		{[]string{"sim", "storm", "--seeds", "x"}, "--seeds"},
		{[]string{"sim", "storm", "-j", "0"}, "--jobs"},
		{[]string{"sim", "storm", "--seed", "4"}, "--seed"},
		{[]string{"sim", "storm", "--fault-seed", "4"}, "--fault-seed"},
		{[]string{"sim", "storm", "--swarm", "--drop", "5"}, "--swarm"},
		{[]string{"sim", "storm", "--drop", "2000000"}, "--drop"},
		{[]string{"sim", "storm", "--max-delay", "0"}, "--max-delay"},
		{[]string{"sim", "storm", "--consumers", "0"}, "--consumers"},
		{[]string{"sim", "storm", "--keep", full}, "--keep"},
		{[]string{"sim", "storm", "--shards", "0"}, "--shards"},
		{[]string{"sim", "storm", "extra"}, "extra"},
		{[]string{"sim", "nosuch.lxm"}, "nosuch.lxm"},
	} {
		out, errs, code := runArgs(c.args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != exitBadInput || out != "" || !strings.HasPrefix(first, "lexbench: ") || !strings.Contains(first, c.want) {
			t.Errorf("lexbench %s: exit %d stdout %q first stderr line %q; want exit 1, one line naming %s",
				strings.Join(c.args, " "), code, out, first, c.want)
		}
	}
}

// TestLogListsTheFaults: `lexbench log --faults` lists every fault
// decision of a journal's run among its messages (dropped ones have no
// entry), as many of each kind as the run's faults: line counts, and
// refuses to list them for params that do not give the journal's trace.
func TestLogListsTheFaults(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "s.lxj")
	out, errs, code := runArgs("sync", "-n", "400", "--groups", "3", "--seed", "9", "--drop", "20k", "--dup", "30k", "--delay", "40k", "--journal", j)
	if code != exitViolated && code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := configLines(out)["faults"]
	log, errs, code := runArgs("log", j, "--faults")
	if code != exitOK {
		t.Fatalf("log --faults: exit %d: %s", code, errs)
	}
	var n [3]int
	for _, l := range strings.Split(log, "\n") {
		for i, k := range []string{" DROPPED ", " DUPLICATED: ", " DELAYED to "} {
			if strings.Contains(l, k) {
				n[i]++
			}
		}
	}
	if got := fmt.Sprintf("dropped=%d duplicated=%d delayed=%d", n[0], n[1], n[2]); got != want || n[0] == 0 || n[1] == 0 || n[2] == 0 {
		t.Fatalf("log --faults lists %s, the run counted %s", got, want)
	}
	// the drop's line comes in its tick, among that tick's messages
	if !regexp.MustCompile(`(?m)^tick (\d+) .*\n(tick \d+ .* DROPPED .*\n)`).MatchString(log) {
		t.Fatalf("no DROPPED line after a message:\n%s", log)
	}
	// a journal whose params are not its run's (a whole chain, written by
	// a run with another fault seed): refused, nothing listed
	spec := &workloads.SyncSpec
	p := spec.Defaults()
	p.N, p.Seed, p.K[0] = 400, 9, 3
	p.Faults = engine.FaultParams{Drop: 20_000, Dup: 30_000, Delay: 40_000, MaxDelay: 8, Seed: 9}
	params := spec.Text(p)
	bad := filepath.Join(dir, "bad.lxj")
	jw, err := mmap.Create(bad, params, mmap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Faults.Seed = 10
	if _, err := engine.Run(spec.New(p), engine.Config{Params: params, Shards: 1, MaxTicks: -1, MaxMsgs: -1, Faults: p.Faults, Journal: jw}); err != nil {
		t.Fatal(err)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, code := runArgs("verify", bad); code != exitOK {
		t.Fatalf("verify of the other run's journal: exit %d", code)
	}
	if out, errs, code := runArgs("log", bad, "--faults"); code != exitBadInput || strings.Contains(out, "DROPPED") || !strings.Contains(errs, "not this run's journal") {
		t.Fatalf("log --faults of a journal with other params: exit %d\n%s%s", code, out, errs)
	}
}
