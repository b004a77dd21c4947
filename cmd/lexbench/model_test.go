package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/runfile"
)

const protoDir = "../../lang/testdata/prototype"

// The prototype-shaped programs through the CLI: configuration lines as
// documented, the suppressed goal named on stderr and in --json.
func TestPrototypeProgramsThroughTheCLI(t *testing.T) {
	for _, c := range []struct {
		file  string
		lines map[string]string
		code  int
	}{
		{"conflict", map[string]string{"state": "89be0b2dd5c2593d", "outcome": "converged", "msgs": "5", "ticks": "6", "suppressed": "1",
			"params": "lexbench/1 workload=conflict n=100000000 seed=1 batch=4096"}, exitOK},
		{"oscillation", map[string]string{"state": "34c96acdcadb1bbb", "outcome": "oscillating", "msgs": "2", "ticks": "3", "suppressed": "0",
			"oscillation": "tick=3 period=2 domains=1"}, exitOK},
		{"sync", map[string]string{"state": "1d50f5eb5a06fa14", "outcome": "converged", "msgs": "21", "ticks": "6"}, exitOK},
		{"banking", map[string]string{"state": "e433769fff947c99", "outcome": "converged", "msgs": "1001", "ticks": "1002"}, exitOK},
		{"storm", map[string]string{"state": "bd4df6fe73c6f392", "outcome": "converged", "msgs": "3000", "ticks": "1002"}, exitOK},
	} {
		for _, s := range []string{"1", "3"} {
			out, errs, code := runArgs("run", filepath.Join(protoDir, c.file+".lxm"), "--shards", s)
			got := configLines(out)
			for k, v := range c.lines {
				if got[k] != v {
					t.Errorf("%s shards=%s: %s: %q, want %q (exit %d, stderr %q)", c.file, s, k, got[k], v, code, errs)
				}
			}
			if code != c.code {
				t.Errorf("%s: exit %d, want %d", c.file, code, c.code)
			}
			wantErr := ""
			if c.file == "conflict" {
				wantErr = "lexbench: suppressed: domain 0 (Pool): goal WantThree (priority 50) suppressed: target workers == 3 is false: workers = 5; its strategy Shrink would make WantFive false\n"
			}
			if errs != wantErr {
				t.Errorf("%s: stderr %q, want %q", c.file, errs, wantErr)
			}
		}
	}
	out, _, _ := runArgs("run", filepath.Join(protoDir, "conflict.lxm"), "--json")
	if !strings.Contains(out, `"suppressed":1,"suppressed_goals":[{"domain":0,"goal":"Pool.WantThree","why":"domain 0 (Pool): goal WantThree`) {
		t.Errorf("--json: %s", out)
	}
}

// Every goal-directed program that ships checks clean and disassembles.
func TestShippedProgramsCheck(t *testing.T) {
	files, _ := filepath.Glob("../../workloads/lxm/*/*.lxm")
	if len(files) < 14 {
		t.Fatalf("want the paper's programs and the control-plane examples, found %v", files)
	}
	for _, f := range files {
		if out, errs, code := runArgs("check", f); code != 0 || out != "" || errs != "" {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q", f, code, out, errs)
		}
		if out, errs, code := runArgs("disasm", f); code != 0 || !strings.Contains(out, ".targets:") || errs != "" {
			t.Errorf("disasm %s: exit %d, stderr %q", f, code, errs)
		}
	}
}

// A prototype-shaped file with mistakes: every error as FILE:LINE:COL, from
// check and from run, the bodies' with the declarations' (none that
// follows from another: the goal whose parse fails is not checked).
func TestPrototypeMistakesNameTheirPosition(t *testing.T) {
	src := `domain Pool {
  capability { messaging, send_to:Nowhere }
  state { workers: int  ready: bool  name: string }
  goal WantFive { priority 300 target workers == 5 strategy { Grow } }
  goal WantThree { priority 50 target workers = 3 strategy { Shrink } }
  goal Lost { target wrkers == 1 strategy { Vanish } }
  invariant Sane { workers + 1 }
  transition Grow { step { workers = workers + 1  send("Other", "Grow") } }
  transition Shrink { step { workers = workers - ready } }
}
`
	path := filepath.Join(t.TempDir(), "pool.lxm")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2:27: capability send_to:Nowhere: no domain Nowhere (send_to names a domain declared on its own)",
		"3:38: type Pool: field name: string fields are not supported (a domain's state is fixed-size 64-bit words)",
		"4:28: goal WantFive: priority 300 is above 255",
		"5:47: expected priority, target or strategy in goal WantThree, found \"=\"",
		"6:22: unknown field or variable wrkers in type Pool",
		"6:45: goal Lost: strategy Vanish is not a transition of Pool",
		"7:28: type mismatch: condition must be bool, got i64",
		"8:56: send: no domain Other (send names a domain declared on its own)",
		"9:48: type mismatch: operator - is not defined on i64 and bool",
	}
	out, errs, code := runArgs("check", path)
	var wantErrs string
	for _, w := range want {
		wantErrs += path + ":" + w + "\n"
	}
	if code != exitBadInput || out != "" || errs != wantErrs {
		t.Errorf("check: exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, wantErrs)
	}
	if out, errs2, code := runArgs("run", path); code != exitBadInput || out != "" || errs2 != wantErrs {
		t.Errorf("run: exit %d, stdout %q, stderr\n%s", code, out, errs2)
	}
	// with the declarations fixed, the same errors in the bodies
	fixed := strings.NewReplacer("send_to:Nowhere", "send_to:Pool", "  name: string", "", "priority 300", "priority 100",
		"workers = 3", "workers == 3", "strategy { Vanish }", "strategy { Grow }").Replace(src)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"6:22: unknown field or variable wrkers in type Pool",
		"7:28: type mismatch: condition must be bool, got i64",
		"8:56: send: no domain Other (send names a domain declared on its own)",
		"9:48: type mismatch: operator - is not defined on i64 and bool",
	}
	wantErrs = ""
	for _, w := range want {
		wantErrs += path + ":" + w + "\n"
	}
	if _, errs, code := runArgs("check", path); code != exitBadInput || errs != wantErrs {
		t.Errorf("check (bodies): exit %d, stderr\n%s\nwant\n%s", code, errs, wantErrs)
	}
}

// lexbench log prints a journal's messages with the program's names (from
// the run file, which holds the program's text, or --program), filtered by
// tick and domain; a native workload's journal gets its domain names from
// workloads/lxm.
func TestLogDecodesJournals(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "sync.lxj")
	prog := filepath.Join(protoDir, "sync.lxm")
	if _, errs, code := runArgs("run", prog, "--journal", j, "--shards", "2"); code != 0 {
		t.Fatalf("run: %d %s", code, errs)
	}
	out, errs, code := runArgs("log", j, "--program", prog, "--tick", "2..3", "--domain", "NodeB")
	want := "params: lexbench/1 workload=sync n=100000000 seed=1 batch=4096\n" +
		"tick 2  1 (NodeB) → 1 (NodeB)  Push  a=0 b=0\n" +
		"tick 3  0 (NodeA) → 1 (NodeB)  Receive  a=0 b=0\n" +
		"tick 3  1 (NodeB) → 2 (NodeC)  Receive  a=0 b=0\n" + // emitted by Push at tick 2
		"tick 3  1 (NodeB) → 1 (NodeB)  Push  a=0 b=0\n" + // its strategy, emitted after

		"messages: 4 shown (the journal was read up to tick 4)\n"
	if code != 0 || out != want {
		t.Errorf("log: exit %d %s\n%s\nwant\n%s", code, errs, out, want)
	}
	// the run file holds the program's text: no --program needed
	if out2, errs, code := runArgs("log", j, "--tick", "2..3", "--domain", "NodeB"); code != 0 || out2 != want {
		t.Errorf("log without --program: exit %d %s\n%s\nwant\n%s", code, errs, out2, want)
	}
	out, _, _ = runArgs("log", j, "--program", prog)
	if n := strings.Count(out, "\ntick "); n != 21 || !strings.HasSuffix(out, "messages: 21 shown of 21 in 5 blocks, trace "+mustRun(t, "verify", j)["trace"]+"\n") {
		t.Errorf("log, whole journal: %d messages\n%s", n, out)
	}
	nj := filepath.Join(dir, "banking.lxj")
	if _, errs, code := runArgs("banking", "-n", "12", "--batch", "4", "--banks", "3", "--journal", nj); code != 0 {
		t.Fatal(errs)
	}
	out, _, _ = runArgs("log", nj, "--tick", "0")
	if want := "params: lexbench/1 workload=banking n=12 seed=1 batch=4 banks=3 accounts=2\ntick 0  0 (driver) → 0 (driver)  Tick  a=0 b=0\n"; !strings.HasPrefix(out, want) {
		t.Errorf("native: %s\nwant prefix\n%s", out, want)
	}
	for _, args := range [][]string{
		{"log"},
		{"log", j, "--tick", "5..2"},
		{"log", j, "--tick", "x"},
		{"log", j, "--program", prog, "--domain", "NodeZ"},
		{"log", filepath.Join(dir, "none.lxj")},
		{"log", j, "--program", filepath.Join(protoDir, "storm.lxm")}, // not the run file's program
		{"log", nj, "--program", prog},                                // a native workload's journal
	} {
		if out, errs, code := runArgs(args...); code != exitBadInput || !strings.HasPrefix(errs, "lexbench: ") || strings.Contains(out, "tick ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	// without its run file, a program's journal is named only with --program
	if err := os.Remove(runfile.Path(j)); err != nil {
		t.Fatal(err)
	}
	if out, _, code := runArgs("log", j, "--tick", "2..3"); code != 0 || strings.Contains(out, "(NodeB)") {
		t.Errorf("log without run file or --program: exit %d\n%s", code, out)
	}
	if out, errs, code := runArgs("log", j, "--program", prog, "--tick", "2..3", "--domain", "NodeB"); code != 0 || out != want {
		t.Errorf("log --program without run file: exit %d %s\n%s", code, errs, out)
	}
}
