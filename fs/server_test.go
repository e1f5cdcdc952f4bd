package fs

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"github.com/knusbaum/go9p/proto"
)

// outstanding counts the requests in progress on all connections.
func (e *env) outstanding() int {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	n := 0
	for c := range e.srv.conns {
		c.mu.Lock()
		n += len(c.tags)
		c.mu.Unlock()
	}
	return n
}

func (e *env) conns() int {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	return len(e.srv.conns)
}

// dialect9PL sets up a raw session of either dialect with fid 1 open on
// tap0/frames, and says how to send a Tread and a Tflush in it.
type rawSession struct {
	*raw
	l bool
}

func (e *env) framesSession(t *testing.T, l bool) rawSession {
	t.Helper()
	if l {
		r := e.sessionL(t)
		r.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "frames"))
		r.expect(lRwalk, 2)
		r.send(lmsgBytes(lTlopen, 3, uint32(1), uint32(0)))
		r.expect(lRlopen, 3)
		return rawSession{r, true}
	}
	r := e.session9P(t, "nobody")
	if fc := r.walkOpen(1, proto.Oread, "tap0", "frames"); rerr(fc) != "" {
		t.Fatal(rerr(fc))
	}
	return rawSession{r, false}
}

func (s rawSession) tread(tag uint16, count uint32) {
	if s.l {
		s.send(lmsgBytes(lTread, tag, uint32(1), uint64(0), count))
	} else {
		s.send((&proto.TRead{Header: hdr(proto.Tread, tag), Fid: 1, Count: count}).Compose())
	}
}

func (s rawSession) tflush(tag, old uint16) { s.send(lmsgBytes(msgTflush, tag, old)) }

func dialectName(l bool) string {
	if l {
		return "9P2000.L"
	}
	return "9P2000"
}

// Tflush of a read blocked on an idle host: Rflush at once, and never a
// reply to the flushed tag afterwards.
func TestFlushBlockedRead(t *testing.T) {
	for _, l := range []bool{false, true} {
		t.Run(dialectName(l), func(t *testing.T) {
			e := newEnv(t)
			s := e.framesSession(t, l)
			s.tread(10, 8192)
			if m, err := s.recv(50 * time.Millisecond); err == nil {
				t.Fatalf("a read on an idle host answered %x", m)
			}
			// How soon Rflush comes is a speed, which a test does not
			// judge: it must come, before anything else.
			start := time.Now()
			s.tflush(11, 10)
			m, err := s.recv(hangGuard)
			took := time.Since(start)
			if err != nil || m[4] != msgRflush || binary.LittleEndian.Uint16(m[5:]) != 11 {
				t.Fatalf("after Tflush: %x, %v", m, err)
			}
			t.Logf("Rflush after %v", took)
			e.inject("tap0", quietFrame(1))
			if m, err := s.recv(300 * time.Millisecond); err == nil {
				t.Fatalf("after Rflush the server sent %x", m)
			}
			// The tag is free again, the fid still open, the connection fine.
			s.tread(10, 8192)
			if m, err := s.recv(hangGuard); err != nil || binary.LittleEndian.Uint16(m[5:]) != 10 || binary.LittleEndian.Uint32(m[7:]) == 0 {
				t.Fatalf("read after the flush: %x, %v", m, err)
			}
			// Flushing a tag that is not in progress answers at once.
			s.tflush(12, 999)
			if m, err := s.recv(hangGuard); err != nil || m[4] != msgRflush {
				t.Fatalf("flush of an idle tag: %x, %v", m, err)
			}
		})
	}
}

// Flushes racing with replies: a reply to the flushed tag may come before
// Rflush, never after.
func TestFlushRace(t *testing.T) {
	for _, l := range []bool{false, true} {
		t.Run(dialectName(l), func(t *testing.T) {
			e := newEnv(t)
			s := e.framesSession(t, l)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					e.peer("tap0").pair.WriteFrame(quietFrame(byte(i)))
					time.Sleep(50 * time.Microsecond)
				}
			}()
			defer func() { close(stop); wg.Wait() }()
			before := 0
			for i := range 300 {
				// Every round has its own tags, so that a late reply is seen as one.
				tag, ftag := uint16(100+i), uint16(1000+i)
				s.tread(tag, 200)
				if i%3 == 0 {
					time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				}
				s.tflush(ftag, tag)
				for flushed := false; !flushed; {
					m, err := s.recv(hangGuard)
					if err != nil {
						t.Fatalf("round %d: %v", i, err)
					}
					switch got := binary.LittleEndian.Uint16(m[5:]); {
					case m[4] == msgRflush && got == ftag:
						flushed = true
					case got == tag:
						before++
					default:
						t.Fatalf("round %d: %x (tag %d) while waiting for tag %d or Rflush %d", i, m, got, tag, ftag)
					}
				}
			}
			s.tread(10, 200)
			m, err := s.recv(hangGuard)
			if err != nil || binary.LittleEndian.Uint16(m[5:]) != 10 {
				t.Fatalf("after the race: %x, %v", m, err)
			}
			t.Logf("%d of 300 reads answered before their Rflush", before)
		})
	}
}

// Disconnect with 100 blocked readers: every goroutine and capture
// subscription goes. (How soon is logged: a speed, not judged here.)
func TestDisconnectReleasesReaders(t *testing.T) {
	e := newEnv(t)
	time.Sleep(50 * time.Millisecond) // let the setup's goroutines settle
	baseG, baseS := goroutines(), e.subscribers("tap0")
	c, root := e.dialL(t)
	const readers = 100
	var wg sync.WaitGroup
	for range readers {
		f := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.ReadAt(make([]byte, 4096), 0)
		}()
	}
	if !waitFor(hangGuard, func() bool { return e.outstanding() == readers }) {
		t.Fatalf("%d reads outstanding, want %d", e.outstanding(), readers)
	}
	if got := e.subscribers("tap0"); got != baseS+readers {
		t.Fatalf("%d subscribers with %d readers open, want %d", got, readers, baseS+readers)
	}
	start := time.Now()
	c.Close()
	ok := waitFor(hangGuard, func() bool { return goroutines() <= baseG && e.subscribers("tap0") == baseS })
	t.Logf("released in %v: goroutines %d (baseline %d), subscribers %d (baseline %d)",
		time.Since(start), goroutines(), baseG, e.subscribers("tap0"), baseS)
	if !ok {
		t.Errorf("%v after the disconnect: %d goroutines (baseline %d), %d subscribers (baseline %d)",
			hangGuard, goroutines(), baseG, e.subscribers("tap0"), baseS)
	}
	wg.Wait()
}

// 200 blocked readers on one connection do not hold up other requests.
func TestManyBlockedReadersOneConnection(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	const readers = 200
	for range readers {
		f := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
		go f.ReadAt(make([]byte, 4096), 0)
	}
	if !waitFor(hangGuard, func() bool { return e.outstanding() == readers }) {
		t.Fatalf("%d reads outstanding, want %d", e.outstanding(), readers)
	}
	done := make(chan string, 1)
	go func() { done <- readAllL(t, root, "tap0", "addr") }()
	select {
	case got := <-done:
		if got != "02:00:00:00:00:01\n192.168.69.1/24\n" {
			t.Errorf("addr reads %q", got)
		}
	case <-time.After(hangGuard):
		t.Fatalf("walk/read of addr does not answer with %d blocked readers", readers)
	}
	// And the readers are still served when frames come.
	e.inject("tap0", quietFrame(1))
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 0 }) {
		t.Errorf("%d readers still blocked after a frame", e.outstanding())
	}
}

// Beyond maxOutstanding requests, the next one gets EAGAIN at once.
func TestTooManyOutstanding(t *testing.T) {
	e := newEnv(t)
	s := e.framesSession(t, true)
	for i := range maxOutstanding {
		s.tread(uint16(1000+i), 100)
	}
	if !waitFor(hangGuard, func() bool { return e.outstanding() == maxOutstanding }) {
		t.Fatalf("%d outstanding, want %d", e.outstanding(), maxOutstanding)
	}
	s.tread(5000, 100)
	s.expectLerror(5000, syscall.EAGAIN)
	// The others are still blocked and the connection still works: a
	// request answered at once holds nothing and is not refused.
	s.send(lmsgBytes(lTstatfs, 5001, uint32(0)))
	s.expect(lRstatfs, 5001)
	// A flush still gets through, so that a reader can be interrupted.
	s.tflush(5002, 1000)
	s.expect(msgRflush, 5002)
	if got := e.outstanding(); got != maxOutstanding-1 {
		t.Errorf("%d outstanding after a flush, want %d", got, maxOutstanding-1)
	}
	s.nc.Close()
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 0 && e.subscribers("tap0") == 0 }) {
		t.Errorf("after disconnect: %d outstanding, %d subscribers", e.outstanding(), e.subscribers("tap0"))
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		version   string
		msize     uint32
		want      string
		wantMsize uint32
	}{
		{"9P2000.L", 1 << 20, "9P2000.L", maxMsizeL},
		{"9P2000.L.Google.7", 65536, "9P2000.L", 65536},
		{"9P2000", 1 << 20, "9P2000", maxMsize9P},
		{"9P2000.u", 8192, "9P2000", 8192},
		{"9P3000", 8192, "unknown", 8192},
		{"", 8192, "unknown", 8192},
		{"9P2000.L", 100, "unknown", 100},
	} {
		r := e.dialRaw(t)
		r.send(lmsgBytes(msgTversion, noTag, tc.msize, tc.version))
		m := r.expect(msgRversion, noTag)
		if got, msize := string(m[13:]), binary.LittleEndian.Uint32(m[7:]); got != tc.want || msize != tc.wantMsize {
			t.Errorf("Tversion %q msize %d: Rversion %q msize %d, want %q msize %d", tc.version, tc.msize, got, msize, tc.want, tc.wantMsize)
		}
		if tc.want == "unknown" {
			r.send(lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0)))
			r.expect(msgRerror, 1)
		}
	}
	// Before Tversion nothing else is served.
	r := e.dialRaw(t)
	r.send(lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0)))
	r.expect(msgRerror, 1)

	// Tversion resets the session: fids are clunked, streams closed.
	s := e.framesSession(t, true)
	if e.subscribers("tap0") != 1 {
		t.Fatalf("%d subscribers", e.subscribers("tap0"))
	}
	s.tread(7, 100)
	s.send(lmsgBytes(msgTversion, noTag, uint32(8192), "9P2000.L"))
	s.expect(msgRversion, noTag) // and no reply for tag 7
	if e.subscribers("tap0") != 0 {
		t.Errorf("%d subscribers after Tversion", e.subscribers("tap0"))
	}
	s.send(lmsgBytes(lTclunk, 8, uint32(1)))
	s.expectLerror(8, syscall.EBADF)
}

// Garbage of every kind: the server survives and keeps serving the other
// connections.
func TestGarbage(t *testing.T) {
	e := newEnv(t)
	good := e.session9P(t, "glenda")
	check := func(what string) {
		t.Helper()
		if fc := good.walkOpen(9, proto.Oread, "tap0", "addr"); rerr(fc) != "" {
			t.Fatalf("after %s: %s", what, rerr(fc))
		}
		if got := good.readAll(9); got != "02:00:00:00:00:01\n192.168.69.1/24\n" {
			t.Fatalf("after %s: addr reads %q", what, got)
		}
		good.clunk(9)
	}
	// closed waits until the server has closed a connection (reads EOF).
	// A reset counts: the server closed with our garbage still unread.
	closed := func(r *raw) bool {
		r.nc.SetReadDeadline(time.Now().Add(hangGuard))
		_, err := io.Copy(io.Discard, r.r)
		return err == nil || errors.Is(err, syscall.ECONNRESET)
	}
	// garbage writes without failing the test: the server may close first.
	garbage := func(r *raw, b []byte) { r.nc.Write(b) }
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		r := e.dialRaw(t)
		b := make([]byte, 1+rng.IntN(300))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		garbage(r, b)
		r.nc.(*net.TCPConn).CloseWrite()
		if !closed(r) {
			t.Errorf("random message %d: connection not closed", i)
		}
	}
	check("random bytes")
	for size := range uint32(7) {
		r := e.dialRaw(t)
		garbage(r, binary.LittleEndian.AppendUint32(nil, size))
		garbage(r, []byte{100, 0, 0, 0, 0, 0, 0, 0})
		if !closed(r) {
			t.Errorf("size %d: connection not closed", size)
		}
	}
	check("sizes 0..6")
	for _, l := range []bool{false, true} {
		s := e.framesSession(t, l)
		garbage(s.raw, binary.LittleEndian.AppendUint32(nil, 70000)) // > msize
		garbage(s.raw, make([]byte, 100))
		if !closed(s.raw) {
			t.Errorf("%s: size above msize: connection not closed", dialectName(l))
		}
	}
	r := e.dialRaw(t)
	garbage(r, binary.LittleEndian.AppendUint32(nil, versionMsize+1))
	if !closed(r) {
		t.Error("size above the Tversion limit: connection not closed")
	}
	check("sizes above msize")

	// A Twrite whose count exceeds its data, and other lies inside a
	// well-framed message: an error for that request, the session goes on.
	s9 := e.session9P(t, "glenda")
	s9.walkOpen(1, proto.Owrite, "tap0", "ctl")
	w := (&proto.TWrite{Header: hdr(proto.Twrite, 7), Fid: 1, Count: 4, Data: []byte("up\n\n")}).Compose()
	binary.LittleEndian.PutUint32(w[19:], 1000)
	lies := [][]byte{
		w,
		lmsgBytes(proto.Twalk, 7, uint32(0), uint32(2), uint16(60000)),
		lmsgBytes(proto.Tattach, 7, uint32(3)),
		lmsgBytes(proto.Topen, 7, uint32(1)),
		end(append(lmsgBytes(proto.Tclunk, 7, uint32(1)), 0)), // a trailing byte
		lmsgBytes(proto.Tstat, 7, uint32(1), uint32(5)),
		lmsgBytes(proto.Twstat, 7, uint32(1), uint16(200), uint16(198)),
		lmsgBytes(msgTflush, 7),
	}
	for _, m := range lies {
		s9.send(m)
		if reply := s9.expect(msgRerror, 7); len(reply) < 9 {
			t.Errorf("%x: reply %x", m, reply)
		}
	}
	if got := s9.write(1, "up\n"); rerr(got) != "" {
		t.Errorf("session after lies: %v", got)
	}
	sl := e.sessionL(t)
	sl.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "ctl"))
	sl.expect(lRwalk, 2)
	sl.send(lmsgBytes(lTlopen, 3, uint32(1), uint32(lOWronly)))
	sl.expect(lRlopen, 3)
	wl := lmsgBytes(lTwrite, 7, uint32(1), uint64(0), uint32(1000), []byte("up\n"))
	for _, m := range [][]byte{
		wl,
		lmsgBytes(lTwalk, 7, uint32(0), uint32(2), uint16(17)),
		lmsgBytes(lTwalk, 7, uint32(0), uint32(2), uint16(2), "tap0"),
		lmsgBytes(lTgetattr, 7, uint32(1)),
		lmsgBytes(lTsetattr, 7, uint32(1), uint32(8)),
		lmsgBytes(lTread, 7, uint32(1), uint64(0), uint32(5), uint8(1)),
		lmsgBytes(lTattach, 7, uint32(9), uint32(noFid), "x"),
	} {
		sl.send(m)
		sl.expectLerror(7, syscall.EBADMSG)
	}
	sl.send(lmsgBytes(lTwrite, 8, uint32(1), uint64(0), uint32(3), []byte("up\n")))
	sl.expect(lRwrite, 8)

	// Truncated messages: the size promises more than ever comes.
	for _, l := range []bool{false, true} {
		s := e.framesSession(t, l)
		s.tread(3, 100) // a blocked read, to be cleaned up too
		garbage(s.raw, []byte{100, 0, 0, 0, 116, 1, 0, 1, 0})
		s.nc.(*net.TCPConn).CloseWrite()
		if !closed(s.raw) {
			t.Errorf("%s: truncated message: connection not closed", dialectName(l))
		}
	}
	// A reused tag closes the connection: its replies could not be told apart.
	s := e.framesSession(t, true)
	s.tread(3, 100)
	garbage(s.raw, lmsgBytes(lTread, 3, uint32(1), uint64(0), uint32(100)))
	if !closed(s.raw) {
		t.Error("reused tag: connection not closed")
	}
	check("everything")
	if !waitFor(hangGuard, func() bool { return e.subscribers("tap0") == 0 }) {
		t.Errorf("%d subscriptions left by broken connections", e.subscribers("tap0"))
	}
}

// A client that sends requests and never reads the replies is dropped when
// a reply cannot be written in time, and leaves nothing behind. (A pipe:
// over loopback TCP the buffers would take tens of megabytes to fill.)
func TestClientNotReadingReplies(t *testing.T) {
	e := newEnv(t)
	e.srv.writeTimeout = 300 * time.Millisecond
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
	for i := range 5 {
		fid := uint32(1 + i)
		r.send(lmsgBytes(lTwalk, 2, uint32(0), fid, uint16(2), "tap0", "frames"))
		r.expect(lRwalk, 2)
		r.send(lmsgBytes(lTlopen, 3, fid, uint32(0)))
		r.expect(lRlopen, 3)
		r.send(lmsgBytes(lTread, uint16(10+i), fid, uint64(0), uint32(4096)))
	}
	// From here on nothing is read: the replies to these cannot go out.
	start := time.Now()
	for i := range 20 {
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write(lmsgBytes(lTstatfs, uint16(100+i), uint32(0)))
	}
	e.inject("tap0", quietFrame(1)) // and the blocked reads now have data
	if !waitFor(hangGuard, func() bool { return e.conns() == 0 }) {
		t.Fatalf("a client that reads nothing is still connected after %v: %d requests outstanding", hangGuard, e.outstanding())
	}
	t.Logf("dropped after %v (write timeout %v)", time.Since(start), e.srv.writeTimeout)
	if !waitFor(hangGuard, func() bool { return goroutines() <= baseG && e.subscribers("tap0") == 0 }) {
		t.Errorf("%d goroutines (baseline %d), %d subscribers", goroutines(), baseG, e.subscribers("tap0"))
	}
}

// Closing the server ends every reader (end of file for the client) and
// frees what the connections held.
func TestServerClose(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	f := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
	got := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(make([]byte, 100), 0)
		got <- err
	}()
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 1 }) {
		t.Fatal("read not outstanding")
	}
	e.srv.Close()
	select {
	case err := <-got:
		if err == nil {
			t.Error("read returned no error after the server closed")
		}
	case <-time.After(hangGuard):
		t.Fatalf("reader still blocked %v after Close", hangGuard)
	}
	if e.subscribers("tap0") != 0 {
		t.Errorf("%d subscribers after Close", e.subscribers("tap0"))
	}
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Error("the listener still accepts after Close")
	}
}

// Shutdown answers a read blocked on a stream with end of file (not a
// dropped connection), and so every later read of it, then closes.
func TestServerShutdown(t *testing.T) {
	e := newEnv(t)
	s := e.framesSession(t, true)
	s.tread(10, 4096)
	if !waitFor(hangGuard, func() bool { return e.outstanding() == 1 }) {
		t.Fatal("read not outstanding")
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	if m := s.expect(lRread, 10); binary.LittleEndian.Uint32(m[7:]) != 0 {
		t.Errorf("blocked read answered with %d bytes, want 0 (end of file)", binary.LittleEndian.Uint32(m[7:]))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Shutdown did not return")
	}
	// A closed connection reads end of file at once; an open one would
	// wait out the deadline.
	if _, err := s.recv(hangGuard); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the connection is still open after Shutdown (%v)", err)
	}
	if e.subscribers("tap0") != 0 || e.conns() != 0 {
		t.Errorf("after Shutdown: %d subscribers, %d connections", e.subscribers("tap0"), e.conns())
	}
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// Beyond the server's bound on connections, a new one is closed at once;
// the others keep working, and a freed place can be taken again.
func TestConnectionBound(t *testing.T) {
	e := newEnv(t)
	e.srv.mu.Lock()
	e.srv.maxConns = 3
	e.srv.mu.Unlock()
	var rs []*raw
	for range 3 {
		rs = append(rs, e.sessionL(t))
	}
	extra := e.dialRaw(t)
	extra.send(lmsgBytes(msgTversion, noTag, uint32(8192), "9P2000.L"))
	if m, err := extra.recv(5 * time.Second); err == nil {
		t.Fatalf("connection beyond the bound answered: %x", m)
	}
	rs[0].send(lmsgBytes(lTstatfs, 2, uint32(0)))
	rs[0].expect(lRstatfs, 2)
	rs[1].nc.Close()
	if !waitFor(hangGuard, func() bool { return e.conns() == 2 }) {
		t.Fatalf("%d connections after one closed", e.conns())
	}
	e.sessionL(t)
}

// Open streams are bounded server-wide too: one more gets EMFILE, and a
// clunk frees its place.
func TestServerStreamBound(t *testing.T) {
	e := newEnv(t)
	e.srv.mu.Lock()
	e.srv.maxStreams = 2
	e.srv.mu.Unlock()
	a, b := e.sessionL(t), e.sessionL(t)
	open := func(r *raw, fid uint32, tag uint16) {
		r.send(lmsgBytes(lTwalk, tag, uint32(0), fid, uint16(2), "tap0", "frames"))
		r.expect(lRwalk, tag)
		r.send(lmsgBytes(lTlopen, tag, fid, uint32(0)))
	}
	open(a, 1, 2)
	a.expect(lRlopen, 2)
	open(b, 1, 2)
	b.expect(lRlopen, 2)
	open(b, 2, 3)
	b.expectLerror(3, syscall.EMFILE)
	a.send(lmsgBytes(lTclunk, 4, uint32(1)))
	a.expect(lRclunk, 4)
	b.send(lmsgBytes(lTlopen, 5, uint32(2), uint32(0)))
	b.expect(lRlopen, 5)
	if n := e.subscribers("tap0"); n != 2 {
		t.Errorf("%d subscribers, want 2", n)
	}
}

// Requests that arrive together are answered together: their replies go
// out in one write. (A pipe shows the writes: each Read returns at most
// one of them.)
func TestRepliesCoalesced(t *testing.T) {
	e := newEnv(t)
	srvEnd, client := net.Pipe()
	defer client.Close()
	e.srv.serveConn(srvEnd)
	r := &raw{t: t, nc: client, r: bufio.NewReader(client)}
	r.send(lmsgBytes(msgTversion, noTag, uint32(8192), "9P2000.L"))
	r.expect(msgRversion, noTag)
	var batch []byte
	batch = append(batch, lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0))...)
	batch = append(batch, lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "addr")...)
	batch = append(batch, lmsgBytes(lTclunk, 3, uint32(1))...)
	r.send(batch)
	client.SetReadDeadline(time.Now().Add(hangGuard))
	buf := make([]byte, 4096)
	n, err := client.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint8
	for b := buf[:n]; len(b) >= 7; b = b[binary.LittleEndian.Uint32(b):] {
		types = append(types, b[4])
	}
	if want := []uint8{lRattach, lRwalk, lRclunk}; string(types) != string(want) {
		t.Errorf("one write carried replies of types %v, want %v", types, want)
	}
}
