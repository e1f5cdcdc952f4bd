package netcore

import (
	"net/netip"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv6's rows of the host ctl language (commands.go has the table and
// the rest of the language, `add` and `remove` of both families included).

// ipv6AutoconfCommand is `ipv6 autoconf on|off`. Turning it on turns IPv6
// on, as adding an IPv6 address does.
var ipv6AutoconfCommand = command{
	Syntax: ctl.Syntax{Names: []string{"ipv6"}, Usage: "ipv6 autoconf on|off", Args: 2,
		Match: func(args []string) bool { return len(args) > 0 && args[0] == "autoconf" }},
	op: OpIPv6Autoconf,
	parse: func(c *Command, args []string) *ctl.Reason {
		on, ok := ctl.ParseOnOff(args[1])
		if !ok {
			return ctl.Usage("ipv6 autoconf on|off")
		}
		c.On = on
		return nil
	},
	apply: func(t target, c *Command) *ctl.Reason {
		cfg := t.config()
		cfg.Autoconf = c.On
		cfg.IPv6 = cfg.IPv6 || c.On
		return nil
	},
	args: func(b []byte, c *Command) []byte {
		b = append(b, "autoconf "...)
		return appendOnOff(b, c.On)
	},
	config: func(cfg *Config) []Command { return []Command{{Op: OpIPv6Autoconf, On: cfg.Autoconf}} },
}

// ipv6Command is `ipv6 on|off`.
var ipv6Command = command{
	Syntax: ctl.Syntax{Names: []string{"ipv6"}, Usage: "ipv6 on|off", Args: 1},
	op:     OpIPv6,
	parse: func(c *Command, args []string) *ctl.Reason {
		on, ok := ctl.ParseOnOff(args[0])
		if !ok {
			return ctl.Usage("ipv6 on|off")
		}
		c.On = on
		return nil
	},
	apply: func(t target, c *Command) *ctl.Reason {
		t.config().IPv6 = c.On
		return nil
	},
	args:   func(b []byte, c *Command) []byte { return appendOnOff(b, c.On) },
	config: func(cfg *Config) []Command { return []Command{{Op: OpIPv6, On: cfg.IPv6}} },
}

func appendOnOff(b []byte, on bool) []byte {
	if on {
		return append(b, "on"...)
	}
	return append(b, "off"...)
}

// hasAddr reports whether ip is one of the addresses configured, of
// either family.
func (c *Config) hasAddr(ip netip.Addr) bool {
	if ip.Is6() {
		return hasAddr(c.Addrs6, ip) >= 0
	}
	return hasAddr(c.Addrs, ip) >= 0
}

// ownsAddr is hasAddr, and the link-local address IPv6 makes of the
// hardware address: the addresses no neighbour entry may be made for.
func (c *Config) ownsAddr(ip netip.Addr) bool {
	return c.hasAddr(ip) || ip == wire.LinkLocal(c.MAC)
}

// badIP is the reason for an address of ip's family that cannot be used.
func badIP(ip netip.Addr) error {
	if ip.Is6() {
		return ctl.ErrBadIPv6
	}
	return ctl.ErrBadIPv4
}

// onLink6 is Host.onLink6 with the staged configuration's addresses.
func (s *staged) onLink6(ip netip.Addr) bool {
	if ip.IsLinkLocalUnicast() || s.h.onLink6(ip) {
		return true
	}
	for _, p := range s.cfg.Addrs6 {
		if p.Bits() < 128 && p.Contains(ip) {
			return true
		}
	}
	return false
}

func (l *live) onLink6(ip netip.Addr) bool { return l.h.onLink6(ip) }
