package netcore

import (
	"slices"
	"strconv"
	"time"
)

// What the host's files show: consistent copies taken under the driver's
// lock, rendered after it is let go.

// Snapshot is a consistent copy of a host's configuration and counters, for
// the files that show them. The neighbour table, which can be large, is
// copied only by ARPTable.
type Snapshot struct {
	Config Config
	Stats  Stats
	IPv6   []AddrInfo // the IPv6 addresses in use (slaac.go), while IPv6 runs
}

// Snapshot copies the host's configuration and counters.
func (h *Host) Snapshot() Snapshot {
	s := Snapshot{Config: h.cfg, Stats: h.stats}
	s.Config.Addrs = slices.Clone(h.cfg.Addrs)
	s.Config.Routes = slices.Clone(h.cfg.Routes)
	s.Config.Addrs6 = nil // when empty, however it came to be
	if len(h.cfg.Addrs6) > 0 {
		s.Config.Addrs6 = slices.Clone(h.cfg.Addrs6)
	}
	s.IPv6 = h.addrInfo6()
	s.Stats[CaptureDropped] = h.capture.Dropped()
	return s
}

// ARPTable copies the neighbour table as of now, in no particular order:
// callers that hold a lock around the host sort it (SortARP) after letting go.
func (h *Host) ARPTable(now time.Time) []ARPEntry {
	t := make([]ARPEntry, 0, h.arp.len())
	h.arp.each(func(e *neighbour) {
		r := ARPEntry{IP: e.addr, MAC: e.mac, State: e.state, TTL: -1}
		if e.state != Static {
			r.TTL = max(e.deadline.Sub(now), 0)
			switch {
			case e.state == Reachable && r.TTL == 0 && e.addr.Is6():
				// Gone stale, not yet moved: it is, for as long as stale
				// entries stay.
				r.State, r.TTL = Stale, h.cfg.ARPTimeout
			case e.state == Reachable && r.TTL == 0:
				return // expired, not yet swept
			}
		}
		t = append(t, r)
	})
	return t
}

// SortARP sorts entries by address, as the arp file lists them.
func SortARP(t []ARPEntry) {
	slices.SortFunc(t, func(a, b ARPEntry) int { return a.IP.Compare(b.IP) })
}

// AppendConfig renders the configuration as replayable ctl commands.
func (s *Snapshot) AppendConfig(b []byte) []byte { return AppendConfig(b, s.Config) }

// AppendAddr renders the addr file: the hardware address, then IP/N lines,
// IPv4's first; an IPv6 address not (or never) usable says so after it
// (` tentative`, ` duplicate`).
func (s *Snapshot) AppendAddr(b []byte) []byte {
	b = s.Config.MAC.AppendTo(b)
	b = append(b, '\n')
	for _, p := range s.Config.Addrs {
		b = p.AppendTo(b)
		b = append(b, '\n')
	}
	for _, a := range s.IPv6 {
		b = a.Prefix.AppendTo(b)
		if a.State != "" {
			b = append(b, ' ')
			b = append(b, a.State...)
		}
		b = append(b, '\n')
	}
	return b
}

// AppendARP renders the arp file from a sorted table: `IP MAC state seconds`
// per entry.
func AppendARP(b []byte, table []ARPEntry) []byte {
	for _, e := range table {
		b = e.IP.AppendTo(b)
		b = append(b, ' ')
		b = e.MAC.AppendTo(b)
		b = append(b, ' ')
		b = append(b, e.State.String()...)
		b = append(b, ' ')
		if e.TTL < 0 {
			b = append(b, '-')
		} else {
			secs := (e.TTL + time.Second - 1) / time.Second // rounded up: a fresh entry shows the full timeout
			b = strconv.AppendInt(b, int64(secs), 10)
		}
		b = append(b, '\n')
	}
	return b
}

// AppendStats renders the stats file.
func (s *Snapshot) AppendStats(b []byte) []byte { return s.Stats.Append(b) }
