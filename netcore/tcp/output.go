package tcp

import "net/netip"

// Segment is one TCP segment to send: the host wraps Header and Payload in
// an IP header from Src to Dst with TTL and TOS. The checksum is already in
// Header. Header lives in the Output; Payload may point into a connection's
// send buffer: both are valid only until the next call into the Table.
type Segment struct {
	Src, Dst netip.Addr
	TTL, TOS uint8
	Header   []byte
	Payload  []byte
}

// Len is the segment's length on the wire (TCP header and payload).
func (s *Segment) Len() int { return len(s.Header) + len(s.Payload) }

// Ready is a set of readiness changes of a connection or listener.
type Ready uint8

// Readiness changes. A connection or listener is reported at most once per
// Output, with the union of its changes.
const (
	// Readable: a Read would now return data, io.EOF or an error.
	Readable Ready = 1 << iota
	// Writable: a Write would now accept bytes (or fail).
	Writable
	// Acceptable: a listener has an established connection to Accept.
	Acceptable
	// Established: a connection finished its handshake.
	Established
	// Failed: a connection was refused, reset, or timed out (Err says which).
	Failed
	// Closed: the connection is done (Closed state): its 4-tuple is free and
	// the Table holds no reference to it.
	Closed
)

// Event reports the readiness changes of one connection or listener (one
// of Conn and Listener is set).
type Event struct {
	Conn     *Conn
	Listener *Listener
	Ready    Ready
}

// Output collects what one call into the Table produced. The caller reuses
// it: Reset before each call (or after handling it); its buffers are kept.
type Output struct {
	Segments []Segment
	Events   []Event
	buf      []byte // headers (and the rare wrapped payload) of Segments
	gen      uint64 // tells a connection whether its event index is current
}

// Reset empties o for reuse.
func (o *Output) Reset() {
	clear(o.Segments) // drop references to send buffers
	o.Segments = o.Segments[:0]
	clear(o.Events)
	o.Events = o.Events[:0]
	o.buf = o.buf[:0]
	o.gen++
}

// eventSink is embedded in Conn and Listener: where their event in an
// Output is, so that a second change ORs into it.
type eventSink struct {
	evOut *Output
	evGen uint64
	evIdx int
}

func (s *eventSink) note(o *Output, c *Conn, l *Listener, r Ready) {
	if o == nil || r == 0 {
		return
	}
	if s.evOut == o && s.evGen == o.gen {
		o.Events[s.evIdx].Ready |= r
		return
	}
	s.evOut, s.evGen, s.evIdx = o, o.gen, len(o.Events)
	o.Events = append(o.Events, Event{Conn: c, Listener: l, Ready: r})
}
