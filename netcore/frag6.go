package netcore

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv6 fragments (RFC 8200 4.5) on IPv4's reassembler (reassembly.go),
// under IPv6's key: its bounds (64 datagrams, 1 MiB of buffers per family),
// its overlap rule (RFC 5722: the datagram dropped whole, its later
// fragments with it; a duplicate dropped alone), RFC 8200's 60 seconds to
// complete, then a time exceeded if the first fragment came. A first
// fragment without the whole header chain is refused (RFC 7112), an atomic
// fragment (offset 0, no more) is the datagram it carries (RFC 6946).
//
// The reassembler keeps each first fragment's headers, the fragment header
// included, so that the time exceeded quotes the fragment as it came; the
// datagram it returns loses the fragment header here.

// ReassemblyTimeout6 is how long an IPv6 datagram has to complete.
const ReassemblyTimeout6 = 60 * time.Second

// frag6Key identifies a datagram (RFC 8200 4.5: source, destination,
// identification).
type frag6Key struct {
	src, dst netip.Addr
	id       uint32
}

// reasm6 is a host's IPv6 datagrams in reassembly, made at the first
// fragment.
type reasm6 struct {
	r   *reassembler[frag6Key]
	asm []byte // the last datagram completed, without its fragment header
}

// next is the earliest deadline, zero when nothing is in reassembly.
func (f *reasm6) next() time.Time {
	if f.r == nil {
		return time.Time{}
	}
	return f.r.next()
}

// clear drops everything (IPv6 stopped).
func (f *reasm6) clear() {
	f.r = nil
	f.asm = nil
}

// receiveFragment6 takes a packet whose fragment header is at off; nhOff
// is where the field that named it is.
func (h *Host) receiveFragment6(now time.Time, d *datagram6, off, nhOff int, out *Output) Counter {
	pkt := d.pkt
	fh, err := wire.NewIPv6FragmentHeader(pkt[off:])
	if err != nil {
		return IPv6RxBadHeader
	}
	data := pkt[off+wire.IPv6FragLen:]
	start, more := fh.Offset(), fh.More()
	switch {
	case more && len(data)%8 != 0:
		h.paramProblem(now, d, wire.ICMPv6ErroneousHeader, wire.IPv6PayloadLenOff, out)
		return IPv6RxBadHeader
	case start+len(data) > 0xffff:
		h.paramProblem(now, d, wire.ICMPv6ErroneousHeader, off+wire.IPv6FragOffOff, out)
		return IPv6RxBadHeader
	case start == 0 && !more:
		// An atomic fragment: the datagram, without its fragment header.
		return h.assemble6(now, d, pkt, off, nhOff, d.linkMC, out)
	case start == 0 && !chainComplete(fh.NextHeader(), data):
		h.paramProblem(now, d, wire.ICMPv6IncompleteChain, 0, out)
		return IPv6RxBadHeader
	}
	f := &h.v6.frag
	if f.r == nil {
		f.r = newReassembler[frag6Key](wire.IPv6HeaderLen+0xffff, wire.IPv6HeaderLen, ReassemblyTimeout6)
	}
	var flags uint8
	if d.linkMC {
		flags = fragLinkMulticast
	}
	res := f.r.add(now, frag6Key{d.src, d.dst, fh.Ident()}, start, more, pkt[:off+wire.IPv6FragLen], data, flags)
	if next := f.r.next(); !next.IsZero() {
		h.soon(next)
	}
	switch res {
	case reasmHeld:
		return IPv6RxFragment
	case reasmDuplicate:
		return IPv6RxFragDuplicate
	case reasmOverlap:
		return IPv6RxFragOverlap
	case reasmNoRoom:
		return IPv6RxFragNoRoom
	case reasmDone:
	default:
		return IPv6RxFragBad
	}
	whole, flags := f.r.datagram()
	h.stats[IPv6ReasmOK]++
	// The headers are the first fragment's: find its fragment header again.
	nh, fo, nho := wire.IPProtocol(whole[wire.IPv6NextHeaderOff]), wire.IPv6HeaderLen, wire.IPv6NextHeaderOff
	for nh != wire.ProtoFragment {
		n, err := wire.IPv6ExtHeaderLen(nh, whole[fo:])
		if err != nil {
			return IPv6RxFragBad // cannot be: the first fragment's were walked
		}
		nh, fo, nho = wire.IPProtocol(whole[fo]), fo+n, fo
	}
	return h.assemble6(now, d, whole, fo, nho, flags&fragLinkMulticast != 0, out)
}

// assemble6 receives the datagram of pkt without the fragment header at
// fragOff, its next header moved to nhOff, the field that named it.
func (h *Host) assemble6(now time.Time, d *datagram6, pkt []byte, fragOff, nhOff int, linkMC bool, out *Output) Counter {
	f := &h.v6.frag
	nh := pkt[fragOff+wire.IPv6ExtNextOff]
	f.asm = append(append(f.asm[:0], pkt[:fragOff]...), pkt[fragOff+wire.IPv6FragLen:]...)
	f.asm[nhOff] = nh
	binary.BigEndian.PutUint16(f.asm[wire.IPv6PayloadLenOff:], uint16(len(f.asm)-wire.IPv6HeaderLen))
	whole := datagram6{pkt: f.asm, src: d.src, dst: d.dst, linkMC: linkMC, whole: true}
	return h.receiveDatagram6(now, &whole, out)
}

// chainComplete reports whether a first fragment holds every extension
// header after the fragment header, and the upper-layer header's first
// bytes (RFC 7112).
func chainComplete(nh wire.IPProtocol, b []byte) bool {
	for wire.IsIPv6Extension(nh) && nh != wire.ProtoNoNext {
		n, err := wire.IPv6ExtHeaderLen(nh, b)
		if err != nil {
			return err == wire.ErrIPv6Ext // ESP and the unknown: nothing to check
		}
		nh, b = wire.IPProtocol(b[0]), b[n:]
	}
	switch nh {
	case wire.ProtoICMPv6:
		return len(b) >= 4
	case wire.ProtoUDP:
		return len(b) >= wire.UDPHeaderLen
	case wire.ProtoTCP:
		return len(b) >= 20 // the TCP header without options
	}
	return true
}

// reasmTimer6 ends the datagrams whose time is up: a time exceeded to the
// source of one whose first fragment came (RFC 8200 4.5), quoting it.
func (h *Host) reasmTimer6(now time.Time, out *Output) {
	f := &h.v6.frag
	if f.r == nil {
		return
	}
	for {
		key, first, flags, live, ok := f.r.expire(now)
		if !ok {
			return
		}
		if !live {
			continue // dropped already, and counted then
		}
		h.stats[IPv6ReasmTimeout]++
		if first != nil {
			d := datagram6{pkt: first, src: key.src, dst: key.dst, linkMC: flags&fragLinkMulticast != 0, mcast: key.dst.IsMulticast()}
			h.sendICMPv6Error(now, &d, wire.ICMPv6TimeExceeded, wire.ICMPv6ReassemblyExceeded, 0, out)
		}
	}
}
