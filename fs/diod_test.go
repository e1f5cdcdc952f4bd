package fs

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/knusbaum/go9p/proto"

	"github.com/smolfs/smolfs/internal/testenv"
)

// TestDiodClients runs the clients of Debian's diod package against the
// server: diod's client library sends Tauth first and goes on only if the
// answer is ENOENT ("no authentication needed"), as diod itself answers.
func TestDiodClients(t *testing.T) {
	diodcat := testenv.RequireTool(t, "diodcat", "diod")
	diodls := testenv.RequireTool(t, "diodls", "diod")
	e := newEnv(t)
	run := func(bin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args = append([]string{"-s", e.addr, "-a", "/", "-t", "10"}, args...)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if got, want := run(diodcat, "tap0/addr"), "02:00:00:00:00:01\n192.168.69.1/24\n"; got != want {
		t.Errorf("diodcat tap0/addr: %q, want %q", got, want)
	}
	if got := run(diodcat, "tap0/stats"); !strings.HasPrefix(got, "rx_frames ") || !strings.HasSuffix(got, "\n") {
		t.Errorf("diodcat tap0/stats: %q", got)
	}
	if got, want := run(diodls, "tap0"), "ctl\naddr\narp\nframes\nframes.pcap\nstats\nudp\ntcp\nicmp\n"; !sameLines(got, want) {
		t.Errorf("diodls tap0: %q, want the lines of %q", got, want)
	}
	if got := run(diodls, "-l", "tap0"); !strings.Contains(got, "addr") || !strings.Contains(got, "stats") {
		t.Errorf("diodls -l tap0: %q", got)
	}
}

// sameLines reports whether a and b hold the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Fields(a), strings.Fields(b)
	if len(la) != len(lb) {
		return false
	}
	seen := map[string]int{}
	for _, l := range la {
		seen[l]++
	}
	for _, l := range lb {
		if seen[l]--; seen[l] < 0 {
			return false
		}
	}
	return true
}

// TestAuth9P2000: a plain 9P2000 client (not Linux) is told in words that
// no authentication is required, and attaches with NOFID afterwards.
func TestAuth9P2000(t *testing.T) {
	e := newEnv(t)
	r := e.dialRaw(t)
	if rv, ok := r.call(tversion(8192, "9P2000")).(*proto.TRVersion); !ok || rv.Version != "9P2000" {
		t.Fatalf("Rversion = %v", rv)
	}
	if got := rerr(r.call(&proto.TAuth{Header: hdr(proto.Tauth, 1), Afid: 9, Uname: "glenda"})); got != "authentication not required" {
		t.Errorf("Tauth: %q, want %q", got, "authentication not required")
	}
	if _, ok := r.call(&proto.TAttach{Header: hdr(proto.Tattach, 2), Fid: 0, Afid: noFid, Uname: "glenda"}).(*proto.RAttach); !ok {
		t.Error("attach after Tauth failed")
	}
}
