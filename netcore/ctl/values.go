package ctl

import (
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The values the languages share. Each has a parser for the text and a
// check of the value: the check is what a host applies to a command built
// by hand, so that both paths keep one rule.

// ParseUnicastMAC parses a hardware address (02:00:00:00:00:01,
// 02-00-00-00-00-01 or 020000000001) that a station may have.
func ParseUnicastMAC(s string) (wire.MAC, *Reason) {
	m, err := wire.ParseMAC(s)
	if err != nil {
		return wire.MAC{}, Fail(syscall.EINVAL, ErrBadMAC, "")
	}
	return m, CheckUnicastMAC(m)
}

// CheckUnicastMAC refuses group (multicast, broadcast) and zero addresses.
func CheckUnicastMAC(m wire.MAC) *Reason {
	if m.IsMulticast() || m.IsZero() {
		return Fail(syscall.EINVAL, ErrBadMAC, "%s is not a unicast address", m)
	}
	return nil
}

// ParseHostIP accepts a dotted-quad IPv4 unicast address.
func ParseHostIP(s string) (netip.Addr, *Reason) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, Fail(syscall.EINVAL, ErrBadIPv4, "")
	}
	return a, CheckHostIP(a)
}

// CheckHostIP accepts IPv4 addresses that a host may have (UnicastIPv4).
func CheckHostIP(a netip.Addr) *Reason {
	if !a.Is4() {
		return Fail(syscall.EINVAL, ErrBadIPv4, "")
	}
	if !UnicastIPv4(a) {
		return Fail(syscall.EINVAL, ErrBadIPv4, "%s is not a unicast address", a)
	}
	return nil
}

// UnicastIPv4 reports whether a can be a host's address on an Ethernet: not
// 0.0.0.0/8 ("this network"), loopback, multicast, the reserved
// 240.0.0.0/4 or the limited broadcast.
func UnicastIPv4(a netip.Addr) bool {
	b := a.As4()
	return a.Is4() && b[0] != 0 && b[0] != 127 && b[0] < 224
}

// ParseHostPrefix accepts IP/N where IP is a usable host address of the
// subnet: not its network or broadcast address (except on /31 and /32).
func ParseHostPrefix(s string) (netip.Prefix, *Reason) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, Fail(syscall.EINVAL, ErrBadPrefix, "missing /N")
	}
	a, r := ParseHostIP(ip)
	if r != nil {
		return netip.Prefix{}, r
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 1 || n > 32 || strconv.Itoa(n) != bits {
		return netip.Prefix{}, Fail(syscall.EINVAL, ErrBadPrefix, "prefix length must be 1..32")
	}
	p := netip.PrefixFrom(a, n)
	return p, CheckHostPrefix(p)
}

// CheckHostPrefix is the rule of ParseHostPrefix for a prefix built by hand.
func CheckHostPrefix(p netip.Prefix) *Reason {
	if r := CheckHostIP(p.Addr()); r != nil {
		return r
	}
	if n := p.Bits(); n < 1 || n > 32 {
		return Fail(syscall.EINVAL, ErrBadPrefix, "prefix length must be 1..32")
	}
	if !IsHostOf(p, p.Addr()) {
		return Fail(syscall.EINVAL, ErrBadPrefix, "%s is the network or broadcast address of %s", p.Addr(), p.Masked())
	}
	return nil
}

// IsHostOf reports whether a is a host of p's IPv4 subnet: inside it, and
// neither its network nor its broadcast address (which /31 and /32 do not
// have).
func IsHostOf(p netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || !p.Addr().Is4() || !p.Contains(a) {
		return false
	}
	if p.Bits() >= 31 {
		return true
	}
	host := ^(^uint32(0) << (32 - p.Bits()))
	v := a.As4()
	h := (uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])) & host
	return h != 0 && h != host
}

// ParseAddrPort parses IP!PORT, the way Plan 9's ip(3) files write an
// address and a port; "*" stands for the unspecified address (*!PORT).
func ParseAddrPort(s string) (netip.AddrPort, *Reason) {
	ip, port, ok := strings.Cut(s, "!")
	if !ok {
		return netip.AddrPort{}, Fail(syscall.EINVAL, ErrBadAddrPort, "%q is not IP!PORT", s)
	}
	var a netip.Addr
	if ip == "*" {
		a = netip.IPv4Unspecified()
	} else {
		var err error
		if a, err = netip.ParseAddr(ip); err != nil || a.Zone() != "" {
			return netip.AddrPort{}, Fail(syscall.EINVAL, ErrBadAddrPort, "%q is not an IP address", ip)
		}
	}
	n, r := ParseNumber(port, 0, 65535)
	if r != nil || strings.Trim(port, "0123456789") != "" {
		return netip.AddrPort{}, Fail(syscall.EINVAL, ErrBadAddrPort, "port must be 0..65535")
	}
	return netip.AddrPortFrom(a, uint16(n)), nil
}

// AppendAddrPort renders ap as IP!PORT.
func AppendAddrPort(b []byte, ap netip.AddrPort) []byte {
	b = ap.Addr().AppendTo(b)
	b = append(b, '!')
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// ParseOnOff parses on or off.
func ParseOnOff(s string) (on, ok bool) {
	return s == "on", s == "on" || s == "off"
}

// ParseNumber parses a decimal integer in lo..hi as strconv.Atoi reads it;
// out of range or not a number, it is ErrBadNumber (the caller says which
// numbers it takes).
func ParseNumber(s string, lo, hi int) (int, *Reason) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, Fail(syscall.EINVAL, ErrBadNumber, "")
	}
	return n, nil
}

// ParseRoutePrefix accepts an IPv4 network as a route's destination: IP/N
// with N in 0..32 and no host bits set (0.0.0.0/0 is the default route),
// as ip route refuses 10.1.2.3/8.
func ParseRoutePrefix(s string) (netip.Prefix, *Reason) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, Fail(syscall.EINVAL, ErrBadPrefix, "")
	}
	return p, CheckRoutePrefix(p)
}

// CheckRoutePrefix is the rule of ParseRoutePrefix for a prefix built by
// hand.
func CheckRoutePrefix(p netip.Prefix) *Reason {
	if !p.IsValid() || !p.Addr().Is4() {
		return Fail(syscall.EINVAL, ErrBadPrefix, "")
	}
	if p.Masked() != p {
		return Fail(syscall.EINVAL, ErrBadPrefix, "%s has host bits set (the network is %s)", p, p.Masked())
	}
	return nil
}
