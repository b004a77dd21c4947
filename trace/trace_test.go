package trace

import (
	"encoding/binary"
	"testing"

	"github.com/cespare/xxhash/v2"
	"pgregory.net/rapid"
)

func TestEntryMemoryIsItsEncoding(t *testing.T) {
	es := []Entry{{Tick: 1, Src: 2, Dst: 3, Kind: KindSync, A: 0x0102030405060708, B: ^uint64(0)}, {Tick: 9}}
	var scratch []byte
	b := EntryBytes(es, &scratch)
	var want []byte
	for i := range es {
		want = AppendEntry(want, &es[i])
	}
	if string(b) != string(want) || len(b) != 2*EntrySize {
		t.Fatalf("in-memory bytes differ from the encoding:\n%x\n%x", b, want)
	}
	if binary.LittleEndian.Uint32(b[8:]) != 3 || binary.LittleEndian.Uint16(b[12:]) != KindSync {
		t.Fatalf("field offsets wrong: %x", b[:32])
	}
	if got := DecodeEntry(b[EntrySize:]); got != es[1] {
		t.Fatalf("decode: %+v", got)
	}
}

func TestBlockHashCoversHeaderAndContent(t *testing.T) {
	content := xxhash.Sum64([]byte("entries"))
	var h [32]byte
	copy(h[:4], "LXB1")
	binary.LittleEndian.PutUint32(h[4:], 7)
	binary.LittleEndian.PutUint64(h[8:], 3)
	binary.LittleEndian.PutUint64(h[16:], 0xabcdef)
	binary.LittleEndian.PutUint64(h[24:], content)
	if got, want := BlockHash(7, 3, 0xabcdef, content), xxhash.Sum64(h[:]); got != want {
		t.Fatalf("BlockHash %016x, want %016x", got, want)
	}
	var b [BlockHeaderSize]byte
	PutBlockHeader(b[:], BlockHeader{Count: 7, Index: 3, Prev: 0xabcdef, Hash: 42})
	if d, ok := DecodeBlockHeader(b[:]); !ok || d != (BlockHeader{7, 3, 0xabcdef, 42}) {
		t.Fatalf("header round trip: %+v %v", d, ok)
	}
	b[1] = 'Y'
	if _, ok := DecodeBlockHeader(b[:]); ok {
		t.Fatal("bad magic accepted")
	}
}

func TestFileHeaderRoundTrip(t *testing.T) {
	p := "lexbench/1 workload=banking n=0 seed=1 batch=4096 banks=1 accounts=2"
	b := AppendFileHeader(nil, p)
	if len(b) != PrologueSize(len(p)) || len(b)%8 != 0 {
		t.Fatalf("prologue %d bytes", len(b))
	}
	n, err := DecodeFileHeader(b)
	if err != nil || n != len(p) || string(b[FileHeaderSize:FileHeaderSize+n]) != p {
		t.Fatalf("decode: %d %v", n, err)
	}
	if _, err := DecodeFileHeader(append([]byte("NOTAJRNL"), b[8:]...)); err != ErrNotJournal {
		t.Fatalf("bad magic: %v", err)
	}
}

func TestKindNamesCoverEveryKind(t *testing.T) {
	want := map[Kind]string{KindTick: "Tick", KindTransfer: "Transfer", KindData: "Data", KindWrite: "Write",
		KindSync: "Sync", KindSetGoal: "SetGoal", KindClaim: "Claim", KindGranted: "Granted", KindDenied: "Denied",
		KindPreempted: "Preempted", KindSet: "Set", KindChanged: "Changed", 12: "kind 12", 999: "kind 999"}
	for k, name := range want {
		if got := KindName(k); got != name {
			t.Errorf("KindName(%d) = %q, want %q", k, got, name)
		}
	}
}

func TestWholeBlock(t *testing.T) {
	es := []Entry{{Tick: 3, Src: 1, Dst: 2, Kind: KindData, A: 7}, {Tick: 3, Src: 2, Dst: 1, B: 9}}
	var scratch []byte
	body := EntryBytes(es, &scratch)
	b := make([]byte, BlockSize(2))
	h := BlockHeader{Count: 2, Index: 5, Prev: 77, Hash: BlockHash(2, 5, 77, xxhash.Sum64(body))}
	PutBlockHeader(b, h)
	copy(b[BlockHeaderSize:], body)
	if got, size, ok := WholeBlock(append(b, 1, 2, 3)); !ok || size != len(b) || got != h || HeaderCount(b) != 2 {
		t.Fatalf("WholeBlock of a good block: %+v %d %v", got, size, ok)
	}
	if EntryTick(b[BlockHeaderSize:]) != 3 || EntryFlags(b[BlockHeaderSize:]) != 0 {
		t.Fatal("entry accessors")
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x10
		if _, _, ok := WholeBlock(c); ok {
			t.Fatalf("flip at %d accepted", i)
		}
	}
	if _, _, ok := WholeBlock(b[:len(b)-1]); ok {
		t.Fatal("short block accepted")
	}
}

// Sum64Words, EntryHash and BlockHash are xxhash64 written out for one
// 32-byte stripe: they must equal the library's hash of the same bytes
// for every input.
func TestSum64WordsIsXXHash64(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var w [4]uint64
		for i := range w {
			w[i] = rapid.Uint64().Draw(t, "w")
		}
		var b [32]byte
		for i, x := range w {
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
		if got, want := Sum64Words(w[0], w[1], w[2], w[3]), xxhash.Sum64(b[:]); got != want {
			t.Fatalf("Sum64Words(%x) = %016x, xxhash64 %016x", w, got, want)
		}
		e := Entry{Tick: uint32(w[0]), Src: uint32(w[0] >> 32), Dst: uint32(w[1]), Kind: Kind(w[1] >> 32),
			Flags: uint16(w[1] >> 48), A: w[2], B: w[3]}
		var scratch []byte
		if got, want := EntryHash(&e), ContentHash([]Entry{e}, &scratch); got != want {
			t.Fatalf("EntryHash(%+v) = %016x, ContentHash %016x", e, got, want)
		}
		var h [32]byte
		PutBlockHeader(h[:], BlockHeader{Count: uint32(w[0]), Index: w[1], Prev: w[2], Hash: w[3]})
		if got, want := BlockHash(uint32(w[0]), w[1], w[2], w[3]), xxhash.Sum64(h[:]); got != want {
			t.Fatalf("BlockHash = %016x, xxhash64 of the header %016x", got, want)
		}
	})
}

func BenchmarkBlockHash(b *testing.B) {
	var h uint64
	for i := 0; b.Loop(); i++ {
		h = BlockHash(1, uint64(i), h, 7)
	}
}
