//go:build invariants

package mmap

// invariants is true with -tags invariants: costly checks of what the
// writer is given run (see checkFilled).
const invariants = true
