// Package ninep is a small 9P2000.L client: one connection, one request at
// a time. It is what `smolfs 9p` and the 9P load client (internal/cmd/bench9p)
// speak, to smolfs and to other servers such as diod, since this machine's
// kernel has no 9P client. hugelgupf/p9's client asks for version
// "9P2000.L.Google.N" and attaches with uid NoUID, which diod refuses; this
// one asks for plain "9P2000.L" and attaches as the user it is given.
//
// It never sends Tflush: a caller that gives up on a request closes the
// connection (Close may be called from any goroutine), and the server frees
// what the connection held.
package ninep

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
)

// Version is the only version the client speaks.
const Version = "9P2000.L"

// DefaultMsize is the msize the client asks for: Linux's default for TCP
// (128 KiB of data) plus the Rread header.
const DefaultMsize = 128<<10 + IOHeader

// IOHeader is what an Rread or Twrite carries besides its data; the most
// data one message can carry is msize minus this.
const IOHeader = 24

// NoFid is the fid that stands for none (Tattach's afid).
const NoFid = ^uint32(0)

// noTag is Tversion's tag.
const noTag = 0xffff

// Message types (Linux include/net/9p/9p.h).
const (
	rLerror   = 7
	tLopen    = 12
	tGetattr  = 24
	tReaddir  = 40
	tVersion  = 100
	tFlush    = 108
	tAttach   = 104
	rError    = 107
	tWalk     = 110
	tRead     = 116
	tWrite    = 118
	tClunk    = 120
	minMsize  = 4096
	maxWalkEl = 16
)

// Qid types.
const (
	QTDir  = 0x80
	QTFile = 0x00
)

// Qid is a server's name for a file.
type Qid struct {
	Type    uint8
	Version uint32
	Path    uint64
}

// Error is a request the server refused: the errno of an Rlerror (or the
// text of a plain 9P Rerror, which a 9P2000.L server sends only to a
// Tversion it does not like).
type Error struct {
	Op    string        // "walk", "lopen", "read", ...
	Errno syscall.Errno // 0 for an Rerror
	Text  string        // an Rerror's text
}

func (e *Error) Error() string {
	if e.Errno == 0 {
		return e.Op + ": " + e.Text
	}
	return e.Op + ": " + e.Errno.Error()
}

// Unwrap lets errors.Is(err, syscall.ENOENT) see the errno.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Client is a 9P2000.L session on one connection. Its methods may be called
// from several goroutines; they take turns.
type Client struct {
	nc    net.Conn
	msize uint32

	mu  sync.Mutex
	r   *bufio.Reader
	out []byte // the request being built
	in  []byte // the last reply, reused
	tag uint16
	// broken is set by a failure that leaves the connection out of step
	// (an I/O error, a malformed reply): later requests fail with it.
	broken error
}

// Dial connects to addr: HOST:PORT for TCP or unix:PATH.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("address %q: want unix:PATH", addr)
		}
		return d.DialContext(ctx, "unix", path)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("address %q: want HOST:PORT or unix:PATH", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// NewClient negotiates 9P2000.L with msize at most msize (0: DefaultMsize)
// on nc. The client owns nc from then on, also when this fails.
func NewClient(nc net.Conn, msize uint32) (*Client, error) {
	if msize == 0 {
		msize = DefaultMsize
	}
	c := &Client{nc: nc, msize: msize, r: newReader(nc)}
	b := c.begin(tVersion)
	binary.LittleEndian.PutUint16(b[5:], noTag)
	b = binary.LittleEndian.AppendUint32(b, msize)
	b = appendString(b, Version)
	c.out = b
	reply, err := c.roundTrip("version", noTag)
	if err != nil {
		nc.Close()
		return nil, err
	}
	d := decoder{b: reply}
	got, ver := d.u32(), d.str()
	if err := d.done(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("version: malformed Rversion: %w", err)
	}
	if ver != Version {
		nc.Close()
		return nil, fmt.Errorf("version: the server speaks %q, not %s", ver, Version)
	}
	if got > msize || got < minMsize {
		nc.Close()
		return nil, fmt.Errorf("version: the server's msize %d is outside %d..%d", got, minMsize, msize)
	}
	c.msize = got
	return c, nil
}

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReaderSize(nc, 64<<10) }

// Msize is the negotiated message size.
func (c *Client) Msize() uint32 { return c.msize }

// Close closes the connection; a request in progress fails at once.
func (c *Client) Close() error { return c.nc.Close() }

// begin starts a request of type typ in c.out, with the next tag.
func (c *Client) begin(typ uint8) []byte {
	c.tag++
	if c.tag == noTag {
		c.tag = 0
	}
	b := append(c.out[:0], 0, 0, 0, 0, typ, 0, 0)
	binary.LittleEndian.PutUint16(b[5:], c.tag)
	return b
}

// roundTrip sends c.out and returns the body of the reply (after the tag),
// which stays valid until the next request. Rlerror and Rerror become
// *Error.
func (c *Client) roundTrip(op string, tag uint16) ([]byte, error) {
	b := c.out
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	want := b[4] + 1
	if _, err := c.nc.Write(b); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if err == io.EOF {
			err = errors.New("the server closed the connection")
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size < 7 || size > c.msize {
		return nil, fmt.Errorf("%s: reply of %d bytes is outside 7..%d", op, size, c.msize)
	}
	if cap(c.in) < int(size) {
		c.in = make([]byte, size)
	}
	msg := c.in[:size]
	copy(msg, hdr[:])
	if _, err := io.ReadFull(c.r, msg[4:]); err != nil {
		return nil, fmt.Errorf("%s: reply cut short: %w", op, err)
	}
	typ, rtag := msg[4], binary.LittleEndian.Uint16(msg[5:])
	if rtag != tag {
		return nil, fmt.Errorf("%s: reply for tag %d, want %d", op, rtag, tag)
	}
	body := msg[7:]
	switch typ {
	case want:
		return body, nil
	case rLerror:
		return nil, parseRlerror(op, body)
	case rError:
		return nil, parseRerror(op, body)
	}
	return nil, fmt.Errorf("%s: reply of type %d, want %d", op, typ, want)
}

func (c *Client) call(op string, b []byte) ([]byte, error) {
	if c.broken != nil {
		return nil, fmt.Errorf("%s: connection unusable after an earlier failure: %w", op, c.broken)
	}
	c.out = b
	reply, err := c.roundTrip(op, c.tag)
	var e *Error
	if err != nil && !errors.As(err, &e) {
		c.broken = err
		c.nc.Close()
	}
	return reply, err
}

// Attach attaches fid to the root of the tree aname as uname (numeric
// n_uname). smolfs ignores all three; diod wants aname to be an export.
func (c *Client) Attach(fid uint32, uname, aname string, nuname uint32) (Qid, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tAttach)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, NoFid)
	b = appendString(b, uname)
	b = appendString(b, aname)
	b = binary.LittleEndian.AppendUint32(b, nuname)
	reply, err := c.call("attach", b)
	if err != nil {
		return Qid{}, err
	}
	d := decoder{b: reply}
	q := d.qid()
	return q, d.done()
}

// Walk walks fid along names into newfid. As in 9P, a walk that fails part
// way returns the qids it got through and leaves newfid unused; Walk makes
// that an ENOENT error naming the first missing element.
func (c *Client) Walk(fid, newfid uint32, names ...string) ([]Qid, error) {
	if len(names) > maxWalkEl {
		return nil, fmt.Errorf("walk: %d names (a Twalk carries at most %d)", len(names), maxWalkEl)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tWalk)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, newfid)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(names)))
	for _, n := range names {
		if len(n) > 0xffff {
			return nil, fmt.Errorf("walk: a name of %d bytes (at most 65535)", len(n))
		}
		b = appendString(b, n)
	}
	op := "walk"
	if len(names) > 0 {
		// A server refuses a walk only when its first name fails.
		op += " " + names[0]
	}
	reply, err := c.call(op, b)
	if err != nil {
		return nil, err
	}
	qids, err := parseRwalk(reply)
	if err != nil {
		return nil, fmt.Errorf("walk: %w", err)
	}
	if len(qids) > len(names) {
		return nil, fmt.Errorf("walk: %d qids for %d names", len(qids), len(names))
	}
	if len(qids) < len(names) {
		return qids, &Error{Op: "walk " + names[len(qids)], Errno: syscall.ENOENT}
	}
	return qids, nil
}

// Lopen opens fid with Linux open flags (syscall.O_RDONLY, O_WRONLY|O_TRUNC,
// ...). iounit is the server's advice for the largest I/O (0: msize-24).
func (c *Client) Lopen(fid uint32, flags uint32) (q Qid, iounit uint32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tLopen)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint32(b, flags)
	reply, err := c.call("lopen", b)
	if err != nil {
		return Qid{}, 0, err
	}
	d := decoder{b: reply}
	q, iounit = d.qid(), d.u32()
	return q, iounit, d.done()
}

// Read reads up to len(buf) bytes (at most msize-24) of fid at off into buf.
// 0 bytes is what a server says at end of file.
func (c *Client) Read(fid uint32, off uint64, buf []byte) (int, error) {
	count := uint32(min(len(buf), int(c.msize-IOHeader)))
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tRead)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, count)
	reply, err := c.call("read", b)
	if err != nil {
		return 0, err
	}
	data, err := parseRread(reply, count)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	return copy(buf, data), nil
}

// Write writes data (at most msize-24 bytes) to fid at off in one Twrite and
// returns the count the server took.
func (c *Client) Write(fid uint32, off uint64, data []byte) (int, error) {
	if max := int(c.msize - IOHeader); len(data) > max {
		return 0, fmt.Errorf("write: %d bytes do not fit in one message (at most %d)", len(data), max)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tWrite)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	reply, err := c.call("write", b)
	if err != nil {
		return 0, err
	}
	d := decoder{b: reply}
	n := d.u32()
	if err := d.done(); err != nil {
		return 0, fmt.Errorf("write: malformed Rwrite: %w", err)
	}
	if n > uint32(len(data)) {
		return 0, fmt.Errorf("write: the server took %d bytes of %d", n, len(data))
	}
	return int(n), nil
}

// Clunk forgets fid.
func (c *Client) Clunk(fid uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tClunk)
	b = binary.LittleEndian.AppendUint32(b, fid)
	reply, err := c.call("clunk", b)
	if err != nil {
		return err
	}
	d := decoder{b: reply}
	return d.done()
}

// Dirent is one directory entry of an Rreaddir.
type Dirent struct {
	Qid    Qid
	Offset uint64 // where the next Treaddir starts
	Type   uint8  // DT_DIR, DT_REG, ...
	Name   string
}

// Readdir reads the entries of the open directory fid from off, as many as
// fit in count bytes (at most msize-24). No entries: the end.
func (c *Client) Readdir(fid uint32, off uint64, count uint32) ([]Dirent, error) {
	count = min(count, c.msize-IOHeader)
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tReaddir)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, off)
	b = binary.LittleEndian.AppendUint32(b, count)
	reply, err := c.call("readdir", b)
	if err != nil {
		return nil, err
	}
	ents, err := parseRreaddir(reply, count)
	if err != nil {
		return nil, fmt.Errorf("readdir: %w", err)
	}
	return ents, nil
}

// Attr is the part of an Rgetattr that a person looks at.
type Attr struct {
	Valid       uint64
	Qid         Qid
	Mode        uint32 // S_IFDIR|0555, ...
	UID, GID    uint32
	Nlink       uint64
	Size        uint64
	Blocks      uint64
	Atime       [2]uint64 // seconds, nanoseconds
	Mtime       [2]uint64
	Ctime       [2]uint64
	DataVersion uint64
}

// GetattrBasic asks for the fields of stat(2) (P9_GETATTR_BASIC).
const GetattrBasic = 0x7ff

// Getattr asks for fid's attributes.
func (c *Client) Getattr(fid uint32, mask uint64) (Attr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.begin(tGetattr)
	b = binary.LittleEndian.AppendUint32(b, fid)
	b = binary.LittleEndian.AppendUint64(b, mask)
	reply, err := c.call("getattr", b)
	if err != nil {
		return Attr{}, err
	}
	a, err := parseRgetattr(reply)
	if err != nil {
		return Attr{}, fmt.Errorf("getattr: %w", err)
	}
	return a, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
