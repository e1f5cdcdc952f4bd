package devices

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore"
)

func TestTapOpenErrorWording(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		what  string
		want  string
	}{
		{syscall.EPERM, "", "open tap0: operation not permitted: run as root, or create the tap for your user first: sudo ip tuntap add dev tap0 mode tap user $USER"},
		{syscall.EACCES, "/dev/net/tun", "open tap0: /dev/net/tun: permission denied: run as root, or create the tap for your user first: sudo ip tuntap add dev tap0 mode tap user $USER"},
		{syscall.EBUSY, "", "open tap0: device or resource busy: another process has it open (a tap has one reader); find it with: grep -l 'iff:.tap0$' /proc/*/fdinfo/*"},
		{syscall.EINVAL, "", "open tap0: invalid argument: an interface of that name exists and is not a single-queue tap (see ip -d link show tap0): pick another name"},
		{syscall.ENOENT, "/dev/net/tun", "open tap0: /dev/net/tun: no such file or directory: this kernel has no tun/tap driver: modprobe tun"},
		{syscall.ENOMEM, "", "open tap0: cannot allocate memory"},
	} {
		err := tapOpenError("tap0", tc.what, tc.errno)
		if err.Error() != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.errno, err, tc.want)
		}
		if !errors.Is(err, tc.errno) {
			t.Errorf("%v: errors.Is does not find the errno in %v", tc.errno, err)
		}
	}
}

// withoutNetAdmin runs fn in ns on a thread that has dropped CAP_NET_ADMIN.
// Capabilities belong to a thread, and ns.Do's thread is discarded after fn,
// so the rest of the test process keeps its own.
func withoutNetAdmin(ns *testenv.Netns, fn func() error) error {
	return ns.Do(func() error {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capget: %w", err)
		}
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capset: %w", err)
		}
		return fn()
	})
}

// TestTapWithoutNetAdmin opens taps as a process without CAP_NET_ADMIN:
// creating one fails with the advice, and following the advice (a tap made
// for our user) works.
func TestTapWithoutNetAdmin(t *testing.T) {
	ns := testenv.NewNetns(t)
	err := withoutNetAdmin(ns, func() error {
		tap, err := OpenTap("tap0")
		if err == nil {
			tap.Close()
		}
		return err
	})
	want := "open tap0: operation not permitted: run as root, or create the tap for your user first: sudo ip tuntap add dev tap0 mode tap user $USER"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("creating a tap without CAP_NET_ADMIN: %v\nwant %s", err, want)
	}

	ns.Run("ip", "tuntap", "add", "dev", "tap0", "mode", "tap", "user", strconv.Itoa(os.Getuid()))
	configure(ns, "tap0")
	var tap *Tap
	if err := withoutNetAdmin(ns, func() (err error) { tap, err = OpenTap("tap0"); return err }); err != nil {
		t.Fatalf("attaching to a tap made for our user, without CAP_NET_ADMIN: %v", err)
	}
	d := NewDriver(newHost(t, "tap0"), tap, nil)
	defer d.Close()
	pingOK(t, ns)
}

func TestTapBadNames(t *testing.T) {
	for _, name := range []string{"", "a/b", "tap:0", "tap%d", "tap 0", ".", "..", "abcdefghijklmnop"} {
		_, err := OpenTap(name)
		if !errors.Is(err, syscall.EINVAL) || !errors.Is(err, errBadIfName) {
			t.Errorf("OpenTap(%q) = %v, want EINVAL explaining the rules", name, err)
		}
	}
}

// tapInNetns makes a namespace and opens tap0 inside it, with the kernel
// side up as 192.168.69.100/24 (IPv6 off, so that the kernel side stays
// quiet).
func tapInNetns(t *testing.T) (*testenv.Netns, *Tap) {
	t.Helper()
	ns := testenv.NewNetns(t)
	var tap *Tap
	if err := ns.Do(func() (err error) { tap, err = OpenTap("tap0"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tap.Close() })
	configure(ns, "tap0")
	return ns, tap
}

func configure(ns *testenv.Netns, dev string) {
	ns.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	ns.Run("ip", "link", "set", dev, "up")
	ns.Run("ip", "addr", "add", peerIP.String()+"/24", "dev", dev)
}

// operational waits until the kernel's side of dev can send: a tap whose
// link is up gets its carrier when a descriptor attaches, and the kernel
// turns that into a working link (operstate up, a real queue instead of
// one that drops everything) from a work queue, a moment later, which
// load can stretch.
func operational(t *testing.T, ns *testenv.Netns, dev string) {
	t.Helper()
	for end := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		if strings.TrimSpace(ns.Run("cat", "/sys/class/net/"+dev+"/operstate")) == "up" {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s is not operational after %v", dev, hangGuard)
		}
	}
}

// pingOK runs ping in ns and checks for no loss. -w rather than -W: with a
// count, ping then waits for every reply until the deadline, instead of
// giving up on the last one after two round-trip times, which a loaded
// machine (the race detector, parallel test binaries) easily exceeds. While
// it waits it goes on sending, so loss is judged by sequence number: each
// of the first 3 requests answered, once.
func pingOK(t *testing.T, ns *testenv.Netns) {
	t.Helper()
	testenv.RequireTool(t, "ping", "iputils-ping")
	out, err := ns.Command("ping", "-c", "3", "-i", "0.2", "-w", "60", hostIP.String()).CombinedOutput()
	checkAnswered(t, "ping", out, err, 3)
}

// checkAnswered fails the test unless ping (run with -c n -w D) succeeded
// and its first n requests were answered once each. With -w, ping waits
// for every reply however late, and goes on sending meanwhile, so its
// totals (and its loss percentage) may count requests past the n.
func checkAnswered(t *testing.T, what string, out []byte, err error, n int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	for seq := 1; seq <= n; seq++ {
		if c := strings.Count(string(out), fmt.Sprintf(": icmp_seq=%d ", seq)); c != 1 {
			t.Fatalf("%s: icmp_seq=%d answered %d times, want once:\n%s", what, seq, c, out)
		}
	}
}

func TestTapPingAndArping(t *testing.T) {
	testenv.RequireTool(t, "arping", "iputils-arping")
	ns, tap := tapInNetns(t)
	if tap.Name() != "tap0" {
		t.Errorf("Name() = %q", tap.Name())
	}
	d := NewDriver(newHost(t, "tap0"), tap, nil)
	defer d.Close()

	pingOK(t, ns)
	out, err := ns.Command("arping", "-c", "3", "-w", "60", "-I", "tap0", hostIP.String()).CombinedOutput()
	replies := regexp.MustCompile(`(?m)^Unicast reply from 192\.168\.69\.1 \[02:00:00:00:00:01\]`).FindAllString(string(out), -1)
	if err != nil || len(replies) != 3 {
		t.Fatalf("arping: %v, %d replies from 02:00:00:00:00:01, want 3:\n%s", err, len(replies), out)
	}
	st := d.Snapshot().Stats
	if st[netcore.ICMPEchoTx] < 3 || st[netcore.ARPTxReply] < 3 {
		t.Errorf("icmp_echo_tx %d arp_tx_reply %d: want at least 3 of each", st[netcore.ICMPEchoTx], st[netcore.ARPTxReply])
	}
}

func TestTapBusy(t *testing.T) {
	ns, tap := tapInNetns(t)
	_ = tap
	err := ns.Do(func() error {
		second, err := OpenTap("tap0")
		if err == nil {
			second.Close()
		}
		return err
	})
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "another process has it open") {
		t.Fatalf("opening tap0 twice: %v, want EBUSY with advice", err)
	}
	t.Log(err)
}

// TestTapPersistentAndReopen attaches to a tap that ip(8) made persistent,
// closes it and attaches again: the tap outlives us.
func TestTapPersistentAndReopen(t *testing.T) {
	ns := testenv.NewNetns(t)
	ns.Run("ip", "tuntap", "add", "dev", "tap7", "mode", "tap")
	configure(ns, "tap7")
	for i := range 2 {
		var tap *Tap
		if err := ns.Do(func() (err error) { tap, err = OpenTap("tap7"); return err }); err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		d := NewDriver(newHost(t, "tap7"), tap, nil)
		operational(t, ns, "tap7") // its link was up before the tap was attached
		pingOK(t, ns)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ns.Run("ip", "link", "show", "tap7") // still there
}

// TestTapKernelSideMoved opens tap0 by name in one namespace, then moves its
// kernel side to another: the descriptor keeps working.
func TestTapKernelSideMoved(t *testing.T) {
	first := testenv.NewNetns(t)
	second := testenv.NewNetns(t)
	var tap *Tap
	if err := first.Do(func() (err error) { tap, err = OpenTap("tap0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	d := NewDriver(newHost(t, "tap0"), tap, nil)
	defer d.Close()
	first.Run("ip", "link", "set", "tap0", "netns", second.Name)
	configure(second, "tap0")
	pingOK(t, second)
	if d.Err() != nil {
		t.Errorf("Err() = %v", d.Err())
	}
}

// TestTapDeletedUnderTraffic deletes the tap while the kernel floods it with
// pings: the host goes down with an event, the loop ends, nothing panics.
func TestTapDeletedUnderTraffic(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	before := runtime.NumGoroutine()
	ns, tap := tapInNetns(t)
	ev := newEvents()
	d := NewDriver(newHost(t, "tap0"), tap, ev.add)
	defer d.Close()

	flood := ns.Command("ping", "-f", "-w", "300", hostIP.String()) // killed below
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { flood.Process.Kill(); flood.Wait() }()
	deadline := time.Now().Add(hangGuard)
	for d.Snapshot().Stats[netcore.ICMPEchoTx] < 200 {
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not get going: %d replies", d.Snapshot().Stats[netcore.ICMPEchoTx])
		}
		time.Sleep(10 * time.Millisecond)
	}
	ns.Run("ip", "link", "del", "tap0")

	e := ev.wait(t, netcore.EventDown, hangGuard)
	t.Logf("event: %s", e)
	if !strings.HasPrefix(e.Msg, "device gone: ") {
		t.Errorf("event %q, want \"device gone: ...\"", e.Msg)
	}
	select {
	case <-d.done:
	case <-time.After(hangGuard):
		t.Fatal("the loop did not end")
	}
	if !errors.Is(d.Err(), ErrDeviceGone) {
		t.Errorf("Err() = %v, want ErrDeviceGone", d.Err())
	}
	checkGone(t, d)
	flood.Process.Kill()
	flood.Wait()
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	expectGoroutines(t, before)
}

// TestTapKernelSideDown: frames written while the kernel side is down are
// dropped and counted, and the device is not taken for gone.
func TestTapKernelSideDown(t *testing.T) {
	ns, tap := tapInNetns(t)
	d := NewDriver(newHost(t, "tap0"), tap, nil)
	defer d.Close()
	pingOK(t, ns)
	ns.Run("ip", "link", "set", "tap0", "down")
	if err := ctl(t, d, "garp"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(hangGuard)
	for d.Snapshot().Stats[netcore.TxDropped] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a gratuitous ARP on a tap whose kernel side is down was not counted as dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d.Err() != nil {
		t.Fatalf("Err() = %v: a tap that is down is not gone", d.Err())
	}
	ns.Run("ip", "link", "set", "tap0", "up")
	pingOK(t, ns)
}
