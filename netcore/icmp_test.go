package netcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// pingWith is an echo request from the peer to us carrying opts.
func pingWith(opts []byte) []byte {
	r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 3}
	return ipFrame(hostMAC, r, opts, echoRequest(0x6e30, 1, 56))
}

// replyOptions is the options area of the one frame a call sent.
func replyOptions(t *testing.T, sent [][]byte) []byte {
	t.Helper()
	if len(sent) != 1 {
		t.Fatalf("sent %d frames, want 1", len(sent))
	}
	parseEchoOut(t, sent[0])
	p := wire.IPv4Packet(sent[0][wire.EthHeaderLen:])
	return p[wire.IPv4MinLen:p.HeaderLen()]
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestEchoOptionsAsLinux sends the options of the kernel's own ping -R and
// ping -T requests (192.168.69.100 to 192.168.69.1, captured) and expects
// the options Linux put in its replies, byte for byte, our time in place of
// its time.
func TestEchoOptionsAsLinux(t *testing.T) {
	ms := be32(msSinceMidnight(t0))
	peer, host := peerIP.AsSlice(), hostIP.AsSlice()
	theirs := be32(0x0089aa51)
	for _, c := range []struct {
		name      string
		req, want []byte
	}{
		{"ping -R",
			cat([]byte{1, 7, 39, 8}, peer, make([]byte, 32)),
			cat([]byte{7, 39, 16}, peer, host, host, make([]byte, 24), []byte{0})},
		{"ping -T tsonly",
			cat([]byte{68, 40, 9, 0}, theirs, make([]byte, 32)),
			cat([]byte{68, 40, 17, 0}, theirs, ms, ms, make([]byte, 24))},
		{"ping -T tsandaddr",
			cat([]byte{68, 36, 13, 1}, peer, theirs, make([]byte, 24)),
			cat([]byte{68, 36, 29, 1}, peer, theirs, host, ms, host, ms, make([]byte, 8))},
		{"ping -T tsprespec, our address twice",
			cat([]byte{68, 28, 5, 3}, host, make([]byte, 4), host, make([]byte, 4), peer, make([]byte, 4)),
			cat([]byte{68, 28, 21, 3}, host, ms, host, ms, peer, make([]byte, 4))},
		{"ping -T tsprespec, another's first",
			cat([]byte{68, 12, 5, 3}, peer, make([]byte, 4)),
			cat([]byte{68, 12, 5, 3}, peer, make([]byte, 4))},
		{"record route with one slot left",
			cat([]byte{7, 11, 8}, peer, make([]byte, 4), []byte{0}),
			cat([]byte{7, 11, 12}, peer, host, []byte{0})},
		{"record route full",
			cat([]byte{7, 7, 8}, peer, []byte{0}),
			cat([]byte{7, 7, 8}, peer, []byte{0})},
		{"timestamp full: one more overflow, once",
			cat([]byte{68, 8, 9, 0x20}, theirs),
			cat([]byte{68, 8, 9, 0x30}, theirs)},
		{"timestamp, unknown flag: untouched",
			cat([]byte{68, 8, 5, 2}, make([]byte, 4)),
			cat([]byte{68, 8, 5, 2}, make([]byte, 4))},
		{"both, in the reply RR first",
			cat([]byte{68, 8, 5, 0}, make([]byte, 4), []byte{7, 7, 4}, make([]byte, 4), []byte{0}),
			cat([]byte{7, 7, 8}, host, []byte{68, 8, 9, 0}, ms, []byte{0})},
		{"router alert and NOPs do not come back",
			[]byte{148, 4, 0, 0, 1, 1, 1, 0},
			nil},
	} {
		th := newHarness(t)
		th.recv(whoHas(hostIP))
		got := replyOptions(t, th.recv(pingWith(c.req)))
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, c.want)
		}
	}
}

func TestOptionsDropped(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	// Source routes: dropped, counted, never answered.
	for _, typ := range []byte{wire.IPv4OptLSRR, wire.IPv4OptSSRR} {
		if sent := th.recv(pingWith(cat([]byte{typ, 7, 4}, otherIP.AsSlice(), []byte{0}))); len(sent) != 0 {
			t.Errorf("source route %d answered", typ)
		}
	}
	th.wantStats(map[Counter]uint64{IPv4RxSourceRoute: 2, ICMPEchoRx: 0})
	// Malformed: a parameter problem pointing at the octet at fault.
	sent := th.recv(pingWith([]byte{7, 6, 4, 0, 0, 0, 0, 0})) // one slot would run past its length
	if len(sent) != 1 {
		t.Fatalf("malformed options: %d frames back", len(sent))
	}
	e, err := wire.ParseICMPError(wire.IPv4Packet(sent[0][wire.EthHeaderLen:]).Payload())
	if err != nil || e.Type != wire.ICMPParamProblem || e.Code != 0 || e.Param != 22<<24 {
		t.Errorf("parameter problem %+v, %v; want pointer 22", e, err)
	}
	th.wantStats(map[Counter]uint64{IPv4RxBadOptions: 1, ICMPTxParamProblem: 1})
}

// unknownProto is a datagram of a protocol the host does not carry.
func unknownProto(ethDst wire.MAC, src, dst netip.Addr, payload []byte) []byte {
	return ipFrame(ethDst, wire.IPv4Repr{Src: src, Dst: dst, Protocol: 253, TTL: 64, ID: 1}, nil, payload)
}

func TestProtocolUnreachable(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	long := make([]byte, 1400)
	for i := range long {
		long[i] = byte(i)
	}
	req := unknownProto(hostMAC, peerIP, hostIP, long)
	sent := th.recv(req)
	if len(sent) != 1 {
		t.Fatalf("%d frames back", len(sent))
	}
	eth, _ := wire.ParseEthernet(sent[0])
	r, _ := wire.ParseIPv4(sent[0][wire.EthHeaderLen:])
	e, err := wire.ParseICMPError(wire.IPv4Packet(sent[0][wire.EthHeaderLen:]).Payload())
	if err != nil || eth.Dst != peerMAC || r.Src != hostIP || r.Dst != peerIP || r.TTL != 64 || r.TOS != 0xc0 || r.DF ||
		e.Type != wire.ICMPDestUnreachable || e.Code != wire.ICMPProtocolUnreachable {
		t.Fatalf("%+v %+v %+v %v", eth, r, e, err)
	}
	// 576 bytes in all: 548 of the datagram, as Linux quotes.
	if want := req[wire.EthHeaderLen : wire.EthHeaderLen+548]; !bytes.Equal(e.Quote, want) || r.PayloadLen+20 != 576 {
		t.Errorf("quote of %d bytes, error of %d", len(e.Quote), r.PayloadLen+20)
	}
	// A short one is quoted whole, without the frame's padding.
	sent = th.recv(unknownProto(hostMAC, peerIP, hostIP, []byte("hi")))
	if p := wire.IPv4Packet(sent[0][wire.EthHeaderLen:]); len(p.Payload()) != wire.ICMPHeaderLen+22 {
		t.Errorf("an error of %d bytes, want a quote of 22", len(p.Payload()))
	}
	th.wantStats(map[Counter]uint64{IPv4RxOther: 2, ICMPTxUnreachable: 2})
}

// TestICMPErrorExceptions: RFC 1122 3.2.2's datagrams, which no error may
// answer, each made to earn one (protocol unreachable, parameter problem).
func TestICMPErrorExceptions(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	icmpWithBadOpts := func(msg []byte) []byte {
		r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 1}
		return ipFrame(hostMAC, r, []byte{7, 6, 4, 0}, msg)
	}
	quote := unknownProto(hostMAC, hostIP, peerIP, make([]byte, 8))[wire.EthHeaderLen:]
	cases := map[string][]byte{
		"link-layer broadcast":      unknownProto(wire.BroadcastMAC, peerIP, hostIP, nil),
		"link-layer multicast":      unknownProto(wire.MAC{0x01, 0, 0x5e, 0, 0, 1}, peerIP, hostIP, nil),
		"source 0.0.0.0":            unknownProto(hostMAC, netip.MustParseAddr("0.0.0.0"), hostIP, nil),
		"source loopback":           unknownProto(hostMAC, netip.MustParseAddr("127.0.0.1"), hostIP, nil),
		"source multicast":          unknownProto(hostMAC, netip.MustParseAddr("224.0.0.1"), hostIP, nil),
		"source class E":            unknownProto(hostMAC, netip.MustParseAddr("240.0.0.1"), hostIP, nil),
		"source limited broadcast":  unknownProto(hostMAC, netip.MustParseAddr("255.255.255.255"), hostIP, nil),
		"source subnet broadcast":   unknownProto(hostMAC, netip.MustParseAddr("192.168.69.255"), hostIP, nil),
		"source subnet network":     unknownProto(hostMAC, netip.MustParseAddr("192.168.69.0"), hostIP, nil),
		"source ourselves":          unknownProto(hostMAC, hostIP, hostIP, nil),
		"an ICMP error":             icmpWithBadOpts(wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: 3, Quote: quote}.Append(nil)),
		"an ICMP of unknown type":   icmpWithBadOpts([]byte{42, 0, 0xd5, 0xff, 0, 0, 0, 0}),
		"an ICMP redirect":          icmpWithBadOpts(wire.ICMPErrorRepr{Type: wire.ICMPRedirect, Quote: quote}.Append(nil)),
		"a later fragment, bad opt": ipFrame(hostMAC, wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: 253, TTL: 64, ID: 1, FragOffset: 8}, []byte{7, 6, 4, 0}, make([]byte, 8)),
	}
	for name, f := range cases {
		before := th.h.stats[ICMPTxSuppressed]
		if sent := th.recv(f); len(sent) != 0 {
			t.Errorf("%s: answered with % x", name, sent[0])
		}
		if th.h.stats[ICMPTxSuppressed] != before+1 {
			t.Errorf("%s: not counted as suppressed", name)
		}
	}
	// An echo request with bad options does get its parameter problem.
	if sent := th.recv(icmpWithBadOpts(echoRequest(1, 1, 8))); len(sent) != 1 {
		t.Errorf("an echo request with bad options: %d frames back", len(sent))
	}
}

// TestICMPErrorRateLimit floods the host with datagrams that each earn an
// error: 50 at once, then 1000 a second.
func TestICMPErrorRateLimit(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	f := unknownProto(hostMAC, peerIP, hostIP, []byte("x"))
	n := 0
	for range 200 {
		n += len(th.recv(f))
	}
	if n != ICMPErrorBurst {
		t.Fatalf("a burst of 200: %d errors, want %d", n, ICMPErrorBurst)
	}
	n = 0
	for i := range 10000 { // 10000 a second for a second
		th.now = th.now.Add(100 * time.Microsecond)
		if i%100 == 0 {
			th.poll()
		}
		n += len(th.recv(f))
	}
	if n < ICMPErrorRate-1 || n > ICMPErrorRate+1 {
		t.Fatalf("a second of 10000/s: %d errors, want %d", n, ICMPErrorRate)
	}
	th.wantStats(map[Counter]uint64{ICMPTxUnreachable: uint64(ICMPErrorBurst + n), ICMPTxRateLimited: uint64(10200 - ICMPErrorBurst - n)})
}

func TestICMPErrorsReceived(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	ours := unknownProto(hostMAC, hostIP, peerIP, make([]byte, 8))[wire.EthHeaderLen:]
	theirs := unknownProto(hostMAC, otherIP, peerIP, make([]byte, 8))[wire.EthHeaderLen:]
	icmp := func(msg []byte) []byte {
		return ipFrame(hostMAC, wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 1}, nil, msg)
	}
	bad := wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: 3, Quote: ours}.Append(nil)
	bad[2] ^= 1
	for _, c := range []struct {
		name  string
		frame []byte
		fate  Counter
	}{
		{"about ours, no conversation", icmp(wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: 3, Quote: ours}.Append(nil)), ICMPRxErrorOther},
		{"about another's", icmp(wire.ICMPErrorRepr{Type: wire.ICMPTimeExceeded, Quote: theirs}.Append(nil)), ICMPRxErrorOther},
		{"bad checksum", icmp(bad), ICMPRxOther},
		{"quote too short", icmp(wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: 3, Quote: ours[:24]}.Append(nil)), ICMPRxOther},
	} {
		before := th.h.stats[c.fate]
		if sent := th.recv(c.frame); len(sent) != 0 {
			t.Errorf("%s: answered", c.name)
		}
		if th.h.stats[c.fate] != before+1 {
			t.Errorf("%s: %s not counted", c.name, c.fate)
		}
	}
}

func TestMsSinceMidnight(t *testing.T) {
	if got := msSinceMidnight(time.Date(2026, 1, 2, 13, 14, 15, 678900000, time.UTC)); got != ((13*60+14)*60+15)*1000+678 {
		t.Errorf("got %d", got)
	}
}

// TestUDPPortUnreachable: UDP to a port nobody announced earns a port
// unreachable; one received about a connected conversation's datagram
// fails its next read with ECONNREFUSED, as on Linux; a soft error (time
// exceeded) is the conversation's but not reported.
func TestUDPPortUnreachable(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	sent := th.recv(fromPeer(40000, 9, "anyone?"))
	if len(sent) != 1 {
		t.Fatalf("%d frames back", len(sent))
	}
	e, err := wire.ParseICMPError(wire.IPv4Packet(sent[0][wire.EthHeaderLen:]).Payload())
	if err != nil || e.Type != wire.ICMPDestUnreachable || e.Code != wire.ICMPPortUnreachable {
		t.Fatalf("%+v, %v", e, err)
	}
	th.wantStats(map[Counter]uint64{UDPRxNoPort: 1, ICMPTxUnreachable: 1})

	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	th.write(ref, "hello")
	dgram := th.out.Frames[0][wire.EthHeaderLen:]
	quote := bytes.Clone(dgram[:wire.IPv4MinLen+8])
	icmp := func(typ wire.ICMPType, code uint8) []byte {
		r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 1}
		return ipFrame(hostMAC, r, nil, wire.ICMPErrorRepr{Type: typ, Code: code, Quote: quote}.Append(nil))
	}
	th.recv(icmp(wire.ICMPTimeExceeded, 0))
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 64), &th.out); err != ErrWouldBlock {
		t.Errorf("read after time exceeded: %v, want nothing", err)
	}
	th.recv(icmp(wire.ICMPDestUnreachable, wire.ICMPPortUnreachable))
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 64), &th.out); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("read after port unreachable: %v, want ECONNREFUSED", err)
	}
	th.wantStats(map[Counter]uint64{ICMPRxError: 2, ICMPRxErrorOther: 0})
	// About a port no conversation has: not taken.
	binary.BigEndian.PutUint16(quote[wire.IPv4MinLen:], 5001)
	th.recv(icmp(wire.ICMPDestUnreachable, wire.ICMPPortUnreachable))
	th.wantStats(map[Counter]uint64{ICMPRxError: 2, ICMPRxErrorOther: 1})
}
