package uring

import "unsafe"

// The Prep methods fill an entry from GetSQE. Memory they point the kernel
// at (buffers, iovecs) must stay allocated and unmoved until the entry's
// completion has been seen: keep it referenced from a heap object or use
// memory from mmap (as Frames does). Go never moves heap objects; escape
// below keeps the buffers off goroutine stacks, which can move.

// escapeSink makes escape's argument escape to the heap in the eyes of the
// compiler without costing a store at run time.
var (
	escapeSink  unsafe.Pointer
	escapeNever bool
)

func escape(p unsafe.Pointer) unsafe.Pointer {
	if escapeNever {
		escapeSink = p
	}
	return p
}

func bufAddr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(escape(unsafe.Pointer(&b[0]))))
}

// PrepNop prepares an operation that does nothing; its completion has
// Res 0. Useful to measure the ring's own cost.
func (s *SQE) PrepNop(userData uint64) {
	s.Opcode = OpNop
	s.UserData = userData
}

// PrepRead reads into b from fd at offset off (ignored for a tap, a pipe
// or a socket). Res is the byte count.
func (s *SQE) PrepRead(fd int, b []byte, off uint64, userData uint64) {
	s.Opcode = OpRead
	s.Fd = int32(fd)
	s.Addr = bufAddr(b)
	s.Len = uint32(len(b))
	s.Off = off
	s.UserData = userData
}

// PrepWrite writes b to fd at offset off (ignored where there is none).
func (s *SQE) PrepWrite(fd int, b []byte, off uint64, userData uint64) {
	s.Opcode = OpWrite
	s.Fd = int32(fd)
	s.Addr = bufAddr(b)
	s.Len = uint32(len(b))
	s.Off = off
	s.UserData = userData
}

// PrepReadFixed and PrepWriteFixed use b, which must lie inside buffer
// bufIndex of RegisterBuffers; the kernel then skips pinning the pages on
// every operation.
func (s *SQE) PrepReadFixed(fd int, b []byte, off uint64, bufIndex uint16, userData uint64) {
	s.PrepRead(fd, b, off, userData)
	s.Opcode = OpReadFixed
	s.BufIndex = bufIndex
}

func (s *SQE) PrepWriteFixed(fd int, b []byte, off uint64, bufIndex uint16, userData uint64) {
	s.PrepWrite(fd, b, off, userData)
	s.Opcode = OpWriteFixed
	s.BufIndex = bufIndex
}

// PrepReadMultishot arms a read that completes once per readiness of fd
// (a pollable file: a tap, a pipe, an eventfd) and stays armed while its
// completions carry CQEFMore. Each completion took one buffer from the
// provided-buffer group (see BufRing) and names it by BufferID. Linux 6.7.
func (s *SQE) PrepReadMultishot(fd int, group uint16, userData uint64) {
	s.Opcode = OpReadMultishot
	s.Fd = int32(fd)
	s.Flags = SQEBufferSelect
	s.BufIndex = group
	s.UserData = userData
}

// PrepPollAdd completes when fd has any of the poll events mask (e.g.
// unix.POLLIN). With multishot it stays armed (CQEFMore).
func (s *SQE) PrepPollAdd(fd int, mask uint32, multishot bool, userData uint64) {
	s.Opcode = OpPollAdd
	s.Fd = int32(fd)
	s.OpFlags = mask
	if multishot {
		s.Len = 1 // IORING_POLL_ADD_MULTI
	}
	s.UserData = userData
}

// UseFixedFile makes the entry name a registered file: Fd is then an index
// into RegisterFiles' table, which spares the kernel a file table lookup
// and reference count per operation.
func (s *SQE) UseFixedFile() { s.Flags |= SQEFixedFile }

// PrepCancelAll cancels every request in flight on the ring; each gets a
// completion with -ECANCELED (a multishot one without CQEFMore), and this
// entry's completion counts them in Res (or -ENOENT for none).
func (s *SQE) PrepCancelAll(userData uint64) {
	s.Opcode = OpAsyncCancel
	s.Fd = -1
	s.OpFlags = asyncCancelAny
	s.UserData = userData
}

// PrepCancelFd cancels every request in flight on fd (Linux 5.19): each
// gets a completion with -ECANCELED unless it finishes first, and this
// entry's completion counts them in Res (or -ENOENT for none).
func (s *SQE) PrepCancelFd(fd int, userData uint64) {
	s.Opcode = OpAsyncCancel
	s.Fd = int32(fd)
	s.OpFlags = asyncCancelFd | asyncCancelAll
	s.UserData = userData
}
