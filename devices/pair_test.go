package devices

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
)

// The station the tests play on the other side of a link.
var (
	hostMAC  = wire.MAC{0x02, 0, 0, 0, 0, 0x01}
	hostIP   = netip.MustParseAddr("192.168.69.1")
	peerMAC  = wire.MAC{0x4a, 0x49, 0x58, 0x75, 0x94, 0xf4}
	peerIP   = netip.MustParseAddr("192.168.69.100")
	hostPfx  = netip.MustParsePrefix("192.168.69.1/24")
	otherPfx = netip.MustParsePrefix("192.168.69.2/24")
)

// newHost is the classic smoltcp example host, named name.
func newHost(t testing.TB, name string) *netcore.Host {
	t.Helper()
	h, err := netcore.NewHost(netcore.Config{Name: name, MAC: hostMAC, Addrs: []netip.Prefix{hostPfx}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func arpFrame(op wire.ARPOp, dst, sha wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) []byte {
	b := wire.EthernetRepr{Dst: dst, Src: sha, Type: wire.EtherTypeARP}.Append(nil)
	b = wire.ARPRepr{Op: op, SenderMAC: sha, SenderIP: spa, TargetMAC: tha, TargetIP: tpa}.Append(b)
	return wire.PadFrame(b)
}

func echoFrame(src wire.MAC, srcIP netip.Addr, id, seq uint16, data []byte) []byte {
	icmp := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: id, Seq: seq, Data: data}
	b := wire.EthernetRepr{Dst: hostMAC, Src: src, Type: wire.EtherTypeIPv4}.Append(nil)
	b = wire.IPv4Repr{Src: srcIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: seq, PayloadLen: icmp.Len()}.Append(b)
	return icmp.Append(b)
}

// parsed is a frame the host sent, decoded as far as the tests need.
type parsed struct {
	eth           wire.EthernetRepr
	arp           wire.ARPRepr
	ip            wire.IPv4Repr
	echo          wire.ICMPEchoRepr
	isARP, isEcho bool
}

func parse(b []byte) parsed {
	var p parsed
	var err error
	if p.eth, err = wire.ParseEthernet(b); err != nil {
		return p
	}
	switch p.eth.Type {
	case wire.EtherTypeARP:
		p.arp, err = wire.ParseARP(b[wire.EthHeaderLen:])
		p.isARP = err == nil
	case wire.EtherTypeIPv4:
		if p.ip, err = wire.ParseIPv4(b[wire.EthHeaderLen:]); err != nil {
			return p
		}
		end := wire.EthHeaderLen + wire.IPv4MinLen + p.ip.PayloadLen
		if end > len(b) {
			return p
		}
		p.echo, err = wire.ParseICMPEcho(b[wire.EthHeaderLen+wire.IPv4MinLen : end])
		p.isEcho = err == nil
	}
	return p
}

// expect reads frames from p until one satisfies ok, failing the test after
// timeout. Frames that do not match (announcements, say) are skipped.
func expect(t testing.TB, p *Pair, timeout time.Duration, what string, ok func(parsed) bool) parsed {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(timeout)
	var seen []string
	for {
		n, err := p.ReadFrame(buf, time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v (saw %d other frames: %s)", what, err, len(seen), strings.Join(seen, "; "))
		}
		f := parse(buf[:n])
		if ok(f) {
			return f
		}
		seen = append(seen, fmt.Sprintf("%x", buf[:min(n, 42)]))
	}
}

func isGARP(ip netip.Addr) func(parsed) bool {
	return func(f parsed) bool {
		return f.isARP && f.eth.Dst == wire.BroadcastMAC && f.eth.Src == hostMAC &&
			f.arp.Op == wire.ARPRequest && f.arp.SenderIP == ip && f.arp.TargetIP == ip && f.arp.SenderMAC == hostMAC
	}
}

func TestPairCarriesWholeFrames(t *testing.T) {
	a, b, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if !strings.HasPrefix(a.Name(), "pair") || !strings.HasSuffix(a.Name(), "-a") ||
		strings.TrimSuffix(a.Name(), "-a") != strings.TrimSuffix(b.Name(), "-b") {
		t.Errorf("names %q, %q: want pairN-a, pairN-b", a.Name(), b.Name())
	}
	frames := [][]byte{make([]byte, 60), make([]byte, 1514), make([]byte, 9000), {}}
	for i, f := range frames {
		for j := range f {
			f[j] = byte(i + j)
		}
		if err := a.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1<<16)
	for i, f := range frames {
		n, err := b.ReadFrame(buf, time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(buf[:n]) != string(f) {
			t.Errorf("frame %d: got %d bytes, want %d, or the bytes differ", i, n, len(f))
		}
	}
	if _, err := b.ReadFrame(buf, 10*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("read on an empty pair: %v, want ErrTimeout", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := b.ReadFrame(buf, time.Second); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("read after the other end closed: %v, want ErrPeerClosed", err)
	}
}
