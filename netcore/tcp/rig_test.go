package tcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// rig drives one Table with hand-built segments from a pretend peer under a
// fake clock, smoltcp style.
type rig struct {
	t      *testing.T
	tb     *Table
	now    time.Time
	out    Output
	local  netip.AddrPort // the table's side
	remote netip.AddrPort // the pretend peer
	events []Event
}

type got struct {
	wire.TCPRepr
	payload []byte
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	cfg.Secret = [16]byte{42}
	return &rig{t: t, tb: NewTable(cfg), now: time.Unix(1700000000, 0),
		local:  netip.MustParseAddrPort("192.168.69.1:80"),
		remote: netip.MustParseAddrPort("192.168.69.100:40000")}
}

// send delivers a segment from the peer.
func (r *rig) send(seg wire.TCPRepr, payload []byte) {
	r.t.Helper()
	seg.SrcPort, seg.DstPort = r.remote.Port(), r.local.Port()
	b := seg.Append(nil)
	wire.SetTCPChecksum(b, payload, r.remote.Addr(), r.local.Addr())
	b = append(b, payload...)
	r.tb.Receive(r.now, r.remote.Addr(), r.local.Addr(), b, &r.out)
	r.check()
}

// recv returns what the table sent since the last call, parsed.
func (r *rig) recv() []got {
	r.t.Helper()
	var gs []got
	for _, s := range r.out.Segments {
		b := append(append([]byte(nil), s.Header...), s.Payload...)
		if !wire.TCPSegment(b).VerifyChecksum(s.Src, s.Dst) {
			r.t.Fatalf("segment with a bad checksum: % x", b)
		}
		var g got
		p, err := wire.ParseTCP(b, &g.TCPRepr)
		if err != nil {
			r.t.Fatalf("unparsable segment: %v", err)
		}
		g.payload = p
		gs = append(gs, g)
	}
	r.events = append(r.events, r.out.Events...)
	r.out.Reset()
	return gs
}

// one expects exactly one segment.
func (r *rig) one() got {
	r.t.Helper()
	gs := r.recv()
	if len(gs) != 1 {
		r.t.Fatalf("sent %d segments, want 1: %+v", len(gs), gs)
	}
	return gs[0]
}

func (r *rig) none() {
	r.t.Helper()
	if gs := r.recv(); len(gs) != 0 {
		r.t.Fatalf("sent %d segments, want none: %+v", len(gs), gs[0].TCPRepr)
	}
}

// advance moves the clock and runs the timers.
func (r *rig) advance(d time.Duration) {
	r.now = r.now.Add(d)
	r.tb.Poll(r.now, &r.out)
	r.check()
}

func (r *rig) check() {
	r.t.Helper()
	if err := r.tb.checkInvariants(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) ready(c *Conn) Ready {
	var x Ready
	for _, e := range append(r.events, r.out.Events...) {
		if e.Conn == c {
			x |= e.Ready
		}
	}
	return x
}

const peerISN = 1000000

// peerSYN is a SYN like Linux's: MSS 1460, SACK, timestamps, window scale 7.
func peerSYN() wire.TCPRepr {
	return wire.TCPRepr{Seq: peerISN, Flags: flagSYN, Window: 64240, Options: wire.TCPOptions{
		HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 5000, HasWS: true, WindowScale: 7}}
}

// accepted runs a passive open to the rig's local address and returns the
// connection and our ISN.
func (r *rig) accepted(syn wire.TCPRepr) (*Conn, uint32) {
	r.t.Helper()
	l, err := r.tb.Listen(r.local, 0, ConnOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.accepted2(l, syn)
}

// accepted2 runs a passive open through l.
func (r *rig) accepted2(l *Listener, syn wire.TCPRepr) (*Conn, uint32) {
	r.t.Helper()
	r.send(syn, nil)
	sa := r.one()
	if sa.Flags != flagSYN|flagACK || sa.Ack != syn.Seq+1 {
		r.t.Fatalf("SYN-ACK %+v", sa.TCPRepr)
	}
	ack := wire.TCPRepr{Seq: syn.Seq + 1, Ack: sa.Seq + 1, Flags: flagACK, Window: 502}
	if syn.Options.HasTS {
		ack.Options = wire.TCPOptions{HasTS: true, TSVal: syn.Options.TSVal + 1, TSEcr: sa.Options.TSVal}
	}
	r.send(ack, nil)
	r.none()
	c, err := l.Accept()
	if err != nil {
		r.t.Fatalf("Accept: %v", err)
	}
	return c, sa.Seq
}

// peer numbers after accepted: the next sequence number the peer sends and
// a timestamp that keeps increasing.
type peer struct {
	seq, ack uint32
	ts       uint32
	wnd      uint16
}

func (p *peer) seg(flags wire.TCPFlags) wire.TCPRepr {
	p.ts++
	return wire.TCPRepr{Seq: p.seq, Ack: p.ack, Flags: flags, Window: p.wnd,
		Options: wire.TCPOptions{HasTS: true, TSVal: p.ts}}
}

// establishedRig is a rig with an accepted connection and its peer.
func establishedRig(t *testing.T, cfg Config) (*rig, *Conn, *peer) {
	r := newRig(t, cfg)
	c, iss := r.accepted(peerSYN())
	return r, c, &peer{seq: peerISN + 1, ack: iss + 1, ts: 5001, wnd: 502}
}
