package tcp

import "time"

// Config sets a Table's policy. Zero fields take the defaults below.
type Config struct {
	// Secret keys ISNs, SYN cookies and timestamp offsets. Zero: random.
	Secret [16]byte

	SendBuffer int // bytes a connection buffers for sending (256 KiB)
	RecvBuffer int // bytes a connection buffers received (256 KiB); also the window
	MSS        int // MSS when ConnOptions gives none (1460: Ethernet, IPv4)
	TTL        uint8
	// Congestion is "reno" (NewReno, RFC 5681/6582; the default) or "cubic" (RFC 9438).
	Congestion string

	NoTimestamps  bool // don't offer or accept RFC 7323 timestamps
	NoSACK        bool // don't offer or accept RFC 2018 SACK
	NoWindowScale bool // don't offer or accept RFC 7323 window scaling

	DelayedAck time.Duration // longest delay of an ACK (40 ms); negative: ACK every segment
	InitialRTO time.Duration // RFC 6298 2.1 (1 s)
	MinRTO     time.Duration // lower bound of the RTO (200 ms, as Linux)
	MaxRTO     time.Duration // upper bound of the backed-off RTO (120 s)
	SynRetries int           // SYN (and SYN-ACK) retransmissions before giving up (6)
	Retries    int           // data retransmissions before ETIMEDOUT (15)

	TimeWait        time.Duration // 2MSL (60 s, as Linux)
	MaxTimeWait     int           // TIME_WAIT connections kept; the oldest goes first (16384)
	FinWait2Timeout time.Duration // an orphaned FIN_WAIT_2 lasts this long (60 s)

	KeepaliveIdle     time.Duration // idle time before the first probe (2 h)
	KeepaliveInterval time.Duration // between probes (75 s)
	KeepaliveCount    int           // unanswered probes before ETIMEDOUT (9)

	Backlog     int // default accept backlog of a listener (128)
	MaxHalfOpen int // SYN_RECEIVED connections per listener before SYN cookies (256)

	EphemeralLow, EphemeralHigh uint16 // ports for Connect with port 0 (49152-65535)

	ChallengeACKLimit int // RFC 5961 challenge ACKs per second and connection (10)

	// NoChecksum skips verifying received checksums (the device did it).
	NoChecksum bool
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.SendBuffer, 256<<10)
	def(&c.RecvBuffer, 256<<10)
	def(&c.MSS, 1460)
	if c.TTL == 0 {
		c.TTL = 64
	}
	if c.Congestion == "" {
		c.Congestion = DefaultCongestion
	}
	defd(&c.DelayedAck, 40*time.Millisecond)
	defd(&c.InitialRTO, time.Second)
	defd(&c.MinRTO, 200*time.Millisecond)
	defd(&c.MaxRTO, 120*time.Second)
	def(&c.SynRetries, 6)
	def(&c.Retries, 15)
	defd(&c.TimeWait, 60*time.Second)
	def(&c.MaxTimeWait, 16384)
	defd(&c.FinWait2Timeout, 60*time.Second)
	defd(&c.KeepaliveIdle, 2*time.Hour)
	defd(&c.KeepaliveInterval, 75*time.Second)
	def(&c.KeepaliveCount, 9)
	def(&c.Backlog, 128)
	def(&c.MaxHalfOpen, 256)
	if c.EphemeralLow == 0 || c.EphemeralHigh < c.EphemeralLow {
		c.EphemeralLow, c.EphemeralHigh = 49152, 65535
	}
	def(&c.ChallengeACKLimit, 10)
	return c
}

// ConnOptions are per connection (and per listener, for the connections it
// accepts).
type ConnOptions struct {
	MSS        int // largest payload we accept: the path MTU less the IP and TCP headers
	TTL, TOS   uint8
	NoDelay    bool // Nagle off
	SendBuffer int
	RecvBuffer int
}

// MSSForMTU is the MSS to announce for a link MTU: the MTU less 20 bytes of
// TCP header and the IP header (20 for IPv4, 40 for IPv6).
func MSSForMTU(mtu int, ipv6 bool) int {
	if ipv6 {
		return mtu - 60
	}
	return mtu - 40
}
