package main

// Tests of smolfs 9p against an in-process server whose host tap0 runs on an
// in-memory pair: no root, no namespace.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/devices"
	"github.com/smolfs/smolfs/fs"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/stack"
)

// ninepEnv is a stack with tap0 (02:00:00:00:00:01, 192.168.69.1/24) on a
// pair, served over TCP loopback and a unix socket.
type ninepEnv struct {
	st         *stack.Stack
	tcp, unix  string
	mu         sync.Mutex
	hosts      map[string]*netcore.Host
	peers      map[string]*devices.Pair
	drainGroup sync.WaitGroup
}

func newNinepEnv(t *testing.T) *ninepEnv {
	t.Helper()
	e := &ninepEnv{hosts: map[string]*netcore.Host{}, peers: map[string]*devices.Pair{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.st = stack.New(func(h *netcore.Host, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) (stack.Driver, error) {
		a, b, err := devices.NewPair()
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.hosts[h.Name()], e.peers[h.Name()] = h, b
		e.mu.Unlock()
		// What the host sends is read and dropped, so that its sends
		// never find the pair full.
		e.drainGroup.Add(1)
		go func() {
			defer e.drainGroup.Done()
			buf := make([]byte, 2048)
			for {
				if _, err := b.ReadFrame(buf, time.Second); err != nil && !errors.Is(err, devices.ErrTimeout) {
					return
				}
			}
		}()
		return devices.NewDriver(h, a, onEvent, devices.WithWake(onWake)), nil
	}, log)
	if err := e.st.Ctl([]byte("new tap0 ea " + ourMAC + " add " + ourIP + "/24\n")); err != nil {
		t.Fatal(err)
	}
	// The host announces its address once it runs; a capture reader that
	// subscribes before that would see the announcement among its frames.
	tap0, _ := e.st.Host("tap0")
	if !waitFor(hangGuard, func() bool { return tap0.Snapshot().Stats[netcore.TxFrames] > 0 }) {
		t.Fatal("tap0 sent no gratuitous ARP within 5 s of its creation")
	}
	srv := fs.NewServer(e.st, log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "smolfs.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	e.tcp, e.unix = l.Addr().String(), "unix:"+sock
	var served sync.WaitGroup
	for _, l := range []net.Listener{l, ul} {
		served.Add(1)
		go func() {
			defer served.Done()
			srv.Serve(l)
		}()
	}
	t.Cleanup(func() {
		e.st.Close()
		srv.Close()
		served.Wait()
		e.mu.Lock()
		for _, p := range e.peers {
			p.Close()
		}
		e.mu.Unlock()
		e.drainGroup.Wait()
	})
	return e
}

func (e *ninepEnv) host(name string) *netcore.Host {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hosts[name]
}

func (e *ninepEnv) peer(name string) *devices.Pair {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peers[name]
}

// run9p runs smolfs 9p -addr addr ARGS... with stdin, as the binary does.
func run9p(t *testing.T, addr, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := ninepStdin
	ninepStdin = strings.NewReader(stdin)
	defer func() { ninepStdin = old }()
	return runCapture(append([]string{"9p", "-addr", addr}, args...)...)
}

// ninepStart runs smolfs 9p ARGS... in the background with ctx, writing
// to stdout; the result arrives on the channel.
func ninepStart(ctx context.Context, t *testing.T, stdout io.Writer, args ...string) <-chan error {
	t.Helper()
	flags := flag.NewFlagSet("smolfs 9p", flag.ContinueOnError)
	exec := ninepCommand.setup(flags, stdout, io.Discard)
	if err := flags.Parse(args); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- exec(ctx, flags.Args()) }()
	return done
}

func TestNinepLsReadStat(t *testing.T) {
	e := newNinepEnv(t)
	for _, addr := range []string{e.tcp, e.unix} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"ls"}, "ctl\nlog\ntap0\n"},
			{[]string{"ls", "/"}, "ctl\nlog\ntap0\n"},
			{[]string{"ls", "tap0"}, "ctl\naddr\narp\nframes\nframes.pcap\nstats\nudp\ntcp\nicmp\n"},
			{[]string{"ls", "/tap0/"}, "ctl\naddr\narp\nframes\nframes.pcap\nstats\nudp\ntcp\nicmp\n"},
			{[]string{"ls", "tap0/addr"}, "tap0/addr\n"},
			{[]string{"read", "tap0/addr"}, ourMAC + "\n" + ourIP + "/24\n"},
			{[]string{"read", "/ctl"}, "new tap0 ea " + ourMAC + " add " + ourIP + "/24\n"},
		} {
			code, out, errOut := run9p(t, addr, "", tc.args...)
			if code != 0 || out != tc.want || errOut != "" {
				t.Errorf("smolfs 9p -addr %s %s: exit %d, stdout %q, stderr %q; want 0 and %q", addr, strings.Join(tc.args, " "), code, out, errOut, tc.want)
			}
		}
	}
	// stats is longer than one line per counter: the whole file comes out.
	_, out, _ := run9p(t, e.tcp, "", "read", "tap0/stats")
	for _, name := range []string{"rx_frames ", "capture_dropped "} {
		if !strings.Contains(out, "\n"+name) && !strings.HasPrefix(out, name) {
			t.Errorf("read tap0/stats lacks %q:\n%s", name, out)
		}
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"tap0/addr", []string{"name addr\n", "type file\n", "mode 0444\n", "size 0\n", "qid.path 0x"}},
		{"tap0/ctl", []string{"name ctl\n", "type file\n", "mode 0644\n"}},
		{"tap0", []string{"name tap0\n", "type dir\n", "mode 0555\n"}},
		{"", []string{"name /\n", "type dir\n"}},
	} {
		args := []string{"stat"}
		if tc.path != "" {
			args = append(args, tc.path)
		} else {
			args = append(args, "/")
		}
		code, out, errOut := run9p(t, e.tcp, "", args...)
		if code != 0 || errOut != "" {
			t.Errorf("stat %s: exit %d, stderr %q", tc.path, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("stat %s lacks %q:\n%s", tc.path, w, out)
			}
		}
	}
}

func TestNinepWrite(t *testing.T) {
	e := newNinepEnv(t)
	code, out, errOut := run9p(t, e.unix, "add 192.168.69.2/24\nmtu 1400\n", "write", "tap0/ctl")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("write tap0/ctl: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, got, _ := run9p(t, e.tcp, "", "read", "tap0/addr"); got != ourMAC+"\n"+ourIP+"/24\n192.168.69.2/24\n" {
		t.Errorf("after the write, tap0/addr reads %q", got)
	}
	// A batch with a bad line changes nothing, and says why in errno words.
	code, out, errOut = run9p(t, e.tcp, "add 192.168.69.3/24\nadd 300.1.1.1/24\n", "write", "tap0/ctl")
	if want := "smolfs: 9p write tap0/ctl: write: invalid argument\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("bad write: exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	if _, got, _ := run9p(t, e.tcp, "", "read", "tap0/addr"); strings.Contains(got, "192.168.69.3") {
		t.Errorf("a refused batch was half applied: tap0/addr reads %q", got)
	}
	// The reason is in /log.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logOut lockedBuffer
	done := ninepStart(ctx, t, &logOut, "-addr", e.tcp, "read", "log")
	if !waitFor(hangGuard, func() bool { return strings.Contains(logOut.String(), `"add 300.1.1.1/24": bad IPv4 address`) }) {
		t.Errorf("/log read by smolfs 9p lacks the reason:\n%s", logOut.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("read log ended with %v after cancel, want nil", err)
	}
	// Empty input opens with O_TRUNC and writes nothing: no error.
	if code, _, errOut := run9p(t, e.tcp, "", "write", "tap0/arp"); code != 0 {
		t.Errorf("empty write: exit %d, stderr %q", code, errOut)
	}
	// A read-only file refuses to be opened for writing.
	if code, _, errOut := run9p(t, e.tcp, "x\n", "write", "tap0/addr"); code != 1 || !strings.Contains(errOut, "lopen: permission denied") {
		t.Errorf("write to tap0/addr: exit %d, stderr %q; want 1 and permission denied", code, errOut)
	}
	// More than one message holds is refused before anything is sent.
	big := strings.Repeat("flush\n", 128<<10/6+1)
	code, _, errOut = run9p(t, e.tcp, big, "write", "tap0/arp")
	if code != 1 || !strings.Contains(errOut, "standard input is longer than 131072 bytes") {
		t.Errorf("write of %d bytes: exit %d, stderr %q; want 1 and a message about the limit", len(big), code, errOut)
	}
}

func TestNinepErrors(t *testing.T) {
	e := newNinepEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read", "tap9/addr"}, "smolfs: 9p read tap9/addr: walk tap9: no such file or directory\n"},
		{[]string{"read", "tap0/nosuch"}, "smolfs: 9p read tap0/nosuch: walk nosuch: no such file or directory\n"},
		{[]string{"ls", "tap0/addr/x"}, "smolfs: 9p ls tap0/addr/x: walk x: no such file or directory\n"},
		{[]string{"read", "tap0"}, "smolfs: 9p read tap0: read: is a directory\n"},
		{[]string{"stat", "nosuch"}, "smolfs: 9p stat nosuch: walk nosuch: no such file or directory\n"},
	} {
		code, out, errOut := run9p(t, e.tcp, "", tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("smolfs 9p %s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
	// Nothing listening: the hint says what to check.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, addr := range []string{closed, "unix:" + filepath.Join(t.TempDir(), "none.sock")} {
		code, _, errOut := run9p(t, addr, "", "ls")
		if code != 1 || !strings.Contains(errOut, "is smolfs serve running") {
			t.Errorf("ls at %s where nothing listens: exit %d, stderr %q", addr, code, errOut)
		}
	}
	// Usage errors.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"9p"}, "want a command"},
		{[]string{"9p", "cat", "x"}, `unknown 9p command "cat"`},
		{[]string{"9p", "read"}, "read takes exactly one PATH"},
		{[]string{"9p", "write", "a", "b"}, "write takes exactly one PATH"},
		{[]string{"9p", "ls", "a", "b"}, "ls takes at most one PATH"},
		{[]string{"9p", "-addr"}, "flag needs an argument: -addr"},
	} {
		code, out, errOut := runCapture(tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "Usage: smolfs 9p") {
			t.Errorf("smolfs %q: exit %d, stdout %q, stderr %q; want 2 and %q with the usage", tc.args, code, out, errOut, tc.want)
		}
	}
}

// arpRequestFrame is 192.168.69.100 asking who has our address.
func arpRequestFrame() []byte {
	peerMAC := wire.MAC{0x4a, 0x49, 0x58, 0x75, 0x94, 0xf4}
	b := wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: peerMAC, Type: wire.EtherTypeARP}.Append(nil)
	b = wire.ARPRepr{Op: wire.ARPRequest, SenderMAC: peerMAC, SenderIP: netip.MustParseAddr(kernelIP), TargetIP: netip.MustParseAddr(ourIP)}.Append(b)
	return wire.PadFrame(b)
}

// TestNinepReadStream: read of frames prints each frame as it happens,
// keeps going across the server's 0-byte replies, and ends with nil when
// interrupted, when the host goes (end of file) and when the reader of its
// output goes; every time the server lets go of the capture.
func TestNinepReadStream(t *testing.T) {
	e := newNinepEnv(t)
	h := e.host("tap0")
	subscribed := func(n int) bool {
		return waitFor(hangGuard, func() bool { return h.Capture().Subscribers() == n })
	}

	// Interrupted (Ctrl-C) after two rounds of frames.
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := ninepStart(ctx, t, &out, "-addr", e.tcp, "read", "tap0/frames")
	if !subscribed(1) {
		t.Fatal("read tap0/frames did not subscribe to the capture")
	}
	const want = "Request who-has " + ourIP + " tell " + kernelIP
	const reply = "Reply " + ourIP + " is-at " + ourMAC
	for round := 1; round <= 2; round++ {
		if err := e.peer("tap0").WriteFrame(arpRequestFrame()); err != nil {
			t.Fatal(err)
		}
		// The reply's line may come in a later read than the request's.
		if !waitFor(hangGuard, func() bool {
			return strings.Count(out.String(), want) == round && strings.Count(out.String(), reply) == round
		}) {
			t.Fatalf("round %d: read tap0/frames printed:\n%s", round, out.String())
		}
	}
	if lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) != 4 || !strings.Contains(lines[1], reply) {
		t.Errorf("read tap0/frames printed %d lines, want request and reply twice:\n%s", len(lines), out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("interrupted read ended with %v, want nil (exit 0)", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("read did not end within 5 s of the interrupt")
	}
	if !subscribed(0) {
		t.Errorf("the server still holds the capture of the interrupted reader")
	}

	// The reader of the output goes away (| head): EPIPE ends it quietly.
	done = ninepStart(context.Background(), t, &epipeWriter{}, "-addr", e.tcp, "read", "tap0/frames")
	if !subscribed(1) {
		t.Fatal("second read did not subscribe")
	}
	if err := e.peer("tap0").WriteFrame(arpRequestFrame()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("read whose output is gone ended with %v, want nil", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("read did not end when its output went away")
	}
	if !subscribed(0) {
		t.Errorf("the server still holds the capture of the reader whose output went")
	}

	// The host is removed: end of file, status 0.
	var out3 lockedBuffer
	done = ninepStart(context.Background(), t, &out3, "-addr", e.unix, "read", "tap0/frames.pcap")
	if !waitFor(hangGuard, func() bool { return out3.String() != "" }) {
		t.Fatal("read tap0/frames.pcap printed no pcap header")
	}
	if got := []byte(out3.String()); len(got) != 24 || !bytes.Equal(got[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1}) {
		t.Errorf("frames.pcap starts with % x, want the 24-byte nanosecond pcap header", got)
	}
	if err := e.st.Ctl([]byte("del tap0\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("read of a removed host's frames.pcap ended with %v, want nil (end of file)", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("read did not end when the host was removed")
	}
}

// epipeWriter is a pipe whose reader has gone.
type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }
