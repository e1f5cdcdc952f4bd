package devices

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	netctl "github.com/smolfs/smolfs/netcore/ctl"
)

// Errors of a Driver whose device has stopped. Exec and Do wrap them in a
// ctl.CommandError of class EIO.
var (
	ErrDeviceGone = errors.New("device gone")   // the device failed or was removed
	ErrClosed     = errors.New("device closed") // Close was called
)

// Option changes how NewDriver or NewPool sets things up.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	pollLoop bool
	onWake   func(netcore.ConvRef)
}

// pollOnly makes every new loop run the poll back end, as on a kernel
// without io_uring, so that tests can cover both back ends on any kernel.
var pollOnly bool

// WithLogger sends the loops' debug messages (which back end they run, and
// why not the io_uring one) to l rather than to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithPollLoop makes every loop of the pool run the poll back end, the one
// that serves taps with offloads (OpenTapOffload): it reads frames of any
// length and writes the virtio-net header.
func WithPollLoop() Option {
	return func(o *options) { o.pollLoop = true }
}

// WithWake gives NewDriver the host's onWake callback (see Pool.Start).
func WithWake(onWake func(netcore.ConvRef)) Option {
	return func(o *options) { o.onWake = onWake }
}

func makeOptions(opts []Option) options {
	o := options{pollLoop: pollOnly}
	for _, f := range opts {
		f(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// Driver runs one netcore.Host on a Device with the real clock, on a loop
// that it may share with many other hosts (see Pool). The loop's goroutine
// owns the fd: it reads frames, hands them to the host, writes the frames
// the host answers with and runs its timers. The host is not safe for
// concurrent use, so a mutex per host serialises the loop's calls with
// Snapshot, Exec and Do, which the file server makes from many goroutines;
// the loop holds it for one frame, or one timer run, at a time.
//
// The promises, whichever back end the loop runs: Exec and Do wake the
// loop, which sends what they produced; Close ends the host's part at once
// (its loop goes on serving the others); a device that goes away takes its
// host down with an event and Err set, while the loop's other hosts keep
// running; a full device drops and counts what it will not take
// (tx_dropped) once it has taken nothing for 10 ms; nothing is allocated
// per frame; capture readers are woken once per batch.
type Driver struct {
	name    string
	h       *netcore.Host
	dev     Device
	onEvent func(netcore.Event)
	onWake  func(netcore.ConvRef)
	loop    *loop
	pool    *Pool
	own     bool          // NewDriver's: its pool goes with it
	done    chan struct{} // closed once the loop has let go of the device

	mu      sync.Mutex      // guards h and the fields below
	pending *netcore.Output // what Exec and Do produced, for the loop to send
	queued  bool            // in the loop's ready list
	stopped bool            // the loop has let go of the device: nothing more is sent
	err     error           // why the device stopped, wrapping ErrDeviceGone

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// Owned by the loop's goroutine.
	port      int       // the back end's number for the device; -1: not served
	finished  bool      // done is closed (or about to be, after the batch)
	deadline  time.Time // the host's next timer as the loop's heap has it
	heapAt    int       // index in the loop's timer heap; -1: not in it
	touched   bool      // in the loop's list of hosts of this batch
	unsent    uint64    // frames of this batch that were dropped
	tooLong   uint64    // frames of this batch too long to receive
	sendUntil time.Time // when a full device's grace ends; zero: none
	cause     error     // why the device stopped, found during the batch
}

// NewDriver starts a driver for h on dev, on a loop of its own: the
// goroutine and OS thread that serve it end with Close. Servers with many
// hosts share a few loops through a Pool instead. onEvent (which may be
// nil) gets the host's events, in order, on the loop's goroutine, outside
// the lock: it may call Snapshot, Exec or Do, but not Close, and should
// not block long, as the loop's hosts wait for it.
func NewDriver(h *netcore.Host, dev Device, onEvent func(netcore.Event), opts ...Option) *Driver {
	o := makeOptions(opts)
	p := newPool(1, singleSizes, o)
	d, err := p.Start(h, dev, onEvent, o.onWake)
	if err != nil {
		// No loop without a way to stop it: the host is down from the start.
		return downDriver(h, dev, onEvent, o.onWake, err)
	}
	d.own = true
	return d
}

func newDriver(h *netcore.Host, dev Device, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) *Driver {
	d := &Driver{
		name:    h.Name(),
		h:       h,
		dev:     dev,
		onEvent: onEvent,
		onWake:  onWake,
		done:    make(chan struct{}),
		pending: new(netcore.Output),
		port:    -1,
		heapAt:  -1,
	}
	if d.name == "" {
		d.name = dev.Name()
	}
	return d
}

// downDriver is a driver whose device could not be served at all: its host
// is down with cause, as if the device had gone at once.
func downDriver(h *netcore.Host, dev Device, onEvent func(netcore.Event), onWake func(netcore.ConvRef), cause error) *Driver {
	d := newDriver(h, dev, onEvent, onWake)
	d.stopped = true
	d.err = fmt.Errorf("%w: %w", ErrDeviceGone, cause)
	d.h.SetDown(time.Now(), d.err.Error(), d.pending)
	close(d.done)
	d.report(d.pending)
	d.pending.Reset()
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
// are sent by the loop right after. Once the device has gone, `up` fails
// with a CommandError of class EIO that says why, and other commands still
// apply; after Close every command fails with class EIO.
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
	d.handOver()
	return err
}

// Do runs fn on the host under its lock, with the time now and the Output
// that the loop then handles as Exec's: frames sent, events reported,
// conversations woken. It fails with a CommandError of class EIO, without
// running fn, once the driver is closed or its device gone.
func (d *Driver) Do(fn func(h *netcore.Host, now time.Time, out *netcore.Output)) error {
	now := time.Now()
	d.mu.Lock()
	var err error
	switch {
	case d.closing.Load():
		err = ErrClosed
	case d.err != nil:
		err = d.err
	}
	if err != nil {
		d.mu.Unlock()
		return &netctl.CommandError{File: d.name, Errno: syscall.EIO, Err: err}
	}
	before := d.h.Deadline()
	fn(d.h, now, d.pending)
	if p := d.pending; d.queued || len(p.Frames)+len(p.Events)+len(p.Wake) == 0 && d.h.Deadline().Equal(before) {
		// The loop has nothing new to do, or will take it anyway:
		// waking it would cost a system call and a turn of the loop for
		// every conversation read (two of them per datagram a reader
		// takes, and as many for a read that finds nothing).
		d.mu.Unlock()
		return nil
	}
	d.handOver()
	return nil
}

// handOver gives what a call left in d.pending (and any change to the
// host's timers) to the loop, and unlocks d.mu.
func (d *Driver) handOver() {
	if !d.stopped {
		if !d.queued {
			d.queued = true
			d.loop.ready(d)
		}
		d.mu.Unlock()
		d.loop.wake.signal()
		return
	}
	// Nobody will send these: account for them here, and report the
	// rest from this goroutine (rare, so the copy may allocate).
	if n := len(d.pending.Frames); n > 0 {
		d.h.Count(netcore.TxDropped, uint64(n))
	}
	out := &netcore.Output{Events: append([]netcore.Event(nil), d.pending.Events...),
		Wake: append([]netcore.ConvRef(nil), d.pending.Wake...)}
	d.pending.Reset()
	d.mu.Unlock()
	d.report(out)
}

// report hands out's events and wake-ups to the callbacks.
func (d *Driver) report(out *netcore.Output) {
	if d.onEvent != nil {
		for _, e := range out.Events {
			d.onEvent(e)
		}
	}
	if d.onWake != nil {
		for _, w := range out.Wake {
			d.onWake(w)
		}
	}
}

// Close ends the host's part in its loop (at once, even while the loop
// waits), sends what Exec left pending if the device takes it without
// waiting, closes the device and ends every capture subscription. It
// returns the device's Close error; later calls return the same.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.closing.Store(true)
		d.mu.Lock()
		served := !d.stopped
		d.mu.Unlock()
		if served {
			d.loop.close(d)
		}
		<-d.done
		d.closeErr = d.dev.Close()
		d.h.Capture().Close()
		if d.pool != nil {
			d.pool.forget(d)
			if d.own {
				d.pool.Close()
			}
		}
	})
	return d.closeErr
}
