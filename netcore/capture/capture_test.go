package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// parkedReader runs s.Wait for a test and sends its result on woke. Its
// name marks the goroutine in a stack dump (see waitParked).
func parkedReader(s *Subscription, woke chan<- error) { woke <- s.Wait(context.Background()) }

// waitParked returns once the goroutine running parkedReader is blocked in
// Wait (a goroutine dump shows it in a select), so that what the test does
// next happens to a reader that is already waiting, however late the
// scheduler ran it.
func waitParked(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(time.Millisecond) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, ".parkedReader(") && strings.Contains(g, ".(*Subscription).Wait(") &&
				strings.Contains(strings.SplitN(g, "\n", 2)[0], "[select") {
				return
			}
		}
	}
	t.Fatal("the reader did not block in Wait within a minute")
}

// numbered is a 60-byte frame carrying i in its first bytes.
func numbered(i int) []byte {
	f := make([]byte, 60)
	binary.BigEndian.PutUint64(f, uint64(i))
	return f
}

// takeAll drains s.
func takeAll(s *Subscription) []CapturedFrame {
	var got []CapturedFrame
	s.Take(nil, func(f CapturedFrame) bool {
		f.Data = bytes.Clone(f.Data)
		got = append(got, f)
		return true
	})
	return got
}

// recSize is what one 60-byte frame takes in a ring.
const recSize = recHeader + 60

var t0 = time.Unix(1764000000, 0)

func TestCaptureManySubscribers(t *testing.T) {
	var c Capture
	c.Publish(t0, In, numbered(-1)) // nobody listens: nothing to do
	subs := []*Subscription{c.Subscribe(0), c.Subscribe(0), c.Subscribe(4096)}
	if c.Subscribers() != 3 {
		t.Fatalf("%d subscribers", c.Subscribers())
	}
	for i := 0; i < 10; i++ {
		c.Publish(t0.Add(time.Duration(i)*time.Microsecond), Direction(i%2), numbered(i))
	}
	for k, s := range subs {
		got := takeAll(s)
		if len(got) != 10 {
			t.Fatalf("subscriber %d took %d frames, want 10", k, len(got))
		}
		for i, f := range got {
			if !f.Time.Equal(t0.Add(time.Duration(i)*time.Microsecond)) || f.Dir != Direction(i%2) ||
				f.OrigLen != 60 || !bytes.Equal(f.Data, numbered(i)) || f.DroppedBefore != 0 {
				t.Errorf("subscriber %d frame %d: %+v", k, i, f)
			}
		}
	}
	if c.Dropped() != 0 {
		t.Errorf("dropped %d", c.Dropped())
	}
	subs[1].Close()
	c.Publish(t0, In, numbered(10))
	if c.Subscribers() != 2 || len(takeAll(subs[0])) != 1 || len(takeAll(subs[1])) != 0 {
		t.Error("a closed subscriber still receives frames")
	}
}

func TestCaptureSlowSubscriber(t *testing.T) {
	var c Capture
	slow := c.Subscribe(3 * recSize)
	fast := c.Subscribe(0)
	for i := 0; i < 10; i++ {
		c.Publish(t0, Out, numbered(i))
	}
	if slow.Dropped() != 7 || fast.Dropped() != 0 || c.Dropped() != 7 {
		t.Errorf("dropped: slow %d, fast %d, total %d; want 7, 0, 7", slow.Dropped(), fast.Dropped(), c.Dropped())
	}
	if got := takeAll(fast); len(got) != 10 {
		t.Errorf("the fast subscriber took %d frames, want all 10", len(got))
	}
	// The slow one gets the three that fit, then the gap.
	got := takeAll(slow)
	if len(got) != 4 {
		t.Fatalf("took %d, want 3 frames and a gap", len(got))
	}
	for i := range 3 {
		if !bytes.Equal(got[i].Data, numbered(i)) || got[i].DroppedBefore != 0 {
			t.Errorf("frame %d: %+v", i, got[i])
		}
	}
	if got[3].Data != nil || got[3].DroppedBefore != 7 {
		t.Errorf("gap marker %+v, want 7 dropped", got[3])
	}
	if more := takeAll(slow); len(more) != 0 {
		t.Errorf("took %+v after the gap", more)
	}
	// A gap between frames rides on the next frame.
	for i := 10; i < 15; i++ {
		c.Publish(t0, In, numbered(i)) // 10, 11, 12 fit; 13, 14 dropped
	}
	slow.Take(nil, func(f CapturedFrame) bool { return false }) // declines: nothing moves
	n := slow.Take(nil, func(f CapturedFrame) bool { return !bytes.Equal(f.Data, numbered(11)) })
	if n != 1 {
		t.Fatalf("took %d frames before declining 11, want 1", n)
	}
	c.Publish(t0, In, numbered(15)) // room for one again
	got = takeAll(slow)
	if len(got) != 3 || !bytes.Equal(got[0].Data, numbered(11)) || !bytes.Equal(got[1].Data, numbered(12)) ||
		!bytes.Equal(got[2].Data, numbered(15)) || got[1].DroppedBefore != 0 || got[2].DroppedBefore != 2 {
		t.Errorf("took %+v; want 11, 12, then 15 after a gap of 2", got)
	}
	if slow.Dropped() != 9 || c.Dropped() != 9 {
		t.Errorf("dropped %d, total %d; want 9", slow.Dropped(), c.Dropped())
	}
}

func TestCaptureSnaplen(t *testing.T) {
	var c Capture
	s := c.Subscribe(2 * (recHeader + Snaplen))
	big := make([]byte, Snaplen+100)
	big[Snaplen-1] = 0xaa
	c.Publish(t0, In, big)
	c.Publish(t0, In, make([]byte, 3*Snaplen)) // cut to Snaplen: fits
	c.Publish(t0, In, numbered(1))             // does not fit
	got := takeAll(s)
	if len(got) != 3 || got[0].OrigLen != Snaplen+100 || len(got[0].Data) != Snaplen || got[0].Data[Snaplen-1] != 0xaa ||
		got[1].OrigLen != 3*Snaplen || got[2].Data != nil || got[2].DroppedBefore != 1 {
		for _, f := range got {
			t.Errorf("took %d bytes of %d, %d dropped before", len(f.Data), f.OrigLen, f.DroppedBefore)
		}
	}
	// A ring too small for any frame drops and counts them all.
	tiny := c.Subscribe(recHeader)
	c.Publish(t0, In, numbered(2))
	if tiny.Dropped() != 1 {
		t.Errorf("tiny ring dropped %d", tiny.Dropped())
	}
}

func TestCaptureWrapsAround(t *testing.T) {
	var c Capture
	s := c.Subscribe(3*recSize + 7) // records straddle the end of the ring
	next := 0
	for round := 0; round < 50; round++ {
		for range 2 {
			f := numbered(next)
			f = append(f, make([]byte, round%5)...) // vary the record size
			c.Publish(t0, In, f)
			next++
		}
		got := takeAll(s)
		if len(got) != 2 {
			t.Fatalf("round %d: took %d", round, len(got))
		}
		for i, f := range got {
			if binary.BigEndian.Uint64(f.Data) != uint64(next-2+i) || f.OrigLen != 60+round%5 {
				t.Fatalf("round %d: frame %d is %x", round, i, f.Data)
			}
		}
	}
}

func TestCaptureCloseWaitEOF(t *testing.T) {
	ctx := context.Background()
	var c Capture
	s := c.Subscribe(0)
	c.Publish(t0, In, numbered(1))
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("Wait with a frame queued: %v", err)
	}
	c.Close()
	if err := s.Wait(ctx); err != nil {
		t.Errorf("Wait after Close with a frame still queued: %v, want nil", err)
	}
	if got := takeAll(s); len(got) != 1 {
		t.Errorf("took %d after Close, want the queued frame", len(got))
	}
	if err := s.Wait(ctx); err != io.EOF {
		t.Errorf("Wait once drained: %v, want EOF", err)
	}
	c.Publish(t0, In, numbered(2))
	if c.Dropped() != 0 || s.Dropped() != 0 {
		t.Error("publishing after Close counted drops")
	}
	late := c.Subscribe(0)
	if err := late.Wait(ctx); err != io.EOF {
		t.Errorf("Wait on a subscription made after Close: %v, want EOF", err)
	}
	late.Close()
	s.Close()
	s.Close()

	// Closing one's own subscription discards its queue.
	var c2 Capture
	s2 := c2.Subscribe(0)
	c2.Publish(t0, In, numbered(1))
	s2.Close()
	if err := s2.Wait(ctx); err != io.EOF {
		t.Errorf("Wait after the subscriber's Close: %v, want EOF", err)
	}
	if n := s2.Take(nil, func(CapturedFrame) bool { return true }); n != 0 {
		t.Errorf("took %d after the subscriber's Close", n)
	}
}

func TestCaptureWaitBlocksAndCancels(t *testing.T) {
	var c Capture
	s := c.Subscribe(0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- s.Wait(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel: %v", err)
	}

	go func() { errc <- s.Wait(context.Background()) }()
	select {
	case err := <-errc:
		t.Fatalf("Wait returned %v with nothing queued", err)
	case <-time.After(10 * time.Millisecond): // not a timing assertion: it must not return at all
	}
	c.Publish(t0, In, numbered(1))
	if err := <-errc; err != nil {
		t.Errorf("Wait after Publish: %v", err)
	}

	go func() { takeAll(s); errc <- s.Wait(context.Background()) }()
	s.Close()
	if err := <-errc; err != nil && err != io.EOF {
		t.Errorf("Wait across Close: %v", err)
	}
}

// TestCaptureConcurrent publishes from one goroutine (the host's driver)
// while subscribers come and go, take and close; run it with -race. Every
// subscriber that stays to the end accounts for every frame, in order: each
// one taken or inside a gap.
func TestCaptureConcurrent(t *testing.T) {
	const frames = 20000
	var c Capture
	var wg sync.WaitGroup
	reader := func(s *Subscription, slow bool) {
		defer wg.Done()
		defer s.Close()
		next, declined, buf := 0, false, make([]byte, 0, 64)
		for {
			if err := s.Wait(context.Background()); err == io.EOF {
				break
			} else if err != nil {
				t.Error(err)
				return
			}
			s.Take(buf, func(f CapturedFrame) bool {
				if slow && !declined && next%7 == 0 {
					declined = true // leave it queued, once
					return false
				}
				declined = false
				next += int(f.DroppedBefore)
				if f.Data != nil {
					if got := int(binary.BigEndian.Uint64(f.Data)); got != next {
						t.Errorf("frame %d where %d was due", got, next)
					}
					next++
				}
				return true
			})
			if slow {
				time.Sleep(time.Microsecond) // fall behind on purpose
			}
		}
		if next != frames {
			t.Errorf("accounted for %d frames, want %d", next, frames)
		}
	}
	for i := range 4 {
		wg.Add(1)
		go reader(c.Subscribe(8*recSize), i%2 == 1)
	}
	wg.Add(1)
	go func() { // subscribers that come and go
		defer wg.Done()
		for range 200 {
			s := c.Subscribe(4 * recSize)
			takeAll(s)
			s.Close()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range frames {
			c.Publish(t0, In, numbered(i))
		}
		c.Close()
	}()
	wg.Wait()
	t.Logf("%d frames dropped in all", c.Dropped())
}

// While wake-ups are held, frames are queued but a waiting reader sleeps on;
// Release wakes it once, and it finds the whole batch.
func TestCaptureHoldRelease(t *testing.T) {
	var c Capture
	s := c.Subscribe(0)
	defer s.Close()
	woke := make(chan error, 1)
	go parkedReader(s, woke)
	waitParked(t)
	c.Hold()
	for i := range 3 {
		c.Publish(t0, In, numbered(i))
	}
	select {
	case err := <-woke:
		t.Fatalf("the reader woke (%v) while wake-ups were held", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.Release()
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Release did not wake the reader")
	}
	if got := takeAll(s); len(got) != 3 {
		t.Errorf("took %d frames after Release, want the batch of 3", len(got))
	}
	// Not held: Publish wakes at once, as before.
	go func() { woke <- s.Wait(context.Background()) }()
	c.Publish(t0, Out, numbered(3))
	select {
	case <-woke:
	case <-time.After(time.Minute):
		t.Fatal("Publish without Hold did not wake the reader")
	}
}

// A Publish from another goroutine that races with Release (the driver's
// Exec path) must not lose its wake-up.
func TestCaptureReleaseRace(t *testing.T) {
	var c Capture
	for i := range 2000 {
		s := c.Subscribe(0) // a fresh one each round: no pacing from the last
		woke := make(chan error, 1)
		go func() { woke <- s.Wait(context.Background()) }()
		c.Hold()
		published := make(chan struct{})
		go func() { c.Publish(t0, In, numbered(i)); close(published) }()
		c.Release()
		<-published
		select {
		case err := <-woke:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("round %d: a frame published during Release never woke the reader", i)
		}
		if got := takeAll(s); len(got) != 1 {
			t.Fatalf("round %d: took %d frames, want 1", i, len(got))
		}
		s.Close()
	}
}

// The interleaving TestCaptureReleaseRace hunts for, replayed step by step:
// push sees the hold, Release clears it and finds nothing to wake, and only
// then does push mark the subscriber. The wake-up must not be lost.
func TestCaptureReleaseBetweenPushSteps(t *testing.T) {
	var c Capture
	s := c.Subscribe(0)
	defer s.Close()
	woke := make(chan error, 1)
	go parkedReader(s, woke)
	waitParked(t)
	c.Hold()
	c.Publish(t0, In, numbered(1)) // queued; its wake-up deferred
	s.held.Store(false)            // as if push had not marked s yet
	c.Release()                    // nothing marked: nothing woken
	s.deferWake()                  // push's last step
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a frame queued while Release ran never woke the reader")
	}
}

// While frames keep coming, Wait returns at most once per readerPace; a
// queue half full is handed over at once, and a cancelled context ends the
// pause.
func TestCaptureWaitPace(t *testing.T) {
	var c Capture
	s := c.Subscribe(20 * recSize)
	defer s.Close()
	c.Publish(t0, In, numbered(0))
	if err := s.Wait(context.Background()); err != nil { // after a quiet spell: no pause
		t.Fatal(err)
	}
	takeAll(s)
	// The pause counts from when Wait returned (lastReturn), not from when
	// this goroutine got round to the next step, which load can delay.
	first := s.lastReturn
	c.Publish(t0, In, numbered(1))
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gap := time.Since(first); gap < readerPace/2 {
		t.Errorf("Wait returned again after %v with frames coming, want a pause of about %v", gap, readerPace)
	}
	takeAll(s)

	// Half full: no pause (lastReturn is left alone, pace did not run).
	for i := range 11 {
		c.Publish(t0, In, numbered(i))
	}
	last := s.lastReturn
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.lastReturn != last {
		t.Error("a queue half full was paced")
	}
	takeAll(s)

	// A cancelled context ends the pause; the frame is still there.
	c.Publish(t0, In, numbered(2))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait with frames and a cancelled context: %v, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a cancelled context did not end the pause")
	}
	if got := takeAll(s); len(got) != 1 {
		t.Errorf("took %d frames after the cancelled pause, want 1", len(got))
	}
}

// BenchmarkCapturePublish is what capture adds to the host's path per frame:
// nothing to speak of without readers, a copy into each reader's queue with
// them (the queues are drained outside the timer, so nothing is dropped).
func BenchmarkCapturePublish(b *testing.B) {
	frame := numbered(1)
	for _, n := range []int{0, 2} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			var c Capture
			var subs []*Subscription
			for range n {
				subs = append(subs, c.Subscribe(1<<20))
			}
			buf := make([]byte, 2048)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Hold()
				c.Publish(t0, In, frame)
				c.Release()
				if i++; i%4096 == 0 {
					b.StopTimer()
					for _, s := range subs {
						s.Take(buf, func(CapturedFrame) bool { return true })
					}
					b.StartTimer()
				}
			}
			if c.Dropped() != 0 {
				b.Fatalf("%d frames dropped", c.Dropped())
			}
			for _, s := range subs {
				s.Close()
			}
		})
	}
}
