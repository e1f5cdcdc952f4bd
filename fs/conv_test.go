package fs

import (
	"encoding/binary"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"github.com/knusbaum/go9p/proto"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
)

// hangGuard bounds the waits for what must happen: it only ends a test that
// would otherwise hang, and no load on the machine reaches it.
const hangGuard = time.Minute

// udpFromPeer is a datagram from the peer's port sport to the host's dport.
func udpFromPeer(sport, dport uint16, payload string) []byte {
	b := wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	u := wire.UDPRepr{SrcPort: sport, DstPort: dport, Payload: []byte(payload)}
	b = wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoUDP, TTL: 64, PayloadLen: u.Len()}.Append(b)
	return wire.PadFrame(u.Append(b, peerIP, hostIP))
}

// sentUDP waits for the host to send a datagram to the peer's port dport
// and returns its source port and data.
func (e *env) sentUDP(t *testing.T, dport uint16) (uint16, string) {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		select {
		case f := <-e.peer("tap0").frames:
			eth, err := wire.ParseEthernet(f)
			if err != nil || eth.Type != wire.EtherTypeIPv4 {
				continue
			}
			ip, err := wire.NewIPv4Packet(f[wire.EthHeaderLen:])
			if err != nil || ip.Protocol() != wire.ProtoUDP {
				continue
			}
			u, err := wire.ParseUDP(ip.Payload(), ip.Src(), ip.Dst())
			if err != nil {
				t.Fatalf("the host sent a bad datagram: %v", err)
			}
			if u.DstPort == dport {
				return u.SrcPort, string(u.Payload)
			}
		case <-deadline:
			t.Fatalf("no datagram to port %d", dport)
		}
	}
}

// knowPeer has the host learn the peer's hardware address, so that what it
// sends to the peer goes out at once.
func (e *env) knowPeer(t *testing.T) {
	t.Helper()
	e.inject("tap0", arpRequest())
	select {
	case <-e.peer("tap0").frames:
	case <-time.After(hangGuard):
		t.Fatal("no ARP reply")
	}
}

func (e *env) udpConvs(t testing.TB) []netcore.ConvRef {
	h, _ := e.st.Host("tap0")
	return h.Convs(netcore.ProtoUDP)
}

func readL(t *testing.T, f p9.File, n int) string {
	t.Helper()
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:got])
}

func TestConvUDPOverL(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	_, root := e.dialL(t)
	if got := readdirNames(t, root, "tap0", "udp"); !slices.Equal(got, []string{"clone", "stats"}) {
		t.Errorf("udp lists %v", got)
	}
	_, cloneFile, err := root.Walk([]string{"tap0", "udp", "clone"})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := cloneFile.Open(p9.ReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	ctl := cloneFile
	if got := readL(t, ctl, 100); got != "0\n" {
		t.Fatalf("clone reads %q, want \"0\\n\"", got)
	}
	ctlQids, _, err := root.Walk([]string{"tap0", "udp", "0", "ctl"})
	if err != nil {
		t.Fatal(err)
	}
	if ctlQids[3] != q {
		t.Errorf("the clone open's qid %v is not 0/ctl's %v", q, ctlQids[3])
	}
	if _, err := ctl.WriteAt([]byte("connect 192.168.69.100!7\n"), 0); err != nil {
		t.Fatal(err)
	}
	data := walkOpen(t, root, p9.ReadWrite, "tap0", "udp", "0", "data")
	if _, err := data.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	port, got := e.sentUDP(t, 7)
	if got != "hello" {
		t.Errorf("sent %q", got)
	}
	e.inject("tap0", udpFromPeer(7, port, "world"))
	if got := readL(t, data, 8192); got != "world" {
		t.Errorf("data reads %q", got)
	}
	for file, want := range map[string]string{
		"local":  "192.168.69.1!" + itoa(port) + "\n",
		"remote": "192.168.69.100!7\n",
		"err":    "",
	} {
		if got := readAllL(t, root, "tap0", "udp", "0", file); got != want {
			t.Errorf("%s reads %q, want %q", file, got, want)
		}
	}
	if got := readAllL(t, root, "tap0", "udp", "0", "status"); !strings.HasPrefix(got, "Open rxq 0 ") {
		t.Errorf("status reads %q", got)
	}
	if got := readAllL(t, root, "tap0", "udp", "stats"); !strings.Contains(got, "conversations 1\n") || !strings.Contains(got, "udp_rx 1\n") {
		t.Errorf("udp/stats reads %q", got)
	}
	if got := readdirNames(t, root, "tap0", "udp", "0"); !slices.Equal(got, []string{"ctl", "data", "listen", "local", "remote", "status", "err"}) {
		t.Errorf("udp/0 lists %v", got)
	}
	// A bad command: EINVAL, its words in err.
	if _, err := ctl.WriteAt([]byte("connect nowhere"), 0); errnoOfL(err) != syscall.EINVAL {
		t.Errorf("bad connect: %v", err)
	}
	if got := readAllL(t, root, "tap0", "udp", "0", "err"); !strings.Contains(got, "bad address") {
		t.Errorf("err after a bad command: %q", got)
	}
	// The conversation lives while any of its files is open.
	ctl.Close()
	if n := len(e.udpConvs(t)); n != 1 {
		t.Fatalf("%d conversations with data still open", n)
	}
	data.Close()
	if n := len(e.udpConvs(t)); n != 0 {
		t.Fatalf("%d conversations after the last file closed", n)
	}
	if qids, _, err := root.Walk([]string{"tap0", "udp", "0"}); err == nil && len(qids) == 3 {
		t.Errorf("walk to the gone conversation: %v", qids)
	}
	if _, _, err := root.Walk([]string{"0"}); errnoOfL(err) != syscall.ENOENT {
		t.Errorf("walk to a number at the root: %v", err)
	}
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }

func TestConvUDPListenOverL(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	_, root := e.dialL(t)
	ctl := walkOpen(t, root, p9.ReadWrite, "tap0", "udp", "clone")
	if _, err := ctl.WriteAt([]byte("announce *!7"), 0); err != nil {
		t.Fatal(err)
	}
	if got := readAllL(t, root, "tap0", "udp", "0", "local"); got != "0.0.0.0!7\n" {
		t.Errorf("an announced conversation's local: %q", got)
	}
	type opened struct {
		f   p9.File
		err error
	}
	got := make(chan opened, 1)
	go func() {
		_, f, err := root.Walk([]string{"tap0", "udp", "0", "listen"})
		if err == nil {
			_, _, err = f.Open(p9.ReadWrite)
		}
		got <- opened{f, err}
	}()
	select {
	case o := <-got:
		t.Fatalf("listen opened with no call: %v", o.err)
	case <-time.After(50 * time.Millisecond):
	}
	e.inject("tap0", udpFromPeer(4000, 7, "ping"))
	var call p9.File
	select {
	case o := <-got:
		if o.err != nil {
			t.Fatal(o.err)
		}
		call = o.f
	case <-time.After(hangGuard):
		t.Fatal("listen did not open for a call")
	}
	if n := readL(t, call, 100); n != "1\n" {
		t.Fatalf("the call's ctl reads %q", n)
	}
	if got := readAllL(t, root, "tap0", "udp", "1", "remote"); got != "192.168.69.100!4000\n" {
		t.Errorf("the call's remote: %q", got)
	}
	data := walkOpen(t, root, p9.ReadWrite, "tap0", "udp", "1", "data")
	if got := readL(t, data, 8192); got != "ping" {
		t.Errorf("the call's first datagram: %q", got)
	}
	if _, err := data.WriteAt([]byte("pong"), 0); err != nil {
		t.Fatal(err)
	}
	if port, got := e.sentUDP(t, 4000); port != 7 || got != "pong" {
		t.Errorf("reply from port %d: %q", port, got)
	}
	call.Close()
	data.Close()
	if refs := e.udpConvs(t); len(refs) != 1 || refs[0].N != 0 {
		t.Errorf("after the call's files closed: %v", refs)
	}
}

// convSession is a raw session of either dialect with fid 1 open on a new
// UDP conversation's ctl (by clone), connected to the peer's port 7.
func (e *env) convSession(t *testing.T, l bool, cmd string) rawSession {
	t.Helper()
	var s rawSession
	if l {
		r := e.sessionL(t)
		r.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(3), "tap0", "udp", "clone"))
		r.expect(lRwalk, 2)
		r.send(lmsgBytes(lTlopen, 3, uint32(1), uint32(2)))
		r.expect(lRlopen, 3)
		r.send(lmsgBytes(lTwrite, 4, uint32(1), uint64(0), uint32(len(cmd)), []byte(cmd)))
		r.expect(lRwrite, 4)
		s = rawSession{r, true}
	} else {
		r := e.session9P(t, "glenda")
		if fc := r.walkOpen(1, proto.Ordwr, "tap0", "udp", "clone"); rerr(fc) != "" {
			t.Fatal(rerr(fc))
		}
		if fc := r.call(&proto.TWrite{Header: hdr(proto.Twrite, 4), Fid: 1, Count: uint32(len(cmd)), Data: []byte(cmd)}); rerr(fc) != "" {
			t.Fatal(rerr(fc))
		}
		s = rawSession{r, false}
	}
	return s
}

// walkOpenFid walks fid 0 to newfid along path and opens it read-write,
// with tag 5 for the open (which may wait: the caller reads its reply).
func (s rawSession) walkOpenFid(t *testing.T, newfid uint32, path ...string) {
	t.Helper()
	if s.l {
		b := lmsgBytes(lTwalk, 2, uint32(0), newfid, uint16(len(path)))
		for _, p := range path {
			b = appendString(b[:len(b):len(b)], p)
		}
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		s.send(b)
		s.expect(lRwalk, 2)
		s.send(lmsgBytes(lTlopen, 5, newfid, uint32(2)))
		return
	}
	rw := s.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: newfid, Nwname: uint16(len(path)), Wname: path})
	if _, ok := rw.(*proto.RWalk); !ok {
		t.Fatalf("walk %v: %s", path, rerr(rw))
	}
	s.send((&proto.TOpen{Header: hdr(proto.Topen, 5), Fid: newfid, Mode: proto.Ordwr}).Compose())
}

func (s rawSession) treadFid(tag uint16, fid, count uint32) {
	if s.l {
		s.send(lmsgBytes(lTread, tag, fid, uint64(0), count))
	} else {
		s.send((&proto.TRead{Header: hdr(proto.Tread, tag), Fid: fid, Count: count}).Compose())
	}
}

// expectFlushed sends Tflush for old and wants Rflush at once and nothing
// for old afterwards.
func (s rawSession) expectFlushed(t *testing.T, tag, old uint16) {
	t.Helper()
	s.tflush(tag, old)
	m, err := s.recv(hangGuard)
	if err != nil || m[4] != msgRflush || binary.LittleEndian.Uint16(m[5:]) != tag {
		t.Fatalf("after Tflush of %d: %x, %v", old, m, err)
	}
}

// Tflush of a blocked data read and of a blocked listen open: Rflush at
// once, no reply to the flushed tag, and nothing left over: the
// conversation of the data file lives on, the listen took no call.
func TestConvFlush(t *testing.T) {
	for _, l := range []bool{false, true} {
		t.Run(dialectName(l), func(t *testing.T) {
			e := newEnv(t)
			e.knowPeer(t)
			s := e.convSession(t, l, "connect 192.168.69.100!7 5000")
			s.walkOpenFid(t, 2, "tap0", "udp", "0", "data")
			if m, err := s.recv(hangGuard); err != nil || binary.LittleEndian.Uint16(m[5:]) != 5 || (m[4] != lRlopen && m[4] != proto.Ropen) {
				t.Fatalf("open data: %x, %v", m, err)
			}
			s.treadFid(10, 2, 8192)
			if m, err := s.recv(50 * time.Millisecond); err == nil {
				t.Fatalf("a data read with nothing queued answered %x", m)
			}
			s.expectFlushed(t, 11, 10)
			e.inject("tap0", udpFromPeer(7, 5000, "after"))
			if m, err := s.recv(200 * time.Millisecond); err == nil {
				t.Fatalf("after Rflush the server sent %x", m)
			}
			s.treadFid(10, 2, 8192)
			m, err := s.recv(hangGuard)
			if err != nil || binary.LittleEndian.Uint16(m[5:]) != 10 || !strings.HasSuffix(string(m), "after") {
				t.Fatalf("the read after the flush: %x, %v", m, err)
			}

			// A listen open waiting for a call.
			s2 := e.convSession(t, l, "announce 9")
			s2.walkOpenFid(t, 3, "tap0", "udp", "1", "listen")
			if m, err := s2.recv(50 * time.Millisecond); err == nil {
				t.Fatalf("listen opened with no call: %x", m)
			}
			s2.expectFlushed(t, 12, 5)
			e.inject("tap0", udpFromPeer(4000, 9, "call"))
			if m, err := s2.recv(200 * time.Millisecond); err == nil {
				t.Fatalf("after Rflush the server sent %x", m)
			}
			// The call waits in the queue for the next listen.
			s2.walkOpenFid(t, 4, "tap0", "udp", "1", "listen")
			if m, err := s2.recv(hangGuard); err != nil || binary.LittleEndian.Uint16(m[5:]) != 5 || (m[4] != lRlopen && m[4] != proto.Ropen) {
				t.Fatalf("second listen: %x, %v", m, err)
			}
			if got := len(e.udpConvs(t)); got != 3 {
				t.Errorf("%d conversations, want the two and the call", got)
			}
		})
	}
}

// A client that vanishes (no clunks, reads and a listen still waiting)
// frees the conversations it held.
func TestConvVanishedClient(t *testing.T) {
	e := newEnv(t)
	s := e.convSession(t, true, "connect 192.168.69.100!7")
	s.walkOpenFid(t, 2, "tap0", "udp", "0", "data")
	s.expect(lRlopen, 5)
	s.treadFid(10, 2, 8192)
	s2 := e.convSession(t, true, "announce 7")
	s2.walkOpenFid(t, 3, "tap0", "udp", "1", "listen")
	if got := len(e.udpConvs(t)); got != 2 {
		t.Fatalf("%d conversations", got)
	}
	before := goroutines()
	s.nc.Close()
	s2.nc.Close()
	if !waitFor(hangGuard, func() bool { return len(e.udpConvs(t)) == 0 }) {
		t.Fatalf("conversations left after the client vanished: %v", e.udpConvs(t))
	}
	if !waitFor(hangGuard, func() bool { return goroutines() < before-1 }) {
		t.Errorf("goroutines: %d before the disconnect, %d after", before, goroutines())
	}
	// The port is free again.
	s3 := e.convSession(t, true, "announce 7")
	_ = s3
}

// The 9P2000 dialect: clone, read the number, connect, and the qid of the
// open is the new conversation's ctl.
func TestConvUDPOver9P(t *testing.T) {
	e := newEnv(t)
	r := e.session9P(t, "glenda")
	fc := r.walkOpen(1, proto.Ordwr, "tap0", "udp", "clone")
	ro, ok := fc.(*proto.ROpen)
	if !ok {
		t.Fatalf("open clone: %s", rerr(fc))
	}
	if got := r.readAll(1); got != "0\n" {
		t.Errorf("clone reads %q", got)
	}
	rw := r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 2, Nwname: 4, Wname: []string{"tap0", "udp", "0", "ctl"}})
	if w, ok := rw.(*proto.RWalk); !ok || w.Wqid[3] != ro.Qid {
		t.Errorf("the clone open's qid %v is not 0/ctl's %v", ro.Qid, rw)
	}
	if fc := r.call(&proto.TWrite{Header: hdr(proto.Twrite, 4), Fid: 1, Count: 6, Data: []byte("frob 1")}); rerr(fc) != `tap0/udp/0/ctl: line 1: "frob 1": unknown command: "frob" (connect, announce, close, hangup, keepalive, nodelay, ttl, tos)` {
		t.Errorf("a bad command says %q", rerr(fc))
	}
	r.clunk(1)
	if got := len(e.udpConvs(t)); got != 0 {
		t.Errorf("%d conversations after the clone fid was clunked", got)
	}
}

// The bounds through the files: 4096 conversations per host (ENOSPC for
// the next clone), and a receive queue that drops and counts what does not
// fit.
func TestConvBounds(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	_, root := e.dialL(t)
	var ctls []p9.File
	for range netcore.MaxConvs {
		_, f, err := root.Walk([]string{"tap0", "udp", "clone"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Open(p9.ReadWrite); err != nil {
			t.Fatalf("clone %d: %v", len(ctls), err)
		}
		ctls = append(ctls, f)
	}
	_, f, err := root.Walk([]string{"tap0", "udp", "clone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Open(p9.ReadWrite); errnoOfL(err) != syscall.ENOSPC {
		t.Fatalf("clone %d: %v, want ENOSPC", netcore.MaxConvs+1, err)
	}
	f.Close()
	for _, c := range ctls[1:] {
		c.Close()
	}
	if got := len(e.udpConvs(t)); got != 1 {
		t.Fatalf("%d conversations left, want 1", got)
	}

	ctl := ctls[0]
	if _, err := ctl.WriteAt([]byte("connect 192.168.69.100!7 5000"), 0); err != nil {
		t.Fatal(err)
	}
	const sent = netcore.ConvRecvQueue + 40
	for i := range sent {
		e.inject("tap0", udpFromPeer(7, 5000, strconv.Itoa(i)))
	}
	h, _ := e.st.Host("tap0")
	counted := func() uint64 {
		s := h.Snapshot().Stats
		return s[netcore.UDPRx] + s[netcore.UDPRxQueueFull]
	}
	if !waitFor(hangGuard, func() bool { return counted() == sent }) {
		t.Fatalf("%d of %d datagrams counted", counted(), sent)
	}
	if got := readAllL(t, root, "tap0", "udp", "0", "status"); !strings.Contains(got, " rxq 512 ") || !strings.Contains(got, " drops 40 ") {
		t.Errorf("status %q, want rxq 512 and drops 40", got)
	}
	if got := readAllL(t, root, "tap0", "udp", "stats"); !strings.Contains(got, "udp_rx_queue_full 40\n") {
		t.Errorf("udp/stats %q", got)
	}
	data := walkOpen(t, root, p9.ReadWrite, "tap0", "udp", "0", "data")
	defer data.Close()
	for i := range netcore.ConvRecvQueue {
		if got := readL(t, data, 100); got != strconv.Itoa(i) {
			t.Fatalf("datagram %d reads %q", i, got)
		}
	}
	ctl.Close()
}
