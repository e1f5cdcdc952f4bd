package netcore

import (
	"bytes"
	"math"
	"math/bits"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/impair"
	"github.com/smolfs/smolfs/netcore/wire"
)

// The `impair` command in the host: the stages of netcore/impair between
// the device and the protocols. The stages' own behaviour (rates, order,
// bounds) is tested in their package; these tests check the wiring: fates,
// counters, capture, timers, commands.

const ms = time.Millisecond

// impaired is a harness whose peer's address is known, so that every ping
// is answered at once, with the given impair commands applied.
func impaired(t *testing.T, cmds string, mods ...func(*Config)) *harness {
	t.Helper()
	th := newHarness(t, mods...)
	th.mustExec("tap0/arp", "add "+peerIP.String()+" "+peerMAC.String())
	if cmds != "" {
		th.mustExec("tap0/ctl", cmds)
	}
	th.h.stats = Stats{}
	return th
}

// seqOf is the sequence number of an echo reply the host sent.
func seqOf(t *testing.T, f []byte) uint16 {
	t.Helper()
	_, _, icmp := parseEchoOut(t, f)
	return icmp.Seq
}

// within checks that k of n trials of probability p are within six standard
// deviations of the mean: a correct host fails with odds of about 10^-9, and
// the seed is fixed anyway.
func within(t *testing.T, what string, k, n uint64, p float64) {
	t.Helper()
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	if math.Abs(float64(k)-mean) > 6*sd {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f", what, k, n, mean, 6*sd)
	}
}

func TestImpairRxLoss(t *testing.T) {
	th := impaired(t, "impair rx loss 50%")
	sub := th.h.Capture().Subscribe(1 << 20)
	defer sub.Close()
	const n = 2000
	replies := uint64(0)
	for i := range n {
		replies += uint64(len(th.recv(ping(uint16(i), nil))))
	}
	s := th.snap().Stats
	lost := s[ImpairRxDropped]
	within(t, "lost", lost, n, 0.5)
	if replies+lost != n {
		t.Errorf("%d replies and %d lost of %d pings", replies, lost, n)
	}
	// Every ping is a received frame: answered, or lost with its own fate.
	th.wantStats(map[Counter]uint64{RxFrames: n, RxBytes: n * uint64(len(ping(0, nil))), ICMPEchoRx: replies, ICMPEchoTx: replies,
		TxFrames: replies, ImpairRxQueueOverflow: 0, ImpairTxDropped: 0})
	// The capture shows the host's end of the link: the pings that reached
	// it, and the replies.
	in, out := 0, 0
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		if f.Dir == capture.In {
			in++
		} else {
			out++
		}
		return true
	})
	if uint64(in) != replies || uint64(out) != replies {
		t.Errorf("captured %d in, %d out; want %d each", in, out, replies)
	}
}

func TestImpairTxLossAndDuplicate(t *testing.T) {
	th := impaired(t, "impair tx loss 10% duplicate 20%")
	const n = 5000
	sent := uint64(0)
	for i := range n {
		sent += uint64(len(th.recv(ping(uint16(i), nil))))
	}
	s := th.snap().Stats
	// The host answered every ping (tx_frames, as captured); the link
	// lost some replies and doubled others.
	if s[TxFrames] != n || s[ICMPEchoTx] != n || s[RxFrames] != n {
		t.Errorf("tx_frames %d, icmp_echo_tx %d, rx_frames %d, want %d", s[TxFrames], s[ICMPEchoTx], s[RxFrames], n)
	}
	if want := n - s[ImpairTxDropped] + s[ImpairTxDuplicated]; sent != want {
		t.Errorf("%d frames reached the device, want %d (%d dropped, %d duplicated)", sent, want, s[ImpairTxDropped], s[ImpairTxDuplicated])
	}
	// netem's draws: duplicate (p=0.2), then loss (p=0.1); a frame drawn
	// for both goes once, uncounted; a duplicate's copy is drawn for loss
	// again.
	within(t, "duplicated", s[ImpairTxDuplicated], n, 0.2*0.9)
	within(t, "dropped", s[ImpairTxDropped], n, 0.1*0.8+0.2*0.9*0.1)
	if s[ImpairRxDropped] != 0 || s[ImpairRxDuplicated] != 0 {
		t.Errorf("rx counted tx's impairment:\n%s", s.Append(nil))
	}
}

func TestImpairRxDuplicateCountsEveryCopy(t *testing.T) {
	th := impaired(t, "impair rx duplicate 100%")
	for i := range 10 {
		if got := th.recv(ping(uint16(i), nil)); len(got) != 2 || seqOf(t, got[0]) != uint16(i) || seqOf(t, got[1]) != uint16(i) {
			t.Fatalf("ping %d: %d replies", i, len(got))
		}
	}
	th.wantStats(map[Counter]uint64{RxFrames: 20, ICMPEchoRx: 20, ImpairRxDuplicated: 10, TxFrames: 20})
}

// TestImpairTxCorruptCapturedBefore: capture shows a sent frame as the host
// made it; the frame the device gets differs from it in one bit.
func TestImpairTxCorruptCapturedBefore(t *testing.T) {
	th := impaired(t, "impair tx corrupt 100%")
	sub := th.h.Capture().Subscribe(1 << 20)
	defer sub.Close()
	var sent [][]byte
	for i := range 50 {
		sent = append(sent, th.recv(ping(uint16(i), []byte("abcdefgh")))...)
	}
	var captured [][]byte
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		if f.Dir == capture.Out {
			captured = append(captured, bytes.Clone(f.Data))
		}
		return true
	})
	if len(sent) != 50 || len(captured) != 50 {
		t.Fatalf("sent %d, captured %d, want 50", len(sent), len(captured))
	}
	for i := range sent {
		diff := 0
		for j := range sent[i] {
			diff += bits.OnesCount8(sent[i][j] ^ captured[i][j])
		}
		if diff != 1 {
			t.Errorf("frame %d: %d bits differ from the captured one, want 1", i, diff)
		}
	}
	th.wantStats(map[Counter]uint64{ImpairTxCorrupted: 50, TxFrames: 50})
}

func TestImpairTxDelay(t *testing.T) {
	th := impaired(t, "impair tx delay 20")
	sub := th.h.Capture().Subscribe(1 << 20)
	defer sub.Close()
	start := th.now
	if got := th.recv(ping(1, nil)); len(got) != 0 {
		t.Fatalf("the reply left at once")
	}
	if d := th.h.Deadline(); !d.Equal(start.Add(20 * ms)) {
		t.Fatalf("deadline %v, want 20 ms on", d.Sub(start))
	}
	if got := th.advance(19 * ms); len(got) != 0 {
		t.Fatalf("the reply left after 19 ms")
	}
	got := th.advance(1 * ms)
	if len(got) != 1 || seqOf(t, got[0]) != 1 {
		t.Fatalf("after 20 ms: %d frames", len(got))
	}
	if !th.h.Deadline().IsZero() {
		t.Errorf("deadline %v with nothing waiting", th.h.Deadline())
	}
	// Captured when the host sent it, before the delay.
	var times []time.Time
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		times = append(times, f.Time)
		return true
	})
	if len(times) != 2 || !times[0].Equal(start) || !times[1].Equal(start) {
		t.Errorf("captured at %v, want both at the start", times)
	}
	th.wantStats(map[Counter]uint64{ImpairTxDelayed: 1, TxFrames: 1})
}

// TestImpairRxDelay: a received frame is processed, captured and counted
// when its delay is over, as if it arrived then.
func TestImpairRxDelay(t *testing.T) {
	th := impaired(t, "impair rx delay 10")
	sub := th.h.Capture().Subscribe(1 << 20)
	defer sub.Close()
	if got := th.recv(ping(1, nil)); len(got) != 0 {
		t.Fatal("answered at once")
	}
	th.wantStats(map[Counter]uint64{RxFrames: 0, ImpairRxDelayed: 1})
	th.now = th.now.Add(5 * ms)
	if got := th.recv(ping(2, nil)); len(got) != 0 {
		t.Fatal("answered at once")
	}
	got := th.advance(5 * ms)
	if len(got) != 1 || seqOf(t, got[0]) != 1 {
		t.Fatalf("at 10 ms: %d replies", len(got))
	}
	got = th.advance(5 * ms)
	if len(got) != 1 || seqOf(t, got[0]) != 2 {
		t.Fatalf("at 15 ms: %d replies", len(got))
	}
	var times []time.Duration
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		times = append(times, f.Time.Sub(t0))
		return true
	})
	if want := []time.Duration{10 * ms, 10 * ms, 15 * ms, 15 * ms}; !reflect.DeepEqual(times, want) {
		t.Errorf("captured at %v, want %v", times, want)
	}
	th.wantStats(map[Counter]uint64{RxFrames: 2, ICMPEchoRx: 2, ImpairRxDelayed: 2})
}

// TestImpairJitter: with delay 20~5 every reply leaves 15 to 25 ms after its
// request, each when Poll is called at the deadline the host gives.
func TestImpairJitter(t *testing.T) {
	th := impaired(t, "impair tx delay 20~5")
	sentAt := map[uint16]time.Time{}
	var delays []time.Duration
	take := func(frames [][]byte) {
		for _, f := range frames {
			delays = append(delays, th.now.Sub(sentAt[seqOf(t, f)]))
		}
	}
	end := t0.Add(time.Second)
	for i := uint16(0); th.now.Before(end); i++ {
		sentAt[i] = th.now
		take(th.recv(ping(i, nil)))
		next := th.now.Add(time.Millisecond)
		for d := th.h.Deadline(); !d.IsZero() && d.Before(next); d = th.h.Deadline() {
			th.now = d
			take(th.poll())
		}
		th.now = next
	}
	for d := th.h.Deadline(); !d.IsZero(); d = th.h.Deadline() {
		th.now = d
		take(th.poll())
	}
	if len(delays) != len(sentAt) {
		t.Fatalf("%d replies to %d pings", len(delays), len(sentAt))
	}
	var sum time.Duration
	for _, d := range delays {
		if d < 15*ms || d > 25*ms {
			t.Errorf("a reply left after %v", d)
		}
		sum += d
	}
	if avg := sum / time.Duration(len(delays)); avg < 19500*time.Microsecond || avg > 20500*time.Microsecond {
		t.Errorf("average delay %v, want 20 ms", avg)
	}
}

// TestImpairOffReleases: `impair off` lets what waits go at once, in the
// output of the write.
func TestImpairOffReleases(t *testing.T) {
	th := impaired(t, "impair delay 1000")
	th.recv(ping(1, nil)) // waits a second on the way in
	th.now = th.now.Add(10 * ms)
	// The ping is released and answered; the reply waits on the tx side.
	if got := th.mustExec("tap0/ctl", "impair rx off"); len(got) != 0 {
		t.Fatalf("the reply left at once")
	}
	if d := th.h.Deadline(); !d.Equal(th.now.Add(time.Second)) {
		t.Fatalf("deadline %v, want the reply's second", d.Sub(th.now))
	}
	got := th.mustExec("tap0/ctl", "impair tx off")
	if len(got) != 1 || seqOf(t, got[0]) != 1 {
		t.Fatalf("impair tx off sent %d frames", len(got))
	}
	if !th.h.Deadline().IsZero() {
		t.Errorf("deadline %v with nothing waiting", th.h.Deadline())
	}
	th.wantStats(map[Counter]uint64{RxFrames: 1, TxFrames: 1, ImpairRxDelayed: 1, ImpairTxDelayed: 1})
}

func TestImpairRxQueueOverflowIsAFate(t *testing.T) {
	th := impaired(t, "impair rx delay 100")
	const n = impair.DefaultFrames + 10
	for i := range n {
		th.recv(ping(uint16(i), nil))
	}
	th.wantStats(map[Counter]uint64{RxFrames: 10, ImpairRxQueueOverflow: 10, ImpairRxDelayed: impair.DefaultFrames})
	got := th.advance(100 * ms)
	if len(got) != impair.DefaultFrames {
		t.Errorf("%d replies after the delay, want %d", len(got), impair.DefaultFrames)
	}
	th.wantStats(map[Counter]uint64{RxFrames: n, ICMPEchoRx: impair.DefaultFrames})
}

// TestImpairDownLetsFramesInFlightGo: frames the host sent before it went
// down are on the link, and leave when due; nothing new is sent.
func TestImpairDownLetsFramesInFlightGo(t *testing.T) {
	th := impaired(t, "impair tx delay 10")
	th.recv(ping(1, nil))
	th.mustExec("tap0/ctl", "down")
	if got := th.recv(ping(2, nil)); len(got) != 0 {
		t.Fatal("a down host answered")
	}
	got := th.advance(10 * ms)
	if len(got) != 1 || seqOf(t, got[0]) != 1 {
		t.Fatalf("%d frames left, want the reply sent before down", len(got))
	}
	th.wantStats(map[Counter]uint64{TxFrames: 1, RxDown: 1})
}

// TestImpairSeed: the same seed loses the same frames; another seed others.
func TestImpairSeed(t *testing.T) {
	run := func(seed uint64) []int {
		th := impaired(t, "impair loss 30%", func(c *Config) { c.Seed = seed })
		var lost []int
		for i := range 200 {
			if len(th.recv(ping(uint16(i), nil))) == 0 {
				lost = append(lost, i)
			}
		}
		return lost
	}
	a, b, c := run(7), run(7), run(8)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 7 lost %v, then %v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Errorf("seeds 7 and 8 lost the same frames %v", a)
	}
}

func TestImpairConfig(t *testing.T) {
	rx := impair.Settings{Loss: 10_000}
	tx := impair.Settings{Delay: 5 * ms, Jitter: ms}
	th := newHarness(t, func(c *Config) { c.ImpairRx, c.ImpairTx = rx, tx })
	cfg := th.snap().Config
	if cfg.ImpairRx != rx || cfg.ImpairTx != tx {
		t.Errorf("config %+v", cfg)
	}
	if got := string(AppendConfig(nil, cfg)); !strings.Contains(got, "\nimpair rx loss 1%\nimpair tx delay 5~1\n") {
		t.Errorf("read-back:\n%s", got)
	}
	// The host does what its Config says from the start.
	th.mustExec("tap0/arp", "add "+peerIP.String()+" "+peerMAC.String())
	if got := th.recv(ping(1, nil)); len(got) != 0 {
		t.Error("the reply was not delayed")
	}
	_, err := NewHost(Config{Name: "tap0", MAC: hostMAC, ImpairRx: impair.Settings{Reorder: 1}})
	if ctl.Errno(err) != syscall.EINVAL || !strings.Contains(err.Error(), "reorder needs a delay") {
		t.Errorf("NewHost with reorder and no delay: %v", err)
	}
	s := th.snap()
	stats := string(s.AppendStats(nil))
	for _, dir := range []string{"rx", "tx"} {
		for _, name := range strings.Fields("dropped duplicated reordered corrupted delayed queue_overflow") {
			if !strings.Contains(stats, "\nimpair_"+dir+"_"+name+" ") {
				t.Errorf("stats lacks impair_%s_%s", dir, name)
			}
		}
	}
}

// TestImpairOffCostsNothing: with impairment off, the frames a host sends
// are the Output's own buffers, and nothing is copied.
func TestImpairOffCostsNothing(t *testing.T) {
	th := impaired(t, "")
	req := ping(1, make([]byte, 56))
	allocs := testing.AllocsPerRun(100, func() {
		th.out.Reset()
		th.h.Receive(th.now, req, &th.out)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per ping", allocs)
	}
	// And on, once the stage's buffers are warm, neither.
	th.mustExec("tap0/ctl", "impair delay 1~0.5 loss 1% duplicate 1% corrupt 1% reorder 10%")
	allocs = testing.AllocsPerRun(1000, func() {
		th.out.Reset()
		th.h.Receive(th.now, req, &th.out)
		th.now = th.now.Add(100 * time.Microsecond)
		th.h.Poll(th.now, &th.out)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per ping with impairment on", allocs)
	}
}

// BenchmarkICMPEchoReplyImpaired is BenchmarkICMPEchoReply with the link
// impaired both ways: what a ping costs when it goes through the stages
// (and, with a delay, waits in them for a Poll), beside the 0 allocs/op of
// the stages when they are off.
func BenchmarkICMPEchoReplyImpaired(b *testing.B) {
	for _, bc := range []struct{ name, cmd string }{
		{"loss", "impair loss 1%"},
		{"delay", "impair delay 1"},
		{"all", "impair loss 1% duplicate 1% corrupt 1% reorder 25% delay 20~5"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := benchHost(b)
			var out Output
			cmds, err := ParseCtl("tap0/ctl", []byte(bc.cmd+"\n"))
			if err != nil {
				b.Fatal(err)
			}
			h.Exec(t0, "tap0/ctl", cmds, &out)
			h.Receive(t0, arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP), &out)
			req := echoFrame(peerMAC, hostMAC, peerIP, hostIP, 0x1234, 1, make([]byte, 56))
			now := t0
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				h.Receive(now, req, &out)
				now = now.Add(10 * time.Microsecond)
				if d := h.Deadline(); !d.IsZero() && !d.After(now) {
					h.Poll(now, &out)
				}
			}
		})
	}
}
