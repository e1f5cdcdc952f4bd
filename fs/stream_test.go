package fs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"github.com/knusbaum/go9p/proto"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/tcpdump"
	"github.com/smolfs/smolfs/netcore/wire"
)

// tcpdumpBody is a frames line without its timestamp.
func tcpdumpBody(frame []byte) string {
	line := string(tcpdump.Append(nil, time.Unix(0, 0), frame, len(frame)))
	return line[strings.IndexByte(line, ' ')+1:]
}

func bodies(text string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if i := strings.IndexByte(l, ' '); i > 0 && !strings.HasPrefix(l, "#") {
			l = l[i+1:]
		}
		out = append(out, l)
	}
	return out
}

// quietFrame is a broadcast the host counts and does not answer.
func quietFrame(i byte) []byte {
	b := wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: peerMAC, Type: 0x88b5}.Append(nil)
	return wire.PadFrame(append(b, i))
}

// A Plan 9 reader (the same count every time) blocks after each reply; a
// Linux reader (or anyone asking for less after a short reply) gets one 0
// at once for the follow-up, and blocks on the read after that.
func TestStreamReadLoop(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		uname     string
		smaller   bool // the follow-up asks for less, as Linux with uname=X does
		wantZeros bool
	}{
		{"glenda", false, false},
		{"glenda", true, true},
		{"nobody", false, true},
	} {
		t.Run(fmt.Sprintf("%s/smaller=%v", tc.uname, tc.smaller), func(t *testing.T) {
			r := e.session9P(t, tc.uname)
			if fc := r.walkOpen(1, proto.Oread, "tap0", "frames"); rerr(fc) != "" {
				t.Fatal(rerr(fc))
			}
			defer r.clunk(1)
			read := func(tag uint16, off uint64, count uint32) {
				r.send((&proto.TRead{Header: hdr(proto.Tread, tag), Fid: 1, Offset: off, Count: count}).Compose())
			}
			// reply waits for the Rread of tag; data is nil if none came in d.
			reply := func(tag uint16, d time.Duration) []byte {
				t.Helper()
				m, err := r.recv(d)
				if err != nil {
					return nil
				}
				rr, ok := mustParse(t, m).(*proto.RRead)
				if !ok || rr.Tag != tag {
					t.Fatalf("wanted Rread tag %d, got %x", tag, m)
				}
				return append([]byte{}, rr.Data...)
			}
			read(10, 0, 8192)
			time.Sleep(20 * time.Millisecond)
			e.inject("tap0", quietFrame(1))
			data := reply(10, hangGuard)
			if got := bodies(string(data)); len(got) != 1 || got[0] != tcpdumpBody(quietFrame(1)) {
				t.Fatalf("first reply %q, want the line of the frame", data)
			}
			next := uint32(8192)
			if tc.smaller {
				next -= uint32(len(data))
			}
			off := uint64(len(data))
			read(11, off, next)
			if tc.wantZeros {
				if got := reply(11, hangGuard); got == nil || len(got) != 0 {
					t.Fatalf("follow-up: %q, want 0 bytes at once", got)
				}
				read(12, off, 8192)
			}
			if got := reply(0, 100*time.Millisecond); got != nil {
				t.Fatalf("a read with nothing queued answered %q", got)
			}
			e.inject("tap0", quietFrame(2))
			tag := uint16(11)
			if tc.wantZeros {
				tag = 12
			}
			if got := reply(tag, hangGuard); len(got) == 0 {
				t.Fatalf("blocked read got %q, want the next frame", got)
			}
		})
	}
}

func mustParse(t testing.TB, m []byte) proto.FCall {
	t.Helper()
	fc, err := proto.ParseCall(bytes.NewReader(m))
	if err != nil {
		t.Fatalf("reply %x: %v", m, err)
	}
	return fc
}

func TestFramesAndPcap(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	frames := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
	defer frames.Close()
	pcap := walkOpen(t, root, p9.ReadOnly, "tap0", "frames.pcap")
	defer pcap.Close()
	stats := func() string { return readAllL(t, root, "tap0", "stats") }

	// The pcap header comes at once, before any frame.
	hdrb := make([]byte, 100)
	n, err := pcap.ReadAt(hdrb, 0)
	if err != nil || !bytes.Equal(hdrb[:n], capture.AppendPcapHeader(nil)) {
		t.Fatalf("pcap header: %x, %v", hdrb[:n], err)
	}
	req := arpRequest()
	e.inject("tap0", req)
	var reply []byte
	select {
	case reply = <-e.peer("tap0").frames:
	case <-time.After(hangGuard):
		t.Fatal("no ARP reply")
	}

	// frames: each line is tcpdump's for the frame, received and sent.
	var text string
	for off := int64(0); strings.Count(text, "\n") < 2; {
		buf := make([]byte, 4096)
		n, err := frames.ReadAt(buf, off)
		if n == 0 && err != nil {
			continue // the read loop's 0 after a short reply
		}
		text += string(buf[:n])
		off += int64(n)
	}
	if got, want := bodies(text), []string{tcpdumpBody(req), tcpdumpBody(reply)}; !slicesEqual(got, want) {
		t.Errorf("frames:\n%q\nwant\n%q", got, want)
	}

	// frames.pcap: the same frames as records; a record longer than the
	// read is split across reads.
	var recs []byte
	off := int64(n)
	for len(recs) < 2*16+len(req)+len(reply) {
		buf := make([]byte, 10)
		k, _ := pcap.ReadAt(buf, off)
		recs = append(recs, buf[:k]...)
		off += int64(k)
	}
	for i, want := range [][]byte{req, reply} {
		caplen := binary.LittleEndian.Uint32(recs[8:])
		if int(caplen) != len(want) || !bytes.Equal(recs[16:16+caplen], want) {
			t.Errorf("pcap record %d: %x, want %x", i, recs[:16+caplen], want)
		}
		recs = recs[16+caplen:]
	}
	if !strings.Contains(stats(), "capture_dropped 0\n") {
		t.Errorf("drops without a slow reader:\n%s", stats())
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A reader that never reads does not slow the host: every ping is answered,
// and the frames it missed are counted and shown as a gap.
func TestStalledReader(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	stalled := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
	defer stalled.Close()
	e.inject("tap0", arpRequest())
	p := e.peer("tap0")
	const pings = 3000
	answered := 0
	// At most a window of pings is outstanding, as ping -l or netbench's
	// loadgen would keep: a test peer that the scheduler leaves out for a
	// while on a loaded machine must not overflow the device's buffer
	// (the driver then drops, as it should, and the test would measure
	// the machine's load instead of the stalled reader).
	window := make(chan struct{}, 64)
	go func() {
		for i := range pings {
			window <- struct{}{}
			e.inject("tap0", echoRequest(uint16(i)))
		}
	}()
	deadline := time.After(hangGuard)
	for answered < pings {
		select {
		case f := <-p.frames:
			if len(f) > 34 && f[12] == 0x08 && f[13] == 0x00 && f[34] == 0 { // IPv4 echo reply
				answered++
				<-window
			}
		case <-deadline:
			t.Fatalf("%d of %d pings answered with a stalled reader", answered, pings)
		}
	}
	st := readAllL(t, root, "tap0", "stats")
	var dropped uint64
	for _, l := range strings.Split(st, "\n") {
		fmt.Sscanf(l, "capture_dropped %d", &dropped)
	}
	if dropped == 0 {
		t.Errorf("a stalled reader of %d frames dropped none:\n%s", 2*pings, st)
	}
	if dropped == 0 {
		return
	}
	// The queued frames come first, then the gap: its lines add up.
	buf := make([]byte, 256<<10)
	var text string
	for off := int64(0); !strings.Contains(text, "# dropped "); {
		n, _ := stalled.ReadAt(buf, off) // 0 bytes: the read loop's 0 after a short reply
		text += string(buf[:n])
		off += int64(n)
	}
	var shown uint64
	for _, l := range strings.Split(text, "\n") {
		var n uint64
		if _, err := fmt.Sscanf(l, "# dropped %d frames", &n); err == nil {
			shown += n
		}
	}
	if shown != dropped {
		t.Errorf("frames shows gaps of %d frames, stats counts %d", shown, dropped)
	}
}

func TestLogStream(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	log := walkOpen(t, root, p9.ReadOnly, "log")
	defer log.Close()
	var text string
	buf := make([]byte, 4096)
	off := int64(0)
	readUntil := func(want string) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !strings.Contains(text, want) {
			if time.Now().After(deadline) {
				t.Fatalf("log has\n%s\nnot %q", text, want)
			}
			n, _ := log.ReadAt(buf, off)
			text += string(buf[:n])
			off += int64(n)
		}
	}
	readUntil("tap0: created")
	writeL(root, "frob\n", "tap0", "arp")
	readUntil(cmdErr(t, "tap0/arp", "frob\n"))
}

// tcpSegment is a TCP segment between the peer (192.168.69.100.40000) and
// the host (192.168.69.1.7), in the direction fromPeer says.
func tcpSegment(fromPeer bool, seq, ack uint32, flags uint8, payload string) []byte {
	srcMAC, dstMAC, src, dst, sport, dport := peerMAC, hostMAC, peerIP, hostIP, uint16(40000), uint16(7)
	if !fromPeer {
		srcMAC, dstMAC, src, dst, sport, dport = hostMAC, peerMAC, hostIP, peerIP, dport, sport
	}
	b := wire.EthernetRepr{Dst: dstMAC, Src: srcMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	b = wire.IPv4Repr{Src: src, Dst: dst, Protocol: wire.ProtoTCP, TTL: 64, PayloadLen: 20 + len(payload)}.Append(b)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, 5<<4, flags)
	b = binary.BigEndian.AppendUint16(b, 64240)
	b = append(b, 0, 0, 0, 0) // checksum (tcpdump checks it only with -v), urgent pointer
	return wire.PadFrame(append(b, payload...))
}

// captureMarker is a frame the host ignores whose tcpdump line differs for
// each i.
func captureMarker(i byte) []byte {
	src := peerMAC
	src[5] = i
	return wire.PadFrame(wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: src, Type: 0x88b5}.Append(nil))
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

// captureReader is a frames and a frames.pcap reader opened together.
type captureReader struct {
	t                *testing.T
	frames, pcap     p9.File
	text             []byte
	pcapBytes        []byte
	textOff, pcapOff int64
}

func openCapture(t *testing.T, root p9.File) *captureReader {
	c := &captureReader{t: t, frames: walkOpen(t, root, p9.ReadOnly, "tap0", "frames"), pcap: walkOpen(t, root, p9.ReadOnly, "tap0", "frames.pcap")}
	t.Cleanup(func() { c.frames.Close(); c.pcap.Close() })
	return c
}

// readUntil reads both files until each shows the frame marker.
func (c *captureReader) readUntil(marker []byte) {
	c.t.Helper()
	line := tcpdumpBody(marker)
	buf := make([]byte, 8192)
	for !strings.Contains(string(c.text), line) {
		n, err := c.frames.ReadAt(buf, c.textOff)
		if n == 0 && err != nil && err != io.EOF {
			c.t.Fatalf("frames: %v", err)
		}
		c.text = append(c.text, buf[:n]...)
		c.textOff += int64(n)
	}
	for !bytes.Contains(c.pcapBytes, marker) {
		n, err := c.pcap.ReadAt(buf, c.pcapOff)
		if n == 0 && err != nil && err != io.EOF {
			c.t.Fatalf("frames.pcap: %v", err)
		}
		c.pcapBytes = append(c.pcapBytes, buf[:n]...)
		c.pcapOff += int64(n)
	}
}

// TestFramesTCPMatchTcpdump: each frames reader prints TCP sequence numbers
// as a tcpdump started at its open does: relative to the first segment of
// each conversation that reader saw. A reader opened in the middle of a
// conversation starts from absolute numbers again, as `tcpdump -r` of the
// frames.pcap opened with it does.
func TestFramesTCPMatchTcpdump(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	e := newEnv(t)
	_, root := e.dialL(t)
	first := openCapture(t, root)
	for _, f := range [][]byte{
		tcpSegment(true, 1000, 0, tcpSYN, ""),
		tcpSegment(false, 5000, 1001, tcpSYN|tcpACK, ""),
		tcpSegment(true, 1001, 5001, tcpACK, ""),
		captureMarker(1),
	} {
		e.inject("tap0", f)
	}
	first.readUntil(captureMarker(1))
	second := openCapture(t, root)
	for _, f := range [][]byte{
		tcpSegment(true, 1001, 5001, tcpPSH|tcpACK, "ping"),
		tcpSegment(false, 5001, 1005, tcpACK, ""),
		tcpSegment(false, 5001, 1005, tcpPSH|tcpACK, "pong"),
		tcpSegment(true, 1005, 5005, tcpFIN|tcpACK, ""),
		captureMarker(2),
	} {
		e.inject("tap0", f)
	}
	for i, c := range []*captureReader{first, second} {
		c.readUntil(captureMarker(2))
		file := filepath.Join(t.TempDir(), "frames.pcap")
		if err := os.WriteFile(file, c.pcapBytes, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("tcpdump", "-tt", "-e", "-n", "-r", file).Output()
		if err != nil {
			t.Fatalf("tcpdump -r %s: %v", file, err)
		}
		got := strings.Split(strings.TrimSuffix(string(c.text), "\n"), "\n")
		var want []string // tcpdump's first lines: frames has no hex dump lines
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if !strings.HasPrefix(l, "\t") {
				want = append(want, l)
			}
		}
		if !slicesEqual(got, want) {
			t.Errorf("reader %d: frames printed\n%s\ntcpdump -r of its frames.pcap printed\n%s", i+1, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(string(c.text), ", ack 1,") && i == 0 {
			t.Errorf("reader 1 printed no relative acknowledgement number:\n%s", c.text)
		}
	}
}
