package netcore

import (
	"time"

	"github.com/smolfs/smolfs/netcore/impair"
)

// The `impair` command: the host's link made flaky, one netcore/impair
// Stage per direction, between the device and the host's protocols.
//
// Received frames go through the rx stage before Receive processes them;
// the frames the host sends go through the tx stage after transmit has
// counted and captured them. So the host's capture (the frames files) shows
// the host's end of the flaky link: what arrived past the impairment, and
// what the host sent before the impairment, while a tcpdump on the tap
// shows the peer's end. With both directions off, each path pays one test
// of Stage.Active.
//
// Frames held for a delay wait in the stage's own buffers; the stage's
// next due time is a timer of the host's heap (timerImpairRx,
// timerImpairTx), so Poll delivers or sends them when they are due, and
// Deadline includes them. A frame released by the rx stage is processed
// then, as if it had just arrived; one released by the tx stage goes into
// that call's Output.
//
// Frames already in the tx stage when the host goes down still leave when
// they are due, as frames already on a wire do: the host sent them (they
// are captured and counted in tx_frames) before it went down.

// initImpair seeds the stages from cfg.Seed (the tx stage from a value
// derived from it, so that the directions draw independently) and gives
// them cfg's settings.
func (h *Host) initImpair() {
	h.rxTimer, h.txTimer = noTimer, noTimer
	h.rx.Init(h.cfg.Seed, impair.Limits{})
	h.tx.Init(splitmix64(h.cfg.Seed), impair.Limits{})
	h.rx.Set(time.Time{}, h.cfg.ImpairRx)
	h.tx.Set(time.Time{}, h.cfg.ImpairTx)
}

// splitmix64 is one step of Vigna's splitmix64 generator: a different,
// well-mixed seed from a seed.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// reconcileImpair gives the stages the settings a command changed. A
// direction turned off releases its waiting frames at once, which the Poll
// that ends Exec delivers or sends.
func (h *Host) reconcileImpair(now time.Time, before *Config) {
	if h.cfg.ImpairRx != before.ImpairRx {
		h.rx.Set(now, h.cfg.ImpairRx)
		h.armImpair(timerImpairRx, &h.rx)
	}
	if h.cfg.ImpairTx != before.ImpairTx {
		h.tx.Set(now, h.cfg.ImpairTx)
		h.armImpair(timerImpairTx, &h.tx)
	}
}

// receiveImpaired takes a received frame through the rx stage and processes
// what comes out now. Every copy the stage loses is counted as received,
// with its fate, so that the fates still add up to rx_frames.
func (h *Host) receiveImpaired(now time.Time, frame []byte, out *Output) {
	before := h.rx.Counters()
	h.rx.Push(now, frame)
	after := h.rx.Counters()
	h.countImpair(ImpairRxDropped, &before, &after)
	lost := after.Dropped - before.Dropped + after.QueueOverflow - before.QueueOverflow
	h.stats[RxFrames] += lost
	h.stats[RxBytes] += lost * uint64(len(frame))
	h.deliverImpaired(now, out)
}

// deliverImpaired processes the frames the rx stage has for now: those
// whose delay is over, then what the last Push made ready. The stage keeps
// a frame it hands out unchanged until the next Pop, and deliver keeps no
// reference to it.
func (h *Host) deliverImpaired(now time.Time, out *Output) {
	for f, _ := h.rx.Pop(now); f != nil; f, _ = h.rx.Pop(now) {
		h.deliver(now, f, out)
	}
	h.armImpair(timerImpairRx, &h.rx)
}

// transmitImpaired takes a frame the host sends (counted, padded and
// captured) through the tx stage, and sends what comes out now.
func (h *Host) transmitImpaired(now time.Time, out *Output, frame []byte) {
	before := h.tx.Counters()
	h.tx.Push(now, frame)
	after := h.tx.Counters()
	h.countImpair(ImpairTxDropped, &before, &after)
	h.sendImpaired(now, out)
}

// sendImpaired puts the frames the tx stage has for now into out. A frame
// that is not the one pushed lives in the stage's buffer only until the
// next Pop, so it is copied into one of out's.
func (h *Host) sendImpaired(now time.Time, out *Output) {
	for {
		f, pushed := h.tx.Pop(now)
		if f == nil {
			break
		}
		if !pushed {
			f = append(out.buffer(), f...)
		}
		out.Frames = append(out.Frames, f)
	}
	h.armImpair(timerImpairTx, &h.tx)
}

// armImpair sets the stage's timer to its next due time, or stops it when
// nothing waits.
func (h *Host) armImpair(kind timerKind, s *impair.Stage) {
	if at := s.Deadline(); !at.IsZero() {
		h.timers.set(kind, 0, at)
	} else {
		h.timers.stop(kind, 0)
	}
}

// countImpair adds what a stage did in one call to the six counters of its
// direction, which start at first and follow impair.Counters' order.
func (h *Host) countImpair(first Counter, before, after *impair.Counters) {
	for i, n := range [...]uint64{
		after.Dropped - before.Dropped,
		after.Duplicated - before.Duplicated,
		after.Reordered - before.Reordered,
		after.Corrupted - before.Corrupted,
		after.Delayed - before.Delayed,
		after.QueueOverflow - before.QueueOverflow,
	} {
		h.stats[first+Counter(i)] += n
	}
}
