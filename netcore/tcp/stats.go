package tcp

// Stats are the table's counters: RFC 4022's (tcpActiveOpens ...) under
// their MIB names, and more of our own.
type Stats struct {
	ActiveOpens  uint64 // SYN_SENT entered
	PassiveOpens uint64 // SYN_RECEIVED entered from LISTEN (or a cookie accepted)
	AttemptFails uint64 // SYN_SENT or SYN_RECEIVED to CLOSED
	EstabResets  uint64 // ESTABLISHED or CLOSE_WAIT to CLOSED directly
	CurrEstab    uint64 // in ESTABLISHED or CLOSE_WAIT now
	InSegs       uint64 // received, errors included
	OutSegs      uint64 // sent, retransmissions excluded (RFC 4022)
	RetransSegs  uint64
	InErrs       uint64 // malformed or bad checksum
	OutRsts      uint64
	InCsumErrors uint64

	RetransTimeouts      uint64
	FastRecoveries       uint64
	SynCookiesSent       uint64
	SynCookiesRecv       uint64
	SynCookiesFailed     uint64
	ListenOverflows      uint64 // handshake done but the accept queue was full
	ListenDrops          uint64 // SYN dropped: the accept queue was full
	TimeWaitOverflows    uint64 // TIME_WAIT connections freed early to stay in bounds
	ChallengeACKs        uint64 // RFC 5961
	ChallengeACKsLimited uint64
	PAWSDrops            uint64 // RFC 7323 5.3
}

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.stats }

// Each calls fn with every counter's name (RFC 4022's where it has one) and
// value, in a fixed order: the lines of a stats file.
func (s *Stats) Each(fn func(name string, v uint64)) {
	fn("ActiveOpens", s.ActiveOpens)
	fn("PassiveOpens", s.PassiveOpens)
	fn("AttemptFails", s.AttemptFails)
	fn("EstabResets", s.EstabResets)
	fn("CurrEstab", s.CurrEstab)
	fn("InSegs", s.InSegs)
	fn("OutSegs", s.OutSegs)
	fn("RetransSegs", s.RetransSegs)
	fn("InErrs", s.InErrs)
	fn("OutRsts", s.OutRsts)
	fn("InCsumErrors", s.InCsumErrors)
	fn("RetransTimeouts", s.RetransTimeouts)
	fn("FastRecoveries", s.FastRecoveries)
	fn("SynCookiesSent", s.SynCookiesSent)
	fn("SynCookiesRecv", s.SynCookiesRecv)
	fn("SynCookiesFailed", s.SynCookiesFailed)
	fn("ListenOverflows", s.ListenOverflows)
	fn("ListenDrops", s.ListenDrops)
	fn("TimeWaitOverflows", s.TimeWaitOverflows)
	fn("ChallengeACKs", s.ChallengeACKs)
	fn("ChallengeACKsLimited", s.ChallengeACKsLimited)
	fn("PAWSDrops", s.PAWSDrops)
}
