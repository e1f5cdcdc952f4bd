package wiretest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// HandBuilt is the frames made with the encoders, one or more per kind of
// line the tcpdump renderer knows.
func HandBuilt() []Case {
	var cs []Case
	add := func(name string, frame []byte) { cs = append(cs, Case{Name: name, Frame: frame}) }
	addW := func(name string, frame []byte, wire int) {
		cs = append(cs, Case{Name: name, Frame: frame, WireLen: wire})
	}
	ip4 := func(proto wire.IPProtocol, payload []byte) []byte {
		return Eth(MACB, MACA, wire.EtherTypeIPv4, IPv4(IPA, IPB, proto, payload))
	}
	ip6 := func(src, dst netip.Addr, nh uint8, payload []byte) []byte {
		return Eth(wire.MAC{0x33, 0x33, 0, 0, 0, 1}, MACA, wire.EtherTypeIPv6, IPv6(src, dst, nh, 255, payload))
	}
	zero := wire.MAC{}

	// ARP.
	req := Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, ARP(wire.ARPRequest, MACA, IPA, zero, IPB))
	add("arp request", req)
	add("arp request padded", Pad(req))
	add("arp request target mac", Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, ARP(wire.ARPRequest, MACA, IPA, MACB, IPB)))
	add("arp reply", Eth(MACA, MACB, wire.EtherTypeARP, ARP(wire.ARPReply, MACB, IPB, MACA, IPA)))
	add("arp reply padded", Pad(Eth(MACA, MACB, wire.EtherTypeARP, ARP(wire.ARPReply, MACB, IPB, MACA, IPA))))
	add("arp gratuitous request", Pad(Eth(wire.BroadcastMAC, MACB, wire.EtherTypeARP, ARP(wire.ARPRequest, MACB, IPB, zero, IPB))))
	add("arp gratuitous reply", Pad(Eth(wire.BroadcastMAC, MACB, wire.EtherTypeARP, ARP(wire.ARPReply, MACB, IPB, wire.BroadcastMAC, IPB))))
	add("arp probe", Pad(Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, ARP(wire.ARPRequest, MACA, netip.IPv4Unspecified(), zero, IPA))))
	for _, op := range []wire.ARPOp{3, 4, 8, 9} {
		add(fmt.Sprintf("arp op %d", op), Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, ARP(op, MACA, IPA, MACB, IPB)))
	}
	add("rarp request", Eth(wire.BroadcastMAC, MACA, 0x8035, ARP(3, MACA, netip.IPv4Unspecified(), MACA, netip.IPv4Unspecified())))
	add("arp unknown op", Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, ARP(7, MACA, IPA, MACB, IPB)))
	nonIP := ARP(wire.ARPRequest, MACA, IPA, zero, IPB)
	binary.BigEndian.PutUint16(nonIP[2:], 0x86dd)
	add("arp non-ipv4 protocol", Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, nonIP))
	weird := []byte{0, 6, 0x08, 0x00, 4, 4, 0, 1, 1, 2, 3, 4, 10, 0, 0, 1, 0, 0, 0, 0, 10, 0, 0, 2}
	add("arp token ring 4-byte hw", Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, weird))
	hw0 := []byte{0, 1, 0x08, 0x00, 0, 4, 0, 1, 10, 0, 0, 1, 10, 0, 0, 2}
	add("arp zero hw len", Eth(wire.BroadcastMAC, MACA, wire.EtherTypeARP, hw0))
	add("arp truncated 26", req[:14+26])
	add("arp truncated 7", req[:14+7])
	addW("arp snaplen cut", req[:30], 42)
	add("arp truncated header only", req[:14])

	// Ethernet itself.
	add("ethernet 13 bytes", req[:13])
	add("ethernet 1 byte", req[:1])
	add("unknown ethertype", Pad(Eth(MACB, MACA, 0x88b5, []byte("hello"))))
	add("unknown ethertype no payload", Eth(MACB, MACA, 0x88b5, nil))
	add("8023 unknown sap", Pad(Eth(MACB, MACA, 10, []byte{0x12, 0x34, 0x03, 1, 2, 3, 4})))
	add("8023 llc test", Pad(Eth(wire.BroadcastMAC, MACA, 3, []byte{0x00, 0x01, 0xf3})))
	add("8023 llc xid", Pad(Eth(wire.BroadcastMAC, MACA, 6, []byte{0x00, 0x01, 0xaf, 0x81, 0x01, 0x00})))
	add("8023 llc info", Pad(Eth(MACB, MACA, 8, []byte{0x04, 0x04, 0x02, 0x05, 1, 2, 3, 4})))
	add("8023 llc supervisory", Pad(Eth(MACB, MACA, 4, []byte{0x04, 0x05, 0x05, 0x07})))
	add("8023 llc truncated", Eth(MACB, MACA, 2, []byte{0x04}))
	add("8023 snap ip", Eth(MACB, MACA, wire.EtherType(8+28+8), Cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, IPv4(IPA, IPB, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 1, 2, 0)))))
	add("8023 snap arp", Pad(Eth(wire.BroadcastMAC, MACA, wire.EtherType(8+28), Cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06}, ARP(wire.ARPRequest, MACA, IPA, zero, IPB)))))
	add("8023 snap unknown oui", Pad(Eth(MACB, MACA, 20, []byte{0xaa, 0xaa, 0x03, 0x12, 0x34, 0x56, 0x00, 0x01, 9, 9})))
	add("8023 ip sap", Eth(MACB, MACA, wire.EtherType(3+28), Cat([]byte{0x06, 0x06, 0x03}, IPv4(IPA, IPB, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoReply, 1, 2, 0)))))

	vlan := func(tci uint16, inner wire.EtherType, payload []byte) []byte {
		return Eth(MACB, MACA, wire.EtherTypeVLAN, Cat(BE16(tci), BE16(uint16(inner)), payload))
	}
	add("vlan arp", vlan(0x0064, wire.EtherTypeARP, ARP(wire.ARPRequest, MACA, IPA, zero, IPB)))
	add("vlan prio dei icmp", vlan(0xb00a, wire.EtherTypeIPv4, IPv4(IPA, IPB, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 17, 1, 56))))
	add("qinq", Eth(MACB, MACA, 0x88a8, Cat(BE16(5), BE16(0x8100), BE16(6), BE16(0x0800), IPv4(IPA, IPB, wire.ProtoUDP, UDP(40000, 7, []byte("ping"))))))
	add("vlan truncated", vlan(5, wire.EtherTypeARP, nil)[:16])
	add("vlan 8023", vlan(7, 8, []byte{0x12, 0x12, 0x03, 0, 0, 0, 0, 0}))

	// IPv4 and ICMP.
	add("icmp echo request", ip4(wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 17, 1, 56)))
	add("icmp echo reply", ip4(wire.ProtoICMP, ICMPEcho(wire.ICMPEchoReply, 17, 1, 56)))
	add("icmp echo empty padded", Pad(ip4(wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 65535, 65535, 0))))
	echo := ip4(wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 17, 1, 56))
	add("icmp echo truncated icmp", echo[:14+20+6])
	add("icmp echo truncated ip", echo[:14+12])
	add("icmp echo ip header only", echo[:14+20])
	addW("icmp echo snaplen 64", echo[:64], len(echo))
	add("ip short of total length", echo[:len(echo)-10])
	badSum := WithIPv4(IPv4(IPA, IPB, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 1, 1, 8)), func(h []byte) { h[10] ^= 0xff }, true)
	add("ip bad header checksum", Eth(MACB, MACA, wire.EtherTypeIPv4, badSum))
	badICMP := ICMPEcho(wire.ICMPEchoRequest, 1, 1, 8)
	badICMP[2] ^= 0xff
	add("icmp bad checksum", ip4(wire.ProtoICMP, badICMP))
	inner := IPv4(IPB, IPA, wire.ProtoUDP, UDP(40000, 33434, make([]byte, 12)))
	quote := inner[:28]
	add("icmp port unreachable", ip4(wire.ProtoICMP, ICMP(3, 3, [4]byte{}, quote)))
	add("icmp port unreachable tcp", ip4(wire.ProtoICMP, ICMP(3, 3, [4]byte{}, IPv4(IPB, IPA, wire.ProtoTCP, TCP(1, 80, 1, 0, 2, 100, nil, nil))[:28])))
	add("icmp port unreachable other proto", ip4(wire.ProtoICMP, ICMP(3, 3, [4]byte{}, IPv4(IPB, IPA, 132, make([]byte, 8))[:28])))
	for code := uint8(0); code <= 16; code++ {
		if code == 3 {
			continue
		}
		add(fmt.Sprintf("icmp unreachable code %d", code), ip4(wire.ProtoICMP, ICMP(3, code, [4]byte{0, 0, 0x05, 0xdc}, quote)))
	}
	add("icmp need frag no mtu", ip4(wire.ProtoICMP, ICMP(3, 4, [4]byte{}, quote)))
	add("icmp unreachable truncated quote", ip4(wire.ProtoICMP, ICMP(3, 1, [4]byte{}, quote[:10])))
	for code := uint8(0); code <= 4; code++ {
		add(fmt.Sprintf("icmp redirect code %d", code), ip4(wire.ProtoICMP, ICMP(5, code, [4]byte{192, 168, 69, 254}, quote)))
	}
	add("icmp time exceeded", ip4(wire.ProtoICMP, ICMP(11, 0, [4]byte{}, quote)))
	add("icmp reassembly time exceeded", ip4(wire.ProtoICMP, ICMP(11, 1, [4]byte{}, quote)))
	add("icmp time exceeded code 5", ip4(wire.ProtoICMP, ICMP(11, 5, [4]byte{}, quote)))
	add("icmp time exceeded truncated", ip4(wire.ProtoICMP, ICMP(11, 0, [4]byte{}, quote[:8])))
	add("icmp parameter problem", ip4(wire.ProtoICMP, ICMP(12, 0, [4]byte{20}, quote)))
	add("icmp parameter problem code 1", ip4(wire.ProtoICMP, ICMP(12, 1, [4]byte{}, quote)))
	add("icmp source quench", ip4(wire.ProtoICMP, ICMP(4, 0, [4]byte{}, quote)))
	add("icmp router advertisement", ip4(wire.ProtoICMP, ICMP(9, 0, [4]byte{2, 2, 0x07, 0x08}, Cat(IPB.AsSlice(), BE32(0), []byte{192, 168, 69, 2}, BE32(0xffffffff)))))
	add("icmp router advertisement short lifetime", ip4(wire.ProtoICMP, ICMP(9, 0, [4]byte{0, 2, 0, 30}, nil)))
	add("icmp router advertisement minutes", ip4(wire.ProtoICMP, ICMP(9, 0, [4]byte{1, 3, 0x0e, 0x0f}, Cat(IPB.AsSlice(), BE32(1)))))
	add("icmp router solicitation", ip4(wire.ProtoICMP, ICMP(10, 0, [4]byte{}, nil)))
	add("icmp timestamp request", ip4(wire.ProtoICMP, ICMP(13, 0, [4]byte{0, 7, 0, 9}, make([]byte, 12))))
	add("icmp timestamp reply", ip4(wire.ProtoICMP, ICMP(14, 0, [4]byte{0, 7, 0, 9}, Cat(BE32(45296789), BE32(45296790), BE32(86399999)))))
	add("icmp information request", ip4(wire.ProtoICMP, ICMP(15, 0, [4]byte{0, 1, 0, 2}, nil)))
	add("icmp information reply", ip4(wire.ProtoICMP, ICMP(16, 0, [4]byte{0, 1, 0, 2}, nil)))
	add("icmp mask request", ip4(wire.ProtoICMP, ICMP(17, 0, [4]byte{0, 1, 0, 2}, BE32(0))))
	add("icmp mask reply", ip4(wire.ProtoICMP, ICMP(18, 0, [4]byte{0, 1, 0, 2}, BE32(0xffffff00))))
	add("icmp unknown type", ip4(wire.ProtoICMP, ICMP(42, 0, [4]byte{}, nil)))
	add("icmp empty", Pad(ip4(wire.ProtoICMP, nil)))

	add("ip other protocol", Pad(ip4(99, []byte{1, 2, 3, 4})))
	add("ip protocol 253 empty", Pad(ip4(253, nil)))
	add("ip nd", Pad(ip4(77, []byte{1, 2})))
	add("ip no next header", Pad(ip4(59, nil)))
	add("ip icmpv6 over ipv4", Pad(ip4(58, []byte{128, 0, 0, 0})))
	add("ip ethernet over ipv4", Pad(ip4(143, nil)))
	add("ipip", ip4(4, IPv4(IPB, IPA, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoReply, 5, 6, 4))))
	add("ip version 5", Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(IPv4(IPA, IPB, 99, nil), func(h []byte) { h[0] = 0x55 }, false)))
	add("ip version 6 in ipv4 type", Eth(MACB, MACA, wire.EtherTypeIPv4, IPv6(IP6A, IP6B, 59, 1, nil)))
	add("ip bad hlen", Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(IPv4(IPA, IPB, 99, nil), func(h []byte) { h[0] = 0x44 }, false)))
	add("ip bad total length", Pad(Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(IPv4(IPA, IPB, 99, nil), func(h []byte) { h[3] = 10 }, false))))
	add("ip total length zero", Pad(Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(IPv4(IPA, IPB, 99, nil), func(h []byte) { h[2], h[3] = 0, 0 }, false))))
	add("ip truncated-ip", Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(IPv4(IPA, IPB, 99, make([]byte, 30)), func(h []byte) {}, false))[:14+40])
	opts := WithIPv4(IPv4(IPA, IPB, wire.ProtoICMP, nil), func(h []byte) {}, false)
	optPkt := Cat([]byte{0x46}, opts[1:20], []byte{0x94, 0x04, 0, 0}, ICMPEcho(wire.ICMPEchoRequest, 3, 4, 8))
	binary.BigEndian.PutUint16(optPkt[2:], uint16(len(optPkt)))
	add("ip with router alert option", Eth(MACB, MACA, wire.EtherTypeIPv4, WithIPv4(optPkt, func(h []byte) {}, false)))
	add("ip options cut", Eth(MACB, MACA, wire.EtherTypeIPv4, optPkt)[:14+22])
	frag0 := WithIPv4(IPv4(IPA, IPB, wire.ProtoUDP, UDP(40000, 9, make([]byte, 32))), func(h []byte) { h[6] = 0x20 }, false)
	add("ip first fragment udp", Eth(MACB, MACA, wire.EtherTypeIPv4, frag0))
	fragN := WithIPv4(IPv4(IPA, IPB, wire.ProtoUDP, make([]byte, 24)), func(h []byte) { h[6], h[7] = 0x00, 0xb9 }, false)
	add("ip last fragment", Eth(MACB, MACA, wire.EtherTypeIPv4, fragN))
	fragM := WithIPv4(IPv4(IPA, IPB, wire.ProtoICMP, make([]byte, 24)), func(h []byte) { h[6], h[7] = 0x20, 0x03 }, false)
	add("ip middle fragment icmp", Eth(MACB, MACA, wire.EtherTypeIPv4, fragM))
	fragICMP := WithIPv4(IPv4(IPA, IPB, wire.ProtoICMP, ICMPEcho(wire.ICMPEchoRequest, 9, 9, 40)), func(h []byte) { h[6] = 0x20 }, false)
	add("ip first fragment icmp", Eth(MACB, MACA, wire.EtherTypeIPv4, fragICMP))

	// UDP.
	add("udp", Pad(ip4(wire.ProtoUDP, UDP(40000, 7, []byte("ping")))))
	add("udp empty", Pad(ip4(wire.ProtoUDP, UDP(1, 2, nil))))
	add("udp high ports", ip4(wire.ProtoUDP, UDP(65535, 33434, make([]byte, 100))))
	udpBad := UDP(40000, 7, []byte("ping"))
	binary.BigEndian.PutUint16(udpBad[4:], 200)
	add("udp bad length", Pad(ip4(wire.ProtoUDP, udpBad)))
	udpShort := UDP(40000, 7, []byte("ping"))
	binary.BigEndian.PutUint16(udpShort[4:], 4)
	add("udp length below header", Pad(ip4(wire.ProtoUDP, udpShort)))
	udpLess := UDP(40000, 7, []byte("pingpong"))
	binary.BigEndian.PutUint16(udpLess[4:], 10)
	add("udp length shorter than ip", Pad(ip4(wire.ProtoUDP, udpLess)))
	add("udp truncated-udp", Pad(ip4(wire.ProtoUDP, []byte{0x9c, 0x40, 0, 7, 0})))
	udpFull := ip4(wire.ProtoUDP, UDP(40000, 7, []byte("ping")))
	add("udp cut in ports", udpFull[:14+20+3])
	add("udp cut in length", udpFull[:14+20+5])
	add("udp cut after header", udpFull[:14+20+8])
	add("udp cut before", udpFull[:14+20])

	// TCP.
	synOpts := Cat([]byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10}, BE32(123456), BE32(0), []byte{1, 3, 3, 7})
	add("tcp syn", ip4(wire.ProtoTCP, TCP(40000, 80, 1000000, 0, 0x02, 64240, synOpts, nil)))
	add("tcp syn-ack", ip4(wire.ProtoTCP, TCP(7, 40001, 5000, 1000001, 0x12, 65160, synOpts, nil)))
	add("tcp ack", Pad(ip4(wire.ProtoTCP, TCP(40002, 7, 1000001, 5001, 0x10, 502, nil, nil))))
	add("tcp psh-ack data", ip4(wire.ProtoTCP, TCP(40003, 7, 1000001, 5001, 0x18, 502, Cat([]byte{1, 1, 8, 10}, BE32(1), BE32(2)), []byte("hello world\n"))))
	add("tcp fin", Pad(ip4(wire.ProtoTCP, TCP(40004, 7, 42, 43, 0x11, 502, nil, nil))))
	add("tcp rst", Pad(ip4(wire.ProtoTCP, TCP(40005, 7, 42, 0, 0x04, 0, nil, nil))))
	add("tcp rst-ack", Pad(ip4(wire.ProtoTCP, TCP(7, 40006, 0, 43, 0x14, 0, nil, nil))))
	add("tcp no flags", Pad(ip4(wire.ProtoTCP, TCP(40007, 7, 1, 2, 0, 0, nil, nil))))
	add("tcp all flags", Pad(ip4(wire.ProtoTCP, TCP(40008, 7, 1, 2, 0xff, 9, nil, []byte("x")))))
	add("tcp ece cwr syn", ip4(wire.ProtoTCP, TCP(40009, 7, 1, 0, 0xc2, 9, synOpts, nil)))
	add("tcp sack", ip4(wire.ProtoTCP, TCP(40010, 7, 100, 200, 0x10, 9, Cat([]byte{1, 1, 5, 18}, BE32(300), BE32(400), BE32(500), BE32(600)), nil)))
	add("tcp options misc", ip4(wire.ProtoTCP, TCP(40011, 7, 100, 200, 0x10, 9, Cat([]byte{28, 4, 0x01, 0x2d, 20, 4, 0xab, 3, 99, 4, 0xde, 0xad, 0}), nil)))
	add("tcp bad option length", ip4(wire.ProtoTCP, TCP(40012, 7, 100, 200, 0x10, 9, []byte{2, 9, 0, 0}, nil)))
	add("tcp bad mss length", ip4(wire.ProtoTCP, TCP(40013, 7, 100, 200, 0x10, 9, []byte{2, 3, 0, 0}, nil)))
	add("tcp eol then junk", ip4(wire.ProtoTCP, TCP(40014, 7, 100, 200, 0x10, 9, []byte{1, 0, 7, 7}, nil)))
	add("tcp md5", ip4(wire.ProtoTCP, TCP(40015, 7, 100, 200, 0x10, 9, Cat([]byte{19, 18}, bytes.Repeat([]byte{0xab}, 16), []byte{1, 1}), nil)))
	add("tcp tcp-ao", ip4(wire.ProtoTCP, TCP(40016, 7, 100, 200, 0x10, 9, []byte{29, 8, 1, 2, 0xaa, 0xbb, 0xcc, 0xdd}, nil)))
	add("tcp urgent", ip4(wire.ProtoTCP, TCP(40017, 7, 100, 200, 0x30, 9, nil, []byte("!!"))))
	add("tcp hlen too short", Pad(ip4(wire.ProtoTCP, WithIPv4(TCP(40018, 7, 1, 2, 0x10, 9, nil, nil), func(h []byte) { h[12] = 0x30 }, true))))
	add("tcp hlen too long", ip4(wire.ProtoTCP, WithIPv4(TCP(40019, 7, 1, 2, 0x10, 9, nil, nil), func(h []byte) { h[12] = 0xf0 }, true)))
	synFull := ip4(wire.ProtoTCP, TCP(40020, 80, 1000000, 0, 0x02, 64240, synOpts, nil))
	add("tcp cut in ports", synFull[:14+20+2])
	add("tcp cut in header", synFull[:14+20+16])
	add("tcp cut in options", synFull[:14+20+20+9])
	add("tcp cut at options", synFull[:14+20+20])
	dataFull := ip4(wire.ProtoTCP, TCP(40021, 7, 5, 6, 0x18, 9, nil, make([]byte, 100)))
	add("tcp snaplen cut data", dataFull[:80])

	// IPv6 and ICMPv6.
	allRouters := netip.MustParseAddr("ff02::2")
	add("ipv6 router solicitation", ip6(IP6A, allRouters, 58, ICMPv6(133, 0, Cat(BE32(0), []byte{1, 1}, MACA[:]))))
	add("ipv6 router solicitation unspecified", ip6(netip.IPv6Unspecified(), allRouters, 58, ICMPv6(133, 0, BE32(0))))
	add("ipv6 router advertisement", ip6(IP6B, netip.MustParseAddr("ff02::1"), 58, ICMPv6(134, 0, Cat([]byte{64, 0}, BE16(1800), BE32(0), BE32(0)))))
	solicited := netip.MustParseAddr("ff02::1:ff75:94f4")
	add("ipv6 neighbor solicitation dad", ip6(netip.IPv6Unspecified(), solicited, 58, ICMPv6(135, 0, Cat(BE32(0), Addr16("fe80::4849:58ff:fe75:94f4")))))
	add("ipv6 neighbor solicitation", ip6(IP6B, solicited, 58, ICMPv6(135, 0, Cat(BE32(0), Addr16("2001:db8::4849:58ff:fe75:94f4"), []byte{1, 1}, MACB[:]))))
	add("ipv6 neighbor advertisement", ip6(IP6A, IP6B, 58, ICMPv6(136, 0, Cat(BE32(0x60000000), Addr16("fe80::4849:58ff:fe75:94f4"), []byte{2, 1}, MACA[:]))))
	add("ipv6 redirect", ip6(IP6B, IP6A, 58, ICMPv6(137, 0, Cat(BE32(0), Addr16("fe80::2"), Addr16("2001:db8::1")))))
	add("ipv6 echo request", ip6(IP6A, IP6B, 58, ICMPv6(128, 0, Cat(BE16(7), BE16(1), make([]byte, 56)))))
	add("ipv6 echo reply", ip6(IP6B, IP6A, 58, ICMPv6(129, 0, Cat(BE16(7), BE16(1), make([]byte, 56)))))
	add("ipv6 echo cut", ip6(IP6A, IP6B, 58, ICMPv6(128, 0, Cat(BE16(7), BE16(1), make([]byte, 56))))[:14+40+6])
	quote6 := IPv6(IP6A, netip.MustParseAddr("2001:db8::7"), 17, 64, UDP(5000, 33434, make([]byte, 8)))
	add("ipv6 port unreachable", ip6(IP6B, IP6A, 58, ICMPv6(1, 4, Cat(BE32(0), quote6))))
	add("ipv6 no route", ip6(IP6B, IP6A, 58, ICMPv6(1, 0, Cat(BE32(0), quote6))))
	add("ipv6 admin prohibited", ip6(IP6B, IP6A, 58, ICMPv6(1, 1, Cat(BE32(0), quote6))))
	add("ipv6 beyond scope", ip6(IP6B, IP6A, 58, ICMPv6(1, 2, Cat(BE32(0), quote6))))
	add("ipv6 address unreachable", ip6(IP6B, IP6A, 58, ICMPv6(1, 3, Cat(BE32(0), quote6))))
	add("ipv6 packet too big", ip6(IP6B, IP6A, 58, ICMPv6(2, 0, Cat(BE32(1280), quote6))))
	add("ipv6 time exceeded", ip6(IP6B, IP6A, 58, ICMPv6(3, 0, Cat(BE32(0), quote6))))
	add("ipv6 reassembly time exceeded", ip6(IP6B, IP6A, 58, ICMPv6(3, 1, Cat(BE32(0), quote6))))
	add("ipv6 parameter problem", ip6(IP6B, IP6A, 58, ICMPv6(4, 1, Cat(BE32(40), quote6))))
	mldv2 := Cat(BE16(0), BE16(2),
		[]byte{4, 0}, BE16(0), Addr16("ff02::1:ff75:94f4"),
		[]byte{4, 0}, BE16(0), Addr16("ff02::fb"))
	hbh := []byte{58, 0, 5, 2, 0, 0, 1, 0} // router alert, PadN
	add("ipv6 mldv2 report", Eth(wire.MAC{0x33, 0x33, 0, 0, 0, 0x16}, MACA, wire.EtherTypeIPv6, IPv6(IP6A, netip.MustParseAddr("ff02::16"), 0, 1, Cat(hbh, ICMPv6(143, 0, mldv2)))))
	add("ipv6 mldv1 report", Eth(wire.MAC{0x33, 0x33, 0, 0, 0, 0xfb}, MACA, wire.EtherTypeIPv6, IPv6(IP6A, netip.MustParseAddr("ff02::fb"), 0, 1, Cat(hbh, ICMPv6(131, 0, Cat(BE16(0), BE16(0), Addr16("ff02::fb")))))))
	add("ipv6 mld query v2", ip6(IP6B, netip.MustParseAddr("ff02::1"), 58, ICMPv6(130, 0, Cat(BE16(1000), BE16(0), Addr16("::"), []byte{2, 125}, BE16(0)))))
	add("ipv6 mld done", ip6(IP6A, allRouters, 58, ICMPv6(132, 0, Cat(BE16(0), BE16(0), Addr16("ff02::fb")))))
	add("ipv6 icmp6 unknown type", ip6(IP6A, IP6B, 58, ICMPv6(99, 0, []byte{1, 2, 3, 4})))
	add("ipv6 udp", ip6(IP6A, IP6B, 17, UDP(40000, 7, []byte("ping"))))
	add("ipv6 tcp syn", ip6(IP6A, IP6B, 6, TCP(40000, 22, 77, 0, 0x02, 64800, synOpts, nil)))
	add("ipv6 no next header", ip6(IP6A, IP6B, 59, nil))
	add("ipv6 other protocol", ip6(IP6A, IP6B, 99, []byte{1, 2, 3}))
	add("ipv6 icmp over ipv6", ip6(IP6A, IP6B, 1, ICMPEcho(wire.ICMPEchoRequest, 1, 1, 0)))
	add("ipv6 dstopt udp", ip6(IP6A, IP6B, 60, Cat([]byte{17, 0, 1, 4, 0, 0, 0, 0}, UDP(1, 2, nil))))
	add("ipv6 fragment first", ip6(IP6A, IP6B, 44, Cat([]byte{17, 0, 0x00, 0x01}, BE32(0xabcd), UDP(1, 2, make([]byte, 16)))))
	add("ipv6 fragment later", ip6(IP6A, IP6B, 44, Cat([]byte{17, 0, 0x00, 0xb8}, BE32(0xabcd), make([]byte, 16))))
	add("ipv6 mapped and compat addresses", ip6(netip.MustParseAddr("::ffff:10.1.2.3"), netip.MustParseAddr("::10.1.2.3"), 59, nil))
	add("ipv6 long zero runs", ip6(netip.MustParseAddr("2001:db8:0:0:1:0:0:1"), netip.MustParseAddr("1:0:0:2::"), 59, nil))
	add("ipv6 truncated header", ip6(IP6A, IP6B, 59, nil)[:14+30])
	add("ipv6 short of payload length", ip6(IP6A, IP6B, 17, UDP(1, 2, make([]byte, 20)))[:14+40+10])
	add("ipv6 version error", Eth(MACB, MACA, wire.EtherTypeIPv6, WithIPv4(IPv6(IP6A, IP6B, 59, 1, nil), func(h []byte) { h[0] = 0x40 }, true)))
	add("ipv6 hbh cut", Eth(MACB, MACA, wire.EtherTypeIPv6, IPv6(IP6A, IP6B, 0, 1, hbh))[:14+44])
	add("ipv6 hbh bad router alert", Eth(MACB, MACA, wire.EtherTypeIPv6, IPv6(IP6A, IP6B, 0, 1, []byte{59, 0, 5, 3, 0, 0, 0, 0})))
	add("ipv6 hbh twice", Eth(MACB, MACA, wire.EtherTypeIPv6, IPv6(IP6A, IP6B, 0, 1, Cat(hbh[:1], []byte{0}, hbh[2:], []byte{59, 0, 1, 4, 0, 0, 0, 0}))))
	rt := func(typ, segleft uint8, word uint32, addrs ...string) []byte {
		b := Cat([]byte{58, uint8(2 * len(addrs)), typ, segleft}, BE32(word))
		for _, a := range addrs {
			b = append(b, Addr16(a)...)
		}
		return b
	}
	echo6 := ICMPv6(128, 0, Cat(BE16(7), BE16(1)))
	add("ipv6 routing type 0", ip6(IP6A, IP6B, 43, Cat(rt(0, 1, 0, "2001:db8::1"), echo6)))
	add("ipv6 routing type 0 two hops reserved", ip6(IP6A, IP6B, 43, Cat(rt(0, 2, 0xabc, "2001:db8::1", "2001:db8::2"), echo6)))
	add("ipv6 routing type 2", ip6(IP6A, IP6B, 43, Cat(rt(2, 1, 0, "2001:db8::99"), echo6)))
	add("ipv6 routing srh", ip6(IP6A, IP6B, 43, Cat(rt(4, 1, 0x01001234, "2001:db8::1", "2001:db8::2"), echo6)))
	add("ipv6 routing srh flags", ip6(IP6A, IP6B, 43, Cat(rt(4, 0, 0x00800000, "2001:db8::1"), echo6)))
	add("ipv6 routing unknown type", ip6(IP6A, IP6B, 43, Cat(rt(3, 1, 0, "2001:db8::1"), echo6)))
	add("ipv6 routing odd length", ip6(IP6A, IP6B, 43, Cat([]byte{58, 1, 0, 1}, BE32(0), make([]byte, 8), echo6)))
	add("ipv6 routing cut in an address", ip6(IP6A, IP6B, 43, Cat(rt(0, 2, 0, "2001:db8::1", "2001:db8::2"), echo6))[:14+40+8+16+6])
	add("ipv6 routing cut before its type", ip6(IP6A, IP6B, 43, rt(0, 1, 0, "2001:db8::1"))[:14+40+2])
	add("ipv6 routing then fragment", ip6(IP6A, IP6B, 43, Cat([]byte{44, 0, 0, 0}, BE32(0), []byte{58, 0, 0, 1}, BE32(9), echo6)))

	// Time stamps.
	last := cs[0]
	cs = append(cs,
		Case{Name: "time zero", Frame: last.Frame, Time: time.Unix(0, 0)},
		Case{Name: "time 2038", Frame: last.Frame, Time: time.Unix(1<<31-1, 999999999)},
		Case{Name: "time past 2038", Frame: last.Frame, Time: time.Unix(1<<31, 5000)},
		Case{Name: "time sub-microsecond", Frame: last.Frame, Time: time.Unix(1764000000, 999)},
	)
	return cs
}
