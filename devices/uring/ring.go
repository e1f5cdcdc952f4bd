package uring

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options are the setup choices for New. The zero value is a plain ring:
// completions are posted by whichever task finishes the I/O, and
// io_uring_enter is needed to submit.
type Options struct {
	// Flags are Setup* flags. SetupSingleIssuer and SetupDeferTaskrun
	// bind the ring to the calling OS thread: call New and every Submit
	// from one goroutine that holds runtime.LockOSThread.
	Flags uint32
	// CQEntries sizes the completion queue (default 2x the SQ).
	CQEntries uint32
	// SQThreadIdle is how long an SQPOLL kernel thread spins before it
	// sleeps (SetupSQPoll only; default 1 s in the kernel).
	SQThreadIdle time.Duration
}

// Ring is one io_uring instance: a submission queue the caller fills with
// Prep* entries and a completion queue it drains with Completions. A Ring
// is not safe for concurrent use; one goroutine owns it, as one goroutine
// owns a device.
type Ring struct {
	fd       int
	flags    uint32
	features uint32

	ringMem []byte // SQ and CQ rings (one mapping with FeatSingleMmap)
	cqMem   []byte // separate CQ mapping on kernels without it
	sqeMem  []byte

	// Submission queue. The kernel advances *sqHead as it consumes
	// entries; we own *sqTail. sqeTail counts entries handed out by
	// GetSQE and not yet published.
	sqHead, sqTail, sqFlags, sqDropped *uint32
	sqMask, sqEntries                  uint32
	sqes                               []SQE
	sqeTail                            uint32

	// Completion queue. The kernel advances *cqTail; we own *cqHead.
	cqHead, cqTail, cqOverflow *uint32
	cqMask, cqEntries          uint32
	cqes                       []CQE

	closed bool
}

// ErrClosed is returned by a Ring used after Close.
var ErrClosed = errors.New("uring: ring closed")

// New sets up a ring with room for entries submissions (rounded up to a
// power of two by the kernel).
func New(entries uint32, o Options) (*Ring, error) {
	if entries == 0 || entries > 32768 {
		return nil, fmt.Errorf("uring: %d entries: want 1..32768", entries)
	}
	if o.Flags&setupRefused != 0 {
		return nil, fmt.Errorf("uring: setup flags %#x: not supported by this package", o.Flags&setupRefused)
	}
	p := params{Flags: o.Flags}
	if o.CQEntries != 0 {
		p.Flags |= SetupCQSize
		p.CQEntries = o.CQEntries
	}
	if o.SQThreadIdle > 0 {
		p.SQThreadIdle = uint32(o.SQThreadIdle / time.Millisecond)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("uring: io_uring_setup(%d, flags %#x): %w", entries, p.Flags, errno)
	}
	r := &Ring{fd: int(fd), flags: p.Flags, features: p.Features}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.SQOff.Array + p.SQEntries*4)
	cqSize := int(p.CQOff.Cqes) + int(p.CQEntries)*int(unsafe.Sizeof(CQE{}))
	single := p.Features&FeatSingleMmap != 0
	if single && cqSize > sqSize {
		sqSize = cqSize
	}
	var err error
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQ ring (%d bytes): %w", sqSize, err)
	}
	cq := r.ringMem
	if !single {
		r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("uring: mmap CQ ring (%d bytes): %w", cqSize, err)
		}
		cq = r.cqMem
	}
	sqeSize := int(p.SQEntries) * int(unsafe.Sizeof(SQE{}))
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQEs (%d bytes): %w", sqeSize, err)
	}

	sq := r.ringMem
	r.sqHead = u32At(sq, p.SQOff.Head)
	r.sqTail = u32At(sq, p.SQOff.Tail)
	r.sqFlags = u32At(sq, p.SQOff.Flags)
	r.sqDropped = u32At(sq, p.SQOff.Dropped)
	r.sqMask = *u32At(sq, p.SQOff.RingMask)
	r.sqEntries = *u32At(sq, p.SQOff.RingEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	// The indirection array maps ring slots to SQE indices. We always
	// fill SQE i for slot i, so it is the identity, written once.
	array := unsafe.Slice(u32At(sq, p.SQOff.Array), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqeTail = atomic.LoadUint32(r.sqTail)

	r.cqHead = u32At(cq, p.CQOff.Head)
	r.cqTail = u32At(cq, p.CQOff.Tail)
	r.cqOverflow = u32At(cq, p.CQOff.Overflow)
	r.cqMask = *u32At(cq, p.CQOff.RingMask)
	r.cqEntries = *u32At(cq, p.CQOff.RingEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cq[p.CQOff.Cqes])), r.cqEntries)
	return nil
}

func u32At(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// Close unmaps the rings and closes the ring fd; the kernel cancels what is
// still in flight. Buffers handed to in-flight operations must stay valid
// until Close returns.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMem, r.cqMem, r.ringMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil {
			return fmt.Errorf("uring: close ring fd: %w", err)
		}
		r.fd = -1
	}
	return nil
}

// Fd is the ring's file descriptor (pollable: readable when completions
// are waiting).
func (r *Ring) Fd() int { return r.fd }

// Features are the Feat* bits the kernel reported at setup.
func (r *Ring) Features() uint32 { return r.features }

// SQEntries and CQEntries are the queue sizes the kernel chose.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// FeatureString names the feature bits, for logs and reports.
func FeatureString(f uint32) string {
	var names []string
	for i := 0; i < 32; i++ {
		if f&(1<<i) == 0 {
			continue
		}
		if i < len(featNames) {
			names = append(names, featNames[i])
		} else {
			names = append(names, fmt.Sprintf("bit%d", i))
		}
	}
	return strings.Join(names, ",")
}

// SQSpace is how many entries GetSQE can still hand out before a Submit.
func (r *Ring) SQSpace() uint32 {
	// With SQPOLL the kernel thread advances the head concurrently; the
	// atomic load orders our reuse of a slot after its consumption.
	return r.sqEntries - (r.sqeTail - atomic.LoadUint32(r.sqHead))
}

// GetSQE hands out the next free submission entry, zeroed, or nil when
// the queue is full (Submit, then retry). The entry is published to the
// kernel by the next Submit.
func (r *Ring) GetSQE() *SQE {
	if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil
	}
	s := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*s = SQE{}
	return s
}

// flush publishes the prepared entries and returns how many the kernel
// has not consumed yet.
func (r *Ring) flush() uint32 {
	// The store of the tail is the release that makes the plain stores
	// into the SQEs visible to the kernel before it reads them (Go's
	// atomics are sequentially consistent, stronger than needed).
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// Submit publishes the prepared entries to the kernel and returns how many
// it consumed. It does not wait for completions, but (with
// SetupDeferTaskrun) runs completion work that is due.
func (r *Ring) Submit() (int, error) { return r.SubmitAndWait(0) }

// SubmitAndWait publishes the prepared entries and waits until at least
// want completions are ready (0: do not wait). One system call at most.
func (r *Ring) SubmitAndWait(want uint32) (int, error) {
	return r.enter(want, nil)
}

// SubmitAndWaitTimeout is SubmitAndWait that gives up after d: a timeout
// is not an error, Completions then simply returns fewer than want. A wait
// interrupted by a signal starts over with the whole of d.
func (r *Ring) SubmitAndWaitTimeout(want uint32, d time.Duration) (int, error) {
	if r.features&FeatExtArg == 0 {
		return 0, errors.New("uring: wait with timeout needs IORING_FEAT_EXT_ARG (Linux 5.11)")
	}
	if d < 0 {
		d = 0
	}
	ts := unix.NsecToTimespec(int64(d))
	arg := getEventsArg{Ts: uint64(uintptr(unsafe.Pointer(&ts)))}
	n, err := r.enter(want, &arg)
	runtime.KeepAlive(&ts)
	if errors.Is(err, unix.ETIME) {
		return n, nil
	}
	return n, err
}

// SubmitAndWaitMin waits up to minWait for want completions, then returns
// as soon as at least one is ready, or after timeout with none
// (FeatMinTimeout, Linux 6.12). It trades latency for larger batches.
func (r *Ring) SubmitAndWaitMin(want uint32, minWait, timeout time.Duration) (int, error) {
	if r.features&FeatMinTimeout == 0 {
		return 0, errors.New("uring: minimum wait needs IORING_FEAT_MIN_TIMEOUT (Linux 6.12)")
	}
	ts := unix.NsecToTimespec(int64(max(timeout, 0)))
	arg := getEventsArg{Ts: uint64(uintptr(unsafe.Pointer(&ts))), MinWaitUs: uint32(minWait / time.Microsecond)}
	n, err := r.enter(want, &arg)
	runtime.KeepAlive(&ts)
	if errors.Is(err, unix.ETIME) {
		return n, nil
	}
	return n, err
}

type getEventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	MinWaitUs uint32
	Ts        uint64
}

func (r *Ring) enter(want uint32, arg *getEventsArg) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	pending := r.flush()
	var flags uintptr
	toSubmit := pending
	if r.flags&SetupSQPoll != 0 {
		// The kernel thread submits; enter only to wake it or to wait.
		toSubmit = 0
		if pending > 0 && atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
			flags |= enterSQWakeup
		}
		if want == 0 && flags == 0 && !r.needFlush() {
			return int(pending), nil
		}
	}
	if want > 0 || r.flags&(SetupDeferTaskrun|SetupSQPoll) != 0 || r.needFlush() {
		flags |= enterGetEvents
	}
	var argp, argsz uintptr
	if arg != nil {
		flags |= enterExtArg
		argp, argsz = uintptr(unsafe.Pointer(arg)), unsafe.Sizeof(*arg)
	}
	submitted := 0
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit),
			uintptr(want), flags, argp, argsz)
		if errno == 0 {
			submitted += int(n)
			if r.flags&SetupSQPoll != 0 {
				submitted = int(pending)
			}
			runtime.KeepAlive(arg)
			return submitted, nil
		}
		// The Go runtime preempts with signals, so a wait is often
		// interrupted; nothing was submitted then (a partial submit
		// returns its count instead), so enter again.
		if errno == unix.EINTR {
			continue
		}
		runtime.KeepAlive(arg)
		if errno == unix.ETIME {
			return submitted, errno
		}
		return submitted, fmt.Errorf("uring: io_uring_enter(submit %d, wait %d): %w", toSubmit, want, errno)
	}
}

// needFlush reports whether the kernel holds completions it could not post
// (CQ overflow) or task work it wants us to run.
func (r *Ring) needFlush() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

// Ready is how many completions are waiting in the CQ ring.
func (r *Ring) Ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// Completions copies up to len(dst) ready completions into dst, frees
// their slots and returns how many it copied. It never enters the kernel.
func (r *Ring) Completions(dst []CQE) int {
	head := atomic.LoadUint32(r.cqHead)
	// Acquire: the CQEs up to tail are written before the kernel's store
	// of tail.
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail && n < len(dst); n++ {
		dst[n] = r.cqes[head&r.cqMask]
		head++
	}
	if n > 0 {
		// Release: our reads of the slots happen before the kernel may
		// reuse them.
		atomic.StoreUint32(r.cqHead, head)
	}
	return n
}

// Dropped counts submissions the kernel rejected as invalid, and Overflow
// completions it had to drop (only without FeatNoDrop).
func (r *Ring) Dropped() uint32  { return atomic.LoadUint32(r.sqDropped) }
func (r *Ring) Overflow() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// Errno turns a negative CQE result into its error (nil for res >= 0).
func Errno(res int32) error {
	if res >= 0 {
		return nil
	}
	return syscall.Errno(-res)
}

// ceilPow2 is used to size provided-buffer rings, which must be a power of
// two.
func ceilPow2(n uint32) uint32 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len32(n-1)
}
