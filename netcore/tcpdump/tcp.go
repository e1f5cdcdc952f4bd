package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// TCP (print-tcp.c).

// TCP header layout (RFC 9293) and flags.
const (
	tcpSrcPortOff = 0
	tcpDstPortOff = 2
	tcpSeqOff     = 4
	tcpAckOff     = 8
	tcpDataOffOff = 12
	tcpFlagsOff   = 13
	tcpWindowOff  = 14
	tcpUrgentOff  = 18
	tcpMinLen     = 20

	tcpFlagSYN  = 0x02
	tcpFlagACK  = 0x10
	tcpFlagURG  = 0x20
	tcpFlagsFSR = 0x07 // FIN, SYN, RST: they take a sequence number
)

func (p *printer) tcp(off, length, iph int, fragmented bool) {
	p.proto = "tcp"
	v6 := p.isIPv6(iph)
	if !p.ttest(off+tcpDstPortOff, 2) {
		p.ipAddrs(iph)
		p.str(":")
		p.truncMark()
		return
	}
	sport := p.be16(off + tcpSrcPortOff)
	dport := p.be16(off + tcpDstPortOff)
	p.portAddrs(iph, protoTCP, sport, dport)
	if !p.ttest(off, tcpMinLen) {
		p.truncMark()
		return
	}
	hlen := int(p.u8(off+tcpDataOffOff)>>4) * 4
	if hlen < tcpMinLen {
		p.field(" tcp ", uint64(uint32(length-hlen)))
		p.field(" [bad hdr length ", uint64(hlen))
		p.str(" - too short, < 20]")
		return
	}
	seq := p.be32(off + tcpSeqOff)
	ack := p.be32(off + tcpAckOff)
	win := p.be16(off + tcpWindowOff)
	urp := p.be16(off + tcpUrgentOff)
	flags := p.u8(off + tcpFlagsOff)
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
	if flags&tcpFlagACK != 0 {
		thseq, thack, rev = p.tcpRelative(iph, v6, sport, dport, flags, &seq, &ack)
	}
	if hlen > length {
		p.field(" [bad hdr length ", uint64(hlen))
		p.field(" - too long, > ", uint64(length))
		p.str("]")
		return
	}
	length -= hlen
	if length > 0 || flags&tcpFlagsFSR != 0 {
		p.field(", seq ", uint64(seq))
		if length > 0 {
			p.field(":", uint64(seq+uint32(length)))
		}
	}
	if flags&tcpFlagACK != 0 {
		p.field(", ack ", uint64(ack))
	}
	p.field(", win ", uint64(win))
	if flags&tcpFlagURG != 0 {
		p.field(", urg ", uint64(urp))
	}
	if hlen > tcpMinLen {
		if !p.tcpOptions(off+tcpMinLen, hlen-tcpMinLen, rev, thseq, thack, off+hlen, length) {
			return
		}
	}
	p.field(", length ", uint64(length))
	if length == 0 {
		return
	}
	p.headerCut(off, hlen)
	// Payloads on well-known ports go to tcpdump's application printers,
	// which are not ours.
}

// tcpRelative is tcpdump's conversation table: the first segment with ACK
// set (or any SYN) records the initial numbers, later ones are printed
// relative to them. Without a Stream the table is empty every time.
func (p *printer) tcpRelative(iph int, v6 bool, sport, dport uint16, flags uint8, seq, ack *uint32) (thseq, thack uint32, rev bool) {
	var src, dst []byte
	if v6 {
		src, dst = p.pkt[iph+ip6SrcOff:][:16], p.pkt[iph+ip6DstOff:][:16]
	} else {
		src, dst = p.pkt[iph+wire.IPv4SrcOff:][:4], p.pkt[iph+wire.IPv4DstOff:][:4]
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
	if !found || flags&tcpFlagSYN != 0 {
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

var tcpOptionNames = map[uint8]string{
	0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo",
	7: "echoreply", 8: "TS", 11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps",
	28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo", 254: "exp",
}

// tcpOptionLen is the data length of the options whose length is fixed.
var tcpOptionLen = map[uint8]int{2: 2, 3: 1, 6: 4, 7: 4, 8: 8, 11: 4, 12: 4, 13: 4, 19: 16, 20: 2, 28: 2}

// tcpOptions prints the options list and reports whether the caller goes on
// (tcpdump returns early after a bad option).
func (p *printer) tcpOptions(cp, hlen int, rev bool, thseq, thack uint32, dataOff, dataLen int) (ok bool) {
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
		printName(p, tcpOptionNames, opt, "unknown-", "")
		if n, fixed := tcpOptionLen[opt]; fixed {
			datalen = n
			if !lencheck(datalen) {
				return bad()
			}
		}
		switch opt {
		case 2:
			p.field(" ", uint64(p.be16(cp)))
		case 3:
			p.field(" ", uint64(p.u8(cp)))
		case 5:
			datalen = olen - 2
			if datalen%8 != 0 {
				p.str(" invalid sack")
			} else {
				p.field(" ", uint64(datalen/8))
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
					p.field("{", uint64(s))
					p.field(":", uint64(e))
					p.str("}")
				}
			}
		case 11, 12, 13, 6, 7:
			p.field(" ", uint64(p.be32(cp)))
		case 8:
			p.field(" val ", uint64(p.be32(cp)))
			p.field(" ecr ", uint64(p.be32(cp+4)))
		case 19:
			// The signature is checked against a secret tcpdump may have
			// been given; without one it prints "can't check - " and the
			// hex digits.
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
			p.str(" cap ")
			p.hex(uint64(p.u8(cp)), 2)
			p.field(" id ", uint64(p.u8(cp+1)))
		case 29:
			datalen = olen - 2
			if datalen < 2 {
				p.str(" (invalid)")
			} else {
				if !lencheck(1) {
					return bad()
				}
				p.field(" keyid ", uint64(p.u8(cp)))
				if !lencheck(2) {
					return bad()
				}
				p.field(" rnextkeyid ", uint64(p.u8(cp+1)))
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
			uto := uint32(p.be16(cp))
			p.str(" 0x")
			p.hex(uint64(uto), 0)
			if uto&1 != 0 {
				uto = (uto >> 1) * 60
			} else {
				uto >>= 1
			}
			p.field(" ", uint64(uto))
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
			p.field("[len ", uint64(olen))
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

func (d *Stream) store(v6 bool, k4 tcpConv4Key, k6 tcpConv6Key, e tcpConvSeq) {
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
