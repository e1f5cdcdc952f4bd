package tcp

// ring is a byte queue over one buffer that grows by doubling up to max, so
// that an idle connection costs little and a busy one never copies on the
// hot path. Besides the queued bytes [0, n) it lets the receiver write past
// the end (out-of-order data at an offset) before those bytes are queued.
type ring struct {
	buf  []byte // len is a power of two, or 0
	head int    // index of byte 0
	n    int    // queued bytes
	max  int    // bound on len(buf) and so on n
	pool *bufPool
}

// bufPool keeps freed ring buffers of the smallest size for the next
// connection: short connections then cost no allocation or clearing.
type bufPool struct{ free [][]byte }

const bufPoolMax = 1024

const ringMinAlloc = 4096

func (r *ring) Len() int  { return r.n }
func (r *ring) Free() int { return r.max - r.n }

// reserve makes room for n bytes in total (queued and beyond), n <= max.
func (r *ring) reserve(n int) {
	if n <= len(r.buf) {
		return
	}
	size := max(len(r.buf), ringMinAlloc)
	for size < n {
		size *= 2
	}
	size = min(size, roundPow2(r.max))
	var nb []byte
	if p := r.pool; p != nil && size == ringMinAlloc && len(p.free) > 0 {
		nb = p.free[len(p.free)-1]
		p.free[len(p.free)-1] = nil
		p.free = p.free[:len(p.free)-1]
	} else {
		nb = make([]byte, size)
	}
	if len(r.buf) > 0 {
		// Copy everything a writer may have put past the queue too.
		first := copy(nb, r.buf[r.head:])
		copy(nb[first:], r.buf[:r.head])
	}
	r.buf, r.head = nb, 0
}

func roundPow2(n int) int {
	p := ringMinAlloc
	for p < n {
		p *= 2
	}
	return p
}

// Write queues as much of b as fits and returns how much.
func (r *ring) Write(b []byte) int {
	n := min(len(b), r.max-r.n)
	if n == 0 {
		return 0
	}
	r.WriteAt(b[:n], 0)
	r.n += n
	return n
}

// WriteAt copies b to offset off past the queued bytes without queuing it.
// The caller keeps off+len(b) <= Free().
func (r *ring) WriteAt(b []byte, off int) {
	end := r.n + off + len(b)
	r.reserve(end)
	mask := len(r.buf) - 1
	at := (r.head + r.n + off) & mask
	c := copy(r.buf[at:], b)
	copy(r.buf, b[c:])
}

// Commit queues n bytes written with WriteAt at offset 0.
func (r *ring) Commit(n int) { r.n += n }

// Read moves up to len(b) queued bytes into b.
func (r *ring) Read(b []byte) int {
	n := r.Peek(b, 0)
	r.Discard(n)
	return n
}

// Peek copies queued bytes from offset off into b without removing them.
func (r *ring) Peek(b []byte, off int) int {
	n := min(len(b), r.n-off)
	if n <= 0 {
		return 0
	}
	mask := len(r.buf) - 1
	at := (r.head + off) & mask
	c := copy(b[:n], r.buf[at:])
	copy(b[c:n], r.buf)
	return n
}

// Slice returns queued bytes [off, off+n) as one slice when they are
// contiguous in the buffer, else the contiguous first part.
func (r *ring) Slice(off, n int) []byte {
	mask := len(r.buf) - 1
	at := (r.head + off) & mask
	return r.buf[at:min(at+n, len(r.buf))]
}

// Discard drops n queued bytes from the front.
func (r *ring) Discard(n int) {
	if n == 0 {
		return
	}
	// head moves even when the queue empties: out-of-order bytes may sit
	// past it at offsets relative to it.
	r.n -= n
	r.head = (r.head + n) & (len(r.buf) - 1)
}

// release frees the buffer when nothing is queued (a closed connection).
func (r *ring) release() {
	if r.n == 0 {
		if p := r.pool; p != nil && len(r.buf) == ringMinAlloc && len(p.free) < bufPoolMax {
			p.free = append(p.free, r.buf)
		}
		r.buf, r.head = nil, 0
	}
}

// releaseSmall gives an empty buffer of the smallest size back to the pool,
// so that an idle connection holds none; larger ones (a busy connection's)
// are kept, so that a bulk flow does not reallocate each time it drains.
func (r *ring) releaseSmall() {
	if r.n == 0 && len(r.buf) == ringMinAlloc && r.pool != nil && len(r.pool.free) < bufPoolMax {
		r.pool.free = append(r.pool.free, r.buf)
		r.buf, r.head = nil, 0
	}
}
