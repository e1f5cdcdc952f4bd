package tcp

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

func TestRFC9293_3_10_7_1_ClosedPortAnswersSYNWithRSTACK(t *testing.T) {
	r := newRig(t, Config{})
	r.send(wire.TCPRepr{Seq: 77, Flags: flagSYN}, nil)
	g := r.one()
	if g.Flags != flagRST|flagACK || g.Seq != 0 || g.Ack != 78 {
		t.Fatalf("got %v seq %d ack %d, want R. seq 0 ack 78", g.Flags, g.Seq, g.Ack)
	}
	if r.tb.Stats().OutRsts != 1 {
		t.Fatal("OutRsts not counted")
	}
}

func TestRFC9293_3_10_7_1_ClosedPortAnswersACKWithRSTAtItsAck(t *testing.T) {
	r := newRig(t, Config{})
	r.send(wire.TCPRepr{Seq: 77, Ack: 555, Flags: flagACK}, []byte("xy"))
	g := r.one()
	if g.Flags != flagRST || g.Seq != 555 {
		t.Fatalf("got %v seq %d, want R seq 555", g.Flags, g.Seq)
	}
	r.send(wire.TCPRepr{Seq: 77, Flags: flagRST}, nil)
	r.none() // never a RST for a RST
}

func TestRFC9293_3_5_PassiveOpenNegotiatesOptions(t *testing.T) {
	r := newRig(t, Config{})
	l, _ := r.tb.Listen(r.local, 0, ConnOptions{})
	r.send(peerSYN(), nil)
	sa := r.one()
	o := sa.Options
	if sa.Flags != flagSYN|flagACK || sa.Ack != peerISN+1 || !o.HasMSS || o.MSS != 1460 || !o.SACKPermitted ||
		!o.HasTS || o.TSEcr != 5000 || !o.HasWS || o.WindowScale != 3 {
		t.Fatalf("SYN-ACK %+v", sa.TCPRepr)
	}
	if _, err := l.Accept(); err != ErrWouldBlock {
		t.Fatalf("Accept before the ACK: %v", err)
	}
	r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: sa.Seq + 1, Flags: flagACK, Window: 502,
		Options: wire.TCPOptions{HasTS: true, TSVal: 5001, TSEcr: sa.Options.TSVal}}, nil)
	c, err := l.Accept()
	if err != nil || c.State() != StateEstablished {
		t.Fatalf("Accept: %v %v", c, err)
	}
	i := c.Info()
	if i.SendWindow != 502<<7 || i.MSS != 1460-12 || !i.SACK || !i.Timestamps || i.SendScale != 7 || i.RecvScale != 3 {
		t.Fatalf("info %+v", i)
	}
	if st := r.tb.Stats(); st.PassiveOpens != 1 || st.CurrEstab != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRFC7323_2_2_NoWindowScaleUnlessBothOffer(t *testing.T) {
	r := newRig(t, Config{})
	r.tb.Listen(r.local, 0, ConnOptions{})
	syn := peerSYN()
	syn.Options.HasWS = false
	r.send(syn, nil)
	sa := r.one()
	if sa.Options.HasWS {
		t.Fatal("window scale in the SYN-ACK to a SYN without it")
	}
	if sa.Window != 65535 {
		t.Fatalf("SYN-ACK window %d, want 65535 (a SYN's window is never scaled)", sa.Window)
	}
}

func TestRFC9293_3_5_ActiveOpen(t *testing.T) {
	r := newRig(t, Config{})
	c, err := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{MSS: 1400}, &r.out)
	if err != nil {
		t.Fatal(err)
	}
	syn := r.one()
	if syn.Flags != flagSYN || syn.Options.MSS != 1400 || !syn.Options.HasTS || !syn.Options.HasWS || !syn.Options.SACKPermitted {
		t.Fatalf("SYN %+v", syn.TCPRepr)
	}
	if c.State() != StateSynSent {
		t.Fatal(c.State())
	}
	if _, err := c.Read(r.now, make([]byte, 1), &r.out); err != ErrWouldBlock {
		t.Fatalf("Read in SYN_SENT: %v", err)
	}
	r.send(wire.TCPRepr{Seq: 9000, Ack: syn.Seq + 1, Flags: flagSYN | flagACK, Window: 29200,
		Options: wire.TCPOptions{HasMSS: true, MSS: 1460}}, nil)
	a := r.one()
	if a.Flags != flagACK || a.Seq != syn.Seq+1 || a.Ack != 9001 || a.Options.HasTS {
		t.Fatalf("ACK %+v (no timestamps: the peer did not echo them)", a.TCPRepr)
	}
	if c.State() != StateEstablished || r.ready(c)&Established == 0 {
		t.Fatalf("state %v ready %b", c.State(), r.ready(c))
	}
	if i := c.Info(); i.MSS != 1400 || i.SACK || i.SendScale != 0 || i.RecvScale != 0 {
		t.Fatalf("info %+v", i)
	}
}

func TestRFC9293_3_5_SimultaneousOpen(t *testing.T) {
	r := newRig(t, Config{})
	c, _ := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out)
	syn := r.one()
	r.send(wire.TCPRepr{Seq: 9000, Flags: flagSYN, Window: 1000, Options: wire.TCPOptions{HasMSS: true, MSS: 1000}}, nil)
	sa := r.one()
	if c.State() != StateSynReceived || sa.Flags != flagSYN|flagACK || sa.Seq != syn.Seq || sa.Ack != 9001 {
		t.Fatalf("state %v, sent %+v", c.State(), sa.TCPRepr)
	}
	r.send(wire.TCPRepr{Seq: 9000, Ack: syn.Seq + 1, Flags: flagSYN | flagACK, Window: 1000}, nil)
	// Its SYN again (with our ACK): the SYN is old (seq < rcv.nxt) so it is
	// answered with an ACK, and its ACK is not taken from an unacceptable
	// segment. Then the plain ACK completes it.
	r.recv()
	r.send(wire.TCPRepr{Seq: 9001, Ack: syn.Seq + 1, Flags: flagACK, Window: 1000}, nil)
	if c.State() != StateEstablished {
		t.Fatalf("state %v", c.State())
	}
}

func TestRFC9293_3_10_7_3_RSTAnsweringSYNRefuses(t *testing.T) {
	r := newRig(t, Config{})
	c, _ := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out)
	syn := r.one()
	r.send(wire.TCPRepr{Seq: 0, Ack: syn.Seq + 2, Flags: flagRST | flagACK}, nil)
	if c.State() != StateSynSent {
		t.Fatal("a RST with an unacceptable ACK must be ignored")
	}
	r.send(wire.TCPRepr{Seq: 0, Ack: syn.Seq + 1, Flags: flagRST | flagACK}, nil)
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrConnRefused) || r.ready(c)&Failed == 0 {
		t.Fatalf("state %v err %v ready %b", c.State(), c.Err(), r.ready(c))
	}
	if _, err := c.Write(r.now, []byte("x"), &r.out); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("Write: %v", err)
	}
	if r.tb.Stats().AttemptFails != 1 {
		t.Fatal("AttemptFails")
	}
}

func TestRFC6298_5_SYNRetriesThenTimedOut(t *testing.T) {
	r := newRig(t, Config{SynRetries: 3})
	c, _ := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out)
	r.one()
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		r.advance(wait - time.Millisecond)
		r.none()
		r.advance(time.Millisecond)
		if g := r.one(); g.Flags != flagSYN {
			t.Fatalf("retry %d: %v", i, g.Flags)
		}
	}
	r.advance(8 * time.Second)
	r.none()
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrTimedOut) {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
}

func TestRFC6298_5_5_RTOBacksOffAndGivesUp(t *testing.T) {
	r, c, _ := establishedRig(t, Config{Retries: 4})
	c.Write(r.now, []byte("hello"), &r.out)
	first := r.one()
	rto := c.Info().RTO
	if rto != 200*time.Millisecond {
		t.Fatalf("RTO %v after a ~0 RTT handshake, want the 200ms floor", rto)
	}
	for i := range 4 {
		r.advance(rto)
		g := r.one()
		if g.Seq != first.Seq || string(g.payload) != "hello" {
			t.Fatalf("retransmission %d: seq %d %q", i, g.Seq, g.payload)
		}
		rto *= 2
		if c.Info().RTO != rto {
			t.Fatalf("RTO %v, want %v (doubling)", c.Info().RTO, rto)
		}
	}
	r.advance(rto)
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrTimedOut) {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
	if r.tb.Stats().RetransSegs != 4 {
		t.Fatalf("RetransSegs %d", r.tb.Stats().RetransSegs)
	}
}

func TestRFC6298_3_KarnNoSampleFromRetransmission(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	before := c.Info().SRTT
	c.Write(r.now, []byte("a"), &r.out)
	r.one()
	r.advance(200 * time.Millisecond)
	r.one() // retransmitted
	r.advance(5 * time.Millisecond)
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.Info().SRTT != before {
		t.Fatalf("SRTT moved from %v to %v on the ACK of a retransmitted segment", before, c.Info().SRTT)
	}
}

func TestRFC9293_3_6_LocalCloseFinWait2TimeWait(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	c.Close(r.now, &r.out)
	fin := r.one()
	if fin.Flags != flagFIN|flagACK || c.State() != StateFinWait1 {
		t.Fatalf("%v %v", fin.Flags, c.State())
	}
	if _, err := c.Write(r.now, []byte("x"), &r.out); err != ErrBrokenPipe {
		t.Fatalf("Write after Close: %v", err)
	}
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.State() != StateFinWait2 {
		t.Fatal(c.State())
	}
	// Half-closed: the peer still sends, we still read.
	r.send(p.seg(flagACK|flagPSH), []byte("late data"))
	p.seq += 9
	b := make([]byte, 20)
	if n, err := c.Read(r.now, b, &r.out); err != nil || string(b[:n]) != "late data" {
		t.Fatalf("Read %q %v", b[:n], err)
	}
	r.send(p.seg(flagFIN|flagACK), nil)
	p.seq++
	if g := r.one(); g.Flags != flagACK || g.Ack != p.seq || c.State() != StateTimeWait {
		t.Fatalf("%+v %v", g.TCPRepr, c.State())
	}
	if _, err := c.Read(r.now, b, &r.out); err != io.EOF {
		t.Fatalf("Read at the end: %v", err)
	}
	// A retransmitted FIN is acknowledged again.
	p.seq--
	r.send(p.seg(flagFIN|flagACK), nil)
	if g := r.one(); g.Ack != p.seq+1 {
		t.Fatalf("re-ACK %d", g.Ack)
	}
	r.advance(60*time.Second - time.Millisecond)
	if c.State() != StateTimeWait {
		t.Fatal("TIME_WAIT ended early")
	}
	r.advance(time.Millisecond)
	if c.State() != StateClosed || len(r.tb.conns) != 0 || r.ready(c)&Closed == 0 {
		t.Fatalf("%v, %d conns", c.State(), len(r.tb.conns))
	}
}

func TestRFC9293_3_6_PeerCloseCloseWaitLastAck(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	r.send(p.seg(flagFIN|flagACK), nil)
	p.seq++
	if c.State() != StateCloseWait {
		t.Fatal(c.State())
	}
	if _, err := c.Read(r.now, make([]byte, 8), &r.out); err != io.EOF {
		t.Fatalf("Read: %v", err)
	}
	// Half-closed the other way: we still write.
	if n, err := c.Write(r.now, []byte("bye"), &r.out); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if g := r.one(); string(g.payload) != "bye" || g.Ack != p.seq {
		t.Fatalf("%+v %q", g.TCPRepr, g.payload)
	}
	c.Close(r.now, &r.out)
	if g := r.one(); g.Flags&flagFIN == 0 || c.State() != StateLastAck {
		t.Fatal(g.Flags, c.State())
	}
	p.ack += 4
	r.send(p.seg(flagACK), nil)
	if c.State() != StateClosed || c.Err() != nil {
		t.Fatal(c.State(), c.Err())
	}
}

func TestRFC9293_3_6_SimultaneousCloseClosing(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	c.Close(r.now, &r.out)
	r.one()
	r.send(p.seg(flagFIN|flagACK), nil) // its FIN crosses ours: acks nothing new
	p.seq++
	if c.State() != StateClosing {
		t.Fatal(c.State())
	}
	r.one()
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.State() != StateTimeWait {
		t.Fatal(c.State())
	}
}

func TestRFC6528_ISNDependsOnTupleSecretAndClock(t *testing.T) {
	a, b := NewTable(Config{Secret: [16]byte{1}}), NewTable(Config{Secret: [16]byte{2}})
	l := netip.MustParseAddrPort("10.0.0.1:1000")
	r1, r2 := netip.MustParseAddrPort("10.0.0.2:80"), netip.MustParseAddrPort("10.0.0.2:81")
	if a.isn(l, r1, 0) == a.isn(l, r2, 0) || a.isn(l, r1, 0) == b.isn(l, r1, 0) {
		t.Fatal("ISN does not depend on the tuple and the secret")
	}
	if d := a.isn(l, r1, int64(time.Second)) - a.isn(l, r1, 0); d != 250000 {
		t.Fatalf("ISN advanced %d in 1 s, want 250000 (one per 4 µs)", d)
	}
}

func TestRFC5961_3_2_ExactRSTResets(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	r.send(wire.TCPRepr{Seq: p.seq, Flags: flagRST}, nil)
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrConnReset) {
		t.Fatal(c.State(), c.Err())
	}
	if r.tb.Stats().EstabResets != 1 || r.tb.Stats().CurrEstab != 0 {
		t.Fatalf("%+v", r.tb.Stats())
	}
}

func TestRFC5961_3_2_InWindowRSTGetsChallengeACK(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	r.send(wire.TCPRepr{Seq: p.seq + 100, Flags: flagRST}, nil)
	g := r.one()
	if c.State() != StateEstablished || g.Flags != flagACK || g.Ack != p.seq {
		t.Fatalf("%v %+v", c.State(), g.TCPRepr)
	}
	r.send(wire.TCPRepr{Seq: p.seq + 1<<30, Flags: flagRST}, nil)
	r.none() // out of the window: dropped silently
	if c.State() != StateEstablished || r.tb.Stats().ChallengeACKs != 1 {
		t.Fatal(c.State(), r.tb.Stats().ChallengeACKs)
	}
}

func TestRFC5961_4_2_SYNInEstablishedGetsChallengeACK(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	syn := peerSYN()
	syn.Seq = p.seq + 10
	syn.Options.TSVal = p.ts + 100
	r.send(syn, nil)
	if g := r.one(); g.Flags != flagACK || g.Ack != p.seq || c.State() != StateEstablished {
		t.Fatalf("%+v %v", g.TCPRepr, c.State())
	}
}

func TestRFC5961_5_2_DataWithOldACKIsDropped(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	s := p.seg(flagACK)
	s.Ack = p.ack - 1<<20 // far behind anything the peer could have seen
	r.send(s, []byte("injected"))
	if g := r.one(); g.Flags != flagACK || g.Ack != p.seq {
		t.Fatalf("%+v", g.TCPRepr)
	}
	if c.Buffered() != 0 {
		t.Fatal("data with an impossible ACK was accepted")
	}
}

func TestRFC5961_7_ChallengeACKsAreRateLimited(t *testing.T) {
	r, _, p := establishedRig(t, Config{ChallengeACKLimit: 3})
	for range 10 {
		r.send(wire.TCPRepr{Seq: p.seq + 5, Flags: flagRST}, nil)
	}
	if n := len(r.recv()); n != 3 {
		t.Fatalf("%d challenge ACKs, want 3", n)
	}
	r.advance(time.Second)
	r.send(wire.TCPRepr{Seq: p.seq + 5, Flags: flagRST}, nil)
	r.one()
}

func TestRFC7323_5_3_PAWSDropsOldTimestamp(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	r.send(p.seg(flagACK|flagPSH), []byte("new"))
	p.seq += 3
	old := p.seg(flagACK | flagPSH)
	old.Options.TSVal = 10 // older than TS.Recent
	r.send(old, []byte("old"))
	if c.Buffered() != 3 || r.tb.Stats().PAWSDrops != 1 {
		t.Fatalf("buffered %d PAWS drops %d", c.Buffered(), r.tb.Stats().PAWSDrops)
	}
	if g := r.recv(); len(g) != 1 || g[0].Ack != p.seq {
		t.Fatalf("want one ACK for the PAWS drop, got %+v", g)
	}
}

func TestRFC7323_4_3_TimestampEchoed(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	p.ts = 777777
	r.send(p.seg(flagACK|flagPSH), []byte("x"))
	c.Write(r.now, []byte("y"), &r.out)
	if g := r.one(); g.Options.TSEcr != 777778 {
		t.Fatalf("TSecr %d", g.Options.TSEcr)
	}
}

func TestRFC2018_4_OutOfOrderGetsSACKAtOnce(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	s := p.seg(flagACK)
	s.Seq += 100
	r.send(s, make([]byte, 50))
	g := r.one()
	if g.Ack != p.seq || g.Options.NumSACK != 1 || g.Options.SACK[0] != (wire.TCPSACKBlock{Start: p.seq + 100, End: p.seq + 150}) {
		t.Fatalf("%+v", g.TCPRepr)
	}
	s = p.seg(flagACK)
	s.Seq += 300
	r.send(s, make([]byte, 10))
	g = r.one()
	if g.Options.NumSACK != 2 || g.Options.SACK[0].Start != p.seq+300 {
		t.Fatalf("most recent block first: %+v", g.Options.SACK[:g.Options.NumSACK])
	}
	r.send(p.seg(flagACK), make([]byte, 100)) // fills the first hole
	g = r.one()
	if g.Ack != p.seq+150 || g.Options.NumSACK != 1 {
		t.Fatalf("%+v", g.TCPRepr)
	}
	if c.Buffered() != 150 {
		t.Fatal(c.Buffered())
	}
}

func TestRFC5681_4_2_DelayedACK(t *testing.T) {
	r, _, p := establishedRig(t, Config{})
	r.send(p.seg(flagACK|flagPSH), []byte("one"))
	p.seq += 3
	r.none()
	r.advance(39 * time.Millisecond)
	r.none()
	r.advance(time.Millisecond)
	if g := r.one(); g.Ack != p.seq {
		t.Fatal(g.Ack)
	}
	// Every second full-sized segment is acknowledged at once.
	full := make([]byte, 1448)
	r.send(p.seg(flagACK), full)
	p.seq += 1448
	r.none()
	r.send(p.seg(flagACK), full)
	p.seq += 1448
	if g := r.one(); g.Ack != p.seq {
		t.Fatal(g.Ack)
	}
}

func TestRFC9293_3_7_4_NagleHoldsSmallSegments(t *testing.T) {
	for _, nodelay := range []bool{false, true} {
		r, c, p := establishedRig(t, Config{})
		c.SetNoDelay(nodelay)
		c.Write(r.now, []byte("a"), &r.out)
		r.one()
		c.Write(r.now, []byte("b"), &r.out)
		if nodelay {
			r.one()
			continue
		}
		r.none()
		p.ack++
		r.send(p.seg(flagACK), nil)
		if g := r.one(); string(g.payload) != "b" {
			t.Fatalf("%q", g.payload)
		}
	}
}

func TestRFC9293_3_8_6_1_ZeroWindowProbe(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	p.wnd = 0
	r.send(p.seg(flagACK), nil)
	c.Write(r.now, []byte("hello"), &r.out)
	r.none()
	for i, wait := range []time.Duration{200, 400, 800} {
		r.advance(wait * time.Millisecond)
		g := r.one()
		if len(g.payload) != 1 || g.Seq != p.ack {
			t.Fatalf("probe %d: %+v %q", i, g.TCPRepr, g.payload)
		}
		r.send(p.seg(flagACK), nil) // still zero
	}
	if c.State() != StateEstablished {
		t.Fatal(c.State())
	}
	p.wnd = 100
	r.send(p.seg(flagACK), nil)
	if g := r.one(); string(g.payload) != "hello" {
		t.Fatalf("%q", g.payload)
	}
}

func TestRFC9293_3_8_4_KeepaliveProbesThenTimesOut(t *testing.T) {
	r, c, p := establishedRig(t, Config{KeepaliveInterval: 10 * time.Second, KeepaliveCount: 2})
	c.SetKeepalive(r.now, time.Minute)
	r.advance(time.Minute)
	g := r.one()
	if g.Seq != p.ack-1 || len(g.payload) != 0 {
		t.Fatalf("probe %+v", g.TCPRepr)
	}
	r.send(p.seg(flagACK), nil) // answered: stays
	r.advance(time.Minute)
	r.one()
	r.advance(10 * time.Second)
	r.one()
	r.advance(10 * time.Second)
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrTimedOut) {
		t.Fatal(c.State(), c.Err())
	}
}

func TestTimeWaitTableIsBounded(t *testing.T) {
	r := newRig(t, Config{MaxTimeWait: 2})
	var conns []*Conn
	for i := range 3 {
		r.remote = netip.AddrPortFrom(r.remote.Addr(), uint16(40000+i))
		c, err := r.tb.Connect(r.now, netip.AddrPortFrom(r.local.Addr(), 0), r.remote, ConnOptions{}, &r.out)
		if err != nil {
			t.Fatal(err)
		}
		local := c.Local()
		syn := r.one()
		r.local = local
		r.send(wire.TCPRepr{Seq: 1, Ack: syn.Seq + 1, Flags: flagSYN | flagACK, Window: 1000}, nil)
		r.recv()
		c.Close(r.now, &r.out)
		r.recv()
		r.send(wire.TCPRepr{Seq: 2, Ack: syn.Seq + 2, Flags: flagFIN | flagACK, Window: 1000}, nil)
		r.recv()
		if c.State() != StateTimeWait {
			t.Fatal(c.State())
		}
		conns = append(conns, c)
	}
	if conns[0].State() != StateClosed || conns[2].State() != StateTimeWait || r.tb.Stats().TimeWaitOverflows != 1 {
		t.Fatal(conns[0].State(), conns[2].State())
	}
}

func TestRFC4987_SYNCookiesWhenHalfOpenFull(t *testing.T) {
	r := newRig(t, Config{MaxHalfOpen: 1})
	l, _ := r.tb.Listen(r.local, 0, ConnOptions{})
	r.send(peerSYN(), nil) // takes the one half-open place
	r.recv()
	r.remote = netip.AddrPortFrom(r.remote.Addr(), 40001)
	syn := peerSYN()
	r.send(syn, nil)
	sa := r.one()
	if r.tb.Stats().SynCookiesSent != 1 || len(r.tb.conns) != 1 {
		t.Fatalf("cookies %d conns %d", r.tb.Stats().SynCookiesSent, len(r.tb.conns))
	}
	// A forged ACK does not pass.
	r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: sa.Seq + 2, Flags: flagACK, Window: 502,
		Options: wire.TCPOptions{HasTS: true, TSVal: 5001, TSEcr: sa.Options.TSVal}}, nil)
	if g := r.one(); g.Flags != flagRST || l.Pending() != 0 {
		t.Fatalf("%v pending %d", g.Flags, l.Pending())
	}
	// The right one does, with the options the cookie kept.
	r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: sa.Seq + 1, Flags: flagACK | flagPSH, Window: 502,
		Options: wire.TCPOptions{HasTS: true, TSVal: 5001, TSEcr: sa.Options.TSVal}}, []byte("GET /"))
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	i := c.Info()
	if i.State != StateEstablished || i.SendScale != 7 || !i.SACK || !i.Timestamps || i.MSS != 1460-12 || c.Buffered() != 5 {
		t.Fatalf("%+v buffered %d", i, c.Buffered())
	}
	if st := r.tb.Stats(); st.SynCookiesRecv != 1 || st.SynCookiesFailed != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestListenBacklogBoundsAcceptQueue(t *testing.T) {
	r := newRig(t, Config{})
	l, _ := r.tb.Listen(r.local, 1, ConnOptions{})
	for i := range 2 {
		r.remote = netip.AddrPortFrom(r.remote.Addr(), uint16(40000+i))
		r.send(peerSYN(), nil)
		gs := r.recv()
		if i == 1 {
			if len(gs) != 0 || r.tb.Stats().ListenDrops != 1 {
				t.Fatalf("SYN beyond the backlog: %d answers, drops %d", len(gs), r.tb.Stats().ListenDrops)
			}
			break
		}
		r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: gs[0].Seq + 1, Flags: flagACK, Window: 502,
			Options: wire.TCPOptions{HasTS: true, TSVal: 5001}}, nil)
	}
	if l.Pending() != 1 {
		t.Fatal(l.Pending())
	}
}

func TestRFC6675_SACKRecoveryRetransmitsOnlyTheHole(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	p.wnd = 5000
	r.send(p.seg(flagACK), nil)
	c.Write(r.now, make([]byte, 10*1448), &r.out)
	segs := r.recv()
	if len(segs) != 10 {
		t.Fatalf("%d segments in the initial window, want 10", len(segs))
	}
	// The first is lost; the peer SACKs the others one by one.
	for i := 1; i < 10; i++ {
		s := p.seg(flagACK)
		s.Options.NumSACK = 1
		s.Options.SACK[0] = wire.TCPSACKBlock{Start: segs[1].Seq, End: segs[i].Seq + 1448}
		r.send(s, nil)
		for _, g := range r.recv() {
			if g.Seq != segs[0].Seq {
				t.Fatalf("sent seq %d during recovery, only %d is lost", g.Seq-segs[0].Seq, 0)
			}
			if i < 3 {
				t.Fatalf("retransmitted after %d duplicate ACKs", i)
			}
		}
	}
	if c.Info().Retransmits != 1 || c.Info().FastRecoveries != 1 {
		t.Fatalf("%+v", c.Info())
	}
}

func TestRFC6582_NewRenoFastRetransmitAndPartialACK(t *testing.T) {
	r, c, p := establishedRig(t, Config{NoSACK: true})
	c.Write(r.now, make([]byte, 10*1448), &r.out)
	segs := r.recv()
	for i := range 3 {
		r.send(p.seg(flagACK), nil)
		gs := r.recv()
		if i < 2 && len(gs) != 0 {
			t.Fatalf("sent after %d dup ACKs", i+1)
		}
		if i == 2 && (len(gs) != 1 || gs[0].Seq != segs[0].Seq) {
			t.Fatalf("third dup ACK: %+v", gs)
		}
	}
	// Partial ACK (segments 0-2 arrived; 3 was lost too): 3 goes at once.
	p.ack = segs[3].Seq
	r.send(p.seg(flagACK), nil)
	gs := r.recv()
	if len(gs) == 0 || gs[0].Seq != segs[3].Seq {
		t.Fatalf("partial ACK: %+v", gs)
	}
}

func TestAddressInUse(t *testing.T) {
	r := newRig(t, Config{})
	if _, err := r.tb.Listen(r.local, 0, ConnOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tb.Listen(r.local, 0, ConnOptions{}); !errors.Is(err, ErrAddrInUse) {
		t.Fatal(err)
	}
	r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out)
	if _, err := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out); !errors.Is(err, ErrAddrInUse) {
		t.Fatal(err)
	}
}

func TestReleaseWithUnreadDataResets(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	r.send(p.seg(flagACK|flagPSH), []byte("unread"))
	r.recv()
	c.Release(r.now, &r.out)
	if g := r.one(); g.Flags&flagRST == 0 || c.State() != StateClosed {
		t.Fatal(g.Flags, c.State())
	}
}

func TestListenerCloseResetsQueued(t *testing.T) {
	r := newRig(t, Config{})
	l, _ := r.tb.Listen(r.local, 0, ConnOptions{})
	r.send(peerSYN(), nil)
	sa := r.one()
	r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: sa.Seq + 1, Flags: flagACK, Window: 502,
		Options: wire.TCPOptions{HasTS: true, TSVal: 5001}}, nil)
	if l.Pending() != 1 {
		t.Fatal(l.Pending())
	}
	l.Close(r.now, &r.out)
	if g := r.one(); g.Flags&flagRST == 0 || len(r.tb.conns) != 0 {
		t.Fatalf("%v, %d conns", g.Flags, len(r.tb.conns))
	}
	r.send(peerSYN(), nil)
	if g := r.one(); g.Flags != flagRST|flagACK {
		t.Fatalf("SYN after the listener closed: %v", g.Flags)
	}
}

func TestInfoStatusLine(t *testing.T) {
	r, c, _ := establishedRig(t, Config{})
	got := c.Info().String()
	want := "Established sendq 0 recvq 0 srtt 0.001 rttvar 0.001 rto 200.000 cwnd 14480 ssthresh 1073741824 sndwnd 64256 rcvwnd 65535 mss 1448 retrans 0 timeouts 0 recoveries 0 cc reno"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	_ = r
}

// RFC 4987: a SYN flood from random sources keeps at most MaxHalfOpen
// connections, and a real client still gets in (through a cookie).
func TestRFC4987_SYNFloodBoundedAndRealClientGetsIn(t *testing.T) {
	r := newRig(t, Config{MaxHalfOpen: 64})
	l, _ := r.tb.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), 80), 0, ConnOptions{})
	for i := range 20000 {
		r.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i))
		r.send(wire.TCPRepr{Seq: uint32(i * 7919), Flags: flagSYN, Window: 1000}, nil)
		r.out.Reset()
	}
	if n := len(r.tb.conns); n != 64 {
		t.Fatalf("%d half-open connections, bound 64", n)
	}
	r.remote = netip.MustParseAddrPort("192.168.69.100:40000")
	c, _ := r.accepted2(l, peerSYN())
	if c.State() != StateEstablished || r.tb.Stats().SynCookiesRecv != 1 {
		t.Fatalf("%v cookies %d", c.State(), r.tb.Stats().SynCookiesRecv)
	}
	// The flood's half-open connections give up after their SYN-ACK retries.
	r.advance(10 * time.Minute)
	for range 10 {
		r.advance(time.Minute)
	}
	if n := len(r.tb.conns); n != 1 || l.HalfOpen() != 0 {
		t.Fatalf("%d connections, %d half-open after the flood timed out", n, l.HalfOpen())
	}
}

func TestRFC8985_6_2_OneSACKAndAQuarterRTTMakeALoss(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	c.Write(r.now, make([]byte, 3*1448), &r.out)
	segs := r.recv()
	if len(segs) != 3 {
		t.Fatal(len(segs))
	}
	r.advance(500 * time.Microsecond)
	s := p.seg(flagACK)
	s.Window = 600
	s.Options.NumSACK = 1
	s.Options.SACK[0] = wire.TCPSACKBlock{Start: segs[1].Seq, End: segs[1].Seq + 1448}
	r.send(s, nil)
	r.none() // one duplicate ACK: too few for RFC 6675, and reordering is possible
	r.advance(time.Millisecond)
	gs := r.recv()
	if len(gs) == 0 || gs[0].Seq != segs[0].Seq {
		t.Fatalf("no retransmission of the hole after the reordering window: %+v", gs)
	}
}

func TestRFC6191_NewerSYNReopensTimeWait(t *testing.T) {
	r := newRig(t, Config{})
	c, iss := r.accepted(peerSYN())
	p := &peer{seq: peerISN + 1, ack: iss + 1, ts: 5001, wnd: 502}
	r.send(p.seg(flagFIN|flagACK), nil) // the peer closes first: we are passive...
	p.seq++
	c.Close(r.now, &r.out)
	r.recv()
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.State() != StateClosed {
		t.Fatalf("passive close ends in %v", c.State())
	}
	// ...so make a TIME_WAIT by closing first on a second connection.
	r.remote = netip.AddrPortFrom(r.remote.Addr(), 40001)
	c2, iss2 := r.accepted2(r.tb.listeners[r.local], peerSYN())
	p = &peer{seq: peerISN + 1, ack: iss2 + 1, ts: 6000, wnd: 502}
	c2.Close(r.now, &r.out)
	r.recv()
	p.ack++
	r.send(p.seg(flagFIN|flagACK), nil)
	p.seq++
	r.recv()
	if c2.State() != StateTimeWait {
		t.Fatal(c2.State())
	}
	old := peerSYN()
	old.Options.TSVal = 10 // not newer: an old duplicate, ignored by TIME_WAIT's rules
	r.send(old, nil)
	if c2.State() != StateTimeWait {
		t.Fatalf("an old SYN ended TIME_WAIT: %v", c2.State())
	}
	r.recv()
	syn := peerSYN()
	syn.Seq = p.seq + 100000
	syn.Options.TSVal = p.ts + 100
	r.send(syn, nil)
	g := r.one()
	if c2.State() != StateClosed || g.Flags != flagSYN|flagACK || g.Ack != syn.Seq+1 {
		t.Fatalf("%v %+v", c2.State(), g.TCPRepr)
	}
}

func TestRFC9293_3_10_8_OrphanedFinWait2TimesOut(t *testing.T) {
	r, c, p := establishedRig(t, Config{FinWait2Timeout: 30 * time.Second})
	c.Release(r.now, &r.out)
	r.recv()
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.State() != StateFinWait2 {
		t.Fatal(c.State())
	}
	r.advance(30 * time.Second)
	if c.State() != StateClosed || len(r.tb.conns) != 0 {
		t.Fatal(c.State())
	}
}

func TestRFC9293_3_10_7_4_DataAfterReleaseGetsRST(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	c.Release(r.now, &r.out)
	r.recv()
	r.send(p.seg(flagACK|flagPSH), []byte("too late"))
	if g := r.one(); g.Flags&flagRST == 0 || c.State() != StateClosed {
		t.Fatal(g.Flags, c.State())
	}
}

func TestRFC6298_SYNACKRetransmittedWhenTheACKIsLost(t *testing.T) {
	r := newRig(t, Config{})
	l, _ := r.tb.Listen(r.local, 0, ConnOptions{})
	r.send(peerSYN(), nil)
	sa := r.one()
	r.advance(time.Second)
	if g := r.one(); g.Flags != flagSYN|flagACK || g.Seq != sa.Seq {
		t.Fatalf("%+v", g.TCPRepr)
	}
	// The peer's retransmitted SYN is answered at once too.
	r.send(peerSYN(), nil)
	if g := r.one(); g.Flags != flagSYN|flagACK {
		t.Fatal(g.Flags)
	}
	r.send(wire.TCPRepr{Seq: peerISN + 1, Ack: sa.Seq + 1, Flags: flagACK, Window: 502,
		Options: wire.TCPOptions{HasTS: true, TSVal: 5002}}, nil)
	if l.Pending() != 1 {
		t.Fatal(l.Pending())
	}
}

func TestRFC9293_3_10_3_FINRetransmittedAfterRTO(t *testing.T) {
	r, c, p := establishedRig(t, Config{})
	c.Write(r.now, []byte("last words"), &r.out)
	c.Close(r.now, &r.out)
	gs := r.recv()
	if len(gs) != 2 || string(gs[0].payload) != "last words" || gs[1].Flags != flagFIN|flagACK || gs[1].Seq != p.ack+10 {
		t.Fatalf("data, then the FIN after it: %+v", gs)
	}
	p.ack += 10 // the data arrived, the FIN did not
	r.send(p.seg(flagACK), nil)
	r.advance(200 * time.Millisecond)
	if g := r.one(); g.Flags != flagFIN|flagACK || g.Seq != p.ack || len(g.payload) != 0 {
		t.Fatalf("%+v %q", g.TCPRepr, g.payload)
	}
	p.ack++
	r.send(p.seg(flagACK), nil)
	if c.State() != StateFinWait2 {
		t.Fatal(c.State())
	}
}

func TestFailEndsAConnectWithTheHostsError(t *testing.T) {
	r := newRig(t, Config{})
	c, _ := r.tb.Connect(r.now, r.local, r.remote, ConnOptions{}, &r.out)
	r.recv()
	c.Fail(r.now, syscall.EHOSTUNREACH, &r.out)
	r.none()
	if c.State() != StateClosed || !errors.Is(c.Err(), syscall.EHOSTUNREACH) || r.ready(c)&Failed == 0 || len(r.tb.conns) != 0 {
		t.Fatal(c.State(), c.Err(), r.ready(c))
	}
	if _, err := c.Write(r.now, []byte("x"), &r.out); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatal(err)
	}
}
