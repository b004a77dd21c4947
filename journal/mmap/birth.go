package mmap

import (
	"encoding/binary"
	"os"
	"syscall"
	"unsafe"
)

// birth is the file's creation time in nanoseconds since the epoch, from
// statx(2) (STATX_BTIME), or 0 where the kernel or file system does not
// report it. Inode numbers are reused as soon as a file is deleted; the
// birth time tells a new file with a reused inode from the old one.
func birth(f *os.File) int64 {
	if sysStatx < 0 {
		return 0
	}
	const (
		atEmptyPath = 0x1000
		statxBtime  = 0x800
		maskOff     = 0  // u32 stx_mask
		btimeOff    = 80 // struct statx_timestamp stx_btime {s64 sec; u32 nsec; s32 pad}
	)
	var buf [256]byte // struct statx
	empty := [1]byte{}
	_, _, e := syscall.Syscall6(uintptr(sysStatx), f.Fd(), uintptr(unsafe.Pointer(&empty[0])), atEmptyPath, statxBtime,
		uintptr(unsafe.Pointer(&buf[0])), 0)
	if e != 0 || binary.NativeEndian.Uint32(buf[maskOff:])&statxBtime == 0 {
		return 0
	}
	sec := int64(binary.NativeEndian.Uint64(buf[btimeOff:]))
	nsec := int64(binary.NativeEndian.Uint32(buf[btimeOff+8:]))
	return sec*1e9 + nsec
}
