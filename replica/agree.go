package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/nats-io/nats.go/jetstream"
)

// Reported is what one replica has put into the checkpoint bucket, or the
// single-node reference run.
type Reported struct {
	Name   string
	Hashes []uint64   // block hashes 0 .. len-1
	End    *EndRecord // nil while the replica runs
	Gap    string     // a batch that is missing or damaged: Hashes stop before it
}

// Divergence is the first block at which two reports differ.
type Divergence struct {
	Block uint64
	// Groups are the reports having the block, grouped by its hash,
	// largest group first (ties: by name).
	Groups []Group
}

// Group is the reports that have one hash for a block.
type Group struct {
	Hash  uint64
	Names []string
}

func (d *Divergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "first divergent block %d:", d.Block)
	for i, g := range d.Groups {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s %s %016x", strings.Join(g.Names, ", "), map[bool]string{true: "has", false: "have"}[len(g.Names) == 1], g.Hash)
	}
	return b.String()
}

// AgreeOptions are the agreement check's settings.
type AgreeOptions struct {
	Replicas  int           // expect at least this many replicas (0: any)
	Wait      time.Duration // wait this long for every replica to finish (0: do not wait)
	Reference bool          // compare with a single-node run, run here
	Shards    int           // the reference run's shards
}

// AgreeReport is the result of an agreement check.
type AgreeReport struct {
	Run        *Run
	Replicas   []*Reported // by name
	Reference  *Reported   // nil without AgreeOptions.Reference
	RefResult  engine.Result
	Compared   uint64      // blocks compared (up to the longest report)
	Divergence *Divergence // nil if all reports agree on every block they share
	// Mismatch names results that differ although every block agrees
	// (a replica that stopped at another block, or another state).
	Mismatch []string
	// Incomplete names replicas that have not finished (or are missing).
	Incomplete []string
}

// Agreed reports whether every replica finished and all agree.
func (a *AgreeReport) Agreed() bool {
	return a.Divergence == nil && len(a.Mismatch) == 0 && len(a.Incomplete) == 0
}

// Agree reads every replica's checkpoints from the run's bucket and checks
// that all replicas agree with each other and, with o.Reference, with the
// single-node run: block by block (the first divergent block is named),
// then their results.
func Agree(ctx context.Context, c *Conn, run *Run, o AgreeOptions) (*AgreeReport, error) {
	s, err := c.js.Stream(ctx, run.StreamName())
	if err != nil {
		return nil, fmt.Errorf("input stream %s (%s): %w", run.StreamName(), run.Params(), err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("nats: input stream header: %w", err)
	}
	h, err := parseHeader(m.Data)
	if err != nil {
		return nil, err
	}
	r := *run
	r.Opts = h.Opts
	run = &r
	kv, err := c.js.KeyValue(ctx, run.BucketName())
	if err != nil {
		return nil, fmt.Errorf("checkpoint bucket %s: %w", run.BucketName(), err)
	}
	rep := &AgreeReport{Run: run}
	deadline := time.Now().Add(o.Wait)
	for {
		if rep.Replicas, err = readReports(ctx, kv); err != nil {
			return nil, err
		}
		done := len(rep.Replicas) >= o.Replicas
		for _, x := range rep.Replicas {
			done = done && x.End != nil
		}
		if done || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	all := slices.Clone(rep.Replicas)
	if o.Reference {
		ref, res, err := reference(run, max(o.Shards, 1))
		if err != nil {
			return nil, err
		}
		rep.Reference, rep.RefResult = ref, res
		all = append(all, ref)
	}
	rep.Compared, rep.Divergence = compare(all)
	for _, x := range rep.Replicas {
		switch {
		case x.End == nil && x.Gap != "":
			rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("%s: %s", x.Name, x.Gap))
		case x.End == nil:
			rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("%s: running (%d blocks reported)", x.Name, len(x.Hashes)))
		case x.Gap != "":
			rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("%s: %s", x.Name, x.Gap))
		case uint64(len(x.Hashes)) != x.End.Blocks:
			rep.Mismatch = append(rep.Mismatch, fmt.Sprintf("%s: reported %d block hashes, its result has %d blocks", x.Name, len(x.Hashes), x.End.Blocks))
		}
	}
	if n := len(rep.Replicas); n < o.Replicas {
		rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("%d replicas reported, want %d", n, o.Replicas))
	}
	if rep.Divergence == nil {
		// results against the single-node run's, else the first replica's
		var base *Reported
		if rep.Reference != nil {
			base = rep.Reference
		} else {
			for _, x := range rep.Replicas {
				if x.End != nil {
					base = x
					break
				}
			}
		}
		for _, x := range all {
			if x.End == nil || x == base {
				continue
			}
			if f, want, got := diffEnd(base.End, x.End); f != "" {
				rep.Mismatch = append(rep.Mismatch, fmt.Sprintf("%s has %s %s, %s has %s", x.Name, f, got, base.Name, want))
			}
		}
	}
	return rep, nil
}

// diffEnd names the first result field in which b differs from a, with
// a's and b's values.
func diffEnd(a, b *EndRecord) (field, av, bv string) {
	type f struct{ name, x, y string }
	osc := func(o *engine.Oscillation) string {
		if o == nil {
			return "none"
		}
		return fmt.Sprintf("tick=%d period=%d domains=%d", o.Tick, o.Period, o.Domains)
	}
	for _, d := range []f{{"trace", a.Trace, b.Trace}, {"state", a.State, b.State}, {"outcome", a.Outcome, b.Outcome},
		{"ticks", fmt.Sprint(a.Ticks), fmt.Sprint(b.Ticks)}, {"msgs", fmt.Sprint(a.Msgs), fmt.Sprint(b.Msgs)},
		{"blocks", fmt.Sprint(a.Blocks), fmt.Sprint(b.Blocks)}, {"dropped", fmt.Sprint(a.Dropped), fmt.Sprint(b.Dropped)},
		{"oscillation", osc(a.Oscillation), osc(b.Oscillation)}, {"violation", a.Violation, b.Violation}} {
		if d.x != d.y {
			return d.name, d.x, d.y
		}
	}
	return "", "", ""
}

// readReports reads every replica's entries from the bucket.
func readReports(ctx context.Context, kv jetstream.KeyValue) ([]*Reported, error) {
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nats: checkpoint bucket: %w", err)
	}
	sort.Strings(keys) // batch keys have fixed-width indexes: name order is block order
	byName := map[string]*Reported{}
	var names []string
	get := func(name string) *Reported {
		x := byName[name]
		if x == nil {
			x = &Reported{Name: name}
			byName[name] = x
			names = append(names, name)
		}
		return x
	}
	for _, k := range keys {
		name, rest, ok := strings.Cut(k, ".")
		if !ok || CheckName(name) != nil {
			continue
		}
		x := get(name)
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted between Keys and Get
		}
		if err != nil {
			return nil, fmt.Errorf("nats: checkpoint %s: %w", k, err)
		}
		switch {
		case rest == "end":
			var end EndRecord
			if err := json.Unmarshal(e.Value(), &end); err != nil {
				x.Gap = fmt.Sprintf("damaged result %s", k)
				continue
			}
			x.End = &end
		case strings.HasPrefix(rest, "blocks."):
			first, hashes, err := decodeBatch(e.Value())
			if x.Gap != "" {
				continue
			}
			switch {
			case err != nil:
				x.Gap = fmt.Sprintf("checkpoint %s: %v", k, err)
			case first != uint64(len(x.Hashes)):
				x.Gap = fmt.Sprintf("no checkpoint of blocks %d..%d", len(x.Hashes), first-1)
			default:
				x.Hashes = append(x.Hashes, hashes...)
			}
		}
	}
	sort.Strings(names)
	out := make([]*Reported, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}

// reference runs the single-node run and records its block hashes.
func reference(run *Run, shards int) (*Reported, engine.Result, error) {
	ref := &Reported{Name: "the single-node run"}
	tap := &hashTap{add: func(index, hash uint64) error {
		ref.Hashes = append(ref.Hashes, hash)
		return nil
	}}
	cfg := run.Config(shards)
	cfg.Journal = tap
	res, err := engine.Run(run.New(), cfg)
	if err == nil {
		err = tap.flush()
	}
	if err != nil {
		return nil, res, fmt.Errorf("the single-node run: %w", err)
	}
	ref.End = endRecord(ref.Name, run.Params(), shards, res)
	return ref, res, nil
}

// compare finds the first block at which the reports differ.
func compare(all []*Reported) (uint64, *Divergence) {
	n := 0
	for _, x := range all {
		n = max(n, len(x.Hashes))
	}
	for b := 0; b < n; b++ {
		var groups []Group
		for _, x := range all {
			if b >= len(x.Hashes) {
				continue
			}
			i := slices.IndexFunc(groups, func(g Group) bool { return g.Hash == x.Hashes[b] })
			if i < 0 {
				groups = append(groups, Group{Hash: x.Hashes[b]})
				i = len(groups) - 1
			}
			groups[i].Names = append(groups[i].Names, x.Name)
		}
		if len(groups) > 1 {
			sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].Names) > len(groups[j].Names) })
			return uint64(b), &Divergence{Block: uint64(b), Groups: groups}
		}
	}
	return uint64(n), nil
}
