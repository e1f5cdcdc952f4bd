package netcore

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The host's IPv6 addresses (RFC 4862): the EUI-64 link-local address,
// those added by hand, and, with `ipv6 autoconf on`, those formed from the
// prefixes routers advertise, with their lifetimes; duplicate address
// detection for every one of them; router solicitations to ask for
// advertisements; and what an advertisement teaches (default routers,
// on-link prefixes, the link's MTU, hop limit and timers).

// addAddr6 adds an address of the given origin and starts DAD for it
// (RFC 4862 5.4.2: after a random delay, as Linux waits before its first
// probe). An address the host has already only gains the origin.
func (h *Host) addAddr6(now time.Time, p netip.Prefix, origin addrOrigin) *ifAddr6 {
	v := &h.v6
	if i := v.find(p.Addr()); i >= 0 {
		v.addrs[i].origin |= origin
		return &v.addrs[i]
	}
	a := ifAddr6{prefix: p, origin: origin, state: addrTentative, probes: dadTransmits, next: now.Add(h.jitter(maxRtrSolicitDelay))}
	n := v.rng.Uint64()
	for i := range a.nonce {
		a.nonce[i] = byte(n >> (8 * i))
	}
	v.addrs = append(v.addrs, a)
	return &v.addrs[len(v.addrs)-1]
}

// dropOrigin6 takes one reason to have address i away, and the address
// with its last reason.
func (h *Host) dropOrigin6(now time.Time, i int, origin addrOrigin) {
	v := &h.v6
	if v.addrs[i].origin &^= origin; v.addrs[i].origin == 0 {
		v.addrs = slices.Delete(v.addrs, i, i+1)
	}
}

// duplicate marks address i duplicate: DAD found it in use (RFC 4862
// 5.4.5). It stays, marked, until removed; its group is left.
func (h *Host) duplicate(now time.Time, i int, why string, out *Output) {
	a := &h.v6.addrs[i]
	a.state = addrDuplicate
	h.stats[DADDuplicate]++
	h.event(now, EventConflict, a.prefix.Addr(), fmt.Sprintf("ipv6: duplicate address detection: %s is in use (%s); marked duplicate", a.prefix.Addr(), why), out)
	h.mldSync(now)
	h.schedule6(now)
}

// dadTimer takes the DAD steps that are due: a probe, or, when the last
// went unanswered for RetransTimer, the address becomes usable.
func (h *Host) dadTimer(now time.Time, out *Output) {
	v := &h.v6
	for i := range v.addrs {
		a := &v.addrs[i]
		if a.state != addrTentative || now.Before(a.next) {
			continue
		}
		if a.probes > 0 {
			a.probes--
			a.next = now.Add(v.retrans)
			g := wire.SolicitedNodeMulticast(a.prefix.Addr())
			h.sendNS(now, out, netip.IPv6Unspecified(), g, wire.MulticastMAC(g), a.prefix.Addr(), a.nonce[:])
			continue
		}
		a.state = addrPreferred
		if a.origin&originAuto != 0 && !a.preferred.IsZero() && !now.Before(a.preferred) {
			a.state = addrDeprecated
		}
		if a.origin&originLinkLocal != 0 {
			// The link-local address is what reports and solicitations
			// come from: report again from it, and ask for routers.
			h.mldReportAll(now)
			if v.autoconf {
				h.startRS(now)
			}
		}
	}
}

// newMAC6 follows a new hardware address: a new link-local address (with
// DAD), no addresses formed of the old one, and an unsolicited
// advertisement of every usable address so that neighbours update.
func (h *Host) newMAC6(now time.Time, out *Output) {
	v := &h.v6
	v.mac = h.cfg.MAC
	for i := len(v.addrs) - 1; i >= 0; i-- {
		if v.addrs[i].origin&(originLinkLocal|originAuto) != 0 {
			h.dropOrigin6(now, i, originLinkLocal|originAuto)
		}
	}
	h.addAddr6(now, netip.PrefixFrom(wire.LinkLocal(v.mac), 64), originLinkLocal)
	h.announce6(now, out)
}

// startRS starts soliciting routers (RFC 4861 6.3.7): up to three
// solicitations, the first after a random delay, until an advertisement
// comes.
func (h *Host) startRS(now time.Time) {
	v := &h.v6
	v.rsLeft = maxRtrSolicitations
	v.rsAt = now.Add(h.jitter(maxRtrSolicitDelay))
}

// sendRS sends the router solicitation that is due.
func (h *Host) sendRS(now time.Time, out *Output) {
	v := &h.v6
	if v.rsLeft <= 0 {
		v.rsAt = time.Time{}
		return
	}
	v.rsLeft--
	v.rsAt = time.Time{}
	if v.rsLeft > 0 {
		v.rsAt = now.Add(rtrSolicitInterval)
	}
	src, rs := netip.IPv6Unspecified(), wire.NDPRouterSolicit{}
	if ll := v.linkLocal(); ll != nil && ll.usable() {
		src, rs.SourceLLA = ll.prefix.Addr(), h.cfg.MAC
	}
	b := h.appendIPv6Frame(out.buffer(), src, wire.IPv6AllRouters, wire.ProtoICMPv6, 255, rs.Len())
	b = rs.Append(b, src, wire.IPv6AllRouters)
	h.stats[NDPTxRS]++
	h.route6(now, out, wire.IPv6AllRouters, b)
}

// stopAutoconf forgets what advertisements taught: `ipv6 autoconf off`.
func (h *Host) stopAutoconf(now time.Time) {
	v := &h.v6
	v.autoconf = false
	for i := len(v.addrs) - 1; i >= 0; i-- {
		if v.addrs[i].origin&originAuto != 0 {
			h.dropOrigin6(now, i, originAuto)
		}
	}
	v.routers, v.prefixes = v.routers[:0], v.prefixes[:0]
	v.rsLeft, v.rsAt = 0, time.Time{}
	v.hopLimit, v.linkMTU, v.reach, v.retrans = defaultHopLimit, 0, baseReachableTime, retransTimer
}

// receiveRA takes a router advertisement (RFC 4861 6.3.4, RFC 4862 5.5.3)
// when autoconfiguration is on; it is counted and ignored otherwise. Its
// source's link-layer address is learned either way.
func (h *Host) receiveRA(now time.Time, d *datagram6, out *Output) Counter {
	v := &h.v6
	if !ndpValid(d) {
		return NDPRxInvalid
	}
	ra, err := wire.ParseNDPRouterAdvert(d.upper(), d.src, d.dst, v.ras[:0])
	v.ras = ra.Prefixes[:0]
	if err != nil {
		return NDPRxInvalid
	}
	if !d.src.IsLinkLocalUnicast() {
		h.stats[NDPRAIgnored]++ // RFC 4861 6.1.2: routers speak from link-local addresses
		return NDPRxRA
	}
	if !ra.SourceLLA.IsZero() {
		h.learn6(now, d.src, ra.SourceLLA, out)
	}
	if !v.autoconf {
		h.stats[NDPRAIgnored]++
		return NDPRxRA
	}
	v.rsLeft, v.rsAt = 0, time.Time{} // answered
	if ra.CurHopLimit != 0 {
		v.hopLimit = ra.CurHopLimit
	}
	if ra.ReachableTime != 0 && ra.ReachableTime <= 3600000 {
		v.reach = time.Duration(ra.ReachableTime) * time.Millisecond
	}
	if ra.RetransTimer != 0 {
		v.retrans = min(max(time.Duration(ra.RetransTimer)*time.Millisecond, 100*time.Millisecond), time.Minute)
	}
	if ra.MTU >= wire.IPv6MinMTU && int(ra.MTU) <= h.cfg.MTU {
		v.linkMTU = int(ra.MTU)
	}
	h.router6(now, d.src, ra.Lifetime)
	for _, pi := range ra.Prefixes {
		if pi.Prefix.Addr().IsLinkLocalUnicast() || pi.Prefix.Addr().IsMulticast() {
			continue
		}
		if pi.OnLink {
			h.onLinkPrefix(now, pi)
		}
		if pi.Autonomous && pi.PreferredLifetime <= pi.ValidLifetime {
			h.autoAddr(now, pi)
		}
	}
	h.mldSync(now)
	h.schedule6(now)
	return NDPRxRA
}

// lifetime is when a lifetime of s seconds from now ends, zero for the
// infinite one.
func lifetime(now time.Time, s uint32) time.Time {
	if s == wire.NDPInfiniteLifetime {
		return time.Time{}
	}
	return now.Add(time.Duration(s) * time.Second)
}

// router6 adds, refreshes or (lifetime 0) removes a default router.
func (h *Host) router6(now time.Time, addr netip.Addr, life uint16) {
	v := &h.v6
	i := slices.IndexFunc(v.routers, func(r router6) bool { return r.addr == addr })
	switch {
	case life == 0 && i >= 0:
		v.routers = slices.Delete(v.routers, i, i+1)
	case life == 0:
	case i >= 0:
		v.routers[i].expires = lifetime(now, uint32(life))
	case len(v.routers) < maxRouters6:
		v.routers = append(v.routers, router6{addr: addr, expires: lifetime(now, uint32(life))})
	default:
		h.stats[NDPRAIgnored]++
	}
}

// onLinkPrefix adds, refreshes or (valid lifetime 0) removes an on-link
// prefix.
func (h *Host) onLinkPrefix(now time.Time, pi wire.NDPPrefixInfo) {
	v := &h.v6
	i := slices.IndexFunc(v.prefixes, func(p prefix6) bool { return p.prefix == pi.Prefix })
	switch {
	case pi.ValidLifetime == 0 && i >= 0:
		v.prefixes = slices.Delete(v.prefixes, i, i+1)
	case pi.ValidLifetime == 0:
	case i >= 0:
		v.prefixes[i].expires = lifetime(now, pi.ValidLifetime)
	case len(v.prefixes) < maxPrefixes6:
		v.prefixes = append(v.prefixes, prefix6{prefix: pi.Prefix, expires: lifetime(now, pi.ValidLifetime)})
	}
}

// twoHours is RFC 4862 5.5.3 (e)'s floor: an advertisement cannot cut an
// address's remaining valid lifetime below it.
const twoHours = 2 * time.Hour

// autoAddr forms an address from an autonomous prefix, or updates the
// lifetimes of the one formed before (RFC 4862 5.5.3 (d), (e)).
func (h *Host) autoAddr(now time.Time, pi wire.NDPPrefixInfo) {
	v := &h.v6
	if pi.Prefix.Bits() != 64 {
		return // an EUI-64 identifier makes a /64 only
	}
	addr := wire.WithInterfaceID(pi.Prefix, wire.InterfaceID(v.mac))
	i := v.find(addr)
	if i < 0 || v.addrs[i].origin&originAuto == 0 {
		if pi.ValidLifetime == 0 {
			return
		}
		n := 0
		for j := range v.addrs {
			if v.addrs[j].origin&originAuto != 0 {
				n++
			}
		}
		if n >= MaxAutoconfAddrs {
			h.stats[NDPRAIgnored]++
			return
		}
		a := h.addAddr6(now, netip.PrefixFrom(addr, 64), originAuto)
		if a.origin == originAuto {
			a.valid = lifetime(now, pi.ValidLifetime)
			a.preferred = lifetime(now, pi.PreferredLifetime)
		}
		return
	}
	a := &v.addrs[i]
	if a.origin != originAuto {
		return // also added by hand: no lifetimes
	}
	received := lifetime(now, pi.ValidLifetime)
	switch {
	case received.IsZero(), pi.ValidLifetime > uint32(twoHours/time.Second), !a.valid.IsZero() && received.After(a.valid):
		a.valid = received
	case !a.valid.IsZero() && a.valid.Sub(now) <= twoHours:
		// Leave it: an advertisement cannot end it early.
	default:
		a.valid = now.Add(twoHours)
	}
	a.preferred = lifetime(now, pi.PreferredLifetime)
	if a.state == addrDeprecated && (a.preferred.IsZero() || now.Before(a.preferred)) {
		a.state = addrPreferred
	}
}

// lifetimes ends what advertisements gave for a time: routers, prefixes,
// and addresses (deprecated when their preferred lifetime is over, gone
// when the valid one is).
func (h *Host) lifetimes(now time.Time, out *Output) {
	v := &h.v6
	over := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	v.routers = slices.DeleteFunc(v.routers, func(r router6) bool { return over(r.expires) })
	v.prefixes = slices.DeleteFunc(v.prefixes, func(p prefix6) bool { return over(p.expires) })
	changed := false
	for i := len(v.addrs) - 1; i >= 0; i-- {
		a := &v.addrs[i]
		if a.origin != originAuto {
			continue
		}
		switch {
		case over(a.valid):
			h.dropOrigin6(now, i, originAuto)
			changed = true
		case a.state == addrPreferred && over(a.preferred):
			a.state = addrDeprecated
		}
	}
	if changed {
		h.mldSync(now)
	}
}

// AddrInfo is one of a host's IPv6 addresses as the addr file shows it.
type AddrInfo struct {
	Prefix netip.Prefix
	State  string // "", "tentative" or "duplicate"
}

// addrInfo6 lists the host's IPv6 addresses: the link-local one first,
// then those added by hand, then those formed from advertisements.
func (h *Host) addrInfo6() []AddrInfo {
	v := &h.v6
	var t []AddrInfo
	for _, o := range [...]addrOrigin{originLinkLocal, originManual, originAuto} {
		for i := range v.addrs {
			a := &v.addrs[i]
			if a.origin&o == 0 || a.origin&(o-1) != 0 {
				continue // listed under an earlier origin
			}
			s := ""
			switch a.state {
			case addrTentative:
				s = "tentative"
			case addrDuplicate:
				s = "duplicate"
			}
			t = append(t, AddrInfo{Prefix: a.prefix, State: s})
		}
	}
	return t
}
