package tcp

import (
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The segment arrival rules of RFC 9293 3.10.7, in its order, for a
// connection past LISTEN; listeners are in accept.go.

const (
	flagSYN = wire.TCPFlagSYN
	flagACK = wire.TCPFlagACK
	flagRST = wire.TCPFlagRST
	flagFIN = wire.TCPFlagFIN
	flagPSH = wire.TCPFlagPSH
	ackFlag = wire.TCPFlagACK
)

// setState changes state, keeping the current-established gauge.
func (c *Conn) setState(s State) {
	was := c.state == StateEstablished || c.state == StateCloseWait
	is := s == StateEstablished || s == StateCloseWait
	if was && !is {
		c.t.stats.CurrEstab--
	} else if is && !was {
		c.t.stats.CurrEstab++
	}
	c.state = s
}

func (c *Conn) receive(tk int64, s *segment, out *Output) {
	c.lastRecv = tk
	c.keepProbes = 0
	if c.state == StateSynSent {
		c.receiveSynSent(tk, s, out)
		return
	}
	if c.state == StateTimeWait && s.has(flagSYN) && !s.has(flagACK|flagRST) && c.reopenFromTimeWait(tk, s, out) {
		return
	}
	if c.state == StateSynReceived && s.has(flagSYN) && !s.has(flagACK|flagRST) && s.seq == c.irs {
		// The peer did not get our SYN-ACK: send it again.
		c.sendSYN(tk, out)
		return
	}
	// PAWS (RFC 7323 5.3): a timestamp older than TS.Recent is an old
	// duplicate. RFC 7323 5.5: TS.Recent older than 24 days is stale.
	if c.tsOK && s.opts.HasTS && !s.has(flagRST) && seqLT(s.opts.TSVal, c.tsRecent) &&
		tk-c.tsRecentAt < int64(24*24*time.Hour) {
		c.t.stats.PAWSDrops++
		c.ackNow = true
		c.output(tk, out)
		return
	}
	// Sequence check (RFC 9293 3.10.7.4, first): against the buffer space we
	// have, which is at least the window we announced.
	if !c.acceptable(s) {
		if !s.has(flagRST) {
			c.ackNow = true
			c.output(tk, out)
		}
		return
	}
	if s.has(flagRST) {
		// RFC 5961 3.2: only an exact RST kills; one merely in the window
		// gets a challenge ACK, so a blind attacker must guess the exact
		// sequence number.
		if s.seq == c.rcvNxt {
			c.onReset(out)
		} else {
			c.challengeACK(tk, out)
		}
		return
	}
	if s.has(flagSYN) {
		// RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK
		// whatever its sequence number; a real peer that restarted answers
		// it with a RST that does match.
		c.challengeACK(tk, out)
		return
	}
	if !s.has(flagACK) {
		return
	}
	if c.state == StateSynReceived {
		if !seqGT(s.ack, c.sndUna) || seqGT(s.ack, c.sndMax) {
			c.t.sendRST(c.local, c.remote, s.ack, 0, false, c.ttl, c.tos, out)
			return
		}
		if !c.establishPassive(tk, s, out) {
			return
		}
	}
	// RFC 5961 5.2: an ACK for data not yet sent is answered and dropped;
	// one too far behind (more than the peer's largest window) is a blind
	// injection: challenge ACK.
	if seqGT(s.ack, c.sndMax) {
		c.ackNow = true
		c.output(tk, out)
		return
	}
	if seqLT(s.ack, c.sndUna-c.maxSndWnd) {
		c.challengeACK(tk, out)
		return
	}
	// RFC 7323 4.3: remember the peer's timestamp to echo.
	if c.tsOK && s.opts.HasTS && seqGEQ(s.opts.TSVal, c.tsRecent) && seqLEQ(s.seq, c.lastAckSent) {
		c.tsRecent, c.tsRecentAt = s.opts.TSVal, tk
	}
	c.processAck(tk, s, out)
	if c.state == StateClosed {
		return
	}
	if len(s.payload) > 0 || s.has(flagFIN) {
		c.processData(tk, s, out)
		if c.state == StateClosed {
			return
		}
	}
	c.output(tk, out)
}

// acceptable is RFC 9293's four-case test of a segment's sequence numbers
// against the receive window.
func (c *Conn) acceptable(s *segment) bool {
	wnd := uint32(c.rcv.Free())
	if c.state == StateTimeWait || c.rcvClosed {
		wnd = max(wnd, 1) // the FIN's place: a retransmitted FIN must be acknowledged
	}
	n := s.seqLen()
	if n == 0 {
		if wnd == 0 {
			return s.seq == c.rcvNxt
		}
		return seqInWindow(s.seq, c.rcvNxt, wnd)
	}
	if wnd == 0 {
		return false
	}
	last := s.seq + n - 1
	return seqInWindow(s.seq, c.rcvNxt, wnd) || seqInWindow(last, c.rcvNxt, wnd) ||
		(seqLT(s.seq, c.rcvNxt) && seqGT(last, c.rcvNxt)) // spans the left edge
}

// challengeACK sends an ACK with the current numbers (RFC 5961 3.2), within
// the table's rate limit.
func (c *Conn) challengeACK(tk int64, out *Output) {
	if !c.challengeACKAllowed(tk) {
		c.t.stats.ChallengeACKsLimited++
		return
	}
	c.t.stats.ChallengeACKs++
	c.sendFlags(tk, c.sndMax, ackFlag, out)
}

// challengeACKAllowed spends one of the second's challenge ACKs (RFC 5961
// 7). The budget is the connection's, not the host's: a host-wide one lets
// an attacker who exhausts it and counts the ACKs left over learn which
// connections exist and their numbers (CVE-2016-5696, Linux's fix).
func (c *Conn) challengeACKAllowed(tk int64) bool {
	sec := tk / int64(time.Second)
	if sec != c.chAckSecond {
		c.chAckSecond, c.chAcks = sec, 0
	}
	if c.chAcks >= c.t.cfg.ChallengeACKLimit {
		return false
	}
	c.chAcks++
	return true
}

// onReset handles an acceptable RST (RFC 9293 3.10.7.4, second).
func (c *Conn) onReset(out *Output) {
	switch c.state {
	case StateSynReceived:
		c.t.stats.AttemptFails++
		c.t.closeConn(c, ErrConnRefused, out)
	case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		c.t.stats.EstabResets += b2u(c.state == StateEstablished || c.state == StateCloseWait)
		c.t.closeConn(c, ErrConnReset, out)
	case StateTimeWait:
		// RFC 1337: a RST must not cut TIME_WAIT short.
	default:
		c.t.closeConn(c, nil, out)
	}
}

// receiveSynSent is RFC 9293 3.10.7.3.
func (c *Conn) receiveSynSent(tk int64, s *segment, out *Output) {
	if s.has(flagACK) && (seqLEQ(s.ack, c.iss) || seqGT(s.ack, c.sndMax)) {
		if !s.has(flagRST) {
			c.t.sendRST(c.local, c.remote, s.ack, 0, false, c.ttl, c.tos, out)
		}
		return
	}
	if s.has(flagRST) {
		if s.has(flagACK) {
			c.t.stats.AttemptFails++
			c.t.closeConn(c, ErrConnRefused, out)
		}
		return
	}
	if !s.has(flagSYN) {
		return
	}
	c.irs = s.seq
	c.rcvNxt = s.seq + 1
	c.rcvAdv = c.rcvNxt
	c.lastAckSent = c.rcvNxt
	c.negotiate(s)
	if !s.has(flagACK) {
		// Simultaneous open: SYN_RECEIVED, and our SYN again with an ACK.
		c.setState(StateSynReceived)
		c.sndNxt = c.iss
		c.sendSYN(tk, out)
		return
	}
	c.sndUna = s.ack
	if c.rttTiming {
		c.rttSample(time.Duration(tk - c.rttStart))
		c.rttTiming = false
	}
	c.rtoAt = maxTime
	c.sndWnd = uint32(s.wnd) // not scaled in a SYN (RFC 7323 2.2)
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = s.seq, s.ack
	c.becomeEstablished(tk, out)
	c.ackNow = true
	c.output(tk, out)
}

// negotiate takes the options of the peer's SYN (RFC 7323, RFC 2018,
// RFC 9293 3.7.1).
func (c *Conn) negotiate(s *segment) {
	cfg := &c.t.cfg
	c.mss = 536
	if s.opts.HasMSS {
		c.mss = int(s.opts.MSS)
	}
	c.mss = max(min(c.mss, c.rcvMSS), 64)
	if s.opts.HasWS && !cfg.NoWindowScale {
		c.sndWscale = s.opts.WindowScale
	} else {
		c.sndWscale, c.rcvWscale = 0, 0
	}
	c.sackOK = s.opts.SACKPermitted && !cfg.NoSACK
	c.tsOK = s.opts.HasTS && !cfg.NoTimestamps
	if c.tsOK {
		c.tsRecent = s.opts.TSVal
		c.mss -= 12 // room for the timestamps option in every segment
	}
}

// becomeEstablished ends the handshake.
func (c *Conn) becomeEstablished(tk int64, out *Output) {
	c.setState(StateEstablished)
	c.established = tk
	c.backoff = 0
	c.recoverSeq = c.iss
	// RFC 6928's initial window; one segment after a lost SYN (RFC 6298 5.7).
	c.cwnd = min(10*c.mss, max(2*c.mss, 14600))
	if c.synRetransmitted {
		c.cwnd = c.mss
	}
	c.ssthresh = 1 << 30
	if c.keepalive > 0 {
		c.keepAt = tk + int64(c.keepalive)
	}
	c.note(out, c, nil, Established|Writable)
	if c.closeReq {
		c.output(tk, out) // Close during the handshake: the FIN goes now
	}
}

// establishPassive completes a passive open on the handshake's ACK and
// queues the connection for Accept; false when the backlog is full (the ACK
// is dropped and the SYN-ACK retransmitted later, as Linux does).
func (c *Conn) establishPassive(tk int64, s *segment, out *Output) bool {
	if l := c.listener; l != nil && !l.enqueue(c, out) {
		c.t.stats.ListenOverflows++
		return false
	}
	c.sndUna = c.iss + 1
	if c.rttTiming {
		c.rttSample(time.Duration(tk - c.rttStart))
		c.rttTiming = false
	}
	c.rtoAt = maxTime
	c.sndWnd = uint32(s.wnd) << c.sndWscale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = s.seq, s.ack
	c.becomeEstablished(tk, out)
	return true
}

// reopenFromTimeWait lets a new SYN take the 4-tuple of a TIME_WAIT
// connection when it cannot be an old duplicate (RFC 6191: a greater
// timestamp, or a greater sequence number without timestamps).
func (c *Conn) reopenFromTimeWait(tk int64, s *segment, out *Output) bool {
	if c.tsOK && s.opts.HasTS {
		if !seqGT(s.opts.TSVal, c.tsRecent) {
			return false
		}
	} else if !seqGT(s.seq, c.rcvNxt) {
		return false
	}
	l := c.t.findListener(c.local)
	if l == nil {
		return false
	}
	c.t.closeConn(c, nil, out)
	l.receive(tk, s, out)
	return true
}
