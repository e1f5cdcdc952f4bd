package uring

// The kernel ABI (include/uapi/linux/io_uring.h), spelled out here because
// golang.org/x/sys/unix has only the system call numbers. Layouts are checked
// by TestABISizes.

// Setup flags (io_uring_params.flags).
const (
	SetupIOPoll       = 1 << 0
	SetupSQPoll       = 1 << 1
	SetupSQAff        = 1 << 2
	SetupCQSize       = 1 << 3
	SetupClamp        = 1 << 4
	SetupAttachWQ     = 1 << 5
	SetupRDisabled    = 1 << 6
	SetupSubmitAll    = 1 << 7
	SetupCoopTaskrun  = 1 << 8
	SetupTaskrunFlag  = 1 << 9
	SetupSQE128       = 1 << 10
	SetupCQE32        = 1 << 11
	SetupSingleIssuer = 1 << 12
	SetupDeferTaskrun = 1 << 13
	SetupNoMmap       = 1 << 14
	SetupRegisteredFD = 1 << 15
	SetupNoSQArray    = 1 << 16

	// setupRefused are the flags this package does not implement: they
	// change the shape of the rings or of the entries.
	setupRefused = SetupIOPoll | SetupSQE128 | SetupCQE32 | SetupNoMmap | SetupRegisteredFD | SetupNoSQArray
)

// Features the kernel reports (io_uring_params.features).
const (
	FeatSingleMmap     = 1 << 0
	FeatNoDrop         = 1 << 1
	FeatSubmitStable   = 1 << 2
	FeatRWCurPos       = 1 << 3
	FeatCurPersonality = 1 << 4
	FeatFastPoll       = 1 << 5
	FeatPoll32Bits     = 1 << 6
	FeatSQPollNonfixed = 1 << 7
	FeatExtArg         = 1 << 8
	FeatNativeWorkers  = 1 << 9
	FeatRsrcTags       = 1 << 10
	FeatCQESkip        = 1 << 11
	FeatLinkedFile     = 1 << 12
	FeatRegRegRing     = 1 << 13
	FeatRecvSendBundle = 1 << 14
	FeatMinTimeout     = 1 << 15
	FeatRWAttr         = 1 << 16
	FeatNoIOWait       = 1 << 17
)

var featNames = []string{"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS",
	"CUR_PERSONALITY", "FAST_POLL", "POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG",
	"NATIVE_WORKERS", "RSRC_TAGS", "CQE_SKIP", "LINKED_FILE", "REG_REG_RING",
	"RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT"}

// Opcodes (enum io_uring_op). Only those this package prepares or probes
// for are named.
const (
	OpNop           = 0
	OpReadv         = 1
	OpWritev        = 2
	OpReadFixed     = 4
	OpWriteFixed    = 5
	OpPollAdd       = 6
	OpAsyncCancel   = 14
	OpRead          = 22
	OpWrite         = 23
	OpProvideBufs   = 31
	OpReadMultishot = 49
)

// Cancel flags (io_uring_sqe.cancel_flags): asyncCancelAll cancels every
// match rather than the first, asyncCancelFd matches by file,
// asyncCancelAny cancels every request.
const (
	asyncCancelAll = 1 << 0
	asyncCancelFd  = 1 << 1
	asyncCancelAny = 1 << 2
)

// SQE flags (io_uring_sqe.flags).
const (
	SQEFixedFile      = 1 << 0
	SQEIODrain        = 1 << 1
	SQEIOLink         = 1 << 2
	SQEIOHardlink     = 1 << 3
	SQEAsync          = 1 << 4
	SQEBufferSelect   = 1 << 5
	SQECQESkipSuccess = 1 << 6
)

// CQE flags (io_uring_cqe.flags).
const (
	CQEFBuffer     = 1 << 0
	CQEFMore       = 1 << 1
	cqeBufferShift = 16
)

// Enter flags (io_uring_enter flags argument).
const (
	enterGetEvents = 1 << 0
	enterSQWakeup  = 1 << 1
	enterSQWait    = 1 << 2
	enterExtArg    = 1 << 3
)

// SQ ring flags, written by the kernel.
const (
	sqNeedWakeup = 1 << 0
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2
)

// mmap offsets of the three shared regions.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// Register opcodes (io_uring_register opcode argument).
const (
	registerBuffers     = 0
	unregisterBuffers   = 1
	registerFiles       = 2
	unregisterFiles     = 3
	registerProbe       = 8
	registerEnableRings = 12
	registerPbufRing    = 22
	unregisterPbufRing  = 23
)

type sqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

type cqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

type params struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFd uint32
	Resv                                                                   [3]uint32
	SQOff                                                                  sqringOffsets
	CQOff                                                                  cqringOffsets
}

// SQE is one submission queue entry (struct io_uring_sqe, 64 bytes). The
// Prep methods fill it; fields a method does not mention are zero.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	IOPrio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufIndex    uint16 // buf_index or buf_group
	Personality uint16
	FileIndex   uint32
	Addr3       uint64
	pad2        uint64
}

// CQE is one completion (struct io_uring_cqe, 16 bytes). Res is the result
// of the operation: a byte count, or a negated errno.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// BufferID is the provided buffer a completion used (valid when
// Flags&CQEFBuffer is set).
func (c *CQE) BufferID() uint16 { return uint16(c.Flags >> cqeBufferShift) }

// More reports whether a multishot request stays armed after this
// completion.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

type probeOp struct {
	Op    uint8
	Resv  uint8
	Flags uint16
	Resv2 uint32
}

type probe struct {
	LastOp uint8
	OpsLen uint8
	Resv   uint16
	Resv2  [3]uint32
	Ops    [256]probeOp
}

const probeOpSupported = 1 << 0

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Flags       uint16
	Resv        [3]uint64
}

// bufRingEntry is struct io_uring_buf; the ring's tail overlays the Resv
// field of entry 0.
type bufRingEntry struct {
	Addr uint64
	Len  uint32
	Bid  uint16
	Resv uint16
}
