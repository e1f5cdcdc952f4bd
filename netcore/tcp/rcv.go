package tcp

import "github.com/smolfs/smolfs/netcore/wire"

// The receiver: data into the receive buffer (out-of-order data in place
// past the in-order end, its ranges in ooo), the FIN, the window we
// announce (never shrinking, RFC 9293 3.8.6.2.2, with receiver SWS
// avoidance), SACK blocks (RFC 2018) and when to ACK (RFC 5681 4.2).

// processData is RFC 9293 3.10.7.4's seventh and eighth steps.
func (c *Conn) processData(tk int64, s *segment, out *Output) {
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
	case StateTimeWait:
		if s.has(flagFIN) {
			// The peer lost our ACK of its FIN: ACK again, restart 2MSL.
			c.ackNow = true
			c.closeAt = tk + int64(c.t.cfg.TimeWait)
		}
		return
	default:
		return // after the peer's FIN nothing more can arrive
	}
	seq, p, fin := s.seq, s.payload, s.has(flagFIN)
	if seqLT(seq, c.rcvNxt) {
		d := int(c.rcvNxt - seq)
		if d > len(p) {
			return // data and FIN both old (acceptable only for its ACK)
		}
		p, seq = p[d:], c.rcvNxt
	}
	off := int(seq - c.rcvNxt)
	if free := c.rcv.Free(); off+len(p) > free {
		p = p[:max(free-off, 0)]
		fin = false
	}
	if len(p) > 0 && c.released {
		// Nobody will read it: tell the peer (as a kernel after close).
		c.t.sendRST(c.local, c.remote, c.sndMax, 0, false, c.ttl, c.tos, out)
		c.t.closeConn(c, ErrConnReset, out)
		return
	}
	readable := false
	if len(p) > 0 {
		c.ackPending++
		c.ackBytes += len(p)
		if off == 0 {
			c.rcv.WriteAt(p, 0)
			c.rcv.Commit(len(p))
			c.rcvNxt += uint32(len(p))
			if !c.ooo.empty() {
				c.mergeOOO()
				c.ackNow = true // a hole filled: ACK at once (RFC 5681 4.2)
			}
			readable = true
		} else {
			if c.ooo.add(seq, seq+uint32(len(p))) {
				c.rcv.WriteAt(p, off)
				c.oooLast = seq
			}
			c.ackNow = true // out of order: a duplicate ACK at once
		}
		// ACK every second full-sized segment (RFC 5681 4.2).
		if c.ackBytes > c.rcvMSS {
			c.ackNow = true
		}
	}
	if fin {
		c.finSeen, c.finSeq = true, seq+uint32(len(p))
	}
	if c.finSeen && !c.rcvClosed && c.rcvNxt == c.finSeq {
		c.rcvNxt++
		c.rcvClosed = true
		c.ackPending++
		readable = true
		switch c.state {
		case StateEstablished:
			c.setState(StateCloseWait)
		case StateFinWait1:
			c.setState(StateClosing)
			c.ackNow = true
		case StateFinWait2:
			c.ackNow = true
			c.t.enterTimeWait(c, tk, out)
		}
	}
	if readable && c.wantRead {
		c.wantRead = false
		c.note(out, c, nil, Readable)
	}
}

// mergeOOO moves rcvNxt over out-of-order ranges that now touch it.
func (c *Conn) mergeOOO() {
	for c.ooo.n > 0 && seqLEQ(c.ooo.r[0].start, c.rcvNxt) {
		if end := c.ooo.r[0].end; seqGT(end, c.rcvNxt) {
			c.rcv.Commit(int(end - c.rcvNxt))
			c.rcvNxt = end
		}
		copy(c.ooo.r[:], c.ooo.r[1:c.ooo.n])
		c.ooo.n--
	}
}

// windowField is the window to announce now, scaled, and moves rcvAdv.
func (c *Conn) windowField() uint16 {
	edge := c.rcvNxt + uint32(c.rcv.Free())
	// Receiver SWS avoidance (RFC 9293 3.8.6.2.2): move the right edge only
	// by at least min(buffer/2, MSS).
	if seqGT(edge, c.rcvAdv) && int(edge-c.rcvAdv) < min(c.rcv.max/2, c.rcvMSS) {
		edge = seqMax(c.rcvAdv, c.rcvNxt)
	}
	if seqLT(edge, c.rcvAdv) {
		edge = c.rcvAdv // never shrink
	}
	w := (edge - c.rcvNxt) >> c.rcvWscale
	if w > 0xffff {
		w = 0xffff
	}
	c.rcvAdv = c.rcvNxt + w<<c.rcvWscale
	return uint16(w)
}

// sackBlocks fills o with SACK blocks: the most recent range first (RFC
// 2018 4), then the others from the lowest, as many as fit beside the
// timestamps.
func (c *Conn) sackBlocks(o *wire.TCPOptions) {
	limit := wire.TCPMaxSACKBlocks
	if o.HasTS {
		limit = 3
	}
	first := -1
	for i, r := range c.ooo.r[:c.ooo.n] {
		if seqInWindow(c.oooLast, r.start, r.end-r.start) {
			first = i
			o.SACK[0] = wire.TCPSACKBlock{Start: r.start, End: r.end}
			o.NumSACK = 1
			break
		}
	}
	for i, r := range c.ooo.r[:c.ooo.n] {
		if o.NumSACK == limit {
			break
		}
		if i != first {
			o.SACK[o.NumSACK] = wire.TCPSACKBlock{Start: r.start, End: r.end}
			o.NumSACK++
		}
	}
}
