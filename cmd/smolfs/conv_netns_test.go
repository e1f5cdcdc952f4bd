package main

// smolfs listen and smolfs dial against the kernel's UDP, in a namespace of
// the test's own (see netns_test.go): socat and nc are the peers.

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
)

// startListen runs smolfs listen ARGS in ns and waits until it has
// announced.
func startListen(t *testing.T, ns *testenv.Netns, args ...string) *proc {
	t.Helper()
	p := start(t, "smolfs listen", ns.Command(smolfsBinary(t), append([]string{"listen"}, args...)...))
	if !waitFor(time.Minute, func() bool { return p.done() || strings.Contains(p.stderr.String(), " announced as ") }) || p.done() {
		t.Fatalf("smolfs listen %s did not announce:\n%s", strings.Join(args, " "), p.stderr)
	}
	return p
}

// udpStat reads one counter of tap0/udp/stats through smolfs 9p.
func udpStat(t *testing.T, ns *testenv.Netns, name string) int {
	t.Helper()
	out := ns.Run(smolfsBinary(t), "9p", "read", "tap0/udp/stats")
	m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tap0/udp/stats has no %s:\n%s", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// ncUDP sends payload to 192.168.69.1 port with nc -u, which exits after the
// first datagram back (-W 1), and returns that datagram.
func ncUDP(t *testing.T, ns *testenv.Netns, port int, payload []byte) ([]byte, error) {
	cmd := ns.Command("nc", "-u", "-W", "1", "-w", "60", ourIP, strconv.Itoa(port))
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("nc: %v: %s", err, stderr.String())
	}
	return out, nil
}

// socatUDP sends payload to 192.168.69.1 port with socat, keeps socat's
// input open until the answer has come whole, and returns the answer.
func socatUDP(t *testing.T, ns *testenv.Netns, port int, payload []byte) ([]byte, error) {
	cmd := ns.Command("socat", "-T", "60", "STDIO", fmt.Sprintf("UDP:%s:%d", ourIP, port))
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out := &lockedBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in.Write(payload)
	waitFor(time.Minute, func() bool { return len(out.String()) >= len(payload) })
	in.Close() // then socat ends
	err = cmd.Wait()
	return []byte(out.String()), err
}

// TestListenUDPEchoManyPeers: `smolfs listen udp!*!7 cat` echoes, byte for
// byte, to many socat and nc peers at once, each its own conversation with
// its own cat; when listen stops, every conversation and every cat ends.
func TestListenUDPEchoManyPeers(t *testing.T) {
	testenv.RequireTool(t, "socat", "socat")
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	pids := filepath.Join(t.TempDir(), "pids")
	listen := startListen(t, ns, "udp!*!7", "sh", "-c", `echo $$ >>`+pids+`; exec cat`)

	const peers = 12
	var wg sync.WaitGroup
	errs := make(chan error, peers)
	for i := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := append([]byte(fmt.Sprintf("peer %d ", i)), randomBytes(200+100*i)...)
			send, tool := ncUDP, "nc"
			if i%2 == 0 {
				send, tool = socatUDP, "socat"
			}
			got, err := send(t, ns, 7, payload)
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s peer %d: %v", tool, i, err)
			case !bytes.Equal(got, payload):
				errs <- fmt.Errorf("%s peer %d: sent %d bytes, got back %d: %q... want %q...", tool, i, len(payload), len(got), head(got), head(payload))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each peer was a call of its own: the announcement and one
	// conversation per peer, whose cat still runs.
	if n := udpStat(t, ns, "conversations"); n != peers+1 {
		t.Errorf("%d UDP conversations, want %d (the announcement and one per peer)", n, peers+1)
	}
	if n := strings.Count(listen.stderr.String(), ": call /tap0/udp/"); n != peers {
		t.Errorf("listen reported %d calls, want %d:\n%s", n, peers, listen.stderr)
	}
	listen.signal(t, syscall.SIGINT)
	if code, _ := listen.wait(t, time.Minute); code != 0 {
		t.Errorf("listen exited %d after SIGINT:\n%s", code, listen.stderr)
	}
	// The server lets go of the session's conversations once it has seen
	// the connection end.
	if !waitFor(time.Minute, func() bool { return udpStat(t, ns, "conversations") == 0 }) {
		t.Errorf("%d UDP conversations after listen stopped", udpStat(t, ns, "conversations"))
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(b))); n != peers {
		t.Errorf("%d commands ran, want %d", n, peers)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("cat %d is still running after listen stopped", pid)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// TestListenServiceEcho: -service echo answers every datagram, empty and
// full-size ones too, in the listen process; $net and $remote reach a
// command.
func TestListenServiceEcho(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	listen := startListen(t, ns, "-service", "echo", "udp!*!7")
	for _, n := range []int{1, 100, 1472} {
		payload := randomBytes(n)
		got, err := ncUDP(t, ns, 7, payload)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("echo of %d bytes: %d bytes back, %v", n, len(got), err)
		}
	}
	if strings.Contains(listen.stderr.String(), "exec") {
		t.Errorf("-service ran a command:\n%s", listen.stderr)
	}

	env := startListen(t, ns, "udp!*!13", "sh", "-c", `head -c 1 >/dev/null; echo "$net $remote"`)
	got, err := ncUDP(t, ns, 13, []byte("?"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/tap0/udp/\d+ 192\.168\.69\.100!\d+\n$`).Match(got) {
		t.Errorf("$net $remote: %q", got)
	}
	env.signal(t, syscall.SIGTERM)
	env.wait(t, time.Minute)
}

// TestDialUDP: smolfs dial against the kernel's socat, which echoes; a dial
// to an address off the host's subnets fails and says why.
func TestDialUDP(t *testing.T) {
	testenv.RequireTool(t, "socat", "socat")
	ns, _ := running(t)
	// socat echoes to the first peer that sends to the port (no fork: a
	// forked child would outlive the test's kill of socat).
	echoServer := func(port string) {
		t.Helper()
		echo := start(t, "socat UDP-LISTEN:"+port, ns.Command("socat", "-T", "60", "UDP-LISTEN:"+port+",bind="+kernelIP, "PIPE"))
		if !waitFor(time.Minute, func() bool {
			return echo.done() || strings.Contains(ns.Run("ss", "-Hlun", "sport", "=", ":"+port), kernelIP+":"+port)
		}) || echo.done() {
			t.Fatalf("socat did not listen:\n%s", echo.stderr)
		}
	}
	echoServer("9000")
	payload := append([]byte("hello over the tree\n"), randomBytes(600)...)
	cmd := ns.Command(smolfsBinary(t), "dial", "udp!"+kernelIP+"!9000")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	dial := start(t, "smolfs dial", cmd)
	in.Write(payload)
	if !waitFor(time.Minute, func() bool { return dial.done() || len(dial.stdout.String()) >= len(payload) }) {
		t.Fatalf("no echo through dial:\n%s", dial.stderr)
	}
	if got := dial.stdout.String(); got != string(payload) {
		t.Errorf("dial printed %d bytes, want the %d sent", len(got), len(payload))
	}
	// The end of input does not end a UDP dial; -q does, Ctrl-C does.
	in.Close()
	dial.signal(t, syscall.SIGINT)
	if code, _ := dial.wait(t, time.Minute); code != 0 {
		t.Errorf("dial exited %d after SIGINT:\n%s", code, dial.stderr)
	}
	if !waitFor(time.Minute, func() bool { return udpStat(t, ns, "conversations") == 0 }) {
		t.Errorf("%d UDP conversations after dial ended", udpStat(t, ns, "conversations"))
	}

	// -q ends a dial after the end of its input (a sink listens on 9001,
	// and answers nothing).
	sink := start(t, "socat sink", ns.Command("socat", "-u", "-T", "60", "UDP-LISTEN:9001,bind="+kernelIP, "OPEN:/dev/null"))
	if !waitFor(time.Minute, func() bool {
		return sink.done() || strings.Contains(ns.Run("ss", "-Hlun", "sport", "=", ":9001"), kernelIP+":9001")
	}) || sink.done() {
		t.Fatalf("socat did not listen:\n%s", sink.stderr)
	}
	q := ns.Command(smolfsBinary(t), "dial", "-q", "0.2", "udp!"+kernelIP+"!9001")
	q.Stdin = strings.NewReader("once\n")
	begin := time.Now()
	out, err := q.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("dial -q 0.2: %q, %v", out, err)
	}
	t.Logf("dial -q 0.2 took %v", time.Since(begin))

	// A closed port: the kernel's port unreachable reaches the
	// conversation, whose read fails as a connected socket's does.
	closed := ns.Command(smolfsBinary(t), "dial", "-q", "5", "udp!"+kernelIP+"!9002")
	closed.Stdin = strings.NewReader("anyone?\n")
	out, err = closed.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "connection refused") {
		t.Errorf("dial to a closed port: %q, %v; want connection refused", out, err)
	}

	bad := ns.Command(smolfsBinary(t), "dial", "udp!10.1.2.3!9")
	bad.Stdin = strings.NewReader("x")
	out, err = bad.CombinedOutput()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "10.1.2.3 is not on a connected subnet") || !strings.Contains(string(out), "network is unreachable") {
		t.Errorf("dial off the subnet: %v:\n%s", err, out)
	}
}

// TestListenUDPIdle: a UDP call whose remote has been quiet for -idle ends:
// its command sees the end of its input, its conversation goes.
func TestListenUDPIdle(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	listen := startListen(t, ns, "-idle", "0.3", "udp!*!7", "cat")
	if got, err := ncUDP(t, ns, 7, []byte("ping\n")); err != nil || string(got) != "ping\n" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if !waitFor(time.Minute, func() bool { return strings.Contains(listen.stderr.String(), " ended") }) {
		t.Fatalf("the call did not end:\n%s", listen.stderr)
	}
	if !waitFor(time.Minute, func() bool { return udpStat(t, ns, "conversations") == 1 }) {
		t.Errorf("%d UDP conversations after the call ended, want the announcement alone", udpStat(t, ns, "conversations"))
	}
	// The same remote again is a new call.
	if got, err := ncUDP(t, ns, 7, []byte("again\n")); err != nil || string(got) != "again\n" {
		t.Errorf("echo after the idle end: %q, %v", got, err)
	}
}
