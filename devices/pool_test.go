package devices

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
)

// poolHost is a host a test runs on a Pool, and the other end of its link.
type poolHost struct {
	d    *Driver
	peer *Pair
	ev   *events
}

// startHosts runs n hosts on p, each on a pair of its own, and waits for
// each one's first announcement.
func startHosts(t testing.TB, p *Pool, n int) []poolHost {
	t.Helper()
	hosts := make([]poolHost, n)
	for i := range hosts {
		a, b, err := NewPair()
		if err != nil {
			t.Fatal(err)
		}
		ev := newEvents()
		d, err := p.Start(newHost(t, fmt.Sprintf("h%d", i)), a, ev.add, nil)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = poolHost{d, b, ev}
		t.Cleanup(func() { d.Close(); b.Close() })
	}
	for _, h := range hosts {
		expect(t, h.peer, hangGuard, h.d.Name()+"'s first announcement", isGARP(hostIP))
	}
	return hosts
}

// learnPeer makes the host learn the peer: an ARP request, its reply.
func learnPeer(t testing.TB, h poolHost) {
	t.Helper()
	if err := h.peer.WriteFrame(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)); err != nil {
		t.Fatal(err)
	}
	expect(t, h.peer, hangGuard, h.d.Name()+"'s ARP reply", func(f parsed) bool { return f.isARP && f.arp.Op == wire.ARPReply })
}

// pingHost makes the host learn the peer (ARP) and answer an echo request.
func pingHost(t testing.TB, h poolHost, seq uint16) {
	t.Helper()
	learnPeer(t, h)
	if err := h.peer.WriteFrame(echoFrame(peerMAC, peerIP, 7, seq, []byte("pool"))); err != nil {
		t.Fatal(err)
	}
	expect(t, h.peer, hangGuard, fmt.Sprintf("%s's echo reply %d", h.d.Name(), seq), func(f parsed) bool { return f.isEcho && f.echo.Seq == seq })
}

// threads is the number of OS threads of this process.
func threads(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// TestPoolThreadsBoundedByLoops runs 200 hosts on a pool of two loops:
// every host answers ARP and ping, and the process gains at most a thread
// per loop and a few for the runtime, not one per host.
func TestPoolThreadsBoundedByLoops(t *testing.T) {
	const loops, n = 2, 200
	before := threads(t)
	p := NewPool(loops)
	defer p.Close()
	hosts := startHosts(t, p, n)
	for i, h := range hosts {
		pingHost(t, h, uint16(i))
	}
	after := threads(t)
	t.Logf("threads: %d before, %d with %d hosts on %d loops (%v)", before, after, n, loops, p.Backends())
	// A loop's thread each, and the runtime's for the test goroutines'
	// blocking polls: nowhere near one a host.
	if bound := before + loops + 6; after > bound {
		t.Errorf("%d threads with %d hosts on %d loops, want at most %d", after, n, loops, bound)
	}
	if b := p.Backends(); len(b) != loops {
		t.Errorf("loops started: %v, want %d", b, loops)
	}
	for _, h := range hosts {
		if s := h.d.Snapshot().Stats; s[netcore.ICMPEchoTx] != 1 || s[netcore.ARPTxReply] != 1 || s[netcore.TxDropped] != 0 {
			t.Fatalf("%s: icmp_echo_tx %d, arp_tx_reply %d, tx_dropped %d; want 1 1 0", h.d.Name(),
				s[netcore.ICMPEchoTx], s[netcore.ARPTxReply], s[netcore.TxDropped])
		}
	}
}

// A device that goes away takes its host down, with an event and Err set,
// while the other hosts of its loop keep answering.
func TestPoolDeviceGoneLeavesOthers(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	hosts := startHosts(t, p, 3)
	gone := hosts[1]
	gone.peer.Close()
	e := gone.ev.wait(t, netcore.EventDown, 5*time.Second)
	if !strings.HasPrefix(e.Msg, "device gone: ") {
		t.Errorf("down event %q, want it to start with \"device gone: \"", e.Msg)
	}
	select {
	case <-gone.d.done:
	case <-time.After(hangGuard):
		t.Fatal("the loop did not let go of the gone device")
	}
	if err := gone.d.Err(); !errors.Is(err, ErrDeviceGone) {
		t.Errorf("Err() = %v, want ErrDeviceGone", err)
	}
	checkGone(t, gone.d)
	for i, h := range []poolHost{hosts[0], hosts[2]} {
		pingHost(t, h, uint16(i))
		if h.d.Err() != nil || h.d.Snapshot().Config.Down {
			t.Errorf("%s is down after another host's device went: %v", h.d.Name(), h.d.Err())
		}
	}
	if err := gone.d.Close(); err != nil {
		t.Errorf("Close of the gone host: %v", err)
	}
	// The loop still serves a host started afterwards.
	more := startHosts(t, p, 1)
	pingHost(t, more[0], 9)
}

// Closing one host returns at once while its loop serves another under
// traffic; the closed host's device is let go (its peer reads end of
// file), and the other host loses nothing.
func TestPoolCloseOneWhileServingOthers(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	hosts := startHosts(t, p, 3)
	busy, closing := hosts[0], hosts[1]
	learnPeer(t, busy)
	stop := make(chan struct{})
	var answered atomic.Int64
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 2048)
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			if err := busy.peer.WriteFrame(echoFrame(peerMAC, peerIP, 1, seq, nil)); err != nil {
				errc <- err
				return
			}
			for {
				n, err := busy.peer.ReadFrame(buf, hangGuard)
				if err != nil {
					errc <- fmt.Errorf("echo %d: %w", seq, err)
					return
				}
				if f := parse(buf[:n]); f.isEcho && f.echo.Seq == seq {
					break
				}
			}
			answered.Add(1)
		}
	}()
	for answered.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := closing.d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	took := time.Since(start)
	if took > time.Second {
		t.Errorf("Close took %v while the loop served another host", took)
	}
	if _, err := closing.peer.ReadFrame(make([]byte, 100), hangGuard); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("the closed host's peer: %v, want end of file", err)
	}
	if err := closing.d.Exec("h1/ctl", nil); !errors.Is(err, syscall.EIO) {
		t.Errorf("Exec after Close: %v, want EIO", err)
	}
	n := answered.Load()
	for answered.Load() < n+100 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v; %d echo round trips on the other host", took, answered.Load())
	if s := busy.d.Snapshot().Stats; s[netcore.TxDropped] != 0 {
		t.Errorf("the busy host dropped %d frames", s[netcore.TxDropped])
	}
	pingHost(t, hosts[2], 1)
}

// A flood of ARP requests to one host does not starve another host of the
// same loop: its pings are answered, each within a bound far below what a
// flood's backlog would take.
func TestPoolFloodDoesNotStarveAnother(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	hosts := startHosts(t, p, 2)
	flood, quiet := hosts[0], hosts[1]
	learnPeer(t, quiet)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	wg.Add(2)
	go func() { // the flood, as fast as the socket takes it
		defer wg.Done()
		req := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := unix.Write(flood.peer.Fd(), req); err == nil {
				sent.Add(1)
			}
		}
	}()
	go func() { // and its replies drained
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			flood.peer.ReadFrame(buf, 10*time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for sent.Load() < 10000 {
		time.Sleep(time.Millisecond)
	}
	var worst time.Duration
	const pings = 200
	for seq := range uint16(pings) {
		start := time.Now()
		if err := quiet.peer.WriteFrame(echoFrame(peerMAC, peerIP, 3, seq, nil)); err != nil {
			t.Fatal(err)
		}
		expect(t, quiet.peer, hangGuard, fmt.Sprintf("echo reply %d during the flood", seq), func(f parsed) bool { return f.isEcho && f.echo.Seq == seq })
		worst = max(worst, time.Since(start))
	}
	fs := flood.d.Snapshot().Stats
	t.Logf("%d pings answered during a flood of %d ARP requests (%d answered); the slowest took %v",
		pings, sent.Load(), fs[netcore.ARPTxReply], worst)
	if fs[netcore.ARPRxRequest] < 10000 {
		t.Errorf("the flood did not get going: %d requests received", fs[netcore.ARPRxRequest])
	}
	if worst > time.Second {
		t.Errorf("a ping took %v during another host's flood", worst)
	}
}

// A device that takes nothing (a peer that never reads) gets its 10 ms of
// grace once, not at every turn: the other hosts of its loop keep their
// round trips short while its frames are dropped and counted.
func TestPoolStuckDeviceLeavesOthers(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	hosts := startHosts(t, p, 2)
	stuck, quiet := hosts[0], hosts[1]
	learnPeer(t, quiet)
	// Requests the stuck host answers into a socket nobody reads, until
	// its device is full and the loop has given up on it.
	req := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)
	flood := func() {
		for range 200 {
			unix.Write(stuck.peer.Fd(), req)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for stuck.d.Snapshot().Stats[netcore.TxDropped] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stuck host dropped nothing in 10 s")
		}
		flood()
		time.Sleep(time.Millisecond)
	}
	const pings = 200
	slow := 0
	var worst time.Duration
	for seq := range uint16(pings) {
		flood() // the stuck host has frames to answer at every turn
		start := time.Now()
		if err := quiet.peer.WriteFrame(echoFrame(peerMAC, peerIP, 4, seq, nil)); err != nil {
			t.Fatal(err)
		}
		expect(t, quiet.peer, hangGuard, fmt.Sprintf("echo reply %d", seq), func(f parsed) bool { return f.isEcho && f.echo.Seq == seq })
		took := time.Since(start)
		worst = max(worst, took)
		if took >= txWait*9/10 {
			slow++
		}
	}
	s := stuck.d.Snapshot().Stats
	t.Logf("%d of %d round trips took %v or more beside a stuck device (the slowest %v); it dropped %d of %d replies",
		slow, pings, txWait*9/10, worst, s[netcore.TxDropped], s[netcore.ARPTxReply])
	// A wait at every turn would make nearly every round trip slow.
	if slow > pings/2 {
		t.Errorf("%d of %d round trips took %v or more: the stuck device holds up the loop at every turn", slow, pings, txWait*9/10)
	}
	if stuck.d.Err() != nil {
		t.Errorf("a full device is not a gone device: %v", stuck.d.Err())
	}
}

// Many hosts' timers run from one heap: each host's resolution is retried
// once a second and fails after three requests, with an event, on time.
func TestPoolTimersOfManyHosts(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	hosts := startHosts(t, p, 20)
	silent := netip.MustParseAddr("192.168.69.7")
	start := time.Now()
	for i, h := range hosts {
		if i%2 == 1 {
			continue // half of them have no timers at all
		}
		if err := arpCmd(t, h.d, "resolve "+silent.String()); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range hosts {
		if i%2 == 1 {
			continue
		}
		for range 3 {
			expect(t, h.peer, hangGuard, h.d.Name()+"'s ARP request", func(f parsed) bool {
				return f.isARP && f.arp.Op == wire.ARPRequest && f.arp.TargetIP == silent
			})
		}
	}
	for i, h := range hosts {
		if i%2 == 1 {
			continue
		}
		deadline := time.Now().Add(hangGuard)
		for h.d.Snapshot().Stats[netcore.ARPFailed] != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the resolution did not fail in time", h.d.Name())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	took := time.Since(start)
	t.Logf("every resolution failed after %v", took)
	if took < 2*netcore.ARPRequestInterval {
		t.Errorf("three requests and a failure in %v: the retries did not wait", took)
	}
}

// Do runs a function on the host under its lock: its frames are sent, its
// events reported and its wake-ups handed to onWake; after Close, or once
// the device is gone, it fails with EIO without running.
func TestDriverDo(t *testing.T) {
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ev := newEvents()
	woken := make(chan netcore.ConvRef, 10)
	d := NewDriver(newHost(t, a.Name()), a, ev.add, WithWake(func(r netcore.ConvRef) { woken <- r }))
	defer d.Close()
	expect(t, b, hangGuard, "the first announcement", isGARP(hostIP))

	frame := arpFrame(wire.ARPReply, peerMAC, hostMAC, hostIP, peerMAC, peerIP)
	ref := netcore.ConvRef{Proto: 17, N: 3, Gen: 2}
	var name string
	err = d.Do(func(h *netcore.Host, now time.Time, out *netcore.Output) {
		name = h.Name()
		out.Frames = append(out.Frames, frame)
		out.Events = append(out.Events, netcore.Event{Time: now, Host: h.Name(), Kind: netcore.EventDown, Msg: "from Do"})
		out.Wake = append(out.Wake, ref)
	})
	if err != nil || name != a.Name() {
		t.Fatalf("Do: %v (ran on %q)", err, name)
	}
	buf := make([]byte, 2048)
	n, err := b.ReadFrame(buf, hangGuard)
	if err != nil || !bytes.Equal(buf[:n], frame) {
		t.Errorf("the frame Do sent: %x, %v", buf[:max(n, 0)], err)
	}
	if e := ev.wait(t, netcore.EventDown, 2*time.Second); e.Msg != "from Do" {
		t.Errorf("event %q", e.Msg)
	}
	select {
	case r := <-woken:
		if r != ref {
			t.Errorf("onWake(%+v), want %+v", r, ref)
		}
	case <-time.After(hangGuard):
		t.Fatal("onWake was not called")
	}

	// A gone device: EIO, and fn does not run.
	b.Close()
	ev.wait(t, netcore.EventDown, 5*time.Second)
	<-d.done
	ran := false
	err = d.Do(func(*netcore.Host, time.Time, *netcore.Output) { ran = true })
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrDeviceGone) || ran {
		t.Errorf("Do on a gone device: %v (ran %v), want EIO wrapping ErrDeviceGone", err, ran)
	}
	d.Close()
	err = d.Do(func(*netcore.Host, time.Time, *netcore.Output) { ran = true })
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrClosed) || ran {
		t.Errorf("Do after Close: %v (ran %v), want EIO wrapping ErrClosed", err, ran)
	}
}

// A closed pool refuses new hosts, and closes those it still had.
func TestPoolClose(t *testing.T) {
	before := runtime.NumGoroutine()
	p := NewPool(2)
	hosts := startHosts(t, p, 4)
	p.Close()
	for _, h := range hosts {
		if err := h.d.Exec("x/ctl", nil); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after the pool's Close: %v, want ErrClosed", h.d.Name(), err)
		}
		if _, err := h.peer.ReadFrame(make([]byte, 100), hangGuard); !errors.Is(err, ErrPeerClosed) {
			t.Errorf("%s's peer: %v, want end of file", h.d.Name(), err)
		}
	}
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if _, err := p.Start(newHost(t, "late"), a, nil, nil); !errors.Is(err, syscall.EIO) {
		t.Errorf("Start on a closed pool: %v, want EIO", err)
	}
	for _, h := range hosts {
		h.peer.Close()
	}
	expectGoroutines(t, before)
}

// BenchmarkPoolIdleHosts reports what idle hosts cost on a pool: OS
// threads and Go heap per host.
func BenchmarkPoolIdleHosts(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				t0 := threads(b)
				p := NewPool(0)
				b.StartTimer()
				hosts := startHosts(b, p, n)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(threads(b)-t0), "threads")
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(n), "heapB/host")
				p.Close()
				for _, h := range hosts {
					h.peer.Close()
				}
				b.StartTimer()
			}
		})
	}
}
