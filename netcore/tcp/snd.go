package tcp

import (
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The sender: what goes out when (windows, Nagle, SWS), ACK processing,
// RTT and RTO (RFC 6298), loss recovery by SACK (RFC 6675) or NewReno
// (RFC 6582), persist probes. The send buffer holds the bytes from sndUna;
// the FIN, once Close asked for it, follows its last byte.

// sndEnd is the sequence number after the last queued byte.
func (c *Conn) sndEnd() uint32 { return c.sndUna + uint32(c.snd.Len()) }

// finQueued: Close asked for a FIN and the state sends one.
func (c *Conn) finQueued() bool {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		return c.closeReq
	}
	return false
}

// output sends what the windows allow, then an ACK if one is due and no
// segment carried it; a due ACK that may wait gets the delayed-ACK timer.
func (c *Conn) output(tk int64, out *Output) {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		c.sendData(tk, out)
	}
	if !c.state.synchronized() || c.state == StateSynReceived {
		return
	}
	if c.ackNow {
		c.sendFlags(tk, c.sndMax, ackFlag, out)
	} else if c.ackPending > 0 && c.ackAt == maxTime {
		if c.t.cfg.DelayedAck < 0 {
			c.sendFlags(tk, c.sndMax, ackFlag, out)
		} else {
			c.ackAt = tk + int64(c.t.cfg.DelayedAck)
		}
	}
}

// sendData sends retransmissions and new data while the congestion and
// send windows allow.
func (c *Conn) sendData(tk int64, out *Output) {
	end := c.sndEnd()
	fin := c.finQueued()
	for {
		if c.inRecovery {
			if c.sackOK {
				if c.rtxUnaAgain {
					c.rtxUnaAgain = false
					hole := c.sndMax
					if c.sacked.n > 0 {
						hole = c.sacked.r[0].start
					}
					if n := min(c.mss, int(hole-c.sndUna)); n > 0 {
						c.sendSegment(tk, c.sndUna, n, false, out)
						continue
					}
				}
				if seq, n := c.nextLost(); n > 0 {
					if c.cwnd-c.pipe() < min(n, c.mss) {
						return
					}
					c.sendSegment(tk, seq, n, false, out)
					c.highRxt = seq + uint32(n)
					continue
				}
			} else if c.rtxNext {
				c.rtxNext = false
				if n := min(c.mss, int(end-c.sndUna)); n > 0 {
					c.sendSegment(tk, c.sndUna, n, false, out)
					continue
				}
			}
		}
		avail := int(int32(end - c.sndNxt))
		if avail < 0 {
			return // only the FIN is past sndNxt, and it was sent
		}
		wndAvail := int(int32(c.sndUna + c.sndWnd - c.sndNxt))
		flight := int(c.sndNxt - c.sndUna)
		cwnd := c.cwnd
		if c.inRecovery && c.sackOK {
			flight = c.pipe()
		} else if !c.inRecovery && c.dupAcks > 0 {
			// Limited transmit (RFC 3042): new data on the first two
			// duplicate ACKs makes the ACKs that fast retransmit needs.
			cwnd += min(c.dupAcks, 2) * c.mss
		}
		n := min(avail, c.mss, wndAvail, cwnd-flight)
		if n <= 0 {
			if avail == 0 && fin && c.sndNxt == end {
				c.sendSegment(tk, end, 0, true, out) // a FIN needs no window
				return
			}
			if avail > 0 && c.sndWnd == 0 && c.sndNxt == c.sndUna && !c.persist {
				c.startPersist(tk)
			}
			return
		}
		if n < c.mss && n < avail {
			// Sender SWS avoidance (RFC 9293 3.8.6.2.1): a window too small
			// for a full segment is used only when it is half the largest
			// the peer offered; otherwise wait (the persist timer forces it).
			if n < int(c.maxSndWnd/2) {
				if c.sndNxt == c.sndUna && !c.persist {
					c.startPersist(tk)
				}
				return
			}
		} else if n < c.mss && !c.nodelay && c.sndNxt != c.sndUna && !fin {
			return // Nagle: a small segment waits while data is unacknowledged
		}
		c.sendSegment(tk, c.sndNxt, n, fin && c.sndNxt+uint32(n) == end, out)
	}
}

// sendSegment sends n data bytes from seq (and the FIN after them).
func (c *Conn) sendSegment(tk int64, seq uint32, n int, fin bool, out *Output) {
	if end := c.sndEnd(); seqGT(seq+uint32(n), end) {
		// A retransmission range that covers the FIN's place: the FIN is
		// not a data byte.
		n = int(int32(end - seq))
		fin = c.finQueued()
		if n < 0 {
			return
		}
	}
	flags := ackFlag
	var payload []byte
	if n > 0 {
		off := int(seq - c.sndUna)
		payload = c.snd.Slice(off, n)
		if len(payload) < n {
			// The bytes wrap around the ring: copy them into the output.
			start := len(out.buf)
			out.buf = append(out.buf, payload...)
			out.buf = append(out.buf, c.snd.Slice(off+len(payload), n-len(payload))...)
			payload = out.buf[start:len(out.buf):len(out.buf)]
		}
		if seq+uint32(n) == c.sndEnd() {
			flags |= flagPSH
		}
	}
	if fin {
		flags |= flagFIN
	}
	next := seq + uint32(n)
	if fin {
		next++
	}
	if seq == c.sndUna && n > 0 && seqLT(seq, c.sndMax) {
		c.rtxUna, c.rtxMax, c.rtxMark = seq, c.sndMax, true
	}
	if seqLT(seq, c.sndMax) {
		c.retransSegs++
		c.t.stats.RetransSegs++
		c.t.stats.OutSegs-- // RFC 4022: tcpOutSegs leaves retransmissions out; emit counts it
		if c.rttTiming && seqLEQ(seq, c.rttSeq) {
			c.rttTiming = false // Karn: no sample from a retransmitted segment
		}
	} else if !c.rttTiming {
		c.rttTiming, c.rttSeq, c.rttStart = true, seq, tk
	}
	c.emit(tk, seq, flags, payload, out)
	if seqGT(next, c.sndNxt) {
		c.sndNxt = next
	}
	if seqGT(next, c.sndMax) {
		c.sndMax = next
	}
	if fin {
		switch c.state {
		case StateEstablished:
			c.setState(StateFinWait1)
		case StateCloseWait:
			c.setState(StateLastAck)
		}
	}
	if c.rtoAt == maxTime {
		c.rtoAt = tk + int64(c.rto)
	}
	c.armTLP(tk)
}

// onReorderTimeout starts recovery when the first hole outlived the
// reordering window while SACKed data sat above it.
func (c *Conn) onReorderTimeout(tk int64, out *Output) {
	if !c.sackOK || c.sacked.empty() || c.sndUna == c.sndMax {
		c.armTLP(tk)
		return
	}
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	if !c.inRecovery {
		if !seqGEQ(c.sndUna, c.recoverSeq) {
			return
		}
		c.enterRecovery(tk)
	}
	c.lostEnd = seqMax(c.lostEnd, c.sacked.r[c.sacked.n-1].start)
	c.sendData(tk, out)
}

// armTLP schedules a tail loss probe (RFC 8985 7.2) for data in flight
// outside recovery: PTO = 2 SRTT, plus the peer's delayed-ACK time when one
// segment is out, and never after the RTO.
//
// In recovery the same timer watches for ACKs drying up (the first hole's
// retransmission, or everything sent since, lost): when no new ACK comes
// within the PTO, the first unacknowledged segment is sent again, backing
// off, instead of waiting for the RTO that would collapse the window.
func (c *Conn) armTLP(tk int64) {
	if c.persist || c.srtt == 0 || c.sndUna == c.sndMax || (c.reoAt != maxTime && !c.inRecovery) {
		c.tlpAt = maxTime
		return
	}
	pto := 2 * c.srtt
	if int(c.sndMax-c.sndUna) <= c.mss {
		// One segment out: the peer may hold its ACK for a delayed-ACK
		// time, 40 ms on Linux and up to 200 ms by RFC 5681 (RFC 8985's
		// WCDelAckT).
		pto += 200 * time.Millisecond
	}
	if c.inRecovery {
		if c.rtxProbes > 6 {
			c.tlpAt = maxTime
			return
		}
		pto = max(pto, time.Millisecond) << c.rtxProbes
	} else if c.tlpProbed {
		c.tlpAt = maxTime
		return
	}
	c.tlpAt = min(tk+int64(max(pto, time.Millisecond)), c.rtoAt)
}

// onTLP sends the probe: a new segment if the windows allow, else the last
// one again. Its ACK or SACK lets fast recovery repair a tail loss that
// would otherwise wait for the RTO.
func (c *Conn) onTLP(tk int64, out *Output) {
	if c.persist || c.sndUna == c.sndMax {
		return
	}
	if c.inRecovery {
		// Nothing came back for a while: whatever holds sndUna back (its
		// retransmission, or data sent after the recovery began) is lost.
		if c.sackOK {
			c.rtxProbes++
			c.rtxUnaAgain = true
			c.sendData(tk, out)
		}
		return
	}
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	c.tlpProbed = true
	end := c.sndEnd()
	if avail := int(int32(end - c.sndNxt)); avail > 0 {
		if n := min(avail, c.mss, int(int32(c.sndUna+c.sndWnd-c.sndNxt))); n > 0 {
			c.sendSegment(tk, c.sndNxt, n, c.finQueued() && c.sndNxt+uint32(n) == end, out)
			return
		}
	}
	finOut := seqGT(c.sndMax, end)
	n := min(c.mss, int(end-c.sndUna))
	if n == 0 && !finOut {
		return
	}
	c.sendSegment(tk, end-uint32(n), n, finOut, out)
}

// sendFlags sends a segment without data (ACK, keepalive probe). An ACK
// carries sndMax, not sndNxt: after a timeout sndNxt goes back, and a peer
// that has the bytes up to sndMax would find an older number unacceptable
// and ignore the ACK in it (RFC 9293 3.10.7.4).
func (c *Conn) sendFlags(tk int64, seq uint32, flags wire.TCPFlags, out *Output) {
	c.emit(tk, seq, flags, nil, out)
}

// sendSYN sends our SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED).
func (c *Conn) sendSYN(tk int64, out *Output) {
	r := wire.TCPRepr{SrcPort: c.local.Port(), DstPort: c.remote.Port(), Seq: c.iss, Flags: flagSYN}
	r.Window = uint16(min(c.rcv.Free(), 65535)) // never scaled in a SYN
	o := &r.Options
	o.HasMSS, o.MSS = true, uint16(c.rcvMSS)
	cfg := &c.t.cfg
	if c.state == StateSynSent {
		o.HasWS, o.WindowScale = !cfg.NoWindowScale, c.rcvWscale
		o.SACKPermitted = !cfg.NoSACK
		o.HasTS, o.TSVal = !cfg.NoTimestamps, c.t.tsNow(c, tk)
	} else {
		r.Flags |= flagACK
		r.Ack = c.rcvNxt
		c.rcvAdv = c.rcvNxt + uint32(r.Window)
		o.HasWS, o.WindowScale = c.sndWscale != 0 || c.rcvWscale != 0, c.rcvWscale
		o.SACKPermitted = c.sackOK
		o.HasTS, o.TSVal, o.TSEcr = c.tsOK, c.t.tsNow(c, tk), c.tsRecent
	}
	if c.sndMax != c.iss {
		c.synRetransmitted = true
		c.rttTiming = false
		c.retransSegs++
		c.t.stats.RetransSegs++
		c.t.stats.OutSegs--
	} else {
		c.rttTiming, c.rttSeq, c.rttStart = true, c.iss, tk
	}
	c.t.emit(c.local.Addr(), c.remote.Addr(), c.ttl, c.tos, &r, nil, out)
	c.segsOut++
	c.sndNxt, c.sndMax = c.iss+1, c.iss+1
	if c.rtoAt == maxTime {
		c.rtoAt = tk + int64(c.rto)
	}
}

// emit builds and sends one segment with our ACK, window, timestamps and
// SACK blocks; every segment carries the ACK, so it ends the ACK wait.
func (c *Conn) emit(tk int64, seq uint32, flags wire.TCPFlags, payload []byte, out *Output) {
	var r wire.TCPRepr
	r.SrcPort, r.DstPort = c.local.Port(), c.remote.Port()
	r.Seq, r.Ack, r.Flags = seq, c.rcvNxt, flags
	r.Window = c.windowField()
	if c.tsOK {
		r.Options.HasTS, r.Options.TSVal, r.Options.TSEcr = true, c.t.tsNow(c, tk), c.tsRecent
	}
	if c.sackOK && !c.ooo.empty() {
		c.sackBlocks(&r.Options)
	}
	c.t.emit(c.local.Addr(), c.remote.Addr(), c.ttl, c.tos, &r, payload, out)
	c.segsOut++
	c.lastAckSent = c.rcvNxt
	c.ackPending, c.ackBytes, c.ackNow = 0, 0, false
	c.ackAt = maxTime
}

// processAck is RFC 9293 3.10.7.4's fifth check for an acceptable ACK, with
// RFC 5681/6582/6675 congestion control and RFC 6298 timing.
func (c *Conn) processAck(tk int64, s *segment, out *Output) {
	newSACK := false
	if c.sackOK && s.opts.NumSACK > 0 {
		before := c.sacked.bytes()
		for _, b := range s.opts.SACK[:s.opts.NumSACK] {
			if seqLT(b.Start, b.End) && seqGT(b.End, c.sndUna) && seqLEQ(b.End, c.sndMax) {
				c.sacked.add(seqMax(b.Start, c.sndUna), b.End)
			}
		}
		newSACK = c.sacked.bytes() != before
	}
	wnd := uint32(s.wnd) << c.sndWscale
	wndChanged := false
	if seqLT(c.sndWl1, s.seq) || (c.sndWl1 == s.seq && seqLEQ(c.sndWl2, s.ack)) {
		wndChanged = wnd != c.sndWnd
		c.sndWnd, c.sndWl1, c.sndWl2 = wnd, s.seq, s.ack
		c.maxSndWnd = max(c.maxSndWnd, wnd)
	}
	if seqGT(s.ack, c.sndUna) {
		c.ackedNew(tk, s.ack, out)
		if c.state == StateClosed {
			return
		}
	} else if s.ack == c.sndUna && c.sndMax != c.sndUna && len(s.payload) == 0 &&
		!s.has(flagFIN) && (!wndChanged || newSACK) && !c.persist {
		// A duplicate ACK (RFC 5681 2); one with new SACK information counts
		// even when the window moved (RFC 6675 2: a receiver that
		// autotunes its buffer changes the window in every ACK); answers to
		// zero-window probes do not.
		c.dupAcks++
		if c.inRecovery {
			if !c.sackOK {
				c.cwnd += c.mss // RFC 6582 3.2 step 4: inflate
			}
		} else if seqGEQ(c.sndUna, c.recoverSeq) && (c.dupAcks >= c.dupThresh() || (c.sackOK && c.sackLost(c.sndUna))) {
			c.enterRecovery(tk)
		}
	}
	if c.sackOK && !c.sacked.empty() && c.reoAt == maxTime && c.srtt > 0 &&
		(!c.inRecovery || seqGT(c.sacked.r[c.sacked.n-1].start, c.lostEnd)) {
		// Data sent after the holes below the highest SACKed range arrived
		// (segments leave in order). A hole not filled within a quarter RTT
		// is lost, however few duplicate ACKs a small window makes (RACK,
		// RFC 8985 6.2, with its reordering window but by sequence order).
		c.reoAt = tk + int64(max(c.srtt/4, time.Millisecond))
		c.tlpAt = maxTime // the reordering timer does a probe's work (RFC 8985 7.2)
	}
	if c.inRecovery && c.sackOK {
		c.updateLost()
		// The first hole's retransmission is lost when data sent after it
		// is SACKed, three segments' worth (RACK's idea, RFC 8985, by
		// order instead of time): otherwise only the RTO would find it.
		if c.rtxMark && c.rtxUna == c.sndUna && c.sacked.n > 0 &&
			seqGT(c.sacked.r[c.sacked.n-1].end, c.rtxMax+uint32(3*c.mss)) {
			c.rtxMark = false
			c.rtxUnaAgain = true
		}
	}
	if c.persist && c.sndWnd > 0 {
		// The window opened: send the probe's byte again with the rest
		// rather than wait for a timeout.
		c.persist = false
		c.sndNxt = c.sndUna
		c.rtoAt = maxTime
		if c.sndUna != c.sndMax {
			c.rtoAt = tk + int64(c.rto)
		}
	}
}

// Fast recovery starts only for data above the last recovery's point
// (RFC 6582 3.2 step 2's "recover"): duplicates of a go-back-N resend after
// a timeout must not start another. An ACK exactly at recover already
// covers that flight, so data lost after it does start one.
//
// dupThresh is 3, or less with fewer than four segments out and no new
// data to send (early retransmit, RFC 5827), so a small window's loss does
// not wait for the RTO.
func (c *Conn) dupThresh() int {
	segs := (int(c.sndMax-c.sndUna) + c.mss - 1) / c.mss
	if segs < 4 && (c.sndNxt == c.sndEnd() || c.sndWnd == 0) {
		return max(segs-1, 1)
	}
	return 3
}

// ackedNew handles an ACK that acknowledges new data up to ack.
func (c *Conn) ackedNew(tk int64, ack uint32, out *Output) {
	n := int(ack - c.sndUna)
	finAcked := c.finQueued() && ack == c.sndMax && seqGT(c.sndMax, c.sndEnd())
	data := n
	if finAcked {
		data--
	}
	c.snd.Discard(min(data, c.snd.Len()))
	if c.snd.Len() == 0 {
		c.snd.releaseSmall()
	}
	c.sndUna = ack
	if seqLT(c.sndNxt, c.sndUna) {
		c.sndNxt = c.sndUna
	}
	if c.rttTiming && seqGT(ack, c.rttSeq) {
		c.rttSample(time.Duration(tk - c.rttStart))
		c.rttTiming = false
	}
	c.backoff = 0
	c.tlpProbed = false
	c.rtxProbes = 0
	c.sacked.trimBelow(ack)
	if c.sacked.empty() {
		c.reoAt = maxTime // no hole below SACKed data any more
	}
	if c.inRecovery && seqLT(ack, c.highRxt) {
		// The new first hole was retransmitted already, before now.
		c.rtxUna, c.rtxMax, c.rtxMark = ack, c.sndMax, true
	}
	if !c.persist {
		c.rtoAt = maxTime
		if c.sndUna != c.sndMax {
			c.rtoAt = tk + int64(c.rto) // RFC 6298 5.3
		}
	}
	if c.inRecovery {
		if seqGEQ(ack, c.recoverSeq) {
			// Full ACK: recovery is over (RFC 6582 3.2 step 3, RFC 6675 5).
			c.inRecovery = false
			c.cwnd = min(c.ssthresh, max(int(c.sndMax-c.sndUna), 0)+c.mss)
			if c.sackOK {
				c.cwnd = c.ssthresh
			}
			c.dupAcks = 0
		} else if !c.sackOK {
			// Partial ACK: retransmit the next hole, deflate by what was
			// acknowledged (RFC 6582 3.2 step 5).
			c.cwnd = max(c.cwnd-n+c.mss, c.mss)
			c.rtxNext = true
		}
	} else {
		c.dupAcks = 0
		// Grow only while the window was in use (RFC 7661's idea): an
		// application-limited sender keeps its cwnd.
		if int(c.sndMax-c.sndUna)+n >= c.cwnd/2 {
			c.cc.onAck(c, n, tk)
		}
	}
	c.armTLP(tk)
	if c.wantWrite && c.snd.Free() > 0 && !c.closeReq {
		c.wantWrite = false
		c.note(out, c, nil, Writable)
	}
	if finAcked {
		switch c.state {
		case StateFinWait1:
			c.setState(StateFinWait2)
			if c.released {
				c.closeAt = tk + int64(c.t.cfg.FinWait2Timeout)
			}
		case StateClosing:
			c.t.enterTimeWait(c, tk, out)
		case StateLastAck:
			c.t.closeConn(c, nil, out)
		}
	}
}

// rttSample updates SRTT, RTTVAR and RTO (RFC 6298 2.2, 2.3).
func (c *Conn) rttSample(r time.Duration) {
	r = max(r, time.Microsecond)
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = min(max(c.srtt+max(time.Millisecond, 4*c.rttvar), c.t.cfg.MinRTO), c.t.cfg.MaxRTO)
}

// enterRecovery starts fast recovery on the third duplicate ACK or when
// SACK shows the first segment lost.
func (c *Conn) enterRecovery(tk int64) {
	c.inRecovery = true
	c.tlpAt = maxTime
	c.rtxMark, c.rtxUnaAgain = false, false
	c.recoverSeq = c.sndMax
	c.highRxt = c.sndUna
	c.fastRecoveries++
	c.t.stats.FastRecoveries++
	c.cc.onCongestion(c, tk)
	if c.sackOK {
		c.cwnd = c.ssthresh
		c.lostEnd = c.sndUna // the last recovery's boundary may lie above: start afresh
		c.updateLost()
		c.lostEnd = seqMax(c.lostEnd, c.sndUna+uint32(min(c.mss, int(c.sndMax-c.sndUna))))
	} else {
		c.cwnd = c.ssthresh + 3*c.mss
		c.rtxNext = true
	}
}

// updateLost recomputes RFC 6675's IsLost boundary from the scoreboard: an
// un-SACKed octet is lost when more than 2 MSS of SACKed data, or 3 SACKed
// ranges, lie above it. It never moves down within a recovery.
func (c *Conn) updateLost() {
	acc := 0
	var end uint32 = c.sndUna
	for i := c.sacked.n - 1; i >= 0; i-- {
		r := c.sacked.r[i]
		acc += int(r.end - r.start)
		if acc > 2*c.mss || c.sacked.n-i >= 3 {
			end = r.start
			break
		}
	}
	c.lostEnd = seqMax(c.lostEnd, end)
	if seqLT(c.lostEnd, c.sndUna) {
		c.lostEnd = c.sndUna
	}
}

// sackLost reports RFC 6675's IsLost(seq) outside recovery.
func (c *Conn) sackLost(seq uint32) bool {
	acc := 0
	for i := c.sacked.n - 1; i >= 0; i-- {
		r := c.sacked.r[i]
		if seqLEQ(r.start, seq) {
			break
		}
		acc += int(r.end - r.start)
		if acc > 2*c.mss || c.sacked.n-i >= 3 {
			return true
		}
	}
	return false
}

// nextLost is RFC 6675 NextSeg rule 1: the first lost, un-SACKed, not yet
// retransmitted octets, at most one MSS of them.
func (c *Conn) nextLost() (uint32, int) {
	from := seqMax(c.highRxt, c.sndUna)
	if !seqLT(from, c.lostEnd) {
		return 0, 0
	}
	prev := c.sndUna
	for i := 0; i <= c.sacked.n; i++ {
		holeEnd := c.sndMax
		next := c.sndMax
		if i < c.sacked.n {
			holeEnd, next = c.sacked.r[i].start, c.sacked.r[i].end
		}
		lo := seqMax(prev, from)
		hi := seqMin(holeEnd, c.lostEnd)
		if seqLT(lo, hi) {
			return lo, min(int(hi-lo), c.mss)
		}
		if !seqLT(next, c.lostEnd) {
			break
		}
		prev = next
	}
	return 0, 0
}

// pipe is RFC 6675 SetPipe: octets in flight, counting an un-SACKed octet
// once unless it is lost, and once more if it was retransmitted.
func (c *Conn) pipe() int {
	p := 0
	prev := c.sndUna
	for i := 0; i <= c.sacked.n; i++ {
		holeEnd := c.sndMax
		next := c.sndMax
		if i < c.sacked.n {
			holeEnd, next = c.sacked.r[i].start, c.sacked.r[i].end
		}
		if seqLT(prev, holeEnd) {
			p += int(holeEnd - prev)
			p -= overlap(prev, holeEnd, c.sndUna, c.lostEnd)
			p += overlap(prev, holeEnd, c.sndUna, c.highRxt)
		}
		prev = next
	}
	return p
}

func overlap(a, b, x, y uint32) int {
	lo, hi := seqMax(a, x), seqMin(b, y)
	if seqLT(lo, hi) {
		return int(hi - lo)
	}
	return 0
}

// onRTO is the retransmission timeout (RFC 6298 5.4-5.7): back off, shrink
// the window to one segment, and go back to sndUna.
func (c *Conn) onRTO(tk int64, out *Output) {
	cfg := &c.t.cfg
	switch c.state {
	case StateSynSent, StateSynReceived:
		c.backoff++
		if c.backoff > cfg.SynRetries {
			c.t.stats.AttemptFails++
			c.t.closeConn(c, ErrTimedOut, out)
			return
		}
		c.rto = min(c.rto*2, cfg.MaxRTO)
		c.t.stats.RetransTimeouts++
		c.sendSYN(tk, out)
		return
	}
	if c.sndUna == c.sndMax {
		return
	}
	c.backoff++
	if c.backoff > cfg.Retries {
		c.t.stats.EstabResets += b2u(c.state == StateEstablished || c.state == StateCloseWait)
		c.t.closeConn(c, ErrTimedOut, out)
		return
	}
	c.rtoCount++
	c.t.stats.RetransTimeouts++
	c.cc.onRTO(c, tk)
	c.cwnd = c.mss
	c.recoverSeq = c.sndMax
	c.inRecovery, c.rtxNext, c.dupAcks = false, false, 0
	c.rtxMark, c.rtxUnaAgain, c.tlpAt, c.reoAt = false, false, maxTime, maxTime
	c.sacked.clear()
	c.lostEnd = c.sndUna
	c.sndNxt = c.sndUna
	c.rttTiming = false
	c.rto = min(c.rto*2, cfg.MaxRTO)
	c.sendData(tk, out)
	if c.rtoAt == maxTime {
		c.rtoAt = tk + int64(c.rto)
	}
}

// startPersist arms the persist timer for a zero (or uselessly small)
// window with nothing in flight to bring an update.
func (c *Conn) startPersist(tk int64) {
	c.persist = true
	c.persistBackoff = 0
	c.rtoAt = tk + int64(max(c.rto, c.t.cfg.MinRTO))
}

// onPersist sends a zero-window probe: one byte past the window (RFC 9293
// 3.8.6.1). A peer that answers keeps the connection alive indefinitely.
func (c *Conn) onPersist(tk int64, out *Output) {
	c.persist = false
	avail := int(int32(c.sndEnd() - c.sndNxt))
	if c.snd.Len() == 0 {
		return
	}
	if usable := int(int32(c.sndUna + c.sndWnd - c.sndNxt)); usable > 0 && avail > 0 {
		// SWS held back a small window: the timer overrides it.
		c.sendSegment(tk, c.sndNxt, min(usable, avail, c.mss), false, out)
		return
	}
	c.sendSegment(tk, c.sndUna, 1, false, out)
	c.persist = true
	c.persistBackoff++
	c.rtoAt = tk + int64(min(c.rto<<min(c.persistBackoff, 16), c.t.cfg.MaxRTO))
}
