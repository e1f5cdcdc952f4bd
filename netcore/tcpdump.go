package netcore

import (
	"encoding/binary"
	"strconv"
	"time"
)

// This file renders a frame as the first line that tcpdump 4.99 prints for it
// with `tcpdump -tt -e -n` (Debian 12's tcpdump 4.99.3 is the reference).
// The code follows tcpdump's printers (print-ether.c, print-llc.c,
// print-arp.c, print-ip.c, print-icmp.c, print-udp.c, print-tcp.c,
// print-ip6.c, print-icmp6.c) step by step, including their order of bounds
// checks, because that order decides where a truncated frame is cut and
// marked ` [|proto]`. Layers that tcpdump decodes and we do not (LLDP, STP,
// DNS and the other port-based application printers, IGMP, GRE, ...) get the
// lower layers printed exactly and nothing more.
//
// tcpdump reports truncation with a longjmp out of whatever printer ran off
// the captured data; here a panic of truncPanic plays that part and is
// recovered in (*tdPrinter).frame. Where tcpdump would continue on a new line
// (hex dumps of undecoded payloads) the output is cut at that point.

// Tcpdump renders a stream of frames the way one tcpdump process would: it
// remembers TCP conversations so that, like tcpdump without -S, sequence and
// acknowledgement numbers after a conversation's first segment are printed
// relative to the first ones seen. A reader of a capture stream keeps one
// Tcpdump for the stream's life. The zero value is ready to use; a Tcpdump is
// not safe for concurrent use.
type Tcpdump struct {
	conv4 map[tcpConv4Key]tcpConvSeq
	conv6 map[tcpConv6Key]tcpConvSeq
}

// tcpdumpMaxConversations bounds the memory of a long-lived Tcpdump; tcpdump
// itself never forgets a conversation. When the table is full it is emptied,
// and conversations seen again start over from absolute numbers.
const tcpdumpMaxConversations = 4096

type tcpConv4Key struct {
	src, dst [4]byte
	ports    uint32
}

type tcpConv6Key struct {
	src, dst [16]byte
	ports    uint32
}

type tcpConvSeq struct{ seq, ack uint32 }

// Append appends the line for one frame (without a newline) to b. frame
// holds the captured bytes and wireLen is the frame's length on the wire.
func (d *Tcpdump) Append(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	p := tdPrinter{conv: d}
	return p.frame(b, t, frame, wireLen)
}

// AppendTcpdump appends to b, without a trailing newline, the first line that
// `tcpdump -tt -e -n -r` prints for a capture file holding only this frame:
// frame is the captured bytes and wireLen the frame's length on the wire. It
// never panics, and allocates nothing when b has room for the line (about 200
// bytes is plenty). TCP sequence numbers are printed as tcpdump prints them
// for the first segment of a conversation; use a Tcpdump to render a stream.
func AppendTcpdump(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	p := tdPrinter{}
	return p.frame(b, t, frame, wireLen)
}

type truncPanic struct{}

type tdPrinter struct {
	out   []byte
	pkt   []byte // the captured bytes
	end   int    // tcpdump's snapend: bytes at or past it count as not captured
	cut   int    // where the first line ends, once a continuation line started
	proto string // tcpdump's ndo_protocol, named in the truncation marker
	conv  *Tcpdump
}

func (p *tdPrinter) frame(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	caplen, length := pcapLengths(len(frame), wireLen)
	if caplen == 0 || length > tcpdumpMaxSnaplen {
		// tcpdump refuses the record before printing its time stamp.
		b = append(b, "[Invalid header:"...)
		if caplen == 0 {
			b = append(b, " caplen==0"...)
		}
		if length == 0 {
			if caplen == 0 {
				b = append(b, ',')
			}
			b = append(b, " len==0"...)
		} else if length > tcpdumpMaxSnaplen {
			if caplen == 0 {
				b = append(b, ',')
			}
			b = append(b, " len("...)
			b = strconv.AppendUint(b, uint64(length), 10)
			b = append(b, ") > 262144"...)
		}
		return append(b, ']')
	}
	// The pcap record holds 32-bit seconds; tcpdump rejects the upper half.
	sec := uint32(t.Unix())
	if sec&0x80000000 != 0 {
		b = append(b, "[Error converting time]"...)
	} else {
		b = strconv.AppendUint(b, uint64(sec), 10)
		b = append(b, '.')
		b = appendZeroPadded(b, uint32(t.Nanosecond()/1000), 6)
	}
	b = append(b, ' ')

	p.out = b
	p.pkt = frame[:caplen]
	p.end = caplen
	p.cut = -1
	p.run(length, caplen)
	if p.cut >= 0 {
		p.out = p.out[:p.cut]
	}
	return p.out
}

func (p *tdPrinter) run(length, caplen int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(truncPanic); !ok {
				panic(r)
			}
			p.str(" [|")
			p.str(p.proto)
			p.str("]")
		}
	}()
	p.ether(0, length, caplen)
}

// Output helpers.

func (p *tdPrinter) str(s string) { p.out = append(p.out, s...) }

func (p *tdPrinter) uint(v uint64) { p.out = strconv.AppendUint(p.out, v, 10) }

func (p *tdPrinter) hex(v uint64, width int) {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for v != 0 || i == len(tmp) {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
	}
	for len(tmp)-i < width {
		i--
		tmp[i] = '0'
	}
	p.out = append(p.out, tmp[i:]...)
}

// newline records that tcpdump continues on another line here; everything
// printed from now on is dropped.
func (p *tdPrinter) newline() {
	if p.cut < 0 {
		p.cut = len(p.out)
	}
}

// truncMark prints tcpdump's truncation marker and carries on, as
// nd_print_trunc does when a printer returns instead of jumping.
func (p *tdPrinter) truncMark() {
	p.str(" [|")
	p.str(p.proto)
	p.str("]")
}

func appendZeroPadded(b []byte, v uint32, width int) []byte {
	var tmp [10]byte
	i := len(tmp)
	for v != 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for len(tmp)-i < width {
		i--
		tmp[i] = '0'
	}
	return append(b, tmp[i:]...)
}

// Captured-data accessors: like tcpdump's GET_ macros they end the frame
// with a truncation marker when the bytes were not captured.

func (p *tdPrinter) trunc() { panic(truncPanic{}) }

func (p *tdPrinter) ttest(off, n int) bool { return off >= 0 && n >= 0 && off+n <= p.end }

func (p *tdPrinter) avail(off int) int {
	if off >= p.end {
		return 0
	}
	return p.end - off
}

func (p *tdPrinter) u8(off int) uint8 {
	if !p.ttest(off, 1) {
		p.trunc()
	}
	return p.pkt[off]
}

func (p *tdPrinter) be16(off int) uint16 {
	if !p.ttest(off, 2) {
		p.trunc()
	}
	return binary.BigEndian.Uint16(p.pkt[off:])
}

func (p *tdPrinter) be32(off int) uint32 {
	if !p.ttest(off, 4) {
		p.trunc()
	}
	return binary.BigEndian.Uint32(p.pkt[off:])
}

func (p *tdPrinter) check(off, n int) {
	if !p.ttest(off, n) {
		p.trunc()
	}
}

// pushSnap is nd_push_snaplen: it shortens the captured data to n bytes
// from off if that is shorter. It returns the old end for popSnap.
func (p *tdPrinter) pushSnap(off, n int) int {
	old := p.end
	if n <= old-off {
		p.end = off + n
	}
	return old
}

// defaultPrint is tcpdump's hex dump of n undecoded bytes from off: it starts
// a continuation line, and when fewer bytes were captured it ends the frame
// as truncated (tcpdump puts that marker after the dump).
func (p *tdPrinter) defaultPrint(off, n int) {
	a := p.avail(off)
	trunc := false
	if n > a {
		n, trunc = a, true
	}
	if n > 0 {
		p.newline()
	}
	if trunc {
		p.trunc()
	}
}

// unknownData is print_unknown_data: a hex dump of what was captured.
func (p *tdPrinter) unknownData(off, n int) {
	if !p.ttest(off, 0) {
		p.newline()
		return
	}
	if a := p.avail(off); n > a {
		n = a
	}
	if n > 0 {
		p.newline()
	}
}

func (p *tdPrinter) mac(off int) {
	p.check(off, 6)
	p.out = MAC(p.pkt[off : off+6]).appendTo(p.out)
}

func (p *tdPrinter) ipv4(off int) {
	p.check(off, 4)
	for i := 0; i < 4; i++ {
		if i > 0 {
			p.out = append(p.out, '.')
		}
		p.uint(uint64(p.pkt[off+i]))
	}
}

// ipv6 prints an address as tcpdump's addrtostr6 does: RFC 5952 style, the
// first longest run of two or more zero words shortened to ::, and the last
// 32 bits in dotted form for IPv4-compatible (::a.b.c.d) and IPv4-mapped
// (::ffff:a.b.c.d) addresses.
func (p *tdPrinter) ipv6(off int) {
	p.check(off, 16)
	a := p.pkt[off : off+16]
	var w [8]uint16
	for i := range w {
		w[i] = binary.BigEndian.Uint16(a[2*i:])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i, v := range w {
		if v == 0 {
			if curBase < 0 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
		} else if curBase >= 0 {
			if bestBase < 0 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase >= 0 && (bestBase < 0 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase >= 0 && bestLen < 2 {
		bestBase = -1
	}
	for i := 0; i < 8; i++ {
		if bestBase >= 0 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				p.out = append(p.out, ':')
			}
			continue
		}
		if i != 0 {
			p.out = append(p.out, ':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && w[5] == 0xffff)) {
			for j := 12; j < 16; j++ {
				if j > 12 {
					p.out = append(p.out, '.')
				}
				p.uint(uint64(a[j]))
			}
			return
		}
		p.hex(uint64(w[i]), 0)
	}
	if bestBase >= 0 && bestBase+bestLen == 8 {
		p.out = append(p.out, ':')
	}
}

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

func etherTypeName(t uint16, unknown string) string {
	if s, ok := etherTypeNames[t]; ok {
		return s
	}
	return unknown
}

func (p *tdPrinter) etherTypeField(t uint16) {
	p.str("ethertype ")
	p.str(etherTypeName(t, "Unknown"))
	p.str(" (0x")
	p.hex(uint64(t), 4)
	p.str(")")
}

func (p *tdPrinter) ether(off, length, caplen int) {
	p.proto = "ether"
	if caplen < EthHeaderLen {
		p.truncMark()
		return
	}
	origLength := length
	p.mac(off + 6)
	p.str(" > ")
	p.mac(off)
	p.str(", ")
	length -= 12
	caplen -= 12
	off += 12

	lengthType := p.be16(off)
	length -= 2
	caplen -= 2
	off += 2
	printedLength := false
	for lengthType == uint16(EtherTypeVLAN) || lengthType == etherTypeQ9100 ||
		lengthType == etherTypeQ9200 || lengthType == etherTypeQinQ {
		if caplen < 4 || length < 4 {
			p.proto = "vlan"
			p.truncMark()
			return
		}
		tag := p.be16(off)
		p.etherTypeField(lengthType)
		if !printedLength {
			p.str(", length ")
			p.uint(uint64(origLength))
			p.str(": ")
			printedLength = true
		} else {
			p.str(", ")
		}
		p.str("vlan ")
		p.uint(uint64(tag & 0xfff))
		p.str(", p ")
		p.uint(uint64(tag >> 13))
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
			p.str(", length ")
			p.uint(uint64(length))
			p.str(": ")
		}
		if n := p.llc(off, length, caplen); n < 0 {
			p.defaultPrint(off, caplen)
		}
		p.end = old
	case lengthType == etherTypeJumbo:
		if n := p.llc(off, length, caplen); n < 0 {
			p.defaultPrint(off, caplen)
		}
	default:
		p.etherTypeField(lengthType)
		if !printedLength {
			p.str(", length ")
			p.uint(uint64(origLength))
			p.str(": ")
		} else {
			p.str(", ")
		}
		if !p.etherType(lengthType, off, length, caplen) {
			p.defaultPrint(off, caplen)
		}
	}
}

// etherType prints the payload of a known type and reports whether it knew
// the type (ethertype_print). Types that tcpdump decodes with printers we do
// not have report true and print nothing.
func (p *tdPrinter) etherType(t uint16, off, length, caplen int) bool {
	switch t {
	case uint16(EtherTypeIPv4):
		p.ip(off, length)
	case uint16(EtherTypeIPv6):
		p.ip6(off, length)
	case uint16(EtherTypeARP), etherTypeRevARP:
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

func llcSAPName(s uint8) string {
	if n, ok := llcSAPNames[s]; ok {
		return n
	}
	return "Unknown"
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

// llc prints an 802.2 header and what follows. Like llc_print it returns
// the header length, negated when the payload was not decoded (the caller
// then dumps it).
func (p *tdPrinter) llc(off, length, caplen int) int {
	p.proto = "llc"
	if caplen < 3 || length < 3 {
		p.truncMark()
		p.defaultPrint(off, caplen)
		return max(min(caplen, length), 0)
	}
	dsapField := p.u8(off)
	ssapField := p.u8(off + 1)
	control := uint16(p.u8(off + 2))
	isU := control&3 == 3
	hdrlen := 3
	if !isU {
		if caplen < 4 || length < 4 {
			p.truncMark()
			p.defaultPrint(off, caplen)
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
	p.str("LLC, dsap ")
	p.str(llcSAPName(dsap))
	p.str(" (0x")
	p.hex(uint64(dsap), 2)
	p.str(") ")
	if dsapField&1 != 0 {
		p.str("Group")
	} else {
		p.str("Individual")
	}
	p.str(", ssap ")
	p.str(llcSAPName(ssap))
	p.str(" (0x")
	p.hex(uint64(ssap), 2)
	p.str(") ")
	if ssapField&1 != 0 {
		p.str("Response")
	} else {
		p.str("Command")
	}
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
		p.str(", Flags [")
		p.str(llcFlagName(uint16(ssapField&1) | control&0x10))
		p.str("], length ")
		p.uint(uint64(length + hdrlen))
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
					p.truncMark()
					p.defaultPrint(off, caplen)
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
		p.str(", rcv seq ")
		p.uint(uint64((control >> 9) & 0x7f))
		p.str(", Flags [")
		p.str(llcFlagName(uint16(ssapField&1) | control&0x100))
		p.str("], length ")
		p.uint(uint64(length + hdrlen))
		return hdrlen
	} else {
		p.str("Information, send seq ")
		p.uint(uint64((control >> 1) & 0x7f))
		p.str(", rcv seq ")
		p.uint(uint64((control >> 9) & 0x7f))
		p.str(", Flags [")
		p.str(llcFlagName(uint16(ssapField&1) | control&0x100))
		p.str("], length ")
		p.uint(uint64(length + hdrlen))
	}
	return -hdrlen
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
func (p *tdPrinter) snap(off, length, caplen int) bool {
	p.proto = "snap"
	if !p.ttest(off, 5) || caplen < 5 || length < 5 {
		p.truncMark()
		return true
	}
	org := uint32(p.u8(off))<<16 | uint32(p.be16(off+1))
	et := p.be16(off + 3)
	p.str("oui ")
	if n, ok := ouiNames[org]; ok {
		p.str(n)
	} else {
		p.str("Unknown")
	}
	p.str(" (0x")
	p.hex(uint64(org), 6)
	p.str("), ")
	if org == 0 {
		p.str("ethertype ")
	} else {
		p.str("pid ")
	}
	var name string
	switch org {
	case 0x000000, 0x0000f8, 0x080007:
		name = etherTypeName(et, "Unknown")
	case 0x00000c:
		name = ciscoPIDNames[et]
	case 0x0080c2:
		name = bridgedPIDNames[et]
	}
	if name == "" {
		name = "Unknown"
	}
	p.str(name)
	p.str(" (0x")
	p.hex(uint64(et), 4)
	p.str("), length ")
	p.uint(uint64(uint32(length - 5)))
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

// ARP (print-arp.c).

var arpOpNames = map[uint16]string{
	1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply",
	8: "Inverse Request", 9: "Inverse Reply", 10: "NACK Reply",
}

var arpHrdNames = map[uint16]string{
	1: "Ethernet", 6: "TokenRing", 7: "ArcNet", 15: "FrameRelay", 23: "Strip",
	24: "IEEE 1394", 19: "ATM", 32: "InfiniBand",
}

func (p *tdPrinter) arp(off, length, caplen int) {
	p.proto = "arp"
	p.check(off, 8)
	hrd := p.be16(off)
	pro := p.be16(off + 2)
	hln := int(p.u8(off + 4))
	pln := int(p.u8(off + 5))
	op := p.be16(off + 6)
	if hrd == 19 {
		p.atmarp(off, length, caplen)
		return
	}
	sha := off + 8
	spa := sha + hln
	tha := spa + pln
	tpa := tha + hln
	p.check(tpa, pln)

	if (pro != uint16(EtherTypeIPv4) && pro != etherTypeTrail) || pln != 4 || hln == 0 {
		p.hrdName(hrd)
		p.str(" (len ")
		p.uint(uint64(hln))
		p.str("), ")
		p.str(etherTypeName(pro, ""))
		if _, ok := etherTypeNames[pro]; !ok {
			p.str("Unknown Protocol (0x")
			p.hex(uint64(pro), 4)
			p.str(")")
		}
		p.str(" (len ")
		p.uint(uint64(pln))
		p.str(")")
		p.arpLength(length)
		return
	}
	if n, ok := arpOpNames[op]; ok {
		p.str(n)
	} else {
		p.str("Unknown (")
		p.uint(uint64(op))
		p.str(")")
	}
	p.str(" ")
	switch op {
	case 1:
		p.str("who-has ")
		p.ipv4(tpa)
		nonzero := false
		for i := 0; i < hln; i++ {
			if p.u8(tha+i) != 0 {
				nonzero = true
				break
			}
		}
		if nonzero {
			p.str(" (")
			p.linkAddr(hrd, tha, hln)
			p.str(")")
		}
		p.str(" tell ")
		p.ipv4(spa)
	case 2:
		p.ipv4(spa)
		p.str(" is-at ")
		p.linkAddr(hrd, sha, hln)
	case 3, 8:
		p.str("who-is ")
		p.linkAddr(hrd, tha, hln)
		p.str(" tell ")
		p.linkAddr(hrd, sha, hln)
	case 4:
		p.linkAddr(hrd, tha, hln)
		p.str(" at ")
		p.ipv4(tpa)
	case 9:
		p.linkAddr(hrd, sha, hln)
		p.str(" at ")
		p.ipv4(spa)
	default:
		p.defaultPrint(off, caplen)
		return
	}
	p.arpLength(length)
}

func (p *tdPrinter) arpLength(length int) {
	p.str(", length ")
	p.uint(uint64(length))
}

func (p *tdPrinter) hrdName(hrd uint16) {
	if n, ok := arpHrdNames[hrd]; ok {
		p.str(n)
		return
	}
	p.str("Unknown Hardware (")
	p.uint(uint64(hrd))
	p.str(")")
}

// linkAddr is linkaddr_string: a MAC for 6-byte Ethernet addresses, colon
// separated hex for any other length, and for Frame Relay a Q.922 DLCI.
func (p *tdPrinter) linkAddr(hrd uint16, off, n int) {
	p.check(off, n)
	if n == 0 {
		p.str("<empty>")
		return
	}
	if hrd == 15 {
		p.q922(off, n)
		return
	}
	if n == 6 {
		p.mac(off)
		return
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			p.out = append(p.out, ':')
		}
		p.hex(uint64(p.pkt[off+i]), 2)
	}
}

// q922 is q922_string for the Frame Relay ARP addresses.
func (p *tdPrinter) q922(off, n int) {
	if n < 2 {
		p.str("<Truncated>")
		return
	}
	b0, b1 := p.pkt[off], p.pkt[off+1]
	if b0&0x01 != 0 || b1&0x01 == 0 && n < 3 {
		// A first byte with EA set is not a Q.922 address; a second byte
		// without it needs more bytes than there are.
		if b0&0x01 != 0 {
			p.str("<Invalid DLCI>")
		} else {
			p.str("<Truncated>")
		}
		return
	}
	dlci := uint32(b0&0xfc)<<2 | uint32(b1&0xf0)>>4
	if b1&0x01 == 0 {
		b2 := p.pkt[off+2]
		if b2&0x02 != 0 {
			p.str("<Invalid DLCI>")
			return
		}
		dlci = dlci<<6 | uint32(b2&0xfc)>>2
		if b2&0x01 == 0 {
			if n < 4 {
				p.str("<Truncated>")
				return
			}
			b3 := p.pkt[off+3]
			dlci = dlci<<7 | uint32(b3&0xfe)>>1
			if b3&0x01 == 0 {
				p.str("<Invalid DLCI>")
				return
			}
		}
	}
	p.str("DLCI ")
	p.uint(uint64(dlci))
}

// atmarp is atmarp_print, for ARP over ATM (RFC 2225).
func (p *tdPrinter) atmarp(off, length, caplen int) {
	p.check(off, 12)
	hrd := p.be16(off)
	pro := p.be16(off + 2)
	shl := int(p.u8(off+4) & 0x3f)
	ssl := int(p.u8(off+5) & 0x3f)
	op := p.be16(off + 6)
	spl := int(p.u8(off + 8))
	thl := int(p.u8(off+9) & 0x3f)
	tsl := int(p.u8(off+10) & 0x3f)
	tpl := int(p.u8(off + 11))
	sha := off + 12
	ssa := sha + shl
	spa := ssa + ssl
	tha := spa + spl
	tsa := tha + thl
	tpa := tsa + tsl
	p.check(tpa, tpl)
	if (pro != uint16(EtherTypeIPv4) && pro != etherTypeTrail) || spl != 4 || tpl != 4 {
		p.hrdName(hrd)
		p.str(", ")
		if n, ok := etherTypeNames[pro]; ok {
			p.str(n)
		} else {
			p.str("Unknown Protocol (0x")
			p.hex(uint64(pro), 4)
			p.str(")")
		}
		p.str(" (len ")
		p.uint(uint64(spl))
		p.str("/")
		p.uint(uint64(tpl))
		p.str(")")
		p.arpLength(length)
		return
	}
	if n, ok := arpOpNames[op]; ok {
		p.str(n)
	} else {
		p.str("Unknown (")
		p.uint(uint64(op))
		p.str(")")
	}
	p.str(" ")
	atmAddr := func(ha, hl, sa, sl int) {
		if hl == 0 {
			p.str("<No address>")
			return
		}
		p.linkAddr(0, ha, hl)
		if sl != 0 {
			p.str(",")
			p.linkAddr(0, sa, sl)
		}
	}
	switch op {
	case 1:
		p.str("who-has ")
		p.ipv4(tpa)
		if thl != 0 {
			p.str(" (")
			atmAddr(tha, thl, tsa, tsl)
			p.str(")")
		}
		p.str(" tell ")
		p.ipv4(spa)
	case 2:
		p.ipv4(spa)
		p.str(" is-at ")
		atmAddr(sha, shl, ssa, ssl)
	case 8:
		p.str("who-is ")
		atmAddr(tha, thl, tsa, tsl)
		p.str(" tell ")
		atmAddr(sha, shl, ssa, ssl)
	case 9:
		atmAddr(sha, shl, ssa, ssl)
		p.str("at ")
		p.ipv4(spa)
	case 10:
		p.str("for ")
		p.ipv4(spa)
	default:
		p.defaultPrint(off, caplen)
		return
	}
	p.arpLength(length)
}

// IPv4 (print-ip.c, print-ip-demux.c).

var ipProtoNames = map[uint8]string{
	0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP",
	17: "UDP", 33: "DCCP", 41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP",
	47: "GRE", 50: "ESP", 51: "AH", 55: "Mobile IP", 58: "ICMPv6", 62: "Mobile IP (old)",
	88: "EIGRP", 89: "OSPF", 103: "PIM", 108: "Compressed IP", 112: "VRRP", 113: "PGM",
	132: "SCTP", 135: "Mobility", 143: "Ethernet",
}

func (p *tdPrinter) ip(off, length int) {
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
	if !p.ttest(off, IPv4MinLen) {
		p.truncMark()
		return
	}
	if length < IPv4MinLen {
		p.str("truncated-ip ")
		p.uint(uint64(length))
		return
	}
	hlen := int(p.u8(off)&0x0f) * 4
	if hlen < IPv4MinLen {
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
		if proto != uint8(ProtoTCP) && proto != uint8(ProtoUDP) && proto != 132 && proto != 33 {
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
func (p *tdPrinter) ipDemux(off, length, ver int, fragmented bool, nh uint8, iph int) {
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

// ICMPv4 (print-icmp.c); length is the ICMP message length from the IP
// header.

var icmpUnreachText = [...]string{
	0: "net %s unreachable", 1: "host %s unreachable", 5: "%s unreachable - source route failed",
	6: "net %s unreachable - unknown", 7: "host %s unreachable - unknown",
	8: "%s unreachable - source host isolated", 9: "net %s unreachable - admin prohibited",
	10: "host %s unreachable - admin prohibited", 11: "net %s unreachable - tos prohibited",
	12: "host %s unreachable - tos prohibited", 13: "host %s unreachable - admin prohibited filter",
	14: "host %s unreachable - host precedence violation", 15: "host %s unreachable - precedence cutoff",
}

func (p *tdPrinter) icmp(off, length int) {
	p.proto = "icmp"
	typ := p.u8(off)
	code := p.u8(off + 1)
	// tcpdump formats the whole message into a buffer before printing, so a
	// message cut short prints none of it: render, and drop it on panic.
	start := len(p.out)
	defer func() {
		if r := recover(); r != nil {
			p.out = p.out[:start]
			panic(r)
		}
	}()
	p.str("ICMP ")
	inner := off + 8 // the quoted IP header of error messages
	switch typ {
	case 8, 0:
		id, seq := p.be16(off+4), p.be16(off+6)
		if typ == 8 {
			p.str("echo request, id ")
		} else {
			p.str("echo reply, id ")
		}
		p.uint(uint64(id))
		p.str(", seq ")
		p.uint(uint64(seq))
	case 3:
		switch code {
		case 2:
			p.ipv4(inner + 16)
			p.str(" protocol ")
			p.uint(uint64(p.u8(inner + 9)))
			p.str(" unreachable")
		case 3:
			p.check(inner+9, 1)
			hlen := int(p.u8(inner)&0x0f) * 4
			dport := p.be16(inner + hlen + 2)
			proto := p.u8(inner + 9)
			p.ipv4(inner + 16)
			switch proto {
			case 6:
				p.str(" tcp port ")
				p.uint(uint64(dport))
			case 17:
				p.str(" udp port ")
				p.uint(uint64(dport))
			default:
				p.str(" protocol ")
				p.uint(uint64(proto))
				p.str(" port ")
				p.uint(uint64(dport))
			}
			p.str(" unreachable")
		case 4:
			mtu := p.be16(off + 6)
			p.ipv4(inner + 16)
			p.str(" unreachable - need to frag")
			if mtu != 0 {
				p.str(" (mtu ")
				p.uint(uint64(mtu))
				p.str(")")
			}
		default:
			if int(code) < len(icmpUnreachText) && icmpUnreachText[code] != "" {
				p.format(icmpUnreachText[code], inner+16)
			} else {
				p.ipv4(inner + 16)
				p.str(" unreachable - #")
				p.uint(uint64(code))
			}
		}
	case 5:
		dst := inner + 16
		gw := off + 4
		switch code {
		case 0, 1, 2, 3:
			if code < 2 {
				p.str("redirect ")
			} else {
				p.str("redirect-tos ")
			}
			p.ipv4(dst)
			if code%2 == 0 {
				p.str(" to net ")
			} else {
				p.str(" to host ")
			}
			p.ipv4(gw)
		default:
			p.str("redirect-#")
			p.uint(uint64(code))
			p.str(" ")
			p.ipv4(dst)
			p.str(" to ")
			p.ipv4(gw)
		}
	case 9:
		p.str("router advertisement")
		p.check(off+4, 4)
		p.str(" lifetime ")
		lt := uint64(p.be16(off + 6))
		switch {
		case lt < 60:
			p.uint(lt)
		case lt < 3600:
			p.uint(lt / 60)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%60), 2)
		default:
			p.uint(lt / 3600)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%3600/60), 2)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%60), 2)
		}
		num := int(p.u8(off + 4))
		p.str(" ")
		p.uint(uint64(num))
		p.str(":")
		size := p.u8(off + 5)
		if size != 2 {
			p.str(" [size ")
			p.uint(uint64(size))
			p.str("]")
			break
		}
		for i, a := 0, off+8; i < num; i, a = i+1, a+8 {
			p.check(a, 8)
			p.str(" {")
			p.ipv4(a)
			p.str(" ")
			p.uint(uint64(p.be32(a + 4)))
			p.str("}")
		}
	case 11:
		p.check(inner+16, 4)
		switch code {
		case 0:
			p.str("time exceeded in-transit")
		case 1:
			p.str("ip reassembly time exceeded")
		default:
			p.str("time exceeded-#")
			p.uint(uint64(code))
		}
	case 12:
		if code != 0 {
			p.str("parameter problem - code ")
			p.uint(uint64(code))
		} else {
			p.str("parameter problem - octet ")
			p.uint(uint64(p.u8(off + 4)))
		}
	case 18:
		p.str("address mask is 0x")
		p.hex(uint64(p.be32(off+8)), 8)
	case 13:
		id, seq := p.be16(off+4), p.be16(off+6)
		p.str("time stamp query id ")
		p.uint(uint64(id))
		p.str(" seq ")
		p.uint(uint64(seq))
	case 14:
		p.check(off+16, 4)
		p.str("time stamp reply id ")
		p.uint(uint64(p.be16(off + 4)))
		p.str(" seq ")
		p.uint(uint64(p.be16(off + 6)))
		p.str(": org ")
		p.msTime(p.be32(off + 8))
		p.str(", recv ")
		p.msTime(p.be32(off + 12))
		p.str(", xmit ")
		p.msTime(p.be32(off + 16))
	case 4:
		p.str("source quench")
	case 10:
		p.str("router solicitation")
	case 15:
		p.str("information request")
	case 16:
		p.str("information reply")
	case 17:
		p.str("address mask request")
	default:
		p.str("type-#")
		p.uint(uint64(typ))
	}
	p.str(", length ")
	p.uint(uint64(length))
}

// format prints a pattern with one %s standing for the IPv4 address at off.
func (p *tdPrinter) format(pattern string, off int) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '%' && i+1 < len(pattern) && pattern[i+1] == 's' {
			p.ipv4(off)
			i++
			continue
		}
		p.out = append(p.out, pattern[i])
	}
}

// msTime prints milliseconds since midnight UTC as tcpdump's
// icmp_tstamp_print does.
func (p *tdPrinter) msTime(t uint32) {
	ms := t % 1000
	sec := t / 1000
	min := sec / 60
	sec -= min * 60
	hrs := min / 60
	min -= hrs * 60
	p.out = appendZeroPadded(p.out, hrs, 2)
	p.str(":")
	p.out = appendZeroPadded(p.out, min, 2)
	p.str(":")
	p.out = appendZeroPadded(p.out, sec, 2)
	p.str(".")
	p.out = appendZeroPadded(p.out, ms, 3)
}

// UDP (print-udp.c). Ports whose payload tcpdump decodes (DNS, DHCP, NTP,
// ...) get the generic summary here, which differs from tcpdump's line.

func (p *tdPrinter) ipAddrs(iph int) {
	if p.u8(iph)>>4 == 6 {
		p.ipv6(iph + 8)
		p.str(" > ")
		p.ipv6(iph + 24)
	} else {
		p.ipv4(iph + 12)
		p.str(" > ")
		p.ipv4(iph + 16)
	}
}

// portAddrs prints "src.sport > dst.dport: " when the next header of the IP
// header is proto, or "sport > dport: " when the transport header is not
// the IP header's direct payload.
func (p *tdPrinter) portAddrs(iph int, proto uint8, sport, dport uint16) {
	v6 := p.u8(iph)>>4 == 6
	var nh uint8
	if v6 {
		nh = p.u8(iph + 6)
	} else {
		nh = p.u8(iph + 9)
	}
	if nh == proto {
		if v6 {
			p.ipv6(iph + 8)
		} else {
			p.ipv4(iph + 12)
		}
		p.str(".")
		p.uint(uint64(sport))
		p.str(" > ")
		if v6 {
			p.ipv6(iph + 24)
		} else {
			p.ipv4(iph + 16)
		}
		p.str(".")
		p.uint(uint64(dport))
		p.str(": ")
		return
	}
	p.uint(uint64(sport))
	p.str(" > ")
	p.uint(uint64(dport))
	p.str(": ")
}

func (p *tdPrinter) udp(off, length, iph int, fragmented bool) {
	p.proto = "udp"
	v6 := p.u8(iph)>>4 == 6
	if !p.ttest(off+2, 2) {
		var nh uint8
		if v6 {
			nh = p.u8(iph + 6)
		} else {
			nh = p.u8(iph + 9)
		}
		if nh == 17 {
			p.ipAddrs(iph)
			p.str(": ")
		}
		p.truncMark()
		return
	}
	sport := p.be16(off)
	dport := p.be16(off + 2)
	if length < 8 {
		p.portAddrs(iph, 17, sport, dport)
		p.str("truncated-udp ")
		p.uint(uint64(length))
		return
	}
	if !p.ttest(off+4, 2) {
		p.portAddrs(iph, 17, sport, dport)
		p.truncMark()
		return
	}
	ulen := int(p.be16(off + 4))
	if ulen == 0 && length > 65535 {
		ulen = length
	}
	if ulen < 8 {
		p.portAddrs(iph, 17, sport, dport)
		p.str("truncated-udplength ")
		p.uint(uint64(ulen))
		return
	}
	ulen -= 8
	length -= 8
	if ulen < length {
		length = ulen
	}
	if off+8 > p.end {
		p.portAddrs(iph, 17, sport, dport)
		p.truncMark()
		return
	}
	p.portAddrs(iph, 17, sport, dport)
	if p.udpDecoded(off+8, sport, dport) {
		// tcpdump hands the payload to an application printer (DNS,
		// DHCP, NTP, ...); those are not ours, so the line stops here.
		return
	}
	if ulen > length && !fragmented {
		p.str("UDP, bad length ")
		p.uint(uint64(ulen))
		p.str(" > ")
		p.uint(uint64(length))
	} else {
		p.str("UDP, length ")
		p.uint(uint64(ulen))
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
func (p *tdPrinter) udpDecoded(off int, sport, dport uint16) bool {
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

// TCP (print-tcp.c).

func (p *tdPrinter) tcp(off, length, iph int, fragmented bool) {
	p.proto = "tcp"
	v6 := p.u8(iph)>>4 == 6
	if !p.ttest(off+2, 2) {
		p.ipAddrs(iph)
		p.str(":")
		p.truncMark()
		return
	}
	sport := p.be16(off)
	dport := p.be16(off + 2)
	p.portAddrs(iph, 6, sport, dport)
	if !p.ttest(off, 20) {
		p.truncMark()
		return
	}
	hlen := int(p.u8(off+12)>>4) * 4
	if hlen < 20 {
		p.str(" tcp ")
		p.uint(uint64(uint32(length - hlen)))
		p.str(" [bad hdr length ")
		p.uint(uint64(hlen))
		p.str(" - too short, < 20]")
		return
	}
	seq := p.be32(off + 4)
	ack := p.be32(off + 8)
	win := p.be16(off + 14)
	urp := p.be16(off + 18)
	flags := p.u8(off + 13)
	p.str("Flags [")
	if flags == 0 {
		p.str("none")
	} else {
		const names = "FSRP.UEW"
		for i := 0; i < 8; i++ {
			if flags&(1<<i) != 0 {
				p.out = append(p.out, names[i])
			}
		}
	}
	p.str("]")

	var thseq, thack uint32
	rev := false
	if flags&0x10 != 0 {
		thseq, thack, rev = p.tcpRelative(iph, v6, sport, dport, flags, &seq, &ack)
	}
	if hlen > length {
		p.str(" [bad hdr length ")
		p.uint(uint64(hlen))
		p.str(" - too long, > ")
		p.uint(uint64(length))
		p.str("]")
		return
	}
	length -= hlen
	if length > 0 || flags&0x07 != 0 {
		p.str(", seq ")
		p.uint(uint64(seq))
		if length > 0 {
			p.str(":")
			p.uint(uint64(seq + uint32(length)))
		}
	}
	if flags&0x10 != 0 {
		p.str(", ack ")
		p.uint(uint64(ack))
	}
	p.str(", win ")
	p.uint(uint64(win))
	if flags&0x20 != 0 {
		p.str(", urg ")
		p.uint(uint64(urp))
	}
	if hlen > 20 {
		if !p.tcpOptions(off+20, hlen-20, rev, thseq, thack, off+hlen, length) {
			return
		}
	}
	p.str(", length ")
	p.uint(uint64(length))
	if length == 0 {
		return
	}
	if !p.ttest(off, hlen) {
		p.str(" [remaining caplen(")
		p.uint(uint64(p.avail(off)))
		p.str(") < header length(")
		p.uint(uint64(hlen))
		p.str(")]")
		p.trunc()
	}
	// Payloads on well-known ports go to tcpdump's application printers,
	// which are not ours.
}

// tcpRelative is tcpdump's conversation table: the first segment with ACK
// set (or any SYN) records the initial numbers, later ones are printed
// relative to them. Without a Tcpdump the table is empty every time.
func (p *tdPrinter) tcpRelative(iph int, v6 bool, sport, dport uint16, flags uint8, seq, ack *uint32) (thseq, thack uint32, rev bool) {
	var src, dst []byte
	if v6 {
		src, dst = p.pkt[iph+8:iph+24], p.pkt[iph+24:iph+40]
	} else {
		src, dst = p.pkt[iph+12:iph+16], p.pkt[iph+16:iph+20]
	}
	if sport > dport {
		rev = true
	} else if sport == dport {
		for i := range src {
			if src[i] != dst[i] {
				rev = src[i] > dst[i]
				break
			}
		}
	}
	ports := uint32(sport)<<16 | uint32(dport)
	if rev {
		src, dst = dst, src
		ports = uint32(dport)<<16 | uint32(sport)
	}
	var e tcpConvSeq
	found := false
	d := p.conv
	var k4 tcpConv4Key
	var k6 tcpConv6Key
	if v6 {
		k6 = tcpConv6Key{src: [16]byte(src), dst: [16]byte(dst), ports: ports}
		if d != nil {
			e, found = d.conv6[k6]
		}
	} else {
		k4 = tcpConv4Key{src: [4]byte(src), dst: [4]byte(dst), ports: ports}
		if d != nil {
			e, found = d.conv4[k4]
		}
	}
	if !found || flags&0x02 != 0 {
		if rev {
			e = tcpConvSeq{seq: *ack - 1, ack: *seq}
		} else {
			e = tcpConvSeq{seq: *seq, ack: *ack - 1}
		}
		if d != nil {
			d.store(v6, k4, k6, e)
		}
	} else if rev {
		*seq -= e.ack
		*ack -= e.seq
	} else {
		*seq -= e.seq
		*ack -= e.ack
	}
	return e.seq, e.ack, rev
}

func (d *Tcpdump) store(v6 bool, k4 tcpConv4Key, k6 tcpConv6Key, e tcpConvSeq) {
	if len(d.conv4)+len(d.conv6) >= tcpdumpMaxConversations {
		clear(d.conv4)
		clear(d.conv6)
	}
	if v6 {
		if d.conv6 == nil {
			d.conv6 = make(map[tcpConv6Key]tcpConvSeq)
		}
		d.conv6[k6] = e
		return
	}
	if d.conv4 == nil {
		d.conv4 = make(map[tcpConv4Key]tcpConvSeq)
	}
	d.conv4[k4] = e
}

var tcpOptionNames = map[uint8]string{
	0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo",
	7: "echoreply", 8: "TS", 11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps",
	28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo", 254: "exp",
}

// tcpOptions prints the options list and reports whether the caller goes on
// (tcpdump returns early after a bad option).
func (p *tdPrinter) tcpOptions(cp, hlen int, rev bool, thseq, thack uint32, dataOff, dataLen int) (ok bool) {
	var ch byte
	local := false
	// tcpdump's LENCHECK jumps to a local label that prints the marker and,
	// inside the list, a '>' instead of the closing bracket.
	defer func() {
		if r := recover(); r != nil {
			if _, isTrunc := r.(truncPanic); !isTrunc || !local {
				panic(r)
			}
			p.truncMark()
			if ch != 0 {
				p.str(">")
			}
			ok = false
		}
	}()
	bad := func() bool {
		p.str("[bad opt]")
		if ch != 0 {
			p.str("]")
		}
		return false
	}
	p.str(", options [")
	for hlen > 0 {
		if ch != 0 {
			p.out = append(p.out, ch)
		}
		opt := p.u8(cp)
		cp++
		var olen int
		if opt == 0 || opt == 1 {
			olen = 1
		} else {
			olen = int(p.u8(cp))
			cp++
			if olen < 2 || olen > hlen {
				return bad()
			}
			hlen--
		}
		hlen--
		datalen := 0
		lencheck := func(l int) bool {
			if l > hlen {
				return false
			}
			if !p.ttest(cp, l) {
				local = true
				p.trunc()
			}
			return true
		}
		if n, ok := tcpOptionNames[opt]; ok {
			p.str(n)
		} else {
			p.str("unknown-")
			p.uint(uint64(opt))
		}
		switch opt {
		case 2:
			datalen = 2
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" ")
			p.uint(uint64(p.be16(cp)))
		case 3:
			datalen = 1
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" ")
			p.uint(uint64(p.u8(cp)))
		case 5:
			datalen = olen - 2
			if datalen%8 != 0 {
				p.str(" invalid sack")
			} else {
				p.str(" ")
				p.uint(uint64(datalen / 8))
				p.str(" ")
				for i := 0; i < datalen; i += 8 {
					if !lencheck(i + 4) {
						return bad()
					}
					s := p.be32(cp + i)
					if !lencheck(i + 8) {
						return bad()
					}
					e := p.be32(cp + i + 4)
					if rev {
						s -= thseq
						e -= thseq
					} else {
						s -= thack
						e -= thack
					}
					p.str("{")
					p.uint(uint64(s))
					p.str(":")
					p.uint(uint64(e))
					p.str("}")
				}
			}
		case 11, 12, 13, 6, 7:
			datalen = 4
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" ")
			p.uint(uint64(p.be32(cp)))
		case 8:
			datalen = 8
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" val ")
			p.uint(uint64(p.be32(cp)))
			p.str(" ecr ")
			p.uint(uint64(p.be32(cp + 4)))
		case 19:
			// The signature is checked against a secret tcpdump may have
			// been given; without one it prints "can't check - " and the
			// hex digits.
			datalen = 16
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" ")
			if dataOff+dataLen > p.end {
				p.str("snaplen too short, ")
			} else {
				p.str("shared secret not supplied with -M, ")
			}
			p.str("can't check - ")
			for i := 0; i < 16; i++ {
				p.hex(uint64(p.u8(cp+i)), 2)
			}
		case 20:
			datalen = 2
			if !lencheck(datalen) {
				return bad()
			}
			p.str(" cap ")
			p.hex(uint64(p.u8(cp)), 2)
			p.str(" id ")
			p.uint(uint64(p.u8(cp + 1)))
		case 29:
			datalen = olen - 2
			if datalen < 2 {
				p.str(" (invalid)")
			} else {
				if !lencheck(1) {
					return bad()
				}
				p.str(" keyid ")
				p.uint(uint64(p.u8(cp)))
				if !lencheck(2) {
					return bad()
				}
				p.str(" rnextkeyid ")
				p.uint(uint64(p.u8(cp + 1)))
				if datalen > 2 {
					p.str(" mac 0x")
					for i := 2; i < datalen; i++ {
						if !lencheck(i + 1) {
							return bad()
						}
						p.hex(uint64(p.u8(cp+i)), 2)
					}
				}
			}
		case 0, 1, 4:
		case 28:
			datalen = 2
			if !lencheck(datalen) {
				return bad()
			}
			uto := uint32(p.be16(cp))
			p.str(" 0x")
			p.hex(uint64(uto), 0)
			if uto&1 != 0 {
				uto = (uto >> 1) * 60
			} else {
				uto >>= 1
			}
			p.str(" ")
			p.uint(uint64(uto))
		case 30, 34, 254:
			// MPTCP and TCP Fast Open have printers of their own, which
			// are not ours: the line stops at the option's name.
			return false
		default:
			datalen = olen - 2
			if datalen != 0 {
				p.str(" 0x")
			}
			for i := 0; i < datalen; i++ {
				if !lencheck(i + 1) {
					return bad()
				}
				p.hex(uint64(p.u8(cp+i)), 2)
			}
		}
		cp += datalen
		hlen -= datalen
		datalen++
		if opt != 0 && opt != 1 {
			datalen++
		}
		if datalen != olen {
			p.str("[len ")
			p.uint(uint64(olen))
			p.str("]")
		}
		ch = ','
		if opt == 0 {
			break
		}
	}
	p.str("]")
	return true
}

// IPv6 (print-ip6.c, print-ip6opts.c, print-frag6.c).

func (p *tdPrinter) ip6(off, length int) {
	p.proto = "ip6"
	if !p.ttest(off, 40) {
		p.truncMark()
		return
	}
	if length < 40 {
		p.str("truncated-ip6 ")
		p.uint(uint64(length))
		return
	}
	if v := p.u8(off) >> 4; v != 6 {
		p.str("version error: ")
		p.uint(uint64(v))
		p.str(" != 6")
		return
	}
	payloadLen := int(p.be16(off + 4))
	var total int
	if payloadLen != 0 {
		total = payloadLen + 40
		if length < total {
			p.str("truncated-ip6 - ")
			p.uint(uint64(total - length))
			p.str(" bytes missing!")
		}
	} else {
		total = length + 40
	}
	nh := p.u8(off + 6)
	ph := uint8(255)
	old := p.pushSnap(off, total)
	defer func() { p.end = old }()
	cp := off
	advance := 40
	foundExt, foundHBH, fragmented := false, false, false
	rem := total
	for cp < p.end && advance > 0 {
		if rem < advance {
			p.truncMark()
			return
		}
		cp += advance
		rem -= advance
		if cp == off+40 && nh != 6 && nh != 17 && nh != 33 && nh != 132 {
			p.ipv6(off + 8)
			p.str(" > ")
			p.ipv6(off + 24)
			p.str(": ")
		}
		switch nh {
		case 0: // hop-by-hop options
			if foundHBH {
				p.str("[The Hop-by-Hop Options header was already found] (invalid)")
				return
			}
			if ph != 255 {
				p.str("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)")
				return
			}
			p.proto = "hbhopt"
			hl := (int(p.u8(cp+1)) + 1) << 3
			if !p.ttest(cp, hl) {
				p.truncMark()
				advance = -1
			} else {
				p.str("HBH ")
				if !p.ip6Options(cp+2, hl-2) {
					p.truncMark()
					advance = -1
				} else {
					advance = hl
				}
			}
			if payloadLen == 0 {
				// A zero payload length needs a valid Jumbo Payload
				// option, which Ethernet cannot carry anyway.
				p.str("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)")
				return
			}
			if advance < 0 {
				return
			}
			foundExt, foundHBH = true, true
			nh = p.u8(cp)
		case 60: // destination options
			p.proto = "dstopt"
			hl := (int(p.u8(cp+1)) + 1) << 3
			if !p.ttest(cp, hl) {
				p.truncMark()
				return
			}
			p.str("DSTOPT ")
			advance = hl
			foundExt = true
			nh = p.u8(cp)
		case 44: // fragment
			p.proto = "frag6"
			offlg := p.be16(cp + 2)
			fragLen := uint64(int64(40 + int(p.be16(off+4)) - (cp - off) - 8))
			p.str("frag (")
			p.uint(uint64(offlg & 0xfff8))
			p.str("|")
			p.uint(fragLen)
			p.str(")")
			if offlg&0xfff8 != 0 {
				return
			}
			p.str(" ")
			advance = 8
			if p.end <= cp+advance {
				return
			}
			foundExt = true
			nh = p.u8(cp)
			fragmented = true
		case 135, 62, 43:
			// Mobility and routing headers have printers we do not have.
			return
		default:
			plen := rem
			if payloadLen == 0 {
				if foundExt {
					p.truncMark()
					return
				}
				plen = 0
				p.end = min(p.end, off+40)
			}
			p.ipDemux(cp, plen, 6, fragmented, nh, off)
			return
		}
		ph = nh
		p.proto = "ip6"
	}
}

// ip6Options is ip6_opt_process without -v: it prints only problems and
// reports false where tcpdump gives up on the header as truncated.
func (p *tdPrinter) ip6Options(off, n int) bool {
	for i, olen := 0, 0; i < n; i += olen {
		t := p.u8(off + i)
		if t == 0 {
			olen = 1
		} else {
			if i+1 >= n {
				return false
			}
			olen = int(p.u8(off+i+1)) + 2
		}
		if i+olen > n {
			return false
		}
		switch t {
		case 0:
		case 1:
			if n-i < 2 {
				p.str("(padn: trunc)")
				return false
			}
		case 5:
			if n-i < 4 {
				p.str("(rtalert: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l != 2 {
				p.str("(rtalert: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		case 0xc2:
			if n-i < 6 {
				p.str("(jumbo: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l != 4 {
				p.str("(jumbo: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		case 0xc9:
			if n-i < 18 {
				p.str("(homeaddr: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l < 16 {
				p.str("(homeaddr: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		default:
			if n-i < 2 {
				p.str("(type ")
				p.uint(uint64(t))
				p.str(": trunc)")
				return false
			}
		}
	}
	return true
}

// ICMPv6 (print-icmp6.c), without -v.

var icmp6TypeNames = map[uint8]string{
	1: "destination unreachable", 2: "packet too big", 3: "time exceeded in-transit",
	4: "parameter problem", 128: "echo request", 129: "echo reply",
	130: "multicast listener query", 131: "multicast listener report",
	132: "multicast listener done", 133: "router solicitation", 134: "router advertisement",
	135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
	138: "router renumbering", 141: "inverse neighbor solicitation",
	142: "inverse neighbor advertisement", 143: "multicast listener report v2",
	144: "ha discovery request", 145: "ha discovery reply", 146: "mobile router solicitation",
	147: "mobile router advertisement", 139: "who-are-you request", 140: "who-are-you reply",
	201: "mtrace message", 200: "mtrace response", 155: "RPL",
}

func (p *tdPrinter) icmp6(off, length int, fragmented bool) {
	p.proto = "icmp6"
	if length == 0 {
		p.str("ICMP6, length 0 (invalid)")
		return
	}
	typ := p.u8(off)
	p.str("ICMP6, ")
	if n, ok := icmp6TypeNames[typ]; ok {
		p.str(n)
	} else {
		p.str("unknown icmp6 type (")
		p.uint(uint64(typ))
		p.str(")")
	}
	code := p.u8(off + 1)
	oip := off + 8
	switch typ {
	case 1:
		p.str(", ")
		switch code {
		case 0:
			p.str("unreachable route")
		case 1:
			p.str(" unreachable prohibited")
		case 2:
			p.str("beyond scope")
		case 3:
			p.str("unreachable address")
		case 4:
			p.str("unreachable port")
		default:
			p.str("unknown unreach code (")
			p.uint(uint64(code))
			p.str(")")
		}
		switch code {
		case 0, 1, 3:
			p.check(oip+24, 16)
			p.str(" ")
			p.ipv6(oip + 24)
		case 2:
			p.check(oip+8, 32)
			p.str(" ")
			p.ipv6(oip + 24)
			p.str(", source address ")
			p.ipv6(oip + 8)
		case 4:
			uh, prot, ok := p.upperLayer6(oip)
			if !ok {
				p.truncMark()
				return
			}
			dport := p.be16(uh + 2)
			p.check(oip+24, 16)
			p.str(", ")
			p.ipv6(oip + 24)
			switch prot {
			case 6:
				p.str(" tcp port ")
				p.uint(uint64(dport))
			case 17:
				p.str(" udp port ")
				p.uint(uint64(dport))
			default:
				p.str(" protocol ")
				p.uint(uint64(prot))
				p.str(" port ")
				p.uint(uint64(dport))
				p.str(" unreachable")
			}
		default:
			p.unknownData(off, length)
			return
		}
	case 2:
		mtu := p.be32(off + 4)
		p.str(", mtu ")
		p.uint(uint64(mtu))
	case 3:
		switch code {
		case 0:
			p.check(oip+24, 16)
			p.str(" for ")
			p.ipv6(oip + 24)
		case 1:
			p.str(" (reassembly)")
		default:
			p.str(", unknown code (")
			p.uint(uint64(code))
			p.str(")")
		}
	case 4:
		if !p.ttest(oip+24, 16) {
			p.truncMark()
			return
		}
		switch code {
		case 0:
			p.str(", erroneous - octet ")
		case 1:
			p.str(", next header - octet ")
		case 2:
			p.str(", option - octet ")
		case 3:
			p.str(", incomplete header chain - octet ")
		default:
			p.str(", code-#")
			p.uint(uint64(code))
		}
		if code <= 3 {
			p.uint(uint64(p.be32(off + 4)))
		}
	case 128, 129:
		p.check(off+4, 4)
		p.str(", id ")
		p.uint(uint64(p.be16(off + 4)))
		p.str(", seq ")
		p.uint(uint64(p.be16(off + 6)))
	case 130:
		switch {
		case length == 24:
			p.mld6(off)
		case length >= 28:
			p.str(" v2")
			p.check(off+4, 2)
			p.check(off+8, 16)
			p.str(" [gaddr ")
			p.ipv6(off + 8)
			if n := p.be16(off + 26); n > 0 {
				if length < 28+int(n)*16 {
					p.str(" [invalid number of sources]")
				} else {
					p.str(", ")
					p.uint(uint64(n))
					p.str(" source(s)")
				}
			}
			p.str("]")
		default:
			p.str(" unknown-version (len ")
			p.uint(uint64(length))
			p.str(") ")
		}
	case 131, 132:
		p.mld6(off)
	case 133, 134, 141, 142:
	case 135:
		p.check(off+8, 16)
		p.str(", who has ")
		p.ipv6(off + 8)
	case 136:
		p.check(off+8, 16)
		p.str(", tgt is ")
		p.ipv6(off + 8)
	case 137:
		p.check(off+24, 16)
		p.str(", ")
		p.ipv6(off + 24)
		p.check(off+8, 16)
		p.str(" to ")
		p.ipv6(off + 8)
	case 143:
		if length < 8 {
			p.str(" [invalid len ")
			p.uint(uint64(length))
			p.str("]")
		} else {
			n := p.be16(off + 6)
			p.str(", ")
			p.uint(uint64(n))
			p.str(" group record(s)")
		}
	case 146, 144:
		id := p.be16(off + 4)
		p.str(", id 0x")
		p.hex(uint64(id), 4)
	case 145, 147:
	case 138, 139, 140, 155:
		// Router renumbering, node information and RPL have printers
		// of their own; not ours.
		return
	default:
		p.str(", length ")
		p.uint(uint64(length))
		p.unknownData(off, length)
		return
	}
	p.str(", length ")
	p.uint(uint64(length))
}

// mld6 is mld6_print: nothing at all when the message was not captured whole.
func (p *tdPrinter) mld6(off int) {
	if off+24 > p.end {
		return
	}
	p.str("max resp delay: ")
	p.uint(uint64(p.be16(off + 4)))
	p.str(" addr: ")
	p.ipv6(off + 8)
}

// upperLayer6 is get_upperlayer: it walks the quoted IPv6 header's
// extension headers to the UDP or TCP header and returns its offset.
func (p *tdPrinter) upperLayer6(ip6 int) (off int, prot uint8, ok bool) {
	if !p.ttest(ip6+6, 1) {
		return 0, 0, false
	}
	nh := p.u8(ip6 + 6)
	hlen := 40
	bp := ip6
	for bp < p.end {
		bp += hlen
		switch nh {
		case 6, 17:
			if p.ttest(bp+2, 2) {
				return bp, nh, true
			}
			return 0, 0, false
		case 0, 60, 43:
			if !p.ttest(bp+1, 1) {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = (int(p.u8(bp+1)) + 1) << 3
		case 44:
			if !p.ttest(bp+2, 2) {
				return 0, 0, false
			}
			if p.be16(bp+2)&0xfff8 != 0 {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = 8
		case 51:
			if !p.ttest(bp+1, 1) {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = (int(p.u8(bp+1)) + 2) << 2
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}
