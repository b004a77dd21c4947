package mmap

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lexbench/lexbench/trace"
)

// benchJournalBytesMax bounds a benchmark journal: past it the journal is
// closed and started again (off the clock), so disk use stays bounded
// whatever b.N is.
const benchJournalBytesMax = 512 << 20

// BenchmarkWriter reserves and fills regions of a tick's size (a full
// block, and a large tick of 64 blocks) through the sliding window. The
// sync at Close is off the clock: this measures the write path (page
// faults into fresh page-cache pages, window slides, file growth).
func BenchmarkWriter(b *testing.B) {
	block := trace.BlockHeaderSize + trace.BlockEntriesMax*trace.EntrySize
	for _, size := range []int{block, 64 * block} {
		for _, window := range []int{windowBytesDefault, 16 << 20} {
			name := fmt.Sprintf("reserve=%dKiB/window=%dMiB", size>>10, window>>20)
			b.Run(name, func(b *testing.B) { benchWriter(b, size, window) })
		}
	}
}

func benchWriter(b *testing.B, size, window int) {
	src := make([]byte, size)
	x := splitMix(1)
	for i := range src {
		src[i] = byte(x.next())
	}
	path := filepath.Join(b.TempDir(), "j")
	open := func() *Writer {
		w, err := Create(path, testParams, Options{Sync: SyncNone, WindowBytes: window, Overwrite: true})
		if err != nil {
			b.Fatal(err)
		}
		w.inv.raw = true // measures the writer, not the engine's blocks
		return w
	}
	w := open()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if w.Size()+int64(size) > benchJournalBytesMax {
			b.StopTimer()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			w = open()
			b.StartTimer()
		}
		reg, err := w.Reserve(size)
		if err != nil {
			b.Fatal(err)
		}
		copy(reg, src)
	}
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	os.Remove(path)
}

// BenchmarkVerify reads and checks a 64 MiB journal of full blocks.
func BenchmarkVerify(b *testing.B) {
	counts := make([]int, 512)
	for i := range counts {
		counts[i] = trace.BlockEntriesMax
	}
	j := encodeJournal(testParams, ticksToBlocks(counts, 1))
	path := filepath.Join(b.TempDir(), "j")
	if err := os.WriteFile(path, j.data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(j.data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Verify(path); err != nil {
			b.Fatal(err)
		}
	}
}
