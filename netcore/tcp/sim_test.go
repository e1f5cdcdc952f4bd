package tcp

import (
	"os"
	"strconv"

	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/smolfs/smolfs/netcore/wire"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// A simulated link between two Tables: every segment is copied, then lost,
// duplicated, corrupted, delayed (with jitter, which reorders) as the
// impairment says. Time is a fake clock that jumps to the next event.

type impairment struct {
	loss, dup, corrupt, reorder float64
	delay, jitter               time.Duration
}

type packet struct {
	at       time.Time
	seq      int // FIFO among equal times
	to       *Table
	src, dst netip.Addr
	b        []byte
}

type sim struct {
	t      testing.TB
	now    time.Time
	rng    *rand.Rand
	a, b   *Table
	aAddr  netip.Addr
	bAddr  netip.Addr
	imp    [2]impairment // a->b, b->a
	queue  []packet
	nseq   int
	out    Output
	sent   [2]int
	lost   [2]int // data segments the link dropped
	events []Event
}

func newSim(t testing.TB, seed uint64, ca, cb Config) *sim {
	ca.Secret = [16]byte{1, byte(seed)}
	cb.Secret = [16]byte{2, byte(seed)}
	return &sim{
		t: t, now: time.Unix(1700000000, 0), rng: rand.New(rand.NewPCG(seed, 7)),
		a: NewTable(ca), b: NewTable(cb),
		aAddr: netip.MustParseAddr("10.0.0.1"), bAddr: netip.MustParseAddr("10.0.0.2"),
	}
}

func (s *sim) peer(tb *Table) (*Table, int) {
	if tb == s.a {
		return s.b, 0
	}
	return s.a, 1
}

// flush moves what a call into from put in s.out onto the link.
func (s *sim) flush(from *Table) {
	to, dir := s.peer(from)
	imp := s.imp[dir]
	for _, seg := range s.out.Segments {
		b := append(append([]byte(nil), seg.Header...), seg.Payload...)
		s.sent[dir]++
		if simTrace {
			var r wire.TCPRepr
			ParseTCPForTest(b, &r)
			fmt.Printf("%v %s->%s %v seq=%d ack=%d win=%d len=%d sack=%v\n", s.now.Sub(time.Unix(1700000000, 0)), seg.Src, seg.Dst, r.Flags, r.Seq, r.Ack, r.Window, len(seg.Payload), r.Options.SACK[:r.Options.NumSACK])
		}
		if imp.loss > 0 && s.rng.Float64() < imp.loss {
			if len(seg.Payload) > 0 {
				s.lost[dir]++
			}
			continue
		}
		n := 1
		if imp.dup > 0 && s.rng.Float64() < imp.dup {
			n = 2
		}
		for range n {
			c := b
			if imp.corrupt > 0 && s.rng.Float64() < imp.corrupt {
				c = slices.Clone(b)
				c[s.rng.IntN(len(c))] ^= byte(1 + s.rng.IntN(255))
			}
			d := imp.delay
			if imp.jitter > 0 {
				d += time.Duration(s.rng.Int64N(int64(imp.jitter)))
			}
			if imp.reorder > 0 && s.rng.Float64() < imp.reorder {
				d += time.Duration(s.rng.Int64N(int64(imp.delay + time.Millisecond)))
			}
			s.nseq++
			s.queue = append(s.queue, packet{at: s.now.Add(d), seq: s.nseq, to: to, src: seg.Src, dst: seg.Dst, b: c})
		}
	}
	s.events = append(s.events, s.out.Events...)
	s.out.Reset()
}

// step runs the next event (a delivery or a timer); false when there is none.
func (s *sim) step() bool {
	next := time.Time{}
	if len(s.queue) > 0 {
		i := s.firstPacket()
		next = s.queue[i].at
	}
	for _, tb := range []*Table{s.a, s.b} {
		if d := tb.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return false
	}
	if next.After(s.now) {
		s.now = next
	}
	if len(s.queue) > 0 {
		i := s.firstPacket()
		if !s.queue[i].at.After(s.now) {
			p := s.queue[i]
			s.queue = slices.Delete(s.queue, i, i+1)
			var before State
			if simTrace {
				for _, c := range p.to.conns {
					before = c.state
				}
			}
			p.to.Receive(s.now, p.src, p.dst, p.b, &s.out)
			if simTrace {
				for _, c := range p.to.conns {
					if c.state != before {
						fmt.Printf("   %v: %v -> %v\n", c.local, before, c.state)
					}
				}
				for _, e := range s.out.Events {
					if e.Conn != nil {
						fmt.Printf("   %v: event %b %v err %v\n", e.Conn.local, e.Ready, e.Conn.state, e.Conn.err)
					}
				}
			}
			s.flush(p.to)
			s.check()
			return true
		}
	}
	for _, tb := range []*Table{s.a, s.b} {
		tb.Poll(s.now, &s.out)
		s.flush(tb)
	}
	s.check()
	return true
}

func (s *sim) firstPacket() int {
	best := 0
	for i, p := range s.queue {
		if p.at.Before(s.queue[best].at) || (p.at.Equal(s.queue[best].at) && p.seq < s.queue[best].seq) {
			best = i
		}
	}
	return best
}

// check asserts the invariants of every connection.
func (s *sim) check() {
	s.t.Helper()
	for _, tb := range []*Table{s.a, s.b} {
		if err := tb.checkInvariants(); err != nil {
			s.t.Fatalf("%v at %v", err, s.now)
		}
	}
}

// checkInvariants is what must hold between any two calls.
func (t *Table) checkInvariants() error {
	var est uint64
	for k, c := range t.conns {
		if err := c.checkInvariants(); err != nil {
			return err
		}
		if k.local != c.local || k.remote != c.remote {
			return fmt.Errorf("conn %v filed under %v", c.local, k)
		}
		if c.state == StateEstablished || c.state == StateCloseWait {
			est++
		}
	}
	if est != t.stats.CurrEstab {
		return fmt.Errorf("CurrEstab %d, counted %d", t.stats.CurrEstab, est)
	}
	if t.timeWait.len() > t.cfg.MaxTimeWait {
		return fmt.Errorf("%d in TIME_WAIT, bound %d", t.timeWait.len(), t.cfg.MaxTimeWait)
	}
	for i, c := range t.timers {
		if c.heapIdx != i {
			return fmt.Errorf("heap index %d at %d", c.heapIdx, i)
		}
		if c.state == StateClosed {
			return fmt.Errorf("closed connection in the timer heap")
		}
		if d := c.nextDeadline(); d < c.heapKey {
			return fmt.Errorf("deadline %d before its heap key %d", d, c.heapKey)
		}
	}
	for _, c := range t.conns {
		if c.nextDeadline() != maxTime && c.heapIdx < 0 {
			return fmt.Errorf("%v %v has a deadline but is not in the heap", c.local, c.state)
		}
	}
	return nil
}

func (c *Conn) checkInvariants() error {
	switch {
	case !seqLEQ(c.sndUna, c.sndNxt):
		return fmt.Errorf("%v: snd.una %d > snd.nxt %d", c.state, c.sndUna, c.sndNxt)
	case !seqLEQ(c.sndNxt, c.sndMax):
		return fmt.Errorf("%v: snd.nxt %d > snd.max %d", c.state, c.sndNxt, c.sndMax)
	case c.snd.Len() > c.snd.max || c.rcv.Len() > c.rcv.max:
		return fmt.Errorf("%v: queues %d/%d %d/%d over their bounds", c.state, c.snd.Len(), c.snd.max, c.rcv.Len(), c.rcv.max)
	case c.state.synchronized() && c.state != StateSynReceived && int(c.sndMax-c.sndUna) > c.snd.Len()+1:
		return fmt.Errorf("%v: %d in flight but %d queued", c.state, c.sndMax-c.sndUna, c.snd.Len())
	case c.cwnd < 0 || (c.state == StateEstablished && c.cwnd < c.mss):
		return fmt.Errorf("%v: cwnd %d", c.state, c.cwnd)
	case !c.ooo.empty() && !seqGT(c.ooo.r[0].start, c.rcvNxt):
		return fmt.Errorf("%v: out-of-order range %v at or below rcv.nxt %d", c.state, c.ooo.r[0], c.rcvNxt)
	}
	for i := 1; i < c.ooo.n; i++ {
		if !seqLT(c.ooo.r[i-1].end, c.ooo.r[i].start) {
			return fmt.Errorf("out-of-order ranges %v not disjoint and sorted", c.ooo.r[:c.ooo.n])
		}
	}
	return nil
}

// streamApp is one side of a transfer: it writes n pseudo-random bytes,
// then closes, and reads to EOF, hashing both.
type streamApp struct {
	c          *Conn
	src        *rand.ChaCha8
	toSend     int
	sent       int
	wbuf, rbuf []byte
	closed     bool
	eof        bool
	got        int
	sentHash   hashWriter
	gotHash    hashWriter
	readStall  bool // stop reading (flow control test)
}

type hashWriter struct {
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
}

func newStreamApp(c *Conn, seed uint64, n int) *streamApp {
	var key [32]byte
	key[0] = byte(seed)
	return &streamApp{c: c, src: rand.NewChaCha8(key), toSend: n, wbuf: make([]byte, 40000), rbuf: make([]byte, 50000),
		sentHash: hashWriter{sha256.New()}, gotHash: hashWriter{sha256.New()}}
}

// pump does what it can without blocking; it reports whether anything moved.
func (a *streamApp) pump(t testing.TB, now time.Time, out *Output) bool {
	moved := false
	for a.sent < a.toSend {
		n := min(len(a.wbuf), a.toSend-a.sent)
		// Regenerate deterministically: peek the stream by cloning.
		buf := a.wbuf[:n]
		st, _ := a.src.MarshalBinary()
		a.src.Read(buf)
		w, err := a.c.Write(now, buf, out)
		if errors.Is(err, ErrWouldBlock) {
			a.src.UnmarshalBinary(st)
			break
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		// Put back what was not taken.
		if w < n {
			a.src.UnmarshalBinary(st)
			a.src.Read(buf[:w])
		}
		a.sentHash.h.Write(buf[:w])
		a.sent += w
		moved = true
	}
	if a.sent == a.toSend && !a.closed {
		a.c.Close(now, out)
		a.closed = true
		moved = true
	}
	for !a.eof && !a.readStall {
		n, err := a.c.Read(now, a.rbuf, out)
		if n > 0 {
			a.gotHash.h.Write(a.rbuf[:n])
			a.got += n
			moved = true
			continue
		}
		if err == io.EOF {
			a.eof = true
			moved = true
			break
		}
		if errors.Is(err, ErrWouldBlock) {
			break
		}
		t.Fatalf("read on %v (%v): %v", a.c.Local(), a.c.State(), err)
	}
	return moved
}

// transfer connects a to b, moves n bytes each way, and checks them.
func transfer(t *testing.T, s *sim, n int, maxSteps int) (ca, cb *Conn) {
	t.Helper()
	l, err := s.b.Listen(netip.AddrPortFrom(s.bAddr, 80), 0, ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err = s.a.Connect(s.now, netip.AddrPortFrom(s.aAddr, 0), netip.AddrPortFrom(s.bAddr, 80), ConnOptions{}, &s.out)
	if err != nil {
		t.Fatal(err)
	}
	s.flush(s.a)
	appA := newStreamApp(ca, 1, n)
	var appB *streamApp
	for steps := 0; ; steps++ {
		if steps > maxSteps {
			t.Fatalf("no end after %d steps at %v: a %v sent %d got %d; b %v", steps, s.now, ca.State(), appA.sent, appA.got, cb)
		}
		if appB == nil {
			if c, err := l.Accept(); err == nil {
				cb = c
				appB = newStreamApp(cb, 2, n)
			}
		}
		for moved := true; moved; {
			moved = appA.pump(t, s.now, &s.out)
			s.flush(s.a)
			if appB != nil {
				moved = appB.pump(t, s.now, &s.out) || moved
				s.flush(s.b)
			}
			s.check()
		}
		if appB != nil && appA.eof && appB.eof && ca.State() == StateTimeWait || (appB != nil && appA.eof && appB.eof && ca.State() == StateClosed) {
			break
		}
		if ca.State() == StateClosed && ca.Err() != nil {
			t.Fatalf("a failed: %v", ca.Err())
		}
		if !s.step() {
			t.Fatalf("nothing to do at %v: a %v b %v", s.now, ca.State(), cb.State())
		}
	}
	if appA.got != n || appB.got != n {
		t.Fatalf("got %d and %d bytes, want %d", appA.got, appB.got, n)
	}
	if !bytes.Equal(appA.sentHash.h.Sum(nil), appB.gotHash.h.Sum(nil)) || !bytes.Equal(appB.sentHash.h.Sum(nil), appA.gotHash.h.Sum(nil)) {
		t.Fatal("sha256 of the bytes received differs from the bytes sent")
	}
	// Drain: everything must close and free itself.
	for s.step() {
	}
	if len(s.a.conns) != 0 || len(s.b.conns) != 0 {
		t.Fatalf("connections left: %d %d (a %v, b %v)", len(s.a.conns), len(s.b.conns), ca.State(), cb.State())
	}
	return ca, cb
}

func TestSimCleanLink(t *testing.T) {
	s := newSim(t, 1, Config{}, Config{})
	s.imp[0] = impairment{delay: time.Millisecond}
	s.imp[1] = impairment{delay: time.Millisecond}
	n := 4 << 20
	if raceEnabled {
		n = 1 << 20
	}
	ca, _ := transfer(t, s, n, 1e6)
	if ca.retransSegs != 0 {
		t.Fatalf("%d retransmissions on a clean link", ca.retransSegs)
	}
}

func TestSimImpaired(t *testing.T) {
	for _, c := range []struct {
		name string
		imp  impairment
		cc   string
	}{
		{"loss1", impairment{loss: 0.01, delay: 2 * time.Millisecond}, "cubic"},
		{"loss10", impairment{loss: 0.10, delay: 2 * time.Millisecond}, "cubic"},
		{"loss10reno", impairment{loss: 0.10, delay: 2 * time.Millisecond}, "reno"},
		{"reorder25", impairment{reorder: 0.25, delay: 5 * time.Millisecond}, "cubic"},
		{"dup5", impairment{dup: 0.05, delay: time.Millisecond}, "reno"},
		{"corrupt1", impairment{corrupt: 0.01, delay: time.Millisecond}, "cubic"},
		{"jitter", impairment{delay: 20 * time.Millisecond, jitter: 10 * time.Millisecond}, "cubic"},
		{"everything", impairment{loss: 0.03, dup: 0.05, corrupt: 0.01, reorder: 0.1, delay: 3 * time.Millisecond, jitter: 2 * time.Millisecond}, "reno"},
	} {
		for _, sack := range []bool{true, false} {
			name := c.name
			if !sack {
				name += "-nosack"
			}
			t.Run(name, func(t *testing.T) {
				cfg := Config{Congestion: c.cc, NoSACK: !sack}
				s := newSim(t, 3, cfg, cfg)
				s.imp[0], s.imp[1] = c.imp, c.imp
				n := 1 << 20
				if raceEnabled {
					n = 256 << 10
				}
				transfer(t, s, n, 2e6)
			})
		}
	}
}

var simTrace = os.Getenv("SIMTRACE") != ""

func ParseTCPForTest(b []byte, r *wire.TCPRepr) { wire.ParseTCP(b, r) }

func TestSimManySeeds(t *testing.T) {
	n := 40
	if v, err := strconv.Atoi(os.Getenv("SIMSEEDS")); err == nil {
		n = v
	}
	if testing.Short() || raceEnabled {
		n = 8
	}
	for seed := range uint64(n) {
		imp := impairment{loss: 0.05, dup: 0.03, corrupt: 0.01, reorder: 0.2, delay: 2 * time.Millisecond, jitter: 3 * time.Millisecond}
		cfg := Config{Congestion: Congestions[seed%2], NoSACK: seed%3 == 0, NoTimestamps: seed%5 == 0, NoWindowScale: seed%7 == 0,
			SendBuffer: 16 << 10 * int(1+seed%4), RecvBuffer: 8 << 10 * int(1+seed%5)}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, seed+100, cfg, cfg)
			s.imp[0], s.imp[1] = imp, imp
			transfer(t, s, 300<<10, 2e6)
			sa, sb := s.a.Stats(), s.b.Stats()
			if sa.RetransSegs+sb.RetransSegs == 0 || sa.InErrs+sb.InErrs == 0 {
				t.Errorf("seed %d: RetransSegs %d+%d InErrs %d+%d: the impairments should show", seed,
					sa.RetransSegs, sb.RetransSegs, sa.InErrs, sb.InErrs)
			}
		})
	}
}

// A reader that stops reading closes the window: the sender keeps the
// bytes, probes the zero window, and nothing is lost when reading resumes.
func TestSimReaderStallsFlowControl(t *testing.T) {
	cfg := Config{SendBuffer: 64 << 10, RecvBuffer: 32 << 10}
	s := newSim(t, 9, cfg, cfg)
	s.imp[0] = impairment{delay: time.Millisecond}
	s.imp[1] = impairment{delay: time.Millisecond}
	l, _ := s.b.Listen(netip.AddrPortFrom(s.bAddr, 80), 0, ConnOptions{})
	ca, _ := s.a.Connect(s.now, netip.AddrPortFrom(s.aAddr, 0), netip.AddrPortFrom(s.bAddr, 80), ConnOptions{}, &s.out)
	s.flush(s.a)
	for ca.State() != StateEstablished {
		s.step()
	}
	for l.Pending() == 0 {
		s.step()
	}
	cb, _ := l.Accept()
	appA := newStreamApp(ca, 1, 1<<20)
	appB := newStreamApp(cb, 2, 0)
	appB.readStall = true
	// Run a simulated minute with the reader stalled.
	end := s.now.Add(time.Minute)
	for s.now.Before(end) {
		appA.pump(t, s.now, &s.out)
		s.flush(s.a)
		if !s.step() {
			break
		}
	}
	if cb.Buffered() != 32<<10 {
		t.Fatalf("receiver holds %d bytes, want its whole buffer %d", cb.Buffered(), 32<<10)
	}
	if appA.sent != 32<<10+64<<10 {
		t.Fatalf("writer got %d bytes in, want receive+send buffers %d", appA.sent, 96<<10)
	}
	if ca.Info().SendWindow != 0 {
		t.Fatalf("peer window %d, want 0", ca.Info().SendWindow)
	}
	if ca.State() != StateEstablished {
		t.Fatalf("state %v after a minute of zero window (probes must keep it)", ca.State())
	}
	probes := s.sent[0]
	appB.readStall = false
	for !(appA.closed && appB.got == 1<<20) {
		appA.pump(t, s.now, &s.out)
		s.flush(s.a)
		appB.pump(t, s.now, &s.out)
		s.flush(s.b)
		if !s.step() {
			t.Fatalf("stuck: got %d", appB.got)
		}
	}
	if !bytes.Equal(appA.sentHash.h.Sum(nil), appB.gotHash.h.Sum(nil)) {
		t.Fatal("bytes differ after the stall")
	}
	_ = probes
}

func TestSimIPv6(t *testing.T) {
	s := newSim(t, 11, Config{}, Config{})
	s.aAddr, s.bAddr = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	imp := impairment{loss: 0.02, reorder: 0.1, delay: time.Millisecond}
	s.imp[0], s.imp[1] = imp, imp
	transfer(t, s, 1<<20, 1e6)
}

// RFC 6675 and RACK's aim: retransmit what was lost, not more, and repair
// it without timeouts. One direction loses 5% of segments.
func TestSimRetransmitsOnlyWhatWasLost(t *testing.T) {
	for _, d := range []time.Duration{100 * time.Microsecond, 2 * time.Millisecond} {
		s := newSim(t, 5, Config{}, Config{})
		s.imp[0] = impairment{loss: 0.05, delay: d}
		s.imp[1] = impairment{delay: d}
		transfer(t, s, 4<<20, 2e6)
		st := s.a.Stats()
		if int(st.RetransSegs) > s.lost[0]*3/2+5 || st.RetransTimeouts > 2 {
			t.Errorf("delay %v: %d data segments lost, %d retransmitted, %d timeouts", d, s.lost[0], st.RetransSegs, st.RetransTimeouts)
		}
	}
}
