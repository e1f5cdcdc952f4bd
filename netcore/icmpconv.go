package netcore

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// ICMP conversations: the host as a pinger (INTERFACE.md, "ICMP
// conversations"). `connect IP` ties a conversation to a remote address
// and gives it an identifier, as Linux's ping sockets do (its local port).
// Each write to data is one ICMP message (type, code, the rest): the host
// fills in the checksum and, for an echo or timestamp request, the
// identifier, and sends it (in fragments if need be). Each read returns one
// ICMP message for the conversation: an echo reply from the remote with its
// identifier, or an error that quotes one of its requests (from anyone on
// the way, or from the host itself when the remote does not answer ARP:
// host unreachable, as Linux's own stack reports it). Where the message
// came from and the TTL it came with are what ping prints beside it; the
// status file gives them for the last message read (`from IP rcvttl N`).

// icmpConvs is the ICMP transport of one host.
type icmpConvs struct {
	h       *Host
	byIdent map[uint16]*conv // connected conversations by identifier
	next    uint16           // where the search for a free identifier goes on
	last    map[*conv]icmpMeta
	buf     []byte // a queued message with its icmpMeta, as read
}

// icmpMeta is where a queued message came from and with what TTL; it goes
// before the message in the conversation's queue.
type icmpMeta struct {
	from netip.Addr
	ttl  uint8
}

const icmpMetaLen = 5

func newICMPConvs(h *Host) *icmpConvs {
	return &icmpConvs{h: h, byIdent: map[uint16]*conv{}, next: 1, last: map[*conv]icmpMeta{}}
}

func (t *icmpConvs) connect(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	h := t.h
	remote := cmd.Remote.Addr().Unmap()
	if h.ourAddr(key(remote)) {
		return convErr(syscall.EINVAL, "%s is an address of this host", remote)
	}
	src, err := h.convSource(remote)
	if err != nil {
		return err
	}
	ident := c.local.Port()
	if c.state != convOpen {
		if ident, err = t.ident(); err != nil {
			return err
		}
	}
	t.unbind(c)
	c.local, c.remote, c.state = netip.AddrPortFrom(src, ident), netip.AddrPortFrom(remote, 0), convOpen
	t.byIdent[ident] = c
	return nil
}

// ident finds an identifier no ICMP conversation of the host has.
func (t *icmpConvs) ident() (uint16, error) {
	for range 0xffff {
		id := t.next
		if t.next++; t.next == 0 {
			t.next = 1
		}
		if t.byIdent[id] == nil {
			return id, nil
		}
	}
	return 0, convErr(syscall.EADDRINUSE, "no free identifier")
}

func (t *icmpConvs) unbind(c *conv) {
	if c.state == convOpen && t.byIdent[c.local.Port()] == c {
		delete(t.byIdent, c.local.Port())
	}
	delete(t.last, c)
	c.state, c.local, c.remote = convIdle, netip.AddrPort{}, netip.AddrPort{}
}

func (t *icmpConvs) announce(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	return convErr(syscall.EINVAL, "an ICMP conversation connects; it does not announce")
}

func (t *icmpConvs) command(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error {
	if cmd.Op == ctl.ConvHangup {
		t.unbind(c)
		return nil
	}
	return convErr(syscall.EINVAL, "%s is a TCP command", cmd.Op)
}

func (t *icmpConvs) read(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	if err := c.takeErr(); err != nil {
		return 0, err
	}
	if cap(t.buf) < icmpMetaLen+0xffff {
		t.buf = make([]byte, icmpMetaLen+0xffff)
	}
	n, ok := c.rq.pop(t.h, t.buf[:cap(t.buf)])
	if !ok {
		return 0, ErrWouldBlock
	}
	m := t.buf[:n]
	t.last[c] = icmpMeta{from: netip.AddrFrom4([4]byte(m[:4])), ttl: m[4]}
	return copy(b, m[icmpMetaLen:]), nil
}

// write sends b, one ICMP message, to the conversation's remote.
func (t *icmpConvs) write(now time.Time, c *conv, b []byte, out *Output) (int, error) {
	h := t.h
	switch {
	case c.state != convOpen:
		return 0, convErr(syscall.ENOTCONN, "%s is not connected", c.ref)
	case len(b) < wire.ICMPHeaderLen:
		return 0, convErr(syscall.EINVAL, "%d bytes: an ICMP message has at least 8", len(b))
	case len(b) > 0xffff-wire.IPv4MinLen:
		return 0, convErr(syscall.EMSGSIZE, "%d bytes: an ICMP message holds at most %d", len(b), 0xffff-wire.IPv4MinLen)
	case h.cfg.Down:
		return 0, convErr(syscall.ENETDOWN, "%s is down", h.cfg.Name)
	}
	h.ipID++
	d := wire.IPv4Repr{Src: c.local.Addr(), Dst: c.remote.Addr(), Protocol: wire.ProtoICMP, TTL: c.ttl, TOS: c.tos, ID: h.ipID, PayloadLen: len(b)}.Append(h.txBuf[:0])
	start := len(d)
	d = append(d, b...)
	h.txBuf = d[:0]
	msg := d[start:]
	if typ := wire.ICMPType(msg[wire.ICMPTypeOff]); typ == wire.ICMPEchoRequest || typ == wire.ICMPTimestamp {
		binary.BigEndian.PutUint16(msg[wire.ICMPIdentOff:], c.local.Port())
	}
	msg[wire.ICMPChecksumOff], msg[wire.ICMPChecksumOff+1] = 0, 0
	binary.BigEndian.PutUint16(msg[wire.ICMPChecksumOff:], wire.Checksum(msg))
	h.stats[ICMPConvTx]++
	h.sendDatagram(now, out, key(c.remote.Addr()), wire.IPv4Packet(d))
	return len(b), nil
}

func (t *icmpConvs) release(now time.Time, c *conv, out *Output) bool {
	t.unbind(c)
	return true
}

func (t *icmpConvs) state(c *conv) string {
	if c.state != convOpen {
		return "Closed"
	}
	m, ok := t.last[c]
	if !ok {
		return "Open"
	}
	b := append([]byte("Open from "), m.from.String()...)
	b = append(b, " rcvttl "...)
	return string(strconv.AppendUint(b, uint64(m.ttl), 10))
}

// icmpCounters are what icmp/stats shows.
var icmpCounters = []Counter{ICMPConvRx, ICMPConvTx, ICMPEchoRx, ICMPEchoTx, ICMPTxUnreachable, ICMPTxTimeExceeded,
	ICMPTxParamProblem, ICMPTxRateLimited, ICMPTxSuppressed, ICMPRxError, ICMPRxErrorOther, ICMPRxOther}

func (t *icmpConvs) appendStats(b []byte) []byte {
	for _, c := range icmpCounters {
		b = append(b, c.String()...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, t.h.stats[c], 10)
		b = append(b, '\n')
	}
	return b
}

// deliver queues msg, from src with ttl, in c and wakes its readers.
func (t *icmpConvs) deliver(c *conv, src netip.Addr, ttl uint8, msg []byte, out *Output) bool {
	if len(t.buf) < icmpMetaLen+len(msg) {
		t.buf = make([]byte, icmpMetaLen+0xffff)
	}
	m := t.buf[:icmpMetaLen+len(msg)]
	a := src.As4()
	copy(m, a[:])
	m[4] = ttl
	copy(m[icmpMetaLen:], msg)
	if !c.rq.push(t.h, m) {
		return false
	}
	if c.rq.len() == 1 {
		out.wake(c.ref)
	}
	return true
}

// receiveEchoReply gives an echo reply to the conversation whose
// identifier it carries, if that conversation pings its source.
func (h *Host) receiveEchoReply(p wire.IPv4Packet, icmp wire.ICMPPacket, out *Output) Counter {
	c := h.icmp.byIdent[icmp.Ident()]
	if c == nil || c.remote.Addr() != p.Src() || c.local.Addr() != p.Dst() {
		return ICMPRxOther
	}
	if !h.icmp.deliver(c, p.Src(), p.TTL(), icmp, out) {
		return ICMPConvRxDropped
	}
	return ICMPConvRx
}

// icmpConvError takes an ICMP error that quotes an echo request of one of
// our ICMP conversations: the conversation reads it as it came.
func (h *Host) icmpConvError(p wire.IPv4Packet, e wire.ICMPErrorRepr, quoted wire.IPv4Packet, payload []byte, out *Output) bool {
	if len(payload) < wire.ICMPHeaderLen || wire.ICMPType(payload[wire.ICMPTypeOff]) != wire.ICMPEchoRequest {
		return false
	}
	c := h.icmp.byIdent[binary.BigEndian.Uint16(payload[wire.ICMPIdentOff:])]
	if c == nil || c.remote.Addr() != quoted.Dst() || c.local.Addr() != quoted.Src() {
		return false
	}
	h.icmp.deliver(c, p.Src(), p.TTL(), p.Payload(), out)
	return true
}

// icmpUnresolved tells the ICMP conversations whose requests waited for a
// neighbour that did not answer ARP: each request gets a host unreachable
// from our own address, as Linux's stack answers a ping it could not send
// (ping prints "From <own address> ... Destination Host Unreachable").
func (h *Host) icmpUnresolved(e *neighbour, out *Output) {
	for _, f := range e.pending {
		if len(f) < wire.EthHeaderLen+wire.IPv4MinLen+wire.ICMPHeaderLen {
			continue
		}
		p := wire.IPv4Packet(f[wire.EthHeaderLen:])
		hl := p.HeaderLen()
		if p.Protocol() != wire.ProtoICMP || p.FragmentOffset() != 0 || len(p) < hl+wire.ICMPHeaderLen ||
			wire.ICMPType(p[hl+wire.ICMPTypeOff]) != wire.ICMPEchoRequest {
			continue
		}
		c := h.icmp.byIdent[binary.BigEndian.Uint16(p[hl+wire.ICMPIdentOff:])]
		if c == nil || c.local.Addr() != p.Src() {
			continue
		}
		quote := p[:min(len(p), int(p.TotalLen()), hl+8)]
		var buf [wire.ICMPHeaderLen + wire.IPv4MinLen + wire.IPv4MaxOptLen + 8]byte
		msg := wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: wire.ICMPHostUnreachable, Quote: quote}.Append(buf[:0])
		h.icmp.deliver(c, p.Src(), 64, msg, out)
	}
}
