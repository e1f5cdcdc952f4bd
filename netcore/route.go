package netcore

import (
	"math/bits"
	"net/netip"
	"slices"
	"syscall"

	"github.com/smolfs/smolfs/netcore/ctl"
)

// Routes: where datagrams to addresses beyond the connected subnets go.
// A route sends the datagrams for its prefix to a gateway, a neighbour on a
// connected subnet (`route add 0.0.0.0/0 192.168.69.100` is the default
// route). The longest prefix that holds a destination wins, the connected
// subnets counting as routes of their own length with no gateway, as in
// Linux's main table. Without a route, only on-link addresses are reached.

// Route sends the datagrams for Prefix through Gateway.
type Route struct {
	Prefix  netip.Prefix
	Gateway netip.Addr
}

// MaxRoutes bounds a host's routes: every datagram sent beyond the
// connected subnets is matched against all of them.
const MaxRoutes = 256

// route4 is a Route in host byte order, for the send path.
type route4 struct {
	net, mask, gw uint32
	bits          int
}

// setRoutes derives routes from cfg.Routes after every change.
func (h *Host) setRoutes() {
	h.routes = h.routes[:0]
	for _, r := range h.cfg.Routes {
		bits := r.Prefix.Bits()
		h.routes = append(h.routes, route4{net: key(r.Prefix.Addr()), mask: maskOf(bits), gw: key(r.Gateway), bits: bits})
	}
}

func maskOf(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// nextHop finds the neighbour to hand a datagram for ip to: ip itself on a
// connected subnet, else the gateway of the longest route that holds it.
// ok is false when nothing holds ip, or when ip is the network or
// broadcast address of a connected subnet.
func (h *Host) nextHop(ip uint32) (hop uint32, ok bool) {
	if !unicastIPv4(ip) {
		return 0, false
	}
	best := -1
	for _, a := range h.addrs {
		if ip&a.mask == a.ip&a.mask {
			if !a.holds(ip) {
				return 0, false // a subnet's network or broadcast address, as Linux's local table has them
			}
			best = max(best, bits.OnesCount32(a.mask))
		}
	}
	gw := uint32(0)
	for _, r := range h.routes {
		if ip&r.mask == r.net && r.bits > best {
			best, gw = r.bits, r.gw
		}
	}
	switch {
	case gw != 0:
		return gw, true
	case best >= 0:
		return ip, true
	}
	return 0, false
}

// sourceFor is the address of ours to send to ip from: the one whose
// subnet holds its next hop. ok is false when there is no route.
func (h *Host) sourceFor(ip uint32) (src uint32, ok bool) {
	hop, ok := h.nextHop(ip)
	if !ok {
		return 0, false
	}
	return h.source(hop)
}

// pruneRoutes drops the routes whose gateway is no longer on a connected
// subnet, as Linux drops the routes through an address that goes, so that
// the configuration always reads back as commands that replay.
func (c *Config) pruneRoutes() {
	c.setRoutes(slices.DeleteFunc(c.Routes, func(r Route) bool { return !onLinkOf(c.Addrs, r.Gateway) }))
}

// setRoutes sets the routes, none as nil, so that configurations that
// read back alike compare alike.
func (c *Config) setRoutes(rs []Route) {
	if len(rs) == 0 {
		rs = nil
	}
	c.Routes = rs
}

// checkRoute is the rule of `route add` against a configuration.
func checkRoute(cfg *Config, r Route) *ctl.Reason {
	if rr := ctl.CheckRoutePrefix(r.Prefix); rr != nil {
		return rr
	}
	if rr := ctl.CheckHostIP(r.Gateway); rr != nil {
		return rr
	}
	switch {
	case hasAddr(cfg.Addrs, r.Gateway) >= 0:
		return ctl.Fail(syscall.EINVAL, ctl.ErrBadIPv4, "gateway %s is an address of this host", r.Gateway)
	case !onLinkOf(cfg.Addrs, r.Gateway):
		return ctl.Fail(syscall.ENETUNREACH, ctl.ErrUnreachable, "gateway %s", r.Gateway)
	case slices.ContainsFunc(cfg.Routes, func(o Route) bool { return o.Prefix == r.Prefix }):
		return ctl.Fail(syscall.EEXIST, ctl.ErrExists, "a route to %s", r.Prefix)
	case len(cfg.Routes) >= MaxRoutes:
		return ctl.Fail(syscall.ENOSPC, ctl.ErrTooManyRoutes, "at most %d", MaxRoutes)
	}
	return nil
}
