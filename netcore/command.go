package netcore

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Op is what a command does.
type Op uint8

// Host commands (written to NAME/ctl) and ARP commands (NAME/arp).
const (
	OpEA         Op = iota + 1 // ea MAC | mac MAC
	OpAdd                      // add IP/N
	OpRemove                   // remove IP/N
	OpRemoveAll                // remove all
	OpMTU                      // mtu N
	OpUp                       // up
	OpDown                     // down
	OpPromisc                  // promiscuous on|off
	OpGARP                     // garp
	OpARPTimeout               // arptimeout SECONDS

	OpARPAdd     // add IP MAC
	OpARPDel     // del IP
	OpARPFlush   // flush
	OpARPResolve // resolve IP
)

// Limits of the host ctl language.
const (
	MinMTU        = 68
	MaxMTU        = EthMaxPayload
	MaxARPTimeout = 24 * time.Hour
)

// Command is one parsed line of a ctl or arp write.
type Command struct {
	Op     Op
	Line   int    // 1-based line number within the write
	Text   string // the line as written, for error messages
	MAC    MAC
	Prefix netip.Prefix  // add, remove
	IP     netip.Addr    // arp add, del, resolve
	N      int           // mtu
	D      time.Duration // arptimeout
	On     bool          // promiscuous
}

// ParseCtl parses a write to a host's ctl file. file names the file in error
// messages ("tap0/ctl"). Every line is checked before any is returned; blank
// lines and lines starting with # are skipped.
func ParseCtl(file string, text []byte) ([]Command, error) {
	return parseLines(file, text, parseCtlLine)
}

// ParseARPCommands parses a write to a host's arp file.
func ParseARPCommands(file string, text []byte) ([]Command, error) {
	return parseLines(file, text, parseARPLine)
}

func parseLines[T any](file string, text []byte, parse func([]string) (T, *reason)) ([]T, error) {
	var out []T
	for n, raw := range bytes.Split(text, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		c, r := parse(strings.Fields(line))
		if r != nil {
			return nil, r.at(file, n+1, line)
		}
		setLine(&c, n+1, line)
		out = append(out, c)
	}
	return out, nil
}

func setLine(c any, n int, text string) {
	switch c := c.(type) {
	case *Command:
		c.Line, c.Text = n, text
	case *RootCommand:
		c.Line, c.Text = n, text
	}
}

func parseCtlLine(f []string) (Command, *reason) {
	c := Command{}
	args := f[1:]
	switch f[0] {
	case "ea", "mac":
		if len(args) != 1 {
			return c, usage("%s MAC", f[0])
		}
		m, r := parseUnicastMAC(args[0])
		c.Op, c.MAC = OpEA, m
		return c, r
	case "add", "remove":
		c.Op = OpAdd
		if f[0] == "remove" {
			c.Op = OpRemove
			if len(args) == 1 && args[0] == "all" {
				c.Op = OpRemoveAll
				return c, nil
			}
		}
		if len(args) != 1 {
			return c, usage("%s IP/N", f[0])
		}
		p, r := parseHostPrefix(args[0])
		c.Prefix = p
		return c, r
	case "mtu":
		if len(args) != 1 {
			return c, usage("mtu N")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < MinMTU || n > MaxMTU {
			return c, fail(syscall.EINVAL, ErrBadNumber, "mtu must be %d..%d", MinMTU, MaxMTU)
		}
		c.Op, c.N = OpMTU, n
		return c, nil
	case "up", "down", "garp":
		if len(args) != 0 {
			return c, usage("%s", f[0])
		}
		c.Op = map[string]Op{"up": OpUp, "down": OpDown, "garp": OpGARP}[f[0]]
		return c, nil
	case "promiscuous":
		if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
			return c, usage("promiscuous on|off")
		}
		c.Op, c.On = OpPromisc, args[0] == "on"
		return c, nil
	case "arptimeout":
		if len(args) != 1 {
			return c, usage("arptimeout SECONDS")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || time.Duration(n)*time.Second > MaxARPTimeout {
			return c, fail(syscall.EINVAL, ErrBadNumber, "arptimeout must be 1..%d seconds", int(MaxARPTimeout/time.Second))
		}
		c.Op, c.D = OpARPTimeout, time.Duration(n)*time.Second
		return c, nil
	}
	return c, fail(syscall.EINVAL, ErrUnknownCommand, "%q (ea, add, remove, mtu, up, down, promiscuous, garp, arptimeout)", f[0])
}

func parseARPLine(f []string) (Command, *reason) {
	c := Command{}
	args := f[1:]
	var r *reason
	switch f[0] {
	case "add":
		if len(args) != 2 {
			return c, usage("add IP MAC")
		}
		c.Op = OpARPAdd
		if c.IP, r = parseHostIP(args[0]); r != nil {
			return c, r
		}
		c.MAC, r = parseUnicastMAC(args[1])
		return c, r
	case "del", "resolve":
		if len(args) != 1 {
			return c, usage("%s IP", f[0])
		}
		c.Op = OpARPDel
		if f[0] == "resolve" {
			c.Op = OpARPResolve
		}
		c.IP, r = parseHostIP(args[0])
		return c, r
	case "flush":
		if len(args) != 0 {
			return c, usage("flush")
		}
		c.Op = OpARPFlush
		return c, nil
	}
	return c, fail(syscall.EINVAL, ErrUnknownCommand, "%q (add, del, flush, resolve)", f[0])
}

func usage(format string, args ...any) *reason {
	return fail(syscall.EINVAL, ErrUsage, "usage: "+format, args...)
}

func parseUnicastMAC(s string) (MAC, *reason) {
	m, err := ParseMAC(s)
	if err != nil {
		return MAC{}, fail(syscall.EINVAL, ErrBadMAC, "")
	}
	if m.IsMulticast() || m.IsZero() {
		return MAC{}, fail(syscall.EINVAL, ErrBadMAC, "%s is not a unicast address", m)
	}
	return m, nil
}

// parseHostIP accepts a dotted-quad IPv4 unicast address.
func parseHostIP(s string) (netip.Addr, *reason) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fail(syscall.EINVAL, ErrBadIPv4, "")
	}
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, fail(syscall.EINVAL, ErrBadIPv4, "%s is not a unicast address", a)
	}
	return a, nil
}

// parseHostPrefix accepts IP/N where IP is a usable host address of the
// subnet: not its network or broadcast address (except on /31 and /32).
func parseHostPrefix(s string) (netip.Prefix, *reason) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, fail(syscall.EINVAL, ErrBadPrefix, "missing /N")
	}
	a, r := parseHostIP(ip)
	if r != nil {
		return netip.Prefix{}, r
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 1 || n > 32 || strconv.Itoa(n) != bits {
		return netip.Prefix{}, fail(syscall.EINVAL, ErrBadPrefix, "prefix length must be 1..32")
	}
	p := netip.PrefixFrom(a, n)
	if n <= 30 && (a == p.Masked().Addr() || a == broadcastOf(p)) {
		return netip.Prefix{}, fail(syscall.EINVAL, ErrBadPrefix, "%s is the network or broadcast address of %s", a, p.Masked())
	}
	return p, nil
}

// broadcastOf is the all-ones host address of p's subnet.
func broadcastOf(p netip.Prefix) netip.Addr {
	v := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		v[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(v)
}

// HostSpec describes a host to create: `new NAME ea MAC add IP/N ...` in the
// root ctl file, or `-host NAME,ea=MAC,ip=IP/N` on the command line. A zero
// MAC means "pick one".
type HostSpec struct {
	Name  string
	MAC   MAC
	Addrs []netip.Prefix
}

// RootOp is a root ctl command.
type RootOp uint8

// Root ctl commands.
const (
	RootNew RootOp = iota + 1 // new NAME [ea MAC] [add IP/N]...
	RootDel                   // del NAME
)

// RootCommand is one parsed line of a write to the root ctl file.
type RootCommand struct {
	Op   RootOp
	Line int
	Text string
	Host HostSpec // for del, only Name
}

// ParseRootCtl parses a write to the root ctl file.
func ParseRootCtl(file string, text []byte) ([]RootCommand, error) {
	return parseLines(file, text, parseRootLine)
}

func parseRootLine(f []string) (RootCommand, *reason) {
	c := RootCommand{}
	switch f[0] {
	case "new":
		if len(f) < 2 || len(f)%2 != 0 {
			return c, usage("new NAME [ea MAC] [add IP/N]...")
		}
		c.Op = RootNew
		if r := checkHostName(f[1]); r != nil {
			return c, r
		}
		c.Host.Name = f[1]
		for i := 2; i < len(f); i += 2 {
			if r := c.Host.set(f[i], f[i+1]); r != nil {
				return c, r
			}
		}
		return c, nil
	case "del":
		if len(f) != 2 {
			return c, usage("del NAME")
		}
		c.Op = RootDel
		c.Host.Name = f[1]
		return c, checkHostName(f[1])
	}
	return c, fail(syscall.EINVAL, ErrUnknownCommand, "%q (new, del)", f[0])
}

// set applies one key and value of a host description.
func (h *HostSpec) set(key, val string) *reason {
	switch key {
	case "ea", "mac":
		if !h.MAC.IsZero() {
			return fail(syscall.EINVAL, ErrUsage, "%s given twice", key)
		}
		m, r := parseUnicastMAC(val)
		h.MAC = m
		return r
	case "add", "ip":
		p, r := parseHostPrefix(val)
		if r != nil {
			return r
		}
		for _, q := range h.Addrs {
			if q.Addr() == p.Addr() {
				return fail(syscall.EEXIST, ErrExists, "address %s given twice", p.Addr())
			}
		}
		h.Addrs = append(h.Addrs, p)
		return nil
	}
	return fail(syscall.EINVAL, ErrUsage, "unknown key %q (ea, add)", key)
}

// ParseHostFlag parses the -host flag: NAME[,ea=MAC][,ip=IP/N]...
func ParseHostFlag(s string) (HostSpec, error) {
	parts := strings.Split(s, ",")
	var h HostSpec
	r := checkHostName(parts[0])
	h.Name = parts[0]
	for _, kv := range parts[1:] {
		if r != nil {
			break
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			r = fail(syscall.EINVAL, ErrUsage, "%q is not KEY=VALUE (ea=MAC, ip=IP/N)", kv)
			break
		}
		r = h.set(k, v)
	}
	if r != nil {
		return HostSpec{}, r.at("-host", 0, s)
	}
	return h, nil
}

// checkHostName accepts what Linux accepts as an interface name (at most 15
// bytes, no slash or space) that is not a file name of the root directory.
func checkHostName(name string) *reason {
	switch {
	case name == "" || name == "." || name == "..":
		return fail(syscall.EINVAL, ErrUsage, "bad host name")
	case len(name) > 15:
		return fail(syscall.EINVAL, ErrUsage, "host name longer than 15 bytes")
	case strings.ContainsAny(name, "/:% \t"):
		return fail(syscall.EINVAL, ErrUsage, "host name may not contain / : %% or spaces")
	case name == "ctl" || name == "log":
		return fail(syscall.EINVAL, ErrUsage, "%q is a file of the root directory", name)
	}
	return nil
}

// AppendConfig renders the host ctl commands that recreate cfg, one per line,
// so that `cat ctl > f; cat f > ctl` restores the host.
func AppendConfig(b []byte, cfg Config) []byte {
	b = append(b, "ea "...)
	b = cfg.MAC.appendTo(b)
	b = append(b, '\n')
	b = append(b, "mtu "...)
	b = strconv.AppendInt(b, int64(cfg.MTU), 10)
	b = append(b, "\npromiscuous "...)
	if cfg.Promiscuous {
		b = append(b, "on\n"...)
	} else {
		b = append(b, "off\n"...)
	}
	b = append(b, "arptimeout "...)
	b = strconv.AppendInt(b, int64(cfg.ARPTimeout/time.Second), 10)
	b = append(b, "\nremove all\n"...)
	for _, p := range cfg.Addrs {
		b = append(b, "add "...)
		b = p.AppendTo(b)
		b = append(b, '\n')
	}
	if cfg.Down {
		return append(b, "down\n"...)
	}
	return append(b, "up\n"...)
}
