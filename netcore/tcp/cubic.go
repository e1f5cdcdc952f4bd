package tcp

import (
	"math"
	"time"
)

// cubic is CUBIC (RFC 9438): after a loss the window grows as a cubic
// function of the time since, flat around the window where the loss
// happened (W_max), with a Reno-friendly floor (W_est, 4.3) and fast
// convergence (4.7). Windows are in segments here, as in the RFC.
type cubic struct {
	wMax       float64 // window before the last reduction
	k          float64 // seconds to reach wMax again
	epochStart int64   // start of the current congestion avoidance, table time; 0: none
	cwndEpoch  float64 // cwnd at the epoch's start
	wEst       float64
}

const (
	cubicBeta = 0.7
	cubicC    = 0.4
	// alpha of RFC 9438 4.3: 3 (1-beta) / (1+beta).
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

func (q *cubic) name() string { return "cubic" }

func (q *cubic) onAck(c *Conn, acked int, tk int64) {
	if c.cwnd < c.ssthresh {
		c.cwnd += min(acked, 2*c.mss) // slow start, as Reno
		return
	}
	mss := float64(c.mss)
	cwnd := float64(c.cwnd) / mss
	if q.epochStart == 0 {
		q.epochStart = max(tk, 1)
		q.cwndEpoch = cwnd
		q.wEst = cwnd
		if q.wMax < cwnd {
			q.wMax, q.k = cwnd, 0
		} else {
			q.k = math.Cbrt((q.wMax - cwnd) / cubicC)
		}
	}
	rtt := c.srtt
	if rtt == 0 {
		rtt = time.Millisecond
	}
	t := float64(tk-q.epochStart+int64(rtt)) / float64(time.Second)
	d := t - q.k
	target := cubicC*d*d*d + q.wMax
	target = math.Max(cwnd, math.Min(target, 1.5*cwnd)) // RFC 9438 4.2's bounds
	segs := float64(acked) / mss
	q.wEst += cubicAlpha * segs / cwnd
	var next float64
	if q.wEst > target {
		next = cwnd + (q.wEst-cwnd)*segs/cwnd // Reno-friendly region
		next = math.Min(next, q.wEst)
	} else {
		next = cwnd + (target-cwnd)*segs/cwnd
	}
	c.cwnd = max(c.cwnd, int(next*mss))
}

func (q *cubic) onCongestion(c *Conn, tk int64) {
	cwnd := float64(c.cwnd) / float64(c.mss)
	if cwnd < q.wMax {
		q.wMax = cwnd * (1 + cubicBeta) / 2 // fast convergence
	} else {
		q.wMax = cwnd
	}
	q.epochStart = 0
	flight := int(c.sndMax - c.sndUna)
	c.ssthresh = max(int(float64(max(c.cwnd, min(flight, c.cwnd)))*cubicBeta), 2*c.mss)
}

func (q *cubic) onRTO(c *Conn, tk int64) { q.onCongestion(c, tk) }
