package netcore

import (
	"encoding/binary"
	"errors"
)

// ICMPType is the ICMPv4 message type.
type ICMPType uint8

// ICMPv4 message types the host answers or names.
const (
	ICMPEchoReply   ICMPType = 0
	ICMPEchoRequest ICMPType = 8
)

// ICMPv4 echo layout.
const (
	icmpType      = 0
	icmpCode      = 1
	icmpChecksum  = 2
	icmpIdent     = 4
	icmpSeq       = 6
	ICMPHeaderLen = 8
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
func (p ICMPPacket) Type() ICMPType { return ICMPType(p[icmpType]) }

// Code is the message code.
func (p ICMPPacket) Code() uint8 { return p[icmpCode] }

// Checksum is the checksum field.
func (p ICMPPacket) Checksum() uint16 { return binary.BigEndian.Uint16(p[icmpChecksum:]) }

// Ident is the echo identifier.
func (p ICMPPacket) Ident() uint16 { return binary.BigEndian.Uint16(p[icmpIdent:]) }

// Seq is the echo sequence number.
func (p ICMPPacket) Seq() uint16 { return binary.BigEndian.Uint16(p[icmpSeq:]) }

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
	binary.BigEndian.PutUint16(b[start+icmpChecksum:], Checksum(b[start:]))
	return b
}
