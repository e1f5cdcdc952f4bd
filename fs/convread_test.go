package fs

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"

	"github.com/knusbaum/go9p/proto"
)

// openData makes a raw session (9P2000.L or 9P2000) with fid 1 the ctl of
// conversation 0, connected to the peer's port 7 from port 5000, and fid 2
// its data file, open.
func (e *env) openData(t *testing.T, l bool) rawSession {
	t.Helper()
	e.knowPeer(t)
	s := e.convSession(t, l, "connect 192.168.69.100!7 5000")
	s.walkOpenFid(t, 2, "tap0", "udp", "0", "data")
	if m, err := s.recv(hangGuard); err != nil || binary.LittleEndian.Uint16(m[5:]) != 5 || (m[4] != lRlopen && m[4] != proto.Ropen) {
		t.Fatalf("open data: %x, %v", m, err)
	}
	return s
}

// rread is an Rread (the same in both dialects): its tag and data.
func rread(t *testing.T, m []byte) (uint16, string) {
	t.Helper()
	if len(m) < 11 || m[4] != msgRread || int(binary.LittleEndian.Uint32(m[7:])) != len(m)-11 {
		t.Fatalf("want an Rread, got %x", m)
	}
	return binary.LittleEndian.Uint16(m[5:]), string(m[11:])
}

// Several reads of one data file in flight, some waiting in its queue and
// some answered in the read loop: the oldest read gets the oldest
// datagram, and the replies go out in the datagrams' order.
func TestConvReadsInOrder(t *testing.T) {
	for _, l := range []bool{false, true} {
		t.Run(dialectName(l), func(t *testing.T) {
			e := newEnv(t)
			s := e.openData(t, l)
			// 8 reads wait (the queue), then 8 datagrams come at once.
			var reqs []byte
			for i := range 8 {
				if l {
					reqs = append(reqs, lmsgBytes(lTread, uint16(100+i), uint32(2), uint64(0), uint32(8192))...)
				} else {
					reqs = append(reqs, (&proto.TRead{Header: hdr(proto.Tread, uint16(100+i)), Fid: 2, Count: 8192}).Compose()...)
				}
			}
			s.send(reqs)
			if m, err := s.recv(50 * time.Millisecond); err == nil {
				t.Fatalf("a read with nothing queued answered: %x", m)
			}
			for i := range 8 {
				e.inject("tap0", udpFromPeer(7, 5000, fmt.Sprintf("d%d", i)))
			}
			for i := range 8 {
				m, err := s.recv(hangGuard)
				if err != nil {
					t.Fatal(err)
				}
				if tag, data := rread(t, m); tag != uint16(100+i) || data != fmt.Sprintf("d%d", i) {
					t.Fatalf("reply %d: tag %d %q, want tag %d d%d", i, tag, data, 100+i, i)
				}
			}
			// Datagrams queued first, then reads: answered in the read
			// loop, in order; the reads beyond them wait, and get the
			// datagrams that come next, in order.
			for i := 8; i < 12; i++ {
				e.inject("tap0", udpFromPeer(7, 5000, fmt.Sprintf("d%d", i)))
			}
			h, _ := e.st.Host("tap0")
			if !waitFor(hangGuard, func() bool {
				ci, _ := h.ConvInfo(e.udpConvs(t)[0])
				return strings.Contains(ci.Status, " rxq 4 ")
			}) {
				t.Fatal("the datagrams were not queued")
			}
			for i := range 6 {
				s.treadFid(uint16(200+i), 2, 8192)
			}
			for i := 8; i < 12; i++ {
				m, err := s.recv(hangGuard)
				if err != nil {
					t.Fatal(err)
				}
				if tag, data := rread(t, m); tag != uint16(200+i-8) || data != fmt.Sprintf("d%d", i) {
					t.Fatalf("reply for d%d: tag %d %q", i, tag, data)
				}
			}
			for i := 12; i < 14; i++ {
				e.inject("tap0", udpFromPeer(7, 5000, fmt.Sprintf("d%d", i)))
				m, err := s.recv(hangGuard)
				if err != nil {
					t.Fatal(err)
				}
				if tag, data := rread(t, m); tag != uint16(200+i-8) || data != fmt.Sprintf("d%d", i) {
					t.Fatalf("reply for d%d: tag %d %q", i, tag, data)
				}
			}
		})
	}
}

// Tflush of a read in the middle of the queue: Rflush at once, and the
// reads before and after it get the datagrams, in order.
func TestConvQueuedReadFlush(t *testing.T) {
	for _, l := range []bool{false, true} {
		t.Run(dialectName(l), func(t *testing.T) {
			e := newEnv(t)
			s := e.openData(t, l)
			for i := range 3 {
				s.treadFid(uint16(10+i), 2, 8192)
			}
			s.expectFlushed(t, 20, 11)
			e.inject("tap0", udpFromPeer(7, 5000, "one"))
			e.inject("tap0", udpFromPeer(7, 5000, "two"))
			for _, want := range []struct {
				tag  uint16
				data string
			}{{10, "one"}, {12, "two"}} {
				m, err := s.recv(hangGuard)
				if err != nil {
					t.Fatal(err)
				}
				if tag, data := rread(t, m); tag != want.tag || data != want.data {
					t.Fatalf("tag %d %q, want tag %d %q", tag, data, want.tag, want.data)
				}
			}
			if m, err := s.recv(100 * time.Millisecond); err == nil {
				t.Fatalf("after the two replies: %x", m)
			}
			// The flushed tag is free: a read may use it.
			s.treadFid(11, 2, 8192)
			e.inject("tap0", udpFromPeer(7, 5000, "three"))
			if m, err := s.recv(hangGuard); err != nil {
				t.Fatal(err)
			} else if tag, data := rread(t, m); tag != 11 || data != "three" {
				t.Fatalf("tag %d %q", tag, data)
			}
		})
	}
}

// Reads waiting when their file is clunked end with 0 bytes (the
// conversation lives on: its ctl is open), and the pump that served them
// ends; a session reset (Tversion) takes its reads without replies.
func TestConvQueuedReadsEnd(t *testing.T) {
	e := newEnv(t)
	s := e.openData(t, true)
	before := goroutines()
	s.treadFid(10, 2, 8192)
	s.treadFid(11, 2, 8192)
	if m, err := s.recv(50 * time.Millisecond); err == nil {
		t.Fatalf("a read with nothing queued answered: %x", m)
	}
	s.send(lmsgBytes(lTclunk, 12, uint32(2)))
	got := map[uint16]string{}
	for range 3 {
		m, err := s.recv(hangGuard)
		if err != nil {
			t.Fatal(err)
		}
		tag := binary.LittleEndian.Uint16(m[5:])
		switch {
		case m[4] == lRclunk && tag == 12:
			got[tag] = "clunked"
		case m[4] == msgRread:
			_, data := rread(t, m)
			got[tag] = "read " + data
		default:
			t.Fatalf("unexpected %x", m)
		}
	}
	if got[10] != "read " || got[11] != "read " || got[12] != "clunked" {
		t.Errorf("replies %v, want two reads of 0 bytes and the clunk", got)
	}
	if !waitFor(hangGuard, func() bool { return goroutines() <= before }) {
		t.Errorf("goroutines: %d before the reads, %d after", before, goroutines())
	}
	if n := len(e.udpConvs(t)); n != 1 {
		t.Errorf("%d conversations, want the one whose ctl is open", n)
	}

	// Reads waiting at a Tversion get no reply; the new session works.
	s.walkOpenFid(t, 3, "tap0", "udp", "0", "data")
	s.expect(lRlopen, 5)
	s.treadFid(13, 3, 8192)
	s.treadFid(14, 3, 8192)
	s.send(lmsgBytes(msgTversion, noTag, uint32(8192+24), "9P2000.L"))
	m, err := s.recv(hangGuard)
	if err != nil || m[4] != msgRversion {
		t.Fatalf("after Tversion: %x, %v", m, err)
	}
	if m, err := s.recv(100 * time.Millisecond); err == nil {
		t.Fatalf("after Rversion: %x", m)
	}
	if !waitFor(hangGuard, func() bool { return goroutines() <= before }) {
		t.Errorf("goroutines: %d before the reads, %d after the reset", before, goroutines())
	}
	if !waitFor(hangGuard, func() bool { return len(e.udpConvs(t)) == 0 }) {
		t.Errorf("conversations left after the reset: %v", e.udpConvs(t))
	}
}

// Queued reads count among a connection's outstanding requests: one over
// the bound gets EAGAIN at once, and the others stay queued.
func TestConvQueuedReadsBound(t *testing.T) {
	e := newEnv(t)
	s := e.openData(t, true)
	var reqs []byte
	for i := range maxOutstanding {
		reqs = append(reqs, lmsgBytes(lTread, uint16(i), uint32(2), uint64(0), uint32(64))...)
	}
	s.send(reqs)
	s.treadFid(maxOutstanding, 2, 64)
	s.expectLerror(maxOutstanding, syscall.EAGAIN)
	e.inject("tap0", udpFromPeer(7, 5000, "first"))
	if m, err := s.recv(hangGuard); err != nil {
		t.Fatal(err)
	} else if tag, data := rread(t, m); tag != 0 || data != "first" {
		t.Fatalf("tag %d %q, want the oldest read", tag, data)
	}
}

// ninep's Reader against the server: the datagrams come back in order
// whether they come before the reads or after, a Read whose context ends
// leaves its read in flight for the next, and Close flushes what is in
// flight, leaving the session usable and nothing queued on the server.
func TestReaderOverMux(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ninep.NewMux(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	root := m.NewFid()
	if _, err := m.Attach(ctx, root, "root", "", 0); err != nil {
		t.Fatal(err)
	}
	open := func(path ...string) uint32 {
		t.Helper()
		fid := m.NewFid()
		if _, err := m.Walk(ctx, root, fid, path...); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lopen(ctx, fid, syscall.O_RDWR); err != nil {
			t.Fatal(err)
		}
		return fid
	}
	ctl := open("tap0", "udp", "clone")
	if _, err := m.Write(ctx, ctl, 0, []byte("connect 192.168.69.100!7 5000")); err != nil {
		t.Fatal(err)
	}
	data := open("tap0", "udp", "0", "data")
	before := goroutines()
	r := m.NewReader(data, 0, 100, 4)
	buf := make([]byte, 100)
	next := 0
	expect := func(n int) {
		t.Helper()
		for range n {
			k, err := r.Read(ctx, buf)
			if err != nil || string(buf[:k]) != fmt.Sprint(next) {
				t.Fatalf("read %q, %v, want %d", buf[:k], err, next)
			}
			next++
		}
	}
	if r.Ready() {
		t.Error("a new Reader is ready")
	}
	sent := 0
	inject := func(n int) {
		for range n {
			e.inject("tap0", udpFromPeer(7, 5000, fmt.Sprint(sent)))
			sent++
		}
	}
	inject(10) // more than the reads in flight
	expect(10)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if k, err := r.Read(short, buf); err != context.DeadlineExceeded {
		t.Fatalf("a read with nothing there: %d, %v", k, err)
	}
	cancel()
	inject(3)
	if !waitFor(hangGuard, r.Ready) {
		t.Fatal("not ready with datagrams there")
	}
	expect(3)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(ctx, buf); err == nil {
		t.Error("a read after Close")
	}
	if !waitFor(hangGuard, func() bool { return goroutines() <= before }) {
		t.Errorf("goroutines: %d before the reader, %d after it closed", before, goroutines())
	}
	// Nothing of the flushed reads is left: the next datagram goes to
	// the next read.
	inject(1)
	if k, err := m.Read(ctx, data, 0, buf); err != nil || string(buf[:k]) != fmt.Sprint(next) {
		t.Fatalf("read after Close: %q, %v, want %d", buf[:k], err, next)
	}
}

// A client whose queued reads are answered but which takes no replies
// holds up nothing but itself: while its connection waits to write, the
// host answers pings, also with a read of the client's in hand in the
// read loop (which takes the host's lock, but never the connection's
// write lock under it); the client is dropped at the write timeout and
// leaves nothing behind. (A pipe, as in TestClientNotReadingReplies.)
func TestConvQueuedReadsClientNotReading(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	e.srv.writeTimeout = 2 * time.Second
	time.Sleep(50 * time.Millisecond)
	baseG := goroutines()
	srvEnd, client := net.Pipe()
	defer client.Close()
	e.srv.serveConn(srvEnd)
	r := &raw{t: t, nc: client, r: bufio.NewReader(client)}
	r.send(lmsgBytes(msgTversion, noTag, uint32(8192), "9P2000.L"))
	r.expect(msgRversion, noTag)
	r.send(lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0)))
	r.expect(lRattach, 1)
	r.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(3), "tap0", "udp", "clone"))
	r.expect(lRwalk, 2)
	r.send(lmsgBytes(lTlopen, 3, uint32(1), uint32(2)))
	r.expect(lRlopen, 3)
	cmd := "connect 192.168.69.100!7 5000"
	r.send(lmsgBytes(lTwrite, 4, uint32(1), uint64(0), uint32(len(cmd)), []byte(cmd)))
	r.expect(lRwrite, 4)
	r.send(lmsgBytes(lTwalk, 5, uint32(0), uint32(2), uint16(4), "tap0", "udp", "0", "data"))
	r.expect(lRwalk, 5)
	r.send(lmsgBytes(lTlopen, 6, uint32(2), uint32(2)))
	r.expect(lRlopen, 6)
	for i := range 5 {
		r.send(lmsgBytes(lTread, uint16(10+i), uint32(2), uint64(0), uint32(100)))
	}
	// From here on nothing is read: the replies cannot go out.
	for i := range 5 {
		e.inject("tap0", udpFromPeer(7, 5000, fmt.Sprint(i)))
	}
	go func() {
		client.SetWriteDeadline(time.Now().Add(e.srv.writeTimeout))
		client.Write(lmsgBytes(lTread, 20, uint32(2), uint64(0), uint32(100)))
	}()
	e.inject("tap0", udpFromPeer(7, 5000, "more"))
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 0 }) {
		t.Fatalf("%d reads not answered (their replies held back)", e.outstanding())
	}
	e.drainPeer("tap0")
	for i := range 3 {
		start := time.Now()
		e.inject("tap0", echoRequest(uint16(1+i)))
		select {
		case <-e.peer("tap0").frames:
		case <-time.After(e.srv.writeTimeout / 2):
			t.Fatalf("ping %d not answered in %v while a client took no replies", i, time.Since(start))
		}
	}
	if !waitFor(5*time.Second, func() bool { return e.conns() == 0 }) {
		t.Fatalf("a client that reads nothing is still connected after 5s: %d requests outstanding", e.outstanding())
	}
	if !waitFor(time.Second, func() bool { return goroutines() <= baseG && len(e.udpConvs(t)) == 0 }) {
		t.Errorf("%d goroutines (baseline %d), conversations %v", goroutines(), baseG, e.udpConvs(t))
	}
}

// A Reader sharing its session with other requests beyond the server's
// bound on outstanding requests: the reads refused with EAGAIN took
// nothing, and the Reader goes on with fewer in flight, its datagrams in
// order.
func TestReaderOverBound(t *testing.T) {
	e := newEnv(t)
	e.knowPeer(t)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ninep.NewMux(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	root := m.NewFid()
	if _, err := m.Attach(ctx, root, "root", "", 0); err != nil {
		t.Fatal(err)
	}
	open := func(path ...string) uint32 {
		t.Helper()
		fid := m.NewFid()
		if _, err := m.Walk(ctx, root, fid, path...); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lopen(ctx, fid, syscall.O_RDWR); err != nil {
			t.Fatal(err)
		}
		return fid
	}
	var data [2]uint32
	for i, port := range []int{5000, 5001} {
		ctl := open("tap0", "udp", "clone")
		if _, err := m.Write(ctx, ctl, 0, []byte(fmt.Sprintf("connect 192.168.69.100!7 %d", port))); err != nil {
			t.Fatal(err)
		}
		data[i] = open("tap0", "udp", fmt.Sprint(i), "data")
	}
	// All but 2 of the session's places taken by reads of conversation 0:
	// fewer than a Reader starts with.
	const hogs = maxOutstanding - 2
	var wg sync.WaitGroup
	for range hogs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Read(ctx, data[0], 0, make([]byte, 100))
		}()
	}
	if !waitFor(hangGuard, func() bool { return e.outstanding() == hogs }) {
		t.Fatalf("%d requests outstanding, want %d", e.outstanding(), hogs)
	}
	// The Reader's first reads wait, more of them than there is room
	// for: it keeps to the room, and gets every datagram, in order.
	r := m.NewReader(data[1], 0, 100, 64)
	buf := make([]byte, 100)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := r.Read(short, buf); err != context.DeadlineExceeded {
		t.Fatalf("a read with nothing there: %v", err)
	}
	cancel()
	if !waitFor(hangGuard, func() bool { return e.outstanding() == maxOutstanding }) {
		t.Errorf("%d requests outstanding, want the bound, %d", e.outstanding(), maxOutstanding)
	}
	for i := range 30 {
		e.inject("tap0", udpFromPeer(7, 5001, fmt.Sprint(i)))
		k, err := r.Read(ctx, buf)
		if err != nil || string(buf[:k]) != fmt.Sprint(i) {
			t.Fatalf("read %q, %v, want %d", buf[:k], err, i)
		}
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if got := e.outstanding(); got != hogs {
		t.Errorf("%d requests outstanding after the Reader closed, want the %d others", got, hogs)
	}
	m.Close()
	wg.Wait()
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 0 }) {
		t.Errorf("%d requests outstanding after the session ended", e.outstanding())
	}
}
