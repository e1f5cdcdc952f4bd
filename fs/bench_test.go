package fs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"

	"github.com/smolfs/smolfs/netcore"
)

// BenchmarkWalkOpenReadClunk is walk+open+read+clunk of tap0/addr with the
// p9 client over TCP loopback, on 1 and on 8 connections at once.
func BenchmarkWalkOpenReadClunk(b *testing.B) {
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			e := newEnv(b)
			roots := make([]p9.File, conns)
			for i := range roots {
				_, roots[i] = e.dialL(b)
			}
			buf := make([][]byte, conns)
			for i := range buf {
				buf[i] = make([]byte, 4096)
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, root := range roots {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						_, f, err := root.Walk([]string{"tap0", "addr"})
						if err != nil {
							b.Error(err)
							return
						}
						if _, _, err := f.Open(p9.ReadOnly); err != nil {
							b.Error(err)
							return
						}
						if k, err := f.ReadAt(buf[i], 0); k == 0 || err != nil {
							b.Errorf("read %d, %v", k, err)
						}
						f.Close()
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// BenchmarkPingReply is one ping answered by the host, with no capture
// reader and with a frames reader that never reads: the host's pace must
// not depend on its readers.
func BenchmarkPingReply(b *testing.B) {
	for _, stalled := range []bool{false, true} {
		b.Run(fmt.Sprintf("stalledReader=%v", stalled), func(b *testing.B) {
			e := newEnv(b)
			if stalled {
				_, root := e.dialL(b)
				f := walkOpen(b, root, p9.ReadOnly, "tap0", "frames")
				defer f.Close()
			}
			e.inject("tap0", arpRequest())
			p := e.peer("tap0")
			<-p.frames // the ARP reply
			b.ResetTimer()
			for i := range b.N {
				e.inject("tap0", echoRequest(uint16(i)))
				select {
				case <-p.frames:
				case <-time.After(5 * time.Second):
					b.Fatalf("ping %d not answered", i)
				}
			}
		})
	}
}

// BenchmarkServerOps is walk+open+read+clunk of tap0/addr as
// internal/cmd/bench9p does it (pre-encoded requests, one at a time per
// connection, 9P2000.L), so that a profile shows the server rather than a
// client library: go test -bench ServerOps -cpuprofile cpu.out ./fs
//
// With arp=1024 the host's ARP cache is full, as on a busy network: every
// snapshot copies and sorts it, even for addr.
func BenchmarkServerOps(b *testing.B) {
	for _, tc := range []struct{ conns, arp int }{{1, 0}, {8, 0}, {1, 1024}} {
		conns := tc.conns
		b.Run(fmt.Sprintf("conns=%d/arp=%d", conns, tc.arp), func(b *testing.B) {
			e := newEnv(b)
			if tc.arp > 0 {
				h, _ := e.st.Host("tap0")
				if err := h.Ctl([]byte("add 10.0.0.1/8\n")); err != nil {
					b.Fatal(err)
				}
				var cmds []byte
				for i := range tc.arp {
					cmds = fmt.Appendf(cmds, "add 10.0.%d.%d 02:00:00:00:%02x:%02x\n", 1+i/250, 1+i%250, i>>8, i&0xff)
				}
				if err := h.ARP(cmds); err != nil {
					b.Fatal(err)
				}
			}
			clients := make([]*leanClient, conns)
			for i := range clients {
				clients[i] = e.dialLean(b)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, c := range clients {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						if err := c.op(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// leanClient is one 9P2000.L connection with walk, open, read and clunk of
// tap0/addr pre-encoded.
type leanClient struct {
	nc                      net.Conn
	r                       *bufio.Reader
	in                      []byte
	walk, open, read, clunk []byte
}

func (e *env) dialLean(t testing.TB) *leanClient {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &leanClient{nc: nc, r: bufio.NewReader(nc), in: make([]byte, 8192+24)}
	msg := func(typ uint8, tag uint16, fields ...any) []byte {
		b := []byte{0, 0, 0, 0, typ, byte(tag), byte(tag >> 8)}
		for _, f := range fields {
			switch v := f.(type) {
			case uint16:
				b = binary.LittleEndian.AppendUint16(b, v)
			case uint32:
				b = binary.LittleEndian.AppendUint32(b, v)
			case uint64:
				b = binary.LittleEndian.AppendUint64(b, v)
			case string:
				b = appendString(b, v)
			}
		}
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		return b
	}
	if _, err := c.call(msg(msgTversion, noTag, uint32(8192+24), "9P2000.L"), msgRversion); err != nil {
		t.Fatal(err)
	}
	if _, err := c.call(msg(lTattach, 1, uint32(0), uint32(noFid), "root", "", uint32(0)), lRattach); err != nil {
		t.Fatal(err)
	}
	c.walk = msg(lTwalk, 1, uint32(0), uint32(1), uint16(2), "tap0", "addr")
	c.open = msg(lTlopen, 1, uint32(1), uint32(0))
	c.read = msg(lTread, 1, uint32(1), uint64(0), uint32(8192))
	c.clunk = msg(lTclunk, 1, uint32(1))
	return c
}

func (c *leanClient) call(req []byte, want uint8) ([]byte, error) {
	if _, err := c.nc.Write(req); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.r, c.in[:4]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(c.in)
	if size < 7 || size > uint32(len(c.in)) {
		return nil, fmt.Errorf("reply of %d bytes", size)
	}
	if _, err := io.ReadFull(c.r, c.in[4:size]); err != nil {
		return nil, err
	}
	if c.in[4] != want {
		return nil, fmt.Errorf("request type %d: reply type %d: % x", req[4], c.in[4], c.in[:size])
	}
	return c.in[7:size], nil
}

func (c *leanClient) op() error {
	for _, s := range []struct {
		req  []byte
		want uint8
	}{{c.walk, lRwalk}, {c.open, lRlopen}, {c.read, lRread}, {c.clunk, lRclunk}} {
		body, err := c.call(s.req, s.want)
		if err != nil {
			return err
		}
		if s.want == lRread && len(body) <= 4 {
			return fmt.Errorf("empty read")
		}
	}
	return nil
}

// BenchmarkConvDataRead is one datagram read from a UDP conversation's data
// through 9P2000.L, one request at a time: the per-datagram cost of the
// server's path (a Tread that may wait, the conversation's read under the
// driver's lock, the reply). Datagrams are queued 256 at a time, outside
// the timing.
func BenchmarkConvDataRead(b *testing.B) {
	e := newEnv(b)
	e.knowPeerB(b)
	s := e.sessionL(b)
	s.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(3), "tap0", "udp", "clone"))
	s.expect(lRwalk, 2)
	s.send(lmsgBytes(lTlopen, 3, uint32(1), uint32(2)))
	s.expect(lRlopen, 3)
	cmd := "connect 192.168.69.100!7 5000"
	s.send(lmsgBytes(lTwrite, 4, uint32(1), uint64(0), uint32(len(cmd)), []byte(cmd)))
	s.expect(lRwrite, 4)
	s.send(lmsgBytes(lTwalk, 5, uint32(0), uint32(2), uint16(4), "tap0", "udp", "0", "data"))
	s.expect(lRwalk, 5)
	s.send(lmsgBytes(lTlopen, 6, uint32(2), uint32(2)))
	s.expect(lRlopen, 6)
	frame := udpFromPeer(7, 5000, string(make([]byte, 64)))
	tread := lmsgBytes(lTread, 7, uint32(2), uint64(0), uint32(8192))
	h, _ := e.st.Host("tap0")
	queued := func() uint64 { return h.Snapshot().Stats[netcore.UDPRx] }
	r := bufio.NewReader(s.nc)
	hdr := make([]byte, 4)
	msg := make([]byte, 8192)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(256, b.N-done)
		want := queued() + uint64(n)
		for range n {
			e.inject("tap0", frame)
		}
		for queued() < want {
			time.Sleep(100 * time.Microsecond)
		}
		b.StartTimer()
		for range n {
			if _, err := s.nc.Write(tread); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, hdr); err != nil {
				b.Fatal(err)
			}
			size := binary.LittleEndian.Uint32(hdr)
			if _, err := io.ReadFull(r, msg[:size-4]); err != nil || msg[0] != lRread {
				b.Fatalf("reply %x: %v", msg[:size-4], err)
			}
		}
		done += n
	}
}

func (e *env) knowPeerB(b *testing.B) {
	e.inject("tap0", arpRequest())
	<-e.peer("tap0").frames
}
