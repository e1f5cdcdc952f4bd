package fs

import (
	"context"
	"fmt"
	"io"
	"syscall"

	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/tcpdump"
	"github.com/smolfs/smolfs/stack"
)

// streamBuffer is the capture queue of one frames or frames.pcap reader.
// A reader that falls further behind loses frames (counted), never the
// host's time.
const streamBuffer = 128 << 10

// source is where a stream's records come from: the capture hook of a host
// or the event log.
type source interface {
	// wait blocks until next has something (nil), the source has ended
	// (io.EOF) or ctx is done.
	wait(ctx context.Context) error
	// next appends one rendered record to b and reports whether there was
	// one. It never blocks on the host.
	next(b []byte) ([]byte, bool)
	close()
}

// stream is an open frames, frames.pcap or log file. Reads return as many
// whole records as fit in count; a record longer than count (a big pcap
// record, or a tiny count) is split across reads.
//
// Linux's read loop: one read(2) on v9fs keeps sending Treads until the
// caller's buffer is full or a Tread returns 0 bytes, so a stream that
// blocks after each short reply never returns to the program. After a
// short reply of n bytes at offset o, the follow-up Tread at o+n from a
// Linux client therefore gets 0 bytes at once, once; the read after it
// blocks for new data. A Plan 9 client would take that 0 for end of file,
// so for other clients this happens only when the follow-up asks for less
// than the previous Tread did, which is what a client filling the rest of
// its buffer does (Linux with uname=X) and a Plan 9 cat, asking the same
// count every time, never does.
type stream struct {
	sem     chan struct{} // one read at a time, waiting on ctx
	src     source
	pending []byte     // rendered, not yet returned
	sr      shortReads // the last reply, for the read loop rule above
}

// shortReads keeps the last reply of a file whose reads wait (a stream, a
// conversation's data) for Linux's read loop rule (see stream).
type shortReads struct {
	lastEnd   uint64
	lastN     uint32
	lastCount uint32
}

// followUp reports whether a read of count bytes at off is the follow-up
// of a short reply that gets 0 bytes at once; it does so once.
func (s *shortReads) followUp(off uint64, count uint32, linux bool) bool {
	if s.lastN > 0 && s.lastN < s.lastCount && off == s.lastEnd && (linux || count < s.lastCount) {
		s.lastN = 0
		return true
	}
	return false
}

// record notes a reply of n bytes to a read of count bytes at off.
func (s *shortReads) record(off uint64, n int, count uint32) {
	s.lastEnd, s.lastN, s.lastCount = off+uint64(n), uint32(n), count
}

func newStream(src source, header []byte) *stream {
	return &stream{sem: make(chan struct{}, 1), src: src, pending: header}
}

func (s *stream) read(ctx context.Context, off uint64, count uint32, linux bool) ([]byte, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	if s.sr.followUp(off, count, linux) {
		return nil, nil
	}
	if count == 0 {
		return nil, nil
	}
	for {
		out := s.fill(int(count))
		if len(out) > 0 {
			s.sr.record(off, len(out), count)
			return out, nil
		}
		if err := s.src.wait(ctx); err != nil {
			s.sr.lastN = 0
			if err == io.EOF {
				return nil, nil
			}
			return nil, err
		}
	}
}

// fill takes what is queued, without blocking: whole records while they
// fit, or the first count bytes of a record that alone is too long.
func (s *stream) fill(count int) []byte {
	var out []byte
	for {
		if len(s.pending) == 0 {
			var ok bool
			if s.pending, ok = s.src.next(s.pending[:0]); !ok {
				return out
			}
		}
		switch {
		case len(out)+len(s.pending) <= count:
			out = append(out, s.pending...)
			s.pending = s.pending[:0]
		case len(out) == 0:
			out = append(out, s.pending[:count]...)
			s.pending = append(s.pending[:0], s.pending[count:]...)
			return out
		default:
			return out
		}
	}
}

func (s *stream) write(context.Context, []byte) error {
	return errorf(syscall.EACCES, "read-only file")
}

func (s *stream) close() { s.src.close() }

// frameSource renders captured frames as tcpdump lines, and gaps as
// "# dropped N frames". Each reader has its own Tcpdump: like a tcpdump
// process started at the reader's open, it prints a TCP conversation's
// sequence numbers relative to the first segment this reader saw, so that
// its lines and those of `tcpdump -r` on a frames.pcap opened at the same
// moment are the same.
type frameSource struct {
	sub  *capture.Subscription
	td   tcpdump.Stream
	buf  []byte
	data []byte
}

func (f *frameSource) wait(ctx context.Context) error { return f.sub.Wait(ctx) }
func (f *frameSource) close()                         { f.sub.Close() }

func (f *frameSource) next(b []byte) ([]byte, bool) {
	cf, ok := takeOne(f.sub, &f.buf, &f.data)
	if !ok {
		return b, false
	}
	if cf.DroppedBefore > 0 {
		b = fmt.Appendf(b, "# dropped %d frames\n", cf.DroppedBefore)
	}
	if cf.Data != nil {
		b = f.td.Append(b, cf.Time, cf.Data, cf.OrigLen)
		b = append(b, '\n')
	}
	return b, true
}

// pcapSource renders captured frames as pcap records; gaps cannot be shown
// in pcap and are only counted (capture_dropped in stats).
type pcapSource struct {
	sub  *capture.Subscription
	buf  []byte
	data []byte
}

func (p *pcapSource) wait(ctx context.Context) error { return p.sub.Wait(ctx) }
func (p *pcapSource) close()                         { p.sub.Close() }

func (p *pcapSource) next(b []byte) ([]byte, bool) {
	for {
		cf, ok := takeOne(p.sub, &p.buf, &p.data)
		if !ok {
			return b, false
		}
		if cf.Data != nil {
			return capture.AppendPcapRecord(b, cf.Time, cf.Data, cf.OrigLen), true
		}
	}
}

// takeOne takes the oldest queued frame, copying its bytes into *data so
// that they outlive the subscription's lock, which is held only for the
// copy: rendering happens outside it, and the host never waits for it.
func takeOne(sub *capture.Subscription, buf, data *[]byte) (capture.CapturedFrame, bool) {
	var got capture.CapturedFrame
	taken := false
	sub.Take(*buf, func(cf capture.CapturedFrame) bool {
		if taken {
			return false
		}
		taken = true
		got = cf
		if cf.Data != nil {
			*data = append((*data)[:0], cf.Data...)
			got.Data = *data
		}
		if cap(cf.Data) > cap(*buf) {
			*buf = cf.Data[:0] // keep the larger buffer Take had to allocate
		}
		return true
	})
	return got, taken
}

// logSource follows the event log.
type logSource struct {
	r *stack.LogReader
}

func (l *logSource) wait(ctx context.Context) error { return l.r.Wait(ctx) }
func (l *logSource) close()                         { l.r.Close() }

func (l *logSource) next(b []byte) ([]byte, bool) {
	taken := false
	l.r.Take(func(line string) bool {
		if taken {
			return false
		}
		taken = true
		b = append(b, line...)
		b = append(b, '\n')
		return true
	})
	return b, taken
}
