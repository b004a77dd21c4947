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
	files, _ := filepath.Glob("../workloads/lxm/*.lxm")
	more, _ := filepath.Glob("testdata/*.lxm")
	for _, f := range append(files, more...) {
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
