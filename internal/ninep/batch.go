package ninep

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
)

// Requests sent together. A 9P server answers a session's requests in
// any order but takes them in the order they came, so a request that
// depends on one before it (an open of the fid a walk makes, the clunks
// of a call's files) may go in the same write rather than after its reply:
// one round trip and one system call on each side instead of two. What a
// short connection costs (smolfs listen's calls) is mostly such round
// trips.

// sendAll writes the requests msgs (made by begin9) in one write and
// returns the channels their replies come on.
func (m *Mux) sendAll(op string, msgs ...[]byte) ([]uint16, []chan []byte, error) {
	tags := make([]uint16, len(msgs))
	chs := make([]chan []byte, len(msgs))
	m.mu.Lock()
	select {
	case <-m.dead:
		err := m.err
		m.mu.Unlock()
		return nil, nil, fmt.Errorf("%s: connection unusable: %w", op, err)
	default:
	}
	if len(m.tags)+len(msgs) >= noTag {
		m.mu.Unlock()
		return nil, nil, fmt.Errorf("%s: %d requests in flight", op, len(m.tags))
	}
	for i, b := range msgs {
		chs[i] = make(chan []byte, 1)
		tags[i] = m.freeTagLocked()
		m.tags[tags[i]] = chs[i]
		binary.LittleEndian.PutUint16(b[5:], tags[i])
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
	}
	m.mu.Unlock()
	bufs := net.Buffers(msgs)
	m.wmu.Lock()
	_, err := bufs.WriteTo(m.nc)
	m.wmu.Unlock()
	if err != nil {
		m.nc.Close()
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return tags, chs, nil
}

// await waits for the reply of a request sent (tag, ch) and returns its
// body, flushing the request if ctx is done first, as rpc does.
func (m *Mux) await(ctx context.Context, op string, want uint8, tag uint16, ch chan []byte) ([]byte, error) {
	var msg []byte
	select {
	case msg = <-ch:
	case <-m.dead:
		return nil, m.deadErr(op)
	case <-ctx.Done():
		var err error
		if msg, err = m.flush(op, tag, ch); msg == nil {
			if err == nil {
				err = ctx.Err()
			}
			return nil, err
		}
	}
	body := msg[7:]
	switch typ := msg[4]; typ {
	case want:
		return body, nil
	case rLerror:
		return nil, parseRlerror(op, body)
	default:
		return nil, fmt.Errorf("%s: reply of type %d, want %d", op, typ, want)
	}
}

// WalkOpen walks fid along names into newfid and opens newfid with Linux
// open flags, the Tlopen sent with the Twalk. The open may wait (a listen
// file's does): ctx flushes it. When either fails, newfid is let go
// (clunked if the walk made it, and freed for NewFid) and the error is
// the walk's or the open's.
func (m *Mux) WalkOpen(ctx context.Context, fid, newfid uint32, flags uint32, names ...string) (Qid, error) {
	if len(names) > maxWalkEl {
		return Qid{}, fmt.Errorf("walk: %d names (a Twalk carries at most %d)", len(names), maxWalkEl)
	}
	w := begin9(tWalk)
	w = binary.LittleEndian.AppendUint32(w, fid)
	w = binary.LittleEndian.AppendUint32(w, newfid)
	w = binary.LittleEndian.AppendUint16(w, uint16(len(names)))
	for _, n := range names {
		w = appendString(w, n)
	}
	o := begin9(tLopen)
	o = binary.LittleEndian.AppendUint32(o, newfid)
	o = binary.LittleEndian.AppendUint32(o, flags)
	tags, chs, err := m.sendAll("walk", w, o)
	if err != nil {
		return Qid{}, err
	}
	// The walk is answered at once; the open perhaps later.
	reply, werr := m.await(context.Background(), "walk", tWalk+1, tags[0], chs[0])
	if werr == nil {
		qids, err := parseRwalk(reply)
		switch {
		case err != nil:
			werr = fmt.Errorf("walk: %w", err)
		case len(qids) < len(names):
			werr = &Error{Op: "walk " + names[len(qids)], Errno: syscall.ENOENT}
		}
	}
	if werr != nil {
		m.await(context.Background(), "lopen", tLopen+1, tags[1], chs[1]) // fails: no newfid
		m.FreeFid(newfid)
		return Qid{}, werr
	}
	reply, err = m.await(ctx, "lopen", tLopen+1, tags[1], chs[1])
	if err != nil {
		m.Clunk(newfid)
		return Qid{}, err
	}
	d := decoder{b: reply}
	q := d.qid()
	d.u32() // iounit
	return q, d.done()
}

// ClunkAll clunks fids with their Tclunks in one write, and frees their
// numbers for NewFid. It returns the first error.
func (m *Mux) ClunkAll(fids ...uint32) error {
	msgs := make([][]byte, len(fids))
	for i, fid := range fids {
		msgs[i] = binary.LittleEndian.AppendUint32(begin9(tClunk), fid)
	}
	tags, chs, err := m.sendAll("clunk", msgs...)
	for i, fid := range fids {
		if tags != nil {
			if _, cerr := m.await(context.Background(), "clunk", tClunk+1, tags[i], chs[i]); err == nil {
				err = cerr
			}
		}
		m.FreeFid(fid)
	}
	return err
}
