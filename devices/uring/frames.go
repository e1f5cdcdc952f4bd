package uring

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// FramesConfig sizes a Frames. Zero fields take the defaults.
type FramesConfig struct {
	// FrameSize is the largest frame, in bytes: the tap's MTU plus 18
	// (Ethernet and VLAN headers). Default 2048.
	FrameSize int
	// RxBuffers receive buffers (default 256, rounded up to a power of
	// two): how many frames one Exchange can receive.
	RxBuffers int
	// TxBuffers send buffers (default 256): how many frames can be queued
	// with Send between two Exchanges.
	TxBuffers int
	// Flags are the ring's Setup* flags. The default,
	// SetupCoopTaskrun|SetupTaskrunFlag, needs no thread locking;
	// SetupSingleIssuer|SetupDeferTaskrun measured the same and binds the
	// ring to the thread that calls NewFrames, which must then hold
	// runtime.LockOSThread for as long as it uses the Frames.
	Flags uint32
	// WakeFd, if not -1, is an fd (an eventfd) whose becoming readable
	// ends an Exchange early with woken set. The owner reads it.
	WakeFd int
}

// FramesStats counts what a Frames did since it was made.
type FramesStats struct {
	Received    uint64 // frames handed to recv
	Sent        uint64 // frames the kernel accepted
	SendErrors  uint64 // writes that failed (LastSendError says why)
	SendDropped uint64 // Send calls refused: every send buffer in flight
	Enters      uint64 // io_uring_enter calls
	Rearms      uint64 // multishot reads re-armed after running out of buffers
	RxTooLong   uint64 // frames longer than FrameSize, dropped
	LastSendErr error
}

// ErrSendFull is Send's refusal when every send buffer is in flight; the
// frame is dropped, as a NIC drops on a full transmit ring.
var ErrSendFull = errors.New("uring: every send buffer is in flight")

// ErrFrameTooLong is Send's refusal of a frame larger than FrameSize.
var ErrFrameTooLong = errors.New("uring: frame longer than the configured frame size")

// user_data tags.
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

// Frames moves Ethernet frames between one tap fd and its owner through a
// ring. One multishot read stays armed on the tap, receiving into a group
// of provided buffers, and the frames queued with Send are written by the
// same io_uring_enter that waits for the next ones: a busy tap costs one
// system call per batch of frames rather than one read and one write per
// frame. It is owned by one goroutine.
type Frames struct {
	r       *Ring
	fd      int
	size    int
	rx      *BufRing
	rxArmed bool
	tx      []byte
	txFree  []uint16
	txCount int    // send buffers in all
	txQueue uint32 // writes prepared since the last enter
	wakeFd  int
	waking  bool
	cq      [256]CQE
	reapCQ  [64]CQE // reapSends' own: it runs inside recv, while cq is in use
	stash   []CQE   // completions taken by Send while it freed buffers
	stats   FramesStats
	err     error
}

// NewFrames sets up the ring for the tap fd (its O_NONBLOCK flag does not
// matter). It fails with an error wrapping errors.ErrUnsupported on a
// kernel without multishot reads (Linux 6.7): the owner then keeps its
// read/write loop.
func NewFrames(fd int, c FramesConfig) (*Frames, error) {
	if c.FrameSize == 0 {
		c.FrameSize = 2048
	}
	if c.RxBuffers == 0 {
		c.RxBuffers = 256
	}
	if c.TxBuffers == 0 {
		c.TxBuffers = 256
	}
	if c.Flags == 0 {
		c.Flags = SetupCoopTaskrun | SetupTaskrunFlag
	}
	if c.FrameSize < 60 || c.FrameSize > 65536 || c.TxBuffers < 1 || c.TxBuffers > 4096 {
		return nil, fmt.Errorf("uring: frames: frame size %d, %d send buffers: want 60..65536 bytes, 1..4096 buffers", c.FrameSize, c.TxBuffers)
	}
	r, err := New(uint32(c.TxBuffers+8), Options{Flags: c.Flags, CQEntries: ceilPow2(uint32(c.TxBuffers + c.RxBuffers + 16))})
	if err != nil {
		return nil, err
	}
	f := &Frames{r: r, fd: fd, size: c.FrameSize, wakeFd: c.WakeFd}
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
	// a burst costs no page fault then, and the memory a host holds is all
	// there from the start instead of creeping up as deeper buffers of the
	// free list are reached.
	if f.tx, err = unix.Mmap(-1, 0, c.TxBuffers*c.FrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		f.rx.Close()
		r.Close()
		return nil, fmt.Errorf("uring: frames: mmap %d send buffers: %w", c.TxBuffers, err)
	}
	f.txCount = c.TxBuffers
	for i := c.TxBuffers - 1; i >= 0; i-- {
		f.txFree = append(f.txFree, uint16(i))
	}
	return f, nil
}

// Stats returns the counters.
func (f *Frames) Stats() FramesStats { return f.stats }

// Send queues a copy of frame, to be written by the next Exchange (or
// sooner, when the queue is full). It refuses, counting a drop, when every
// send buffer is still in flight.
func (f *Frames) Send(frame []byte) error {
	if f.err != nil {
		return f.err
	}
	if len(frame) > f.size {
		f.stats.SendDropped++
		return fmt.Errorf("uring: send %d bytes: %w (%d)", len(frame), ErrFrameTooLong, f.size)
	}
	if len(f.txFree) == 0 {
		f.reapSends()
		if len(f.txFree) == 0 {
			f.stats.SendDropped++
			return ErrSendFull
		}
	}
	s := f.r.GetSQE()
	if s == nil {
		// Cannot happen: the SQ has a slot per send buffer and more.
		f.stats.SendDropped++
		return ErrSendFull
	}
	id := f.txFree[len(f.txFree)-1]
	f.txFree = f.txFree[:len(f.txFree)-1]
	b := f.tx[int(id)*f.size:]
	n := copy(b, frame)
	s.PrepWrite(f.fd, b[:n], 0, tagTx|uint64(id))
	f.txQueue++
	return nil
}

// reapSends submits the queued writes and frees the buffers of finished
// ones; other completions are kept for the next Exchange.
func (f *Frames) reapSends() {
	f.stats.Enters++
	f.txQueue = 0
	if _, err := f.r.Submit(); err != nil {
		f.err = err
		return
	}
	for {
		n := f.r.Completions(f.reapCQ[:])
		if n == 0 {
			return
		}
		for _, c := range f.reapCQ[:n] {
			if c.UserData&tagMask == tagTx {
				f.sent(c)
			} else {
				f.stash = append(f.stash, c)
			}
		}
	}
}

// WaitSendable waits until a send buffer is free (a device that was full
// has taken a frame), or until deadline, and reports whether one is. It
// submits the queued writes; completions of other kinds that come
// meanwhile (frames, the wake fd) are kept for the next Exchange. It lets
// a caller hold back before Send drops, as a blocking write would.
func (f *Frames) WaitSendable(deadline time.Time) bool {
	for f.err == nil {
		f.reapSends()
		if len(f.txFree) > 0 {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 || f.err != nil {
			return false
		}
		// reapSends took every completion there was: wait for the next.
		f.stats.Enters++
		if _, err := f.r.SubmitAndWaitTimeout(f.r.Ready()+1, left); err != nil {
			f.err = err
		}
	}
	return false
}

func (f *Frames) sent(c CQE) {
	f.txFree = append(f.txFree, uint16(c.UserData))
	if c.Res < 0 {
		f.stats.SendErrors++
		f.stats.LastSendErr = fmt.Errorf("uring: write to tap: %w", Errno(c.Res))
		return
	}
	f.stats.Sent++
}

// Exchange writes the queued frames, waits up to timeout (0: not at all,
// negative: without limit) for frames to arrive, and calls recv with each
// received frame in order. The frame is only valid during the call; recv
// may call Send. woken reports that WakeFd became readable. Every frame
// that is ready is handed over, so one call may return many. With writes
// queued it waits at most stalledWriteWait, in case some do not complete
// at once. A socket whose peer has closed ends the Frames with an error
// wrapping io.EOF; a deleted tap, with one wrapping EBADFD.
func (f *Frames) Exchange(timeout time.Duration, recv func(frame []byte)) (woken bool, err error) {
	if f.err != nil {
		return false, f.err
	}
	if !f.rxArmed {
		s := f.r.GetSQE()
		if s == nil {
			f.reapSends()
			s = f.r.GetSQE()
		}
		s.PrepReadMultishot(f.fd, rxGroup, tagRx)
		f.rxArmed = true
	}
	if f.wakeFd >= 0 && !f.waking {
		if s := f.r.GetSQE(); s != nil {
			s.PrepPollAdd(f.wakeFd, unix.POLLIN, true, tagWake)
			f.waking = true
		}
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
	// By index, and emptied in place: recv may stash more (Send), and
	// reslicing from the front would make the stash allocate anew.
	for i := 0; i < len(f.stash); i++ {
		woken = f.complete(f.stash[i], recv) || woken
	}
	f.stash = f.stash[:0]
	for {
		n := f.r.Completions(f.cq[:])
		if n == 0 {
			break
		}
		for _, c := range f.cq[:n] {
			woken = f.complete(c, recv) || woken
		}
	}
	f.rx.Commit()
	return woken, f.err
}

func (f *Frames) complete(c CQE, recv func([]byte)) (woken bool) {
	switch c.UserData & tagMask {
	case tagRx:
		if !c.More() {
			f.rxArmed = false
		}
		if c.Res == 0 {
			// A zero-length read ends a multishot read. A tap never
			// has one; on a socket it is an empty message, handed over
			// as an empty frame, or the peer's close, which only poll
			// tells apart. Re-arming after a close would spin.
			if c.Flags&CQEFBuffer != 0 {
				f.rx.Recycle(c.BufferID())
			}
			if hungUp(f.fd) {
				f.err = fmt.Errorf("uring: read: %w (the other side closed)", io.EOF)
				return false
			}
			f.stats.Received++
			recv(f.rx.Buf(0)[:0])
			return false
		}
		if c.Res < 0 {
			switch {
			case c.Res == -int32(unix.ENOBUFS):
				// More frames came than buffers were free: re-armed at
				// the next Exchange, after this batch is recycled.
				f.stats.Rearms++
			case c.Res == -int32(unix.ECANCELED):
			default:
				f.err = fmt.Errorf("uring: read from tap: %w", Errno(c.Res))
			}
			return false
		}
		if c.Flags&CQEFBuffer == 0 {
			return false
		}
		id := c.BufferID()
		if int(c.Res) > f.size {
			f.stats.RxTooLong++
		} else {
			f.stats.Received++
			recv(f.rx.Buf(id)[:c.Res])
		}
		f.rx.Recycle(id)
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

// hungUp reports whether fd's other side has closed.
func hungUp(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// Close cancels the reads in flight, waits (up to a second) until the
// kernel has let go of every buffer, and frees the ring. It does not close
// the tap fd.
func (f *Frames) Close() error {
	if f.r == nil {
		return nil
	}
	// Cancel first: buffers must not be unmapped while the kernel may
	// still write into them.
	if s := f.r.GetSQE(); s != nil {
		s.PrepCancelAll(tagCancel)
	}
	deadline := time.Now().Add(time.Second)
	busy := func() bool { return f.rxArmed || f.waking || len(f.txFree) < f.txCount }
	var err error
	for busy() && time.Now().Before(deadline) {
		if _, err = f.r.SubmitAndWaitTimeout(1, 10*time.Millisecond); err != nil {
			break
		}
		n := f.r.Completions(f.cq[:])
		for _, c := range append(f.stash, f.cq[:n]...) {
			switch c.UserData & tagMask {
			case tagRx:
				f.rxArmed = f.rxArmed && c.More()
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
