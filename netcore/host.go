package netcore

import (
	"net/netip"
	"slices"
	"time"

	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/impair"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/netcore/wire"
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
	Routes      []Route       // beyond the connected subnets (route.go)

	// The `impair` command's settings: what the link does to received
	// frames (rx) and to sent ones (tx).
	ImpairRx, ImpairTx impair.Settings
	// Seed seeds the randomness of `impair`. The caller fills it (package
	// stack from crypto/rand); a test gives a fixed one and gets the same
	// losses every run. It is not a command: a replayed configuration keeps
	// the host's own.
	Seed uint64
	// IPv6 (ipv6.go): off unless turned on. Addrs6 are the addresses
	// added by hand; the link-local address and those autoconfiguration
	// forms are the host's own, not configuration.
	IPv6     bool
	Autoconf bool // take prefixes and a default router from router advertisements
	Addrs6   []netip.Prefix
	// TCP is the TCP engine's policy (zero fields: its defaults); not a
	// command either: smolfs serve's flags set it for every host.
	TCP tcp.Config

	// Limits; zero means the default.
	ARPCacheSize int // entries (DefaultARPCacheSize)
	ARPRetries   int // requests per resolution (DefaultARPRetries)
	ARPPending   int // frames waiting per address (DefaultARPPending)
	// ReasmTimeout is a fragmented datagram's time to complete
	// (ReassemblyTimeout); tests with real peers shorten it.
	ReasmTimeout time.Duration
}

// MaxAddrs bounds the IPv4 addresses of one host: every received packet is
// matched against all of them.
const MaxAddrs = ctl.MaxAddrs

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
	if c.ReasmTimeout <= 0 {
		c.ReasmTimeout = ReassemblyTimeout
	}
}

// Proto is a protocol whose conversations a host keeps (Plan 9's ip(3)
// directories udp, tcp, icmp).
type Proto uint8

// Conversation protocols.
const (
	ProtoUDP Proto = iota + 1
	ProtoTCP
	ProtoICMP
)

// ConvRef names a conversation: its protocol, its number, and which use of
// the number it is (Gen), so that a number reused is told apart.
type ConvRef struct {
	Proto Proto
	N     int
	Gen   uint32
}

// Output collects what the host wants done after a call: frames to send, in
// order; events to report; and the conversations whose readiness changed,
// whose waiters the driver wakes. Reuse one Output (Reset between uses): its
// frame buffers are recycled, so that steady traffic allocates nothing.
type Output struct {
	Frames [][]byte
	Events []Event
	Wake   []ConvRef // each at most once
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
	o.Wake = o.Wake[:0]
	o.used = 0
}

// wake adds ref to the conversations to wake, once.
func (o *Output) wake(ref ConvRef) {
	if !slices.Contains(o.Wake, ref) {
		o.Wake = append(o.Wake, ref)
	}
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
// responder and neighbour table, and an ICMP echo responder. It is a state
// machine with no I/O and no goroutines, and is not safe for concurrent use:
// its driver serialises every call.
//
// The protocols live a file each: arp.go, ipv4.go, icmp.go, udp.go,
// tcp.go; the neighbour
// table in neighbour.go, the timers in timers.go, the ctl and arp commands
// in commands.go, the counters in stats.go, the link's impairment (the
// `impair` command) in impair.go.
type Host struct {
	cfg      Config
	addrs    []ifAddr // cfg.Addrs as the receive path compares them, same order
	routes   []route4 // cfg.Routes as the send path compares them
	arp      *neighbours
	timers   timerHeap
	stats    Stats
	capture  capture.Capture
	ipID     uint16
	announce bool      // gratuitous ARP for every address at the next Poll
	fresh    []uint32  // addresses added since the last Poll, to announce then
	conflict time.Time // when the last conflict event was reported
	spare    [][]byte  // recycled pending-frame buffers

	// The link's impairment of each direction, and the positions of their
	// timers in the heap (impair.go).
	rx, tx           impair.Stage
	rxTimer, txTimer int32

	conv convs         // conversations of every transport (conv.go)
	udp  *udp          // the UDP transport (udp.go)
	icmp *icmpConvs    // the ICMP transport (icmpconv.go)
	tcp  *tcpTransport // the TCP transport (tcp.go)

	// rxLinkMulticast is whether the frame being received (or every
	// fragment of the datagram being delivered, or'ed) came to a link-layer
	// broadcast or multicast address: no ICMP error answers it.
	rxLinkMulticast bool
	rxOffload       RxOffload              // of the frame being received (ReceiveOffloaded)
	rxSrcMAC        wire.MAC               // the hardware address the frame being received came from
	reasm4          *reassembler[fragKey4] // made at the first fragment
	reasmTimer      int32                  // the reassembly timer's place in timers
	icmpErrors      tokenBucket            // the rate of ICMP errors sent
	txBuf           []byte                 // a datagram longer than the MTU, before it is cut into fragments
	v6              ipv6Host               // IPv6's state (ipv6.go)
}

// NewHost makes a host from cfg; missing limits take their defaults. The
// configuration is checked by the rules of the ctl commands that would build
// it; errors are *ctl.CommandError of class EINVAL (EEXIST for a duplicate
// address, ENOSPC for more than MaxAddrs). The host announces its addresses
// with gratuitous ARP at the first Poll, which its driver makes at once.
func NewHost(cfg Config) (*Host, error) {
	cfg.setDefaults()
	cfg.Addrs = slices.Clone(cfg.Addrs)
	cfg.Routes = slices.Clone(cfg.Routes)
	cfg.Addrs6 = slices.Clone(cfg.Addrs6)
	if r := cfg.validate(); r != nil {
		return nil, r.At(cfg.Name, 0, "")
	}
	h := &Host{cfg: cfg, announce: len(cfg.Addrs) > 0}
	h.arp = newNeighbours(cfg.ARPCacheSize, h.evict, h.forget)
	h.reasmTimer = noTimer
	h.icmpErrors = newTokenBucket(ICMPErrorRate, ICMPErrorBurst)
	h.timers.pos = func(kind timerKind, id int32) *int32 {
		// Each kind keeps its timers' positions in its own records.
		switch kind {
		case timerImpairRx:
			return &h.rxTimer
		case timerImpairTx:
			return &h.txTimer
		case timerReassembly:
			return &h.reasmTimer
		case timerIPv6:
			return &h.v6.timer
		case timerTCP:
			return &h.tcp.timer
		}
		return &h.arp.at(id).timer
	}
	h.setAddrs()
	h.initImpair()
	h.udp = newUDP(h)
	h.register(ProtoUDP, h.udp)
	h.icmp = newICMPConvs(h)
	h.register(ProtoICMP, h.icmp)
	h.setRoutes()
	h.initIPv6()
	h.tcp = newTCP(h)
	h.register(ProtoTCP, h.tcp)
	return h, nil
}

// Name is the host's name.
func (h *Host) Name() string { return h.cfg.Name }

// Capture is the host's capture hook: every received and sent frame.
func (h *Host) Capture() *capture.Capture { return &h.capture }

// Deadline is when Poll must next be called; zero means no timer is armed.
// It may come early: Poll then finds nothing due and says when to come back.
func (h *Host) Deadline() time.Time { return h.timers.next() }

// Count adds n to a counter; drivers use it for what only they see
// (TxDropped).
func (h *Host) Count(c Counter, n uint64) { h.stats[c] += n }

// ethernetProtos are the protocols the host speaks over Ethernet, by
// ethertype, each handled in its own file. A protocol is a line here.
var ethernetProtos = [...]struct {
	typ     wire.EtherType
	receive func(h *Host, now time.Time, payload []byte, out *Output) Counter
}{
	{wire.EtherTypeARP, (*Host).receiveARP},
	{wire.EtherTypeIPv4, (*Host).receiveIPv4},
	{wire.EtherTypeIPv6, (*Host).receiveIPv6},
}

// RxOffload is what a device that offloads work from the kernel (a tap
// with a virtio-net header) says of a frame it received.
type RxOffload struct {
	// ChecksumValid: the frame's transport checksum is not to be
	// verified: the kernel verified it, or left it for a NIC to fill in
	// (it came from the kernel's own stack, which trusts its memory).
	ChecksumValid bool
	// Segmented: the frame is a TCP segment the kernel did not cut to the
	// MTU (generic segmentation offload): longer than the MTU is no
	// reason to drop it.
	Segmented bool
}

// ReceiveOffloaded is Receive for a frame that came with o.
func (h *Host) ReceiveOffloaded(now time.Time, frame []byte, o RxOffload, out *Output) {
	h.rxOffload = o
	h.Receive(now, frame, out)
	h.rxOffload = RxOffload{}
}

// Receive processes one frame that arrived at now; replies go to out. The
// host keeps no reference to frame after it returns.
func (h *Host) Receive(now time.Time, frame []byte, out *Output) {
	if h.rx.Active() {
		h.receiveImpaired(now, frame, out)
		return
	}
	h.deliver(now, frame, out)
}

// deliver counts, captures and processes a frame that reached the host.
func (h *Host) deliver(now time.Time, frame []byte, out *Output) {
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
	dst := eth.Dst()
	if dst != h.cfg.MAC && !dst.IsMulticast() && !h.cfg.Promiscuous {
		return RxNotForUs
	}
	h.rxLinkMulticast = dst.IsMulticast()
	h.rxSrcMAC = eth.Src()
	if len(frame)-wire.EthHeaderLen > h.cfg.MTU && !h.rxOffload.Segmented {
		return RxTooBig
	}
	for _, p := range &ethernetProtos {
		if p.typ == typ {
			return p.receive(h, now, eth.Payload(), out)
		}
	}
	return RxOtherEthertype
}

// transmit pads, counts, captures and queues a frame.
func (h *Host) transmit(now time.Time, out *Output, frame []byte) {
	if isEchoReply(frame) {
		h.stats[ICMPEchoTx]++
	} else if isEchoReply6(frame) {
		h.stats[ICMPv6EchoTx]++
	}
	if n := len(frame); n < wire.EthMinFrame {
		frame = append(frame, make([]byte, wire.EthMinFrame-n)...) // within the buffer's capacity: no allocation
	}
	h.stats[TxFrames]++
	h.stats[TxBytes] += uint64(len(frame))
	h.capture.Publish(now, capture.Out, frame)
	if h.tx.Active() {
		h.transmitImpaired(now, out, frame)
		return
	}
	out.Frames = append(out.Frames, frame)
}

// Poll sends the announcements that are due (the first one, and those that
// commands asked for) and runs the timers due at now. It returns the next
// deadline (zero if none).
func (h *Host) Poll(now time.Time, out *Output) time.Time {
	if !h.cfg.Down {
		h.sendAnnouncements(now, out)
	}
	if h.v6.running != h.ipv6Running() {
		h.ipv6Changed(now, out) // a new host that has IPv6 on starts it at its first Poll
	}
	for {
		t, ok := h.timers.pop(now)
		if !ok {
			break
		}
		switch t.kind {
		case timerNeighbour:
			if e := h.arp.at(t.id); e.addr.Is6() {
				h.nudTimer(now, e, out)
			} else {
				h.neighbourTimer(now, e, out)
			}
		case timerImpairRx:
			h.deliverImpaired(now, out)
		case timerImpairTx:
			h.sendImpaired(now, out)
		case timerReassembly:
			h.reassemblyTimer(now, out)
		case timerIPv6:
			h.ipv6Timer(now, out)
		case timerTCP:
			h.tcp.poll(now, out)
		}
	}
	return h.timers.next()
}

// SetDown takes the host down: it stops answering and sending (frames are
// still counted and captured); resolutions under way fail. why goes into the
// event ("down", or the device error that caused it).
func (h *Host) SetDown(now time.Time, why string, out *Output) {
	if h.cfg.Down {
		return
	}
	h.cfg.Down = true
	h.wentDown(now, why, out)
}

// wentDown does what a host that went down must.
func (h *Host) wentDown(now time.Time, why string, out *Output) {
	h.fresh = h.fresh[:0] // coming up announces every address
	h.ipv6Changed(now, out)
	h.arp.each(func(e *neighbour) {
		if e.state == Incomplete {
			h.stats[ARPFailed]++
			h.drop(e)
		}
	})
	h.event(now, EventDown, netip.Addr{}, why, out)
}

// cameUp does what a host that came up must: it announces every address.
func (h *Host) cameUp(now time.Time, out *Output) {
	h.announce = true
	h.event(now, EventUp, netip.Addr{}, "up", out)
}
