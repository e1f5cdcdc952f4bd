package fs

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"
	"time"
)

// 9P2000.L message types (Linux include/net/9p/9p.h). The 9P2000 ones it
// shares (Tversion, Tattach, Twalk, Tread, ...) have the same numbers.
const (
	lRlerror      = 7
	lTstatfs      = 8
	lRstatfs      = 9
	lTlopen       = 12
	lRlopen       = 13
	lTlcreate     = 14
	lTsymlink     = 16
	lTmknod       = 18
	lTrename      = 20
	lTreadlink    = 22
	lTgetattr     = 24
	lRgetattr     = 25
	lTsetattr     = 26
	lRsetattr     = 27
	lTxattrwalk   = 30
	lRxattrwalk   = 31
	lTxattrcreate = 32
	lTreaddir     = 40
	lRreaddir     = 41
	lTfsync       = 50
	lRfsync       = 51
	lTlock        = 52
	lTgetlock     = 54
	lTlink        = 70
	lTmkdir       = 72
	lTrenameat    = 74
	lTunlinkat    = 76
	lTauth        = 102
	lTattach      = 104
	lRattach      = 105
	lTwalk        = 110
	lRwalk        = 111
	lTread        = 116
	lRread        = 117
	lTwrite       = 118
	lRwrite       = 119
	lTclunk       = 120
	lRclunk       = 121
	lTremove      = 122
)

// Tsetattr valid bits.
const (
	setattrMode  = 0x1
	setattrUID   = 0x2
	setattrGID   = 0x4
	setattrSize  = 0x8
	setattrTimes = 0x10 | 0x20 | 0x40 | 0x80 | 0x100 // atime, mtime, ctime, atime_set, mtime_set
)

// Tlopen flags (Linux's open flags as v9fs sends them).
const (
	lOAccMode = 0x3
	lOWronly  = 0x1
	lORdwr    = 0x2
	lOTrunc   = 0o1000
)

const (
	v9fsMagic    = 0x01021997 // statfs f_type of a v9fs mount
	getattrBasic = 0x7ff      // P9_STATS_BASIC: mode..blocks, the fields we fill
	sIFDIR       = 0o040000
	sIFREG       = 0o100000
	dtDir        = 4
	dtReg        = 8
)

// lmsg is a decoded 9P2000.L request: the fields of every request we serve
// (the others are answered by type alone).
type lmsg struct {
	typ      uint8
	tag      uint16
	fid      uint32
	newfid   uint32
	afid     uint32
	uname    string
	aname    string
	nuname   uint32
	names    []string
	name     string
	flags    uint32
	offset   uint64
	count    uint32
	data     []byte
	mask     uint64
	valid    uint32
	mode     uint32
	uid, gid uint32
	size     uint64
	atime    [2]uint64
	mtime    [2]uint64
}

// dec reads little-endian 9P fields; running short sets a flag instead of
// panicking, and err reports it, or bytes left over.
type dec struct {
	b     []byte
	short bool
}

func (d *dec) take(n int) []byte {
	if d.short || len(d.b) < n {
		d.short = true
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *dec) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *dec) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *dec) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *dec) str() string { return string(d.take(int(d.u16()))) }

func (d *dec) err() error {
	switch {
	case d.short:
		return fmt.Errorf("message too short for its fields")
	case len(d.b) > 0:
		return fmt.Errorf("%d bytes left over after the fields", len(d.b))
	}
	return nil
}

// decodeL decodes a 9P2000.L request whose size the server core checked
// into m, which must be zero.
func decodeL(msg []byte, m *lmsg) error {
	d := dec{b: msg}
	if size := d.u32(); size != uint32(len(msg)) {
		return fmt.Errorf("size field %d does not match the message (%d bytes)", size, len(msg))
	}
	m.typ, m.tag = d.u8(), d.u16()
	switch m.typ {
	case lTattach:
		m.fid, m.afid, m.uname, m.aname, m.nuname = d.u32(), d.u32(), d.str(), d.str(), d.u32()
	case lTwalk:
		m.fid, m.newfid = d.u32(), d.u32()
		n := d.u16()
		if n > maxWalk {
			return fmt.Errorf("Twalk of %d names (limit %d)", n, maxWalk)
		}
		m.names = make([]string, 0, n)
		for range n {
			m.names = append(m.names, d.str())
		}
	case lTgetattr:
		m.fid, m.mask = d.u32(), d.u64()
	case lTsetattr:
		m.fid, m.valid, m.mode, m.uid, m.gid, m.size = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u64()
		m.atime = [2]uint64{d.u64(), d.u64()}
		m.mtime = [2]uint64{d.u64(), d.u64()}
	case lTlopen:
		m.fid, m.flags = d.u32(), d.u32()
	case lTread, lTreaddir:
		m.fid, m.offset, m.count = d.u32(), d.u64(), d.u32()
	case lTwrite:
		m.fid, m.offset, m.count = d.u32(), d.u64(), d.u32()
		m.data = d.take(int(m.count))
	case lTclunk, lTremove, lTstatfs, lTreadlink:
		m.fid = d.u32()
	case lTfsync:
		m.fid = d.u32()
		if len(d.b) > 0 { // datasync; older kernels did not send it
			d.u32()
		}
	case lTxattrwalk:
		m.fid, m.newfid, m.name = d.u32(), d.u32(), d.str()
	default:
		d.b = nil // answered by type alone
	}
	return d.err()
}

// dialectL speaks 9P2000.L, Linux's default, with this file's codec.
type dialectL struct {
	t *tree
}

func (d *dialectL) errorReply(c *conn, tag uint16, err error) []byte {
	b := begin(lRlerror, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(errnoOf(err)))
	return end(b)
}

func (d *dialectL) handle(ctx context.Context, c *conn, out []byte, typ uint8, tag uint16, msg []byte) []byte {
	var m lmsg
	if err := decodeL(msg, &m); err != nil {
		c.warn("malformed 9P2000.L message", "type", typ, "err", err)
		return d.errorReply(c, tag, errorf(syscall.EBADMSG, "malformed message type %d: %v", typ, err))
	}
	reply, err := d.do(ctx, c, out, &m)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Debug("9P2000.L request failed", "type", typ, "err", err)
		}
		return d.errorReply(c, tag, err)
	}
	return end(reply)
}

// blocks: a read of a stream or a conversation's data waits for data, an
// open of a listen file for a call, and a write applies commands (creating
// a host opens a tap; a TCP connect waits); everything else is answered at
// once.
func (d *dialectL) blocks(c *conn, typ uint8, msg []byte) bool {
	switch typ {
	case lTwrite:
		return true
	case lTread:
		return len(msg) >= 11 && c.waitingRead(binary.LittleEndian.Uint32(msg[7:]))
	case lTlopen:
		return len(msg) >= 11 && c.waitingOpen(binary.LittleEndian.Uint32(msg[7:]))
	}
	return false
}

// do carries out m and returns its reply (size not yet set), built on out's
// storage.
func (d *dialectL) do(ctx context.Context, c *conn, out []byte, m *lmsg) ([]byte, error) {
	switch m.typ {
	case lTattach:
		if m.afid != noFid {
			return nil, errorf(syscall.EINVAL, "authentication not required: afid must be NOFID")
		}
		root := d.t.root()
		if _, err := c.addFid(m.fid, root); err != nil {
			return nil, err
		}
		return appendQid(beginTo(out, lRattach, m.tag), root.qid()), nil
	case lTwalk:
		var buf [maxWalk]qid
		qids, err := c.walk(m.fid, m.newfid, m.names, &buf)
		if err != nil {
			return nil, err
		}
		b := binary.LittleEndian.AppendUint16(beginTo(out, lRwalk, m.tag), uint16(len(qids)))
		for _, q := range qids {
			b = appendQid(b, q)
		}
		return b, nil
	case lTgetattr:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		return appendGetattr(beginTo(out, lRgetattr, m.tag), f.node), nil
	case lTsetattr:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		if err := d.t.setattr(f.node, setattrChanges(f.node, m)); err != nil {
			return nil, err
		}
		return beginTo(out, lRsetattr, m.tag), nil
	case lTlopen:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		om := openMode{trunc: m.flags&lOTrunc != 0}
		switch m.flags & lOAccMode {
		case lOWronly:
			om.write = true
		case lORdwr:
			om.read, om.write = true, true
		default:
			om.read = true
		}
		q, err := c.open(ctx, f, om)
		if err != nil {
			return nil, err
		}
		b := appendQid(beginTo(out, lRlopen, m.tag), q)
		return binary.LittleEndian.AppendUint32(b, 0), nil
	case lTread:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		var data []byte
		switch {
		case f.node.kind == kXattr: // the empty attribute list
		case f.node.isDir():
			return nil, errorf(syscall.EISDIR, "%s: is a directory (use Treaddir)", f.node.path())
		default:
			if data, err = c.readFid(ctx, f, m.offset, m.count); err != nil {
				return nil, err
			}
		}
		b := binary.LittleEndian.AppendUint32(beginTo(out, lRread, m.tag), uint32(len(data)))
		return append(b, data...), nil
	case lTwrite:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		if err := c.writeFid(ctx, f, m.data); err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint32(beginTo(out, lRwrite, m.tag), m.count), nil
	case lTclunk:
		if err := c.clunk(m.fid); err != nil {
			return nil, err
		}
		return beginTo(out, lRclunk, m.tag), nil
	case lTremove:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		c.clunk(m.fid) // remove clunks the fid even when it fails
		return nil, errorf(syscall.EROFS, "%s: files cannot be removed", f.node.path())
	case lTreaddir:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		data, err := readdirL(f, m.offset, min(m.count, c.iounit()))
		if err != nil {
			return nil, err
		}
		b := binary.LittleEndian.AppendUint32(beginTo(out, lRreaddir, m.tag), uint32(len(data)))
		return append(b, data...), nil
	case lTstatfs:
		if _, err := c.getFid(m.fid); err != nil {
			return nil, err
		}
		b := beginTo(out, lRstatfs, m.tag)
		b = binary.LittleEndian.AppendUint32(b, v9fsMagic)
		b = binary.LittleEndian.AppendUint32(b, 4096) // bsize
		for range 6 {                                 // blocks bfree bavail files ffree fsid
			b = binary.LittleEndian.AppendUint64(b, 0)
		}
		return binary.LittleEndian.AppendUint32(b, 255), nil // namelen
	case lTxattrwalk:
		f, err := c.getFid(m.fid)
		if err != nil {
			return nil, err
		}
		if m.name != "" {
			return nil, errorf(syscall.ENODATA, "%s: no attribute %q", f.node.path(), m.name)
		}
		if _, err := c.addFid(m.newfid, node{kind: kXattr}); err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint64(beginTo(out, lRxattrwalk, m.tag), 0), nil
	case lTfsync:
		if _, err := c.getFid(m.fid); err != nil {
			return nil, err
		}
		return beginTo(out, lRfsync, m.tag), nil
	case lTlock, lTgetlock:
		return nil, errorf(syscall.EOPNOTSUPP, "locks are not supported")
	case lTxattrcreate:
		return nil, errorf(syscall.EOPNOTSUPP, "extended attributes are not supported")
	case lTlcreate, lTsymlink, lTmknod, lTrename, lTlink, lTmkdir, lTrenameat, lTunlinkat:
		return nil, errorf(syscall.EROFS, "files cannot be created, renamed or removed here")
	case lTreadlink:
		return nil, errorf(syscall.EINVAL, "not a symbolic link")
	case lTauth:
		// As diod answers: its client library (diodcat, diodls, diodmount)
		// takes ENOENT, and only ENOENT, to mean that no authentication is
		// needed, and goes on to attach with NOFID.
		return nil, errorf(syscall.ENOENT, "authentication not required")
	}
	return nil, errorf(syscall.EOPNOTSUPP, "message type %d is not a 9P2000.L request", m.typ)
}

func appendQid(b []byte, q qid) []byte {
	b = append(b, q.typ)
	b = binary.LittleEndian.AppendUint32(b, q.version)
	return binary.LittleEndian.AppendUint64(b, q.path)
}

func appendGetattr(b []byte, n node) []byte {
	mode, nlink := uint32(sIFREG)|n.perm(), uint64(1)
	if n.isDir() {
		mode, nlink = sIFDIR|n.perm(), 2
	}
	now := time.Now()
	b = binary.LittleEndian.AppendUint64(b, getattrBasic)
	b = appendQid(b, n.qid())
	b = binary.LittleEndian.AppendUint32(b, mode)
	b = binary.LittleEndian.AppendUint32(b, 0) // uid
	b = binary.LittleEndian.AppendUint32(b, 0) // gid
	for _, v := range []uint64{
		nlink, 0, 0, 4096, 0, // nlink rdev size blksize blocks
		uint64(now.Unix()), uint64(now.Nanosecond()), // atime
		uint64(now.Unix()), uint64(now.Nanosecond()), // mtime
		uint64(now.Unix()), uint64(now.Nanosecond()), // ctime
		0, 0, 0, 0, // btime gen data_version
	} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// setattrChanges reads a Tsetattr; values equal to the current ones are
// not changes.
func setattrChanges(n node, m *lmsg) setAttr {
	var a setAttr
	if m.valid&setattrSize != 0 {
		size := m.size
		a.size = &size
	}
	a.mode = m.valid&setattrMode != 0 && m.mode&0o7777 != n.perm()
	a.uid = m.valid&setattrUID != 0 && m.uid != 0
	a.gid = m.valid&setattrGID != 0 && m.gid != 0
	a.times = m.valid&setattrTimes != 0
	return a
}

// readdirL returns the directory entries listed at open from index off (the
// offset of an entry is the index of the next), as many as fit in count.
func readdirL(f *fid, off uint64, count uint32) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.opened || !f.node.isDir() {
		return nil, errorf(syscall.EBADF, "%s: not an open directory", f.node.path())
	}
	var b []byte
	for i := off; i < uint64(len(f.dir)); i++ {
		n := f.dir[i]
		typ := uint8(dtReg)
		if n.isDir() {
			typ = dtDir
		}
		mark := len(b)
		b = appendQid(b, n.qid())
		b = binary.LittleEndian.AppendUint64(b, i+1)
		b = append(b, typ)
		b = appendString(b, n.name())
		if len(b) > int(count) {
			b = b[:mark]
			if mark == 0 {
				return nil, errorf(syscall.EINVAL, "%s: readdir of %d bytes is too small for one entry", f.node.path(), count)
			}
			break
		}
	}
	return b, nil
}
