package fs

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
	"github.com/smolfs/smolfs/netcore"
)

// BenchmarkConvDataStream is the data path of `smolfs listen` under load:
// datagrams come in from the peer as fast as the reader takes them (at
// most 256 ahead of it, so that none is dropped), and one reader takes
// them through a UDP conversation's data file with internal/ninep's Mux
// over TCP loopback: one Mux.Read at a time (depth=1), or a Reader that
// keeps depth reads in flight. It reports datagrams per second, the CPU time of the
// whole process per datagram (user and system: steadier than the rate on
// a shared machine) and, with -benchmem, allocations per datagram of the
// whole path: the peer's frame, the host, the server and the client.
func BenchmarkConvDataStream(b *testing.B) {
	for _, depth := range []int{1, 64} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) { benchConvDataStream(b, depth) })
	}
}

func benchConvDataStream(b *testing.B, depth int) {
	e := newEnv(b)
	e.knowPeerB(b)
	m, data := convDataSession(b, e)
	ctx := context.Background()
	frame := udpFromPeer(7, 5000, string(make([]byte, 64)))

	var taken atomic.Int64
	stop := make(chan struct{})
	injected := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	go func() {
		for i := range b.N {
			for int64(i)-taken.Load() >= 256 {
				select {
				case <-stop:
					injected <- nil
					return
				default:
				}
				time.Sleep(10 * time.Microsecond)
			}
			if err := e.peer("tap0").pair.WriteFrame(frame); err != nil {
				injected <- err
				return
			}
		}
		injected <- nil
	}()
	buf := make([]byte, 8192)
	read := func() (int, error) { return m.Read(ctx, data, 0, buf) }
	if depth > 1 {
		r := m.NewReader(data, 0, 8192, depth)
		defer r.Close()
		read = func() (int, error) { return r.Read(ctx, buf) }
	}
	for range b.N {
		n, err := read()
		if err != nil || n != 64 {
			close(stop)
			b.Fatalf("read %d bytes: %v", n, err)
		}
		taken.Add(1)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "dgrams/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/dgram")
	b.StopTimer()
	if err := <-injected; err != nil {
		b.Fatal(err)
	}
	h, _ := e.st.Host("tap0")
	if d := h.Snapshot().Stats[netcore.UDPRxQueueFull]; d > 0 {
		b.Fatalf("%d datagrams dropped for a full queue", d)
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConvEcho is one UDP echo round trip through the tree, as
// `smolfs listen -service echo` makes it: the peer sends a datagram, the
// client reads it from the conversation's data (a Reader, 64 reads in
// flight) and writes it back, and the peer waits for it. ns/op is the
// round trip; cpu-ns/op the CPU of the whole process per round trip.
func BenchmarkConvEcho(b *testing.B) {
	e := newEnv(b)
	e.knowPeerB(b)
	m, data := convDataSession(b, e)
	ctx := context.Background()
	frame := udpFromPeer(7, 5000, string(make([]byte, 64)))
	r := m.NewReader(data, 0, 8192, 64)
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := r.Read(ctx, buf)
			if err == nil {
				_, err = m.Write(ctx, data, 0, buf[:n])
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	p := e.peer("tap0")
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if err := p.pair.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
		select {
		case <-p.frames:
		case err := <-done:
			b.Fatal(err)
		case <-time.After(5 * time.Second):
			b.Fatalf("echo %d did not come back", i)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// convDataSession opens conversation 0 of tap0 through a Mux, connected
// to the peer's port 7 from port 5000, and returns its data fid, open.
func convDataSession(b *testing.B, e *env) (*ninep.Mux, uint32) {
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		b.Fatal(err)
	}
	m, err := ninep.NewMux(nc, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	ctx := context.Background()
	root := m.NewFid()
	if _, err := m.Attach(ctx, root, "root", "", 0); err != nil {
		b.Fatal(err)
	}
	open := func(path ...string) uint32 {
		fid := m.NewFid()
		if _, err := m.Walk(ctx, root, fid, path...); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Lopen(ctx, fid, syscall.O_RDWR); err != nil {
			b.Fatal(err)
		}
		return fid
	}
	ctl := open("tap0", "udp", "clone")
	if _, err := m.Write(ctx, ctl, 0, []byte("connect 192.168.69.100!7 5000")); err != nil {
		b.Fatal(err)
	}
	return m, open("tap0", "udp", "0", "data")
}
