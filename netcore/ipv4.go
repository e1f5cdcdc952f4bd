package netcore

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv4 (RFC 791): the host's addresses and subnets, the receive path that
// hands datagrams to their protocol, and the route out through a neighbour.

// ifAddr is one of the host's addresses in host byte order, so that matching
// a packet against it is integer arithmetic.
type ifAddr struct{ ip, mask uint32 }

func ifAddrOf(p netip.Prefix) ifAddr {
	return ifAddr{ip: key(p.Addr()), mask: ^uint32(0) << (32 - p.Bits())}
}

// holds reports whether ip is a host of a's subnet: inside it, and not its
// network or broadcast address (which /31 and /32 do not have). It is
// ctl.IsHostOf in integers, for the receive path.
func (a ifAddr) holds(ip uint32) bool {
	if ip&a.mask != a.ip&a.mask {
		return false
	}
	return a.mask > 0xfffffffc || ip&^a.mask != 0 && ip|a.mask != ^uint32(0)
}

// unicastIPv4 is ctl.UnicastIPv4 in integers, for the receive path.
func unicastIPv4(ip uint32) bool {
	return ip>>24 != 0 && ip>>24 != 127 && ip < 0xe0000000
}

// setAddrs derives addrs from cfg.Addrs after every change.
func (h *Host) setAddrs() {
	h.addrs = h.addrs[:0]
	for _, p := range h.cfg.Addrs {
		h.addrs = append(h.addrs, ifAddrOf(p))
	}
}

// ourAddr reports whether ip is one of the host's addresses.
func (h *Host) ourAddr(ip uint32) bool {
	for _, a := range h.addrs {
		if a.ip == ip {
			return true
		}
	}
	return false
}

// source finds the address to send from towards ip: the first of ours
// whose subnet holds ip as a host. ok is false when ip is on no connected
// subnet, or is multicast, a network or a broadcast address, so that nothing
// is ever resolved, learned or answered for it.
func (h *Host) source(ip uint32) (src uint32, ok bool) {
	if !unicastIPv4(ip) {
		return 0, false
	}
	for _, a := range h.addrs {
		if a.holds(ip) {
			return a.ip, true
		}
	}
	return 0, false
}

// onLink reports whether ip is a host on one of our subnets.
func (h *Host) onLink(ip uint32) bool {
	_, ok := h.source(ip)
	return ok
}

// ipv4Protos are the protocols the host speaks over IPv4, by protocol
// number, each handled in its own file. A protocol is a line here.
var ipv4Protos = [...]struct {
	proto   wire.IPProtocol
	receive func(h *Host, now time.Time, p wire.IPv4Packet, out *Output) Counter
}{
	{wire.ProtoICMP, (*Host).receiveICMP},
	{wire.ProtoUDP, (*Host).receiveUDP},
	{wire.ProtoTCP, (*Host).receiveTCP},
}

func (h *Host) receiveIPv4(now time.Time, b []byte, out *Output) Counter {
	p, err := wire.NewIPv4Packet(b)
	if err != nil {
		return RxMalformed
	}
	if !p.VerifyChecksum() {
		return IPv4RxBadChecksum
	}
	if !h.ourAddr(binary.BigEndian.Uint32(p[wire.IPv4DstOff:])) {
		return RxNotForUs
	}
	// Options are checked in every fragment, as they come (Linux's
	// ip_rcv_options, before ip_defrag).
	if p.HeaderLen() > wire.IPv4MinLen {
		opts, err := p.Options()
		if err != nil {
			h.icmpError(now, out, p, wire.ICMPParamProblem, 0, uint32(opts.Bad)<<24)
			return IPv4RxBadOptions
		}
		if opts.SRR != 0 {
			// RFC 1122 3.3.5 would have a host answer along the
			// reversed route; Linux (accept_source_route 0) and most
			// hosts drop them instead, and so does this one.
			return IPv4RxSourceRoute
		}
	}
	if p.IsFragment() {
		return h.receiveFragment(now, p, out)
	}
	return h.deliverIPv4(now, p, out)
}

// deliverIPv4 hands a whole datagram for us to its protocol; a protocol the
// host does not carry is answered with protocol unreachable (RFC 1122
// 3.2.2.1).
func (h *Host) deliverIPv4(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	proto := p.Protocol()
	for _, q := range &ipv4Protos {
		if q.proto == proto {
			return q.receive(h, now, p, out)
		}
	}
	h.icmpError(now, out, p, wire.ICMPDestUnreachable, wire.ICMPProtocolUnreachable, 0)
	return IPv4RxOther
}

// route sends an IPv4 frame (Ethernet header with the destination left to
// fill) towards ip: to ip itself on a connected subnet, else to the gateway
// of its route (route.go); at once if the neighbour is known, otherwise
// after ARP resolves it.
func (h *Host) route(now time.Time, out *Output, ip uint32, frame []byte) {
	ip, ok := h.nextHop(ip)
	if !ok {
		h.stats[TxNoRoute]++
		return
	}
	e := h.arp.get4(ip)
	if e != nil && (e.state == Static || e.state == Reachable && now.Before(e.deadline)) {
		h.arp.use(e)
		copy(frame[wire.EthDstOff:], e.mac[:])
		h.transmit(now, out, frame)
		return
	}
	switch {
	case e == nil:
		if e = h.arp.insert(addrOf(ip), Incomplete, protected); e == nil {
			h.stats[ARPPendingDropped]++ // every slot is static
			return
		}
	case e.state != Incomplete: // expired, not yet swept: resolve it again
		h.arp.setState(e, Incomplete)
		e.mac = wire.MAC{}
		e.tries = 0
	}
	h.arp.use(e)
	if len(e.pending) >= h.cfg.ARPPending {
		h.stats[ARPPendingDropped]++
	} else {
		e.pending = append(e.pending, h.keep(frame))
	}
	if e.tries == 0 {
		h.request(now, out, e)
	}
}
