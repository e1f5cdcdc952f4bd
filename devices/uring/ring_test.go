package uring

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing makes a ring or fails the test; io_uring is a kernel feature
// that can be disabled (kernel.io_uring_disabled), which counts as missing.
func newRing(t testing.TB, entries uint32, o Options) *Ring {
	t.Helper()
	r, err := New(entries, o)
	if err != nil {
		requireUring(t, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// wait collects completions until it has n of them or the deadline
// passes; it fails the test on a short count.
func wait(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	var got []CQE
	buf := make([]CQE, 64)
	deadline := time.Now().Add(time.Minute)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d completions within a minute: %+v", len(got), n, got)
		}
		if _, err := r.SubmitAndWaitTimeout(uint32(n-len(got)), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		k := r.Completions(buf)
		got = append(got, buf[:k]...)
	}
	return got
}

func TestABISizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), 16},
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
		{"io_uring_buf_reg", unsafe.Sizeof(bufReg{}), 40},
		{"io_uring_buf", unsafe.Sizeof(bufRingEntry{}), 16},
		{"io_uring_probe", unsafe.Sizeof(probe{}), 16 + 256*8},
		{"io_uring_getevents_arg", unsafe.Sizeof(getEventsArg{}), 24},
		{"sqe.user_data offset", unsafe.Offsetof(SQE{}.UserData), 32},
		{"sqe.buf_index offset", unsafe.Offsetof(SQE{}.BufIndex), 40},
		{"sqe.file_index offset", unsafe.Offsetof(SQE{}.FileIndex), 44},
		{"sqe.addr3 offset", unsafe.Offsetof(SQE{}.Addr3), 48},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, kernel has %d", c.name, c.got, c.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(0, Options{}); err == nil {
		t.Error("New(0) succeeded")
	}
	if _, err := New(8, Options{Flags: SetupSQE128}); err == nil {
		t.Error("New with SQE128 succeeded; this package cannot fill 128-byte entries")
	}
}

func TestNopBatch(t *testing.T) {
	r := newRing(t, 8, Options{})
	if r.SQEntries() != 8 || r.CQEntries() != 16 {
		t.Fatalf("queue sizes %d/%d, want 8/16", r.SQEntries(), r.CQEntries())
	}
	for i := 0; i < 8; i++ {
		s := r.GetSQE()
		if s == nil {
			t.Fatalf("GetSQE %d: nil with %d free", i, r.SQSpace())
		}
		s.PrepNop(uint64(100 + i))
	}
	if s := r.GetSQE(); s != nil {
		t.Fatal("GetSQE on a full queue returned an entry")
	}
	n, err := r.SubmitAndWait(8)
	if err != nil || n != 8 {
		t.Fatalf("SubmitAndWait: %d, %v; want 8", n, err)
	}
	if r.SQSpace() != 8 {
		t.Errorf("SQSpace after submit: %d, want 8", r.SQSpace())
	}
	got := wait(t, r, 8)
	seen := map[uint64]bool{}
	for _, c := range got {
		if c.Res != 0 {
			t.Errorf("nop %d: res %d", c.UserData, c.Res)
		}
		seen[c.UserData] = true
	}
	for i := 0; i < 8; i++ {
		if !seen[uint64(100+i)] {
			t.Errorf("no completion for user data %d", 100+i)
		}
	}
	if r.Ready() != 0 {
		t.Errorf("Ready after draining: %d", r.Ready())
	}
}

// The ring wraps many times: indices are free-running counters.
func TestWrapAround(t *testing.T) {
	r := newRing(t, 4, Options{})
	for round := 0; round < 100; round++ {
		for i := 0; i < 3; i++ {
			r.GetSQE().PrepNop(uint64(round*10 + i))
		}
		got := wait(t, r, 3)
		for i, c := range got {
			if c.UserData != uint64(round*10+i) {
				t.Fatalf("round %d: completion %d has user data %d", round, i, c.UserData)
			}
		}
	}
}

func TestPipeReadWrite(t *testing.T) {
	r := newRing(t, 16, Options{})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	// A read armed before the data exists completes when it arrives.
	rb := make([]byte, 64)
	r.GetSQE().PrepRead(p[0], rb, 0, 1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if r.Ready() != 0 {
		t.Fatal("read of an empty pipe completed at once")
	}
	msg := []byte("through the ring")
	r.GetSQE().PrepWrite(p[1], msg, 0, 2)
	got := wait(t, r, 2)
	res := map[uint64]int32{}
	for _, c := range got {
		res[c.UserData] = c.Res
	}
	if res[2] != int32(len(msg)) {
		t.Errorf("write: res %d, want %d", res[2], len(msg))
	}
	if res[1] != int32(len(msg)) || !bytes.Equal(rb[:len(msg)], msg) {
		t.Errorf("read: res %d %q, want %q", res[1], rb[:max(res[1], 0)], msg)
	}
}

func TestErrorResult(t *testing.T) {
	r := newRing(t, 4, Options{})
	r.GetSQE().PrepRead(-1, make([]byte, 8), 0, 7)
	c := wait(t, r, 1)[0]
	if !errors.Is(Errno(c.Res), unix.EBADF) {
		t.Errorf("read on fd -1: res %d (%v), want EBADF", c.Res, Errno(c.Res))
	}
	if Errno(5) != nil {
		t.Error("Errno of a byte count is not nil")
	}
}

// Many datagrams each way in one system call, on a socketpair whose
// message boundaries behave like a tap's frames.
func TestSocketpairBatch(t *testing.T) {
	for _, o := range testSetups(t) {
		t.Run(o.name, func(t *testing.T) {
			if o.opts.Flags&SetupSingleIssuer != 0 {
				runtime.LockOSThread() // the thread dies with the subtest
			}
			r := newRing(t, 64, o.opts)
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			const n = 32
			rbufs := make([][]byte, n)
			for i := range rbufs {
				rbufs[i] = make([]byte, 128)
				r.GetSQE().PrepRead(fds[1], rbufs[i], 0, uint64(i))
			}
			wbufs := make([][]byte, n)
			for i := range wbufs {
				wbufs[i] = []byte(fmt.Sprintf("frame %02d", i))
				r.GetSQE().PrepWrite(fds[0], wbufs[i], 0, uint64(1000+i))
			}
			got := wait(t, r, 2*n)
			var payloads []string
			for _, c := range got {
				if c.Res < 0 {
					t.Fatalf("op %d: %v", c.UserData, Errno(c.Res))
				}
				if c.UserData < n {
					payloads = append(payloads, string(rbufs[c.UserData][:c.Res]))
				}
			}
			if len(payloads) != n {
				t.Fatalf("%d reads completed, want %d", len(payloads), n)
			}
			seen := map[string]bool{}
			for _, p := range payloads {
				seen[p] = true
			}
			for i := 0; i < n; i++ {
				if w := fmt.Sprintf("frame %02d", i); !seen[w] {
					t.Errorf("datagram %q never read (got %q)", w, payloads)
				}
			}
		})
	}
}

type setup struct {
	name string
	opts Options
}

// testSetups are the ring flavours worth exercising; ones that bind the
// ring to a thread lock the test's goroutine to its thread.
func testSetups(t *testing.T) []setup {
	return []setup{
		{"plain", Options{}},
		{"coop", Options{Flags: SetupCoopTaskrun | SetupTaskrunFlag}},
		{"defer", Options{Flags: SetupSingleIssuer | SetupDeferTaskrun}},
		{"sqpoll", Options{Flags: SetupSQPoll, SQThreadIdle: 10 * time.Millisecond}},
	}
}

func TestRegisteredBuffersAndFiles(t *testing.T) {
	r := newRing(t, 8, Options{})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	if err := r.RegisterBuffers([][]byte{mem}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFiles([]int{p[0], p[1]}); err != nil {
		t.Fatal(err)
	}
	copy(mem[2048:], "fixed")
	s := r.GetSQE()
	s.PrepWriteFixed(1, mem[2048:2053], 0, 0, 1) // file index 1: p[1]
	s.UseFixedFile()
	s = r.GetSQE()
	s.PrepReadFixed(0, mem[:64], 0, 0, 2)
	s.UseFixedFile()
	for _, c := range wait(t, r, 2) {
		if c.Res != 5 {
			t.Errorf("op %d: res %d (%v), want 5", c.UserData, c.Res, Errno(c.Res))
		}
	}
	if string(mem[:5]) != "fixed" {
		t.Errorf("read %q, want %q", mem[:5], "fixed")
	}
	// A fixed read outside the registered buffer is refused.
	other := make([]byte, 16)
	r.GetSQE().PrepReadFixed(p[0], other, 0, 0, 3)
	if c := wait(t, r, 1)[0]; c.Res >= 0 {
		t.Errorf("fixed read into an unregistered buffer: res %d, want an error", c.Res)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Error(err)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Error(err)
	}
}

func TestMultishotSocket(t *testing.T) {
	r := newRing(t, 8, Options{})
	if ok, err := r.Supported(OpReadMultishot); err != nil || !ok[0] {
		requireUring(t, fmt.Errorf("IORING_OP_READ_MULTISHOT not supported (Linux 6.7): %v", err))
	}
	// A datagram socket keeps message boundaries, as a tap does frames.
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	br, err := r.NewBufRing(3, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	r.GetSQE().PrepReadMultishot(p[0], 3, 9)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	// Ten messages through four buffers: recycling keeps the read armed.
	var got []string
	for i := 0; i < 10; i++ {
		msg := fmt.Sprintf("m%d", i)
		if _, err := unix.Write(p[1], []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c := wait(t, r, 1)[0]
		if c.Res < 0 || c.Flags&CQEFBuffer == 0 {
			t.Fatalf("message %d: res %d (%v) flags %#x", i, c.Res, Errno(c.Res), c.Flags)
		}
		if !c.More() {
			t.Fatalf("message %d: multishot read disarmed", i)
		}
		got = append(got, string(br.Buf(c.BufferID())[:c.Res]))
		br.Recycle(c.BufferID())
		br.Commit()
	}
	for i, g := range got {
		if g != fmt.Sprintf("m%d", i) {
			t.Errorf("message %d: %q", i, g)
		}
	}
	// With no buffer left, the read ends with ENOBUFS and no CQEFMore.
	for i := 0; i < 5; i++ {
		unix.Write(p[1], []byte("x"))
	}
	var cqes []CQE
	for len(cqes) == 0 || cqes[len(cqes)-1].More() {
		if len(cqes) > 5 {
			t.Fatalf("5 messages into 4 buffers gave %d completions, all with CQEFMore: %+v", len(cqes), cqes)
		}
		cqes = append(cqes, wait(t, r, 1)...)
	}
	if len(cqes) != 5 {
		t.Errorf("5 messages into 4 buffers: %d completions, want 4 and ENOBUFS: %+v", len(cqes), cqes)
	}
	last := cqes[len(cqes)-1]
	if last.More() || !errors.Is(Errno(last.Res), unix.ENOBUFS) {
		t.Errorf("read with the buffer ring empty: res %d (%v) more %v, want ENOBUFS and disarmed", last.Res, Errno(last.Res), last.More())
	}
}

func TestTimeoutAndClose(t *testing.T) {
	r := newRing(t, 4, Options{})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	r.GetSQE().PrepRead(p[0], make([]byte, 8), 0, 1)
	n, err := r.SubmitAndWaitTimeout(1, 10*time.Millisecond)
	if err != nil || n != 1 {
		t.Fatalf("SubmitAndWaitTimeout on an idle pipe: %d, %v; want 1 submitted and no error", n, err)
	}
	if r.Ready() != 0 {
		t.Fatal("a read of an empty pipe completed")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

func TestFeatureString(t *testing.T) {
	if s := FeatureString(FeatNoDrop | FeatFastPoll | 1<<30); s != "NODROP,FAST_POLL,bit30" {
		t.Errorf("FeatureString: %q", s)
	}
}
