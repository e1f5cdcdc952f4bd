package fs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/knusbaum/go9p/proto"
)

// dialect9P speaks 9P2000 (Plan 9 clients, and Linux with version=9p2000)
// with the message types of go9p's proto package, which parses only frames
// whose size the server core has already checked, under recover.
//
// Which clients are Linux: v9fs attaches as "nobody" in 9P2000 unless told
// otherwise (uname=), so a connection that attached as "nobody" gets error
// strings from Linux's errno table (linuxErrstr) and the read loop rule of
// stream; other clients get the full reason as the error string.
type dialect9P struct {
	t *tree
}

// parse9P decodes a 9P2000 message. proto trusts lengths inside a message
// (a Twrite's count beyond its data panics, short fields read as zero), so
// the message is parsed under recover and must compose back to exactly the
// same bytes: nothing missing, nothing left over.
func parse9P(msg []byte) (fc proto.FCall, err error) {
	defer func() {
		if p := recover(); p != nil {
			fc, err = nil, fmt.Errorf("malformed message: %v", p)
		}
	}()
	if len(msg) < 7 || binary.LittleEndian.Uint32(msg) != uint32(len(msg)) {
		return nil, errors.New("size field does not match the message")
	}
	if !requests9P[msg[4]] { // R-messages make proto allocate what their counts say
		return nil, fmt.Errorf("message type %d is not a 9P2000 request", msg[4])
	}
	switch msg[4] {
	case proto.Twalk: // proto would make room for nwname names first
		if len(msg) < 17 || binary.LittleEndian.Uint16(msg[15:]) > maxWalk {
			return nil, fmt.Errorf("malformed Twalk: more than %d names or short", maxWalk)
		}
	case proto.Twrite:
		if len(msg) < 23 || uint64(binary.LittleEndian.Uint32(msg[19:])) != uint64(len(msg)-23) {
			return nil, errors.New("malformed Twrite: count does not match the data")
		}
	}
	fc, err = proto.ParseCall(bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(fc.Compose(), msg) {
		return nil, errors.New("malformed message: fields do not fill the message exactly")
	}
	return fc, nil
}

func hdr(typ uint8, tag uint16) proto.Header { return proto.Header{Type: typ, Tag: tag} }

func (d *dialect9P) errorReply(c *conn, tag uint16, err error) []byte {
	return (&proto.RError{Header: hdr(proto.Rerror, tag), Ename: c.errString(err)}).Compose()
}

// requests9P are the T-messages of 9P2000 other than Tversion and Tflush.
var requests9P = map[uint8]bool{proto.Tauth: true, proto.Tattach: true, proto.Twalk: true, proto.Topen: true,
	proto.Tcreate: true, proto.Tread: true, proto.Twrite: true, proto.Tclunk: true, proto.Tremove: true,
	proto.Tstat: true, proto.Twstat: true}

// blocks: as in 9P2000.L, reads of streams and of conversations' data,
// opens of listen files and writes may wait.
func (d *dialect9P) blocks(c *conn, typ uint8, msg []byte) bool {
	switch typ {
	case proto.Twrite:
		return true
	case proto.Tread:
		return len(msg) >= 11 && c.waitingRead(binary.LittleEndian.Uint32(msg[7:]))
	case proto.Topen:
		return len(msg) >= 11 && c.waitingOpen(binary.LittleEndian.Uint32(msg[7:]))
	}
	return false
}

// handle answers a request; go9p's proto composes replies in storage of its
// own, so out is not used.
func (d *dialect9P) handle(ctx context.Context, c *conn, _ []byte, typ uint8, tag uint16, msg []byte) []byte {
	if !requests9P[typ] {
		c.warn("not a 9P2000 request", "type", typ)
		return d.errorReply(c, tag, errorf(syscall.EOPNOTSUPP, "message type %d is not a 9P2000 request", typ))
	}
	fc, err := parse9P(msg)
	if err != nil {
		c.warn("malformed 9P2000 message", "type", typ, "err", err)
		return d.errorReply(c, tag, errorf(syscall.EBADMSG, "%v", err))
	}
	reply, err := d.do(ctx, c, fc, typ, tag)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Debug("9P2000 request failed", "type", typ, "err", err)
		}
		return d.errorReply(c, tag, err)
	}
	return reply.Compose()
}

func (d *dialect9P) do(ctx context.Context, c *conn, fc proto.FCall, typ uint8, tag uint16) (proto.FCall, error) {
	switch m := fc.(type) {
	case *proto.TAuth:
		// Plan 9's and diod's words: a client that asks for no
		// authentication then attaches with NOFID.
		return nil, errorf(syscall.ENOENT, "authentication not required")
	case *proto.TAttach:
		if m.Afid != noFid {
			return nil, errorf(syscall.EINVAL, "authentication not required: afid must be NOFID")
		}
		if m.Uname == "nobody" {
			c.setLinux()
		}
		root := d.t.root()
		if _, err := c.addFid(m.Fid, root); err != nil {
			return nil, err
		}
		return &proto.RAttach{Header: hdr(proto.Rattach, tag), Qid: qid9P(root.qid())}, nil
	case *proto.TWalk:
		var buf [maxWalk]qid
		qids, err := c.walk(m.Fid, m.Newfid, m.Wname, &buf)
		if err != nil {
			return nil, err
		}
		r := &proto.RWalk{Header: hdr(proto.Rwalk, tag), Nwqid: uint16(len(qids))}
		for _, q := range qids {
			r.Wqid = append(r.Wqid, qid9P(q))
		}
		return r, nil
	case *proto.TOpen:
		return d.open(ctx, c, m, tag)
	case *proto.TCreate:
		return nil, errorf(syscall.EROFS, "%s: files cannot be created here", m.Name)
	case *proto.TRead:
		return d.read(ctx, c, m, tag)
	case *proto.TWrite:
		f, err := c.getFid(m.Fid)
		if err != nil {
			return nil, err
		}
		if err := c.writeFid(ctx, f, m.Data); err != nil {
			return nil, err
		}
		return &proto.RWrite{Header: hdr(proto.Rwrite, tag), Count: m.Count}, nil
	case *proto.TClunk:
		if err := c.clunk(m.Fid); err != nil {
			return nil, err
		}
		return &proto.RClunk{Header: hdr(proto.Rclunk, tag)}, nil
	case *proto.TRemove:
		f, err := c.getFid(m.Fid)
		if err != nil {
			return nil, err
		}
		c.clunk(m.Fid) // remove clunks the fid even when it fails
		return nil, errorf(syscall.EROFS, "%s: files cannot be removed", f.node.path())
	case *proto.TStat:
		f, err := c.getFid(m.Fid)
		if err != nil {
			return nil, err
		}
		return &proto.RStat{Header: hdr(proto.Rstat, tag), Stat: stat9P(f.node)}, nil
	case *proto.TWstat:
		f, err := c.getFid(m.Fid)
		if err != nil {
			return nil, err
		}
		if err := d.t.setattr(f.node, wstatChanges(f.node, &m.Stat)); err != nil {
			return nil, err
		}
		return &proto.RWstat{Header: hdr(proto.Rwstat, tag)}, nil
	}
	return nil, errorf(syscall.EOPNOTSUPP, "message type %d is not a 9P2000 request", typ)
}

func (d *dialect9P) open(ctx context.Context, c *conn, m *proto.TOpen, tag uint16) (proto.FCall, error) {
	f, err := c.getFid(m.Fid)
	if err != nil {
		return nil, err
	}
	if m.Mode&proto.Orclose != 0 {
		return nil, errorf(syscall.EPERM, "%s: remove on close is not supported", f.node.path())
	}
	var om openMode
	switch m.Mode & 3 {
	case proto.Oread, proto.Oexec:
		om.read = true
	case proto.Owrite:
		om.write = true
	case proto.Ordwr:
		om.read, om.write = true, true
	}
	om.trunc = m.Mode&proto.Otrunc != 0
	q, err := c.open(ctx, f, om)
	if err != nil {
		return nil, err
	}
	if f.node.isDir() {
		f.mu.Lock()
		for _, n := range f.dir {
			st := stat9P(n)
			f.dirBuf = append(f.dirBuf, st.Compose()...)
		}
		f.mu.Unlock()
	}
	return &proto.ROpen{Header: hdr(proto.Ropen, tag), Qid: qid9P(q)}, nil
}

func (d *dialect9P) read(ctx context.Context, c *conn, m *proto.TRead, tag uint16) (proto.FCall, error) {
	f, err := c.getFid(m.Fid)
	if err != nil {
		return nil, err
	}
	var data []byte
	if f.node.isDir() {
		data, err = readDir9P(f, m.Offset, min(m.Count, c.iounit()))
	} else {
		data, err = c.readFid(ctx, f, m.Offset, m.Count)
	}
	if err != nil {
		return nil, err
	}
	return &proto.RRead{Header: hdr(proto.Rread, tag), Count: uint32(len(data)), Data: data}, nil
}

// readDir9P returns whole stat records of the listing made at open. As in
// Plan 9, a directory is read from offset 0 or from where the last read
// ended.
func readDir9P(f *fid, off uint64, count uint32) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed || !f.opened:
		return nil, errorf(syscall.EBADF, "%s: fid not open", f.node.path())
	case off != 0 && off != f.dirOff:
		return nil, errorf(syscall.ESPIPE, "%s: bad offset %d in directory read", f.node.path(), off)
	case off >= uint64(len(f.dirBuf)):
		return nil, nil
	}
	b := f.dirBuf[off:]
	n := 0
	for n < len(b) {
		rec := 2 + int(binary.LittleEndian.Uint16(b[n:]))
		if n+rec > int(count) {
			break
		}
		n += rec
	}
	if n == 0 {
		return nil, errorf(syscall.EINVAL, "%s: directory read of %d bytes is too small for one entry", f.node.path(), count)
	}
	f.dirOff = off + uint64(n)
	return b[:n], nil
}

func qid9P(q qid) proto.Qid { return proto.Qid{Qtype: q.typ, Vers: q.version, Uid: q.path} }

// owner is the user and group of every file: the files are the server's.
const owner = "root"

func stat9P(n node) proto.Stat {
	mode := n.perm()
	if n.isDir() {
		mode |= proto.DMDIR
	}
	now := uint32(time.Now().Unix())
	return proto.Stat{
		Qid:   qid9P(n.qid()),
		Mode:  mode,
		Atime: now,
		Mtime: now,
		Name:  n.name(),
		Uid:   owner,
		Gid:   owner,
		Muid:  owner,
	}
}

// wstatChanges reads a Twstat: ~0 and "" mean "don't touch", and a field
// equal to the current value is not a change either (some clients write
// back the whole stat).
func wstatChanges(n node, st *proto.Stat) setAttr {
	const keep32 = ^uint32(0)
	cur := stat9P(n)
	var a setAttr
	if st.Length != ^uint64(0) {
		size := st.Length
		a.size = &size
	}
	a.mode = st.Mode != keep32 && st.Mode != cur.Mode
	a.uid = st.Uid != "" && st.Uid != cur.Uid
	a.gid = st.Gid != "" && st.Gid != cur.Gid
	a.rename = st.Name != "" && st.Name != cur.Name
	a.times = st.Atime != keep32 || st.Mtime != keep32
	return a
}
