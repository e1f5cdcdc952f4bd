package netcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

func (th *harness) icmpConv(remote string) ConvRef {
	th.t.Helper()
	ref, err := th.h.ConvClone(ProtoICMP)
	if err != nil {
		th.t.Fatal(err)
	}
	if remote != "" {
		th.mustCtl(ref, "connect "+remote)
	}
	return ref
}

// echoMessage is what smolfs ping writes: an echo request, identifier and
// checksum left for the host.
func echoMessage(seq uint16, payload string) string {
	return string(wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Seq: seq, Data: []byte(payload)}.Append(nil))
}

// replyTo is the peer's echo reply to an echo request the host sent.
func replyTo(t *testing.T, frame []byte) []byte {
	t.Helper()
	_, ip, icmp := parseEchoOut(t, frame)
	icmp.Type = wire.ICMPEchoReply
	r := wire.IPv4Repr{Src: ip.Dst, Dst: ip.Src, Protocol: wire.ProtoICMP, TTL: 63, ID: 99}
	return ipFrame(hostMAC, r, nil, icmp.Append(nil))
}

func TestICMPConvPing(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.icmpConv("192.168.69.100")
	ci := info(t, th.h, ref)
	if ci.Remote.Addr() != peerIP || ci.Local.Addr() != hostIP || ci.Local.Port() == 0 || !strings.HasPrefix(ci.Status, "Open ") {
		t.Fatalf("after connect: %+v", ci)
	}
	ident := ci.Local.Port()
	sent, err := th.write(ref, echoMessage(1, "ping!"))
	if err != nil || len(sent) != 1 {
		t.Fatalf("write: %d frames, %v", len(sent), err)
	}
	_, ip, req := parseEchoOut(t, sent[0]) // checks both checksums
	if ip.Src != hostIP || ip.Dst != peerIP || req.Type != wire.ICMPEchoRequest || req.Ident != ident || req.Seq != 1 || string(req.Data) != "ping!" {
		t.Fatalf("sent %+v %+v", ip, req)
	}
	// Another conversation's identifier, or another source: not ours.
	other := bytes.Clone(replyTo(t, sent[0]))
	other[wire.EthHeaderLen+wire.IPv4MinLen+wire.ICMPIdentOff]++
	th.recv(other)
	if _, err := th.h.ConvRead(th.now, ref, make([]byte, 100), &th.out); err != ErrWouldBlock {
		t.Fatalf("read after a stranger's reply: %v", err)
	}
	th.out.Reset()
	th.h.Receive(th.now, replyTo(t, sent[0]), &th.out)
	if len(th.out.Wake) != 1 || th.out.Wake[0] != ref {
		t.Errorf("wakes %v, want %v", th.out.Wake, ref)
	}
	buf := make([]byte, 100)
	n, err := th.h.ConvRead(th.now, ref, buf, &th.out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := wire.ParseICMPEcho(buf[:n])
	if err != nil || rep.Type != wire.ICMPEchoReply || rep.Ident != ident || rep.Seq != 1 || string(rep.Data) != "ping!" {
		t.Fatalf("read %+v, %v", rep, err)
	}
	if st := info(t, th.h, ref).Status; !strings.HasPrefix(st, "Open from 192.168.69.100 rcvttl 63 ") {
		t.Errorf("status %q", st)
	}
	th.wantStats(map[Counter]uint64{ICMPConvTx: 1, ICMPConvRx: 1, ICMPRxOther: 1})
	// Two conversations have two identifiers; hangup forgets the remote.
	ref2 := th.icmpConv("192.168.69.100")
	if id2 := info(t, th.h, ref2).Local.Port(); id2 == ident {
		t.Errorf("two conversations share identifier %d", id2)
	}
	th.mustCtl(ref, "hangup")
	if _, err := th.write(ref, echoMessage(2, "")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("write after hangup: %v", err)
	}
	checkConvs(t, th.h)
}

func TestICMPConvLongPing(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.icmpConv("192.168.69.100")
	sent, err := th.write(ref, echoMessage(1, strings.Repeat("x", 65507)))
	if err != nil || len(sent) != 45 {
		t.Fatalf("write of a 65507-byte ping: %d frames, %v", len(sent), err)
	}
	_, msg := reassemble(t, sent, 1500)
	if !wire.ICMPPacket(msg).VerifyChecksum() {
		t.Error("the reassembled request's checksum is wrong")
	}
	if _, err := th.write(ref, echoMessage(1, strings.Repeat("x", 65508))); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("write of a 65508-byte ping: %v", err)
	}
}

func TestICMPConvErrors(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.icmpConv("")
	for _, c := range []struct {
		line  string
		errno syscall.Errno
	}{
		{"connect 10.1.2.3", syscall.ENETUNREACH},
		{"connect 192.168.69.1", syscall.EINVAL},
		{"connect 192.168.69.255", syscall.EINVAL},
		{"connect 224.0.0.1", syscall.EINVAL},
		{"announce 7", syscall.EINVAL},
		{"keepalive", syscall.EINVAL},
	} {
		if _, err := th.ctl(ref, c.line); !errors.Is(err, c.errno) {
			t.Errorf("%q: %v, want %v", c.line, err, c.errno)
		}
	}
	if _, err := th.write(ref, echoMessage(1, "")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("write unconnected: %v", err)
	}
	th.mustCtl(ref, "connect 192.168.69.100")
	if _, err := th.write(ref, "\x08\x00\x00"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("a 3-byte message: %v", err)
	}
	// Through a route, beyond the subnet.
	th.mustExec("tap0/ctl", "route add 10.0.0.0/8 192.168.69.100")
	th.mustCtl(ref, "connect 10.1.2.3")
	if sent, err := th.write(ref, echoMessage(1, "far")); err != nil || len(sent) != 1 {
		t.Errorf("a ping through the route: %d frames, %v", len(sent), err)
	} else if eth, ip, _ := parseEchoOut(t, sent[0]); eth.Dst != peerMAC || ip.Dst.String() != "10.1.2.3" {
		t.Errorf("sent %+v %+v", eth, ip)
	}
}

// TestICMPConvReceivesErrors: errors quoting the conversation's requests
// are read as they came, with where they came from; errors quoting another
// conversation's are not.
func TestICMPConvReceivesErrors(t *testing.T) {
	th := newHarness(t)
	th.learnPeer()
	ref := th.icmpConv("192.168.69.100")
	sent, _ := th.write(ref, echoMessage(7, "x"))
	quote := bytes.Clone(sent[0][wire.EthHeaderLen : wire.EthHeaderLen+wire.IPv4MinLen+8])
	router := otherIP
	errFrame := func(q []byte) []byte {
		r := wire.IPv4Repr{Src: router, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 255, ID: 1}
		return ipFrame(hostMAC, r, nil, wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: wire.ICMPHostUnreachable, Quote: q}.Append(nil))
	}
	th.recv(errFrame(quote))
	buf := make([]byte, 100)
	n, err := th.h.ConvRead(th.now, ref, buf, &th.out)
	if err != nil {
		t.Fatal(err)
	}
	e, err := wire.ParseICMPError(buf[:n])
	if err != nil || e.Type != wire.ICMPDestUnreachable || e.Code != wire.ICMPHostUnreachable || !bytes.Equal(e.Quote, quote) {
		t.Fatalf("read %+v, %v", e, err)
	}
	if st := info(t, th.h, ref).Status; !strings.HasPrefix(st, "Open from 192.168.69.9 rcvttl 255") {
		t.Errorf("status %q", st)
	}
	binary.BigEndian.PutUint16(quote[wire.IPv4MinLen+wire.ICMPIdentOff:], 4242)
	th.recv(errFrame(quote))
	th.wantStats(map[Counter]uint64{ICMPRxError: 1, ICMPRxErrorOther: 1})
}

// TestICMPConvHostUnreachable: pings to a neighbour that never answers ARP
// come back as host unreachable from our own address, one per request that
// waited, as Linux's stack answers ping.
func TestICMPConvHostUnreachable(t *testing.T) {
	th := newHarness(t)
	ref := th.icmpConv("192.168.69.7")
	for seq := range uint16(3) {
		th.write(ref, echoMessage(seq+1, "x"))
		th.advance(200 * time.Millisecond)
	}
	for range 10 {
		th.advance(time.Second)
	}
	buf := make([]byte, 100)
	for seq := range uint16(3) {
		n, err := th.h.ConvRead(th.now, ref, buf, &th.out)
		if err != nil {
			t.Fatalf("read %d: %v", seq, err)
		}
		e, err := wire.ParseICMPError(buf[:n])
		if err != nil || e.Code != wire.ICMPHostUnreachable {
			t.Fatalf("read %+v, %v", e, err)
		}
		_, inner, _ := wire.QuotedIPv4(e.Quote)
		if got := binary.BigEndian.Uint16(inner[wire.ICMPSeqOff:]); got != seq+1 {
			t.Errorf("error %d quotes seq %d", seq, got)
		}
		if st := info(t, th.h, ref).Status; !strings.HasPrefix(st, "Open from 192.168.69.1 rcvttl 64") {
			t.Errorf("status %q", st)
		}
	}
	if _, err := th.h.ConvRead(th.now, ref, buf, &th.out); err != ErrWouldBlock {
		t.Errorf("a fourth read: %v", err)
	}
}
