package impair

import (
	"math/bits"
	"time"
)

// held is a frame waiting out its delay, in a buffer of the pool.
type held struct {
	at  time.Time
	seq uint64 // arrival order, so that frames due at the same time keep it
	buf []byte
}

func (a *held) before(b *held) bool {
	if a.at.Equal(b.at) {
		return a.seq < b.seq
	}
	return a.at.Before(b.at)
}

// queue is a min-heap of held frames by due time. It is written out rather
// than built on container/heap, whose interface boxes every element pushed:
// an allocation per frame.
type queue []held

func (q *queue) push(h held) {
	*q = append(*q, h)
	s := *q
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].before(&s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (q *queue) pop() held {
	s := *q
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = held{}
	s = s[:last]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].before(&s[min]) {
			min = l
		}
		if r < len(s) && s[r].before(&s[min]) {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*q = s
	return top
}

// Buffers come in power-of-two sizes from 2 KiB (any Ethernet frame) to
// 64 KiB (a GSO frame from a tap with offloads), one free list per size, so
// that a mix of sizes does not make every reuse miss. Frames longer than the
// largest class get a buffer of their own that is not kept.
const (
	minClassShift = 11 // 2 KiB
	numClasses    = 6  // ... 64 KiB
)

// pool recycles the buffers of held and corrupted frames. What it keeps
// free is bounded by bytes of capacity, so that a burst of large frames
// once does not pin their memory for good.
type pool struct {
	free    [numClasses][][]byte
	keep    int // bytes of capacity it may keep free
	kept    int // bytes of capacity kept free now
	created uint64
}

func class(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// get returns a buffer holding a copy of frame.
func (p *pool) get(frame []byte) []byte {
	c := class(len(frame))
	if c >= numClasses {
		p.created++
		return append([]byte(nil), frame...)
	}
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.kept -= cap(b)
		return append(b, frame...)
	}
	p.created++
	return append(make([]byte, 0, 1<<(c+minClassShift)), frame...)
}

// put takes back a buffer from get.
func (p *pool) put(b []byte) {
	c := class(cap(b))
	if c >= numClasses || cap(b) != 1<<(c+minClassShift) || p.kept+cap(b) > p.keep {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
	p.kept += cap(b)
}
