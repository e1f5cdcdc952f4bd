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

// IP protocol numbers the printers name.
const (
	ipProtoHopOpts   = uint8(wire.ProtoHopByHop)
	ipProtoIGMP      = 2
	ipProtoIPIP      = 4
	ipProtoDCCP      = 33
	ipProtoIPv6      = 41
	ipProtoRouting   = uint8(wire.ProtoRouting)
	ipProtoFragment  = uint8(wire.ProtoFragment)
	ipProtoAH        = uint8(wire.ProtoAH)
	ipProtoICMPv6    = uint8(wire.ProtoICMPv6)
	ipProtoNoNext    = uint8(wire.ProtoNoNext)
	ipProtoDstOpts   = uint8(wire.ProtoDstOpts)
	ipProtoND        = 77
	ipProtoSCTP      = 132
	ipProtoMobility  = uint8(wire.ProtoMobility)
	ipProtoMobileOld = 62
	ipProtoEthernet  = 143

	protoTCP  = uint8(wire.ProtoTCP)
	protoUDP  = uint8(wire.ProtoUDP)
	protoICMP = uint8(wire.ProtoICMP)
)

// portsInLine reports whether the transport's printer prints the addresses
// with the ports (TCP, UDP, SCTP, DCCP) rather than the IP printer alone.
func portsInLine(proto uint8) bool {
	return proto == protoTCP || proto == protoUDP || proto == ipProtoSCTP || proto == ipProtoDCCP
}

func (p *printer) ip(off, length int) {
	p.proto = "ip"
	v := p.u8(off) >> 4
	if v != 4 {
		if v == 6 {
			p.str("IP6, wrong link-layer encapsulation")
		} else {
			p.field("IP", uint64(v))
		}
		p.str(" (invalid)")
		return
	}
	if !p.ttest(off, wire.IPv4MinLen) {
		p.truncMark()
		return
	}
	if length < wire.IPv4MinLen {
		p.field("truncated-ip ", uint64(length))
		return
	}
	hlen := int(p.u8(off+wire.IPv4VerIHLOff)&0x0f) * 4
	if hlen < wire.IPv4MinLen {
		p.field("bad-hlen ", uint64(hlen))
		return
	}
	tlen := int(p.be16(off + wire.IPv4TotalLenOff))
	if length < tlen {
		p.field("truncated-ip - ", uint64(tlen-length))
		p.str(" bytes missing! ")
	}
	if tlen < hlen {
		p.field("bad-len ", uint64(tlen))
		return
	}
	old := p.pushSnap(off, tlen)
	plen := tlen - hlen
	frag := p.be16(off + wire.IPv4FlagsFragOff)
	proto := p.u8(off + wire.IPv4ProtoOff)
	if frag&wire.IPv4FragOffMask == 0 {
		if !portsInLine(proto) {
			p.ipAddrs(off)
			p.str(": ")
		}
		p.headerCut(off, hlen)
		p.ipDemux(off+hlen, plen, 4, frag&wire.IPv4FlagMF != 0, proto, off)
	} else {
		p.ipAddrs(off)
		p.field(": ip-proto-", uint64(proto))
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
	case protoTCP:
		p.tcp(off, length, iph, fragmented)
	case protoUDP:
		p.udp(off, length, iph, fragmented)
	case protoICMP:
		if ver == 4 {
			p.icmp(off, length)
		} else {
			requires("IPv4")
		}
	case ipProtoICMPv6:
		if ver == 6 {
			p.icmp6(off, length, fragmented)
		} else {
			requires("IPv6")
		}
	case ipProtoIGMP:
		if ver != 4 {
			requires("IPv4")
		}
		// igmp_print is not ours
	case ipProtoEthernet:
		if ver == 6 {
			p.ether(off, length, p.avail(off))
		} else {
			requires("IPv6")
		}
	case ipProtoIPIP:
		p.ip(off, length)
	case ipProtoIPv6:
		p.ip6(off, length)
	case ipProtoND:
		p.field(" nd ", uint64(length))
	case ipProtoNoNext:
		p.str("no next header")
	case 51, 50, 108, 132, 33, 9, 88, 8, 89, 46, 47, 55, 103, 112, 113:
		// AH, ESP, IPComp, SCTP, DCCP, IGRP, EIGRP, EGP, OSPF, RSVP, GRE,
		// Mobile, PIM, VRRP, PGM: tcpdump's printers, not ours.
	default:
		p.field(" ip-proto-", uint64(nh))
		p.field(" ", uint64(length))
	}
}
