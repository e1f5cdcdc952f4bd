package tcp

import (
	"errors"
	"syscall"
)

// ErrWouldBlock: the operation would have to wait for the peer or the
// reader; retry after the matching readiness event.
var ErrWouldBlock = errors.New("tcp: operation would block")

// Errors a connection ends with, or an operation fails with. They are the
// errnos themselves, so errors.Is(err, syscall.ECONNREFUSED) holds and the
// host maps them without a table.
var (
	ErrConnRefused = syscall.ECONNREFUSED // RST in answer to our SYN
	ErrTimedOut    = syscall.ETIMEDOUT    // retransmissions or keepalives unanswered
	ErrConnReset   = syscall.ECONNRESET   // RST in a synchronized state
	ErrBrokenPipe  = syscall.EPIPE        // Write after Close, or after the connection ended
	ErrAddrInUse   = syscall.EADDRINUSE   // 4-tuple or listening port taken
	ErrNotConn     = syscall.ENOTCONN     // Read or Write before the handshake, or closed
	ErrInvalid     = syscall.EINVAL       // bad address or option
	ErrAborted     = syscall.ECONNABORTED // we aborted it (Abort, listener closed)
	ErrNoPorts     = syscall.EADDRNOTAVAIL
)
