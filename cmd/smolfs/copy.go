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
// keep in flight: enough that a burst of datagrams is answered a batch at
// a time (the conversation's receive queue holds 512).
const readDepth = 64

// copyBatch bounds what copyData gathers for one write.
const copyBatch = 64 << 10

// newDataReader is a Reader of the open data file fid.
func (s *convSession) newDataReader(fid uint32) *ninep.Reader {
	return s.m.NewReader(fid, 0, s.ioSize(), readDepth)
}

// copyData writes what r reads to w, the datagrams (or bytes) that have
// come together in one write, until a read fails (its error), or, for a
// stream, the end of it (nil). Each read calls seen.
func (s *convSession) copyData(ctx context.Context, r *ninep.Reader, w io.Writer, stream bool, seen func()) error {
	size := s.ioSize()
	buf := make([]byte, 0, copyBatch+size)
	for {
		buf = buf[:0]
		var err error
		ended := false
		// The first read waits; the others take only what is there.
		for len(buf) == 0 || r.Ready() && cap(buf)-len(buf) >= size && len(buf) < copyBatch {
			var n int
			n, err = r.Read(ctx, buf[len(buf):len(buf)+size])
			if err != nil {
				break
			}
			seen()
			if n == 0 && stream {
				ended = true
				break
			}
			buf = buf[:len(buf)+n]
			if n == 0 {
				break // an empty datagram: nothing to write, but it was one
			}
		}
		if len(buf) > 0 {
			if _, werr := w.Write(buf); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
		if ended {
			return nil
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
