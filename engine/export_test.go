package engine

// ForceFingerprintMatch makes every boundary's fingerprint match the saved
// checkpoint's, so only the full comparison stands between a fingerprint
// collision and a false cycle.
func ForceFingerprintMatch(c *Config) { c.forceCandidate = true }
