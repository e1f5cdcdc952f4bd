package tcp

// congestion is a congestion control algorithm: it owns how cwnd grows and
// what ssthresh becomes on loss; loss detection and recovery (snd.go) are
// shared.
type congestion interface {
	name() string
	// onAck grows cwnd for acked new bytes, outside recovery.
	onAck(c *Conn, acked int, tk int64)
	// onCongestion sets ssthresh when fast recovery starts.
	onCongestion(c *Conn, tk int64)
	// onRTO sets ssthresh on a retransmission timeout (cwnd becomes 1 MSS).
	onRTO(c *Conn, tk int64)
}

// DefaultCongestion is the algorithm a Config without one gets. NewReno:
// against Linux over a tap (RTT ~0.1 ms) with 1% and 5% of our segments
// dropped it moved 50 MB as fast as CUBIC or faster (CUBIC's growth is timed
// in seconds, which buys nothing at sub-millisecond RTTs) and timed out
// less; netbench decides for good.
const DefaultCongestion = "reno"

// Congestions are the algorithms Config.Congestion accepts.
var Congestions = []string{"reno", "cubic"}

func (c *Conn) setCongestion(name string) {
	if name == "cubic" {
		c.cc = &c.cubicCC
	} else {
		c.cc = &c.renoCC
	}
}

// reno is NewReno's window growth (RFC 5681 3.1): slow start with
// appropriate byte counting (RFC 3465, L = 2 MSS), then one MSS per window
// of acknowledged bytes.
type reno struct {
	acc int // bytes acknowledged towards the next MSS of congestion avoidance
}

func (r *reno) name() string { return "reno" }

func (r *reno) onAck(c *Conn, acked int, tk int64) {
	if c.cwnd < c.ssthresh {
		c.cwnd += min(acked, 2*c.mss)
		return
	}
	r.acc += acked
	if r.acc >= c.cwnd {
		r.acc -= c.cwnd
		c.cwnd += c.mss
	}
}

// RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS).
func (r *reno) onCongestion(c *Conn, tk int64) {
	c.ssthresh = max(int(c.sndMax-c.sndUna)/2, 2*c.mss)
	r.acc = 0
}

func (r *reno) onRTO(c *Conn, tk int64) { r.onCongestion(c, tk) }
