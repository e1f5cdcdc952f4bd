// Package tcp is smolfs's TCP: a sans-I/O engine that owns no goroutine, no
// socket and no clock. The host (netcore's tcp.go glue) hands it segments
// and the time, and sends what it returns.
//
// # The boundary with the host
//
// One Table per host holds its connections, listeners, TIME_WAIT
// connections, ephemeral ports, SYN-cookie and ISN secret, timers and
// counters:
//
//	t := tcp.NewTable(tcp.Config{})                      // zero fields: defaults
//	t.Receive(now, src, dst, seg, &out)                  // seg: TCP header+payload of an IP packet
//	t.ReceiveVerified(now, src, dst, seg, &out)          // the same, its checksum the device's business
//	t.Poll(now, &out)                                    // timers that are due
//	t.Deadline()                                         // when Poll next has work (zero: none)
//	c, err := t.Connect(now, local, remote, opts, &out)  // local port 0: ephemeral
//	l, err := t.Listen(local, backlog, opts)             // unspecified address: all of the host's
//	c, err := l.Accept()                                 // ErrWouldBlock until one is established
//	n, err := c.Read(now, b, &out)                       // ErrWouldBlock; io.EOF after the peer's FIN
//	n, err := c.Write(now, b, &out)                      // ErrWouldBlock when the send buffer is full
//	c.Close(now, &out)                                   // FIN after queued data; reading goes on
//	c.Release(now, &out)                                 // the user is gone (last file closed)
//	c.Abort(now, &out)                                   // RST
//	c.Fail(now, syscall.EHOSTUNREACH, &out)              // the host's own verdict (ARP failed, ICMP)
//	c.State(); c.Info(); c.Err(); t.Stats()
//
// Everything is called under the host's lock. Receive verifies the
// checksum (Config.NoChecksum skips it when the device did) against the
// pseudo-header of src and dst, IPv4 or IPv6 alike; the host has already
// checked that dst is one of its unicast addresses, and passes src and dst
// as they were in the IP header.
//
// An Output collects what a call produced: Segments (Src, Dst, TTL, TOS,
// Header with the checksum filled in, and Payload) for the host to wrap in
// IP and send, and Events: each connection or listener whose readiness
// changed, at most once per Output, with a Ready mask (Readable, Writable,
// Acceptable, Established, Failed, Closed). The host turns Events into
// wake-ups of whatever waits on that conversation (SetUser keeps its
// handle). Readable and Writable are reported once after a Read or Write
// returned ErrWouldBlock (or took less than offered); Established, Failed,
// Acceptable and Closed always. A Payload may point into a connection's
// send buffer: it is valid until the next call into the Table, so the host
// copies it into its frame before anything else. A released connection
// (Release) that enters TIME_WAIT is reported too (Readable), so that the
// host can forget it then: what TIME_WAIT holds is the Table's. Reset the
// Output before reusing it; it keeps its buffers, so a steady flow
// allocates nothing.
//
// Errors are errnos (syscall.Errno), so the host needs no table:
// ECONNREFUSED (RST answering our SYN), ETIMEDOUT (retransmissions or
// keepalives unanswered), ECONNRESET (RST), EPIPE (write after Close),
// EADDRINUSE (tuple or listening address taken), EADDRNOTAVAIL (no ephemeral
// port), ECONNABORTED (Abort). A Conn that reports Closed is out of the
// Table: its 4-tuple is free, and the host may forget it once the user has.
//
// # What it implements, and where
//
//	table.go      Table, Receive dispatch, Connect, RST for closed ports (RFC 9293 3.10.7.1)
//	state.go      the arrival rules of RFC 9293 3.10.7 for every state: simultaneous open,
//	              half-close both ways, RFC 5961 (exact RST, challenge ACKs, rate limit),
//	              RFC 7323 PAWS, TIME_WAIT reuse by a newer SYN (RFC 6191)
//	snd.go        sending: windows, Nagle (ConnOptions.NoDelay), sender SWS avoidance;
//	              ACK processing; RTO with Karn and backoff (RFC 6298); SACK loss recovery
//	              (RFC 6675: IsLost, pipe, NextSeg); NewReno without SACK (RFC 6582);
//	              limited transmit (RFC 3042), early retransmit (RFC 5827), a tail loss
//	              probe and RACK's reordering window by sequence order (RFC 8985), so that
//	              small windows and lost retransmissions recover without an RTO;
//	              zero-window probes
//	rcv.go        receiving: out-of-order data kept in place, SACK blocks (RFC 2018),
//	              delayed ACKs (every second full segment, else 40 ms), a window that
//	              never shrinks, receiver SWS avoidance
//	reno.go       the congestion interface; NewReno's growth (RFC 5681, RFC 3465 ABC)
//	cubic.go      CUBIC (RFC 9438); Config.Congestion picks one
//	accept.go     listeners: bounded accept backlog, half-open bound per listener
//	syncookie.go  SYN cookies (RFC 4987) past that bound
//	isn.go        ISNs (RFC 6528) and timestamp offsets keyed by SipHash
//	timers.go     per-connection deadlines in one heap; keepalive; the TIME_WAIT FIFO
//	stats.go      RFC 4022's counters and ours
//
// Memory is bounded: send and receive buffers (Config.SendBuffer,
// RecvBuffer, per connection ConnOptions) grow on demand up to their bound,
// and the receive buffer's free space is the window, so a reader that stops
// reading closes the window and nothing acknowledged is ever dropped;
// half-open connections per listener (Config.MaxHalfOpen, then cookies),
// established ones waiting for Accept (backlog), TIME_WAIT connections
// (Config.MaxTimeWait, the oldest freed first).
package tcp
