package fs

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"syscall"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/stack"
)

// The tree is what both dialects serve; nothing in this file knows 9P.
//
//	/ctl /log /NAME/{ctl,addr,arp,frames,frames.pcap,stats}
//	/NAME/{udp,...}/{clone,stats,N/{ctl,data,listen,local,remote,status,err}} (conv.go)

// kind is what a node is.
type kind uint8

const (
	kRoot kind = iota + 1
	kRootCtl
	kLog
	kHostDir
	kHostCtl
	kAddr
	kARP
	kFrames
	kPcap
	kStats
	kXattr // the empty attribute list of a 9P2000.L xattrwalk, not in any directory
	// Conversations (conv.go).
	kProtoDir // udp, tcp, icmp
	kClone
	kProtoStats
	kConvDir // N
	kConvCtl
	kConvData
	kConvListen
	kConvLocal
	kConvRemote
	kConvStatus
	kConvErr
	numKinds
)

type kindInfo struct {
	name     string
	dir      bool
	writable bool
}

var kinds = [numKinds]kindInfo{
	kRoot:    {name: "/", dir: true},
	kRootCtl: {name: "ctl", writable: true},
	kLog:     {name: "log"},
	kHostDir: {dir: true},
	kHostCtl: {name: "ctl", writable: true},
	kAddr:    {name: "addr"},
	kARP:     {name: "arp", writable: true},
	kFrames:  {name: "frames"},
	kPcap:    {name: "frames.pcap"},
	kStats:   {name: "stats"},
	kXattr:   {name: "xattr"},

	kProtoDir:   {dir: true},
	kClone:      {name: "clone", writable: true},
	kProtoStats: {name: "stats"},
	kConvDir:    {dir: true},
	kConvCtl:    {name: "ctl", writable: true},
	kConvData:   {name: "data", writable: true},
	kConvListen: {name: "listen", writable: true},
	kConvLocal:  {name: "local"},
	kConvRemote: {name: "remote"},
	kConvStatus: {name: "status"},
	kConvErr:    {name: "err"},
}

var (
	rootFiles = []kind{kRootCtl, kLog}
	hostFiles = []kind{kHostCtl, kAddr, kARP, kFrames, kPcap, kStats}
)

// node is one file of the tree: a small value, copied into fids.
type node struct {
	kind kind
	host *stack.Host     // the host of a host directory or file
	gen  uint32          // the host's generation (see tree.gen)
	conv netcore.ConvRef // a conversation's directory or file; Proto alone for udp/, clone, stats
}

// qid types (the top byte of a 9P mode).
const (
	qtDir  = 0x80
	qtFile = 0x00
)

type qid struct {
	typ     uint8
	version uint32
	path    uint64
}

func (n node) isDir() bool { return kinds[n.kind].dir }

// qid numbers a node: the host's generation above the kind, so that a host
// removed and created again under the same name has new qids and a client
// that cached the old ones sees a different file; likewise a
// conversation's number and generation (its low 14 bits), so that a
// number reused is a new file.
//
//	bits 40-63 host generation, 26-39 conversation generation,
//	12-25 conversation number (netcore.MaxTCPConvs), 8-11 transport,
//	0-7 kind
func (n node) qid() qid {
	c := n.conv
	path := uint64(n.gen)<<40 | uint64(c.Gen&0x3fff)<<26 | uint64(c.N&0x3fff)<<12 | uint64(c.Proto&0xf)<<8 | uint64(n.kind)
	q := qid{typ: qtFile, path: path}
	if n.isDir() {
		q.typ = qtDir
	}
	return q
}

func (n node) name() string {
	switch n.kind {
	case kHostDir:
		return n.host.Name()
	case kProtoDir:
		return n.conv.Proto.String()
	case kConvDir:
		return strconv.Itoa(n.conv.N)
	}
	return kinds[n.kind].name
}

// path is the node's name from the root, for messages.
func (n node) path() string {
	switch {
	case n.kind == kRoot:
		return "/"
	case n.kind == kHostDir || n.host == nil:
		return n.name()
	case n.kind == kProtoDir || n.kind == kClone || n.kind == kProtoStats:
		return n.host.Name() + "/" + n.conv.Proto.String() + "/" + n.name()
	case n.kind >= kConvDir:
		return fmt.Sprintf("%s/%s/%d/%s", n.host.Name(), n.conv.Proto, n.conv.N, n.name())
	}
	return n.host.Name() + "/" + n.name()
}

// perm is the node's permission bits: everyone may read, writable files
// are writable by the owner (the server does not check users: anyone who
// can connect may write, see the README).
func (n node) perm() uint32 {
	switch {
	case n.isDir():
		return 0o555
	case kinds[n.kind].writable:
		return 0o644
	}
	return 0o444
}

// tree serves a stack's hosts as files.
type tree struct {
	st *stack.Stack
	// down is done when the server shuts down: conversation reads and
	// listens waiting then end, as stream reads do.
	down     context.Context
	shutdown context.CancelFunc
}

func newTree(st *stack.Stack) *tree {
	t := &tree{st: st}
	t.down, t.shutdown = context.WithCancel(context.Background())
	return t
}

func (t *tree) root() node { return node{kind: kRoot} }

func (t *tree) hostNode(k kind, h *stack.Host) node {
	return node{kind: k, host: h, gen: h.Gen()}
}

// current fails if n belongs to a host that has been removed (perhaps
// replaced by a new one of the same name), or to a conversation that has
// gone.
func (t *tree) current(n node) error {
	if n.host == nil {
		return nil
	}
	if h, ok := t.st.Host(n.host.Name()); !ok || h != n.host {
		return errorf(syscall.ENOENT, "%s: host %s has been removed", n.path(), n.host.Name())
	}
	if n.kind >= kConvDir {
		if _, err := n.host.ConvInfo(n.conv); err != nil {
			return errorf(syscall.ENOENT, "%s: the conversation has gone", n.path())
		}
	}
	return nil
}

// walk finds name in the directory n. ".." goes up; "." is not special in
// 9P and is not a file here.
func (t *tree) walk(n node, name string) (node, error) {
	switch n.kind {
	case kRoot:
		if name == ".." {
			return n, nil
		}
		for _, k := range rootFiles {
			if kinds[k].name == name {
				return node{kind: k}, nil
			}
		}
		if h, ok := t.st.Host(name); ok {
			return t.hostNode(kHostDir, h), nil
		}
		return node{}, errorf(syscall.ENOENT, "%s: no such file or host", name)
	case kHostDir:
		if err := t.current(n); err != nil {
			return node{}, err
		}
		if name == ".." {
			return t.root(), nil
		}
		for _, k := range hostFiles {
			if kinds[k].name == name {
				return node{kind: k, host: n.host, gen: n.gen}, nil
			}
		}
		if p, ok := netcore.ParseProto(name); ok && slices.Contains(n.host.Protos(), p) {
			return node{kind: kProtoDir, host: n.host, gen: n.gen, conv: netcore.ConvRef{Proto: p}}, nil
		}
		return node{}, errorf(syscall.ENOENT, "%s/%s: no such file", n.host.Name(), name)
	case kProtoDir, kConvDir:
		return t.walkConv(n, name)
	}
	return node{}, errorf(syscall.ENOTDIR, "%s: not a directory", n.path())
}

// list is the directory n's entries now, in a fixed order.
func (t *tree) list(n node) ([]node, error) {
	switch n.kind {
	case kRoot:
		var out []node
		for _, k := range rootFiles {
			out = append(out, node{kind: k})
		}
		for _, name := range t.st.HostNames() {
			if h, ok := t.st.Host(name); ok {
				out = append(out, t.hostNode(kHostDir, h))
			}
		}
		return out, nil
	case kHostDir:
		if err := t.current(n); err != nil {
			return nil, err
		}
		out := make([]node, 0, len(hostFiles)+2)
		for _, k := range hostFiles {
			out = append(out, node{kind: k, host: n.host, gen: n.gen})
		}
		for _, p := range n.host.Protos() {
			out = append(out, node{kind: kProtoDir, host: n.host, gen: n.gen, conv: netcore.ConvRef{Proto: p}})
		}
		return out, nil
	case kProtoDir, kConvDir:
		return t.listConv(n)
	}
	return nil, errorf(syscall.ENOTDIR, "%s: not a directory", n.path())
}

// openMode is what an open asks for, in either dialect.
type openMode struct {
	read, write, trunc bool
}

// handle is an open file (not a directory: the dialects render those).
type handle interface {
	// read returns up to count bytes at off. A stream blocks until
	// something arrives, ctx is done (its error) or the stream ends
	// (nil, nil). linux says the client loops on short reads (see stream).
	read(ctx context.Context, off uint64, count uint32, linux bool) ([]byte, error)
	// write applies one command batch, all or nothing, or (a
	// conversation's data) sends data; it may wait, until ctx is done.
	write(ctx context.Context, data []byte) error
	// close frees what the handle holds; a blocked read returns.
	close()
}

// open opens a file. Snapshot files render now, so that a sequence of
// reads sees one state; streams subscribe now, so that a reader sees what
// happens from its open on. The node returned is what the fid is from
// then on: the file itself, or, for clone and listen, the new
// conversation's ctl. Only a listen waits (until a call comes or ctx is
// done).
func (t *tree) open(ctx context.Context, n node, m openMode) (handle, node, error) {
	if n.kind >= kProtoDir {
		return t.openConv(ctx, n, m)
	}
	h, err := t.openHost(n, m)
	return h, n, err
}

// openHost opens the files of the root and of a host.
func (t *tree) openHost(n node, m openMode) (handle, error) {
	info := kinds[n.kind]
	if info.dir {
		return nil, errorf(syscall.EISDIR, "%s: is a directory", n.path())
	}
	if (m.write || m.trunc) && !info.writable {
		return nil, errorf(syscall.EACCES, "%s: read-only file", n.path())
	}
	if err := t.current(n); err != nil {
		return nil, err
	}
	h := n.host
	switch n.kind {
	case kRootCtl:
		s := &snapshot{apply: t.st.Ctl}
		if m.read {
			s.buf = t.st.CtlText()
		}
		return s, nil
	case kHostCtl, kARP:
		s := &snapshot{}
		apply := h.Ctl
		if n.kind == kARP {
			apply = h.ARP
		}
		s.apply = func(data []byte) error {
			if err := t.current(n); err != nil {
				return err
			}
			return apply(data)
		}
		if m.read {
			if n.kind == kARP {
				s.buf = netcore.AppendARP(nil, h.ARPTable())
			} else {
				snap := h.Snapshot()
				s.buf = snap.AppendConfig(nil)
			}
		}
		return s, nil
	case kAddr:
		snap := h.Snapshot()
		s := &snapshot{}
		s.buf = snap.AppendAddr(s.small[:0])
		return s, nil
	case kStats:
		snap := h.Snapshot()
		return &snapshot{buf: snap.AppendStats(make([]byte, 0, 1024))}, nil
	case kLog:
		return newStream(&logSource{r: t.st.Log().Subscribe()}, nil), nil
	case kFrames:
		return newStream(&frameSource{sub: h.Subscribe(streamBuffer)}, nil), nil
	case kPcap:
		return newStream(&pcapSource{sub: h.Subscribe(streamBuffer)}, capture.AppendPcapHeader(nil)), nil
	case kXattr:
		return &snapshot{}, nil
	}
	return nil, errorf(syscall.EIO, "%s: cannot be opened", n.path())
}

// setAttr is a metadata change, in either dialect: what the client asked
// to change (fields equal to the current value are not changes).
type setAttr struct {
	size           *uint64
	mode, uid, gid bool
	rename         bool
	times          bool // ignored: the files have no stored times
}

// setattr accepts only what `echo cmd > ctl` needs: truncation to 0 of a
// writable file (with any times, which are ignored).
func (t *tree) setattr(n node, a setAttr) error {
	switch {
	case a.rename:
		return errorf(syscall.EPERM, "%s: files cannot be renamed", n.path())
	case a.mode || a.uid || a.gid:
		return errorf(syscall.EPERM, "%s: mode and owner cannot be changed", n.path())
	case a.size != nil && *a.size != 0:
		return errorf(syscall.EINVAL, "%s: only truncation to length 0 is supported", n.path())
	case a.size != nil && !kinds[n.kind].writable:
		return errorf(syscall.EACCES, "%s: read-only file", n.path())
	}
	return t.current(n)
}

// snapshot is an open ctl, addr, arp or stats file: the text rendered at
// open, served at any offset, and, if writable, the command parser.
type snapshot struct {
	buf   []byte
	apply func([]byte) error
	small [128]byte // room for a short file (addr) in the same allocation
}

func (s *snapshot) read(_ context.Context, off uint64, count uint32, _ bool) ([]byte, error) {
	if off >= uint64(len(s.buf)) {
		return nil, nil
	}
	b := s.buf[off:]
	return b[:min(uint64(len(b)), uint64(count))], nil
}

func (s *snapshot) write(_ context.Context, data []byte) error {
	if s.apply == nil {
		return errorf(syscall.EACCES, "read-only file")
	}
	return s.apply(data)
}

func (s *snapshot) close() {}
