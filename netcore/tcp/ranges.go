package tcp

// rangeSet is a small sorted set of disjoint sequence ranges [start, end):
// out-of-order data received, or data the peer SACKed. It is a fixed array
// so it never allocates; when full, a new range that is not adjacent to one
// it has is dropped (the receiver then just re-receives that data).
type rangeSet struct {
	n int
	r [maxRanges]seqRange
}

type seqRange struct{ start, end uint32 }

const maxRanges = 32

func (s *rangeSet) empty() bool { return s.n == 0 }
func (s *rangeSet) clear()      { s.n = 0 }

// add merges [start, end) into the set; false when it had no room.
func (s *rangeSet) add(start, end uint32) bool {
	if !seqLT(start, end) {
		return true
	}
	// First range that ends at or after start.
	i := 0
	for i < s.n && seqLT(s.r[i].end, start) {
		i++
	}
	// Ranges i..j-1 overlap or touch [start, end).
	j := i
	for j < s.n && seqLEQ(s.r[j].start, end) {
		start = seqMin(start, s.r[j].start)
		end = seqMax(end, s.r[j].end)
		j++
	}
	if j == i {
		if s.n == maxRanges {
			return false
		}
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
		s.n++
		s.r[i] = seqRange{start, end}
		return true
	}
	s.r[i] = seqRange{start, end}
	copy(s.r[i+1:], s.r[j:s.n])
	s.n -= j - i - 1
	return true
}

// trimBelow drops everything below seq.
func (s *rangeSet) trimBelow(seq uint32) {
	k := 0
	for i := 0; i < s.n; i++ {
		r := s.r[i]
		if seqLEQ(r.end, seq) {
			continue
		}
		if seqLT(r.start, seq) {
			r.start = seq
		}
		s.r[k] = r
		k++
	}
	s.n = k
}

// bytes is the number of octets in the set.
func (s *rangeSet) bytes() int {
	n := 0
	for _, r := range s.r[:s.n] {
		n += int(r.end - r.start)
	}
	return n
}

// contains reports whether seq is in the set, and the range's end.
func (s *rangeSet) contains(seq uint32) (uint32, bool) {
	for _, r := range s.r[:s.n] {
		if seqInWindow(seq, r.start, r.end-r.start) {
			return r.end, true
		}
	}
	return 0, false
}
