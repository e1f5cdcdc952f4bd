package fs

import (
	"fmt"

	"sync"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
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
