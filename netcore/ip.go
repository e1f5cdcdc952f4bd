package netcore

import (
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The way in and out of IP for the transports (UDP, TCP, ICMP
// conversations), the same for both families: addresses are netip.Addr,
// and the family of the destination picks IPv4 or IPv6. What arrives comes
// through each family's table of upper-layer protocols (ipv4Protos in
// ipv4.go, ipv6Protos in ipv6.go), where a transport adds a line; what it
// sends goes through sendIP.

// sourceAddr is the address of ours to send to dst from, of dst's family,
// and whether there is one: IPv4's on the subnet of dst's next hop
// (route.go), or IPv6's by RFC 6724 (source6). An IPv4-mapped IPv6 address
// is IPv4.
func (h *Host) sourceAddr(dst netip.Addr) (netip.Addr, bool) {
	dst = dst.Unmap()
	if dst.Is4() {
		src, ok := h.sourceFor(key(dst))
		return addrOf(src), ok
	}
	if !h.v6.running {
		return netip.Addr{}, false
	}
	return h.source6(dst)
}

// sendIP sends a datagram of an upper-layer protocol: payload (its header,
// checksum included, and data) from src to dst, with hop limit (TTL) ttl
// and traffic class (TOS) tos; src may be invalid for sourceAddr's choice.
// Datagrams larger than the (path) MTU go in fragments. It reports whether
// the datagram went out or waits for its neighbour; false when it could
// not: no route, no source, IPv6 off, or longer than the family allows.
func (h *Host) sendIP(now time.Time, out *Output, src, dst netip.Addr, proto wire.IPProtocol, ttl, tos uint8, payload []byte) bool {
	dst, src = dst.Unmap(), src.Unmap()
	if h.cfg.Down {
		return false
	}
	if dst.Is6() {
		return h.sendIPv6(now, out, src, dst, proto, ttl, tos, payload)
	}
	if !src.IsValid() {
		var ok bool
		if src, ok = h.sourceAddr(dst); !ok {
			h.stats[TxNoRoute]++
			return false
		}
	}
	if wire.IPv4MinLen+len(payload) > 0xffff || !src.Is4() {
		return false
	}
	if _, ok := h.nextHop(key(dst)); !ok {
		h.stats[TxNoRoute]++
		return false
	}
	if ttl == 0 {
		ttl = 64
	}
	h.ipID++
	d := wire.IPv4Repr{Src: src, Dst: dst, Protocol: proto, TTL: ttl, TOS: tos, ID: h.ipID, PayloadLen: len(payload)}.Append(h.txBuf[:0])
	d = append(d, payload...)
	h.txBuf = d[:0]
	h.sendDatagram(now, out, key(dst), wire.IPv4Packet(d))
	return true
}

// unreachable6 tells the source of an IPv6 datagram that it went nowhere
// (RFC 4443 3.1): for UDP, code ICMPv6PortUnreachable when no conversation
// has the port. It keeps every rule of sendICMPv6Error.
func (h *Host) unreachable6(now time.Time, d *datagram6, code uint8, out *Output) {
	h.sendICMPv6Error(now, d, wire.ICMPv6DstUnreachable, code, 0, out)
}
