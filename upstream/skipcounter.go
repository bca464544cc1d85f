package upstream

// SkipCounter is implemented by Sources that read values from a registry
// and skip those they cannot parse. The admin status and metrics
// (strait_discovery_skipped_values_total) read the count through it.
type SkipCounter interface {
	// SkippedValues is how many unparsable values were skipped, ever.
	// Each value counts once, when first seen under its key.
	SkippedValues() uint64
}
