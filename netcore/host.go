package netcore

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"time"
)

// Config is a host's configuration: what its ctl file reads back as commands.
type Config struct {
	Name        string // the host's name (its tap), for messages
	MAC         MAC
	Addrs       []netip.Prefix // the first is primary
	MTU         int
	Promiscuous bool
	Down        bool
	ARPTimeout  time.Duration // lifetime of learned entries

	// Limits; zero means the default.
	ARPCacheSize int // entries (DefaultARPCacheSize)
	ARPRetries   int // requests per resolution (DefaultARPRetries)
	ARPPending   int // frames waiting per address (DefaultARPPending)
}

func (c *Config) setDefaults() {
	if c.MTU == 0 {
		c.MTU = MaxMTU
	}
	if c.ARPTimeout == 0 {
		c.ARPTimeout = DefaultARPTimeout
	}
	if c.ARPCacheSize <= 0 {
		c.ARPCacheSize = DefaultARPCacheSize
	}
	if c.ARPRetries <= 0 {
		c.ARPRetries = DefaultARPRetries
	}
	if c.ARPPending <= 0 {
		c.ARPPending = DefaultARPPending
	}
}

// EventKind classifies an Event.
type EventKind uint8

// Kinds of events a host reports.
const (
	EventUp         EventKind = iota + 1 // the host came up
	EventDown                            // the host went down (by command or because its device failed)
	EventConflict                        // another station claims one of our addresses
	EventUnresolved                      // an address did not answer ARP; its waiting frames were dropped
)

// Event is something a host reports for the log.
type Event struct {
	Time time.Time
	Host string
	Kind EventKind
	Msg  string
}

func (e Event) String() string { return e.Host + ": " + e.Msg }

// Output collects what the host wants done after a call: frames to send, in
// order, and events to report. Reuse one Output (Reset between uses): its
// frame buffers are recycled, so that steady traffic allocates nothing.
type Output struct {
	Frames [][]byte
	Events []Event
	bufs   [][]byte
	used   int
}

// Reset empties o, keeping its buffers for reuse. Frames from before the
// Reset must no longer be used.
func (o *Output) Reset() {
	clear(o.Frames)
	o.Frames = o.Frames[:0]
	clear(o.Events)
	o.Events = o.Events[:0]
	o.used = 0
}

// maxFrame is the longest frame the host sends: a full MTU and the header.
const maxFrame = EthHeaderLen + MaxMTU

// buffer returns an empty slice with room for any frame the host sends.
func (o *Output) buffer() []byte {
	if o.used == len(o.bufs) {
		o.bufs = append(o.bufs, make([]byte, 0, maxFrame))
	}
	b := o.bufs[o.used][:0]
	o.used++
	return b
}

// Host is one network host: a hardware address, IPv4 addresses, an ARP
// responder and cache, and an ICMP echo responder. It is a state machine with
// no I/O and no goroutines, and is not safe for concurrent use: its driver
// serialises every call.
type Host struct {
	cfg      Config
	arp      *arpCache
	stats    Stats
	capture  Capture
	ipID     uint16
	announce bool      // gratuitous ARP for every address at the next Poll
	deadline time.Time // the earliest timer, or zero
	conflict time.Time // when the last conflict event was reported
	spare    [][]byte  // recycled pending-frame buffers
}

// NewHost makes a host from cfg; missing limits take their defaults. It
// announces its addresses with gratuitous ARP at the first Poll.
func NewHost(cfg Config) (*Host, error) {
	cfg.setDefaults()
	if cfg.MAC.IsMulticast() || cfg.MAC.IsZero() {
		return nil, fmt.Errorf("%s: %w: %s is not a unicast address", cfg.Name, ErrBadMAC, cfg.MAC)
	}
	if cfg.MTU < MinMTU || cfg.MTU > MaxMTU {
		return nil, fmt.Errorf("%s: %w: mtu must be %d..%d", cfg.Name, ErrBadNumber, MinMTU, MaxMTU)
	}
	cfg.Addrs = slices.Clone(cfg.Addrs)
	return &Host{cfg: cfg, arp: newARPCache(cfg.ARPCacheSize), announce: len(cfg.Addrs) > 0}, nil
}

// Name is the host's name.
func (h *Host) Name() string { return h.cfg.Name }

// Capture is the host's capture hook: every received and sent frame.
func (h *Host) Capture() *Capture { return &h.capture }

// Deadline is when Poll must next be called; zero means no timer is due.
func (h *Host) Deadline() time.Time { return h.deadline }

// Count adds n to a counter; drivers use it for what only they see
// (TxDropped).
func (h *Host) Count(c Counter, n uint64) { h.stats[c] += n }

// Snapshot is a consistent copy of a host's state for the files that show it.
type Snapshot struct {
	Config Config
	ARP    []ARPEntry // sorted by IP
	Stats  Stats
}

// Snapshot copies the host's state as of now.
func (h *Host) Snapshot(now time.Time) Snapshot {
	s := Snapshot{Config: h.cfg, Stats: h.stats}
	s.Config.Addrs = slices.Clone(h.cfg.Addrs)
	s.Stats[CaptureDropped] = h.capture.Dropped()
	s.ARP = make([]ARPEntry, 0, h.arp.len())
	h.arp.each(func(e *arpEntry) {
		r := ARPEntry{IP: addrOf(e.ip), MAC: e.mac, State: e.state, TTL: -1}
		if e.state != Static {
			r.TTL = max(e.deadline.Sub(now), 0)
			if e.state == Reachable && r.TTL == 0 {
				return // expired, not yet swept
			}
		}
		s.ARP = append(s.ARP, r)
	})
	slices.SortFunc(s.ARP, func(a, b ARPEntry) int { return a.IP.Compare(b.IP) })
	return s
}

// AppendConfig renders the configuration as replayable ctl commands.
func (s *Snapshot) AppendConfig(b []byte) []byte { return AppendConfig(b, s.Config) }

// AppendAddr renders the addr file: the hardware address, then IP/N lines.
func (s *Snapshot) AppendAddr(b []byte) []byte {
	b = s.Config.MAC.appendTo(b)
	b = append(b, '\n')
	for _, p := range s.Config.Addrs {
		b = p.AppendTo(b)
		b = append(b, '\n')
	}
	return b
}

// AppendARP renders the arp file: `IP MAC state seconds` per entry.
func (s *Snapshot) AppendARP(b []byte) []byte {
	for _, e := range s.ARP {
		b = e.IP.AppendTo(b)
		b = append(b, ' ')
		b = e.MAC.appendTo(b)
		b = append(b, ' ')
		b = append(b, e.State.String()...)
		b = append(b, ' ')
		if e.TTL < 0 {
			b = append(b, '-')
		} else {
			secs := (e.TTL + time.Second - 1) / time.Second // rounded up: a fresh entry shows the full timeout
			b = fmt.Appendf(b, "%d", secs)
		}
		b = append(b, '\n')
	}
	return b
}

// AppendStats renders the stats file.
func (s *Snapshot) AppendStats(b []byte) []byte { return s.Stats.Append(b) }

// ourAddr reports whether ip is one of the host's addresses.
func (h *Host) ourAddr(ip netip.Addr) bool {
	for _, p := range h.cfg.Addrs {
		if p.Addr() == ip {
			return true
		}
	}
	return false
}

// source picks the address to send from towards dst: the first address whose
// subnet holds dst; ok is false when dst is on no connected subnet.
func (h *Host) source(dst netip.Addr) (netip.Addr, bool) {
	for _, p := range h.cfg.Addrs {
		if p.Contains(dst) {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Receive processes one frame that arrived at now; replies go to out.
func (h *Host) Receive(now time.Time, frame []byte, out *Output) {
	h.stats[RxFrames]++
	h.stats[RxBytes] += uint64(len(frame))
	h.capture.Publish(now, In, frame)
	h.stats[h.receive(now, frame, out)]++
}

// receive handles a frame and returns its fate counter.
func (h *Host) receive(now time.Time, frame []byte, out *Output) Counter {
	eth, err := NewEthernetFrame(frame)
	if err != nil {
		return RxMalformed
	}
	if h.cfg.Down {
		return RxDown
	}
	typ := eth.Type()
	if typ.IsLengthField() {
		return Rx8023
	}
	dst := eth.Dst()
	if dst != h.cfg.MAC && !dst.IsMulticast() && !h.cfg.Promiscuous {
		return RxNotForUs
	}
	switch typ {
	case EtherTypeARP:
		return h.receiveARP(now, eth.Payload(), out)
	case EtherTypeIPv4:
		return h.receiveIPv4(now, eth, out)
	}
	return RxOtherEthertype
}

func (h *Host) receiveARP(now time.Time, b []byte, out *Output) Counter {
	p, err := NewARPPacket(b)
	switch {
	case err == ErrTruncated:
		return RxMalformed
	case err != nil:
		return ARPRxOther
	}
	op := p.Op()
	if op != ARPRequest && op != ARPReply {
		return ARPRxOther
	}
	sha, spa, tpa := p.SenderMAC(), p.SenderIP(), p.TargetIP()
	fate := ARPRxRequest
	if op == ARPReply {
		fate = ARPRxReply
	}
	if sha.IsMulticast() || sha.IsZero() {
		return fate // nothing to learn or answer
	}
	if h.ourAddr(spa) {
		if sha != h.cfg.MAC {
			h.stats[ARPConflicts]++
			if now.Sub(h.conflict) >= time.Second {
				h.conflict = now
				out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventConflict,
					Msg: fmt.Sprintf("arp conflict: %s is-at %s, but it is ours (%s)", spa, sha, h.cfg.MAC)})
			}
		}
		return fate
	}
	forUs := h.ourAddr(tpa)
	// RFC 826: update a sender we already know; add it only if the packet
	// is for us, so that strangers cannot fill or poison the cache.
	if spa.IsValid() && !spa.IsUnspecified() {
		if e := h.arp.get(key(spa)); e != nil {
			h.learn(now, e, sha, out)
		} else if forUs {
			if e := h.arp.insert(key(spa), h.evict); e != nil {
				h.learn(now, e, sha, out)
			}
		}
	}
	if op == ARPRequest && forUs {
		h.sendARP(now, out, ARPReply, sha, tpa, sha, spa)
	}
	return fate
}

// learn records that ip (e) is at mac, unless e is static, and sends what
// was waiting for it.
func (h *Host) learn(now time.Time, e *arpEntry, mac MAC, out *Output) {
	if e.state == Static {
		return
	}
	h.arp.setState(e, Reachable)
	e.mac = mac
	e.deadline = now.Add(h.cfg.ARPTimeout)
	e.tries = 0
	h.arp.touch(e)
	h.schedule(e.deadline)
	for _, f := range e.pending {
		copy(f[ethDst:], mac[:])
		h.transmit(now, out, append(out.buffer(), f...))
		h.spare = append(h.spare, f[:0])
	}
	e.pending = e.pending[:0]
}

// evict accounts for an entry pushed out of the full cache.
func (h *Host) evict(e *arpEntry) {
	h.stats[ARPEvicted]++
	h.dropPending(e)
}

func (h *Host) dropPending(e *arpEntry) {
	h.stats[ARPPendingDropped] += uint64(len(e.pending))
	for _, f := range e.pending {
		h.spare = append(h.spare, f[:0])
	}
	e.pending = e.pending[:0]
}

func (h *Host) receiveIPv4(now time.Time, eth EthernetFrame, out *Output) Counter {
	p, err := NewIPv4Packet(eth.Payload())
	if err != nil {
		return RxMalformed
	}
	if int(p.TotalLen()) > h.cfg.MTU {
		return RxTooBig
	}
	if !p.VerifyChecksum() {
		return IPv4RxBadChecksum
	}
	if p.IsFragment() {
		return IPv4RxFragment
	}
	if !h.ourAddr(p.Dst()) {
		return RxNotForUs
	}
	if p.Protocol() != ProtoICMP {
		return IPv4RxOther
	}
	icmp, err := NewICMPPacket(p.Payload())
	if err != nil || icmp.Type() != ICMPEchoRequest || icmp.Code() != 0 || !icmp.VerifyChecksum() {
		return ICMPRxOther
	}
	src := p.Src()
	if !src.IsGlobalUnicast() && !src.IsLinkLocalUnicast() || h.ourAddr(src) {
		return ICMPEchoRx // counted, but nobody to answer
	}
	h.echoReply(now, eth, p, icmp, out)
	return ICMPEchoRx
}

// echoReply answers an echo request: the same identifier, sequence and
// payload, TTL 64, from the address the request was sent to.
func (h *Host) echoReply(now time.Time, eth EthernetFrame, p IPv4Packet, icmp ICMPPacket, out *Output) {
	b := out.buffer()
	b = EthernetRepr{Src: h.cfg.MAC, Type: EtherTypeIPv4}.Append(b) // Dst filled by route
	h.ipID++
	b = IPv4Repr{Src: p.Dst(), Dst: p.Src(), Protocol: ProtoICMP, TTL: 64, ID: h.ipID, PayloadLen: len(icmp)}.Append(b)
	start := len(b)
	b = append(b, icmp...)
	// Only the type changes (8 -> 0): update the checksum incrementally
	// (RFC 1624) instead of summing the payload again.
	b[start+icmpType] = byte(ICMPEchoReply)
	const oldWord, newWord = uint16(ICMPEchoRequest) << 8, uint16(ICMPEchoReply) << 8
	sum := uint32(^icmp.Checksum()) + uint32(^oldWord) + uint32(newWord)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(b[start+icmpChecksum:], ^uint16(sum))
	h.route(now, out, p.Src(), b)
}

// route sends an IPv4 frame (Ethernet header with the destination left to
// fill) to ip on a connected subnet: at once if the neighbour is known,
// otherwise after ARP resolves it.
func (h *Host) route(now time.Time, out *Output, ip netip.Addr, frame []byte) {
	if _, ok := h.source(ip); !ok {
		h.stats[TxNoRoute]++
		return
	}
	e := h.arp.get(key(ip))
	if e != nil && (e.state == Static || e.state == Reachable && now.Before(e.deadline)) {
		h.arp.touch(e)
		copy(frame[ethDst:], e.mac[:])
		h.transmit(now, out, frame)
		return
	}
	if e == nil {
		if e = h.arp.insert(key(ip), h.evict); e == nil {
			h.stats[ARPPendingDropped]++
			return
		}
	}
	if e.state != Incomplete {
		h.arp.setState(e, Incomplete)
		e.mac = MAC{}
		e.tries = 0
		e.deadline = now
	}
	if len(e.pending) >= h.cfg.ARPPending {
		h.stats[ARPPendingDropped]++
	} else {
		var f []byte
		if n := len(h.spare); n > 0 {
			f, h.spare = h.spare[n-1], h.spare[:n-1]
		}
		e.pending = append(e.pending, append(f, frame...))
	}
	if e.tries == 0 {
		h.request(now, out, e)
	}
}

// request sends an ARP request for e's address, at most one per
// ARPRequestInterval, and sets the entry's retry deadline.
func (h *Host) request(now time.Time, out *Output, e *arpEntry) bool {
	if !e.lastReq.IsZero() && now.Sub(e.lastReq) < ARPRequestInterval {
		h.stats[ARPRateLimited]++
		if e.state == Incomplete {
			e.deadline = e.lastReq.Add(ARPRequestInterval)
			h.schedule(e.deadline)
		}
		return false
	}
	ip := addrOf(e.ip)
	src, ok := h.source(ip)
	if !ok {
		if len(h.cfg.Addrs) == 0 {
			return false
		}
		src = h.cfg.Addrs[0].Addr()
	}
	e.lastReq = now
	e.tries++
	if e.state == Incomplete {
		e.deadline = now.Add(ARPRequestInterval)
		h.schedule(e.deadline)
	}
	h.sendARP(now, out, ARPRequest, BroadcastMAC, src, MAC{}, ip)
	return true
}

// sendARP sends an ARP packet from our hardware address.
func (h *Host) sendARP(now time.Time, out *Output, op ARPOp, ethDst MAC, spa netip.Addr, tha MAC, tpa netip.Addr) {
	b := out.buffer()
	b = EthernetRepr{Dst: ethDst, Src: h.cfg.MAC, Type: EtherTypeARP}.Append(b)
	b = ARPRepr{Op: op, SenderMAC: h.cfg.MAC, SenderIP: spa, TargetMAC: tha, TargetIP: tpa}.Append(b)
	if op == ARPRequest {
		h.stats[ARPTxRequest]++
	} else {
		h.stats[ARPTxReply]++
	}
	h.transmit(now, out, b)
}

// garp announces addr with a gratuitous ARP request (sender = target = addr).
func (h *Host) garp(now time.Time, out *Output, addr netip.Addr) {
	h.sendARP(now, out, ARPRequest, BroadcastMAC, addr, MAC{}, addr)
}

// transmit pads, counts, captures and queues a frame.
func (h *Host) transmit(now time.Time, out *Output, frame []byte) {
	if isEchoReply(frame) {
		h.stats[ICMPEchoTx]++
	}
	frame = PadFrame(frame)
	h.stats[TxFrames]++
	h.stats[TxBytes] += uint64(len(frame))
	h.capture.Publish(now, Out, frame)
	out.Frames = append(out.Frames, frame)
}

// isEchoReply recognises the echo replies the host builds (IHL 5), so that
// icmp_echo_tx counts them when they go out, also after waiting for ARP.
func isEchoReply(f []byte) bool {
	return len(f) > EthHeaderLen+IPv4MinLen && f[ethType] == 0x08 && f[ethType+1] == 0x00 &&
		f[EthHeaderLen+ipProto] == byte(ProtoICMP) && f[EthHeaderLen+IPv4MinLen] == byte(ICMPEchoReply)
}

// schedule makes sure Poll runs by t.
func (h *Host) schedule(t time.Time) {
	if h.deadline.IsZero() || t.Before(h.deadline) {
		h.deadline = t
	}
}

// Poll runs the timers due at now: the first announcement, ARP retries and
// failures, expiry of learned entries. It returns the next deadline (zero if
// none).
func (h *Host) Poll(now time.Time, out *Output) time.Time {
	if h.announce && !h.cfg.Down {
		h.announce = false
		for _, p := range h.cfg.Addrs {
			h.garp(now, out, p.Addr())
		}
	}
	if h.deadline.IsZero() || now.Before(h.deadline) {
		return h.deadline
	}
	var next time.Time
	h.arp.each(func(e *arpEntry) {
		switch e.state {
		case Static:
			return
		case Reachable:
			if !now.Before(e.deadline) {
				h.arp.remove(e)
				return
			}
		case Incomplete:
			if !now.Before(e.deadline) {
				if e.tries >= h.cfg.ARPRetries || h.cfg.Down {
					h.fail(now, out, e)
					return
				}
				h.request(now, out, e)
			}
		}
		if next.IsZero() || e.deadline.Before(next) {
			next = e.deadline
		}
	})
	h.deadline = next
	return next
}

// fail gives up on an incomplete entry: it and its waiting frames go.
func (h *Host) fail(now time.Time, out *Output, e *arpEntry) {
	h.stats[ARPFailed]++
	n := len(e.pending)
	h.dropPending(e)
	if n > 0 {
		out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventUnresolved,
			Msg: fmt.Sprintf("arp: %s did not answer %d requests; dropped %d waiting frames", addrOf(e.ip), e.tries, n)})
	}
	h.arp.remove(e)
}

// Exec applies commands from a ctl or arp write as one unit: it checks every
// command against the current state (and the commands before it) first, and
// changes nothing if any fails. file names the file in error messages.
func (h *Host) Exec(now time.Time, file string, cmds []Command, out *Output) error {
	if err := h.check(file, cmds); err != nil {
		return err
	}
	for _, c := range cmds {
		h.apply(now, c, out)
	}
	if !h.cfg.Down {
		h.Poll(now, out) // sends what the commands scheduled (retries due now)
	}
	return nil
}

// check validates cmds against a simulation of the state they build up.
func (h *Host) check(file string, cmds []Command) error {
	addrs := slices.Clone(h.cfg.Addrs)
	down := h.cfg.Down
	// ARP keys as the commands leave them: true = static, false = dynamic.
	var arp map[uint32]bool
	if slices.ContainsFunc(cmds, func(c Command) bool { return c.Op >= OpARPAdd }) {
		arp = make(map[uint32]bool, h.arp.len())
		h.arp.each(func(e *arpEntry) { arp[e.ip] = e.state == Static })
	}
	statics := h.arp.statics
	has := func(ip netip.Addr) int {
		return slices.IndexFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == ip })
	}
	for _, c := range cmds {
		var r *reason
		switch c.Op {
		case OpAdd:
			if has(c.Prefix.Addr()) >= 0 {
				r = fail(syscall.EEXIST, ErrExists, "%s is already an address of this host", c.Prefix.Addr())
			} else {
				addrs = append(addrs, c.Prefix)
			}
		case OpRemove:
			if i := has(c.Prefix.Addr()); i < 0 || addrs[i] != c.Prefix {
				r = fail(syscall.ENOENT, ErrNotFound, "%s is not an address of this host", c.Prefix)
			} else {
				addrs = slices.Delete(addrs, i, i+1)
			}
		case OpRemoveAll:
			addrs = addrs[:0]
		case OpUp:
			down = false
		case OpDown:
			down = true
		case OpGARP:
			if down {
				r = fail(syscall.ENETDOWN, ErrHostDown, "")
			}
		case OpARPAdd:
			static, ok := arp[key(c.IP)]
			switch {
			case has(c.IP) >= 0:
				r = fail(syscall.EINVAL, ErrBadIPv4, "%s is an address of this host", c.IP)
			case ok && static:
				r = fail(syscall.EEXIST, ErrExists, "%s already has a static entry", c.IP)
			case statics >= h.cfg.ARPCacheSize:
				r = fail(syscall.ENOSPC, ErrCacheFull, "")
			default:
				arp[key(c.IP)] = true
				statics++
			}
		case OpARPDel:
			static, ok := arp[key(c.IP)]
			if !ok {
				r = fail(syscall.ENOENT, ErrNotFound, "no ARP entry for %s", c.IP)
			} else {
				delete(arp, key(c.IP))
				if static {
					statics--
				}
			}
		case OpARPFlush:
			clear(arp)
			statics = 0
		case OpARPResolve:
			switch {
			case down:
				r = fail(syscall.ENETDOWN, ErrHostDown, "")
			case has(c.IP) >= 0:
				r = fail(syscall.EINVAL, ErrBadIPv4, "%s is an address of this host", c.IP)
			case !slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Contains(c.IP) }):
				r = fail(syscall.ENETUNREACH, ErrUnreachable, "")
			default:
				if _, ok := arp[key(c.IP)]; !ok {
					arp[key(c.IP)] = false
				}
			}
		}
		if r != nil {
			return r.at(file, c.Line, c.Text)
		}
	}
	return nil
}

// apply carries out one checked command.
func (h *Host) apply(now time.Time, c Command, out *Output) {
	switch c.Op {
	case OpEA:
		h.cfg.MAC = c.MAC
	case OpAdd:
		h.cfg.Addrs = append(h.cfg.Addrs, c.Prefix)
		if !h.cfg.Down {
			h.garp(now, out, c.Prefix.Addr())
		}
	case OpRemove:
		h.cfg.Addrs = slices.DeleteFunc(h.cfg.Addrs, func(p netip.Prefix) bool { return p == c.Prefix })
	case OpRemoveAll:
		h.cfg.Addrs = h.cfg.Addrs[:0]
	case OpMTU:
		h.cfg.MTU = c.N
	case OpUp:
		if h.cfg.Down {
			h.cfg.Down = false
			out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventUp, Msg: "up"})
		}
	case OpDown:
		h.SetDown(now, "down", out)
	case OpPromisc:
		h.cfg.Promiscuous = c.On
	case OpGARP:
		for _, p := range h.cfg.Addrs {
			h.garp(now, out, p.Addr())
		}
	case OpARPTimeout:
		h.cfg.ARPTimeout = c.D
	case OpARPAdd:
		e := h.arp.get(key(c.IP))
		if e == nil {
			e = h.arp.insert(key(c.IP), h.evict)
		}
		h.learn(now, e, c.MAC, out) // sends what waited for it
		h.arp.setState(e, Static)
	case OpARPDel:
		if e := h.arp.get(key(c.IP)); e != nil {
			h.dropPending(e)
			h.arp.remove(e)
		}
	case OpARPFlush:
		h.arp.each(func(e *arpEntry) {
			h.dropPending(e)
			h.arp.remove(e)
		})
	case OpARPResolve:
		e := h.arp.get(key(c.IP))
		if e == nil {
			e = h.arp.insert(key(c.IP), h.evict)
			h.arp.setState(e, Incomplete)
			e.deadline = now
		}
		if e.state == Incomplete && e.tries > 0 {
			h.stats[ARPRateLimited]++ // a resolution is already under way
			return
		}
		h.request(now, out, e)
	}
}

// SetDown takes the host down: it stops answering and sending (frames are
// still counted and captured); resolutions under way fail. why goes into the
// event ("down", or the device error that caused it).
func (h *Host) SetDown(now time.Time, why string, out *Output) {
	if h.cfg.Down {
		return
	}
	h.cfg.Down = true
	h.arp.each(func(e *arpEntry) {
		if e.state == Incomplete {
			h.stats[ARPFailed]++
			h.dropPending(e)
			h.arp.remove(e)
		}
	})
	out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventDown, Msg: why})
}
