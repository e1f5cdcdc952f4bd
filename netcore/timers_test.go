package netcore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTimerHeap drives the heap with random arms, moves and stops against a
// plain list of what should be armed, and drains it in order.
func TestTimerHeap(t *testing.T) {
	const n = 64
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = noTimer
	}
	q := timerHeap{pos: func(_ timerKind, id int32) *int32 { return &pos[id] }}
	want := map[int32]time.Time{}
	rng := rand.New(rand.NewPCG(3, 4))
	check := func() {
		t.Helper()
		if len(q.items) != len(want) {
			t.Fatalf("%d timers armed, want %d", len(q.items), len(want))
		}
		for i, it := range q.items {
			if i > 0 && it.at.Before(q.items[(i-1)/2].at) {
				t.Fatalf("item %d is earlier than its parent", i)
			}
			if pos[it.id] != int32(i) || !it.at.Equal(want[it.id]) {
				t.Fatalf("item %d: id %d at %v, position %d, want at %v", i, it.id, it.at, pos[it.id], want[it.id])
			}
		}
	}
	for range 5000 {
		id := int32(rng.IntN(n))
		if rng.IntN(3) == 0 {
			q.stop(timerNeighbour, id)
			delete(want, id)
		} else {
			at := t0.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			q.set(timerNeighbour, id, at)
			want[id] = at
		}
		check()
	}
	var got, sorted []time.Time
	for _, at := range want {
		sorted = append(sorted, at)
	}
	slices.SortFunc(sorted, time.Time.Compare)
	if _, ok := q.pop(t0.Add(-time.Millisecond)); ok && len(sorted) > 0 && sorted[0].After(t0.Add(-time.Millisecond)) {
		t.Fatal("popped a timer that was not due")
	}
	for {
		it, ok := q.pop(t0.Add(time.Hour))
		if !ok {
			break
		}
		if pos[it.id] != noTimer {
			t.Fatalf("popped timer %d still has position %d", it.id, pos[it.id])
		}
		got = append(got, it.at)
	}
	if !slices.EqualFunc(got, sorted, time.Time.Equal) || !q.next().IsZero() {
		t.Fatalf("drained %v, want %v", got, sorted)
	}
}
