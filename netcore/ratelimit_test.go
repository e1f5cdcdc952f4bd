package netcore

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	b := newTokenBucket(1000, 50)
	now := time.Unix(1764000000, 0)
	n := 0
	for range 200 {
		if b.allow(now) {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("a burst at one instant: %d allowed, want 50", n)
	}
	// 1000 a second flow back: 10 ms later, 10 more.
	now = now.Add(10 * time.Millisecond)
	n = 0
	for range 100 {
		if b.allow(now) {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("after 10 ms: %d allowed, want 10", n)
	}
	// A sustained flood of 10000/s for 2 s gets 1000/s and no more.
	n = 0
	for i := range 20000 {
		if b.allow(now.Add(time.Duration(i) * 100 * time.Microsecond)) {
			n++
		}
	}
	if n < 1999 || n > 2001 {
		t.Fatalf("2 s of 10000/s: %d allowed, want 2000", n)
	}
	// Idle, it fills to the burst and no further.
	now = now.Add(time.Hour)
	n = 0
	for range 100 {
		if b.allow(now) {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("after an hour: %d allowed, want 50", n)
	}
	// A clock stepping back gives nothing.
	if b.allow(now.Add(-time.Minute)) {
		t.Fatal("allowed with an empty bucket after the clock stepped back")
	}
}
