package netcore

import (
	"encoding/binary"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// ICMPv4 (RFC 792, RFC 1122 3.2.2): the echo responder, with Record Route
// and Timestamp returned as Linux returns them; the errors the host sends,
// with RFC 1122's exceptions and a rate limit; and the errors it receives,
// given to the protocol of the datagram they quote.

// The rate of ICMP errors, Linux's defaults (net.ipv4.icmp_msgs_per_sec,
// icmp_msgs_burst): a token bucket over every error the host sends.
const (
	ICMPErrorRate  = 1000 // a second
	ICMPErrorBurst = 50
)

// icmpErrorTOS is the type of service of the errors the host sends:
// precedence "internetwork control", as Linux sends them.
const icmpErrorTOS = 0xc0

// icmpQuoteLimit bounds an error message (RFC 1812 4.3.2.3): as much of the
// offending datagram as fits in 576 bytes with the headers, or in the MTU
// when that is smaller, as Linux's icmp_send quotes.
const icmpQuoteLimit = 576

func (h *Host) receiveICMP(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	icmp, err := wire.NewICMPPacket(p.Payload())
	if err != nil {
		return ICMPRxOther
	}
	if icmp.Type().IsError() {
		return h.receiveICMPError(now, p, icmp, out)
	}
	if icmp.Type() == wire.ICMPEchoReply && icmp.Code() == 0 && icmp.VerifyChecksum() {
		return h.receiveEchoReply(p, icmp, out)
	}
	if icmp.Type() != wire.ICMPEchoRequest || icmp.Code() != 0 || !icmp.VerifyChecksum() {
		return ICMPRxOther
	}
	src := binary.BigEndian.Uint32(p[wire.IPv4SrcOff:])
	if h.ourAddr(src) {
		return ICMPEchoRx // counted, but nobody else to answer
	}
	if p.HeaderLen() == wire.IPv4MinLen && len(icmp)+wire.IPv4MinLen <= h.cfg.MTU {
		h.echoReply(now, src, binary.BigEndian.Uint32(p[wire.IPv4DstOff:]), icmp, out)
	} else {
		h.echoReplyLong(now, p, icmp, out)
	}
	return ICMPEchoRx
}

// echoReply answers an echo request: the same identifier, sequence and
// payload, TTL 64, from the address the request was sent to. This is the
// hot path: a request without options whose reply fits in a frame.
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

// echoReplyLong answers an echo request whose reply carries options or is
// longer than the MTU: it is built whole, then sent in fragments if need
// be. Record Route and Timestamp come back filled in (RFC 1122 3.2.2.6);
// other options do not come back.
func (h *Host) echoReplyLong(now time.Time, p wire.IPv4Packet, icmp wire.ICMPPacket, out *Output) {
	to, from := binary.BigEndian.Uint32(p[wire.IPv4SrcOff:]), binary.BigEndian.Uint32(p[wire.IPv4DstOff:])
	var optBuf [wire.IPv4MaxOptLen]byte
	opts := h.echoOptions(now, p, from, optBuf[:0])
	if wire.IPv4MinLen+len(opts)+3+len(icmp) > 0xffff {
		opts = opts[:0] // a 65507-byte ping with options: the reply goes without them
	}
	h.ipID++
	b := wire.IPv4Repr{Src: addrOf(from), Dst: addrOf(to), Protocol: wire.ProtoICMP, TTL: 64, ID: h.ipID, PayloadLen: len(icmp)}.AppendOptions(h.txBuf[:0], opts)
	start := len(b)
	b = append(b, icmp...)
	h.txBuf = b[:0] // keeps what it grew to, for the next long reply
	b[start+wire.ICMPTypeOff] = byte(wire.ICMPEchoReply)
	binary.BigEndian.PutUint16(b[start+wire.ICMPChecksumOff:], echoReplyChecksum(icmp.Checksum(), b[start:]))
	h.sendDatagram(now, out, to, wire.IPv4Packet(b))
}

// echoOptions appends to b the request's Record Route and Timestamp
// options, updated as Linux updates them (ip_options_compile on the way in,
// ip_options_echo and ip_options_build on the way out): our address (and
// time) recorded once as the request arrives and once as the reply leaves,
// where there is room, so that ping -R prints this host twice, as it does
// for Linux. The options were checked on receipt.
func (h *Host) echoOptions(now time.Time, p wire.IPv4Packet, us uint32, b []byte) []byte {
	o, err := p.Options()
	if err != nil {
		return b
	}
	ms := msSinceMidnight(now)
	if o.RR != 0 {
		start := len(b)
		b = append(b, p.Option(o.RR)...)
		opt := wire.IPv4Option(b[start:])
		recordRoute(opt, us)
		recordRoute(opt, us)
	}
	if o.TS != 0 {
		start := len(b)
		b = append(b, p.Option(o.TS)...)
		opt := wire.IPv4Option(b[start:])
		h.timestamp(opt, us, ms, true)
		h.timestamp(opt, us, ms, false)
	}
	return b
}

// recordRoute records ip in the next slot of a Record Route option, if
// there is one.
func recordRoute(opt wire.IPv4Option, ip uint32) {
	ptr := opt.Pointer()
	if opt.Full() || ptr+3 > len(opt) {
		return
	}
	binary.BigEndian.PutUint32(opt.Slot(ptr), ip)
	opt.SetPointer(ptr + 4)
}

// timestamp records ms (and our address us, by the option's flag) in the
// next slot of a Timestamp option. A full option counts one more station
// without room (RFC 791), on the way in only, as Linux counts; prespecified
// slots are filled only where they name an address of ours.
func (h *Host) timestamp(opt wire.IPv4Option, us, ms uint32, in bool) {
	ptr := opt.Pointer()
	if opt.Full() {
		if in && opt.TSFlag() != wire.IPv4TSPrespec && opt.TSOverflow() < 15 {
			opt.SetTSOverflow(opt.TSOverflow() + 1)
		}
		return
	}
	switch opt.TSFlag() {
	case wire.IPv4TSOnly:
		if ptr+3 > len(opt) {
			return
		}
		binary.BigEndian.PutUint32(opt.Slot(ptr), ms)
		opt.SetPointer(ptr + 4)
	case wire.IPv4TSAndAddr, wire.IPv4TSPrespec:
		if ptr+7 > len(opt) {
			return
		}
		if opt.TSFlag() == wire.IPv4TSPrespec {
			if !h.ourAddr(binary.BigEndian.Uint32(opt.Slot(ptr))) {
				return
			}
		} else {
			binary.BigEndian.PutUint32(opt.Slot(ptr), us)
		}
		binary.BigEndian.PutUint32(opt.Slot(ptr+4), ms)
		opt.SetPointer(ptr + 8)
	}
}

// msSinceMidnight is RFC 791's timestamp: milliseconds since midnight UT.
func msSinceMidnight(now time.Time) uint32 {
	return uint32(now.Unix()%86400)*1000 + uint32(now.Nanosecond()/1e6)
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

// isEchoReply recognises the echo replies the host sends, so that
// icmp_echo_tx counts them when they go out, also after waiting for ARP: a
// long one counts once, by its first fragment.
func isEchoReply(f []byte) bool {
	if len(f) <= wire.EthHeaderLen+wire.IPv4MinLen ||
		wire.EtherType(binary.BigEndian.Uint16(f[wire.EthTypeOff:])) != wire.EtherTypeIPv4 {
		return false
	}
	p := wire.IPv4Packet(f[wire.EthHeaderLen:])
	hl := p.HeaderLen()
	return len(p) > hl && p.Protocol() == wire.ProtoICMP && p.FragmentOffset() == 0 && p[hl+wire.ICMPTypeOff] == byte(wire.ICMPEchoReply)
}

// icmpError answers p, a datagram to one of our addresses as received,
// with an error message (RFC 792): unless RFC 1122 3.2.2 forbids one, and
// while the rate limit allows. Its source is the address p was sent to; it
// quotes as much of p as icmpQuoteLimit allows.
func (h *Host) icmpError(now time.Time, out *Output, p wire.IPv4Packet, typ wire.ICMPType, code uint8, param uint32) {
	if h.cfg.Down {
		return
	}
	if h.icmpErrorForbidden(p) {
		h.stats[ICMPTxSuppressed]++
		return
	}
	if !h.icmpErrors.allow(now) {
		h.stats[ICMPTxRateLimited]++
		return
	}
	room := min(h.cfg.MTU, icmpQuoteLimit) - wire.IPv4MinLen - wire.ICMPHeaderLen
	quote := p[:min(len(p), int(p.TotalLen()), room)]
	b := out.buffer()
	b = wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(b) // Dst filled by route
	h.ipID++
	e := wire.ICMPErrorRepr{Type: typ, Code: code, Param: param, Quote: quote}
	b = wire.IPv4Repr{Src: p.Dst(), Dst: p.Src(), Protocol: wire.ProtoICMP, TTL: 64, TOS: icmpErrorTOS, ID: h.ipID, PayloadLen: e.Len()}.Append(b)
	b = e.Append(b)
	switch typ {
	case wire.ICMPTimeExceeded:
		h.stats[ICMPTxTimeExceeded]++
	case wire.ICMPParamProblem:
		h.stats[ICMPTxParamProblem]++
	default:
		h.stats[ICMPTxUnreachable]++
	}
	h.route(now, out, binary.BigEndian.Uint32(p[wire.IPv4SrcOff:]), b)
}

// icmpErrorForbidden is RFC 1122 3.2.2's list of datagrams no ICMP error
// may answer: an ICMP error itself (and, as Linux reads it, an ICMP message
// of a type it does not know), a datagram to a broadcast or multicast
// address or that came in a link-layer broadcast, a fragment other than
// the first, and one whose source does not name a single host (zero,
// loopback, broadcast, multicast, class E, a subnet's network or broadcast
// address, or ourselves).
func (h *Host) icmpErrorForbidden(p wire.IPv4Packet) bool {
	if h.rxLinkMulticast || p.FragmentOffset() != 0 {
		return true
	}
	if !h.ourAddr(binary.BigEndian.Uint32(p[wire.IPv4DstOff:])) {
		return true
	}
	src := binary.BigEndian.Uint32(p[wire.IPv4SrcOff:])
	if !unicastIPv4(src) || h.ourAddr(src) {
		return true
	}
	for _, a := range h.addrs {
		if src&a.mask == a.ip&a.mask && !a.holds(src) {
			return true
		}
	}
	if hl := p.HeaderLen(); p.Protocol() == wire.ProtoICMP && len(p) > hl {
		return !icmpQuery(wire.ICMPType(p[hl+wire.ICMPTypeOff]))
	}
	return false
}

// icmpQuery reports whether t is a query or its reply: the ICMP types an
// error may answer. Linux counts every other type (1, 2, 7, and above 18)
// with the errors.
func icmpQuery(t wire.ICMPType) bool {
	switch t {
	case wire.ICMPEchoReply, wire.ICMPEchoRequest, wire.ICMPRouterAdvert, wire.ICMPRouterSolicit,
		wire.ICMPTimestamp, wire.ICMPTimestampReply, wire.ICMPInfoRequest, wire.ICMPInfoReply,
		wire.ICMPAddrMaskRequest, wire.ICMPAddrMaskReply:
		return true
	}
	return false
}

// icmpErrorProtos give a received ICMP error (p, the datagram that carried
// it, and e, the error) to the protocol of the datagram it quotes, which
// finds the conversation it concerns and reports whether one took it. A protocol is a line here: UDP's hands a port
// unreachable to the connected conversation, whose next read fails with
// ECONNREFUSED; TCP's and the ICMP conversations' come with them.
var icmpErrorProtos = [...]struct {
	proto  wire.IPProtocol
	handle func(h *Host, p wire.IPv4Packet, e wire.ICMPErrorRepr, quoted wire.IPv4Packet, payload []byte, out *Output) bool
}{
	{wire.ProtoUDP, (*Host).udpICMPError},
	{wire.ProtoICMP, (*Host).icmpConvError},
}

// receiveICMPError takes an ICMP error about a datagram we sent.
func (h *Host) receiveICMPError(now time.Time, p wire.IPv4Packet, icmp wire.ICMPPacket, out *Output) Counter {
	e, err := wire.ParseICMPError(icmp)
	if err != nil {
		return ICMPRxOther // a bad checksum, or a quote too short to act on
	}
	quoted, payload, _ := wire.QuotedIPv4(e.Quote)
	if !h.ourAddr(binary.BigEndian.Uint32(quoted[wire.IPv4SrcOff:])) {
		return ICMPRxErrorOther // not about a datagram of ours
	}
	proto := quoted.Protocol()
	for _, q := range &icmpErrorProtos {
		if q.proto == proto && q.handle(h, p, e, quoted, payload, out) {
			return ICMPRxError
		}
	}
	return ICMPRxErrorOther
}
