package wire

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
)

// ICMPv6 (RFC 4443): the message header, echo, and the error messages a
// host sends. Neighbour discovery (ndp.go) and MLD (mld.go) are ICMPv6
// messages too.

// ICMPv6Type is the ICMPv6 message type.
type ICMPv6Type uint8

// ICMPv6 message types (RFC 4443, RFC 4861, RFC 2710, RFC 3810).
const (
	ICMPv6DstUnreachable ICMPv6Type = 1
	ICMPv6PacketTooBig   ICMPv6Type = 2
	ICMPv6TimeExceeded   ICMPv6Type = 3
	ICMPv6ParamProblem   ICMPv6Type = 4
	ICMPv6EchoRequest    ICMPv6Type = 128
	ICMPv6EchoReply      ICMPv6Type = 129
	ICMPv6MLDQuery       ICMPv6Type = 130
	ICMPv6MLDReport      ICMPv6Type = 131
	ICMPv6MLDDone        ICMPv6Type = 132
	ICMPv6RouterSolicit  ICMPv6Type = 133
	ICMPv6RouterAdvert   ICMPv6Type = 134
	ICMPv6NeighSolicit   ICMPv6Type = 135
	ICMPv6NeighAdvert    ICMPv6Type = 136
	ICMPv6Redirect       ICMPv6Type = 137
	ICMPv6MLDv2Report    ICMPv6Type = 143
)

// IsError reports whether t is an error message (types below 128), which
// a host must never answer with another error (RFC 4443 2.4 (e)).
func (t ICMPv6Type) IsError() bool { return t < 128 }

// Codes of ICMPv6DstUnreachable.
const (
	ICMPv6NoRoute          = 0
	ICMPv6AdminProhibited  = 1
	ICMPv6BeyondScope      = 2
	ICMPv6AddrUnreachable  = 3
	ICMPv6PortUnreachable  = 4
	ICMPv6SourcePolicyFail = 5
	ICMPv6RejectRoute      = 6
)

// Codes of ICMPv6TimeExceeded.
const (
	ICMPv6HopLimitExceeded   = 0
	ICMPv6ReassemblyExceeded = 1
)

// Codes of ICMPv6ParamProblem.
const (
	ICMPv6ErroneousHeader    = 0 // the pointer names the offending byte
	ICMPv6UnknownNextHeader  = 1
	ICMPv6UnknownOption      = 2
	ICMPv6IncompleteChain    = 3 // RFC 7112: the first fragment lacks the upper-layer header
	ICMPv6ExtHeaderTooBig    = 4 // RFC 8883
	ICMPv6ExtHeaderChainLong = 5
)

// ICMPv6 layout. Every message has the 4-byte type/code/checksum header
// and 4 bytes whose meaning depends on the type; error messages then quote
// as much of the offending packet as fits in the minimum MTU.
const (
	ICMPv6TypeOff     = 0
	ICMPv6CodeOff     = 1
	ICMPv6ChecksumOff = 2
	ICMPv6IdentOff    = 4 // echo
	ICMPv6SeqOff      = 6
	ICMPv6MTUOff      = 4 // packet too big
	ICMPv6PointerOff  = 4 // parameter problem
	ICMPv6HeaderLen   = 8
	ICMPv6QuoteOff    = 8 // error messages: the quoted packet

	// ICMPv6MaxError is the longest error message: with the IPv6 header
	// it fills the minimum MTU (RFC 4443 2.4 (c)).
	ICMPv6MaxError = IPv6MinMTU - IPv6HeaderLen
)

// ErrICMPv6Checksum is returned for an ICMPv6 message whose checksum is wrong.
var ErrICMPv6Checksum = errors.New("bad ICMPv6 checksum")

// ICMPv6Packet is a view over an ICMPv6 message (the upper-layer payload of
// an IPv6 packet).
type ICMPv6Packet []byte

// NewICMPv6Packet checks that b holds the 4-byte header: unlike ICMPv4, not
// every ICMPv6 message has the 4 bytes after it (RFC 4443 2.1 allows a
// message body of any length; the types that need more check for it).
func NewICMPv6Packet(b []byte) (ICMPv6Packet, error) {
	if len(b) < 4 {
		return nil, ErrTruncated
	}
	return ICMPv6Packet(b), nil
}

// Type is the message type.
func (p ICMPv6Packet) Type() ICMPv6Type { return ICMPv6Type(p[ICMPv6TypeOff]) }

// Code is the message code.
func (p ICMPv6Packet) Code() uint8 { return p[ICMPv6CodeOff] }

// Checksum is the checksum field.
func (p ICMPv6Packet) Checksum() uint16 { return binary.BigEndian.Uint16(p[ICMPv6ChecksumOff:]) }

// Word is the 4 bytes after the checksum (MTU, pointer, identifier and
// sequence), or 0 if the message is shorter.
func (p ICMPv6Packet) Word() uint32 {
	if len(p) < ICMPv6HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(p[4:])
}

// Body is what follows the 8-byte header (the echo data, the quoted packet
// of an error), empty if the message is shorter.
func (p ICMPv6Packet) Body() []byte {
	if len(p) < ICMPv6HeaderLen {
		return nil
	}
	return p[ICMPv6HeaderLen:]
}

// VerifyChecksum reports whether the checksum over the pseudo-header of src
// and dst (RFC 8200 8.1) and the message is right.
func (p ICMPv6Packet) VerifyChecksum(src, dst netip.Addr) bool {
	return fold(sumWords(pseudoSum6(src, dst, ProtoICMPv6, len(p)), p)) == 0xffff
}

// SetUpperChecksum computes and stores the checksum of the upper-layer
// message at off (to the end of the payload), whose checksum field is at
// csumOff within it, over the pseudo-header of p's own addresses with next
// header nh: for a caller that has just written the header, faster than
// converting the addresses again.
func (p IPv6Packet) SetUpperChecksum(off, csumOff int, nh IPProtocol) {
	end := IPv6HeaderLen + int(p.PayloadLen())
	m := p[off:end]
	m[csumOff], m[csumOff+1] = 0, 0
	binary.BigEndian.PutUint16(m[csumOff:], ^fold(p.upperSum(off, end, nh)))
}

// SetICMPv6Checksum computes and stores the checksum of the message m sent
// from src to dst.
func SetICMPv6Checksum(m []byte, src, dst netip.Addr) {
	m[ICMPv6ChecksumOff], m[ICMPv6ChecksumOff+1] = 0, 0
	binary.BigEndian.PutUint16(m[ICMPv6ChecksumOff:], ^fold(sumWords(pseudoSum6(src, dst, ProtoICMPv6, len(m)), m)))
}

// pseudoSum6 is the unfolded sum of IPv6's pseudo-header (RFC 8200 8.1) for
// n bytes of upper-layer protocol nh.
//
// The addresses are summed as 32-bit words, which folds to the same 16-bit
// ones' complement sum: unrolled, this is a quarter of the cost of the
// general loop on the NS->NA path, which sums two pseudo-headers a frame.
func pseudoSum6(src, dst netip.Addr, nh IPProtocol, n int) uint64 {
	s, d := src.As16(), dst.As16()
	// Loads of the 8 bytes As16 stored, split after: 4-byte loads from
	// inside its stores would stall the store buffer.
	be := binary.BigEndian
	s0, s1, d0, d1 := be.Uint64(s[:8]), be.Uint64(s[8:]), be.Uint64(d[:8]), be.Uint64(d[8:])
	return uint64(n) + uint64(nh) +
		s0>>32 + s0&0xffffffff + s1>>32 + s1&0xffffffff +
		d0>>32 + d0&0xffffffff + d1>>32 + d1&0xffffffff
}

// sumWords adds b's big-endian 16-bit words to sum, unfolded; an odd last
// byte is padded with zero.
//
// It adds 64-bit words with their carries brought around, 32 bytes a
// turn: since 2^16 and 2^64 are both 1 modulo 2^16-1, that folds to the
// same ones' complement sum, in a quarter of the additions (the NS->NA
// path sums two messages a frame).
func sumWords(sum uint64, b []byte) uint64 {
	be := binary.BigEndian
	var c uint64
	for len(b) >= 32 {
		sum, c = bits.Add64(sum, be.Uint64(b), 0)
		sum, c = bits.Add64(sum, be.Uint64(b[8:]), c)
		sum, c = bits.Add64(sum, be.Uint64(b[16:]), c)
		sum, c = bits.Add64(sum, be.Uint64(b[24:]), c)
		sum, c = bits.Add64(sum, 0, c)
		sum += c
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, be.Uint64(b), 0)
		sum += c
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// fold folds an unfolded sum to 16 bits, not complemented.
func fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// ICMPv6EchoRepr is the parsed meaning of an echo request or reply. Data
// aliases the parsed buffer.
type ICMPv6EchoRepr struct {
	Type  ICMPv6Type
	Ident uint16
	Seq   uint16
	Data  []byte
}

// ErrNotICMPv6Echo is returned by ParseICMPv6Echo for other messages.
var ErrNotICMPv6Echo = errors.New("not an ICMPv6 echo message")

// ParseICMPv6Echo parses an echo request or reply sent from src to dst and
// checks its checksum. The code must be 0.
func ParseICMPv6Echo(b []byte, src, dst netip.Addr) (ICMPv6EchoRepr, error) {
	p, err := NewICMPv6Packet(b)
	if err != nil {
		return ICMPv6EchoRepr{}, err
	}
	if t := p.Type(); t != ICMPv6EchoRequest && t != ICMPv6EchoReply || p.Code() != 0 {
		return ICMPv6EchoRepr{}, ErrNotICMPv6Echo
	}
	if len(p) < ICMPv6HeaderLen {
		return ICMPv6EchoRepr{}, ErrTruncated
	}
	if !p.VerifyChecksum(src, dst) {
		return ICMPv6EchoRepr{}, ErrICMPv6Checksum
	}
	return ICMPv6EchoRepr{Type: p.Type(), Ident: uint16(p.Word() >> 16), Seq: uint16(p.Word()), Data: p.Body()}, nil
}

// Len is the length of the encoded message.
func (r ICMPv6EchoRepr) Len() int { return ICMPv6HeaderLen + len(r.Data) }

// Append appends the message from src to dst, checksum included, to b.
func (r ICMPv6EchoRepr) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = append(b, uint8(r.Type), 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, r.Ident)
	b = binary.BigEndian.AppendUint16(b, r.Seq)
	b = append(b, r.Data...)
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}

// ICMPv6ErrorRepr is an error message: destination unreachable, packet too
// big, time exceeded or parameter problem. Param is the 4 bytes after the
// checksum (the MTU, the pointer, or 0). Invoking aliases the offending
// packet, from its IPv6 header on.
type ICMPv6ErrorRepr struct {
	Type     ICMPv6Type
	Code     uint8
	Param    uint32
	Invoking []byte
}

// ParseICMPv6Error parses an error message sent from src to dst and checks
// its checksum.
func ParseICMPv6Error(b []byte, src, dst netip.Addr) (ICMPv6ErrorRepr, error) {
	p, err := NewICMPv6Packet(b)
	if err != nil {
		return ICMPv6ErrorRepr{}, err
	}
	if !p.Type().IsError() {
		return ICMPv6ErrorRepr{}, errors.New("not an ICMPv6 error message")
	}
	if len(p) < ICMPv6HeaderLen {
		return ICMPv6ErrorRepr{}, ErrTruncated
	}
	if !p.VerifyChecksum(src, dst) {
		return ICMPv6ErrorRepr{}, ErrICMPv6Checksum
	}
	return ICMPv6ErrorRepr{Type: p.Type(), Code: p.Code(), Param: p.Word(), Invoking: p.Body()}, nil
}

// Len is the length of the encoded message: the invoking packet is cut so
// that the message with its IPv6 header fits the minimum MTU.
func (r ICMPv6ErrorRepr) Len() int { return min(ICMPv6HeaderLen+len(r.Invoking), ICMPv6MaxError) }

// Append appends the message from src to dst, checksum included, to b.
func (r ICMPv6ErrorRepr) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = append(b, uint8(r.Type), r.Code, 0, 0)
	b = binary.BigEndian.AppendUint32(b, r.Param)
	b = append(b, r.Invoking[:r.Len()-ICMPv6HeaderLen]...)
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}
