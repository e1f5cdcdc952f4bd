// Package testenv lets tests that need root, a kernel feature or a tool say
// so: they skip with the reason on a developer's machine, and fail in CI,
// where .ci/run sets SMOLFS_REQUIRE_ALL=1, so that a missing piece can never
// hide behind a skip there.
package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireAll reports whether every requirement must hold (CI).
func RequireAll() bool { return os.Getenv("SMOLFS_REQUIRE_ALL") == "1" }

// Missing skips the test with reason, or fails it when RequireAll.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("required in CI (SMOLFS_REQUIRE_ALL=1): %s", reason)
	}
	t.Skip(reason)
}

// RequireRoot needs uid 0 (network namespaces, tap devices).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: network namespaces and tap devices (run the tests with sudo, as .ci/run does)")
	}
}

// RequireTool needs a program on PATH; the reason names the Debian package.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found: apt-get install "+debianPackage)
	}
	return p
}

// Netns is a network namespace that a test made and removes at its end.
type Netns struct {
	Name string
	t    testing.TB
}

// NewNetns makes an empty network namespace with lo up, named
// smolfs-test-XXXXXXXX (smolfs-test-RUN-XXXXXXXX under scripts/test.sh,
// whose run marker RUN is in the environment), and removes it (and every
// interface in it) when the test ends. Main checks that it is gone. It
// needs root and ip(8).
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "ip", "iproute2")
	name := "smolfs-test-"
	if run := os.Getenv(RunVar); run != "" && strings.Trim(run, "0123456789abcdefghijklmnopqrstuvwxyz") == "" {
		name += run + "-"
	}
	ns := &Netns{Name: name + randomHex(4), t: t}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
	}
	madeNetns(ns.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

// Command is exec.Command run inside the namespace.
func (ns *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command in the namespace and fails the test if it fails. It
// returns the combined output.
func (ns *Netns) Run(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Command(name, args...).CombinedOutput()
	if err != nil {
		ns.t.Fatalf("in %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread that has entered the namespace, so that what fn
// creates (a tap device, a socket) belongs to it. The thread is discarded
// afterwards rather than returned to the Go scheduler.
func (ns *Netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}
