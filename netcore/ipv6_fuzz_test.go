package netcore

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// fuzzPeer6 is IPv6 neighbour p of 8: link-local, or in 2001:db8::/64.
func fuzzPeer6(p byte) (netip.Addr, wire.MAC) {
	p %= 8
	mac := wire.MAC{0x02, 0, 0, 0, 2, p}
	if p%2 == 0 {
		return wire.LinkLocal(mac), mac
	}
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x10 + p}), mac
}

// fuzzTemplate6 makes a realistic IPv6 frame for the fuzzer to start from.
func fuzzTemplate6(kind, p byte) []byte {
	ip, mac := fuzzPeer6(p)
	router := wire.LinkLocal(wire.MAC{0x02, 0, 0, 0, 3, 1})
	ours := []netip.Addr{hostLL, host6.Addr(), netip.MustParseAddr("2001:db8:1::ff:fe00:1")}[p%3]
	echo := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 1, Seq: uint16(p), Data: make([]byte, int(p)*53)}.Append(nil, ip, ours)
	to := func(dst netip.Addr, nh wire.IPProtocol, hop uint8, payload []byte) []byte {
		ethDst := hostMAC
		if dst.IsMulticast() {
			ethDst = wire.MulticastMAC(dst)
		}
		return frame6(ethDst, mac, ip, dst, nh, hop, payload)
	}
	switch kind % 17 {
	case 0:
		sn := wire.SolicitedNodeMulticast(ours)
		return to(sn, wire.ProtoICMPv6, 255, wire.NDPNeighborSolicit{Target: ours, SourceLLA: mac}.Append(nil, ip, sn))
	case 1:
		sn := wire.SolicitedNodeMulticast(ours)
		return frame6(wire.MulticastMAC(sn), mac, netip.IPv6Unspecified(), sn, wire.ProtoICMPv6, 255,
			wire.NDPNeighborSolicit{Target: ours, Nonce: []byte{1, 2, 3, 4, 5, p}}.Append(nil, netip.IPv6Unspecified(), sn))
	case 2:
		return to(hostLL, wire.ProtoICMPv6, 255, wire.NDPNeighborAdvert{Solicited: p%2 == 0, Override: p%3 == 0, Target: ip, TargetLLA: mac}.Append(nil, ip, hostLL))
	case 3:
		return to(ours, wire.ProtoICMPv6, 64, echo)
	case 4:
		return to(wire.IPv6AllNodes, wire.ProtoICMPv6, 64, wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 2}.Append(nil, ip, wire.IPv6AllNodes))
	case 5:
		ra := wire.NDPRouterAdvert{CurHopLimit: 64, Lifetime: uint16(p) * 100, SourceLLA: wire.MAC{0x02, 0, 0, 0, 3, 1}, MTU: 1280 + uint32(p)*20,
			Prefixes: []wire.NDPPrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true, ValidLifetime: uint32(p) * 10, PreferredLifetime: uint32(p) * 5}}}
		return frame6(allMAC, ra.SourceLLA, router, wire.IPv6AllNodes, wire.ProtoICMPv6, 255, ra.Append(nil, router, wire.IPv6AllNodes))
	case 6:
		q := icmp6(router, wire.IPv6AllNodes, wire.ICMPv6MLDQuery, 0, append([]byte{0, p, 0, 0}, append(make([]byte, 16), 2, 125, 0, 0)...))
		return frame6(allMAC, mac, router, wire.IPv6AllNodes, wire.ProtoHopByHop, 1, append([]byte{58, 0, 5, 2, 0, 0, 1, 0}, q...))
	case 7:
		big := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 3, Data: make([]byte, 2000)}.Append(nil, ip, ours)
		fs := fragments6(ip, ours, uint32(p%2), big, 1448)
		f := fs[int(p/2)%len(fs)]
		copy(f[wire.EthSrcOff:], mac[:])
		return f
	case 8:
		return to(ours, wire.ProtoHopByHop, 64, append([]byte{58, 0, p, 2, 0, 0, 1, 0}, echo...))
	case 9:
		return to(ours, wire.IPProtocol(p*31), 64, []byte("upper layer"))
	case 10:
		return to(wire.IPv6AllNodes, wire.ProtoICMPv6, 255, wire.NDPNeighborAdvert{Override: true, Target: ours, TargetLLA: mac}.Append(nil, ip, wire.IPv6AllNodes))
	case 11:
		src := netip.MustParseAddr("2001:db8:9::5")
		return frame6(hostMAC, wire.MAC{0x02, 0, 0, 0, 3, 1}, src, ours, wire.ProtoICMPv6, 60,
			wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 4}.Append(nil, src, ours))
	case 14:
		return to(ours, wire.ProtoUDP, 64, wire.UDPRepr{SrcPort: 4000 + uint16(p), DstPort: 7 + uint16(p%3), Payload: echo}.Append(nil, ip, ours))
	case 15, 16: // TCP: a SYN to one of the ports, or an ACK with data
		r := wire.TCPRepr{SrcPort: 40000 + uint16(p%4), DstPort: 7 + uint16(p%3), Seq: 1000, Flags: wire.TCPFlagSYN, Window: 65535}
		var payload []byte
		if kind%17 == 16 {
			r = wire.TCPRepr{SrcPort: r.SrcPort, DstPort: r.DstPort, Seq: 1001, Ack: 1, Flags: wire.TCPFlagACK | wire.TCPFlagPSH, Window: 65535}
			payload = []byte("some data")
		}
		seg := append(r.Append(nil), payload...)
		wire.SetTCPChecksum(seg[:r.HeaderLen()], payload, ip, ours)
		return to(ours, wire.ProtoTCP, 64, seg)
	case 12:
		return to(ours, wire.ProtoRouting, 64, append(append([]byte{58, 2, p % 5, p % 2, 0, 0, 0, 0}, make([]byte, 16)...), echo...))
	default:
		quoted := frame6(mac, hostMAC, ours, ip, wire.ProtoICMPv6, 64, echo)[wire.EthHeaderLen:]
		return to(ours, wire.ProtoICMPv6, 64, icmp6(ip, ours, wire.ICMPv6PacketTooBig, 0, append([]byte{0, 0, 5, byte(p)}, quoted...)))
	}
}

var fuzzCtl6 = []string{
	"ipv6 on", "ipv6 off", "ipv6 autoconf on", "ipv6 autoconf off", "add 2001:db8::1/64", "remove 2001:db8::1/64",
	"add fe80::ff:fe00:1/64", "ea 02:00:00:00:00:02", "ea 02:00:00:00:00:01", "down", "up", "mtu 1280", "mtu 1279",
	"mtu 1500", "remove all", "add 2001:db8:1::ff:fe00:1/64", "arptimeout 1",
}

// fuzzScript6 is fuzzScript for IPv6: a host with IPv6 on, IPv6 frames,
// IPv6 commands; after each step the harness's invariants hold (the fates
// add up, every timer where its owner says, none late), and at the end
// the configuration replays.
func fuzzScript6(t *testing.T, script []byte) {
	th := newHarness(t, func(c *Config) { c.ARPCacheSize = 8; c.ARPPending = 2; c.IPv6 = true; c.Autoconf = true })
	next := func() byte {
		if len(script) == 0 {
			return 0
		}
		b := script[0]
		script = script[1:]
		return b
	}
	for steps := 0; len(script) > 0 && steps < 300; steps++ {
		var sent [][]byte
		switch op := next(); op % 6 {
		case 0:
			n := int(next())<<3 | int(next()&7)
			n = min(n, len(script))
			sent = th.recv(bytes.Clone(script[:n]))
			script = script[n:]
		case 1:
			f := fuzzTemplate6(next(), next())
			for k := next() % 4; k > 0; k-- {
				f[int(next())%len(f)] = next()
			}
			if next()%8 == 0 {
				f = f[:int(next())%len(f)]
			}
			sent = th.recv(f)
		case 2:
			sent = th.advance(time.Duration(next()) * 97 * time.Millisecond)
		case 3:
			sent, _ = th.exec("tap0/ctl", fuzzCtl6[int(next())%len(fuzzCtl6)])
		case 4:
			ip, mac := fuzzPeer6(next())
			cmd := []string{"flush", "resolve " + ip.String(), fmt.Sprintf("add %s %s", ip, mac), "del " + ip.String()}[next()%4]
			sent, _ = th.exec("tap0/arp", cmd)
		case 5:
			if d := th.h.Deadline(); !d.IsZero() {
				th.now = d
				sent = th.poll()
			}
		}
		s := th.snap()
		for _, f := range sent {
			if eth, _ := wire.ParseEthernet(f); eth.Src != s.Config.MAC {
				t.Fatalf("sent a frame from %s, we are %s", eth.Src, s.Config.MAC)
			}
			if len(f) > wire.EthHeaderLen+s.Config.MTU {
				t.Fatalf("sent %d bytes, MTU %d", len(f), s.Config.MTU)
			}
		}
		if s.Config.Down && len(sent) > 0 {
			t.Fatalf("a down host sent %d frames", len(sent))
		}
		if r := th.h.v6.frag.r; r != nil && (r.bytes() > MaxReassemblyBytes || r.held() > MaxReassembly) || len(th.h.v6.addrs) > 2+len(s.Config.Addrs6)+MaxAutoconfAddrs {
			t.Fatalf("bounds: %d addresses, reassembly %+v", len(th.h.v6.addrs), th.h.v6.frag.r)
		}
	}
	want := th.snap().Config
	cmds, err := ParseCtl("tap0/ctl", AppendConfig(nil, want))
	if err != nil {
		t.Fatalf("rendered config does not parse: %v", err)
	}
	other := newHarness(t, func(c *Config) { c.ARPCacheSize = 8; c.ARPPending = 2 })
	if err := other.h.Exec(t0, "tap0/ctl", cmds, &other.out); err != nil {
		t.Fatalf("rendered config does not apply: %v", err)
	}
	if got := other.h.Snapshot().Config; !reflect.DeepEqual(got, want) {
		t.Fatalf("replayed config %+v, want %+v", got, want)
	}
}

func FuzzHostReceive6(f *testing.F) {
	tmpl := func(kind, p byte) []byte { return []byte{1, kind, p, 0, 1} }
	tick := func(n byte) []byte { return []byte{2, n} }
	settle := script(tick(10), tick(10), tick(10), tick(10))
	for k := range byte(15) {
		f.Add(script(settle, tmpl(k, 1), tmpl(k, 2), tick(20), tmpl(k, 3), []byte{5}, []byte{5}))
	}
	f.Add(script(settle, tmpl(5, 3), tick(20), tick(20), tmpl(11, 1), tmpl(2, 0), []byte{5}, []byte{5}, []byte{5}))
	f.Add(script(settle, tmpl(0, 0), tmpl(3, 0), []byte{3, 7}, tmpl(2, 0), []byte{3, 4}, tick(30), []byte{3, 5}))
	f.Add(script(settle, tmpl(7, 0), tmpl(7, 2), tmpl(7, 1), tmpl(7, 3), []byte{5}, []byte{4, 1, 1}, []byte{5}, []byte{5}))
	f.Fuzz(fuzzScript6)
}
