package devices

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"

	"github.com/smolfs/smolfs/devices/uring"
	"github.com/smolfs/smolfs/netcore"
)

// ringSizes size a loop's ring (see uring.FramesConfig).
type ringSizes struct {
	rx, tx, txPerFd, fds int
}

// singleSizes are NewDriver's: one host, the buffers its io_uring loop
// measured best with (devices/uring/README.md).
var singleSizes = ringSizes{rx: 256, tx: 256, txPerFd: 256, fds: 1}

// poolSizes are a Pool loop's, shared by its hosts. The receive buffers
// outnumber a tap's queue (500 frames), so that one flooded tap cannot take
// them all in one turn; a host may hold a quarter of the send buffers, so
// that devices whose writes do not complete (a full socket; a tap's
// complete at once) leave the others room. 1.5 MB a loop, populated.
var poolSizes = ringSizes{rx: 512, tx: 256, txPerFd: 64, fds: 4096}

// Pool runs many hosts on a small fixed number of loops, each a goroutine
// locked to its OS thread that serves its hosts' devices through one ring
// (or one epoll set) with one pool of buffers: threads and memory grow with
// the cores, not with the hosts. A loop starts with its first host; hosts
// go to the loop with the fewest.
type Pool struct {
	opts  options
	sizes ringSizes

	mu      sync.Mutex
	loops   []*loop
	hosts   []int // per loop
	drivers map[*Driver]struct{}
	closed  bool
}

// NewPool makes a pool of n loops (n <= 0: one per CPU the Go scheduler
// uses, GOMAXPROCS).
func NewPool(n int, opts ...Option) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return newPool(n, poolSizes, makeOptions(opts))
}

func newPool(n int, sizes ringSizes, o options) *Pool {
	p := &Pool{opts: o, sizes: sizes, drivers: map[*Driver]struct{}{}}
	p.loops = make([]*loop, n)
	p.hosts = make([]int, n)
	return p
}

// ErrPoolFull is Start's error when every loop serves as many hosts as its
// ring has room for.
var ErrPoolFull = errors.New("every loop serves as many hosts as it can")

// Start runs h on dev on one of the pool's loops and returns its driver.
// onEvent and onWake (either may be nil) are called on the loop's
// goroutine, outside the host's lock, in order: onEvent with the host's
// events, onWake with every conversation in the Wake list of an Output the
// host produced (from a frame, a timer, Exec or Do). Both may call
// Snapshot, Exec or Do, but not Close, and must not block: the loop's other
// hosts wait for them. It fails (EIO) once the pool is closed.
func (p *Pool) Start(h *netcore.Host, dev Device, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) (*Driver, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%s: %w: %w", dev.Name(), syscall.EIO, ErrClosed)
	}
	best := -1
	for i, n := range p.hosts {
		if n < p.sizes.fds && (best < 0 || n < p.hosts[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("%s: %w: %w (%d loops of %d)", dev.Name(), syscall.ENOSPC, ErrPoolFull, len(p.loops), p.sizes.fds)
	}
	l := p.loops[best]
	if l == nil {
		var err error
		name := fmt.Sprintf("loop %d", best)
		if p.sizes.fds == 1 {
			name = dev.Name()
		}
		if l, err = newLoop(name, p); err != nil {
			return nil, err
		}
		p.loops[best] = l
	}
	d := newDriver(h, dev, onEvent, onWake)
	d.loop, d.pool = l, p
	p.hosts[best]++
	p.drivers[d] = struct{}{}
	l.attach(d)
	return d, nil
}

// forget takes a closed driver out of the pool's count.
func (p *Pool) forget(d *Driver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.drivers[d]; !ok {
		return
	}
	delete(p.drivers, d)
	for i, l := range p.loops {
		if l == d.loop {
			p.hosts[i]--
		}
	}
}

// Close closes every driver still running and ends the loops.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	drivers := make([]*Driver, 0, len(p.drivers))
	for d := range p.drivers {
		drivers = append(drivers, d)
	}
	p.mu.Unlock()
	for _, d := range drivers {
		d.Close()
	}
	for _, l := range p.loops {
		if l != nil {
			l.stop()
		}
	}
}

// Backends says which back end each started loop runs ("io_uring" or
// "poll"), for tests and logs.
func (p *Pool) Backends() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b []string
	for _, l := range p.loops {
		if l == nil {
			continue
		}
		if l.ring.Load() {
			b = append(b, "io_uring")
		} else {
			b = append(b, "poll")
		}
	}
	return b
}

// framesConfig is the ring configuration of a loop of p.
func (p *Pool) framesConfig(wakeFd int) uring.FramesConfig {
	return uring.FramesConfig{FrameSize: ringFrameSize, RxBuffers: p.sizes.rx, TxBuffers: p.sizes.tx,
		TxPerFd: p.sizes.txPerFd, MaxFds: p.sizes.fds, WakeFd: wakeFd}
}
