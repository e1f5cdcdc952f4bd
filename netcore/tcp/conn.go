package tcp

import (
	"io"
	"net/netip"
	"strconv"
	"time"
)

// State is a connection's state (RFC 9293 3.3.2).
type State uint8

// The eleven states.
const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{"Closed", "Listen", "Syn_sent", "Syn_received", "Established",
	"Finwait1", "Finwait2", "Close_wait", "Closing", "Last_ack", "Time_wait"}

// String is the state as INTERFACE.md spells it in a conversation's status.
func (s State) String() string { return stateNames[s] }

// synchronized: RFC 9293's states after the handshake's SYNs were exchanged.
func (s State) synchronized() bool { return s >= StateEstablished || s == StateSynReceived }

// Conn is one TCP connection. Its methods must be called under the same
// lock as the Table's.
type Conn struct {
	eventSink
	t        *Table
	state    State
	local    netip.AddrPort
	remote   netip.AddrPort
	ttl, tos uint8
	listener *Listener // while half-open or queued for Accept
	user     any
	err      error // why it ended; Read and Write return it
	// The fields with pointers come first, so that the garbage collector
	// scans only the head of this large struct.
	snd ring       // send buffer: the bytes from sndUna (from iss+1 before the SYN is acknowledged)
	rcv ring       // in-order data not yet read, and out-of-order data past it
	cc  congestion // points at renoCC or cubicCC below

	nodelay   bool
	closeReq  bool // Close: FIN after the queued data
	rcvClosed bool // the peer's FIN is in rcvNxt
	released  bool // the user is gone: data arriving now is answered with RST
	wantRead  bool // a Read found nothing: report Readable
	wantWrite bool // a Write was short: report Writable
	inTable   bool // in t.conns
	cookie    bool // made from a SYN cookie (for the counters)
	sackOK    bool
	tsOK      bool
	sndWscale uint8 // the peer's shift for its windows
	rcvWscale uint8 // our shift for the windows we announce
	mss       int   // most payload we put in one segment (peer's MSS less option room)
	rcvMSS    int   // what we announced

	// Send sequence space (RFC 9293 3.3.1); snd holds the data from sndUna
	// (from iss+1 before the SYN is acknowledged).
	iss, sndUna, sndNxt, sndMax uint32
	sndWnd, maxSndWnd           uint32
	sndWl1, sndWl2              uint32

	// Receive sequence space; rcv holds in-order data not yet read, and
	// out-of-order data past it whose ranges ooo records.
	irs, rcvNxt uint32
	rcvAdv      uint32 // right edge of the window we last announced
	ooo         rangeSet
	oooLast     uint32 // start of the most recent out-of-order segment (first SACK block)
	finSeq      uint32 // where the peer's FIN is, once seen (finSeen)
	finSeen     bool

	// Timestamps (RFC 7323).
	tsOffset    uint32
	tsRecent    uint32
	tsRecentAt  int64
	lastAckSent uint32

	// ACKs: segments received since we last sent an ACK, and whether the
	// next one must go now.
	ackPending int
	ackBytes   int
	ackNow     bool

	// RTT and RTO (RFC 6298).
	srtt, rttvar, rto time.Duration
	rttSeq            uint32
	rttStart          int64
	rttTiming         bool
	backoff           int // RTOs in a row
	persist           bool
	persistBackoff    int
	synRetransmitted  bool

	// Congestion control and loss recovery.
	cwnd        int
	ssthresh    int
	dupAcks     int
	inRecovery  bool
	recoverSeq  uint32 // RFC 6582 "recover" / RFC 6675 RecoveryPoint
	highRxt     uint32 // RFC 6675 HighRxt
	rtxNext     bool   // NewReno: retransmit the segment at sndUna now
	sacked      rangeSet
	lostEnd     uint32 // un-SACKed octets below this are lost (RFC 6675 IsLost)
	pipeCache   int
	chAckSecond int64 // RFC 5961 challenge ACK budget: the second it is for
	chAcks      int   // and how many were sent in it
	keepalive   time.Duration
	keepProbes  int
	lastRecv    int64 // when a segment last arrived (keepalive idle)
	established int64

	// Timers: absolute deadlines in table time, never (maxTime) when off.
	rtoAt, ackAt, keepAt, closeAt int64
	tlpAt                         int64 // tail loss probe (RFC 8985 7)
	reoAt                         int64 // SACKed data passed the first hole this long ago: it is lost (RFC 8985 6.2)
	rtxUna, rtxMax                uint32
	rtxMark                       bool // sndUna's segment was retransmitted when sndMax was rtxMax
	rtxUnaAgain                   bool // and that retransmission is deemed lost: send it again
	tlpProbed                     bool // a probe went out since the last new ACK
	rtxProbes                     uint // first-hole retransmissions resent by the timer since the last new ACK
	heapIdx                       int
	twIdx                         int
	heapKey                       int64

	renoCC  reno
	cubicCC cubic

	// Counters for Info.
	retransSegs, segsIn, segsOut uint64
	rtoCount, fastRecoveries     uint64
}

// Local and Remote are the connection's addresses.
func (c *Conn) Local() netip.AddrPort  { return c.local }
func (c *Conn) Remote() netip.AddrPort { return c.remote }

// State is the connection's state now.
func (c *Conn) State() State { return c.state }

// Err is why the connection ended (nil while it has not, or ended cleanly).
func (c *Conn) Err() error { return c.err }

// SetUser and User keep the caller's handle (the host's conversation).
func (c *Conn) SetUser(v any) { c.user = v }
func (c *Conn) User() any     { return c.user }

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (c *Conn) SetNoDelay(on bool) { c.nodelay = on }

// SetTTL and SetTOS set the IP fields of the connection's segments.
func (c *Conn) SetTTL(ttl uint8) { c.ttl = ttl }
func (c *Conn) SetTOS(tos uint8) { c.tos = tos }

// SetKeepalive turns keepalive probes on with idle as the idle time before
// the first (0: off; negative: the Table's default).
func (c *Conn) SetKeepalive(now time.Time, idle time.Duration) {
	if idle < 0 {
		idle = c.t.cfg.KeepaliveIdle
	}
	c.keepalive = idle
	c.keepProbes = 0
	c.keepAt = maxTime
	if idle > 0 && c.state.synchronized() {
		c.keepAt = c.t.tick(now) + int64(idle)
	}
	c.t.schedule(c)
}

// Read moves received bytes into b. It returns ErrWouldBlock when nothing is
// there yet (Readable is reported when there is), io.EOF after the peer's
// FIN, and the connection's error after a reset or timeout. Reading may open
// the window: the update goes into out.
func (c *Conn) Read(now time.Time, b []byte, out *Output) (int, error) {
	if c.rcv.Len() == 0 {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.rcvClosed || c.state == StateClosed:
			return 0, io.EOF
		case c.state == StateSynSent || c.state == StateSynReceived:
			c.wantRead = true
			return 0, ErrWouldBlock
		}
		if len(b) == 0 {
			return 0, nil
		}
		c.wantRead = true
		return 0, ErrWouldBlock
	}
	before := c.rcvAdv - c.rcvNxt
	n := c.rcv.Read(b)
	if c.rcv.Len() == 0 && c.ooo.empty() {
		c.rcv.releaseSmall()
	}
	if c.state.synchronized() && c.state != StateTimeWait && !c.rcvClosed {
		// Announce the opened window when the peer was down to a few
		// segments and it at least doubles (as Linux's tcp_cleanup_rbuf),
		// so a reader that had stopped restarts the sender, without an ACK
		// per read while the window is wide open.
		free := uint32(c.rcv.Free())
		if before < 4*uint32(c.rcvMSS) && free >= uint32(c.rcvMSS) && free >= 2*before {
			tk := c.t.tick(now)
			c.ackNow = true
			c.output(tk, out)
			c.t.schedule(c)
		}
	}
	return n, nil
}

// Buffered is how many received bytes wait to be read.
func (c *Conn) Buffered() int { return c.rcv.Len() }

// SendSpace is how many bytes a Write would take now (before Close).
func (c *Conn) SendSpace() int { return c.snd.Free() }

// Write queues bytes from b for sending and sends what the windows allow. It
// returns how many it took; ErrWouldBlock when the send buffer is full
// (Writable is reported when it drains), ErrBrokenPipe after Close, the
// connection's error after it ended.
func (c *Conn) Write(now time.Time, b []byte, out *Output) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	switch c.state {
	case StateSynSent, StateSynReceived, StateEstablished, StateCloseWait:
	default:
		return 0, ErrBrokenPipe
	}
	if c.closeReq {
		return 0, ErrBrokenPipe
	}
	n := c.snd.Write(b)
	if n < len(b) {
		c.wantWrite = true
		if n == 0 {
			return 0, ErrWouldBlock
		}
	}
	if c.state == StateEstablished || c.state == StateCloseWait {
		tk := c.t.tick(now)
		c.output(tk, out)
		c.t.schedule(c)
	}
	return n, nil
}

// Close sends a FIN after the queued data (half-close); reading goes on to
// io.EOF. Before the handshake is done the FIN waits for it.
func (c *Conn) Close(now time.Time, out *Output) {
	tk := c.t.tick(now)
	switch c.state {
	case StateSynSent, StateSynReceived, StateEstablished, StateCloseWait:
	default:
		return
	}
	if c.closeReq {
		return
	}
	c.closeReq = true
	if c.state == StateSynSent || c.state == StateSynReceived {
		return // the FIN follows the handshake (RFC 9293 3.10.4)
	}
	c.output(tk, out)
	c.t.schedule(c)
}

// Release says the user will not read or write again: Close, and from now on
// data that arrives is answered with RST (as a kernel does after close) and
// an unread receive queue is dropped. The connection finishes its closing
// handshake on its own and reports Closed when done.
func (c *Conn) Release(now time.Time, out *Output) {
	if c.state == StateClosed {
		return
	}
	c.released = true
	c.user = nil
	if c.state == StateSynSent {
		c.t.closeConn(c, nil, out) // nothing was sent or received: just forget it
		return
	}
	if c.rcv.Len() > 0 && c.state.synchronized() && c.state != StateTimeWait {
		// Unread data: RFC 9293 3.10.4 (Abort) rather than a FIN that
		// claims all was delivered.
		c.Abort(now, out)
		return
	}
	c.Close(now, out)
	if c.state == StateFinWait2 {
		c.closeAt = c.t.tick(now) + int64(c.t.cfg.FinWait2Timeout)
		c.t.schedule(c)
	}
}

// Abort resets the connection (RST) and frees it at once.
func (c *Conn) Abort(now time.Time, out *Output) {
	if c.state == StateClosed {
		return
	}
	if c.state.synchronized() && c.state != StateTimeWait {
		c.t.sendRST(c.local, c.remote, c.sndMax, 0, false, c.ttl, c.tos, out)
		c.t.stats.EstabResets += b2u(c.state == StateEstablished || c.state == StateCloseWait)
	}
	c.t.closeConn(c, ErrAborted, out)
}

// Fail ends the connection with err and sends nothing: for what the host
// learns below TCP, such as the neighbour that never answered
// (syscall.EHOSTUNREACH) or an ICMP unreachable. Failed is reported.
func (c *Conn) Fail(now time.Time, err error, out *Output) {
	switch c.state {
	case StateClosed:
		return
	case StateSynSent, StateSynReceived:
		c.t.stats.AttemptFails++
	case StateEstablished, StateCloseWait:
		c.t.stats.EstabResets++
	}
	c.t.closeConn(c, err, out)
}

// Info is a snapshot of the connection for its status file.
type Info struct {
	State                    State
	Local, Remote            netip.AddrPort
	SendQueue, RecvQueue     int // bytes queued to send (incl. unacknowledged), to read
	SRTT, RTTVar, RTO        time.Duration
	Cwnd, Ssthresh           int // bytes
	SendWindow, RecvWindow   int // the peer's window, ours as last announced
	MSS                      int
	Retransmits              uint64 // segments retransmitted
	Timeouts, FastRecoveries uint64
	SegsIn, SegsOut          uint64
	SACK, Timestamps         bool
	SendScale, RecvScale     uint8
	Congestion               string
}

// Info returns the connection's status.
func (c *Conn) Info() Info {
	i := Info{
		State: c.state, Local: c.local, Remote: c.remote,
		SendQueue: c.snd.Len(), RecvQueue: c.rcv.Len(),
		SRTT: c.srtt, RTTVar: c.rttvar, RTO: c.rto,
		Cwnd: c.cwnd, Ssthresh: c.ssthresh,
		SendWindow: int(c.sndWnd), RecvWindow: int(c.rcvAdv - c.rcvNxt),
		MSS: c.mss, Retransmits: c.retransSegs, Timeouts: c.rtoCount,
		FastRecoveries: c.fastRecoveries, SegsIn: c.segsIn, SegsOut: c.segsOut,
		SACK: c.sackOK, Timestamps: c.tsOK, SendScale: c.sndWscale, RecvScale: c.rcvWscale,
	}
	if c.cc != nil {
		i.Congestion = c.cc.name()
	}
	if !c.state.synchronized() {
		i.RecvWindow = 0
	}
	return i
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// String is the status line of a conversation (INTERFACE.md): the state,
// then `name value` pairs. Times are in milliseconds, sizes in bytes.
func (i Info) String() string {
	b := make([]byte, 0, 256)
	b = append(b, i.State.String()...)
	num := func(name string, v int64) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
	}
	ms := func(name string, d time.Duration) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	num("sendq", int64(i.SendQueue))
	num("recvq", int64(i.RecvQueue))
	ms("srtt", i.SRTT)
	ms("rttvar", i.RTTVar)
	ms("rto", i.RTO)
	num("cwnd", int64(i.Cwnd))
	num("ssthresh", int64(i.Ssthresh))
	num("sndwnd", int64(i.SendWindow))
	num("rcvwnd", int64(i.RecvWindow))
	num("mss", int64(i.MSS))
	num("retrans", int64(i.Retransmits))
	num("timeouts", int64(i.Timeouts))
	num("recoveries", int64(i.FastRecoveries))
	if i.Congestion != "" {
		b = append(b, " cc "...)
		b = append(b, i.Congestion...)
	}
	return string(b)
}
