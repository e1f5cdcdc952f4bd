package netcore

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/ctl"
)

// TestIPv4RulesAgree checks that the receive path's integer forms of the
// address rules say what package ctl's say: unicastIPv4 is
// ctl.UnicastIPv4, ifAddr.holds is ctl.IsHostOf.
func TestIPv4RulesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		ip := rng.Uint32()
		if rng.IntN(2) == 0 { // near a subnet's edges
			ip = ip&^0xff | uint32(rng.IntN(3))*0x7f
		}
		a := addrOf(ip)
		if unicastIPv4(ip) != ctl.UnicastIPv4(a) {
			t.Fatalf("%v: unicastIPv4 %v, ctl.UnicastIPv4 %v", a, unicastIPv4(ip), ctl.UnicastIPv4(a))
		}
		p := netip.PrefixFrom(addrOf(ip^uint32(rng.IntN(256))), 1+rng.IntN(32))
		if got, want := ifAddrOf(p).holds(ip), ctl.IsHostOf(p, a); got != want {
			t.Fatalf("%v in %v: holds %v, ctl.IsHostOf %v", a, p, got, want)
		}
	}
}
