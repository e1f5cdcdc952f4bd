package netcore

import (
	"encoding/binary"
	"fmt"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/wire"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Config is a host's configuration: what its ctl file reads back as commands.
type Config struct {
	Name        string // the host's name (its tap), for messages
	MAC         wire.MAC
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

// MaxAddrs bounds the IPv4 addresses of one host: every received packet is
// matched against all of them.
const MaxAddrs = 256

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
const maxFrame = wire.EthHeaderLen + MaxMTU

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
	addrs    []ifAddr // cfg.Addrs as the receive path compares them, same order
	arp      *arpCache
	stats    Stats
	capture  capture.Capture
	ipID     uint16
	announce bool      // gratuitous ARP for every address at the next Poll
	fresh    []uint32  // addresses added since the last Poll, to announce then
	deadline time.Time // the earliest timer, or zero
	conflict time.Time // when the last conflict event was reported
	spare    [][]byte  // recycled pending-frame buffers
}

// ifAddr is one of the host's addresses in host byte order, so that matching
// a packet against it is integer arithmetic.
type ifAddr struct{ ip, mask uint32 }

// maxSpare bounds the recycled pending-frame buffers kept for reuse; a burst
// that needed more gives the rest back to the garbage collector.
const maxSpare = 64

// NewHost makes a host from cfg; missing limits take their defaults. The
// configuration is checked by the rules of the ctl commands that would build
// it; errors are *CommandError of class EINVAL (EEXIST for a duplicate
// address, ENOSPC for more than MaxAddrs). The host announces its addresses with gratuitous ARP at the first
// Poll, which its driver makes at once.
func NewHost(cfg Config) (*Host, error) {
	cfg.setDefaults()
	cfg.Addrs = slices.Clone(cfg.Addrs)
	if r := cfg.validate(); r != nil {
		return nil, r.at(cfg.Name, 0, "")
	}
	h := &Host{cfg: cfg, announce: len(cfg.Addrs) > 0}
	h.arp = newARPCache(cfg.ARPCacheSize, h.evict)
	h.setAddrs()
	return h, nil
}

// validate checks what NewHost is given as the commands would.
func (c *Config) validate() *reason {
	if r := checkUnicastMAC(c.MAC); r != nil {
		return r
	}
	if r := checkMTU(c.MTU); r != nil {
		return r
	}
	if r := checkARPTimeout(c.ARPTimeout); r != nil {
		return r
	}
	if len(c.Addrs) > MaxAddrs {
		return fail(syscall.ENOSPC, ErrTooManyAddrs, "at most %d", MaxAddrs)
	}
	for i, p := range c.Addrs {
		if r := checkHostPrefix(p); r != nil {
			return r
		}
		if slices.ContainsFunc(c.Addrs[:i], func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			return fail(syscall.EEXIST, ErrExists, "address %s given twice", p.Addr())
		}
	}
	return nil
}

// setAddrs derives addrs from cfg.Addrs after every change.
func (h *Host) setAddrs() {
	h.addrs = h.addrs[:0]
	for _, p := range h.cfg.Addrs {
		h.addrs = append(h.addrs, ifAddrOf(p))
	}
}

// Name is the host's name.
func (h *Host) Name() string { return h.cfg.Name }

// Capture is the host's capture hook: every received and sent frame.
func (h *Host) Capture() *capture.Capture { return &h.capture }

// Deadline is when Poll must next be called; zero means no timer is due.
func (h *Host) Deadline() time.Time { return h.deadline }

// Count adds n to a counter; drivers use it for what only they see
// (TxDropped).
func (h *Host) Count(c Counter, n uint64) { h.stats[c] += n }

// Snapshot is a consistent copy of a host's configuration and counters, for
// the files that show them. The ARP cache, which can be large, is copied
// only by ARPTable.
type Snapshot struct {
	Config Config
	Stats  Stats
}

// Snapshot copies the host's configuration and counters.
func (h *Host) Snapshot() Snapshot {
	s := Snapshot{Config: h.cfg, Stats: h.stats}
	s.Config.Addrs = slices.Clone(h.cfg.Addrs)
	s.Stats[CaptureDropped] = h.capture.Dropped()
	return s
}

// ARPTable copies the ARP cache as of now, in no particular order: callers
// that hold a lock around the host sort it (SortARP) after letting go.
func (h *Host) ARPTable(now time.Time) []ARPEntry {
	t := make([]ARPEntry, 0, h.arp.len())
	h.arp.each(func(e *arpEntry) {
		r := ARPEntry{IP: addrOf(e.ip), MAC: e.mac, State: e.state, TTL: -1}
		if e.state != Static {
			r.TTL = max(e.deadline.Sub(now), 0)
			if e.state == Reachable && r.TTL == 0 {
				return // expired, not yet swept
			}
		}
		t = append(t, r)
	})
	return t
}

// SortARP sorts ARP entries by address, as the arp file lists them.
func SortARP(t []ARPEntry) {
	slices.SortFunc(t, func(a, b ARPEntry) int { return a.IP.Compare(b.IP) })
}

// AppendConfig renders the configuration as replayable ctl commands.
func (s *Snapshot) AppendConfig(b []byte) []byte { return AppendConfig(b, s.Config) }

// AppendAddr renders the addr file: the hardware address, then IP/N lines.
func (s *Snapshot) AppendAddr(b []byte) []byte {
	b = s.Config.MAC.AppendTo(b)
	b = append(b, '\n')
	for _, p := range s.Config.Addrs {
		b = p.AppendTo(b)
		b = append(b, '\n')
	}
	return b
}

// AppendARP renders the arp file from a sorted table: `IP MAC state seconds`
// per entry.
func AppendARP(b []byte, table []ARPEntry) []byte {
	for _, e := range table {
		b = e.IP.AppendTo(b)
		b = append(b, ' ')
		b = e.MAC.AppendTo(b)
		b = append(b, ' ')
		b = append(b, e.State.String()...)
		b = append(b, ' ')
		if e.TTL < 0 {
			b = append(b, '-')
		} else {
			secs := (e.TTL + time.Second - 1) / time.Second // rounded up: a fresh entry shows the full timeout
			b = strconv.AppendInt(b, int64(secs), 10)
		}
		b = append(b, '\n')
	}
	return b
}

// AppendStats renders the stats file.
func (s *Snapshot) AppendStats(b []byte) []byte { return s.Stats.Append(b) }

// ourAddr reports whether ip is one of the host's addresses.
func (h *Host) ourAddr(ip uint32) bool {
	for _, a := range h.addrs {
		if a.ip == ip {
			return true
		}
	}
	return false
}

// neighbour finds the address to send from towards ip: the first of ours
// whose subnet holds ip as a host. ok is false when ip is on no connected
// subnet, or is multicast, a network or a broadcast address, so that nothing
// is ever resolved, learned or answered for it.
func (h *Host) neighbour(ip uint32) (src uint32, ok bool) {
	if !unicastIPv4(ip) {
		return 0, false
	}
	for _, a := range h.addrs {
		if a.holds(ip) {
			return a.ip, true
		}
	}
	return 0, false
}

// onLink reports whether ip is a host on one of our subnets.
func (h *Host) onLink(ip uint32) bool {
	_, ok := h.neighbour(ip)
	return ok
}

func ifAddrOf(p netip.Prefix) ifAddr {
	return ifAddr{ip: key(p.Addr()), mask: ^uint32(0) << (32 - p.Bits())}
}

// holds reports whether ip is a host of a's subnet: inside it, and not its
// network or broadcast address (which /31 and /32 do not have).
func (a ifAddr) holds(ip uint32) bool {
	if ip&a.mask != a.ip&a.mask {
		return false
	}
	return a.mask > 0xfffffffc || ip&^a.mask != 0 && ip|a.mask != ^uint32(0)
}

// Receive processes one frame that arrived at now; replies go to out.
func (h *Host) Receive(now time.Time, frame []byte, out *Output) {
	h.stats[RxFrames]++
	h.stats[RxBytes] += uint64(len(frame))
	h.capture.Publish(now, capture.In, frame)
	h.stats[h.receive(now, frame, out)]++
}

// receive handles a frame and returns its fate: one of RxFates.
func (h *Host) receive(now time.Time, frame []byte, out *Output) Counter {
	eth, err := wire.NewEthernetFrame(frame)
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
	if dst := eth.Dst(); dst != h.cfg.MAC && !dst.IsMulticast() && !h.cfg.Promiscuous {
		return RxNotForUs
	}
	if len(frame)-wire.EthHeaderLen > h.cfg.MTU {
		return RxTooBig
	}
	switch typ {
	case wire.EtherTypeARP:
		return h.receiveARP(now, eth.Payload(), out)
	case wire.EtherTypeIPv4:
		return h.receiveIPv4(now, eth.Payload(), out)
	}
	return RxOtherEthertype
}

func (h *Host) receiveARP(now time.Time, b []byte, out *Output) Counter {
	p, err := wire.NewARPPacket(b)
	switch {
	case err == wire.ErrTruncated:
		return RxMalformed
	case err != nil:
		return ARPRxOther
	}
	fate := ARPRxRequest
	switch p.Op() {
	case wire.ARPRequest:
	case wire.ARPReply:
		fate = ARPRxReply
	default:
		return ARPRxOther
	}
	sha := p.SenderMAC()
	if sha.IsMulticast() || sha.IsZero() {
		return fate // nothing to learn or answer
	}
	spa, tpa := binary.BigEndian.Uint32(p[wire.ARPSPAOff:]), binary.BigEndian.Uint32(p[wire.ARPTPAOff:])
	if h.ourAddr(spa) {
		if sha != h.cfg.MAC {
			h.conflicted(now, spa, sha, out)
		}
		return fate
	}
	forUs := h.ourAddr(tpa)
	// RFC 826: update a sender we already know (a gratuitous ARP included);
	// add it only if the packet is for us, so that strangers cannot fill or
	// poison the cache, and only if we could ever send to it.
	if e := h.arp.get(spa); e != nil {
		h.learn(now, e, sha, out)
	} else if forUs && h.onLink(spa) {
		if e := h.arp.insert(spa, Reachable, probation); e != nil {
			h.learn(now, e, sha, out)
		}
	}
	if forUs && fate == ARPRxRequest {
		h.sendARP(now, out, wire.ARPReply, sha, tpa, sha, spa)
	}
	return fate
}

// conflicted counts another station claiming one of our addresses, and
// reports it at most once a second, so that a flood cannot flood the log.
func (h *Host) conflicted(now time.Time, ip uint32, mac wire.MAC, out *Output) {
	h.stats[ARPConflicts]++
	if !h.conflict.IsZero() && now.Sub(h.conflict) < time.Second {
		return
	}
	h.conflict = now
	out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventConflict,
		Msg: fmt.Sprintf("arp conflict: %s is-at %s, but it is ours (%s)", addrOf(ip), mac, h.cfg.MAC)})
}

// learn records that e's address is at mac, unless e is static, and sends
// what was waiting for it.
func (h *Host) learn(now time.Time, e *arpEntry, mac wire.MAC, out *Output) {
	if e.state == Static {
		return
	}
	h.arp.setState(e, Reachable)
	e.mac = mac
	e.deadline = now.Add(h.cfg.ARPTimeout)
	e.tries = 0
	h.arp.touch(e)
	h.schedule(e.deadline)
	h.sendPending(now, e, out)
}

// sendPending sends the frames that waited for e's address, now known.
func (h *Host) sendPending(now time.Time, e *arpEntry, out *Output) {
	for i, f := range e.pending {
		copy(f[wire.EthDstOff:], e.mac[:])
		h.transmit(now, out, append(out.buffer(), f...))
		h.recycle(f)
		e.pending[i] = nil
	}
	e.pending = e.pending[:0]
}

// evict accounts for an entry pushed out of the full cache.
func (h *Host) evict(e *arpEntry) {
	h.stats[ARPEvicted]++
	h.dropPending(e)
}

// drop removes e and its waiting frames.
func (h *Host) drop(e *arpEntry) {
	h.dropPending(e)
	h.arp.remove(e)
}

func (h *Host) dropPending(e *arpEntry) {
	h.stats[ARPPendingDropped] += uint64(len(e.pending))
	for i, f := range e.pending {
		h.recycle(f)
		e.pending[i] = nil
	}
	e.pending = e.pending[:0]
}

// keep copies a frame that must wait for ARP into a recycled buffer.
func (h *Host) keep(frame []byte) []byte {
	var f []byte
	if n := len(h.spare); n > 0 {
		f, h.spare[n-1], h.spare = h.spare[n-1], nil, h.spare[:n-1]
	}
	return append(f, frame...)
}

func (h *Host) recycle(f []byte) {
	if len(h.spare) < maxSpare {
		h.spare = append(h.spare, f[:0])
	}
}

func (h *Host) receiveIPv4(now time.Time, b []byte, out *Output) Counter {
	p, err := wire.NewIPv4Packet(b)
	if err != nil {
		return RxMalformed
	}
	if !p.VerifyChecksum() {
		return IPv4RxBadChecksum
	}
	if p.IsFragment() {
		return IPv4RxFragment
	}
	dst := binary.BigEndian.Uint32(p[wire.IPv4DstOff:])
	if !h.ourAddr(dst) {
		return RxNotForUs
	}
	if p.Protocol() != wire.ProtoICMP {
		return IPv4RxOther
	}
	icmp, err := wire.NewICMPPacket(p.Payload())
	if err != nil || icmp.Type() != wire.ICMPEchoRequest || icmp.Code() != 0 || !icmp.VerifyChecksum() {
		return ICMPRxOther
	}
	src := binary.BigEndian.Uint32(p[wire.IPv4SrcOff:])
	if h.ourAddr(src) {
		return ICMPEchoRx // counted, but nobody else to answer
	}
	h.echoReply(now, src, dst, icmp, out)
	return ICMPEchoRx
}

// echoReply answers an echo request: the same identifier, sequence and
// payload, TTL 64, from the address the request was sent to.
func (h *Host) echoReply(now time.Time, to, from uint32, icmp wire.ICMPPacket, out *Output) {
	b := out.buffer()
	b = wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(b) // Dst filled by route
	h.ipID++
	b = wire.IPv4Repr{Src: addrOf(from), Dst: addrOf(to), Protocol: wire.ProtoICMP, TTL: 64, ID: h.ipID, PayloadLen: len(icmp)}.Append(b)
	start := len(b)
	b = append(b, icmp...)
	b[start+wire.ICMPTypeOff] = byte(wire.ICMPEchoReply)
	binary.BigEndian.PutUint16(b[start+wire.ICMPChecksumOff:], echoReplyChecksum(icmp.Checksum(), b[start:]))
	h.route(now, out, to, b)
}

// echoReplyChecksum is the checksum of reply, which differs from a valid
// echo request only in its type (8 -> 0), found from the request's checksum
// by RFC 1624's equation 3 instead of summing the payload again. The update
// cannot tell a sum of +0 from -0: it yields 0x0000 where a reply of all
// zeros needs 0xffff, so that one case is looked at.
func echoReplyChecksum(request uint16, reply []byte) uint16 {
	const oldWord, newWord = uint16(wire.ICMPEchoRequest) << 8, uint16(wire.ICMPEchoReply) << 8
	sum := uint32(^request) + uint32(^oldWord) + uint32(newWord)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	if c := ^uint16(sum); c != 0 || !allZero(reply[:wire.ICMPChecksumOff]) || !allZero(reply[wire.ICMPChecksumOff+2:]) {
		return c
	}
	return 0xffff
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// route sends an IPv4 frame (Ethernet header with the destination left to
// fill) to ip on a connected subnet: at once if the neighbour is known,
// otherwise after ARP resolves it.
func (h *Host) route(now time.Time, out *Output, ip uint32, frame []byte) {
	if !h.onLink(ip) {
		h.stats[TxNoRoute]++
		return
	}
	e := h.arp.get(ip)
	if e != nil && (e.state == Static || e.state == Reachable && now.Before(e.deadline)) {
		h.arp.use(e)
		copy(frame[wire.EthDstOff:], e.mac[:])
		h.transmit(now, out, frame)
		return
	}
	switch {
	case e == nil:
		if e = h.arp.insert(ip, Incomplete, protected); e == nil {
			h.stats[ARPPendingDropped]++ // every slot is static
			return
		}
	case e.state != Incomplete: // expired, not yet swept: resolve it again
		h.arp.setState(e, Incomplete)
		e.mac = wire.MAC{}
		e.tries = 0
	}
	h.arp.use(e)
	if len(e.pending) >= h.cfg.ARPPending {
		h.stats[ARPPendingDropped]++
	} else {
		e.pending = append(e.pending, h.keep(frame))
	}
	if e.tries == 0 {
		h.request(now, out, e)
	}
}

// request sends an ARP request for e's address unless one went out less than
// ARPRequestInterval ago, and sets an incomplete entry's next retry.
func (h *Host) request(now time.Time, out *Output, e *arpEntry) {
	if !e.lastReq.IsZero() && now.Sub(e.lastReq) < ARPRequestInterval {
		h.stats[ARPRateLimited]++
		if e.state == Incomplete {
			e.deadline = e.lastReq.Add(ARPRequestInterval)
			h.schedule(e.deadline)
		}
		return
	}
	e.lastReq = now
	e.tries++
	if e.state == Incomplete {
		e.deadline = now.Add(ARPRequestInterval)
		h.schedule(e.deadline)
	}
	src, ok := h.neighbour(e.ip)
	if !ok {
		// Its subnet was removed while resolving: the try still counts, so
		// that the entry fails in time, but there is nothing to ask from.
		return
	}
	h.sendARP(now, out, wire.ARPRequest, wire.BroadcastMAC, src, wire.MAC{}, e.ip)
}

// sendARP sends an ARP packet from our hardware address.
func (h *Host) sendARP(now time.Time, out *Output, op wire.ARPOp, ethDst wire.MAC, spa uint32, tha wire.MAC, tpa uint32) {
	b := out.buffer()
	b = wire.EthernetRepr{Dst: ethDst, Src: h.cfg.MAC, Type: wire.EtherTypeARP}.Append(b)
	b = wire.ARPRepr{Op: op, SenderMAC: h.cfg.MAC, SenderIP: addrOf(spa), TargetMAC: tha, TargetIP: addrOf(tpa)}.Append(b)
	if op == wire.ARPRequest {
		h.stats[ARPTxRequest]++
	} else {
		h.stats[ARPTxReply]++
	}
	h.transmit(now, out, b)
}

// garp announces ip with a gratuitous ARP request (sender = target = ip).
func (h *Host) garp(now time.Time, out *Output, ip uint32) {
	h.sendARP(now, out, wire.ARPRequest, wire.BroadcastMAC, ip, wire.MAC{}, ip)
}

// transmit pads, counts, captures and queues a frame.
func (h *Host) transmit(now time.Time, out *Output, frame []byte) {
	if isEchoReply(frame) {
		h.stats[ICMPEchoTx]++
	}
	if n := len(frame); n < wire.EthMinFrame {
		frame = append(frame, make([]byte, wire.EthMinFrame-n)...) // within the buffer's capacity: no allocation
	}
	h.stats[TxFrames]++
	h.stats[TxBytes] += uint64(len(frame))
	h.capture.Publish(now, capture.Out, frame)
	out.Frames = append(out.Frames, frame)
}

// isEchoReply recognises the echo replies the host builds (IHL 5), so that
// icmp_echo_tx counts them when they go out, also after waiting for ARP.
func isEchoReply(f []byte) bool {
	return len(f) > wire.EthHeaderLen+wire.IPv4MinLen && f[wire.EthTypeOff] == 0x08 && f[wire.EthTypeOff+1] == 0x00 &&
		f[wire.EthHeaderLen+wire.IPv4ProtoOff] == byte(wire.ProtoICMP) && f[wire.EthHeaderLen+wire.IPv4MinLen] == byte(wire.ICMPEchoReply)
}

// schedule makes sure Poll runs by t.
func (h *Host) schedule(t time.Time) {
	if h.deadline.IsZero() || t.Before(h.deadline) {
		h.deadline = t
	}
}

// Poll sends the announcements that are due (the first one, and those that
// commands asked for) and runs the timers due at now: ARP retries and
// failures, expiry of learned entries. It returns the next deadline (zero if
// none).
func (h *Host) Poll(now time.Time, out *Output) time.Time {
	if !h.cfg.Down {
		h.sendAnnouncements(now, out)
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

// sendAnnouncements sends the gratuitous ARP that is due: for every address
// after start, up, `ea` or `garp`, else for the addresses added since the last
// Poll, each once.
func (h *Host) sendAnnouncements(now time.Time, out *Output) {
	if h.announce {
		for _, a := range h.addrs {
			h.garp(now, out, a.ip)
		}
	} else {
		for _, ip := range h.fresh {
			if h.ourAddr(ip) {
				h.garp(now, out, ip)
			}
		}
	}
	h.announce = false
	h.fresh = h.fresh[:0]
}

// fail gives up on an incomplete entry: it and its waiting frames go.
func (h *Host) fail(now time.Time, out *Output, e *arpEntry) {
	h.stats[ARPFailed]++
	out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventUnresolved,
		Msg: fmt.Sprintf("arp: %s did not answer %d requests; dropped %d waiting frames", addrOf(e.ip), e.tries, len(e.pending))})
	h.drop(e)
}

// Exec applies commands from a ctl or arp write as one unit: it checks every
// command against the current state (and the commands before it) first, and
// changes nothing if any fails. file names the file in error messages. What
// the commands send (gratuitous ARP, ARP requests, frames that waited for an
// entry added by hand) goes to out.
func (h *Host) Exec(now time.Time, file string, cmds []Command, out *Output) error {
	if err := h.check(file, cmds); err != nil {
		return err
	}
	for _, c := range cmds {
		h.apply(now, c, out)
	}
	h.Poll(now, out)
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
		r := c.validate()
		switch {
		case r != nil:
		case c.Op == OpAdd:
			switch {
			case has(c.Prefix.Addr()) >= 0:
				r = fail(syscall.EEXIST, ErrExists, "%s is already an address of this host", c.Prefix.Addr())
			case len(addrs) >= MaxAddrs:
				r = fail(syscall.ENOSPC, ErrTooManyAddrs, "at most %d", MaxAddrs)
			default:
				addrs = append(addrs, c.Prefix)
			}
		case c.Op == OpRemove:
			if i := has(c.Prefix.Addr()); i < 0 || addrs[i] != c.Prefix {
				r = fail(syscall.ENOENT, ErrNotFound, "%s is not an address of this host", c.Prefix)
			} else {
				addrs = slices.Delete(addrs, i, i+1)
			}
		case c.Op == OpRemoveAll:
			addrs = addrs[:0]
		case c.Op == OpUp:
			down = false
		case c.Op == OpDown:
			down = true
		case c.Op == OpGARP:
			if down {
				r = fail(syscall.ENETDOWN, ErrHostDown, "")
			}
		case c.Op == OpARPAdd:
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
		case c.Op == OpARPDel:
			static, ok := arp[key(c.IP)]
			if !ok {
				r = fail(syscall.ENOENT, ErrNotFound, "no ARP entry for %s", c.IP)
			} else {
				delete(arp, key(c.IP))
				if static {
					statics--
				}
			}
		case c.Op == OpARPFlush:
			clear(arp)
			statics = 0
		case c.Op == OpARPResolve:
			static := arp[key(c.IP)]
			switch {
			case down:
				r = fail(syscall.ENETDOWN, ErrHostDown, "")
			case has(c.IP) >= 0:
				r = fail(syscall.EINVAL, ErrBadIPv4, "%s is an address of this host", c.IP)
			case !onLinkOf(addrs, c.IP):
				r = fail(syscall.ENETUNREACH, ErrUnreachable, "")
			case !static && statics >= h.cfg.ARPCacheSize:
				// While every slot is static no dynamic entry exists, so
				// this one would need a slot that cannot be had.
				r = fail(syscall.ENOSPC, ErrCacheFull, "")
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

// onLinkOf reports whether ip is a host on one of the subnets of addrs, by
// the rule of Host.neighbour.
func onLinkOf(addrs []netip.Prefix, ip netip.Addr) bool {
	k := key(ip)
	return unicastIPv4(k) && slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return ifAddrOf(p).holds(k) })
}

// apply carries out one checked command.
func (h *Host) apply(now time.Time, c Command, out *Output) {
	switch c.Op {
	case OpEA:
		if c.MAC != h.cfg.MAC {
			h.cfg.MAC = c.MAC
			h.announce = true // neighbours hold the old address
		}
	case OpAdd:
		h.cfg.Addrs = append(h.cfg.Addrs, c.Prefix)
		h.setAddrs()
		if ip := key(c.Prefix.Addr()); !slices.Contains(h.fresh, ip) {
			h.fresh = append(h.fresh, ip)
		}
	case OpRemove:
		h.cfg.Addrs = slices.DeleteFunc(h.cfg.Addrs, func(p netip.Prefix) bool { return p == c.Prefix })
		h.setAddrs()
	case OpRemoveAll:
		h.cfg.Addrs = h.cfg.Addrs[:0]
		h.setAddrs()
	case OpMTU:
		h.cfg.MTU = c.N
	case OpUp:
		if h.cfg.Down {
			h.cfg.Down = false
			h.announce = true
			out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventUp, Msg: "up"})
		}
	case OpDown:
		h.SetDown(now, "down", out)
	case OpPromisc:
		h.cfg.Promiscuous = c.On
	case OpGARP:
		h.announce = true
	case OpARPTimeout:
		h.setARPTimeout(now, c.D)
	case OpARPAdd:
		e := h.arp.get(key(c.IP))
		if e == nil {
			if e = h.arp.insert(key(c.IP), Static, protected); e == nil {
				return // check made sure there is room
			}
		}
		h.arp.setState(e, Static)
		e.mac = c.MAC
		e.tries = 0
		h.arp.use(e)
		h.sendPending(now, e, out)
	case OpARPDel:
		if e := h.arp.get(key(c.IP)); e != nil {
			h.drop(e)
		}
	case OpARPFlush:
		h.arp.each(h.drop)
	case OpARPResolve:
		e := h.arp.get(key(c.IP))
		if e == nil {
			if e = h.arp.insert(key(c.IP), Incomplete, protected); e == nil {
				return // check made sure there is room
			}
		}
		h.arp.use(e)
		h.request(now, out, e)
	}
}

// setARPTimeout changes the lifetime of learned entries. Entries that would
// now outlive it are cut short at once; the others get the new lifetime when
// they are next confirmed.
func (h *Host) setARPTimeout(now time.Time, d time.Duration) {
	h.cfg.ARPTimeout = d
	limit := now.Add(d)
	h.arp.each(func(e *arpEntry) {
		if e.state == Reachable && e.deadline.After(limit) {
			e.deadline = limit
			h.schedule(limit)
		}
	})
}

// SetDown takes the host down: it stops answering and sending (frames are
// still counted and captured); resolutions under way fail. why goes into the
// event ("down", or the device error that caused it).
func (h *Host) SetDown(now time.Time, why string, out *Output) {
	if h.cfg.Down {
		return
	}
	h.cfg.Down = true
	h.fresh = h.fresh[:0] // coming up announces every address
	h.arp.each(func(e *arpEntry) {
		if e.state == Incomplete {
			h.stats[ARPFailed]++
			h.drop(e)
		}
	})
	out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: EventDown, Msg: why})
}
