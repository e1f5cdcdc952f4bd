package tcpdump

import "encoding/binary"

// UDP (print-udp.c). Ports whose payload tcpdump decodes (DNS, DHCP, NTP,
// ...) get the generic summary here, which differs from tcpdump's line.

// UDP header layout (RFC 768).
const (
	udpSrcPortOff = 0
	udpDstPortOff = 2
	udpLengthOff  = 4
	udpHeaderLen  = 8
)

func (p *printer) udp(off, length, iph int, fragmented bool) {
	p.proto = "udp"
	if !p.ttest(off+udpDstPortOff, 2) {
		if p.nextHeader(iph) == protoUDP {
			p.ipAddrs(iph)
			p.str(": ")
		}
		p.truncMark()
		return
	}
	sport := p.be16(off + udpSrcPortOff)
	dport := p.be16(off + udpDstPortOff)
	p.portAddrs(iph, protoUDP, sport, dport)
	if length < udpHeaderLen {
		p.field("truncated-udp ", uint64(length))
		return
	}
	if !p.ttest(off+udpLengthOff, 2) {
		p.truncMark()
		return
	}
	ulen := int(p.be16(off + udpLengthOff))
	if ulen == 0 && length > 65535 {
		ulen = length
	}
	if ulen < udpHeaderLen {
		p.field("truncated-udplength ", uint64(ulen))
		return
	}
	ulen -= udpHeaderLen
	length -= udpHeaderLen
	if ulen < length {
		length = ulen
	}
	if off+udpHeaderLen > p.end {
		p.truncMark()
		return
	}
	if p.udpDecoded(off+udpHeaderLen, sport, dport) {
		// tcpdump hands the payload to an application printer (DNS,
		// DHCP, NTP, ...); those are not ours, so the line stops here.
		return
	}
	if ulen > length && !fragmented {
		p.field("UDP, bad length ", uint64(ulen))
		p.field(" > ", uint64(length))
	} else {
		p.field("UDP, length ", uint64(ulen))
	}
}

// udpBothPorts are the UDP ports that send a datagram to one of tcpdump's
// application printers when either port has the number. NetBIOS (137, 138)
// is not among them: Debian builds tcpdump without its SMB printers.
var udpBothPorts = map[uint16]bool{
	53: true, 5353: true, 525: true, 69: true, 67: true, 68: true, 520: true, 654: true,
	500: true, 4500: true, 7500: true, 8500: true, 161: true, 162: true, 123: true,
	88: true, 750: true, 1701: true, 2103: true, 2104: true, 521: true,
	546: true, 547: true, 5359: true, 6696: true, 6697: true, 8231: true, 496: true,
	1645: true, 1812: true, 1646: true, 1813: true, 1700: true, 3799: true, 921: true,
	646: true, 698: true, 3503: true, 701: true, 1589: true, 6343: true, 12222: true,
	5060: true, 514: true, 8472: true, 4789: true, 6081: true, 4342: true, 4790: true,
	17754: true, 6635: true, 319: true, 320: true, 30490: true,
}

// udpDecoded reports whether tcpdump decodes the payload at off of a
// datagram between these ports (udp_print's chain of port tests).
func (p *printer) udpDecoded(off int, sport, dport uint16) bool {
	if p.ttest(off+4, 4) {
		dir := binary.BigEndian.Uint32(p.pkt[off+4:])
		if dport == 2049 && dir == 0 || sport == 2049 && dir == 1 {
			return true // NFS over Sun RPC
		}
	}
	switch {
	case udpBothPorts[sport] || udpBothPorts[dport]:
		return true
	case dport == 3456 || dport == 4567 || dport == 1985 || dport == 12223 || sport == 12223:
		return true // VAT, whiteboard, HSRP, LWAPP control
	case dport == 3784 || dport == 4784 || dport == 6784 || dport == 3785:
		return true // BFD
	case sport == 49152:
		return true // Broadcom LI
	case sport >= 7000 && sport <= 7009 || dport >= 7000 && dport <= 7009:
		return true // AFS Rx
	}
	atalk := func(port uint16) bool {
		return port-16512 < 128 || port-200 < 128 || port-768 < 128
	}
	return p.ttest(off, 1) && p.pkt[off] == 2 && (atalk(sport) || atalk(dport)) // DDP in UDP
}
