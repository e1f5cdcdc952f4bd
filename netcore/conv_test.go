package netcore

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/netcore/wire"
)

// udpFrame builds a UDP datagram from the peer (or src) to us.
func udpFrame(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	u := wire.UDPRepr{SrcPort: sport, DstPort: dport, Payload: payload}
	b = wire.IPv4Repr{Src: src, Dst: dst, Protocol: wire.ProtoUDP, TTL: 64, ID: 9, PayloadLen: u.Len()}.Append(b)
	b = u.Append(b, src, dst)
	return wire.PadFrame(b)
}

// fromPeer is a datagram from the peer's port sport to our port dport.
func fromPeer(sport, dport uint16, payload string) []byte {
	return udpFrame(peerIP, sport, hostIP, dport, []byte(payload))
}

func (th *harness) clone() ConvRef {
	th.t.Helper()
	ref, err := th.h.ConvClone(ProtoUDP)
	if err != nil {
		th.t.Fatal(err)
	}
	return ref
}

// ctl runs one conversation command.
func (th *harness) ctl(ref ConvRef, line string) ([][]byte, error) {
	th.t.Helper()
	cmds, err := ctl.ParseConv("tap0/udp/ctl", []byte(line))
	if err != nil {
		return nil, err
	}
	th.out.Reset()
	for _, c := range cmds {
		if err = th.h.ConvCtl(th.now, ref, c, &th.out); err != nil {
			break
		}
	}
	return th.sent(), err
}

func (th *harness) mustCtl(ref ConvRef, line string) {
	th.t.Helper()
	if _, err := th.ctl(ref, line); err != nil {
		th.t.Fatalf("%s: %q: %v", ref, line, err)
	}
}

// read reads one datagram, or fails the test.
func (th *harness) read(ref ConvRef) string {
	th.t.Helper()
	b := make([]byte, 70000)
	n, err := th.h.ConvRead(th.now, ref, b, &th.out)
	if err != nil {
		th.t.Fatalf("read %s: %v", ref, err)
	}
	return string(b[:n])
}

func (th *harness) write(ref ConvRef, data string) ([][]byte, error) {
	th.t.Helper()
	th.out.Reset()
	_, err := th.h.ConvWrite(th.now, ref, []byte(data), &th.out)
	return th.sent(), err
}

// learnPeer lets the host learn the peer's MAC, so that datagrams to it go
// out at once.
func (th *harness) learnPeer() {
	th.t.Helper()
	th.recv(whoHas(hostIP))
}

func info(t *testing.T, h *Host, ref ConvRef) ConvInfo {
	t.Helper()
	ci, err := h.ConvInfo(ref)
	if err != nil {
		t.Fatalf("info %s: %v", ref, err)
	}
	return ci
}

// checkConvs checks what must hold of the conversation tables after any
// call: the count, the bounds, and UDP's maps agree with the conversations.
func checkConvs(t testing.TB, h *Host) {
	t.Helper()
	n := 0
	for p, tab := range h.conv.tables {
		if tab == nil {
			continue
		}
		for i, c := range tab.convs {
			if c == nil {
				continue
			}
			n++
			if c.ref.Proto != Proto(p) || c.ref.N != i {
				t.Errorf("conversation %v in slot %s/%d", c.ref, Proto(p), i)
			}
			if c.rq.len() > ConvRecvQueue || c.rq.bytes > ConvRecvBytes || len(c.calls) > ConvBacklog {
				t.Errorf("%s over its bounds: %d datagrams, %d bytes, %d calls", c.ref, c.rq.len(), c.rq.bytes, len(c.calls))
			}
			if c.refs == 0 && c.parent == nil && h.tcp.closing[c.tcp.conn] != c {
				t.Errorf("%s has no reference and is in no listen queue, and no connection of it is closing", c.ref)
			}
		}
		m := 0
		for _, c := range tab.convs {
			if c != nil {
				m++
			}
		}
		if m != tab.n || m > tab.limit {
			t.Errorf("%s: %d conversations, counted %d (bound %d)", Proto(p), m, tab.n, tab.limit)
		}
	}
	if n != h.conv.n {
		t.Errorf("%d conversations, counted %d", n, h.conv.n)
	}
	for cn, c := range h.tcp.closing {
		if c.refs != 0 || c.tcp.conn != cn || cn.User() != nil {
			t.Errorf("%s is closing with %d references", c.ref, c.refs)
		}
		if st := cn.State(); st == tcp.StateClosed || st == tcp.StateTimeWait {
			t.Errorf("%s is kept for its connection, which is %s", c.ref, st)
		}
	}
	queued := 0
	for _, tab := range h.conv.tables {
		if tab == nil {
			continue
		}
		for _, c := range tab.convs {
			if c != nil {
				for _, d := range c.rq.q[c.rq.head:] {
					queued += cap(d)
				}
			}
		}
	}
	if queued != h.conv.queued || queued > ConvHostQueued {
		t.Errorf("receive queues hold %d bytes, counted %d (bound %d)", queued, h.conv.queued, ConvHostQueued)
	}
	u := h.udp
	ports := map[uint16]int{}
	for k, c := range u.conns {
		if c.state != convOpen || c.local != k.local || c.remote != k.remote {
			t.Errorf("conns[%v] is %s, %v %v -> %v", k, c.ref, c.state, c.local, c.remote)
		}
		ports[k.local.Port()]++
	}
	for p, l := range u.listeners {
		for _, c := range l {
			if c.state != convAnnounced || c.local.Port() != p {
				t.Errorf("listeners[%d] holds %s, %v on %v", p, c.ref, c.state, c.local)
			}
			ports[p]++
		}
	}
	if !mapsEqual(ports, u.ports) {
		t.Errorf("port use %v, counted %v", ports, u.ports)
	}
}

func mapsEqual(a, b map[uint16]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestConvNumbering(t *testing.T) {
	th := newHarness(t)
	a, b, c := th.clone(), th.clone(), th.clone()
	if a.N != 0 || b.N != 1 || c.N != 2 {
		t.Fatalf("clones numbered %d %d %d, want 0 1 2", a.N, b.N, c.N)
	}
	if err := th.h.ConvOpen(b); err != nil {
		t.Fatal(err)
	}
	th.h.ConvClose(th.now, b, &th.out)
	if _, err := th.h.ConvInfo(b); err != nil {
		t.Fatalf("%s gone while a reference is left: %v", b, err)
	}
	th.h.ConvClose(th.now, b, &th.out)
	if _, err := th.h.ConvInfo(b); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("%s after its last close: %v, want ENOENT", b, err)
	}
	if !slices.Contains(th.out.Wake, b) {
		t.Errorf("freeing %s did not wake it: %v", b, th.out.Wake)
	}
	d := th.clone()
	if d.N != 1 || d.Gen == b.Gen {
		t.Fatalf("the next clone is %+v, want number 1 again with a new generation (old %+v)", d, b)
	}
	// The old name reaches nothing, not the new conversation.
	if err := th.h.ConvOpen(b); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("open of the old %s: %v", b, err)
	}
	if _, err := th.h.ConvRead(th.now, b, make([]byte, 10), &th.out); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("read of the old %s: %v", b, err)
	}
	if got := th.h.Convs(ProtoUDP); !slices.Equal(got, []ConvRef{a, d, c}) {
		t.Errorf("Convs = %v", got)
	}
	if _, err := th.h.ConvClone(Proto(0)); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("clone of a transport the host does not carry: %v", err)
	}
	checkConvs(t, th.h)
}

func TestConvBound(t *testing.T) {
	th := newHarness(t)
	var refs []ConvRef
	for range MaxConvs {
		refs = append(refs, th.clone())
	}
	if _, err := th.h.ConvClone(ProtoUDP); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("clone %d: %v, want ENOSPC", MaxConvs+1, err)
	}
	checkConvs(t, th.h)
	th.h.ConvClose(th.now, refs[100], &th.out)
	if r := th.clone(); r.N != 100 {
		t.Errorf("after closing 100, clone gave %d", r.N)
	}
}

func TestUDPConnectSendReceive(t *testing.T) {
	th := newHarness(t)
	ref := th.clone()
	// The peer is not known yet: the datagram waits for ARP.
	th.mustCtl(ref, "connect 192.168.69.100!7")
	ci := info(t, th.h, ref)
	if ci.Local.Addr() != hostIP || ci.Local.Port() < ephemeralFirst || ci.Remote != netip.MustParseAddrPort("192.168.69.100:7") {
		t.Fatalf("after connect: local %v remote %v", ci.Local, ci.Remote)
	}
	if !strings.HasPrefix(ci.Status, "Open ") {
		t.Errorf("status %q", ci.Status)
	}
	sent, err := th.write(ref, "hello")
	if err != nil || len(sent) != 1 || !bytes.Contains(sent[0], []byte{0x08, 0x06}) {
		t.Fatalf("write before ARP: %v, sent %d frames (want the ARP request)", err, len(sent))
	}
	sent = th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if len(sent) != 1 {
		t.Fatalf("after the ARP reply %d frames went out, want the datagram", len(sent))
	}
	eth, err := wire.ParseEthernet(sent[0])
	if err != nil || eth.Dst != peerMAC {
		t.Fatalf("datagram to %v: %v", eth.Dst, err)
	}
	ip, err := wire.ParseIPv4(sent[0][wire.EthHeaderLen:])
	if err != nil || ip.Src != hostIP || ip.Dst != peerIP || ip.Protocol != wire.ProtoUDP || ip.TTL != 64 {
		t.Fatalf("IPv4 header %+v: %v", ip, err)
	}
	payload := sent[0][wire.EthHeaderLen+wire.IPv4MinLen : wire.EthHeaderLen+wire.IPv4MinLen+ip.PayloadLen]
	u, err := wire.ParseUDP(payload, hostIP, peerIP)
	if err != nil || u.SrcPort != ci.Local.Port() || u.DstPort != 7 || string(u.Payload) != "hello" {
		t.Fatalf("UDP %+v: %v", u, err)
	}
	// ttl and tos apply to the next datagrams.
	th.mustCtl(ref, "ttl 5\ntos 16")
	sent, _ = th.write(ref, "x")
	if ip, _ := wire.ParseIPv4(sent[0][wire.EthHeaderLen:]); ip.TTL != 5 || ip.TOS != 16 {
		t.Errorf("after ttl 5, tos 16: ttl %d tos %d", ip.TTL, ip.TOS)
	}

	// The reply comes back to the conversation, and wakes it.
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 10), &th.out); err != ErrWouldBlock {
		t.Fatalf("read with nothing queued: %v, want ErrWouldBlock", err)
	}
	th.recv(fromPeer(7, ci.Local.Port(), "world"))
	if !slices.Contains(th.out.Wake, ref) {
		t.Errorf("a datagram for %s did not wake it: %v", ref, th.out.Wake)
	}
	th.recv(fromPeer(7, ci.Local.Port(), "second"))
	if got := th.read(ref); got != "world" {
		t.Errorf("read %q", got)
	}
	// A short read takes the start of a datagram and loses the rest.
	b := make([]byte, 3)
	if n, err := th.h.ConvRead(th.now, ref, b, &th.out); err != nil || string(b[:n]) != "sec" {
		t.Errorf("short read: %q, %v", b[:n], err)
	}
	// Another port of the peer is not the connected remote.
	th.recv(fromPeer(8, ci.Local.Port(), "stranger"))
	th.wantStats(map[Counter]uint64{UDPRx: 2, UDPRxNoPort: 1, UDPTx: 2})
	checkConvs(t, th.h)

	// Closing the last reference frees the port.
	th.h.ConvClose(th.now, ref, &th.out)
	if len(th.h.udp.ports) != 0 || len(th.h.udp.conns) != 0 {
		t.Errorf("after close: ports %v conns %v", th.h.udp.ports, th.h.udp.conns)
	}
	checkConvs(t, th.h)
}

func TestUDPAnnounceCalls(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	l := th.clone()
	th.mustCtl(l, "announce *!7")
	if ci := info(t, th.h, l); ci.Local != netip.MustParseAddrPort("0.0.0.0:7") || !strings.HasPrefix(ci.Status, "Announced ") {
		t.Fatalf("announced: local %v status %q", ci.Local, ci.Status)
	}
	if _, err := th.h.ConvAccept(th.now, l, &th.out); err != ErrWouldBlock {
		t.Fatalf("accept with no call: %v", err)
	}
	th.recv(fromPeer(4000, 7, "one"))
	if !slices.Contains(th.out.Wake, l) {
		t.Errorf("a call did not wake the listener: %v", th.out.Wake)
	}
	if n := len(th.h.Convs(ProtoUDP)); n != 1 {
		t.Errorf("a call not yet taken is listed: %d conversations", n)
	}
	th.recv(fromPeer(4000, 7, "two"))   // the same remote: the same call
	th.recv(fromPeer(4001, 7, "other")) // another remote: another call
	call, err := th.h.ConvAccept(th.now, l, &th.out)
	if err != nil {
		t.Fatal(err)
	}
	ci := info(t, th.h, call)
	if ci.Local != netip.MustParseAddrPort("192.168.69.1:7") || ci.Remote != netip.MustParseAddrPort("192.168.69.100:4000") {
		t.Errorf("call: local %v remote %v", ci.Local, ci.Remote)
	}
	if a, b := th.read(call), th.read(call); a != "one" || b != "two" {
		t.Errorf("call reads %q, %q", a, b)
	}
	// Its replies go to its remote, from port 7.
	sent, err := th.write(call, "echo")
	if err != nil || len(sent) != 1 {
		t.Fatalf("reply: %v, %d frames", err, len(sent))
	}
	u, err := wire.ParseUDP(sent[0][wire.EthHeaderLen+wire.IPv4MinLen:wire.EthHeaderLen+wire.IPv4MinLen+wire.UDPHeaderLen+4], hostIP, peerIP)
	if err != nil || u.SrcPort != 7 || u.DstPort != 4000 {
		t.Errorf("reply %+v: %v", u, err)
	}
	call2, err := th.h.ConvAccept(th.now, l, &th.out)
	if err != nil || th.read(call2) != "other" {
		t.Fatalf("second call: %v", err)
	}
	// The listener itself never reads datagrams.
	if _, err := th.h.ConvRead(th.now, l, make([]byte, 10), &th.out); err != ErrWouldBlock {
		t.Errorf("read of the listener: %v", err)
	}
	th.wantStats(map[Counter]uint64{UDPRx: 3, UDPTx: 1})
	checkConvs(t, th.h)

	// Calls not yet taken go with the listener; taken ones stay.
	th.recv(fromPeer(4002, 7, "late"))
	th.h.ConvClose(th.now, l, &th.out)
	checkConvs(t, th.h)
	if got := th.h.conv.n; got != 2 {
		t.Errorf("%d conversations after the listener closed, want its 2 calls taken", got)
	}
	th.recv(fromPeer(4003, 7, "nobody"))
	th.wantStats(map[Counter]uint64{UDPRx: 4, UDPRxNoPort: 1})
	if _, err := th.write(call, "still"); err != nil {
		t.Errorf("a call outlives its listener: %v", err)
	}
}

func TestUDPAnnounceAddresses(t *testing.T) {
	th := newHarness(t)
	th.mustExec("tap0/ctl", "add 192.168.69.2/24")
	any, one := th.clone(), th.clone()
	th.mustCtl(one, "announce 192.168.69.2!53")
	if _, err := th.ctl(any, "announce 53"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("announce *!53 beside 192.168.69.2!53: %v, want EADDRINUSE", err)
	}
	if _, err := th.ctl(any, "announce 10.0.0.1!53"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("announce on an address not ours: %v, want EADDRNOTAVAIL", err)
	}
	th.mustCtl(any, "announce 192.168.69.1!53")
	th.recv(udpFrame(peerIP, 1000, netip.MustParseAddr("192.168.69.2"), 53, []byte("to two")))
	th.recv(udpFrame(peerIP, 1000, hostIP, 53, []byte("to one")))
	c1, err1 := th.h.ConvAccept(th.now, one, &th.out)
	c2, err2 := th.h.ConvAccept(th.now, any, &th.out)
	if err1 != nil || err2 != nil || th.read(c1) != "to two" || th.read(c2) != "to one" {
		t.Errorf("each address's datagram to its listener: %v %v", err1, err2)
	}
	if ci := info(t, th.h, c1); ci.Local.Addr() != netip.MustParseAddr("192.168.69.2") {
		t.Errorf("the call's local address is %v, want the one the datagram came to", ci.Local)
	}
	// Announcing port 0 takes an ephemeral port.
	e := th.clone()
	th.mustCtl(e, "announce 0")
	if p := info(t, th.h, e).Local.Port(); p < ephemeralFirst {
		t.Errorf("announce 0 took port %d", p)
	}
	checkConvs(t, th.h)
}

func TestUDPConvErrors(t *testing.T) {
	th := newHarness(t)
	ref := th.clone()
	for _, tc := range []struct {
		line  string
		errno syscall.Errno
	}{
		{"connect 10.0.0.1!7", syscall.ENETUNREACH},
		{"connect 192.168.69.255!7", syscall.EINVAL},
		{"connect 224.0.0.1!7", syscall.EINVAL},
		{"connect 192.168.69.100!0", syscall.EINVAL},
		{"connect [2001:db8::1]:7", syscall.ENETUNREACH},
		{"keepalive 10", syscall.EINVAL},
		{"nodelay on", syscall.EINVAL},
		{"close", syscall.EINVAL},
	} {
		_, err := th.ctl(ref, tc.line)
		var ce *ctl.CommandError
		if !errors.Is(err, tc.errno) || !errors.As(err, &ce) || ce.Text != tc.line || ce.Line != 1 {
			t.Errorf("%q: %v (%#v), want errno %v with the line", tc.line, err, err, tc.errno)
		}
	}
	if ci := info(t, th.h, ref); !strings.Contains(ci.Err, "not a unicast") && ci.Err == "" {
		t.Errorf("err file after failures: %q", ci.Err)
	}
	if _, err := th.write(ref, "x"); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("write unconnected: %v", err)
	}
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	if _, err := th.write(ref, strings.Repeat("x", 65508)); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("write of 65508 bytes: %v, want EMSGSIZE", err)
	}
	if _, err := th.write(ref, strings.Repeat("x", 65507)); err != nil {
		t.Errorf("write of 65507 bytes (in fragments): %v", err)
	}
	if _, err := th.ctl(ref, "announce 7"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("announce after connect: %v", err)
	}
	// The same four addresses twice.
	other := th.clone()
	if _, err := th.ctl(other, "connect 192.168.69.100!7 5000"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second conversation on the same addresses: %v", err)
	}
	// Connect again: another remote, the same local port.
	port := info(t, th.h, ref).Local.Port()
	th.mustCtl(ref, "connect 192.168.69.100!9")
	if ci := info(t, th.h, ref); ci.Local.Port() != port || ci.Remote.Port() != 9 {
		t.Errorf("connect again: local %v remote %v", ci.Local, ci.Remote)
	}
	th.mustCtl(ref, "hangup")
	if ci := info(t, th.h, ref); ci.Remote.IsValid() || !strings.HasPrefix(ci.Status, "Closed") {
		t.Errorf("after hangup: remote %v status %q", ci.Remote, ci.Status)
	}
	checkConvs(t, th.h)
}

// An ICMP error for a connected conversation fails its next read once.
func TestUDPErrorReachesConversation(t *testing.T) {
	th := newHarness(t)
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	local, remote := netip.MustParseAddrPort("192.168.69.1:5000"), netip.MustParseAddrPort("192.168.69.100:7")
	th.out.Reset()
	if th.h.udpError(local, netip.MustParseAddrPort("192.168.69.100:8"), syscall.ECONNREFUSED, &th.out) {
		t.Error("an error for other addresses was taken")
	}
	if !th.h.udpError(local, remote, syscall.ECONNREFUSED, &th.out) || !slices.Contains(th.out.Wake, ref) {
		t.Fatalf("the error was not taken, or did not wake %s: %v", ref, th.out.Wake)
	}
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 10), &th.out); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("read after port unreachable: %v, want ECONNREFUSED", err)
	}
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 10), &th.out); err != ErrWouldBlock {
		t.Errorf("the second read: %v, want ErrWouldBlock", err)
	}
	if ci := info(t, th.h, ref); ci.Err != "connection refused" {
		t.Errorf("err reads %q", ci.Err)
	}
}

// A connected conversation whose remote does not answer ARP hears of it:
// its next read fails with EHOSTUNREACH.
func TestUDPUnresolvedRemote(t *testing.T) {
	th := newHarness(t)
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.7!7")
	if _, err := th.write(ref, "anyone?"); err != nil {
		t.Fatal(err)
	}
	woken := false
	for range DefaultARPRetries + 1 {
		th.advance(ARPRequestInterval)
		woken = woken || slices.Contains(th.out.Wake, ref)
	}
	if th.stat(ARPFailed) != 1 || !woken {
		t.Fatalf("arp_failed %d, woken %v", th.stat(ARPFailed), woken)
	}
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 10), &th.out); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("read after ARP failed: %v, want EHOSTUNREACH", err)
	}
	if ci := info(t, th.h, ref); ci.Err != "no route to host" {
		t.Errorf("err reads %q", ci.Err)
	}
}

func TestUDPReceiveFates(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	good := fromPeer(7, 5000, "data")
	mod := func(f func(u []byte)) []byte {
		b := bytes.Clone(good)
		f(b[wire.EthHeaderLen+wire.IPv4MinLen:])
		return b
	}
	ipLen := func(b []byte, n int) []byte { // IP's total length, checksum fixed
		ip := b[wire.EthHeaderLen:]
		ip[2], ip[3] = byte(n>>8), byte(n)
		ip[10], ip[11] = 0, 0
		c := wire.Checksum(ip[:20])
		ip[10], ip[11] = byte(c>>8), byte(c)
		return b
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		fate  Counter
	}{
		{"good", good, UDPRx},
		{"no checksum", mod(func(u []byte) { u[6], u[7] = 0, 0 }), UDPRx},
		{"bad checksum", mod(func(u []byte) { u[8] ^= 1 }), UDPRxBadChecksum},
		{"udp length short of IP's", mod(func(u []byte) { u[5]-- }), UDPRxBadLength},
		{"udp length beyond IP's", mod(func(u []byte) { u[5]++ }), UDPRxBadLength},
		{"header cut by IP", ipLen(bytes.Clone(good), 20+6), UDPRxBadLength},
		{"no such port", fromPeer(7, 5001, "x"), UDPRxNoPort},
		{"to 0xffff checksum", udpFrame(peerIP, 7, hostIP, 5000, []byte{0xff, 0xff}), UDPRx},
	} {
		before := th.h.stats
		th.recv(tc.frame)
		if th.h.stats[tc.fate] != before[tc.fate]+1 {
			t.Errorf("%s: %s not counted:\n%s", tc.name, tc.fate, th.h.stats.Append(nil))
		}
	}
}

func TestUDPQueueBounds(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	for i := range ConvRecvQueue + 10 {
		th.recv(fromPeer(7, 5000, fmt.Sprint(i)))
	}
	th.wantStats(map[Counter]uint64{UDPRx: ConvRecvQueue, UDPRxQueueFull: 10})
	if ci := info(t, th.h, ref); !strings.Contains(ci.Status, " drops 10 ") {
		t.Errorf("status %q does not count the drops", ci.Status)
	}
	if got := th.read(ref); got != "0" {
		t.Errorf("oldest is %q", got)
	}
	// Room for one more.
	th.recv(fromPeer(7, 5000, "next"))
	th.wantStats(map[Counter]uint64{UDPRx: ConvRecvQueue + 1})
	// The byte bound: big datagrams fill it first.
	big := th.clone()
	th.mustCtl(big, "connect 192.168.69.100!8 5001")
	data := strings.Repeat("b", 1400)
	for range ConvRecvBytes/1400 + 5 {
		th.recv(fromPeer(8, 5001, data))
	}
	if q := th.h.conv.tables[ProtoUDP].convs[big.N].rq; q.len() != ConvRecvBytes/1400 {
		t.Errorf("%d big datagrams queued, want %d", q.len(), ConvRecvBytes/1400)
	}
	checkConvs(t, th.h)
	// Listen queue bound: more new remotes than the backlog.
	l := th.clone()
	th.mustCtl(l, "announce 9")
	for i := range ConvBacklog + 3 {
		th.recv(fromPeer(uint16(2000+i), 9, "hi"))
	}
	if n := th.stat(UDPRxNoCall); n != 3 {
		t.Errorf("udp_rx_no_call %d, want 3", n)
	}
	checkConvs(t, th.h)
}

// TestUDPHostQueueBound: conversations nobody reads hold at most
// ConvHostQueued bytes together.
func TestUDPHostQueueBound(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	data := strings.Repeat("d", 1400)
	perConv := ConvRecvBytes / 1400
	convs := ConvHostQueued/(perConv*1400) + 2
	for i := range convs {
		ref := th.clone()
		th.mustCtl(ref, fmt.Sprintf("connect 192.168.69.100!7 %d", 6000+i))
		f := fromPeer(7, uint16(6000+i), data)
		for range perConv {
			th.out.Reset()
			th.h.Receive(th.now, f, &th.out) // the invariants once, at the end: they walk every queue
		}
	}
	checkInvariants(t, th.h)
	if th.h.conv.queued > ConvHostQueued || th.stat(UDPRxQueueFull) == 0 {
		t.Errorf("%d bytes queued (bound %d), %d dropped", th.h.conv.queued, ConvHostQueued, th.stat(UDPRxQueueFull))
	}
	t.Logf("%d conversations of %d datagrams: %d bytes queued, %d dropped", convs, perConv, th.h.conv.queued, th.stat(UDPRxQueueFull))
}

// TestUDPCallsAtTheBound: calls count towards MaxConvs; a new remote with
// no room left is dropped and counted.
func TestUDPCallsAtTheBound(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	l := th.clone()
	th.mustCtl(l, "announce 7")
	for range MaxConvs - 2 {
		th.clone()
	}
	th.recv(fromPeer(1, 7, "a")) // the last room
	th.recv(fromPeer(2, 7, "b")) // none
	th.wantStats(map[Counter]uint64{UDPRx: 1, UDPRxNoCall: 1})
	checkConvs(t, th.h)
}

func TestUDPStatsFile(t *testing.T) {
	th := newHarness(t)
	th.recv(fromPeer(1, 7, "a"))
	b, err := th.h.AppendProtoStats(nil, ProtoUDP)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conversations 0\n", "udp_rx 0\n", "udp_rx_no_port 1\n", "udp_tx 0\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("udp/stats lacks %q:\n%s", want, b)
		}
	}
}

// BenchmarkUDPReceive is one datagram in, queued, and read out.
func BenchmarkUDPReceive(b *testing.B) {
	th := newHarness(b)
	th.learnPeer()
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	f := fromPeer(7, 5000, strings.Repeat("x", 64))
	buf := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		th.out.Reset()
		th.h.Receive(th.now, f, &th.out)
		if _, err := th.h.ConvRead(th.now, ref, buf, &th.out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPSend is one datagram written to a known neighbour.
func BenchmarkUDPSend(b *testing.B) {
	th := newHarness(b)
	th.learnPeer()
	ref := th.clone()
	th.mustCtl(ref, "connect 192.168.69.100!7 5000")
	data := []byte(strings.Repeat("x", 64))
	b.ReportAllocs()
	for b.Loop() {
		th.out.Reset()
		if _, err := th.h.ConvWrite(th.now, ref, data, &th.out); err != nil {
			b.Fatal(err)
		}
	}
}
