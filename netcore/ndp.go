package netcore

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// Neighbour discovery (RFC 4861): solicitations and advertisements, and
// neighbour unreachability detection (7.3) for the IPv6 entries of the
// neighbour table that ARP fills for IPv4. An IPv6 entry goes incomplete →
// reachable → stale → delay → probe → reachable again or failed, in Linux's
// words; static entries (`add IP MAC`) never move.
//
// Learning keeps ARP's rule against strangers: an entry is made only from
// a message for us (a solicitation for one of our addresses, an
// advertisement we asked for, a router's advertisement), and made on
// probation, so that a flood of them cannot push out the neighbours the host
// talks to. A learned entry that is not used is forgotten `arptimeout` after
// it went stale; a failed one stays as long, to show.

// toNeighbour6 sends a frame to neighbour ip: at once when its hardware
// address is known (a stale entry starts the delay towards a probe), else
// after resolving it.
func (h *Host) toNeighbour6(now time.Time, out *Output, ip netip.Addr, frame []byte) {
	e := h.arp.get(ip)
	if e != nil {
		switch e.state {
		case Reachable, Stale:
			if e.state == Stale || !now.Before(e.deadline) {
				// RFC 4861 7.3.3: traffic to a stale neighbour waits
				// DELAY_FIRST_PROBE_TIME for a confirmation, then probes.
				h.arp.setState(e, Delay)
				e.deadline = now.Add(delayFirstProbe)
				h.arm(e)
			}
			fallthrough
		case Static, Delay, Probe:
			h.arp.use(e)
			copy(frame[wire.EthDstOff:], e.mac[:])
			h.transmit(now, out, frame)
			return
		case Failed:
			h.arp.setState(e, Incomplete)
			e.mac, e.tries = wire.MAC{}, 0
		}
	} else if e = h.arp.insert(ip, Incomplete, protected); e == nil {
		h.stats[ARPPendingDropped]++ // every slot is static
		return
	}
	h.arp.use(e)
	if len(e.pending) >= h.cfg.ARPPending {
		h.stats[ARPPendingDropped]++
	} else {
		e.pending = append(e.pending, h.keep(frame))
	}
	if e.tries == 0 {
		h.solicit(now, out, e)
	}
}

// nudTimer runs an IPv6 entry's timer: the step of RFC 4861 7.3.3 that is
// due.
func (h *Host) nudTimer(now time.Time, e *neighbour, out *Output) {
	switch {
	case e.state == Static:
	case now.Before(e.deadline):
		h.arm(e) // confirmed since the timer was armed
	case e.state == Reachable:
		h.arp.setState(e, Stale)
		e.deadline = now.Add(h.cfg.ARPTimeout)
		h.arm(e)
	case e.state == Stale, e.state == Failed:
		h.arp.remove(e)
	case e.state == Delay:
		h.arp.setState(e, Probe)
		e.tries = 0
		h.solicit(now, out, e)
	case e.state == Probe && e.tries >= maxUnicastSolicit,
		e.state == Incomplete && e.tries >= maxMulticastSolicit,
		h.cfg.Down:
		h.fail6(now, out, e)
	default:
		h.solicit(now, out, e)
	}
}

// fail6 gives up on a neighbour: its waiting frames go, and it stays a
// while as failed.
func (h *Host) fail6(now time.Time, out *Output, e *neighbour) {
	h.stats[NDPFailed]++
	h.event(now, EventUnresolved, e.addr, fmt.Sprintf("ndp: %s did not answer %d solicitations; dropped %d waiting frames", e.addr, e.tries, len(e.pending)), out)
	h.dropPending(e)
	h.udpUnresolved(e.addr, out)
	h.tcpUnresolved(now, e.addr, out)
	h.arp.setState(e, Failed)
	e.mac, e.tries = wire.MAC{}, 0
	e.deadline = now.Add(h.cfg.ARPTimeout)
	h.arm(e)
}

// solicit sends a neighbour solicitation for e: multicast to its
// solicited-node group while incomplete, unicast to its known address
// while probing; at most one a RetransTimer, as ARP's requests.
func (h *Host) solicit(now time.Time, out *Output, e *neighbour) {
	if !e.lastReq.IsZero() && now.Sub(e.lastReq) < h.v6.retrans {
		h.stats[ARPRateLimited]++
		e.deadline = e.lastReq.Add(h.v6.retrans)
		h.arm(e)
		return
	}
	e.lastReq = now
	e.tries++
	e.deadline = now.Add(h.v6.retrans)
	h.arm(e)
	src, ok := h.source6(e.addr)
	if !ok {
		return // no usable address yet (DAD runs): the try still counts
	}
	dst, ethDst := e.addr, e.mac
	if e.state == Incomplete {
		dst = wire.SolicitedNodeMulticast(e.addr)
		ethDst = wire.MulticastMAC(dst)
	}
	h.sendNS(now, out, src, dst, ethDst, e.addr, nil)
}

// sendNS sends a neighbour solicitation for target. From the unspecified
// address (DAD) it carries a nonce instead of our hardware address.
func (h *Host) sendNS(now time.Time, out *Output, src, dst netip.Addr, ethDst wire.MAC, target netip.Addr, nonce []byte) {
	ns := wire.NDPNeighborSolicit{Target: target, Nonce: nonce}
	if !src.IsUnspecified() {
		ns.SourceLLA = h.cfg.MAC
	}
	b := h.appendIPv6Frame(out.buffer(), src, dst, wire.ProtoICMPv6, 255, ns.Len())
	b = ns.Append(b, src, dst)
	copy(b[wire.EthDstOff:], ethDst[:])
	h.stats[NDPTxNS]++
	h.transmit(now, out, b)
}

// sendNA sends a neighbour advertisement for our address target to dst.
//
// It is wire.NDPNeighborAdvert's encoding, written in place with the
// checksum summed over the header just written: this answers every
// solicitation, and the struct and the second conversion of the addresses
// cost half its time (perf: store-forwarding stalls).
// dst and target are the addresses' 16 bytes, as the solicitation carried
// them.
func (h *Host) sendNA(now time.Time, out *Output, dst []byte, ethDst wire.MAC, target []byte, solicited bool) {
	const n = wire.NDPNALen + wire.NDPLLAOptLen
	b := h.appendIPv6FrameRaw(out.buffer(), target, dst, wire.ProtoICMPv6, 255, 0, n)
	start := len(b)
	b = b[:start+n] // out.buffer has room for any frame
	m := b[start:]
	flags := uint64(wire.NDPNAOverride)
	if solicited {
		flags |= wire.NDPNASolicit
	}
	binary.BigEndian.PutUint64(m, uint64(wire.ICMPv6NeighAdvert)<<56|flags<<24)
	*(*[16]byte)(m[wire.NDPTargetOff:]) = [16]byte(target)
	m[wire.NDPNALen+wire.NDPOptTypeOff], m[wire.NDPNALen+wire.NDPOptLenOff] = wire.NDPOptTargetLLA, 1
	*(*wire.MAC)(m[wire.NDPNALen+wire.NDPOptDataOff:]) = h.cfg.MAC
	wire.IPv6Packet(b[wire.EthHeaderLen:]).SetUpperChecksum(wire.IPv6HeaderLen, wire.ICMPv6ChecksumOff, wire.ProtoICMPv6)
	*(*wire.MAC)(b[wire.EthDstOff:]) = ethDst
	h.stats[NDPTxNA]++
	h.transmit(now, out, b)
}

// announce6 sends an unsolicited advertisement of every usable address to
// all-nodes (RFC 4861 7.2.6): after the hardware address changed, so that
// neighbours learn the new one at once.
func (h *Host) announce6(now time.Time, out *Output) {
	for i := range h.v6.addrs {
		if a := &h.v6.addrs[i]; a.usable() {
			t := a.prefix.Addr().As16()
			h.sendNA(now, out, allNodes16[:], wire.MulticastMAC(wire.IPv6AllNodes), t[:], false)
		}
	}
}

// allNodes16 is ff02::1's bytes.
var allNodes16 = wire.IPv6AllNodes.As16()

// ndpValid is what RFC 4861 asks of the IPv6 header of every neighbour
// discovery message: hop limit 255, so that it cannot come from off the
// link.
func ndpValid(d *datagram6) bool { return d.hopLimit() == 255 }

// receiveNS answers solicitations for our addresses, learns the solicitor,
// and sees other nodes' DAD for an address we are trying.
func (h *Host) receiveNS(now time.Time, d *datagram6, out *Output) Counter {
	if !ndpValid(d) {
		return NDPRxInvalid
	}
	// The view, not the parsed value: this answers every solicitation, and
	// copying a struct out costs more than reading the two fields needed.
	ns, err := wire.NewNDPNeighborSolicitPacket(d.upper())
	if err != nil || !checksum6OK(d.pkt, d.off) {
		return NDPRxInvalid
	}
	sll := ns.SourceLLA()
	dad := d.src.IsUnspecified()
	if dad && (!wire.IsSolicitedNodeMulticast(d.dst) || !sll.IsZero()) {
		return NDPRxInvalid
	}
	target := ns.Target()
	target16 := ns[wire.NDPTargetOff : wire.NDPTargetOff+16]
	i := h.v6.find(target)
	if i < 0 {
		return NDPRxNS
	}
	a := &h.v6.addrs[i]
	switch a.state {
	case addrTentative:
		// Another node tries our tentative address, unless this is our
		// own probe come back (RFC 7527: the same nonce).
		if dad && string(ns.Repr().Nonce) != string(a.nonce[:]) {
			h.duplicate(now, i, "another node probes for it", out)
		}
		return NDPRxNS
	case addrDuplicate:
		return NDPRxNS
	}
	if dad {
		// RFC 4861 7.2.4: defend it, to all-nodes, not solicited.
		h.sendNA(now, out, allNodes16[:], wire.MulticastMAC(wire.IPv6AllNodes), target16, false)
		return NDPRxNS
	}
	var e *neighbour
	if !sll.IsZero() {
		e = h.learn6(now, d.src, sll, out)
	} else {
		e = h.arp.get(d.src)
	}
	if e != nil && e.state != Incomplete && e.state != Failed {
		h.sendNA(now, out, d.pkt[wire.IPv6SrcOff:wire.IPv6SrcOff+16], e.mac, target16, true)
		return NDPRxNS
	}
	// A unicast solicitation without our sender's address: resolve it
	// first (RFC 4861 7.2.4).
	na := wire.NDPNeighborAdvert{Solicited: true, Override: true, Target: target, TargetLLA: h.cfg.MAC}
	b := h.appendIPv6Frame(out.buffer(), target, d.src, wire.ProtoICMPv6, 255, na.Len())
	h.stats[NDPTxNA]++
	h.toNeighbour6(now, out, d.src, na.Append(b, target, d.src))
	return NDPRxNS
}

// learn6 records that neighbour ip is at mac, from a message it sent with
// its address in it (RFC 4861 7.2.3, 6.3.4): a new entry, or a changed
// address, is stale until confirmed; an incomplete one sends what waited.
// It returns the entry, nil if there is none.
func (h *Host) learn6(now time.Time, ip netip.Addr, mac wire.MAC, out *Output) *neighbour {
	e := h.arp.get(ip)
	if e != nil && (e.state == Static || e.mac == mac && e.state != Incomplete && e.state != Failed) {
		return e // known, and nothing new: the common case, first
	}
	if !ctlUnicast6(ip) || mac.IsMulticast() || mac.IsZero() {
		return e
	}
	if e == nil {
		if e = h.arp.insert(ip, Stale, probation); e == nil {
			return nil
		}
	}
	h.arp.setState(e, Stale)
	e.mac, e.tries = mac, 0
	e.deadline = now.Add(h.cfg.ARPTimeout)
	h.arp.touch(e)
	h.arm(e)
	h.sendPending(now, e, out)
	return e
}

// ctlUnicast6 reports whether ip may be a neighbour's address.
func ctlUnicast6(ip netip.Addr) bool {
	return ip.Is6() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLoopback()
}

// confirm makes e reachable: a solicited advertisement came.
func (h *Host) confirm(now time.Time, e *neighbour) {
	h.arp.setState(e, Reachable)
	e.tries = 0
	e.deadline = now.Add(h.reachableTime())
	h.arp.touch(e)
	h.arm(e)
}

// reachableTime is ReachableTime, drawn anew each time between 0.5 and 1.5
// times the base (RFC 4861 6.3.2).
func (h *Host) reachableTime() time.Duration {
	base := h.v6.reach
	return base/2 + h.jitter(base)
}

// receiveNA takes an advertisement: for an address of ours, another node
// has it; for a neighbour we know, RFC 4861 7.2.5's rules.
func (h *Host) receiveNA(now time.Time, d *datagram6, out *Output) Counter {
	if !ndpValid(d) {
		return NDPRxInvalid
	}
	na, err := wire.ParseNDPNeighborAdvert(d.upper(), d.src, d.dst)
	if err != nil {
		return NDPRxInvalid
	}
	if i := h.v6.find(na.Target); i >= 0 {
		a := &h.v6.addrs[i]
		switch {
		case a.state == addrTentative:
			h.duplicate(now, i, fmt.Sprintf("%s advertises it", na.TargetLLA), out)
		case a.state != addrDuplicate && na.TargetLLA != h.cfg.MAC:
			h.conflicted6(now, na.Target, na.TargetLLA, out)
		}
		return NDPRxNA
	}
	e := h.arp.get(na.Target)
	if e == nil || e.state == Static {
		return NDPRxNA // nobody asked: nothing to learn
	}
	lla := na.TargetLLA
	if e.state == Incomplete || e.state == Failed {
		if lla.IsZero() || lla.IsMulticast() {
			return NDPRxNA
		}
		e.mac = lla
		if na.Solicited {
			h.confirm(now, e)
		} else {
			h.arp.setState(e, Stale)
			e.deadline = now.Add(h.cfg.ARPTimeout)
			h.arm(e)
		}
		h.sendPending(now, e, out)
		return NDPRxNA
	}
	changed := !lla.IsZero() && lla != e.mac
	if !na.Override && changed {
		// Another address, not overriding ours: only doubt it.
		if e.state == Reachable {
			h.arp.setState(e, Stale)
			e.deadline = now.Add(h.cfg.ARPTimeout)
			h.arm(e)
		}
		return NDPRxNA
	}
	if changed {
		e.mac = lla
	}
	switch {
	case na.Solicited:
		h.confirm(now, e)
	case changed:
		h.arp.setState(e, Stale)
		e.deadline = now.Add(h.cfg.ARPTimeout)
		h.arm(e)
	}
	return NDPRxNA
}

// conflicted6 counts another station advertising one of our usable
// addresses, and reports it at most once a second. The address stays ours:
// after DAD, RFC 4862 leaves it to the administrator.
func (h *Host) conflicted6(now time.Time, ip netip.Addr, mac wire.MAC, out *Output) {
	h.stats[NDPConflicts]++
	if !h.v6.conflict.IsZero() && now.Sub(h.v6.conflict) < time.Second {
		return
	}
	h.v6.conflict = now
	h.event(now, EventConflict, ip, fmt.Sprintf("ndp conflict: %s is-at %s, but it is ours (%s)", ip, mac, h.cfg.MAC), out)
}

// receiveRS counts a router solicitation: a host has nothing to answer.
func (h *Host) receiveRS(now time.Time, d *datagram6, out *Output) Counter {
	rs, err := wire.ParseNDPRouterSolicit(d.upper(), d.src, d.dst)
	if !ndpValid(d) || err != nil || d.src.IsUnspecified() && !rs.SourceLLA.IsZero() {
		return NDPRxInvalid
	}
	return NDPRxRS
}

// receiveRedirect counts a redirect: the host keeps no destination cache
// to redirect (RFC 4861 8 allows a host to ignore them).
func (h *Host) receiveRedirect(now time.Time, d *datagram6, out *Output) Counter {
	if !ndpValid(d) {
		return NDPRxInvalid
	}
	return NDPRxRedirect
}

// resolve6 asks for ip's hardware address now (the arp file's resolve).
func (h *Host) resolve6(now time.Time, out *Output, ip netip.Addr) {
	e := h.arp.get(ip)
	switch {
	case e == nil:
		if e = h.arp.insert(ip, Incomplete, protected); e == nil {
			return // the check made sure there is room
		}
	case e.state == Failed:
		h.arp.setState(e, Incomplete)
		e.mac, e.tries = wire.MAC{}, 0
	}
	h.arp.use(e)
	switch e.state {
	case Incomplete:
		if e.tries >= maxMulticastSolicit {
			e.tries = 0
		}
		h.solicit(now, out, e)
	case Static:
	default:
		// Known: probe it, as Linux's `ip neigh` confirmation does.
		h.arp.setState(e, Probe)
		e.tries = 0
		h.solicit(now, out, e)
	}
}
