package netcore

import (
	"encoding/binary"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv4 fragments (RFC 791 3.2): the receive side hands them to the
// reassembler (reassembly.go) under IPv4's key, and delivers the datagrams
// they complete; the send side cuts datagrams longer than the MTU.

// fragKey4 identifies the datagram an IPv4 fragment belongs to (RFC 791:
// source, destination, protocol, identification).
type fragKey4 struct {
	src, dst uint32
	id       uint16
	proto    wire.IPProtocol
}

// fragLinkMulticast is the reassembler flag of a fragment that came to a
// link-layer broadcast or multicast address.
const fragLinkMulticast = 1

// receiveFragment takes a fragment of a datagram for us and returns its
// fate: held, dropped, or (the fragment that completes its datagram) the
// datagram's own.
func (h *Host) receiveFragment(now time.Time, p wire.IPv4Packet, out *Output) Counter {
	data := p.Payload()
	more := p.MoreFragments()
	if len(data) == 0 || more && len(data)%8 != 0 {
		return IPv4RxFragBad
	}
	if h.reasm4 == nil {
		h.reasm4 = newReassembler[fragKey4](0xffff, wire.IPv4MinLen, h.cfg.ReasmTimeout)
	}
	k := fragKey4{
		src:   binary.BigEndian.Uint32(p[wire.IPv4SrcOff:]),
		dst:   binary.BigEndian.Uint32(p[wire.IPv4DstOff:]),
		id:    p.ID(),
		proto: p.Protocol(),
	}
	var flags uint8
	if h.rxLinkMulticast {
		flags = fragLinkMulticast
	}
	res := h.reasm4.add(now, k, p.FragmentOffset(), more, p[:p.HeaderLen()], data, flags)
	h.armReassembly()
	switch res {
	case reasmHeld:
		return IPv4RxFragment
	case reasmDuplicate:
		return IPv4RxFragDuplicate
	case reasmOverlap:
		return IPv4RxFragOverlap
	case reasmNoRoom:
		return IPv4RxFragNoRoom
	case reasmDone:
	default:
		return IPv4RxFragBad
	}
	d, flags := h.reasm4.datagram()
	q := wire.IPv4Packet(d)
	q.SetFragment(len(d), false, 0) // the first fragment's header, for the whole
	h.stats[IPv4Reassembled]++
	h.rxLinkMulticast = flags&fragLinkMulticast != 0
	return h.deliverIPv4(now, q, out)
}

// armReassembly keeps the reassembly timer at the reassembler's earliest
// deadline.
func (h *Host) armReassembly() {
	next := h.reasm4.next()
	if next.IsZero() {
		h.timers.stop(timerReassembly, 0)
		return
	}
	if at, ok := h.timers.when(timerReassembly, 0); !ok || !at.Equal(next) {
		h.timers.set(timerReassembly, 0, next)
	}
}

// reassemblyTimer drops the datagrams whose time is up, and answers those
// whose first fragment came with Time Exceeded (RFC 792, RFC 1122 3.3.2),
// once each.
func (h *Host) reassemblyTimer(now time.Time, out *Output) {
	for {
		_, first, flags, live, ok := h.reasm4.expire(now)
		if !ok {
			break
		}
		if !live {
			continue // dropped already, and counted then
		}
		h.stats[IPv4ReasmTimeout]++
		if first != nil {
			h.rxLinkMulticast = flags&fragLinkMulticast != 0
			h.icmpError(now, out, wire.IPv4Packet(first), wire.ICMPTimeExceeded, wire.ICMPReassemblyExceeded, 0)
		}
	}
	h.armReassembly()
}

// sendDatagram sends d, a whole IPv4 datagram (header and payload) from
// us, towards dst: in one frame when it fits the MTU, else in fragments of
// the MTU (a multiple of 8 bytes of payload each). Every fragment repeats
// the header; options without the copy flag (Record Route, Timestamp)
// become NOPs after the first, as Linux's ip_options_fragment leaves them,
// so that all have one header length.
func (h *Host) sendDatagram(now time.Time, out *Output, dst uint32, d wire.IPv4Packet) {
	hl, total := d.HeaderLen(), int(d.TotalLen())
	if total <= h.cfg.MTU {
		f := wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(out.buffer())
		h.route(now, out, dst, append(f, d[:total]...))
		return
	}
	step := (h.cfg.MTU - hl) &^ 7
	payload := d[hl:total]
	for off := 0; off < len(payload); off += step {
		end := min(off+step, len(payload))
		f := wire.EthernetRepr{Src: h.cfg.MAC, Type: wire.EtherTypeIPv4}.Append(out.buffer()) // Dst filled by route
		start := len(f)
		f = append(f, d[:hl]...)
		if off > 0 {
			nopUncopied(f[start+wire.IPv4MinLen : start+hl])
		}
		f = append(f, payload[off:end]...)
		wire.IPv4Packet(f[start:]).SetFragment(hl+end-off, end < len(payload), off)
		h.stats[IPv4TxFragments]++
		h.route(now, out, dst, f)
	}
}

// nopUncopied overwrites the options whose copy flag is clear with NOPs.
func nopUncopied(opts []byte) {
	for i := 0; i < len(opts); {
		switch t := opts[i]; {
		case t == wire.IPv4OptEnd:
			return
		case t == wire.IPv4OptNOP:
			i++
		case i+1 >= len(opts) || opts[i+1] < 2:
			return // malformed: ours never are
		default:
			l := min(int(opts[i+1]), len(opts)-i)
			if t&wire.IPv4OptCopied == 0 {
				for j := range l {
					opts[i+j] = wire.IPv4OptNOP
				}
			}
			i += l
		}
	}
}
