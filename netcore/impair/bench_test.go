package impair

import (
	"testing"
	"time"
)

var sink int

// BenchmarkOff is what a caller pays per frame when impairment is off: the
// one test of Active. The loop's body beside it is the baseline.
func BenchmarkOff(b *testing.B) {
	var s Stage
	s.Init(1, Limits{})
	f := make([]byte, 98)
	b.ReportAllocs()
	for b.Loop() {
		if s.Active() {
			s.Push(t0, f)
			for g, _ := s.Pop(t0); g != nil; g, _ = s.Pop(t0) {
				sink += len(g)
			}
		} else {
			sink += len(f)
		}
	}
}

// BenchmarkOffPushPop is a caller that goes through Push and Pop even when
// impairment is off.
func BenchmarkOffPushPop(b *testing.B) {
	var s Stage
	s.Init(1, Limits{})
	f := make([]byte, 98)
	b.ReportAllocs()
	for b.Loop() {
		s.Push(t0, f)
		for g, _ := s.Pop(t0); g != nil; g, _ = s.Pop(t0) {
			sink += len(g)
		}
	}
}

// BenchmarkOn measures a frame through each kind of impairment, with the
// frames 10 µs apart and popped as they fall due.
func BenchmarkOn(b *testing.B) {
	for _, bc := range []struct {
		name string
		set  Settings
	}{
		{"loss", Settings{Loss: 10_000}},
		{"corrupt", Settings{Corrupt: 10_000}},
		{"delay", Settings{Delay: time.Millisecond}},
		{"all", Settings{Loss: 10_000, Duplicate: 50_000, Reorder: 250_000, Corrupt: 10_000, Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var s Stage
			s.Init(1, Limits{})
			s.Set(t0, bc.set)
			f := make([]byte, 1514)
			now := t0
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				s.Push(now, f)
				for g, _ := s.Pop(now); g != nil; g, _ = s.Pop(now) {
					sink += len(g)
				}
				now = now.Add(10 * time.Microsecond)
			}
		})
	}
}
