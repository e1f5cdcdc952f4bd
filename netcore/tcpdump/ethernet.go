package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// Ethernet (print-ether.c).

const (
	etherTypeTrail  = 0x1000
	etherTypeRevARP = 0x8035
	etherTypeQ9100  = 0x9100
	etherTypeQ9200  = 0x9200
	etherTypeQinQ   = 0x88a8
	etherTypeJumbo  = 0x8870
	maxEtherLength  = 1500
)

var etherTypeNames = map[uint16]string{
	0x0800: "IPv4", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x86dd: "IPv6",
	0x8100: "802.1Q", 0x9100: "802.1Q-9100", 0x88a8: "802.1Q-QinQ", 0x9200: "802.1Q-9200",
	0x88e5: "802.1AE MACsec", 0x0200: "PUP", 0x0806: "ARP", 0x8035: "Reverse ARP",
	0x0600: "NS", 0x0500: "Sprite", 0x1000: "Trail", 0x6001: "MOP DL", 0x6002: "MOP RC",
	0x6003: "DN", 0x6004: "LAT", 0x6007: "SCA", 0x6558: "TEB", 0x8038: "Lanbridge",
	0x803c: "DEC DNS", 0x803e: "DEC DTS", 0x805b: "VEXP", 0x805c: "VPROD",
	0x809b: "Appletalk", 0x80f3: "Appletalk ARP", 0x8137: "IPX", 0x880b: "PPP",
	0x8808: "MPCP", 0x8809: "Slow Protocols", 0x8863: "PPPoE D", 0x8864: "PPPoE S",
	0x888e: "EAPOL", 0x8899: "Realtek protocols", 0x886f: "MS NLB heartbeat",
	0x8870: "Jumbo", 0x894f: "NSH", 0x9000: "Loopback", 0xfefe: "OSI", 0x00fe: "GRE-OSI",
	0xabcd: "CFM (old)", 0x8902: "CFM", 0x893a: "IEEE1905.1", 0x88cc: "LLDP",
	0x88ca: "TIPC", 0x0707: "GeoNet (old)", 0x8947: "GeoNet", 0x1111: "CALM FAST",
	0x88a2: "AoE", 0x88f7: "PTP", 0xd28b: "Arista Vendor Specific Protocol",
}

func (p *printer) etherTypeField(t uint16) {
	p.str("ethertype ")
	p.str(nameOr(etherTypeNames, t, "Unknown"))
	p.hexParen(uint64(t), 4)
}

func (p *printer) ether(off, length, caplen int) {
	p.proto = "ether"
	if caplen < wire.EthHeaderLen {
		p.truncMark()
		return
	}
	origLength := length
	p.mac(off + wire.EthSrcOff)
	p.str(" > ")
	p.mac(off + wire.EthDstOff)
	p.str(", ")
	lengthType := p.be16(off + wire.EthTypeOff)
	length -= wire.EthHeaderLen
	caplen -= wire.EthHeaderLen
	off += wire.EthHeaderLen
	// typeField prints an ethertype and, after the first, the frame's length.
	printedLength := false
	typeField := func(t uint16) {
		p.etherTypeField(t)
		if printedLength {
			p.str(", ")
			return
		}
		p.field(", length ", uint64(origLength))
		p.str(": ")
		printedLength = true
	}
	for lengthType == uint16(wire.EtherTypeVLAN) || lengthType == etherTypeQ9100 ||
		lengthType == etherTypeQ9200 || lengthType == etherTypeQinQ {
		if caplen < 4 || length < 4 {
			p.proto = "vlan"
			p.truncMark()
			return
		}
		tag := p.be16(off)
		typeField(lengthType)
		p.field("vlan ", uint64(tag&0xfff))
		p.field(", p ", uint64(tag>>13))
		if tag&0x1000 != 0 {
			p.str(", DEI")
		}
		p.str(", ")
		lengthType = p.be16(off + 2)
		off += 4
		length -= 4
		caplen -= 4
	}

	switch {
	case lengthType <= maxEtherLength:
		if int(lengthType) < length {
			length = int(lengthType)
			if caplen > length {
				caplen = length
			}
		}
		old := p.pushSnap(off, length)
		p.str("802.3")
		if !printedLength {
			p.field(", length ", uint64(length))
			p.str(": ")
		}
		p.llcOrDump(off, length, caplen)
		p.end = old
	case lengthType == etherTypeJumbo:
		p.llcOrDump(off, length, caplen)
	default:
		typeField(lengthType)
		if !p.etherType(lengthType, off, length, caplen) {
			p.defaultPrint(off, caplen)
		}
	}
}

// etherType prints the payload of a known type and reports whether it knew
// the type (ethertype_print). Types that tcpdump decodes with printers we do
// not have report true and print nothing.
func (p *printer) etherType(t uint16, off, length, caplen int) bool {
	switch t {
	case uint16(wire.EtherTypeIPv4):
		p.ip(off, length)
	case uint16(wire.EtherTypeIPv6):
		p.ip6(off, length)
	case uint16(wire.EtherTypeARP), etherTypeRevARP:
		p.arp(off, length, caplen)
	case 0x880b: // PPP: tcpdump prints nothing for an empty payload
		if length > 0 {
			p.str(": ")
		}
	case 0x6003, 0x809b, 0x80f3, 0x8137, 0xfefe, 0x8863, 0x8864, 0x3c12, 0x3c13,
		0x888e, 0x8899, 0x8808, 0x8809, 0x8902, 0xabcd, 0x88cc, 0x894f, 0x9000,
		0x8847, 0x8848, 0x88ca, 0x886f, 0x0707, 0x8947, 0x1111, 0x88a2, 0x88f7:
		// DECnet, AppleTalk, IPX, OSI, PPPoE, EAPOL, Realtek, MPCP, Slow
		// Protocols, CFM, LLDP, NSH, Loopback, MPLS, TIPC, NLB, GeoNet,
		// CALM FAST, AoE, PTP: tcpdump's printers, not ours.
	default:
		return false
	}
	return true
}

// 802.2 LLC (print-llc.c).

var llcSAPNames = map[uint8]string{
	0x00: "Null", 0xff: "Global", 0x02: "802.1B I", 0x03: "802.1B G", 0x06: "IP",
	0x04: "SNA", 0x0e: "ProWay NM", 0x42: "STP", 0x4e: "RS511", 0x7e: "ISO8208",
	0x8e: "ProWay", 0xaa: "SNAP", 0xe0: "IPX", 0xf0: "NetBeui", 0xfe: "OSI",
}

func llcFlagName(v uint16) string {
	switch v {
	case 0:
		return "Command"
	case 1:
		return "Response"
	case 0x10, 0x100:
		return "Poll"
	case 0x11, 0x101:
		return "Final"
	}
	return "?"
}

// llcOrDump prints an 802.2 header and what follows, or dumps what it did
// not decode.
func (p *printer) llcOrDump(off, length, caplen int) {
	if n := p.llc(off, length, caplen); n < 0 {
		p.defaultPrint(off, caplen)
	}
}

// llc prints an 802.2 header and what follows. Like llc_print it returns
// the header length, negated when the payload was not decoded (the caller
// then dumps it).
func (p *printer) llc(off, length, caplen int) int {
	p.proto = "llc"
	if caplen < 3 || length < 3 {
		p.truncDump(off, caplen)
		return max(min(caplen, length), 0)
	}
	dsapField := p.u8(off)
	ssapField := p.u8(off + 1)
	control := uint16(p.u8(off + 2))
	isU := control&3 == 3
	hdrlen := 3
	if !isU {
		if caplen < 4 || length < 4 {
			p.truncDump(off, caplen)
			return min(caplen, length)
		}
		control = uint16(p.u8(off+2)) | uint16(p.u8(off+3))<<8
		hdrlen = 4
	}
	if ssapField == 0xff && dsapField == 0xff {
		p.str("IPX 802.3: ") // ipx_print is not ours
		return 0
	}
	dsap := dsapField &^ 1
	ssap := ssapField &^ 1
	p.sap("LLC, dsap ", dsapField, "Group", "Individual")
	p.sap(", ssap ", ssapField, "Response", "Command")
	p.str(", ctrl 0x")
	if isU {
		p.hex(uint64(control), 2)
	} else {
		p.hex(uint64(control), 4)
	}
	p.str(": ")

	off += hdrlen
	length -= hdrlen
	caplen -= hdrlen

	switch {
	case ssap == 0xaa && dsap == 0xaa && control == 3:
		if !p.snap(off, length, caplen) {
			return -(hdrlen + 5)
		}
		return hdrlen + 5
	case ssap == 0x42 && dsap == 0x42 && control == 3:
		return hdrlen // stp_print is not ours
	case ssap == 0x06 && dsap == 0x06 && control == 3:
		p.ip(off, length)
		return hdrlen
	case ssap == 0xe0 && dsap == 0xe0 && control == 3:
		p.str("IPX 802.2: ")
		return hdrlen
	case ssap == 0xfe && dsap == 0xfe && control == 3:
		return hdrlen // isoclns_print is not ours
	}

	if isU {
		p.str("Unnumbered, ")
		switch c := control & 0xef; c {
		case 0x03:
			p.str("ui")
		case 0xe3:
			p.str("test")
		case 0xaf:
			p.str("xid")
		case 0x63:
			p.str("ua")
		case 0x43:
			p.str("disc")
		case 0x0f:
			p.str("dm")
		case 0x6f:
			p.str("sabme")
		case 0x87:
			p.str("frmr")
		default:
			p.hex(uint64(c), 2)
		}
		p.llcFlags(ssapField, control&0x10, length+hdrlen)
		if control&^0x10 == 0xaf {
			if length == 0 {
				return hdrlen
			}
			if caplen < 1 {
				p.truncMark()
				return hdrlen
			}
			if p.u8(off) == 0x81 {
				if caplen < 3 || length < 3 {
					p.truncDump(off, caplen)
				} else {
					p.str(": ")
					p.hex(uint64(p.u8(off+1)), 2)
					p.str(" ")
					p.hex(uint64(p.u8(off+2)), 2)
				}
				return hdrlen
			}
		}
	} else if control&1 == 1 {
		p.str("Supervisory, ")
		switch (control >> 2) & 3 {
		case 0:
			p.str("Receiver Ready")
		case 1:
			p.str("Receiver not Ready")
		case 2:
			p.str("Reject")
		default:
			p.str("?")
		}
		p.field(", rcv seq ", uint64((control>>9)&0x7f))
		p.llcFlags(ssapField, control&0x100, length+hdrlen)
		return hdrlen
	} else {
		p.field("Information, send seq ", uint64((control>>1)&0x7f))
		p.field(", rcv seq ", uint64((control>>9)&0x7f))
		p.llcFlags(ssapField, control&0x100, length+hdrlen)
	}
	return -hdrlen
}

// sap prints a service access point: its name, its number and what its
// low bit means.
func (p *printer) sap(label string, field uint8, set, clear string) {
	sap := field &^ 1
	p.str(label)
	p.str(nameOr(llcSAPNames, sap, "Unknown"))
	p.hexParen(uint64(sap), 2)
	p.str(" ")
	if field&1 != 0 {
		p.str(set)
	} else {
		p.str(clear)
	}
}

// llcFlags prints the command/response bit of the SSAP with the poll/final
// bit of the control field, and the length.
func (p *printer) llcFlags(ssapField uint8, pf uint16, length int) {
	p.str(", Flags [")
	p.str(llcFlagName(uint16(ssapField&1) | pf))
	p.field("], length ", uint64(length))
}

var ouiNames = map[uint32]string{
	0x000000: "Ethernet", 0x00000c: "Cisco", 0x00005e: "IANA", 0x000081: "Nortel Networks SONMP",
	0x0000f8: "Cisco bridged", 0x0080c2: "Ethernet bridged", 0x00a03e: "ATM Forum",
	0x00e02f: "DOCSIS Spanning Tree", 0x080007: "Appletalk", 0x009069: "Juniper",
	0x080009: "Hewlett-Packard", 0x00120f: "IEEE 802.3 Private", 0x0012bb: "ANSI/TIA",
	0x001b21: "DCBX", 0x002320: "Nicira Networks", 0x5c16c7: "Big Switch Networks",
	0xb0d2f5: "Vello Systems", 0x002481: "HP", 0x0004ea: "HP-Labs", 0x748771: "Infoblox Inc",
	0xa42305: "Open Networking Lab", 0x00049f: "Freescale", 0x0015ad: "Netronome",
	0x001018: "Broadcom", 0x00e004: "PMC-Sierra", 0xd0f0db: "Ericsson",
}

var ciscoPIDNames = map[uint16]string{
	0x2000: "CDP", 0x2003: "VTP", 0x2004: "DTP", 0x0111: "UDLD", 0x010b: "PVST", 0x010c: "VLAN Bridge",
}

var bridgedPIDNames = map[uint16]string{
	0x0001: "Ethernet + FCS", 0x0007: "Ethernet w/o FCS", 0x0002: "802.4 + FCS",
	0x0008: "802.4 w/o FCS", 0x0003: "Token Ring + FCS", 0x0009: "Token Ring w/o FCS",
	0x0004: "FDDI + FCS", 0x000a: "FDDI w/o FCS", 0x0005: "802.6 + FCS",
	0x000b: "802.6 w/o FCS", 0x000e: "BPDU",
}

// snap prints a SNAP header and, for encapsulated Ethernet types, the
// payload; it reports whether the payload was decoded.
func (p *printer) snap(off, length, caplen int) bool {
	p.proto = "snap"
	if !p.ttest(off, 5) || caplen < 5 || length < 5 {
		p.truncMark()
		return true
	}
	org := uint32(p.u8(off))<<16 | uint32(p.be16(off+1))
	et := p.be16(off + 3)
	p.str("oui ")
	p.str(nameOr(ouiNames, org, "Unknown"))
	p.hexParen(uint64(org), 6)
	p.str(", ")
	if org == 0 {
		p.str("ethertype ")
	} else {
		p.str("pid ")
	}
	var name string
	switch org {
	case 0x000000, 0x0000f8, 0x080007:
		name = nameOr(etherTypeNames, et, "Unknown")
	case 0x00000c:
		name = ciscoPIDNames[et]
	case 0x0080c2:
		name = bridgedPIDNames[et]
	}
	if name == "" {
		name = "Unknown"
	}
	p.str(name)
	p.hexParen(uint64(et), 4)
	p.field(", length ", uint64(uint32(length-5)))
	p.str(": ")
	off += 5
	length -= 5
	caplen -= 5
	switch org {
	case 0x000000, 0x0000f8:
		return p.etherType(et, off, length, caplen)
	case 0x080007:
		if et == 0x809b {
			return p.etherType(et, off, length, caplen)
		}
	case 0x00000c:
		_, known := ciscoPIDNames[et]
		return known
	case 0x0080c2:
		_, known := bridgedPIDNames[et]
		return known
	}
	return false
}
