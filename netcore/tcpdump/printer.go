package tcpdump

import (
	"encoding/binary"
	"strconv"

	"github.com/smolfs/smolfs/netcore/wire"
)

// truncPanic is tcpdump's longjmp on running off the captured data.
type truncPanic struct{}

// printer is one line being rendered: tcpdump's netdissect_options, the
// part of it that the printers we have use.
type printer struct {
	out   []byte
	pkt   []byte // the captured bytes
	end   int    // tcpdump's snapend: bytes at or past it count as not captured
	cut   int    // where the first line ends, once a continuation line started
	proto string // tcpdump's ndo_protocol, named in the truncation marker
	conv  *Stream
}

// run prints the frame from the Ethernet header on, and the truncation
// marker where a printer ran off the captured data.
func (p *printer) run(length, caplen int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(truncPanic); !ok {
				panic(r)
			}
			p.truncMark()
		}
	}()
	p.ether(0, length, caplen)
}

// Output helpers.

func (p *printer) str(s string) { p.out = append(p.out, s...) }

func (p *printer) uint(v uint64) { p.out = strconv.AppendUint(p.out, v, 10) }

// field prints a label and a number, the most common shape of a field.
func (p *printer) field(label string, v uint64) {
	p.str(label)
	p.uint(v)
}

// hexParen prints " (0x" v ")", v in hex of at least width digits.
func (p *printer) hexParen(v uint64, width int) {
	p.str(" (0x")
	p.hex(v, width)
	p.str(")")
}

// nameOr is the name of k, or unknown.
func nameOr[K comparable](names map[K]string, k K, unknown string) string {
	if n, ok := names[k]; ok {
		return n
	}
	return unknown
}

// printName prints the name of k, or for a k that names does not hold,
// before, k in decimal, after.
func printName[K ~uint8 | ~uint16](p *printer, names map[K]string, k K, before, after string) {
	if n, ok := names[k]; ok {
		p.str(n)
		return
	}
	p.field(before, uint64(k))
	p.str(after)
}

func (p *printer) hex(v uint64, width int) {
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
func (p *printer) newline() {
	if p.cut < 0 {
		p.cut = len(p.out)
	}
}

// truncMark prints tcpdump's truncation marker and carries on, as
// nd_print_trunc does when a printer returns instead of jumping.
func (p *printer) truncMark() {
	p.str(" [|")
	p.str(p.proto)
	p.str("]")
}

// padded prints sep and v in decimal with leading zeros to width digits.
func (p *printer) padded(sep string, v uint32, width int) {
	p.str(sep)
	p.out = appendZeroPadded(p.out, v, width)
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

func (p *printer) trunc() { panic(truncPanic{}) }

func (p *printer) ttest(off, n int) bool { return off >= 0 && n >= 0 && off+n <= p.end }

func (p *printer) avail(off int) int {
	if off >= p.end {
		return 0
	}
	return p.end - off
}

func (p *printer) u8(off int) uint8 {
	p.check(off, 1)
	return p.pkt[off]
}

func (p *printer) be16(off int) uint16 {
	p.check(off, 2)
	return binary.BigEndian.Uint16(p.pkt[off:])
}

func (p *printer) be32(off int) uint32 {
	p.check(off, 4)
	return binary.BigEndian.Uint32(p.pkt[off:])
}

func (p *printer) check(off, n int) {
	if !p.ttest(off, n) {
		p.trunc()
	}
}

// pushSnap is nd_push_snaplen: it shortens the captured data to n bytes
// from off if that is shorter. It returns the old end for popSnap.
func (p *printer) pushSnap(off, n int) int {
	old := p.end
	if n <= old-off {
		p.end = off + n
	}
	return old
}

// defaultPrint is tcpdump's hex dump of n undecoded bytes from off: it starts
// a continuation line, and when fewer bytes were captured it ends the frame
// as truncated (tcpdump puts that marker after the dump).
func (p *printer) defaultPrint(off, n int) {
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

// truncDump is the truncation marker and then the dump of what is left, as
// tcpdump's printers do for a header cut short.
func (p *printer) truncDump(off, caplen int) {
	p.truncMark()
	p.defaultPrint(off, caplen)
}

// unknownData is print_unknown_data: a hex dump of what was captured.
func (p *printer) unknownData(off, n int) {
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

func (p *printer) mac(off int) {
	p.check(off, 6)
	p.out = wire.MAC(p.pkt[off : off+6]).AppendTo(p.out)
}

func (p *printer) ipv4(off int) {
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
func (p *printer) ipv6(off int) {
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

// The IP headers of either version, for the transport printers: iph is the
// offset of the IPv4 or IPv6 header that carries them.

// isIPv6 reports whether the header at iph is IPv6.
func (p *printer) isIPv6(iph int) bool { return p.u8(iph)>>4 == 6 }

// nextHeader is the protocol (IPv4) or next header (IPv6) field at iph.
func (p *printer) nextHeader(iph int) uint8 {
	if p.isIPv6(iph) {
		return p.u8(iph + ip6NextHeaderOff)
	}
	return p.u8(iph + wire.IPv4ProtoOff)
}

// ipAddr prints the source or the destination address of the header at iph.
func (p *printer) ipAddr(iph int, dst bool) {
	switch {
	case p.isIPv6(iph) && dst:
		p.ipv6(iph + ip6DstOff)
	case p.isIPv6(iph):
		p.ipv6(iph + ip6SrcOff)
	case dst:
		p.ipv4(iph + wire.IPv4DstOff)
	default:
		p.ipv4(iph + wire.IPv4SrcOff)
	}
}

// ipAddrs prints "src > dst".
func (p *printer) ipAddrs(iph int) {
	p.ipAddr(iph, false)
	p.str(" > ")
	p.ipAddr(iph, true)
}

// portAddrs prints "src.sport > dst.dport: " when the next header of the IP
// header is proto, or "sport > dport: " when the transport header is not
// the IP header's direct payload.
func (p *printer) portAddrs(iph int, proto uint8, sport, dport uint16) {
	direct := p.nextHeader(iph) == proto
	if direct {
		p.ipAddr(iph, false)
		p.str(".")
	}
	p.uint(uint64(sport))
	p.str(" > ")
	if direct {
		p.ipAddr(iph, true)
		p.str(".")
	}
	p.uint(uint64(dport))
	p.str(": ")
}

// headerCut ends the frame when the header of hlen bytes at off was not
// captured whole, as tcpdump's ND_TCHECK_LEN with its note does.
func (p *printer) headerCut(off, hlen int) {
	if !p.ttest(off, hlen) {
		p.field(" [remaining caplen(", uint64(p.avail(off)))
		p.field(") < header length(", uint64(hlen))
		p.str(")]")
		p.trunc()
	}
}
