package ninep

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
)

// Mux is a 9P2000.L session on one connection with many requests in
// flight, for programs that wait on several files at once (smolfs dial and
// listen: a blocked read of a conversation's data beside writes to it, a
// blocked open of a listen file beside the calls it has already given). A
// goroutine reads the replies and hands each to the request of its tag.
//
// Every request takes a context: when it is done before the reply comes,
// the request is flushed (Tflush), and the call returns the context's error
// once the server has answered the flush; a reply that came first wins, as
// 9P says it must (an open that succeeded has opened the fid).
//
// Client is the one-request-at-a-time client that bench9p takes over; Mux
// shares its message decoders.
type Mux struct {
	nc    net.Conn
	msize uint32
	dead  chan struct{} // closed when the reader has stopped
	err   error         // why, once dead is closed

	wmu sync.Mutex // one message written at a time

	mu      sync.Mutex
	tags    map[uint16]chan []byte // requests waiting for their reply
	nextTag uint16
	fids    map[uint32]bool // in use
	nextFid uint32
	spare   [][]byte      // reply buffers given back (Reader, Write), for the next replies
	chans   []chan []byte // reply channels of requests done, for the next requests
	// bigSpare are reply buffers of msize given back, for the next
	// replies longer than bigSpareMin.
	bigSpare [][]byte
}

// writePool holds the buffers Write builds its Twrites in: a datagram's
// worth is kept, a longer one goes.
var writePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Reply buffers: a Reader copies the data out of a reply and gives the
// buffer back, so that a stream of short replies allocates nothing.
const (
	spareSize  = 2048 // the longest buffer kept; longer replies get their own
	spareCount = 256  // buffers kept at most
	// bigSpareMin is the length past which a reply takes a buffer of
	// msize, given back and kept (bigSpareCount of them) by a Reader.
	bigSpareMin   = 32 << 10
	bigSpareCount = 8
)

// NewMux negotiates 9P2000.L on nc with msize at most msize (0:
// DefaultMsize) and starts reading replies. The Mux owns nc from then on,
// also when this fails.
func NewMux(nc net.Conn, msize uint32) (*Mux, error) {
	c, err := NewClient(nc, msize)
	if err != nil {
		return nil, err
	}
	m := &Mux{nc: nc, msize: c.msize, dead: make(chan struct{}), tags: map[uint16]chan []byte{}, fids: map[uint32]bool{}}
	// NewClient read exactly the Rversion: nothing else is buffered.
	go m.read(c.r)
	return m, nil
}

// Msize is the negotiated message size.
func (m *Mux) Msize() uint32 { return m.msize }

// Close closes the connection: requests in flight fail at once, and the
// server frees every fid of the session.
func (m *Mux) Close() error { return m.nc.Close() }

// Done is closed when the connection has ended.
func (m *Mux) Done() <-chan struct{} { return m.dead }

// NewFid returns a fid number no other file of the session uses; FreeFid
// gives it back once clunked.
func (m *Mux) NewFid() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.fids[m.nextFid] || m.nextFid == NoFid {
		m.nextFid++
	}
	f := m.nextFid
	m.fids[f] = true
	m.nextFid++
	return f
}

// FreeFid makes fid available to NewFid again.
func (m *Mux) FreeFid(fid uint32) {
	m.mu.Lock()
	delete(m.fids, fid)
	m.mu.Unlock()
}

// read is the reader goroutine: each reply goes to its tag's request.
func (m *Mux) read(r *bufio.Reader) {
	var err error
	defer func() {
		m.mu.Lock()
		m.err = err
		close(m.dead)
		m.mu.Unlock()
		m.nc.Close()
	}()
	var hdr [4]byte
	for {
		if _, err = io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				err = errors.New("the server closed the connection")
			}
			return
		}
		size := binary.LittleEndian.Uint32(hdr[:])
		if size < 7 || size > m.msize {
			err = fmt.Errorf("reply of %d bytes is outside 7..%d", size, m.msize)
			return
		}
		var msg []byte
		if size <= spareSize {
			m.mu.Lock()
			if n := len(m.spare); n > 0 && cap(m.spare[n-1]) >= int(size) {
				msg = m.spare[n-1][:size]
				m.spare[n-1] = nil
				m.spare = m.spare[:n-1]
			}
			m.mu.Unlock()
		} else if size > bigSpareMin {
			// A bulk stream's replies are whole messages: a few kept
			// for reuse spare the allocation and the clearing of each.
			m.mu.Lock()
			if n := len(m.bigSpare); n > 0 {
				msg = m.bigSpare[n-1][:size]
				m.bigSpare[n-1] = nil
				m.bigSpare = m.bigSpare[:n-1]
			}
			m.mu.Unlock()
			if msg == nil {
				msg = make([]byte, size, m.msize)
			}
		}
		if msg == nil {
			msg = make([]byte, size)
		}
		copy(msg, hdr[:])
		if _, err = io.ReadFull(r, msg[4:]); err != nil {
			err = fmt.Errorf("reply cut short: %w", err)
			return
		}
		tag := binary.LittleEndian.Uint16(msg[5:])
		m.mu.Lock()
		ch, ok := m.tags[tag]
		delete(m.tags, tag)
		m.mu.Unlock()
		if !ok {
			err = fmt.Errorf("reply for tag %d, which no request has", tag)
			return
		}
		ch <- msg // buffered: the reader never waits for a request
	}
}

// send writes a request whose header begin made, and returns the channel
// its reply comes on.
func (m *Mux) send(op string, b []byte) (uint16, chan []byte, error) {
	m.mu.Lock()
	var ch chan []byte
	if n := len(m.chans); n > 0 {
		ch = m.chans[n-1]
		m.chans = m.chans[:n-1]
	} else {
		ch = make(chan []byte, 1)
	}
	select {
	case <-m.dead:
		err := m.err
		m.mu.Unlock()
		return 0, nil, fmt.Errorf("%s: connection unusable: %w", op, err)
	default:
	}
	if len(m.tags) >= noTag-1 {
		m.mu.Unlock()
		return 0, nil, fmt.Errorf("%s: %d requests in flight", op, len(m.tags))
	}
	tag := m.freeTagLocked()
	m.tags[tag] = ch
	m.mu.Unlock()
	binary.LittleEndian.PutUint16(b[5:], tag)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	if err := m.write(op, b); err != nil {
		return 0, nil, err
	}
	return tag, ch, nil
}

// freeTagLocked is a tag no request in flight has; m.mu is held and fewer
// than noTag-1 are in flight.
func (m *Mux) freeTagLocked() uint16 {
	for {
		m.nextTag++
		if m.nextTag == noTag {
			m.nextTag = 0
		}
		if _, busy := m.tags[m.nextTag]; !busy {
			return m.nextTag
		}
	}
}

// write writes whole messages.
func (m *Mux) write(op string, b []byte) error {
	m.wmu.Lock()
	_, err := m.nc.Write(b)
	m.wmu.Unlock()
	if err != nil {
		m.nc.Close() // a message may be half written: the session is over
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// rpc sends a request and returns the body of its reply (after the tag),
// flushing it if ctx is done first. Rlerror becomes *Error.
func (m *Mux) rpc(ctx context.Context, op string, b []byte) ([]byte, error) {
	msg, err := m.rpcMsg(ctx, op, b)
	if err != nil {
		return nil, err
	}
	return msg[7:], nil
}

// rpcMsg is rpc returning the whole reply.
func (m *Mux) rpcMsg(ctx context.Context, op string, b []byte) ([]byte, error) {
	want := b[4] + 1
	tag, ch, err := m.send(op, b)
	if err != nil {
		return nil, err
	}
	var msg []byte
	select {
	case msg = <-ch:
		m.done(ch, nil) // empty again: the next request may have it
	case <-m.dead:
		return nil, m.deadErr(op)
	case <-ctx.Done():
		if msg, err = m.flush(op, tag, ch); msg == nil {
			if err == nil {
				err = ctx.Err()
			}
			return nil, err
		}
	}
	switch typ := msg[4]; typ {
	case want:
		return msg, nil
	case rLerror:
		return nil, parseRlerror(op, msg[7:])
	default:
		return nil, fmt.Errorf("%s: reply of type %d, want %d", op, typ, want)
	}
}

// done keeps a request's reply channel, emptied, and its reply buffer, no
// longer looked at (nil: none), for the next requests.
func (m *Mux) done(ch chan []byte, msg []byte) {
	m.mu.Lock()
	if ch != nil && len(m.chans) < spareCount {
		m.chans = append(m.chans, ch)
	}
	if msg != nil && cap(msg) <= spareSize && len(m.spare) < spareCount {
		m.spare = append(m.spare, msg)
	}
	m.mu.Unlock()
}

// deadErr is the error of a request whose connection ended; a reply that
// made it before the end is not looked at.
func (m *Mux) deadErr(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Errorf("%s: %w", op, m.err)
}

// flush sends Tflush for tag and waits for Rflush. If the request's own
// reply came first it is returned, and the request counts as done.
func (m *Mux) flush(op string, tag uint16, ch chan []byte) ([]byte, error) {
	b := begin9(tFlush)
	b = binary.LittleEndian.AppendUint16(b, tag)
	_, fch, err := m.send(op+": flush", b)
	if err != nil {
		return nil, err
	}
	select {
	case <-fch:
	case <-m.dead:
		return nil, m.deadErr(op)
	}
	// The server answers the request before Rflush if it answers it at
	// all; after Rflush its tag is free.
	select {
	case msg := <-ch:
		return msg, nil
	default:
		m.mu.Lock()
		if m.tags[tag] == ch {
			delete(m.tags, tag)
		}
		m.mu.Unlock()
		return nil, nil
	}
}

// begin9 starts a request of type typ; send fills in the size and tag.
func begin9(typ uint8) []byte { return append(make([]byte, 0, 64), 0, 0, 0, 0, typ, 0, 0) }

// Attach attaches fid to the root of the tree aname as uname (numeric
// n_uname).
func (m *Mux) Attach(ctx context.Context, fid uint32, uname, aname string, nuname uint32) (Qid, error) {
	b := begin9(tAttach)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, NoFid)
	b = appendString(b, uname)
	b = appendString(b, aname)
	b = binary.LittleEndian.AppendUint32(b, nuname)
	reply, err := m.rpc(ctx, "attach", b)
	if err != nil {
		return Qid{}, err
	}
	d := decoder{b: reply}
	q := d.qid()
	return q, d.done()
}

// Walk walks fid along names into newfid, as Client.Walk does.
func (m *Mux) Walk(ctx context.Context, fid, newfid uint32, names ...string) ([]Qid, error) {
	if len(names) > maxWalkEl {
		return nil, fmt.Errorf("walk: %d names (a Twalk carries at most %d)", len(names), maxWalkEl)
	}
	b := begin9(tWalk)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, newfid)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(names)))
	for _, n := range names {
		b = appendString(b, n)
	}
	op := "walk"
	if len(names) > 0 {
		op += " " + names[0]
	}
	reply, err := m.rpc(ctx, op, b)
	if err != nil {
		return nil, err
	}
	qids, err := parseRwalk(reply)
	if err != nil {
		return nil, fmt.Errorf("walk: %w", err)
	}
	if len(qids) > len(names) {
		return nil, fmt.Errorf("walk: %d qids for %d names", len(qids), len(names))
	}
	if len(qids) < len(names) {
		return qids, &Error{Op: "walk " + names[len(qids)], Errno: syscall.ENOENT}
	}
	return qids, nil
}

// Lopen opens fid with Linux open flags.
func (m *Mux) Lopen(ctx context.Context, fid uint32, flags uint32) (Qid, error) {
	b := begin9(tLopen)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, flags)
	reply, err := m.rpc(ctx, "lopen", b)
	if err != nil {
		return Qid{}, err
	}
	d := decoder{b: reply}
	q := d.qid()
	d.u32() // iounit
	return q, d.done()
}

// Read reads up to len(buf) bytes (at most msize-24) of fid at off.
func (m *Mux) Read(ctx context.Context, fid uint32, off uint64, buf []byte) (int, error) {
	count := uint32(min(len(buf), int(m.msize-IOHeader)))
	b := begin9(tRead)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, count)
	reply, err := m.rpc(ctx, "read", b)
	if err != nil {
		return 0, err
	}
	data, err := parseRread(reply, count)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	return copy(buf, data), nil
}

// Write writes data (at most msize-24 bytes) to fid at off in one Twrite.
func (m *Mux) Write(ctx context.Context, fid uint32, off uint64, data []byte) (int, error) {
	if max := int(m.msize - IOHeader); len(data) > max {
		return 0, fmt.Errorf("write: %d bytes do not fit in one message (at most %d)", len(data), max)
	}
	bp := writePool.Get().(*[]byte)
	b := append((*bp)[:0], 0, 0, 0, 0, tWrite, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	msg, err := m.rpcMsg(ctx, "write", b)
	if cap(b) <= 2*spareSize { // written: the buffer is free
		*bp = b[:0]
		writePool.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	d := decoder{b: msg[7:]}
	n := d.u32()
	derr := d.done()
	m.done(nil, msg)
	if derr != nil {
		return 0, fmt.Errorf("write: malformed Rwrite: %w", derr)
	}
	if n > uint32(len(data)) {
		return 0, fmt.Errorf("write: the server took %d bytes of %d", n, len(data))
	}
	return int(n), nil
}

// Clunk forgets fid and frees its number for NewFid. It is not flushed:
// a clunk always completes (or the connection ends, which frees the fid).
func (m *Mux) Clunk(fid uint32) error {
	b := begin9(tClunk)
	b = binary.LittleEndian.AppendUint32(b, fid)
	_, err := m.rpc(context.Background(), "clunk", b)
	m.FreeFid(fid)
	return err
}

// Readdir reads the entries of the open directory fid from off, as many as
// fit in count bytes.
func (m *Mux) Readdir(ctx context.Context, fid uint32, off uint64, count uint32) ([]Dirent, error) {
	count = min(count, m.msize-IOHeader)
	b := begin9(tReaddir)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, count)
	reply, err := m.rpc(ctx, "readdir", b)
	if err != nil {
		return nil, err
	}
	ents, err := parseRreaddir(reply, count)
	if err != nil {
		return nil, fmt.Errorf("readdir: %w", err)
	}
	return ents, nil
}
