package netcore

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// UDP over IPv6: the parts of udp.go's conversations that differ by
// family. Datagrams come in through ipv6Protos (receiveUDP6 in udp.go), go
// out through sendIPv6, in fragments when they do not fit the path MTU
// (IPv6 sends what IPv4 cannot yet), and ICMPv6 errors about them reach
// their conversation as ICMP errors about IPv4 datagrams do.

// maxUDP6 is the most data a datagram over IPv6 holds: the payload length
// field counts the UDP header and, in fragments, the fragment header.
const maxUDP6 = 0xffff - wire.UDPHeaderLen - wire.IPv6FragLen

// convSource6 is convSource for an IPv6 remote: the address of ours by RFC
// 6724 (source6), when there is a way there.
func (h *Host) convSource6(remote netip.Addr) (netip.Addr, error) {
	switch {
	case !h.v6.running:
		return netip.Addr{}, convErr(syscall.ENETUNREACH, "%s: %v", remote, ctl.ErrIPv6Off)
	case !ctl.UnicastIPv6(remote) || remote.Zone() != "":
		return netip.Addr{}, convErr(syscall.EINVAL, "%s is not a unicast address", remote)
	}
	if _, ok := h.nextHop6(remote); !ok {
		return netip.Addr{}, convErr(syscall.ENETUNREACH, "%s is not on the link, and no router was advertised", remote)
	}
	src, ok := h.source6(remote)
	if !ok {
		return netip.Addr{}, convErr(syscall.ENETUNREACH, "%s: no usable IPv6 address yet (duplicate address detection runs)", remote)
	}
	return src, nil
}

// write6 sends b as one datagram over IPv6 to the conversation's remote.
func (u *udp) write6(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	h := u.h
	if len(b) > maxUDP6 {
		h.stats[UDPTxTooBig]++
		return 0, convErr(syscall.EMSGSIZE, "%d bytes: a datagram over IPv6 holds at most %d", len(b), maxUDP6)
	}
	if h.cfg.Down || !h.v6.running {
		return 0, convErr(syscall.ENETDOWN, "%s is down, or IPv6 is off", h.cfg.Name)
	}
	src, dst := c.local.Addr(), c.remote.Addr()
	d := append(h.v6.udp[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(d[wire.UDPSrcPortOff:], c.local.Port())
	binary.BigEndian.PutUint16(d[wire.UDPDstPortOff:], c.remote.Port())
	binary.BigEndian.PutUint16(d[wire.UDPLengthOff:], uint16(wire.UDPHeaderLen+len(b)))
	d = append(d, b...)
	wire.SetUDPChecksum(d, src, dst)
	h.v6.udp = d[:0]
	if !h.sendIPv6(now, out, src, dst, wire.ProtoUDP, c.ttl, c.tos, d) {
		return 0, convErr(syscall.ENETUNREACH, "%s: no route", dst)
	}
	h.stats[UDPTx]++
	return len(b), nil
}

// udpICMPv6Errnos are the errnos of ICMPv6 destination unreachable's codes
// for a connected UDP conversation, as Linux's icmpv6_err_convert has them;
// only those Linux calls fatal reach a connected socket without
// IPV6_RECVERR, and so only those reach a conversation (0 for the others:
// no route, address unreachable).
var udpICMPv6Errnos = [...]syscall.Errno{
	wire.ICMPv6AdminProhibited:  syscall.EACCES,
	wire.ICMPv6PortUnreachable:  syscall.ECONNREFUSED,
	wire.ICMPv6SourcePolicyFail: syscall.EACCES,
	wire.ICMPv6RejectRoute:      syscall.EACCES,
}

// icmp6ToUDP gives an ICMPv6 error about a datagram we sent (quoted, from
// its IPv6 header on) to its connected conversation (udpError) when Linux
// would report it: port unreachable is ECONNREFUSED, prohibited EACCES, a
// parameter problem EPROTO; packet too big, time exceeded and the other
// unreachables are not reported, as on Linux.
func (h *Host) icmp6ToUDP(typ wire.ICMPv6Type, code uint8, quoted []byte, out *Output) {
	var errno syscall.Errno
	switch {
	case typ == wire.ICMPv6DstUnreachable && int(code) < len(udpICMPv6Errnos):
		errno = udpICMPv6Errnos[code]
	case typ == wire.ICMPv6ParamProblem:
		errno = syscall.EPROTO
	}
	if errno == 0 || len(quoted) < wire.IPv6HeaderLen {
		return
	}
	q := wire.IPv6Packet(quoted)
	nh, off := q.NextHeader(), wire.IPv6HeaderLen
	for nh != wire.ProtoUDP {
		if nh != wire.ProtoHopByHop && nh != wire.ProtoDstOpts && nh != wire.ProtoRouting {
			return // not UDP, or past a fragment header that hides it
		}
		n, err := wire.IPv6ExtHeaderLen(nh, quoted[off:])
		if err != nil {
			return
		}
		nh, off = wire.IPProtocol(quoted[off]), off+n
	}
	if len(quoted) < off+wire.UDPHeaderLen {
		return
	}
	u := quoted[off:]
	local := netip.AddrPortFrom(q.Src(), binary.BigEndian.Uint16(u[wire.UDPSrcPortOff:]))
	remote := netip.AddrPortFrom(q.Dst(), binary.BigEndian.Uint16(u[wire.UDPDstPortOff:]))
	h.udpError(local, remote, errno, out)
}
