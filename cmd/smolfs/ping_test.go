package main

// smolfs ping against the kernel, in a namespace of the test's own (see
// netns_test.go), and its renderings against iputils'.

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
)

// smolfsPing runs smolfs ping ARGS in ns and returns its output and exit
// status.
func smolfsPing(t *testing.T, ns *testenv.Netns, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := ns.Command(smolfsBinary(t), append([]string{"ping"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return o.String(), e.String(), status
}

// The lines iputils ping prints (ping_common.c, ping.c), as expressions.
var (
	pingHeader  = regexp.MustCompile(`^PING (\S+) \(\S+\) (\d+)\((\d+)\) bytes of data\.$`)
	pingReply   = regexp.MustCompile(`^(\d+) bytes from (\S+): icmp_seq=(\d+) ttl=(\d+) time=(0\.\d{3}|[1-9]\.\d\d|[1-9]\d\.\d|[1-9]\d{2,}) ms$`)
	pingError   = regexp.MustCompile(`^From (\S+) icmp_seq=(\d+) Destination Host Unreachable$`)
	pingStats   = regexp.MustCompile(`^(\d+) packets transmitted, (\d+) received(, \+(\d+) errors)?, ([\d.]+)% packet loss, time \d+ms$`)
	pingRTTLine = regexp.MustCompile(`^rtt min/avg/max/mdev = \d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3} ms$`)
)

func TestPingKernel(t *testing.T) {
	ns, _ := running(t)
	out, errOut, status := smolfsPing(t, ns, "-c", "3", "-i", "0.2", kernelIP)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if status != 0 || len(lines) != 8 || errOut != "" {
		t.Fatalf("smolfs ping -c 3: status %d, %d lines:\n%s%s", status, len(lines), out, errOut)
	}
	if m := pingHeader.FindStringSubmatch(lines[0]); m == nil || m[1] != kernelIP || m[2] != "56" || m[3] != "84" {
		t.Errorf("header %q", lines[0])
	}
	for i, l := range lines[1:4] {
		m := pingReply.FindStringSubmatch(l)
		if m == nil || m[1] != "64" || m[2] != kernelIP || m[3] != string(rune('1'+i)) || m[4] != "64" {
			t.Errorf("reply line %q", l)
		}
	}
	if lines[4] != "" || lines[5] != "--- "+kernelIP+" ping statistics ---" {
		t.Errorf("statistics head %q %q", lines[4], lines[5])
	}
	if m := pingStats.FindStringSubmatch(lines[6]); m == nil || m[1] != "3" || m[2] != "3" || m[5] != "0" {
		t.Errorf("statistics %q", lines[6])
	}
	if !pingRTTLine.MatchString(lines[7]) {
		t.Errorf("rtt line %q", lines[7])
	}
	// Long pings go in fragments both ways.
	out, _, status = smolfsPing(t, ns, "-c", "2", "-i", "0.2", "-s", "65507", kernelIP)
	if status != 0 || strings.Count(out, "65515 bytes from "+kernelIP) != 2 {
		t.Errorf("smolfs ping -s 65507: status %d\n%s", status, out)
	}
}

// TestPingDead: an address nobody answers ARP for gets iputils' "Destination
// Host Unreachable" from the host's own address, once per request, and
// exit status 1.
func TestPingDead(t *testing.T) {
	ns, _ := running(t)
	start := time.Now()
	out, _, status := smolfsPing(t, ns, "-c", "3", "-i", "0.2", "192.168.69.7")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if status != 1 || len(lines) != 8 {
		t.Fatalf("smolfs ping of a dead address: status %d after %v, %d lines:\n%s", status, time.Since(start), len(lines), out)
	}
	for i, l := range lines[1:4] {
		if m := pingError.FindStringSubmatch(l); m == nil || m[1] != ourIP || m[2] != string(rune('1'+i)) {
			t.Errorf("error line %q", l)
		}
	}
	if m := pingStats.FindStringSubmatch(lines[6]); m == nil || m[2] != "0" || m[4] != "3" || m[5] != "100" {
		t.Errorf("statistics %q", lines[6])
	}
	if lines[7] != "pipe 3" {
		t.Errorf("last line %q, want pipe 3", lines[7])
	}
	// With a short wait, no error comes in time: 100% loss all the same.
	out, _, status = smolfsPing(t, ns, "-c", "1", "-W", "0.5", "192.168.69.8")
	if status != 1 || !strings.Contains(out, "1 packets transmitted, 0 received, 100% packet loss") {
		t.Errorf("smolfs ping -W 0.5: status %d\n%s", status, out)
	}
}

// TestPingNoRoute: an address no subnet or route reaches gets iputils'
// words for a failed connect, and status 2.
func TestPingNoRoute(t *testing.T) {
	ns, _ := running(t)
	out, errOut, status := smolfsPing(t, ns, "-c", "1", "10.1.2.3")
	if status != 2 || out != "" || errOut != "ping: connect: Network is unreachable\n" {
		t.Errorf("status %d, stdout %q, stderr %q", status, out, errOut)
	}
}

// TestPingFormatsAsIputils checks the renderings against what iputils
// prints for the same numbers (ping_common.c).
func TestPingFormatsAsIputils(t *testing.T) {
	for us, want := range map[int64]string{0: "0.000", 210: "0.210", 999: "0.999", 1000: "1.00", 1234: "1.23", 9994: "9.99",
		9995: "10.0", 12345: "12.3", 99949: "99.9", 99950: "100", 123456: "123", 1234567: "1235"} {
		if got := tripTime(us); got != want {
			t.Errorf("tripTime(%d) = %q, want %q", us, got, want)
		}
	}
	p := &pinger{transmitted: 3, received: 2, tmin: 210, tmax: 390, tsum: 600, tsum2: 210*210 + 390*390}
	var b strings.Builder
	p.out = &b
	if code := p.finish(); code != 0 {
		t.Errorf("finish = %d", code)
	}
	want := "\n---  ping statistics ---\n3 packets transmitted, 2 received, 33.3333% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.210/0.300/0.390/0.090 ms\n"
	if got := strings.Replace(b.String(), "--- invalid IP ping", "---  ping", 1); got != want {
		t.Errorf("finish printed\n%q\nwant\n%q", got, want)
	}
}
