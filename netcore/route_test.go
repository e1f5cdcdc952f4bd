package netcore

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// pingFrom is an echo request to us from src, through the peer's hardware
// address (a router's, for an off-link src).
func pingFrom(src netip.Addr) []byte {
	return echoFrame(peerMAC, hostMAC, src, hostIP, 1, 1, []byte("hello"))
}

func TestDefaultRoute(t *testing.T) {
	th := newHarness(t)
	far := netip.MustParseAddr("10.9.9.9")
	if sent := th.recv(pingFrom(far)); len(sent) != 0 {
		t.Fatal("answered off-link without a route")
	}
	th.wantStats(map[Counter]uint64{TxNoRoute: 1})
	th.mustExec("tap0/ctl", "route add 0.0.0.0/0 192.168.69.100")
	// The reply goes to the gateway, whose address is asked for first.
	sent := th.recv(pingFrom(far))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames", len(sent))
	}
	if _, a := parseARPOut(t, sent[0]); a.Op != wire.ARPRequest || a.TargetIP != peerIP || a.SenderIP != hostIP {
		t.Fatalf("sent %+v, want a request for the gateway", a)
	}
	sent = th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if len(sent) != 1 {
		t.Fatalf("the gateway's reply released %d frames", len(sent))
	}
	eth, ip, _ := parseEchoOut(t, sent[0])
	if eth.Dst != peerMAC || ip.Dst != far || ip.Src != hostIP {
		t.Errorf("reply %+v %+v", eth, ip)
	}
	// On-link addresses still go straight to themselves.
	th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, otherMAC, otherIP, wire.MAC{}, hostIP))
	sent = th.recv(echoFrame(otherMAC, hostMAC, otherIP, hostIP, 1, 1, nil))
	if eth, _, _ := parseEchoOut(t, sent[0]); eth.Dst != otherMAC {
		t.Errorf("an on-link reply went to %v", eth.Dst)
	}
}

func TestLongestPrefixMatch(t *testing.T) {
	th := newHarness(t)
	th.mustExec("tap0/ctl", `route add 10.0.0.0/8 192.168.69.100
route add 10.1.0.0/16 192.168.69.101
route add 192.168.69.128/25 192.168.69.102
route add 0.0.0.0/0 192.168.69.103`)
	for dst, want := range map[string]string{
		"10.1.2.3":       "192.168.69.101",
		"10.2.3.4":       "192.168.69.100",
		"11.0.0.1":       "192.168.69.103",
		"192.168.69.200": "192.168.69.102", // a longer route beats the connected /24
		"192.168.69.7":   "192.168.69.7",   // the connected /24 beats the default
	} {
		hop, ok := th.h.nextHop(key(netip.MustParseAddr(dst)))
		if !ok || addrOf(hop) != netip.MustParseAddr(want) {
			t.Errorf("%s: next hop %v (%v), want %s", dst, addrOf(hop), ok, want)
		}
	}
	for _, dst := range []string{"192.168.69.255", "192.168.69.0", "224.0.0.1", "127.0.0.1", "0.0.0.0"} {
		if hop, ok := th.h.nextHop(key(netip.MustParseAddr(dst))); ok {
			t.Errorf("%s: routed to %v", dst, addrOf(hop))
		}
	}
	th.mustExec("tap0/ctl", "route remove 10.1.0.0/16")
	if hop, _ := th.h.nextHop(key(netip.MustParseAddr("10.1.2.3"))); addrOf(hop) != netip.MustParseAddr("192.168.69.100") {
		t.Errorf("after remove: %v", addrOf(hop))
	}
}

func TestRouteErrors(t *testing.T) {
	th := newHarness(t)
	th.mustExec("tap0/ctl", "route add 10.0.0.0/8 192.168.69.100")
	for _, c := range []struct {
		text  string
		errno syscall.Errno
		msg   string
	}{
		{"route add 10.0.0.0/8 192.168.69.101", syscall.EEXIST, "already exists"},
		{"route add 172.16.0.0/12 10.0.0.1", syscall.ENETUNREACH, "not on a connected subnet"},
		{"route add 172.16.0.0/12 192.168.69.1", syscall.EINVAL, "is an address of this host"},
		{"route add 172.16.0.1/12 192.168.69.100", syscall.EINVAL, "host bits set"},
		{"route add 172.16.0.0/33 192.168.69.100", syscall.EINVAL, "bad IPv4 address/prefix"},
		{"route add 172.16.0.0/12 224.0.0.1", syscall.EINVAL, "not a unicast address"},
		{"route add 2001:db8::/32 192.168.69.100", syscall.EINVAL, "bad IPv4 address/prefix"},
		{"route add 172.16.0.0/12", syscall.EINVAL, "usage: route add PREFIX GATEWAY | route remove PREFIX"},
		{"route remove 172.16.0.0/12", syscall.ENOENT, "no route to 172.16.0.0/12"},
		{"route remove", syscall.EINVAL, "usage"},
		{"route", syscall.EINVAL, "usage"},
		{"route flush", syscall.EINVAL, "usage"},
		// All or nothing: a good line before a bad one is not applied.
		{"route add 172.16.0.0/12 192.168.69.100\nroute add 10.0.0.0/8 192.168.69.100", syscall.EEXIST, "line 2"},
	} {
		_, err := th.exec("tap0/ctl", c.text)
		var ce *ctl.CommandError
		if !errors.As(err, &ce) || ce.Errno != c.errno || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want errno %d and %q", c.text, err, c.errno, c.msg)
		}
	}
	if got := th.snap().Config.Routes; len(got) != 1 {
		t.Errorf("routes %v after failed writes", got)
	}
}

// TestRoutesReadBack: routes come back in ctl after the addresses their
// gateways need, and replay; an address that goes takes its routes along.
func TestRoutesReadBack(t *testing.T) {
	src := newHarness(t)
	src.mustExec("tap0/ctl", "add 10.0.0.1/8\nroute add 0.0.0.0/0 192.168.69.100\nroute add 172.16.0.0/12 10.0.0.254")
	want := src.snap().Config
	text := string(AppendConfig(nil, want))
	if !strings.Contains(text, "add 10.0.0.1/8\nroute add 0.0.0.0/0 192.168.69.100\nroute add 172.16.0.0/12 10.0.0.254\nipv6 autoconf off\nipv6 off\nup\n") {
		t.Errorf("read-back:\n%s", text)
	}
	dst := newHarness(t, func(c *Config) {
		c.Addrs = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/8")}
		c.Routes = []Route{{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParseAddr("10.0.0.2")}}
	})
	dst.mustExec("tap0/ctl", text)
	if got := dst.snap().Config; !reflect.DeepEqual(got.Routes, want.Routes) || !reflect.DeepEqual(got.Addrs, want.Addrs) {
		t.Errorf("replayed: %+v, want %+v", got, want)
	}
	src.mustExec("tap0/ctl", "remove 10.0.0.1/8")
	if got := src.snap().Config.Routes; len(got) != 1 || got[0].Gateway != peerIP {
		t.Errorf("routes after the address went: %v", got)
	}
	src.mustExec("tap0/ctl", "remove all")
	if got := src.snap().Config.Routes; len(got) != 0 {
		t.Errorf("routes after remove all: %v", got)
	}
}

func TestNewHostValidatesRoutes(t *testing.T) {
	for _, routes := range [][]Route{
		{{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("10.0.0.1")}},     // off-link
		{{netip.MustParsePrefix("10.0.0.1/8"), netip.MustParseAddr("192.168.69.7")}}, // host bits
		{{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("192.168.69.7")}, {netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("192.168.69.8")}},
	} {
		if _, err := NewHost(Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix}, Routes: routes}); err == nil {
			t.Errorf("NewHost took routes %v", routes)
		}
	}
	h, err := NewHost(Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix},
		Routes: []Route{{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("192.168.69.7")}}})
	if err != nil {
		t.Fatal(err)
	}
	if hop, ok := h.nextHop(key(netip.MustParseAddr("8.8.8.8"))); !ok || addrOf(hop) != netip.MustParseAddr("192.168.69.7") {
		t.Errorf("next hop %v %v", addrOf(hop), ok)
	}
}
