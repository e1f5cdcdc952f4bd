package uring

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FramesConfig sizes a Frames. Zero fields take the defaults, which suit
// one fd.
type FramesConfig struct {
	// FrameSize is the largest frame, in bytes: the tap's MTU plus 18
	// (Ethernet and VLAN headers). Default 2048.
	FrameSize int
	// RxBuffers receive buffers (default 256, rounded up to a power of
	// two), one pool for every fd: how many frames one Exchange can
	// receive.
	RxBuffers int
	// TxBuffers send buffers (default 256), one pool for every fd: how
	// many frames can be queued with Send between two Exchanges.
	TxBuffers int
	// TxPerFd bounds the send buffers one fd holds at once (default
	// TxBuffers), so that an fd whose writes do not complete (a full
	// socket) cannot take them all from the others.
	TxPerFd int
	// MaxFds is how many fds the Frames serves at once (default 1).
	MaxFds int
	// Flags are the ring's Setup* flags. The default is
	// SetupCoopTaskrun|SetupTaskrunFlag; SetupSingleIssuer|
	// SetupDeferTaskrun measured the same. Either way the owner keeps to
	// one thread (see NewFrames).
	Flags uint32
	// WakeFd, if not -1, is an fd (an eventfd) whose becoming readable
	// ends an Exchange early with woken set. The owner reads it.
	WakeFd int
}

// Receiver is what Exchange hands its completions to, by port (the number
// Add gave the fd). Every method may call Send.
type Receiver interface {
	// Frame is a received frame, valid only during the call.
	Frame(port int, frame []byte)
	// TooLong says that a frame longer than FrameSize arrived and was
	// dropped (never handed over cut short).
	TooLong(port int)
	// SendFailed says that a write Send accepted failed with err (an
	// errno); its frame is lost.
	SendFailed(port int, err error)
	// Stopped says that the port's reads ended for good: io.EOF when a
	// socket's peer closed, an errno such as EBADFD (a deleted tap)
	// otherwise. Nothing more is received on it; the owner Removes it.
	Stopped(port int, err error)
}

// FramesStats counts what a Frames did since it was made.
type FramesStats struct {
	Received    uint64 // frames handed to Frame
	Sent        uint64 // frames the kernel accepted
	SendErrors  uint64 // writes that failed
	SendDropped uint64 // Send calls refused: too long, or no send buffer
	Enters      uint64 // io_uring_enter calls
	Rearms      uint64 // multishot reads re-armed after running out of buffers
	RxTooLong   uint64 // frames longer than FrameSize, dropped
}

// ErrSendFull is Send's refusal when the fd holds as many send buffers as
// it may (TxPerFd) or every one is in flight; the frame is dropped, as a
// NIC drops on a full transmit ring.
var ErrSendFull = errors.New("uring: every send buffer is in flight")

// ErrFrameTooLong is Send's refusal of a frame larger than FrameSize.
var ErrFrameTooLong = errors.New("uring: frame longer than the configured frame size")

// ErrTooManyFds is Add's refusal when MaxFds fds are served already.
var ErrTooManyFds = errors.New("uring: frames: every port is in use")

// user_data tags; the low 32 bits are the port (reads, cancels) or the
// send buffer (writes).
const (
	tagRx     = 1 << 32
	tagTx     = 2 << 32
	tagWake   = 3 << 32
	tagCancel = 4 << 32
	tagMask   = 0xff << 32
)

const rxGroup = 0

// stalledWriteWait bounds an Exchange's wait while it has writes queued:
// it waits for one completion more than it submitted writes, which counts
// on every write completing during the submission, as a tap's do. A
// write to a full socket does not, and the wait would then outlast the
// frame or wake-up that should end it (for ever, without a timeout).
const stalledWriteWait = 10 * time.Millisecond

// fdPort is one served fd.
type fdPort struct {
	fd       int  // -1: the slot is free
	armed    bool // a multishot read is in flight
	queued   bool // in Frames.rearm, to be armed at the next Exchange
	stopped  bool // reads ended for good
	removing bool // Remove is under way: nothing is handed over
	inflight int  // send buffers it holds
	got      int  // frames received since the last arming round
	lost     int  // writes that failed during Remove
}

// failedSend is a write failure found outside Exchange (by Send or
// WaitSendable), reported at the next one.
type failedSend struct {
	port  int
	errno syscall.Errno
}

// Frames moves Ethernet frames between many fds (taps) and their owner
// through one ring. One multishot read stays armed on every fd, all of them
// receiving into one group of provided buffers, and the frames queued with
// Send are written by the same io_uring_enter that waits for the next ones:
// a busy tap costs one system call per batch of frames rather than one
// read and one write per frame, and an idle one costs no memory of its
// own. It is owned by one goroutine.
type Frames struct {
	r       *Ring
	size    int
	rx      *BufRing
	tx      []byte
	txFree  []uint16
	txPort  []int32 // the port each send buffer is in flight for
	txCount int     // send buffers in all
	txPerFd int
	txQueue uint32 // writes prepared since the last enter

	ports  []fdPort
	free   []int32 // free ports, lowest last
	rearm  []int32 // ports whose read is to be armed
	gotAny []int32 // ports that received since the last arming round
	failed []failedSend

	wakeFd      int
	waking      bool
	wakeStashed bool // a wake-up is in stash
	cq          [256]CQE
	reapCQ      [64]CQE // reap's own: it runs inside recv, while cq is in use
	stash       []CQE   // completions taken while sends were reaped
	stats       FramesStats
	err         error
}

// NewFrames sets up the ring. It fails with an error wrapping
// errors.ErrUnsupported on a kernel without multishot reads (Linux 6.7):
// the owner then keeps its read/write loop.
//
// The goroutine that owns a Frames must hold runtime.LockOSThread from
// NewFrames on. The kernel queues a read's completion work (taking the
// frame into a buffer) to the thread that armed the read, and with
// SetupCoopTaskrun it does not interrupt that thread for it: a read armed
// from a thread the goroutine has since left waits until that thread
// happens to wake. Unlocked, a quiet fd's frame did not come in 16 turns
// in 12% of the runs of TestFramesFloodDoesNotStarve.
func NewFrames(c FramesConfig) (*Frames, error) {
	if c.FrameSize == 0 {
		c.FrameSize = 2048
	}
	if c.RxBuffers == 0 {
		c.RxBuffers = 256
	}
	if c.TxBuffers == 0 {
		c.TxBuffers = 256
	}
	if c.TxPerFd == 0 || c.TxPerFd > c.TxBuffers {
		c.TxPerFd = c.TxBuffers
	}
	if c.MaxFds == 0 {
		c.MaxFds = 1
	}
	if c.Flags == 0 {
		c.Flags = SetupCoopTaskrun | SetupTaskrunFlag
	}
	if c.FrameSize < 60 || c.FrameSize > 65536 || c.TxBuffers < 1 || c.TxBuffers > 4096 || c.MaxFds < 1 || c.MaxFds > 1<<16 {
		return nil, fmt.Errorf("uring: frames: frame size %d, %d send buffers, %d fds: want 60..65536 bytes, 1..4096 buffers, 1..65536 fds",
			c.FrameSize, c.TxBuffers, c.MaxFds)
	}
	// Room for every send buffer and a round of re-arms; a longer round
	// submits part way (sqe).
	rearms := uint32(min(c.MaxFds, 256))
	// Completions: every buffer's, and a run-dry read's on many ports at
	// once; beyond that the kernel keeps them (FeatNoDrop) until reaped.
	cqes := ceilPow2(uint32(c.TxBuffers+c.RxBuffers+min(c.MaxFds, 1024)) + 16)
	r, err := New(uint32(c.TxBuffers)+rearms+8, Options{Flags: c.Flags, CQEntries: cqes})
	if err != nil {
		return nil, err
	}
	f := &Frames{r: r, size: c.FrameSize, wakeFd: c.WakeFd, txPerFd: c.TxPerFd}
	if ok, err := r.Supported(OpReadMultishot); err != nil || !ok[0] {
		r.Close()
		return nil, fmt.Errorf("uring: frames: multishot read (Linux 6.7): %w", errors.ErrUnsupported)
	}
	if r.Features()&FeatExtArg == 0 {
		r.Close()
		return nil, fmt.Errorf("uring: frames: wait with timeout (Linux 5.11): %w", errors.ErrUnsupported)
	}
	// One byte more than the largest frame: a tap silently truncates a
	// frame to the buffer, so a full buffer means a frame too long.
	if f.rx, err = r.NewBufRing(rxGroup, c.RxBuffers, c.FrameSize+1); err != nil {
		r.Close()
		return nil, err
	}
	// Populated, like the receive buffers: a send buffer first used under
	// a burst costs no page fault then, and the memory a ring holds is all
	// there from the start instead of creeping up as deeper buffers of the
	// free list are reached.
	if f.tx, err = unix.Mmap(-1, 0, c.TxBuffers*c.FrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		f.rx.Close()
		r.Close()
		return nil, fmt.Errorf("uring: frames: mmap %d send buffers: %w", c.TxBuffers, err)
	}
	f.txCount = c.TxBuffers
	f.txPort = make([]int32, c.TxBuffers)
	for i := c.TxBuffers - 1; i >= 0; i-- {
		f.txFree = append(f.txFree, uint16(i))
	}
	f.ports = make([]fdPort, c.MaxFds)
	for i := c.MaxFds - 1; i >= 0; i-- {
		f.ports[i].fd = -1
		f.free = append(f.free, int32(i))
	}
	return f, nil
}

// Stats returns the counters.
func (f *Frames) Stats() FramesStats { return f.stats }

// Add starts serving fd (its O_NONBLOCK flag does not matter; Frames never
// closes it) and returns its port, the number Receiver calls and Send
// take. Its read is armed by the next Exchange.
func (f *Frames) Add(fd int) (port int, err error) {
	if f.err != nil {
		return -1, f.err
	}
	if len(f.free) == 0 {
		return -1, fmt.Errorf("%w (%d)", ErrTooManyFds, len(f.ports))
	}
	id := f.free[len(f.free)-1]
	f.free = f.free[:len(f.free)-1]
	f.ports[id] = fdPort{fd: fd, queued: true}
	f.rearm = append(f.rearm, id)
	return int(id), nil
}

// Send queues a copy of frame for port, to be written by the next Exchange
// (or sooner, when the queue is full). It refuses, counting a drop, when
// the port holds TxPerFd send buffers or every one is in flight.
func (f *Frames) Send(port int, frame []byte) error {
	if f.err != nil {
		return f.err
	}
	if len(frame) > f.size {
		f.stats.SendDropped++
		return ErrFrameTooLong
	}
	p := &f.ports[port]
	if !f.room(p) {
		f.reap()
		if !f.room(p) {
			f.stats.SendDropped++
			return ErrSendFull
		}
	}
	s := f.sqe()
	if s == nil {
		f.stats.SendDropped++
		return f.err
	}
	id := f.txFree[len(f.txFree)-1]
	f.txFree = f.txFree[:len(f.txFree)-1]
	f.txPort[id] = int32(port)
	p.inflight++
	b := f.tx[int(id)*f.size:]
	n := copy(b, frame)
	s.PrepWrite(p.fd, b[:n], 0, tagTx|uint64(id))
	f.txQueue++
	return nil
}

func (f *Frames) room(p *fdPort) bool { return len(f.txFree) > 0 && p.inflight < f.txPerFd }

// sqe is the next submission entry; when the queue is full, what is in it
// is submitted first. nil only once the ring has failed.
func (f *Frames) sqe() *SQE {
	if s := f.r.GetSQE(); s != nil {
		return s
	}
	f.reap()
	return f.r.GetSQE()
}

// reap submits what is queued and frees the buffers of finished writes;
// other completions are kept for the next Exchange.
func (f *Frames) reap() {
	f.stats.Enters++
	f.txQueue = 0
	if _, err := f.r.Submit(); err != nil {
		f.err = err
		return
	}
	f.reapCompletions(-1)
}

// reapCompletions takes every ready completion: writes are finished at
// once, the completions of port removing (if not -1) are retired, and the
// rest are stashed. It reports whether removing's cancel completed.
func (f *Frames) reapCompletions(removing int) (cancelled bool) {
	for {
		n := f.r.Completions(f.reapCQ[:])
		if n == 0 {
			return cancelled
		}
		for _, c := range f.reapCQ[:n] {
			switch {
			case c.UserData&tagMask == tagTx:
				f.sent(c)
			case removing >= 0 && c.UserData == tagCancel|uint64(removing):
				cancelled = true
			case removing >= 0 && c.UserData == tagRx|uint64(removing):
				f.retire(c)
			default:
				if c.UserData&tagMask == tagWake && c.Res >= 0 {
					f.wakeStashed = true
				}
				f.stash = append(f.stash, c)
			}
		}
	}
}

// WaitSendable waits until port may queue a frame again (a device that was
// full has taken one), or until deadline, and reports whether it may. It
// submits the queued writes; completions of other kinds that come
// meanwhile (frames, the wake fd) are kept for the next Exchange. It lets a
// caller hold back before Send drops, as a blocking write would. When the
// wake fd fires, interrupted (if not nil) decides whether to give up.
func (f *Frames) WaitSendable(port int, deadline time.Time, interrupted func() bool) bool {
	p := &f.ports[port]
	for f.err == nil {
		f.reap()
		if f.room(p) {
			return true
		}
		if f.wakeStashed && interrupted != nil && interrupted() {
			return false
		}
		left := time.Until(deadline)
		if left <= 0 || f.err != nil {
			return false
		}
		// reap took every completion there was: wait for the next.
		f.stats.Enters++
		if _, err := f.r.SubmitAndWaitTimeout(f.r.Ready()+1, left); err != nil {
			f.err = err
		}
	}
	return false
}

// sent frees a finished write's buffer.
func (f *Frames) sent(c CQE) {
	id := uint16(c.UserData)
	port := f.txPort[id]
	f.txFree = append(f.txFree, id)
	p := &f.ports[port]
	p.inflight--
	if c.Res >= 0 {
		f.stats.Sent++
		return
	}
	f.stats.SendErrors++
	if p.removing {
		p.lost++
		return
	}
	f.failed = append(f.failed, failedSend{int(port), syscall.Errno(-c.Res)})
}

// retire takes a read completion of a port on its way out: its buffer goes
// back, nothing is handed over.
func (f *Frames) retire(c CQE) {
	p := &f.ports[uint32(c.UserData)]
	if !c.More() {
		p.armed = false
	}
	if c.Flags&CQEFBuffer != 0 {
		f.rx.Recycle(c.BufferID())
	}
}

// Exchange writes the queued frames, waits up to timeout (0: not at all,
// negative: without limit) for frames to arrive, and hands every frame that
// is ready (so one call may bring many, from many ports) and every other
// outcome to r, in order. woken reports that WakeFd became readable. With
// writes queued it waits at most stalledWriteWait, in case some do not
// complete at once. The error is the ring's, which ends the Frames; a port
// that fails is reported to r.Stopped.
func (f *Frames) Exchange(timeout time.Duration, r Receiver) (woken bool, err error) {
	if f.err != nil {
		return false, f.err
	}
	f.reportFailed(r)
	f.armReads()
	if f.wakeFd >= 0 && !f.waking {
		if s := f.sqe(); s != nil {
			s.PrepPollAdd(f.wakeFd, unix.POLLIN, true, tagWake)
			f.waking = true
		}
	}
	if f.err != nil {
		return false, f.err
	}
	// Writes to a tap complete during the submission, so waiting for one
	// completion more than the writes makes the call sleep until a frame
	// (or the wake fd, or the timeout) comes, rather than return at once
	// with nothing but write completions.
	want := f.txQueue + 1
	if f.txQueue > 0 && (timeout < 0 || timeout > stalledWriteWait) {
		timeout = stalledWriteWait
	}
	f.txQueue = 0
	f.stats.Enters++
	if len(f.stash) > 0 || timeout == 0 {
		_, err = f.r.Submit()
	} else if timeout < 0 {
		_, err = f.r.SubmitAndWait(want)
	} else {
		_, err = f.r.SubmitAndWaitTimeout(want, timeout)
	}
	if err != nil {
		f.err = err
		return false, err
	}
	// By index, and emptied in place: r may stash more (Send), and
	// reslicing from the front would make the stash allocate anew.
	for i := 0; i < len(f.stash); i++ {
		woken = f.complete(f.stash[i], r) || woken
	}
	f.stash = f.stash[:0]
	f.wakeStashed = false
	for {
		n := f.r.Completions(f.cq[:])
		if n == 0 {
			break
		}
		for _, c := range f.cq[:n] {
			woken = f.complete(c, r) || woken
		}
	}
	f.rx.Commit()
	f.reportFailed(r)
	return woken, f.err
}

// armReads arms the reads of the ports that need it, those that received
// fewest frames lately first. Every port shares the receive buffers, and a
// read armed on a port with frames waiting takes buffers for all of them at
// once: a flooded port armed first could leave none for a port with one
// frame waiting, at every turn.
func (f *Frames) armReads() {
	if len(f.rearm) > 1 {
		slices.SortStableFunc(f.rearm, func(a, b int32) int { return f.ports[a].got - f.ports[b].got })
	}
	for _, id := range f.rearm {
		p := &f.ports[id]
		if !p.queued {
			continue
		}
		s := f.sqe()
		if s == nil {
			return
		}
		s.PrepReadMultishot(p.fd, rxGroup, tagRx|uint64(id))
		p.queued, p.armed = false, true
	}
	f.rearm = f.rearm[:0]
	for _, id := range f.gotAny {
		f.ports[id].got = 0
	}
	f.gotAny = f.gotAny[:0]
}

// reportFailed hands the write failures found outside Exchange to r.
func (f *Frames) reportFailed(r Receiver) {
	for i := 0; i < len(f.failed); i++ {
		r.SendFailed(f.failed[i].port, f.failed[i].errno)
	}
	clear(f.failed)
	f.failed = f.failed[:0]
}

func (f *Frames) complete(c CQE, r Receiver) (woken bool) {
	switch c.UserData & tagMask {
	case tagRx:
		id := int(uint32(c.UserData))
		p := &f.ports[id]
		if p.fd < 0 || p.removing || p.stopped {
			f.retire(c)
			return false
		}
		f.received(id, p, c, r)
		if !c.More() {
			p.armed = false
			if !p.stopped && !p.queued {
				p.queued = true
				f.rearm = append(f.rearm, int32(id))
			}
		}
	case tagTx:
		f.sent(c)
	case tagWake:
		if !c.More() {
			f.waking = false
		}
		return c.Res >= 0
	}
	return false
}

// received hands a read completion of a live port to r.
func (f *Frames) received(id int, p *fdPort, c CQE, r Receiver) {
	hasBuf := c.Flags&CQEFBuffer != 0
	switch {
	case c.Res == 0:
		// A zero-length read ends a multishot read. A tap never has
		// one; on a socket it is an empty message, handed over as an
		// empty frame, or the peer's close, which only poll tells
		// apart. Re-arming after a close would spin.
		if hasBuf {
			f.rx.Recycle(c.BufferID())
		}
		if hungUp(p.fd) {
			p.stopped = true
			r.Stopped(id, fmt.Errorf("uring: read: %w (the other side closed)", io.EOF))
			return
		}
		f.stats.Received++
		r.Frame(id, f.rx.Buf(0)[:0])
	case c.Res < 0:
		switch c.Res {
		case -int32(unix.ENOBUFS):
			// More frames came than buffers were free: re-armed at the
			// next Exchange, after this batch is recycled.
			f.stats.Rearms++
		case -int32(unix.ECANCELED):
		default:
			p.stopped = true
			r.Stopped(id, syscall.Errno(-c.Res))
		}
	case hasBuf:
		bid := c.BufferID()
		if int(c.Res) > f.size {
			f.stats.RxTooLong++
			r.TooLong(id)
		} else {
			f.stats.Received++
			if p.got == 0 {
				f.gotAny = append(f.gotAny, int32(id))
			}
			p.got++
			r.Frame(id, f.rx.Buf(bid)[:c.Res])
		}
		f.rx.Recycle(bid)
	}
}

// hungUp reports whether fd's other side has closed.
func hungUp(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// removeWait bounds how long Remove and Close wait for the kernel to let go
// of a port's buffers.
const removeWait = time.Second

// Remove stops serving port: the writes queued for it are submitted (a
// tap's complete at once), then everything still in flight on its fd is
// cancelled, and Remove waits (up to a second) until the kernel has let go
// of it, so that the owner may close the fd and reuse nothing by mistake.
// Frames received for it and not yet handed over are dropped. lost counts
// its writes that failed or were cancelled on the way out. Other ports'
// completions that come meanwhile are kept for the next Exchange.
func (f *Frames) Remove(port int) (lost int, err error) {
	p := &f.ports[port]
	if p.fd < 0 {
		return 0, nil
	}
	p.removing = true
	p.queued = false // armReads skips it
	for i := 0; i < len(f.failed); i++ {
		if f.failed[i].port == port {
			p.lost++
			f.failed = append(f.failed[:i], f.failed[i+1:]...)
			i--
		}
	}
	if s := f.sqe(); s != nil {
		s.PrepCancelFd(p.fd, tagCancel|uint64(port))
	}
	cancelled := false
	deadline := time.Now().Add(removeWait)
	for f.err == nil && (!cancelled || p.armed || p.inflight > 0) && time.Now().Before(deadline) {
		f.stats.Enters++
		f.txQueue = 0
		if _, err := f.r.SubmitAndWaitTimeout(f.r.Ready()+1, 10*time.Millisecond); err != nil {
			f.err = err
			break
		}
		if f.reapCompletions(port) {
			cancelled = true
		}
	}
	// What was taken for it before, or by sqe's reap above.
	for i := 0; i < len(f.stash); i++ {
		if c := f.stash[i]; c.UserData == tagRx|uint64(port) {
			f.retire(c)
			f.stash = append(f.stash[:i], f.stash[i+1:]...)
			i--
		}
	}
	f.rx.Commit()
	lost = p.lost
	if p.armed || p.inflight > 0 {
		// The kernel still holds requests on the fd: the port is never
		// reused, so that their completions cannot be taken for
		// another's.
		p.fd = -2
		if f.err != nil {
			return lost, f.err
		}
		return lost, fmt.Errorf("uring: frames: remove: requests still in flight on fd after %v", removeWait)
	}
	*p = fdPort{fd: -1}
	f.free = append(f.free, int32(port))
	return lost, nil
}

// Close cancels the requests in flight, waits (up to a second) until the
// kernel has let go of every buffer, and frees the ring. It closes none of
// the fds.
func (f *Frames) Close() error {
	if f.r == nil {
		return nil
	}
	// Cancel first: buffers must not be unmapped while the kernel may
	// still write into them.
	if s := f.r.GetSQE(); s != nil {
		s.PrepCancelAll(tagCancel)
	}
	armed := func() bool {
		for i := range f.ports {
			if f.ports[i].armed {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(removeWait)
	busy := func() bool { return f.waking || len(f.txFree) < f.txCount || armed() }
	var err error
	for busy() && time.Now().Before(deadline) {
		if _, err = f.r.SubmitAndWaitTimeout(1, 10*time.Millisecond); err != nil {
			break
		}
		n := f.r.Completions(f.cq[:])
		for _, c := range append(f.stash, f.cq[:n]...) {
			switch c.UserData & tagMask {
			case tagRx:
				if !c.More() {
					f.ports[uint32(c.UserData)].armed = false
				}
			case tagWake:
				f.waking = f.waking && c.More()
			case tagTx:
				f.txFree = append(f.txFree, uint16(c.UserData))
			}
		}
		f.stash = nil
	}
	if err == nil && busy() {
		err = errors.New("uring: frames: close: requests still in flight after 1s; leaking their buffers")
	}
	if busy() {
		// Tearing the ring down cancels what is left, but not
		// synchronously: the buffers stay mapped for good.
		f.r.Close()
	} else {
		f.rx.Close()
		if cerr := f.r.Close(); err == nil {
			err = cerr
		}
		unix.Munmap(f.tx)
	}
	f.r, f.tx = nil, nil
	if f.err == nil {
		f.err = ErrClosed
	}
	return err
}
