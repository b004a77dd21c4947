package engine

// ForceFingerprintMatch makes every boundary's fingerprint match the saved
// checkpoint's, so only the full comparison stands between a fingerprint
// collision and a false cycle.
func ForceFingerprintMatch(c *Config) { c.forceCandidate = true }

// InvariantsOn reports whether the engine was built with -tags invariants
// (its checks allocate, so allocation tests do not apply).
const InvariantsOn = invariantsOn
