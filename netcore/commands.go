package netcore

import (
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/impair"
	"github.com/smolfs/smolfs/netcore/wire"
)

// The commands of a host's ctl and arp files, each described once in a
// table row: its spelling, how its words parse, the rules its values keep,
// what it does, and how it reads back.
//
// Exec runs a write's commands twice through the same rows. First against
// a staged copy (the configuration and an overlay of the neighbour entries
// the write touches): that run is the check, and finds any error before
// anything changes. Then against the host itself, where after each command
// the host reconciles itself with what the command changed in its
// configuration (an address added is announced, a host gone down fails its
// resolutions, ...). The host run cannot fail where the staged one did not,
// with one exception that was always so: a neighbour evicted to make room
// for an earlier command of the same write is gone, and deleting it then
// does nothing.

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
	OpImpair                   // impair [rx|tx] [loss P%] ... | impair [rx|tx] off

	OpARPAdd     // add IP MAC
	OpARPDel     // del IP
	OpARPFlush   // flush
	OpARPResolve // resolve IP

	OpRouteAdd     // route add PREFIX GATEWAY
	OpRouteRemove  // route remove PREFIX
	OpIPv6         // ipv6 on|off
	OpIPv6Autoconf // ipv6 autoconf on|off
	numOps
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
	Prefix netip.Prefix  // add, remove; route add, route remove: the destination
	IP     netip.Addr    // arp add, del, resolve; route add: the gateway
	N      int           // mtu
	D      time.Duration // arptimeout
	On     bool          // promiscuous
	Impair impair.Command
}

// command is a row of the host's tables.
type command struct {
	ctl.Syntax
	op Op
	// parse reads the words after the name into c; Find checked their
	// number. Nil for commands without words.
	parse func(c *Command, args []string) *ctl.Reason
	// valid checks c's values by parse's rules, so that commands built by
	// hand keep them too. Nil when there is nothing to check.
	valid func(c *Command) *ctl.Reason
	// apply applies c to t, or says why it cannot (see Exec).
	apply func(t target, c *Command) *ctl.Reason
	// args appends the words after the name, as parse reads them.
	args func(b []byte, c *Command) []byte
	// config is the commands of this row that set cfg's part, for the
	// read-back of a configuration; nil for a row that keeps no state.
	config func(cfg *Config) []Command
}

// ctlCommands are the host ctl language, in the order its error messages
// list them.
var ctlCommands = []command{
	{Syntax: ctl.Syntax{Names: []string{"ea", "mac"}, Usage: "%s MAC", Args: 1}, op: OpEA,
		parse: func(c *Command, args []string) (r *ctl.Reason) {
			c.MAC, r = ctl.ParseUnicastMAC(args[0])
			return r
		},
		valid: func(c *Command) *ctl.Reason { return ctl.CheckUnicastMAC(c.MAC) },
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().MAC = c.MAC
			return nil
		},
		args:   func(b []byte, c *Command) []byte { return c.MAC.AppendTo(b) },
		config: func(cfg *Config) []Command { return []Command{{Op: OpEA, MAC: cfg.MAC}} },
	},
	{Syntax: ctl.Syntax{Names: []string{"add"}, Usage: "%s IP/N", Args: 1}, op: OpAdd,
		parse: parsePrefix, valid: validPrefix, args: appendPrefix,
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			switch {
			case cfg.hasAddr(c.Prefix.Addr()):
				return ctl.Fail(syscall.EEXIST, ctl.ErrExists, "%s is already an address of this host", c.Prefix.Addr())
			case len(cfg.Addrs)+len(cfg.Addrs6) >= MaxAddrs:
				return ctl.Fail(syscall.ENOSPC, ctl.ErrTooManyAddrs, "at most %d", MaxAddrs)
			}
			if c.Prefix.Addr().Is6() {
				cfg.Addrs6 = append(cfg.Addrs6, c.Prefix)
				cfg.IPv6 = true // INTERFACE.md: adding an IPv6 address turns IPv6 on
				return nil
			}
			cfg.Addrs = append(cfg.Addrs, c.Prefix)
			return nil
		},
		config: func(cfg *Config) []Command {
			cmds := make([]Command, 0, len(cfg.Addrs)+len(cfg.Addrs6))
			for _, p := range append(slices.Clip(cfg.Addrs), cfg.Addrs6...) {
				cmds = append(cmds, Command{Op: OpAdd, Prefix: p})
			}
			return cmds
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"remove"}, Usage: "%s IP/N", Args: 1, Match: func(args []string) bool { return len(args) == 1 && args[0] == "all" }},
		op: OpRemoveAll,
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().Addrs = t.config().Addrs[:0]
			t.config().pruneRoutes()
			t.config().Addrs6 = t.config().Addrs6[:0]
			return nil
		},
		args:   func(b []byte, c *Command) []byte { return append(b, "all"...) },
		config: func(cfg *Config) []Command { return []Command{{Op: OpRemoveAll}} },
	},
	{Syntax: ctl.Syntax{Names: []string{"remove"}, Usage: "%s IP/N", Args: 1}, op: OpRemove,
		parse: parsePrefix, valid: validPrefix, args: appendPrefix,
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			addrs := &cfg.Addrs
			if c.Prefix.Addr().Is6() {
				addrs = &cfg.Addrs6
			}
			i := hasAddr(*addrs, c.Prefix.Addr())
			if i < 0 || (*addrs)[i] != c.Prefix {
				return ctl.Fail(syscall.ENOENT, ctl.ErrNotFound, "%s is not an address of this host", c.Prefix)
			}
			*addrs = slices.Delete(*addrs, i, i+1)
			cfg.pruneRoutes()
			return nil
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"mtu"}, Usage: "mtu N", Args: 1}, op: OpMTU,
		parse: func(c *Command, args []string) *ctl.Reason {
			n, err := strconv.Atoi(args[0])
			if err != nil {
				return checkMTU(-1)
			}
			c.N = n
			return checkMTU(n)
		},
		valid: func(c *Command) *ctl.Reason { return checkMTU(c.N) },
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().MTU = c.N
			return nil
		},
		args:   func(b []byte, c *Command) []byte { return strconv.AppendInt(b, int64(c.N), 10) },
		config: func(cfg *Config) []Command { return []Command{{Op: OpMTU, N: cfg.MTU}} },
	},
	{Syntax: ctl.Syntax{Names: []string{"up"}, Usage: "%s", Args: 0}, op: OpUp,
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().Down = false
			return nil
		},
		config: func(cfg *Config) []Command {
			if cfg.Down {
				return nil
			}
			return []Command{{Op: OpUp}}
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"down"}, Usage: "%s", Args: 0}, op: OpDown,
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().Down = true
			return nil
		},
		config: func(cfg *Config) []Command {
			if !cfg.Down {
				return nil
			}
			return []Command{{Op: OpDown}}
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"promiscuous"}, Usage: "promiscuous on|off", Args: 1}, op: OpPromisc,
		parse: func(c *Command, args []string) *ctl.Reason {
			on, ok := ctl.ParseOnOff(args[0])
			if !ok {
				return ctl.Usage("promiscuous on|off")
			}
			c.On = on
			return nil
		},
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().Promiscuous = c.On
			return nil
		},
		args: func(b []byte, c *Command) []byte {
			if c.On {
				return append(b, "on"...)
			}
			return append(b, "off"...)
		},
		config: func(cfg *Config) []Command { return []Command{{Op: OpPromisc, On: cfg.Promiscuous}} },
	},
	{Syntax: ctl.Syntax{Names: []string{"garp"}, Usage: "%s", Args: 0}, op: OpGARP,
		apply: func(t target, c *Command) *ctl.Reason {
			if t.config().Down {
				return ctl.Fail(syscall.ENETDOWN, ctl.ErrHostDown, "")
			}
			t.announce()
			return nil
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"arptimeout"}, Usage: "arptimeout SECONDS", Args: 1}, op: OpARPTimeout,
		parse: func(c *Command, args []string) *ctl.Reason {
			// Bounded before it is multiplied, so that a huge number cannot
			// wrap around into a small or negative duration.
			n, r := ctl.ParseNumber(args[0], 1, int(MaxARPTimeout/time.Second))
			if r != nil {
				return checkARPTimeout(-1)
			}
			c.D = time.Duration(n) * time.Second
			return nil
		},
		valid: func(c *Command) *ctl.Reason { return checkARPTimeout(c.D) },
		apply: func(t target, c *Command) *ctl.Reason {
			t.config().ARPTimeout = c.D
			return nil
		},
		args:   func(b []byte, c *Command) []byte { return strconv.AppendInt(b, int64(c.D/time.Second), 10) },
		config: func(cfg *Config) []Command { return []Command{{Op: OpARPTimeout, D: cfg.ARPTimeout}} },
	},
	{Syntax: ctl.Syntax{Names: []string{"impair"}, Usage: impair.Usage, Args: -1}, op: OpImpair,
		parse: func(c *Command, args []string) *ctl.Reason {
			ic, err := impair.ParseArgs(args)
			if err != nil {
				return &ctl.Reason{Errno: syscall.EINVAL, Err: err}
			}
			c.Impair = ic
			return nil
		},
		valid: func(c *Command) *ctl.Reason {
			if c.Impair.Dir > impair.Tx {
				return ctl.Usage("%s", impair.Usage)
			}
			if err := c.Impair.Settings.Validate(); err != nil {
				return &ctl.Reason{Errno: syscall.EINVAL, Err: err}
			}
			return nil
		},
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			if c.Impair.Dir != impair.Tx {
				cfg.ImpairRx = c.Impair.Settings
			}
			if c.Impair.Dir != impair.Rx {
				cfg.ImpairTx = c.Impair.Settings
			}
			return nil
		},
		args: func(b []byte, c *Command) []byte { return c.Impair.AppendArgs(b) },
		config: func(cfg *Config) []Command {
			var cmds []Command
			for _, ic := range impair.Config(cfg.ImpairRx, cfg.ImpairTx) {
				cmds = append(cmds, Command{Op: OpImpair, Impair: ic})
			}
			return cmds
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"route"}, Usage: routeUsage, Args: -1,
		Match: func(args []string) bool { return len(args) > 0 && args[0] == "add" }}, op: OpRouteAdd,
		parse: func(c *Command, args []string) (r *ctl.Reason) {
			if len(args) != 3 {
				return ctl.Usage("%s", routeUsage)
			}
			if c.Prefix, r = ctl.ParseRoutePrefix(args[1]); r != nil {
				return r
			}
			c.IP, r = ctl.ParseHostIP(args[2])
			return r
		},
		valid: func(c *Command) *ctl.Reason {
			if r := ctl.CheckRoutePrefix(c.Prefix); r != nil {
				return r
			}
			return ctl.CheckHostIP(c.IP)
		},
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			r := Route{Prefix: c.Prefix, Gateway: c.IP}
			if rr := checkRoute(cfg, r); rr != nil {
				return rr
			}
			cfg.Routes = append(cfg.Routes, r)
			return nil
		},
		args: func(b []byte, c *Command) []byte {
			b = append(b, "add "...)
			b = c.Prefix.AppendTo(b)
			b = append(b, ' ')
			return c.IP.AppendTo(b)
		},
		config: func(cfg *Config) []Command {
			cmds := make([]Command, len(cfg.Routes))
			for i, r := range cfg.Routes {
				cmds[i] = Command{Op: OpRouteAdd, Prefix: r.Prefix, IP: r.Gateway}
			}
			return cmds
		},
	},
	// Any other route line is this row's, whose parser says the usage.
	{Syntax: ctl.Syntax{Names: []string{"route"}, Usage: routeUsage, Args: -1}, op: OpRouteRemove,
		parse: func(c *Command, args []string) (r *ctl.Reason) {
			if len(args) != 2 || args[0] != "remove" {
				return ctl.Usage("%s", routeUsage)
			}
			c.Prefix, r = ctl.ParseRoutePrefix(args[1])
			return r
		},
		valid: func(c *Command) *ctl.Reason { return ctl.CheckRoutePrefix(c.Prefix) },
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			i := slices.IndexFunc(cfg.Routes, func(r Route) bool { return r.Prefix == c.Prefix })
			if i < 0 {
				return ctl.Fail(syscall.ENOENT, ctl.ErrNotFound, "no route to %s", c.Prefix)
			}
			cfg.setRoutes(slices.Delete(cfg.Routes, i, i+1))
			return nil
		},
		args: func(b []byte, c *Command) []byte {
			b = append(b, "remove "...)
			return c.Prefix.AppendTo(b)
		},
	},
	ipv6AutoconfCommand, // commands6.go
	ipv6Command,
}

const routeUsage = "route add PREFIX GATEWAY | route remove PREFIX"

// arpCommands are the arp file's language.
var arpCommands = []command{
	{Syntax: ctl.Syntax{Names: []string{"add"}, Usage: "add IP MAC", Args: 2}, op: OpARPAdd,
		parse: func(c *Command, args []string) (r *ctl.Reason) {
			if c.IP, r = ctl.ParseAnyHostIP(args[0]); r != nil {
				return r
			}
			c.MAC, r = ctl.ParseUnicastMAC(args[1])
			return r
		},
		valid: func(c *Command) *ctl.Reason {
			if r := ctl.CheckAnyHostIP(c.IP); r != nil {
				return r
			}
			return ctl.CheckUnicastMAC(c.MAC)
		},
		apply: func(t target, c *Command) *ctl.Reason {
			static, ok := t.lookup(c.IP)
			switch {
			case t.config().ownsAddr(c.IP):
				return ctl.Fail(syscall.EINVAL, badIP(c.IP), "%s is an address of this host", c.IP)
			case ok && static:
				return ctl.Fail(syscall.EEXIST, ctl.ErrExists, "%s already has a static entry", c.IP)
			case t.statics() >= t.config().ARPCacheSize:
				return ctl.Fail(syscall.ENOSPC, ctl.ErrCacheFull, "")
			}
			t.setStatic(c.IP, c.MAC)
			return nil
		},
		args: func(b []byte, c *Command) []byte {
			b = c.IP.AppendTo(b)
			b = append(b, ' ')
			return c.MAC.AppendTo(b)
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"del"}, Usage: "%s IP", Args: 1}, op: OpARPDel,
		parse: parseIP, valid: validIP, args: appendIP,
		apply: func(t target, c *Command) *ctl.Reason {
			if _, ok := t.lookup(c.IP); !ok {
				return ctl.Fail(syscall.ENOENT, ctl.ErrNotFound, "no ARP entry for %s", c.IP)
			}
			t.unlearn(c.IP)
			return nil
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"flush"}, Usage: "flush", Args: 0}, op: OpARPFlush,
		apply: func(t target, c *Command) *ctl.Reason {
			t.flush()
			return nil
		},
	},
	{Syntax: ctl.Syntax{Names: []string{"resolve"}, Usage: "%s IP", Args: 1}, op: OpARPResolve,
		parse: parseIP, valid: validIP, args: appendIP,
		apply: func(t target, c *Command) *ctl.Reason {
			cfg := t.config()
			static, _ := t.lookup(c.IP)
			switch {
			case cfg.Down:
				return ctl.Fail(syscall.ENETDOWN, ctl.ErrHostDown, "")
			case cfg.ownsAddr(c.IP):
				return ctl.Fail(syscall.EINVAL, badIP(c.IP), "%s is an address of this host", c.IP)
			case c.IP.Is6() && !cfg.IPv6:
				return ctl.Fail(syscall.ENETUNREACH, ctl.ErrIPv6Off, "")
			case c.IP.Is6() && !t.onLink6(c.IP), c.IP.Is4() && !onLinkOf(cfg.Addrs, c.IP):
				return ctl.Fail(syscall.ENETUNREACH, ctl.ErrUnreachable, "")
			case !static && t.statics() >= cfg.ARPCacheSize:
				// While every slot is static no dynamic entry exists, so
				// this one would need a slot that cannot be had.
				return ctl.Fail(syscall.ENOSPC, ctl.ErrCacheFull, "")
			}
			t.resolve(c.IP)
			return nil
		},
	},
}

// configOrder is the order in which a configuration reads back: a host
// that is down says so before its addresses are added, so that replaying
// the lines sends no gratuitous ARP; one that is up comes up last, which
// announces every address once.
// Routes follow the addresses that put their gateways on a subnet. IPv6's
// lines come after the addresses, since adding an IPv6 address turns IPv6
// on: `ipv6 off` after them leaves it off.
var configOrder = []Op{OpEA, OpMTU, OpPromisc, OpARPTimeout, OpImpair, OpDown, OpRemoveAll, OpAdd, OpRouteAdd, OpIPv6Autoconf, OpIPv6, OpUp}

// commandByOp finds an Op's row.
var commandByOp = func() (t [numOps]*command) {
	for _, rows := range [][]command{ctlCommands, arpCommands} {
		for i := range rows {
			t[rows[i].op] = &rows[i]
		}
	}
	return t
}()

func commandOf(op Op) *command {
	if op >= numOps {
		return nil
	}
	return commandByOp[op]
}

func parsePrefix(c *Command, args []string) (r *ctl.Reason) {
	c.Prefix, r = ctl.ParseAnyHostPrefix(args[0])
	return r
}

func validPrefix(c *Command) *ctl.Reason { return ctl.CheckAnyHostPrefix(c.Prefix) }

func appendPrefix(b []byte, c *Command) []byte { return c.Prefix.AppendTo(b) }

func parseIP(c *Command, args []string) (r *ctl.Reason) {
	c.IP, r = ctl.ParseAnyHostIP(args[0])
	return r
}

func validIP(c *Command) *ctl.Reason { return ctl.CheckAnyHostIP(c.IP) }

func appendIP(b []byte, c *Command) []byte { return c.IP.AppendTo(b) }

func checkMTU(n int) *ctl.Reason {
	if n < MinMTU || n > MaxMTU {
		return ctl.Fail(syscall.EINVAL, ctl.ErrBadNumber, "mtu must be %d..%d", MinMTU, MaxMTU)
	}
	return nil
}

// checkARPTimeout accepts whole seconds, so that the value renders exactly.
func checkARPTimeout(d time.Duration) *ctl.Reason {
	if d < time.Second || d > MaxARPTimeout || d%time.Second != 0 {
		return ctl.Fail(syscall.EINVAL, ctl.ErrBadNumber, "arptimeout must be 1..%d seconds", int(MaxARPTimeout/time.Second))
	}
	return nil
}

// hasAddr is the index of the prefix of addrs whose address is ip, or -1.
func hasAddr(addrs []netip.Prefix, ip netip.Addr) int {
	return slices.IndexFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == ip })
}

// onLinkOf reports whether ip is a host on one of the subnets of addrs, by
// the rule of Host.source.
func onLinkOf(addrs []netip.Prefix, ip netip.Addr) bool {
	return ctl.UnicastIPv4(ip) && slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return ctl.IsHostOf(p, ip) })
}

// ParseCtl parses a write to a host's ctl file. file names the file in error
// messages ("tap0/ctl"). Every line is checked before any is returned; blank
// lines and lines starting with # are skipped.
func ParseCtl(file string, text []byte) ([]Command, error) {
	return ctl.Lines(file, text, parseIn(ctlCommands))
}

// ParseARPCommands parses a write to a host's arp file.
func ParseARPCommands(file string, text []byte) ([]Command, error) {
	return ctl.Lines(file, text, parseIn(arpCommands))
}

// parseIn parses lines of the language of rows.
func parseIn(rows []command) func(f []string, line int, text string) (Command, *ctl.Reason) {
	return func(f []string, line int, text string) (Command, *ctl.Reason) {
		c := Command{Line: line, Text: text}
		row, r := ctl.Find(rows, f)
		if r != nil {
			return c, r
		}
		c.Op = row.op
		if row.parse != nil {
			r = row.parse(&c, f[1:])
		}
		return c, r
	}
}

// check is c's value rules.
func (c *Command) check() *ctl.Reason {
	row := commandOf(c.Op)
	if row == nil {
		return ctl.Fail(syscall.EINVAL, ctl.ErrUnknownCommand, "op %d", c.Op)
	}
	if row.valid != nil {
		return row.valid(c)
	}
	return nil
}

// Append renders c as the line that parses back to it (without Line and
// Text), followed by a newline: the ctl and arp languages have one spelling
// for each command.
func (c Command) Append(b []byte) []byte {
	row := commandOf(c.Op)
	if row == nil {
		b = append(b, "# unknown op "...)
		b = strconv.AppendInt(b, int64(c.Op), 10)
		return append(b, '\n')
	}
	b = append(b, row.Names[0]...)
	if row.args != nil {
		b = append(b, ' ')
		b = row.args(b, &c)
	}
	return append(b, '\n')
}

// String is the command as Append renders it, without the newline.
func (c Command) String() string {
	b := c.Append(nil)
	return string(b[:len(b)-1])
}

// ConfigCommands are the ctl commands that turn any host into one configured
// as cfg (see configOrder).
func ConfigCommands(cfg Config) []Command {
	var cmds []Command
	for _, op := range configOrder {
		cmds = append(cmds, commandOf(op).config(&cfg)...)
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

// validate checks what NewHost is given by the value rules of the commands
// that would build it, and that its addresses are distinct and few enough.
func (c *Config) validate() *ctl.Reason {
	cmds := ConfigCommands(*c)
	for i := range cmds {
		if cmds[i].Op == OpAdd || cmds[i].Op == OpRouteAdd {
			continue // checked below, with the rules between them
		}
		if r := cmds[i].check(); r != nil {
			return r
		}
	}
	if len(c.Addrs)+len(c.Addrs6) > MaxAddrs {
		return ctl.Fail(syscall.ENOSPC, ctl.ErrTooManyAddrs, "at most %d", MaxAddrs)
	}
	for k, addrs := range [][]netip.Prefix{c.Addrs, c.Addrs6} {
		for i, p := range addrs {
			if p.Addr().Is6() != (k == 1) {
				// Addrs is IPv4's, Addrs6 IPv6's.
				return ctl.Fail(syscall.EINVAL, []error{ctl.ErrBadIPv4, ctl.ErrBadIPv6}[k], "")
			}
			if r := validPrefix(&Command{Prefix: p}); r != nil {
				return r
			}
			if hasAddr(addrs[:i], p.Addr()) >= 0 {
				return ctl.Fail(syscall.EEXIST, ctl.ErrExists, "address %s given twice", p.Addr())
			}
		}
	}
	routes := Config{Addrs: c.Addrs}
	for _, r := range c.Routes {
		if rr := checkRoute(&routes, r); rr != nil {
			return rr
		}
		routes.Routes = append(routes.Routes, r)
	}
	return nil
}

// Exec applies commands from a ctl or arp write as one unit: it checks every
// command against the current state (and the commands before it) first, and
// changes nothing if any fails. file names the file in error messages. What
// the commands send (gratuitous ARP, ARP requests, frames that waited for an
// entry added by hand) goes to out.
func (h *Host) Exec(now time.Time, file string, cmds []Command, out *Output) error {
	st := h.stage()
	for i := range cmds {
		c := &cmds[i]
		r := c.check()
		if r == nil {
			r = commandOf(c.Op).apply(st, c)
		}
		if r != nil {
			return r.At(file, c.Line, c.Text)
		}
	}
	t := &live{h: h, now: now, out: out}
	for i := range cmds {
		before := h.cfg
		before.Addrs = slices.Clone(h.cfg.Addrs)
		before.Routes = slices.Clone(h.cfg.Routes)
		before.Addrs6 = slices.Clone(h.cfg.Addrs6)
		commandOf(cmds[i].Op).apply(t, &cmds[i])
		h.reconcile(now, &before, out)
	}
	h.Poll(now, out)
	return nil
}

// reconcile makes the host what its configuration now says, after a
// command changed it from before.
func (h *Host) reconcile(now time.Time, before *Config, out *Output) {
	cfg := &h.cfg
	if cfg.MAC != before.MAC {
		h.announce = true // neighbours hold the old address
	}
	if !slices.Equal(cfg.Routes, before.Routes) || !slices.Equal(cfg.Addrs, before.Addrs) {
		h.setRoutes()
	}
	if !slices.Equal(cfg.Addrs, before.Addrs) {
		h.setAddrs()
		for _, p := range cfg.Addrs {
			ip := key(p.Addr())
			if hasAddr(before.Addrs, p.Addr()) < 0 && !slices.Contains(h.fresh, ip) {
				h.fresh = append(h.fresh, ip)
			}
		}
	}
	if cfg.ARPTimeout != before.ARPTimeout {
		h.setARPTimeout(now, cfg.ARPTimeout)
	}
	h.reconcileImpair(now, before)
	defer h.ipv6Changed(now, out) // after a host that went down did what it must
	switch {
	case cfg.Down && !before.Down:
		h.wentDown(now, "down", out)
	case !cfg.Down && before.Down:
		h.cameUp(now, out)
	}
}

// target is what a command applies to: a staged copy of the host (the
// check) or the host itself.
type target interface {
	config() *Config
	announce()                              // gratuitous ARP for every address
	lookup(ip netip.Addr) (static, ok bool) // the neighbour entry for ip
	statics() int                           // static neighbour entries
	setStatic(ip netip.Addr, mac wire.MAC)  // add a static entry, or make one static
	unlearn(ip netip.Addr)                  // delete an entry
	flush()                                 // delete every entry
	resolve(ip netip.Addr)                  // ask for ip's hardware address
	onLink6(ip netip.Addr) bool             // whether IPv6 ip is on the link (commands6.go)
}

// staged is the state a write builds up, for checking it: a copy of the
// configuration, and the neighbour entries the write changed over the
// host's table, which it only reads.
type staged struct {
	cfg     Config
	h       *Host
	arp     map[netip.Addr]int8 // entries changed: 1 static, 0 dynamic, -1 deleted
	flushed bool                // every entry not in arp is deleted
	nstatic int
}

func (h *Host) stage() *staged {
	st := &staged{cfg: h.cfg, h: h, nstatic: h.arp.statics}
	st.cfg.Addrs = slices.Clone(h.cfg.Addrs)
	st.cfg.Routes = slices.Clone(h.cfg.Routes)
	st.cfg.Addrs6 = slices.Clone(h.cfg.Addrs6)
	return st
}

func (s *staged) config() *Config { return &s.cfg }
func (s *staged) announce()       {}
func (s *staged) statics() int    { return s.nstatic }

func (s *staged) lookup(ip netip.Addr) (static, ok bool) {
	if v, changed := s.arp[ip]; changed {
		return v == 1, v >= 0
	}
	if e := s.h.arp.get(ip); e != nil && !s.flushed {
		return e.state == Static, true
	}
	return false, false
}

func (s *staged) set(ip netip.Addr, v int8) {
	if s.arp == nil {
		s.arp = make(map[netip.Addr]int8)
	}
	s.arp[ip] = v
}

func (s *staged) setStatic(ip netip.Addr, mac wire.MAC) {
	if static, _ := s.lookup(ip); !static {
		s.nstatic++
	}
	s.set(ip, 1)
}

func (s *staged) unlearn(ip netip.Addr) {
	if static, _ := s.lookup(ip); static {
		s.nstatic--
	}
	s.set(ip, -1)
}

func (s *staged) flush() {
	clear(s.arp)
	s.flushed = true
	s.nstatic = 0
}

func (s *staged) resolve(ip netip.Addr) {
	if _, ok := s.lookup(ip); !ok {
		s.set(ip, 0)
	}
}

// live is the host itself as a command's target.
type live struct {
	h   *Host
	now time.Time
	out *Output
}

func (l *live) config() *Config { return &l.h.cfg }
func (l *live) announce()       { l.h.announce = true }
func (l *live) statics() int    { return l.h.arp.statics }

func (l *live) lookup(ip netip.Addr) (static, ok bool) {
	if e := l.h.arp.get(ip); e != nil {
		return e.state == Static, true
	}
	return false, false
}

func (l *live) setStatic(ip netip.Addr, mac wire.MAC) {
	h := l.h
	e := h.arp.get(ip)
	if e == nil {
		if e = h.arp.insert(ip, Static, protected); e == nil {
			return // the check made sure there is room
		}
	}
	h.arp.setState(e, Static)
	h.timers.stop(timerNeighbour, e.slot) // static entries never expire
	e.mac = mac
	e.tries = 0
	h.arp.use(e)
	h.sendPending(l.now, e, l.out)
}

func (l *live) unlearn(ip netip.Addr) {
	if e := l.h.arp.get(ip); e != nil {
		l.h.drop(e)
	}
}

func (l *live) flush() { l.h.arp.each(l.h.drop) }

func (l *live) resolve(ip netip.Addr) {
	h := l.h
	if ip.Is6() {
		if h.v6.running {
			h.resolve6(l.now, l.out, ip)
		}
		return
	}
	e := h.arp.get(ip)
	if e == nil {
		if e = h.arp.insert(ip, Incomplete, protected); e == nil {
			return // the check made sure there is room
		}
	}
	h.arp.use(e)
	h.request(l.now, l.out, e)
}
