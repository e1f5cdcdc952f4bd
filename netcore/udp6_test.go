package netcore

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

// udp6From is a UDP datagram over IPv6 from the peer at src.
func udp6From(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, payload []byte) []byte {
	u := wire.UDPRepr{SrcPort: sport, DstPort: dport, Payload: payload}
	return frame6(hostMAC, peerMAC, src, dst, wire.ProtoUDP, 64, u.Append(nil, src, dst))
}

// UDP conversations over IPv6: connect and announce on IPv6 addresses,
// datagrams both ways (in fragments when big), a port nobody has answered
// with a port unreachable, one that comes back refusing the conversation's.
func TestUDP6(t *testing.T) {
	th := newHarness6(t, func(c *Config) { c.Addrs6 = []netip.Prefix{host6} })
	th.settle()
	th.recv(nsFrom(peerLL, hostLL))
	th.recv(nsFrom(peer6, host6.Addr()))

	// A connected conversation: its datagrams go out, the answers come in.
	c := th.clone()
	th.mustCtl(c, "connect "+peer6.String()+"!7 5000")
	if ci := info(t, th.h, c); ci.Local.String() != "[2001:db8::1]:5000" || ci.Remote.String() != "[2001:db8::2]:7" {
		t.Errorf("addresses %v %v", ci.Local, ci.Remote)
	}
	sent, err := th.write(c, "hello")
	if err != nil || len(sent) != 1 {
		t.Fatalf("write: %d frames, %v", len(sent), err)
	}
	o := parse6(t, sent[0])
	u, err := wire.ParseUDP(o.upper, o.ip.Src, o.ip.Dst)
	if err != nil || o.nh != wire.ProtoUDP || o.ip.Src != host6.Addr() || o.ip.Dst != peer6 || u.SrcPort != 5000 || u.DstPort != 7 || string(u.Payload) != "hello" {
		t.Errorf("datagram %+v %+v %v", o.ip, u, err)
	}
	th.recv(udp6From(peer6, 7, host6.Addr(), 5000, []byte("world")))
	if got := th.read(c); got != "world" {
		t.Errorf("read %q", got)
	}
	// Big: in fragments that reassemble.
	big := strings.Repeat("x", 4000)
	if sent, err := th.write(c, big); err != nil || len(sent) != 3 {
		t.Errorf("a 4000-byte datagram: %d frames, %v", len(sent), err)
	}
	// A port nobody has: a port unreachable, once the datagram is in.
	pu := only6(t, th.recv(udp6From(peer6, 7, host6.Addr(), 9, []byte("nobody"))), wire.ICMPv6DstUnreachable)
	if len(pu) != 1 || pu[0].upper[wire.ICMPv6CodeOff] != wire.ICMPv6PortUnreachable || pu[0].ip.Dst != peer6 {
		t.Errorf("to port 9: %+v", pu)
	}
	// The peer's port unreachable for ours: the next read is refused.
	quoted := sent[0][wire.EthHeaderLen:]
	m := icmp6(peer6, host6.Addr(), wire.ICMPv6DstUnreachable, wire.ICMPv6PortUnreachable, append(make([]byte, 4), quoted[:wire.IPv6HeaderLen+13]...))
	th.recv(frame6(hostMAC, peerMAC, peer6, host6.Addr(), wire.ProtoICMPv6, 64, m))
	if _, err := th.h.ConvRead(th.now, c, make([]byte, 100), &th.out); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("read after a port unreachable: %v", err)
	}
	// Address unreachable is no fatal error to Linux: not reported, the
	// next datagram reads; prohibited is one (EACCES).
	errFrom := func(code uint8) {
		m := icmp6(peer6, host6.Addr(), wire.ICMPv6DstUnreachable, code, append(make([]byte, 4), quoted[:wire.IPv6HeaderLen+13]...))
		th.recv(frame6(hostMAC, peerMAC, peer6, host6.Addr(), wire.ProtoICMPv6, 64, m))
	}
	errFrom(wire.ICMPv6AddrUnreachable)
	th.recv(udp6From(peer6, 7, host6.Addr(), 5000, []byte("again")))
	if got := th.read(c); got != "again" {
		t.Errorf("read after an address unreachable %q", got)
	}
	errFrom(wire.ICMPv6AdminProhibited)
	if _, err := th.h.ConvRead(th.now, c, make([]byte, 100), &th.out); !errors.Is(err, syscall.EACCES) {
		t.Errorf("read after administratively prohibited: %v", err)
	}
	th.wantStats(map[Counter]uint64{UDPRx: 2, UDPRxNoPort: 1, UDPTx: 2, ICMPv6RxError: 3})

	// An announced conversation: a call per new remote, on either family.
	l := th.clone()
	th.mustCtl(l, "announce 7777")
	th.recv(udp6From(peerLL, 4000, hostLL, 7777, []byte("call")))
	call, err := th.h.ConvAccept(th.now, l, &th.out)
	if err != nil {
		t.Fatalf("no call: %v", err)
	}
	if got, ci := th.read(call), info(t, th.h, call); got != "call" || ci.Local.String() != "[fe80::ff:fe00:1]:7777" || ci.Remote.String() != "[fe80::4849:58ff:fe75:94f4]:4000" {
		t.Errorf("call: %q from %v to %v", got, ci.Remote, ci.Local)
	}
	if sent, err := th.write(call, "back"); err != nil || len(sent) != 1 || parse6(t, sent[0]).ip.Dst != peerLL {
		t.Errorf("answering the call: %v", err)
	}
	// Announced on an IPv6 address; refused on one not ours.
	a := th.clone()
	th.mustCtl(a, "announce [2001:db8::1]:8888")
	if _, err := th.ctl(th.clone(), "announce [2001:db8::99]:8888"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("announce on an address not ours: %v", err)
	}
	// Where there is no way: off the link with no router, IPv6 off.
	if _, err := th.ctl(th.clone(), "connect [2001:db8:9::9]:7"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("connect off the link: %v", err)
	}
	off := newHarness(t)
	ref, _ := off.h.ConvClone(ProtoUDP)
	if _, err := off.ctl(ref, "connect [fe80::1]:7"); !errors.Is(err, syscall.ENETUNREACH) || !strings.Contains(err.Error(), "IPv6 is off") {
		t.Errorf("connect with IPv6 off: %v", err)
	}
	// A datagram to a group goes nowhere, and is answered with nothing.
	if sent := th.recv(frame6(allMAC, peerMAC, peerLL, wire.IPv6AllNodes, wire.ProtoUDP, 64, wire.UDPRepr{SrcPort: 1, DstPort: 7777}.Append(nil, peerLL, wire.IPv6AllNodes))); len(sent) != 0 {
		t.Errorf("answered a datagram to all-nodes")
	}
}

// A resolution that fails tells the conversations connected there.
func TestUDP6Unresolved(t *testing.T) {
	th := newHarness6(t)
	c := th.clone()
	th.mustCtl(c, "connect [fe80::77]:7")
	th.write(c, "anyone?")
	for range 4 {
		th.advance(retransTimer)
	}
	if _, err := th.h.ConvRead(th.now, c, make([]byte, 10), &th.out); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("read after NDP failed: %v", err)
	}
}
