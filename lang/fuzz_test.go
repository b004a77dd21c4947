package lang

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile: the lexer, parser, checker and compiler never panic, and a
// program that compiles also disassembles.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("../workloads/lxm/*.lxm")
	more, _ := filepath.Glob("testdata/*.lxm")
	for _, p := range append(files, more...) {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add("workload w key a = 1 in 1..2 key b = 1 in 1..max type T { x: u64 on Tick() { while x < 1 { x += 1 } } } domains { t: T boots }")
	f.Add("type T { on X(a, b, c) { emit(1, 2) let y: i64 = a + -1 } }")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile("fuzz.lxm", src)
		if err != nil {
			if _, ok := err.(*ErrorList); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		p.Disasm(io.Discard)
	})
}
