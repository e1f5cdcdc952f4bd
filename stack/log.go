package stack

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// LogKeep is how many recent lines a new reader of /log starts with.
const LogKeep = 256

// Log is the event log behind /log: a ring of the most recent lines that
// readers follow like `tail -f`. Adding a line never waits for a reader; a
// reader that falls more than LogKeep lines behind is told how many it missed.
type Log struct {
	mu      sync.Mutex
	lines   [LogKeep]string
	seq     uint64        // lines ever added
	changed chan struct{} // closed and replaced on every Add
	closed  bool
	now     func() time.Time
}

// NewLog makes an empty log.
func NewLog() *Log { return &Log{changed: make(chan struct{}), now: time.Now} }

// Add appends a line, time-stamped now.
func (l *Log) Add(msg string) {
	line := l.now().UTC().Format("2006-01-02T15:04:05.000000Z ") + msg
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.lines[l.seq%LogKeep] = line
	l.seq++
	close(l.changed)
	l.changed = make(chan struct{})
}

// Addf is Add with formatting.
func (l *Log) Addf(format string, args ...any) { l.Add(fmt.Sprintf(format, args...)) }

// Close ends every reader (after what it has not read yet).
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.changed)
	}
}

// Subscribe returns a reader positioned at the most recent LogKeep lines.
func (l *Log) Subscribe() *LogReader {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := uint64(0)
	if l.seq > LogKeep {
		next = l.seq - LogKeep
	}
	return &LogReader{l: l, next: next, done: make(chan struct{})}
}

// LogReader follows a Log.
type LogReader struct {
	l        *Log
	next     uint64
	done     chan struct{}
	doneOnce sync.Once
}

// Wait blocks until there is a line to take (nil), the log or the reader is
// closed (io.EOF), or ctx is done.
func (r *LogReader) Wait(ctx context.Context) error {
	for {
		r.l.mu.Lock()
		ready, closed, changed := r.next < r.l.seq, r.l.closed, r.l.changed
		r.l.mu.Unlock()
		select {
		case <-r.done:
			return io.EOF
		default:
		}
		switch {
		case ready:
			return nil
		case closed:
			return io.EOF
		}
		select {
		case <-changed:
		case <-r.done:
			return io.EOF
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Take hands the unread lines (without newline), oldest first, to fn until
// fn returns false; a gap is reported as a line "# dropped N lines".
func (r *LogReader) Take(fn func(line string) bool) int {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	n := 0
	if r.l.seq > LogKeep && r.next < r.l.seq-LogKeep {
		if !fn(fmt.Sprintf("# dropped %d lines", r.l.seq-LogKeep-r.next)) {
			return n
		}
		r.next = r.l.seq - LogKeep
		n++
	}
	for r.next < r.l.seq {
		if !fn(r.l.lines[r.next%LogKeep]) {
			break
		}
		r.next++
		n++
	}
	return n
}

// Close ends the reader; a blocked Wait returns io.EOF.
func (r *LogReader) Close() { r.doneOnce.Do(func() { close(r.done) }) }
