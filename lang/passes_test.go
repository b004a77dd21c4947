package lang

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOpTableIsConsistent(t *testing.T) {
	if err := checkOps(&ops); err != nil {
		t.Fatal(err)
	}
	// a table whose families do not line up is caught
	for _, c := range []struct {
		name   string
		break_ func(o *[opCount]opInfo)
		want   string
	}{
		{"unnamed op", func(o *[opCount]opInfo) { o[opMul].name = "" }, "has no name"},
		{"duplicate name", func(o *[opCount]opInfo) { o[opMul].name = "add" }, "are both"},
		{"immediate form out of order", func(o *[opCount]opInfo) { o[opAddI].name, o[opSubI].name = "subi", "addi" }, "immediate form"},
		{"signed form out of order", func(o *[opCount]opInfo) { o[opLtS].name, o[opLeS].name = "les", "lts" }, "signed form"},
		{"X-then-ret form out of order", func(o *[opCount]opInfo) { o[opAddFR].name, o[opSubFR].name = "subf+ret", "addf+ret" }, "X-then-ret"},
		{"field patching differs", func(o *[opCount]opInfo) { o[opStFR].flags = 0 }, "field patching"},
	} {
		bad := ops
		c.break_(&bad)
		if err := checkOps(&bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
}

func TestCompiledCodeIsConsistent(t *testing.T) {
	var files []string
	for _, g := range []string{"../workloads/lxm/*.lxm", "../workloads/lxm/*/*.lxm", "testdata/*.lxm", "testdata/prototype/*.lxm"} {
		more, _ := filepath.Glob(g)
		files = append(files, more...)
	}
	if len(files) < 25 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		p := compileFile(t, f)
		if err := p.checkCode(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		// and the check can fail: a jump out of its body, an unpatched field
		for pc, ins := range p.code {
			if opcode(ins) == opLoop {
				q := *p
				q.code = append([]uint64(nil), p.code...)
				q.code[pc] = ins&0xFFFFFFFF | uint64(len(p.code))<<32
				if err := q.checkCode(); err == nil || !strings.Contains(err.Error(), "outside the body") {
					t.Errorf("%s: a loop jumping out of its body: %v", f, err)
				}
				q.code[pc] = ins
				q.patch = p.patch[1:]
				if err := q.checkCode(); err == nil || !strings.Contains(err.Error(), "not listed for patching") {
					t.Errorf("%s: a field immediate not patched: %v", f, err)
				}
				break
			}
		}
	}
}

// The peephole's drop of a reloaded field and its jump-to-tail rewrite
// keep what a program computes: a load after a store of any field, after
// a jump target or into a register written since is kept; a dropped
// instruction's field patch goes with it (checkCode).
func TestPeepholeKeepsWhatProgramsCompute(t *testing.T) {
	src := `workload peep
type C {
    x: u64
    y: u64
    z: u64
    arr: [2]u64
    on Tick() {
        let a = x + 1
        x = 5
        let b = x + 1
        let k = x * 2
        arr[1] = 7
        let d = x + arr[1]
        y = a * 1000000 + b * 10000 + k * 100 + d
        let m = x % 1000 + 1
        if x & 1 == 1 {
            if y > 0 { z += m } else { z += 2 }
        } else {
            z += 3
        }
        x += 1
    }
}
domains { c: C boots }
`
	p := compileSrc(t, src)
	if err := p.checkCode(); err != nil {
		t.Fatal(err)
	}
	res, _, err := runSrc(t, src, 1)
	// a = 1, x = 5, b = 6, k = 10, d = 12, y = 1061012; m = 6, z = 6; x = 6
	if err != nil || res.Words[0] != 6 || res.Words[1] != 1061012 || res.Words[2] != 6 || res.Words[4] != 7 {
		t.Fatalf("%v: %v, want x 6 y 1061012 z 6 arr[1] 7", err, res.Words)
	}
	// the rewrites happened: `x & 1` reuses the load of `x % 1000`, and
	// the branches end with their own copy of the tail instead of jumps
	var loads, jumps int
	for _, ins := range p.code {
		switch opcode(ins) {
		case opLdF:
			loads++
		case opJmp:
			jumps++
		}
	}
	if loads != 5 || jumps != 0 {
		t.Errorf("%d field loads, %d jumps; want 5, 0", loads, jumps)
	}
}

// A removed instruction takes its field patch with it.
func TestRemoveDropsTheFieldPatch(t *testing.T) {
	b := bodyBuf{code: []uint64{enc(opLdF, 1, 0, 0, 3), enc(opLdF, 1, 0, 0, 3), enc(opRet, 0, 0, 0, 0)},
		pos: make([]Pos, 3), patch: []int{0, 1}}
	b.remove(1)
	if len(b.patch) != 1 || b.patch[0] != 0 || len(b.code) != 2 {
		t.Fatalf("patch %v code %v", b.patch, b.code)
	}
}

// A comparison of a scalar field compiles to one field-compare-branch
// (bx… with index 0 of length 1) and decides as the load and branch it
// replaces: signed and unsigned, the field on either side of == and !=,
// as a jump on true (if) and on false (else, &&).
func TestScalarFieldBranches(t *testing.T) {
	src := `workload fieldbr
type C {
    s: i64
    u: u64
    out: u64
    on Tick() {
        s = -5
        u = 7
        let bits: u64 = 0
        if s < 0 { bits |= 1 }
        if s >= -5 { bits |= 2 }
        if s >= -4 { bits |= 4 }
        if u < 8 { bits |= 8 }
        if u >= 8 { bits |= 16 }
        if 7 == u { bits |= 32 }
        if u != 7 { bits |= 64 } else { bits |= 128 }
        if u == 7 && s < 0 { bits |= 256 }
        if !(s == -5) { bits |= 512 }
        out = bits
    }
}
domains { c: C boots }
`
	p := compileSrc(t, src)
	bx := 0
	for _, ins := range p.code {
		if op := opcode(ins); op >= opBxEq && op <= opBxGeS {
			bx++
		}
	}
	res, _, err := runSrc(t, src, 1)
	// bits 1, 2, 8, 32, 128, 256
	if want := uint64(1 | 2 | 8 | 32 | 128 | 256); err != nil || res.Words[2] != want || bx != 10 {
		t.Fatalf("%v: out %b, want %b; %d field branches", err, res.Words[2], want, bx)
	}
}
