package tcp

import (
	"net/netip"
	"time"
)

// Listener is a passive open: SYNs to its address make half-open
// connections (at most MaxHalfOpen, then SYN cookies), which the handshake's
// ACK moves into a bounded queue for Accept.
type Listener struct {
	eventSink
	t          *Table
	local      netip.AddrPort
	opts       ConnOptions
	backlog    int
	queue      []*Conn // established, waiting for Accept; FIFO from qHead
	qHead      int
	halfOpen   int
	closed     bool
	wantAccept bool
	user       any
}

// Listen announces local (an unspecified address: every address of the
// host) with an accept backlog (<= 0: the table's default). Connections
// it accepts get opts.
func (t *Table) Listen(local netip.AddrPort, backlog int, opts ConnOptions) (*Listener, error) {
	if !local.Addr().IsValid() || local.Port() == 0 {
		return nil, ErrInvalid
	}
	if t.listeners[local] != nil {
		return nil, ErrAddrInUse
	}
	if backlog <= 0 {
		backlog = t.cfg.Backlog
	}
	l := &Listener{t: t, local: local, opts: opts, backlog: backlog}
	t.listeners[local] = l
	return l, nil
}

// Local is the announced address.
func (l *Listener) Local() netip.AddrPort { return l.local }

// SetUser and User keep the caller's handle.
func (l *Listener) SetUser(v any) { l.user = v }
func (l *Listener) User() any     { return l.user }

// Pending is how many established connections wait for Accept; HalfOpen how
// many handshakes are under way.
func (l *Listener) Pending() int  { return len(l.queue) - l.qHead }
func (l *Listener) HalfOpen() int { return l.halfOpen }

// Accept takes the oldest established connection; ErrWouldBlock when none
// waits (Acceptable is reported when one does).
func (l *Listener) Accept() (*Conn, error) {
	if l.closed {
		return nil, ErrInvalid
	}
	if l.qHead == len(l.queue) {
		l.wantAccept = true
		return nil, ErrWouldBlock
	}
	c := l.queue[l.qHead]
	l.queue[l.qHead] = nil
	l.qHead++
	if l.qHead == len(l.queue) {
		l.queue, l.qHead = l.queue[:0], 0
	}
	c.listener = nil
	return c, nil
}

// Close stops listening; connections not yet accepted are reset.
func (l *Listener) Close(now time.Time, out *Output) {
	if l.closed {
		return
	}
	l.closed = true
	delete(l.t.listeners, l.local)
	for _, c := range l.queue[l.qHead:] {
		c.listener = nil
		c.Abort(now, out)
	}
	l.queue, l.qHead = nil, 0
	var half []*Conn
	for _, c := range l.t.conns {
		if c.listener == l {
			half = append(half, c)
		}
	}
	for _, c := range half {
		c.listener = nil
		l.halfOpen--
		c.t.stats.AttemptFails++
		c.Abort(now, out)
	}
}

// enqueue moves a connection whose handshake completed from half-open to
// the accept queue; false when the queue is full.
func (l *Listener) enqueue(c *Conn, out *Output) bool {
	if l.Pending() >= l.backlog {
		return false
	}
	if !c.cookie {
		l.halfOpen--
	}
	l.queue = append(l.queue, c)
	l.note(out, nil, l, Acceptable)
	l.wantAccept = false
	return true
}

// forget drops a connection that closed before it was accepted.
func (l *Listener) forget(c *Conn) {
	c.listener = nil
	for i := l.qHead; i < len(l.queue); i++ {
		if l.queue[i] == c {
			copy(l.queue[i:], l.queue[i+1:])
			l.queue[len(l.queue)-1] = nil
			l.queue = l.queue[:len(l.queue)-1]
			return
		}
	}
	l.halfOpen = max(l.halfOpen-1, 0) // it was still in its handshake
}

// receive handles a segment to the listening address with no connection
// (RFC 9293 3.10.7.2, and SYN cookies).
func (l *Listener) receive(tk int64, s *segment, out *Output) {
	t := l.t
	switch {
	case s.has(flagRST):
		return
	case s.has(flagACK):
		if !s.has(flagSYN) && l.acceptCookie(tk, s, out) {
			return
		}
		t.sendRST(s.local, s.remote, s.ack, 0, false, t.cfg.TTL, 0, out)
		return
	case !s.has(flagSYN):
		return
	}
	if l.Pending() >= l.backlog {
		t.stats.ListenDrops++ // the peer retries; a slow acceptor is not flooded
		return
	}
	if l.halfOpen >= t.cfg.MaxHalfOpen {
		l.sendCookie(tk, s, out)
		return
	}
	c := t.newConn(tk, s.local, s.remote, l.opts)
	c.setState(StateSynReceived)
	c.listener = l
	l.halfOpen++
	c.irs, c.rcvNxt = s.seq, s.seq+1
	c.rcvAdv, c.lastAckSent = c.rcvNxt, c.rcvNxt
	c.negotiate(s)
	c.iss = t.isn(s.local, s.remote, tk)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	t.addConn(c)
	t.stats.PassiveOpens++
	c.sendSYN(tk, out)
	t.schedule(c)
}
