package fs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"github.com/knusbaum/go9p/proto"

	"github.com/smolfs/smolfs/devices"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/stack"
)

// The network the tests play: a peer at 192.168.69.100 on the other end of
// each host's in-memory pair.
var (
	peerMAC  = wire.MAC{0x4a, 0x49, 0x58, 0x75, 0x94, 0xf4}
	peerIP   = netip.MustParseAddr("192.168.69.100")
	hostMAC  = wire.MAC{0x02, 0, 0, 0, 0, 0x01}
	hostIP   = netip.MustParseAddr("192.168.69.1")
	hostSpec = "new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\n"
)

func testLogger() *slog.Logger {
	if os.Getenv("SMOLFS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// peer is the far end of a host's pair; what the host sends is collected.
type peer struct {
	pair   *devices.Pair
	frames chan []byte
	stop   chan struct{}
	done   chan struct{}
}

func newPeer(p *devices.Pair) *peer {
	pr := &peer{pair: p, frames: make(chan []byte, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-pr.stop:
				return
			default:
			}
			n, err := p.ReadFrame(buf, 20*time.Millisecond)
			if errors.Is(err, devices.ErrTimeout) {
				continue
			}
			if err != nil {
				return
			}
			select {
			case pr.frames <- append([]byte(nil), buf[:n]...):
			default: // nobody looks: drop
			}
		}
	}()
	return pr
}

func (p *peer) close() {
	close(p.stop)
	<-p.done
	p.pair.Close()
}

// env is a stack with host tap0 on an in-memory pair, served on a TCP
// loopback port.
type env struct {
	t    testing.TB
	st   *stack.Stack
	srv  *Server
	addr string

	mu    sync.Mutex
	peers map[string]*peer
	hosts map[string]*netcore.Host
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, peers: map[string]*peer{}, hosts: map[string]*netcore.Host{}}
	log := testLogger()
	e.st = stack.New(func(h *netcore.Host, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) (stack.Driver, error) {
		a, b, err := devices.NewPair()
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		if old := e.peers[h.Name()]; old != nil {
			old.close()
		}
		e.peers[h.Name()] = newPeer(b)
		e.hosts[h.Name()] = h
		e.mu.Unlock()
		return devices.NewDriver(h, a, onEvent, devices.WithWake(onWake)), nil
	}, log)
	if err := e.st.Ctl([]byte(hostSpec)); err != nil {
		t.Fatal(err)
	}
	// The host announces its address first; tests start after that.
	select {
	case <-e.peer("tap0").frames:
	case <-time.After(hangGuard):
		t.Fatal("tap0 sent no gratuitous ARP")
	}
	e.srv = NewServer(e.st, log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(l) }()
	t.Cleanup(func() {
		e.srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
		e.st.Close()
		e.mu.Lock()
		for _, p := range e.peers {
			p.close()
		}
		e.mu.Unlock()
	})
	return e
}

func (e *env) peer(name string) *peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peers[name]
}

func (e *env) subscribers(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hosts[name].Capture().Subscribers()
}

// arpRequest is the peer asking who has the host's address.
func arpRequest() []byte {
	b := wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: peerMAC, Type: wire.EtherTypeARP}.Append(nil)
	b = wire.ARPRepr{Op: wire.ARPRequest, SenderMAC: peerMAC, SenderIP: peerIP, TargetIP: hostIP}.Append(b)
	return wire.PadFrame(b)
}

// echoRequest is the peer pinging the host.
func echoRequest(seq uint16) []byte {
	icmp := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: 17, Seq: seq, Data: make([]byte, 56)}
	b := wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	b = wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: seq, PayloadLen: icmp.Len()}.Append(b)
	return icmp.Append(b)
}

// inject sends a frame from the peer of host name.
func (e *env) inject(name string, frame []byte) {
	e.t.Helper()
	if err := e.peer(name).pair.WriteFrame(frame); err != nil {
		e.t.Fatal(err)
	}
}

// drainPeer empties what the host has sent so far.
func (e *env) drainPeer(name string) {
	p := e.peer(name)
	for {
		select {
		case <-p.frames:
		default:
			return
		}
	}
}

// ---- the hugelgupf/p9 client (9P2000.L) ----

func (e *env) dialL(t testing.TB) (*p9.Client, p9.File) {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p9.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Attach("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, root
}

func walkOpen(t testing.TB, root p9.File, flags p9.OpenFlags, path ...string) p9.File {
	t.Helper()
	_, f, err := root.Walk(path)
	if err != nil {
		t.Fatalf("walk %v: %v", path, err)
	}
	if _, _, err := f.Open(flags); err != nil {
		t.Fatalf("open %v: %v", path, err)
	}
	return f
}

// readAllL reads a snapshot file to its end, as cat would.
func readAllL(t testing.TB, root p9.File, path ...string) string {
	t.Helper()
	f := walkOpen(t, root, p9.ReadOnly, path...)
	defer f.Close()
	var out []byte
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := f.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF || (err == nil && n == 0) {
			return string(out)
		}
		if err != nil {
			t.Fatalf("read %v: %v", path, err)
		}
	}
}

func writeL(root p9.File, data string, path ...string) error {
	_, f, err := root.Walk(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := f.Open(p9.WriteOnly); err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(data), 0)
	return err
}

// ---- raw 9P2000 frames through go9p's proto ----

type raw struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func (e *env) dialRaw(t testing.TB) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (r *raw) send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// recv reads one message whole.
func (r *raw) recv(timeout time.Duration) ([]byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(timeout))
	defer r.nc.SetReadDeadline(time.Time{})
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size < 7 || size > 1<<20 {
		return nil, fmt.Errorf("reply size %d", size)
	}
	msg := make([]byte, size)
	copy(msg, hdr[:])
	_, err := io.ReadFull(r.r, msg[4:])
	return msg, err
}

func (r *raw) call(fc proto.FCall) proto.FCall {
	r.t.Helper()
	r.send(fc.Compose())
	msg, err := r.recv(hangGuard)
	if err != nil {
		r.t.Fatalf("%s: %v", fc, err)
	}
	reply, err := proto.ParseCall(strings.NewReader(string(msg)))
	if err != nil {
		r.t.Fatalf("%s: reply %x: %v", fc, msg, err)
	}
	if reply.GetTag() != fc.GetTag() {
		r.t.Fatalf("%s: reply for tag %d", fc, reply.GetTag())
	}
	return reply
}

func tversion(msize uint32, v string) *proto.TRVersion {
	return &proto.TRVersion{Header: hdr(proto.Tversion, noTag), Msize: msize, Version: v}
}

// session9P negotiates 9P2000 and attaches fid 0 as uname.
func (e *env) session9P(t testing.TB, uname string) *raw {
	t.Helper()
	r := e.dialRaw(t)
	rv, ok := r.call(tversion(8192, "9P2000")).(*proto.TRVersion)
	if !ok || rv.Version != "9P2000" {
		t.Fatalf("Rversion = %v", rv)
	}
	if _, ok := r.call(&proto.TAttach{Header: hdr(proto.Tattach, 1), Fid: 0, Afid: noFid, Uname: uname}).(*proto.RAttach); !ok {
		t.Fatal("attach failed")
	}
	return r
}

// rerr returns the error string of a reply, or "" if it is not Rerror.
func rerr(fc proto.FCall) string {
	if e, ok := fc.(*proto.RError); ok {
		return e.Ename
	}
	return ""
}

// walkOpen9 walks fid 0 to newfid along path and opens it with mode.
func (r *raw) walkOpen(newfid uint32, mode proto.Mode, path ...string) proto.FCall {
	r.t.Helper()
	rw := r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: newfid, Nwname: uint16(len(path)), Wname: path})
	if _, ok := rw.(*proto.RWalk); !ok || int(rw.(*proto.RWalk).Nwqid) != len(path) {
		return rw
	}
	return r.call(&proto.TOpen{Header: hdr(proto.Topen, 3), Fid: newfid, Mode: mode})
}

func (r *raw) readAll(fid uint32) string {
	r.t.Helper()
	var out []byte
	for {
		rr, ok := r.call(&proto.TRead{Header: hdr(proto.Tread, 4), Fid: fid, Offset: uint64(len(out)), Count: 4096}).(*proto.RRead)
		if !ok {
			r.t.Fatalf("read fid %d failed", fid)
		}
		if rr.Count == 0 {
			return string(out)
		}
		out = append(out, rr.Data...)
	}
}

func (r *raw) clunk(fid uint32) {
	r.t.Helper()
	if _, ok := r.call(&proto.TClunk{Header: hdr(proto.Tclunk, 5), Fid: fid}).(*proto.RClunk); !ok {
		r.t.Fatalf("clunk %d failed", fid)
	}
}

// waitFor polls cond every millisecond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func goroutines() int { return runtime.NumGoroutine() }
