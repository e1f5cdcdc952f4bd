package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// TCP header layout (RFC 9293 section 3.1).
const (
	TCPSrcPortOff  = 0
	TCPDstPortOff  = 2
	TCPSeqOff      = 4
	TCPAckOff      = 8
	TCPDataOffOff  = 12 // data offset in the high 4 bits
	TCPFlagsOff    = 13
	TCPWindowOff   = 14
	TCPChecksumOff = 16
	TCPUrgentOff   = 18
	TCPMinLen      = 20
	TCPMaxLen      = 60 // data offset is 4 bits of 32-bit words
)

// TCP option kinds (IANA "TCP Option Kind Numbers").
const (
	TCPOptEnd           = 0
	TCPOptNOP           = 1
	TCPOptMSS           = 2 // RFC 9293
	TCPOptWindowScale   = 3 // RFC 7323
	TCPOptSACKPermitted = 4 // RFC 2018
	TCPOptSACK          = 5 // RFC 2018
	TCPOptTimestamps    = 8 // RFC 7323

	tcpOptMSSLen    = 4
	tcpOptWSLen     = 3
	tcpOptSACKPLen  = 2
	tcpOptTSLen     = 10
	tcpSACKBlockLen = 8

	// TCPMaxSACKBlocks is how many SACK blocks fit beside nothing else in 40
	// option bytes; beside timestamps (12 bytes with padding) only 3 fit.
	TCPMaxSACKBlocks = 4
	// TCPMaxWindowScale is RFC 7323's largest shift; a larger one is used as 14.
	TCPMaxWindowScale = 14
)

// TCPFlags are the control bits of byte 13.
type TCPFlags uint8

// The control bits.
const (
	TCPFlagFIN TCPFlags = 1 << iota
	TCPFlagSYN
	TCPFlagRST
	TCPFlagPSH
	TCPFlagACK
	TCPFlagURG
	TCPFlagECE
	TCPFlagCWR
)

// String gives the flags as tcpdump's letters (S, F, R, P, ., U, E, W).
func (f TCPFlags) String() string {
	var b [8]byte
	n := 0
	for _, x := range [...]struct {
		f TCPFlags
		c byte
	}{{TCPFlagSYN, 'S'}, {TCPFlagFIN, 'F'}, {TCPFlagRST, 'R'}, {TCPFlagPSH, 'P'}, {TCPFlagURG, 'U'}, {TCPFlagECE, 'E'}, {TCPFlagCWR, 'W'}, {TCPFlagACK, '.'}} {
		if f&x.f != 0 {
			b[n] = x.c
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}

// Errors of the TCP checked view and the option parser.
var (
	ErrTCPDataOffset = errors.New("bad TCP data offset")
	ErrTCPOption     = errors.New("malformed TCP option")
	ErrTCPChecksum   = errors.New("bad TCP checksum")
)

// TCPSegment is a view over a TCP header and its payload.
type TCPSegment []byte

// NewTCPSegment checks that b holds a whole header: 20 bytes, a data offset
// of at least 5 words, and no more than len(b). It does not verify the
// checksum (VerifyChecksum needs the addresses) nor parse the options.
func NewTCPSegment(b []byte) (TCPSegment, error) {
	if len(b) < TCPMinLen {
		return nil, ErrTruncated
	}
	s := TCPSegment(b)
	hl := s.HeaderLen()
	if hl < TCPMinLen {
		return nil, ErrTCPDataOffset
	}
	if hl > len(b) {
		return nil, ErrTruncated
	}
	return s, nil
}

// SrcPort is the source port.
func (s TCPSegment) SrcPort() uint16 { return binary.BigEndian.Uint16(s[TCPSrcPortOff:]) }

// DstPort is the destination port.
func (s TCPSegment) DstPort() uint16 { return binary.BigEndian.Uint16(s[TCPDstPortOff:]) }

// Seq is the sequence number.
func (s TCPSegment) Seq() uint32 { return binary.BigEndian.Uint32(s[TCPSeqOff:]) }

// Ack is the acknowledgment number (meaningful with the ACK flag).
func (s TCPSegment) Ack() uint32 { return binary.BigEndian.Uint32(s[TCPAckOff:]) }

// HeaderLen is the data offset in bytes.
func (s TCPSegment) HeaderLen() int { return int(s[TCPDataOffOff]>>4) * 4 }

// Flags are the control bits.
func (s TCPSegment) Flags() TCPFlags { return TCPFlags(s[TCPFlagsOff]) }

// Window is the unscaled window field.
func (s TCPSegment) Window() uint16 { return binary.BigEndian.Uint16(s[TCPWindowOff:]) }

// Checksum is the checksum field.
func (s TCPSegment) Checksum() uint16 { return binary.BigEndian.Uint16(s[TCPChecksumOff:]) }

// Urgent is the urgent pointer field.
func (s TCPSegment) Urgent() uint16 { return binary.BigEndian.Uint16(s[TCPUrgentOff:]) }

// Options are the option bytes between the fixed header and the payload.
func (s TCPSegment) Options() []byte { return s[TCPMinLen:s.HeaderLen()] }

// Payload is what follows the header.
func (s TCPSegment) Payload() []byte { return s[s.HeaderLen():] }

// VerifyChecksum checks the checksum over the pseudo-header of src and dst
// (both IPv4 or both IPv6) and the whole segment.
func (s TCPSegment) VerifyChecksum(src, dst netip.Addr) bool {
	return ChecksumFinish(ChecksumAdd(TCPPseudoHeaderSum(src, dst, len(s)), s)) == 0
}

// TCPSACKBlock is one SACK block: the octets [Start, End) were received.
type TCPSACKBlock struct{ Start, End uint32 }

// TCPOptions are the options TCP acts on. Has* says the option was present;
// an option of an unknown kind is skipped.
type TCPOptions struct {
	MSS           uint16
	HasMSS        bool
	WindowScale   uint8
	HasWS         bool
	SACKPermitted bool
	HasTS         bool
	TSVal, TSEcr  uint32
	NumSACK       int
	SACK          [TCPMaxSACKBlocks]TCPSACKBlock
}

// ParseTCPOptions parses option bytes into o (reset first). A length that
// runs past the end, or a known option of the wrong length, is an error;
// unknown kinds are skipped by their length.
func ParseTCPOptions(b []byte, o *TCPOptions) error {
	*o = TCPOptions{}
	for len(b) > 0 {
		kind := b[0]
		if kind == TCPOptEnd {
			return nil
		}
		if kind == TCPOptNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return ErrTCPOption
		}
		n := int(b[1])
		if n < 2 || n > len(b) {
			return ErrTCPOption
		}
		v := b[2:n]
		switch kind {
		case TCPOptMSS:
			if n != tcpOptMSSLen {
				return ErrTCPOption
			}
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
		case TCPOptWindowScale:
			if n != tcpOptWSLen {
				return ErrTCPOption
			}
			o.WindowScale, o.HasWS = min(v[0], TCPMaxWindowScale), true
		case TCPOptSACKPermitted:
			if n != tcpOptSACKPLen {
				return ErrTCPOption
			}
			o.SACKPermitted = true
		case TCPOptTimestamps:
			if n != tcpOptTSLen {
				return ErrTCPOption
			}
			o.HasTS = true
			o.TSVal = binary.BigEndian.Uint32(v)
			o.TSEcr = binary.BigEndian.Uint32(v[4:])
		case TCPOptSACK:
			if (n-2)%tcpSACKBlockLen != 0 || n == 2 {
				return ErrTCPOption
			}
			for ; len(v) >= tcpSACKBlockLen && o.NumSACK < TCPMaxSACKBlocks; v = v[tcpSACKBlockLen:] {
				o.SACK[o.NumSACK] = TCPSACKBlock{binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])}
				o.NumSACK++
			}
		}
		b = b[n:]
	}
	return nil
}

// Len is the encoded length of the options, padded to a multiple of 4.
func (o *TCPOptions) Len() int {
	n := 0
	if o.HasMSS {
		n += tcpOptMSSLen
	}
	if o.HasWS {
		n += tcpOptWSLen + 1 // NOP before
	}
	if o.SACKPermitted && !o.HasTS {
		n += tcpOptSACKPLen + 2 // two NOPs before
	}
	if o.HasTS {
		n += tcpOptTSLen + 2 // SACK-permitted or two NOPs before
	}
	if o.NumSACK > 0 {
		n += 2 + 2 + o.NumSACK*tcpSACKBlockLen // two NOPs before
	}
	return (n + 3) &^ 3
}

// Append encodes the options in Linux's order and alignment (MSS,
// SACK-permitted beside the timestamps, NOP-aligned window scale and SACK
// blocks), padded with End to Len.
func (o *TCPOptions) Append(b []byte) []byte {
	start := len(b)
	if o.HasMSS {
		b = append(b, TCPOptMSS, tcpOptMSSLen, byte(o.MSS>>8), byte(o.MSS))
	}
	if o.HasTS {
		if o.SACKPermitted {
			b = append(b, TCPOptSACKPermitted, tcpOptSACKPLen)
		} else {
			b = append(b, TCPOptNOP, TCPOptNOP)
		}
		b = append(b, TCPOptTimestamps, tcpOptTSLen)
		b = binary.BigEndian.AppendUint32(b, o.TSVal)
		b = binary.BigEndian.AppendUint32(b, o.TSEcr)
	} else if o.SACKPermitted {
		b = append(b, TCPOptNOP, TCPOptNOP, TCPOptSACKPermitted, tcpOptSACKPLen)
	}
	if o.HasWS {
		b = append(b, TCPOptNOP, TCPOptWindowScale, tcpOptWSLen, o.WindowScale)
	}
	if o.NumSACK > 0 {
		b = append(b, TCPOptNOP, TCPOptNOP, TCPOptSACK, byte(2+o.NumSACK*tcpSACKBlockLen))
		for _, s := range o.SACK[:o.NumSACK] {
			b = binary.BigEndian.AppendUint32(b, s.Start)
			b = binary.BigEndian.AppendUint32(b, s.End)
		}
	}
	for (len(b)-start)&3 != 0 {
		b = append(b, TCPOptEnd)
	}
	return b
}

// TCPRepr is the parsed meaning of a TCP header; the payload stays in the
// segment.
type TCPRepr struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            TCPFlags
	Window           uint16
	Urgent           uint16
	Options          TCPOptions
}

// ParseTCP checks b, parses its header and options, and returns the payload.
// It does not verify the checksum.
func ParseTCP(b []byte, r *TCPRepr) (payload []byte, err error) {
	s, err := NewTCPSegment(b)
	if err != nil {
		return nil, err
	}
	r.SrcPort, r.DstPort = s.SrcPort(), s.DstPort()
	r.Seq, r.Ack = s.Seq(), s.Ack()
	r.Flags, r.Window, r.Urgent = s.Flags(), s.Window(), s.Urgent()
	if err := ParseTCPOptions(s.Options(), &r.Options); err != nil {
		return nil, err
	}
	return s.Payload(), nil
}

// HeaderLen is the encoded header length with options.
func (r *TCPRepr) HeaderLen() int { return TCPMinLen + r.Options.Len() }

// Append encodes the header with a zero checksum; SetTCPChecksum fills it in
// once the payload is known.
func (r *TCPRepr) Append(b []byte) []byte {
	hl := r.HeaderLen()
	b = binary.BigEndian.AppendUint16(b, r.SrcPort)
	b = binary.BigEndian.AppendUint16(b, r.DstPort)
	b = binary.BigEndian.AppendUint32(b, r.Seq)
	b = binary.BigEndian.AppendUint32(b, r.Ack)
	b = append(b, byte(hl/4)<<4, byte(r.Flags))
	b = binary.BigEndian.AppendUint16(b, r.Window)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, r.Urgent)
	return r.Options.Append(b)
}

// SetTCPChecksum computes and stores the checksum of a header hdr (as
// Append wrote it) followed by payload, which may live elsewhere, over the
// pseudo-header of src and dst.
func SetTCPChecksum(hdr, payload []byte, src, dst netip.Addr) {
	hdr[TCPChecksumOff], hdr[TCPChecksumOff+1] = 0, 0
	// The header's length is a multiple of 4, so the payload's words line
	// up as if the two were one buffer.
	sum := ChecksumAdd(TCPPseudoHeaderSum(src, dst, len(hdr)+len(payload)), hdr)
	binary.BigEndian.PutUint16(hdr[TCPChecksumOff:], ChecksumFinish(ChecksumAdd(sum, payload)))
}

// TCPPseudoHeaderSum is the unfolded ones' complement sum of the IPv4
// (RFC 9293 3.1) or IPv6 (RFC 8200 8.1) pseudo-header for a TCP segment of
// length n.
func TCPPseudoHeaderSum(src, dst netip.Addr, n int) uint64 {
	var sum uint64
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	} else {
		s, d := src.As16(), dst.As16()
		for i := 0; i < 16; i += 4 {
			sum += uint64(binary.BigEndian.Uint32(s[i:])) + uint64(binary.BigEndian.Uint32(d[i:]))
		}
	}
	return sum + uint64(ProtoTCP) + uint64(n)
}
