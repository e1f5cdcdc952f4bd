package netcore

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/netcore/wire"
)

// tcpRig is a host and a peer on one link under a fake clock: the peer is
// a second TCP engine (as the kernel would be), answering ARP, so that
// conversations run end to end with no sleeps. Every frame the host sends
// goes to the peer and back until the link is quiet.
type tcpRig struct {
	*harness
	peer    *tcp.Table
	pout    tcp.Output
	woken   []ConvRef             // every conversation woken since the last take
	segsIn  int                   // segments the host sent
	drop    func(seg []byte) bool // the link loses a segment to the peer
	lastSeg wire.TCPRepr          // the last segment the host sent
	lastIP  wire.IPv4Repr         // and its IPv4 header
}

func newTCPRig(t testing.TB) *tcpRig {
	r := &tcpRig{harness: newHarness(t), peer: tcp.NewTable(tcp.Config{Secret: [16]byte{1}})}
	return r
}

// run makes one call on the host with the rig's output and delivers what
// came out of it until the link is quiet.
func (r *tcpRig) run(fn func(out *Output)) {
	r.t.Helper()
	r.out.Reset()
	fn(&r.out)
	frames := r.sent()
	r.woken = append(r.woken, r.out.Wake...)
	r.deliver(frames)
}

// deliver carries frames from the host to the peer, and the peer's
// answers back, until neither has anything to say.
func (r *tcpRig) deliver(frames [][]byte) {
	r.t.Helper()
	for len(frames) > 0 {
		r.woken = append(r.woken, r.out.Wake...)
		var next [][]byte
		for _, f := range frames {
			for _, back := range r.toPeerFrame(f) {
				r.out.Reset()
				r.h.Receive(r.now, back, &r.out)
				next = append(next, r.sent()...)
				r.woken = append(r.woken, r.out.Wake...)
			}
		}
		frames = next
	}
}

// toPeerFrame hands one frame of the host's to the peer and returns the
// frames the peer answers with.
func (r *tcpRig) toPeerFrame(f []byte) [][]byte {
	r.t.Helper()
	eth, err := wire.ParseEthernet(f)
	if err != nil {
		r.t.Fatalf("host sent a bad frame: %v", err)
	}
	if eth.Type == wire.EtherTypeARP {
		a, err := wire.ParseARP(f[wire.EthHeaderLen:])
		if err == nil && a.Op == wire.ARPRequest && a.TargetIP == peerIP {
			return [][]byte{arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP)}
		}
		return nil
	}
	ip, err := wire.ParseIPv4(f[wire.EthHeaderLen:])
	if err != nil || ip.Protocol != wire.ProtoTCP {
		return nil
	}
	seg := f[wire.EthHeaderLen+wire.IPv4MinLen : wire.EthHeaderLen+wire.IPv4MinLen+ip.PayloadLen]
	if !ip.DF || ip.Src != hostIP {
		r.t.Errorf("host sent TCP in %+v", ip)
	}
	if _, err := wire.ParseTCP(seg, &r.lastSeg); err != nil {
		r.t.Fatalf("host sent a bad segment: %v", err)
	}
	r.segsIn++
	r.lastIP = ip
	if r.drop != nil && r.drop(seg) {
		return nil
	}
	r.pout.Reset()
	r.peer.Receive(r.now, ip.Src, ip.Dst, seg, &r.pout)
	return r.peerFrames()
}

// peerFrames wraps what the peer sent in frames to the host.
func (r *tcpRig) peerFrames() [][]byte {
	var frames [][]byte
	for _, s := range r.pout.Segments {
		frames = append(frames, tcpFrame(s.Src, s.Dst, append(slices.Clone(s.Header), s.Payload...)))
	}
	r.pout.Reset()
	return frames
}

// tcpFrame is an Ethernet frame from the peer carrying seg.
func tcpFrame(src, dst netip.Addr, seg []byte) []byte {
	b := wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	b = wire.IPv4Repr{Src: src, Dst: dst, Protocol: wire.ProtoTCP, TTL: 64, ID: 1, DF: true, PayloadLen: len(seg)}.Append(b)
	return wire.PadFrame(append(b, seg...))
}

// peerDo runs fn on the peer's engine and delivers what it sent.
func (r *tcpRig) peerDo(fn func(out *tcp.Output)) {
	r.t.Helper()
	r.pout.Reset()
	fn(&r.pout)
	var frames [][]byte
	for _, f := range r.peerFrames() {
		r.out.Reset()
		r.h.Receive(r.now, f, &r.out)
		frames = append(frames, r.sent()...)
		r.woken = append(r.woken, r.out.Wake...)
	}
	r.deliver(frames)
}

// advance moves the clock for both ends and runs their timers.
func (r *tcpRig) advance(d time.Duration) {
	r.t.Helper()
	r.now = r.now.Add(d)
	r.peerDo(func(out *tcp.Output) { r.peer.Poll(r.now, out) })
	r.run(func(out *Output) { r.h.Poll(r.now, out) })
}

// takeWoken reports whether ref was woken since the last call.
func (r *tcpRig) takeWoken(ref ConvRef) bool {
	ok := slices.Contains(r.woken, ref)
	r.woken = r.woken[:0]
	return ok
}

func (r *tcpRig) clone() ConvRef {
	r.t.Helper()
	ref, err := r.h.ConvClone(ProtoTCP)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

// ctl runs one command on the host; ErrWouldBlock is returned as is.
func (r *tcpRig) ctl(ref ConvRef, line string) error {
	r.t.Helper()
	cmds, err := ctl.ParseConv("tap0/tcp/ctl", []byte(line))
	if err != nil {
		r.t.Fatalf("%q: %v", line, err)
	}
	r.run(func(out *Output) { err = r.h.ConvCtl(r.now, ref, cmds[0], out) })
	return err
}

// connect connects ref to the peer's port and waits (by the rig's clock)
// for the outcome, as stack's loop does: retry after every wake-up.
func (r *tcpRig) connect(ref ConvRef, remote string) error {
	r.t.Helper()
	err := r.ctl(ref, "connect "+remote)
	for range 400 { // 200 s: SYN retries take 127
		if err != ErrWouldBlock {
			return err
		}
		if !r.takeWoken(ref) {
			r.advance(500 * time.Millisecond)
			continue
		}
		err = r.ctl(ref, "connect "+remote)
	}
	r.t.Fatalf("connect %s never ended", remote)
	return nil
}

func (r *tcpRig) write(ref ConvRef, data []byte) (int, error) {
	r.t.Helper()
	var n int
	var err error
	r.run(func(out *Output) { n, err = r.h.ConvWrite(r.now, ref, data, out) })
	return n, err
}

func (r *tcpRig) read(ref ConvRef, max int) ([]byte, error) {
	r.t.Helper()
	b := make([]byte, max)
	var n int
	var err error
	r.run(func(out *Output) { n, err = r.h.ConvRead(r.now, ref, b, out) })
	return b[:n], err
}

// peerListen makes the peer listen on port.
func (r *tcpRig) peerListen(port uint16) *tcp.Listener {
	r.t.Helper()
	l, err := r.peer.Listen(netip.AddrPortFrom(peerIP, port), 0, tcp.ConnOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return l
}

// peerRead reads all the peer's connection has.
func (r *tcpRig) peerRead(c *tcp.Conn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		var n int
		var err error
		r.peerDo(func(out *tcp.Output) { n, err = c.Read(r.now, buf, out) })
		got = append(got, buf[:n]...)
		if err != nil {
			if err == tcp.ErrWouldBlock {
				err = nil
			}
			return got, err
		}
	}
}

func TestTCPConnectTransferClose(t *testing.T) {
	r := newTCPRig(t)
	l := r.peerListen(80)
	ref := r.clone()
	if err := r.connect(ref, "192.168.69.100!80"); err != nil {
		t.Fatalf("connect: %v", err)
	}
	ci := info(t, r.h, ref)
	if ci.Remote != netip.MustParseAddrPort("192.168.69.100:80") || ci.Local.Addr() != hostIP || ci.Local.Port() < 49152 {
		t.Errorf("local %v remote %v", ci.Local, ci.Remote)
	}
	if !strings.HasPrefix(ci.Status, "Established sendq 0 recvq 0 srtt ") || !strings.Contains(ci.Status, " ttl 64 tos 0") {
		t.Errorf("status %q", ci.Status)
	}
	if err := r.ctl(ref, "connect 192.168.69.100!80"); !errors.Is(err, syscall.EISCONN) {
		t.Errorf("a second connect: %v, want EISCONN", err)
	}
	pc, err := l.Accept()
	if err != nil {
		t.Fatalf("peer accept: %v", err)
	}
	// Our bytes reach the peer whole, however the writes cut them.
	msg := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 kB: more than the send buffer
	sent := 0
	var got []byte
	for sent < len(msg) {
		n, err := r.write(ref, msg[sent:])
		if err != nil && err != ErrWouldBlock {
			t.Fatalf("write: %v", err)
		}
		sent += n
		b, _ := r.peerRead(pc)
		got = append(got, b...)
		if n == 0 && len(b) == 0 {
			r.advance(50 * time.Millisecond)
		}
	}
	for len(got) < len(msg) {
		b, _ := r.peerRead(pc)
		got = append(got, b...)
		r.advance(50 * time.Millisecond)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("the peer got %d bytes, not what was sent (%d)", len(got), len(msg))
	}
	// And the peer's reach us.
	r.peerDo(func(out *tcp.Output) { pc.Write(r.now, []byte("hello, host"), out) })
	if b, err := r.read(ref, 100); err != nil || string(b) != "hello, host" {
		t.Fatalf("read %q, %v", b, err)
	}
	if _, err := r.read(ref, 100); err != ErrWouldBlock {
		t.Fatalf("read of nothing: %v, want ErrWouldBlock", err)
	}
	// Half-close from us: the peer reads to EOF and can still write.
	if err := r.ctl(ref, "close"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := r.peerRead(pc); err != io.EOF {
		t.Fatalf("peer after our close: %v, want EOF", err)
	}
	if _, err := r.write(ref, []byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("write after close: %v, want EPIPE", err)
	}
	r.takeWoken(ref)
	r.peerDo(func(out *tcp.Output) { pc.Write(r.now, []byte("bye"), out); pc.Close(r.now, out) })
	if !r.takeWoken(ref) {
		t.Errorf("the peer's data and FIN did not wake %s", ref)
	}
	if b, err := r.read(ref, 100); err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v", b, err)
	}
	if _, err := r.read(ref, 100); err != io.EOF {
		t.Fatalf("read at the end: %v, want EOF", err)
	}
	if st := info(t, r.h, ref).Status; !strings.HasPrefix(st, "Time_wait ") {
		t.Errorf("status %q, want Time_wait", st)
	}
	// The last file closing frees the number at once: TIME_WAIT is the
	// engine's.
	r.run(func(out *Output) { r.h.ConvClose(r.now, ref, out) })
	if _, err := r.h.ConvInfo(ref); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("after the last close: %v", err)
	}
}

func TestTCPAnnounceListen(t *testing.T) {
	r := newTCPRig(t)
	a := r.clone()
	if err := r.ctl(a, "announce 7"); err != nil {
		t.Fatal(err)
	}
	if got := info(t, r.h, a); got.Local != netip.MustParseAddrPort("0.0.0.0:7") || !strings.HasPrefix(got.Status, "Listen calls 0 halfopen 0") {
		t.Errorf("announced: %+v", got)
	}
	b := r.clone()
	if err := r.ctl(b, "announce 192.168.69.1!7"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second announce of port 7: %v, want EADDRINUSE", err)
	}
	if _, err := r.h.ConvAccept(r.now, a, &r.out); err != ErrWouldBlock {
		t.Fatalf("listen with no call: %v", err)
	}
	var pc *tcp.Conn
	r.peerDo(func(out *tcp.Output) {
		var err error
		pc, err = r.peer.Connect(r.now, netip.AddrPortFrom(peerIP, 0), netip.MustParseAddrPort("192.168.69.1:7"), tcp.ConnOptions{}, out)
		if err != nil {
			t.Fatal(err)
		}
	})
	if pc.State() != tcp.StateEstablished || !r.takeWoken(a) {
		t.Fatalf("peer %s, listener woken %v", pc.State(), r.woken)
	}
	r.peerDo(func(out *tcp.Output) { pc.Write(r.now, []byte("ping"), out) })
	call, err := r.h.ConvAccept(r.now, a, &r.out)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if ci := info(t, r.h, call); ci.Remote != pc.Local() || ci.Local != netip.MustParseAddrPort("192.168.69.1:7") {
		t.Errorf("call %+v, peer %v", ci, pc.Local())
	}
	if got, err := r.read(call, 10); err != nil || string(got) != "ping" {
		t.Fatalf("call read %q, %v", got, err)
	}
	r.write(call, []byte("pong"))
	if got, _ := r.peerRead(pc); string(got) != "pong" {
		t.Fatalf("peer read %q", got)
	}
	// The call outlives the announcement; closing the announcement stops
	// new calls, which the peer hears as a reset.
	r.run(func(out *Output) { r.h.ConvClose(r.now, a, out) })
	r.peerDo(func(out *tcp.Output) {
		r.peer.Connect(r.now, netip.AddrPortFrom(peerIP, 0), netip.MustParseAddrPort("192.168.69.1:7"), tcp.ConnOptions{}, out)
	})
	if n := r.h.tcp.t.Stats().OutRsts; n != 1 {
		t.Errorf("RSTs sent after the announcement went: %d, want 1", n)
	}
	if _, err := r.write(call, []byte("still here")); err != nil {
		t.Errorf("call after its announcement went: %v", err)
	}
}

func TestTCPConnectRefusedUnreachableTimedOut(t *testing.T) {
	r := newTCPRig(t)
	ref := r.clone()
	err := r.connect(ref, "192.168.69.100!81")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to a closed port: %v, want ECONNREFUSED", err)
	}
	if got := info(t, r.h, ref).Err; got != "connection refused" {
		t.Errorf("err %q", got)
	}
	// A neighbour that never answers ARP: No route to host, after ARP's
	// retries.
	ref2 := r.clone()
	if err := r.connect(ref2, "192.168.69.7!80"); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("connect to a silent neighbour: %v, want EHOSTUNREACH", err)
	}
	// A peer that answers ARP but drops every segment: timed out.
	r.drop = func([]byte) bool { return true }
	ref3 := r.clone()
	start := r.now
	if err := r.connect(ref3, "192.168.69.100!80"); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("connect to a silent peer: %v, want ETIMEDOUT", err)
	}
	if d := r.now.Sub(start); d < 60*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if n := r.h.tcp.t.Stats().AttemptFails; n != 3 {
		t.Errorf("AttemptFails %d, want 3", n)
	}
	if err := r.ctl(r.clone(), "connect 10.0.0.1!80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("connect off the subnets: %v, want ENETUNREACH", err)
	}
}

// TestTCPClosedPortGetsRST: a SYN to a port nobody announced is answered
// with a RST, and counted as a segment TCP took.
func TestTCPClosedPortGetsRST(t *testing.T) {
	r := newTCPRig(t)
	syn := wire.TCPRepr{SrcPort: 40000, DstPort: 9, Seq: 1000, Flags: wire.TCPFlagSYN, Window: 1000}
	seg := syn.Append(nil)
	wire.SetTCPChecksum(seg, nil, peerIP, hostIP)
	r.learnPeer()
	sent := r.recv(tcpFrame(peerIP, hostIP, seg))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames, want the RST", len(sent))
	}
	var rst wire.TCPRepr
	if _, err := wire.ParseTCP(sent[0][wire.EthHeaderLen+wire.IPv4MinLen:wire.EthHeaderLen+wire.IPv4MinLen+wire.TCPMinLen], &rst); err != nil || rst.Flags != wire.TCPFlagRST|wire.TCPFlagACK || rst.Ack != 1001 {
		t.Fatalf("answer %+v: %v", rst, err)
	}
	// A bad checksum, a broadcast and a segment in a link-layer broadcast
	// are dropped, each counted once.
	bad := slices.Clone(seg)
	bad[wire.TCPChecksumOff] ^= 1
	if sent := r.recv(tcpFrame(peerIP, hostIP, bad)); len(sent) != 0 {
		t.Errorf("a bad checksum was answered")
	}
	bcast := tcpFrame(peerIP, hostIP, seg)
	copy(bcast, wire.BroadcastMAC[:])
	if sent := r.recv(bcast); len(sent) != 0 {
		t.Errorf("a SYN in a broadcast frame was answered")
	}
	seg2 := syn.Append(nil)
	from := netip.MustParseAddr("192.168.69.255")
	wire.SetTCPChecksum(seg2, nil, from, hostIP)
	if sent := r.recv(tcpFrame(from, hostIP, seg2)); len(sent) != 0 {
		t.Errorf("a SYN from the broadcast address was answered")
	}
	r.wantStats(map[Counter]uint64{TCPRx: 1, TCPRxBad: 1, TCPRxNotUnicast: 2, TCPTx: 1})
}

// TestTCPFlowControl: a reader that stops reading closes the window, the
// peer's data waits on its side (nothing we acknowledged is dropped);
// reading opens it again; a peer that stops reading makes our writes
// block, and its reading wakes them.
func TestTCPFlowControl(t *testing.T) {
	r := newTCPRig(t)
	l := r.peerListen(9)
	ref := r.clone()
	if err := r.connect(ref, "192.168.69.100!9"); err != nil {
		t.Fatal(err)
	}
	pc, _ := l.Accept()
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i * 7 / 13)
	}
	queued := 0
	r.peerDo(func(out *tcp.Output) { queued, _ = pc.Write(r.now, msg, out) })
	for range 20 {
		r.advance(300 * time.Millisecond)
	}
	buffered := r.h.tcp.t.Config().RecvBuffer
	st := info(t, r.h, ref).Status
	if !strings.Contains(st, " rcvwnd 0 ") || !strings.Contains(st, " recvq "+strconv.Itoa(buffered)+" ") {
		t.Fatalf("a reader that does not read: %q, want recvq %d and a closed window", st, buffered)
	}
	var got []byte
	for len(got) < len(msg) {
		if queued < len(msg) {
			n := 0
			r.peerDo(func(out *tcp.Output) { n, _ = pc.Write(r.now, msg[queued:], out) })
			queued += n
		}
		b, err := r.read(ref, 100000)
		if err == ErrWouldBlock {
			r.advance(200 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the bytes read differ from those sent")
	}
	// The other way: the peer does not read; we write until the window
	// and our send buffer are full, and then writes wait.
	total := 0
	for {
		n, err := r.write(ref, msg)
		total += n
		if err == ErrWouldBlock {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r.advance(300 * time.Millisecond)
	}
	// A write that must be taken whole (a file server answers it for all
	// its bytes at once) takes nothing while the room is short.
	var whole int
	var werr error
	r.run(func(out *Output) { whole, werr = r.h.ConvWriteWhole(r.now, ref, []byte("x"), out) })
	if whole != 0 || werr != ErrWouldBlock {
		t.Fatalf("a whole write to a full send buffer: %d, %v", whole, werr)
	}
	r.takeWoken(ref)
	if _, err := r.peerRead(pc); err != nil {
		t.Fatal(err)
	}
	if !r.takeWoken(ref) {
		t.Fatalf("the peer's reading did not wake the writer (%d bytes written)", total)
	}
	if n, err := r.write(ref, msg); err != nil || n == 0 {
		t.Fatalf("write after the peer read: %d, %v", n, err)
	}
}

// TestTCPReleaseWhileClosing: the last file closing with data still to
// send leaves the connection to finish on its own; the conversation's
// number stays taken until it has, then is freed and woken.
func TestTCPReleaseWhileClosing(t *testing.T) {
	r := newTCPRig(t)
	l := r.peerListen(9)
	ref := r.clone()
	if err := r.connect(ref, "192.168.69.100!9"); err != nil {
		t.Fatal(err)
	}
	pc, _ := l.Accept()
	data := make([]byte, 200000)
	n, _ := r.write(ref, data)
	r.run(func(out *Output) { r.h.ConvClose(r.now, ref, out) })
	if len(r.h.tcp.closing) != 1 {
		t.Fatalf("closing conversations: %d, want 1 (%d bytes were written)", len(r.h.tcp.closing), n)
	}
	if got := r.h.Convs(ProtoTCP); len(got) != 0 {
		t.Errorf("a closing conversation is listed: %v", got)
	}
	var got []byte
	for range 100 {
		b, err := r.peerRead(pc)
		got = append(got, b...)
		if err == io.EOF {
			break
		}
		r.advance(100 * time.Millisecond)
	}
	if len(got) != n {
		t.Fatalf("the peer read %d bytes, %d were written", len(got), n)
	}
	r.takeWoken(ref)
	r.peerDo(func(out *tcp.Output) { pc.Close(r.now, out) })
	if len(r.h.tcp.closing) != 0 || r.h.conv.n != 0 {
		t.Fatalf("after the peer's FIN: %d closing, %d conversations", len(r.h.tcp.closing), r.h.conv.n)
	}
	if !r.takeWoken(ref) {
		t.Errorf("freeing %s did not wake it", ref)
	}
	// Closing with unread data resets, as a socket's close does.
	ref2 := r.clone()
	if err := r.connect(ref2, "192.168.69.100!9"); err != nil {
		t.Fatal(err)
	}
	pc2, _ := l.Accept()
	r.peerDo(func(out *tcp.Output) { pc2.Write(r.now, []byte("unread"), out) })
	r.run(func(out *Output) { r.h.ConvClose(r.now, ref2, out) })
	if pc2.State() != tcp.StateClosed || !errors.Is(pc2.Err(), syscall.ECONNRESET) || r.h.conv.n != 0 {
		t.Errorf("peer %s %v; %d conversations", pc2.State(), pc2.Err(), r.h.conv.n)
	}
}

func TestTCPHangupAndOptions(t *testing.T) {
	r := newTCPRig(t)
	l := r.peerListen(9)
	ref := r.clone()
	for _, cmd := range []string{"nodelay on", "keepalive 10", "ttl 9", "tos 16"} {
		if err := r.ctl(ref, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	if err := r.connect(ref, "192.168.69.100!9"); err != nil {
		t.Fatal(err)
	}
	pc, _ := l.Accept()
	if r.lastIP.TTL != 9 || r.lastIP.TOS != 16 {
		t.Errorf("segments go with TTL %d, TOS %d; want 9 and 16", r.lastIP.TTL, r.lastIP.TOS)
	}
	// Keepalive after 10 s of quiet: the peer answers the probe.
	segs := r.segsIn
	r.advance(11 * time.Second)
	if r.segsIn == segs {
		t.Error("no keepalive probe after 10 s")
	}
	if err := r.ctl(ref, "hangup"); err != nil {
		t.Fatal(err)
	}
	if pc.State() != tcp.StateClosed || !errors.Is(pc.Err(), syscall.ECONNRESET) {
		t.Errorf("peer after hangup: %s %v", pc.State(), pc.Err())
	}
	if _, err := r.read(ref, 10); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("read after hangup: %v", err)
	}
	if err := r.ctl(ref, "close"); err != nil {
		t.Errorf("close after hangup: %v", err)
	}
	if err := r.ctl(r.clone(), "close"); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("close of an idle conversation: %v", err)
	}
	if got := info(t, r.h, ref).Status; !strings.HasPrefix(got, "Closed ") || !strings.HasSuffix(got, " ttl 9 tos 16") {
		t.Errorf("status %q", got)
	}
}

// TestTCPThroughRoute: a connection to an address off the subnets goes
// through the gateway of its route, the peer here.
func TestTCPThroughRoute(t *testing.T) {
	r := newTCPRig(t)
	r.mustExec("tap0/ctl", "route add 10.0.0.0/8 192.168.69.100")
	far := netip.MustParseAddrPort("10.1.2.3:80")
	l, err := r.peer.Listen(far, 0, tcp.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := r.clone()
	if err := r.connect(ref, "10.1.2.3!80"); err != nil {
		t.Fatalf("connect through the route: %v", err)
	}
	if _, err := l.Accept(); err != nil {
		t.Fatalf("peer: %v", err)
	}
	if ci := info(t, r.h, ref); ci.Local.Addr() != hostIP || ci.Remote != far {
		t.Errorf("local %v remote %v", ci.Local, ci.Remote)
	}
}

func TestTCPStats(t *testing.T) {
	r := newTCPRig(t)
	r.peerListen(9)
	ref := r.clone()
	if err := r.connect(ref, "192.168.69.100!9"); err != nil {
		t.Fatal(err)
	}
	b, err := r.h.AppendProtoStats(nil, ProtoTCP)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conversations 1\n", "ActiveOpens 1\n", "CurrEstab 1\n", "InSegs 1\n", "OutSegs 2\n", "tcp_rx 1\n", "tcp_tx 2\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("stats lack %q:\n%s", want, b)
		}
	}
}

// TestTCPConfirmsNeighbour: segments of a connection confirm its
// neighbour, so that a busy connection's ARP entry does not expire under
// it (its segments would wait for a new resolution, or be dropped).
func TestTCPConfirmsNeighbour(t *testing.T) {
	r := newTCPRig(t)
	l := r.peerListen(7)
	ref := r.clone()
	if err := r.connect(ref, "192.168.69.100!7"); err != nil {
		t.Fatal(err)
	}
	pc, _ := l.Accept()
	requests := r.stat(ARPTxRequest)
	for range 30 { // 150 s: more than two ARP timeouts
		r.advance(5 * time.Second)
		r.peerDo(func(out *tcp.Output) { pc.Write(r.now, []byte("ping"), out) })
		if b, err := r.read(ref, 10); err != nil || string(b) != "ping" {
			t.Fatalf("read %q, %v", b, err)
		}
	}
	if n := r.stat(ARPTxRequest) - requests; n != 0 {
		t.Errorf("%d ARP requests for a neighbour whose segments keep coming", n)
	}
	if e, ok := r.entry(peerIP); !ok || e.State != Reachable {
		t.Errorf("the peer's entry: %+v, %v", e, ok)
	}
}
