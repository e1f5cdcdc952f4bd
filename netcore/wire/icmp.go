package wire

import (
	"encoding/binary"
	"errors"
)

// ICMPType is the ICMPv4 message type.
type ICMPType uint8

// ICMPv4 message types (RFC 792, RFC 950, RFC 1256).
const (
	ICMPEchoReply       ICMPType = 0
	ICMPDestUnreachable ICMPType = 3
	ICMPSourceQuench    ICMPType = 4
	ICMPRedirect        ICMPType = 5
	ICMPEchoRequest     ICMPType = 8
	ICMPRouterAdvert    ICMPType = 9
	ICMPRouterSolicit   ICMPType = 10
	ICMPTimeExceeded    ICMPType = 11
	ICMPParamProblem    ICMPType = 12
	ICMPTimestamp       ICMPType = 13
	ICMPTimestampReply  ICMPType = 14
	ICMPInfoRequest     ICMPType = 15
	ICMPInfoReply       ICMPType = 16
	ICMPAddrMaskRequest ICMPType = 17
	ICMPAddrMaskReply   ICMPType = 18
)

// Codes of ICMPDestUnreachable (RFC 792, RFC 1191).
const (
	ICMPNetUnreachable      = 0
	ICMPHostUnreachable     = 1
	ICMPProtocolUnreachable = 2
	ICMPPortUnreachable     = 3
	ICMPFragNeeded          = 4
)

// ICMPv4 layout. Every message has the 4-byte type/code/checksum header
// and 4 bytes whose meaning depends on the type; error messages then quote
// the offending IPv4 header and at least 8 bytes of its payload.
const (
	ICMPTypeOff     = 0
	ICMPCodeOff     = 1
	ICMPChecksumOff = 2
	ICMPIdentOff    = 4 // echo, timestamp, information, address mask
	ICMPSeqOff      = 6
	ICMPGatewayOff  = 4 // redirect: the gateway's address
	ICMPPointerOff  = 4 // parameter problem: the offending octet
	ICMPMTUOff      = 6 // unreachable, fragmentation needed: next-hop MTU (RFC 1191)
	ICMPHeaderLen   = 8
	ICMPQuoteOff    = 8 // error messages: the quoted IPv4 header

	ICMPTimeOrigOff  = 8 // timestamp reply: originate, receive, transmit (ms since midnight UTC)
	ICMPTimeRecvOff  = 12
	ICMPTimeXmitOff  = 16
	ICMPAddrMaskOff  = 8 // address mask reply
	ICMPRANumOff     = 4 // router advertisement (RFC 1256): number of addresses,
	ICMPRAEntSizeOff = 5 // words per address entry,
	ICMPRALifeOff    = 6 // lifetime in seconds,
	ICMPRAEntriesOff = 8 // then the entries: address, preference
)

// ErrICMPChecksum is returned for an ICMP message whose checksum is wrong.
var ErrICMPChecksum = errors.New("bad ICMP checksum")

// ICMPPacket is a view over an ICMPv4 message (the IPv4 payload).
type ICMPPacket []byte

// NewICMPPacket checks that b holds the 8-byte header.
func NewICMPPacket(b []byte) (ICMPPacket, error) {
	if len(b) < ICMPHeaderLen {
		return nil, ErrTruncated
	}
	return ICMPPacket(b), nil
}

// Type is the message type.
func (p ICMPPacket) Type() ICMPType { return ICMPType(p[ICMPTypeOff]) }

// Code is the message code.
func (p ICMPPacket) Code() uint8 { return p[ICMPCodeOff] }

// Checksum is the checksum field.
func (p ICMPPacket) Checksum() uint16 { return binary.BigEndian.Uint16(p[ICMPChecksumOff:]) }

// Ident is the echo identifier.
func (p ICMPPacket) Ident() uint16 { return binary.BigEndian.Uint16(p[ICMPIdentOff:]) }

// Seq is the echo sequence number.
func (p ICMPPacket) Seq() uint16 { return binary.BigEndian.Uint16(p[ICMPSeqOff:]) }

// Data is what follows the 8-byte header (the echo payload).
func (p ICMPPacket) Data() []byte { return p[ICMPHeaderLen:] }

// VerifyChecksum reports whether the checksum over the whole message is right.
func (p ICMPPacket) VerifyChecksum() bool { return Checksum(p) == 0 }

// ICMPEchoRepr is the parsed meaning of an echo request or reply. Data aliases
// the parsed buffer.
type ICMPEchoRepr struct {
	Type  ICMPType
	Code  uint8
	Ident uint16
	Seq   uint16
	Data  []byte
}

// ErrNotEcho is returned by ParseICMPEcho for other ICMP messages.
var ErrNotEcho = errors.New("not an ICMP echo message")

// ParseICMPEcho parses an echo request or reply and checks its checksum.
func ParseICMPEcho(b []byte) (ICMPEchoRepr, error) {
	p, err := NewICMPPacket(b)
	if err != nil {
		return ICMPEchoRepr{}, err
	}
	if !p.VerifyChecksum() {
		return ICMPEchoRepr{}, ErrICMPChecksum
	}
	if t := p.Type(); t != ICMPEchoRequest && t != ICMPEchoReply {
		return ICMPEchoRepr{}, ErrNotEcho
	}
	return ICMPEchoRepr{Type: p.Type(), Code: p.Code(), Ident: p.Ident(), Seq: p.Seq(), Data: p.Data()}, nil
}

// Len is the length of the encoded message.
func (r ICMPEchoRepr) Len() int { return ICMPHeaderLen + len(r.Data) }

// Append appends the message, checksum included, to b.
func (r ICMPEchoRepr) Append(b []byte) []byte {
	start := len(b)
	b = append(b, uint8(r.Type), r.Code, 0, 0)
	b = binary.BigEndian.AppendUint16(b, r.Ident)
	b = binary.BigEndian.AppendUint16(b, r.Seq)
	b = append(b, r.Data...)
	binary.BigEndian.PutUint16(b[start+ICMPChecksumOff:], Checksum(b[start:]))
	return b
}

// Codes of ICMPTimeExceeded.
const (
	ICMPTTLExceeded        = 0
	ICMPReassemblyExceeded = 1
)

// IsError reports whether t is an error message (RFC 792, RFC 1122 3.2.2):
// one that quotes the datagram it is about.
func (t ICMPType) IsError() bool {
	switch t {
	case ICMPDestUnreachable, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParamProblem:
		return true
	}
	return false
}

// ICMPErrorRepr is the parsed meaning of an error message. Quote aliases
// the parsed buffer.
type ICMPErrorRepr struct {
	Type ICMPType
	Code uint8
	// Param is the 4 bytes after the checksum: Parameter Problem's pointer
	// in the top octet, Fragmentation Needed's next-hop MTU in the low 16
	// bits, Redirect's gateway; zero for the others.
	Param uint32
	// Quote is the start of the datagram the error is about: its header
	// and at least 8 bytes of its payload.
	Quote []byte
}

// Errors of ParseICMPError.
var (
	ErrNotICMPError = errors.New("not an ICMP error message")
	ErrICMPQuote    = errors.New("ICMP error quotes no IPv4 header and 8 bytes")
)

// ParseICMPError parses an error message, checks its checksum, and checks
// that the quote holds an IPv4 header and 8 bytes of its payload (RFC 792),
// which is what a receiver needs to find the conversation it concerns.
func ParseICMPError(b []byte) (ICMPErrorRepr, error) {
	p, err := NewICMPPacket(b)
	if err != nil {
		return ICMPErrorRepr{}, err
	}
	if !p.Type().IsError() {
		return ICMPErrorRepr{}, ErrNotICMPError
	}
	if !p.VerifyChecksum() {
		return ICMPErrorRepr{}, ErrICMPChecksum
	}
	r := ICMPErrorRepr{Type: p.Type(), Code: p.Code(), Param: binary.BigEndian.Uint32(p[ICMPIdentOff:]), Quote: p[ICMPQuoteOff:]}
	if _, _, err := QuotedIPv4(r.Quote); err != nil {
		return ICMPErrorRepr{}, err
	}
	return r, nil
}

// QuotedIPv4 splits the quote of an error message into the quoted header
// and what follows it (at least 8 bytes). The header view's fields are all
// readable, but its datagram was cut: its Payload must not be used.
func QuotedIPv4(q []byte) (hdr IPv4Packet, payload []byte, err error) {
	if len(q) < IPv4MinLen || q[IPv4VerIHLOff]>>4 != 4 {
		return nil, nil, ErrICMPQuote
	}
	hl := int(q[IPv4VerIHLOff]&0x0f) * 4
	if hl < IPv4MinLen || len(q) < hl+8 {
		return nil, nil, ErrICMPQuote
	}
	return IPv4Packet(q[:hl]), q[hl:], nil
}

// Len is the length of the encoded message.
func (r ICMPErrorRepr) Len() int { return ICMPHeaderLen + len(r.Quote) }

// Append appends the message, checksum included, to b.
func (r ICMPErrorRepr) Append(b []byte) []byte {
	start := len(b)
	b = append(b, uint8(r.Type), r.Code, 0, 0)
	b = binary.BigEndian.AppendUint32(b, r.Param)
	b = append(b, r.Quote...)
	binary.BigEndian.PutUint16(b[start+ICMPChecksumOff:], Checksum(b[start:]))
	return b
}
