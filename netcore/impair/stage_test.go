package impair

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

const ms = time.Millisecond

func pct(p float64) Prob { return Prob(p * 10_000) }

// frame is a 60-byte frame whose first 8 bytes carry n, so that the tests
// can tell which frame came out.
func frame(n uint64) []byte {
	f := make([]byte, 60)
	binary.BigEndian.PutUint64(f, n)
	for i := 8; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

func number(f []byte) uint64 { return binary.BigEndian.Uint64(f) }

// out is a frame handed out by Pop, copied, and when.
type out struct {
	at     time.Time
	frame  []byte
	pushed bool
}

// drainUntil pops every frame due until end, each at its deadline.
func drainUntil(s *Stage, end time.Time) []out {
	var got []out
	for d := s.Deadline(); !d.IsZero() && !d.After(end); d = s.Deadline() {
		got = append(got, drain(s, d)...)
	}
	return got
}

// drain pops every frame due at now.
func drain(s *Stage, now time.Time) []out {
	var got []out
	for {
		f, pushed := s.Pop(now)
		if f == nil {
			return got
		}
		got = append(got, out{now, bytes.Clone(f), pushed})
	}
}

func newStage(t testing.TB, seed uint64, set Settings) *Stage {
	t.Helper()
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	s := new(Stage)
	s.Init(seed, Limits{})
	s.Set(t0, set)
	return s
}

// within checks that k events out of n trials of probability p are within
// six standard deviations of the mean: for a correct stage a failure has
// odds of about one in 10^9, and the seed is fixed anyway; a wrong rate
// (a probability off by a tenth, say) lies far outside for these n.
func within(t *testing.T, what string, k, n uint64, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(k)-mean) > 6*sd {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (p=%g)", what, k, n, mean, 6*sd, p)
	}
}

func TestOffPassesFramesUnchanged(t *testing.T) {
	var s Stage // the zero value is off
	if s.Active() {
		t.Fatal("zero Stage is active")
	}
	f := frame(7)
	s.Push(t0, f)
	got, pushed := s.Pop(t0)
	if !pushed || &got[0] != &f[0] || len(got) != len(f) {
		t.Fatalf("Pop = %p (pushed %v), want the pushed frame %p", got, pushed, f)
	}
	if g, _ := s.Pop(t0); g != nil {
		t.Fatal("a second frame came out")
	}
	if s.Active() || !s.Deadline().IsZero() || s.Counters() != (Counters{}) {
		t.Fatalf("after one frame: active %v deadline %v counters %+v", s.Active(), s.Deadline(), s.Counters())
	}
}

func TestRates(t *testing.T) {
	const n = 100_000
	for _, tc := range []struct {
		name string
		set  Settings
		// the expected probability of each counter, per frame pushed
		dropped, duplicated, corrupted, reordered float64
	}{
		{name: "loss 10%", set: Settings{Loss: pct(10)}, dropped: 0.1},
		{name: "loss 50%", set: Settings{Loss: pct(50)}, dropped: 0.5},
		{name: "loss 0.1%", set: Settings{Loss: pct(0.1)}, dropped: 0.001},
		{name: "duplicate 5%", set: Settings{Duplicate: pct(5)}, duplicated: 0.05},
		{name: "corrupt 1%", set: Settings{Corrupt: pct(1)}, corrupted: 0.01},
		{name: "reorder 25%", set: Settings{Reorder: pct(25), Delay: 10 * ms}, reordered: 0.25},
		// netem's order: duplicate is drawn, then loss; the duplicate that
		// is made draws loss again. Dropped: lost and not duplicated, or
		// duplicated and not lost and its copy lost.
		{name: "loss 30% duplicate 20%", set: Settings{Loss: pct(30), Duplicate: pct(20)},
			dropped: 0.3*0.8 + 0.2*0.7*0.3, duplicated: 0.2 * 0.7},
		// Both copies of a duplicated frame draw their own corruption.
		{name: "duplicate 50% corrupt 10%", set: Settings{Duplicate: pct(50), Corrupt: pct(10)},
			duplicated: 0.5, corrupted: 0.1 * 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, 1, tc.set)
			f := frame(0)
			var emitted uint64
			now := t0
			for range n {
				s.Push(now, f)
				emitted += uint64(len(drain(s, now)))
				now = now.Add(100 * time.Microsecond)
			}
			now = now.Add(time.Minute)
			emitted += uint64(len(drain(s, now)))
			c := s.Counters()
			// The counters must be distributed as the settings say (for
			// the ones at zero: exactly zero) ...
			for _, r := range []struct {
				name string
				k    uint64
				p    float64
			}{{"dropped", c.Dropped, tc.dropped}, {"duplicated", c.Duplicated, tc.duplicated},
				{"reordered", c.Reordered, tc.reordered}} {
				if r.p == 0 && r.k != 0 {
					t.Errorf("%s: %d, want 0", r.name, r.k)
				} else if r.p != 0 {
					within(t, r.name, r.k, n, r.p)
				}
			}
			if tc.corrupted == 0 && c.Corrupted != 0 {
				t.Errorf("corrupted: %d, want 0", c.Corrupted)
			} else if tc.corrupted != 0 {
				// per copy, not per frame pushed
				within(t, "corrupted", c.Corrupted, n+c.Duplicated, tc.corrupted/(1+tc.duplicated))
			}
			// ... and agree with what came out.
			if want := n + c.Duplicated - c.Dropped - c.QueueOverflow; emitted != want {
				t.Errorf("%d frames came out, want %d (counters %+v)", emitted, want, c)
			}
			if c.QueueOverflow != 0 {
				t.Errorf("queue overflow %d", c.QueueOverflow)
			}
		})
	}
}

func TestCorruptFlipsOneBit(t *testing.T) {
	s := newStage(t, 2, Settings{Corrupt: Certain, Duplicate: Certain})
	var positions [60 * 8]int
	for i := range 5000 {
		f := frame(uint64(i))
		orig := bytes.Clone(f)
		s.Push(t0, f)
		got := drain(s, t0)
		if !bytes.Equal(f, orig) {
			t.Fatal("the pushed frame was changed")
		}
		if len(got) != 2 {
			t.Fatalf("%d frames out, want the frame and its duplicate", len(got))
		}
		// Each copy has one bit flipped of its own: the duplicate is taken
		// before the first corruption.
		for _, g := range got {
			if g.pushed {
				t.Fatal("a corrupted frame is handed out as the pushed one")
			}
			flipped := 0
			for j := range orig {
				if d := orig[j] ^ g.frame[j]; d != 0 {
					flipped += bits.OnesCount8(d)
					positions[j*8+bits.TrailingZeros8(d)]++
				}
			}
			if flipped != 1 {
				t.Fatalf("%d bits flipped, want 1", flipped)
			}
		}
	}
	// 10,000 flips over 480 bits: about 21 each; every bit is reached.
	for i, n := range positions {
		if n == 0 {
			t.Errorf("bit %d of byte %d never flipped", i%8, i/8)
		}
	}
	if c := s.Counters(); c.Corrupted != 10000 || c.Duplicated != 5000 {
		t.Errorf("counters %+v", c)
	}
}

func TestDelay(t *testing.T) {
	s := newStage(t, 3, Settings{Delay: 20 * ms})
	for i := range 5 {
		now := t0.Add(time.Duration(i) * ms)
		s.Push(now, frame(uint64(i)))
		if got := drain(s, now); len(got) != 0 {
			t.Fatalf("frame %d came out at once", i)
		}
		if !s.Active() {
			t.Fatal("not active while frames wait")
		}
	}
	if n, b := s.Waiting(); n != 5 || b != 300 {
		t.Fatalf("waiting %d frames %d bytes, want 5, 300", n, b)
	}
	for i := range 5 {
		due := t0.Add(time.Duration(i)*ms + 20*ms)
		if d := s.Deadline(); !d.Equal(due) {
			t.Fatalf("deadline %v, want %v", d.Sub(t0), due.Sub(t0))
		}
		if got := drain(s, due.Add(-1)); len(got) != 0 {
			t.Fatalf("frame %d came out early", i)
		}
		got := drain(s, due)
		if len(got) != 1 || number(got[0].frame) != uint64(i) || got[0].pushed {
			t.Fatalf("at %v: %d frames, want frame %d", due.Sub(t0), len(got), i)
		}
	}
	if !s.Deadline().IsZero() {
		t.Fatal("deadline after the last frame")
	}
	if c := s.Counters(); c.Delayed != 5 {
		t.Errorf("delayed %d, want 5", c.Delayed)
	}
}

// A late Pop hands out everything due, in order of due time, before the
// frame just pushed.
func TestDueFramesGoBeforeTheFramePushed(t *testing.T) {
	s := newStage(t, 4, Settings{Delay: 10 * ms})
	s.Push(t0, frame(1))
	s.Push(t0.Add(ms), frame(2))
	s.Set(t0.Add(2*ms), Settings{Loss: 1}) // frames waiting keep their time
	now := t0.Add(time.Second)
	s.Push(now, frame(3))
	var order []uint64
	for _, g := range drain(s, now) {
		order = append(order, number(g.frame))
	}
	if !slices.Equal(order, []uint64{1, 2, 3}) {
		t.Fatalf("order %v, want [1 2 3]", order)
	}
}

func TestJitter(t *testing.T) {
	const n = 20_000
	delay, jitter := 20*ms, 5*ms
	s := newStage(t, 5, Settings{Delay: delay, Jitter: jitter})
	sent := make(map[uint64]time.Time)
	var got []out
	now := t0
	var inversions int
	for i := range n {
		s.Push(now, frame(uint64(i)))
		sent[uint64(i)] = now
		got = append(got, drain(s, now)...)
		now = now.Add(100 * time.Microsecond)
		// Pop exactly at each deadline, as a driver would.
		got = append(got, drainUntil(s, now)...)
	}
	got = append(got, drainUntil(s, now.Add(time.Minute))...)
	if len(got) != n {
		t.Fatalf("%d frames out, want %d", len(got), n)
	}
	var sum time.Duration
	var lo, hi int
	for i, g := range got {
		d := g.at.Sub(sent[number(g.frame)])
		if d < delay-jitter || d > delay+jitter {
			t.Fatalf("frame %d delayed %v, want %v±%v", number(g.frame), d, delay, jitter)
		}
		if d < delay-jitter*9/10 {
			lo++
		}
		if d > delay+jitter*9/10 {
			hi++
		}
		sum += d
		if i > 0 && number(g.frame) < number(got[i-1].frame) {
			inversions++
		}
		if i > 0 && g.at.Before(got[i-1].at) {
			t.Fatal("frames out of time order")
		}
	}
	// Uniform: the mean is the delay, and each tenth at the ends holds a
	// twentieth of the frames.
	if mean := sum / n; mean < delay-100*time.Microsecond || mean > delay+100*time.Microsecond {
		t.Errorf("mean delay %v, want %v", mean, delay)
	}
	within(t, "delays in the lowest tenth", uint64(lo), n, 0.05)
	within(t, "delays in the highest tenth", uint64(hi), n, 0.05)
	// Frames 100 µs apart with ±5 ms of jitter overtake each other.
	if inversions < n/4 {
		t.Errorf("%d frames overtaken, want jitter to reorder many", inversions)
	}
}

func TestReorder(t *testing.T) {
	s := newStage(t, 6, Settings{Reorder: pct(25), Delay: 10 * ms})
	const n = 1000
	var atOnce, later []uint64
	now := t0
	for i := range n {
		s.Push(now, frame(uint64(i)))
		for _, g := range drain(s, now) {
			if g.pushed {
				atOnce = append(atOnce, number(g.frame))
			} else {
				if sent := t0.Add(time.Duration(number(g.frame)) * ms); g.at.Sub(sent) < 10*ms {
					t.Fatalf("frame %d came out after %v", number(g.frame), g.at.Sub(sent))
				}
				later = append(later, number(g.frame))
			}
		}
		now = now.Add(ms)
	}
	later = append(later, func() []uint64 {
		var l []uint64
		for _, g := range drain(s, now.Add(time.Minute)) {
			l = append(l, number(g.frame))
		}
		return l
	}()...)
	c := s.Counters()
	if uint64(len(atOnce)) != c.Reordered || uint64(len(later)) != c.Delayed || c.Reordered+c.Delayed != n {
		t.Fatalf("%d at once, %d later; counters %+v", len(atOnce), len(later), c)
	}
	within(t, "reordered", c.Reordered, n, 0.25)
	// Those that waited keep their order among themselves.
	if !slices.IsSorted(later) || !slices.IsSorted(atOnce) {
		t.Error("frames out of order within their class")
	}
}

// The reordered frame overtakes the ones waiting, as in netem's example:
// with delay 10 ms, frames 1 ms apart, a reordered frame is on the wire 9
// frames ahead of its place.
func TestReorderOvertakes(t *testing.T) {
	s := newStage(t, 7, Settings{Reorder: pct(50), Delay: 10 * ms})
	var order []uint64
	now := t0
	for i := range 40 {
		for d := s.Deadline(); !d.IsZero() && !d.After(now); d = s.Deadline() {
			for _, g := range drain(s, d) {
				order = append(order, number(g.frame))
			}
		}
		s.Push(now, frame(uint64(i)))
		for _, g := range drain(s, now) {
			order = append(order, number(g.frame))
		}
		now = now.Add(ms)
	}
	for _, g := range drain(s, now.Add(time.Minute)) {
		order = append(order, number(g.frame))
	}
	if len(order) != 40 || slices.IsSorted(order) {
		t.Fatalf("order %v: want all 40, reordered", order)
	}
	sorted := slices.Sorted(slices.Values(order))
	for i := range sorted {
		if sorted[i] != uint64(i) {
			t.Fatalf("frames lost or repeated: %v", order)
		}
	}
}

func TestQueueBounds(t *testing.T) {
	t.Run("frames", func(t *testing.T) {
		s := new(Stage)
		s.Init(8, Limits{Frames: 100})
		s.Set(t0, Settings{Delay: ms})
		for i := range 150 {
			s.Push(t0, frame(uint64(i)))
			drain(s, t0)
		}
		if n, _ := s.Waiting(); n != 100 {
			t.Fatalf("%d waiting, want 100", n)
		}
		c := s.Counters()
		if c.Delayed != 100 || c.QueueOverflow != 50 {
			t.Fatalf("counters %+v", c)
		}
		// The first 100 wait (tail drop, as netem).
		got := drain(s, t0.Add(ms))
		if len(got) != 100 || number(got[0].frame) != 0 || number(got[99].frame) != 99 {
			t.Fatalf("%d out", len(got))
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s := new(Stage)
		s.Init(9, Limits{Bytes: 10_000})
		s.Set(t0, Settings{Delay: ms})
		big := make([]byte, 1500)
		for range 10 {
			s.Push(t0, big)
			drain(s, t0)
		}
		if n, b := s.Waiting(); n != 6 || b != 9000 {
			t.Fatalf("waiting %d frames %d bytes, want 6, 9000", n, b)
		}
		// A small frame still fits.
		s.Push(t0, frame(1))
		drain(s, t0)
		if n, _ := s.Waiting(); n != 7 || s.Counters().QueueOverflow != 4 {
			t.Fatalf("waiting %d, counters %+v", n, s.Counters())
		}
	})
}

func TestOffReleasesWaitingFrames(t *testing.T) {
	s := newStage(t, 10, Settings{Delay: 10 * ms, Jitter: 5 * ms})
	for i := range 50 {
		s.Push(t0.Add(time.Duration(i)*10*time.Microsecond), frame(uint64(i)))
	}
	off := t0.Add(time.Millisecond)
	s.Set(off, Settings{})
	if !s.Active() || !s.Deadline().Equal(off) {
		t.Fatalf("after off: active %v deadline %v", s.Active(), s.Deadline())
	}
	got := drain(s, off)
	if len(got) != 50 {
		t.Fatalf("%d released, want 50", len(got))
	}
	// In the order they would have come out, which jitter shuffled: that
	// of a twin left on.
	twin := newStage(t, 10, Settings{Delay: 10 * ms, Jitter: 5 * ms})
	for i := range 50 {
		twin.Push(t0.Add(time.Duration(i)*10*time.Microsecond), frame(uint64(i)))
	}
	want := drainUntil(twin, off.Add(time.Minute))
	if !slices.EqualFunc(got, want, func(a, b out) bool { return bytes.Equal(a.frame, b.frame) }) {
		t.Error("released out of due-time order")
	}
	if s.Active() || !s.Deadline().IsZero() {
		t.Fatal("still active after the release")
	}
	if n, b := s.Waiting(); n != 0 || b != 0 {
		t.Fatalf("waiting %d, %d", n, b)
	}
	// Then frames pass unchanged.
	f := frame(99)
	s.Push(off, f)
	if g, pushed := s.Pop(off); !pushed || &g[0] != &f[0] {
		t.Fatal("frame after off not passed through")
	}
}

func TestSameSeedSameFate(t *testing.T) {
	set := Settings{Loss: pct(10), Duplicate: pct(10), Reorder: pct(10), Corrupt: pct(10), Delay: 5 * ms, Jitter: 2 * ms}
	run := func(seed uint64) []out {
		s := newStage(t, seed, set)
		var got []out
		now := t0
		for i := range 2000 {
			s.Push(now, frame(uint64(i)))
			got = append(got, drain(s, now)...)
			now = now.Add(100 * time.Microsecond)
		}
		return append(got, drain(s, now.Add(time.Minute))...)
	}
	same := func(a, b []out) bool {
		return slices.EqualFunc(a, b, func(x, y out) bool { return x.at.Equal(y.at) && bytes.Equal(x.frame, y.frame) })
	}
	a, b, c := run(42), run(42), run(43)
	if !same(a, b) {
		t.Error("the same seed gave different frames")
	}
	if same(a, c) {
		t.Error("seeds 42 and 43 gave the same frames")
	}
}

// A caller that pushes again without draining loses the frames not taken,
// counted, and the Stage stays within its bounds.
func TestPushWithoutDrain(t *testing.T) {
	s := newStage(t, 11, Settings{Duplicate: Certain})
	s.Push(t0, frame(1))
	s.Pop(t0)
	s.Push(t0, frame(2))
	got := drain(s, t0)
	if len(got) != 2 || number(got[0].frame) != 2 {
		t.Fatalf("%d out", len(got))
	}
	if c := s.Counters(); c.QueueOverflow != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// Held frames use recycled buffers: once the pool is warm, a delayed frame
// costs no allocation.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	s := newStage(t, 12, Settings{Loss: pct(1), Duplicate: pct(1), Corrupt: pct(1), Reorder: pct(10), Delay: ms, Jitter: ms / 2})
	f := make([]byte, 1514)
	now := t0
	step := func() {
		s.Push(now, f)
		for g, _ := s.Pop(now); g != nil; g, _ = s.Pop(now) {
		}
		now = now.Add(100 * time.Microsecond)
	}
	for range 1000 {
		step()
	}
	if a := testing.AllocsPerRun(10_000, step); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
	if s.pool.kept > s.pool.keep {
		t.Errorf("pool keeps %d bytes, bound %d", s.pool.kept, s.pool.keep)
	}
}

// What the pool keeps free is bounded, whatever sizes came through.
func TestPoolBound(t *testing.T) {
	p := pool{keep: 100_000}
	var bufs [][]byte
	for _, n := range []int{60, 1514, 3000, 9000, 40_000, 65_536, 100_000} {
		for range 10 {
			bufs = append(bufs, p.get(make([]byte, n)))
		}
	}
	for _, b := range bufs {
		p.put(b)
	}
	if p.kept > p.keep {
		t.Fatalf("keeps %d, bound %d", p.kept, p.keep)
	}
	if b := p.get(make([]byte, 1500)); cap(b) != 2048 || len(b) != 1500 {
		t.Fatalf("buffer len %d cap %d", len(b), cap(b))
	}
	for _, tc := range []struct{ n, class int }{{1, 0}, {2048, 0}, {2049, 1}, {4096, 1}, {65536, 5}, {65537, 6}} {
		if c := class(tc.n); c != tc.class {
			t.Errorf("class(%d) = %d, want %d", tc.n, c, tc.class)
		}
	}
}
