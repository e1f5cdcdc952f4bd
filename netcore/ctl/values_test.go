package ctl

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func TestParseAddrPort(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.168.69.1!7", "192.168.69.1!7"},
		{"*!53", "0.0.0.0!53"},
		{"fe80::1!65535", "fe80::1!65535"},
		{"10.0.0.1!0", "10.0.0.1!0"},
	} {
		ap, r := ParseAddrPort(c.in)
		if r != nil || string(AppendAddrPort(nil, ap)) != c.want {
			t.Errorf("ParseAddrPort(%q) = %v, %v; want %s", c.in, ap, r, c.want)
		}
	}
	for _, s := range []string{"", "192.168.69.1", "192.168.69.1:7", "1.2.3!", "1.2.3.4!65536", "1.2.3.4!-1", "x!1", "fe80::1%eth0!1", "1.2.3.4!+1"} {
		if ap, r := ParseAddrPort(s); r == nil || r.Errno != syscall.EINVAL || !strings.HasPrefix(r.Error(), "bad address!port") {
			t.Errorf("ParseAddrPort(%q) = %v, %v; want a bad address!port", s, ap, r)
		}
	}
}

// TestIsHostOf checks the subnet rule on its edges: network and broadcast
// addresses are not hosts, except on /31 and /32.
func TestIsHostOf(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, c := range []struct {
		p    netip.Prefix
		a    netip.Addr
		want bool
	}{
		{p("192.168.69.1/24"), a("192.168.69.7"), true},
		{p("192.168.69.1/24"), a("192.168.69.0"), false},
		{p("192.168.69.1/24"), a("192.168.69.255"), false},
		{p("192.168.69.1/24"), a("192.168.70.1"), false},
		{p("10.0.0.0/31"), a("10.0.0.0"), true},
		{p("10.0.0.0/31"), a("10.0.0.1"), true},
		{p("10.0.0.9/32"), a("10.0.0.9"), true},
		{p("10.0.0.9/32"), a("10.0.0.8"), false},
		{p("10.0.0.1/30"), a("10.0.0.3"), false},
		{p("10.0.0.1/8"), a("fe80::1"), false},
	} {
		if got := IsHostOf(c.p, c.a); got != c.want {
			t.Errorf("IsHostOf(%v, %v) = %v", c.p, c.a, got)
		}
	}
}

func FuzzParseAddrPort(f *testing.F) {
	for _, s := range []string{"192.168.69.1!7", "*!53", "fe80::1!65535", "1.2.3.4!65536", "!", "::!0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, r := ParseAddrPort(s)
		if r != nil {
			if r.Errno != syscall.EINVAL {
				t.Fatalf("%q: errno %d", s, r.Errno)
			}
			return
		}
		again, r := ParseAddrPort(string(AppendAddrPort(nil, ap)))
		if r != nil || again != ap {
			t.Fatalf("%q parses as %v, renders as %s, parses back as %v, %v", s, ap, AppendAddrPort(nil, ap), again, r)
		}
	})
}
