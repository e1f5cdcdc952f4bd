package netcore

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
)

// Conversations are Plan 9's (ip(3), devip.c): each transport has numbered
// conversations, made by opening clone, driven by text commands on their
// ctl file and moving data through their data file. The machinery is the
// same for every protocol: the table of numbers, references and lifetime,
// the receive queue of datagrams, the listen queue of calls, the last error
// and the wake-ups. Each protocol fills in a transport (Plan 9's Proto:
// connect, announce, ...), in a file of its own (udp.go).
//
// The host never blocks: an operation that would have to wait returns
// ErrWouldBlock, and the host names the conversation in Output.Wake once
// its readiness changes (readable, a call queued, connected, failed), so
// that whoever waits (package stack) tries again.

// numProtos bounds the Proto values (host.go): they index the host's
// tables of conversations.
const numProtos = ProtoICMP + 1

var protoNames = [numProtos]string{ProtoUDP: "udp", ProtoTCP: "tcp", ProtoICMP: "icmp"}

func (p Proto) String() string {
	if p > 0 && p < numProtos {
		return protoNames[p]
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// ParseProto finds a transport by its directory's name.
func ParseProto(name string) (Proto, bool) {
	for p, n := range protoNames {
		if n != "" && n == name {
			return Proto(p), true
		}
	}
	return 0, false
}

func (r ConvRef) String() string { return fmt.Sprintf("%s/%d", r.Proto, r.N) }

// ErrWouldBlock is what a conversation operation returns when it would
// have to wait: the caller waits for a Wake of the conversation and tries
// again.
var ErrWouldBlock = errors.New("operation would block")

// Bounds of conversations.
const (
	// MaxConvs bounds the conversations of one transport of a host (UDP,
	// ICMP), calls not yet taken from a listen queue included.
	MaxConvs = 4096
	// MaxTCPConvs bounds a host's TCP conversations, those whose files
	// closed while the connection finishes its close included: more than
	// MaxConvs, so that a server holds 10,000 connections at once. What
	// each holds is bounded by its buffers (tcp.Config).
	MaxTCPConvs = 16384
	// ConvRecvQueue and ConvRecvBytes bound a conversation's queue of
	// received datagrams; what does not fit is dropped and counted.
	ConvRecvQueue = 512
	ConvRecvBytes = 256 << 10
	// ConvHostQueued bounds the memory that the queued datagrams of all
	// of a host's conversations hold together (their buffers, counted
	// whole), so that 4096 conversations nobody reads cannot pin 4096
	// full queues: past it, datagrams are dropped and counted as for a
	// full queue.
	ConvHostQueued = 16 << 20
	// ConvBacklog bounds an announced conversation's calls not yet taken
	// through listen.
	ConvBacklog = 64
	// defaultTTL is the TTL of a conversation's datagrams until `ttl N`.
	defaultTTL = 64
)

// convState is where a conversation stands, as far as the machinery is
// concerned; TCP keeps its own finer state beside it.
type convState uint8

const (
	convIdle      convState = iota // cloned: no connect or announce yet
	convOpen                       // connected to a remote
	convAnnounced                  // waiting for calls
)

// conv is one conversation.
type conv struct {
	ref    ConvRef
	refs   int // open files (ctl, data, listen); 0 for a call not yet taken, or a TCP conversation closing after its files
	state  convState
	local  netip.AddrPort // announced on 0.0.0.0: any of the host's addresses
	remote netip.AddrPort
	ttl    uint8
	tos    uint8
	rq     dgramQueue
	calls  []*conv // announced: calls not yet taken, oldest first
	parent *conv   // a call not yet taken: the conversation it came to
	err    error   // the last error, for N/err; reported by the next read once
	errMsg string  // the words of the last error, kept after it was reported
	tcp    tcpConv // TCP's connection or listeners (tcp.go)
}

// ConvInfo is what a conversation's local, remote, status and err files
// show.
type ConvInfo struct {
	Ref    ConvRef
	Local  netip.AddrPort // 0.0.0.0: any of the host's addresses
	Remote netip.AddrPort
	Status string // one line: the state, then `name value` pairs
	Err    string // the last error in words, or ""
}

// transport is what a protocol fills in for its conversations: Plan 9's
// Proto, whose functions the machinery calls with the host's state at hand.
type transport interface {
	// connect and announce carry out those commands on a conversation.
	connect(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error
	announce(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error
	// command carries out the protocol's other commands (close, hangup,
	// keepalive, nodelay); ttl and tos are the machinery's.
	command(now time.Time, c *conv, cmd ctl.ConvCommand, out *Output) error
	// read and write move one datagram (or bytes of a stream); reading
	// may send (TCP's window update).
	read(now time.Time, c *conv, b []byte, out *Output) (int, error)
	write(now time.Time, c *conv, b []byte, out *Output) (int, error)
	// release is called when the last file of c has closed: it lets go of
	// what c holds (ports, connections) and reports whether c's number
	// may be reused now; if not, the transport calls freeConv later.
	release(now time.Time, c *conv, out *Output) bool
	// state is the first word of c's status file.
	state(c *conv) string
	// appendStats renders the protocol's counters, `name value` per line.
	appendStats(b []byte) []byte
}

// Optional parts of a transport.
type (
	// acceptor takes calls from a queue of its own (TCP's listener
	// backlog) rather than from the conversation's calls: a call gets its
	// conversation only when listen takes it.
	acceptor interface {
		accept(now time.Time, c *conv, out *Output) (*conv, error)
	}
	// statusWriter renders the whole status line (after the state word
	// the machinery's receive queue counts mean nothing for a stream).
	statusWriter interface {
		status(c *conv, b []byte) []byte
	}
	// ipOptions applies a conversation's changed ttl and tos to what the
	// transport keeps of them.
	ipOptions interface {
		setIPOptions(c *conv)
	}
	// roomer says how many bytes a write would take at once (a stream's
	// free send buffer); a transport without it takes every write whole.
	roomer interface {
		room(c *conv) int
	}
)

// convTable is the conversations of one transport, indexed by number.
type convTable struct {
	t     transport
	convs []*conv // nil: a free number
	n     int     // conversations in convs
	limit int     // bound on n (MaxConvs, MaxTCPConvs)
}

// convs is the host's conversation state (a field of Host).
type convs struct {
	tables [numProtos]*convTable
	n      int    // conversations of every transport together
	gen    uint32 // generations handed out
	queued int    // bytes of buffers the receive queues hold (ConvHostQueued)
}

// register installs a transport's table; the host does it for each
// protocol it carries.
func (h *Host) register(p Proto, t transport) {
	limit := MaxConvs
	if p == ProtoTCP {
		limit = MaxTCPConvs
	}
	h.conv.tables[p] = &convTable{t: t, limit: limit}
}

func (h *Host) table(p Proto) (*convTable, error) {
	if p <= 0 || p >= numProtos || h.conv.tables[p] == nil {
		return nil, fmt.Errorf("%w: no protocol %s", errNoConv, p)
	}
	return h.conv.tables[p], nil
}

// errNoConv is the reason of ENOENT for a conversation that does not
// exist (any more).
var errNoConv = errors.New("no such conversation")

// lookup finds the conversation ref names, if it still exists.
func (h *Host) lookup(ref ConvRef) (*conv, *convTable, error) {
	t, err := h.table(ref.Proto)
	if err != nil {
		return nil, nil, &ctl.CommandError{Errno: syscall.ENOENT, Err: err}
	}
	if ref.N < 0 || ref.N >= len(t.convs) || t.convs[ref.N] == nil || t.convs[ref.N].ref.Gen != ref.Gen {
		return nil, nil, &ctl.CommandError{Errno: syscall.ENOENT, Err: fmt.Errorf("%w: %s", errNoConv, ref)}
	}
	return t.convs[ref.N], t, nil
}

// newConv makes a conversation with the lowest free number, as Plan 9
// does, or fails with ENOSPC at the transport's bound.
func (h *Host) newConv(p Proto) (*conv, error) {
	t, err := h.table(p)
	if err != nil {
		return nil, &ctl.CommandError{Errno: syscall.ENOENT, Err: err}
	}
	if t.n >= t.limit {
		return nil, &ctl.CommandError{Errno: syscall.ENOSPC, Err: fmt.Errorf("at most %d %s conversations per host", t.limit, p)}
	}
	n := slices.Index(t.convs, nil)
	if n < 0 {
		n = len(t.convs)
		t.convs = append(t.convs, nil)
	}
	h.conv.gen++
	c := &conv{ref: ConvRef{Proto: p, N: n, Gen: h.conv.gen}, ttl: defaultTTL}
	t.convs[n] = c
	t.n++
	h.conv.n++
	return c, nil
}

// freeConv gives c's number back. Anyone still waiting on c is woken, to
// find it gone.
func (h *Host) freeConv(c *conv, out *Output) {
	t := h.conv.tables[c.ref.Proto]
	if c.ref.N < len(t.convs) && t.convs[c.ref.N] == c {
		t.convs[c.ref.N] = nil
		t.n--
		h.conv.n--
	}
	c.rq.clear(h)
	out.wake(c.ref)
}

// ConvClone makes a new conversation of transport p with one reference
// (the clone file that made it).
func (h *Host) ConvClone(p Proto) (ConvRef, error) {
	c, err := h.newConv(p)
	if err != nil {
		return ConvRef{}, err
	}
	c.refs = 1
	return c.ref, nil
}

// ConvOpen takes one more reference to a conversation (a file of it
// opened).
func (h *Host) ConvOpen(ref ConvRef) error {
	c, _, err := h.lookup(ref)
	if err != nil {
		return err
	}
	if c.refs == 0 {
		// A call waiting in a listen queue is reached only through
		// listen, or an open of its files would take it from there
		// unannounced.
		return &ctl.CommandError{Errno: syscall.ENOENT, Err: fmt.Errorf("%w: %s is waiting to be taken through listen", errNoConv, ref)}
	}
	c.refs++
	return nil
}

// ConvClose lets go of one reference; when the last goes, the transport
// releases the conversation (UDP at once, TCP after its close), and the
// calls still waiting in its listen queue go with it.
func (h *Host) ConvClose(now time.Time, ref ConvRef, out *Output) {
	c, t, err := h.lookup(ref)
	if err != nil || c.refs == 0 {
		return
	}
	if c.refs--; c.refs > 0 {
		return
	}
	h.releaseConv(now, c, t, out)
}

func (h *Host) releaseConv(now time.Time, c *conv, t *convTable, out *Output) {
	for _, call := range c.calls {
		call.parent = nil
		h.releaseConv(now, call, t, out)
	}
	clear(c.calls)
	c.calls = c.calls[:0]
	if t.t.release(now, c, out) {
		h.freeConv(c, out)
	}
}

// ConvCtl carries out one conversation command.
func (h *Host) ConvCtl(now time.Time, ref ConvRef, cmd ctl.ConvCommand, out *Output) error {
	c, t, err := h.lookup(ref)
	if err != nil {
		return err
	}
	switch cmd.Op {
	case ctl.ConvConnect:
		err = t.t.connect(now, c, cmd, out)
	case ctl.ConvAnnounce:
		err = t.t.announce(now, c, cmd, out)
	case ctl.ConvTTL, ctl.ConvTOS:
		if cmd.Op == ctl.ConvTTL {
			c.ttl = uint8(cmd.N)
		} else {
			c.tos = uint8(cmd.N)
		}
		if o, ok := t.t.(ipOptions); ok {
			o.setIPOptions(c)
		}
	default:
		err = t.t.command(now, c, cmd, out)
	}
	if err == nil || err == ErrWouldBlock {
		return err
	}
	var ce *ctl.CommandError
	if !errors.As(err, &ce) {
		ce = &ctl.CommandError{Errno: ctl.Errno(err), Err: err}
	}
	ce.Line, ce.Text = cmd.Line, cmd.Text
	c.errMsg = ce.Err.Error()
	return ce
}

// ConvRead reads one datagram (or bytes of a stream) into b: ErrWouldBlock
// while there is none; the conversation's error, once, if it has one (a
// port unreachable for a connected UDP conversation: ECONNREFUSED); io.EOF
// at the end of a stream. Reading may send (a window update) into out.
func (h *Host) ConvRead(now time.Time, ref ConvRef, b []byte, out *Output) (int, error) {
	c, t, err := h.lookup(ref)
	if err != nil {
		return 0, err
	}
	return t.t.read(now, c, b, out)
}

// ConvWrite sends b as one datagram (or bytes of a stream).
func (h *Host) ConvWrite(now time.Time, ref ConvRef, b []byte, out *Output) (int, error) {
	c, t, err := h.lookup(ref)
	if err != nil {
		return 0, err
	}
	return t.t.write(now, c, b, out)
}

// ConvWriteWhole is ConvWrite that takes all of b at once or nothing:
// ErrWouldBlock, having taken nothing, when the transport has no room for
// all of it now. A file server answers such a write without waiting.
func (h *Host) ConvWriteWhole(now time.Time, ref ConvRef, b []byte, out *Output) (int, error) {
	c, t, err := h.lookup(ref)
	if err != nil {
		return 0, err
	}
	if r, ok := t.t.(roomer); ok && r.room(c) < len(b) {
		return 0, ErrWouldBlock
	}
	return t.t.write(now, c, b, out)
}

// ConvAccept takes the oldest call from an announced conversation's listen
// queue and gives it its first reference: ErrWouldBlock while there is
// none.
func (h *Host) ConvAccept(now time.Time, ref ConvRef, out *Output) (ConvRef, error) {
	c, t, err := h.lookup(ref)
	if err != nil {
		return ConvRef{}, err
	}
	if c.state != convAnnounced {
		return ConvRef{}, &ctl.CommandError{Errno: syscall.EINVAL, Err: fmt.Errorf("%s is not announced", ref)}
	}
	if a, ok := t.t.(acceptor); ok {
		call, err := a.accept(now, c, out)
		if err != nil {
			return ConvRef{}, err
		}
		call.refs = 1
		return call.ref, nil
	}
	if len(c.calls) == 0 {
		return ConvRef{}, ErrWouldBlock
	}
	call := c.calls[0]
	c.calls = slices.Delete(c.calls, 0, 1)
	call.parent = nil
	call.refs = 1
	return call.ref, nil
}

// queueCall puts a new call in c's listen queue and wakes c's listeners.
// It fails when the queue is full.
func (h *Host) queueCall(c, call *conv, out *Output) bool {
	if len(c.calls) >= ConvBacklog {
		return false
	}
	call.parent = c
	c.calls = append(c.calls, call)
	out.wake(c.ref)
	return true
}

// ConvInfo describes a conversation for its local, remote, status and err
// files.
func (h *Host) ConvInfo(ref ConvRef) (ConvInfo, error) {
	c, t, err := h.lookup(ref)
	if err != nil {
		return ConvInfo{}, err
	}
	if s, ok := t.t.(statusWriter); ok {
		return ConvInfo{Ref: c.ref, Local: c.local, Remote: c.remote, Status: string(s.status(c, nil)), Err: c.errMsg}, nil
	}
	b := append([]byte(nil), t.t.state(c)...)
	b = append(b, " rxq "...)
	b = strconv.AppendInt(b, int64(c.rq.len()), 10)
	b = append(b, " rxq_bytes "...)
	b = strconv.AppendInt(b, int64(c.rq.bytes), 10)
	b = append(b, " drops "...)
	b = strconv.AppendUint(b, c.rq.drops, 10)
	if c.state == convAnnounced {
		b = append(b, " calls "...)
		b = strconv.AppendInt(b, int64(len(c.calls)), 10)
	}
	b = append(b, " ttl "...)
	b = strconv.AppendInt(b, int64(c.ttl), 10)
	b = append(b, " tos "...)
	b = strconv.AppendInt(b, int64(c.tos), 10)
	return ConvInfo{Ref: c.ref, Local: c.local, Remote: c.remote, Status: string(b), Err: c.errMsg}, nil
}

// Convs lists the conversations of p that files can reach (calls waiting
// in a listen queue are not among them), by number.
func (h *Host) Convs(p Proto) []ConvRef {
	t, err := h.table(p)
	if err != nil {
		return nil
	}
	var refs []ConvRef
	for _, c := range t.convs {
		if c != nil && c.refs > 0 {
			refs = append(refs, c.ref)
		}
	}
	return refs
}

// Protos lists the transports the host carries.
func (h *Host) Protos() []Proto {
	var ps []Proto
	for p, t := range h.conv.tables {
		if t != nil {
			ps = append(ps, Proto(p))
		}
	}
	return ps
}

// AppendProtoStats renders p's counters (its stats file).
func (h *Host) AppendProtoStats(b []byte, p Proto) ([]byte, error) {
	t, err := h.table(p)
	if err != nil {
		return b, &ctl.CommandError{Errno: syscall.ENOENT, Err: err}
	}
	b = append(b, "conversations "...)
	b = strconv.AppendInt(b, int64(t.n), 10)
	b = append(b, '\n')
	return t.t.appendStats(b), nil
}

// ConvNoteErr records err as a conversation's last error, for its err
// file: a command refused before the host saw it (one that did not parse).
func (h *Host) ConvNoteErr(ref ConvRef, err error) {
	if c, _, lerr := h.lookup(ref); lerr == nil {
		c.errMsg = err.Error()
	}
}

// setErr records a conversation's last error: the next read reports it
// once, err shows its words until the next one.
func (c *conv) setErr(err error) {
	c.err = err
	c.errMsg = err.Error()
}

// takeErr returns the error a read reports, once.
func (c *conv) takeErr() error {
	err := c.err
	c.err = nil
	return err
}

// dgramQueue is a conversation's bounded queue of received datagrams. Their
// buffers come from the host's spare list and go back to it, so that
// steady traffic allocates nothing.
type dgramQueue struct {
	q     [][]byte // oldest first, from head
	head  int
	bytes int
	drops uint64
}

func (q *dgramQueue) len() int { return len(q.q) - q.head }

// push copies a datagram in; false when the queue is full (the caller
// counts the drop).
func (q *dgramQueue) push(h *Host, d []byte) bool {
	if q.len() >= ConvRecvQueue || q.bytes+len(d) > ConvRecvBytes || h.conv.queued+len(d) > ConvHostQueued {
		q.drops++
		return false
	}
	if q.head > 0 && len(q.q) == cap(q.q) {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	b := h.keep(d)
	q.q = append(q.q, b)
	q.bytes += len(d)
	h.conv.queued += cap(b)
	return true
}

// pop copies the oldest datagram into b (the rest of a longer one is
// lost, as with a short recv of a UDP socket) and returns its length in b.
func (q *dgramQueue) pop(h *Host, b []byte) (int, bool) {
	if q.len() == 0 {
		return 0, false
	}
	d := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	q.bytes -= len(d)
	h.conv.queued -= cap(d)
	n := copy(b, d)
	if cap(d) <= maxSpareDgram {
		h.recycle(d)
	}
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return n, true
}

func (q *dgramQueue) clear(h *Host) {
	for _, d := range q.q[q.head:] {
		h.conv.queued -= cap(d)
		if cap(d) <= maxSpareDgram {
			h.recycle(d)
		}
	}
	clear(q.q)
	q.q, q.head, q.bytes = q.q[:0], 0, 0
}
