package netcore

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// ICMPv6 (RFC 4443): the echo responder, the errors the host sends
// (parameter problems from the receive path, time exceeded from
// reassembly; unreachable ports once transports come), rate-limited as
// Linux limits them, and the errors it receives: a packet too big lowers
// the path MTU that transports size their segments by (RFC 8201).

// receiveICMPv6 hands an ICMPv6 message on by type.
func (h *Host) receiveICMPv6(now time.Time, d *datagram6, out *Output) Counter {
	m := d.upper()
	if len(m) < 4 {
		return ICMPv6RxOther
	}
	switch wire.ICMPv6Type(m[wire.ICMPv6TypeOff]) {
	case wire.ICMPv6EchoRequest:
		return h.receiveEcho6(now, d, out)
	case wire.ICMPv6NeighSolicit:
		return h.receiveNS(now, d, out)
	case wire.ICMPv6NeighAdvert:
		return h.receiveNA(now, d, out)
	case wire.ICMPv6RouterSolicit:
		return h.receiveRS(now, d, out)
	case wire.ICMPv6RouterAdvert:
		return h.receiveRA(now, d, out)
	case wire.ICMPv6Redirect:
		return h.receiveRedirect(now, d, out)
	case wire.ICMPv6MLDQuery:
		return h.receiveMLDQuery(now, d, out)
	case wire.ICMPv6MLDReport, wire.ICMPv6MLDDone, wire.ICMPv6MLDv2Report:
		return h.receiveMLDReport(now, d, out)
	case wire.ICMPv6DstUnreachable, wire.ICMPv6PacketTooBig, wire.ICMPv6TimeExceeded, wire.ICMPv6ParamProblem:
		return h.receiveICMPv6Error(now, d, out)
	}
	return ICMPv6RxOther // unknown informational messages are dropped (RFC 4443 2.4 (b))
}

// receiveEcho6 answers an echo request: the same identifier, sequence and
// data, from the address asked (or, for a group, the best of ours).
func (h *Host) receiveEcho6(now time.Time, d *datagram6, out *Output) Counter {
	m := d.upper()
	if len(m) < wire.ICMPv6HeaderLen || m[wire.ICMPv6CodeOff] != 0 || !checksum6OK(d.pkt, d.off) {
		return ICMPv6RxOther
	}
	if !ctlUnicast6(d.src) || h.v6.ours(d.src) != nil {
		return ICMPv6EchoRx // counted; nobody to answer
	}
	from, same := d.dst, true
	if d.mcast {
		var ok bool
		if from, ok = h.source6(d.src); !ok {
			return ICMPv6EchoRx
		}
		same = false
	}
	if wire.IPv6HeaderLen+len(m) > h.pathMTU6(d.src) {
		// A reassembled request: the reply goes in fragments.
		v := &h.v6
		v.scratch = append(v.scratch[:0], m...)
		v.scratch[wire.ICMPv6TypeOff] = byte(wire.ICMPv6EchoReply)
		wire.SetICMPv6Checksum(v.scratch, from, d.src)
		h.sendIPv6(now, out, from, d.src, wire.ProtoICMPv6, 0, 0, v.scratch)
		return ICMPv6EchoRx
	}
	var b []byte
	if same {
		// The request's own addresses, swapped.
		p := d.pkt
		b = h.appendIPv6FrameRaw(out.buffer(), p[wire.IPv6DstOff:wire.IPv6DstOff+16], p[wire.IPv6SrcOff:wire.IPv6SrcOff+16], wire.ProtoICMPv6, h.v6.hopLimit, 0, len(m))
	} else {
		b = h.appendIPv6Frame(out.buffer(), from, d.src, wire.ProtoICMPv6, h.v6.hopLimit, len(m))
	}
	start := len(b)
	b = append(b, m...)
	b[start+wire.ICMPv6TypeOff] = byte(wire.ICMPv6EchoReply)
	if same {
		// The pseudo-header holds the same two addresses: only the type
		// changed.
		binary.BigEndian.PutUint16(b[start+wire.ICMPv6ChecksumOff:], echoReply6Checksum(binary.BigEndian.Uint16(m[wire.ICMPv6ChecksumOff:])))
	} else {
		wire.SetICMPv6Checksum(b[start:], from, d.src)
	}
	h.route6(now, out, d.src, b)
	return ICMPv6EchoRx
}

// echoReply6Checksum is the checksum of an echo reply made from a valid
// request with the same addresses, by RFC 1624's equation 3 (type 128 ->
// 129). The pseudo-header's non-zero next header and length make the sum
// never zero, so the +0/-0 case of ICMPv4 cannot arise.
func echoReply6Checksum(request uint16) uint16 {
	const oldWord, newWord = uint16(wire.ICMPv6EchoRequest) << 8, uint16(wire.ICMPv6EchoReply) << 8
	sum := uint32(^request) + uint32(^oldWord) + uint32(newWord)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	return ^uint16(sum)
}

// checksum6OK verifies the checksum of the upper-layer message at off of
// an IPv6 packet, over the pseudo-header of the packet's own addresses.
func checksum6OK(pkt []byte, off int) bool {
	return wire.IPv6Packet(pkt).UpperChecksumOK(off, wire.ProtoICMPv6)
}

// isEchoReply6 recognises the echo replies the host builds, so that
// icmp6_echo_tx counts them when they go out: whole, or their first
// fragment (the only extension header the host puts in a reply).
func isEchoReply6(f []byte) bool {
	const off = wire.EthHeaderLen + wire.IPv6HeaderLen
	if len(f) <= off || f[wire.EthTypeOff] != 0x86 || f[wire.EthTypeOff+1] != 0xdd {
		return false
	}
	switch wire.IPProtocol(f[wire.EthHeaderLen+wire.IPv6NextHeaderOff]) {
	case wire.ProtoICMPv6:
		return f[off+wire.ICMPv6TypeOff] == byte(wire.ICMPv6EchoReply)
	case wire.ProtoFragment:
		if len(f) <= off+wire.IPv6FragLen {
			return false
		}
		fh := wire.IPv6FragmentHeader(f[off : off+wire.IPv6FragLen])
		return fh.NextHeader() == wire.ProtoICMPv6 && fh.Offset() == 0 && f[off+wire.IPv6FragLen+wire.ICMPv6TypeOff] == byte(wire.ICMPv6EchoReply)
	}
	return false
}

// receiveICMPv6Error takes an error message about a packet we sent. A
// packet too big lowers the path MTU towards the quoted destination; the
// rest are for the transports (a conversation's err), when they come.
func (h *Host) receiveICMPv6Error(now time.Time, d *datagram6, out *Output) Counter {
	m := d.upper()
	if len(m) < wire.ICMPv6HeaderLen || !checksum6OK(d.pkt, d.off) {
		return ICMPv6RxOther
	}
	q := m[wire.ICMPv6QuoteOff:]
	if len(q) < wire.IPv6HeaderLen || h.v6.ours(wire.IPv6Packet(q).Src()) == nil {
		return ICMPv6RxError // not about a packet of ours
	}
	if wire.ICMPv6Type(m[wire.ICMPv6TypeOff]) == wire.ICMPv6PacketTooBig {
		h.tooBig(now, wire.IPv6Packet(q).Dst(), int(binary.BigEndian.Uint32(m[wire.ICMPv6MTUOff:])))
	}
	h.icmp6ToUDP(wire.ICMPv6Type(m[wire.ICMPv6TypeOff]), m[wire.ICMPv6CodeOff], q, out)
	return ICMPv6RxError
}

// tooBig records the path MTU towards dst (RFC 8201 4): never below IPv6's
// minimum, never above the link's, forgotten after pmtuLifetime.
func (h *Host) tooBig(now time.Time, dst netip.Addr, mtu int) {
	v := &h.v6
	mtu = max(mtu, wire.IPv6MinMTU)
	if mtu >= h.linkMTU6() {
		return
	}
	i := slices.IndexFunc(v.pmtu, func(p pmtu6) bool { return p.dst == dst })
	switch {
	case i >= 0:
		v.pmtu[i].mtu = min(v.pmtu[i].mtu, mtu)
		v.pmtu[i].expires = now.Add(pmtuLifetime)
	case len(v.pmtu) < maxPMTU6:
		v.pmtu = append(v.pmtu, pmtu6{dst: dst, mtu: mtu, expires: now.Add(pmtuLifetime)})
	default:
		// Full: the entry that expires first makes room.
		oldest := 0
		for j := range v.pmtu {
			if v.pmtu[j].expires.Before(v.pmtu[oldest].expires) {
				oldest = j
			}
		}
		v.pmtu[oldest] = pmtu6{dst: dst, mtu: mtu, expires: now.Add(pmtuLifetime)}
	}
	h.soon(now.Add(pmtuLifetime))
}

// PathMTU is the largest IP packet the host sends towards dst in one
// piece: for IPv6, what packets too big said; for IPv4, the link's MTU.
// TCP sizes its segments by it.
func (h *Host) PathMTU(dst netip.Addr) int {
	if dst.Is6() && !dst.Is4In6() {
		return h.pathMTU6(dst)
	}
	return h.cfg.MTU
}

// paramProblem sends a parameter problem about the datagram d, pointing at
// byte ptr of it.
func (h *Host) paramProblem(now time.Time, d *datagram6, code uint8, ptr int, out *Output) {
	h.sendICMPv6Error(now, d, wire.ICMPv6ParamProblem, code, uint32(ptr), out)
}

// sendICMPv6Error sends an error about d to its source, unless RFC 4443
// 2.4 (e) forbids it (an error about an error, about a packet to a group
// or sent as link-layer multicast, other than a packet too big or an
// unknown option that asked for one, or from a source that is not one
// node) or the rate limit holds it back.
func (h *Host) sendICMPv6Error(now time.Time, d *datagram6, typ wire.ICMPv6Type, code uint8, param uint32, out *Output) {
	src := d.src
	if !ctlUnicast6(src) || h.v6.ours(src) != nil || isICMPv6Error(d.pkt) {
		return
	}
	if (d.mcast || d.linkMC) && typ != wire.ICMPv6PacketTooBig && !(typ == wire.ICMPv6ParamProblem && code == wire.ICMPv6UnknownOption) {
		return
	}
	if !h.v6.errors.allow(now) {
		h.stats[ICMPv6RateLimited]++
		return
	}
	from := d.dst
	if d.mcast {
		var ok bool
		if from, ok = h.source6(src); !ok {
			return
		}
	}
	e := wire.ICMPv6ErrorRepr{Type: typ, Code: code, Param: param, Invoking: d.pkt}
	b := h.appendIPv6Frame(out.buffer(), from, src, wire.ProtoICMPv6, h.v6.hopLimit, e.Len())
	b = e.Append(b, from, src)
	h.stats[ICMPv6ErrorTx]++
	h.route6(now, out, src, b)
}

// isICMPv6Error reports whether the packet is an ICMPv6 error message, its
// extension headers walked (a non-first fragment is not known to be one).
func isICMPv6Error(pkt []byte) bool {
	nh, off := wire.IPProtocol(pkt[wire.IPv6NextHeaderOff]), wire.IPv6HeaderLen
	for {
		switch nh {
		case wire.ProtoICMPv6:
			return off < len(pkt) && wire.ICMPv6Type(pkt[off]).IsError()
		case wire.ProtoHopByHop, wire.ProtoDstOpts, wire.ProtoRouting, wire.ProtoFragment:
			n, err := wire.IPv6ExtHeaderLen(nh, pkt[off:])
			if err != nil {
				return false
			}
			if nh == wire.ProtoFragment {
				if f, _ := wire.NewIPv6FragmentHeader(pkt[off:]); f.Offset() != 0 {
					return false
				}
			}
			nh, off = wire.IPProtocol(pkt[off]), off+n
		default:
			return false
		}
	}
}
