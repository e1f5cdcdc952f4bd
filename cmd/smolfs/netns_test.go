package main

// The tests in this file run the smolfs binary as a person would: built once
// with go build, started with `ip netns exec NS smolfs serve` in a network
// namespace of the test's own, whose tap0 the kernel sees as 192.168.69.100/24
// while smolfs is 192.168.69.1 / 02:00:00:00:00:01. The kernel's own tools
// (ping, arping, ip neigh, tcpdump) are the peers and the judges.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/devices"
	"github.com/smolfs/smolfs/internal/testenv"
)

const (
	ourIP     = "192.168.69.1"
	ourMAC    = "02:00:00:00:00:01"
	kernelIP  = "192.168.69.100"
	kernelNet = kernelIP + "/24"
)

// binDir holds the smolfs binary the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "smolfs-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Readable by all: a test runs the binary as an unprivileged user.
	os.Chmod(d, 0o755)
	binDir = d
	// testenv.Main fails the package if a process the tests started, or a
	// namespace they made, outlives them.
	code := testenv.Main(m.Run)
	os.RemoveAll(d)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// smolfsBinary builds cmd/smolfs once per test run (with the race detector
// when the tests have it) and returns its path.
func smolfsBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		path := filepath.Join(binDir, "smolfs")
		args := []string{"build", "-o", path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// hangGuard bounds every wait for something that must happen (a process
// gets ready or exits, a frame that was sent shows up, a state that an
// action causes): the waits return as soon as it happens, and the bound only
// ends a test that would otherwise hang. It is long so that no load on the
// machine (the race detector, a CPU hog, other test packages) reaches it. A
// wait whose condition might not hold (traffic that may be crowded out, an
// order of events that nothing forces) is a bug in its test, whatever its
// bound.
const hangGuard = time.Minute

// hangGuardSeconds is hangGuard for ping -w and arping -w: with a count,
// they end as soon as that many replies came, and the deadline only bounds
// the wait for a late one (without it ping waits 10 s, arping 1 s).
const hangGuardSeconds = "60"

// unanswered lists the first n ping requests (icmp_seq 1..n) that ping's
// output does not show answered exactly once. ping -c n -w D ends once it has
// n replies, however late, but goes on sending while it waits for a late
// one, so its totals may exceed n: loss is judged by sequence number.
func unanswered(out string, n int) []string {
	answered := map[string]int{}
	for _, m := range regexp.MustCompile(`: icmp_seq=(\d+) `).FindAllStringSubmatch(out, -1) {
		answered[m[1]]++
	}
	var bad []string
	for seq := 1; seq <= n; seq++ {
		if c := answered[strconv.Itoa(seq)]; c != 1 {
			bad = append(bad, fmt.Sprintf("icmp_seq=%d answered %d times", seq, c))
		}
	}
	return bad
}

// waitFor polls cond every 20 ms for up to limit; the limit guards against
// a hang and is no measure of speed.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); ; {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newNetns makes the test's namespace. IPv6 is off in it so that the
// kernel's side of a tap sends only what the test causes.
func newNetns(t testing.TB) *testenv.Netns {
	t.Helper()
	ns := testenv.NewNetns(t)
	ns.Run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	return ns
}

// proc is a process the test started; it is killed at the end of the test
// if it is still running, and its output is logged if the test failed.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

func start(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.stdout
	}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.done() {
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s: stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// wait waits up to limit for the process to exit and returns its exit
// status (-1 for a signal) and how long it took.
func (p *proc) wait(t testing.TB, limit time.Duration) (int, time.Duration) {
	t.Helper()
	begin := time.Now()
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("%s has not exited after %v", p.name, limit)
	}
	took := time.Since(begin)
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, took
	case errors.As(p.err, &ee):
		return ee.ExitCode(), took
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return 0, 0
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
}

// startServe runs smolfs serve in ns (with args) and waits until it is
// ready, or fails the test with its output.
func startServe(t *testing.T, ns *testenv.Netns, args ...string) *proc {
	t.Helper()
	p := start(t, "smolfs serve", ns.Command(smolfsBinary(t), append([]string{"serve", "-log-level", "debug"}, args...)...))
	ready := waitFor(hangGuard, func() bool { return p.done() || strings.Contains(p.stderr.String(), "msg=ready") })
	if !ready || p.done() {
		t.Fatalf("smolfs serve %s did not get ready:\n%s", strings.Join(args, " "), p.stderr)
	}
	return p
}

// peer gives the kernel's side of tap0 its address, once smolfs has the
// tap open.
func peer(t testing.TB, ns *testenv.Netns) {
	t.Helper()
	ns.Run("ip", "addr", "add", kernelNet, "dev", "tap0")
	ns.Run("ip", "link", "set", "tap0", "up")
}

// running is a namespace with smolfs serving tap0 and the kernel's side
// configured.
func running(t *testing.T) (*testenv.Netns, *proc) {
	t.Helper()
	ns := newNetns(t)
	srv := startServe(t, ns)
	peer(t, ns)
	return ns, srv
}

// link is tap0 as the namespace's kernel sees it, or an error if it is gone.
func link(ns *testenv.Netns, name string) (*net.Interface, error) {
	var ifi *net.Interface
	err := ns.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName(name)
		return err
	})
	return ifi, err
}

func TestArpingGetsReplies(t *testing.T) {
	testenv.RequireTool(t, "arping", "iputils-arping")
	ns, _ := running(t)
	// -w: arping ends once it has 3 replies, however late (without it, it
	// waits a second after its last request).
	out := ns.Run("arping", "-c", "3", "-w", hangGuardSeconds, "-I", "tap0", ourIP)
	want := "Unicast reply from " + ourIP + " [" + strings.ToUpper(ourMAC) + "]"
	if n := strings.Count(strings.ToUpper(out), strings.ToUpper(want)); n != 3 {
		t.Errorf("arping: %d replies from %s, want 3:\n%s", n, ourMAC, out)
	}
	if !strings.Contains(out, "Received 3 response(s)") {
		t.Errorf("arping does not report 3 responses:\n%s", out)
	}
}

func TestPingNoLoss(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running(t)
	// ping compares every reply's payload with what it sent and complains
	// about a wrong byte; -p and -s vary the payload and its size up to
	// the largest that fits a 1500-byte frame.
	for _, args := range [][]string{
		{"-c", "5", "-i", "0.2", ourIP},
		{"-c", "3", "-i", "0.2", "-s", "1472", "-p", "a5c3", ourIP},
		{"-c", "2", "-i", "0.2", "-s", "0", ourIP},
	} {
		// With -w, ping ends once it has n replies however late they come
		// (without it, a last reply slower than twice the slowest before it
		// counts as lost). While it waits it may send more than n
		// requests, so loss is judged by sequence number: each of the
		// first n requests answered, once.
		out := ns.Run("ping", append([]string{"-w", hangGuardSeconds}, args...)...)
		n, _ := strconv.Atoi(args[1])
		if bad := unanswered(out, n); bad != nil {
			t.Errorf("ping %s: %s, want each once:\n%s", strings.Join(args, " "), strings.Join(bad, ", "), out)
		}
		for _, bad := range []string{"wrong data byte", "DUP!", "wrong total length"} {
			if strings.Contains(out, bad) {
				t.Errorf("ping %s: %q:\n%s", strings.Join(args, " "), bad, out)
			}
		}
		if !strings.Contains(out, "ttl=64") {
			t.Errorf("ping %s: replies without ttl=64:\n%s", strings.Join(args, " "), out)
		}
	}
}

func TestKernelLearnsOurMAC(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running(t)
	ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, ourIP)
	out := ns.Run("ip", "neigh", "show", ourIP, "dev", "tap0")
	if !strings.Contains(out, "lladdr "+ourMAC) {
		t.Errorf("ip neigh show %s: %q, want lladdr %s", ourIP, out, ourMAC)
	}
}

// TestDumpMatchesTcpdump captures the same traffic on the kernel's side of
// tap0 three ways, with tcpdump, with smolfs dump, and with smolfs dump -w -
// piped into tcpdump -r -, and wants the same lines from all three,
// timestamps included.
func TestDumpMatchesTcpdump(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	testenv.RequireTool(t, "arping", "iputils-arping")
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running(t)
	bin := smolfsBinary(t)
	stampedOnce(t, ns)

	live := start(t, "tcpdump -i tap0", ns.Command("tcpdump", "-tt", "-e", "-n", "-l", "--immediate-mode", "-i", "tap0"))
	dump := start(t, "smolfs dump tap0", ns.Command(bin, "dump", "tap0"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pcapCmd := ns.Command(bin, "dump", "-w", "-", "tap0")
	pcapCmd.Stdout = pw
	pcap := start(t, "smolfs dump -w - tap0", pcapCmd)
	readCmd := exec.Command("tcpdump", "-tt", "-e", "-n", "-l", "-r", "-")
	readCmd.Stdin = pr
	reader := start(t, "tcpdump -r -", readCmd)
	pw.Close()
	pr.Close()

	// tcpdump -r says "reading from file" only once it has the pcap header,
	// which smolfs writes before its first frame.
	for _, w := range []struct {
		p    *proc
		text string
	}{{live, "listening on tap0"}, {dump, "listening on tap0"}, {pcap, "listening on tap0"}, {reader, "reading from file -"}} {
		if !waitFor(hangGuard, func() bool { return w.p.done() || strings.Contains(w.p.stderr.String(), w.text) }) || w.p.done() {
			t.Fatalf("%s did not start:\n%s", w.p.name, w.p.stderr)
		}
	}

	// ARP both ways (the kernel resolves us, arping asks us, unicast and
	// broadcast, and asks in vain for an absent address), ICMP echo of
	// several sizes, and UDP and TCP that smolfs drops.
	ns.Run("ping", "-c", "60", "-w", hangGuardSeconds, "-i", "0.02", "-q", ourIP)
	// arping waits a whole second between probes: run several at once.
	ns.Run("bash", "-c", "for i in 1 2 3 4 5; do arping -c 2 -I tap0 "+ourIP+" >/dev/null & done; arping -c 2 -b -I tap0 "+ourIP+"; wait")
	for range 5 {
		ns.Run("ip", "neigh", "flush", "dev", "tap0")
		ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, "-q", ourIP)
	}
	ns.Run("ping", "-c", "3", "-w", hangGuardSeconds, "-i", "0.02", "-s", "1472", "-q", ourIP)
	ns.Run("ping", "-c", "2", "-w", hangGuardSeconds, "-i", "0.02", "-s", "0", "-q", ourIP)
	ns.Command("ping", "-c", "1", "-W", "1", "192.168.69.7").Run() // unanswered: ARP requests only
	ns.Run("bash", "-c", "echo hello > /dev/udp/"+ourIP+"/7")
	ns.Command("timeout", "0.3", "bash", "-c", "exec 3<>/dev/tcp/"+ourIP+"/80").Run()

	// The run ends with a marker: the reply to a ping of a size no other
	// ping here sends. It was on the wire (ping got it), so every capture
	// prints it. What the kernel sends on its own after it (the last ARP
	// retries for the unanswered address, a neighbour probe) comes at any
	// time and may reach one capture but not another before they stop, so
	// the captures are compared up to the marker.
	ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, "-s", "999", "-q", ourIP)
	isMarker := func(line string) bool {
		return strings.Contains(line, ": ICMP echo reply, ") && strings.HasSuffix(line, ", length 1007")
	}
	upToMarker := func(p *proc) ([]string, bool) {
		lines := strings.Split(p.stdout.String(), "\n")
		for i, l := range lines {
			if isMarker(l) {
				return lines[:i+1], true
			}
		}
		return nil, false
	}
	for _, p := range []*proc{live, dump, reader} {
		if !waitFor(hangGuard, func() bool { _, ok := upToMarker(p); return ok }) {
			t.Fatalf("%s did not print the marker, the reply to ping -s 999:\n%s", p.name, p.stdout)
		}
	}
	for _, p := range []*proc{live, dump, pcap} {
		p.signal(t, syscall.SIGINT)
	}
	for _, p := range []*proc{live, dump, pcap, reader} {
		if code, _ := p.wait(t, hangGuard); code != 0 {
			t.Errorf("%s exited with %d:\n%s", p.name, code, p.stderr)
		}
	}

	want, _ := upToMarker(live)
	arpICMP := 0
	for _, l := range want {
		if strings.Contains(l, "ethertype ARP") || strings.Contains(l, ": ICMP ") {
			arpICMP++
		}
	}
	t.Logf("tcpdump printed %d lines up to the marker, %d of them ARP or ICMP", len(want), arpICMP)
	if arpICMP < 100 {
		t.Errorf("only %d ARP and ICMP frames captured, want at least 100:\n%s", arpICMP, live.stdout)
	}
	for _, other := range []*proc{dump, reader} {
		got, _ := upToMarker(other)
		if d := lineDiff(want, got); d != "" {
			t.Errorf("%s differs from tcpdump -tt -e -n -i tap0 (- tcpdump, + %s):\n%s", other.name, other.name, d)
		}
	}
	// Each dump counts what it wrote: the lines smolfs dump printed, and
	// the frames of smolfs dump -w - that tcpdump -r read.
	printed := func(p *proc) int { return strings.Count(p.stdout.String(), "\n") }
	for _, c := range []struct{ p, out *proc }{{dump, dump}, {pcap, reader}} {
		if want := fmt.Sprintf("smolfs dump: %d frames captured", printed(c.out)); !strings.Contains(c.p.stderr.String(), want) {
			t.Errorf("%s: stderr lacks %q:\n%s", c.p.name, want, c.p.stderr)
		}
	}
}

// stampedOnce makes the kernel stamp each frame on tap0 once for all its
// captures until the test ends, so that tcpdump and smolfs dump see the same
// times. The kernel does so only while its global timestamping is on, which
// the first socket asking for stamps switches on from a work queue a moment
// later; until then each capture stamps its copy itself, at its own time.
// So a capture of ours that asks for stamps stays open for the whole test,
// and pings go until a second one sees the same stamp on a reply as it does.
func stampedOnce(t *testing.T, ns *testenv.Netns) {
	t.Helper()
	open := func() *devices.Packet {
		var p *devices.Packet
		if err := ns.Do(func() (err error) { p, err = devices.OpenPacket("tap0"); return err }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	held, w := open(), open()
	t.Cleanup(func() { held.Close() })
	defer w.Close()
	buf := make([]byte, 1<<16)
	reply := func(c *devices.Packet) time.Time { // the next echo reply's stamp
		for {
			n, _, ts, _, err := c.ReadFrame(buf)
			if err != nil {
				t.Fatal(err)
			}
			if n > 34 && buf[12] == 0x08 && buf[13] == 0x00 && buf[23] == 1 && buf[34] == 0 {
				return ts
			}
		}
	}
	for i, end := 1, time.Now().Add(hangGuard); ; i++ {
		ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, "-q", ourIP)
		if reply(held).Equal(reply(w)) {
			t.Logf("captures stamped alike from ping %d on", i)
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %d pings the kernel still stamps each capture's copy apart", i)
		}
	}
}

// TestDumpStopsWhenReaderGoes: `smolfs dump tap0 | head -n 1` ends with
// status 0 once the reader has gone, in both output formats.
func TestDumpStopsWhenReaderGoes(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running(t)
	for _, args := range [][]string{{"dump", "tap0"}, {"dump", "-w", "-", "tap0"}} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := ns.Command(smolfsBinary(t), args...)
		cmd.Stdout = pw
		p := start(t, "smolfs "+strings.Join(args, " "), cmd)
		pw.Close()
		if !waitFor(hangGuard, func() bool { return p.done() || strings.Contains(p.stderr.String(), "listening on tap0") }) || p.done() {
			t.Fatalf("%s did not start:\n%s", p.name, p.stderr)
		}
		ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, ourIP)
		pr.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := pr.Read(make([]byte, 100)); n == 0 {
			t.Fatalf("%s wrote nothing for a ping: %v", p.name, err)
		}
		pr.Close()
		// The next frames meet a pipe without a reader.
		ns.Run("ping", "-c", "2", "-w", hangGuardSeconds, "-i", "0.2", ourIP)
		if code, _ := p.wait(t, hangGuard); code != 0 {
			t.Errorf("%s: exit %d after its reader went away, want 0:\n%s", p.name, code, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), "frames captured") {
			t.Errorf("%s did not say what it captured:\n%s", p.name, p.stderr)
		}
	}
}

// lineDiff is a unified-style diff of two line lists (longest common
// subsequence), with two lines of context; "" when they are equal.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', b[j]})
			j++
		default:
			ops = append(ops, op{'-', a[i]})
			i++
		}
	}
	const context = 2
	var out strings.Builder
	last := -1
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		for c := max(k-context, last+1); c < k; c++ {
			if c == max(k-context, last+1) && c > last+1 && last >= 0 {
				out.WriteString("...\n")
			}
			fmt.Fprintf(&out, "  %s\n", ops[c].line)
		}
		fmt.Fprintf(&out, "%c %s\n", o.kind, o.line)
		last = k
		for c := k + 1; c < len(ops) && c <= k+context && ops[c].kind == ' '; c++ {
			fmt.Fprintf(&out, "  %s\n", ops[c].line)
			last = c
		}
	}
	return out.String()
}

func TestLineDiff(t *testing.T) {
	if d := lineDiff([]string{"a", "b"}, []string{"a", "b"}); d != "" {
		t.Errorf("equal lists: %q", d)
	}
	d := lineDiff([]string{"a", "b", "c", "d"}, []string{"a", "c", "d", "e"})
	if want := "  a\n- b\n  c\n  d\n+ e\n"; d != want {
		t.Errorf("lineDiff:\n%s\nwant\n%s", d, want)
	}
}

func TestUnanswered(t *testing.T) {
	// ping -w sent a fourth request while it waited for the third reply.
	out := "64 bytes from 192.168.69.1: icmp_seq=1 ttl=64 time=0.1 ms\n" +
		"64 bytes from 192.168.69.1: icmp_seq=2 ttl=64 time=0.1 ms\n" +
		"64 bytes from 192.168.69.1: icmp_seq=4 ttl=64 time=0.1 ms\n" +
		"64 bytes from 192.168.69.1: icmp_seq=2 ttl=64 time=0.1 ms (DUP!)\n" +
		"4 packets transmitted, 3 received, +1 duplicates, 25% packet loss, time 600ms\n"
	got := unanswered(out, 3)
	if want := []string{"icmp_seq=2 answered 2 times", "icmp_seq=3 answered 0 times"}; !slices.Equal(got, want) {
		t.Errorf("unanswered = %q, want %q", got, want)
	}
	if got := unanswered(out, 1); got != nil {
		t.Errorf("unanswered(1) = %q, want none", got)
	}
}

// TestServeShutdown: SIGTERM and SIGINT end smolfs serve with status 0, and
// the tap it created goes with it.
func TestServeShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ns, srv := running(t)
			if _, err := link(ns, "tap0"); err != nil {
				t.Fatalf("tap0 is not there while smolfs runs: %v", err)
			}
			srv.signal(t, sig)
			code, took := srv.wait(t, hangGuard)
			t.Logf("smolfs serve exited %v after %s", took, sig)
			if code != 0 {
				t.Errorf("after %s smolfs serve exited with %d, want 0:\n%s", sig, code, srv.stderr)
			}
			if _, err := link(ns, "tap0"); err == nil {
				t.Errorf("tap0 is still there after smolfs serve exited")
			}
			if !strings.Contains(srv.stderr.String(), "msg=stopped") {
				t.Errorf("smolfs serve did not log that it stopped:\n%s", srv.stderr)
			}
		})
	}
}

// TestServeTapBusy: a second server on the same tap fails at once and says
// why; the first keeps working.
func TestServeTapBusy(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running(t)
	second := start(t, "second smolfs serve", ns.Command(smolfsBinary(t), "serve", "-listen", "127.0.0.1:5641"))
	code, _ := second.wait(t, hangGuard)
	msg := second.stderr.String()
	if code != 1 || !strings.Contains(msg, "smolfs: open tap0: device or resource busy: another process has it open") {
		t.Errorf("second smolfs serve on tap0: exit %d, stderr:\n%s\nwant 1 and a message that tap0 is busy", code, msg)
	}
	ns.Run("ping", "-c", "1", "-w", hangGuardSeconds, ourIP)
}

// TestServeWithoutPrivileges: an unprivileged user gets told how to get a tap.
func TestServeWithoutPrivileges(t *testing.T) {
	testenv.RequireTool(t, "setpriv", "util-linux")
	ns := newNetns(t)
	p := start(t, "unprivileged smolfs serve", ns.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", smolfsBinary(t), "serve"))
	code, _ := p.wait(t, hangGuard)
	msg := p.stderr.String()
	// Where /dev/net/tun is 0600 the open of it fails (EACCES), elsewhere
	// creating the tap does (EPERM); the advice is the same.
	want := "run as root, or create the tap for your user first: sudo ip tuntap add dev tap0 mode tap user $USER"
	if code != 1 || !strings.HasPrefix(msg, "smolfs: open tap0: ") || !strings.Contains(msg, want) {
		t.Errorf("unprivileged smolfs serve: exit %d, stderr:\n%s\nwant 1 and %q", code, msg, want)
	}
	if strings.Contains(msg, "msg=ready") {
		t.Errorf("unprivileged smolfs serve said it was ready")
	}
}

// TestTrySh runs scripts/try.sh non-interactively: the namespace it makes
// works, the command's status comes back, and nothing is left behind.
func TestTrySh(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ip", "iproute2")
	testenv.RequireTool(t, "ping", "iputils-ping")
	script, err := filepath.Abs("../../scripts/try.sh")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("smolfs-test-try%d", os.Getpid())
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	try := func(command string) (int, string) {
		cmd := exec.Command(script, "-n", name, "-c", command)
		cmd.Env = append(os.Environ(), "SMOLFS_BIN="+smolfsBinary(t))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("try.sh: %v", err)
		}
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			t.Errorf("try.sh left namespace %s behind", name)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := try("ping -c 3 -w " + hangGuardSeconds + " -i 0.2 " + ourIP + " && ip neigh show " + ourIP + " && smolfs dump -h")
	if code != 0 {
		t.Fatalf("try.sh -c ping: exit %d:\n%s", code, out)
	}
	if bad := unanswered(out, 3); bad != nil {
		t.Errorf("try.sh -c ping: %s, want each once:\n%s", strings.Join(bad, ", "), out)
	}
	for _, want := range []string{"lladdr " + ourMAC, "Usage: smolfs dump"} {
		if !strings.Contains(out, want) {
			t.Errorf("try.sh -c: output lacks %q:\n%s", want, out)
		}
	}
	if code, out := try("exit 7"); code != 7 {
		t.Errorf("try.sh -c 'exit 7': exit %d, want 7:\n%s", code, out)
	}
}
