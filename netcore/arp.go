package netcore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// ARP (RFC 826): answering requests for our addresses, learning neighbours,
// resolving the ones we send to, announcing our addresses.

func (h *Host) receiveARP(now time.Time, b []byte, out *Output) Counter {
	p, err := wire.NewARPPacket(b)
	switch {
	case err == wire.ErrTruncated:
		return RxMalformed
	case err != nil:
		return ARPRxOther
	}
	fate := ARPRxRequest
	switch p.Op() {
	case wire.ARPRequest:
	case wire.ARPReply:
		fate = ARPRxReply
	default:
		return ARPRxOther
	}
	sha := p.SenderMAC()
	if sha.IsMulticast() || sha.IsZero() {
		return fate // nothing to learn or answer
	}
	spa, tpa := binary.BigEndian.Uint32(p[wire.ARPSPAOff:]), binary.BigEndian.Uint32(p[wire.ARPTPAOff:])
	if h.ourAddr(spa) {
		if sha != h.cfg.MAC {
			h.conflicted(now, spa, sha, out)
		}
		return fate
	}
	forUs := h.ourAddr(tpa)
	// RFC 826: update a sender we already know (a gratuitous ARP included);
	// add it only if the packet is for us, so that strangers cannot fill or
	// poison the table, and only if we could ever send to it.
	if e := h.arp.get4(spa); e != nil {
		h.learn(now, e, sha, out)
	} else if forUs && h.onLink(spa) {
		if e := h.arp.insert(addrOf(spa), Reachable, probation); e != nil {
			h.learn(now, e, sha, out)
		}
	}
	if forUs && fate == ARPRxRequest {
		h.sendARP(now, out, wire.ARPReply, sha, tpa, sha, spa)
	}
	return fate
}

// conflicted counts another station claiming one of our addresses, and
// reports it at most once a second, so that a flood cannot flood the log.
func (h *Host) conflicted(now time.Time, ip uint32, mac wire.MAC, out *Output) {
	h.stats[ARPConflicts]++
	if !h.conflict.IsZero() && now.Sub(h.conflict) < time.Second {
		return
	}
	h.conflict = now
	h.event(now, EventConflict, addrOf(ip), fmt.Sprintf("arp conflict: %s is-at %s, but it is ours (%s)", addrOf(ip), mac, h.cfg.MAC), out)
}

// learn records that e's address is at mac, unless e is static, and sends
// what was waiting for it.
func (h *Host) learn(now time.Time, e *neighbour, mac wire.MAC, out *Output) {
	if e.state == Static {
		return
	}
	h.arp.setState(e, Reachable)
	e.mac = mac
	e.deadline = now.Add(h.cfg.ARPTimeout)
	e.tries = 0
	h.arp.touch(e)
	h.arm(e)
	h.sendPending(now, e, out)
}

// arm makes sure e's timer fires by e.deadline. A timer armed earlier stays
// (when it fires, neighbourTimer arms it again for the rest), so that a
// neighbour confirmed again and again costs no heap operation.
func (h *Host) arm(e *neighbour) {
	if e.timer != noTimer && !h.timers.items[e.timer].at.After(e.deadline) {
		return
	}
	h.timers.set(timerNeighbour, e.slot, e.deadline)
}

// neighbourTimer runs e's timer: a learned entry expires, a resolution
// retries or fails.
func (h *Host) neighbourTimer(now time.Time, e *neighbour, out *Output) {
	switch {
	case e.state == Static:
	case now.Before(e.deadline): // confirmed since the timer was armed
		h.arm(e)
	case e.state == Reachable:
		h.arp.remove(e)
	case e.tries >= h.cfg.ARPRetries || h.cfg.Down:
		h.fail(now, out, e)
	default:
		h.request(now, out, e)
	}
}

// sendPending sends the frames that waited for e's address, now known,
// from our hardware address as it is now (an ea command may have changed
// it while they waited).
func (h *Host) sendPending(now time.Time, e *neighbour, out *Output) {
	for i, f := range e.pending {
		copy(f[wire.EthDstOff:], e.mac[:])
		copy(f[wire.EthSrcOff:], h.cfg.MAC[:])
		h.transmit(now, out, append(out.buffer(), f...))
		h.recycle(f)
		e.pending[i] = nil
	}
	e.pending = e.pending[:0]
}

// evict accounts for an entry pushed out of the full table.
func (h *Host) evict(e *neighbour) {
	h.stats[ARPEvicted]++
	h.dropPending(e)
}

// forget stops the timer of an entry that is being removed.
func (h *Host) forget(e *neighbour) { h.timers.stop(timerNeighbour, e.slot) }

// drop removes e and its waiting frames.
func (h *Host) drop(e *neighbour) {
	h.dropPending(e)
	h.arp.remove(e)
}

func (h *Host) dropPending(e *neighbour) {
	h.stats[ARPPendingDropped] += uint64(len(e.pending))
	for i, f := range e.pending {
		h.recycle(f)
		e.pending[i] = nil
	}
	e.pending = e.pending[:0]
}

// maxSpare bounds the recycled pending-frame buffers kept for reuse; a burst
// that needed more gives the rest back to the garbage collector.
const maxSpare = 64

// keep copies a frame that must wait for ARP into a recycled buffer.
func (h *Host) keep(frame []byte) []byte {
	var f []byte
	if n := len(h.spare); n > 0 {
		f, h.spare[n-1], h.spare = h.spare[n-1], nil, h.spare[:n-1]
	}
	return append(f, frame...)
}

func (h *Host) recycle(f []byte) {
	if len(h.spare) < maxSpare {
		h.spare = append(h.spare, f[:0])
	}
}

// request sends an ARP request for e's address unless one went out less than
// ARPRequestInterval ago, and sets an incomplete entry's next retry.
func (h *Host) request(now time.Time, out *Output, e *neighbour) {
	if !e.lastReq.IsZero() && now.Sub(e.lastReq) < ARPRequestInterval {
		h.stats[ARPRateLimited]++
		if e.state == Incomplete {
			e.deadline = e.lastReq.Add(ARPRequestInterval)
			h.arm(e)
		}
		return
	}
	e.lastReq = now
	e.tries++
	if e.state == Incomplete {
		e.deadline = now.Add(ARPRequestInterval)
		h.arm(e)
	}
	ip := key(e.addr)
	src, ok := h.source(ip)
	if !ok {
		// Its subnet was removed while resolving: the try still counts, so
		// that the entry fails in time, but there is nothing to ask from.
		return
	}
	h.sendARP(now, out, wire.ARPRequest, wire.BroadcastMAC, src, wire.MAC{}, ip)
}

// fail gives up on an incomplete entry: it and its waiting frames go.
func (h *Host) fail(now time.Time, out *Output, e *neighbour) {
	h.stats[ARPFailed]++
	h.event(now, EventUnresolved, e.addr, fmt.Sprintf("arp: %s did not answer %d requests; dropped %d waiting frames", e.addr, e.tries, len(e.pending)), out)
	h.icmpUnresolved(e, out) // before drop: it answers the waiting requests
	h.drop(e)
	h.udpUnresolved(e.addr, out)
	h.tcpUnresolved(now, e.addr, out)
}

// sendARP sends an ARP packet from our hardware address.
func (h *Host) sendARP(now time.Time, out *Output, op wire.ARPOp, ethDst wire.MAC, spa uint32, tha wire.MAC, tpa uint32) {
	b := out.buffer()
	b = wire.EthernetRepr{Dst: ethDst, Src: h.cfg.MAC, Type: wire.EtherTypeARP}.Append(b)
	b = wire.ARPRepr{Op: op, SenderMAC: h.cfg.MAC, SenderIP: addrOf(spa), TargetMAC: tha, TargetIP: addrOf(tpa)}.Append(b)
	if op == wire.ARPRequest {
		h.stats[ARPTxRequest]++
	} else {
		h.stats[ARPTxReply]++
	}
	h.transmit(now, out, b)
}

// garp announces ip with a gratuitous ARP request (sender = target = ip).
func (h *Host) garp(now time.Time, out *Output, ip uint32) {
	h.sendARP(now, out, wire.ARPRequest, wire.BroadcastMAC, ip, wire.MAC{}, ip)
}

// sendAnnouncements sends the gratuitous ARP that is due: for every address
// after start, up, `ea` or `garp`, else for the addresses added since the last
// Poll, each once.
func (h *Host) sendAnnouncements(now time.Time, out *Output) {
	if h.announce {
		for _, a := range h.addrs {
			h.garp(now, out, a.ip)
		}
	} else {
		for _, ip := range h.fresh {
			if h.ourAddr(ip) {
				h.garp(now, out, ip)
			}
		}
	}
	h.announce = false
	h.fresh = h.fresh[:0]
}

// setARPTimeout changes the lifetime of learned entries. Entries that would
// now outlive it are cut short at once; the others get the new lifetime when
// they are next confirmed.
func (h *Host) setARPTimeout(now time.Time, d time.Duration) {
	h.cfg.ARPTimeout = d
	limit := now.Add(d)
	h.arp.each(func(e *neighbour) {
		if e.state == Reachable && e.deadline.After(limit) {
			e.deadline = limit
			h.arm(e)
		}
	})
}
