//go:build invariants

package lang

// invariants is true in builds with `-tags invariants`: compiled programs
// are checked (Program.checkCode) before use.
const invariants = true
