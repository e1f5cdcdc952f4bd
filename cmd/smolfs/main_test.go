package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func runCapture(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// flagNames are the flags a command defines.
func flagNames(c *command) []string {
	var names []string
	c.flagSet(io.Discard, io.Discard).VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

func TestHelpMentionsEveryFlag(t *testing.T) {
	for _, c := range commands {
		names := flagNames(c)
		if len(names) == 0 {
			t.Fatalf("%s defines no flags", c.name)
		}
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}} {
			code, out, errOut := runCapture(args...)
			if code != 0 || errOut != "" {
				t.Errorf("smolfs %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errOut)
			}
			for _, n := range names {
				if !strings.Contains(out, "\n  -"+n+" ") && !strings.Contains(out, "\n  -"+n+"\n") { // a bool flag takes no value
					t.Errorf("smolfs %s does not explain -%s:\n%s", strings.Join(args, " "), n, out)
				}
			}
			for _, want := range []string{"Usage: smolfs " + c.name, "Examples:\n  smolfs " + c.name} {
				if !strings.Contains(out, want) {
					t.Errorf("smolfs %s lacks %q:\n%s", strings.Join(args, " "), want, out)
				}
			}
		}
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"--help"}} {
		code, out, errOut := runCapture(args...)
		if code != 0 || errOut != "" {
			t.Errorf("smolfs %s: exit %d, stderr %q; want 0 and nothing", args[0], code, errOut)
		}
		for _, c := range commands {
			for _, n := range flagNames(c) {
				if !strings.Contains(out, "smolfs "+c.name+" ") || !strings.Contains(out, "[-"+n+" ") && !strings.Contains(out, "[-"+n+"]") {
					t.Errorf("smolfs %s does not mention %s -%s:\n%s", args[0], c.name, n, out)
				}
			}
			if !strings.Contains(out, "\n  smolfs "+c.name+" ") {
				t.Errorf("smolfs %s has no example of %s", args[0], c.name)
			}
		}
	}
	// The mount command's help shows the mount(8) line it stands for.
	_, out, _ := runCapture("mount", "-h")
	if !strings.Contains(out, "mount -t 9p -o trans=tcp,port=5640,version=9p2000.L 127.0.0.1 MOUNTPOINT") {
		t.Errorf("mount -h does not show the equivalent mount -t 9p command:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr, before the usage
	}{
		{nil, "no command given"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "-host", "tap0,ea=zz"}, `invalid value "tap0,ea=zz" for flag -host`},
		{[]string{"serve", "-host", "tap0,mtu=9000"}, `invalid value "tap0,mtu=9000" for flag -host`},
		{[]string{"serve", "-log-level", "loud"}, `invalid value "loud" for flag -log-level`},
		{[]string{"serve", "-host", "tap0", "-host", "tap0,ea=02:00:00:00:00:02"}, "host tap0 is given twice"},
		{[]string{"dump"}, "want exactly one interface"},
		{[]string{"dump", "a", "b"}, "want exactly one interface"},
		{[]string{"dump", "-w"}, "flag needs an argument: -w"},
		{[]string{"mount"}, "want exactly one MOUNTPOINT"},
		{[]string{"mount", "-version", "9P2000.L", "/mnt"}, `-version "9P2000.L"`},
		{[]string{"mount", "-addr", "localhost", "/mnt"}, `want HOST:PORT or unix:PATH`},
		{[]string{"mount", "-addr", "127.0.0.1:99999", "/mnt"}, `bad port "99999"`},
		{[]string{"mount", "-addr", "unix:", "/mnt"}, `want unix:PATH`},
	} {
		code, out, errOut := runCapture(tc.args...)
		if code != 2 || out != "" {
			t.Errorf("smolfs %q: exit %d, stdout %q; want 2 and nothing", tc.args, code, out)
		}
		if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "Usage:") || !strings.Contains(errOut, "-h'") {
			t.Errorf("smolfs %q: stderr lacks %q and the usage:\n%s", tc.args, tc.want, errOut)
		}
	}
}

func TestMountCommandLine(t *testing.T) {
	for _, tc := range []struct {
		addr, version, extra string
		flags                uintptr
		want                 string
	}{
		{"127.0.0.1:5640", "9p2000.L", "", 0,
			"mount -t 9p -o trans=tcp,port=5640,version=9p2000.L 127.0.0.1 /mnt/smol"},
		{"[::1]:564", "9p2000", "msize=65536,ro,nosuid", unix.MS_RDONLY | unix.MS_NOSUID,
			"mount -t 9p -o trans=tcp,port=564,version=9p2000,msize=65536,ro,nosuid ::1 /mnt/smol"},
		{"unix:/run/smolfs.sock", "9p2000.L", "cache=loose", 0,
			"mount -t 9p -o trans=unix,version=9p2000.L,cache=loose /run/smolfs.sock /mnt/smol"},
	} {
		m, err := newMount(tc.addr, tc.version, tc.extra, "/mnt/smol")
		if err != nil {
			t.Errorf("newMount(%q, %q, %q): %v", tc.addr, tc.version, tc.extra, err)
			continue
		}
		if got := m.command(); got != tc.want {
			t.Errorf("newMount(%q, %q, %q) stands for\n%s\nwant\n%s", tc.addr, tc.version, tc.extra, got, tc.want)
		}
		if m.flags != tc.flags {
			t.Errorf("newMount(%q, %q, %q): flags %#x, want %#x", tc.addr, tc.version, tc.extra, m.flags, tc.flags)
		}
	}
	m, err := newMount("unix:relative.sock", "9p2000.L", "", "/mnt/smol")
	if err != nil || !filepath.IsAbs(m.source) {
		t.Errorf("a relative unix socket path is passed to the kernel as %q (%v), want it absolute", m.source, err)
	}
}

// TestMountSaysWhatToDo runs a real mount(2): without root it must say to
// use sudo, as root on a kernel without 9p it must say how to get 9p, and a
// kernel with 9p must say that nothing listens on the port.
func TestMountSaysWhatToDo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // now nothing listens there
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	mnt := t.TempDir()
	code, _, errOut := runCapture("mount", "-addr", addr, mnt)
	if code == 0 {
		unix.Unmount(mnt, 0)
		t.Fatalf("mount of %s, where nothing listens, succeeded", addr)
	}
	var want []string
	switch {
	case os.Geteuid() != 0:
		want = []string{"operation not permitted", "run it with sudo"}
	case !has9P():
		want = []string{"no such device", "9p is missing from /proc/filesystems", "modprobe 9p 9pnet_fd", "CONFIG_9P_FS"}
	default:
		want = []string{"connection refused", "nothing listens on " + addr}
	}
	want = append(want, "smolfs: mount: mount -t 9p -o trans=tcp,port="+strconv.Itoa(port)+",version=9p2000.L 127.0.0.1 "+mnt)
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("smolfs mount: stderr lacks %q:\n%s", w, errOut)
		}
	}
	if code != 1 {
		t.Errorf("smolfs mount: exit %d, want 1", code)
	}

	code, _, errOut = runCapture("mount", filepath.Join(mnt, "absent"))
	if code != 1 || !strings.Contains(errOut, "does not exist: create it with mkdir -p") {
		t.Errorf("mount on a missing directory: exit %d, stderr %q", code, errOut)
	}
}

func TestListen(t *testing.T) {
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))

	l, err := listen("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if logged.Len() != 0 {
		t.Errorf("listening on loopback logged %q", logged.String())
	}
	_, err = listen(l.Addr().String(), logger)
	if err == nil || !strings.Contains(err.Error(), "address already in use: is another smolfs serve running?") {
		t.Errorf("a second listen on %s: %v, want a message about the address in use", l.Addr(), err)
	}
	if _, err := listen("localhost", logger); err == nil || !strings.Contains(err.Error(), "want HOST:PORT or unix:PATH") {
		t.Errorf("listen(localhost): %v", err)
	}

	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	// A socket file that nobody answers on, as a killed server leaves it.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ul, err := listen("unix:"+sock, logger)
	if err != nil {
		t.Fatalf("listen on a stale socket: %v", err)
	}
	if _, err := listen("unix:"+sock, logger); err == nil || !strings.Contains(err.Error(), "a server is answering on it") {
		t.Errorf("listen on a live socket: %v", err)
	}
	ul.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close the socket file is still there (%v)", err)
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("data"), 0o644)
	if _, err := listen("unix:"+plain, logger); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen on a regular file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "data" {
		t.Errorf("listen on a regular file changed it")
	}
}
