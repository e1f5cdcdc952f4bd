// Package fs serves a stack's hosts as a 9P file tree (Plan 9 /net style):
// /ctl, /log, and per host ctl, addr, arp, frames, frames.pcap, stats and
// the udp directory of its conversations (conv.go).
//
// Snapshots and commands flow between the tree (tree.go, stream.go), which
// knows nothing of 9P, and package stack; the server core (server.go,
// fid.go) owns the connections: framing, version negotiation, the fid and
// tag tables, flush and the bounds that keep a slow or rude client from
// hanging the server or slowing a host. Two dialects share one port:
// 9P2000.L, Linux's default, with our own codec (dialect_l.go), and 9P2000
// for Plan 9 style clients, with the messages of go9p's proto package
// (dialect_9p.go).
//
// What clients see, beyond ../shared/INTERFACE.md:
//
//   - Versions: "9P2000.L" and "9P2000.L.*" get 9P2000.L (msize up to
//     128 KiB + 24); "9P2000" and "9P2000.u" get plain 9P2000 (msize up to
//     65535, go9p's limit); anything else gets "unknown".
//   - Errors: 9P2000.L clients get the errno of the error's class. 9P2000
//     clients get the full reason as the error string, except Linux: a
//     9P2000 connection that attached as "nobody" (v9fs's default uname)
//     gets the exact string of Linux's errno table (net/9p/error.c), since
//     the kernel turns any other string into EIO-like errno 526. The full
//     reason of a failed command always goes to /log and the log.
//   - Stream files answer a Linux client's follow-up read with 0 bytes once
//     after each short reply (see stream), so `cat frames` prints as frames
//     happen and `head -n 3 frames` returns.
//   - Files have length 0 and mtime now; directories list no "." or "..";
//     truncation to 0 is accepted on writable files, every other metadata
//     change, create, remove and rename is refused (EPERM, EINVAL, EROFS).
//   - Requests that cannot wait (all but reads of streams and of
//     conversations' data, opens of listen files, writes and Tflush) are
//     answered in the connection's read loop, in order; the others run in
//     goroutines of their own, but for reads of a conversation's data,
//     which queue per file and are answered in the order they came, the
//     oldest read with the oldest datagram, by one goroutine per file
//     (convread.go): a client may keep many in flight. Replies that are
//     ready together go out in one write.
//   - Bounds per connection: 1024 requests waiting (more get EAGAIN; Tflush
//     has 64 more) holding at most 4 MiB of messages, 8192 fids, 1024 open
//     streams; a client that does not take a reply within 10 s is
//     disconnected. Per server: 512 connections (more are closed at once)
//     and 2048 open streams (each holds a 128 KiB capture queue).
//   - Shutdown answers blocked stream reads with end of file before it
//     closes the connections; Close drops them at once.
package fs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/stack"
)

// Limits of one connection.
const (
	// maxMsizeL is the largest msize of a 9P2000.L session: Linux's
	// default for TCP (128 KiB) plus the I/O header.
	maxMsizeL = 128<<10 + 24
	// maxMsize9P is the largest msize of a 9P2000 session: go9p's proto
	// refuses longer messages.
	maxMsize9P = 65535
	// minMsize is the smallest msize a session can work with.
	minMsize = 256
	// versionMsize bounds messages before Tversion has set the msize.
	versionMsize = 8192
	// maxOutstanding bounds the requests in progress on one connection;
	// more get an error (EAGAIN) at once. A v9fs mount is one connection,
	// and every blocked `cat frames` on it is one outstanding read.
	maxOutstanding = 1024
	// flushReserve more requests may be Tflush, so that a client at the
	// bound can still interrupt a read (Linux waits for Rflush).
	flushReserve = 64
	// maxHeld bounds the bytes of the requests in progress on one
	// connection (a Twrite may be as long as msize); more get EAGAIN.
	maxHeld = 4 << 20
	// maxFids and maxStreams bound what one connection holds; every open
	// stream holds a capture queue of streamBuffer bytes, so the server as a
	// whole holds at most maxServerStreams of them (256 MiB).
	maxFids          = 8192
	maxStreams       = 1024
	maxServerStreams = 2048
	// maxConns bounds the connections of a server; one more is closed at
	// once (and logged).
	maxConns = 512
	// readBuffer is the read loop's buffer; a longer message is read
	// straight into a buffer of its own.
	readBuffer = 16 << 10
	// smallMessage is the longest message read into the connection's
	// reusable buffer; longer ones (Twrite) get one of their own.
	smallMessage = 8 << 10
	// maxPending bounds the replies held back for one write (see serve).
	maxPending = 64 << 10
	// writeTimeout drops a connection whose client stopped reading replies,
	// so that its handlers do not wait forever.
	writeTimeout = 10 * time.Second
	// bodyTimeout drops a connection that sent part of a message and then
	// nothing for this long. Idle connections between messages are fine.
	bodyTimeout = 30 * time.Second
	// maxWarnings bounds the protocol warnings logged per connection.
	maxWarnings = 5
)

// Message types both dialects share.
const (
	msgTversion = 100
	msgRversion = 101
	msgRerror   = 107
	msgTflush   = 108
	msgTread    = 116 // the same in both dialects, as are Rread, Twrite, Rwrite
	msgRread    = 117
	msgTwrite   = 118
	msgRwrite   = 119
	msgRflush   = 109
	noTag       = 0xffff
	noFid       = 0xffffffff
)

// Server serves the tree of one stack over 9P2000.L and 9P2000.
type Server struct {
	tree         *tree
	logger       *slog.Logger
	writeTimeout time.Duration
	maxConns     int // maxConns, lowered by tests
	maxStreams   int // maxServerStreams, lowered by tests

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	streams   int            // open streams of all connections
	refused   int            // connections refused over maxConns, for the log
	wg        sync.WaitGroup // connections
}

// NewServer makes a server of st's tree that logs to logger (nil: the
// default logger). Command failures are logged by st itself, with their
// full reason, to /log and its own logger.
func NewServer(st *stack.Stack, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{
		tree:         newTree(st),
		logger:       logger,
		writeTimeout: writeTimeout,
		maxConns:     maxConns,
		maxStreams:   maxServerStreams,
		listeners:    map[net.Listener]struct{}{},
		conns:        map[*conn]struct{}{},
	}
}

// Serve accepts connections on l, one goroutine each, until l is closed or
// the server is closed; it then returns nil. Other accept errors are
// returned, after transient ones (out of file descriptors) were retried.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return nil
			}
			if transient(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger.Warn("9P accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.serveConn(nc)
	}
}

func transient(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the listeners and every connection, and waits until the
// connections have let go of what they held: fids are clunked, blocked
// reads end and capture subscriptions are closed. Clients see their
// connection dropped; Shutdown ends it more gently.
func (s *Server) Close() error {
	for _, c := range s.stop() {
		c.abort()
	}
	s.wg.Wait()
	return nil
}

// Shutdown ends the service gently, then closes it as Close does: it closes
// the listeners, ends every open stream, so that a read blocked on one (and
// any later read of it) is answered with end of file, and waits until every
// request in progress has been answered and its reply written, or until ctx
// is done, whose error it then returns. A v9fs reader of frames sees its
// cat end as at the end of a file, rather than an I/O error.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	for _, c := range conns {
		c.endStreams()
	}
	err := s.drain(ctx, conns)
	for _, c := range conns {
		c.flushReplies()
	}
	s.Close()
	return err
}

// stop refuses new connections and streams, closes the listeners and
// returns the connections.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.tree.shutdown() // conversation reads and listens waiting end
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// drain waits until no connection has a request in progress.
func (s *Server) drain(ctx context.Context, conns []*conn) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		busy := false
		for _, c := range conns {
			c.mu.Lock()
			busy = busy || len(c.tags) > 0
			c.mu.Unlock()
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *Server) serveConn(nc net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:    s,
		nc:     nc,
		ctx:    ctx,
		cancel: cancel,
		log:    s.logger.With("client", nc.RemoteAddr().String()),
		msize:  versionMsize,
		fids:   map[uint32]*fid{},
		tags:   map[uint16]*request{},
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		cancel()
		return
	}
	if len(s.conns) >= s.maxConns {
		s.refused++
		n := s.refused
		s.mu.Unlock()
		nc.Close()
		cancel()
		if n&(n-1) == 0 { // 1, 2, 4, 8, ...: a flood does not flood the log
			s.logger.Warn("9P connection refused: too many connections", "client", nc.RemoteAddr().String(), "limit", s.maxConns, "refused", n)
		}
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// dialect is one of the two 9P languages spoken after Tversion.
type dialect interface {
	// handle carries out one request (anything but Tversion and Tflush)
	// and returns the reply, which it may build on out's storage (out may
	// be nil). msg is the whole message, size checked.
	handle(ctx context.Context, c *conn, out []byte, typ uint8, tag uint16, msg []byte) []byte
	// errorReply is err as this dialect's error message.
	errorReply(c *conn, tag uint16, err error) []byte
	// blocks reports whether a request may wait for long: a read of a
	// stream, a write. Only those run in goroutines of their own.
	blocks(c *conn, typ uint8, msg []byte) bool
}

// conn is one client connection.
type conn struct {
	srv    *Server
	nc     net.Conn
	ctx    context.Context // ends at disconnect; every request's parent
	cancel context.CancelFunc
	log    *slog.Logger

	wmu      sync.Mutex // serialises writes; held before pmu and mu, never after
	dead     bool       // a write failed: nothing more goes out (set under wmu and pmu)
	deadline time.Time  // the write deadline set last (wmu)
	spare    []byte     // (wmu) pending's storage before the last write, for the next
	// pmu guards pending. It is never held across a write, so that a
	// reply can be added to pending under a host's lock (convread.go)
	// without a client that does not read holding up the host.
	pmu     sync.Mutex
	pending []byte // replies not yet written (see serve), in the order they go out

	// Owned by the read loop.
	rbuf    []byte // messages up to smallMessage bytes
	scratch []byte // replies answered in the loop are built here

	mu       sync.Mutex
	msize    uint32
	d        dialect // nil until a Tversion succeeded
	linux    bool    // the client loops on short reads (see stream)
	fids     map[uint32]*fid
	tags     map[uint16]*request
	held     int // bytes of the messages in tags
	streams  int
	warnings int
	handlers sync.WaitGroup
}

// request is one message in progress.
type request struct {
	tag     uint16
	size    int // of the message
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the handler has finished, reply sent or dropped
	flushed bool          // under conn.mu: the reply must not go out
	rq      *readQueue    // a read queued on a data file (convread.go): no ctx, no done, no handler
}

// serve is the connection's read loop. Each message's size is checked
// (7 <= size <= msize) and the message read whole before anything parses
// it.
//
// A request that cannot wait (everything but Tflush, writes and reads of
// streams) is answered right here, in order: a walk, an open or a clunk
// then costs no goroutine, no context and no request table entry, which
// was most of its cost besides the system calls. A request that may wait
// runs in a goroutine of its own, so that a blocked read never holds up the
// messages behind it.
//
// Replies answered here are held back while the next message is already
// whole in the read buffer, and written together before the loop waits for
// more input: a client that sends several requests at once gets their
// replies in one write.
func (c *conn) serve() {
	defer c.shutdown()
	r := bufio.NewReaderSize(c.nc, readBuffer)
	c.rbuf = make([]byte, 4, 512)
	for {
		if !nextWhole(r) {
			c.flushReplies()
		}
		if _, err := io.ReadFull(r, c.rbuf[:4]); err != nil {
			if err != io.EOF && c.ctx.Err() == nil {
				c.log.Debug("9P connection read failed", "err", err)
			}
			return
		}
		size := binary.LittleEndian.Uint32(c.rbuf)
		c.mu.Lock()
		limit := c.msize
		c.mu.Unlock()
		if size < 7 || size > limit {
			c.warn("message size out of range; closing the connection", "size", size, "min", 7, "max", limit)
			return
		}
		var msg []byte
		if size <= smallMessage {
			if cap(c.rbuf) < int(size) {
				c.rbuf = append(c.rbuf[:4], make([]byte, int(size)-4)...)
			}
			msg = c.rbuf[:size]
		} else {
			msg = make([]byte, size)
			copy(msg, c.rbuf[:4])
		}
		slow := r.Buffered() < len(msg)-4
		if slow {
			c.nc.SetReadDeadline(time.Now().Add(bodyTimeout))
		}
		if _, err := io.ReadFull(r, msg[4:]); err != nil {
			c.warn("message cut short; closing the connection", "size", size, "err", err)
			return
		}
		if slow {
			c.nc.SetReadDeadline(time.Time{})
		}
		typ, tag := msg[4], binary.LittleEndian.Uint16(msg[5:])
		if typ == msgTversion {
			if !c.version(tag, msg) {
				return
			}
			continue
		}
		if !c.dispatch(typ, tag, msg) {
			return
		}
	}
}

// nextWhole reports whether r holds the whole of the next message, so that
// reading it will not wait.
func nextWhole(r *bufio.Reader) bool {
	if r.Buffered() < 4 {
		return false
	}
	hdr, _ := r.Peek(4)
	return uint32(r.Buffered()) >= binary.LittleEndian.Uint32(hdr)
}

// dispatch answers a request or starts its handler; false closes the
// connection. msg may be the read loop's buffer: a handler gets a copy.
func (c *conn) dispatch(typ uint8, tag uint16, msg []byte) bool {
	c.mu.Lock()
	d := c.d
	if d == nil {
		c.mu.Unlock()
		c.warn("message before Tversion", "type", typ)
		c.queue(rerror(tag, "Tversion must come first"))
		return true
	}
	if _, busy := c.tags[tag]; busy || tag == noTag {
		c.mu.Unlock()
		c.warn("tag already in use; closing the connection", "tag", tag, "type", typ)
		return false
	}
	c.mu.Unlock()
	if typ != msgTflush && !d.blocks(c, typ, msg) {
		c.answer(d, typ, tag, msg)
		return true
	}
	if typ == msgTread && c.readData(d, tag, msg) || typ == msgTwrite && c.writeNow(d, tag, msg) {
		return true
	}
	c.mu.Lock()
	limit := maxOutstanding
	if typ == msgTflush {
		limit += flushReserve
	}
	if len(c.tags) >= limit || c.held+len(msg) > maxHeld {
		c.mu.Unlock()
		c.warn("too many outstanding requests", "limit", maxOutstanding, "bytes", maxHeld)
		c.queue(d.errorReply(c, tag, errorf(syscall.EAGAIN, "too many outstanding requests (limit %d, or %d bytes)", maxOutstanding, maxHeld)))
		return true
	}
	if len(msg) <= smallMessage {
		msg = bytes.Clone(msg)
	}
	req := &request{tag: tag, size: len(msg), done: make(chan struct{})}
	req.ctx, req.cancel = context.WithCancel(c.ctx)
	c.tags[tag] = req
	c.held += req.size
	c.handlers.Add(1)
	c.mu.Unlock()
	go c.run(req, d, typ, msg)
	return true
}

// answer carries out a request that does not wait, in the read loop, and
// queues its reply.
func (c *conn) answer(d dialect, typ uint8, tag uint16, msg []byte) {
	var reply []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("9P handler panicked", "type", typ, "panic", p, "stack", string(debug.Stack()))
				reply = d.errorReply(c, tag, errorf(syscall.EIO, "internal error handling message type %d", typ))
			}
		}()
		reply = d.handle(c.ctx, c, c.scratch[:0], typ, tag, msg)
	}()
	c.queue(reply)
	if cap(reply) <= smallMessage {
		c.scratch = reply[:0] // queue copied it: the storage is free again
	}
}

// run carries out one request and sends its reply, unless it was flushed.
func (c *conn) run(req *request, d dialect, typ uint8, msg []byte) {
	defer c.handlers.Done()
	var reply []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("9P handler panicked", "type", typ, "panic", p, "stack", string(debug.Stack()))
				reply = d.errorReply(c, req.tag, errorf(syscall.EIO, "internal error handling message type %d", typ))
			}
		}()
		if typ == msgTflush {
			reply = c.flush(req, d, msg)
		} else {
			reply = d.handle(req.ctx, c, nil, typ, req.tag, msg)
		}
	}()
	c.finish(req, reply)
}

// finish sends a request's reply and frees its tag. The tag is freed under
// the write lock, before the reply goes out (the client may reuse it as
// soon as it sees the reply), and a Tflush that finds the tag gone sends
// its Rflush only after this reply: Rflush never overtakes the reply to the
// request it flushed. Replies held back by the read loop go out first.
func (c *conn) finish(req *request, reply []byte) {
	c.wmu.Lock()
	c.mu.Lock()
	flushed := req.flushed
	if c.tags[req.tag] == req {
		delete(c.tags, req.tag)
		c.held -= req.size
	}
	c.mu.Unlock()
	if !flushed && reply != nil {
		c.sendLocked(reply)
	}
	c.wmu.Unlock()
	req.cancel()
	close(req.done)
}

// flush answers Tflush: the flushed request is cancelled at once, its reply
// is dropped, and Rflush goes out once its handler has finished (Linux tears
// the whole mount down if a reply to a flushed tag arrives after Rflush).
func (c *conn) flush(req *request, d dialect, msg []byte) []byte {
	if len(msg) != 9 {
		c.warn("malformed Tflush", "size", len(msg))
		return d.errorReply(c, req.tag, errorf(syscall.EBADMSG, "malformed Tflush: %d bytes", len(msg)))
	}
	oldtag := binary.LittleEndian.Uint16(msg[7:])
	c.mu.Lock()
	old := c.tags[oldtag]
	if old != nil && old.rq != nil {
		// A queued read has no handler: out of the queue, it is done;
		// if it is not there, its reply is held back already and goes
		// out before this Rflush.
		c.mu.Unlock()
		if old.rq.drop(old) {
			c.mu.Lock()
			if c.tags[oldtag] == old {
				delete(c.tags, oldtag)
				c.held -= old.size
			}
			c.mu.Unlock()
		}
		return rflush(req.tag)
	}
	if old != nil && old != req {
		old.flushed = true
		old.cancel()
	}
	c.mu.Unlock()
	if old != nil && old != req {
		select {
		case <-old.done:
		case <-req.ctx.Done():
		}
	}
	return rflush(req.tag)
}

// version answers Tversion, which also resets the session: requests in
// progress are cancelled (their replies dropped) and every fid is clunked.
// False closes the connection.
func (c *conn) version(tag uint16, msg []byte) bool {
	d := dec{b: msg[7:]}
	msize, ver := d.u32(), d.str()
	if d.err() != nil {
		c.warn("malformed Tversion; closing the connection", "size", len(msg))
		return false
	}
	c.mu.Lock()
	var queued []*request
	for _, r := range c.tags {
		r.flushed = true
		r.cancel()
		if r.rq != nil {
			queued = append(queued, r)
		}
	}
	c.mu.Unlock()
	for _, r := range queued {
		r.rq.drop(r) // the last lets the pump go
	}
	c.handlers.Wait()

	var nd dialect
	reply, limit, linux := "unknown", uint32(maxMsizeL), false
	switch {
	case ver == "9P2000.L" || strings.HasPrefix(ver, "9P2000.L."):
		nd, reply, linux = &dialectL{t: c.srv.tree}, "9P2000.L", true
	case ver == "9P2000" || ver == "9P2000.u":
		nd, reply, limit = &dialect9P{t: c.srv.tree}, "9P2000", maxMsize9P
	}
	msize = min(msize, limit)
	if nd != nil && msize < minMsize {
		c.warn("msize too small", "msize", msize, "min", minMsize)
		nd, reply = nil, "unknown"
	}
	c.mu.Lock()
	fids := c.fids
	c.fids = map[uint32]*fid{}
	c.tags = map[uint16]*request{}
	c.held = 0
	c.d, c.linux = nd, linux
	if nd != nil {
		c.msize = msize
	} else {
		c.msize = versionMsize
	}
	c.mu.Unlock()
	for _, f := range fids {
		c.release(f)
	}
	if nd == nil {
		c.log.Debug("9P version refused", "version", ver)
	} else {
		c.log.Debug("9P session", "version", reply, "msize", msize)
	}
	c.send(rversion(tag, msize, reply))
	return true
}

// queue adds a reply of the read loop to those held back; the loop writes
// them before it waits for input (or here, once they are many).
func (c *conn) queue(b []byte) {
	c.pmu.Lock()
	if c.dead {
		c.pmu.Unlock()
		return
	}
	c.pending = append(c.pending, b...)
	full := len(c.pending) >= maxPending
	c.pmu.Unlock()
	if full {
		c.flushReplies()
	}
}

// flushReplies writes the replies held back.
func (c *conn) flushReplies() {
	c.wmu.Lock()
	c.flushLocked()
	c.wmu.Unlock()
}

func (c *conn) flushLocked() {
	c.pmu.Lock()
	b := c.takePending()
	c.pmu.Unlock()
	c.writePending(b)
}

// takePending takes the held-back replies, leaving pending the storage of
// the last write; c.wmu and c.pmu are held.
func (c *conn) takePending() []byte {
	b := c.pending
	if len(b) > 0 {
		c.pending, c.spare = c.spare[:0], nil
	}
	return b
}

// writePending writes what takePending took and keeps its storage for the
// next swap, unless a long reply went through: its room is not kept. c.wmu
// is held.
func (c *conn) writePending(b []byte) {
	if len(b) == 0 {
		return
	}
	c.write(b)
	if cap(b) <= maxPending+maxMsizeL {
		// The replies of a batch, or one whole read of a stream that a
		// busy reader takes again at once; a longer one's room is not
		// kept.
		c.spare = b[:0]
	}
}

// send writes a message now, after any held back.
func (c *conn) send(b []byte) {
	c.wmu.Lock()
	c.sendLocked(b)
	c.wmu.Unlock()
}

// sendLocked writes the held-back replies and b, in one write when they
// are short; c.wmu is held.
func (c *conn) sendLocked(b []byte) {
	c.pmu.Lock()
	if len(c.pending) > 0 && len(b) <= smallMessage {
		c.pending = append(c.pending, b...)
		b = nil
	}
	p := c.takePending()
	c.pmu.Unlock()
	c.writePending(p)
	if b != nil {
		c.write(b)
	}
}

// write sends b whole; c.wmu is held. A client that does not take its
// replies within the write timeout is disconnected. The deadline is moved
// only when it has come an eighth of the timeout closer, not for every
// reply: setting it costs a timer update.
func (c *conn) write(b []byte) {
	if c.dead {
		return
	}
	timeout := c.srv.writeTimeout
	if d := time.Now().Add(timeout); d.Sub(c.deadline) > timeout/8 {
		c.nc.SetWriteDeadline(d)
		c.deadline = d
	}
	if _, err := c.nc.Write(b); err != nil {
		c.pmu.Lock()
		c.dead = true
		c.pending = nil
		c.pmu.Unlock()
		if c.ctx.Err() == nil {
			c.log.Debug("9P reply not sent; closing the connection", "err", err)
		}
		c.abort()
	}
}

// abort ends the connection from any goroutine: the read loop sees an
// error and shuts down.
func (c *conn) abort() {
	c.cancel()
	c.nc.Close()
}

// shutdown runs when the read loop ends: every request is cancelled, every
// fid clunked (which wakes blocked reads at once), and the handlers are
// waited for.
func (c *conn) shutdown() {
	c.abort()
	c.mu.Lock()
	fids := c.fids
	c.fids = map[uint32]*fid{}
	c.mu.Unlock()
	for _, f := range fids {
		c.release(f)
	}
	c.handlers.Wait()
	c.mu.Lock()
	if c.warnings > maxWarnings {
		c.log.Warn("9P protocol warnings not logged", "count", c.warnings-maxWarnings)
	}
	c.mu.Unlock()
}

// warn logs a protocol violation, at most maxWarnings per connection.
func (c *conn) warn(msg string, args ...any) {
	c.mu.Lock()
	c.warnings++
	n := c.warnings
	c.mu.Unlock()
	if n <= maxWarnings {
		c.log.Warn("9P: "+msg, args...)
	}
}

// isLinux reports whether replies should suit Linux's v9fs.
func (c *conn) isLinux() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.linux
}

func (c *conn) setLinux() {
	c.mu.Lock()
	c.linux = true
	c.mu.Unlock()
}

// iounit is the most data one Rread or Rwrite may carry.
func (c *conn) iounit() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msize - 24
}

// errString is err as a 9P2000 error string: for Linux exactly the string
// its kernel maps to the errno of err's class (see linuxErrstr); for other
// clients the full reason.
func (c *conn) errString(err error) string {
	if c.isLinux() {
		return linuxString(err)
	}
	s := err.Error()
	if max := int(c.iounit()); len(s) > max {
		s = s[:max]
	}
	return s
}

// rversion, rflush and rerror have the same form in both dialects (rerror
// is used only before a dialect is chosen).
func rversion(tag uint16, msize uint32, version string) []byte {
	b := begin(msgRversion, tag)
	b = binary.LittleEndian.AppendUint32(b, msize)
	b = appendString(b, version)
	return end(b)
}

func rflush(tag uint16) []byte { return end(begin(msgRflush, tag)) }

func rerror(tag uint16, msg string) []byte { return end(appendString(begin(msgRerror, tag), msg)) }

// begin starts a message: room for the size, the type and the tag.
func begin(typ uint8, tag uint16) []byte { return beginTo(make([]byte, 0, 64), typ, tag) }

// beginTo starts a message on out's storage.
func beginTo(out []byte, typ uint8, tag uint16) []byte {
	return append(out[:0], 0, 0, 0, 0, typ, byte(tag), byte(tag>>8))
}

// end fills in the size.
func end(b []byte) []byte {
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// appendString appends a 9P string: a 16-bit length and the bytes (cut to
// 65535 bytes, so that the length is always right).
func appendString(b []byte, s string) []byte {
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
