package main

// Endurance and fault tests: the tap deleted under a flood, and 50 9P
// clients reading stats and arp while an ARP flood from many senders runs.
// The long forms (a 1 M sender flood, a soak of minutes) are in
// scripts/soak.sh; these take seconds each.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore"
)

// Two hosts for the endurance tests: tap0 also has a /8, so that a flood
// from many distinct senders fills its ARP cache (the host learns only
// senders on its subnets); tap1 is the bystander.
const (
	floodHost    = "tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24,ip=10.0.0.1/8"
	floodTarget  = "10.0.0.1"
	bystander    = "tap1,ea=02:00:00:00:00:02,ip=192.168.70.1/24"
	bystanderIP  = "192.168.70.1"
	bystanderNet = "192.168.70.100/24"
)

// loadBuild is a program the tests build once, without the race detector:
// the load generators, and smolfs for the test that compares speeds.
type loadBuild struct {
	once sync.Once
	pkg  string // relative to cmd/smolfs
	name string
	path string
	err  error
}

var (
	arpfloodBuild  = &loadBuild{pkg: "../../internal/cmd/arpflood", name: "arpflood"}
	nineploadBuild = &loadBuild{pkg: "../../internal/cmd/ninepload", name: "ninepload"}
	plainBuild     = &loadBuild{pkg: ".", name: "smolfs-plain"}
)

func (b *loadBuild) binary(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		path := filepath.Join(binDir, b.name)
		out, err := exec.Command(goTool, "build", "-o", path, b.pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
			return
		}
		b.path = path
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// arpfloodBinary is internal/cmd/arpflood, the ARP flood.
func arpfloodBinary(t testing.TB) string { return arpfloodBuild.binary(t) }

// nineploadBinary is internal/cmd/ninepload, the 9P clients.
func nineploadBinary(t testing.TB) string { return nineploadBuild.binary(t) }

// floodResult is arpflood's summary line.
type floodResult struct {
	sent, replies, lost int
	replyRate           float64
	line                string
}

func parseFlood(out string) (floodResult, error) {
	r := floodResult{line: strings.TrimSpace(out)}
	fields := map[string]string{}
	for _, f := range strings.Fields(r.line) {
		k, v, ok := strings.Cut(f, "=")
		if ok {
			fields[k] = v
		}
	}
	var errs []error
	num := func(k string) float64 {
		v, err := strconv.ParseFloat(fields[k], 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q", k, fields[k]))
		}
		return v
	}
	r.sent, r.replies, r.lost = int(num("sent")), int(num("replies")), int(num("lost"))
	r.replyRate = num("reply_rate")
	if len(errs) > 0 {
		return r, fmt.Errorf("arpflood printed %q: %w", r.line, errors.Join(errs...))
	}
	return r, nil
}

// session is a 9P2000.L session whose calls return errors rather than
// fail the test, so that they can be polled (waitFor) and tried to fail.
type session struct {
	c    *p9.Client
	root p9.File
}

func dialSession(ns *testenv.Netns) (*session, error) {
	var conn net.Conn
	err := ns.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", "127.0.0.1:5640", 5*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	c, err := p9.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	root, err := c.Attach("")
	if err != nil {
		c.Close()
		return nil, err
	}
	return &session{c: c, root: root}, nil
}

func (s *session) close() {
	s.root.Close()
	s.c.Close()
}

// read reads a whole file.
func (s *session) read(path string) (string, error) {
	_, f, err := s.root.Walk(strings.Split(path, "/"))
	if err != nil {
		return "", fmt.Errorf("walk %s: %w", path, err)
	}
	defer f.Close()
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	var b []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := f.ReadAt(buf, int64(len(b)))
		b = append(b, buf[:n]...)
		if errors.Is(err, io.EOF) || err == nil && n == 0 {
			return string(b), nil
		}
		if err != nil {
			return string(b), fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// stats parses a stats file.
func parseStats(text string) (map[string]uint64, error) {
	m := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		name, v, ok := strings.Cut(line, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("stats line %q", line)
		}
		m[name] = n
	}
	if _, ok := m["rx_frames"]; !ok {
		return nil, fmt.Errorf("stats without rx_frames: %q", text)
	}
	return m, nil
}

// checkFates wants every received frame counted in exactly one fate.
func checkFates(t *testing.T, host string, st map[string]uint64) {
	t.Helper()
	var sum uint64
	for _, c := range netcore.RxFates {
		v, ok := st[c.String()]
		if !ok {
			t.Errorf("%s/stats lacks %s", host, c)
		}
		sum += v
	}
	if sum != st["rx_frames"] {
		t.Errorf("%s/stats: rx_frames %d, but the fates add up to %d", host, st["rx_frames"], sum)
	}
}

// follow reads a stream file (frames, log) as it grows, handing what
// arrives to fn, until it ends. The server answers the read after a short
// reply with 0 bytes once (Linux's read loop needs that), which the client
// reports as io.EOF: only a second one in a row is the end.
func follow(f p9.File, fn func([]byte)) error {
	buf := make([]byte, 8192)
	var off int64
	empty := 0
	for {
		n, err := f.ReadAt(buf, off)
		off += int64(n)
		fn(buf[:n])
		switch {
		case n > 0:
			empty = 0
		case errors.Is(err, io.EOF):
			if empty++; empty > 1 {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// logFollower reads /log as it grows.
type logFollower struct {
	mu    sync.Mutex
	text  strings.Builder
	s     *session
	f     p9.File
	ended chan struct{}
}

func followLog(t *testing.T, ns *testenv.Netns) *logFollower {
	t.Helper()
	s, err := dialSession(ns)
	if err != nil {
		t.Fatalf("9P session for /log: %v", err)
	}
	_, f, err := s.root.Walk([]string{"log"})
	if err == nil {
		_, _, err = f.Open(p9.ReadOnly)
	}
	if err != nil {
		s.close()
		t.Fatalf("open /log: %v", err)
	}
	l := &logFollower{s: s, f: f, ended: make(chan struct{})}
	go func() {
		defer close(l.ended)
		follow(f, func(b []byte) {
			l.mu.Lock()
			l.text.Write(b)
			l.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		f.Close()
		s.close()
		<-l.ended
	})
	return l
}

func (l *logFollower) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// fdCount is how many descriptors the process has open.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// checkServerHealthy fails the test if the server has exited or reported a
// data race or a panic.
func checkServerHealthy(t testing.TB, srv *proc) {
	t.Helper()
	if srv.done() {
		t.Fatalf("smolfs serve has exited:\n%s", srv.stderr)
	}
	for _, bad := range []string{"DATA RACE", "panic:", "fatal error:"} {
		if strings.Contains(srv.stderr.String(), bad) {
			t.Fatalf("smolfs serve reported %q:\n%s", bad, srv.stderr)
		}
	}
}

// TestTapDeletedUnderFlood deletes tap0 while an ARP flood and ping -f hit
// it: the host goes down with an event in /log, the server and tap1 keep
// serving, no descriptor is left behind, and the host can be created again
// on a new tap0 that works.
func TestTapDeletedUnderFlood(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns := newNetns(t)
	srv := startServe(t, ns, "-host", floodHost, "-host", bystander)
	peer(t, ns)
	ns.Run("ip", "addr", "add", bystanderNet, "dev", "tap1")
	ns.Run("ip", "link", "set", "tap1", "up")
	log := followLog(t, ns)
	s, err := dialSession(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	fds := fdCount(srv.cmd.Process.Pid)

	// Capture readers on both hosts, as a person watching would have.
	var captured [2]atomic.Int64 // bytes read from tap0/frames and tap1/frames
	for i, host := range []string{"tap0", "tap1"} {
		_, f, err := s.root.Walk([]string{host, "frames"})
		if err == nil {
			_, _, err = f.Open(p9.ReadOnly)
		}
		if err != nil {
			t.Fatalf("open %s/frames: %v", host, err)
		}
		go follow(f, func(b []byte) { captured[i].Add(int64(len(b))) })
		defer f.Close()
	}

	// ping -f first, on an idle tap: once the open-loop flood runs it
	// keeps the tap's queue full (it retries every send the queue refuses),
	// and ping's requests, even the kernel's ARP for our address, would
	// have to win a slot against it. So ping is seen going before the
	// flood starts, and the flood, which always gets through, after it;
	// neither wait depends on how fast the machine is.
	stats := func() map[string]uint64 {
		text, err := s.read("tap0/stats")
		if err != nil {
			t.Fatalf("tap0/stats: %v", err)
		}
		st, err := parseStats(text)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// Both run until the tap goes; their deadlines only bound a hang.
	pingf := start(t, "ping -f", ns.Command("ping", "-f", "-q", "-w", "300", ourIP))
	var before map[string]uint64
	if !waitFor(hangGuard, func() bool { before = stats(); return before["icmp_echo_rx"] >= 10 }) {
		t.Fatalf("ping -f did not get going on an idle tap: tap0/stats %v", before)
	}
	flood := start(t, "arpflood", ns.Command(arpfloodBinary(t), "-i", "tap0", "-target", floodTarget,
		"-window", "0", "-senders", "100000", "-count", "1000000000", "-duration", "300s"))
	if !waitFor(hangGuard, func() bool { before = stats(); return before["arp_rx_request"] > 10000 }) {
		t.Fatalf("the flood did not get going: tap0/stats %v", before)
	}
	ns.Run("ip", "link", "del", "tap0")

	if !waitFor(hangGuard, func() bool { return strings.Contains(log.String(), "tap0: device gone: ") }) {
		t.Fatalf("no \"tap0: device gone\" event in /log after the tap was deleted:\n%s", log)
	}
	t.Logf("/log: %s", regexp.MustCompile(`(?m)^.*tap0: device gone.*$`).FindString(log.String()))
	// arpflood ends by itself once its interface is gone; ping -f would
	// go on trying until its -w.
	flood.wait(t, hangGuard)
	pingf.cmd.Process.Kill()
	pingf.wait(t, hangGuard)

	// The server answers, tap1 answers, and tap0 is there but down.
	checkServerHealthy(t, srv)
	tap1Before := captured[1].Load()
	ns.Run("ping", "-c", "3", "-w", hangGuardSeconds, "-i", "0.2", bystanderIP)
	if !waitFor(hangGuard, func() bool { return captured[1].Load() > tap1Before }) {
		t.Errorf("tap1/frames showed nothing of a ping after tap0 was deleted")
	}
	// ping -f was seen answered before the flood: its frames reach the reader.
	if !waitFor(hangGuard, func() bool { return captured[0].Load() > 0 }) {
		t.Errorf("tap0/frames showed nothing of the flood")
	}
	if text, err := s.read("ctl"); err != nil || !strings.Contains(text, "new tap0 ") || !strings.Contains(text, "new tap1 ") {
		t.Errorf("/ctl after the deletion: %q, %v; want both hosts", text, err)
	}
	if text, err := s.read("tap0/ctl"); err != nil || !regexp.MustCompile(`(?m)^down$`).MatchString(text) {
		t.Errorf("tap0/ctl after the deletion: %q, %v; want it down", text, err)
	}
	if err := writeFile(s, "tap0/ctl", "up\n"); err == nil {
		t.Errorf("up on the host whose tap is gone succeeded")
	}
	text, err := s.read("tap0/stats")
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStats(text)
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, "tap0", st)

	// Recreated in one write, the host runs on a fresh tap0.
	if err := writeFile(s, "ctl", "del tap0\nnew tap0 ea "+ourMAC+" add "+ourIP+"/24 add 10.0.0.1/8\n"); err != nil {
		t.Fatalf("recreating tap0: %v\n/log:\n%s", err, log)
	}
	peer(t, ns)
	out := ns.Run("ping", "-c", "3", "-w", hangGuardSeconds, "-i", "0.2", ourIP)
	if bad := unanswered(out, 3); bad != nil {
		t.Errorf("ping of the recreated host: %s, want each once:\n%s", strings.Join(bad, ", "), out)
	}
	if !waitFor(hangGuard, func() bool { return strings.Contains(log.String(), "tap0: created") }) {
		t.Errorf("/log does not show tap0 created again:\n%s", log)
	}
	if text, err := s.read("tap0/stats"); err != nil {
		t.Errorf("tap0/stats of the new host: %v", err)
	} else if st, err := parseStats(text); err != nil || st["rx_frames"] >= before["rx_frames"] {
		t.Errorf("tap0/stats of the new host starts from %d frames (%v), want a fresh count", st["rx_frames"], err)
	}
	// The old tap's descriptor and wake-up went with it: the new host has
	// as many as the old one had.
	if !waitFor(hangGuard, func() bool { return fdCount(srv.cmd.Process.Pid) == fds }) {
		t.Errorf("smolfs has %d descriptors open, %d before the tap was deleted", fdCount(srv.cmd.Process.Pid), fds)
	}
	checkServerHealthy(t, srv)
}

// writeFile writes text as `echo text > path` does.
func writeFile(s *session, path, text string) error {
	_, f, err := s.root.Walk(strings.Split(path, "/"))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := f.Open(p9.WriteOnly | p9.OpenFlags(unix.O_TRUNC)); err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(text), 0)
	return err
}

// watchedFlood runs smolfs with an ARP flood from a million senders keeping
// its cache full and churning, and 50 9P clients watching tap0/stats and
// tap0/arp once a second each (as `watch -n1 cat` would), in rounds: a phase
// of flood alone, then flood with the clients, ..., ending with a phase
// without them. Every read must be answered, and the host must keep
// answering the flood while the clients watch. It returns, per round, the
// reply rate with the clients over the mean of the phases without them
// around it (so that a slow drift of the machine cancels), for rounds whose
// two phases without clients agree within 25% (otherwise the machine's other
// work changed in between, and the round would measure that). The clients
// (internal/cmd/ninepload), the flood and the server are built without the
// race detector even under -race: on two cores the detector's cost in the
// clients would be charged to the host.
func watchedFlood(t testing.TB, rounds int) (ratios []float64) {
	const (
		clients  = 50
		phase    = time.Second
		interval = time.Second // between one client's polls
		maxDrift = 0.25
	)
	ns := newNetns(t)
	srv := startServeBinary(t, ns, plainSmolfsBinary(t), "-host", floodHost)
	peer(t, ns)

	// Fill the cache first, so that every arp read is a full one.
	bin := arpfloodBinary(t)
	ns.Run(bin, "-i", "tap0", "-target", floodTarget, "-senders", "5000")

	measure := func() floodResult {
		out, err := ns.Command(bin, "-i", "tap0", "-target", floodTarget, "-senders", "1000000",
			"-count", "100000000", "-duration", phase.String()).Output()
		if err != nil {
			t.Fatalf("arpflood: %v", err)
		}
		r, err := parseFlood(string(out))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// watchers starts the clients and returns once all have attached.
	watchers := func(round int) *proc {
		p := start(t, fmt.Sprintf("ninepload, round %d", round), ns.Command(nineploadBinary(t), "-clients", strconv.Itoa(clients),
			"-interval", interval.String(), "-duration", phase.String(), "-timeout", hangGuard.String(), "tap0/stats", "tap0/arp"))
		if !waitFor(hangGuard, func() bool { return p.done() || strings.Contains(p.stderr.String(), "attached") }) || p.done() {
			t.Fatalf("%s did not attach its clients:\n%s", p.name, p.stderr)
		}
		return p
	}

	measure() // warm-up: a fresh server's first second is not typical
	without := measure()
	for round := range rounds {
		load := watchers(round)
		with := measure()
		// Its reads are bounded by -timeout: every one is answered or fails.
		if code, _ := load.wait(t, 2*hangGuard); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", load.name, code, load.stderr)
		}
		after := measure()
		got := strings.TrimSpace(load.stdout.String())
		t.Logf("round %d: with %d clients %s; %s; then without %s", round, clients, with.line, got, after.line)
		var n, failures, minReads int
		if _, err := fmt.Sscanf(got, "clients=%d reads=%d failures=%d min_reads=%d", new(int), &n, &failures, &minReads); err != nil {
			t.Fatalf("ninepload printed %q: %v", got, err)
		}
		if failures > 0 || minReads < 2 {
			t.Errorf("round %d: %d reads failed, and one client had only %d of its reads answered (want both files at least once):\n%s", round, failures, minReads, load.stderr)
		}
		if with.replies == 0 || without.replyRate == 0 || after.replyRate == 0 {
			t.Fatalf("round %d: the host stopped answering the flood: before %s; with the clients %s; after %s", round, without.line, with.line, after.line)
		}
		lo, hi := min(without.replyRate, after.replyRate), max(without.replyRate, after.replyRate)
		if (hi-lo)/hi < maxDrift {
			ratios = append(ratios, with.replyRate/((without.replyRate+after.replyRate)/2))
		} else {
			t.Logf("round %d is not compared: without clients the host answered %.0f/s before and %.0f/s after", round, without.replyRate, after.replyRate)
		}
		without = after
	}
	checkServerHealthy(t, srv)
	return ratios
}

// TestFiftyClientsDuringFlood: 50 clients watching during a flood are all
// answered and the host keeps answering. How much they slow it is a speed,
// and speeds are measured by BenchmarkFiftyClientsDuringFlood, not asserted.
func TestFiftyClientsDuringFlood(t *testing.T) {
	ratios := watchedFlood(t, 2)
	t.Logf("reply rate with the clients / without, per round compared: %.2f", ratios)
}

// BenchmarkFiftyClientsDuringFlood reports the median over rounds of the
// host's reply rate with 50 clients watching over its rate without them, in
// the same run (the goal: not measurably lower).
//
//	go test -run '^$' -bench FiftyClients -benchtime 1x ./cmd/smolfs
func BenchmarkFiftyClientsDuringFlood(b *testing.B) {
	var ratios []float64
	for range b.N {
		ratios = append(ratios, watchedFlood(b, 5)...)
	}
	if len(ratios) == 0 {
		b.Fatal("no round had steady rates without the clients: the machine is too busy to compare")
	}
	b.ReportMetric(median(ratios), "with/without")
	b.Logf("per round: %.2f", ratios)
}

// plainSmolfsBinary is smolfs built without the race detector.
func plainSmolfsBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled() {
		return smolfsBinary(t)
	}
	return plainBuild.binary(t)
}

// startServeBinary is startServe with another build of smolfs.
func startServeBinary(t testing.TB, ns *testenv.Netns, bin string, args ...string) *proc {
	t.Helper()
	p := start(t, "smolfs serve", ns.Command(bin, append([]string{"serve"}, args...)...))
	ready := waitFor(hangGuard, func() bool { return p.done() || strings.Contains(p.stderr.String(), "msg=ready") })
	if !ready || p.done() {
		t.Fatalf("smolfs serve %s did not get ready:\n%s", strings.Join(args, " "), p.stderr)
	}
	return p
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestServeDebug: -debug serves the goroutine and heap profiles as text on
// loopback, which the soak script reads, and nowhere else; "free" collects
// first.
func TestServeDebug(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "192.168.69.1:6060", "6060"} {
		code, _, errOut := runCapture("serve", "-debug", addr)
		if code != 2 || !strings.Contains(errOut, `invalid value "`+addr+`" for flag -debug`) {
			t.Errorf("serve -debug %s: exit %d, stderr:\n%s\nwant 2 and the flag named", addr, code, errOut)
		}
	}
	ns := newNetns(t)
	startServe(t, ns, "-debug", "127.0.0.1:6060")
	read := func(request string) []byte {
		var dump []byte
		err := ns.Do(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:6060", 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(hangGuard))
			if _, err := io.WriteString(c, request); err != nil {
				return err
			}
			// The end of the request: the server need not wait for more.
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				return err
			}
			dump, err = io.ReadAll(c)
			return err
		})
		if err != nil {
			t.Fatalf("reading the debug endpoint: %v", err)
		}
		return dump
	}
	numGC := func(dump []byte) int {
		m := regexp.MustCompile(`\n# NumGC = (\d+)\n`).FindSubmatch(dump)
		if m == nil {
			t.Fatalf("the heap profile has no NumGC:\n%s", dump)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	dump := read("") // no request: just the dump
	before := numGC(dump)
	if after := numGC(read("free\n")); after <= before {
		t.Errorf("after \"free\" the runtime counts %d collections, %d before: want more", after, before)
	}
	m := regexp.MustCompile(`^goroutine profile: total (\d+)\n`).FindSubmatch(dump)
	if m == nil {
		t.Fatalf("the debug endpoint does not start with the goroutine count:\n%.500s", dump)
	}
	if n, _ := strconv.Atoi(string(m[1])); n < 3 {
		t.Errorf("the debug endpoint counts %d goroutines, fewer than the server runs", n)
	}
	for _, want := range []string{"\nheap profile: ", "\n# MaxRSS = "} {
		if !strings.Contains(string(dump), want) {
			t.Errorf("the debug endpoint lacks %q", want)
		}
	}
}
