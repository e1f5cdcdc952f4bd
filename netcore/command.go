package netcore

import (
	"bytes"
	"github.com/smolfs/smolfs/netcore/wire"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
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
	MaxMTU        = wire.EthMaxPayload
	MaxARPTimeout = 24 * time.Hour
)

// Command is one parsed line of a ctl or arp write.
type Command struct {
	Op     Op
	Line   int    // 1-based line number within the write
	Text   string // the line as written, for error messages
	MAC    wire.MAC
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

// parseLines splits a write into lines and parses each with parse, which is
// given the line's fields, number and text.
func parseLines[T any](file string, text []byte, parse func(f []string, line int, text string) (T, *reason)) ([]T, error) {
	var out []T
	for n, raw := range bytes.Split(text, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		c, r := parse(strings.Fields(line), n+1, line)
		if r != nil {
			return nil, r.at(file, n+1, line)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseCtlLine(f []string, line int, text string) (Command, *reason) {
	c := Command{Line: line, Text: text}
	args := f[1:]
	var r *reason
	switch f[0] {
	case "ea", "mac":
		if len(args) != 1 {
			return c, usage("%s MAC", f[0])
		}
		c.Op = OpEA
		c.MAC, r = parseUnicastMAC(args[0])
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
		c.Prefix, r = parseHostPrefix(args[0])
		return c, r
	case "mtu":
		if len(args) != 1 {
			return c, usage("mtu N")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return c, checkMTU(-1)
		}
		c.Op, c.N = OpMTU, n
		return c, checkMTU(n)
	case "up", "down", "garp":
		if len(args) != 0 {
			return c, usage("%s", f[0])
		}
		switch f[0] {
		case "up":
			c.Op = OpUp
		case "down":
			c.Op = OpDown
		default:
			c.Op = OpGARP
		}
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
		// Bounded before it is multiplied, so that a huge number cannot
		// wrap around into a small or negative duration.
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > int(MaxARPTimeout/time.Second) {
			return c, checkARPTimeout(-1)
		}
		c.Op, c.D = OpARPTimeout, time.Duration(n)*time.Second
		return c, nil
	}
	return c, fail(syscall.EINVAL, ErrUnknownCommand, "%q (ea, add, remove, mtu, up, down, promiscuous, garp, arptimeout)", f[0])
}

func parseARPLine(f []string, line int, text string) (Command, *reason) {
	c := Command{Line: line, Text: text}
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
	return fail(syscall.EINVAL, ErrUsage, format, args...)
}

// validate checks a command's values by the parser's rules, so that Exec is
// safe from commands built by hand as well.
func (c *Command) validate() *reason {
	switch c.Op {
	case OpEA:
		return checkUnicastMAC(c.MAC)
	case OpAdd, OpRemove:
		return checkHostPrefix(c.Prefix)
	case OpMTU:
		return checkMTU(c.N)
	case OpARPTimeout:
		return checkARPTimeout(c.D)
	case OpARPAdd:
		if r := checkHostIP(c.IP); r != nil {
			return r
		}
		return checkUnicastMAC(c.MAC)
	case OpARPDel, OpARPResolve:
		return checkHostIP(c.IP)
	case OpRemoveAll, OpUp, OpDown, OpPromisc, OpGARP, OpARPFlush:
		return nil
	}
	return fail(syscall.EINVAL, ErrUnknownCommand, "op %d", c.Op)
}

func checkMTU(n int) *reason {
	if n < MinMTU || n > MaxMTU {
		return fail(syscall.EINVAL, ErrBadNumber, "mtu must be %d..%d", MinMTU, MaxMTU)
	}
	return nil
}

// checkARPTimeout accepts whole seconds, so that the value renders exactly.
func checkARPTimeout(d time.Duration) *reason {
	if d < time.Second || d > MaxARPTimeout || d%time.Second != 0 {
		return fail(syscall.EINVAL, ErrBadNumber, "arptimeout must be 1..%d seconds", int(MaxARPTimeout/time.Second))
	}
	return nil
}

func parseUnicastMAC(s string) (wire.MAC, *reason) {
	m, err := wire.ParseMAC(s)
	if err != nil {
		return wire.MAC{}, fail(syscall.EINVAL, ErrBadMAC, "")
	}
	return m, checkUnicastMAC(m)
}

func checkUnicastMAC(m wire.MAC) *reason {
	if m.IsMulticast() || m.IsZero() {
		return fail(syscall.EINVAL, ErrBadMAC, "%s is not a unicast address", m)
	}
	return nil
}

// parseHostIP accepts a dotted-quad IPv4 unicast address.
func parseHostIP(s string) (netip.Addr, *reason) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fail(syscall.EINVAL, ErrBadIPv4, "")
	}
	return a, checkHostIP(a)
}

func checkHostIP(a netip.Addr) *reason {
	if !a.Is4() {
		return fail(syscall.EINVAL, ErrBadIPv4, "")
	}
	if !unicastIPv4(key(a)) {
		return fail(syscall.EINVAL, ErrBadIPv4, "%s is not a unicast address", a)
	}
	return nil
}

// unicastIPv4 reports whether ip (host byte order) can be a host's address on
// an Ethernet: not 0.0.0.0/8 ("this network"), loopback, multicast, the
// reserved 240.0.0.0/4 or the limited broadcast.
func unicastIPv4(ip uint32) bool {
	return ip>>24 != 0 && ip>>24 != 127 && ip < 0xe0000000
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
	return p, checkHostPrefix(p)
}

func checkHostPrefix(p netip.Prefix) *reason {
	if r := checkHostIP(p.Addr()); r != nil {
		return r
	}
	if n := p.Bits(); n < 1 || n > 32 {
		return fail(syscall.EINVAL, ErrBadPrefix, "prefix length must be 1..32")
	}
	if !ifAddrOf(p).holds(key(p.Addr())) {
		return fail(syscall.EINVAL, ErrBadPrefix, "%s is the network or broadcast address of %s", p.Addr(), p.Masked())
	}
	return nil
}

// Append renders c as the line that parses back to it (without Line and
// Text), followed by a newline: the ctl and arp languages have one spelling
// for each command.
func (c Command) Append(b []byte) []byte {
	switch c.Op {
	case OpEA:
		b = append(b, "ea "...)
		b = c.MAC.AppendTo(b)
	case OpAdd, OpRemove:
		if c.Op == OpAdd {
			b = append(b, "add "...)
		} else {
			b = append(b, "remove "...)
		}
		b = c.Prefix.AppendTo(b)
	case OpRemoveAll:
		b = append(b, "remove all"...)
	case OpMTU:
		b = append(b, "mtu "...)
		b = strconv.AppendInt(b, int64(c.N), 10)
	case OpUp:
		b = append(b, "up"...)
	case OpDown:
		b = append(b, "down"...)
	case OpPromisc:
		if c.On {
			b = append(b, "promiscuous on"...)
		} else {
			b = append(b, "promiscuous off"...)
		}
	case OpGARP:
		b = append(b, "garp"...)
	case OpARPTimeout:
		b = append(b, "arptimeout "...)
		b = strconv.AppendInt(b, int64(c.D/time.Second), 10)
	case OpARPAdd:
		b = append(b, "add "...)
		b = c.IP.AppendTo(b)
		b = append(b, ' ')
		b = c.MAC.AppendTo(b)
	case OpARPDel, OpARPResolve:
		if c.Op == OpARPDel {
			b = append(b, "del "...)
		} else {
			b = append(b, "resolve "...)
		}
		b = c.IP.AppendTo(b)
	case OpARPFlush:
		b = append(b, "flush"...)
	default:
		b = append(b, "# unknown op "...)
		b = strconv.AppendInt(b, int64(c.Op), 10)
	}
	return append(b, '\n')
}

// String is the command as Append renders it, without the newline.
func (c Command) String() string {
	b := c.Append(nil)
	return string(b[:len(b)-1])
}

// ConfigCommands are the ctl commands that turn any host into one configured
// as cfg. A host that is down says so before its addresses are added, so that
// replaying the lines sends no gratuitous ARP; one that is up comes up last,
// which announces every address once.
func ConfigCommands(cfg Config) []Command {
	cmds := []Command{
		{Op: OpEA, MAC: cfg.MAC},
		{Op: OpMTU, N: cfg.MTU},
		{Op: OpPromisc, On: cfg.Promiscuous},
		{Op: OpARPTimeout, D: cfg.ARPTimeout},
	}
	if cfg.Down {
		cmds = append(cmds, Command{Op: OpDown})
	}
	cmds = append(cmds, Command{Op: OpRemoveAll})
	for _, p := range cfg.Addrs {
		cmds = append(cmds, Command{Op: OpAdd, Prefix: p})
	}
	if !cfg.Down {
		cmds = append(cmds, Command{Op: OpUp})
	}
	return cmds
}

// AppendConfig renders the host ctl commands that recreate cfg, one per line,
// so that `cat ctl > f; cat f > ctl` restores the host.
func AppendConfig(b []byte, cfg Config) []byte {
	for _, c := range ConfigCommands(cfg) {
		b = c.Append(b)
	}
	return b
}

// HostSpec describes a host to create: `new NAME ea MAC add IP/N ...` in the
// root ctl file, or `-host NAME,ea=MAC,ip=IP/N` on the command line. A zero
// MAC means "pick one".
type HostSpec struct {
	Name  string
	MAC   wire.MAC
	Addrs []netip.Prefix
}

// Append renders the root ctl line that creates the host, with a newline:
// `new NAME [ea MAC] [add IP/N]...`.
func (h HostSpec) Append(b []byte) []byte {
	b = append(b, "new "...)
	b = append(b, h.Name...)
	if !h.MAC.IsZero() {
		b = append(b, " ea "...)
		b = h.MAC.AppendTo(b)
	}
	for _, p := range h.Addrs {
		b = append(b, " add "...)
		b = p.AppendTo(b)
	}
	return append(b, '\n')
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

// Append renders c as the line that parses back to it, with a newline.
func (c RootCommand) Append(b []byte) []byte {
	if c.Op == RootDel {
		b = append(b, "del "...)
		b = append(b, c.Host.Name...)
		return append(b, '\n')
	}
	return c.Host.Append(b)
}

// ParseRootCtl parses a write to the root ctl file.
func ParseRootCtl(file string, text []byte) ([]RootCommand, error) {
	return parseLines(file, text, parseRootLine)
}

func parseRootLine(f []string, line int, text string) (RootCommand, *reason) {
	c := RootCommand{Line: line, Text: text}
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
			return fail(syscall.EINVAL, ErrBadOption, "%s given twice", key)
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
		if len(h.Addrs) >= MaxAddrs {
			return fail(syscall.ENOSPC, ErrTooManyAddrs, "at most %d", MaxAddrs)
		}
		h.Addrs = append(h.Addrs, p)
		return nil
	}
	return fail(syscall.EINVAL, ErrBadOption, "unknown key %q (ea, add)", key)
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
			r = fail(syscall.EINVAL, ErrBadOption, "%q is not KEY=VALUE (ea=MAC, ip=IP/N)", kv)
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
// bytes; no slash, colon, space or control character) that is not a file
// name of the root directory. % is refused too: Linux reads it as a pattern
// ("tap%d"); and so is any Unicode space, which would split the name in the
// root ctl file.
func checkHostName(name string) *reason {
	switch {
	case name == "" || name == "." || name == "..":
		return fail(syscall.EINVAL, ErrBadHostName, "%q", name)
	case len(name) > 15:
		return fail(syscall.EINVAL, ErrBadHostName, "longer than 15 bytes")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("/:%", r) }):
		return fail(syscall.EINVAL, ErrBadHostName, "%q contains / : %% a space or a control character", name)
	case name == "ctl" || name == "log":
		return fail(syscall.EINVAL, ErrBadHostName, "%q is a file of the root directory", name)
	}
	return nil
}
