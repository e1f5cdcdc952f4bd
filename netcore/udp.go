package netcore

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// UDP conversations (RFC 768), Plan 9's way: a connected conversation
// exchanges datagrams with one remote; an announced one hands each new
// remote IP!PORT a conversation of its own through listen (as Plan 9's
// udp.c does for a conversation without "headers"), the datagram that
// made it queued in it, so that one handler serves one peer.
//
// Received datagrams go to the connected conversation of their four
// addresses first, then to the conversation announced on their port (on
// their destination address, or on any). Each received datagram's fate is
// one counter: udp_rx (queued for a reader), udp_rx_no_port,
// udp_rx_bad_checksum, udp_rx_bad_length, udp_rx_queue_full or
// udp_rx_no_call (a new remote that no conversation could be made for).

// Ephemeral ports, IANA's range (RFC 6335): for a connect without a local
// port and an announce of port 0.
const (
	ephemeralFirst = 49152
	ephemeralLast  = 65535
)

// maxSpareDgram is the largest datagram buffer kept for reuse; a longer
// one goes back to the garbage collector, so that a burst of big
// datagrams does not leave the spare list holding megabytes.
const maxSpareDgram = 2048

// udpKey is a connected conversation's addresses: local (an address of
// ours) and remote.
type udpKey struct{ local, remote netip.AddrPort }

// udp is the UDP transport of one host.
type udp struct {
	h         *Host
	conns     map[udpKey]*conv   // connected conversations
	listeners map[uint16][]*conv // announced conversations by port
	ports     map[uint16]int     // conversations using each local port
	next      uint16             // where the search for an ephemeral port goes on
}

func newUDP(h *Host) *udp {
	return &udp{h: h, conns: map[udpKey]*conv{}, listeners: map[uint16][]*conv{}, ports: map[uint16]int{}, next: ephemeralFirst}
}

// receiveUDP delivers a datagram that came in p, an IPv4 packet to one of
// our addresses, and returns its fate.
func (h *Host) receiveUDP(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	fate, noPort := h.receiveUDPFrom(now, p.Src(), p.Dst(), p.Payload(), out)
	if noPort {
		h.udpPortUnreachable(now, p, out)
	}
	return fate
}

// receiveUDP6 delivers a datagram that came over IPv6 (ipv6.go's table),
// and answers one to a port nobody has with a port unreachable. Datagrams
// to a group go nowhere: no conversation joins one.
func (h *Host) receiveUDP6(now time.Time, d datagram6, out *Output) Counter {
	if d.mcast {
		return UDPRxNoPort
	}
	fate, noPort := h.receiveUDPFrom(now, d.src, d.dst, d.upper(), out)
	if noPort {
		h.unreachable6(now, &d, wire.ICMPv6PortUnreachable, out)
	}
	return fate
}

// receiveUDPFrom delivers datagram b, sent from src to dst, of either
// family; noPort says that no conversation has its port.
func (h *Host) receiveUDPFrom(now time.Time, src, dst netip.Addr, b []byte, out *Output) (fate Counter, noPort bool) {
	d, err := wire.NewUDPPacket(b)
	if err != nil {
		return UDPRxBadLength, false
	}
	if !h.rxOffload.ChecksumValid && !d.VerifyChecksum(src, dst) {
		return UDPRxBadChecksum, false
	}
	u := h.udp
	local, remote := netip.AddrPortFrom(dst, d.DstPort()), netip.AddrPortFrom(src, d.SrcPort())
	if c := u.conns[udpKey{local, remote}]; c != nil {
		return u.deliver(c, d.Payload(), out), false
	}
	l := u.listener(local)
	if l == nil {
		return UDPRxNoPort, true
	}
	call, err := h.newConv(ProtoUDP)
	if err != nil {
		return UDPRxNoCall, false // MaxConvs
	}
	call.ttl, call.tos = l.ttl, l.tos
	u.bind(call, local, remote)
	if !h.queueCall(l, call, out) {
		u.unbind(call)
		h.freeConv(call, out)
		return UDPRxNoCall, false
	}
	return u.deliver(call, d.Payload(), out), false
}

// udpPortUnreachable answers a datagram to a port nobody announced with an
// ICMP port unreachable (RFC 1122 3.2.2.1, 4.1.3.1), within icmpError's
// exceptions and rate limit.
func (h *Host) udpPortUnreachable(now time.Time, p wire.IPv4Packet, out *Output) {
	h.icmpError(now, out, p, wire.ICMPDestUnreachable, wire.ICMPPortUnreachable, 0)
}

// udpError gives an ICMP error about a datagram we sent from local to
// remote (port unreachable: ECONNREFUSED; host unreachable: EHOSTUNREACH)
// to the connected conversation of those addresses, if there is one: its
// next read fails with it, once, as a connected socket's does on Linux, and
// its readers wake. It reports whether a conversation took it.
func (h *Host) udpError(local, remote netip.AddrPort, errno syscall.Errno, out *Output) bool {
	c := h.udp.conns[udpKey{local, remote}]
	if c == nil {
		return false
	}
	c.setErr(errno)
	out.wake(c.ref)
	return true
}

// udpICMPErrnos are the errnos of destination unreachable's codes for a
// connected UDP conversation, as Linux's icmp_err_convert has them; only
// the errors Linux calls hard reach a connected socket without IP_RECVERR,
// and so only those reach a conversation (0 for the others).
var udpICMPErrnos = [...]syscall.Errno{
	wire.ICMPProtocolUnreachable: syscall.ENOPROTOOPT,
	wire.ICMPPortUnreachable:     syscall.ECONNREFUSED,
	6:                            syscall.ENETUNREACH,  // network unknown
	7:                            syscall.EHOSTDOWN,    // host unknown
	8:                            syscall.ENONET,       // source host isolated
	9:                            syscall.ENETUNREACH,  // network administratively prohibited
	10:                           syscall.EHOSTUNREACH, // host administratively prohibited
	13:                           syscall.EHOSTUNREACH, // communication administratively prohibited
	14:                           syscall.EHOSTUNREACH, // host precedence violation
	15:                           syscall.EHOSTUNREACH, // precedence cutoff
}

// udpICMPError takes an ICMP error about a UDP datagram we sent (the
// quoted header, and the first 8 bytes of what followed it: the UDP
// header) to the connected conversation of its addresses (udpError).
// Errors that are not hard ones are not reported, as on Linux, but are
// still the conversation's: they count as taken.
func (h *Host) udpICMPError(p wire.IPv4Packet, e wire.ICMPErrorRepr, quoted wire.IPv4Packet, payload []byte, out *Output) bool {
	local := netip.AddrPortFrom(quoted.Src(), binary.BigEndian.Uint16(payload[wire.UDPSrcPortOff:]))
	remote := netip.AddrPortFrom(quoted.Dst(), binary.BigEndian.Uint16(payload[wire.UDPDstPortOff:]))
	c := h.udp.conns[udpKey{local, remote}]
	if c == nil {
		return false
	}
	var errno syscall.Errno
	switch {
	case e.Type == wire.ICMPDestUnreachable && int(e.Code) < len(udpICMPErrnos):
		errno = udpICMPErrnos[e.Code]
	case e.Type == wire.ICMPParamProblem:
		errno = syscall.EPROTO
	}
	if errno != 0 {
		h.udpError(local, remote, errno, out)
	}
	return true
}

// udpUnresolved tells the conversations connected to ip that ARP found no
// one there: their next read fails with EHOSTUNREACH (No route to host), as
// a connected socket's does on Linux.
func (h *Host) udpUnresolved(ip netip.Addr, out *Output) {
	for k, c := range h.udp.conns {
		if k.remote.Addr() == ip {
			c.setErr(syscall.EHOSTUNREACH)
			out.wake(c.ref)
		}
	}
}

// deliver queues a datagram's data in c and wakes c's readers.
func (u *udp) deliver(c *conv, data []byte, out *Output) Counter {
	if !c.rq.push(u.h, data) {
		return UDPRxQueueFull
	}
	if c.rq.len() == 1 {
		out.wake(c.ref)
	}
	return UDPRx
}

// listener finds the conversation announced on local's port for local's
// address: one announced on that address, else one announced on any.
func (u *udp) listener(local netip.AddrPort) *conv {
	var any *conv
	for _, c := range u.listeners[local.Port()] {
		switch a := c.local.Addr(); {
		case a == local.Addr():
			return c
		case a.IsUnspecified():
			any = c
		}
	}
	return any
}

// bind makes c connected to remote from local.
func (u *udp) bind(c *conv, local, remote netip.AddrPort) {
	c.local, c.remote, c.state = local, remote, convOpen
	u.conns[udpKey{local, remote}] = c
	u.ports[local.Port()]++
}

// unbind undoes bind or announce: c is idle again.
func (u *udp) unbind(c *conv) {
	switch c.state {
	case convOpen:
		if k := (udpKey{c.local, c.remote}); u.conns[k] == c {
			delete(u.conns, k)
		}
	case convAnnounced:
		port := c.local.Port()
		l := slices.DeleteFunc(u.listeners[port], func(x *conv) bool { return x == c })
		if len(l) == 0 {
			delete(u.listeners, port)
		} else {
			u.listeners[port] = l
		}
	default:
		return
	}
	if u.ports[c.local.Port()]--; u.ports[c.local.Port()] <= 0 {
		delete(u.ports, c.local.Port())
	}
	c.local, c.remote, c.state = netip.AddrPort{}, netip.AddrPort{}, convIdle
}

// ephemeral finds a local port no conversation uses.
func (u *udp) ephemeral() (uint16, error) {
	for range ephemeralLast - ephemeralFirst + 1 {
		p := u.next
		if u.next++; u.next == 0 || u.next < ephemeralFirst {
			u.next = ephemeralFirst
		}
		if u.ports[p] == 0 {
			return p, nil
		}
	}
	return 0, convErr(syscall.EADDRINUSE, "no free local port")
}

// convErr is a conversation command's failure with its errno; ConvCtl adds
// the line.
func convErr(errno syscall.Errno, format string, args ...any) *ctl.CommandError {
	return &ctl.CommandError{Errno: errno, Err: fmt.Errorf(format, args...)}
}

// convSource is the address of ours a conversation sends to remote from:
// the one on its subnet, or on the subnet of the gateway of its route
// (route.go).
func (h *Host) convSource(remote netip.Addr) (netip.Addr, error) {
	remote = remote.Unmap()
	if !remote.Is4() {
		return h.convSource6(remote)
	}
	if !unicastIPv4(key(remote)) || remote.IsUnspecified() {
		return netip.Addr{}, convErr(syscall.EINVAL, "%s is not a unicast address", remote)
	}
	src, ok := h.sourceFor(key(remote))
	if !ok {
		for _, a := range h.addrs {
			if k := key(remote); k&a.mask == a.ip&a.mask {
				return netip.Addr{}, convErr(syscall.EINVAL, "%s is the network or broadcast address of a connected subnet", remote)
			}
		}
		return netip.Addr{}, convErr(syscall.ENETUNREACH, "%s is not on a connected subnet, and no route reaches it", remote)
	}
	return addrOf(src), nil
}

func (u *udp) connect(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	if c.state == convAnnounced {
		return convErr(syscall.EINVAL, "the conversation is announced")
	}
	remote := netip.AddrPortFrom(cmd.Remote.Addr().Unmap(), cmd.Remote.Port())
	if remote.Port() == 0 {
		return convErr(syscall.EINVAL, "connect: remote port 0")
	}
	src, err := u.h.convSource(remote.Addr())
	if err != nil {
		return err
	}
	port := cmd.LocalPort
	if port == 0 && c.state == convOpen {
		port = c.local.Port() // connect again: keep the local port, as a socket does
	}
	if port == 0 {
		if port, err = u.ephemeral(); err != nil {
			return err
		}
	}
	local := netip.AddrPortFrom(src, port)
	if other := u.conns[udpKey{local, remote}]; other != nil && other != c {
		return convErr(syscall.EADDRINUSE, "%s is already connected from %s", remote, local)
	}
	u.unbind(c)
	u.bind(c, local, remote)
	return nil
}

func (u *udp) announce(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	if c.state != convIdle {
		return convErr(syscall.EINVAL, "the conversation is connected or announced already")
	}
	addr := cmd.Local.Addr().Unmap()
	switch {
	case !addr.IsValid() || addr.IsUnspecified():
		addr = netip.IPv4Unspecified() // any of the host's addresses
	case addr.Is6() && u.h.v6.ours(addr) == nil, addr.Is4() && !u.h.ourAddr(key(addr)):
		return convErr(syscall.EADDRNOTAVAIL, "%s is not an address of this host", addr)
	}
	port := cmd.Local.Port()
	if port == 0 {
		var err error
		if port, err = u.ephemeral(); err != nil {
			return err
		}
	}
	for _, l := range u.listeners[port] {
		if a := l.local.Addr(); a.IsUnspecified() || addr.IsUnspecified() || a == addr {
			return convErr(syscall.EADDRINUSE, "port %d is announced already (%s)", port, l.ref)
		}
	}
	c.local, c.state = netip.AddrPortFrom(addr, port), convAnnounced
	u.listeners[port] = append(u.listeners[port], c)
	u.ports[port]++
	return nil
}

func (u *udp) command(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	if cmd.Op == ctl.ConvHangup {
		// Forget the remote (and the announcement): the conversation is
		// as it was after clone; readers waiting go on waiting.
		u.unbind(c)
		return nil
	}
	return convErr(syscall.EINVAL, "%s is a TCP command", cmd.Op)
}

func (u *udp) read(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	if err := c.takeErr(); err != nil {
		return 0, err
	}
	if n, ok := c.rq.pop(u.h, b); ok {
		return n, nil
	}
	return 0, ErrWouldBlock
}

// write sends b as one datagram to the conversation's remote.
func (u *udp) write(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	h := u.h
	if c.state != convOpen {
		// ENOTCONN rather than a socket's EDESTADDRREQ: Linux's 9P2000
		// client knows its words and not EDESTADDRREQ's.
		return 0, convErr(syscall.ENOTCONN, "%s is not connected", c.ref)
	}
	if c.remote.Addr().Is6() {
		return u.write6(now, c, b, out)
	}
	// Datagrams longer than the MTU go in fragments (fragment.go), up to
	// what IPv4's total length holds.
	if max := 0xffff - wire.IPv4MinLen - wire.UDPHeaderLen; len(b) > max {
		h.stats[UDPTxTooBig]++
		return 0, convErr(syscall.EMSGSIZE, "%d bytes: a UDP datagram holds at most %d", len(b), max)
	}
	if h.cfg.Down {
		return 0, convErr(syscall.ENETDOWN, "%s is down", h.cfg.Name)
	}
	src, dst := c.local.Addr(), c.remote.Addr()
	h.ipID++
	n := wire.UDPHeaderLen + len(b)
	d := wire.IPv4Repr{Src: src, Dst: dst, Protocol: wire.ProtoUDP, TTL: c.ttl, TOS: c.tos, ID: h.ipID, PayloadLen: n}.Append(h.txBuf[:0])
	start := len(d)
	d = binary.BigEndian.AppendUint16(d, c.local.Port())
	d = binary.BigEndian.AppendUint16(d, c.remote.Port())
	d = binary.BigEndian.AppendUint16(d, uint16(n))
	d = append(d, 0, 0)
	d = append(d, b...)
	h.txBuf = d[:0] // keeps what it grew to
	wire.SetUDPChecksum(d[start:], src, dst)
	h.stats[UDPTx]++
	h.sendDatagram(now, out, key(dst), wire.IPv4Packet(d))
	return len(b), nil
}

func (u *udp) release(now time.Time, c *conv, out *Output) bool {
	u.unbind(c)
	return true
}

func (u *udp) state(c *conv) string {
	switch c.state {
	case convOpen:
		return "Open"
	case convAnnounced:
		return "Announced"
	}
	return "Closed"
}

// udpCounters are what udp/stats shows.
var udpCounters = []Counter{UDPRx, UDPRxNoPort, UDPRxBadChecksum, UDPRxBadLength, UDPRxQueueFull, UDPRxNoCall, UDPTx, UDPTxTooBig}

func (u *udp) appendStats(b []byte) []byte {
	for _, c := range udpCounters {
		b = append(b, c.String()...)
		b = append(b, ' ')
		b = fmt.Appendf(b, "%d\n", u.h.stats[c])
	}
	return b
}
