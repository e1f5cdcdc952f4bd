package tcp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// FuzzStateMachine feeds a Table random sequences of segments (aimed near
// the connections' real sequence numbers, so they get past the checks),
// reads, writes, closes and clock jumps. Nothing may panic, and the
// invariants (snd.una <= snd.nxt <= snd.max, queues within bounds, the
// timer heap and counters consistent) must hold after every step.
func FuzzStateMachine(f *testing.F) {
	f.Add([]byte("\x00\x00\x02\x00\x00\x00\x00\x10\x00\x00\x10\x01\x01\x00\x05\x10\x04\x00\x30\x00\x00\x00\x00\x00\x00\x00\x18\x01\x01\x00\x20\x10\x07\x05\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x01\x01\x12\x01\x01\x00\x00\x10\x06\x01\x00\x00\x00\x00\x00\x00\x00\x01\x11\x01\x02\x00\x00\x40\x07\x09\x00\x00\x00\x00\x00\x00\x00\x00\x19\x01\x01\x00\x30\x10"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb := NewTable(Config{Secret: [16]byte{3}, SendBuffer: 8192, RecvBuffer: 4096, MaxHalfOpen: 2,
			MaxTimeWait: 2, Backlog: 2, ChallengeACKLimit: 1 << 30})
		now := time.Unix(1700000000, 0)
		var out Output
		local := netip.MustParseAddr("10.0.0.1")
		remote := netip.MustParseAddr("10.0.0.2")
		l, _ := tb.Listen(netip.AddrPortFrom(local, 80), 0, ConnOptions{})
		active, _ := tb.Connect(now, netip.AddrPortFrom(local, 0), netip.AddrPortFrom(remote, 90), ConnOptions{}, &out)
		conns := []*Conn{active}
		buf := make([]byte, 3000)
		for len(data) >= 8 {
			op, a := data[0], data[1:8]
			data = data[8:]
			out.Reset()
			switch op % 8 {
			case 0, 1, 2, 3:
				// A segment from one of three remote ports, to port 80 or
				// to the active connection.
				var r wire.TCPRepr
				r.SrcPort = 90 + uint16(a[0]%3)
				r.DstPort = 80
				var c *Conn
				if a[0]&4 != 0 {
					c = active
					r.DstPort = active.Local().Port()
					r.SrcPort = 90
				} else {
					c = tb.conns[tuple{netip.AddrPortFrom(local, 80), netip.AddrPortFrom(remote, r.SrcPort)}]
				}
				r.Flags = wire.TCPFlags(a[1])
				if a[1]&0xc0 == 0 { // mostly sane flags
					r.Flags = wire.TCPFlags(a[1]) & (flagSYN | flagACK | flagFIN | flagRST | flagPSH)
				}
				d := int32(int8(a[2])) * int32(1+a[3]%64)
				dAck := int32(int8(a[3])) * 8
				if c != nil {
					r.Seq = c.rcvNxt + uint32(d)
					r.Ack = c.sndUna + uint32(dAck)
					if a[3]&1 != 0 {
						r.Ack = c.sndMax
					}
				} else {
					r.Seq = uint32(d) + 1000
					r.Ack = binary.BigEndian.Uint32(a[2:6])
				}
				r.Window = uint16(a[4]) << (a[5] & 7)
				if a[5]&8 != 0 {
					r.Options.HasTS, r.Options.TSVal = true, uint32(a[6])+uint32(now.Unix())
				}
				if a[5]&16 != 0 && c != nil {
					r.Options.NumSACK = 1
					r.Options.SACK[0] = wire.TCPSACKBlock{Start: c.sndUna + uint32(a[6])*10, End: c.sndUna + uint32(a[6])*10 + uint32(a[4])*5}
				}
				if r.Flags&flagSYN != 0 {
					r.Options.HasMSS, r.Options.MSS = true, uint16(a[4])*8+64
					r.Options.HasWS, r.Options.WindowScale = a[5]&32 != 0, a[6]%15
					r.Options.SACKPermitted = a[5]&64 != 0
				}
				payload := buf[:int(a[6]%4)*int(a[4]%200)]
				b := r.Append(nil)
				wire.SetTCPChecksum(b, payload, remote, local)
				b = append(b, payload...)
				if a[5]&128 != 0 && len(b) > 0 {
					b[int(a[0])%len(b)] ^= a[1] | 1 // corrupted
				}
				tb.Receive(now, remote, local, b, &out)
			case 4:
				for _, c := range conns {
					c.Write(now, buf[:int(binary.BigEndian.Uint16(a[0:2]))%3000], &out)
				}
			case 5:
				for _, c := range conns {
					c.Read(now, buf[:int(a[0])*10+1], &out)
				}
			case 6:
				if len(conns) > 0 {
					c := conns[int(a[0])%len(conns)]
					switch a[1] % 5 {
					case 0, 1:
						c.Close(now, &out)
					case 2:
						c.Release(now, &out)
					case 3:
						c.Abort(now, &out)
					case 4:
						c.SetKeepalive(now, time.Duration(a[2])*time.Second)
					}
				}
			case 7:
				now = now.Add(time.Duration(binary.BigEndian.Uint16(a[0:2])) * time.Millisecond * time.Duration(1+a[2]%100))
				tb.Poll(now, &out)
				_ = tb.Deadline()
			}
			if c, err := l.Accept(); err == nil {
				conns = append(conns, c)
			}
			if err := tb.checkInvariants(); err != nil {
				t.Fatal(err)
			}
			for _, s := range out.Segments {
				seg := append(append([]byte(nil), s.Header...), s.Payload...)
				if !wire.TCPSegment(seg).VerifyChecksum(s.Src, s.Dst) {
					t.Fatal("sent a segment with a bad checksum")
				}
			}
		}
	})
}
