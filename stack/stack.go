// Package stack is the running network: the set of hosts, each a
// netcore.Host driven on a device, the root ctl language that creates and
// removes them, and the event log. The file server (package fs) serves a
// Stack; it sees hosts only through snapshots, commands and capture
// subscriptions.
package stack

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/netcore/wire"
)

// Driver runs one Host on its device (devices.Driver in smolfs serve).
type Driver interface {
	Snapshot() netcore.Snapshot
	ARPTable() []netcore.ARPEntry // sorted by address
	Exec(file string, cmds []netcore.Command) error
	// Do runs fn under the host's lock; what fn leaves in out (frames,
	// events, wake-ups) is handled as Exec's output is. It fails (class
	// EIO) once the driver is closed or its device gone.
	Do(fn func(h *netcore.Host, now time.Time, out *netcore.Output)) error
	Subscribe(bufBytes int) *capture.Subscription
	Close() error
}

// Opener starts h on the device named h.Name(): devices.OpenTap and a
// devices.Pool in smolfs serve, an in-memory pair in tests. Events the host
// reports go to onEvent, and every conversation in the Wake list of an
// Output it produces to onWake (nil: none is waited for); both are called
// outside the host's lock and must not block. Errors should carry an errno
// (EBUSY for a tap in use, ...), which becomes the class of the failed
// command.
type Opener func(h *netcore.Host, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) (Driver, error)

// Stack is the set of running hosts.
type Stack struct {
	open   Opener
	log    *Log
	logger *slog.Logger

	mu     sync.Mutex // serialises root ctl commands and the host table
	hosts  map[string]*Host
	closed bool
	gens   uint32     // hosts ever started
	tcp    tcp.Config // the TCP policy of the hosts it starts
}

// SetTCP sets the TCP policy of the hosts started from now on (smolfs
// serve's -tcp-* flags).
func (s *Stack) SetTCP(c tcp.Config) {
	s.mu.Lock()
	s.tcp = c
	s.mu.Unlock()
}

// Host is one running host as the file server sees it.
type Host struct {
	name  string
	gen   uint32
	drv   Driver
	stack *Stack
	waits *waiters // requests blocked on conversations (conv.go)
}

// close stops the host: its driver, and every request waiting on one of
// its conversations.
func (h *Host) close() {
	h.waits.stop()
	h.drv.Close()
}

// New makes an empty stack that starts hosts with open and reports to
// logger as well as to its Log.
func New(open Opener, logger *slog.Logger) *Stack {
	if logger == nil {
		logger = slog.Default()
	}
	return &Stack{open: open, log: NewLog(), logger: logger, hosts: map[string]*Host{}}
}

// Log is the event log (/log).
func (s *Stack) Log() *Log { return s.log }

// HostNames lists the hosts, sorted.
func (s *Stack) HostNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.hosts))
}

// Host finds a host by name.
func (s *Stack) Host(name string) (*Host, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hosts[name]
	return h, ok
}

// Add creates a host (the -host flag).
func (s *Stack) Add(spec ctl.HostSpec) error {
	return s.exec("-host", []ctl.RootCommand{{Op: ctl.RootNew, Host: spec}})
}

// Ctl applies a write to the root ctl file: `new NAME ...` and `del NAME`
// lines, all or nothing. A failure is logged with its full reason.
func (s *Stack) Ctl(text []byte) error {
	cmds, err := ctl.ParseRoot("ctl", text)
	if err == nil {
		err = s.exec("ctl", cmds)
	}
	if err != nil {
		s.failed(err)
	}
	return err
}

// exec checks every command against the table (and the lines before it),
// then applies them in order. Nothing is half-applied: if starting a host
// fails, the hosts this write created are closed again, and hosts it deleted
// are still running, except one deleted to be recreated under the same name
// (its tap had to be released first), which is started again with its
// configuration.
func (s *Stack) exec(file string, cmds []ctl.RootCommand) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &ctl.CommandError{File: file, Errno: syscall.EIO, Err: errors.New("server is shutting down")}
	}
	exists := map[string]bool{}
	for name := range s.hosts {
		exists[name] = true
	}
	for _, c := range cmds {
		switch {
		case c.Op == ctl.RootNew && exists[c.Host.Name]:
			return &ctl.CommandError{File: file, Line: c.Line, Text: c.Text, Errno: syscall.EEXIST,
				Err: fmt.Errorf("%w: host %s", ctl.ErrExists, c.Host.Name)}
		case c.Op == ctl.RootDel && !exists[c.Host.Name]:
			return &ctl.CommandError{File: file, Line: c.Line, Text: c.Text, Errno: syscall.ENOENT,
				Err: fmt.Errorf("%w: no host %s", ctl.ErrNotFound, c.Host.Name)}
		}
		exists[c.Host.Name] = c.Op == ctl.RootNew
	}

	var (
		created  []*Host                       // started by this write, in order
		deleted  = map[string]*Host{}          // running hosts this write deletes, closed at the end
		replaced = map[string]netcore.Config{} // deleted hosts already closed to free their tap
	)
	recreatedLater := func(i int, name string) bool {
		return slices.ContainsFunc(cmds[i+1:], func(c ctl.RootCommand) bool {
			return c.Op == ctl.RootNew && c.Host.Name == name
		})
	}
	for i, c := range cmds {
		name := c.Host.Name
		if c.Op == ctl.RootDel {
			h := s.hosts[name]
			delete(s.hosts, name)
			if j := slices.Index(created, h); j >= 0 {
				created = slices.Delete(created, j, j+1)
				h.close()
				continue
			}
			if recreatedLater(i, name) {
				replaced[name] = h.drv.Snapshot().Config
				h.close()
				continue
			}
			deleted[name] = h
			continue
		}
		cfg := netcore.Config{Name: name, MAC: c.Host.MAC, Addrs: c.Host.Addrs}
		h, err := s.start(cfg)
		if err != nil {
			s.rollback(created, deleted, replaced)
			return &ctl.CommandError{File: file, Line: c.Line, Text: c.Text, Errno: ctl.Errno(err), Err: err}
		}
		created = append(created, h)
		s.hosts[name] = h
	}
	for name, h := range deleted {
		h.close()
		s.log.Addf("%s: removed", name)
		s.logger.Info("host removed", "host", name)
	}
	for name := range replaced {
		s.log.Addf("%s: removed", name)
		s.logger.Info("host removed", "host", name)
	}
	for _, h := range created {
		s.log.Addf("%s: created (%s)", h.name, h.Snapshot().Config.MAC)
		s.logger.Info("host created", "host", h.name)
	}
	return nil
}

// rollback undoes a root ctl write that failed part way. s.mu is held.
func (s *Stack) rollback(created []*Host, deleted map[string]*Host, replaced map[string]netcore.Config) {
	for _, h := range created {
		h.close()
		delete(s.hosts, h.name)
	}
	for name, h := range deleted {
		s.hosts[name] = h
	}
	for name, cfg := range replaced {
		h, err := s.start(cfg)
		if err != nil {
			s.log.Addf("%s: could not be restarted after a failed write: %v", name, err)
			s.logger.Error("host lost", "host", name, "err", err)
			continue
		}
		s.hosts[name] = h
	}
}

// start makes a host from cfg (picking a MAC if it has none), opens its
// device and runs it. s.mu is held.
func (s *Stack) start(cfg netcore.Config) (*Host, error) {
	if cfg.MAC.IsZero() {
		cfg.MAC = s.freeMAC()
	}
	if cfg.TCP == (tcp.Config{}) {
		cfg.TCP = s.tcp
	}
	if cfg.Seed == 0 {
		// `impair`'s randomness: a host recreated after a failed write
		// keeps its own.
		var b [8]byte
		rand.Read(b[:]) // never fails (it crashes the program instead)
		cfg.Seed = binary.LittleEndian.Uint64(b[:])
	}
	nh, err := netcore.NewHost(cfg)
	if err != nil {
		return nil, err
	}
	w := newWaiters()
	drv, err := s.open(nh, s.event, w.wake)
	if err != nil {
		return nil, err
	}
	s.gens++
	return &Host{name: cfg.Name, gen: s.gens, drv: drv, stack: s, waits: w}, nil
}

// freeMAC picks the first of 02:00:00:00:00:01, :02, ... that no host uses.
// s.mu is held.
func (s *Stack) freeMAC() wire.MAC {
	used := map[wire.MAC]bool{}
	for _, h := range s.hosts {
		used[h.drv.Snapshot().Config.MAC] = true
	}
	for i := 1; ; i++ {
		m := wire.MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		if !used[m] {
			return m
		}
	}
}

// event records what a host reports.
func (s *Stack) event(e netcore.Event) {
	s.log.Add(e.String())
	s.logger.Info(e.Msg, "host", e.Host)
}

// failed records a failed write with its full reason.
func (s *Stack) failed(err error) {
	s.log.Add(err.Error())
	s.logger.Warn("command failed", "err", err)
}

// CtlText renders the root ctl file: one replayable `new` line per host.
func (s *Stack) CtlText() []byte {
	var b []byte
	for _, name := range s.HostNames() {
		h, ok := s.Host(name)
		if !ok {
			continue
		}
		cfg := h.Snapshot().Config
		b = ctl.HostSpec{Name: name, MAC: cfg.MAC, Addrs: cfg.Addrs}.Append(b)
	}
	return b
}

// Close stops every host; stream readers see end of file.
func (s *Stack) Close() {
	s.mu.Lock()
	hosts := s.hosts
	s.hosts = map[string]*Host{}
	s.closed = true
	s.mu.Unlock()
	for _, h := range hosts {
		h.close()
	}
	s.log.Close()
}

// Name is the host's name.
func (h *Host) Name() string { return h.name }

// Gen numbers the host among all the stack has started: a host removed and
// created again under the same name has a new number (the file server puts
// it in the files' qids, so that clients can tell the two apart).
func (h *Host) Gen() uint32 { return h.gen }

// Snapshot is a consistent copy of the host's configuration and counters.
func (h *Host) Snapshot() netcore.Snapshot { return h.drv.Snapshot() }

// ARPTable is a copy of the host's ARP cache, sorted by address.
func (h *Host) ARPTable() []netcore.ARPEntry { return h.drv.ARPTable() }

// Ctl applies a write to the host's ctl file, all or nothing. A failure is
// logged with its full reason.
func (h *Host) Ctl(text []byte) error { return h.exec(h.name+"/ctl", netcore.ParseCtl, text) }

// ARP applies a write to the host's arp file, all or nothing.
func (h *Host) ARP(text []byte) error { return h.exec(h.name+"/arp", netcore.ParseARPCommands, text) }

func (h *Host) exec(file string, parse func(string, []byte) ([]netcore.Command, error), text []byte) error {
	cmds, err := parse(file, text)
	if err == nil {
		err = h.drv.Exec(file, cmds)
	}
	if err != nil {
		h.stack.failed(err)
	}
	return err
}

// Subscribe starts a capture reader of the host's frames (bufBytes <= 0: the
// default queue size).
func (h *Host) Subscribe(bufBytes int) *capture.Subscription { return h.drv.Subscribe(bufBytes) }
