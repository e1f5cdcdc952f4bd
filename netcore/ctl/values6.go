package ctl

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// IPv6 values of the host languages, and the parsers that take an address
// of either family: IPv6 is told from IPv4 by its colon, so that an
// IPv4 mistake still gets IPv4's message.

// Reasons of the IPv6 values.
var (
	ErrBadIPv6    = errors.New("bad IPv6 address")
	ErrBadPrefix6 = errors.New("bad IPv6 address/prefix")
	ErrIPv6Off    = errors.New("IPv6 is off on this host")
)

// ParseHostIP6 accepts an IPv6 address a host may have or talk to on its
// link (CheckHostIP6), written without a zone.
func ParseHostIP6(s string) (netip.Addr, *Reason) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, Fail(syscall.EINVAL, ErrBadIPv6, "")
	}
	return a, CheckHostIP6(a)
}

// CheckHostIP6 refuses the unspecified, loopback, multicast and
// IPv4-mapped addresses, and addresses with a zone.
func CheckHostIP6(a netip.Addr) *Reason {
	switch {
	case !a.Is6() || a.Zone() != "":
		return Fail(syscall.EINVAL, ErrBadIPv6, "")
	case a.Is4In6():
		return Fail(syscall.EINVAL, ErrBadIPv6, "%s is an IPv4-mapped address", a)
	case !UnicastIPv6(a):
		return Fail(syscall.EINVAL, ErrBadIPv6, "%s is not a unicast address", a)
	}
	return nil
}

// UnicastIPv6 reports whether a can be an IPv6 host's address on an
// Ethernet: not unspecified, loopback or multicast.
func UnicastIPv6(a netip.Addr) bool {
	return a.Is6() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && !a.Is4In6()
}

// ParseHostPrefix6 accepts IP/N for an IPv6 address (CheckHostIP6), N in
// 1..128.
func ParseHostPrefix6(s string) (netip.Prefix, *Reason) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, Fail(syscall.EINVAL, ErrBadPrefix6, "missing /N")
	}
	a, r := ParseHostIP6(ip)
	if r != nil {
		return netip.Prefix{}, r
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 1 || n > 128 || strconv.Itoa(n) != bits {
		return netip.Prefix{}, Fail(syscall.EINVAL, ErrBadPrefix6, "prefix length must be 1..128")
	}
	return netip.PrefixFrom(a, n), nil
}

// CheckHostPrefix6 is the rule of ParseHostPrefix6 for a prefix built by hand.
func CheckHostPrefix6(p netip.Prefix) *Reason {
	if r := CheckHostIP6(p.Addr()); r != nil {
		return r
	}
	if n := p.Bits(); n < 1 || n > 128 {
		return Fail(syscall.EINVAL, ErrBadPrefix6, "prefix length must be 1..128")
	}
	return nil
}

// isIPv6Text reports whether s is written as IPv6 (it has a colon).
func isIPv6Text(s string) bool { return strings.Contains(s, ":") }

// ParseAnyHostPrefix is ParseHostPrefix or ParseHostPrefix6, by the form
// of s.
func ParseAnyHostPrefix(s string) (netip.Prefix, *Reason) {
	if isIPv6Text(s) {
		return ParseHostPrefix6(s)
	}
	return ParseHostPrefix(s)
}

// CheckAnyHostPrefix is CheckHostPrefix or CheckHostPrefix6, by p's family.
func CheckAnyHostPrefix(p netip.Prefix) *Reason {
	if p.Addr().Is6() {
		return CheckHostPrefix6(p)
	}
	return CheckHostPrefix(p)
}

// ParseAnyHostIP is ParseHostIP or ParseHostIP6, by the form of s.
func ParseAnyHostIP(s string) (netip.Addr, *Reason) {
	if isIPv6Text(s) {
		return ParseHostIP6(s)
	}
	return ParseHostIP(s)
}

// CheckAnyHostIP is CheckHostIP or CheckHostIP6, by a's family.
func CheckAnyHostIP(a netip.Addr) *Reason {
	if a.Is6() {
		return CheckHostIP6(a)
	}
	return CheckHostIP(a)
}
