package netcore

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/netcore/wire"
)

// TCP conversations: the glue between the conversation machinery (conv.go)
// and the sans-I/O engine (package tcp), which does the protocol. The glue
// hands the engine the segments that arrive and the time, wraps what it
// sends in IP, turns its readiness events into the conversations' wake-ups,
// keeps its earliest deadline in the host's timer heap, and maps the
// conversation commands onto its calls:
//
//	connect    Table.Connect; the write waits (ErrWouldBlock) until the
//	           handshake is done or failed, and reports which
//	announce   Table.Listen; listen takes the engine's established
//	           connections (its bounded backlog) and makes each a
//	           conversation only then
//	close      Conn.Close: FIN after the queued data (half-close)
//	hangup     Conn.Abort: RST
//	keepalive, nodelay, ttl, tos   the connection's options
//	last file closed               Conn.Release: the connection finishes
//	           its close on its own; its number is free once it is closed
//	           or in TIME_WAIT (which the engine bounds by itself)
//
// The engine is family-neutral: addresses are netip.Addr. Segments come in
// through ipv4Protos (receiveTCP) and ipv6Protos (receiveTCP6) and go out
// through sendTCP; an announcement on any address listens on both
// families.
//
// Each received segment's fate is one counter: tcp_rx (the engine took it:
// its own counters in tcp/stats say what became of it), tcp_rx_bad
// (malformed or a bad checksum) or tcp_rx_not_unicast.

// tcpConv is what a TCP conversation holds besides the machinery's fields.
type tcpConv struct {
	conn        *tcp.Conn       // connected (or connecting, or ended)
	listeners   []*tcp.Listener // announced
	connecting  bool            // a connect is waiting for its outcome
	established bool            // the handshake completed
	nodelay     bool
	keepalive   time.Duration // 0: off; negative: the engine's default idle time
}

// tcpTransport is the TCP of one host.
type tcpTransport struct {
	h     *Host
	t     *tcp.Table
	out   tcp.Output
	timer int32 // the position of timerTCP in the host's heap

	// closing are the conversations whose files all closed while their
	// connection was still closing, until it is closed or in TIME_WAIT:
	// they keep their number (and count towards MaxTCPConvs), so that
	// orphans with full buffers are bounded as open conversations are.
	closing map[*tcp.Conn]*conv
	// announced are the announced conversations by port, for the same
	// rule UDP keeps: one announcement per port and address.
	announced map[uint16][]*conv
	seg6      []byte // an IPv6 segment being sent: header and payload together
}

func newTCP(h *Host) *tcpTransport {
	cfg := h.cfg.TCP
	if cfg.MSS == 0 {
		cfg.MSS = tcp.MSSForMTU(h.cfg.MTU, false)
	}
	return &tcpTransport{
		h:         h,
		t:         tcp.NewTable(cfg),
		timer:     noTimer,
		closing:   map[*tcp.Conn]*conv{},
		announced: map[uint16][]*conv{},
	}
}

// receiveTCP hands a segment that came in p, an IPv4 packet to one of our
// addresses, to the engine, and returns its fate.
func (h *Host) receiveTCP(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	src := p.Src()
	// RFC 1122 4.2.3.10: a segment to a broadcast or multicast address (at
	// the link layer too) or from one is dropped: neither a connection nor
	// a RST may answer it.
	s := key(src)
	if h.rxLinkMulticast || !unicastIPv4(s) || h.subnetBroadcast(s) {
		return TCPRxNotUnicast
	}
	fate := h.tcp.receive(now, src, p.Dst(), p.Payload(), out)
	if fate == TCPRx {
		h.tcpConfirm(now, s)
	}
	return fate
}

// tcpConfirm takes a segment TCP accepted from an on-link neighbour, from
// the hardware address the ARP cache has for it, as advice that the
// neighbour is still there (RFC 1122 2.3.2.1, as Linux's TCP confirms its
// neighbours): the entry lives on without a new request. Otherwise a busy
// connection's entry expires every ARP timeout, and the segments sent
// while it is resolved again wait (a few) or are dropped (the rest), which
// a handshake pays with a second's retransmission timeout.
func (h *Host) tcpConfirm(now time.Time, src uint32) {
	if e := h.arp.get4(src); e != nil && e.state == Reachable && e.mac == h.rxSrcMAC {
		e.deadline = now.Add(h.cfg.ARPTimeout)
	}
}

// receiveTCP6 is receiveTCP for a segment that came in an IPv6 datagram to
// one of our addresses (or groups: those are dropped, as broadcasts are).
func (h *Host) receiveTCP6(now time.Time, d datagram6, out *Output) Counter {
	if d.mcast || d.linkMC || !ctl.UnicastIPv6(d.src) {
		return TCPRxNotUnicast
	}
	return h.tcp.receive(now, d.src, d.dst, d.upper(), out)
}

// receive hands a segment from src to dst to the engine and returns its
// fate.
func (u *tcpTransport) receive(now time.Time, src, dst netip.Addr, seg []byte, out *Output) Counter {
	errs := u.t.Stats().InErrs
	if u.h.rxOffload.ChecksumValid {
		u.t.ReceiveVerified(now, src, dst, seg, &u.out)
	} else {
		u.t.Receive(now, src, dst, seg, &u.out)
	}
	bad := u.t.Stats().InErrs != errs
	u.flush(now, out)
	if bad {
		return TCPRxBad
	}
	return TCPRx
}

// subnetBroadcast reports whether ip is the broadcast address of one of
// our subnets.
func (h *Host) subnetBroadcast(ip uint32) bool {
	for _, a := range h.addrs {
		if a.mask < 0xfffffffe && ip&a.mask == a.ip&a.mask && ip|a.mask == ^uint32(0) {
			return true
		}
	}
	return false
}

// poll runs the engine's timers that are due.
func (u *tcpTransport) poll(now time.Time, out *Output) {
	u.t.Poll(now, &u.out)
	u.flush(now, out)
}

// flush sends what the engine put in u.out, turns its events into wake-ups
// and arms the host's timer for its next deadline. Every call into the
// engine ends with it: a segment's payload may point into a send buffer
// that the next call changes.
func (u *tcpTransport) flush(now time.Time, out *Output) {
	for i := range u.out.Segments {
		u.sendTCP(now, &u.out.Segments[i], out)
	}
	for _, e := range u.out.Events {
		u.event(e, out)
	}
	u.out.Reset()
	u.arm(now)
}

// sendTCP wraps a segment in IP and Ethernet and routes it.
func (u *tcpTransport) sendTCP(now time.Time, s *tcp.Segment, out *Output) {
	h := u.h
	n := s.Len()
	if s.Dst.Is6() {
		// IPv6 takes the segment whole (header and payload in one
		// slice), to send in fragments if the path MTU is short.
		d := append(append(u.seg6[:0], s.Header...), s.Payload...)
		u.seg6 = d[:0]
		if !h.v6.running || !h.sendIPv6(now, out, s.Src, s.Dst, wire.ProtoTCP, s.TTL, s.TOS, d) {
			h.stats[TCPTxDropped]++
			return
		}
		h.stats[TCPTx]++
		return
	}
	if h.cfg.Down || !s.Dst.Is4() || wire.IPv4MinLen+n > h.cfg.MTU {
		h.stats[TCPTxDropped]++
		return
	}
	f := wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(out.buffer()) // Dst filled by route
	h.ipID++
	f = wire.IPv4Repr{Src: s.Src, Dst: s.Dst, Protocol: wire.ProtoTCP, TTL: s.TTL, TOS: s.TOS, ID: h.ipID, DF: true, PayloadLen: n}.Append(f)
	f = append(f, s.Header...)
	f = append(f, s.Payload...)
	dst := key(s.Dst)
	if _, ok := h.nextHop(dst); !ok {
		h.stats[TCPTxDropped]++
		h.stats[TxNoRoute]++
		return
	}
	h.stats[TCPTx]++
	h.route(now, out, dst, f)
}

// event turns one of the engine's readiness changes into a wake-up of the
// conversation it concerns, and forgets a released conversation once its
// connection is done.
func (u *tcpTransport) event(e tcp.Event, out *Output) {
	if e.Listener != nil {
		if c, ok := e.Listener.User().(*conv); ok {
			out.wake(c.ref)
		}
		return
	}
	cn := e.Conn
	if c, ok := cn.User().(*conv); ok {
		if e.Ready&tcp.Established != 0 {
			c.tcp.established = true
		}
		if err := cn.Err(); e.Ready&tcp.Failed != 0 && err != nil {
			c.errMsg = err.Error()
		}
		out.wake(c.ref)
		return
	}
	if c := u.closing[cn]; c != nil {
		if st := cn.State(); st == tcp.StateClosed || st == tcp.StateTimeWait {
			delete(u.closing, cn)
			u.h.freeConv(c, out)
		}
	}
}

// arm makes sure the host's timer fires by the engine's next deadline. A
// timer armed earlier stays: it fires early, finds nothing due and is
// armed again, which is cheaper than moving it at every segment.
func (u *tcpTransport) arm(now time.Time) {
	d := u.t.Deadline()
	if d.IsZero() {
		return
	}
	if !d.After(now) {
		d = now.Add(time.Millisecond) // never due again at once: Poll must end
	}
	if at, ok := u.h.timers.when(timerTCP, 0); ok && !at.After(d) {
		return
	}
	u.h.timers.set(timerTCP, 0, d)
}

// tcpUnresolved ends the handshakes whose next hop is ip, a neighbour that
// did not answer ARP, with EHOSTUNREACH (No route to host), as Linux does
// with its own ICMP host unreachable; established connections go on
// retransmitting until they time out.
func (h *Host) tcpUnresolved(now time.Time, ip netip.Addr, out *Output) {
	u := h.tcp
	var fail []*tcp.Conn
	u.t.Conns(func(c *tcp.Conn) {
		if st := c.State(); st != tcp.StateSynSent && st != tcp.StateSynReceived {
			return
		}
		var hop netip.Addr
		ok := false
		if r := c.Remote().Addr(); r.Is4() {
			var h4 uint32
			h4, ok = h.nextHop(key(r))
			hop = addrOf(h4)
		} else {
			hop, ok = h.nextHop6(r)
		}
		if ok && hop == ip {
			fail = append(fail, c)
		}
	})
	for _, c := range fail {
		c.Fail(now, syscall.EHOSTUNREACH, &u.out)
	}
	u.flush(now, out)
}

// options are the engine's options for a connection of c.
func (u *tcpTransport) options(c *conv, ipv6 bool) tcp.ConnOptions {
	mtu := u.h.cfg.MTU
	if ipv6 {
		mtu = u.h.linkMTU6()
	}
	return tcp.ConnOptions{MSS: tcp.MSSForMTU(mtu, ipv6), TTL: c.ttl, TOS: c.tos, NoDelay: c.tcp.nodelay}
}

// bang is an address as the conversation files print it: IP!PORT.
func bang(ap netip.AddrPort) string { return string(ctl.AppendAddrPort(nil, ap)) }

// tcpErr is a failed operation of the engine as a conversation error.
func tcpErr(err error, format string, args ...any) error {
	switch {
	case err == tcp.ErrWouldBlock:
		return ErrWouldBlock
	case err == io.EOF:
		return io.EOF
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.EIO
	}
	if format == "" {
		return &ctl.CommandError{Errno: errno, Err: err}
	}
	return &ctl.CommandError{Errno: errno, Err: fmt.Errorf(format+": %w", append(args, err)...)}
}

func (u *tcpTransport) connect(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	tc := &c.tcp
	if tc.conn != nil {
		if !tc.connecting {
			return convErr(syscall.EISCONN, "%s is connected already", c.ref)
		}
		// The same connect again (the caller waited for a wake-up): its
		// outcome, once known.
		switch st := tc.conn.State(); {
		case st == tcp.StateSynSent || st == tcp.StateSynReceived:
			return ErrWouldBlock
		case !tc.established && tc.conn.Err() != nil:
			tc.connecting = false
			return tcpErr(tc.conn.Err(), "") // err shows the errno's words alone: connection refused
		}
		tc.connecting = false
		return nil
	}
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
	cn, err := u.t.Connect(now, netip.AddrPortFrom(src, cmd.LocalPort), remote, u.options(c, remote.Addr().Is6()), &u.out)
	if err != nil {
		u.flush(now, out)
		return tcpErr(err, "")
	}
	cn.SetUser(c)
	if tc.keepalive != 0 {
		cn.SetKeepalive(now, tc.keepalive)
	}
	c.local, c.remote, c.state = cn.Local(), remote, convOpen
	tc.conn, tc.connecting = cn, true
	u.flush(now, out)
	return ErrWouldBlock
}

func (u *tcpTransport) announce(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	if c.state != convIdle || c.tcp.conn != nil {
		return convErr(syscall.EINVAL, "the conversation is connected or announced already")
	}
	addr := cmd.Local.Addr().Unmap()
	switch {
	case !addr.IsValid() || addr.IsUnspecified():
		addr = netip.IPv4Unspecified() // any of the host's addresses, of both families
	case addr.Is6() && u.h.v6.ours(addr) == nil, addr.Is4() && !u.h.ourAddr(key(addr)):
		return convErr(syscall.EADDRNOTAVAIL, "%s is not an address of this host", addr)
	}
	port := cmd.Local.Port()
	if port == 0 {
		var err error
		if port, err = u.freePort(addr); err != nil {
			return err
		}
	}
	for _, l := range u.announced[port] {
		if a := l.local.Addr(); a.IsUnspecified() || addr.IsUnspecified() || a == addr {
			return convErr(syscall.EADDRINUSE, "port %d is announced already (%s)", port, l.ref)
		}
	}
	// The engine's listeners are per family: any address is 0.0.0.0 and
	// :: both.
	locals := []netip.Addr{addr}
	if addr.IsUnspecified() {
		locals = append(locals, netip.IPv6Unspecified())
	}
	for _, a := range locals {
		l, err := u.t.Listen(netip.AddrPortFrom(a, port), 0, u.options(c, a.Is6()))
		if err != nil {
			for _, l := range c.tcp.listeners {
				l.Close(now, &u.out)
			}
			c.tcp.listeners = nil
			u.flush(now, out)
			return tcpErr(err, "announce %s", bang(netip.AddrPortFrom(a, port)))
		}
		l.SetUser(c)
		c.tcp.listeners = append(c.tcp.listeners, l)
	}
	c.local, c.state = netip.AddrPortFrom(addr, port), convAnnounced
	u.announced[port] = append(u.announced[port], c)
	return nil
}

// freePort finds a port no conversation has announced, for `announce 0`.
func (u *tcpTransport) freePort(addr netip.Addr) (uint16, error) {
	start := ephemeralFirst + int(u.h.ipID)%(ephemeralLast-ephemeralFirst+1)
	for i := range ephemeralLast - ephemeralFirst + 1 {
		p := uint16(ephemeralFirst + (start-ephemeralFirst+i)%(ephemeralLast-ephemeralFirst+1))
		if len(u.announced[p]) == 0 {
			return p, nil
		}
	}
	return 0, convErr(syscall.EADDRINUSE, "no free local port")
}

// unannounce closes c's listeners (resetting the calls nobody took): c is
// idle again.
func (u *tcpTransport) unannounce(now time.Time, c *conv) {
	if c.state != convAnnounced {
		return
	}
	for _, l := range c.tcp.listeners {
		l.SetUser(nil)
		l.Close(now, &u.out)
	}
	c.tcp.listeners = nil
	port := c.local.Port()
	if l := slices.DeleteFunc(u.announced[port], func(x *conv) bool { return x == c }); len(l) == 0 {
		delete(u.announced, port)
	} else {
		u.announced[port] = l
	}
	c.local, c.state = netip.AddrPort{}, convIdle
}

// accept takes the oldest established connection from c's listeners and
// makes it a conversation.
func (u *tcpTransport) accept(now time.Time, c *conv, out *Output) (*conv, error) {
	for _, l := range c.tcp.listeners {
		cn, err := l.Accept()
		if err == tcp.ErrWouldBlock {
			continue
		}
		if err != nil {
			return nil, tcpErr(err, "listen")
		}
		call, err := u.h.newConv(ProtoTCP)
		if err != nil {
			// No number for it: the caller hears a reset rather than
			// waiting on a connection nobody serves.
			cn.Abort(now, &u.out)
			u.flush(now, out)
			return nil, err
		}
		call.ttl, call.tos = c.ttl, c.tos
		call.local, call.remote, call.state = cn.Local(), cn.Remote(), convOpen
		call.tcp = tcpConv{conn: cn, established: true, nodelay: c.tcp.nodelay, keepalive: c.tcp.keepalive}
		cn.SetUser(call)
		if call.tcp.keepalive != 0 {
			cn.SetKeepalive(now, call.tcp.keepalive)
			u.flush(now, out)
		}
		return call, nil
	}
	return nil, ErrWouldBlock
}

func (u *tcpTransport) command(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	cn := c.tcp.conn
	switch cmd.Op {
	case ctl.ConvClose, ctl.ConvHangup:
		switch {
		case c.state == convAnnounced:
			u.unannounce(now, c)
		case cn == nil:
			return convErr(syscall.ENOTCONN, "%s is not connected", c.ref)
		case cmd.Op == ctl.ConvClose:
			cn.Close(now, &u.out)
		default:
			cn.Abort(now, &u.out)
		}
	case ctl.ConvKeepalive:
		c.tcp.keepalive = 0
		if cmd.On {
			c.tcp.keepalive = cmd.D
			if cmd.D == 0 {
				c.tcp.keepalive = -1 // the engine's default
			}
		}
		if cn != nil {
			cn.SetKeepalive(now, c.tcp.keepalive)
		}
	case ctl.ConvNodelay:
		c.tcp.nodelay = cmd.On
		if cn != nil {
			cn.SetNoDelay(cmd.On)
		}
	default:
		return convErr(syscall.EINVAL, "%s is not a TCP command", cmd.Op)
	}
	u.flush(now, out)
	return nil
}

func (u *tcpTransport) setIPOptions(c *conv) {
	if cn := c.tcp.conn; cn != nil {
		cn.SetTTL(c.ttl)
		cn.SetTOS(c.tos)
	}
}

// notConnected is the error of a read or write of a conversation without
// a connection.
func notConnected(c *conv) error {
	return convErr(syscall.ENOTCONN, "%s is not connected", c.ref)
}

func (u *tcpTransport) read(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	cn := c.tcp.conn
	if cn == nil {
		return 0, notConnected(c)
	}
	n, err := cn.Read(now, b, &u.out)
	u.flush(now, out)
	if err != nil {
		return 0, tcpErr(err, "")
	}
	return n, nil
}

func (u *tcpTransport) write(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	cn := c.tcp.conn
	if cn == nil {
		return 0, notConnected(c)
	}
	n, err := cn.Write(now, b, &u.out)
	u.flush(now, out)
	if err != nil {
		return 0, tcpErr(err, "")
	}
	return n, nil
}

// room is how much a write would take at once.
func (u *tcpTransport) room(c *conv) int {
	if cn := c.tcp.conn; cn != nil && cn.State() != tcp.StateClosed {
		return cn.SendSpace()
	}
	return 1 << 30 // the write fails at once: let it say why
}

func (u *tcpTransport) release(now time.Time, c *conv, out *Output) bool {
	u.unannounce(now, c)
	cn := c.tcp.conn
	if cn == nil {
		u.flush(now, out)
		return true
	}
	cn.Release(now, &u.out)
	done := cn.State() == tcp.StateClosed || cn.State() == tcp.StateTimeWait
	if !done {
		u.closing[cn] = c
	}
	u.flush(now, out)
	return done
}

func (u *tcpTransport) state(c *conv) string {
	switch {
	case c.tcp.conn != nil:
		return c.tcp.conn.State().String()
	case c.state == convAnnounced:
		return tcp.StateListen.String()
	}
	return tcp.StateClosed.String()
}

// status is the status line: the engine's for a connection (state,
// queues, srtt, rttvar, rto, cwnd, ssthresh, windows, retransmissions),
// the backlog for an announced conversation.
func (u *tcpTransport) status(c *conv, b []byte) []byte {
	if cn := c.tcp.conn; cn != nil {
		b = append(b, cn.Info().String()...)
	} else {
		b = append(b, u.state(c)...)
		if c.state == convAnnounced {
			pending, half := 0, 0
			for _, l := range c.tcp.listeners {
				pending += l.Pending()
				half += l.HalfOpen()
			}
			b = append(b, " calls "...)
			b = strconv.AppendInt(b, int64(pending), 10)
			b = append(b, " halfopen "...)
			b = strconv.AppendInt(b, int64(half), 10)
		}
	}
	b = append(b, " ttl "...)
	b = strconv.AppendInt(b, int64(c.ttl), 10)
	b = append(b, " tos "...)
	b = strconv.AppendInt(b, int64(c.tos), 10)
	return b
}

// tcpCounters are the host's counters that tcp/stats shows beside the
// engine's.
var tcpCounters = []Counter{TCPRx, TCPRxBad, TCPRxNotUnicast, TCPTx, TCPTxDropped}

func (u *tcpTransport) appendStats(b []byte) []byte {
	st := u.t.Stats()
	st.Each(func(name string, v uint64) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	})
	for _, c := range tcpCounters {
		b = append(b, c.String()...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, u.h.stats[c], 10)
		b = append(b, '\n')
	}
	return b
}
