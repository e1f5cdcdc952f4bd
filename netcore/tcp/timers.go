package tcp

// Timers are deadlines on each connection (retransmission or persist,
// delayed ACK, keepalive, and a closing timer for TIME_WAIT and orphaned
// FIN_WAIT_2); the table keeps connections in a heap by their earliest.

func (c *Conn) nextDeadline() int64 {
	return min(c.rtoAt, c.ackAt, c.keepAt, c.closeAt, c.tlpAt, c.reoAt)
}

// onTimers runs whatever of c's timers is due at tk.
func (c *Conn) onTimers(tk int64, out *Output) {
	if c.closeAt <= tk {
		c.closeAt = maxTime
		if c.state == StateTimeWait || c.state == StateFinWait2 {
			c.t.closeConn(c, nil, out)
			return
		}
	}
	if c.rtoAt <= tk {
		c.rtoAt = maxTime
		if c.persist {
			c.onPersist(tk, out)
		} else {
			c.onRTO(tk, out)
		}
		if c.state == StateClosed {
			return
		}
	}
	if c.reoAt <= tk {
		c.reoAt = maxTime
		c.onReorderTimeout(tk, out)
	}
	if c.tlpAt <= tk {
		c.tlpAt = maxTime
		c.onTLP(tk, out)
	}
	if c.keepAt <= tk {
		c.keepAt = maxTime
		c.onKeepalive(tk, out)
		if c.state == StateClosed {
			return
		}
	}
	if c.ackAt <= tk {
		c.ackAt = maxTime
		if c.ackPending > 0 || c.ackNow {
			c.ackNow = true
			c.output(tk, out)
		}
	}
}

// onKeepalive sends a probe (RFC 9293 3.8.4: SEG.SEQ = SND.NXT-1, no data)
// when the connection was idle, or ends it when probes went unanswered.
func (c *Conn) onKeepalive(tk int64, out *Output) {
	if c.keepalive <= 0 || !c.state.synchronized() || c.state == StateTimeWait {
		return
	}
	idle := tk - c.lastRecv
	if idle < int64(c.keepalive) && c.keepProbes == 0 {
		c.keepAt = c.lastRecv + int64(c.keepalive)
		return
	}
	if c.keepProbes >= c.t.cfg.KeepaliveCount {
		c.t.stats.EstabResets += b2u(c.state == StateEstablished || c.state == StateCloseWait)
		c.t.closeConn(c, ErrTimedOut, out)
		return
	}
	c.keepProbes++
	c.sendFlags(tk, c.sndUna-1, ackFlag, out)
	c.keepAt = tk + int64(c.t.cfg.KeepaliveInterval)
}

// connHeap is a binary min-heap of connections by heapKey.
type connHeap []*Conn

func (h *connHeap) push(c *Conn) {
	c.heapIdx = len(*h)
	*h = append(*h, c)
	h.up(c.heapIdx)
}

func (h *connHeap) remove(c *Conn) {
	i := c.heapIdx
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	c.heapIdx = -1
	if i != last {
		h.fix(i)
	}
}

func (h connHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h connHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}

func (h connHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].heapKey <= h[i].heapKey {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h connHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].heapKey < h[l].heapKey {
			m = r
		}
		if h[i].heapKey <= h[m].heapKey {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// connFIFO keeps TIME_WAIT connections in the order they entered, so the
// oldest goes first when the table is full. Removal from the middle (a new
// SYN reusing the tuple, or the timer) leaves a hole skipped later.
type connFIFO struct {
	q     []*Conn
	head  int
	count int
}

func (f *connFIFO) push(c *Conn) {
	if f.head > 0 && f.head >= len(f.q)/2 {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q = f.q[:n]
		for i, x := range f.q {
			if x != nil {
				x.twIdx = i
			}
		}
		f.head = 0
	}
	c.twIdx = len(f.q)
	f.q = append(f.q, c)
	f.count++
}

func (f *connFIFO) remove(c *Conn) {
	if c.twIdx < 0 {
		return
	}
	f.q[c.twIdx] = nil
	c.twIdx = -1
	f.count--
	for f.head < len(f.q) && f.q[f.head] == nil {
		f.head++
	}
}

func (f *connFIFO) len() int { return f.count }

func (f *connFIFO) oldest() *Conn { return f.q[f.head] }

func (c *Conn) timeWaitIdx() int { return c.twIdx }
