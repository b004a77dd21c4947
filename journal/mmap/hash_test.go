package mmap

import "github.com/cespare/xxhash/v2"

func xxhashSum(b []byte) uint64 { return xxhash.Sum64(b) }
