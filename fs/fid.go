package fs

import (
	"context"
	"sync"
	"syscall"
)

// maxWalk is the most names one Twalk may carry (MAXWELEM).
const maxWalk = 16

// fid is a client's handle on a node, opened or not. Handlers hold the
// pointer, never the number, so a fid number that the client reuses after
// a clunk cannot reach a stale handler's file.
type fid struct {
	mu      sync.Mutex
	node    node
	opened  bool
	opening bool // an open is under way (a listen waits for a call)
	closed  bool // clunked: the handle is closed
	mode    openMode
	h       handle
	stream  bool
	dir     []node // a directory's entries, listed at open
	dirBuf  []byte // 9P2000: the entries as stat records
	dirOff  uint64 // 9P2000: where the last directory read ended
}

func isStream(k kind) bool { return k == kFrames || k == kPcap || k == kLog }

func (c *conn) getFid(n uint32) (*fid, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.fids[n]; ok {
		return f, nil
	}
	return nil, errorf(syscall.EBADF, "unknown fid %d", n)
}

// waitingRead reports whether fid n is an open file whose reads wait for
// data: a stream, a conversation's data.
func (c *conn) waitingRead(n uint32) bool {
	f, err := c.getFid(n)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened && !f.closed && (f.stream || f.node.kind == kConvData)
}

// waitingOpen reports whether opening fid n waits: a conversation's
// listen, until a call comes.
func (c *conn) waitingOpen(n uint32) bool {
	f, err := c.getFid(n)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.node.kind == kConvListen
}

// addFid makes fid n point at nd; n must be free.
func (c *conn) addFid(n uint32, nd node) (*fid, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case n == noFid:
		return nil, errorf(syscall.EBADF, "fid %d (NOFID) cannot be used", n)
	case c.fids[n] != nil:
		return nil, errorf(syscall.EBADF, "fid %d already in use", n)
	case len(c.fids) >= maxFids:
		return nil, errorf(syscall.EMFILE, "too many fids (limit %d)", maxFids)
	}
	f := &fid{node: nd}
	c.fids[n] = f
	return f, nil
}

// clunk forgets fid n and closes what it held.
func (c *conn) clunk(n uint32) error {
	c.mu.Lock()
	f, ok := c.fids[n]
	delete(c.fids, n)
	c.mu.Unlock()
	if !ok {
		return errorf(syscall.EBADF, "unknown fid %d", n)
	}
	c.release(f)
	return nil
}

// release closes f's handle: a read blocked on it returns at once.
func (c *conn) release(f *fid) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	if f.h != nil {
		f.h.close()
	}
	if f.stream {
		c.streamDone()
	}
}

// streamStart counts a stream about to be opened, within the bounds of the
// connection and of the server; streamDone counts it closed.
func (c *conn) streamStart(path string) error {
	c.mu.Lock()
	if c.streams >= maxStreams {
		c.mu.Unlock()
		return errorf(syscall.EMFILE, "%s: too many open streams on this connection (limit %d)", path, maxStreams)
	}
	c.streams++
	c.mu.Unlock()
	s := c.srv
	s.mu.Lock()
	full, limit := s.streams >= s.maxStreams, s.maxStreams
	if !full {
		s.streams++
	}
	s.mu.Unlock()
	if full {
		c.mu.Lock()
		c.streams--
		c.mu.Unlock()
		return errorf(syscall.EMFILE, "%s: too many open streams on this server (limit %d)", path, limit)
	}
	return nil
}

// endStreams ends every open stream of the connection: blocked and later
// reads of it return end of file. The fids stay until clunked.
func (c *conn) endStreams() {
	c.mu.Lock()
	var streams []*fid
	for _, f := range c.fids {
		streams = append(streams, f)
	}
	c.mu.Unlock()
	for _, f := range streams {
		f.mu.Lock()
		if f.stream && f.h != nil {
			f.h.close()
		}
		f.mu.Unlock()
	}
}

func (c *conn) streamDone() {
	c.mu.Lock()
	c.streams--
	c.mu.Unlock()
	c.srv.mu.Lock()
	c.srv.streams--
	c.srv.mu.Unlock()
}

// walk walks fid along names into newfid (which may be fid itself). As in
// 9P, a walk that fails at the first name is an error; one that fails
// later returns the qids of the names it got through and leaves newfid
// alone.
// The qids go to qids' storage.
func (c *conn) walk(fidn, newfidn uint32, names []string, qids *[maxWalk]qid) ([]qid, error) {
	if len(names) > maxWalk {
		return nil, errorf(syscall.EINVAL, "walk of %d names (limit %d)", len(names), maxWalk)
	}
	f, err := c.getFid(fidn)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	n := f.node
	f.mu.Unlock()
	got := qids[:0]
	for i, name := range names {
		next, err := c.srv.tree.walk(n, name)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			return got, nil
		}
		got = append(got, next.qid())
		n = next
	}
	if newfidn == fidn {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.opened || f.opening {
			return nil, errorf(syscall.EBADF, "fid %d is open and cannot be walked in place", fidn)
		}
		f.node = n
		return got, nil
	}
	if _, err := c.addFid(newfidn, n); err != nil {
		return nil, err
	}
	return got, nil
}

// open opens f: a directory is listed now, a file opened in the tree. It
// returns the qid of what the fid is now: opening a conversation's clone or
// listen turns the fid into the new conversation's ctl. The fid is not
// locked while the tree opens the file, which for a listen waits for a
// call (until ctx is done): a clunk meanwhile closes what the open gets.
func (c *conn) open(ctx context.Context, f *fid, m openMode) (qid, error) {
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return qid{}, errorf(syscall.EBADF, "fid was clunked")
	case f.opened || f.opening:
		f.mu.Unlock()
		return qid{}, errorf(syscall.EBADF, "%s: fid already open", f.node.path())
	}
	n := f.node
	if n.isDir() {
		defer f.mu.Unlock()
		if m.write || m.trunc {
			return qid{}, errorf(syscall.EISDIR, "%s: is a directory", n.path())
		}
		list, err := c.srv.tree.list(n)
		if err != nil {
			return qid{}, err
		}
		f.dir = list
		f.opened, f.mode = true, m
		return n.qid(), nil
	}
	f.opening = true
	f.mu.Unlock()
	stream := isStream(n.kind)
	var err error
	if stream {
		err = c.streamStart(n.path())
	}
	var h handle
	if err == nil {
		h, n, err = c.srv.tree.open(ctx, n, m)
		if err != nil && stream {
			c.streamDone()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opening = false
	switch {
	case err != nil:
		return qid{}, err
	case f.closed:
		h.close()
		if stream {
			c.streamDone()
		}
		return qid{}, errorf(syscall.EBADF, "fid was clunked while it was being opened")
	}
	if stream && c.srv.isClosed() {
		h.close() // shutting down: the stream is at its end already
	}
	f.h, f.stream, f.node = h, stream, n
	f.opened, f.mode = true, m
	return n.qid(), nil
}

// handleFor returns f's open handle if f may be read (or written).
func (f *fid) handleFor(write bool) (handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return nil, errorf(syscall.EBADF, "fid was clunked")
	case !f.opened:
		return nil, errorf(syscall.EBADF, "%s: fid not open", f.node.path())
	case write && !f.mode.write:
		return nil, errorf(syscall.EBADF, "%s: not open for writing", f.node.path())
	case !write && !f.mode.read:
		return nil, errorf(syscall.EBADF, "%s: not open for reading", f.node.path())
	case f.h == nil:
		return nil, errorf(syscall.EISDIR, "%s: is a directory", f.node.path())
	}
	return f.h, nil
}

// readFid reads an open file.
func (c *conn) readFid(ctx context.Context, f *fid, off uint64, count uint32) ([]byte, error) {
	h, err := f.handleFor(false)
	if err != nil {
		return nil, err
	}
	return h.read(ctx, off, min(count, c.iounit()), c.isLinux())
}

// writeFid applies a write to an open file: one command batch, or a
// datagram.
func (c *conn) writeFid(ctx context.Context, f *fid, data []byte) error {
	h, err := f.handleFor(true)
	if err != nil {
		return err
	}
	return h.write(ctx, data)
}
