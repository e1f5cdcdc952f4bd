package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
)

// The multiplexed client that dial and listen use: requests in flight
// together, and a request whose context ends is flushed, leaving the
// session usable.
func TestMuxFlushAndConcurrency(t *testing.T) {
	e := newNinepEnv(t)
	ctx := context.Background()
	nc, err := ninep.Dial(ctx, e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ninep.NewMux(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	root := m.NewFid()
	if _, err := m.Attach(ctx, root, "root", "", 0); err != nil {
		t.Fatal(err)
	}
	open := func(flags uint32, path ...string) uint32 {
		t.Helper()
		fid := m.NewFid()
		if _, err := m.Walk(ctx, root, fid, path...); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lopen(ctx, fid, flags); err != nil {
			t.Fatal(err)
		}
		return fid
	}
	frames := open(syscall.O_RDONLY, "tap0", "frames")
	// Two reads wait on an idle host; a read of another file goes by them.
	rctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := m.Read(rctx, frames, 0, make([]byte, 4096))
			errs <- err
		}()
	}
	addr := open(syscall.O_RDONLY, "tap0", "addr")
	buf := make([]byte, 100)
	if n, err := m.Read(ctx, addr, 0, buf); err != nil || string(buf[:n]) != "02:00:00:00:00:01\n192.168.69.1/24\n" {
		t.Fatalf("addr beside waiting reads: %q, %v", buf[:n], err)
	}
	select {
	case err := <-errs:
		t.Fatalf("a read of an idle stream returned: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("flushed read: %v, want context.Canceled", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a flushed read did not return")
		}
	}
	// The session goes on; an unknown file is an errno.
	if n, err := m.Read(ctx, addr, 0, buf); err != nil || n == 0 {
		t.Errorf("read after the flushes: %d, %v", n, err)
	}
	fid := m.NewFid()
	if _, err := m.Walk(ctx, root, fid, "nosuch"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("walk to nosuch: %v", err)
	}
	m.FreeFid(fid)
	if err := m.Clunk(addr); err != nil {
		t.Error(err)
	}
	// A closed connection fails what is in flight at once.
	go func() {
		time.Sleep(20 * time.Millisecond)
		m.Close()
	}()
	if _, err := m.Read(ctx, frames, 0, buf); err == nil {
		t.Error("a read survived Close")
	}
	select {
	case <-m.Done():
	case <-time.After(time.Minute):
		t.Error("Done not closed after Close")
	}
}
