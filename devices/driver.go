package devices

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/devices/uring"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	netctl "github.com/smolfs/smolfs/netcore/ctl"
)

// Errors of a Driver whose device has stopped. Exec wraps them in a
// ctl.CommandError of class EIO.
var (
	ErrDeviceGone = errors.New("device gone")   // the device failed or was removed
	ErrClosed     = errors.New("device closed") // Close was called
)

// Loop limits.
const (
	// rxBatch bounds the frames read per wakeup, so that replies go out and
	// timers run even under a flood.
	rxBatch = 64
	// maxFrameLen covers a tap with the largest MTU (65535) and its header.
	maxFrameLen = 1<<16 + 64
	// txWait is how long the loop waits for a full device to take a frame
	// before it drops the rest of what it has to send: a device that takes
	// nothing for this long is stuck, one that is slow but moving slows the
	// loop (and, as the loop stops reading, its peer) rather than losing
	// frames. Close and commands never wait for it.
	txWait = 10 * time.Millisecond
	// ringFrameSize is the largest frame the io_uring loop receives: a
	// 1500-byte MTU, the Ethernet header and a VLAN tag fit, and so does
	// anything a host (MTU at most netcore.MaxMTU) would not refuse as too
	// big anyway. Longer frames, from a tap whose kernel side has a larger
	// MTU, are counted as rx_frames and rx_too_big without being captured.
	ringFrameSize = 2048
)

// Option changes how NewDriver sets a driver up.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	pollLoop bool
}

// pollOnly makes every new driver run the poll loop, as on a kernel without
// io_uring, so that tests can cover both loops on any kernel.
var pollOnly bool

// WithLogger sends the driver's debug messages (which loop it runs, and why
// not the io_uring one) to l rather than to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Driver runs a netcore.Host on a Device with the real clock. One goroutine
// owns the fd: it reads frames, hands them to the host, writes the frames the
// host answers with and runs its timers. The host is not safe for concurrent
// use, so a mutex serialises the loop's calls with Snapshot and Exec, which
// the file server makes from many goroutines.
//
// The loop moves frames through an io_uring (uring.Frames) where the kernel
// has multishot reads (Linux 6.7): a busy device then costs one system call
// per batch of frames, for both ways, rather than a read and a write per
// frame, and the lock is taken once per batch. Elsewhere (or when the ring
// cannot be set up: the debug log says why) it polls and reads until
// EAGAIN, as any event loop does. Both keep the same promises: Exec wakes
// the loop, Close ends it at once, a device that goes away takes the host
// down with an event and Err set, a full device drops and counts what it
// will not take (tx_dropped) once it has taken nothing for 10 ms, and
// nothing is allocated per frame.
type Driver struct {
	name    string
	h       *netcore.Host
	dev     Device
	onEvent func(netcore.Event)
	wake    *waker
	done    chan struct{} // closed when the loop has ended
	opts    options
	ring    atomic.Bool // the loop runs on io_uring

	mu      sync.Mutex      // guards h and the fields below
	pending *netcore.Output // what Exec produced, for the loop to send
	stopped bool            // the loop has ended: nothing more is sent
	err     error           // why the device stopped, wrapping ErrDeviceGone

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// Owned by the loop goroutine.
	out  *netcore.Output
	rbuf []byte // the poll loop's

	// The io_uring loop's, also owned by the loop goroutine.
	fr        *uring.Frames
	recvFn    func([]byte)      // d.recv, made once: no allocation per batch
	locked    bool              // the loop holds mu for the batch under way
	now       time.Time         // the batch's time
	events    []netcore.Event   // reported after the batch, outside mu
	unsent    uint64            // frames Send refused, counted at the batch's end
	sendUntil time.Time         // when to give up on a full device; zero: not waiting
	seen      uring.FramesStats // fr's counters as already accounted
}

// NewDriver starts a driver for h on dev. onEvent (which may be nil) gets
// the host's events, in order, on the driver's goroutine, outside the lock:
// it may call Snapshot or Exec, but not Close, and should not block long, as
// the host waits for it.
func NewDriver(h *netcore.Host, dev Device, onEvent func(netcore.Event), opts ...Option) *Driver {
	d := &Driver{
		name:    h.Name(),
		h:       h,
		dev:     dev,
		onEvent: onEvent,
		done:    make(chan struct{}),
		pending: new(netcore.Output),
		out:     new(netcore.Output),
		opts:    options{pollLoop: pollOnly},
	}
	for _, o := range opts {
		o(&d.opts)
	}
	if d.opts.logger == nil {
		d.opts.logger = slog.Default()
	}
	d.recvFn = d.recv
	if d.name == "" {
		d.name = dev.Name()
	}
	w, err := newWaker()
	if err != nil {
		// No loop without a way to stop it: the host is down from the start.
		d.wake = &waker{fd: -1}
		d.stop(err)
		close(d.done)
		return d
	}
	d.wake = w
	go d.loop()
	return d
}

// Name is the host's name (its device's, if the host has none).
func (d *Driver) Name() string { return d.name }

// Snapshot is the host's configuration and counters now.
func (d *Driver) Snapshot() netcore.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.h.Snapshot()
}

// ARPTable is the host's ARP cache now, sorted by address. Only the copy is
// made under the lock that the host's loop needs; the sort is not.
func (d *Driver) ARPTable() []netcore.ARPEntry {
	now := time.Now()
	d.mu.Lock()
	t := d.h.ARPTable(now)
	d.mu.Unlock()
	netcore.SortARP(t)
	return t
}

// Subscribe starts a capture subscription on the host's frames. It ends
// (readers see io.EOF) when the driver is closed.
func (d *Driver) Subscribe(bufBytes int) *capture.Subscription {
	return d.h.Capture().Subscribe(bufBytes)
}

// Err is the error that stopped the device, wrapping ErrDeviceGone, or nil
// while it runs (and after a plain Close).
func (d *Driver) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Exec applies commands (from a write to file, "tap0/ctl" or "tap0/arp") to
// the host as one unit, as netcore.Host.Exec does; the frames they produce
// are sent by the driver's goroutine right after. Once the device has gone,
// `up` fails with a CommandError of class EIO that says why, and other
// commands still apply; after Close every command fails with class EIO.
func (d *Driver) Exec(file string, cmds []netcore.Command) error {
	now := time.Now()
	d.mu.Lock()
	if d.closing.Load() {
		d.mu.Unlock()
		return &netctl.CommandError{File: file, Errno: syscall.EIO, Err: fmt.Errorf("%s: %w", d.name, ErrClosed)}
	}
	if d.err != nil {
		for _, c := range cmds {
			if c.Op == netcore.OpUp {
				d.mu.Unlock()
				return &netctl.CommandError{File: file, Line: c.Line, Text: c.Text, Errno: syscall.EIO, Err: d.err}
			}
		}
	}
	err := d.h.Exec(now, file, cmds, d.pending)
	if !d.stopped {
		d.mu.Unlock()
		d.wake.signal() // the loop sends what is pending and takes up new timers
		return err
	}
	// Nobody will send these: account for them here.
	var events []netcore.Event
	if n := len(d.pending.Frames); n > 0 {
		d.h.Count(netcore.TxDropped, uint64(n))
	}
	events = append(events, d.pending.Events...)
	d.pending.Reset()
	d.mu.Unlock()
	d.report(events)
	return err
}

// Close stops the loop (at once, even while it waits), sends what Exec left
// pending if it can, closes the device and ends every capture subscription.
// It returns the device's Close error; later calls return the same.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.closing.Store(true)
		d.wake.signal()
		<-d.done
		d.closeErr = d.dev.Close()
		d.h.Capture().Close()
		d.wake.close()
	})
	return d.closeErr
}

// loop is the driver's goroutine: the io_uring loop if the kernel has what
// it needs, else the poll loop.
func (d *Driver) loop() {
	defer close(d.done)
	log := d.opts.logger
	if d.opts.pollLoop {
		log.Debug("driver: poll loop (forced)", "dev", d.dev.Name())
		d.pollLoop()
		return
	}
	// The ring's multishot read runs its completion work on the thread
	// that armed it: on the waiting thread, if the loop keeps to one,
	// rather than on whichever idle thread the goroutine left behind, which
	// the kernel must then wake. Measured with netbench: CPU per reply
	// 1.6 / 2.0 µs (ARP / ICMP) against 1.8 / 2.4 unlocked, and a shorter
	// latency tail (ping -f max 1.1 ms against 4.8).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fr, err := uring.NewFrames(d.dev.Fd(), uring.FramesConfig{FrameSize: ringFrameSize, WakeFd: d.wake.fd})
	if err != nil {
		log.Debug("driver: io_uring unavailable, using the poll loop", "dev", d.dev.Name(), "err", err)
		d.pollLoop()
		return
	}
	log.Debug("driver: io_uring loop", "dev", d.dev.Name())
	d.ring.Store(true)
	d.ringLoop(fr)
}

// pollLoop waits in poll(2) and moves frames with one read(2) or write(2)
// each.
func (d *Driver) pollLoop() {
	d.rbuf = make([]byte, maxFrameLen)
	fd := d.dev.Fd()
	fds := [2]unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLIN},
		{Fd: int32(d.wake.fd), Events: unix.POLLIN},
	}
	var ts unix.Timespec

	now := time.Now()
	d.mu.Lock()
	d.h.Poll(now, d.out) // the first announcement
	deadline := d.h.Deadline()
	d.mu.Unlock()
	cause := d.flush()

	for cause == nil && !d.closing.Load() {
		tsp := (*unix.Timespec)(nil)
		if !deadline.IsZero() {
			wait := deadline.Sub(now)
			if wait <= 0 {
				// Poll ran and left a timer in the past: wait a little
				// rather than spin.
				wait = time.Millisecond
			}
			ts = unix.NsecToTimespec(int64(wait))
			tsp = &ts
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Ppoll(fds[:], tsp, nil)
		if err != nil && err != unix.EINTR {
			cause = fmt.Errorf("poll %s: %w", d.dev.Name(), err)
			break
		}
		if d.closing.Load() {
			break
		}
		if fds[1].Revents != 0 {
			d.wake.drain()
		}

		d.mu.Lock()
		d.takePending()
		d.mu.Unlock()
		if fds[0].Revents != 0 {
			d.h.Capture().Hold() // capture readers wake once a batch
			cause = d.receive(fds[0].Revents)
			d.h.Capture().Release()
		}
		now = time.Now()
		d.mu.Lock()
		if dl := d.h.Deadline(); !dl.IsZero() && !now.Before(dl) {
			d.h.Poll(now, d.out)
		}
		deadline = d.h.Deadline()
		d.mu.Unlock()
		if err := d.flush(); cause == nil {
			cause = err
		}
	}
	d.stop(cause)
}

// takePending moves what Exec produced into the loop's output, which is
// empty here. Swapping keeps both Outputs' buffers in use: no copies.
func (d *Driver) takePending() {
	if len(d.pending.Frames) > 0 || len(d.pending.Events) > 0 {
		d.out, d.pending = d.pending, d.out
	}
}

// receive reads up to rxBatch frames into the host. It returns why the
// device is gone, or nil.
func (d *Driver) receive(revents int16) error {
	if revents&unix.POLLNVAL != 0 {
		return fmt.Errorf("poll %s: descriptor is not open", d.dev.Name())
	}
	hup := revents&(unix.POLLHUP|unix.POLLERR) != 0
	fd := d.dev.Fd()
	for range rxBatch {
		n, err := unix.Read(fd, d.rbuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if hup {
				return fmt.Errorf("poll %s: %s", d.dev.Name(), pollFlags(revents))
			}
			return nil
		case err == unix.EBADFD:
			// What a tap's descriptor says once its interface is deleted.
			return fmt.Errorf("read %s: %w: the interface was removed", d.dev.Name(), err)
		case err != nil:
			return fmt.Errorf("read %s: %w", d.dev.Name(), err)
		case n == 0 && (hup || hungUp(fd)):
			return fmt.Errorf("read %s: end of file (the other side closed)", d.dev.Name())
		}
		now := time.Now()
		d.mu.Lock()
		d.h.Receive(now, d.rbuf[:n], d.out)
		d.mu.Unlock()
	}
	return nil
}

// flush writes the loop's output to the device and reports its events. A
// full device gets up to txWait to take the frames; what it then refuses is
// dropped and counted. It returns why the device is gone, or nil.
func (d *Driver) flush() error {
	var cause error
	var dropped uint64
	var waitUntil time.Time
	fd := d.dev.Fd()
	frames := d.out.Frames
	for i := 0; i < len(frames); {
		_, err := unix.Write(fd, frames[i])
		switch {
		case err == nil:
			i++
			waitUntil = time.Time{} // it moves: the next wait starts afresh
			continue
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.ENOBUFS:
			if waitUntil.IsZero() {
				waitUntil = time.Now().Add(txWait)
			}
			if d.waitWritable(fd, waitUntil) {
				continue
			}
		case isGone(err):
			cause = fmt.Errorf("write %s: %w", d.dev.Name(), err)
		default:
			// One bad frame (EMSGSIZE), or a tap whose kernel side is
			// down (EIO): drop it and go on.
			dropped++
			i++
			continue
		}
		dropped += uint64(len(frames) - i)
		break
	}
	if dropped > 0 {
		d.mu.Lock()
		d.h.Count(netcore.TxDropped, dropped)
		d.mu.Unlock()
	}
	d.report(d.out.Events)
	d.out.Reset()
	return cause
}

// waitWritable waits until fd takes writes again, until, or Close.
func (d *Driver) waitWritable(fd int, until time.Time) bool {
	fds := [2]unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLOUT},
		{Fd: int32(d.wake.fd), Events: unix.POLLIN},
	}
	woken := false
	defer func() {
		if woken {
			d.wake.signal() // what Exec left pending is for the next round
		}
	}()
	for {
		left := time.Until(until)
		if left <= 0 || d.closing.Load() {
			return false
		}
		ts := unix.NsecToTimespec(int64(left))
		_, err := unix.Ppoll(fds[:], &ts, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false
		case fds[0].Revents != 0:
			// Writable, or an error that the next write reports.
			return true
		case fds[1].Revents != 0:
			// Close (checked above), or Exec: keep waiting, and pass
			// the wakeup on to the loop afterwards.
			d.wake.drain()
			woken = true
		}
	}
}

// stop ends the loop's work: a device that failed takes the host down with
// an event; what is still pending is sent if the device works, or counted as
// dropped.
func (d *Driver) stop(cause error) {
	if !d.halt(cause) {
		d.flush() // Close: a last non-blocking try (the wakeup ends any wait)
		return
	}
	d.report(d.out.Events)
	d.out.Reset()
}

// halt is where both loops stop: it marks the driver stopped and, if cause
// ended it (not Close), takes the host down with an event; what Exec left
// pending joins d.out. When the device is gone, the frames in d.out are
// counted as dropped and discarded: there is nowhere to send them. It
// reports whether the device is gone.
func (d *Driver) halt(cause error) (gone bool) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if cause != nil && !d.closing.Load() {
		d.err = fmt.Errorf("%w: %w", ErrDeviceGone, cause)
		d.h.SetDown(now, d.err.Error(), d.pending)
	}
	d.takePending()
	gone = d.err != nil
	if n := len(d.out.Frames); gone && n > 0 {
		d.h.Count(netcore.TxDropped, uint64(n))
		clear(d.out.Frames)
		d.out.Frames = d.out.Frames[:0]
	}
	return gone
}

// ringLoop moves frames through fr until the device fails or Close. Each
// turn is one Exchange: it writes what the last turn queued, waits for
// frames, the wake-up or the next timer, and hands every frame that has
// come to recv. The lock taken for the first frame is held for the rest of
// the batch and the timers (Snapshot and Exec wait at most one batch, up to
// 256 frames), and capture readers are woken once per batch.
func (d *Driver) ringLoop(fr *uring.Frames) {
	d.fr = fr
	now := time.Now()
	d.mu.Lock()
	d.h.Poll(now, d.out) // the first announcement
	deadline := d.h.Deadline()
	d.mu.Unlock()
	d.queue()

	var cause error
	for !d.closing.Load() {
		timeout := time.Duration(-1)
		if !deadline.IsZero() {
			if timeout = deadline.Sub(now); timeout <= 0 {
				// Poll ran and left a timer in the past: wait a little
				// rather than spin.
				timeout = time.Millisecond
			}
		}
		woken, err := fr.Exchange(timeout, d.recvFn)
		if err != nil {
			cause = d.ringError(err)
		}
		if cause != nil || d.closing.Load() {
			if d.locked {
				d.h.Capture().Release()
				d.mu.Unlock()
				d.locked = false
			}
			break
		}
		if woken {
			d.wake.drain() // before takePending: a later Exec wakes us again
		}
		if !d.locked {
			d.mu.Lock()
			d.locked = true
			d.now = time.Now()
		}
		now = d.now
		d.takePending()
		if dl := d.h.Deadline(); !dl.IsZero() && !now.Before(dl) {
			d.h.Poll(now, d.out)
		}
		deadline = d.h.Deadline()
		cause = d.account()
		d.h.Capture().Release() // capture readers wake once a batch
		d.locked = false
		d.mu.Unlock()
		d.queue()
		d.sendUntil = time.Time{}
		if cause != nil {
			break
		}
	}
	d.stopRing(cause)
}

// recv hands one frame of a batch to the host and queues its replies. The
// frame's buffer goes back to the kernel after the call.
func (d *Driver) recv(frame []byte) {
	if !d.locked {
		d.mu.Lock()
		d.locked = true
		d.h.Capture().Hold()
	}
	// The clock per frame, so that captured frames keep distinct times:
	// reading it once per batch saved nothing netbench could measure
	// (time.Now costs 127 ns here, against 1.8-2.4 µs per reply).
	d.now = time.Now()
	d.h.Receive(d.now, frame, d.out)
	for _, f := range d.out.Frames {
		d.send(f)
	}
	if len(d.out.Events) > 0 {
		d.events = append(d.events, d.out.Events...)
	}
	// Reset at once, so that one reply buffer serves the whole batch.
	d.out.Reset()
}

// send queues one frame on fr. When every send buffer is in flight (a
// device that does not take frames as fast as they come) it waits, as the
// poll loop does, up to txWait for the device to take one, so that the host
// slows down with its device rather than drop; once the device has taken
// nothing for txWait, the rest of the batch is dropped without waiting, and
// counted.
func (d *Driver) send(frame []byte) {
	err := d.fr.Send(frame)
	if err == uring.ErrSendFull && !d.closing.Load() {
		if d.sendUntil.IsZero() {
			d.sendUntil = time.Now().Add(txWait)
		}
		if d.locked {
			d.mu.Unlock() // Snapshot and Exec need not wait for the device
		}
		if d.fr.WaitSendable(d.sendUntil) {
			err = d.fr.Send(frame)
			d.sendUntil = time.Time{} // it moves: the next wait starts afresh
		}
		if d.locked {
			d.mu.Lock()
		}
	}
	if err != nil {
		d.unsent++
	}
}

// queue hands the loop's output to fr, to be written by the next Exchange,
// and reports the batch's events.
func (d *Driver) queue() {
	for _, f := range d.out.Frames {
		d.send(f)
	}
	d.events = append(d.events, d.out.Events...)
	d.out.Reset()
	d.report(d.events)
	clear(d.events)
	d.events = d.events[:0]
}

// account brings fr's counters into the host's, with mu held: frames that
// could not be sent, and frames too long to receive. It returns why the
// device is gone if a write said so.
func (d *Driver) account() error {
	st := d.fr.Stats()
	if n := d.unsent + st.SendErrors - d.seen.SendErrors; n > 0 {
		d.h.Count(netcore.TxDropped, n)
	}
	d.unsent = 0
	if n := st.RxTooLong - d.seen.RxTooLong; n > 0 {
		d.h.Count(netcore.RxFrames, n)
		d.h.Count(netcore.RxTooBig, n)
	}
	var cause error
	if st.SendErrors != d.seen.SendErrors {
		cause = d.writeGone(st.LastSendErr)
	}
	d.seen = st
	return cause
}

// writeGone returns why the device is gone if a write's error says it is,
// or nil. (Apart from account, whose every call it would cost an
// allocation: errors.As moves its target to the heap.)
func (d *Driver) writeGone(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && isGone(errno) {
		return fmt.Errorf("write %s: %w", d.dev.Name(), errno)
	}
	return nil
}

// ringError says why fr stopped, in the words of the poll loop.
func (d *Driver) ringError(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("read %s: end of file (the other side closed)", d.dev.Name())
	case errors.As(err, &errno) && errno == unix.EBADFD:
		// What a tap's descriptor says once its interface is deleted.
		return fmt.Errorf("read %s: %w: the interface was removed", d.dev.Name(), errno)
	}
	return fmt.Errorf("%s: %w", d.dev.Name(), err)
}

// discard takes the frames that arrive during the last Exchange at Close,
// as a closed device would have left them unread.
func discard([]byte) {}

// stopRing is stop for the io_uring loop; it closes fr.
func (d *Driver) stopRing(cause error) {
	gone := d.halt(cause)
	d.queue()
	if !gone {
		d.fr.Exchange(0, discard) // Close: a last try, without waiting
	}
	if err := d.fr.Close(); err != nil {
		d.opts.logger.Debug("driver: closing the ring", "dev", d.dev.Name(), "err", err)
	}
	d.mu.Lock()
	d.account() // writes that failed on the way out
	d.mu.Unlock()
}

// report hands events to onEvent.
func (d *Driver) report(events []netcore.Event) {
	if d.onEvent == nil {
		return
	}
	for _, e := range events {
		d.onEvent(e)
	}
}

// isGone reports whether a write error means the device no longer exists
// (a deleted tap, a closed pair) rather than that one frame failed.
func isGone(err error) bool {
	switch err {
	case unix.EBADFD, unix.EBADF, unix.ENODEV, unix.ENXIO, unix.EPIPE, unix.ECONNRESET, unix.ENOTCONN, unix.ENETDOWN:
		return true
	}
	return false
}

// hungUp reports whether fd's other side has closed: a zero-length read
// means that or an empty message, and only poll tells them apart.
func hungUp(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// pollFlags names the error bits of a poll result.
func pollFlags(revents int16) string {
	var s string
	for _, f := range []struct {
		bit  int16
		name string
	}{{unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLNVAL, "POLLNVAL"}} {
		if revents&f.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += f.name
		}
	}
	return s
}

// waker is an eventfd that interrupts the loop's poll.
type waker struct {
	fd  int
	buf [8]byte
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: fd}, nil
}

// signal wakes the poller. Any non-zero count wakes it (so byte order does
// not matter), and a full counter already means "wake up": errors do not
// matter either.
func (w *waker) signal() {
	if w.fd < 0 {
		return
	}
	one := [8]byte{1}
	unix.Write(w.fd, one[:])
}

// drain resets the counter; only the poller calls it.
func (w *waker) drain() { unix.Read(w.fd, w.buf[:]) }

func (w *waker) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
}
