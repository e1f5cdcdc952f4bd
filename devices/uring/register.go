package uring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (r *Ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	if r.closed {
		return ErrClosed
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// Supported reports, for each opcode in ops, whether this kernel
// implements it (IORING_REGISTER_PROBE).
func (r *Ring) Supported(ops ...uint8) ([]bool, error) {
	var p probe
	if err := r.register(registerProbe, unsafe.Pointer(&p), uintptr(len(p.Ops))); err != nil {
		return nil, fmt.Errorf("uring: probe opcodes: %w", err)
	}
	out := make([]bool, len(ops))
	for i, op := range ops {
		out[i] = op <= p.LastOp && int(op) < int(p.OpsLen) && p.Ops[op].Flags&probeOpSupported != 0
	}
	return out, nil
}

// RegisterBuffers pins bufs for PrepReadFixed/PrepWriteFixed (index =
// position in bufs). The memory must outlive the ring or
// UnregisterBuffers; memory from unix.Mmap is the safe choice.
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
	if err := r.register(registerBuffers, unsafe.Pointer(&iov[0]), uintptr(len(iov))); err != nil {
		return fmt.Errorf("uring: register %d buffers: %w", len(bufs), err)
	}
	return nil
}

// UnregisterBuffers drops the table of RegisterBuffers.
func (r *Ring) UnregisterBuffers() error {
	if err := r.register(unregisterBuffers, nil, 0); err != nil {
		return fmt.Errorf("uring: unregister buffers: %w", err)
	}
	return nil
}

// RegisterFiles installs fds as the table that UseFixedFile entries index.
func (r *Ring) RegisterFiles(fds []int) error {
	t := make([]int32, len(fds))
	for i, fd := range fds {
		t[i] = int32(fd)
	}
	if err := r.register(registerFiles, unsafe.Pointer(&t[0]), uintptr(len(t))); err != nil {
		return fmt.Errorf("uring: register %d files: %w", len(fds), err)
	}
	return nil
}

// UnregisterFiles drops the table of RegisterFiles.
func (r *Ring) UnregisterFiles() error {
	if err := r.register(unregisterFiles, nil, 0); err != nil {
		return fmt.Errorf("uring: unregister files: %w", err)
	}
	return nil
}

// EnableRings starts a ring made with SetupRDisabled; with
// SetupSingleIssuer the thread that calls it becomes the only submitter.
func (r *Ring) EnableRings() error {
	if err := r.register(registerEnableRings, nil, 0); err != nil {
		return fmt.Errorf("uring: enable rings: %w", err)
	}
	return nil
}

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux
// 5.19): a group of equal buffers the kernel picks from for
// SQEBufferSelect reads, such as PrepReadMultishot. The caller hands a
// buffer back with Recycle once it is done with its contents, and
// publishes the recycled ones with Commit.
type BufRing struct {
	ring    *Ring
	group   uint16
	mask    uint16
	size    int
	mem     []byte // ring of bufRingEntry, page aligned
	slab    []byte // the buffers, count*size
	entries []bufRingEntry
	tail    uint16 // local: entries added, published by Commit
}

// NewBufRing registers count buffers of size bytes as group; count is
// rounded up to a power of two. All buffers start out provided.
func (r *Ring) NewBufRing(group uint16, count int, size int) (*BufRing, error) {
	if count < 1 || count > 32768 || size < 1 {
		return nil, fmt.Errorf("uring: buffer ring of %d x %d bytes: want 1..32768 buffers", count, size)
	}
	n := ceilPow2(uint32(count))
	ringBytes := int(n) * int(unsafe.Sizeof(bufRingEntry{}))
	mem, err := unix.Mmap(-1, 0, ringBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("uring: mmap buffer ring: %w", err)
	}
	slab, err := unix.Mmap(-1, 0, int(n)*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("uring: mmap %d buffers of %d bytes: %w", n, size, err)
	}
	b := &BufRing{ring: r, group: group, mask: uint16(n - 1), size: size, mem: mem, slab: slab,
		entries: unsafe.Slice((*bufRingEntry)(unsafe.Pointer(&mem[0])), n)}
	reg := bufReg{RingAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), RingEntries: n, Bgid: group}
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(mem)
		unix.Munmap(slab)
		return nil, fmt.Errorf("uring: register buffer ring %d (%d x %d bytes): %w", group, n, size, err)
	}
	for i := 0; i < int(n); i++ {
		b.Recycle(uint16(i))
	}
	b.Commit()
	return b, nil
}

// Buf is buffer id's memory (its full size; a completion's Res says how
// much of it holds data).
func (b *BufRing) Buf(id uint16) []byte {
	off := int(id) * b.size
	return b.slab[off : off+b.size : off+b.size]
}

// Recycle queues buffer id to be provided again at the next Commit.
func (b *BufRing) Recycle(id uint16) {
	e := &b.entries[b.tail&b.mask]
	e.Addr = uint64(uintptr(unsafe.Pointer(&b.slab[int(id)*b.size])))
	e.Len = uint32(b.size)
	e.Bid = id
	b.tail++
}

// Commit publishes the recycled buffers to the kernel.
func (b *BufRing) Commit() {
	// The tail is the u16 at offset 14, the Resv field of entry 0. Go has
	// no 16-bit atomic store, so store the 32-bit word it shares with
	// entry 0's Bid, which only we write: the store is the release for the
	// entry writes above.
	word := uint32(b.tail)<<16 | uint32(b.entries[0].Bid)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.mem[12])), word)
}

// Close unregisters the group and frees its memory.
func (b *BufRing) Close() error {
	if b.mem == nil {
		return nil
	}
	reg := bufReg{Bgid: b.group}
	err := b.ring.register(unregisterPbufRing, unsafe.Pointer(&reg), 1)
	unix.Munmap(b.mem)
	unix.Munmap(b.slab)
	b.mem, b.slab, b.entries = nil, nil, nil
	if err != nil && err != ErrClosed {
		return fmt.Errorf("uring: unregister buffer ring %d: %w", b.group, err)
	}
	return nil
}
