package fs

import (
	"fmt"
	"syscall"

	"github.com/smolfs/smolfs/netcore/ctl"
)

// fsError is an error the file server itself makes (an unknown file, a bad
// fid, a refused rename), with its errno class. Command errors come from
// netcore/stack as *ctl.CommandError and are passed through unchanged.
type fsError struct {
	errno syscall.Errno
	msg   string
}

func (e *fsError) Error() string { return e.msg }

// Unwrap exposes the class, so that ctl.Errno and errors.Is see it.
func (e *fsError) Unwrap() error { return e.errno }

func errorf(errno syscall.Errno, format string, args ...any) error {
	return &fsError{errno: errno, msg: fmt.Sprintf(format, args...)}
}

// linuxErrstr is, for each errno class the server returns, the string that
// Linux's v9fs maps back to that errno in plain 9P2000. The kernel matches
// Rerror strings exactly against the table in net/9p/error.c (errmap[]);
// any other text becomes ESERVERFAULT ("Unknown error 526") and never
// reaches the program. Every string below is copied from that table.
var linuxErrstr = map[syscall.Errno]string{
	syscall.EPERM:        "Operation not permitted",
	syscall.ENOENT:       "No such file or directory",
	syscall.EINTR:        "Interrupted system call",
	syscall.EIO:          "Input/output error",
	syscall.EBADF:        "Bad file descriptor",
	syscall.EAGAIN:       "Resource temporarily unavailable",
	syscall.ENOMEM:       "Cannot allocate memory",
	syscall.EACCES:       "Permission denied",
	syscall.EFAULT:       "Bad address",
	syscall.EBUSY:        "Device or resource busy",
	syscall.EEXIST:       "File exists",
	syscall.ENODEV:       "No such device",
	syscall.ENOTDIR:      "Not a directory",
	syscall.EISDIR:       "Is a directory",
	syscall.EINVAL:       "Invalid argument",
	syscall.EMFILE:       "Too many open files",
	syscall.ENOSPC:       "No space left on device",
	syscall.ESPIPE:       "Illegal seek",
	syscall.EROFS:        "Read-only file system",
	syscall.ENAMETOOLONG: "File name too long",
	syscall.ENOSYS:       "Function not implemented",
	syscall.ENOTEMPTY:    "Directory not empty",
	syscall.ENODATA:      "No data available",
	syscall.EPROTO:       "Protocol error",
	syscall.EBADMSG:      "Bad message",
	syscall.EMSGSIZE:     "Message too long",
	syscall.EOPNOTSUPP:   "Operation not supported",
	syscall.ENETDOWN:     "Network is down",
	syscall.ENETUNREACH:  "Network is unreachable",
	syscall.EHOSTDOWN:    "Host is down",
	syscall.EHOSTUNREACH: "No route to host",
	syscall.EPIPE:        "Broken pipe",
	syscall.ENOTCONN:     "Transport endpoint is not connected",
	syscall.ECONNRESET:   "Connection reset by peer",
	syscall.ECONNREFUSED: "Connection refused",
	syscall.ETIMEDOUT:    "Connection timed out",
	// Not in Linux's table, so a Linux 9P2000 client gets EIO for them
	// (9P2000.L carries every errno): EADDRINUSE, EADDRNOTAVAIL.
}

// errnoOf is the errno class of err (EIO when it has none).
func errnoOf(err error) syscall.Errno { return ctl.Errno(err) }

// linuxString is the error string a Linux 9P2000 client turns into the
// errno of err's class.
func linuxString(err error) string {
	if s, ok := linuxErrstr[errnoOf(err)]; ok {
		return s
	}
	return linuxErrstr[syscall.EIO]
}
