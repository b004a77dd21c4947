//go:build !linux

package lang

func threadCPU() (int64, bool) { return 0, false }
