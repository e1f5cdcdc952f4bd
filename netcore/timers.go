package netcore

import "time"

// The host's timers: one heap of deadlines for every kind (neighbour
// retries and expiry, frames delayed by `impair`; reassembly,
// retransmission and TIME_WAIT later), which Poll drains in order without
// looking at what is not due. A timer is
// identified by its kind and an id of that kind (a neighbour's slot); the
// owner keeps the timer's position in the heap, so that moving or stopping
// it costs O(log n) and finds it without a search.
//
// A timer may fire before its owner's real deadline: an owner whose
// deadline moves later (a neighbour confirmed again, on the hot path)
// leaves its timer where it is, and when it fires early it is armed again
// for the rest. Only a deadline that moves earlier moves the timer.

// timerKind says whose a timer is.
type timerKind uint8

const (
	timerNeighbour  timerKind = iota + 1 // id: the neighbour's slot
	timerImpairRx                        // id 0: the rx impairment's next frame is due (impair.go)
	timerImpairTx                        // id 0: the tx impairment's next frame is due
	timerReassembly                      // id 0: the earliest IPv4 reassembly deadline
	timerIPv6                            // id 0: every IPv6 deadline but the neighbours' (ipv6.go)
	timerTCP                             // id 0: TCP's earliest deadline (tcp.go)
)

// noTimer is the position of a timer that is not armed.
const noTimer = -1

type timer struct {
	at   time.Time
	kind timerKind
	id   int32
}

// timerHeap is a binary min-heap of timers by time. pos returns where the
// owner of (kind, id) keeps its timer's position.
type timerHeap struct {
	items []timer
	pos   func(kind timerKind, id int32) *int32
}

// next is the earliest timer's time, or zero when none is armed.
func (q *timerHeap) next() time.Time {
	if len(q.items) == 0 {
		return time.Time{}
	}
	return q.items[0].at
}

// set arms the timer (kind, id) for at, or moves it there if it is armed.
func (q *timerHeap) set(kind timerKind, id int32, at time.Time) {
	p := q.pos(kind, id)
	if *p == noTimer {
		*p = int32(len(q.items))
		q.items = append(q.items, timer{at: at, kind: kind, id: id})
		q.up(int(*p))
		return
	}
	i := int(*p)
	q.items[i].at = at
	if !q.up(i) {
		q.down(i)
	}
}

// when is the time the timer (kind, id) is armed for, and whether it is.
func (q *timerHeap) when(kind timerKind, id int32) (time.Time, bool) {
	if p := *q.pos(kind, id); p != noTimer {
		return q.items[p].at, true
	}
	return time.Time{}, false
}

// stop disarms the timer (kind, id), if it is armed.
func (q *timerHeap) stop(kind timerKind, id int32) {
	p := q.pos(kind, id)
	if *p == noTimer {
		return
	}
	i := int(*p)
	*p = noTimer
	last := len(q.items) - 1
	if i != last {
		q.items[i] = q.items[last]
		*q.pos(q.items[i].kind, q.items[i].id) = int32(i)
	}
	q.items = q.items[:last]
	if i != last && !q.up(i) {
		q.down(i)
	}
}

// pop disarms and returns the earliest timer if it is due at now.
func (q *timerHeap) pop(now time.Time) (timer, bool) {
	if len(q.items) == 0 || now.Before(q.items[0].at) {
		return timer{}, false
	}
	t := q.items[0]
	q.stop(t.kind, t.id)
	return t, true
}

func (q *timerHeap) swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	*q.pos(q.items[i].kind, q.items[i].id) = int32(i)
	*q.pos(q.items[j].kind, q.items[j].id) = int32(j)
}

// up moves item i towards the root while it is earlier than its parent,
// and reports whether it moved.
func (q *timerHeap) up(i int) bool {
	moved := false
	for i > 0 {
		parent := (i - 1) / 2
		if !q.items[i].at.Before(q.items[parent].at) {
			break
		}
		q.swap(i, parent)
		i, moved = parent, true
	}
	return moved
}

// down moves item i towards the leaves while a child is earlier.
func (q *timerHeap) down(i int) {
	n := len(q.items)
	for {
		least := i
		if l := 2*i + 1; l < n && q.items[l].at.Before(q.items[least].at) {
			least = l
		}
		if r := 2*i + 2; r < n && q.items[r].at.Before(q.items[least].at) {
			least = r
		}
		if least == i {
			return
		}
		q.swap(i, least)
		i = least
	}
}
