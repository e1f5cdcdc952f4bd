package devices

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/devices/uring"
	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	netctl "github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

var loops = flag.String("loops", "ring,poll", "run the package's tests with each of these driver `loops`: ring (io_uring where the kernel has it), poll")

// hangGuard bounds a wait for something that must happen (a frame the host
// sends, an event, a release): the wait ends as soon as it happens, and the
// bound only ends a test that would otherwise hang, so it is long enough that
// no load on the machine reaches it.
const hangGuard = time.Minute

// TestMain runs every test (and benchmark) once per driver loop, so that
// the poll loop, which only kernels without io_uring would otherwise use,
// is kept honest.
//
// testenv.Main fails the package if a process the tests started, or a
// namespace they made, outlives them.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(testenv.Main(m.Run)) // fuzzing once is enough
	}
	os.Exit(testenv.Main(func() int { return runLoops(m) }))
}

func runLoops(m *testing.M) int {
	code := 0
	for _, l := range strings.Split(*loops, ",") {
		switch l {
		case "ring":
			pollOnly = false
		case "poll":
			pollOnly = true
		default:
			fmt.Fprintf(os.Stderr, "-loops: unknown loop %q: want ring or poll\n", l)
			os.Exit(2)
		}
		fmt.Printf("=== driver loop: %s\n", l)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	return code
}

// TestDriverLoop checks that a driver runs the loop it should: io_uring
// where the kernel has it (else the requirement is missing, and CI fails),
// the poll loop when forced. The debug log says which.
func TestDriverLoop(t *testing.T) {
	var log bytes.Buffer
	var logMu sync.Mutex
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := NewDriver(newHost(t, a.Name()), a, nil, WithLogger(logger))
	defer func() { d.Close(); b.Close() }()
	expect(t, b, hangGuard, "the first announcement", isGARP(hostIP))
	logMu.Lock()
	text := log.String()
	logMu.Unlock()
	t.Logf("log: %s", text)
	switch {
	case pollOnly:
		if d.loop.ring.Load() || !strings.Contains(text, "poll loop (forced)") {
			t.Errorf("forced poll loop: ring %v, log %q", d.loop.ring.Load(), text)
		}
	case !d.loop.ring.Load():
		if f, err := uring.NewFrames(uring.FramesConfig{WakeFd: -1}); err == nil {
			f.Close()
			t.Fatalf("the driver runs the poll loop where io_uring works; log %q", text)
		} else {
			testenv.Missing(t, "io_uring loop: "+err.Error())
		}
	case !strings.Contains(text, "io_uring loop"):
		t.Errorf("the io_uring loop runs, the log does not say so: %q", text)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// events collects what a driver reports.
type events struct {
	mu  sync.Mutex
	all []netcore.Event
	ch  chan netcore.Event
}

func newEvents() *events { return &events{ch: make(chan netcore.Event, 100)} }

func (e *events) add(ev netcore.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// wait returns the first event of kind that arrives within timeout.
func (e *events) wait(t testing.TB, kind netcore.EventKind, timeout time.Duration) netcore.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("no event of kind %d within %v; events: %v", kind, timeout, e.all)
		}
	}
}

// pairDriver runs the test host on one end of a pair and returns the other.
func pairDriver(t testing.TB) (*Driver, *Pair, *events) {
	t.Helper()
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	d := NewDriver(newHost(t, a.Name()), a, ev.add)
	t.Cleanup(func() {
		d.Close()
		b.Close()
	})
	return d, b, ev
}

func ctl(t testing.TB, d *Driver, text string) error {
	t.Helper()
	cmds, err := netcore.ParseCtl(d.Name()+"/ctl", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return d.Exec(d.Name()+"/ctl", cmds)
}

func arpCmd(t testing.TB, d *Driver, text string) error {
	t.Helper()
	cmds, err := netcore.ParseARPCommands(d.Name()+"/arp", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return d.Exec(d.Name()+"/arp", cmds)
}

func TestDriverAnswersARPAndPing(t *testing.T) {
	d, peer, _ := pairDriver(t)
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))

	if err := peer.WriteFrame(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)); err != nil {
		t.Fatal(err)
	}
	r := expect(t, peer, hangGuard, "the ARP reply", func(f parsed) bool { return f.isARP && f.arp.Op == wire.ARPReply })
	want := wire.ARPRepr{Op: wire.ARPReply, SenderMAC: hostMAC, SenderIP: hostIP, TargetMAC: peerMAC, TargetIP: peerIP}
	if r.arp != want || r.eth.Dst != peerMAC || r.eth.Src != hostMAC {
		t.Errorf("ARP reply %+v (eth %+v), want %+v", r.arp, r.eth, want)
	}

	payload := []byte("smolfs driver test payload 0123456789")
	if err := peer.WriteFrame(echoFrame(peerMAC, peerIP, 17, 1, payload)); err != nil {
		t.Fatal(err)
	}
	e := expect(t, peer, hangGuard, "the echo reply", func(f parsed) bool { return f.isEcho })
	if e.echo.Type != wire.ICMPEchoReply || e.echo.Ident != 17 || e.echo.Seq != 1 || !bytes.Equal(e.echo.Data, payload) ||
		e.ip.Src != hostIP || e.ip.Dst != peerIP || e.eth.Dst != peerMAC {
		t.Errorf("echo reply %+v %+v %+v", e.eth, e.ip, e.echo)
	}

	st := d.Snapshot().Stats
	if st[netcore.RxFrames] != 2 || st[netcore.ARPTxReply] != 1 || st[netcore.ICMPEchoTx] != 1 || st[netcore.TxDropped] != 0 {
		t.Errorf("stats: rx_frames %d arp_tx_reply %d icmp_echo_tx %d tx_dropped %d, want 2 1 1 0",
			st[netcore.RxFrames], st[netcore.ARPTxReply], st[netcore.ICMPEchoTx], st[netcore.TxDropped])
	}
	if d.Err() != nil {
		t.Errorf("Err() = %v on a working device", d.Err())
	}
}

func TestDriverExecSendsGratuitousARP(t *testing.T) {
	d, peer, _ := pairDriver(t)
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))

	if err := ctl(t, d, "garp"); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, hangGuard, "garp for "+hostIP.String(), isGARP(hostIP))

	if err := ctl(t, d, "add "+otherPfx.String()); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, hangGuard, "garp for the added address", isGARP(otherPfx.Addr()))

	// A bad write changes nothing and sends nothing.
	if err := ctl(t, d, "add "+otherPfx.String()); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("adding an address twice: %v, want EEXIST", err)
	}
	if got := d.Snapshot().Config.Addrs; len(got) != 2 {
		t.Errorf("addresses %v, want 2", got)
	}
}

func TestDriverResolveRetriesAndFails(t *testing.T) {
	d, peer, ev := pairDriver(t)
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))
	silent := netip.MustParseAddr("192.168.69.7")   // resolved by command
	stranger := netip.MustParseAddr("192.168.69.8") // pings us, never answers ARP

	// The requests' times are the host's, from the capture: the pair's
	// reader may be late to read one and then read two together.
	sub := d.Subscribe(0)
	defer sub.Close()
	start := time.Now()
	if err := arpCmd(t, d, "resolve "+silent.String()); err != nil {
		t.Fatal(err)
	}
	// The reply to this ping waits for ARP, which fails: an event.
	strangerMAC := wire.MAC{0x02, 0, 0, 0, 0, 0x08}
	if err := peer.WriteFrame(echoFrame(strangerMAC, stranger, 1, 1, []byte("x"))); err != nil {
		t.Fatal(err)
	}

	// Three requests for each address, one a second, driven by the real clock.
	isRequest := func(f parsed) bool {
		return f.isARP && f.arp.Op == wire.ARPRequest && f.arp.TargetIP == silent
	}
	for range 3 {
		expect(t, peer, hangGuard, "ARP request for "+silent.String(), isRequest)
	}
	var times []time.Duration
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		if f.Dir == capture.Out && isRequest(parse(f.Data)) {
			times = append(times, f.Time.Sub(start))
		}
		return true
	})
	if len(times) != 3 {
		t.Fatalf("the capture shows %d requests for %s, want the 3 sent", len(times), silent)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i] - times[i-1]; gap < netcore.ARPRequestInterval/2 {
			t.Errorf("requests %d and %d only %v apart: want about %v", i-1, i, gap, netcore.ARPRequestInterval)
		}
	}
	// An event for the waiting reply at least (and for the resolve command
	// too, if netcore reports failed resolutions without waiting frames).
	for {
		e := ev.wait(t, netcore.EventUnresolved, hangGuard)
		if strings.Contains(e.Msg, stranger.String()+" ") {
			t.Logf("requests at %v; %q after %v", times, e.Msg, time.Since(start))
			break
		}
	}

	// Both resolutions failed; the entries are gone.
	deadline := time.Now().Add(hangGuard)
	for {
		s, arp := d.Snapshot(), d.ARPTable()
		if s.Stats[netcore.ARPFailed] == 2 && len(arp) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("arp_failed %d, arp %v: want 2 failures and an empty cache", s.Stats[netcore.ARPFailed], arp)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDriverCloseUnblocksAndEndsCaptures(t *testing.T) {
	before := runtime.NumGoroutine()
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d := NewDriver(newHost(t, a.Name()), a, nil)
	sub := d.Subscribe(0)
	waitErr := make(chan error, 1)
	go func() { waitErr <- sub.Wait(context.Background()) }()

	// A frame the host sends is captured; the reader takes it and waits again.
	if err := ctl(t, d, "garp"); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; err != nil {
		t.Fatalf("first Wait: %v", err)
	}
	if sub.Take(nil, func(f capture.CapturedFrame) bool { return f.Dir == capture.Out }) == 0 {
		t.Error("the gratuitous ARP was not captured")
	}
	go func() { waitErr <- sub.Wait(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let the loop settle into its wait

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("Close did not return within %v", hangGuard)
	}
	t.Logf("Close returned after %v", time.Since(start))
	select {
	case err := <-waitErr:
		if err != io.EOF {
			t.Errorf("capture reader after Close: %v, want io.EOF", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("capture reader still blocked after Close")
	}
	if late := d.Subscribe(0); late.Wait(context.Background()) != io.EOF {
		t.Error("a subscription after Close does not see io.EOF")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if d.Err() != nil {
		t.Errorf("Err() after a plain Close: %v, want nil", d.Err())
	}
	if err := ctl(t, d, "garp"); !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: %v, want EIO and ErrClosed", err)
	}
	_ = d.Snapshot() // still works
	// The device is closed: the other end sees end of file.
	if _, err := b.ReadFrame(make([]byte, 100), hangGuard); err != nil && !errors.Is(err, ErrPeerClosed) {
		t.Errorf("peer read: %v", err)
	}
	expectGoroutines(t, before)
}

// expectGoroutines waits for the goroutine count to fall back to n.
func expectGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDriverPeerGone(t *testing.T) {
	before := runtime.NumGoroutine()
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	d := NewDriver(newHost(t, a.Name()), a, ev.add)
	defer d.Close()
	expect(t, b, hangGuard, "the first announcement", isGARP(hostIP))
	b.Close()

	e := ev.wait(t, netcore.EventDown, hangGuard)
	if !strings.HasPrefix(e.Msg, "device gone: ") {
		t.Errorf("down event %q, want it to start with \"device gone: \"", e.Msg)
	}
	select {
	case <-d.done:
	case <-time.After(hangGuard):
		t.Fatal("the loop did not end")
	}
	if err := d.Err(); !errors.Is(err, ErrDeviceGone) {
		t.Errorf("Err() = %v, want ErrDeviceGone", err)
	}
	checkGone(t, d)
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	expectGoroutines(t, before)
}

// checkGone checks what the file server may still do with a host whose
// device has gone.
func checkGone(t *testing.T, d *Driver) {
	t.Helper()
	s := d.Snapshot()
	if !s.Config.Down {
		t.Error("the host is not down after its device went away")
	}
	err := ctl(t, d, "mtu 1400\nup")
	var ce *netctl.CommandError
	if !errors.As(err, &ce) || ce.Errno != syscall.EIO || ce.Line != 2 || !errors.Is(err, ErrDeviceGone) {
		t.Errorf("up after the device went: %v, want a CommandError of class EIO on line 2 wrapping ErrDeviceGone", err)
	}
	t.Logf("up: %v", err)
	if d.Snapshot().Config.MTU == 1400 {
		t.Error("a failed write was half applied")
	}
	if err := ctl(t, d, "mtu 1400"); err != nil {
		t.Errorf("mtu after the device went: %v", err)
	}
	if err := arpCmd(t, d, "add 192.168.69.9 02:00:00:00:00:09"); err != nil {
		t.Errorf("arp add after the device went: %v", err)
	}
	s, arp := d.Snapshot(), d.ARPTable()
	static := slices.ContainsFunc(arp, func(e netcore.ARPEntry) bool {
		return e.IP == netip.MustParseAddr("192.168.69.9") && e.State == netcore.Static
	})
	if s.Config.MTU != 1400 || !static {
		t.Errorf("mtu %d, arp %v: the commands did not apply", s.Config.MTU, arp)
	}
}

// TestDriverFullDeviceDrops fills the other end's queue: the driver must
// drop and count what does not fit, and keep answering once there is room.
func TestDriverFullDeviceDrops(t *testing.T) {
	d, peer, _ := pairDriver(t)
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))
	req := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)
	// Never read: the socket's buffer fills up with replies.
	// Commands keep coming meanwhile: their wakeups must not cut the
	// driver's wait for room short, nor be lost.
	const n = 5000
	for i := range n {
		if err := peer.WriteFrame(req); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			if err := ctl(t, d, "garp"); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(hangGuard)
	for {
		s := d.Snapshot().Stats
		if s[netcore.RxFrames] == n {
			if s[netcore.TxDropped] == 0 {
				t.Errorf("%d replies to a peer that never reads, none dropped", s[netcore.ARPTxReply])
			}
			t.Logf("rx %d, tx %d, tx_dropped %d", s[netcore.RxFrames], s[netcore.TxFrames], s[netcore.TxDropped])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d frames received", s[netcore.RxFrames], n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Drain what was queued, then the link works again.
	buf := make([]byte, 2048)
	for {
		if _, err := peer.ReadFrame(buf, 100*time.Millisecond); err != nil {
			break
		}
	}
	if err := peer.WriteFrame(echoFrame(peerMAC, peerIP, 5, 5, nil)); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, hangGuard, "an echo reply after the drops", func(f parsed) bool { return f.isEcho && f.echo.Seq == 5 })
	if d.Err() != nil {
		t.Errorf("a full device is not a gone device: %v", d.Err())
	}
}

// TestDriverReceiveAllocations checks that steady traffic allocates nothing
// per frame: request and reply round trips through the pair.
func TestDriverReceiveAllocations(t *testing.T) {
	_, peer, _ := pairDriver(t)
	introducePeer(t, peer)
	req := echoFrame(peerMAC, peerIP, 1, 1, make([]byte, 56))
	buf := make([]byte, 2048)
	roundTrip := func() {
		if err := peer.WriteFrame(req); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.ReadFrame(buf, hangGuard); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // warm up: buffers grow to their steady size
		roundTrip()
	}
	const n = 2000
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range n {
		roundTrip()
	}
	runtime.ReadMemStats(&m1)
	perFrame := float64(m1.Mallocs-m0.Mallocs) / n
	t.Logf("%.3f allocations per round trip", perFrame)
	if perFrame > 0.1 {
		t.Errorf("%.3f allocations per round trip, want none", perFrame)
	}
}

func BenchmarkDriverEchoRoundTrip(b *testing.B) {
	_, peer, _ := pairDriver(b)
	introducePeer(b, peer)
	echoRoundTrips(b, peer)
}

// introducePeer makes the host learn the peer's address (its ARP request),
// so that echo replies go out at once.
func introducePeer(t testing.TB, peer *Pair) {
	t.Helper()
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))
	if err := peer.WriteFrame(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, hangGuard, "the ARP reply", func(f parsed) bool { return f.isARP })
}

// echoRoundTrips measures a ping and its answer through peer.
func echoRoundTrips(b *testing.B, peer *Pair) {
	req := echoFrame(peerMAC, peerIP, 1, 1, make([]byte, 56))
	buf := make([]byte, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if err := peer.WriteFrame(req); err != nil {
			b.Fatal(err)
		}
		if _, err := peer.ReadFrame(buf, hangGuard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDriverCloseLatency(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		x, y, err := NewPair()
		if err != nil {
			b.Fatal(err)
		}
		d := NewDriver(newHost(b, x.Name()), x, nil)
		// The announcement has been sent: the loop is in (or on its way
		// into) its wait.
		if _, err := y.ReadFrame(make([]byte, 100), time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		d.Close()
		total += time.Since(start)
		y.Close()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/close")
}

// BenchmarkPairEchoBaseline is the floor for BenchmarkDriverEchoRoundTrip: a
// goroutine that sends every frame straight back, with the same poll and
// read/write calls as the driver but no host and no lock.
func BenchmarkPairEchoBaseline(b *testing.B) {
	a, peer, err := NewPair()
	if err != nil {
		b.Fatal(err)
	}
	stop, _ := newWaker()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, maxFrameLen)
		fds := [2]unix.PollFd{{Fd: int32(a.Fd()), Events: unix.POLLIN}, {Fd: int32(stop.fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Ppoll(fds[:], nil, nil); err != nil && err != unix.EINTR {
				return
			}
			if fds[1].Revents != 0 {
				return
			}
			for {
				n, err := unix.Read(a.Fd(), buf)
				if err != nil {
					break
				}
				unix.Write(a.Fd(), buf[:n])
			}
		}
	}()
	defer func() { stop.signal(); <-done; stop.close(); a.Close(); peer.Close() }()
	echoRoundTrips(b, peer)
}

// A frame longer than any the host accepts (a tap whose kernel side has a
// larger MTU) is counted as received and too big by both loops; the io_uring
// loop never hands it over cut short.
func TestDriverOversizeFrame(t *testing.T) {
	d, peer, _ := pairDriver(t)
	expect(t, peer, hangGuard, "the first announcement", isGARP(hostIP))
	big := make([]byte, 3000)
	copy(big, arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP))
	if err := peer.WriteFrame(big); err != nil {
		t.Fatal(err)
	}
	// A normal frame after it is answered.
	if err := peer.WriteFrame(echoFrame(peerMAC, peerIP, 9, 9, nil)); err != nil {
		t.Fatal(err)
	}
	isReply9 := func(f parsed) bool { return f.isEcho && f.echo.Seq == 9 }
	if err := peer.WriteFrame(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, hangGuard, "the echo reply after the oversize frame", isReply9)
	s := d.Snapshot().Stats
	if s[netcore.RxTooBig] != 1 || s[netcore.RxFrames] != 3 || s[netcore.ARPTxReply] != 1 {
		t.Errorf("rx_too_big %d, rx_frames %d, arp_tx_reply %d: want 1, 3, 1 (the oversize request must not be answered)",
			s[netcore.RxTooBig], s[netcore.RxFrames], s[netcore.ARPTxReply])
	}
}
