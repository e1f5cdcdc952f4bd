package tcp

// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): a is "less than" b
// when b is ahead of a by less than half the space.

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}

func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}

// seqInWindow: lo <= x < lo+n.
func seqInWindow(x, lo, n uint32) bool { return x-lo < n }
