package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/ctl"
)

// The blocking conversation operations. The host never blocks: an
// operation that would wait returns netcore.ErrWouldBlock, and the host
// names the conversation in its Output's Wake list once its readiness
// changes; the driver hands those names to waiters.wake. Each operation
// here is a loop: try it with the driver's Do, and on ErrWouldBlock wait
// for the conversation's wake-up, the request's context (Tflush, a
// client's disconnect) or the host's end, then try again.
//
// Conversations are named by netcore.ConvRef (transport, number and the
// number's generation) rather than by transport and number: a file walked
// to udp/3 must not reach a later conversation that reused the number 3.

// waiters are the requests blocked on one host's conversations.
type waiters struct {
	mu   sync.Mutex
	m    map[netcore.ConvRef]*waiter
	gone chan struct{} // closed when the host stops: every wait ends
	once sync.Once
}

// waiter is the wake-up of one conversation: ch is closed (and replaced)
// at every wake, so that everyone waiting on it sees it.
type waiter struct {
	ch chan struct{}
	n  int // operations using it
}

func newWaiters() *waiters {
	return &waiters{m: map[netcore.ConvRef]*waiter{}, gone: make(chan struct{})}
}

// wake is the driver's onWake: cheap, never blocking.
func (w *waiters) wake(r netcore.ConvRef) {
	w.mu.Lock()
	if x := w.m[r]; x != nil {
		close(x.ch)
		x.ch = make(chan struct{})
	}
	w.mu.Unlock()
}

func (w *waiters) get(r netcore.ConvRef) *waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	x := w.m[r]
	if x == nil {
		x = &waiter{ch: make(chan struct{})}
		w.m[r] = x
	}
	x.n++
	return x
}

func (w *waiters) put(r netcore.ConvRef, x *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x.n--; x.n == 0 {
		delete(w.m, r)
	}
}

func (w *waiters) current(x *waiter) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return x.ch
}

// stop ends every wait, for good.
func (w *waiters) stop() { w.once.Do(func() { close(w.gone) }) }

// op is one try of a conversation operation, run under the host's lock.
type op func(h *netcore.Host, now time.Time, out *netcore.Output) error

// do runs op once.
func (h *Host) do(fn op) error {
	var err error
	if derr := h.drv.Do(func(nh *netcore.Host, now time.Time, out *netcore.Output) { err = fn(nh, now, out) }); derr != nil {
		return derr
	}
	return err
}

// block runs fn until it does not return ErrWouldBlock, waiting for ref's
// wake-ups in between, or until ctx is done or the host stops.
func (h *Host) block(ctx context.Context, ref netcore.ConvRef, fn op) error {
	var w *waiter
	var ch chan struct{}
	for {
		err := h.do(fn)
		if err != netcore.ErrWouldBlock {
			return err
		}
		if w == nil {
			// Waiting from now on: try once more, so that a wake-up
			// between the try and the registration is not missed.
			w = h.waits.get(ref)
			defer h.waits.put(ref, w)
			ch = h.waits.current(w)
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return &ctl.CommandError{Errno: syscall.EINTR, Err: fmt.Errorf("interrupted: %w", context.Cause(ctx))}
		case <-h.waits.gone:
			return &ctl.CommandError{Errno: syscall.EIO, Err: fmt.Errorf("host %s has stopped", h.name)}
		}
		ch = h.waits.current(w)
	}
}

// file names a conversation's file in messages: tap0/udp/3/ctl.
func (h *Host) file(ref netcore.ConvRef, name string) string {
	return fmt.Sprintf("%s/%s/%d/%s", h.name, ref.Proto, ref.N, name)
}

// named puts file in err's CommandError (or makes one of err's class).
func named(file string, err error) error {
	if err == nil {
		return nil
	}
	var ce *ctl.CommandError
	if errors.As(err, &ce) {
		c := *ce
		c.File = file
		return &c
	}
	return &ctl.CommandError{File: file, Errno: ctl.Errno(err), Err: err}
}

// Protos lists the host's transports.
func (h *Host) Protos() []netcore.Proto {
	var ps []netcore.Proto
	h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		ps = nh.Protos()
		return nil
	})
	return ps
}

// Clone makes a new conversation of p, with one reference: the clone file
// that made it (ConvClose lets go of it).
func (h *Host) Clone(p netcore.Proto) (netcore.ConvRef, error) {
	var ref netcore.ConvRef
	err := h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		var err error
		ref, err = nh.ConvClone(p)
		return err
	})
	return ref, named(fmt.Sprintf("%s/%s/clone", h.name, p), err)
}

// ConvOpen takes one more reference to a conversation, for a file of it
// being opened.
func (h *Host) ConvOpen(ref netcore.ConvRef) error {
	return named(h.file(ref, ""), h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		return nh.ConvOpen(ref)
	}))
}

// ConvClose lets go of a reference; the last one releases the
// conversation. On a host that has stopped there is nothing to let go of.
func (h *Host) ConvClose(ref netcore.ConvRef) {
	h.do(func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		nh.ConvClose(now, ref, out)
		return nil
	})
}

// Convs lists the conversations of p that files can reach.
func (h *Host) Convs(p netcore.Proto) []netcore.ConvRef {
	var refs []netcore.ConvRef
	h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		refs = nh.Convs(p)
		return nil
	})
	return refs
}

// ConvInfo describes a conversation (its local, remote, status and err
// files).
func (h *Host) ConvInfo(ref netcore.ConvRef) (netcore.ConvInfo, error) {
	var info netcore.ConvInfo
	err := h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		var err error
		info, err = nh.ConvInfo(ref)
		return err
	})
	return info, named(h.file(ref, ""), err)
}

// ProtoStats renders p's counters (its stats file).
func (h *Host) ProtoStats(p netcore.Proto) ([]byte, error) {
	var b []byte
	err := h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		var err error
		b, err = nh.AppendProtoStats(make([]byte, 0, 512), p)
		return err
	})
	return b, named(fmt.Sprintf("%s/%s/stats", h.name, p), err)
}

// ConvCtl applies a write to a conversation's ctl file: its commands in
// order, each carried out before the next is tried (a TCP connect waits
// until the connection is made or fails). A command that fails stops the
// write, after those before it took effect, and is logged with its reason.
func (h *Host) ConvCtl(ctx context.Context, ref netcore.ConvRef, text []byte) error {
	file := h.file(ref, "ctl")
	cmds, err := ctl.ParseConv(file, text)
	if err != nil {
		reason := err
		var ce *ctl.CommandError
		if errors.As(err, &ce) {
			reason = ce.Err
		}
		h.do(func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
			nh.ConvNoteErr(ref, reason)
			return nil
		})
		h.stack.failed(err)
		return err
	}
	for _, cmd := range cmds {
		err := h.block(ctx, ref, func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
			return nh.ConvCtl(now, ref, cmd, out)
		})
		if err != nil {
			err = named(file, err)
			h.stack.failed(err)
			return err
		}
	}
	return nil
}

// ConvRead reads one datagram (or bytes of a stream) into b, waiting for
// one: 0 and io.EOF at the end of a stream.
func (h *Host) ConvRead(ctx context.Context, ref netcore.ConvRef, b []byte) (int, error) {
	var n int
	err := h.block(ctx, ref, func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		var err error
		n, err = nh.ConvRead(now, ref, b, out)
		return err
	})
	return n, h.readErr(ref, err)
}

// readErr names a read's error, but for the end of a stream, which is
// not one.
func (h *Host) readErr(ref netcore.ConvRef, err error) error {
	if err == io.EOF {
		return err
	}
	return named(h.file(ref, "data"), err)
}

// ConvTryRead is ConvRead that never waits: netcore.ErrWouldBlock when
// nothing is queued.
func (h *Host) ConvTryRead(ref netcore.ConvRef, b []byte) (int, error) {
	var n int
	err := h.do(func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		var err error
		n, err = nh.ConvRead(now, ref, b, out)
		return err
	})
	if err == netcore.ErrWouldBlock {
		return 0, err
	}
	return n, h.readErr(ref, err)
}

// ConvTryWrite is ConvWrite that never waits: it takes all of b, or
// nothing and netcore.ErrWouldBlock when the transport has no room for
// all of it now.
func (h *Host) ConvTryWrite(ref netcore.ConvRef, b []byte) (int, error) {
	var n int
	err := h.do(func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		var err error
		n, err = nh.ConvWriteWhole(now, ref, b, out)
		return err
	})
	if err == netcore.ErrWouldBlock {
		return 0, err
	}
	return n, named(h.file(ref, "data"), err)
}

// ConvWrite sends b as one datagram (or bytes of a stream), waiting for
// room while the transport has none: it returns once all of b is taken
// (or with how much was, and the error that stopped it).
func (h *Host) ConvWrite(ctx context.Context, ref netcore.ConvRef, b []byte) (int, error) {
	done := 0
	err := h.block(ctx, ref, func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		n, err := nh.ConvWrite(now, ref, b[done:], out)
		done += n
		if err == nil && done < len(b) {
			return netcore.ErrWouldBlock // a stream took part: wait for room for the rest
		}
		return err
	})
	return done, named(h.file(ref, "data"), err)
}

// ConvListen waits for a call to an announced conversation and returns
// the call's conversation, with one reference (the listen file that took
// it).
func (h *Host) ConvListen(ctx context.Context, ref netcore.ConvRef) (netcore.ConvRef, error) {
	var call netcore.ConvRef
	err := h.block(ctx, ref, func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
		var err error
		call, err = nh.ConvAccept(now, ref, out)
		return err
	})
	return call, named(h.file(ref, "listen"), err)
}
