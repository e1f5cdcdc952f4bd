package tcp

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// benchPair wires two Tables back to back with no loss: each segment is
// copied once (as a device write would) and received by the other side at
// once; the clock moves 10 µs per exchange.
type benchPair struct {
	a, b       *Table
	now        time.Time
	outA, outB Output
	scratch    []byte
	aAddr      netip.Addr
	bAddr      netip.Addr
}

func newBenchPair(cfg Config) *benchPair {
	cfg.Secret = [16]byte{9}
	return &benchPair{a: NewTable(cfg), b: NewTable(cfg), now: time.Unix(1700000000, 0), scratch: make([]byte, 0, 70000),
		aAddr: netip.MustParseAddr("10.0.0.1"), bAddr: netip.MustParseAddr("10.0.0.2")}
}

func (p *benchPair) deliver(out *Output, to *Table, toOut *Output) bool {
	if len(out.Segments) == 0 {
		return false
	}
	for i := range out.Segments {
		s := &out.Segments[i]
		p.scratch = append(append(p.scratch[:0], s.Header...), s.Payload...)
		to.Receive(p.now, s.Src, s.Dst, p.scratch, toOut)
	}
	out.Reset()
	return true
}

// pump exchanges segments until both sides are quiet, running due timers.
func (p *benchPair) pump() {
	for {
		p.now = p.now.Add(10 * time.Microsecond)
		moved := p.deliver(&p.outA, p.b, &p.outB)
		moved = p.deliver(&p.outB, p.a, &p.outA) || moved
		if !moved {
			if d := p.a.Deadline(); !d.IsZero() && !d.After(p.now) {
				p.a.Poll(p.now, &p.outA)
				continue
			}
			if d := p.b.Deadline(); !d.IsZero() && !d.After(p.now) {
				p.b.Poll(p.now, &p.outB)
				continue
			}
			return
		}
	}
}

// clearEvents drops readiness events (the benchmark polls instead).
func (p *benchPair) clearEvents() {
	p.outA.Events = p.outA.Events[:0]
	p.outB.Events = p.outB.Events[:0]
}

func (p *benchPair) connect(tb testing.TB, port uint16) (*Conn, *Conn) {
	l := p.b.listeners[netip.AddrPortFrom(p.bAddr, port)]
	if l == nil {
		var err error
		l, err = p.b.Listen(netip.AddrPortFrom(p.bAddr, port), 0, ConnOptions{NoDelay: true})
		if err != nil {
			tb.Fatal(err)
		}
	}
	ca, err := p.a.Connect(p.now, netip.AddrPortFrom(p.aAddr, 0), netip.AddrPortFrom(p.bAddr, port), ConnOptions{NoDelay: true}, &p.outA)
	if err != nil {
		tb.Fatal(err)
	}
	p.pump()
	cb, err := l.Accept()
	if err != nil || ca.State() != StateEstablished {
		tb.Fatalf("handshake: %v %v", ca.State(), err)
	}
	return ca, cb
}

// BenchmarkBulk moves 64 KiB per op from one Table to the other: both
// sides' TCP work, the copies into and out of the buffers, and checksums.
func BenchmarkBulk(b *testing.B) {
	p := newBenchPair(Config{})
	ca, cb := p.connect(b, 9)
	chunk := make([]byte, 64<<10)
	rbuf := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(chunk); {
			n, _ := ca.Write(p.now, chunk[off:], &p.outA)
			off += n
			p.pump()
			for {
				m, _ := cb.Read(p.now, rbuf, &p.outB)
				if m == 0 {
					break
				}
			}
			p.pump()
			p.clearEvents()
		}
	}
	b.StopTimer()
	if ca.Info().Retransmits != 0 {
		b.Fatalf("%d retransmissions", ca.Info().Retransmits)
	}
}

// BenchmarkConnectionSetupTeardown is one tcp-crr transaction per op:
// connect, 1 byte each way, close from the client (which keeps TIME_WAIT).
func BenchmarkConnectionSetupTeardown(b *testing.B) {
	p := newBenchPair(Config{EphemeralLow: 1024, MaxTimeWait: 4096})
	one := []byte{1}
	buf := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		ca, cb := p.connect(b, 7)
		ca.Write(p.now, one, &p.outA)
		p.pump()
		cb.Read(p.now, buf, &p.outB)
		cb.Write(p.now, one, &p.outB)
		p.pump()
		ca.Read(p.now, buf, &p.outA)
		ca.Close(p.now, &p.outA)
		p.pump()
		cb.Read(p.now, buf, &p.outB) // EOF
		cb.Close(p.now, &p.outB)
		p.pump()
		p.clearEvents()
		if cb.State() != StateClosed || ca.State() != StateTimeWait {
			b.Fatalf("states %v %v", ca.State(), cb.State())
		}
	}
	b.ReportMetric(float64(p.a.stats.OutSegs+p.b.stats.OutSegs)/float64(b.N), "segs/op")
}

// BenchmarkRequestResponse is one tcp-rr transaction per op: 1 byte each
// way on an established connection.
func BenchmarkRequestResponse(b *testing.B) {
	p := newBenchPair(Config{})
	ca, cb := p.connect(b, 7)
	one := []byte{1}
	buf := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		ca.Write(p.now, one, &p.outA)
		p.pump()
		if n, _ := cb.Read(p.now, buf, &p.outB); n != 1 {
			b.Fatal("no request")
		}
		cb.Write(p.now, one, &p.outB)
		p.pump()
		if n, _ := ca.Read(p.now, buf, &p.outA); n != 1 {
			b.Fatal("no response")
		}
		p.clearEvents()
	}
	b.ReportMetric(float64(p.a.stats.OutSegs+p.b.stats.OutSegs)/float64(b.N), "segs/op")
}

// BenchmarkMemoryPerConnection holds 10,000 established connections that
// each moved one byte each way, and reports the heap they take per
// connection (both ends' Conns, map entries, buffers).
func BenchmarkMemoryPerConnection(b *testing.B) {
	const n = 10000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := newBenchPair(Config{EphemeralLow: 1024})
		one := []byte{1}
		buf := make([]byte, 4)
		conns := make([]*Conn, 0, 2*n)
		for range n {
			ca, cb := p.connect(b, 7)
			ca.Write(p.now, one, &p.outA)
			p.pump()
			cb.Read(p.now, buf, &p.outB)
			cb.Write(p.now, one, &p.outB)
			p.pump()
			ca.Read(p.now, buf, &p.outA)
			p.clearEvents()
			conns = append(conns, ca, cb)
		}
		p.now = p.now.Add(time.Second) // delayed ACKs out
		p.a.Poll(p.now, &p.outA)
		p.b.Poll(p.now, &p.outB)
		p.pump()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/conn-pair")
		runtime.KeepAlive(conns)
	}
}
