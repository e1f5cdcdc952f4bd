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
	if !p.ttest(off, 1) {
		p.trunc()
	}
	return p.pkt[off]
}

func (p *printer) be16(off int) uint16 {
	if !p.ttest(off, 2) {
		p.trunc()
	}
	return binary.BigEndian.Uint16(p.pkt[off:])
}

func (p *printer) be32(off int) uint32 {
	if !p.ttest(off, 4) {
		p.trunc()
	}
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

func (p *printer) ipAddrs(iph int) {
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
func (p *printer) portAddrs(iph int, proto uint8, sport, dport uint16) {
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
