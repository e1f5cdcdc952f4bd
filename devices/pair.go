package devices

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Pair is one end of an in-memory link: a frame written on one end is read
// whole on the other, as on a tap, so that a Driver runs on it unchanged.
// Tests run a Host on one end and play the network on the other.
type Pair struct {
	fdDevice
}

var pairs atomic.Uint64

// NewPair makes a connected pair, named "pairN-a" and "pairN-b". It is a
// SOCK_SEQPACKET socket pair: message boundaries are kept, and a write that
// does not fit fails with EAGAIN rather than blocking. Closing one end makes
// the other read end of file (a Driver on it sees its device gone).
func NewPair() (a, b *Pair, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	n := strconv.FormatUint(pairs.Add(1)-1, 10)
	return &Pair{fdDevice{name: "pair" + n + "-a", fd: fds[0]}},
		&Pair{fdDevice{name: "pair" + n + "-b", fd: fds[1]}}, nil
}

// ErrTimeout is what Pair.ReadFrame returns when nothing arrived in time.
var ErrTimeout = errors.New("timed out")

// WriteFrame sends one frame to the other end, waiting up to a second for
// room. It is for tests, which play the other side of a link.
func (p *Pair) WriteFrame(frame []byte) error {
	for {
		_, err := unix.Write(p.fd, frame)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if err := p.wait(unix.POLLOUT, time.Second); err != nil {
				return fmt.Errorf("write %s: %w", p.name, err)
			}
			continue
		}
		return fmt.Errorf("write %s: %w", p.name, err)
	}
}

// ReadFrame waits up to timeout for a frame from the other end and copies it
// into buf (a longer frame is cut to len(buf)). Nothing in time gives an
// error wrapping ErrTimeout; a closed other end, one wrapping ErrPeerClosed.
func (p *Pair) ReadFrame(buf []byte, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Read(p.fd, buf)
		switch {
		case err == nil && n == 0 && hungUp(p.fd):
			return 0, fmt.Errorf("read %s: %w", p.name, ErrPeerClosed)
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, fmt.Errorf("read %s: %w", p.name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return 0, fmt.Errorf("read %s: %w after %v", p.name, ErrTimeout, timeout)
		}
		if err := p.wait(unix.POLLIN, left); err != nil {
			return 0, fmt.Errorf("read %s: %w", p.name, err)
		}
	}
}

// ErrPeerClosed is the error of a Pair whose other end was closed.
var ErrPeerClosed = errors.New("the other end of the pair is closed")

// wait polls for events until timeout; ErrTimeout if they did not come.
func (p *Pair) wait(events int16, timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: events}}
	ms := int((timeout + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	switch {
	case err == unix.EINTR:
		return nil // the caller tries again
	case err != nil:
		return fmt.Errorf("poll: %w", err)
	case n == 0:
		return ErrTimeout
	}
	return nil
}
