package netcore

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv6 (RFC 8200) for a host. It is off until `ipv6 on`, an IPv6 `add` or
// `ipv6 autoconf on` turns it on, and runs while the host is up and its MTU
// is at least IPv6's 1280 bytes (below that the host is IPv4-only, as Linux
// makes it). This file holds the state, the receive path that walks the
// extension headers and hands the upper layer on by next header, and the
// send path (source address, next hop, fragments). The rest is a file per
// part: icmpv6.go (echo, errors, path MTU), ndp.go (neighbour discovery and
// unreachability detection, in the neighbour table IPv4 uses), slaac.go
// (addresses: the link-local one, duplicate address detection, router
// advertisements), mld.go (multicast listener reports), frag6.go
// (reassembly).
//
// Every deadline IPv6 has, but the neighbours' own, shares one timer
// (timerIPv6): when it fires, ipv6Timer does what is due and arms it again
// for the earliest of the rest. Those deadlines come a few a second at most
// and are few, so a walk over them costs less than a heap entry each.

// Protocol constants (RFC 4861 10, RFC 4862 5, RFC 8201).
const (
	defaultHopLimit     = 64
	retransTimer        = time.Second      // RETRANS_TIMER
	baseReachableTime   = 30 * time.Second // REACHABLE_TIME
	delayFirstProbe     = 5 * time.Second  // DELAY_FIRST_PROBE_TIME
	maxMulticastSolicit = 3
	maxUnicastSolicit   = 3
	maxRtrSolicitDelay  = time.Second     // MAX_RTR_SOLICITATION_DELAY, also DAD's first delay
	rtrSolicitInterval  = 4 * time.Second // RTR_SOLICITATION_INTERVAL
	maxRtrSolicitations = 3
	dadTransmits        = 1 // DupAddrDetectTransmits, as Linux
	pmtuLifetime        = 10 * time.Minute
)

// Bounds of what others can make a host hold.
const (
	MaxAutoconfAddrs = 16 // addresses formed from advertised prefixes
	maxPrefixes6     = 16 // on-link prefixes learned from advertisements
	maxRouters6      = 8  // default routers
	maxPMTU6         = 64 // path MTU entries
)

// addrState is where an IPv6 address is in duplicate address detection.
type addrState uint8

const (
	addrTentative  addrState = iota + 1 // DAD runs: not usable yet
	addrPreferred                       // usable
	addrDeprecated                      // autoconfigured, its preferred lifetime over: still ours, not a source for new traffic
	addrDuplicate                       // DAD found it in use: never usable
)

// addrOrigin says why the host has an address; an address can have
// several reasons (a hand-added address that a router advertises too).
type addrOrigin uint8

const (
	originLinkLocal addrOrigin = 1 << iota // the EUI-64 link-local address
	originManual                           // `add`
	originAuto                             // formed from a router's prefix
)

// ifAddr6 is one of the host's IPv6 addresses.
type ifAddr6 struct {
	prefix    netip.Prefix
	origin    addrOrigin
	state     addrState
	probes    int       // DAD solicitations still to send
	next      time.Time // tentative: when DAD takes its next step
	nonce     [6]byte   // of our DAD solicitations, to tell them if they come back (RFC 7527)
	valid     time.Time // autoconfigured: when it goes; zero for never
	preferred time.Time // autoconfigured: when it is deprecated; zero for never
}

func (a *ifAddr6) usable() bool { return a.state == addrPreferred || a.state == addrDeprecated }

// router6 is a default router, from its advertisements.
type router6 struct {
	addr    netip.Addr
	expires time.Time
}

// prefix6 is an on-link prefix, from an advertisement.
type prefix6 struct {
	prefix  netip.Prefix
	expires time.Time // zero for never
}

// pmtu6 is the path MTU towards a destination, from a packet too big.
type pmtu6 struct {
	dst     netip.Addr
	mtu     int
	expires time.Time
}

// ipv6Host is a host's IPv6 state.
type ipv6Host struct {
	running  bool
	mac      wire.MAC // the hardware address the link-local address was made of
	autoconf bool     // router advertisements are being taken
	addrs    []ifAddr6
	routers  []router6
	prefixes []prefix6
	pmtu     []pmtu6
	mld      mldState
	frag     reasm6

	rsLeft   int       // router solicitations still to send
	rsAt     time.Time // when the next goes; zero when none is due
	hopLimit uint8     // for what the host sends (an advertisement's current hop limit)
	linkMTU  int       // an advertisement's MTU, or 0
	reach    time.Duration
	retrans  time.Duration
	fragID   uint32
	errors   tokenBucket // the ICMPv6 error rate limit: IPv4's, a bucket of its own (Linux has one per family)
	conflict time.Time   // when the last conflict event was reported

	rng     *rand.Rand
	timer   int32                // timerIPv6's position in the heap
	ras     []wire.NDPPrefixInfo // the prefixes of the advertisement being read, reused
	scratch []byte               // a datagram being built that needs fragments, reused
	udp     []byte               // a UDP datagram being built (udp6.go), reused
}

// initIPv6 prepares the state of a new host, and starts IPv6 if its
// configuration turns it on.
func (h *Host) initIPv6() {
	v := &h.v6
	v.timer = noTimer
	m := h.cfg.MAC
	// Random delays (DAD, reports, solicitations) are drawn from a stream
	// seeded by the hardware address: two hosts differ, a test replays.
	v.rng = rand.New(rand.NewPCG(binary.BigEndian.Uint64(append([]byte{0, 0}, m[:]...)), 0x1f6))
	v.errors = newTokenBucket(ICMPErrorRate, ICMPErrorBurst)
	h.ipv6Changed(time.Time{}, nil)
}

// ipv6Running reports whether IPv6 should run now.
func (h *Host) ipv6Running() bool {
	return h.cfg.IPv6 && !h.cfg.Down && h.cfg.MTU >= wire.IPv6MinMTU
}

// ipv6Changed brings IPv6 in line with the configuration after anything
// changed it: it starts or stops IPv6, follows a new hardware address,
// runs DAD for addresses added and forgets those removed, starts or stops
// autoconfiguration, and joins and leaves the matching groups. It is
// idempotent. out may be nil only while IPv6 cannot start (NewHost: the
// first Poll starts it).
func (h *Host) ipv6Changed(now time.Time, out *Output) {
	v := &h.v6
	if !h.ipv6Running() || out == nil {
		if v.running {
			h.stopIPv6(now, out)
		}
		return
	}
	if !v.running {
		v.running = true
		v.mac = h.cfg.MAC
		v.hopLimit, v.linkMTU, v.reach, v.retrans = defaultHopLimit, 0, baseReachableTime, retransTimer
		h.addAddr6(now, netip.PrefixFrom(wire.LinkLocal(v.mac), 64), originLinkLocal)
	} else if v.mac != h.cfg.MAC {
		h.newMAC6(now, out)
	}
	for _, p := range h.cfg.Addrs6 {
		if i := v.find(p.Addr()); i < 0 || v.addrs[i].origin&originManual == 0 {
			h.addAddr6(now, p, originManual)
		} else {
			v.addrs[i].prefix = p // the same address with another length
		}
	}
	for i := len(v.addrs) - 1; i >= 0; i-- {
		a := &v.addrs[i]
		if a.origin&originManual != 0 && hasAddr(h.cfg.Addrs6, a.prefix.Addr()) < 0 {
			h.dropOrigin6(now, i, originManual)
		}
	}
	switch {
	case h.cfg.Autoconf && !v.autoconf:
		v.autoconf = true
		if ll := v.linkLocal(); ll != nil && ll.usable() {
			h.startRS(now)
		}
	case !h.cfg.Autoconf && v.autoconf:
		h.stopAutoconf(now)
	}
	h.mldSync(now)
	h.schedule6(now)
}

// stopIPv6 forgets everything IPv6 knew, neighbours included (static ones
// stay): starting again starts afresh, with DAD for every address.
func (h *Host) stopIPv6(now time.Time, out *Output) {
	v := &h.v6
	h.arp.each(func(e *neighbour) {
		if !e.addr.Is6() || e.state == Static {
			return
		}
		if e.state == Incomplete {
			h.stats[NDPFailed]++
		}
		h.drop(e)
	})
	v.frag.clear()
	*v = ipv6Host{rng: v.rng, errors: v.errors, timer: v.timer, ras: v.ras[:0], scratch: v.scratch[:0],
		addrs: v.addrs[:0], frag: v.frag, mld: mldState{groups: v.mld.groups[:0], records: v.mld.records[:0]}}
	h.timers.stop(timerIPv6, 0)
}

// find is the index of the address a among v's, or -1.
func (v *ipv6Host) find(a netip.Addr) int {
	for i := range v.addrs {
		if v.addrs[i].prefix.Addr() == a {
			return i
		}
	}
	return -1
}

// linkLocal is the EUI-64 link-local address, or nil.
func (v *ipv6Host) linkLocal() *ifAddr6 {
	for i := range v.addrs {
		if v.addrs[i].origin&originLinkLocal != 0 {
			return &v.addrs[i]
		}
	}
	return nil
}

// ours returns our address a, if it may receive: not tentative or duplicate.
func (v *ipv6Host) ours(a netip.Addr) *ifAddr6 {
	for i := range v.addrs {
		if v.addrs[i].prefix.Addr() == a {
			if v.addrs[i].usable() {
				return &v.addrs[i]
			}
			return nil
		}
	}
	return nil
}

// schedule6 arms the IPv6 timer for its earliest deadline, or stops it.
func (h *Host) schedule6(now time.Time) {
	if next := h.next6(); !next.IsZero() {
		h.timers.set(timerIPv6, 0, next)
		return
	}
	h.timers.stop(timerIPv6, 0)
}

// next6 is the earliest IPv6 deadline but the neighbours', zero if none.
func (h *Host) next6() time.Time {
	v := &h.v6
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for i := range v.addrs {
		a := &v.addrs[i]
		if a.state == addrTentative {
			at(a.next)
		}
		if a.state != addrDuplicate {
			at(a.valid)
			if a.state != addrDeprecated {
				at(a.preferred)
			}
		}
	}
	for _, r := range v.routers {
		at(r.expires)
	}
	for _, p := range v.prefixes {
		at(p.expires)
	}
	for _, p := range v.pmtu {
		at(p.expires)
	}
	at(v.rsAt)
	at(v.mld.changeAt)
	at(v.mld.queryAt)
	at(v.frag.next())
	return next
}

// soon arms the IPv6 timer for t unless it fires earlier already: what a
// hot path calls instead of schedule6.
func (h *Host) soon(t time.Time) {
	if at, ok := h.timers.when(timerIPv6, 0); ok && !at.After(t) {
		return
	}
	h.timers.set(timerIPv6, 0, t)
}

// ipv6Timer does every IPv6 step that is due at now.
func (h *Host) ipv6Timer(now time.Time, out *Output) {
	v := &h.v6
	if !v.running {
		return
	}
	h.dadTimer(now, out)
	h.lifetimes(now, out)
	if !v.rsAt.IsZero() && !now.Before(v.rsAt) {
		h.sendRS(now, out)
	}
	h.mldTimer(now, out)
	h.reasmTimer6(now, out)
	for i := len(v.pmtu) - 1; i >= 0; i-- {
		if !now.Before(v.pmtu[i].expires) {
			v.pmtu = slices.Delete(v.pmtu, i, i+1)
		}
	}
	h.schedule6(now)
}

// jitter is a random duration in [0, d).
func (h *Host) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(h.v6.rng.Int64N(int64(d)))
}

// ipv6Protos are the upper-layer protocols the host carries over IPv6, by
// next header, each in its own file, as ipv4Protos; UDP and TCP add a line
// here. A receive takes the datagram by value: a pointer passed through
// the table would make every datagram escape to the heap.
var ipv6Protos = [...]struct {
	proto   wire.IPProtocol
	receive func(h *Host, now time.Time, d datagram6, out *Output) Counter
}{
	{wire.ProtoICMPv6, func(h *Host, now time.Time, d datagram6, out *Output) Counter { return h.receiveICMPv6(now, &d, out) }},
	{wire.ProtoUDP, (*Host).receiveUDP6},
	{wire.ProtoTCP, (*Host).receiveTCP6},
}

// datagram6 is an IPv6 datagram being received, its extension headers
// walked: what the upper layer needs of it.
type datagram6 struct {
	pkt      []byte     // the packet from its IPv6 header to the end of its payload
	src, dst netip.Addr // the header's addresses
	off      int        // where the upper-layer header starts in pkt
	nhOff    int        // where the field that named the upper layer is
	mcast    bool       // sent to a multicast group (or as link-layer multicast)
	linkMC   bool       // sent as link-layer multicast or broadcast
	whole    bool       // made whole by reassembly (or an atomic fragment's)
}

// upper is the upper-layer message.
func (d *datagram6) upper() []byte { return d.pkt[d.off:] }

// hopLimit is the header's hop limit.
func (d *datagram6) hopLimit() uint8 { return d.pkt[wire.IPv6HopLimitOff] }

// receiveIPv6 takes an IPv6 packet from an Ethernet frame.
func (h *Host) receiveIPv6(now time.Time, b []byte, out *Output) Counter {
	if !h.v6.running {
		return RxOtherEthertype
	}
	p, err := wire.NewIPv6Packet(b)
	if err != nil {
		return RxMalformed
	}
	// Field by field: a composite literal is built aside and copied in,
	// and that copy stalls on the stores just made (perf: 10% of an NS).
	var d datagram6
	d.pkt = b[:wire.IPv6HeaderLen+int(p.PayloadLen())]
	d.src, d.dst, d.linkMC = p.Src(), p.Dst(), h.rxLinkMulticast
	return h.receiveDatagram6(now, &d, out)
}

// receiveDatagram6 checks a datagram's addresses and walks its extension
// headers to the upper layer. Reassembly comes back here with the whole
// datagram.
func (h *Host) receiveDatagram6(now time.Time, d *datagram6, out *Output) Counter {
	v := &h.v6
	if d.src.IsMulticast() {
		return IPv6RxBadHeader // RFC 4291 2.7: never a source
	}
	if d.dst.IsMulticast() {
		if !h.listening(d.dst) {
			return RxNotForUs
		}
		d.mcast = true
	} else if v.ours(d.dst) == nil {
		return RxNotForUs // another address, or one of ours still tentative (RFC 4862 5.4)
	}
	pkt := d.pkt
	nh := wire.IPProtocol(pkt[wire.IPv6NextHeaderOff])
	nhOff, off := wire.IPv6NextHeaderOff, wire.IPv6HeaderLen
	for {
		var n int
		switch nh {
		case wire.ProtoHopByHop, wire.ProtoDstOpts, wire.ProtoRouting:
			l, err := wire.IPv6ExtHeaderLen(nh, pkt[off:])
			if err != nil {
				return IPv6RxBadHeader // longer than the payload
			}
			n = l
			switch {
			case nh == wire.ProtoHopByHop && off != wire.IPv6HeaderLen:
				// Only right after the IPv6 header (RFC 8200 4.1):
				// anywhere else it is an unrecognized next header.
				h.paramProblem(now, d, wire.ICMPv6UnknownNextHeader, nhOff, out)
				return IPv6RxUnknownNext
			case nh == wire.ProtoRouting:
				if pkt[off+wire.IPv6SegmentsLeftOff] != 0 {
					// The host routes nothing: every type is one it does
					// not recognize (type 0 is deprecated, RFC 5095).
					h.paramProblem(now, d, wire.ICMPv6ErroneousHeader, off+wire.IPv6RoutingTypeOff, out)
					return IPv6RxBadHeader
				}
			default:
				if !h.options6(now, d, off, n, out) {
					return IPv6RxBadHeader
				}
			}
		case wire.ProtoFragment:
			if d.whole {
				// A fragment header inside a reassembled datagram: RFC
				// 8200 4.1 has one at most, and each would cost another
				// copy of the datagram.
				return IPv6RxBadHeader
			}
			return h.receiveFragment6(now, d, off, nhOff, out)
		case wire.ProtoNoNext:
			return IPv6RxOther
		default:
			d.off, d.nhOff = off, nhOff
			if nh == wire.ProtoICMPv6 {
				return h.receiveICMPv6(now, d, out) // the hot path: no copy
			}
			for _, q := range &ipv6Protos {
				if q.proto == nh {
					return q.receive(h, now, *d, out)
				}
			}
			h.paramProblem(now, d, wire.ICMPv6UnknownNextHeader, nhOff, out)
			return IPv6RxUnknownNext
		}
		nh, nhOff, off = wire.IPProtocol(pkt[off]), off, off+n
	}
}

// options6 processes the options of a hop-by-hop or destination options
// header at off, n bytes long: what the host does not know, it treats as
// the option's type says (RFC 8200 4.2). It reports whether the packet
// goes on.
func (h *Host) options6(now time.Time, d *datagram6, off, n int, out *Output) bool {
	it := wire.NewIPv6Options(d.pkt[off : off+n])
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		if o.Type == wire.IPv6OptRouterAlert && len(o.Data) == 2 {
			continue // for routers; a host has nothing to do
		}
		switch o.Type & wire.IPv6OptActionMask {
		case wire.IPv6OptActionSkip:
			continue
		case wire.IPv6OptActionICMP:
			h.paramProblem(now, d, wire.ICMPv6UnknownOption, off+o.Off, out)
		case wire.IPv6OptActionICMPUcast:
			if !d.mcast {
				h.paramProblem(now, d, wire.ICMPv6UnknownOption, off+o.Off, out)
			}
		}
		return false
	}
	return it.Err() == nil
}

// listening reports whether the host receives what is sent to group g:
// all-nodes, and the solicited-node groups of its addresses.
func (h *Host) listening(g netip.Addr) bool {
	if g == wire.IPv6AllNodes {
		return true
	}
	return slices.Contains(h.v6.mld.groups, g)
}

// source6 is the address of ours to send to dst from (RFC 6724, the
// rules that matter to a host on one link): a link-local destination gets
// the link-local address; others the preferred address that shares the
// longest prefix with dst, then a deprecated one, then the link-local one.
// ok is false when no address is usable.
func (h *Host) source6(dst netip.Addr) (netip.Addr, bool) {
	v := &h.v6
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast() {
		for i := range v.addrs {
			if a := &v.addrs[i]; a.usable() && a.prefix.Addr().IsLinkLocalUnicast() {
				return a.prefix.Addr(), true
			}
		}
		return netip.Addr{}, false
	}
	var best *ifAddr6
	bestLen := -1
	for i := range v.addrs {
		a := &v.addrs[i]
		if !a.usable() || a.prefix.Addr().IsLinkLocalUnicast() {
			continue
		}
		l := commonPrefixLen(a.prefix.Addr(), dst)
		if a.state == addrDeprecated {
			l -= 129 // any preferred address first
		}
		if l > bestLen || best == nil {
			best, bestLen = a, l
		}
	}
	if best != nil {
		return best.prefix.Addr(), true
	}
	if ll := v.linkLocal(); ll != nil && ll.usable() {
		return ll.prefix.Addr(), true
	}
	return netip.Addr{}, false
}

// commonPrefixLen is how many leading bits a and b share.
func commonPrefixLen(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		break
	}
	return n
}

// onLink6 reports whether dst is on the host's link: link-local, or in the
// prefix of one of its addresses or of an advertised on-link prefix.
func (h *Host) onLink6(dst netip.Addr) bool {
	if dst.IsLinkLocalUnicast() {
		return true
	}
	v := &h.v6
	for i := range v.addrs {
		if p := v.addrs[i].prefix; p.Bits() < 128 && !p.Addr().IsLinkLocalUnicast() && p.Contains(dst) {
			return true
		}
	}
	for _, p := range v.prefixes {
		if p.prefix.Contains(dst) {
			return true
		}
	}
	return false
}

// nextHop6 is the neighbour to send to dst through: dst itself on the
// link, else a default router (RFC 4861 6.3.6: one not known to be
// unreachable, preferably). ok is false when there is none.
func (h *Host) nextHop6(dst netip.Addr) (netip.Addr, bool) {
	if h.onLink6(dst) {
		return dst, true
	}
	var fallback netip.Addr
	for _, r := range h.v6.routers {
		if e := h.arp.get(r.addr); e == nil || e.state != Failed && e.state != Incomplete {
			return r.addr, true
		}
		if !fallback.IsValid() {
			fallback = r.addr
		}
	}
	return fallback, fallback.IsValid()
}

// linkMTU6 is the MTU IPv6 sends with: the host's, or an advertised one
// below it.
func (h *Host) linkMTU6() int {
	if m := h.v6.linkMTU; m != 0 && m < h.cfg.MTU {
		return m
	}
	return h.cfg.MTU
}

// pathMTU6 is the MTU towards dst: the link's, or what a packet too big
// said (RFC 8201). Transports size their segments by it.
func (h *Host) pathMTU6(dst netip.Addr) int {
	m := h.linkMTU6()
	for _, p := range h.v6.pmtu {
		if p.dst == dst && p.mtu < m {
			return p.mtu
		}
	}
	return m
}

// appendIPv6Frame appends the Ethernet header (destination left for route6
// to fill) and an IPv6 header for n bytes of payload to b.
func (h *Host) appendIPv6Frame(b []byte, src, dst netip.Addr, nh wire.IPProtocol, hopLimit uint8, n int) []byte {
	return h.appendIPv6FrameTC(b, src, dst, nh, hopLimit, 0, n)
}

// appendIPv6FrameTC is appendIPv6Frame with a traffic class.
func (h *Host) appendIPv6FrameTC(b []byte, src, dst netip.Addr, nh wire.IPProtocol, hopLimit, tclass uint8, n int) []byte {
	s, d := src.As16(), dst.As16()
	return h.appendIPv6FrameRaw(b, s[:], d[:], nh, hopLimit, tclass, n)
}

// appendIPv6FrameRaw is appendIPv6Frame with the addresses as their 16
// bytes: a reply copies them from the packet it answers.
//
// It writes the headers in place at wire's offsets rather than through
// EthernetRepr and IPv6Repr, and takes the addresses as bytes rather than
// netip.Addr: building structs field by field and passing them on, or
// copying As16's result, stalls on stores just made (perf put a quarter of
// the echo reply's time in them), and every IPv6 frame the host sends
// comes this way.
func (h *Host) appendIPv6FrameRaw(b []byte, src, dst []byte, nh wire.IPProtocol, hopLimit, tclass uint8, n int) []byte {
	const hl = wire.EthHeaderLen + wire.IPv6HeaderLen
	start := len(b)
	if start+hl <= cap(b) {
		b = b[:start+hl]
	} else {
		b = append(b, make([]byte, hl)...)
	}
	f := b[start:]
	clear(f[wire.EthDstOff : wire.EthDstOff+6])
	*(*wire.MAC)(f[wire.EthSrcOff:]) = h.cfg.MAC
	binary.BigEndian.PutUint16(f[wire.EthTypeOff:], uint16(wire.EtherTypeIPv6))
	ip := f[wire.EthHeaderLen:]
	binary.BigEndian.PutUint32(ip[wire.IPv6VerTCFLOff:], 6<<28|uint32(tclass)<<wire.IPv6TrafficClassSh)
	binary.BigEndian.PutUint16(ip[wire.IPv6PayloadLenOff:], uint16(n))
	ip[wire.IPv6NextHeaderOff], ip[wire.IPv6HopLimitOff] = byte(nh), hopLimit
	*(*[16]byte)(ip[wire.IPv6SrcOff:]) = [16]byte(src) // array moves: no call to memmove
	*(*[16]byte)(ip[wire.IPv6DstOff:]) = [16]byte(dst)
	return b
}

// sendIPv6 is how an upper layer sends a datagram over IPv6: payload (its
// header, checksum included, and data) from src (an address of ours, or
// invalid for the best one) to dst, in fragments if it does not fit the
// path MTU. hopLimit 0 means the host's default. It reports false when
// nothing could be sent: IPv6 off, no source address, no route. The
// family-neutral sendIP (ip.go) calls it for IPv6 destinations.
func (h *Host) sendIPv6(now time.Time, out *Output, src, dst netip.Addr, nh wire.IPProtocol, hopLimit, tclass uint8, payload []byte) bool {
	v := &h.v6
	if !v.running {
		return false
	}
	if !src.IsValid() {
		var ok bool
		if src, ok = h.source6(dst); !ok {
			h.stats[TxNoRoute]++
			return false
		}
	}
	if hopLimit == 0 {
		hopLimit = v.hopLimit
	}
	mtu := h.pathMTU6(dst)
	if wire.IPv6HeaderLen+len(payload) <= mtu {
		b := h.appendIPv6FrameTC(out.buffer(), src, dst, nh, hopLimit, tclass, len(payload))
		return h.route6(now, out, dst, append(b, payload...))
	}
	// RFC 8200 4.5: fragments of the largest size the path takes, each a
	// multiple of 8 bytes but the last.
	chunk := (mtu - wire.IPv6HeaderLen - wire.IPv6FragLen) &^ 7
	if len(payload) > 0xffff-wire.IPv6FragLen {
		return false
	}
	v.fragID++
	sent := false
	for off := 0; off < len(payload); off += chunk {
		part := payload[off:min(off+chunk, len(payload))]
		b := h.appendIPv6FrameTC(out.buffer(), src, dst, wire.ProtoFragment, hopLimit, tclass, wire.IPv6FragLen+len(part))
		b = wire.IPv6FragmentRepr{NextHeader: nh, Offset: off, More: off+len(part) < len(payload), Ident: v.fragID}.Append(b)
		sent = h.route6(now, out, dst, append(b, part...)) || sent
	}
	return sent
}

// route6 sends an IPv6 frame whose Ethernet destination is left to fill:
// to a group's address for multicast, else to the next hop's hardware
// address, after resolving it if need be (ndp.go). It reports false when
// there is no next hop.
func (h *Host) route6(now time.Time, out *Output, dst netip.Addr, frame []byte) bool {
	if dst.IsMulticast() {
		m := wire.MulticastMAC(dst)
		copy(frame[wire.EthDstOff:], m[:])
		h.transmit(now, out, frame)
		return true
	}
	next, ok := h.nextHop6(dst)
	if !ok {
		h.stats[TxNoRoute]++
		return false
	}
	h.toNeighbour6(now, out, next, frame)
	return true
}
