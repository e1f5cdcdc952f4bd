package netcore

import "time"

// Reassembly of fragmented datagrams (RFC 791 3.2, RFC 815; RFC 8200 4.5
// for IPv6), bounded so that fragments nobody finishes cannot exhaust the
// host: at most MaxReassembly datagrams at once and MaxReassemblyBytes of
// fragment buffers, each datagram ReassemblyTimeout to complete. The engine
// knows nothing of IPv4: a family gives it a key type (IPv4: source,
// destination, protocol, identification) and the fragments' offsets, and
// gets back whole datagrams; IPv6 reuses it with a key of its own.
//
// Overlaps: a datagram whose fragments overlap is dropped whole (RFC 5722,
// applied to IPv4 too, as Linux has done since 2018), so that no two
// readings of the same bytes can exist. The same fragment received twice
// (the same offset and end) is a duplicate, not an overlap (RFC 5722's
// erratum 3089, Linux's IPFRAG_DUP): it is dropped alone. A dropped datagram
// stays as a dead entry, holding no buffers, until its time is up, so that
// its remaining fragments are dropped too instead of starting a
// reassembly that could never finish.
//
// Memory: each fragment is copied into a chunk of fragChunk bytes (every
// fragment of an Ethernet frame fits), and MaxReassemblyBytes counts chunks,
// not payload, so that it bounds the memory actually held, as Linux counts
// truesize. Chunks are recycled: steady traffic allocates nothing. When no
// datagram is in reassembly, all but fragReserve of them are let go, so that
// a flood leaves nothing behind. A completed datagram is copied into one
// assembly buffer, reused, which the caller reads before the next call.

// Bounds and timeout of reassembly (INTERFACE.md, "IPv4, finished").
const (
	ReassemblyTimeout  = 30 * time.Second
	MaxReassembly      = 64      // datagrams in reassembly at once, per host and family
	MaxReassemblyBytes = 1 << 20 // bytes of fragment buffers held at once
)

const (
	// fragChunk holds one fragment: at most the largest frame payload (1500
	// bytes, header included), rounded to one of Go's size classes.
	fragChunk = 1536
	// fragReserve chunks stay when the reassembler empties: the 45 of a
	// 64 KiB datagram in 1480-byte fragments, so that pings of any size
	// allocate nothing once warm.
	fragReserve = 48
)

// reasmResult is what became of a fragment.
type reasmResult uint8

const (
	reasmHeld      reasmResult = iota // kept; its datagram is not yet complete
	reasmDone                         // it completed its datagram: see datagram
	reasmDuplicate                    // the same offset and end as one held: dropped alone
	reasmOverlap                      // it overlaps one held, or its datagram was dropped for that: the datagram is dropped whole
	reasmBad                          // inconsistent with its datagram (past its end, a second end, too long), or its datagram was dropped for that
	reasmNoRoom                       // a bound is reached: dropped (and its datagram, which could not complete)
)

// reasmFrag is one fragment held: its place in the datagram's payload and
// the chunk that holds it (after the header, for the first).
type reasmFrag struct {
	off, end int32
	chunk    int32
}

type reasmEntry[K comparable] struct {
	key      K
	deadline time.Time
	frags    []reasmFrag // sorted by offset, none overlapping; kept across reuse
	total    int         // payload length, from the last fragment; -1 until it came
	have     int         // payload bytes held
	hdrLen   int         // length of the first fragment's header; 0 until it came
	flags    uint8       // the callers' flags of every fragment, or'ed
	dead     reasmResult // why a dropped datagram was dropped; reasmHeld while alive
}

// reassembler holds the datagrams in reassembly for one family; K
// identifies a datagram.
type reassembler[K comparable] struct {
	maxLen   int             // header and payload of a whole datagram, at most
	minHdr   int             // the shortest header a datagram can have
	timeout  time.Duration   // a datagram's time to complete
	entries  []reasmEntry[K] // MaxReassembly slots, made at the first fragment
	active   []int32         // the slots in use
	chunks   [][]byte        // every chunk made, by index
	free     []int32         // the chunks not in use
	asm      []byte          // the last datagram completed
	asmFlags uint8           // and its fragments' flags
	earliest time.Time       // the earliest deadline of an entry, zero if none
}

// newReassembler makes a reassembler for datagrams of at most maxLen bytes,
// header included, whose header is at least minHdr bytes (IPv4: 65535, 20),
// so that a fragment that would make a datagram too long is refused as soon
// as it comes. Each datagram has timeout to complete (ReassemblyTimeout).
func newReassembler[K comparable](maxLen, minHdr int, timeout time.Duration) *reassembler[K] {
	return &reassembler[K]{maxLen: maxLen, minHdr: minHdr, timeout: timeout}
}

// held is the number of datagrams in reassembly, dead ones included.
func (r *reassembler[K]) held() int { return len(r.active) }

// bytes is the memory of the chunks in use.
func (r *reassembler[K]) bytes() int { return (len(r.chunks) - len(r.free)) * fragChunk }

// next is the earliest deadline, zero when nothing is in reassembly.
func (r *reassembler[K]) next() time.Time { return r.earliest }

// add takes one fragment of the datagram key: data at byte offset off of the
// payload, more if fragments follow it; for the first (off 0), hdr is the
// datagram's header (ignored for the others). flags are or'ed over the
// datagram's fragments (the caller's business: a link-layer broadcast, say).
// The caller has checked that data is not empty and, unless it is the last,
// a multiple of 8 bytes long.
func (r *reassembler[K]) add(now time.Time, key K, off int, more bool, hdr, data []byte, flags uint8) reasmResult {
	if off != 0 {
		hdr = nil
	}
	end := off + len(data)
	if len(data) == 0 || end+max(len(hdr), r.minHdr) > r.maxLen || len(hdr)+len(data) > fragChunk {
		if i := r.find(key); i >= 0 {
			r.kill(i, reasmBad)
		}
		return reasmBad
	}
	i := r.find(key)
	if i < 0 {
		if i = r.create(now, key); i < 0 {
			return reasmNoRoom
		}
	}
	e := &r.entries[i]
	if e.dead != reasmHeld {
		return e.dead
	}
	last := e.total >= 0
	switch {
	case !more && last && end != e.total,
		!more && len(e.frags) > 0 && int(e.frags[len(e.frags)-1].end) > end,
		more && last && end > e.total:
		r.kill(i, reasmBad)
		return reasmBad
	}
	// The slot for it in offset order; only its neighbours can overlap it.
	at := len(e.frags)
	for at > 0 && int(e.frags[at-1].off) >= off {
		at--
	}
	if at < len(e.frags) && int(e.frags[at].off) == off && int(e.frags[at].end) == end {
		return reasmDuplicate
	}
	if at > 0 && int(e.frags[at-1].end) > off || at < len(e.frags) && int(e.frags[at].off) < end {
		r.kill(i, reasmOverlap)
		return reasmOverlap
	}
	c := r.chunk()
	if c < 0 {
		r.kill(i, reasmNoRoom)
		return reasmNoRoom
	}
	n := copy(r.chunks[c], hdr)
	copy(r.chunks[c][n:], data)
	e.frags = append(e.frags, reasmFrag{})
	copy(e.frags[at+1:], e.frags[at:])
	e.frags[at] = reasmFrag{off: int32(off), end: int32(end), chunk: c}
	e.have += len(data)
	e.flags |= flags
	if off == 0 {
		e.hdrLen = len(hdr)
	}
	if !more {
		e.total = end
	}
	if e.total < 0 || e.have != e.total || e.hdrLen == 0 {
		return reasmHeld
	}
	if e.hdrLen+e.total > r.maxLen {
		r.kill(i, reasmBad)
		return reasmBad
	}
	r.assemble(e)
	r.asmFlags = e.flags
	r.release(i)
	return reasmDone
}

// datagram is the datagram add last completed, header and payload, and the
// flags of its fragments. It is valid until the next call of add.
func (r *reassembler[K]) datagram() ([]byte, uint8) { return r.asm, r.asmFlags }

// find returns the slot of key's entry, or -1.
func (r *reassembler[K]) find(key K) int {
	for _, i := range r.active {
		if r.entries[i].key == key {
			return int(i)
		}
	}
	return -1
}

// create makes an entry for key, or returns -1 when MaxReassembly datagrams
// are held or no chunk is left for its first fragment.
func (r *reassembler[K]) create(now time.Time, key K) int {
	if len(r.active) >= MaxReassembly || len(r.free) == 0 && len(r.chunks) >= MaxReassemblyBytes/fragChunk {
		return -1
	}
	if r.entries == nil {
		r.entries = make([]reasmEntry[K], MaxReassembly)
		r.active = make([]int32, 0, MaxReassembly)
	}
	// A free slot: one not in active. Slots are few; a bitmap would save
	// nothing measurable.
	i := 0
	for ; i < len(r.entries); i++ {
		if r.entries[i].deadline.IsZero() {
			break
		}
	}
	e := &r.entries[i]
	*e = reasmEntry[K]{key: key, deadline: now.Add(r.timeout), frags: e.frags[:0], total: -1}
	r.active = append(r.active, int32(i))
	if r.earliest.IsZero() || e.deadline.Before(r.earliest) {
		r.earliest = e.deadline
	}
	return i
}

// chunk takes a free chunk, making one while under the bound; -1 if none.
func (r *reassembler[K]) chunk() int32 {
	if n := len(r.free); n > 0 {
		c := r.free[n-1]
		r.free = r.free[:n-1]
		return c
	}
	if len(r.chunks) >= MaxReassemblyBytes/fragChunk {
		return -1
	}
	r.chunks = append(r.chunks, make([]byte, fragChunk))
	return int32(len(r.chunks) - 1)
}

// assemble copies e's fragments, in order and without gaps, into asm.
func (r *reassembler[K]) assemble(e *reasmEntry[K]) {
	n := e.hdrLen + e.total
	if cap(r.asm) < n {
		r.asm = make([]byte, n, max(n, 2*cap(r.asm)))
	}
	r.asm = r.asm[:n]
	for _, f := range e.frags {
		c := r.chunks[f.chunk]
		if f.off == 0 {
			copy(r.asm, c[:e.hdrLen+int(f.end)])
			continue
		}
		copy(r.asm[e.hdrLen+int(f.off):], c[:f.end-f.off])
	}
}

// kill drops entry i's fragments and keeps it, dead for why, until its
// deadline.
func (r *reassembler[K]) kill(i int, why reasmResult) {
	e := &r.entries[i]
	r.dropFrags(e)
	e.dead = why
	r.trim()
}

func (r *reassembler[K]) dropFrags(e *reasmEntry[K]) {
	for _, f := range e.frags {
		r.free = append(r.free, f.chunk)
	}
	e.frags = e.frags[:0]
}

// release frees entry i and its chunks.
func (r *reassembler[K]) release(i int) {
	e := &r.entries[i]
	r.dropFrags(e)
	deadline := e.deadline
	e.deadline = time.Time{}
	for j, a := range r.active {
		if int(a) == i {
			r.active[j] = r.active[len(r.active)-1]
			r.active = r.active[:len(r.active)-1]
			break
		}
	}
	if deadline.Equal(r.earliest) {
		r.earliest = time.Time{}
		for _, a := range r.active {
			if d := r.entries[a].deadline; r.earliest.IsZero() || d.Before(r.earliest) {
				r.earliest = d
			}
		}
	}
	r.trim()
}

// trim lets go of the chunks beyond fragReserve once none is in use. Chunks
// are indexed, so only an idle reassembler can shrink.
func (r *reassembler[K]) trim() {
	if len(r.free) != len(r.chunks) || len(r.chunks) <= fragReserve {
		return
	}
	clear(r.chunks[fragReserve:])
	r.chunks = r.chunks[:fragReserve]
	r.free = r.free[:0]
	for c := range int32(fragReserve) {
		r.free = append(r.free, c)
	}
}

// expire removes one entry whose deadline is due at now, and reports
// whether there was one. live is false for an entry that had been dropped
// already; first is its first fragment (header and data) if that came,
// valid until the next call. The caller loops until ok is false.
func (r *reassembler[K]) expire(now time.Time) (key K, first []byte, flags uint8, live, ok bool) {
	if r.earliest.IsZero() || now.Before(r.earliest) {
		return key, nil, 0, false, false
	}
	for _, a := range r.active {
		e := &r.entries[a]
		if now.Before(e.deadline) {
			continue
		}
		key, flags, live = e.key, e.flags, e.dead == reasmHeld
		if live && len(e.frags) > 0 && e.frags[0].off == 0 {
			first = r.chunks[e.frags[0].chunk][:e.hdrLen+int(e.frags[0].end)]
		}
		r.release(int(a)) // its chunks are free, not yet reused
		return key, first, flags, live, true
	}
	return key, nil, 0, false, false
}
