package ctl

import (
	"errors"
	"fmt"
	"syscall"
)

// CommandError is a command that failed: which file it was written to, which
// line, the line itself, the reason, and the errno class that a file server
// returns for it (EINVAL, ENOENT, EEXIST, EBUSY, EIO, ...).
//
// errors.Is(err, syscall.EINVAL) matches on the class.
type CommandError struct {
	File  string // "tap0/ctl", "tap0/arp", "ctl"
	Line  int    // 1-based; 0 when the error is not tied to a line
	Text  string // the line as written
	Errno syscall.Errno
	Err   error
}

func (e *CommandError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s: line %d: %q: %v", e.File, e.Line, e.Text, e.Err)
	case e.Text != "":
		return fmt.Sprintf("%s: %q: %v", e.File, e.Text, e.Err)
	default:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
}

func (e *CommandError) Unwrap() error { return e.Err }

// Is matches the errno class, so that errors.Is(err, syscall.ENOENT) works.
func (e *CommandError) Is(target error) bool {
	errno, ok := target.(syscall.Errno)
	return ok && errno == e.Errno
}

// Errno is the errno class of err: the class of a CommandError, a
// syscall.Errno found in the chain, EIO for any other error, 0 for nil.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.Errno
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// Reasons shared by the command languages; CommandError wraps them.
var (
	ErrUnknownCommand = errors.New("unknown command")
	ErrUsage          = errors.New("usage") // followed by the command's synopsis
	ErrBadHostName    = errors.New("bad host name")
	ErrBadOption      = errors.New("bad option") // in `new NAME KEY VALUE...` or -host NAME,KEY=VALUE
	ErrBadMAC         = errors.New("bad hardware address")
	ErrBadIPv4        = errors.New("bad IPv4 address")
	ErrBadPrefix      = errors.New("bad IPv4 address/prefix")
	ErrBadAddrPort    = errors.New("bad address!port")
	ErrBadNumber      = errors.New("bad number")
	ErrExists         = errors.New("already exists")
	ErrNotFound       = errors.New("not found")
	ErrHostDown       = errors.New("host is down")
	ErrCacheFull      = errors.New("ARP cache is full of static entries")
	ErrUnreachable    = errors.New("not on a connected subnet")
	ErrTooManyAddrs   = errors.New("too many addresses")
	ErrTooManyRoutes  = errors.New("too many routes")
)

// Reason is what is wrong with a command, with its class, before the file
// and line are known.
type Reason struct {
	Errno syscall.Errno
	Err   error
}

func (r *Reason) Error() string { return r.Err.Error() }
func (r *Reason) Unwrap() error { return r.Err }

// Fail makes a Reason of class errno: the sentinel, followed by the detail
// that format and args make, if any.
func Fail(errno syscall.Errno, sentinel error, format string, args ...any) *Reason {
	if format == "" {
		return &Reason{errno, sentinel}
	}
	return &Reason{errno, fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// Usage is a Reason that gives a command's synopsis.
func Usage(format string, args ...any) *Reason {
	return Fail(syscall.EINVAL, ErrUsage, format, args...)
}

// At turns a reason into the CommandError for a line of file (line 0 when
// it is tied to no line).
func (r *Reason) At(file string, line int, text string) *CommandError {
	return &CommandError{File: file, Line: line, Text: text, Errno: r.Errno, Err: r.Err}
}
