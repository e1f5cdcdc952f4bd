package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// IPv4 (print-ip.c, print-ip-demux.c).

var ipProtoNames = map[uint8]string{
	0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP",
	17: "UDP", 33: "DCCP", 41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP",
	47: "GRE", 50: "ESP", 51: "AH", 55: "Mobile IP", 58: "ICMPv6", 62: "Mobile IP (old)",
	88: "EIGRP", 89: "OSPF", 103: "PIM", 108: "Compressed IP", 112: "VRRP", 113: "PGM",
	132: "SCTP", 135: "Mobility", 143: "Ethernet",
}

func (p *printer) ip(off, length int) {
	p.proto = "ip"
	v := p.u8(off) >> 4
	if v != 4 {
		if v == 6 {
			p.str("IP6, wrong link-layer encapsulation")
		} else {
			p.str("IP")
			p.uint(uint64(v))
		}
		p.str(" (invalid)")
		return
	}
	if !p.ttest(off, wire.IPv4MinLen) {
		p.truncMark()
		return
	}
	if length < wire.IPv4MinLen {
		p.str("truncated-ip ")
		p.uint(uint64(length))
		return
	}
	hlen := int(p.u8(off)&0x0f) * 4
	if hlen < wire.IPv4MinLen {
		p.str("bad-hlen ")
		p.uint(uint64(hlen))
		return
	}
	tlen := int(p.be16(off + 2))
	if length < tlen {
		p.str("truncated-ip - ")
		p.uint(uint64(tlen - length))
		p.str(" bytes missing! ")
	}
	if tlen < hlen {
		p.str("bad-len ")
		p.uint(uint64(tlen))
		return
	}
	old := p.pushSnap(off, tlen)
	plen := tlen - hlen
	frag := p.be16(off + 6)
	proto := p.u8(off + 9)
	if frag&0x1fff == 0 {
		if proto != uint8(wire.ProtoTCP) && proto != uint8(wire.ProtoUDP) && proto != 132 && proto != 33 {
			p.ipv4(off + 12)
			p.str(" > ")
			p.ipv4(off + 16)
			p.str(": ")
		}
		if !p.ttest(off, hlen) {
			p.str(" [remaining caplen(")
			p.uint(uint64(p.avail(off)))
			p.str(") < header length(")
			p.uint(uint64(hlen))
			p.str(")]")
			p.trunc()
		}
		p.ipDemux(off+hlen, plen, 4, frag&0x2000 != 0, proto, off)
	} else {
		p.ipv4(off + 12)
		p.str(" > ")
		p.ipv4(off + 16)
		p.str(": ip-proto-")
		p.uint(uint64(proto))
	}
	p.end = old
}

// ipDemux is ip_demux_print for IPv4 (ver 4) and IPv6 (ver 6) payloads; iph
// is the offset of the IP header.
func (p *printer) ipDemux(off, length, ver int, fragmented bool, nh uint8, iph int) {
	requires := func(v string) {
		p.str("[")
		p.str(ipProtoNames[nh])
		p.str(" requires ")
		p.str(v)
		p.str("] (invalid)")
	}
	switch nh {
	case 6:
		p.tcp(off, length, iph, fragmented)
	case 17:
		p.udp(off, length, iph, fragmented)
	case 1:
		if ver == 4 {
			p.icmp(off, length)
		} else {
			requires("IPv4")
		}
	case 58:
		if ver == 6 {
			p.icmp6(off, length, fragmented)
		} else {
			requires("IPv6")
		}
	case 2:
		if ver != 4 {
			requires("IPv4")
		}
		// igmp_print is not ours
	case 143:
		if ver == 6 {
			p.ether(off, length, p.avail(off))
		} else {
			requires("IPv6")
		}
	case 4:
		p.ip(off, length)
	case 41:
		p.ip6(off, length)
	case 77:
		p.str(" nd ")
		p.uint(uint64(length))
	case 59:
		p.str("no next header")
	case 51, 50, 108, 132, 33, 9, 88, 8, 89, 46, 47, 55, 103, 112, 113:
		// AH, ESP, IPComp, SCTP, DCCP, IGRP, EIGRP, EGP, OSPF, RSVP, GRE,
		// Mobile, PIM, VRRP, PGM: tcpdump's printers, not ours.
	default:
		p.str(" ip-proto-")
		p.uint(uint64(nh))
		p.str(" ")
		p.uint(uint64(length))
	}
}
