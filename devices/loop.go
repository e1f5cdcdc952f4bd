package devices

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/devices/uring"
	"github.com/smolfs/smolfs/netcore"
)

// Loop limits.
const (
	// rxBatch bounds the frames the poll back end reads from one device
	// per turn, so that replies go out, timers run and the other devices
	// get their turn even under a flood.
	rxBatch = 64
	// maxFrameLen covers a tap with the largest MTU (65535) and its header.
	maxFrameLen = 1<<16 + 64
	// txWait is how long the loop waits for a full device to take a frame
	// before it drops what it has for it: a device that takes nothing for
	// this long is stuck, one that is slow but moving slows the loop (and,
	// as the loop stops reading, its peer) rather than losing frames.
	// Close and commands never wait for it.
	txWait = 10 * time.Millisecond
	// txGraceAgain is how long after a full device's grace ran out it
	// gets another: until then (or until it takes a frame) its frames are
	// dropped at once, so that a stuck device costs the loop's other hosts
	// at most txWait in every txGraceAgain.
	txGraceAgain = time.Second
	// ringFrameSize is the largest frame the io_uring back end receives: a
	// 1500-byte MTU, the Ethernet header and a VLAN tag fit, and so does
	// anything a host (MTU at most netcore.MaxMTU) would not refuse as too
	// big anyway. Longer frames, from a tap whose kernel side has a larger
	// MTU, are counted as rx_frames and rx_too_big without being captured.
	ringFrameSize = 2048
)

// frameIO is what the loop needs of a back end: moving whole frames
// between the loop and many devices' fds, each known by a port number the
// back end gives it. It hands what comes in to the loop's Frame, TooLong,
// SendFailed and Stopped (uring.Receiver), and leaves every decision (what
// a failure means, when to drop) to the loop.
type frameIO interface {
	add(fd int) (port int, err error)
	// remove stops serving port, after a last try (without waiting) at
	// what is queued for it; lost counts the frames that then failed.
	remove(port int) (lost int)
	// send writes or queues a frame; errSendFull: no room now.
	send(port int, frame []byte) error
	// waitSendable waits until port has room, until, or the loop's
	// urgent flag is raised, and reports whether it has room.
	waitSendable(port int, until time.Time) bool
	// exchange writes what is queued, waits up to timeout (negative: no
	// limit) for frames or the loop's wake-up, and hands over what came.
	// Its error is the back end's own failure, which ends it.
	exchange(timeout time.Duration) (woken bool, err error)
	close()
}

// errSendFull is a back end's "no room now".
var errSendFull = uring.ErrSendFull

// loop is one goroutine, locked to its OS thread, serving many hosts'
// devices through one back end. Each turn waits for frames, the wake-up or
// the next timer; hands every frame to its host, locking that host for the
// frame; takes what Exec and Do left; runs the timers due; then, per host
// of the batch, counts the drops and wakes the capture readers once.
// Events and wake-ups are reported after the batch, outside every lock.
type loop struct {
	name string
	pool *Pool
	wake *waker

	mu       sync.Mutex // guards the request lists
	attaches []*Driver
	readies  []*Driver
	closes   []*Driver
	stopping bool

	// urgent: a Close is waiting, or the pool's: a wait for a full device
	// gives up.
	urgent atomic.Bool
	ring   atomic.Bool // the back end is io_uring
	done   chan struct{}

	// Owned by the loop's goroutine.
	io          frameIO
	ports       []*Driver // by port
	timers      timerHeap
	out         *netcore.Output // a frame's or a timer's output
	spare       *netcore.Output // swapped with a host's pending output
	batch       []*Driver       // hosts touched in this turn
	events      []hostEvent
	wakes       []hostWake
	gone        []*Driver // devices found gone in this turn
	finishing   []*Driver // hosts whose done closes after this turn's reports
	taken       [3][]*Driver
	interrupted func() bool
}

type hostEvent struct {
	d *Driver
	e netcore.Event
}

type hostWake struct {
	d   *Driver
	ref netcore.ConvRef
}

func newLoop(name string, p *Pool) (*loop, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	l := &loop{name: name, pool: p, wake: w, done: make(chan struct{}),
		out: new(netcore.Output), spare: new(netcore.Output)}
	l.interrupted = l.urgent.Load
	go l.run()
	return l, nil
}

// attach, ready and close are the requests other goroutines make; each
// wakes the loop.
func (l *loop) attach(d *Driver) { l.request(&l.attaches, d) }

// ready is called with d.mu held.
func (l *loop) ready(d *Driver) {
	l.mu.Lock()
	l.readies = append(l.readies, d)
	l.mu.Unlock()
}

func (l *loop) close(d *Driver) {
	l.urgent.Store(true)
	l.request(&l.closes, d)
}

func (l *loop) request(list *[]*Driver, d *Driver) {
	l.mu.Lock()
	*list = append(*list, d)
	l.mu.Unlock()
	l.wake.signal()
}

// stop ends the loop once its hosts are closed.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.urgent.Store(true)
	l.wake.signal()
	<-l.done
	l.wake.close()
}

func (l *loop) run() {
	defer close(l.done)
	// A multishot read's completion work runs on the thread that armed
	// it: on the waiting thread, if the loop keeps to one, rather than on
	// whichever idle thread the goroutine left behind, which the kernel
	// must then wake. Measured with netbench: CPU per reply 1.6 / 2.0 µs
	// (ARP / ICMP) against 1.8 / 2.4 unlocked, and a shorter latency tail.
	// It also bounds the threads: one per loop.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.io = l.open()
	defer func() { l.io.close() }()
	for {
		woken, err := l.io.exchange(l.timeout())
		if err != nil {
			l.failed(err)
		}
		if woken {
			l.wake.drain() // before the requests: a later one wakes us again
		}
		stopping := l.takeRequests()
		for i, d := range l.taken[0] {
			l.start(d, time.Now())
			l.taken[0][i] = nil
		}
		for i, d := range l.taken[1] {
			l.take(d)
			l.taken[1][i] = nil
		}
		l.runTimers()
		for i, d := range l.taken[2] {
			l.retire(d)
			l.taken[2][i] = nil
		}
		if stopping {
			for _, d := range l.ports {
				if d != nil {
					l.retire(d)
				}
			}
		}
		l.endBatch()
		if stopping {
			return
		}
	}
}

// open sets up the back end: io_uring where the kernel has multishot
// reads, else epoll.
func (l *loop) open() frameIO {
	log := l.pool.opts.logger
	if !l.pool.opts.pollLoop {
		f, err := uring.NewFrames(l.pool.framesConfig(l.wake.fd))
		if err == nil {
			log.Debug("driver: io_uring loop", "loop", l.name)
			l.ring.Store(true)
			return &ringIO{f: f, l: l}
		}
		log.Debug("driver: io_uring unavailable, using the poll loop", "loop", l.name, "err", err)
	} else {
		log.Debug("driver: poll loop (forced)", "loop", l.name)
	}
	p, err := newPollIO(l)
	if err != nil {
		log.Error("driver: no back end: every device fails", "loop", l.name, "err", err)
		return &deadIO{err: err, wake: l.wake}
	}
	return p
}

// failed takes every host down when the back end itself fails (an
// io_uring_enter error), and goes on with the poll back end for hosts
// started later.
func (l *loop) failed(err error) {
	l.pool.opts.logger.Error("driver: the loop's back end failed; its hosts are down", "loop", l.name, "err", err)
	for _, d := range l.ports {
		if d != nil && d.cause == nil {
			d.cause = fmt.Errorf("%s: %w", d.dev.Name(), err)
			l.gone = append(l.gone, d)
		}
	}
	l.endBatch()
	l.io.close()
	l.ring.Store(false)
	if p, perr := newPollIO(l); perr == nil {
		l.io = p
	} else {
		l.io = &deadIO{err: err, wake: l.wake}
	}
}

// takeRequests takes the lists other goroutines filled, without copying.
func (l *loop) takeRequests() (stopping bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.taken[0], l.attaches = l.attaches, l.taken[0][:0]
	l.taken[1], l.readies = l.readies, l.taken[1][:0]
	l.taken[2], l.closes = l.closes, l.taken[2][:0]
	l.urgent.Store(false)
	return l.stopping
}

// timeout is how long the back end may wait: until the next timer.
func (l *loop) timeout() time.Duration {
	if len(l.timers) == 0 {
		return -1
	}
	return max(time.Until(l.timers[0].deadline), 0)
}

// start begins serving d's device and makes the host's first Poll (its
// first announcement).
func (l *loop) start(d *Driver, now time.Time) {
	port, err := l.io.add(d.dev.Fd())
	if err == nil {
		if v, ok := d.dev.(vnetDevice); ok && v.vnetHdr() {
			// Only the poll back end reads frames longer than a
			// ring buffer and writes the header.
			if p, isPoll := l.io.(*pollIO); isPoll {
				p.vnet[port] = true
			} else {
				l.io.remove(port)
				err = fmt.Errorf("a tap with offloads needs the poll back end")
			}
		}
	}
	if err != nil {
		d.cause = fmt.Errorf("%s: %w", d.dev.Name(), err)
		l.gone = append(l.gone, d)
		return
	}
	for port >= len(l.ports) {
		l.ports = append(l.ports, nil)
	}
	l.ports[port] = d
	d.port = port
	d.mu.Lock()
	d.h.Poll(now, l.out)
	dl := d.h.Deadline()
	d.mu.Unlock()
	l.setTimer(d, dl)
	l.flush(d, l.out)
}

// take sends what Exec or Do left for d and takes up its timers.
func (l *loop) take(d *Driver) {
	d.mu.Lock()
	d.queued = false
	if d.port < 0 || d.cause != nil {
		d.mu.Unlock()
		return
	}
	// Swapped, not copied: both Outputs keep their buffers in use.
	d.pending, l.spare = l.spare, d.pending
	dl := d.h.Deadline()
	d.mu.Unlock()
	l.setTimer(d, dl)
	l.flush(d, l.spare)
}

// Frame hands a frame from port's device to its host (uring.Receiver).
func (l *loop) Frame(port int, frame []byte) { l.FrameOffloaded(port, frame, netcore.RxOffload{}) }

// FrameOffloaded hands a frame of a device with offloads to its host.
func (l *loop) FrameOffloaded(port int, frame []byte, o netcore.RxOffload) {
	d := l.ports[port]
	if d.cause != nil {
		return
	}
	l.touch(d)
	// The clock per frame, so that captured frames keep distinct times:
	// reading it once per batch saved nothing netbench could measure
	// (time.Now costs 127 ns here, against 1.8-2.4 µs per reply).
	now := time.Now()
	d.mu.Lock()
	if o != (netcore.RxOffload{}) {
		d.h.ReceiveOffloaded(now, frame, o, l.out)
	} else {
		d.h.Receive(now, frame, l.out)
	}
	dl := d.h.Deadline()
	d.mu.Unlock()
	if dl != d.deadline {
		l.setTimer(d, dl)
	}
	l.flush(d, l.out)
}

// TooLong counts a frame too long to receive (uring.Receiver).
func (l *loop) TooLong(port int) {
	d := l.ports[port]
	l.touch(d)
	d.tooLong++
}

// SendFailed counts a frame a write failed to send; an error that says the
// device is gone takes its host down after the batch (uring.Receiver).
func (l *loop) SendFailed(port int, err error) {
	d := l.ports[port]
	l.touch(d)
	d.unsent++
	if d.cause == nil && isGone(err) {
		d.cause = fmt.Errorf("write %s: %w", d.dev.Name(), err)
		l.gone = append(l.gone, d)
	}
}

// Stopped takes port's host down after the batch: its device stopped
// reading (uring.Receiver).
func (l *loop) Stopped(port int, err error) {
	d := l.ports[port]
	if d.cause != nil {
		return
	}
	name := d.dev.Name()
	switch {
	case errors.Is(err, io.EOF):
		d.cause = fmt.Errorf("read %s: end of file (the other side closed)", name)
	case err == syscall.EBADFD:
		// What a tap's descriptor says once its interface is deleted.
		d.cause = fmt.Errorf("read %s: %w: the interface was removed", name, err)
	default:
		d.cause = fmt.Errorf("read %s: %w", name, err)
	}
	l.gone = append(l.gone, d)
}

// touch puts d in this turn's batch: its drops are counted and its capture
// readers woken once, at the end.
func (l *loop) touch(d *Driver) {
	if !d.touched {
		d.touched = true
		l.batch = append(l.batch, d)
		d.h.Capture().Hold()
	}
}

// flush sends out's frames to d's device and keeps its events and
// wake-ups for the end of the turn.
func (l *loop) flush(d *Driver, out *netcore.Output) {
	l.touch(d)
	for _, f := range out.Frames {
		l.send(d, f)
	}
	for _, e := range out.Events {
		l.events = append(l.events, hostEvent{d, e})
	}
	for _, w := range out.Wake {
		l.wakes = append(l.wakes, hostWake{d, w})
	}
	out.Reset()
}

// send sends one frame. A full device gets up to txWait to take it (a
// device that is slow but moving slows the loop rather than losing
// frames); once its grace has run out, its frames are dropped at once
// until it takes one again, or txGraceAgain later. Either way a drop is
// counted.
func (l *loop) send(d *Driver, frame []byte) {
	if d.cause != nil {
		d.unsent++
		return
	}
	err := l.io.send(d.port, frame)
	if err == errSendFull && !d.closing.Load() {
		now := time.Now()
		if d.sendUntil.IsZero() || now.Sub(d.sendUntil) > txGraceAgain {
			d.sendUntil = now.Add(txWait)
		}
		if now.Before(d.sendUntil) && l.io.waitSendable(d.port, d.sendUntil) {
			err = l.io.send(d.port, frame)
		}
	}
	switch {
	case err == nil:
		d.sendUntil = time.Time{} // it moves: the next wait starts afresh
	case err == errSendFull:
		d.unsent++
	default:
		l.SendFailed(d.port, err)
	}
}

// runTimers polls the hosts whose timers are due.
func (l *loop) runTimers() {
	if len(l.timers) == 0 {
		return
	}
	now := time.Now()
	for len(l.timers) > 0 && !l.timers[0].deadline.After(now) {
		d := l.timers[0]
		d.mu.Lock()
		d.h.Poll(now, l.out)
		dl := d.h.Deadline()
		d.mu.Unlock()
		if !dl.IsZero() && !dl.After(now) {
			// Poll left a timer in the past: wait a little rather
			// than spin.
			dl = now.Add(time.Millisecond)
		}
		l.setTimer(d, dl)
		l.flush(d, l.out)
	}
}

// retire ends d's part in the loop (Close, or the pool's): what Exec left
// is sent if the device takes it without waiting, and the back end lets go
// of the device.
func (l *loop) retire(d *Driver) {
	if d.finished {
		return
	}
	d.mu.Lock()
	d.queued = false
	d.stopped = true
	d.pending, l.spare = l.spare, d.pending
	d.mu.Unlock()
	if d.port >= 0 {
		l.flush(d, l.spare) // d.closing is set: no waiting
	}
	l.spare.Reset()
	l.detach(d)
}

// detach lets go of d's device and of its timers; done closes after the
// turn's reports.
func (l *loop) detach(d *Driver) {
	if d.port >= 0 {
		d.unsent += uint64(l.io.remove(d.port))
		l.ports[d.port] = nil
		d.port = -1
	}
	l.setTimer(d, time.Time{})
	d.finished = true
	l.finishing = append(l.finishing, d)
}

// halt takes down a host whose device failed, with an event, and lets go
// of the device. What Exec left is dropped and counted: there is nowhere
// to send it.
func (l *loop) halt(d *Driver) {
	if d.finished {
		return
	}
	now := time.Now()
	d.mu.Lock()
	if !d.closing.Load() {
		d.err = fmt.Errorf("%w: %w", ErrDeviceGone, d.cause)
		d.h.SetDown(now, d.err.Error(), d.pending)
	}
	d.stopped = true
	d.queued = false
	d.pending, l.spare = l.spare, d.pending
	d.mu.Unlock()
	d.unsent += uint64(len(l.spare.Frames))
	clear(l.spare.Frames)
	l.spare.Frames = l.spare.Frames[:0]
	l.touch(d)
	l.flush(d, l.spare) // the events and wake-ups only
	l.detach(d)
}

// endBatch ends a turn: hosts whose device failed go down, every host of
// the batch has its drops counted and its capture readers woken, and the
// events and wake-ups are reported, outside every lock. Then the hosts
// that left the loop are told so.
func (l *loop) endBatch() {
	for i, d := range l.gone {
		l.halt(d)
		l.gone[i] = nil
	}
	l.gone = l.gone[:0]
	for i, d := range l.batch {
		d.touched = false
		if d.unsent > 0 || d.tooLong > 0 {
			d.mu.Lock()
			if d.unsent > 0 {
				d.h.Count(netcore.TxDropped, d.unsent)
			}
			if d.tooLong > 0 {
				d.h.Count(netcore.RxFrames, d.tooLong)
				d.h.Count(netcore.RxTooBig, d.tooLong)
			}
			d.mu.Unlock()
			d.unsent, d.tooLong = 0, 0
		}
		d.h.Capture().Release()
		l.batch[i] = nil
	}
	l.batch = l.batch[:0]
	for i := range l.events {
		if e := &l.events[i]; e.d.onEvent != nil {
			e.d.onEvent(e.e)
		}
	}
	clear(l.events)
	l.events = l.events[:0]
	for i := range l.wakes {
		if w := &l.wakes[i]; w.d.onWake != nil {
			w.d.onWake(w.ref)
		}
	}
	clear(l.wakes)
	l.wakes = l.wakes[:0]
	for i, d := range l.finishing {
		close(d.done)
		l.finishing[i] = nil
	}
	l.finishing = l.finishing[:0]
}

// isGone reports whether a write error means the device no longer exists
// (a deleted tap, a closed pair) rather than that one frame failed.
func isGone(err error) bool {
	switch err {
	case syscall.EBADFD, syscall.EBADF, syscall.ENODEV, syscall.ENXIO, syscall.EPIPE, syscall.ECONNRESET, syscall.ENOTCONN, syscall.ENETDOWN:
		return true
	}
	return false
}

// setTimer files d under its host's next deadline (zero: none).
func (l *loop) setTimer(d *Driver, dl time.Time) {
	d.deadline = dl
	switch {
	case dl.IsZero():
		if d.heapAt >= 0 {
			l.timers.remove(d.heapAt)
		}
	case d.heapAt >= 0:
		l.timers.fix(d.heapAt)
	default:
		l.timers.push(d)
	}
}

// timerHeap orders hosts by their next deadline; each knows its index.
type timerHeap []*Driver

func (h *timerHeap) push(d *Driver) {
	d.heapAt = len(*h)
	*h = append(*h, d)
	h.up(d.heapAt)
}

func (h *timerHeap) remove(i int) {
	t := *h
	last := len(t) - 1
	t[i].heapAt = -1
	if i != last {
		t[i] = t[last]
		t[i].heapAt = i
	}
	t[last] = nil
	*h = t[:last]
	if i != last {
		h.fix(i)
	}
}

func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h timerHeap) less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapAt, h[j].heapAt = i, j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) bool {
	start := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}
