package main

// Tests that drive smolfs through its 9P tree, with hugelgupf/p9's 9P2000.L
// client dialled from inside the test's namespace, as a v9fs mount there
// would.

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
)

// tree is a 9P2000.L session with a smolfs server.
type tree struct {
	t    *testing.T
	c    *p9.Client
	root p9.File
}

// dialTree attaches to smolfs serve at addr ("127.0.0.1:5640" in ns, or
// unix:PATH).
func dialTree(t *testing.T, ns *testenv.Netns, addr string) *tree {
	t.Helper()
	return dialTreeVia(t, ns, addr, nil)
}

// dialTreeVia is dialTree whose client talks through wrap(connection).
func dialTreeVia(t *testing.T, ns *testenv.Netns, addr string, wrap func(net.Conn) net.Conn) *tree {
	t.Helper()
	var conn net.Conn
	var err error
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		conn, err = net.DialTimeout("unix", path, 5*time.Second)
	} else {
		// A socket made on a thread inside the namespace belongs to it for
		// good, whichever thread uses it later.
		err = ns.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
			return err
		})
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	if wrap != nil {
		conn = wrap(conn)
	}
	c, err := p9.NewClient(conn)
	if err != nil {
		conn.Close()
		t.Fatalf("9P version with %s: %v", addr, err)
	}
	root, err := c.Attach("")
	if err != nil {
		c.Close()
		t.Fatalf("9P attach to %s: %v", addr, err)
	}
	t.Cleanup(func() {
		root.Close()
		c.Close()
	})
	return &tree{t: t, c: c, root: root}
}

func (tr *tree) open(path string, flags p9.OpenFlags) (p9.File, error) {
	_, f, err := tr.root.Walk(strings.Split(path, "/"))
	if err != nil {
		return nil, err
	}
	if _, _, err := f.Open(flags); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// read reads a whole file.
func (tr *tree) read(path string) string {
	tr.t.Helper()
	f, err := tr.open(path, p9.ReadOnly)
	if err != nil {
		tr.t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var b []byte
	buf := make([]byte, 8192)
	for {
		n, err := f.ReadAt(buf, int64(len(b)))
		b = append(b, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return string(b)
		}
		if err != nil {
			tr.t.Fatalf("read %s: %v", path, err)
		}
	}
}

// write writes text to a file as `echo text > path` does (O_TRUNC).
func (tr *tree) write(path, text string) error {
	f, err := tr.open(path, p9.WriteOnly|p9.OpenFlags(unix.O_TRUNC))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte(text), 0)
	return err
}

func (tr *tree) mustWrite(path, text string) {
	tr.t.Helper()
	if err := tr.write(path, text); err != nil {
		tr.t.Fatalf("write %q to %s: %v", text, path, err)
	}
}

// servingTree is a namespace with smolfs serving tap0, the kernel's side
// configured, and a 9P session with the server.
func servingTree(t *testing.T) (*testenv.Netns, *proc, *tree) {
	t.Helper()
	ns, srv := running(t)
	return ns, srv, dialTree(t, ns, "127.0.0.1:5640")
}

func TestTreeRoot(t *testing.T) {
	_, _, tr := servingTree(t)
	if got, want := tr.read("ctl"), "new tap0 ea "+ourMAC+" add "+ourIP+"/24\n"; got != want {
		t.Errorf("/ctl reads %q, want %q", got, want)
	}
	if got := tr.read("tap0/addr"); got != ourMAC+"\n"+ourIP+"/24\n" {
		t.Errorf("/tap0/addr reads %q", got)
	}
}

func TestResolveLearnsKernelMAC(t *testing.T) {
	ns, _, tr := servingTree(t)
	ifi, err := link(ns, "tap0")
	if err != nil {
		t.Fatal(err)
	}
	kernelMAC := ifi.HardwareAddr.String()
	tr.mustWrite("tap0/arp", "resolve "+kernelIP+"\n")
	entry := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(kernelIP+" "+kernelMAC) + ` reachable \d+$`)
	var arp string
	if !waitFor(hangGuard, func() bool { arp = tr.read("tap0/arp"); return entry.MatchString(arp) }) {
		t.Errorf("after resolve %s, tap0/arp reads\n%s\nwant a line %q", kernelIP, arp, kernelIP+" "+kernelMAC+" reachable N")
	}
}

func TestGratuitousARPMovesKernelNeighbour(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _, tr := servingTree(t)
	ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, ourIP)
	const newMAC = "02:00:00:00:00:42"
	tr.mustWrite("tap0/ctl", "ea "+newMAC+"\ngarp\n")
	var neigh string
	if !waitFor(hangGuard, func() bool {
		neigh = ns.Run("ip", "neigh", "show", ourIP, "dev", "tap0")
		return strings.Contains(neigh, "lladdr "+newMAC)
	}) {
		t.Errorf("after ea %s and garp the kernel still has %q", newMAC, neigh)
	}
	if got := tr.read("tap0/addr"); !strings.HasPrefix(got, newMAC+"\n") {
		t.Errorf("tap0/addr reads %q, want it to start with %s", got, newMAC)
	}
	// The kernel now sends to the new address, and smolfs answers there.
	out := ns.Run("ping", "-c", "2", "-w", hangGuardSeconds, "-i", "0.2", ourIP)
	if bad := unanswered(out, 2); bad != nil {
		t.Errorf("ping after the change of address: %s, want each once:\n%s", strings.Join(bad, ", "), out)
	}
}

// TestShutdownEndsReaders: a reader blocked on frames sees end of file when
// smolfs serve is told to stop, and the server still exits 0.
func TestShutdownEndsReaders(t *testing.T) {
	ns, srv := running(t)
	watch := &requestWatch{typ: tread, written: make(chan struct{}), left: -1}
	tr := dialTreeVia(t, ns, "127.0.0.1:5640", func(c net.Conn) net.Conn { watch.Conn = c; return watch })
	f, err := tr.open("tap0/frames", p9.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, 4096)
		var total int
		for {
			n, err := f.ReadAt(buf, int64(total))
			total += n
			if err != nil || n == 0 {
				done <- result{total, err}
				return
			}
		}
	}()
	// The read must be blocked in the server before the signal. The
	// server reads a connection's requests in order and registers each one
	// before it reads the next: once the Tread is written, the answer to a
	// request sent after it proves the server holds the read.
	select {
	case <-watch.written:
	case <-time.After(hangGuard):
		t.Fatal("the reader's Tread was not written")
	}
	tr.read("tap0/addr")
	srv.signal(t, syscall.SIGTERM)
	select {
	case r := <-done:
		if r.err != nil && !errors.Is(r.err, io.EOF) {
			t.Errorf("a blocked read of tap0/frames ended with %v after SIGTERM, want end of file", r.err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("a blocked read of tap0/frames did not end within %v of SIGTERM", hangGuard)
	}
	if code, took := srv.wait(t, hangGuard); code != 0 {
		t.Errorf("smolfs serve exited with %d after SIGTERM (%v)", code, took)
	}
}

// tread is the 9P message type of Tread (9P2000 and 9P2000.L alike).
const tread = 116

// requestWatch is a client's connection that closes written once the first
// request of type typ has been written whole.
type requestWatch struct {
	net.Conn
	typ     byte
	written chan struct{}
	mu      sync.Mutex
	left    int // bytes of that request still to write; -1 before it starts
}

func (w *requestWatch) Write(b []byte) (int, error) {
	n, err := w.Conn.Write(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.left < 0 && n >= 7 && b[4] == w.typ:
		w.left = int(binary.LittleEndian.Uint32(b)) - n
	case w.left > 0:
		w.left -= n
	default:
		return n, err
	}
	if w.left <= 0 {
		w.left = 0
		close(w.written)
	}
	return n, err
}

// TestSecondServeSamePort: a second server on a port in use fails at once
// with a clear message, without touching its taps.
func TestSecondServeSamePort(t *testing.T) {
	ns, _ := running(t)
	second := start(t, "second smolfs serve", ns.Command(smolfsBinary(t), "serve", "-host", "tap1"))
	code, _ := second.wait(t, hangGuard)
	want := "smolfs: listen on 127.0.0.1:5640: address already in use: is another smolfs serve running? stop it, or pick another address with -listen"
	if msg := second.stderr.String(); code != 1 || !strings.Contains(msg, want) {
		t.Errorf("second smolfs serve on 127.0.0.1:5640: exit %d, stderr:\n%s\nwant 1 and %q", code, msg, want)
	}
	if _, err := link(ns, "tap1"); err == nil {
		t.Errorf("the failed server left tap1 behind")
	}
}

// TestServeUnixSocket: -listen unix:PATH serves the tree there, replaces a
// stale socket file, and removes its own on exit.
func TestServeUnixSocket(t *testing.T) {
	ns := newNetns(t)
	sock := filepath.Join(t.TempDir(), "smolfs.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	srv := startServe(t, ns, "-listen", "unix:"+sock)
	tr := dialTree(t, ns, "unix:"+sock)
	if got := tr.read("ctl"); !strings.HasPrefix(got, "new tap0 ") {
		t.Errorf("/ctl over unix:%s reads %q", sock, got)
	}
	srv.signal(t, syscall.SIGTERM)
	if code, _ := srv.wait(t, hangGuard); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file is still there after exit (%v)", err)
	}
}

// TestServeWarnsBeyondLoopback: an explicit non-loopback -listen works and
// is logged as a warning; the default is not.
func TestServeWarnsBeyondLoopback(t *testing.T) {
	ns := newNetns(t)
	srv := startServe(t, ns, "-listen", "0.0.0.0:5640")
	if !strings.Contains(srv.stderr.String(), "level=WARN msg=\"listening beyond loopback") {
		t.Errorf("-listen 0.0.0.0:5640 was not logged as a warning:\n%s", srv.stderr)
	}
	_, def := running(t)
	if strings.Contains(def.stderr.String(), "beyond loopback") {
		t.Errorf("the default listen address was warned about:\n%s", def.stderr)
	}
}
