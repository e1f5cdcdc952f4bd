package fs

import (
	"context"
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"syscall"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/stack"
)

// Reads of a conversation's data, in order and in batches.
//
// A client may keep several Treads of one data file in flight (smolfs
// listen keeps 64): each is answered with one datagram (or bytes of a
// stream), and they are answered in the order they came, the oldest read
// with the oldest datagram. Their replies also go out in that order: each
// is appended to the connection's held-back replies (conn.pending) at the
// moment its datagram is taken, under the file's queue lock, so the order
// on the wire is the order of the datagrams whoever answers (the read loop
// or the file's pump). A client may therefore take the data in the order
// of its requests or in the order of the replies; both are the datagrams'
// order, which is what a datagram stream needs and a byte stream cannot
// do without.
//
// A Tread that can be answered at once (a datagram is there and no older
// read waits) is answered in the read loop, without a tag entry or a
// goroutine. One that cannot joins the file's queue with a tag entry (so
// that Tflush finds it) but no goroutine and no context of its own: one
// goroutine per file, the pump, waits for the conversation while reads are
// queued and answers as many as there are datagrams at each wake-up, with
// one hold of the host's lock and one write for all of them.
//
// Tflush of a queued read takes it out of the queue and answers Rflush at
// once; if its datagram was taken first, its reply is already held back
// and goes out before the Rflush, which 9P allows (the client then has the
// data rather than losing it).
//
// Locks, in order: the host's (the driver's), readQueue.mu, conn.pmu,
// conn.mu. conn.pmu is never held across a write, so that a client that
// does not take its replies cannot hold up the host.

// readQueue is the reads of one open data file not yet answered.
type readQueue struct {
	mu      sync.Mutex
	waiting []queuedRead       // oldest first
	sr      shortReads         // the last reply, for Linux's read loop (see stream)
	pump    uint64             // the pump serving the queue; 0: none
	pumps   uint64             // pumps started
	stop    context.CancelFunc // ends the pump's wait; nil when none pumps
	closed  bool               // the file is closed: what waits ends with 0 bytes
	added   uint64             // reads queued so far
	seen    uint64             // added as the last fill saw it
}

// queuedRead is a Tread waiting in a readQueue.
type queuedRead struct {
	req   *request
	off   uint64
	count uint32
}

// noCancel is the cancel of a request that has no context: a queued read.
func noCancel() {}

// readData takes a Tread of a conversation's data in the read loop: it is
// answered at once if it can be, else queued. It reports whether msg was
// such a read; other reads take the way of every request.
func (c *conn) readData(d dialect, tag uint16, msg []byte) bool {
	if len(msg) != 23 {
		return false // malformed: the handler says so
	}
	fidn, off, count := binary.LittleEndian.Uint32(msg[7:]), binary.LittleEndian.Uint64(msg[11:]), binary.LittleEndian.Uint32(msg[19:])
	f, err := c.getFid(fidn)
	if err != nil {
		return false
	}
	h, err := f.handleFor(false)
	if err != nil {
		return false
	}
	cd, isData := h.(*convData)
	if !isData {
		return false
	}
	count = min(count, c.iounit())
	q := &cd.rq
	in := &cd.in
	if in.reads == nil {
		in.c, in.d, in.linux = c, d, c.isLinux()
		in.reads = cd.n.host.NewConvReads(cd.n.conv, in.fill(q))
	}
	in.tag, in.off, in.count, in.answered = tag, off, count, false
	_, err = in.reads.Try()
	switch {
	case in.answered:
		return true
	case err != nil:
		c.queue(d.errorReply(c, tag, err))
		return true
	}
	c.mu.Lock()
	if len(c.tags) >= maxOutstanding || c.held+len(msg) > maxHeld {
		c.mu.Unlock()
		c.warn("too many outstanding requests", "limit", maxOutstanding, "bytes", maxHeld)
		c.queue(d.errorReply(c, tag, errorf(syscall.EAGAIN, "too many outstanding requests (limit %d, or %d bytes)", maxOutstanding, maxHeld)))
		return true
	}
	req := &request{tag: tag, size: len(msg), rq: q, cancel: noCancel}
	c.tags[tag] = req
	c.held += req.size
	c.mu.Unlock()
	q.mu.Lock()
	q.waiting = append(q.waiting, queuedRead{req: req, off: off, count: count})
	q.added++
	var ctx context.Context
	start := q.pump == 0
	if start {
		// The pump's wait ends with the connection, the server's
		// shutdown, or stop (the file closed, its reads flushed).
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(c.ctx)
		var unmerge func() bool
		ctx, unmerge = cd.t.merge(ctx)
		q.pumps++
		q.pump = q.pumps
		q.stop = func() { cancel(); unmerge() }
		c.handlers.Add(1)
	}
	id, stop, closed := q.pump, q.stop, q.closed
	q.mu.Unlock()
	if closed {
		stop() // the file closed meanwhile: the pump ends what waits
	}
	if start {
		go c.pump(cd, d, ctx, id, stop)
	}
	return true
}

// inHand is the read loop's Tread of a data file, for its fill: made once
// per file (the read loop is its only user), so that a read answered at
// once allocates nothing.
type inHand struct {
	c        *conn
	d        dialect
	linux    bool
	reads    *stack.ConvReads
	tag      uint16
	off      uint64
	count    uint32
	answered bool
}

// fill answers the reads that wait, then the one in hand, if none waits
// still; under the host's lock.
func (in *inHand) fill(q *readQueue) func(stack.ReadFunc) bool {
	return func(read stack.ReadFunc) bool {
		c := in.c
		q.mu.Lock()
		defer q.mu.Unlock()
		bp := dgramPool.Get().(*[]byte)
		defer dgramPool.Put(bp)
		c.pmu.Lock()
		defer c.pmu.Unlock()
		if q.serve(c, in.d, read, *bp, in.linux) || len(q.waiting) > 0 {
			return true // older reads wait: this one goes behind them
		}
		in.answered = q.answer(c, in.d, read, *bp, in.linux, in.tag, in.off, in.count)
		return !in.answered
	}
}

// pump serves a file's queued reads until none is left, then ends: one
// goroutine per file with reads waiting, not one per read.
//
// A pump whose reads were all flushed is let go at once (q.pump no longer
// names it): it ends without touching the queue, which a new pump serves
// if reads come again.
func (c *conn) pump(cd *convData, d dialect, ctx context.Context, id uint64, stop func()) {
	defer c.handlers.Done()
	defer stop()
	q := &cd.rq
	linux := c.isLinux()
	fill := func(read stack.ReadFunc) bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.seen = q.added
		bp := dgramPool.Get().(*[]byte)
		defer dgramPool.Put(bp)
		c.pmu.Lock()
		defer c.pmu.Unlock()
		return q.serve(c, d, read, *bp, linux)
	}
	between := func(blocked bool) (done, wait bool) {
		c.flushReplies()
		q.mu.Lock()
		defer q.mu.Unlock()
		switch {
		case q.pump != id:
			return true, false
		case len(q.waiting) == 0:
			q.pump, q.stop = 0, nil
			return true, false
		}
		return false, blocked && q.seen == q.added
	}
	err := cd.n.host.NewConvReads(cd.n.conv, fill).Serve(ctx, between)
	if err == nil {
		return
	}
	// The wait ended with reads still queued: the connection is gone
	// (nothing goes out), the file closed or the server shuts down (end
	// of file), or the host stopped (its error).
	q.mu.Lock()
	if q.pump != id {
		q.mu.Unlock()
		return
	}
	c.pmu.Lock()
	for _, r := range q.waiting {
		switch {
		case c.ctx.Err() != nil:
		case q.closed || cd.t.down.Err() != nil:
			c.pending = appendRread(c.pending, r.req.tag, nil)
		default:
			c.pending = append(c.pending, d.errorReply(c, r.req.tag, err)...)
		}
	}
	c.untag(q.waiting)
	c.pmu.Unlock()
	clear(q.waiting)
	q.waiting = q.waiting[:0]
	q.pump, q.stop = 0, nil
	q.mu.Unlock()
	c.flushReplies()
}

// serve answers the queued reads in order, as long as their reads do not
// block and the held-back replies stay under maxPending (the caller writes
// them, then goes on). It reports whether it stopped at a read that would
// block. q.mu and c.pmu are held.
func (q *readQueue) serve(c *conn, d dialect, read stack.ReadFunc, buf []byte, linux bool) (blocked bool) {
	n := 0
	for n < len(q.waiting) && len(c.pending) < maxPending {
		r := &q.waiting[n]
		if !q.answer(c, d, read, buf, linux, r.req.tag, r.off, r.count) {
			blocked = true
			break
		}
		n++
	}
	if n > 0 {
		c.untag(q.waiting[:n])
		k := copy(q.waiting, q.waiting[n:])
		clear(q.waiting[k:])
		q.waiting = q.waiting[:k]
	}
	return blocked
}

// answer reads for one Tread and appends its reply to c.pending; false
// when the read would block (nothing is appended). q.mu and c.pmu are
// held. A connection whose writes failed takes nothing more.
func (q *readQueue) answer(c *conn, d dialect, read stack.ReadFunc, buf []byte, linux bool, tag uint16, off uint64, count uint32) bool {
	if q.sr.followUp(off, count, linux) || count == 0 {
		if !c.dead {
			c.pending = appendRread(c.pending, tag, nil)
		}
		return true
	}
	// The data is read straight into its reply in c.pending (a stream's
	// reads are up to the iounit long): one copy of every byte fewer.
	dst := buf[:min(int(count), len(buf))]
	start := len(c.pending)
	direct := !c.dead
	if direct {
		c.pending = slices.Grow(c.pending, rreadHeader+int(count))
		dst = c.pending[start+rreadHeader : start+rreadHeader+int(count)]
	}
	n, err := read(dst)
	switch {
	case err == netcore.ErrWouldBlock:
		return false
	case err == io.EOF:
		n = 0 // the end of a stream: a read of 0 bytes
	case err != nil:
		if !c.dead {
			c.pending = append(c.pending, d.errorReply(c, tag, err)...)
		}
		return true
	default:
		q.sr.record(off, n, count)
	}
	if direct {
		c.pending = c.pending[:start+rreadHeader+n]
		h := c.pending[start:]
		binary.LittleEndian.PutUint32(h, uint32(rreadHeader+n))
		h[4], h[5], h[6] = msgRread, byte(tag), byte(tag>>8)
		binary.LittleEndian.PutUint32(h[7:], uint32(n))
	}
	return true
}

// rreadHeader is an Rread's length before its data: size[4] type[1]
// tag[2] count[4].
const rreadHeader = 11

// appendRread appends an Rread (the same in both dialects) of data.
func appendRread(b []byte, tag uint16, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(11+len(data)))
	b = append(b, msgRread, byte(tag), byte(tag>>8))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// untag frees the tags of reads whose replies are held back (c.pmu is
// held, so they have not gone out: the client cannot reuse a tag before
// its reply).
func (c *conn) untag(rs []queuedRead) {
	c.mu.Lock()
	for _, r := range rs {
		if c.tags[r.req.tag] == r.req {
			delete(c.tags, r.req.tag)
			c.held -= r.req.size
		}
	}
	c.mu.Unlock()
}

// drop takes a flushed read out of the queue; false if it is not there
// (its reply is held back already, or it was never queued). A pump left
// with nothing to serve is let go.
func (q *readQueue) drop(req *request) bool {
	q.mu.Lock()
	i := slices.IndexFunc(q.waiting, func(r queuedRead) bool { return r.req == req })
	if i < 0 {
		q.mu.Unlock()
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	var stop context.CancelFunc
	if len(q.waiting) == 0 && q.pump != 0 {
		stop = q.stop
		q.pump, q.stop = 0, nil
	}
	q.mu.Unlock()
	if stop != nil {
		stop()
	}
	return true
}

// close ends the queue with its file: the pump ends what waits.
func (q *readQueue) close() {
	q.mu.Lock()
	q.closed = true
	stop := q.stop
	q.mu.Unlock()
	if stop != nil {
		stop()
	}
}
