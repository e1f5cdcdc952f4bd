package netcore

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// ipFrame is an Ethernet frame from the peer to us holding an IPv4 header
// with opts (as r says) and payload.
func ipFrame(ethDst wire.MAC, r wire.IPv4Repr, opts, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: ethDst, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	r.PayloadLen = len(payload)
	b = r.AppendOptions(b, opts)
	return wire.PadFrame(append(b, payload...))
}

// fragments cuts datagram payload (an ICMP message, say) from the peer to
// us into frames of at most size payload bytes (a multiple of 8), with
// opts in the first.
func fragments(proto wire.IPProtocol, id uint16, payload []byte, size int, opts []byte) [][]byte {
	var fs [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: proto, TTL: 64, ID: id, MF: end < len(payload), FragOffset: off}
		o := opts
		if off > 0 {
			o = nil
		}
		fs = append(fs, ipFrame(hostMAC, r, o, payload[off:end]))
	}
	return fs
}

// echoRequest is an ICMP echo request message of n payload bytes.
func echoRequest(id, seq uint16, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: id, Seq: seq, Data: data}.Append(nil)
}

// reassemble puts the fragments the host sent back together, checking
// each: IPv4, to the peer, one identification, payload a multiple of 8
// but the last, and no fragment longer than the MTU.
func reassemble(t *testing.T, frames [][]byte, mtu int) (wire.IPv4Repr, []byte) {
	t.Helper()
	var first wire.IPv4Repr
	var payload []byte
	for i, f := range frames {
		if len(f)-wire.EthHeaderLen > mtu {
			t.Fatalf("fragment %d: %d bytes, MTU %d", i, len(f)-wire.EthHeaderLen, mtu)
		}
		r, err := wire.ParseIPv4(f[wire.EthHeaderLen:])
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		p, _ := wire.NewIPv4Packet(f[wire.EthHeaderLen:])
		if i == 0 {
			first = r
		}
		if r.ID != first.ID || r.Dst != peerIP || r.FragOffset != len(payload) || r.MF != (i < len(frames)-1) {
			t.Fatalf("fragment %d: %+v after %d bytes", i, r, len(payload))
		}
		if r.MF && r.PayloadLen%8 != 0 {
			t.Fatalf("fragment %d: %d bytes with MF", i, r.PayloadLen)
		}
		payload = append(payload, p.Payload()...)
	}
	return first, payload
}

func TestPingFragmented(t *testing.T) {
	for _, n := range []int{3000, 65507} {
		for _, order := range []string{"in order", "reversed", "shuffled"} {
			th := newHarness(t)
			th.recv(whoHas(hostIP))
			th.h.stats = Stats{}
			req := echoRequest(0x77, 1, n)
			fs := fragments(wire.ProtoICMP, 0x4242, req, 1480, nil)
			switch order {
			case "reversed":
				for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
					fs[i], fs[j] = fs[j], fs[i]
				}
			case "shuffled":
				rand.New(rand.NewPCG(1, uint64(n))).Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
			}
			var sent [][]byte
			for i, f := range fs {
				sent = th.recv(f)
				if i < len(fs)-1 && len(sent) != 0 {
					t.Fatalf("%d, %s: fragment %d answered", n, order, i)
				}
			}
			want := (n + 8 + 1479) / 1480
			if len(sent) != want {
				t.Fatalf("%d, %s: the reply is %d fragments, want %d", n, order, len(sent), want)
			}
			r, payload := reassemble(t, sent, 1500)
			if r.Src != hostIP || r.Protocol != wire.ProtoICMP || r.DF {
				t.Errorf("%d, %s: reply %+v", n, order, r)
			}
			if !wire.ICMPPacket(payload).VerifyChecksum() || payload[0] != byte(wire.ICMPEchoReply) || !bytes.Equal(payload[1:2], req[1:2]) || !bytes.Equal(payload[4:], req[4:]) {
				t.Errorf("%d, %s: the reply's ICMP is not the request's echoed", n, order)
			}
			th.wantStats(map[Counter]uint64{IPv4RxFragment: uint64(len(fs) - 1), ICMPEchoRx: 1, ICMPEchoTx: 1,
				IPv4Reassembled: 1, IPv4TxFragments: uint64(want), TxFrames: uint64(want)})
			if _, armed := th.h.timers.when(timerReassembly, 0); th.h.reasm4.held() != 0 || armed {
				t.Errorf("%d, %s: %d datagrams still held, timer armed %v", n, order, th.h.reasm4.held(), armed)
			}
		}
	}
}

// TestPingFragmentedSmallMTU: a host with a small MTU cuts its replies
// finer, and a reply with options repeats none of them after the first
// fragment (Record Route is not copied), as NOPs of the same length.
func TestPingFragmentedSmallMTU(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.MTU = 576 })
	th.recv(whoHas(hostIP))
	req := echoRequest(1, 1, 1000)
	rr := append([]byte{wire.IPv4OptNOP, wire.IPv4OptRR, 39, 8}, append(peerIP.AsSlice(), make([]byte, 32)...)...)
	var sent [][]byte
	for _, f := range fragments(wire.ProtoICMP, 9, req, 512, rr) {
		sent = th.recv(f)
	}
	if len(sent) != 2 { // 1008 bytes in (576-60)&^7 = 512-byte pieces
		t.Fatalf("%d fragments", len(sent))
	}
	_, payload := reassemble(t, sent, 576)
	if len(payload) != len(req) {
		t.Fatalf("%d bytes back", len(payload))
	}
	for i, f := range sent {
		p := wire.IPv4Packet(f[wire.EthHeaderLen:])
		if p.HeaderLen() != 60 {
			t.Fatalf("fragment %d: header %d bytes", i, p.HeaderLen())
		}
		o, err := p.Options()
		if err != nil || (o.RR != 0) != (i == 0) {
			t.Errorf("fragment %d: options %+v, %v", i, o, err)
		}
	}
}

func TestReassemblyTimeExceeded(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	req := echoRequest(1, 1, 3000)
	fs := fragments(wire.ProtoICMP, 5, req, 1480, nil)
	th.recv(fs[0])
	th.recv(fs[2])
	if got := th.h.Deadline(); !got.Equal(t0.Add(ReassemblyTimeout)) {
		t.Fatalf("deadline %v", got)
	}
	if sent := th.advance(ReassemblyTimeout - time.Millisecond); len(sent) != 0 {
		t.Fatalf("sent %d frames early", len(sent))
	}
	sent := th.advance(time.Millisecond)
	if len(sent) != 1 {
		t.Fatalf("sent %d frames at the deadline", len(sent))
	}
	f := sent[0]
	r, err := wire.ParseIPv4(f[wire.EthHeaderLen:])
	e, err2 := wire.ParseICMPError(wire.IPv4Packet(f[wire.EthHeaderLen:]).Payload())
	if err != nil || err2 != nil || r.Src != hostIP || r.Dst != peerIP || r.TOS != 0xc0 || e.Type != wire.ICMPTimeExceeded || e.Code != 1 {
		t.Fatalf("sent %+v %+v (%v %v)", r, e, err, err2)
	}
	// It quotes the first fragment: its header and the start of its data,
	// 548 bytes in all (576 with the error's headers).
	if first := fs[0][wire.EthHeaderLen:]; len(e.Quote) != 548 || !bytes.Equal(e.Quote, first[:548]) {
		t.Errorf("quote of %d bytes, not the first fragment's start", len(e.Quote))
	}
	if sent := th.advance(time.Hour); len(sent) != 0 || th.h.reasm4.held() != 0 {
		t.Errorf("after: sent %d, held %d", len(sent), th.h.reasm4.held())
	}
	th.wantStats(map[Counter]uint64{IPv4ReasmTimeout: 1, ICMPTxTimeExceeded: 1, IPv4RxFragment: 2})

	// Without the first fragment, nothing can be quoted: counted, silent.
	th.recv(fs[1])
	if sent := th.advance(ReassemblyTimeout); len(sent) != 0 {
		t.Errorf("time exceeded without the first fragment")
	}
	th.wantStats(map[Counter]uint64{IPv4ReasmTimeout: 2, ICMPTxTimeExceeded: 1})

	// A first fragment that came as a link-layer broadcast: no error.
	bc := bytes.Clone(fs[0])
	copy(bc, wire.BroadcastMAC[:])
	th.recv(bc)
	if sent := th.advance(ReassemblyTimeout); len(sent) != 0 {
		t.Errorf("time exceeded for a link-layer broadcast")
	}
	th.wantStats(map[Counter]uint64{IPv4ReasmTimeout: 3, ICMPTxTimeExceeded: 1, ICMPTxSuppressed: 1})
}

func TestReassemblyOverlapInHost(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	req := echoRequest(1, 1, 3000)
	fs := fragments(wire.ProtoICMP, 5, req, 1480, nil)
	th.recv(fs[0])
	if sent := th.recv(fs[0]); len(sent) != 0 {
		t.Fatal("a duplicate answered")
	}
	// A fragment at 1472: it overlaps the first by 8 bytes.
	r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 5, MF: true, FragOffset: 1472}
	th.recv(ipFrame(hostMAC, r, nil, req[1472:2952]))
	for _, f := range fs[1:] {
		if sent := th.recv(f); len(sent) != 0 {
			t.Fatalf("a datagram with overlapping fragments answered: % x\n%s", sent[0], th.h.stats.Append(nil))
		}
	}
	th.wantStats(map[Counter]uint64{IPv4RxFragment: 1, IPv4RxFragDuplicate: 1, IPv4RxFragOverlap: 3, ICMPEchoRx: 0})
	// Dropped, it is not timed out: no time exceeded.
	if sent := th.advance(ReassemblyTimeout); len(sent) != 0 {
		t.Errorf("time exceeded for a dropped datagram")
	}
	th.wantStats(map[Counter]uint64{IPv4ReasmTimeout: 0})
	// The same identification is a new datagram now.
	var sent [][]byte
	for _, f := range fs {
		sent = th.recv(f)
	}
	if len(sent) != 3 {
		t.Errorf("the datagram afresh: %d frames back", len(sent))
	}
}

// TestReassemblyFlood holds the bounds against never-finished datagrams:
// first fragments of thousands of datagrams, from many sources.
func TestReassemblyFlood(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	req := echoRequest(1, 1, 3000)
	for i := range 5000 {
		f := fragments(wire.ProtoICMP, uint16(i), req, 1480, nil)[i%2]
		th.recv(f)
		if i%500 == 0 {
			th.advance(time.Second)
		}
	}
	s := th.snap().Stats
	if s[IPv4RxFragment] != MaxReassembly || s[IPv4RxFragNoRoom] != 5000-MaxReassembly {
		t.Errorf("held %d, no room %d", s[IPv4RxFragment], s[IPv4RxFragNoRoom])
	}
	// When their time is up, each of those whose first fragment came gets
	// one time exceeded, within the rate limit.
	sent := th.advance(ReassemblyTimeout)
	if len(sent) != MaxReassembly/2 {
		t.Errorf("%d time exceeded for %d datagrams with a first fragment", len(sent), MaxReassembly/2)
	}
	if th.h.reasm4.held() != 0 || th.h.reasm4.bytes() != 0 {
		t.Errorf("held %d, %d bytes", th.h.reasm4.held(), th.h.reasm4.bytes())
	}
	// And room again for a real ping.
	var last [][]byte
	for _, f := range fragments(wire.ProtoICMP, 9999, req, 1480, nil) {
		last = th.recv(f)
	}
	if len(last) != 3 {
		t.Errorf("a ping after the flood: %d frames back", len(last))
	}
}

func TestFragmentsBad(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 1, MF: true}
	th.recv(ipFrame(hostMAC, r, nil, make([]byte, 12))) // MF, not a multiple of 8
	r.MF, r.FragOffset = false, 65528
	th.recv(ipFrame(hostMAC, r, nil, make([]byte, 16))) // past 65535
	th.wantStats(map[Counter]uint64{IPv4RxFragBad: 2, IPv4RxFragment: 0})
}

// TestFragmentSendAllocs: a warm host answers a fragmented ping without
// allocating.
func TestFragmentSendAllocs(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	fs := fragments(wire.ProtoICMP, 1, echoRequest(1, 1, 65507), 1480, nil)
	var out Output
	ping := func() {
		for _, f := range fs {
			out.Reset()
			th.h.Receive(th.now, f, &out)
		}
	}
	ping()
	if n := testing.AllocsPerRun(10, ping); n != 0 {
		t.Errorf("%v allocations per 65507-byte ping", n)
	}
	if len(out.Frames) != 45 {
		t.Errorf("%d fragments back", len(out.Frames))
	}
}

func BenchmarkPingFragmented64K(b *testing.B) {
	h := benchHost(b)
	var out Output
	h.Receive(t0, arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP), &out)
	fs := fragments(wire.ProtoICMP, 1, echoRequest(1, 1, 65507), 1480, nil)
	b.SetBytes(65535)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fs {
			out.Reset()
			h.Receive(t0, f, &out)
		}
	}
	if len(out.Frames) != 45 {
		b.Fatalf("%d fragments back", len(out.Frames))
	}
}
