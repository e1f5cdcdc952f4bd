package devices

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/wire"
)

// openPacketIn opens a Packet on iface inside ns.
func openPacketIn(t *testing.T, ns *testenv.Netns, iface string) *Packet {
	t.Helper()
	var p *Packet
	if err := ns.Do(func() (err error) { p, err = OpenPacket(iface); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type captured struct {
	data    []byte
	wireLen int
	t       time.Time
	out     bool
}

// readFrames reads frames from p in the background until want of them
// satisfy keep; the result arrives on the channel.
func readFrames(p *Packet, want int, keep func([]byte) bool) <-chan []captured {
	ch := make(chan []captured, 1)
	go func() {
		var got []captured
		buf := make([]byte, 1<<16)
		for len(got) < want {
			n, wire, ts, out, err := p.ReadFrame(buf)
			if err != nil {
				break
			}
			if keep(buf[:n]) {
				got = append(got, captured{bytes.Clone(buf[:n]), wire, ts, out})
			}
		}
		ch <- got
	}()
	return ch
}

// tcpdumpICMP is one line of `tcpdump -tt` for an ICMP echo: its time (9
// digits with --time-stamp-precision=nano, 6 without) and what it was.
var tcpdumpICMP = regexp.MustCompile(`^(\d+)\.(\d{6}|\d{9}) IP \S+ > \S+: ICMP (echo request|echo reply), id \d+, seq (\d+), length \d+$`)

// startTcpdump runs tcpdump on iface in ns until it has printed n ICMP echo
// lines, and returns a channel with their times by "echo request 1".
func startTcpdump(t *testing.T, ns *testenv.Netns, iface string, n int, extra ...string) <-chan map[string]string {
	t.Helper()
	args := append([]string{"-i", iface, "-n", "-l", "-tt", "-c", strconv.Itoa(n)}, extra...)
	dump := ns.Command("tcpdump", append(args, "icmp")...)
	stdout, err := dump.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dump.Process.Kill(); dump.Wait() })
	ready := bufio.NewReader(stderr)
	for {
		line, err := ready.ReadString('\n')
		if err != nil {
			t.Fatalf("tcpdump did not start: %q %v", line, err)
		}
		if strings.Contains(line, "listening on "+iface) {
			break
		}
	}
	ch := make(chan map[string]string, 1)
	go func() {
		lines := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := tcpdumpICMP.FindStringSubmatch(sc.Text()); m != nil {
				lines[m[3]+" "+m[4]] = m[1] + "." + m[2]
			} else {
				lines[sc.Text()] = "unexpected line"
			}
		}
		ch <- lines
	}()
	return ch
}

// stampedOnce returns once the kernel stamps each frame once for all its
// captures. It does so only while its global timestamping is on, which the
// first socket asking for stamps (p does) switches on from a work queue a
// moment later; until then every capture stamps a frame itself, at its own
// time, and tcpdump's times could not match p's. So frames of our own go
// into the tap until a second capture sees the same stamp on one as p.
func stampedOnce(t *testing.T, ns *testenv.Netns, tap *Tap, p *Packet) {
	t.Helper()
	w := openPacketIn(t, ns, "tap0")
	defer w.Close()
	buf := make([]byte, 1<<16)
	// stamp reads c until the frame asking for target, and returns its time.
	stamp := func(c *Packet, target netip.Addr) time.Time {
		for {
			n, _, ts, _, err := c.ReadFrame(buf)
			if err != nil {
				t.Fatal(err)
			}
			if f := parse(buf[:n]); f.isARP && f.arp.TargetIP == target {
				return ts
			}
		}
	}
	for i, end := 1, time.Now().Add(hangGuard); ; i++ {
		target := netip.AddrFrom4([4]byte{10, 5, byte(i >> 8), byte(i)})
		frame := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, netip.MustParseAddr("10.5.255.254"), wire.MAC{}, target)
		if _, err := unix.Write(tap.Fd(), frame); err != nil {
			t.Fatal(err)
		}
		if stamp(p, target).Equal(stamp(w, target)) {
			t.Logf("captures stamped alike from our frame %d on", i)
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %d frames the kernel still stamps each capture's copy apart", i)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPacketSeesBothDirectionsWithTcpdumpTimes captures a ping with a
// Packet and with tcpdump at once: the same frames, in both directions, with
// the same kernel timestamps, to the nanosecond; and tcpdump's default
// microseconds are the nanoseconds cut (not rounded), which is what the
// frames renderer must print.
func TestPacketSeesBothDirectionsWithTcpdumpTimes(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	ns, tap := tapInNetns(t)
	d := NewDriver(newHost(t, "tap0"), tap, nil)
	defer d.Close()
	p := openPacketIn(t, ns, "tap0")
	stampedOnce(t, ns, tap, p)

	nano := startTcpdump(t, ns, "tap0", 6, "--time-stamp-precision=nano")
	micro := startTcpdump(t, ns, "tap0", 6)
	isICMP := func(b []byte) bool { f := parse(b); return f.isEcho }
	frames := readFrames(p, 6, isICMP)
	pingOK(t, ns)

	var nanoLines, microLines map[string]string
	var got []captured
	for _, wait := range []func(){
		func() { nanoLines = <-nano },
		func() { microLines = <-micro },
		func() { got = <-frames },
	} {
		done := make(chan struct{})
		go func() { wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Fatal("a capture did not see 6 echo frames")
		}
	}
	if len(got) != 6 || len(nanoLines) != 6 || len(microLines) != 6 {
		t.Fatalf("%d frames; tcpdump printed %v and %v: want 6 echo frames each", len(got), nanoLines, microLines)
	}
	for _, c := range got {
		f := parse(c.data)
		kind, wantOut := "echo request", true // the kernel side sends the requests
		if f.echo.Type == wire.ICMPEchoReply {
			kind, wantOut = "echo reply", false
		}
		key := fmt.Sprintf("%s %d", kind, f.echo.Seq)
		nsec := fmt.Sprintf("%d.%09d", c.t.Unix(), c.t.Nanosecond())
		usec := fmt.Sprintf("%d.%06d", c.t.Unix(), c.t.Nanosecond()/1000)
		if nanoLines[key] != nsec || microLines[key] != usec {
			t.Errorf("%s: time %s, tcpdump says %q and %q, want %s and %s", key, nsec, nanoLines[key], microLines[key], nsec, usec)
		}
		if c.out != wantOut {
			t.Errorf("%s: out = %v, want %v", key, c.out, wantOut)
		}
		if c.wireLen != len(c.data) || c.wireLen != 98 {
			t.Errorf("%s: %d bytes, wire length %d, want 98 and 98", key, len(c.data), c.wireLen)
		}
	}
	t.Logf("%d frames with the same times as tcpdump: %v", len(got), nanoLines)
}

func TestPacketLoopbackAndClose(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns := testenv.NewNetns(t)
	p := openPacketIn(t, ns, "lo")

	isICMP := func(b []byte) bool { f := parse(b); return f.isEcho }
	frames := readFrames(p, 2, isICMP)
	ns.Run("ping", "-c", "1", "-w", "60", "127.0.0.1")
	var got []captured
	select {
	case got = <-frames:
	case <-time.After(hangGuard):
		t.Fatal("no frames on lo")
	}
	// On lo every frame is sent and received: only the received copy counts.
	if len(got) != 2 || got[0].out || got[1].out ||
		parse(got[0].data).echo.Type != wire.ICMPEchoRequest || parse(got[1].data).echo.Type != wire.ICMPEchoReply {
		t.Fatalf("frames on lo: %+v, want the request and the reply, once each, as received", got)
	}
	if recv, dropped, err := p.Stats(); err != nil || recv < 2 || dropped != 0 {
		t.Errorf("Stats() = %d, %d, %v: want at least 2 received, none dropped", recv, dropped, err)
	}

	// A reader waiting on a quiet interface is woken by Close.
	errc := make(chan error, 1)
	go func() {
		_, _, _, _, err := p.ReadFrame(make([]byte, 100))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrame after Close: %v, want net.ErrClosed", err)
		}
		t.Logf("ReadFrame returned %v after Close", time.Since(start))
	case <-time.After(hangGuard):
		t.Fatal("Close did not unblock ReadFrame")
	}
	if _, _, _, _, err := p.ReadFrame(make([]byte, 100)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame on a closed Packet: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPacketVLAN writes an 802.1Q-tagged frame into a tap: the kernel
// takes the tag out into metadata as it receives it, and ReadFrame must put
// it back, so that the bytes read are the bytes that were on the wire.
func TestPacketVLAN(t *testing.T) {
	ns, tap := tapInNetns(t)
	p := openPacketIn(t, ns, "tap0")
	frame := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, netip.MustParseAddr("10.5.0.1"), wire.MAC{}, netip.MustParseAddr("10.5.0.2"))
	tagged := append(bytes.Clone(frame[:12]), 0x81, 0x00, 0x20, 0x05) // priority 1, vlan 5
	tagged = append(tagged, frame[12:]...)

	isTagged := func(b []byte) bool { return len(b) >= 14 && b[12] == 0x81 && b[13] == 0x00 }
	frames := readFrames(p, 1, isTagged)
	if _, err := unix.Write(tap.Fd(), tagged); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-frames:
		if len(got) != 1 {
			t.Fatal("no tagged frame")
		}
		if c := got[0]; !bytes.Equal(c.data, tagged) || c.wireLen != len(tagged) || c.out {
			t.Errorf("read %x (wire length %d, out %v)\nwant %x (%d, received)", c.data, c.wireLen, c.out, tagged, len(tagged))
		}
	case <-time.After(hangGuard):
		t.Fatal("no tagged frame")
	}
}

func TestOpenPacketErrors(t *testing.T) {
	ns := testenv.NewNetns(t)
	ns.Run("ip", "tuntap", "add", "dev", "d0", "mode", "tap") // left down
	ns.Run("ip", "tuntap", "add", "dev", "tun0", "mode", "tun")
	ns.Run("ip", "link", "set", "tun0", "up")
	for _, tc := range []struct {
		iface string
		errno syscall.Errno
		words string
	}{
		{"nosuch0", syscall.ENODEV, "no such interface"},
		{"d0", syscall.ENETDOWN, "ip link set d0 up"},
		{"tun0", syscall.EINVAL, "not an Ethernet interface"},
		{"bad/name", syscall.EINVAL, "interface name"},
	} {
		err := ns.Do(func() error {
			p, err := OpenPacket(tc.iface)
			if err == nil {
				p.Close()
			}
			return err
		})
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), tc.iface) {
			t.Errorf("OpenPacket(%q) = %v, want %v saying %q", tc.iface, err, tc.errno, tc.words)
		}
	}
}

// cmsg appends one control message the way the kernel lays it out.
func cmsg(b []byte, level, typ int32, data []byte) []byte {
	var h unix.Cmsghdr
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h))...)
	b = append(b, make([]byte, unix.CmsgLen(0)-int(unsafe.Sizeof(h)))...)
	b = append(b, data...)
	return append(b, make([]byte, unix.CmsgSpace(len(data))-unix.CmsgLen(len(data)))...)
}

func asBytes[T any](v *T) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v)) }

func TestParseControl(t *testing.T) {
	ts := unix.NsecToTimespec(1764000000_123456789)
	aux := unix.TpacketAuxdata{Status: unix.TP_STATUS_VLAN_VALID, Len: 60, Snaplen: 60, Vlan_tci: 7}
	var b []byte
	b = cmsg(b, unix.SOL_SOCKET, 99, []byte{1, 2, 3}) // unknown: skipped
	b = cmsg(b, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, asBytes(&ts))
	b = cmsg(b, unix.SOL_PACKET, unix.PACKET_AUXDATA, asBytes(&aux))
	c := parseControl(b)
	if !c.haveTime || c.time != ts || !c.haveAux || c.aux != aux {
		t.Errorf("parseControl = %+v", c)
	}
	// Unaligned input and a truncated last message.
	c = parseControl(append([]byte{0}, b...)[1 : len(b)-8+1])
	if !c.haveTime || c.time != ts || c.haveAux {
		t.Errorf("truncated: %+v, want the time and no auxdata", c)
	}
	if c := parseControl(nil); c.haveTime || c.haveAux {
		t.Errorf("empty: %+v", c)
	}
}

func TestInsertVLAN(t *testing.T) {
	frame := []byte("\x01\x02\x03\x04\x05\x06\x0a\x0b\x0c\x0d\x0e\x0f\x08\x06payload")
	buf := make([]byte, 64)
	n := insertVLAN(buf, copy(buf, frame), 0x8100, 0x2005)
	want := "\x01\x02\x03\x04\x05\x06\x0a\x0b\x0c\x0d\x0e\x0f\x81\x00\x20\x05\x08\x06payload"
	if string(buf[:n]) != want {
		t.Errorf("got %q\nwant %q", buf[:n], want)
	}
	// A buffer too short for the whole frame keeps its first len(buf) bytes.
	short := make([]byte, 18)
	n = insertVLAN(short, copy(short, frame), 0x8100, 0x2005)
	if string(short[:n]) != want[:18] {
		t.Errorf("short: got %q, want %q", short[:n], want[:18])
	}
}

func FuzzParseControl(f *testing.F) {
	ts := unix.NsecToTimespec(1)
	aux := unix.TpacketAuxdata{Status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, Vlan_tpid: 0x88a8}
	f.Add(cmsg(cmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, asBytes(&ts)), unix.SOL_PACKET, unix.PACKET_AUXDATA, asBytes(&aux)), 60)
	f.Add([]byte{}, 0)
	f.Add(bytes.Repeat([]byte{0xff}, 40), 14)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		c := parseControl(b)
		if c.haveAux {
			buf := make([]byte, 64)
			n = max(0, min(n, len(buf)))
			if got := insertVLAN(buf, n, c.aux.Vlan_tpid, c.aux.Vlan_tci); got > len(buf) || got < n {
				t.Fatalf("insertVLAN(%d) = %d", n, got)
			}
		}
	})
}
