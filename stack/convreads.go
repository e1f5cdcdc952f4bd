package stack

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/ctl"
)

// Reads in batches. A reader that keeps several reads of a conversation's
// data in flight (smolfs listen does) has them answered together: one
// hold of the host's lock and one wake-up of the waiting side for all the
// datagrams (or bytes) that are there, rather than one of each per read,
// and a waiter registered once for as long as reads keep coming rather
// than once per read. The machinery is made once per reader (ConvReads),
// so that a batch allocates nothing.

// ReadFunc reads one datagram (or bytes of a stream) of a conversation
// into b: netcore.ErrWouldBlock when nothing is there, 0 and io.EOF at the
// end of a stream, other errors named for the data file. It is valid only
// inside the fill function it was given to.
type ReadFunc func(b []byte) (int, error)

// ConvReads serves a file's reads of a conversation with fill, which is
// called under the host's lock with the conversation's ReadFunc, reads for
// as many of its requests as it can, in order, and reports whether it
// stopped at a read that would block. One goroutine uses a ConvReads at a
// time.
type ConvReads struct {
	h       *Host
	ref     netcore.ConvRef
	fill    func(ReadFunc) (blocked bool)
	nh      *netcore.Host // set under the lock, for read
	now     time.Time
	out     *netcore.Output
	read    ReadFunc
	run     func(*netcore.Host, time.Time, *netcore.Output)
	blocked bool // what fill said last
}

// NewConvReads makes a ConvReads of the conversation ref.
func (h *Host) NewConvReads(ref netcore.ConvRef, fill func(ReadFunc) (blocked bool)) *ConvReads {
	r := &ConvReads{h: h, ref: ref, fill: fill}
	r.read = r.readOne
	r.run = func(nh *netcore.Host, now time.Time, out *netcore.Output) {
		r.nh, r.now, r.out = nh, now, out
		r.blocked = r.fill(r.read)
		r.nh, r.out = nil, nil
	}
	return r
}

func (r *ConvReads) readOne(b []byte) (int, error) {
	n, err := r.nh.ConvRead(r.now, r.ref, b, r.out)
	if err != nil && err != netcore.ErrWouldBlock && err != io.EOF {
		err = named(r.h.file(r.ref, "data"), err)
	}
	return n, err
}

// Try calls fill once, never waiting, and says whether it stopped at a
// read that would block; it fails only when the host can run nothing
// (EIO).
func (r *ConvReads) Try() (blocked bool, err error) {
	if err := r.h.drv.Do(r.run); err != nil {
		return false, err
	}
	return r.blocked, nil
}

// Serve calls fill until its reads are done. After each call, outside the
// lock, between hands on what fill answered (the replies go out) and says
// whether it is done, and if not, whether to wait: it is told whether fill
// stopped at a blocked read, and should not wait if requests came since
// that fill, which may have missed a wake-up that came before them. Serve
// calls fill again at once or once the conversation's readiness changes;
// ctx or the host's end stop the wait with an error (EINTR, EIO).
func (r *ConvReads) Serve(ctx context.Context, between func(blocked bool) (done, wait bool)) error {
	h := r.h
	w := h.waits.get(r.ref)
	defer h.waits.put(r.ref, w)
	for {
		// The channel is taken before the try, so that a wake-up
		// between the try and the wait is not missed.
		ch := h.waits.current(w)
		blocked, err := r.Try()
		if err != nil {
			return err
		}
		done, wait := between(blocked)
		if done {
			return nil
		}
		if !wait {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return &ctl.CommandError{Errno: syscall.EINTR, Err: fmt.Errorf("interrupted: %w", context.Cause(ctx))}
		case <-h.waits.gone:
			return &ctl.CommandError{Errno: syscall.EIO, Err: fmt.Errorf("host %s has stopped", h.name)}
		}
	}
}

// ConvWriter is ConvTryWrite made once per writer (a data file, written
// from one goroutine at a time), so that a write allocates nothing.
type ConvWriter struct {
	h   *Host
	ref netcore.ConvRef
	b   []byte
	n   int
	err error
	run func(*netcore.Host, time.Time, *netcore.Output)
}

// NewConvWriter makes a ConvWriter of the conversation ref.
func (h *Host) NewConvWriter(ref netcore.ConvRef) *ConvWriter {
	w := &ConvWriter{h: h, ref: ref}
	w.run = func(nh *netcore.Host, now time.Time, out *netcore.Output) {
		w.n, w.err = nh.ConvWriteWhole(now, w.ref, w.b, out)
	}
	return w
}

// TryWrite sends b as one datagram (or bytes of a stream), never waiting:
// all of b, or nothing and netcore.ErrWouldBlock when the transport has no
// room for all of it now (a stream's send buffer), so that the reply can
// say the whole write was taken.
func (w *ConvWriter) TryWrite(b []byte) (int, error) {
	w.b = b
	err := w.h.drv.Do(w.run)
	w.b = nil
	if err == nil {
		err = w.err
	}
	if err != nil && err != netcore.ErrWouldBlock {
		err = named(w.h.file(w.ref, "data"), err)
	}
	return w.n, err
}
