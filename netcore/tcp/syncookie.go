package tcp

import (
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// SYN cookies (RFC 4987 3.6): when a listener has MaxHalfOpen handshakes
// under way, a SYN gets a SYN-ACK whose ISN encodes the connection and no
// state is kept; the handshake's ACK brings the ISN back and rebuilds it.
//
// The ISN: 5 bits of a 64-second counter, 3 bits of MSS index, and a 24-bit
// MAC (SipHash) over the 4-tuple, counter, MSS index and the peer's ISN.
// Window scale and SACK-permitted ride in the low bits of our timestamp
// (echoed in the ACK's TSecr), as Linux does; without timestamps a cookie
// connection has neither.

var cookieMSS = [8]uint16{216, 536, 1220, 1300, 1360, 1440, 1460, 8960}

const (
	cookiePeriod = 64 * time.Second
	cookieTSBits = 5 // low TSval bits: 4 of window scale (15: none), 1 of SACK
	cookieTSMask = 1<<cookieTSBits - 1
	cookieNoWS   = 0xf
)

func (l *Listener) cookieMAC(s *segment, count, mssIdx uint32, peerISN uint32) uint32 {
	extra := uint64(peerISN)<<32 | tagCookie | uint64(count)<<8 | uint64(mssIdx)
	return uint32(l.t.key.tupleHash(s.local, s.remote, extra)) & 0xffffff
}

// sendCookie answers a SYN with a cookie SYN-ACK.
func (l *Listener) sendCookie(tk int64, s *segment, out *Output) {
	t := l.t
	peerMSS := uint16(536)
	if s.opts.HasMSS {
		peerMSS = s.opts.MSS
	}
	ourMSS := l.opts.MSS
	if ourMSS <= 0 {
		ourMSS = t.cfg.MSS
	}
	mssIdx := uint32(0)
	for i, m := range cookieMSS {
		if m <= peerMSS && int(m) <= ourMSS {
			mssIdx = uint32(i)
		}
	}
	count := uint32(tk/int64(cookiePeriod)) & 31
	isn := count<<27 | mssIdx<<24 | l.cookieMAC(s, count, mssIdx, s.seq)

	r := wire.TCPRepr{SrcPort: s.local.Port(), DstPort: s.remote.Port(), Seq: isn, Ack: s.seq + 1,
		Flags: flagSYN | flagACK}
	rb := l.opts.RecvBuffer
	if rb <= 0 {
		rb = t.cfg.RecvBuffer
	}
	r.Window = uint16(min(rb, 65535))
	o := &r.Options
	o.HasMSS, o.MSS = true, cookieMSS[mssIdx]
	if s.opts.HasTS && !t.cfg.NoTimestamps {
		enc := uint32(cookieNoWS)
		if s.opts.HasWS && !t.cfg.NoWindowScale {
			ws := listenerWscale(rb)
			o.HasWS, o.WindowScale = true, ws
			enc = uint32(min(s.opts.WindowScale, wire.TCPMaxWindowScale))
		}
		if s.opts.SACKPermitted && !t.cfg.NoSACK {
			enc |= 1 << 4
			o.SACKPermitted = true
		}
		now := uint32(tk/int64(time.Millisecond)) + t.tsOffset(s.local, s.remote)
		ts := now&^cookieTSMask | enc
		if seqGT(ts, now) {
			ts -= cookieTSMask + 1 // never ahead of the clock later segments use
		}
		o.HasTS, o.TSVal, o.TSEcr = true, ts, s.opts.TSVal
	}
	t.emit(s.local.Addr(), s.remote.Addr(), t.cfg.TTL, l.opts.TOS, &r, nil, out)
	t.stats.SynCookiesSent++
}

func listenerWscale(rb int) uint8 {
	var ws uint8
	for ws < wire.TCPMaxWindowScale && rb>>ws > 65535 {
		ws++
	}
	return ws
}

// acceptCookie checks an ACK against the cookie it should carry and, when it
// does, makes the established connection and queues it.
func (l *Listener) acceptCookie(tk int64, s *segment, out *Output) bool {
	t := l.t
	if t.stats.SynCookiesSent == 0 {
		return false // never sent one: no need to check (nor to count failures)
	}
	isn := s.ack - 1
	count, mssIdx := isn>>27, isn>>24&7
	now := uint32(tk/int64(cookiePeriod)) & 31
	if count != now && count != (now-1)&31 {
		t.stats.SynCookiesFailed++
		return false
	}
	if l.cookieMAC(s, count, mssIdx, s.seq-1) != isn&0xffffff {
		t.stats.SynCookiesFailed++
		return false
	}
	if l.Pending() >= l.backlog {
		t.stats.ListenOverflows++
		return true // valid, but no room: drop; the peer's data retransmission retries
	}
	t.stats.SynCookiesRecv++
	t.stats.PassiveOpens++
	c := t.newConn(tk, s.local, s.remote, l.opts)
	c.cookie = true
	c.iss, c.irs = isn, s.seq-1
	c.rcvNxt, c.rcvAdv, c.lastAckSent = s.seq, s.seq, s.seq
	c.sndUna, c.sndNxt, c.sndMax = s.ack, s.ack, s.ack
	c.mss = min(int(cookieMSS[mssIdx]), c.rcvMSS)
	c.sndWscale, c.rcvWscale = 0, 0
	if s.opts.HasTS && !t.cfg.NoTimestamps {
		c.tsOK = true
		c.tsRecent, c.tsRecentAt = s.opts.TSVal, tk
		c.mss -= 12
		enc := s.opts.TSEcr & cookieTSMask
		if ws := enc & 0xf; ws != cookieNoWS && !t.cfg.NoWindowScale {
			c.sndWscale = uint8(ws)
			c.rcvWscale = listenerWscale(c.rcv.max)
		}
		c.sackOK = enc&(1<<4) != 0 && !t.cfg.NoSACK
	}
	c.sndWnd = uint32(s.wnd) << c.sndWscale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = s.seq, s.ack
	c.listener = l
	t.addConn(c)
	c.becomeEstablished(tk, out)
	l.enqueue(c, out)
	// The ACK may carry data.
	c.segsIn++
	if len(s.payload) > 0 || s.has(flagFIN) {
		c.processData(tk, s, out)
		if c.state != StateClosed {
			c.output(tk, out)
		}
	}
	t.schedule(c)
	return true
}
