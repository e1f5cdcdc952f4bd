package ctl

import (
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The conversation language: what is written to NAME/{udp,tcp,icmp}/N/ctl
// (Plan 9's ip(3)). The host carries the commands out (netcore/conv.go);
// here they are parsed and read back.

// ConvOp is what a conversation command does.
type ConvOp uint8

// Conversation commands.
const (
	ConvConnect   ConvOp = iota + 1 // connect IP!PORT [LOCALPORT]
	ConvAnnounce                    // announce PORT | *!PORT | IP!PORT
	ConvClose                       // close
	ConvHangup                      // hangup
	ConvKeepalive                   // keepalive [SECONDS]
	ConvNodelay                     // nodelay on|off
	ConvTTL                         // ttl N
	ConvTOS                         // tos N
)

// MaxKeepalive bounds a keepalive interval, so that seconds cannot wrap
// around when they become a duration.
const MaxKeepalive = 24 * time.Hour

// ConvCommand is one parsed line of a write to a conversation's ctl file.
type ConvCommand struct {
	Op   ConvOp
	Line int    // 1-based line number within the write
	Text string // the line as written

	// connect: the remote address; its port is 0 when the line gave none
	// (ICMP takes an address alone: the protocol decides what it needs).
	Remote netip.AddrPort
	// connect: the local port asked for, 0 for any.
	LocalPort uint16
	// announce: the local address; the unspecified address (0.0.0.0, as *
	// and a bare PORT give) stands for any of the host's.
	Local netip.AddrPort

	N  int           // ttl, tos
	On bool          // nodelay; keepalive (false: keepalive 0)
	D  time.Duration // keepalive interval; 0 for the protocol's default
}

// convRow is a command of the conversation language.
type convRow struct {
	Syntax
	op    ConvOp
	parse func(c *ConvCommand, args []string) *Reason // nil: no words
}

var convCommands = []convRow{
	{Syntax{Names: []string{"connect"}, Usage: "connect IP!PORT [LOCALPORT]", Args: -1}, ConvConnect,
		func(c *ConvCommand, args []string) (r *Reason) {
			if len(args) < 1 || len(args) > 2 {
				return Usage("connect IP!PORT [LOCALPORT]")
			}
			if c.Remote, r = ParseConvAddr(args[0]); r != nil {
				return r
			}
			if len(args) == 2 {
				c.LocalPort, r = parsePort(args[1])
			}
			return r
		}},
	{Syntax{Names: []string{"announce"}, Usage: "announce PORT | *!PORT | IP!PORT", Args: 1}, ConvAnnounce,
		func(c *ConvCommand, args []string) (r *Reason) {
			if p, r := parsePort(args[0]); r == nil {
				c.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), p)
				return nil
			}
			c.Local, r = ParseConvAddr(args[0])
			return r
		}},
	{Syntax{Names: []string{"close"}, Usage: "close", Args: 0}, ConvClose, nil},
	{Syntax{Names: []string{"hangup"}, Usage: "hangup", Args: 0}, ConvHangup, nil},
	{Syntax{Names: []string{"keepalive"}, Usage: "keepalive [SECONDS]", Args: -1}, ConvKeepalive,
		func(c *ConvCommand, args []string) *Reason {
			c.On = true
			switch len(args) {
			case 0:
				return nil
			case 1:
			default:
				return Usage("keepalive [SECONDS]")
			}
			max := int(MaxKeepalive / time.Second)
			n, r := ParseNumber(args[0], 0, max)
			if r != nil {
				return Fail(syscall.EINVAL, ErrBadNumber, "keepalive takes 0 (off) to %d seconds", max)
			}
			c.On, c.D = n > 0, time.Duration(n)*time.Second
			return nil
		}},
	{Syntax{Names: []string{"nodelay"}, Usage: "nodelay on|off", Args: 1}, ConvNodelay,
		func(c *ConvCommand, args []string) *Reason {
			on, ok := ParseOnOff(args[0])
			if !ok {
				return Usage("nodelay on|off")
			}
			c.On = on
			return nil
		}},
	{Syntax{Names: []string{"ttl"}, Usage: "ttl N", Args: 1}, ConvTTL,
		func(c *ConvCommand, args []string) (r *Reason) {
			if c.N, r = ParseNumber(args[0], 1, 255); r != nil {
				return Fail(syscall.EINVAL, ErrBadNumber, "ttl takes 1 to 255")
			}
			return nil
		}},
	{Syntax{Names: []string{"tos"}, Usage: "tos N", Args: 1}, ConvTOS,
		func(c *ConvCommand, args []string) (r *Reason) {
			if c.N, r = ParseNumber(args[0], 0, 255); r != nil {
				return Fail(syscall.EINVAL, ErrBadNumber, "tos takes 0 to 255")
			}
			return nil
		}},
}

// ParseConv parses a write to a conversation's ctl file (file names it in
// errors: "tap0/udp/3/ctl"); an error is a *CommandError of class EINVAL.
func ParseConv(file string, text []byte) ([]ConvCommand, error) {
	return Lines(file, text, parseConvLine)
}

func parseConvLine(f []string, line int, text string) (ConvCommand, *Reason) {
	c := ConvCommand{Line: line, Text: text}
	row, r := Find(convCommands, f)
	if r != nil {
		return c, r
	}
	c.Op = row.op
	if row.parse != nil {
		r = row.parse(&c, f[1:])
	}
	return c, r
}

func (op ConvOp) String() string {
	for _, row := range convCommands {
		if row.op == op {
			return row.Names[0]
		}
	}
	return "convop(" + strconv.Itoa(int(op)) + ")"
}

// Append renders the command as a line that parses back to it.
func (c ConvCommand) Append(b []byte) []byte {
	b = append(b, c.Op.String()...)
	switch c.Op {
	case ConvConnect:
		b = append(b, ' ')
		b = AppendAddrPort(b, c.Remote)
		if c.LocalPort != 0 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(c.LocalPort), 10)
		}
	case ConvAnnounce:
		b = append(b, ' ')
		b = AppendAddrPort(b, c.Local)
	case ConvKeepalive:
		switch {
		case !c.On:
			b = append(b, " 0"...)
		case c.D > 0:
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(c.D/time.Second), 10)
		}
	case ConvNodelay:
		if c.On {
			b = append(b, " on"...)
		} else {
			b = append(b, " off"...)
		}
	case ConvTTL, ConvTOS:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(c.N), 10)
	}
	return b
}

func (c ConvCommand) String() string { return string(c.Append(nil)) }

// parsePort parses a port number, 0 to 65535.
func parsePort(s string) (uint16, *Reason) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, Fail(syscall.EINVAL, ErrBadAddrPort, "port %q is not a number from 0 to 65535", s)
	}
	return uint16(n), nil
}

// ParseConvAddr parses an address in any of the forms the conversation
// commands take: IP!PORT (Plan 9's, and what the files print; *!PORT for
// any address), IP:PORT, [IPv6]:PORT, and a bare IP, whose port is then 0.
func ParseConvAddr(s string) (netip.AddrPort, *Reason) {
	switch {
	case strings.Contains(s, "!"):
		return ParseAddrPort(s)
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Addr().Zone() != "" {
			return netip.AddrPort{}, Fail(syscall.EINVAL, ErrBadAddrPort, "%q: want IP!PORT, IP:PORT or [IPv6]:PORT", s)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, Fail(syscall.EINVAL, ErrBadAddrPort, "%q: want IP!PORT, IP:PORT or [IPv6]:PORT", s)
	}
	return netip.AddrPortFrom(a, 0), nil
}
