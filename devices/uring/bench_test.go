package uring

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The ring's own cost: nops, one per enter and 64 per enter.
func BenchmarkNop(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "1perEnter", 64: "64perEnter"}[batch], func(b *testing.B) {
			r := newRing(b, 64, Options{})
			cq := make([]CQE, 64)
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for j := 0; j < batch; j++ {
					r.GetSQE().PrepNop(uint64(j))
				}
				if _, err := r.SubmitAndWait(uint32(batch)); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < batch; {
					got += r.Completions(cq)
				}
			}
		})
	}
}

const benchBatch = 32

// benchEcho measures the served side of a datagram echo, benchBatch frames
// a round: the peer's writes and reads are outside the timer. ns/op is per
// frame received and answered.
func benchEcho(b *testing.B, serve func(p [2]int, frame []byte)) {
	p := seqpacket(b)
	frame := make([]byte, 60) // an ARP request's size
	buf := make([]byte, 128)
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		b.StopTimer()
		for j := 0; j < benchBatch; j++ {
			if _, err := unix.Write(p[1], frame); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		serve(p, frame)
		b.StopTimer()
		for j := 0; j < benchBatch; j++ {
			if _, err := unix.Read(p[1], buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

// One read and one write system call per frame: the floor that Frames is
// meant to beat.
func BenchmarkEchoReadWrite(b *testing.B) {
	buf := make([]byte, 2048)
	benchEcho(b, func(p [2]int, _ []byte) {
		for j := 0; j < benchBatch; j++ {
			n, err := unix.Read(p[0], buf)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := unix.Write(p[0], buf[:n]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEchoFrames(b *testing.B) {
	var f *Frames
	got := 0
	recv := func(fr []byte) {
		got++
		if err := f.Send(0, fr); err != nil {
			b.Fatal(err)
		}
	}
	var p0 int
	benchEcho(b, func(p [2]int, _ []byte) {
		if f == nil {
			p0 = p[0]
			f = newFrames(b, p0, FramesConfig{WakeFd: -1})
		}
		for got < benchBatch {
			if _, err := exchange(f, -1, recv); err != nil {
				b.Fatal(err)
			}
		}
		got = 0
		if _, err := exchange(f, 0, recv); err != nil { // write the replies
			b.Fatal(err)
		}
	})
	if f != nil {
		st := f.Stats()
		b.ReportMetric(float64(st.Enters)/float64(st.Received), "enters/frame")
	}
}
