package fs

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync"
	"syscall"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/stack"
)

// Conversations, Plan 9's /net/udp (ip(3)):
//
//	/NAME/udp/clone          open: a new conversation N; the fid becomes N/ctl
//	/NAME/udp/stats          the transport's counters
//	/NAME/udp/N/ctl          read: "N"; write: connect, announce, hangup, ...
//	/NAME/udp/N/data         one datagram per read and per write
//	/NAME/udp/N/listen       open: waits for a call; the fid becomes its ctl
//	/NAME/udp/N/{local,remote,status,err}
//
// A conversation lives while any of its ctl, data or listen fids is open:
// each holds a reference (stack.Host.ConvOpen), given back when the fid is
// clunked, which a client that vanishes has done for it.

var convFiles = []kind{kConvCtl, kConvData, kConvListen, kConvLocal, kConvRemote, kConvStatus, kConvErr}

// walkConv walks from a transport's or a conversation's directory.
func (t *tree) walkConv(n node, name string) (node, error) {
	if err := t.current(n); err != nil {
		return node{}, err
	}
	sub := func(k kind, c netcore.ConvRef) node { return node{kind: k, host: n.host, gen: n.gen, conv: c} }
	if n.kind == kProtoDir {
		switch name {
		case "..":
			return sub(kHostDir, netcore.ConvRef{}), nil
		case "clone":
			return sub(kClone, n.conv), nil
		case "stats":
			return sub(kProtoStats, n.conv), nil
		}
		if i, err := strconv.Atoi(name); err == nil && strconv.Itoa(i) == name {
			for _, ref := range n.host.Convs(n.conv.Proto) {
				if ref.N == i {
					return sub(kConvDir, ref), nil
				}
			}
		}
		return node{}, errorf(syscall.ENOENT, "%s/%s: no such file or conversation", n.path(), name)
	}
	if name == ".." {
		return sub(kProtoDir, netcore.ConvRef{Proto: n.conv.Proto}), nil
	}
	for _, k := range convFiles {
		if kinds[k].name == name {
			return sub(k, n.conv), nil
		}
	}
	return node{}, errorf(syscall.ENOENT, "%s/%s: no such file", n.path(), name)
}

// listConv lists a transport's or a conversation's directory.
func (t *tree) listConv(n node) ([]node, error) {
	if err := t.current(n); err != nil {
		return nil, err
	}
	sub := func(k kind, c netcore.ConvRef) node { return node{kind: k, host: n.host, gen: n.gen, conv: c} }
	if n.kind == kProtoDir {
		out := []node{sub(kClone, n.conv), sub(kProtoStats, n.conv)}
		for _, ref := range n.host.Convs(n.conv.Proto) {
			out = append(out, sub(kConvDir, ref))
		}
		return out, nil
	}
	out := make([]node, 0, len(convFiles))
	for _, k := range convFiles {
		out = append(out, sub(k, n.conv))
	}
	return out, nil
}

// openConv opens a file of a transport's or a conversation's directory.
func (t *tree) openConv(ctx context.Context, n node, m openMode) (handle, node, error) {
	info := kinds[n.kind]
	switch {
	case info.dir:
		return nil, n, errorf(syscall.EISDIR, "%s: is a directory", n.path())
	case (m.write || m.trunc) && !info.writable:
		return nil, n, errorf(syscall.EACCES, "%s: read-only file", n.path())
	}
	if n.kind != kClone && n.kind != kProtoStats {
		if err := t.current(n); err != nil {
			return nil, n, err
		}
	} else if err := t.current(node{kind: kHostDir, host: n.host, gen: n.gen}); err != nil {
		return nil, n, err
	}
	h := n.host
	ctlNode := func(ref netcore.ConvRef) node { return node{kind: kConvCtl, host: h, gen: n.gen, conv: ref} }
	switch n.kind {
	case kClone:
		ref, err := h.Clone(n.conv.Proto)
		if err != nil {
			return nil, n, err
		}
		return &convCtl{t: t, n: ctlNode(ref)}, ctlNode(ref), nil
	case kProtoStats:
		b, err := h.ProtoStats(n.conv.Proto)
		if err != nil {
			return nil, n, err
		}
		return &snapshot{buf: b}, n, nil
	case kConvCtl, kConvData, kConvListen:
		if err := h.ConvOpen(n.conv); err != nil {
			return nil, n, errorf(syscall.ENOENT, "%s: %v", n.path(), err)
		}
	case kConvLocal, kConvRemote, kConvStatus, kConvErr:
		ci, err := h.ConvInfo(n.conv)
		if err != nil {
			return nil, n, errorf(syscall.ENOENT, "%s: %v", n.path(), err)
		}
		var b []byte
		switch n.kind {
		case kConvLocal:
			b = appendConvAddr(b, ci.Local)
		case kConvRemote:
			b = appendConvAddr(b, ci.Remote)
		case kConvStatus:
			b = append(append(b, ci.Status...), '\n')
		case kConvErr:
			if ci.Err != "" {
				b = append(append(b, ci.Err...), '\n')
			}
		}
		return &snapshot{buf: b}, n, nil
	}
	switch n.kind {
	case kConvCtl:
		return &convCtl{t: t, n: n}, n, nil
	case kConvData:
		return &convData{t: t, n: n}, n, nil
	}
	// kConvListen: wait for a call, holding the announced conversation
	// meanwhile; the fid becomes the call's ctl.
	defer h.ConvClose(n.conv)
	lctx, stop := t.merge(ctx)
	defer stop()
	call, err := h.ConvListen(lctx, n.conv)
	if err != nil {
		return nil, n, err
	}
	return &convCtl{t: t, n: ctlNode(call)}, ctlNode(call), nil
}

// merge is ctx, also done when the server shuts down.
func (t *tree) merge(ctx context.Context) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.down, cancel)
	return ctx, func() bool { cancel(); return stop() }
}

// appendConvAddr renders a conversation's address as its local and remote
// files show it: IP!PORT, 0.0.0.0!PORT for any address of the host (and
// 0.0.0.0!0 for none yet).
func appendConvAddr(b []byte, ap netip.AddrPort) []byte {
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
	}
	return append(ctl.AppendAddrPort(b, ap), '\n')
}

// convCtl is an open ctl file of a conversation (by clone, listen or its
// name): reading gives the conversation's number, writing commands.
type convCtl struct {
	t    *tree
	n    node
	once sync.Once
}

func (c *convCtl) read(_ context.Context, off uint64, count uint32, _ bool) ([]byte, error) {
	s := strconv.Itoa(c.n.conv.N) + "\n"
	if off >= uint64(len(s)) {
		return nil, nil
	}
	return []byte(s[off:min(uint64(len(s)), off+uint64(count))]), nil
}

func (c *convCtl) write(ctx context.Context, data []byte) error {
	ctx, stop := c.t.merge(ctx)
	defer stop()
	return c.n.host.ConvCtl(ctx, c.n.conv, data)
}

func (c *convCtl) close() { c.once.Do(func() { c.n.host.ConvClose(c.n.conv) }) }

// convData is an open data file: UDP's one datagram per read and per
// write, TCP's byte stream (a read returns what is there, up to count; 0
// bytes at the end of the stream; a write returns once all of it is
// taken, which waits while the send buffer is full). Its reads are queued
// and answered in order (convread.go).
type convData struct {
	t    *tree
	n    node
	once sync.Once
	rq   readQueue
	in   inHand            // the read loop's
	w    *stack.ConvWriter // the read loop's
}

// dgramPool holds the buffers reads take a datagram (or a stream's
// bytes) into before they are copied into its reply: as long as the
// longest read of any session.
var dgramPool = sync.Pool{New: func() any { b := make([]byte, maxRead); return &b }}

// maxRead is the most one read of data returns: a 9P2000.L session's
// iounit, more than the longest UDP datagram over IPv4 (65507 bytes).
const maxRead = maxMsizeL - 24

// read is never called: the read loop takes every well-formed Tread of a
// data file (conn.readData), and a malformed one fails before it gets
// here.
func (d *convData) read(context.Context, uint64, uint32, bool) ([]byte, error) {
	return nil, errorf(syscall.EIO, "%s: read outside the read queue", d.n.path())
}

// writeNow answers a Twrite to a conversation's data in the read loop when
// the transport takes it without waiting (UDP always does), as readData
// does for reads. It reports whether it answered.
func (c *conn) writeNow(d dialect, tag uint16, msg []byte) bool {
	if len(msg) < 23 || uint64(binary.LittleEndian.Uint32(msg[19:])) != uint64(len(msg)-23) {
		return false // malformed: the handler says so
	}
	f, err := c.getFid(binary.LittleEndian.Uint32(msg[7:]))
	if err != nil {
		return false
	}
	h, err := f.handleFor(true)
	if err != nil {
		return false
	}
	cd, isData := h.(*convData)
	if !isData {
		return false
	}
	data := msg[23:]
	if cd.w == nil {
		cd.w = cd.n.host.NewConvWriter(cd.n.conv) // the read loop's alone
	}
	switch _, err := cd.w.TryWrite(data); {
	case err == netcore.ErrWouldBlock:
		return false
	case err != nil:
		c.queue(d.errorReply(c, tag, err))
		return true
	}
	b := beginTo(c.scratch[:0], msgRwrite, tag)
	b = end(binary.LittleEndian.AppendUint32(b, uint32(len(data))))
	c.queue(b)
	c.scratch = b[:0]
	return true
}

func (d *convData) write(ctx context.Context, data []byte) error {
	ctx, stop := d.t.merge(ctx)
	defer stop()
	_, err := d.n.host.ConvWrite(ctx, d.n.conv, data)
	return err
}

func (d *convData) close() {
	d.once.Do(func() {
		d.rq.close()
		d.n.host.ConvClose(d.n.conv)
	})
}
