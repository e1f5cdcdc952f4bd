package netcore

import (
	"encoding/binary"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// ICMPv4 (RFC 792): the echo responder.

func (h *Host) receiveICMP(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	icmp, err := wire.NewICMPPacket(p.Payload())
	if err != nil || icmp.Type() != wire.ICMPEchoRequest || icmp.Code() != 0 || !icmp.VerifyChecksum() {
		return ICMPRxOther
	}
	src := binary.BigEndian.Uint32(p[wire.IPv4SrcOff:])
	if h.ourAddr(src) {
		return ICMPEchoRx // counted, but nobody else to answer
	}
	h.echoReply(now, src, binary.BigEndian.Uint32(p[wire.IPv4DstOff:]), icmp, out)
	return ICMPEchoRx
}

// echoReply answers an echo request: the same identifier, sequence and
// payload, TTL 64, from the address the request was sent to.
func (h *Host) echoReply(now time.Time, to, from uint32, icmp wire.ICMPPacket, out *Output) {
	b := out.buffer()
	b = wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(b) // Dst filled by route
	h.ipID++
	b = wire.IPv4Repr{Src: addrOf(from), Dst: addrOf(to), Protocol: wire.ProtoICMP, TTL: 64, ID: h.ipID, PayloadLen: len(icmp)}.Append(b)
	start := len(b)
	b = append(b, icmp...)
	b[start+wire.ICMPTypeOff] = byte(wire.ICMPEchoReply)
	binary.BigEndian.PutUint16(b[start+wire.ICMPChecksumOff:], echoReplyChecksum(icmp.Checksum(), b[start:]))
	h.route(now, out, to, b)
}

// echoReplyChecksum is the checksum of reply, which differs from a valid
// echo request only in its type (8 -> 0), found from the request's checksum
// by RFC 1624's equation 3 instead of summing the payload again. The update
// cannot tell a sum of +0 from -0: it yields 0x0000 where a reply of all
// zeros needs 0xffff, so that one case is looked at.
func echoReplyChecksum(request uint16, reply []byte) uint16 {
	const oldWord, newWord = uint16(wire.ICMPEchoRequest) << 8, uint16(wire.ICMPEchoReply) << 8
	sum := uint32(^request) + uint32(^oldWord) + uint32(newWord)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	if c := ^uint16(sum); c != 0 || !allZero(reply[:wire.ICMPChecksumOff]) || !allZero(reply[wire.ICMPChecksumOff+2:]) {
		return c
	}
	return 0xffff
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// isEchoReply recognises the echo replies the host builds (IHL 5), so that
// icmp_echo_tx counts them when they go out, also after waiting for ARP.
func isEchoReply(f []byte) bool {
	return len(f) > wire.EthHeaderLen+wire.IPv4MinLen &&
		wire.EtherType(binary.BigEndian.Uint16(f[wire.EthTypeOff:])) == wire.EtherTypeIPv4 &&
		f[wire.EthHeaderLen+wire.IPv4ProtoOff] == byte(wire.ProtoICMP) &&
		f[wire.EthHeaderLen+wire.IPv4MinLen+wire.ICMPTypeOff] == byte(wire.ICMPEchoReply)
}
