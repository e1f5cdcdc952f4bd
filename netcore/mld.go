package netcore

import (
	"net/netip"
	"slices"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// Multicast listener discovery, version 2 (RFC 3810), as a host does it:
// it listens to all-nodes (never reported, RFC 3810 6) and to the
// solicited-node group of each of its addresses (a tentative one too: DAD
// needs it). Joining or leaving sends a state-change report at once and
// once more within a second (the robustness variable, 2); a query is
// answered with the current state after a random part of its maximum
// response delay. Reports come from the link-local address, or from the
// unspecified one while that is tentative (RFC 3590), as Linux's do. A
// version 1 query is answered with a version 2 report too: the host has no
// version 1 compatibility mode.

const (
	mldRobustness     = 2
	mldReportInterval = time.Second // Unsolicited Report Interval
	mldMaxRecords     = (wire.IPv6MinMTU - wire.IPv6HeaderLen - wire.IPv6ExtMinLen - wire.MLDv2ReportLen) / wire.MLDv2RecordLen
)

// mldState is the groups joined and the reports owed.
type mldState struct {
	groups     []netip.Addr       // joined, other than all-nodes
	records    []wire.MLDv2Record // the changes the next state-change report carries
	changeLeft int                // state-change reports still to send
	changeAt   time.Time          // when the next goes; zero when none is owed
	queryAt    time.Time          // when a current-state report answers a query; zero if none
	queryGroup netip.Addr         // a group-specific query's group, or invalid for all
}

// mldSync joins the solicited-node groups of the host's addresses and
// leaves those no address needs, and owes a report of what changed.
func (h *Host) mldSync(now time.Time) {
	m := &h.v6.mld
	want := func(g netip.Addr) bool {
		for i := range h.v6.addrs {
			if a := &h.v6.addrs[i]; a.state != addrDuplicate && wire.SolicitedNodeMulticast(a.prefix.Addr()) == g {
				return true
			}
		}
		return false
	}
	changed := false
	for i := len(m.groups) - 1; i >= 0; i-- {
		if g := m.groups[i]; !want(g) {
			m.groups = slices.Delete(m.groups, i, i+1)
			m.record(wire.MLDChangeToInclude, g)
			changed = true
		}
	}
	for i := range h.v6.addrs {
		a := &h.v6.addrs[i]
		if g := wire.SolicitedNodeMulticast(a.prefix.Addr()); a.state != addrDuplicate && !slices.Contains(m.groups, g) {
			m.groups = append(m.groups, g)
			m.record(wire.MLDChangeToExclude, g)
			changed = true
		}
	}
	if changed {
		m.changeLeft = mldRobustness
		m.changeAt = now
	}
}

// record owes a change record for g, replacing an older one for it.
func (m *mldState) record(typ uint8, g netip.Addr) {
	for i := range m.records {
		if m.records[i].Group == g {
			m.records[i].Type = typ
			return
		}
	}
	m.records = append(m.records, wire.MLDv2Record{Type: typ, Group: g})
}

// mldReportAll owes a current-state report of every group at once (the
// link-local address became usable: routers hear it from there).
func (h *Host) mldReportAll(now time.Time) {
	m := &h.v6.mld
	m.queryAt, m.queryGroup = now, netip.Addr{}
}

// mldTimer sends the reports that are due.
func (h *Host) mldTimer(now time.Time, out *Output) {
	m := &h.v6.mld
	if !m.changeAt.IsZero() && !now.Before(m.changeAt) {
		h.sendMLDReport(now, out, m.records)
		if m.changeLeft--; m.changeLeft > 0 {
			m.changeAt = now.Add(h.jitter(mldReportInterval) + time.Millisecond)
		} else {
			m.changeAt = time.Time{}
			m.records = m.records[:0]
		}
	}
	if !m.queryAt.IsZero() && !now.Before(m.queryAt) {
		m.queryAt = time.Time{}
		recs := make([]wire.MLDv2Record, 0, len(m.groups))
		for _, g := range m.groups {
			if !m.queryGroup.IsValid() || g == m.queryGroup {
				recs = append(recs, wire.MLDv2Record{Type: wire.MLDModeIsExclude, Group: g})
			}
		}
		h.sendMLDReport(now, out, recs)
	}
}

// sendMLDReport sends a version 2 report of records, as many reports as
// the minimum MTU needs.
func (h *Host) sendMLDReport(now time.Time, out *Output, records []wire.MLDv2Record) {
	src := netip.IPv6Unspecified()
	if ll := h.v6.linkLocal(); ll != nil && ll.usable() {
		src = ll.prefix.Addr()
	}
	dst := wire.IPv6AllMLDv2Routers
	for len(records) > 0 {
		part := records[:min(len(records), mldMaxRecords)]
		records = records[len(part):]
		n := wire.IPv6ExtMinLen + wire.MLDv2ReportLenFor(len(part))
		b := h.appendIPv6Frame(out.buffer(), src, dst, wire.ProtoHopByHop, 1, n)
		b = wire.AppendRouterAlertHopByHop(b, wire.ProtoICMPv6)
		b = wire.AppendMLDv2Report(b, part, src, dst)
		h.stats[MLDTxReport]++
		h.route6(now, out, dst, b)
	}
}

// mldValid is RFC 3810 5's checks of an MLD message's IPv6 header: hop
// limit 1 and a link-local source (a report may come from the unspecified
// address).
func mldValid(d *datagram6) bool {
	return d.hopLimit() == 1 && (d.src.IsLinkLocalUnicast() || d.src.IsUnspecified())
}

// receiveMLDQuery schedules the answer to a query.
func (h *Host) receiveMLDQuery(now time.Time, d *datagram6, out *Output) Counter {
	q, err := wire.ParseMLDQuery(d.upper(), d.src, d.dst)
	if err != nil || !mldValid(d) || d.src.IsUnspecified() {
		return NDPRxInvalid
	}
	m := &h.v6.mld
	if q.Group.IsValid() && !q.Group.IsUnspecified() && !slices.Contains(m.groups, q.Group) {
		return MLDRxQuery // about a group we are not in
	}
	at := now.Add(h.jitter(q.MaxResp))
	switch {
	case m.queryAt.IsZero():
		m.queryAt = at
		m.queryGroup = q.Group
		if q.Group.IsUnspecified() {
			m.queryGroup = netip.Addr{}
		}
	case q.Group.IsUnspecified() || q.Group != m.queryGroup:
		m.queryGroup = netip.Addr{} // answer for every group
	}
	if at.Before(m.queryAt) {
		m.queryAt = at
	}
	h.soon(m.queryAt)
	return MLDRxQuery
}

// receiveMLDReport counts another listener's report or done.
func (h *Host) receiveMLDReport(now time.Time, d *datagram6, out *Output) Counter {
	if !mldValid(d) || !checksum6OK(d.pkt, d.off) {
		return NDPRxInvalid
	}
	return MLDRxReport
}
