package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

var mountCommand = &command{
	name:     "mount",
	synopsis: "mount [-addr HOST:PORT|unix:PATH] [-version 9p2000.L|9p2000] [-o OPTS] MOUNTPOINT",
	summary:  "mount a running smolfs serve with the kernel's 9P client (v9fs)",
	about: `Mounts the file tree of a running 'smolfs serve' on MOUNTPOINT with mount(2) and
the kernel's 9P client (v9fs). With the defaults it does the same as

  mount -t 9p -o trans=tcp,port=5640,version=9p2000.L 127.0.0.1 MOUNTPOINT

and with -addr unix:/run/smolfs.sock the same as

  mount -t 9p -o trans=unix,version=9p2000.L /run/smolfs.sock MOUNTPOINT

It needs root (CAP_SYS_ADMIN) and a kernel with 9P: CONFIG_9P_FS and
CONFIG_NET_9P_FD built in, or their modules (modprobe 9p 9pnet_fd). Unmount
with 'umount MOUNTPOINT'. The kernel connects from the caller's network
namespace. 'ip netns exec NS CMD' runs CMD in a mount namespace of its own, so
a mount made by 'ip netns exec NS smolfs mount' alone vanishes with it: mount
from a shell started with 'ip netns exec NS bash' (as scripts/try.sh does) and
use the mount from that shell.`,
	examples: `  smolfs mount /mnt/smol                        # 127.0.0.1:5640, 9P2000.L
  smolfs mount -addr unix:/run/smolfs.sock /mnt/smol
  smolfs mount -version 9p2000 -o msize=65536 /mnt/smol`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		addr := flags.String("addr", "127.0.0.1:5640", "the server's address: `HOST:PORT` for TCP (HOST an IP address or a name\nthat resolves to one), or unix:PATH for a unix socket")
		version := flags.String("version", "9p2000.L", "the 9P `VERSION` to speak: 9p2000.L (Linux's default; errors are errno codes)\nor 9p2000 (plain 9P, as Plan 9 tools speak it; errors are strings). 9p2000.u works too")
		extra := flags.String("o", "", "more comma-separated mount `OPTS`, passed to v9fs after the ones above,\ne.g. msize=65536, cache=loose, uname=NAME, or ro, nosuid, nodev, noexec")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one MOUNTPOINT, got %d arguments", len(args))
			}
			m, err := newMount(*addr, *version, *extra, args[0])
			if err != nil {
				return err
			}
			return m.do()
		}
	},
}

// v9fsMount is one mount(2) call and the mount(8) command it stands for.
type v9fsMount struct {
	source, target string
	data           []string // v9fs options
	flags          uintptr  // MS_* for the generic options found in -o
	addr           string   // as given, for messages
}

// msFlags are the generic mount options that mount(8) turns into mount(2)
// flags instead of handing them to the file system.
var msFlags = []struct {
	name string
	flag uintptr
}{
	{"ro", unix.MS_RDONLY}, {"rw", 0}, {"nosuid", unix.MS_NOSUID}, {"nodev", unix.MS_NODEV},
	{"noexec", unix.MS_NOEXEC}, {"sync", unix.MS_SYNCHRONOUS}, {"dirsync", unix.MS_DIRSYNC},
	{"noatime", unix.MS_NOATIME}, {"nodiratime", unix.MS_NODIRATIME}, {"relatime", unix.MS_RELATIME},
}

func msFlag(name string) (uintptr, bool) {
	for _, f := range msFlags {
		if f.name == name {
			return f.flag, true
		}
	}
	return 0, false
}

func newMount(addr, version, extra, target string) (*v9fsMount, error) {
	switch version {
	case "9p2000.L", "9p2000.u", "9p2000":
	default:
		return nil, usagef("-version %q: want 9p2000.L, 9p2000 or 9p2000.u (the case matters)", version)
	}
	m := &v9fsMount{target: target, addr: addr}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, usagef("-addr %q: want unix:PATH", addr)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		m.source = abs
		m.data = []string{"trans=unix"}
	} else {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, usagef("-addr %q: want HOST:PORT or unix:PATH", addr)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return nil, usagef("-addr %q: bad port %q", addr, port)
		}
		ip, err := resolve(host)
		if err != nil {
			return nil, err
		}
		// v9fs takes only a numeric address: mount(8) would not resolve a
		// name for it either.
		m.source = ip.String()
		m.data = []string{"trans=tcp", "port=" + port}
	}
	m.data = append(m.data, "version="+version)
	for _, o := range strings.Split(extra, ",") {
		if o == "" {
			continue
		}
		if f, ok := msFlag(o); ok {
			m.flags |= f
			continue
		}
		m.data = append(m.data, o)
	}
	return m, nil
}

func resolve(host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("mount: cannot resolve %q to an IP address: %v", host, err)
	}
	return ips[0].Unmap(), nil
}

// command is the mount(8) line that does the same.
func (m *v9fsMount) command() string {
	opts := strings.Join(m.data, ",")
	for _, f := range msFlags {
		if f.flag != 0 && m.flags&f.flag != 0 {
			opts += "," + f.name
		}
	}
	return fmt.Sprintf("mount -t 9p -o %s %s %s", opts, m.source, m.target)
}

func (m *v9fsMount) do() error {
	st, err := os.Stat(m.target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mount: mount point %s does not exist: create it with mkdir -p %s", m.target, m.target)
	case err != nil:
		return fmt.Errorf("mount: %v", err)
	case !st.IsDir():
		return fmt.Errorf("mount: mount point %s is not a directory", m.target)
	}
	if strings.HasPrefix(m.addr, "unix:") {
		if _, err := os.Stat(m.source); err != nil {
			return fmt.Errorf("mount: %v: is smolfs serve -listen %s running?", err, m.addr)
		}
	}
	err = unix.Mount(m.source, m.target, "9p", m.flags, strings.Join(m.data, ","))
	if err == nil {
		return nil
	}
	return fmt.Errorf("mount: %s: %w: %s", m.command(), err, m.hint(err))
}

// hint says what to do about a failed mount(2).
func (m *v9fsMount) hint(err error) string {
	switch {
	case errors.Is(err, syscall.ENODEV):
		what := "the kernel has no 9p file system"
		if !has9P() {
			what = "the kernel has no 9p file system (9p is missing from /proc/filesystems)"
		}
		return what + ": load it with 'modprobe 9p 9pnet_fd', or use a kernel built with CONFIG_9P_FS and CONFIG_NET_9P_FD"
	case errors.Is(err, syscall.EPERM):
		return "mounting needs root (CAP_SYS_ADMIN): run it with sudo"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT) && strings.HasPrefix(m.addr, "unix:"):
		return fmt.Sprintf("nothing listens on %s: is smolfs serve running, and listening there (its -listen)?", m.addr)
	case errors.Is(err, syscall.EBUSY):
		return "something is already mounted there: umount " + m.target + " first"
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EPROTONOSUPPORT):
		return "v9fs rejected the options or the transport (is the 9pnet_fd module, which provides trans=tcp and trans=unix, loaded? 'dmesg | tail' has the kernel's reason)"
	}
	return "'dmesg | tail' may have the kernel's reason"
}

// has9P reports whether the running kernel knows the 9p file system now.
func has9P() bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == "9p" {
			return true
		}
	}
	return false
}
