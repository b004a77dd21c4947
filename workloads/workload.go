// Package workloads holds the experiments of SPEC §5, one file each. Every
// workload uses only the engine's public transition API: it lays its
// domains out in the arena, emits messages through an Outbox, and evaluates
// its goals from the final state.
package workloads

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lexbench/lexbench/engine"
)

// Key is one of a workload's integer parameters (SPEC §5 gives each
// native workload two; a program may declare any number).
type Key struct {
	Name     string
	Default  uint64
	Min, Max uint64 // inclusive bounds
	Usage    string
}

// Params are a run's inputs (SPEC §3: they form the canonical params text).
type Params struct {
	N, Seed, Batch uint64
	K              []uint64 // the workload's keys, in Spec.Keys order
	// Faults is the fault layer (SPEC §7); off in the zero value. When it
	// is on, the params text ends with its five keys.
	Faults engine.FaultParams
}

// Figure is a workload result printed as `name: value`.
type Figure struct {
	Name  string
	Value uint64
}

// Workload is an engine workload with figures.
type Workload interface {
	engine.Workload
	// Figures are the workload's result lines (SPEC §5), read from the arena.
	Figures() []Figure
}

// Spec describes a workload: its name, keys, and constructor.
type Spec struct {
	Name string
	Keys []Key // in the order of the params text
	New  func(p Params) Workload
}

// All lists the workloads in SPEC order.
var All = []*Spec{&BankingSpec, &StormSpec, &SyncSpec, &ConflictSpec, &OscillationSpec}

// Lookup finds a workload by name.
func Lookup(name string) *Spec {
	for _, s := range All {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Names is the list of workload names, for usage text.
func Names() string {
	var b strings.Builder
	for i, s := range All {
		if i > 0 {
			b.WriteString("|")
		}
		b.WriteString(s.Name)
	}
	return b.String()
}

// Defaults are the spec's default parameters (n = 1e8, seed 1, batch 4096).
func (s *Spec) Defaults() Params {
	p := Params{N: 100_000_000, Seed: 1, Batch: 4096, K: make([]uint64, len(s.Keys))}
	for i, k := range s.Keys {
		p.K[i] = k.Default
	}
	return p
}

// Validate checks p against the spec's bounds; the error names the flag.
func (s *Spec) Validate(p Params) error {
	if p.Batch < 1 {
		return fmt.Errorf("invalid value %d for --batch: must be at least 1", p.Batch)
	}
	if len(p.K) != len(s.Keys) {
		return fmt.Errorf("%d key values for %d keys", len(p.K), len(s.Keys))
	}
	for i, k := range s.Keys {
		v := p.K[i]
		if v < k.Min || v > k.Max {
			if k.Max == ^uint64(0) {
				return fmt.Errorf("invalid value %d for --%s: must be at least %d", v, k.Name, k.Min)
			}
			return fmt.Errorf("invalid value %d for --%s: must be %d..%d", v, k.Name, k.Min, k.Max)
		}
	}
	return nil
}

// Text is the canonical params text of SPEC §3: the keys follow batch in
// Spec.Keys order (two for every native workload), then the fault keys of
// SPEC §7 when faults are on.
func (s *Spec) Text(p Params) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lexbench/1 workload=%s n=%d seed=%d batch=%d", s.Name, p.N, p.Seed, p.Batch)
	for i, k := range s.Keys {
		fmt.Fprintf(&b, " %s=%d", k.Name, p.K[i])
	}
	if f := p.Faults; f.On() {
		fmt.Fprintf(&b, " drop=%d dup=%d delay=%d maxdelay=%d fseed=%d", f.Drop, f.Dup, f.Delay, f.MaxDelay, f.Seed)
	}
	return b.String()
}

// faultKeys are the params keys of SPEC §7, in order.
var faultKeys = [5]string{"drop", "dup", "delay", "maxdelay", "fseed"}

// OpsDone is how many operations the generators have injected so far (for
// progress display), read from the drivers' remaining counters.
func (w *Banking) OpsDone() uint64     { return w.p.N - w.st[0] }
func (w *Sync) OpsDone() uint64        { return w.p.N - w.st[0] }
func (w *Conflict) OpsDone() uint64    { return w.p.N - w.st[0] }
func (w *Oscillation) OpsDone() uint64 { return w.p.N - w.st[0] }
func (w *Storm) OpsDone() uint64 {
	var rem uint64
	for p := uint64(0); p < w.producers; p++ {
		rem += w.st[3*p]
	}
	return w.p.N - rem
}

// ParseParams parses a canonical params text (SPEC §3), as a journal's
// header holds it, into its native workload and parameters, fault
// parameters included (SPEC §7), as Spec.Parse does: the text must be
// exactly what Text prints for them, and the parameters valid.
func ParseParams(text string) (*Spec, Params, error) {
	f := strings.Split(text, " ")
	if len(f) < 2 || f[0] != "lexbench/1" {
		return nil, Params{}, fmt.Errorf("params %q: not lexbench/1 params text", text)
	}
	name, ok := strings.CutPrefix(f[1], "workload=")
	if !ok {
		return nil, Params{}, fmt.Errorf("params %q: no workload=", text)
	}
	s := Lookup(name)
	if s == nil {
		return nil, Params{}, fmt.Errorf("params %q: unknown workload %q", text, name)
	}
	p, err := s.Parse(text)
	return s, p, err
}

// Parse parses a canonical params text of workload s (a native one, or a
// program's Spec): it must be exactly what Text prints for valid
// parameters, with s's keys in order, then the fault keys only when
// faults are on, in their order, with rates and maxdelay in range.
func (s *Spec) Parse(text string) (Params, error) {
	f := strings.Split(text, " ")
	bad := func(what string) (Params, error) {
		return Params{}, fmt.Errorf("params %q: %s", text, what)
	}
	if len(f) < 2 || f[0] != "lexbench/1" {
		return bad("not lexbench/1 params text")
	}
	if name, _ := strings.CutPrefix(f[1], "workload="); name != s.Name {
		return bad(fmt.Sprintf("not workload %s", s.Name))
	}
	keys := []string{"n", "seed", "batch"}
	for _, k := range s.Keys {
		keys = append(keys, k.Name)
	}
	if len(f) != 2+len(keys) && len(f) != 2+len(keys)+len(faultKeys) {
		return bad(fmt.Sprintf("%d fields, want %d (or %d with faults)", len(f), 2+len(keys), 2+len(keys)+len(faultKeys)))
	}
	v := make([]uint64, len(keys))
	for i := range keys {
		val, ok := strings.CutPrefix(f[2+i], keys[i]+"=")
		if !ok {
			return bad(fmt.Sprintf("field %d is not %s=", 3+i, keys[i]))
		}
		x, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("bad %s value %q", keys[i], val))
		}
		v[i] = x
	}
	p := Params{N: v[0], Seed: v[1], Batch: v[2], K: v[3:]}
	if err := s.Validate(p); err != nil {
		return bad(err.Error())
	}
	if rest := f[2+len(keys):]; len(rest) > 0 {
		var fv [5]uint64
		for i, k := range faultKeys {
			val, ok := strings.CutPrefix(rest[i], k+"=")
			if !ok {
				return bad(fmt.Sprintf("field %d is not %s=", 3+len(keys)+i, k))
			}
			x, err := strconv.ParseUint(val, 10, 64)
			if err != nil || i < 4 && x > engine.FaultRateMax {
				return bad(fmt.Sprintf("bad %s value %q", k, val))
			}
			fv[i] = x
		}
		p.Faults = engine.FaultParams{Drop: uint32(fv[0]), Dup: uint32(fv[1]), Delay: uint32(fv[2]), MaxDelay: uint32(fv[3]), Seed: fv[4]}
		if !p.Faults.On() {
			return bad("fault keys with every rate 0 (faults off have none)")
		}
		if err := p.Faults.Check(); err != nil {
			return bad(err.Error())
		}
	}
	if s.Text(p) != text {
		return bad("not in canonical form")
	}
	return p, nil
}

// Cells of local oscillation detection (SPEC §5.7): banking has the
// driver and each bank as its own cell, storm every domain; sync, conflict
// and oscillation have the driver as cell 0 and group g as cell g+1.
func (w *Banking) CellOf(cells []uint32)     { eachOwnCell(cells) }
func (w *Storm) CellOf(cells []uint32)       { eachOwnCell(cells) }
func (w *Sync) CellOf(cells []uint32)        { groupCells(cells, 3) }
func (w *Conflict) CellOf(cells []uint32)    { groupCells(cells, uint32(w.controllers)+1) }
func (w *Oscillation) CellOf(cells []uint32) { groupCells(cells, 3) }

func eachOwnCell(cells []uint32) {
	for d := range cells {
		cells[d] = uint32(d)
	}
}

// groupCells: domain 0 alone, then groups of per domains.
func groupCells(cells []uint32, per uint32) {
	cells[0] = 0
	for d := 1; d < len(cells); d++ {
		cells[d] = 1 + uint32(d-1)/per
	}
}
