package main

import (
	"context"
	"testing"
	"time"
)

// A call's idle time: its context ends once nothing has come for the idle
// time, not while datagrams keep coming, and at once when stopped.
func TestWithIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	ctx, touch, stop := withIdle(context.Background(), idle)
	for range 20 { // a datagram every 30 ms for twice the idle time
		time.Sleep(idle / 10)
		touch()
		if ctx.Err() != nil {
			t.Fatal("the call ended while datagrams came")
		}
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		if d := time.Since(start); d < idle*9/10 {
			t.Errorf("ended %v after the last datagram, want %v", d, idle)
		}
	case <-time.After(time.Minute):
		t.Fatal("the call did not end when its remote went quiet")
	}
	stop()

	ctx, _, stop = withIdle(context.Background(), time.Hour)
	stop()
	if ctx.Err() == nil {
		t.Error("stop did not end the call")
	}
	ctx, _, stop = withIdle(context.Background(), 0)
	time.Sleep(10 * time.Millisecond)
	if ctx.Err() != nil {
		t.Error("a call without an idle time ended")
	}
	stop()
}
