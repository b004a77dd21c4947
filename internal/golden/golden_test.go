package golden

import "testing"

func TestNumber(t *testing.T) {
	for s, want := range map[string]uint64{
		"100000000": 1e8, "100_000_000": 1e8, "1e8": 1e8, "1.5e3": 1500, "100M": 1e8, "4k": 4000, "2G": 2e9, "0": 0,
	} {
		if got, err := Number(s); err != nil || got != want {
			t.Errorf("Number(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"1.5", "-1", "x", "1e-1"} {
		if _, err := Number(s); err == nil {
			t.Errorf("Number(%q) accepted", s)
		}
	}
}

func TestRows(t *testing.T) {
	rows := Read(t)
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	r, ok := byName["faults-storm-maxmsgs"]
	if !ok {
		t.Fatal("no row faults-storm-maxmsgs")
	}
	c, err := r.Controls()
	if err != nil || c.MaxMsgs != 30000 || c.MaxTicks != -1 || c.Damp || c.Local || r.N() != 100_000 {
		t.Errorf("controls %+v, n %d, err %v", c, r.N(), err)
	}
	if r.ExtraMap()["ticks"] != "32" {
		t.Errorf("extra %v", r.ExtraMap())
	}
	r = byName["local-osc-b64-damp"]
	if c, err := r.Controls(); err != nil || !c.Damp || !c.Local {
		t.Errorf("%s: controls %+v, err %v", r.Name, c, err)
	}
}
