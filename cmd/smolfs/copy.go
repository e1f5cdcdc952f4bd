package main

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
)

// The data path of dial and listen: a conversation's data read with many
// reads in flight (ninep.Reader: the server answers the datagrams that
// came together in one write), and what came together written on in one
// write too (to a command's standard input, or standard output), rather
// than a round trip and a write per datagram.

// readDepth is how many reads of a conversation's data dial and listen
// keep in flight: for UDP enough that a burst of datagrams is answered a
// batch at a time (the conversation's receive queue holds 512); for TCP,
// whose every read takes all that is there (up to the iounit, more than
// half the receive window), a few: one answered while the next waits at
// the server, and a short connection costs few messages.
func readDepth(tcp bool) int {
	if tcp {
		return 4
	}
	return 64
}

// sessionReads bounds the reads a listen keeps in flight on one 9P
// session: the server answers more than 1024 with EAGAIN.
const sessionReads = 768

// copyBatch bounds what copyData gathers for one write.
const copyBatch = 64 << 10

// newDataReader is a Reader of the open data file fid.
func (s *convSession) newDataReader(fid uint32, tcp bool) *ninep.Reader {
	return s.m.NewReader(fid, 0, s.ioSize(), readDepth(tcp))
}

// copyData writes what r reads to w, the datagrams (or bytes) that have
// come together in one write, until a read fails (its error), or, for a
// stream, the end of it (nil). Each read calls seen. It holds no buffer
// while it waits, and one only while datagrams come faster than w takes
// them, so that thousands of quiet calls hold nothing.
func copyData(ctx context.Context, r *ninep.Reader, w io.Writer, stream bool, seen func()) error {
	var batch []byte
	for {
		data, err := r.Next(ctx)
		if err == nil {
			seen()
			if len(data) == 0 && stream {
				err = io.EOF
			}
		}
		if err == nil && len(batch) == 0 && !r.Ready() {
			// The common case, one at a time: written as it is.
			if _, err := w.Write(data); err != nil {
				return err
			}
			continue
		}
		if err == nil {
			batch = append(batch, data...) // Next's data is gone at the next call
			if r.Ready() && len(batch) < copyBatch {
				continue
			}
		}
		if len(batch) > 0 {
			if _, werr := w.Write(batch); werr != nil {
				return werr
			}
			batch = batch[:0]
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// withIdle is ctx, also done once touch has not been called for idle (0:
// never). One timer for the whole call, looked at when it fires, rather
// than a context and a timer per read.
func withIdle(ctx context.Context, idle time.Duration) (_ context.Context, touch func(), stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	if idle <= 0 {
		return ctx, func() {}, cancel
	}
	start := time.Now()
	var last atomic.Int64 // since start, at the last touch
	var t *time.Timer
	t = time.AfterFunc(time.Hour, func() { // set before it can fire
		if quiet := time.Since(start) - time.Duration(last.Load()); quiet < idle {
			t.Reset(idle - quiet)
			return
		}
		cancel()
	})
	t.Reset(idle)
	return ctx, func() { last.Store(int64(time.Since(start))) }, func() { t.Stop(); cancel() }
}
