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
// than once per read.

// ReadFunc reads one datagram (or bytes of a stream) of a conversation
// into b: netcore.ErrWouldBlock when nothing is there, 0 and io.EOF at the
// end of a stream, other errors named for the data file. It is valid only
// inside the fill function it was given to.
type ReadFunc func(b []byte) (int, error)

// ConvReads serves a file's reads of a conversation until it has none
// left. Under the host's lock, fill reads for its requests in order, as
// many as it can, and reports whether it stopped at a read that would
// block. Then, outside the lock, between hands on what fill answered (the
// replies go out) and says whether it is done, and if not, whether to
// wait: it is told whether fill stopped at a blocked read, and should not
// wait if requests came since that fill, which may have missed a wake-up
// that came before them. ConvReads calls fill again, at once or once the
// conversation's readiness changes; ctx or the host's end stop the wait
// with an error (EINTR, EIO).
func (h *Host) ConvReads(ctx context.Context, ref netcore.ConvRef, fill func(ReadFunc) (blocked bool), between func(blocked bool) (done, wait bool)) error {
	w := h.waits.get(ref)
	defer h.waits.put(ref, w)
	op := h.readsOp(ref, fill)
	for {
		// The channel is taken before the try, so that a wake-up
		// between the try and the wait is not missed.
		ch := h.waits.current(w)
		blocked := false
		if err := h.do(func(nh *netcore.Host, now time.Time, out *netcore.Output) error {
			blocked = op(nh, now, out) == netcore.ErrWouldBlock
			return nil
		}); err != nil {
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

// ConvTryReads calls fill once under the host's lock, as ConvReads does,
// never waiting; it fails only when the host can run nothing (EIO).
func (h *Host) ConvTryReads(ref netcore.ConvRef, fill func(ReadFunc) (blocked bool)) error {
	op := h.readsOp(ref, fill)
	err := h.do(op)
	if err == netcore.ErrWouldBlock {
		return nil
	}
	return err
}

// readsOp is fill as an op: ErrWouldBlock when it stopped at a read that
// would block. Its ReadFunc is made once, not at every call.
func (h *Host) readsOp(ref netcore.ConvRef, fill func(ReadFunc) bool) op {
	r := &convReader{h: h, ref: ref}
	read := r.read
	return func(nh *netcore.Host, _ time.Time, _ *netcore.Output) error {
		r.nh = nh
		if fill(read) {
			return netcore.ErrWouldBlock
		}
		return nil
	}
}

// convReader is a ReadFunc's state: the netcore host is set under its
// lock, before every fill.
type convReader struct {
	h   *Host
	nh  *netcore.Host
	ref netcore.ConvRef
}

func (r *convReader) read(b []byte) (int, error) {
	n, err := r.nh.ConvRead(r.ref, b)
	if err != nil && err != netcore.ErrWouldBlock && err != io.EOF {
		err = named(r.h.file(r.ref, "data"), err)
	}
	return n, err
}
