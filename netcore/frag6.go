package netcore

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv6 reassembly (RFC 8200 4.5), bounded as IPv4's: at most
// MaxReassembly6 datagrams at once and MaxReassemblyBytes6 of buffers, each
// ReassemblyTimeout6 (RFC 8200's 60 seconds) to complete, then a time
// exceeded if its first fragment came. A datagram whose fragments overlap
// is dropped whole, and the rest of its fragments with it until its time
// is up (RFC 5722); the same fragment twice is a duplicate, dropped alone.
// A first fragment without the whole header chain is refused (RFC 7112),
// an atomic fragment (offset 0, no more) is taken as the datagram it is
// (RFC 6946).
//
// This is a small reassembler of IPv6's own; IPv4's, when it comes, can
// take its place with a key of IPv6's (source, destination, identification).
// Buffers are kept across datagrams, so that steady fragmented traffic
// allocates nothing once warm.

// Bounds of reassembly.
const (
	ReassemblyTimeout6  = 60 * time.Second
	MaxReassembly6      = 64
	MaxReassemblyBytes6 = 1 << 20
)

// frag6Key identifies a datagram (RFC 8200 4.5).
type frag6Key struct {
	src, dst netip.Addr
	id       uint32
}

// span is a part of a datagram's payload held.
type span struct{ off, end int }

type reasm6Entry struct {
	key      frag6Key
	used     bool
	dead     bool // dropped: its other fragments are dropped until deadline
	deadline time.Time
	first    []byte // the first fragment's packet, once it came (for its headers, and the time exceeded)
	fragOff  int    // where the fragment header is in first
	nhOff    int    // where the field that names the fragment header is in first
	nh       wire.IPProtocol
	data     []byte // the fragmentable part, assembled in place
	spans    []span // what of data came, sorted, none overlapping
	total    int    // payload length, from the last fragment; -1 until it came
	have     int
	linkMC   bool
}

// reasm6 is a host's IPv6 datagrams in reassembly.
type reasm6 struct {
	entries []reasm6Entry
	bytes   int
	asm     []byte // the last datagram completed
}

func (e *reasm6Entry) size() int { return cap(e.data) + cap(e.first) }

// keepBuffer is the largest datagram buffer an entry keeps for the next
// datagram; a bigger one goes back to the garbage collector.
const keepBuffer = 8 << 10

// free ends an entry, keeping its buffers for the next unless they are big.
// Only entries in use count towards MaxReassemblyBytes6.
func (r *reasm6) free(e *reasm6Entry) {
	if e.used {
		r.bytes -= e.size()
	}
	data := e.data[:0]
	if cap(data) > keepBuffer {
		data = nil
	}
	*e = reasm6Entry{data: data, first: e.first[:0], spans: e.spans[:0]}
}

// kill drops an entry's fragments but keeps it, dead and holding no
// buffer, until its deadline.
func (r *reasm6) kill(e *reasm6Entry) {
	key, deadline := e.key, e.deadline
	r.free(e)
	e.data, e.first = nil, nil
	e.key, e.deadline, e.used, e.dead = key, deadline, true, true
}

// next is the earliest deadline, zero when nothing is in reassembly.
func (r *reasm6) next() time.Time {
	var t time.Time
	for i := range r.entries {
		if e := &r.entries[i]; e.used && (t.IsZero() || e.deadline.Before(t)) {
			t = e.deadline
		}
	}
	return t
}

// clear drops everything (IPv6 stopped).
func (r *reasm6) clear() {
	for i := range r.entries {
		r.free(&r.entries[i])
	}
	r.asm = r.asm[:0]
}

// find returns the entry of key, or a free one (nil when none is left).
func (r *reasm6) find(key frag6Key) (e *reasm6Entry, found bool) {
	var free *reasm6Entry
	for i := range r.entries {
		switch e := &r.entries[i]; {
		case e.used && e.key == key:
			return e, true
		case !e.used && free == nil:
			free = e
		}
	}
	if free == nil && len(r.entries) < MaxReassembly6 {
		r.entries = append(r.entries, reasm6Entry{})
		free = &r.entries[len(r.entries)-1]
	}
	return free, false
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
		return h.assemble6(now, d, pkt, off, nhOff, fh.NextHeader(), data, out)
	case start == 0 && !chainComplete(fh.NextHeader(), data):
		h.paramProblem(now, d, wire.ICMPv6IncompleteChain, 0, out)
		return IPv6RxBadHeader
	case len(data) == 0:
		return IPv6RxFragDropped
	}
	r := &h.v6.frag
	key := frag6Key{d.src, d.dst, fh.Ident()}
	e, found := r.find(key)
	switch {
	case e == nil:
		return IPv6RxFragDropped // MaxReassembly6 datagrams already
	case found && e.dead:
		return IPv6RxFragDropped
	case !found:
		e.key, e.used, e.total, e.deadline = key, true, -1, now.Add(ReassemblyTimeout6)
		r.bytes += e.size()
		h.soon(e.deadline)
	}
	end := start + len(data)
	for _, s := range e.spans {
		if s.off == start && s.end == end {
			return IPv6RxFragDropped // a duplicate: alone
		}
		if start < s.end && s.off < end {
			r.kill(e) // RFC 5722
			return IPv6RxFragDropped
		}
	}
	if e.total >= 0 && (end > e.total || !more && end != e.total) || !more && e.have > 0 && e.spans[len(e.spans)-1].end > end {
		r.kill(e) // past the end, or a second end
		return IPv6RxFragDropped
	}
	grow := max(end-cap(e.data), 0)
	if start == 0 {
		grow += max(len(pkt)-cap(e.first), 0)
	}
	if r.bytes+grow > MaxReassemblyBytes6 {
		r.kill(e)
		return IPv6RxFragDropped
	}
	r.bytes -= e.size()
	if end > len(e.data) {
		e.data = append(e.data, make([]byte, end-len(e.data))...)
	}
	copy(e.data[start:], data)
	if start == 0 {
		e.first = append(e.first[:0], pkt...)
		e.fragOff, e.nhOff, e.nh = off, nhOff, fh.NextHeader()
	}
	r.bytes += e.size()
	e.linkMC = e.linkMC || d.linkMC
	if !more {
		e.total = end
	}
	e.have += len(data)
	i := 0
	for i < len(e.spans) && e.spans[i].off < start {
		i++
	}
	e.spans = append(e.spans, span{})
	copy(e.spans[i+1:], e.spans[i:])
	e.spans[i] = span{start, end}
	if e.total < 0 || e.have != e.total || len(e.first) == 0 {
		return IPv6RxFragment
	}
	h.stats[IPv6ReasmOK]++
	first := e.first
	c := h.assemble6(now, &datagram6{src: d.src, dst: d.dst, linkMC: e.linkMC}, first, e.fragOff, e.nhOff, e.nh, e.data[:e.total], out)
	r.free(e)
	return c
}

// assemble6 makes the datagram of the headers of first (before its
// fragment header at fragOff) and the payload data, and receives it.
func (h *Host) assemble6(now time.Time, d *datagram6, first []byte, fragOff, nhOff int, nh wire.IPProtocol, data []byte, out *Output) Counter {
	r := &h.v6.frag
	r.asm = append(append(r.asm[:0], first[:fragOff]...), data...)
	r.asm[nhOff] = byte(nh)
	binary.BigEndian.PutUint16(r.asm[wire.IPv6PayloadLenOff:], uint16(len(r.asm)-wire.IPv6HeaderLen))
	whole := datagram6{pkt: r.asm, src: d.src, dst: d.dst, linkMC: d.linkMC, whole: true}
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
		return len(b) >= 8 // the UDP header
	case wire.ProtoTCP:
		return len(b) >= 20 // the TCP header without options
	}
	return true
}

// reasmTimer6 ends the datagrams whose time is up: a time exceeded to the
// source of one whose first fragment came (RFC 8200 4.5).
func (h *Host) reasmTimer6(now time.Time, out *Output) {
	r := &h.v6.frag
	for i := range r.entries {
		e := &r.entries[i]
		if !e.used || now.Before(e.deadline) {
			continue
		}
		if !e.dead {
			h.stats[IPv6ReasmTimeout]++
			if len(e.first) > 0 {
				d := datagram6{pkt: e.first, src: e.key.src, dst: e.key.dst, linkMC: e.linkMC, mcast: e.key.dst.IsMulticast()}
				h.sendICMPv6Error(now, &d, wire.ICMPv6TimeExceeded, wire.ICMPv6ReassemblyExceeded, 0, out)
			}
		}
		r.free(e)
	}
}
