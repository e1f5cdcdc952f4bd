package ninep

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
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
//
// A server bounds the requests in flight on a session (smolfs: 1024), and
// many Readers may share one (smolfs listen's calls). So a Reader starts
// with a few reads in flight and keeps one more each time it finds the
// next reply already there (the data comes faster than it is taken), up
// to depth; and a read refused with EAGAIN took nothing, and the Reader
// keeps one fewer in flight from then on, down to one.
type Reader struct {
	m     *Mux
	fid   uint32
	off   uint64
	count uint32
	slots []readSlot // a ring, head the oldest read in flight
	head  int
	n     int // reads in flight
	limit int // reads in flight at most, growing to ceil
	ceil  int // the depth, less what the server refused
	out   []byte
	last  []byte   // the reply Next returned the data of
	used  [][]byte // reply buffers read, given back at the next refill
	err   error    // the session failed: every later Read fails with it
}

// startDepth is how many reads a Reader keeps in flight at first.
const startDepth = 4

// readSlot is one read in flight: its tag, and the channel its reply comes
// on, made when the slot is first used and used for every read of it.
type readSlot struct {
	tag uint16
	ch  chan []byte
}

// NewReader makes a Reader of the open file fid that keeps depth Treads of
// count bytes at off in flight (count at most msize-24). Nothing is sent
// before the first Read.
func (m *Mux) NewReader(fid uint32, off uint64, count, depth int) *Reader {
	depth = max(depth, 1)
	return &Reader{m: m, fid: fid, off: off, count: uint32(min(count, int(m.msize-IOHeader))),
		slots: make([]readSlot, depth), limit: min(depth, startDepth), ceil: depth}
}

// Read returns the data of the oldest read in flight, copied into buf
// (what does not fit is lost, as with a short recv of a datagram): after a
// reply of 0 bytes, 0 and no error. Rlerror becomes *Error. If ctx is done
// first, Read returns its error and the read stays in flight.
func (r *Reader) Read(ctx context.Context, buf []byte) (int, error) {
	data, err := r.Next(ctx)
	return copy(buf, data), err
}

// Next is Read without a buffer of the caller's: the data is the reply's,
// valid until the next call of the Reader, so that a reader of many calls
// at once need hold no buffer of its own while it waits, and one that
// writes the data on need not copy it.
func (r *Reader) Next(ctx context.Context) ([]byte, error) {
	if r.last != nil {
		if cap(r.last) <= spareSize || cap(r.last) == int(r.m.msize) {
			r.used = append(r.used, r.last)
		}
		r.last = nil
	}
	for {
		if r.err != nil {
			return nil, r.err
		}
		// The freed slots are refilled a batch at a time: a quarter of
		// the depth (half of a shallow one's), so that most reads stay in
		// flight meanwhile, and none is left without one.
		if free := r.limit - r.n; free >= max(1, r.limit/4) && (r.limit > 4 || free >= max(1, r.limit/2) || r.n == 0) {
			if err := r.refill(); err != nil {
				r.err = err
				return nil, err
			}
		}
		s := &r.slots[r.head]
		var msg []byte
		select {
		case msg = <-s.ch:
		case <-r.m.dead:
			r.err = r.m.deadErr("read")
			return nil, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.head = (r.head + 1) % len(r.slots)
		r.n--
		data, again, err := r.reply(msg)
		if again {
			if cap(msg) <= spareSize {
				r.used = append(r.used, msg)
			}
			continue
		}
		r.last = msg
		if r.limit < r.ceil && r.Ready() {
			r.limit++
		}
		return data, err
	}
}

// reply is the data of a reply; again when it was a read the server
// refused for having too many of the session's requests, which took
// nothing and costs the Reader a place.
func (r *Reader) reply(msg []byte) (data []byte, again bool, err error) {
	switch typ := msg[4]; typ {
	case tRead + 1:
		data, err := parseRread(msg[7:], r.count)
		if err != nil {
			r.err = fmt.Errorf("read: %w", err)
			return nil, false, r.err
		}
		return data, false, nil
	case rLerror:
		err := parseRlerror("read", msg[7:])
		if errors.Is(err, syscall.EAGAIN) && r.limit > 1 {
			r.limit--
			r.ceil = r.limit
			return nil, true, nil
		}
		return nil, false, err
	default:
		r.err = fmt.Errorf("read: reply of type %d, want %d", typ, tRead+1)
		return nil, false, r.err
	}
}

// Ready reports whether Read would return without waiting: the reply to
// the oldest read in flight has come.
func (r *Reader) Ready() bool {
	return r.err == nil && r.n > 0 && len(r.slots[r.head].ch) > 0
}

// refill puts a Tread in every free place, in one write.
func (r *Reader) refill() error {
	free := r.limit - r.n
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
		switch {
		case cap(b) <= spareSize && len(m.spare) < spareCount:
			m.spare = append(m.spare, b)
		case cap(b) == int(m.msize) && cap(b) > spareSize && len(m.bigSpare) < bigSpareCount:
			m.bigSpare = append(m.bigSpare, b)
		}
		r.used[i] = nil
	}
	r.used = r.used[:0]
	for i := range free {
		s := &r.slots[(first+i)%len(r.slots)]
		if s.ch == nil {
			s.ch = make(chan []byte, 1)
		}
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
	// Reads already answered need no flush: a stream's reads past its end
	// are answered at once (with nothing), with the end.
	for r.err == nil && r.n > 0 && len(r.slots[r.head].ch) > 0 {
		msg := <-r.slots[r.head].ch
		if cap(msg) <= spareSize {
			r.used = append(r.used, msg)
		}
		r.head = (r.head + 1) % len(r.slots)
		r.n--
	}
	var err error
	for r.err == nil && r.n > 0 && err == nil {
		err = r.flush(min(r.n, flushBatch))
	}
	r.n = 0
	if r.err == nil {
		r.err = errReaderClosed
	}
	return err
}

// flushBatch is the most Tflushes Close has in flight: a server keeps
// room for some beyond its bound on requests (smolfs: 64), and each Rflush
// makes room for the next.
const flushBatch = 32

// flush flushes the k oldest reads in flight.
func (r *Reader) flush(k int) error {
	m := r.m
	flushes := make([]chan []byte, k)
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
		case msg := <-ch:
			if msg[4] != tFlush+1 {
				err = fmt.Errorf("flush: reply of type %d", msg[4])
			}
		case <-m.dead:
			err = m.deadErr("flush")
		}
	}
	// After Rflush a tag is free; a reply that came before it is
	// dropped.
	m.mu.Lock()
	for range k {
		s := &r.slots[r.head]
		if m.tags[s.tag] == s.ch {
			delete(m.tags, s.tag)
		}
		select {
		case <-s.ch:
		default:
		}
		r.head = (r.head + 1) % len(r.slots)
		r.n--
	}
	m.mu.Unlock()
	return err
}

var errReaderClosed = fmt.Errorf("read: the reader is closed")
