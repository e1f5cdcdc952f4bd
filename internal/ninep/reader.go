package ninep

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Reader reads a file with several Treads in flight: the data path of a
// conversation (smolfs listen and dial), where each Tread is answered with
// one datagram (or bytes of a stream) as it comes. One read at a time
// costs a round trip per datagram; with depth reads in flight, datagrams
// that come together are answered together, and the Treads that replace
// the answered ones go out a batch at a time, in one write.
//
// The data is returned in the order the Treads were sent, which is the
// order a server that answers a file's reads in order (smolfs does) took
// it in: for a datagram stream, the datagrams' order. The Treads of a
// batch are in one write, so no other request of the session comes
// between them.
//
// A Reader is used by one goroutine at a time. Read's context bounds the
// wait only: the reads stay in flight, and the next Read takes up where
// this one left off. Close flushes them.
type Reader struct {
	m     *Mux
	fid   uint32
	off   uint64
	count uint32
	slots []readSlot // a ring, head the oldest read in flight
	head  int
	n     int // reads in flight
	batch int // the refill waits until this many slots are free
	out   []byte
	used  [][]byte // reply buffers read, given back at the next refill
	err   error    // the session failed: every later Read fails with it
}

// readSlot is one read in flight: its tag, and the channel its reply comes
// on, made once and used for every read of the slot.
type readSlot struct {
	tag uint16
	ch  chan []byte
}

// NewReader makes a Reader of the open file fid that keeps depth Treads of
// count bytes at off in flight (count at most msize-24). Nothing is sent
// before the first Read.
func (m *Mux) NewReader(fid uint32, off uint64, count, depth int) *Reader {
	depth = max(depth, 1)
	r := &Reader{m: m, fid: fid, off: off, count: uint32(min(count, int(m.msize-IOHeader))),
		slots: make([]readSlot, depth), batch: max(1, depth/4)}
	for i := range r.slots {
		r.slots[i].ch = make(chan []byte, 1)
	}
	return r
}

// Read returns the data of the oldest read in flight, copied into buf
// (what does not fit is lost, as with a short recv of a datagram): after a
// reply of 0 bytes, 0 and no error. Rlerror becomes *Error. If ctx is done
// first, Read returns its error and the read stays in flight.
func (r *Reader) Read(ctx context.Context, buf []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.slots)-r.n >= r.batch {
		if err := r.refill(); err != nil {
			r.err = err
			return 0, err
		}
	}
	s := &r.slots[r.head]
	var msg []byte
	select {
	case msg = <-s.ch:
	case <-r.m.dead:
		r.err = r.m.deadErr("read")
		return 0, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	r.head = (r.head + 1) % len(r.slots)
	r.n--
	if cap(msg) <= spareSize {
		defer func() { r.used = append(r.used, msg) }()
	}
	switch typ := msg[4]; typ {
	case tRead + 1:
		data, err := parseRread(msg[7:], r.count)
		if err != nil {
			r.err = fmt.Errorf("read: %w", err)
			return 0, r.err
		}
		return copy(buf, data), nil
	case rLerror:
		return 0, parseRlerror("read", msg[7:])
	default:
		r.err = fmt.Errorf("read: reply of type %d, want %d", typ, tRead+1)
		return 0, r.err
	}
}

// Ready reports whether Read would return without waiting: the reply to
// the oldest read in flight has come.
func (r *Reader) Ready() bool {
	return r.err == nil && r.n > 0 && len(r.slots[r.head].ch) > 0
}

// refill puts a Tread in every free slot, in one write.
func (r *Reader) refill() error {
	free := len(r.slots) - r.n
	first := (r.head + r.n) % len(r.slots)
	r.out = r.out[:0]
	m := r.m
	m.mu.Lock()
	select {
	case <-m.dead:
		m.mu.Unlock()
		return m.deadErr("read")
	default:
	}
	if len(m.tags)+free >= noTag {
		m.mu.Unlock()
		return fmt.Errorf("read: %d requests in flight", len(m.tags))
	}
	for i, b := range r.used {
		if len(m.spare) < spareCount {
			m.spare = append(m.spare, b)
		}
		r.used[i] = nil
	}
	r.used = r.used[:0]
	for i := range free {
		s := &r.slots[(first+i)%len(r.slots)]
		s.tag = m.freeTagLocked()
		m.tags[s.tag] = s.ch
		r.out = binary.LittleEndian.AppendUint32(r.out, 23)
		r.out = append(r.out, tRead, byte(s.tag), byte(s.tag>>8))
		r.out = binary.LittleEndian.AppendUint32(r.out, r.fid)
		r.out = binary.LittleEndian.AppendUint64(r.out, r.off)
		r.out = binary.LittleEndian.AppendUint32(r.out, r.count)
	}
	m.mu.Unlock()
	r.n += free
	return m.write("read", r.out)
}

// Close flushes the reads in flight and waits for the server to have
// answered the flushes; data that came first is dropped. The Reader is
// done with: later Reads fail.
func (r *Reader) Close() error {
	if r.err != nil || r.n == 0 {
		r.n = 0
		r.err = errReaderClosed
		return nil
	}
	m := r.m
	flushes := make([]chan []byte, r.n)
	r.out = r.out[:0]
	m.mu.Lock()
	for i := range flushes {
		flushes[i] = make(chan []byte, 1)
		tag := m.freeTagLocked()
		m.tags[tag] = flushes[i]
		old := r.slots[(r.head+i)%len(r.slots)].tag
		r.out = binary.LittleEndian.AppendUint32(r.out, 9)
		r.out = append(r.out, tFlush, byte(tag), byte(tag>>8), byte(old), byte(old>>8))
	}
	m.mu.Unlock()
	err := m.write("flush", r.out)
	for _, ch := range flushes {
		if err != nil {
			break
		}
		select {
		case <-ch:
		case <-m.dead:
			err = m.deadErr("flush")
		}
	}
	// After Rflush a tag is free; a reply that came before it is
	// dropped.
	m.mu.Lock()
	for i := range r.n {
		s := &r.slots[(r.head+i)%len(r.slots)]
		if m.tags[s.tag] == s.ch {
			delete(m.tags, s.tag)
		}
	}
	m.mu.Unlock()
	r.n = 0
	r.err = errReaderClosed
	return err
}

var errReaderClosed = fmt.Errorf("read: the reader is closed")
