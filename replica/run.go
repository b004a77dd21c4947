package replica

import (
	"errors"
	"fmt"
	"github.com/lexbench/lexbench/runfile"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// Run is a replicated run's definition: the workload and its params, which
// are the run's identity, and the run controls every replica applies.
type Run struct {
	Spec *workloads.Spec
	P    workloads.Params
	// Program is xxhash64 of a program's source text for a program run
	// (lexbench run FILE.lxm), whose params name only the program's
	// workload name; 0 for a native workload.
	Program uint64
	// Source is the program itself (nil for a native workload): a
	// replica's run file records it, so that resume, replay and log of its
	// journal need no --program.
	Source *runfile.Program
	// Opts are the run controls: MaxTicks, MaxMsgs, Damp, NoDetect and
	// Local (--detect local). They are recorded in the stream's header, and
	// every replica takes them from there. (SnapshotEvery and Sync are a
	// replica's own.) The fault layer (SPEC §7) is part of the params.
	Opts snapshot.Options
	// MaxInFlight is this process's bound on messages in flight
	// (engine.Config.MaxInFlight; 0: the engine's largest). It is not a
	// run control: it decides only whether a run can finish here.
	MaxInFlight int64
}

// New returns a fresh instance of the run's workload.
func (r *Run) New() workloads.Workload { return r.Spec.New(r.P) }

// Params is the canonical params text (SPEC §3).
func (r *Run) Params() string { return r.Spec.Text(r.P) }

// ID is the run's identity: 16 hex digits of xxhash64 over the params and
// the program hash. The stream and the checkpoint bucket are named by it.
func (r *Run) ID() string {
	return fmt.Sprintf("%016x", xxhash.Sum64String(fmt.Sprintf("lexbench-inputs/1 %s program=%016x", r.Params(), r.Program)))
}

// StreamName is the name of the run's input stream.
func (r *Run) StreamName() string { return "LEXBENCH_IN_" + r.ID() }

// Subject is the subject of the run's input stream.
func (r *Run) Subject() string { return "lexbench.in." + r.ID() }

// BucketName is the name of the run's checkpoint key-value bucket.
func (r *Run) BucketName() string { return "LEXBENCH_CK_" + r.ID() }

// header is the first message of an input stream: what run it carries and
// how, as `key: value` lines.
type header struct {
	Params     string
	Program    uint64
	Inputs     string
	ChunkBytes int
	Opts       snapshot.Options
}

const headerMagic = "lexbench-inputs/1"

func (h *header) text() string {
	damp := "halt"
	if h.Opts.Damp {
		damp = "damp"
	}
	detect := "global"
	if h.Opts.Local {
		detect = "local"
	}
	return fmt.Sprintf("%s\nparams: %s\nprogram: %016x\ninputs: %s\nchunk-bytes: %d\nmax-ticks: %d\nmax-msgs: %d\non-oscillation: %s\nno-detect: %t\ndetect: %s\n",
		headerMagic, h.Params, h.Program, h.Inputs, h.ChunkBytes, h.Opts.MaxTicks, h.Opts.MaxMsgs, damp, h.Opts.NoDetect, detect)
}

func parseHeader(b []byte) (*header, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) != 11 || lines[0] != headerMagic || lines[10] != "" {
		return nil, errors.New("not a lexbench input stream header")
	}
	v := map[string]string{}
	for _, l := range lines[1:10] {
		k, val, ok := strings.Cut(l, ": ")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		v[k] = val
	}
	h := &header{Params: v["params"], Inputs: v["inputs"], Opts: snapshot.DefaultOptions()}
	var err error
	num := func(k string, bits int) int64 {
		x, e := strconv.ParseInt(v[k], 10, bits)
		if e != nil && err == nil {
			err = fmt.Errorf("bad header %s %q", k, v[k])
		}
		return x
	}
	h.ChunkBytes = int(num("chunk-bytes", 32))
	h.Opts.MaxTicks, h.Opts.MaxMsgs = num("max-ticks", 64), num("max-msgs", 64)
	p, e := strconv.ParseUint(v["program"], 16, 64)
	switch {
	case err != nil:
		return nil, err
	case e != nil:
		return nil, fmt.Errorf("bad header program %q", v["program"])
	case v["on-oscillation"] != "halt" && v["on-oscillation"] != "damp":
		return nil, fmt.Errorf("bad header on-oscillation %q", v["on-oscillation"])
	case v["no-detect"] != "true" && v["no-detect"] != "false":
		return nil, fmt.Errorf("bad header no-detect %q", v["no-detect"])
	case v["detect"] != "global" && v["detect"] != "local":
		return nil, fmt.Errorf("bad header detect %q", v["detect"])
	case h.ChunkBytes < chunkBytesMin || h.ChunkBytes > chunkBytesMax || h.Opts.MaxTicks < -1 || h.Opts.MaxMsgs < -1:
		return nil, errors.New("header values out of range")
	}
	h.Program = p
	h.Opts.Damp, h.Opts.NoDetect, h.Opts.Local = v["on-oscillation"] == "damp", v["no-detect"] == "true", v["detect"] == "local"
	if _, err := parseInputs(h.Inputs); err != nil {
		return nil, err
	}
	if h.text() != string(b) {
		return nil, errors.New("header not in canonical form")
	}
	return h, nil
}

// Chunk sizes a publisher may choose (bytes).
const (
	chunkBytesMin     = 4 << 10
	chunkBytesMax     = 512 << 10
	ChunkBytesDefault = 256 << 10
)

// check reports how h differs from the run r would publish.
func (h *header) check(r *Run, inputs string) error {
	switch {
	case h.Params != r.Params():
		return fmt.Errorf("the stream carries params %q, not %q", h.Params, r.Params())
	case h.Program != r.Program:
		return fmt.Errorf("the stream carries program %016x, not %016x", h.Program, r.Program)
	case h.Inputs != inputs:
		return fmt.Errorf("the stream's input domains are %s, the workload's %s", h.Inputs, inputs)
	}
	return nil
}

// sameControls reports whether two runs' controls are equal.
func sameControls(a, b snapshot.Options) bool {
	return a.MaxTicks == b.MaxTicks && a.MaxMsgs == b.MaxMsgs && a.Damp == b.Damp && a.NoDetect == b.NoDetect && a.Local == b.Local
}

// Config is the engine configuration of the run (one of its replicas or
// partitions, or its single-node reference) with the given shard count:
// the params, the run controls, the fault layer (from the params, SPEC §7)
// and the detector (global or local, SPEC §5.6, §5.7).
func (r *Run) Config(shards int) engine.Config {
	detect := engine.DetectGlobal
	if r.Opts.Local {
		detect = engine.DetectLocal
	}
	return engine.Config{Params: r.Params(), Shards: shards, MaxTicks: r.Opts.MaxTicks, MaxMsgs: r.Opts.MaxMsgs,
		Damp: r.Opts.Damp, NoDetect: r.Opts.NoDetect, Detect: detect, Faults: r.P.Faults, MaxInFlight: r.MaxInFlight}
}

// quiesced reports whether a run that ended with res emptied its queue:
// then every input the publisher recorded has been consumed.
func quiesced(res engine.Result) bool {
	switch res.Outcome {
	case engine.Converged, engine.Violated, engine.Damped:
		return true
	}
	return false
}
