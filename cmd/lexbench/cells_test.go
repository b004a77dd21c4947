package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// `check -v` shows a program's cells and the fields oscillation detection
// leaves out; without -v a clean program prints nothing.
func TestCheckVerboseShowsCellsAndLeftOutFields(t *testing.T) {
	for _, c := range []struct {
		file    string
		want    []string
		notWant string
	}{
		{"control/gitops_gen.lxm", []string{
			"gitops_gen.lxm: cells (--detect local):\n  ci: a cell\n  rollout: a cell\n  app: a cell per instance\n",
			"gitops_gen.lxm: oscillation detection leaves out (counters: read only by their own updates, program goals and figures):\n",
			"\n  Deployment: generation\n",
		}, ""},
		{"control/gitops.lxm", []string{"\n  Autoscaler: rng\n"}, "Deployment"},
		{"oscillation.lxm", []string{"oscillation.lxm: oscillation detection compares every field\n"}, "leaves out"},
	} {
		path := filepath.Join(lxmDir, c.file)
		out, errs, code := runArgs("check", "-v", path)
		if code != exitOK || errs != "" {
			t.Fatalf("check -v %s: exit %d, stderr %q", c.file, code, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("check -v %s: stdout\n%s\nlacks %q", c.file, out, w)
			}
		}
		if c.notWant != "" && strings.Contains(out, c.notWant) {
			t.Errorf("check -v %s: stdout\n%s\nhas %q", c.file, out, c.notWant)
		}
		if out, _, code := runArgs("check", path); code != exitOK || out != "" {
			t.Errorf("check %s: exit %d, stdout %q", c.file, code, out)
		}
		if out, _, _ := runArgs("disasm", path); !strings.Contains(out, "; cells: ") {
			t.Errorf("disasm %s: no cells line", c.file)
		}
	}
}

// The GitOps example from the command line: the fights are damped, the
// outcome is damped (every goal met), and --json names each damped app's
// domains; the generation counter changes none of it.
func TestGitopsFromTheCommandLine(t *testing.T) {
	var events []string
	for _, f := range []string{"gitops.lxm", "gitops_gen.lxm"} {
		args := []string{"run", filepath.Join(lxmDir, "control", f), "-n", "20", "--detect", "local", "--on-oscillation", "damp", "--json"}
		out, _, code := runArgs(args...)
		var res struct {
			Outcome     string
			Oscillation struct{ Tick, Cells uint64 }
			CellEvents  []cellEvent `json:"cell_events"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out)
		}
		if code != exitOscillating || res.Outcome != "damped" || res.Oscillation.Tick != 5 || res.Oscillation.Cells != 3 {
			t.Fatalf("%s: exit %d, %+v", f, code, res)
		}
		apps := map[string]bool{}
		var evs []string
		for _, ev := range res.CellEvents {
			app, _, _ := strings.Cut(ev.Names[0], ".")
			apps[app] = true
			evs = append(evs, strings.Join(ev.Names, " "))
		}
		if len(apps) != 3 || !apps["app[0]"] || !apps["app[5]"] || !apps["app[10]"] {
			t.Fatalf("%s: damped %v, want app[0], app[5], app[10]", f, apps)
		}
		if events != nil && strings.Join(evs, "|") != strings.Join(events, "|") {
			t.Fatalf("%s: events %v, gitops.lxm's %v", f, evs, events)
		}
		events = evs
	}
}
