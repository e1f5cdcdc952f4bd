package netcore

import "time"

// tokenBucket limits a rate of events with bursts, as Linux limits the ICMP
// errors a host sends (net.ipv4.icmp_msgs_per_sec 1000, icmp_msgs_burst 50):
// a token per event, rate tokens a second flowing in, at most burst held.
// It counts time in nanoseconds of credit, an event costing 1s/rate, so
// that no rounding loses tokens at high rates.
type tokenBucket struct {
	cost, capacity time.Duration // per event; credit held at most
	credit         time.Duration
	last           time.Time
}

func newTokenBucket(rate, burst int) tokenBucket {
	cost := time.Second / time.Duration(rate)
	return tokenBucket{cost: cost, capacity: cost * time.Duration(burst), credit: cost * time.Duration(burst)}
}

// allow takes a token at now if there is one. A clock that steps back adds
// no credit.
func (b *tokenBucket) allow(now time.Time) bool {
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			b.credit = min(b.credit+d, b.capacity)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.credit < b.cost {
		return false
	}
	b.credit -= b.cost
	return true
}
