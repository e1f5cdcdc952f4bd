package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/ctl"
)

// fakeDriver runs a Host with no device: frames it sends are kept.
type fakeDriver struct {
	mu     sync.Mutex
	h      *netcore.Host
	sent   int
	closed bool
}

func (d *fakeDriver) Snapshot() netcore.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.h.Snapshot()
}

func (d *fakeDriver) ARPTable() []netcore.ARPEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.h.ARPTable(time.Now())
	netcore.SortARP(t)
	return t
}

func (d *fakeDriver) Exec(file string, cmds []netcore.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out netcore.Output
	err := d.h.Exec(time.Now(), file, cmds, &out)
	d.sent += len(out.Frames)
	return err
}

func (d *fakeDriver) Do(fn func(h *netcore.Host, now time.Time, out *netcore.Output)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out netcore.Output
	fn(d.h, time.Now(), &out)
	d.sent += len(out.Frames)
	return nil
}

func (d *fakeDriver) Subscribe(n int) *capture.Subscription { return d.h.Capture().Subscribe(n) }

func (d *fakeDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.h.Capture().Close()
	return nil
}

// newTestStack returns a stack whose opener fails with EBUSY for names
// starting with "busy".
func newTestStack(t *testing.T) (*Stack, map[string]*fakeDriver) {
	drivers := map[string]*fakeDriver{}
	s := New(func(h *netcore.Host, onEvent func(netcore.Event), _ func(netcore.ConvRef)) (Driver, error) {
		if strings.HasPrefix(h.Name(), "busy") {
			return nil, fmt.Errorf("open %s: %w", h.Name(), syscall.EBUSY)
		}
		d := &fakeDriver{h: h}
		drivers[h.Name()] = d
		return d, nil
	}, nil)
	t.Cleanup(s.Close)
	return s, drivers
}

func TestRootCtl(t *testing.T) {
	s, drivers := newTestStack(t)
	if err := s.Ctl([]byte("new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\nnew tap1\n")); err != nil {
		t.Fatal(err)
	}
	want := "new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\nnew tap1 ea 02:00:00:00:00:02\n"
	if got := string(s.CtlText()); got != want {
		t.Errorf("ctl reads\n%s\nwant\n%s", got, want)
	}
	for _, tc := range []struct {
		text  string
		errno syscall.Errno
		msg   string
	}{
		{"new tap2\nnew tap0\n", syscall.EEXIST, `ctl: line 2: "new tap0": already exists: host tap0`},
		{"new tap2\ndel tap9\n", syscall.ENOENT, `ctl: line 2: "del tap9": not found: no host tap9`},
		{"new tap2\nnew busy0\n", syscall.EBUSY, `ctl: line 2: "new busy0": open busy0: device or resource busy`},
		{"new tap2\nfrob\n", syscall.EINVAL, `ctl: line 2: "frob": unknown command: "frob" (new, del)`},
		{"del tap0\nnew tap2 add 300.1.1.1/24\n", syscall.EINVAL, `ctl: line 2: "new tap2 add 300.1.1.1/24": bad IPv4 address`},
	} {
		err := s.Ctl([]byte(tc.text))
		if !errors.Is(err, tc.errno) || err.Error() != tc.msg {
			t.Errorf("Ctl(%q) = %v (errno %d), want %q (errno %d)", tc.text, err, ctl.Errno(err), tc.msg, tc.errno)
		}
		if got := s.HostNames(); strings.Join(got, " ") != "tap0 tap1" {
			t.Errorf("after failed %q hosts are %v, want tap0 tap1", tc.text, got)
		}
	}
	if d := drivers["tap2"]; d == nil || !d.closed {
		t.Errorf("tap2, created by a write that then failed, was not closed: %+v", d)
	}
	if err := s.Ctl([]byte("del tap1\n")); err != nil {
		t.Fatal(err)
	}
	if !drivers["tap1"].closed {
		t.Error("del did not close the host")
	}
	if _, ok := s.Host("tap1"); ok {
		t.Error("tap1 still there after del")
	}
}

func TestHostCtlErrorsAreLogged(t *testing.T) {
	s, _ := newTestStack(t)
	if err := s.Add(ctl.HostSpec{Name: "tap0"}); err != nil {
		t.Fatal(err)
	}
	r := s.Log().Subscribe()
	defer r.Close()
	h, _ := s.Host("tap0")
	err := h.Ctl([]byte("add 192.168.69.1/24\nadd 300.1.1.1/24\n"))
	want := `tap0/ctl: line 2: "add 300.1.1.1/24": bad IPv4 address`
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Ctl = %v, want %s (EINVAL)", err, want)
	}
	if got := h.Snapshot().Config.Addrs; len(got) != 0 {
		t.Errorf("failed write added %v", got)
	}
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only a hang ends this wait
	defer cancel()
	for !strings.Contains(strings.Join(lines, "\n"), want) {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("log has %q, not %q: %v", lines, want, err)
		}
		r.Take(func(l string) bool { lines = append(lines, l); return true })
	}
}

func TestLogFollowAndGap(t *testing.T) {
	l := NewLog()
	for i := range LogKeep + 10 {
		l.Addf("line %d", i)
	}
	r := l.Subscribe()
	var got []string
	r.Take(func(s string) bool { got = append(got, s); return true })
	if len(got) != LogKeep || !strings.HasSuffix(got[0], " line 10") {
		t.Fatalf("a new reader got %d lines starting %q, want %d starting with line 10", len(got), got[0], LogKeep)
	}
	for i := range LogKeep + 5 {
		l.Addf("more %d", i)
	}
	got = got[:0]
	r.Take(func(s string) bool { got = append(got, s); return true })
	if got[0] != "# dropped 5 lines" || !strings.HasSuffix(got[1], " more 5") {
		t.Errorf("after falling behind: %q, %q", got[0], got[1])
	}
	done := make(chan error)
	go func() { done <- r.Wait(context.Background()) }()
	l.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("Wait after Close = %v, want EOF", err)
	}
}

func TestRootCtlDelThenNewSameName(t *testing.T) {
	s, drivers := newTestStack(t)
	if err := s.Ctl([]byte("new tap0 ea 02:00:00:00:00:07 add 10.0.0.1/8\n")); err != nil {
		t.Fatal(err)
	}
	old := drivers["tap0"]
	if err := s.Ctl([]byte("del tap0\nnew tap0 ea 02:00:00:00:00:08\n")); err != nil {
		t.Fatal(err)
	}
	if !old.closed || drivers["tap0"] == old || drivers["tap0"].closed {
		t.Fatalf("del+new: old closed %v, new is old %v, new closed %v", old.closed, drivers["tap0"] == old, drivers["tap0"].closed)
	}
	if got, want := string(s.CtlText()), "new tap0 ea 02:00:00:00:00:08\n"; got != want {
		t.Errorf("ctl reads %q, want %q", got, want)
	}

	// The same, but a later line fails: tap0 must come back as it was.
	second := drivers["tap0"]
	err := s.Ctl([]byte("del tap0\nnew tap0 ea 02:00:00:00:00:09\nnew busy1\n"))
	if !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("Ctl = %v, want EBUSY", err)
	}
	if got, want := string(s.CtlText()), "new tap0 ea 02:00:00:00:00:08\n"; got != want {
		t.Errorf("after the failed write ctl reads %q, want %q", got, want)
	}
	if !second.closed {
		t.Error("the host replaced by the failed write was not closed before being restarted")
	}
	if h, ok := s.Host("tap0"); !ok || h.drv == Driver(second) || h.drv.(*fakeDriver).closed {
		t.Errorf("tap0 was not restarted after the failed write")
	}
}

// TestHostsGetSeeds: each host's impair randomness has a seed of its own,
// which a host recreated after a failed write keeps.
func TestHostsGetSeeds(t *testing.T) {
	s, drivers := newTestStack(t)
	if err := s.Ctl([]byte("new tap0\nnew tap1\n")); err != nil {
		t.Fatal(err)
	}
	a, b := drivers["tap0"].Snapshot().Config.Seed, drivers["tap1"].Snapshot().Config.Seed
	if a == 0 || b == 0 || a == b {
		t.Errorf("seeds %#x and %#x", a, b)
	}
	if err := s.Ctl([]byte("del tap0\nnew tap0\nnew busy0\n")); err == nil {
		t.Fatal("a write with a busy tap did not fail")
	}
	if c := drivers["tap0"].Snapshot().Config.Seed; c != a {
		t.Errorf("tap0 restored with seed %#x, had %#x", c, a)
	}
}
