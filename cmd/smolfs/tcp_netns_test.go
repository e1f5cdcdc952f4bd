package main

// TCP conversations against the kernel's TCP, in a namespace of the test's
// own (see netns_test.go): nc, socat, curl and python's http.server are the
// peers; smolfs listen and smolfs dial are ours.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
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

// protoStat reads one counter of tap0/PROTO/stats through smolfs 9p.
func protoStat(t *testing.T, ns *testenv.Netns, proto, name string) int {
	t.Helper()
	out := ns.Run(smolfsBinary(t), "9p", "read", "tap0/"+proto+"/stats")
	m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tap0/%s/stats has no %s:\n%s", proto, name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func tcpStat(t *testing.T, ns *testenv.Netns, name string) int { return protoStat(t, ns, "tcp", name) }

// bulkBytes is how much the transfer tests move each way: SMOLFS_TCP_MB
// megabytes (scripts/tcp-long.sh sets 100), or a few for CI.
func bulkBytes() int {
	if mb, err := strconv.Atoi(os.Getenv("SMOLFS_TCP_MB")); err == nil && mb > 0 {
		return mb << 20
	}
	return 8 << 20
}

// testFile writes n random bytes to a file of the test's and returns its
// path and sha256.
func testFile(t *testing.T, n int) (string, string) {
	t.Helper()
	b := randomBytes(n)
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(p), 0o755)
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// shell runs a shell command line in ns and returns its standard output;
// a failure fails the test with its standard error.
func shell(t *testing.T, ns *testenv.Netns, script string) string {
	t.Helper()
	cmd := ns.Command("sh", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return string(out)
}

// waitTCPListen waits until the kernel listens on port in ns.
func waitTCPListen(t *testing.T, ns *testenv.Netns, p *proc, port string) {
	t.Helper()
	if !waitFor(time.Minute, func() bool {
		return p.done() || strings.Contains(ns.Run("ss", "-Hltn", "sport", "=", ":"+port), ":"+port)
	}) || p.done() {
		t.Fatalf("%s did not listen on %s:\n%s", p.name, port, p.stderr)
	}
}

// TestListenTCPServices: smolfs listen -service echo, discard and chargen,
// RFC 862/863/864, to nc and socat, byte for byte; every call's
// conversation goes once its peer has closed.
func TestListenTCPServices(t *testing.T) {
	testenv.RequireTool(t, "socat", "socat")
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	startListen(t, ns, "-service", "echo", "tcp!*!7")
	startListen(t, ns, "-service", "discard", "tcp!*!9")
	startListen(t, ns, "-service", "chargen", "tcp!*!19")

	file, sum := testFile(t, 1<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			script := fmt.Sprintf("nc -N %s 7 <%s | sha256sum", ourIP, file)
			if i%2 == 1 {
				script = fmt.Sprintf("socat -t 30 -T 60 - TCP:%s:7 <%s | sha256sum", ourIP, file)
			}
			out, err := ns.Command("sh", "-c", script).Output()
			if got := strings.Fields(string(out)); err != nil || len(got) == 0 || got[0] != sum {
				errs <- fmt.Errorf("echo %d (%s): %q, %v; want %s", i, script, out, err, sum)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Discard reads to the end and then closes: nc -N exits 0 once it has.
	if out := shell(t, ns, fmt.Sprintf("head -c %d /dev/zero | nc -N %s 9 | wc -c", bulkBytes(), ourIP)); strings.TrimSpace(out) != "0" {
		t.Errorf("discard sent %s bytes back", out)
	}
	// Chargen: RFC 864's first line, then the next one a character on.
	out := shell(t, ns, fmt.Sprintf("nc %s 19 | head -c 148", ourIP))
	want := ""
	for line := range 2 {
		for col := range 72 {
			want += string(rune(' ' + (line+col)%95))
		}
		want += "\r\n"
	}
	if out != want {
		t.Errorf("chargen: %q, want %q", out, want)
	}
	if !waitFor(time.Minute, func() bool { return tcpStat(t, ns, "conversations") == 3 }) {
		t.Errorf("%d TCP conversations after the calls, want the 3 announcements", tcpStat(t, ns, "conversations"))
	}
	if n := tcpStat(t, ns, "PassiveOpens"); n != 6 {
		t.Errorf("PassiveOpens %d, want 6", n)
	}
}

// TestListenTCPShellHTTP: an HTTP/1.0 server that is a shell script, run by
// smolfs listen for each call, answers curl.
func TestListenTCPShellHTTP(t *testing.T) {
	testenv.RequireTool(t, "curl", "curl")
	ns, _ := running(t)
	startListen(t, ns, "tcp!*!80", "sh", "-c",
		`read -r method path version; printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s from %s for %s\n' "$path" "$net" "$remote"`)
	for i := range 3 {
		out := shell(t, ns, fmt.Sprintf("curl -sS --max-time 60 http://%s/hello%d", ourIP, i))
		if !regexp.MustCompile(`^/hello` + strconv.Itoa(i) + ` from /tap0/tcp/\d+ for 192\.168\.69\.100!\d+\n$`).MatchString(out) {
			t.Errorf("curl got %q", out)
		}
	}
	if out := shell(t, ns, "curl -sS -o /dev/null -w '%{http_code}' --max-time 60 http://"+ourIP+"/"); out != "200" {
		t.Errorf("status %q", out)
	}
}

// TestDialTCP: smolfs dial fetches a file from python's http.server, byte
// for byte; a dial to a closed port is refused with the words.
func TestDialTCP(t *testing.T) {
	testenv.RequireTool(t, "python3", "python3")
	ns, _ := running(t)
	file, sum := testFile(t, bulkBytes())
	srv := start(t, "python3 -m http.server", ns.Command("python3", "-m", "http.server", "--bind", kernelIP, "--directory", filepath.Dir(file), "8000"))
	waitTCPListen(t, ns, srv, "8000")
	cmd := ns.Command(smolfsBinary(t), "dial", "tcp!"+kernelIP+"!8000")
	cmd.Stdin = strings.NewReader("GET /data HTTP/1.0\r\n\r\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, stderr.String())
	}
	head, body, ok := bytes.Cut(out, []byte("\r\n\r\n"))
	got := sha256.Sum256(body)
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.0 200 OK")) || hex.EncodeToString(got[:]) != sum {
		t.Fatalf("dial fetched %d bytes (head %q), want %d bytes with sha256 %s", len(body), head, bulkBytes(), sum)
	}

	refused := ns.Command(smolfsBinary(t), "dial", "tcp!"+kernelIP+"!8001")
	refused.Stdin = strings.NewReader("x")
	msg, err := refused.CombinedOutput()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 || !strings.Contains(string(msg), "connection refused") {
		t.Errorf("dial to a closed port: %v:\n%s", err, msg)
	}
	if !waitFor(time.Minute, func() bool { return tcpStat(t, ns, "conversations") == 0 }) {
		t.Errorf("%d TCP conversations after the dials", tcpStat(t, ns, "conversations"))
	}
}

// TestTCPBulkBothWays: bulkBytes each way, through listen and through dial,
// with matching sha256; the kernel is the other end each time.
func TestTCPBulkBothWays(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	file, sum := testFile(t, bulkBytes())
	check := func(what, out string) {
		t.Helper()
		if f := strings.Fields(out); len(f) == 0 || f[0] != sum {
			t.Errorf("%s: sha256 %q, want %s", what, out, sum)
		}
	}
	// The kernel sends to a listen whose command hashes what it reads, and
	// hears the hash back.
	startListen(t, ns, "tcp!*!5001", "sha256sum")
	check("kernel to listen", shell(t, ns, fmt.Sprintf("nc -N %s 5001 <%s", ourIP, file)))
	// A listen sends the file to the kernel.
	startListen(t, ns, "tcp!*!5002", "cat", file)
	check("listen to kernel", shell(t, ns, fmt.Sprintf("nc -d %s 5002 | sha256sum", ourIP)))
	// Dial sends to a kernel listener, and receives from one.
	recv := start(t, "nc -l", ns.Command("sh", "-c", "nc -l -N "+kernelIP+" 6001 | sha256sum"))
	waitTCPListen(t, ns, recv, "6001")
	shell(t, ns, fmt.Sprintf("%s dial tcp!%s!6001 <%s", smolfsBinary(t), kernelIP, file))
	if code, _ := recv.wait(t, time.Minute); code != 0 {
		t.Fatalf("nc -l exited %d", code)
	}
	check("dial to kernel", recv.stdout.String())
	// (socat, not nc: nc stops sending when the other side closes its
	// half, which dial's empty input does at once.)
	send := start(t, "socat", ns.Command("socat", "-u", "FILE:"+file, "TCP-LISTEN:6002,bind="+kernelIP))
	waitTCPListen(t, ns, send, "6002")
	check("kernel to dial", shell(t, ns, fmt.Sprintf("%s dial tcp!%s!6002 </dev/null | sha256sum", smolfsBinary(t), kernelIP)))
	t.Logf("tcp/stats: RetransSegs %d, InSegs %d, OutSegs %d", tcpStat(t, ns, "RetransSegs"), tcpStat(t, ns, "InSegs"), tcpStat(t, ns, "OutSegs"))
}

// TestListenTCPStop: Ctrl-C of smolfs listen ends its calls (the peers
// see the connection end) and frees every conversation.
func TestListenTCPStop(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running(t)
	listen := startListen(t, ns, "tcp!*!7", "cat")
	peers := make([]*proc, 3)
	inputs := make([]io.WriteCloser, 3)
	for i := range peers {
		cmd := ns.Command("nc", ourIP, "7")
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		peers[i], inputs[i] = start(t, "nc", cmd), w
		fmt.Fprintf(w, "peer %d\n", i)
		defer w.Close()
	}
	if !waitFor(time.Minute, func() bool {
		for i, p := range peers {
			if p.stdout.String() != fmt.Sprintf("peer %d\n", i) {
				return false
			}
		}
		return true
	}) {
		t.Fatal("no echo from the cats")
	}
	if n := tcpStat(t, ns, "CurrEstab"); n != 3 {
		t.Errorf("CurrEstab %d, want 3", n)
	}
	listen.signal(t, syscall.SIGINT)
	if code, _ := listen.wait(t, time.Minute); code != 0 {
		t.Errorf("listen exited %d after SIGINT:\n%s", code, listen.stderr)
	}
	// nc ends once its input has ended and the connection has (without
	// -N it sends no FIN of its own, and waits for ours).
	for i, p := range peers {
		inputs[i].Close()
		p.wait(t, time.Minute)
	}
	if !waitFor(time.Minute, func() bool { return tcpStat(t, ns, "conversations") == 0 }) {
		t.Errorf("%d TCP conversations after listen stopped", tcpStat(t, ns, "conversations"))
	}
}

// TestDialTCPTimedOut: a connect nobody answers (a neighbour whose frames
// the kernel ignores) fails with Connection timed out once the SYN's
// retransmissions (-tcp-syn-retries) are spent: 1 + 2 + 4 s for 2.
func TestDialTCPTimedOut(t *testing.T) {
	ns := newNetns(t)
	startServe(t, ns, "-tcp-syn-retries", "2")
	peer(t, ns)
	shell(t, ns, "echo 'add 192.168.69.50 02:00:00:00:00:50' | "+smolfsBinary(t)+" 9p write tap0/arp")
	begin := time.Now()
	cmd := ns.Command(smolfsBinary(t), "dial", "tcp!192.168.69.50!80")
	cmd.Stdin = strings.NewReader("x")
	msg, err := cmd.CombinedOutput()
	took := time.Since(begin)
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 || !strings.Contains(string(msg), "connection timed out") {
		t.Errorf("dial to a silent address: %v:\n%s", err, msg)
	}
	if took < 7*time.Second {
		t.Errorf("timed out after %v, want 7 s of retransmissions", took)
	}
	if n := tcpStat(t, ns, "AttemptFails"); n != 1 {
		t.Errorf("AttemptFails %d", n)
	}
}

// TestTCPOffload: smolfs serve -offload opens the tap with the virtio-net
// header and TCP segmentation offload: the kernel hands over its segments
// uncut (up to 64 KiB a frame) with their checksums left to fill in. Bulk
// TCP both ways, UDP and a fragmented ping still come through whole, and
// no frame is dropped as too big or for its checksum.
func TestTCPOffload(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns := newNetns(t)
	startServe(t, ns, "-offload")
	peer(t, ns)
	file, sum := testFile(t, bulkBytes())
	startListen(t, ns, "tcp!*!5001", "sha256sum")
	startListen(t, ns, "tcp!*!5002", "cat", file)
	startListen(t, ns, "udp!*!7", "cat")
	for what, script := range map[string]string{
		"kernel to smolfs": fmt.Sprintf("nc -N %s 5001 <%s", ourIP, file),
		"smolfs to kernel": fmt.Sprintf("nc -d %s 5002 | sha256sum", ourIP),
	} {
		if f := strings.Fields(shell(t, ns, script)); len(f) == 0 || f[0] != sum {
			t.Errorf("%s: sha256 %v, want %s", what, f, sum)
		}
	}
	if got, err := ncUDP(t, ns, 7, []byte("over udp\n")); err != nil || string(got) != "over udp\n" {
		t.Errorf("udp echo: %q, %v", got, err)
	}
	ns.Run("ping", "-c", "1", "-w", "60", "-s", "3000", ourIP)
	st := map[string]int{}
	for _, line := range strings.Split(ns.Run(smolfsBinary(t), "9p", "read", "tap0/stats"), "\n") {
		if name, v, ok := strings.Cut(line, " "); ok {
			st[name], _ = strconv.Atoi(v)
		}
	}
	for _, c := range []string{"rx_too_big", "tcp_rx_bad", "udp_rx_bad_checksum", "ipv4_rx_bad_checksum"} {
		if st[c] != 0 {
			t.Errorf("%s %d", c, st[c])
		}
	}
	// The kernel did hand over frames longer than the MTU: fewer TCP
	// segments came than 1448-byte ones would make.
	if segs := tcpStat(t, ns, "InSegs"); segs >= bulkBytes()/1448 {
		t.Errorf("%d TCP segments for %d bytes: the kernel cut them to the MTU", segs, bulkBytes())
	}
}

// TestTCP6: TCP over IPv6 both ways against the kernel: a listen on any
// address takes the kernel's connections to the host's global and
// link-local addresses, byte for byte; smolfs dial reaches the kernel's
// socat over IPv6; a connect to a closed port is refused.
func TestTCP6(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	testenv.RequireTool(t, "socat", "socat")
	ns, _ := running6(t, "add "+ourIP6+prefix6+"\n")
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	settled(t, ns)
	startListen(t, ns, "-service", "echo", "tcp!*!7")
	file, sum := testFile(t, 1<<20)
	for _, dst := range []string{ourIP6, ourLL + "%tap0"} {
		if f := strings.Fields(shell(t, ns, fmt.Sprintf("nc -6 -N %s 7 <%s | sha256sum", dst, file))); len(f) == 0 || f[0] != sum {
			t.Errorf("echo over IPv6 to %s: %v, want %s", dst, f, sum)
		}
	}
	echo := start(t, "socat TCP6-LISTEN", ns.Command("socat", "-T", "60", "TCP6-LISTEN:9000,bind=["+kernIP6+"]", "PIPE"))
	waitTCPListen(t, ns, echo, "9000")
	dial := ns.Command(smolfsBinary(t), "dial", "tcp!"+kernIP6+"!9000")
	dial.Stdin = strings.NewReader("over IPv6\n")
	if out, err := dial.Output(); err != nil || string(out) != "over IPv6\n" {
		t.Errorf("dial over IPv6: %q, %v", out, err)
	}
	refused := ns.Command(smolfsBinary(t), "dial", "tcp!"+kernIP6+"!9001")
	refused.Stdin = strings.NewReader("x")
	if msg, err := refused.CombinedOutput(); err == nil || !strings.Contains(string(msg), "connection refused") {
		t.Errorf("dial to a closed IPv6 port: %v:\n%s", err, msg)
	}
}
