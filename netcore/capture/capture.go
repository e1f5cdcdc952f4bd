package capture

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Direction says whether a captured frame was received or sent.
type Direction uint8

// Directions of a captured frame.
const (
	In Direction = iota
	Out
)

// Snaplen is the most bytes of one frame that a capture keeps (pcap's snaplen).
const Snaplen = 65535

// DefaultCaptureBuffer is the queue size of one subscriber, in bytes.
const DefaultCaptureBuffer = 256 << 10

// Capture hands every frame a host receives or sends to any number of
// subscribers without ever blocking the host: each subscriber has a bounded
// queue of its own, and a frame that does not fit is dropped and counted, for
// that subscriber (as a gap in its stream) and in the total. Publishing to no
// subscribers costs one atomic load.
type Capture struct {
	mu      sync.Mutex // serialises Subscribe, Close and unsubscribe
	subs    atomic.Pointer[[]*Subscription]
	dropped atomic.Uint64
	held    atomic.Bool // Hold: wake-ups wait for Release
	closed  bool
}

// CapturedFrame is one frame out of a subscription. Data is valid only until
// the callback that receives it returns. A frame with nil Data and
// DroppedBefore > 0 marks a gap at the end of what was queued.
type CapturedFrame struct {
	Time          time.Time
	Dir           Direction
	OrigLen       int    // the frame's length on the wire; Data may be shorter (Snaplen)
	Data          []byte // the captured bytes
	DroppedBefore uint64 // frames dropped for this subscriber just before this one
}

// Subscribe starts a subscriber whose queue holds bufBytes bytes of frames
// (DefaultCaptureBuffer if bufBytes <= 0). It sees the frames published after
// this call. Close it when done.
func (c *Capture) Subscribe(bufBytes int) *Subscription {
	if bufBytes <= 0 {
		bufBytes = DefaultCaptureBuffer
	}
	s := &Subscription{c: c, ring: make([]byte, bufBytes), notify: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.end()
		return s
	}
	old := c.load()
	subs := make([]*Subscription, len(old), len(old)+1)
	copy(subs, old)
	subs = append(subs, s)
	c.subs.Store(&subs)
	return s
}

func (c *Capture) load() []*Subscription {
	if p := c.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// Subscribers is the number of live subscriptions.
func (c *Capture) Subscribers() int { return len(c.load()) }

// Dropped is the total of frames dropped for all subscribers, ever.
func (c *Capture) Dropped() uint64 { return c.dropped.Load() }

// Publish queues a copy of frame for every subscriber. It never blocks on a
// reader.
func (c *Capture) Publish(t time.Time, dir Direction, frame []byte) {
	p := c.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		if !s.push(t, dir, frame) {
			c.dropped.Add(1)
		}
	}
}

// Hold makes Publish queue frames without waking their readers, until
// Release wakes every reader that got one, once. A driver that hands the
// host frames in batches holds the wake-ups for a batch, so that a reader
// wakes once a batch rather than once a frame: making the reader's
// goroutine (and often a thread) runnable costs the host more than copying
// the frame, and a reader that wakes to one frame renders and sends it
// alone. Frames are queued (or dropped) at once as ever; only the wake-up
// waits. Hold and Release come from one goroutine, which must Release.
func (c *Capture) Hold() { c.held.Store(true) }

// Release ends Hold and wakes the readers that got frames meanwhile.
func (c *Capture) Release() {
	c.held.Store(false)
	p := c.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.wakeHeld()
	}
}

// Close ends every subscription: their readers see io.EOF once they have
// taken what was queued. Later subscriptions are born closed.
func (c *Capture) Close() {
	c.mu.Lock()
	c.closed = true
	subs := c.load()
	c.subs.Store(nil)
	c.mu.Unlock()
	for _, s := range subs {
		s.end()
	}
}

func (c *Capture) remove(s *Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	subs := make([]*Subscription, 0, len(old))
	for _, x := range old {
		if x != s {
			subs = append(subs, x)
		}
	}
	if len(subs) == 0 {
		c.subs.Store(nil)
	} else {
		c.subs.Store(&subs)
	}
}

// FrameOverhead is what a subscription's queue spends on each frame besides
// the frame's bytes: a queue of n*(FrameOverhead+60) bytes holds n
// minimum-size frames.
const FrameOverhead = recHeader

// Record layout inside a subscription's ring.
const (
	recTime    = 0  // int64 UnixNano
	recOrigLen = 8  // uint32
	recLen     = 12 // uint32 captured length
	recDir     = 16 // uint8
	recDrops   = 17 // uint64 drops before this record (unaligned)
	recHeader  = 25
)

// Subscription is one subscriber's bounded queue of frames.
type Subscription struct {
	c      *Capture
	notify chan struct{} // a token when something was queued
	done   chan struct{} // closed when the capture or the subscription ends
	held   atomic.Bool   // queued while the capture held wake-ups: Release wakes

	reading sync.Mutex // serialises Take

	paceMu     sync.Mutex // serialises pace, and guards:
	lastReturn time.Time  // when Wait last returned with frames
	paceTimer  *time.Timer

	mu      sync.Mutex // guards the ring and counters, taken by Publish
	ring    []byte
	head    int // read position
	used    int // bytes queued
	pending uint64
	dropped uint64 // frames dropped for this subscriber, ever
	closed  bool
	once    sync.Once
}

// push queues one frame; false when it had to be dropped.
func (s *Subscription) push(t time.Time, dir Direction, frame []byte) bool {
	n := len(frame)
	if n > Snaplen {
		n = Snaplen
	}
	need := recHeader + n
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return true // a reader that has gone misses nothing
	}
	if s.used+need > len(s.ring) {
		s.pending++
		s.dropped++
		s.mu.Unlock()
		return false
	}
	var hdr [recHeader]byte
	binary.LittleEndian.PutUint64(hdr[recTime:], uint64(t.UnixNano()))
	binary.LittleEndian.PutUint32(hdr[recOrigLen:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(hdr[recLen:], uint32(n))
	hdr[recDir] = byte(dir)
	binary.LittleEndian.PutUint64(hdr[recDrops:], s.pending)
	s.pending = 0
	tail := (s.head + s.used) % len(s.ring)
	tail = s.put(tail, hdr[:])
	s.put(tail, frame[:n])
	s.used += need
	s.mu.Unlock()
	if !s.c.held.Load() {
		s.wake()
		return true
	}
	s.deferWake()
	return true
}

// deferWake leaves the wake-up of a frame queued while held to Release.
func (s *Subscription) deferWake() {
	s.held.Store(true)
	// Release may have cleared the capture's hold and looked at this
	// subscriber since push saw the hold: then the wake-up is ours.
	if !s.c.held.Load() {
		s.wakeHeld()
	}
}

// wake makes a waiting reader's Wait return (or the next one).
func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// wakeHeld wakes the reader if a frame came while wake-ups were held.
func (s *Subscription) wakeHeld() {
	if s.held.Load() && s.held.Swap(false) {
		s.wake()
	}
}

// put copies b into the ring at off, wrapping, and returns the next offset.
func (s *Subscription) put(off int, b []byte) int {
	k := copy(s.ring[off:], b)
	if k < len(b) {
		copy(s.ring, b[k:])
	}
	return (off + len(b)) % len(s.ring)
}

// get copies len(b) bytes from the ring at off into b, wrapping.
func (s *Subscription) get(off int, b []byte) int {
	k := copy(b, s.ring[off:])
	if k < len(b) {
		copy(b[k:], s.ring)
	}
	return (off + len(b)) % len(s.ring)
}

// readerPace is the least time between two returns of Wait while frames
// keep coming. A reader that keeps up with a busy host would otherwise be
// woken for every batch the host handles, and each wake-up costs far more
// than the frames it carries: on the 2-core development VM a reader over 9P
// woken once a millisecond took 66% of a core in the server and 23% in each
// client at 10,000 frames/s, woken every 10 ms 41% and 8%. Paced, frames
// gather and one wake-up and one 9P reply carry many. A frame after a quiet
// spell is handed over at once; a reader sees frames at most this late.
//
// It also bounds what a reader that cannot keep up costs the host's
// machine: it takes at most its queue per pace (a 128 KiB queue holds about
// 1,000 ARP or ping frames: some 100,000 frames/s), and beyond that its
// frames are dropped and counted, as for any slow reader.
const readerPace = 10 * time.Millisecond

// Wait blocks until a frame or a gap is queued (nil), the subscription or its
// capture has ended and nothing is left (io.EOF), or ctx is done (its error).
// While frames keep coming it returns at most once per readerPace.
func (s *Subscription) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready, closed := s.used > 0 || s.pending > 0, s.closed
		filling := s.used < len(s.ring)/2
		s.mu.Unlock()
		switch {
		case ready:
			if !closed && filling {
				s.pace(ctx)
			}
			return nil
		case closed:
			return io.EOF
		}
		select {
		case <-s.notify:
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pace sleeps until readerPace has passed since Wait last returned with
// frames, or ctx is done, or the subscription ends.
func (s *Subscription) pace(ctx context.Context) {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	now := time.Now()
	if wait := readerPace - now.Sub(s.lastReturn); wait > 0 && wait <= readerPace {
		if s.paceTimer == nil {
			s.paceTimer = time.NewTimer(wait)
		} else {
			s.paceTimer.Reset(wait)
		}
		select {
		case <-s.paceTimer.C:
		case <-ctx.Done():
			s.paceTimer.Stop()
		case <-s.done:
			s.paceTimer.Stop()
		}
		now = time.Now()
	}
	s.lastReturn = now
}

// Take hands queued frames, oldest first, to fn until fn returns false or the
// queue is empty, and returns how many it handed over. The frame for which fn
// returned false stays queued. A frame's bytes are copied into buf (grown if
// it is too small) and fn runs without the lock that the host's Publish
// takes, so a slow reader never holds up the host; Data is valid only until
// fn returns. Calls to Take are serialised.
func (s *Subscription) Take(buf []byte, fn func(CapturedFrame) bool) int {
	s.reading.Lock()
	defer s.reading.Unlock()
	taken := 0
	var hdr [recHeader]byte
	for {
		// Publish only ever writes past head+used, so the record at head
		// is stable once read: copy it out, let go of the lock, then ask.
		s.mu.Lock()
		if s.used == 0 {
			break
		}
		off := s.get(s.head, hdr[:])
		n := int(binary.LittleEndian.Uint32(hdr[recLen:]))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		data := buf[:n]
		s.get(off, data)
		s.mu.Unlock()
		f := CapturedFrame{
			Time:          time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[recTime:]))),
			Dir:           Direction(hdr[recDir]),
			OrigLen:       int(binary.LittleEndian.Uint32(hdr[recOrigLen:])),
			Data:          data,
			DroppedBefore: binary.LittleEndian.Uint64(hdr[recDrops:]),
		}
		if !fn(f) {
			return taken
		}
		s.mu.Lock()
		if s.ring == nil { // closed by another goroutine while fn ran
			s.mu.Unlock()
			return taken
		}
		s.head = (s.head + recHeader + n) % len(s.ring)
		s.used -= recHeader + n
		s.mu.Unlock()
		taken++
	}
	// The queue is empty: what was dropped since the last queued frame is
	// a gap at the end.
	gap := s.pending
	s.mu.Unlock()
	if gap > 0 && fn(CapturedFrame{DroppedBefore: gap}) {
		s.mu.Lock()
		switch {
		case s.ring == nil: // closed by another goroutine while fn ran
		case s.used == 0:
			s.pending -= gap // more may have been dropped meanwhile
		default:
			// A frame was queued while fn ran, and took the gap into its
			// own count: it is reported now, so take it out of there.
			var drops [8]byte
			at := (s.head + recDrops) % len(s.ring)
			s.get(at, drops[:])
			binary.LittleEndian.PutUint64(drops[:], binary.LittleEndian.Uint64(drops[:])-gap)
			s.put(at, drops[:])
		}
		s.mu.Unlock()
		taken++
	}
	return taken
}

// Dropped is the number of frames dropped for this subscriber so far.
func (s *Subscription) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close unsubscribes and lets go of what was queued. It is safe to call more
// than once and concurrently with Wait, which then returns io.EOF.
func (s *Subscription) Close() {
	s.c.remove(s)
	s.end()
	s.mu.Lock()
	s.ring, s.head, s.used, s.pending = nil, 0, 0, 0
	s.mu.Unlock()
}

// end marks the subscription closed: Publish skips it, and Wait returns
// io.EOF once nothing is left to take.
func (s *Subscription) end() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
	})
}
