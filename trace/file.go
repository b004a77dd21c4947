package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Journal file header (SPEC §3), 64 bytes, little-endian. Part of the on-disk
// format; never change:
//
//	0   [8]byte magic "LEXJRNL1"
//	8   u32     version = 1
//	12  u32     entry size = 32
//	16  u32     block cap = 4096
//	20  u32     params length
//	24  [40]byte zero
//
// then the params text, zero-padded to a multiple of 8, then the blocks.
const (
	FileHeaderSize = 64
	FileVersion    = 1
	// ParamsLenMax bounds the params text a reader accepts (hostile lengths).
	ParamsLenMax = 1 << 16
)

// FileMagic starts every journal file.
var FileMagic = [8]byte{'L', 'E', 'X', 'J', 'R', 'N', 'L', '1'}

// AppendFileHeader appends the file header and padded params text to dst.
func AppendFileHeader(dst []byte, params string) []byte {
	var h [FileHeaderSize]byte
	copy(h[0:8], FileMagic[:])
	binary.LittleEndian.PutUint32(h[8:], FileVersion)
	binary.LittleEndian.PutUint32(h[12:], EntrySize)
	binary.LittleEndian.PutUint32(h[16:], BlockEntriesMax)
	binary.LittleEndian.PutUint32(h[20:], uint32(len(params)))
	dst = append(dst, h[:]...)
	dst = append(dst, params...)
	for len(dst)%8 != 0 {
		dst = append(dst, 0)
	}
	return dst
}

// PrologueSize is the size of the file header plus padded params.
func PrologueSize(paramsLen int) int { return FileHeaderSize + (paramsLen+7)/8*8 }

// ErrNotJournal is returned for a file that does not start with the magic.
var ErrNotJournal = errors.New("not a lexbench journal (bad magic)")

// DecodeFileHeader checks the 64-byte header and returns the params length.
func DecodeFileHeader(b []byte) (paramsLen int, err error) {
	if len(b) < FileHeaderSize {
		return 0, fmt.Errorf("file header truncated (%d of %d bytes)", len(b), FileHeaderSize)
	}
	if string(b[0:8]) != string(FileMagic[:]) {
		return 0, ErrNotJournal
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != FileVersion {
		return 0, fmt.Errorf("unsupported version %d", v)
	}
	if v := binary.LittleEndian.Uint32(b[12:]); v != EntrySize {
		return 0, fmt.Errorf("entry size %d, want %d", v, EntrySize)
	}
	if v := binary.LittleEndian.Uint32(b[16:]); v != BlockEntriesMax {
		return 0, fmt.Errorf("block cap %d, want %d", v, BlockEntriesMax)
	}
	n := binary.LittleEndian.Uint32(b[20:])
	if n == 0 || n > ParamsLenMax {
		return 0, fmt.Errorf("params length %d out of range", n)
	}
	for _, c := range b[24:FileHeaderSize] {
		if c != 0 {
			return 0, errors.New("reserved header bytes are not zero")
		}
	}
	return int(n), nil
}
