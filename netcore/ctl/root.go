package ctl

import (
	"net/netip"
	"strings"
	"syscall"
	"unicode"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The root ctl language (`new NAME ...`, `del NAME`) and the -host flag that
// describes a host the same way.

// MaxAddrs bounds the IPv4 addresses of one host: every received packet is
// matched against all of them.
const MaxAddrs = 256

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

// rootRow is a command of the root language.
type rootRow struct {
	Syntax
	op    RootOp
	parse func(c *RootCommand, args []string) *Reason
}

var rootCommands = []rootRow{
	{Syntax{Names: []string{"new"}, Usage: "new NAME [ea MAC] [add IP/N]...", Args: -1}, RootNew,
		func(c *RootCommand, args []string) *Reason {
			if len(args) < 1 || len(args)%2 != 1 {
				return Usage("new NAME [ea MAC] [add IP/N]...")
			}
			if r := checkHostName(args[0]); r != nil {
				return r
			}
			c.Host.Name = args[0]
			for i := 1; i < len(args); i += 2 {
				if r := c.Host.set(args[i], args[i+1]); r != nil {
					return r
				}
			}
			return nil
		}},
	{Syntax{Names: []string{"del"}, Usage: "del NAME", Args: 1}, RootDel,
		func(c *RootCommand, args []string) *Reason {
			c.Host.Name = args[0]
			return checkHostName(args[0])
		}},
}

// ParseRoot parses a write to the root ctl file.
func ParseRoot(file string, text []byte) ([]RootCommand, error) {
	return Lines(file, text, func(f []string, line int, text string) (RootCommand, *Reason) {
		c := RootCommand{Line: line, Text: text}
		row, r := Find(rootCommands, f)
		if r != nil {
			return c, r
		}
		c.Op = row.op
		return c, row.parse(&c, f[1:])
	})
}

// set applies one key and value of a host description.
func (h *HostSpec) set(key, val string) *Reason {
	switch key {
	case "ea", "mac":
		if !h.MAC.IsZero() {
			return Fail(syscall.EINVAL, ErrBadOption, "%s given twice", key)
		}
		m, r := ParseUnicastMAC(val)
		h.MAC = m
		return r
	case "add", "ip":
		p, r := ParseHostPrefix(val)
		if r != nil {
			return r
		}
		for _, q := range h.Addrs {
			if q.Addr() == p.Addr() {
				return Fail(syscall.EEXIST, ErrExists, "address %s given twice", p.Addr())
			}
		}
		if len(h.Addrs) >= MaxAddrs {
			return Fail(syscall.ENOSPC, ErrTooManyAddrs, "at most %d", MaxAddrs)
		}
		h.Addrs = append(h.Addrs, p)
		return nil
	}
	return Fail(syscall.EINVAL, ErrBadOption, "unknown key %q (ea, add)", key)
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
			r = Fail(syscall.EINVAL, ErrBadOption, "%q is not KEY=VALUE (ea=MAC, ip=IP/N)", kv)
			break
		}
		r = h.set(k, v)
	}
	if r != nil {
		return HostSpec{}, r.At("-host", 0, s)
	}
	return h, nil
}

// checkHostName accepts what Linux accepts as an interface name (at most 15
// bytes; no slash, colon, space or control character) that is not a file
// name of the root directory. % is refused too: Linux reads it as a pattern
// ("tap%d"); and so is any Unicode space, which would split the name in the
// root ctl file.
func checkHostName(name string) *Reason {
	switch {
	case name == "" || name == "." || name == "..":
		return Fail(syscall.EINVAL, ErrBadHostName, "%q", name)
	case len(name) > 15:
		return Fail(syscall.EINVAL, ErrBadHostName, "longer than 15 bytes")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("/:%", r) }):
		return Fail(syscall.EINVAL, ErrBadHostName, "%q contains / : %% a space or a control character", name)
	case name == "ctl" || name == "log":
		return Fail(syscall.EINVAL, ErrBadHostName, "%q is a file of the root directory", name)
	}
	return nil
}
