package netcore

import (
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// The neighbour table: which hardware address each neighbour on a connected
// subnet has. ARP fills it for IPv4; it is keyed by netip.Addr so that IPv6's
// neighbour discovery can share it, as Plan 9 keeps one table for both.

// ARPState is the state of a neighbour table entry.
type ARPState uint8

// Neighbour table entry states.
const (
	Incomplete ARPState = iota + 1 // a request is out, no answer yet
	Reachable                      // learned from traffic; expires
	Static                         // set by `add IP MAC`; never expires, never overwritten

	// IPv6 neighbours go through the rest of RFC 4861's neighbour
	// unreachability detection (7.3.2), in Linux's words (ndp.go).
	Stale  // not confirmed lately; confirmed again when next used
	Delay  // used while stale: waiting a little for a confirmation before probing
	Probe  // unicast solicitations are out
	Failed // resolution or probing found nobody; kept a while to show it
)

func (s ARPState) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Reachable:
		return "reachable"
	case Static:
		return "static"
	case Stale:
		return "stale"
	case Delay:
		return "delay"
	case Probe:
		return "probe"
	case Failed:
		return "failed"
	}
	return "?"
}

// Defaults of the neighbour table.
const (
	DefaultARPCacheSize = 1024
	DefaultARPTimeout   = 60 * time.Second
	DefaultARPRetries   = 3 // requests sent for one resolution before it fails
	DefaultARPPending   = 4 // packets that may wait for one resolution
	ARPRequestInterval  = time.Second
)

// ARPEntry is one row of the neighbour table as a snapshot shows it.
type ARPEntry struct {
	IP    netip.Addr
	MAC   wire.MAC // zero while incomplete
	State ARPState
	TTL   time.Duration // until expiry, or until the next retry while incomplete; < 0 for never
}

const noEntry = -1

// neighbour is a slot of the table. Slots are linked in least-recently-used
// order by index, and made a chunk at a time as the table fills (see
// neighbours), so that neither lookups nor learning into a made slot
// allocate. Each entry is in one of two segments (a
// segmented LRU): entries only learned from traffic start on probation; the
// host's own use of an entry (sending to it, waiting for it, a static entry)
// makes it protected. A full table evicts the least recently used entry on
// probation first, so that a flood of requests from strangers cannot push
// out the neighbours the host is talking to.
type neighbour struct {
	addr     netip.Addr
	mac      wire.MAC
	state    ARPState  // 0: the slot is free
	slot     int32     // this entry's index in slots, fixed, so that use costs no lookup
	seg      segment   // probation or protected
	prev     int32     // towards the most recently used
	next     int32     // towards the least recently used
	timer    int32     // position of its timer in the host's heap, or noTimer
	tries    int       // requests sent for the current resolution
	deadline time.Time // Reachable: expiry; Incomplete: next retry or failure
	lastReq  time.Time // when the last request for this address went out
	pending  [][]byte  // frames waiting for the address (Incomplete)
}

// segment is a part of the table's LRU order.
type segment uint8

const (
	probation segment = iota // learned from traffic, not used by the host
	protected                // used by the host, or static
)

// neighbours is bounded; when it is full the least recently used entry on
// probation that is not static makes room, or failing that the least
// recently used protected one.
//
// IPv4 entries are indexed by their address as an integer: the ARP and echo
// hot paths look a neighbour up for every frame, and a map keyed by uint32
// takes Go's 32-bit fast path (6 ns a lookup on the development VM) where
// one keyed by netip.Addr hashes 24 bytes (21 ns). IPv6 entries are
// indexed by their 16 bytes, and the one found last is kept at hand: a ping
// flood or a resolution asks for the same neighbour frame after frame, and
// comparing it costs less than hashing it.
//
// Slots are made a chunk at a time, as the table fills, up to its size, and
// never move (entries are handed out by pointer). An idle host with a
// neighbour or two holds one chunk rather than the 1,024 slots and index of
// a full table, 160 KB: 1,000 idle hosts in one smolfs serve took 170 MB
// with the table allocated up front, 17 MB with tables of 16 slots.
type neighbours struct {
	chunks  [][]neighbour // slot i is chunks[i>>chunkBits][i&chunkMask]
	size    int32         // the most slots
	made    int32         // slots made so far
	v4      map[uint32]int32
	v6      map[[16]byte]int32
	last6   int32 // the IPv6 entry found last, or noEntry
	free    []int32
	head    [2]int32 // most recently used, per segment
	tail    [2]int32 // least recently used, per segment
	statics int

	onEvict func(*neighbour) // an entry is about to be pushed out to make room
	onFree  func(*neighbour) // an entry is about to be removed
}

// Slots come in chunks of 32.
const (
	chunkBits = 5
	chunkMask = 1<<chunkBits - 1
)

func newNeighbours(size int, onEvict, onFree func(*neighbour)) *neighbours {
	return &neighbours{
		onEvict: onEvict,
		onFree:  onFree,
		size:    int32(size),
		v4:      map[uint32]int32{},
		head:    [2]int32{noEntry, noEntry},
		tail:    [2]int32{noEntry, noEntry},
		last6:   noEntry,
	}
}

// at is slot i.
func (c *neighbours) at(i int32) *neighbour { return &c.chunks[i>>chunkBits][i&chunkMask] }

// grow makes the next chunk of free slots, if the table is not at its size.
func (c *neighbours) grow() {
	n := min(chunkMask+1, c.size-c.made)
	if n <= 0 {
		return
	}
	chunk := make([]neighbour, n)
	for j := n - 1; j >= 0; j-- {
		chunk[j].slot = c.made + j
		chunk[j].timer = noTimer
		c.free = append(c.free, c.made+j) // the lowest is taken first
	}
	c.chunks = append(c.chunks, chunk)
	c.made += n
}

// key is an IPv4 address as an integer, for the IPv4 index and the IPv4
// code's subnet arithmetic.
func key(a netip.Addr) uint32 {
	v := a.As4()
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

func addrOf(k uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
}

func (c *neighbours) len() int { return len(c.v4) + len(c.v6) }

// get returns the entry for a, or nil.
func (c *neighbours) get(a netip.Addr) *neighbour {
	if a.Is4() {
		return c.get4(key(a))
	}
	if i := c.last6; i != noEntry && c.at(i).addr == a {
		return c.at(i)
	}
	i, ok := c.v6[a.As16()]
	if !ok {
		return nil
	}
	c.last6 = i
	return c.at(i)
}

// get4 returns the entry for an IPv4 address given as an integer, or nil.
func (c *neighbours) get4(ip uint32) *neighbour {
	i, ok := c.v4[ip]
	if !ok {
		return nil
	}
	return c.at(i)
}

// touch makes e the most recently used entry of its segment (traffic
// confirmed it).
func (c *neighbours) touch(e *neighbour) {
	if c.head[e.seg] == e.slot {
		return
	}
	c.unlink(e.slot)
	c.pushFront(e.slot, e.seg)
}

// use makes e the most recently used protected entry (the host needs it).
func (c *neighbours) use(e *neighbour) {
	if e.seg == protected && c.head[protected] == e.slot {
		return
	}
	c.unlink(e.slot)
	c.pushFront(e.slot, protected)
}

func (c *neighbours) unlink(i int32) {
	e := c.at(i)
	if e.prev != noEntry {
		c.at(e.prev).next = e.next
	} else {
		c.head[e.seg] = e.next
	}
	if e.next != noEntry {
		c.at(e.next).prev = e.prev
	} else {
		c.tail[e.seg] = e.prev
	}
	e.prev, e.next = noEntry, noEntry
}

func (c *neighbours) pushFront(i int32, seg segment) {
	e := c.at(i)
	e.seg = seg
	e.prev, e.next = noEntry, c.head[seg]
	if c.head[seg] != noEntry {
		c.at(c.head[seg]).prev = i
	}
	c.head[seg] = i
	if c.tail[seg] == noEntry {
		c.tail[seg] = i
	}
}

// insert adds a fresh entry for a in state st to segment seg, evicting an
// entry if the table is full (onEvict sees it first, for its pending
// frames): the least recently used one on probation, or else the least
// recently used protected one, never a static one. It returns nil when every
// slot holds a static entry.
func (c *neighbours) insert(a netip.Addr, st ARPState, seg segment) *neighbour {
	if len(c.free) == 0 {
		c.grow()
	}
	if len(c.free) == 0 {
		i := int32(noEntry)
		for _, s := range [...]segment{probation, protected} {
			i = c.tail[s]
			for i != noEntry && c.at(i).state == Static {
				i = c.at(i).prev
			}
			if i != noEntry {
				break
			}
		}
		if i == noEntry {
			return nil
		}
		c.onEvict(c.at(i))
		c.remove(c.at(i))
	}
	i := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	// The fresh entry keeps the slot's pending slice (emptied on removal)
	// so that queueing for it again does not allocate.
	e := c.at(i)
	*e = neighbour{addr: a, slot: i, timer: noTimer, pending: e.pending[:0]}
	c.setState(e, st)
	if a.Is4() {
		c.v4[key(a)] = i
	} else {
		if c.v6 == nil {
			c.v6 = make(map[[16]byte]int32)
		}
		c.v6[a.As16()] = i
	}
	c.pushFront(i, seg)
	return e
}

// remove frees e's slot. Its pending frames are the caller's to account for.
func (c *neighbours) remove(e *neighbour) {
	c.onFree(e)
	if e.state == Static {
		c.statics--
	}
	c.unlink(e.slot)
	if e.addr.Is4() {
		delete(c.v4, key(e.addr))
	} else {
		delete(c.v6, e.addr.As16())
		if c.last6 == e.slot {
			c.last6 = noEntry
		}
	}
	e.state = 0
	clear(e.pending) // no references to recycled buffers stay behind
	e.pending = e.pending[:0]
	c.free = append(c.free, e.slot)
}

// setState keeps the count of static entries right.
func (c *neighbours) setState(e *neighbour, s ARPState) {
	if e.state == Static {
		c.statics--
	}
	if s == Static {
		c.statics++
	}
	e.state = s
}

// each calls fn for every entry, in no particular order; fn may remove it.
func (c *neighbours) each(fn func(*neighbour)) {
	for _, chunk := range c.chunks {
		for i := range chunk {
			if chunk[i].state != 0 {
				fn(&chunk[i])
			}
		}
	}
}
