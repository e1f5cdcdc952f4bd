package tcp

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// maxTime is "never" on the table's clock.
const maxTime = math.MaxInt64

type tuple struct{ local, remote netip.AddrPort }

// Table is one host's TCP: its connections, listeners, TIME_WAIT
// connections, ports, timers and counters. It does no I/O and keeps no
// clock: every call takes now and puts what is to be sent into an Output.
type Table struct {
	cfg       Config
	key       sipKey
	epoch     time.Time
	started   bool
	last      int64 // the latest now seen: time never runs backwards here
	conns     map[tuple]*Conn
	listeners map[netip.AddrPort]*Listener
	timers    connHeap
	timeWait  connFIFO
	nextPort  uint16
	stats     Stats

	seg  segment // the segment being processed (no allocation per segment)
	bufs bufPool
}

// NewTable returns an empty table with cfg's policy (defaults for zero
// fields).
func NewTable(cfg Config) *Table {
	cfg = cfg.withDefaults()
	if cfg.Secret == ([16]byte{}) {
		if _, err := rand.Read(cfg.Secret[:]); err != nil {
			panic("tcp: no randomness for the ISN secret: " + err.Error())
		}
	}
	t := &Table{
		cfg:       cfg,
		key:       sipKey{binary.LittleEndian.Uint64(cfg.Secret[:]), binary.LittleEndian.Uint64(cfg.Secret[8:])},
		conns:     make(map[tuple]*Conn),
		listeners: make(map[netip.AddrPort]*Listener),
	}
	t.nextPort = cfg.EphemeralLow + uint16(t.key.hash([]byte("port"))%uint64(cfg.EphemeralHigh-cfg.EphemeralLow+1))
	return t
}

// Config returns the table's policy with the defaults filled in.
func (t *Table) Config() Config { return t.cfg }

// tick converts now to the table's clock: nanoseconds since the first call,
// never less than before.
func (t *Table) tick(now time.Time) int64 {
	if !t.started {
		t.epoch, t.started = now, true
	}
	d := int64(now.Sub(t.epoch))
	if d < t.last {
		return t.last
	}
	t.last = d
	return d
}

func (t *Table) toTime(tk int64) time.Time { return t.epoch.Add(time.Duration(tk)) }

// tsNow is the timestamp clock (1 ms a tick) for a connection.
func (t *Table) tsNow(c *Conn, tk int64) uint32 {
	return uint32(tk/int64(time.Millisecond)) + c.tsOffset
}

// Receive processes one segment (TCP header and payload) from src to dst.
// The host has checked that dst is one of its unicast addresses. A segment
// that is malformed or fails the checksum is counted and dropped.
func (t *Table) Receive(now time.Time, src, dst netip.Addr, b []byte, out *Output) {
	t.receive(now, src, dst, b, !t.cfg.NoChecksum, out)
}

// ReceiveVerified is Receive for a segment whose checksum the device has
// verified or will not have filled in (a tap with checksum offload hands
// the kernel's segments over with the checksum left to the receiver, as a
// NIC would).
func (t *Table) ReceiveVerified(now time.Time, src, dst netip.Addr, b []byte, out *Output) {
	t.receive(now, src, dst, b, false, out)
}

func (t *Table) receive(now time.Time, src, dst netip.Addr, b []byte, verify bool, out *Output) {
	tk := t.tick(now)
	t.stats.InSegs++
	s := &t.seg
	if err := s.parse(b, src, dst, verify); err != nil {
		t.stats.InErrs++
		if err == wire.ErrTCPChecksum {
			t.stats.InCsumErrors++
		}
		return
	}
	if c := t.conns[tuple{s.local, s.remote}]; c != nil {
		c.segsIn++
		c.receive(tk, s, out)
		t.schedule(c)
		return
	}
	if l := t.findListener(s.local); l != nil {
		l.receive(tk, s, out)
		return
	}
	t.rejectClosed(s, out)
}

// rejectClosed answers a segment for no connection (RFC 9293 3.10.7.1).
func (t *Table) rejectClosed(s *segment, out *Output) {
	if s.flags&wire.TCPFlagRST != 0 {
		return
	}
	if s.flags&wire.TCPFlagACK != 0 {
		t.sendRST(s.local, s.remote, s.ack, 0, false, t.cfg.TTL, 0, out)
	} else {
		t.sendRST(s.local, s.remote, 0, s.seq+s.seqLen(), true, t.cfg.TTL, 0, out)
	}
}

func (t *Table) findListener(local netip.AddrPort) *Listener {
	if l := t.listeners[local]; l != nil {
		return l
	}
	if local.Addr().Is4() {
		return t.listeners[netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())]
	}
	return t.listeners[netip.AddrPortFrom(netip.IPv6Unspecified(), local.Port())]
}

// Poll runs the timers that are due.
func (t *Table) Poll(now time.Time, out *Output) {
	tk := t.tick(now)
	for len(t.timers) > 0 && t.timers[0].heapKey <= tk {
		c := t.timers[0]
		c.heapKey = c.nextDeadline()
		if c.heapKey <= tk {
			c.onTimers(tk, out)
			if c.state == StateClosed {
				continue // closeConn took it out of the heap
			}
			c.heapKey = c.nextDeadline()
		}
		if c.heapKey == maxTime {
			t.timers.remove(c)
		} else {
			t.timers.fix(c.heapIdx)
		}
	}
}

// Deadline is when Poll next has work; the zero Time when there is none.
func (t *Table) Deadline() time.Time {
	for len(t.timers) > 0 {
		c := t.timers[0]
		d := c.nextDeadline()
		if d == c.heapKey {
			return t.toTime(d)
		}
		// The key was early (deadlines only move later lazily): settle it.
		c.heapKey = d
		if d == maxTime {
			t.timers.remove(c)
		} else {
			t.timers.fix(0)
		}
	}
	return time.Time{}
}

// schedule puts c's earliest deadline in the heap. Deadlines that moved
// later are left for Poll and Deadline to notice, so an ACK that restarts the
// retransmission timer costs no heap work.
func (t *Table) schedule(c *Conn) {
	if c.state == StateClosed {
		return
	}
	d := c.nextDeadline()
	if c.heapIdx < 0 {
		if d != maxTime {
			c.heapKey = d
			t.timers.push(c)
		}
		return
	}
	if d < c.heapKey {
		c.heapKey = d
		t.timers.fix(c.heapIdx)
	}
}

// Connect starts an active open from local (port 0: an ephemeral port) to
// remote. The SYN goes into out; Established or Failed is reported later.
func (t *Table) Connect(now time.Time, local, remote netip.AddrPort, opts ConnOptions, out *Output) (*Conn, error) {
	tk := t.tick(now)
	if !local.Addr().IsValid() || !remote.Addr().IsValid() || remote.Port() == 0 ||
		local.Addr().Is4() != remote.Addr().Is4() || remote.Addr().IsUnspecified() || local.Addr().IsUnspecified() {
		return nil, ErrInvalid
	}
	if local.Port() == 0 {
		p, ok := t.ephemeralPort(local.Addr(), remote)
		if !ok {
			return nil, ErrNoPorts
		}
		local = netip.AddrPortFrom(local.Addr(), p)
	} else if t.conns[tuple{local, remote}] != nil {
		return nil, ErrAddrInUse
	}
	c := t.newConn(tk, local, remote, opts)
	c.state = StateSynSent
	c.iss = t.isn(local, remote, tk)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	t.addConn(c)
	t.stats.ActiveOpens++
	c.sendSYN(tk, out)
	t.schedule(c)
	return c, nil
}

// ephemeralPort finds a free local port for a connection to remote.
func (t *Table) ephemeralPort(addr netip.Addr, remote netip.AddrPort) (uint16, bool) {
	lo, hi := t.cfg.EphemeralLow, t.cfg.EphemeralHigh
	n := int(hi-lo) + 1
	for range n {
		p := t.nextPort
		t.nextPort++
		if t.nextPort > hi || t.nextPort < lo {
			t.nextPort = lo
		}
		local := netip.AddrPortFrom(addr, p)
		if t.conns[tuple{local, remote}] == nil && t.findListener(local) == nil {
			return p, true
		}
	}
	return 0, false
}

// newConn makes a connection with the table's and opts' policy.
func (t *Table) newConn(tk int64, local, remote netip.AddrPort, opts ConnOptions) *Conn {
	c := &Conn{t: t, local: local, remote: remote, heapIdx: -1, twIdx: -1}
	c.ttl, c.tos, c.nodelay = opts.TTL, opts.TOS, opts.NoDelay
	if c.ttl == 0 {
		c.ttl = t.cfg.TTL
	}
	sb, rb := opts.SendBuffer, opts.RecvBuffer
	if sb <= 0 {
		sb = t.cfg.SendBuffer
	}
	if rb <= 0 {
		rb = t.cfg.RecvBuffer
	}
	c.snd.max, c.rcv.max = sb, rb
	c.snd.pool, c.rcv.pool = &t.bufs, &t.bufs
	c.rcvMSS = opts.MSS
	if c.rcvMSS <= 0 {
		c.rcvMSS = t.cfg.MSS
	}
	c.rcvMSS = min(max(c.rcvMSS, 64), 65495)
	c.mss = min(c.rcvMSS, 536) // RFC 9293 3.7.1: 536 until the peer says
	if !t.cfg.NoWindowScale {
		for c.rcvWscale < wire.TCPMaxWindowScale && rb>>c.rcvWscale > 65535 {
			c.rcvWscale++
		}
	}
	c.rto = t.cfg.InitialRTO
	c.rtoAt, c.ackAt, c.keepAt, c.closeAt, c.tlpAt, c.reoAt = maxTime, maxTime, maxTime, maxTime, maxTime, maxTime
	c.tsOffset = t.tsOffset(local, remote)
	c.lastRecv = tk
	c.setCongestion(t.cfg.Congestion)
	return c
}

func (t *Table) addConn(c *Conn) {
	t.conns[tuple{c.local, c.remote}] = c
	c.inTable = true
}

// closeConn moves c to Closed with err, frees it from the table and timers,
// and reports it.
func (t *Table) closeConn(c *Conn, err error, out *Output) {
	if c.state == StateClosed {
		return
	}
	was := c.state
	if was == StateEstablished || was == StateCloseWait {
		t.stats.CurrEstab--
	}
	if was == StateTimeWait {
		t.timeWait.remove(c)
	}
	c.state = StateClosed
	if c.err == nil {
		c.err = err
	}
	if c.inTable {
		delete(t.conns, tuple{c.local, c.remote})
		c.inTable = false
	}
	if c.heapIdx >= 0 {
		t.timers.remove(c)
	}
	if l := c.listener; l != nil {
		l.forget(c)
	}
	c.snd.Discard(c.snd.Len())
	c.snd.release()
	c.ooo.clear()
	c.sacked.clear()
	if c.released {
		c.rcv.Discard(c.rcv.Len())
	}
	c.rcv.release()
	r := Closed | Readable | Writable
	if err != nil && err != ErrAborted {
		r |= Failed
	}
	c.note(out, c, nil, r)
}

// enterTimeWait keeps c as a TIME_WAIT connection: the table bounds how many
// it keeps and frees the oldest past that.
func (t *Table) enterTimeWait(c *Conn, tk int64, out *Output) {
	c.setState(StateTimeWait)
	c.rtoAt, c.ackAt, c.keepAt, c.tlpAt, c.reoAt = maxTime, maxTime, maxTime, maxTime, maxTime
	c.closeAt = tk + int64(t.cfg.TimeWait)
	c.snd.Discard(c.snd.Len())
	c.snd.release()
	c.sacked.clear()
	if c.timeWaitIdx() < 0 {
		t.timeWait.push(c)
	}
	if c.released {
		// Nothing of the user's is left in it: the host may forget it
		// now, rather than at Closed 2MSL later.
		c.note(out, c, nil, Readable)
	}
	for t.timeWait.len() > t.cfg.MaxTimeWait {
		t.stats.TimeWaitOverflows++
		t.closeConn(t.timeWait.oldest(), nil, out)
	}
}

// sendRST sends a reset from local to remote: <SEQ=seq><CTL=RST> or, with
// withAck, <SEQ=seq><ACK=ack><CTL=RST,ACK>.
func (t *Table) sendRST(local, remote netip.AddrPort, seq, ack uint32, withAck bool, ttl, tos uint8, out *Output) {
	r := wire.TCPRepr{SrcPort: local.Port(), DstPort: remote.Port(), Seq: seq, Flags: wire.TCPFlagRST}
	if withAck {
		r.Ack = ack
		r.Flags |= wire.TCPFlagACK
	}
	t.emit(local.Addr(), remote.Addr(), ttl, tos, &r, nil, out)
	t.stats.OutRsts++
}

// emit encodes a segment into out.
func (t *Table) emit(src, dst netip.Addr, ttl, tos uint8, r *wire.TCPRepr, payload []byte, out *Output) {
	start := len(out.buf)
	out.buf = r.Append(out.buf)
	hdr := out.buf[start:len(out.buf):len(out.buf)]
	wire.SetTCPChecksum(hdr, payload, src, dst)
	out.Segments = append(out.Segments, Segment{Src: src, Dst: dst, TTL: ttl, TOS: tos, Header: hdr, Payload: payload})
	t.stats.OutSegs++
}

// Conns calls fn for every connection (listeners' half-open ones included).
func (t *Table) Conns(fn func(*Conn)) {
	for _, c := range t.conns {
		fn(c)
	}
}
