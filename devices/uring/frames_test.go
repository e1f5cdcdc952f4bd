package uring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
)

// newFrames serves fd as port 0, or fails or skips as requireUring says.
func newFrames(t testing.TB, fd int, c FramesConfig) *Frames {
	t.Helper()
	lockThread(t)
	f, err := NewFrames(c)
	if err != nil {
		requireUring(t, err)
	}
	t.Cleanup(func() { f.Close() })
	if port, err := f.Add(fd); err != nil || port != 0 {
		t.Fatalf("Add: port %d, %v; want port 0", port, err)
	}
	return f
}

// lockThread keeps the test on one OS thread, as a Frames' owner must be
// (see NewFrames).
func lockThread(t testing.TB) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// one is the Receiver of a Frames that serves one fd.
type one struct {
	recv     func([]byte)
	stopped  error
	sendErrs []error
}

func (o *one) Frame(_ int, b []byte) {
	if o.recv != nil {
		o.recv(b)
	}
}
func (o *one) TooLong(int)                 {}
func (o *one) SendFailed(_ int, err error) { o.sendErrs = append(o.sendErrs, err) }
func (o *one) Stopped(_ int, err error)    { o.stopped = err }

// exchange is Exchange for a Frames that serves one fd: frames go to recv,
// and the fd's end is the error.
func exchange(f *Frames, timeout time.Duration, recv func([]byte)) (bool, error) {
	o := &one{recv: recv}
	woken, err := f.Exchange(timeout, o)
	if err == nil {
		err = o.stopped
	}
	return woken, err
}

// seqpacket is a socketpair that keeps message boundaries, a stand-in for
// a tap that needs no root: [0] is served by Frames, [1] is the peer.
func seqpacket(t testing.TB) [2]int {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return [2]int{p[0], p[1]}
}

// exchangeUntil calls Exchange until cond holds, for at most a minute: only a hang ends it.
func exchangeUntil(t testing.TB, f *Frames, recv func([]byte), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within a minute; stats %+v", f.Stats())
		}
		if _, err := exchange(f, 50*time.Millisecond, recv); err != nil {
			t.Fatal(err)
		}
	}
}

// The driver's loop: frames in, replies queued from inside recv, written
// by the next Exchange.
func TestFramesEcho(t *testing.T) {
	p := seqpacket(t)
	f := newFrames(t, p[0], FramesConfig{RxBuffers: 16, TxBuffers: 16, WakeFd: -1})
	const n = 100 // more than the buffers: they are recycled
	var got []string
	recv := func(b []byte) {
		got = append(got, string(b))
		reply := append([]byte("re:"), b...)
		if err := f.Send(0, reply); err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	for i := 0; i < n; i++ {
		if _, err := unix.Write(p[1], []byte(fmt.Sprintf("frame %03d", i))); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			exchangeUntil(t, f, recv, func() bool { return len(got) == i+1 })
		}
	}
	// Flush the last replies.
	if _, err := exchange(f, 0, recv); err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if w := fmt.Sprintf("frame %03d", i); g != w {
			t.Fatalf("frame %d: %q, want %q (out of order or corrupt)", i, g, w)
		}
	}
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		m, err := unix.Read(p[1], buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if w := fmt.Sprintf("re:frame %03d", i); string(buf[:m]) != w {
			t.Fatalf("reply %d: %q, want %q", i, buf[:m], w)
		}
	}
	st := f.Stats()
	if st.Received != n || st.Sent != n || st.SendErrors != 0 || st.SendDropped != 0 {
		t.Errorf("stats %+v, want %d received and sent, no errors", st, n)
	}
	if st.Enters >= 2*n {
		t.Errorf("%d enters for %d frames each way: not batching", st.Enters, n)
	}
}

// More frames arrive at once than there are receive buffers: the multishot
// read runs dry, is re-armed, and nothing is lost.
func TestFramesBurstBeyondBuffers(t *testing.T) {
	p := seqpacket(t)
	f := newFrames(t, p[0], FramesConfig{RxBuffers: 4, TxBuffers: 4, WakeFd: -1})
	// Arm the read first so that the burst meets an armed read.
	if _, err := exchange(f, 0, func([]byte) { t.Error("frame before any was sent") }); err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 0; i < n; i++ {
		if _, err := unix.Write(p[1], []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	exchangeUntil(t, f, func(b []byte) { got = append(got, b...) }, func() bool { return len(got) >= n })
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("frame %d carries %d: %v", i, got[i], got)
		}
	}
	if f.Stats().Rearms == 0 {
		t.Errorf("40 frames through 4 buffers without running dry: %+v", f.Stats())
	}
}

// A frame longer than FrameSize is counted and dropped, never handed over
// truncated (a tap, like this socket, cuts it to the buffer silently).
func TestFramesTooLong(t *testing.T) {
	p := seqpacket(t)
	f := newFrames(t, p[0], FramesConfig{FrameSize: 64, RxBuffers: 4, TxBuffers: 4, WakeFd: -1})
	for _, n := range []int{64, 65, 1000, 60} {
		if _, err := unix.Write(p[1], bytes.Repeat([]byte{byte(n)}, n)); err != nil {
			t.Fatal(err)
		}
	}
	var lens []int
	exchangeUntil(t, f, func(b []byte) { lens = append(lens, len(b)) },
		func() bool { return len(lens)+int(f.Stats().RxTooLong) >= 4 })
	if fmt.Sprint(lens) != "[64 60]" || f.Stats().RxTooLong != 2 {
		t.Errorf("frames of 64, 65, 1000, 60 bytes with FrameSize 64: handed over %v, %d dropped; want [64 60] and 2",
			lens, f.Stats().RxTooLong)
	}
}

func TestFramesWakeAndTimeout(t *testing.T) {
	p := seqpacket(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	f := newFrames(t, p[0], FramesConfig{RxBuffers: 4, TxBuffers: 4, WakeFd: efd})
	noFrame := func([]byte) { t.Error("frame on an idle socket") }
	woken, err := exchange(f, 20*time.Millisecond, noFrame)
	if err != nil || woken {
		t.Fatalf("idle Exchange: woken %v, %v; want a plain timeout", woken, err)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}()
	deadline := time.Now().Add(time.Minute)
	for !woken && time.Now().Before(deadline) {
		if woken, err = exchange(f, time.Second, noFrame); err != nil {
			t.Fatal(err)
		}
	}
	if !woken {
		t.Fatal("eventfd write did not wake Exchange")
	}
	var v [8]byte
	unix.Read(efd, v[:]) // the owner drains it
	// The poll stays armed for the next wake-up.
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	woken = false
	deadline = time.Now().Add(time.Minute)
	for !woken && time.Now().Before(deadline) {
		if woken, err = exchange(f, time.Second, noFrame); err != nil {
			t.Fatal(err)
		}
	}
	if !woken {
		t.Fatal("second eventfd write did not wake Exchange")
	}
}

func TestFramesSendLimits(t *testing.T) {
	p := seqpacket(t)
	// A small send buffer on the peer's receive side makes writes wait,
	// so send buffers stay in flight.
	unix.SetsockoptInt(p[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 1024)
	unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1024)
	f := newFrames(t, p[0], FramesConfig{FrameSize: 256, RxBuffers: 4, TxBuffers: 2, WakeFd: -1})
	if err := f.Send(0, make([]byte, 257)); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("Send of 257 bytes with FrameSize 256: %v, want ErrFrameTooLong", err)
	}
	var full error
	sent := 0
	for i := 0; i < 1000 && full == nil; i++ {
		if full = f.Send(0, bytes.Repeat([]byte{byte(i)}, 200)); full == nil {
			sent++
		}
		if _, err := exchange(f, 0, func([]byte) {}); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(full, ErrSendFull) {
		t.Fatalf("1000 frames to a peer that never reads: %v, want ErrSendFull", full)
	}
	if st := f.Stats(); st.SendDropped != 2 { // the long frame and the refused one
		t.Errorf("SendDropped %d, want 2", st.SendDropped)
	}
	// Draining the peer lets the waiting writes finish and frees buffers.
	buf := make([]byte, 256)
	drained := 0
	exchangeUntil(t, f, func([]byte) {}, func() bool {
		for {
			if _, _, err := unix.Recvfrom(p[1], buf, unix.MSG_DONTWAIT); err != nil {
				break
			}
			drained++
		}
		return drained == sent
	})
	if err := f.Send(0, []byte("after")); err != nil {
		t.Errorf("Send after the peer drained: %v", err)
	}
}

func TestFramesClose(t *testing.T) {
	p := seqpacket(t)
	lockThread(t)
	f, err := NewFrames(FramesConfig{WakeFd: -1})
	if err != nil {
		requireUring(t, err)
	}
	if _, err := f.Add(p[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange(f, 0, func([]byte) {}); err != nil { // arms the read
		t.Fatal(err)
	}
	f.Send(0, []byte("queued, never exchanged"))
	if err := f.Close(); err != nil {
		t.Fatalf("Close with a read armed: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := exchange(f, 0, func([]byte) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Exchange after Close: %v, want ErrClosed", err)
	}
	// The fd is the owner's: still open.
	if _, err := unix.Write(p[1], []byte("x")); err != nil {
		t.Errorf("peer write after Close: %v", err)
	}
}

// On a real tap in a test namespace: frames the kernel sends out of the
// tap arrive through the multishot read, and frames sent with Send arrive
// at the kernel as received on the interface.
func TestFramesTap(t *testing.T) {
	ns := testenv.NewNetns(t)
	const ifname = "utap0"
	const ethertype = 0x88b5 // IEEE local experimental: nothing else uses it
	var tapFd, pkt, ifindex int
	var mac net.HardwareAddr
	err := ns.Do(func() error {
		var err error
		tapFd, err = openTap(ifname)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tapFd)
	// Up before the packet socket binds: binding to a down interface
	// leaves ENETDOWN pending on the socket.
	ns.Run("ip", "link", "set", ifname, "up")
	err = ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		ifindex, mac = ifc.Index, ifc.HardwareAddr
		if pkt, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethertype))); err != nil {
			return err
		}
		return unix.Bind(pkt, &unix.SockaddrLinklayer{Protocol: htons(ethertype), Ifindex: ifindex})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pkt)
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(pkt, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	f := newFrames(t, tapFd, FramesConfig{RxBuffers: 8, TxBuffers: 8, WakeFd: -1})
	frame := func(seq int, dst, src net.HardwareAddr) []byte {
		b := make([]byte, 60)
		copy(b[0:6], dst)
		copy(b[6:12], src)
		binary.BigEndian.PutUint16(b[12:14], ethertype)
		binary.BigEndian.PutUint32(b[14:18], uint32(seq))
		return b
	}
	ours := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	const n = 50
	// Kernel -> tap fd.
	for i := 0; i < n; i++ {
		err := unix.Sendto(pkt, frame(i, ours, mac), 0, &unix.SockaddrLinklayer{Ifindex: ifindex, Protocol: htons(ethertype)})
		if err != nil {
			t.Fatalf("AF_PACKET send %d: %v", i, err)
		}
	}
	var seqs []int
	exchangeUntil(t, f, func(b []byte) {
		// Anything else the kernel sends (IPv6 solicitations) is not ours.
		if len(b) >= 18 && binary.BigEndian.Uint16(b[12:14]) == ethertype {
			seqs = append(seqs, int(binary.BigEndian.Uint32(b[14:18])))
		}
	}, func() bool { return len(seqs) >= n })
	for i, s := range seqs {
		if s != i {
			t.Fatalf("frame %d from the kernel carries sequence %d", i, s)
		}
	}
	// Tap fd -> kernel, in one batch.
	for i := 0; i < n; i++ {
		if err := f.Send(0, frame(1000+i, mac, ours)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := exchange(f, 0, func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		m, _, err := unix.Recvfrom(pkt, buf, 0)
		if err != nil {
			t.Fatalf("frame %d sent through the ring never reached the kernel: %v (stats %+v)", i, err, f.Stats())
		}
		if got := binary.BigEndian.Uint32(buf[14:18]); m < 18 || got != uint32(1000+i) {
			t.Fatalf("kernel received sequence %d as frame %d, want %d", got, i, 1000+i)
		}
	}
	if st := f.Stats(); st.Sent != n || st.SendErrors != 0 {
		t.Errorf("stats %+v, want %d sent and no errors", st, n)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openTap(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return fd, nil
}

// A zero-length read ends the multishot read: an empty message is handed
// over as an empty frame, and the peer's close stops the Frames with
// io.EOF rather than re-arming the read for ever.
func TestFramesEmptyMessageAndPeerClose(t *testing.T) {
	p := seqpacket(t)
	f := newFrames(t, p[0], FramesConfig{RxBuffers: 4, TxBuffers: 4, WakeFd: -1})
	for _, m := range []string{"before", "", "after"} {
		if _, err := unix.Write(p[1], []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	exchangeUntil(t, f, func(b []byte) { got = append(got, string(b)) }, func() bool { return len(got) >= 3 })
	if fmt.Sprintf("%q", got) != `["before" "" "after"]` {
		t.Errorf("frames %q, want before, an empty one, after", got)
	}
	unix.Close(p[1])
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = exchange(f, time.Second, func(b []byte) { t.Errorf("frame %q after the peer closed", b) })
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Exchange after the peer closed: %v, want io.EOF", err)
	}
	if st := f.Stats(); st.Enters > 10 {
		t.Errorf("%d enters to notice a closed peer: spinning", st.Enters)
	}
}

// A write that cannot complete at once (a full socket) must not hold up
// the wake-up of the Exchange that submitted it.
func TestFramesStalledWriteDoesNotHideWake(t *testing.T) {
	p := seqpacket(t)
	unix.SetsockoptInt(p[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 1024)
	unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1024)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	// The Frames lives on a goroutine of its own (on one thread, as it
	// must), so that a wait that never ends fails the test.
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		result <- stalledWriteThenWake(p[0], efd)
	}()
	select {
	case err := <-result:
		if err != nil {
			requireUring(t, err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Exchange without a timeout never returned for a wake-up while writes were stalled")
	}
}

func stalledWriteThenWake(fd, efd int) error {
	f, err := NewFrames(FramesConfig{FrameSize: 256, RxBuffers: 4, TxBuffers: 16, WakeFd: efd})
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Add(fd); err != nil {
		return err
	}
	// Fill the socket until writes stay in flight.
	for i := 0; i < 100 && f.Stats().Sent+f.Stats().SendErrors == uint64(i); i++ {
		if err := f.Send(0, make([]byte, 200)); err != nil {
			return err
		}
		if _, err := exchange(f, 0, func([]byte) {}); err != nil {
			return err
		}
	}
	for range 4 {
		if err := f.Send(0, make([]byte, 200)); err != nil {
			return err
		}
	}
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	for range 100 {
		woken, err := exchange(f, -1, func([]byte) {})
		if err != nil {
			return err
		}
		if woken {
			return nil
		}
	}
	return errors.New("the wake-up was not reported")
}

// WaitSendable holds back until a full peer takes frames again, or gives
// up at its deadline; frames that arrive meanwhile wait for Exchange.
func TestFramesWaitSendable(t *testing.T) {
	p := seqpacket(t)
	unix.SetsockoptInt(p[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 1024)
	unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1024)
	f := newFrames(t, p[0], FramesConfig{FrameSize: 256, RxBuffers: 4, TxBuffers: 2, WakeFd: -1})
	if _, err := exchange(f, 0, func([]byte) {}); err != nil { // arms the read
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		full = f.Send(0, make([]byte, 200))
		if _, err := exchange(f, 0, func([]byte) {}); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(full, ErrSendFull) {
		t.Fatalf("a peer that never reads: %v, want ErrSendFull", full)
	}
	if f.WaitSendable(0, time.Now().Add(30*time.Millisecond), nil) {
		t.Fatal("a send buffer came free though the peer reads nothing")
	}
	// The peer sends a frame, then starts reading.
	if _, err := unix.Write(p[1], []byte("meanwhile")); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		buf := make([]byte, 256)
		for {
			if _, err := unix.Read(p[1], buf); err != nil {
				return
			}
		}
	}()
	if !f.WaitSendable(0, time.Now().Add(time.Minute), nil) {
		t.Fatalf("no send buffer free after the peer drained: %+v", f.Stats())
	}
	if err := f.Send(0, []byte("after")); err != nil {
		t.Errorf("Send after WaitSendable: %v", err)
	}
	var got []string
	exchangeUntil(t, f, func(b []byte) { got = append(got, string(b)) }, func() bool { return len(got) > 0 })
	if got[0] != "meanwhile" {
		t.Errorf("frame received during the wait: %q, want \"meanwhile\"", got)
	}
}

// many is the Receiver of a Frames that serves several fds.
type many struct {
	f       *Frames
	frames  map[int][]string
	echo    bool
	stopped map[int]error
}

func newMany(f *Frames) *many {
	return &many{f: f, frames: map[int][]string{}, stopped: map[int]error{}}
}

func (m *many) Frame(port int, b []byte) {
	m.frames[port] = append(m.frames[port], string(b))
	if m.echo {
		if err := m.f.Send(port, append([]byte("re:"), b...)); err != nil {
			panic(err)
		}
	}
}
func (m *many) TooLong(int)                    {}
func (m *many) SendFailed(port int, err error) { panic(fmt.Sprintf("port %d: send: %v", port, err)) }
func (m *many) Stopped(port int, err error)    { m.stopped[port] = err }

// One ring serves many fds: each frame is handed over with its fd's port,
// and each reply goes to the fd it is sent to.
func TestFramesManyFds(t *testing.T) {
	lockThread(t)
	f, err := NewFrames(FramesConfig{RxBuffers: 16, TxBuffers: 16, MaxFds: 8, WakeFd: -1})
	if err != nil {
		requireUring(t, err)
	}
	defer f.Close()
	var peers [8][2]int
	for i := range peers {
		peers[i] = seqpacket(t)
		if port, err := f.Add(peers[i][0]); err != nil || port != i {
			t.Fatalf("Add %d: port %d, %v", i, port, err)
		}
	}
	if _, err := f.Add(seqpacket(t)[0]); !errors.Is(err, ErrTooManyFds) {
		t.Errorf("a ninth fd on a Frames for 8: %v, want ErrTooManyFds", err)
	}
	m := newMany(f)
	m.echo = true
	const n = 5
	for i := range peers {
		for j := range n {
			if _, err := unix.Write(peers[i][1], []byte(fmt.Sprintf("%d.%d", i, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for total := 0; total < n*len(peers); {
		if time.Now().After(deadline) {
			t.Fatalf("frames %v after a minute", m.frames)
		}
		if _, err := f.Exchange(50*time.Millisecond, m); err != nil {
			t.Fatal(err)
		}
		total = 0
		for _, fr := range m.frames {
			total += len(fr)
		}
	}
	if _, err := f.Exchange(0, m); err != nil { // the last replies
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for i := range peers {
		if got := fmt.Sprint(m.frames[i]); got != fmt.Sprintf("[%d.0 %d.1 %d.2 %d.3 %d.4]", i, i, i, i, i) {
			t.Errorf("port %d got %s", i, got)
		}
		for j := range n {
			k, err := unix.Read(peers[i][1], buf)
			if err != nil || string(buf[:k]) != fmt.Sprintf("re:%d.%d", i, j) {
				t.Fatalf("fd %d reply %d: %q, %v", i, j, buf[:max(k, 0)], err)
			}
		}
	}
}

// A port that floods takes every shared receive buffer at each turn;
// another port's frame still comes through at once.
func TestFramesFloodDoesNotStarve(t *testing.T) {
	lockThread(t)
	f, err := NewFrames(FramesConfig{RxBuffers: 16, TxBuffers: 16, MaxFds: 2, WakeFd: -1})
	if err != nil {
		requireUring(t, err)
	}
	defer f.Close()
	flood, quiet := seqpacket(t), seqpacket(t)
	unix.SetsockoptInt(flood[1], unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	// The flooding fd first: without the ordering, its read would be
	// armed first at every turn.
	for _, p := range [][2]int{flood, quiet} {
		if _, err := f.Add(p[0]); err != nil {
			t.Fatal(err)
		}
	}
	unix.SetNonblock(flood[1], true)
	m := newMany(f)
	if _, err := f.Exchange(0, m); err != nil { // arm both reads
		t.Fatal(err)
	}
	feed := func() {
		for {
			if _, err := unix.Write(flood[1], make([]byte, 60)); err != nil {
				return // the socket is full: more than the buffers are queued
			}
		}
	}
	for round := range 20 {
		feed()
		if round == 3 {
			if _, err := unix.Write(quiet[1], []byte("ping")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.Exchange(50*time.Millisecond, m); err != nil {
			t.Fatal(err)
		}
		if len(m.frames[1]) > 0 {
			if round > 5 {
				t.Errorf("the quiet port's frame took %d turns under a flood", round-3)
			}
			t.Logf("the quiet port's frame came in turn %d after it was sent; %d flood frames, %d re-arms", round-3, len(m.frames[0]), f.Stats().Rearms)
			return
		}
	}
	t.Fatalf("the quiet port's frame never came in 16 turns of a flood on the other port (%d flood frames)", len(m.frames[0]))
}

// Remove lets go of one fd at once, even with its read armed and writes
// stuck on a full socket; the other fds go on, and the port is reused.
func TestFramesRemove(t *testing.T) {
	lockThread(t)
	f, err := NewFrames(FramesConfig{FrameSize: 256, RxBuffers: 16, TxBuffers: 8, TxPerFd: 4, MaxFds: 2, WakeFd: -1})
	if err != nil {
		requireUring(t, err)
	}
	defer f.Close()
	stuck, other := seqpacket(t), seqpacket(t)
	unix.SetsockoptInt(stuck[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 1024)
	unix.SetsockoptInt(stuck[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1024)
	ps, _ := f.Add(stuck[0])
	po, _ := f.Add(other[0])
	m := newMany(f)
	// Fill the stuck fd's share of send buffers with writes that wait.
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		full = f.Send(ps, make([]byte, 200))
		if _, err := f.Exchange(0, m); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(full, ErrSendFull) {
		t.Fatalf("a peer that never reads: %v, want ErrSendFull", full)
	}
	// The other fd still has send buffers: TxPerFd kept them.
	if err := f.Send(po, []byte("still")); err != nil {
		t.Errorf("Send to the other fd while one is stuck: %v", err)
	}
	start := time.Now()
	lost, err := f.Remove(ps)
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if lost != 4 {
		t.Errorf("Remove lost %d writes, want the 4 stuck ones", lost)
	}
	t.Logf("Remove took %v", time.Since(start))
	// The kernel holds nothing on the fd: closing it hangs up its peer.
	unix.Close(stuck[0])
	fds := []unix.PollFd{{Fd: int32(stuck[1]), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 1000); n != 1 || fds[0].Revents&unix.POLLHUP == 0 {
		t.Errorf("peer of a removed and closed fd: revents %#x, want POLLHUP (is the ring still holding it?)", fds[0].Revents)
	}
	// The other fd goes on; the port is free again.
	if _, err := unix.Write(other[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(m.frames[po]) == 0 && time.Now().Before(deadline) {
		if _, err := f.Exchange(50*time.Millisecond, m); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(m.frames[po]) != "[hello]" || len(m.frames[ps]) != 0 {
		t.Errorf("frames after Remove: %v", m.frames)
	}
	buf := make([]byte, 64)
	if k, err := unix.Read(other[1], buf); err != nil || string(buf[:k]) != "still" {
		t.Errorf("the other fd's write: %q, %v", buf[:max(k, 0)], err)
	}
	third := seqpacket(t)
	if port, err := f.Add(third[0]); err != nil || port != ps {
		t.Errorf("Add after Remove: port %d, %v; want the freed port %d", port, err, ps)
	}
}
