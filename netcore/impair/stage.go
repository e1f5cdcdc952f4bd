// Package impair makes a host's link flaky, as Linux's netem does on a
// qdisc, for kernels and containers that have no netem: it loses,
// duplicates, corrupts, delays and reorders frames in one direction.
//
// It sits between the device and the host's protocols (netcore): received
// frames go through the host's rx Stage before the host processes them, and
// the frames the host sends go through its tx Stage on their way to the
// device. Like the host, a Stage does no I/O and reads no clock: it is given
// the time, keeps the frames it delays in buffers of its own (a bounded
// pool, reused), and hands them back when Pop is called at or after their
// time; Deadline says when that is. Its randomness comes from a seed, so a
// test replays exactly.
//
// Where it follows netem and where not (netem's source, net/sched/sch_netem.c,
// is the reference):
//   - The draws per frame are netem's: duplicate, then loss; a frame drawn
//     for both goes once and neither is counted. The duplicate is a copy of
//     the frame before corruption and goes through loss, corruption, reorder
//     and delay on its own, but is never duplicated again.
//   - Corrupt flips one random bit of one random byte, anywhere in the frame
//     (the Ethernet header included, as netem sees the frame at the qdisc).
//   - Delay with jitter is uniform in [delay-jitter, delay+jitter] (netem's
//     default when no distribution table is given); a negative sum is no
//     delay. Frames leave in order of their due time, so jitter reorders, as
//     it does in netem's time-sorted queue.
//   - Reorder is netem's with gap 1 (tc's default): each frame is, with the
//     given probability, sent at once while the others wait out the delay.
//     It needs a delay, as tc says.
//   - Bounded: at most Limits.Frames frames and Limits.Bytes bytes wait; a
//     frame that would exceed either is dropped and counted (netem bounds
//     frames only, by its `limit`, default 1000).
//   - Not done: correlation, loss models (Gilbert-Elliott), rate, slots,
//     ECN marking, distribution tables.
//   - Set replaces the settings; frames already waiting keep their due time
//     (netem's `tc qdisc change`), except when the new settings are off:
//     then every waiting frame is released at once, in order, so that `impair
//     off` loses nothing that the settings had not already lost.
package impair

import (
	"math/bits"
	"math/rand/v2"
	"time"
)

// Limits bound what a Stage holds. Zero fields mean the defaults.
type Limits struct {
	Frames int // frames waiting at once (DefaultFrames)
	Bytes  int // their bytes (DefaultBytes)
}

// Defaults: netem's default limit of frames; bytes for 1000 full Ethernet
// frames with room to spare, and a bound when GSO frames are larger.
const (
	DefaultFrames = 1000
	DefaultBytes  = 4 << 20
)

// Counters are what a Stage did, since it was made.
type Counters struct {
	Dropped       uint64 // lost on purpose (loss)
	Duplicated    uint64 // extra copies sent (duplicate)
	Reordered     uint64 // sent at once past the frames waiting (reorder)
	Corrupted     uint64 // a bit flipped (corrupt)
	Delayed       uint64 // held for a delay
	QueueOverflow uint64 // dropped because Limits were reached
}

// Stage impairs the frames of one direction. The zero value passes every
// frame unchanged; Init seeds it. It is not safe for concurrent use.
//
// The caller gives each frame to Push and then calls Pop until it returns
// nil, and calls Pop again by Deadline:
//
//	s.Push(now, frame)
//	for f, _ := s.Pop(now); f != nil; f, _ = s.Pop(now) { deliver(f) }
//
// When Active is false, nothing is waiting and frames would pass unchanged:
// a caller skips the Stage with that one test.
type Stage struct {
	active   bool // settings on, or frames waiting or ready
	settings Settings
	// The probabilities as thresholds for a 32-bit draw, compared as
	// uint64 so that 100% (2^32) fits.
	loss, duplicate, reorder, corrupt uint64
	limits                            Limits
	rng                               rand.PCG

	queue     queue
	heldBytes int
	seq       uint64
	flush     bool      // settings went off: everything waiting is due
	flushAt   time.Time // when they did, for Deadline

	// Frames to hand out at once, in order, before the next Push: at most
	// the frame and its duplicate.
	ready  [2]readyFrame
	nReady int
	next   int
	lent   []byte // the pool buffer Pop returned last, taken back on the next call

	pool     pool
	counters Counters
}

type readyFrame struct {
	buf    []byte
	pushed bool // buf is the caller's frame itself, not a pool buffer
}

// Init seeds the Stage's randomness and sets its bounds. Two Stages with the
// same seed, given the same calls, do the same things.
func (s *Stage) Init(seed uint64, lim Limits) {
	if lim.Frames <= 0 {
		lim.Frames = DefaultFrames
	}
	if lim.Bytes <= 0 {
		lim.Bytes = DefaultBytes
	}
	s.limits = lim
	s.pool.keep = lim.Bytes
	// Two words from one seed; the constant is the golden ratio's, as in
	// splitmix64, so that seeds 0 and 1 give unrelated streams.
	s.rng.Seed(seed, seed^0x9e3779b97f4a7c15)
}

// Active reports whether the Stage does anything: settings that are on, or
// frames still to hand out. When it is false, Push would hand the frame
// straight back.
func (s *Stage) Active() bool { return s.active }

// Settings are the Stage's current settings.
func (s *Stage) Settings() Settings { return s.settings }

// Counters are what the Stage did so far.
func (s *Stage) Counters() Counters { return s.counters }

// Waiting is the number of frames and bytes held for a delay.
func (s *Stage) Waiting() (frames, bytes int) { return len(s.queue), s.heldBytes }

// Set replaces the settings at now. Frames already waiting keep their due
// time, unless set is off: then they are all due now (Deadline says so).
// set must be valid (Settings.Validate).
func (s *Stage) Set(now time.Time, set Settings) {
	if s.limits.Frames == 0 {
		s.Init(0, Limits{})
	}
	s.settings = set
	s.loss, s.duplicate = threshold(set.Loss), threshold(set.Duplicate)
	s.reorder, s.corrupt = threshold(set.Reorder), threshold(set.Corrupt)
	if set.Off() && len(s.queue) > 0 {
		s.flush, s.flushAt = true, now
	}
	s.update()
}

func threshold(p Prob) uint64 { return uint64(p) << 32 / uint64(Certain) }

// chance draws an event of probability thr/2^32.
func (s *Stage) chance(thr uint64) bool {
	return thr != 0 && s.rng.Uint64()>>32 < thr
}

func (s *Stage) update() {
	s.active = !s.settings.Off() || len(s.queue) > 0 || s.next < s.nReady
}

// Push gives the Stage a frame at now. What comes of it (the frame, a
// corrupted copy, a duplicate, or nothing yet) is handed out by Pop. frame
// must stay unchanged until Pop has returned nil, as Pop may hand out frame
// itself; the Stage keeps no reference to it after that.
func (s *Stage) Push(now time.Time, frame []byte) {
	if s.next < s.nReady {
		// The caller did not drain Pop, and the frames may be gone: count
		// them as lost for want of room.
		for _, r := range s.ready[s.next:s.nReady] {
			s.counters.QueueOverflow++
			if !r.pushed {
				s.pool.put(r.buf)
			}
		}
	}
	s.next, s.nReady = 0, 0
	s.giveBack()
	if s.settings.Off() {
		s.ready[0] = readyFrame{buf: frame, pushed: true}
		s.nReady = 1
		s.update()
		return
	}
	duplicate := s.chance(s.duplicate)
	lost := s.chance(s.loss)
	switch {
	case lost && !duplicate:
		s.counters.Dropped++
	case duplicate && !lost:
		s.counters.Duplicated++
		s.one(now, frame)
		if s.chance(s.loss) {
			s.counters.Dropped++
		} else {
			s.one(now, frame)
		}
	default:
		s.one(now, frame)
	}
	s.update()
}

// one applies corruption, then reorder or delay, to one copy of a frame.
func (s *Stage) one(now time.Time, frame []byte) {
	buf, pushed := frame, true
	if len(frame) > 0 && s.chance(s.corrupt) {
		s.counters.Corrupted++
		buf, pushed = s.pool.get(frame), false
		r := s.rng.Uint64()
		hi, _ := bits.Mul64(r, uint64(len(buf)))
		buf[hi] ^= 1 << (r & 7)
	}
	delay := s.delay()
	if delay <= 0 {
		s.ready[s.nReady] = readyFrame{buf: buf, pushed: pushed}
		s.nReady++
		return
	}
	if len(s.queue) >= s.limits.Frames || s.heldBytes+len(buf) > s.limits.Bytes {
		s.counters.QueueOverflow++
		if !pushed {
			s.pool.put(buf)
		}
		return
	}
	if pushed {
		buf = s.pool.get(buf)
	}
	s.counters.Delayed++
	s.heldBytes += len(buf)
	s.seq++
	s.queue.push(held{at: now.Add(delay), seq: s.seq, buf: buf})
}

// delay draws how long a frame waits: none for a frame reordered, else the
// delay plus a uniform jitter.
func (s *Stage) delay() time.Duration {
	set := &s.settings
	if set.Delay == 0 && set.Jitter == 0 {
		return 0
	}
	if s.chance(s.reorder) {
		s.counters.Reordered++
		return 0
	}
	d := set.Delay
	if set.Jitter > 0 {
		span := 2*uint64(set.Jitter) + 1
		hi, _ := bits.Mul64(s.rng.Uint64(), span)
		d += time.Duration(hi) - set.Jitter
	}
	return d
}

// Pop hands out the next frame to deliver at now, or nil when there is none
// (until the next Push or Deadline). Frames whose delay is over come first,
// in order of due time, then what the last Push made ready. pushed reports
// that frame is the very slice given to Push, unchanged; otherwise frame is
// the Stage's buffer, valid until the next call to Pop or Push, which a
// caller that keeps it must copy.
func (s *Stage) Pop(now time.Time) (frame []byte, pushed bool) {
	s.giveBack()
	if len(s.queue) > 0 && (s.flush || !s.queue[0].at.After(now)) {
		h := s.queue.pop()
		s.heldBytes -= len(h.buf)
		if len(s.queue) == 0 {
			s.flush = false
		}
		s.lent = h.buf
		s.update()
		return h.buf, false
	}
	if s.next < s.nReady {
		r := s.ready[s.next]
		s.ready[s.next] = readyFrame{}
		s.next++
		if !r.pushed {
			s.lent = r.buf
		}
		s.update()
		return r.buf, r.pushed
	}
	return nil, false
}

// giveBack returns the buffer Pop lent last to the pool.
func (s *Stage) giveBack() {
	if s.lent != nil {
		s.pool.put(s.lent)
		s.lent = nil
	}
}

// Deadline is when Pop next has a frame to hand out without a Push: the due
// time of the first frame waiting (in the past once it is due), or zero when
// none waits.
func (s *Stage) Deadline() time.Time {
	switch {
	case len(s.queue) == 0:
		return time.Time{}
	case s.flush:
		return s.flushAt
	}
	return s.queue[0].at
}
