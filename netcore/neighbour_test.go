package netcore

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// checkCache checks the cache's structure: the LRU lists of both segments,
// the index, the free list and the count of static entries agree.
func checkCache(t testing.TB, c *neighbours) {
	t.Helper()
	n, statics := 0, 0
	for _, seg := range []segment{protected, probation} {
		prev := int32(noEntry)
		for i := c.head[seg]; i != noEntry; i = c.at(i).next {
			e := c.at(i)
			if n++; n > int(c.made) {
				t.Fatal("LRU list has a cycle")
			}
			if e.state == 0 || e.slot != i || e.prev != prev || e.seg != seg || c.indexOf(e.addr) != i {
				t.Fatalf("slot %d: %+v (prev %d, segment %d, index %d)", i, e, prev, seg, c.indexOf(e.addr))
			}
			if e.state == Static {
				statics++
			}
			prev = i
		}
		if c.tail[seg] != prev {
			t.Fatalf("segment %d: tail %d, last in list %d", seg, c.tail[seg], prev)
		}
	}
	if n != c.len() || n+len(c.free) != int(c.made) || c.made > c.size || statics != c.statics {
		t.Fatalf("list %d, index %d, free %d, slots %d of %d, statics %d (counted %d)", n, c.len(), len(c.free), c.made, c.size, c.statics, statics)
	}
	for _, i := range c.free {
		if e := c.at(i); e.state != 0 || len(e.pending) != 0 {
			t.Fatalf("free slot %d in use: %+v", i, *e)
		}
	}
}

// indexOf is the slot the index gives for a, or noEntry.
func (c *neighbours) indexOf(a netip.Addr) int32 {
	i, ok := c.v6[a.As16()]
	if a.Is4() {
		i, ok = c.v4[key(a)]
	}
	if !ok {
		return noEntry
	}
	return i
}

// lru lists the cache's addresses in the reverse of eviction order: the
// protected segment, then probation, each most recently used first. IPv4
// addresses are integers; others are listed as 0.
func lru(c *neighbours) []uint32 {
	var ips []uint32
	for _, seg := range []segment{protected, probation} {
		for i := c.head[seg]; i != noEntry; i = c.at(i).next {
			if a := c.at(i).addr; a.Is4() {
				ips = append(ips, key(a))
			} else {
				ips = append(ips, 0)
			}
		}
	}
	return ips
}

func testNeighbours(size int, evicted *[]uint32) *neighbours {
	return newNeighbours(size, func(e *neighbour) { *evicted = append(*evicted, key(e.addr)) }, func(*neighbour) {})
}

func TestARPCacheLRU(t *testing.T) {
	var evicted []uint32
	c := testNeighbours(3, &evicted)
	for ip := uint32(1); ip <= 3; ip++ {
		if c.insert(addrOf(ip), Reachable, probation) == nil {
			t.Fatal("insert into a cache with room failed")
		}
		checkCache(t, c)
	}
	if got := lru(c); !slices.Equal(got, []uint32{3, 2, 1}) {
		t.Fatalf("order %v", got)
	}
	c.touch(c.get4(1))
	checkCache(t, c)
	c.insert(addrOf(4), Reachable, probation) // evicts 2, the least recently used
	checkCache(t, c)
	if got := lru(c); !slices.Equal(got, []uint32{4, 1, 3}) || !slices.Equal(evicted, []uint32{2}) || c.get4(2) != nil {
		t.Fatalf("order %v, evicted %v", got, evicted)
	}
	c.setState(c.get4(3), Static)
	c.setState(c.get4(1), Static)
	c.insert(addrOf(5), Incomplete, probation) // 3 and 1 are static: 4 goes although it is newest
	checkCache(t, c)
	if got := lru(c); !slices.Equal(got, []uint32{5, 1, 3}) || !slices.Equal(evicted, []uint32{2, 4}) {
		t.Fatalf("order %v, evicted %v", got, evicted)
	}
	c.insert(addrOf(6), Static, protected)
	checkCache(t, c)
	if got := lru(c); !slices.Equal(got, []uint32{6, 1, 3}) || !slices.Equal(evicted, []uint32{2, 4, 5}) {
		t.Fatalf("order %v, evicted %v", got, evicted)
	}
	if e := c.insert(addrOf(7), Reachable, probation); e != nil {
		t.Fatalf("inserted %+v into a cache full of static entries", e)
	}
	c.remove(c.get4(1))
	checkCache(t, c)
	if e := c.insert(addrOf(7), Reachable, probation); e == nil || e.state != Reachable {
		t.Fatalf("insert after remove: %+v", e)
	}
	checkCache(t, c)
}

// The table makes its slots as it fills, a chunk at a time, never more than
// its size, and never moves an entry: a host that talks to nobody holds no
// slots at all.
func TestNeighboursGrowOnDemand(t *testing.T) {
	var evicted []uint32
	c := testNeighbours(100, &evicted)
	if c.made != 0 || len(c.chunks) != 0 {
		t.Fatalf("a new table made %d slots", c.made)
	}
	first := c.insert(addrOf(1), Reachable, protected)
	if c.made != chunkMask+1 {
		t.Fatalf("one entry made %d slots, want a chunk of %d", c.made, chunkMask+1)
	}
	for ip := uint32(2); ip <= 250; ip++ {
		if c.insert(addrOf(ip), Reachable, probation) == nil {
			t.Fatalf("insert %d failed", ip)
		}
		checkCache(t, c)
		if c.get4(1) != first || key(first.addr) != 1 {
			t.Fatalf("the first entry moved or went after %d inserts", ip)
		}
	}
	if c.made != 100 || c.len() != 100 || len(evicted) != 150 {
		t.Errorf("after 250 inserts into a table of 100: %d slots made, %d entries, %d evicted", c.made, c.len(), len(evicted))
	}
}

func TestARPCacheUsedEntriesOutliveProbation(t *testing.T) {
	var evicted []uint32
	c := testNeighbours(4, &evicted)
	c.insert(addrOf(1), Reachable, probation)
	c.insert(addrOf(2), Reachable, probation)
	c.use(c.get4(1)) // the host sends to 1: it is protected from here on
	checkCache(t, c)
	c.insert(addrOf(3), Incomplete, protected)
	for ip := uint32(10); ip < 20; ip++ { // a flood of strangers
		c.insert(addrOf(ip), Reachable, probation)
		checkCache(t, c)
	}
	if c.get4(1) == nil || c.get4(3) == nil {
		t.Fatalf("a flood on probation evicted used entries: order %v", lru(c))
	}
	if got := lru(c); !slices.Equal(got, []uint32{3, 1, 19, 18}) || evicted[0] != 2 {
		t.Fatalf("order %v, evicted %v", got, evicted)
	}
	// With nothing on probation, the protected segment's LRU entry goes.
	c.use(c.get4(19))
	c.use(c.get4(18))
	c.insert(addrOf(30), Incomplete, protected)
	checkCache(t, c)
	if got := lru(c); !slices.Equal(got, []uint32{30, 18, 19, 3}) {
		t.Fatalf("order %v, want 1 evicted as the least recently used protected entry", got)
	}
}

// TestNeighboursShareIPv6 checks that the table takes any netip.Addr: an
// IPv6 neighbour lives beside IPv4 ones, in the same LRU order and bound.
func TestNeighboursShareIPv6(t *testing.T) {
	var evicted []uint32
	c := testNeighbours(2, &evicted)
	v6 := netip.MustParseAddr("fe80::1")
	c.insert(addrOf(1), Reachable, probation)
	if e := c.insert(v6, Reachable, probation); e == nil || c.get(v6) != e || e.addr != v6 {
		t.Fatalf("IPv6 entry %+v", e)
	}
	checkCache(t, c)
	c.insert(addrOf(2), Reachable, probation) // evicts 1, the least recently used
	checkCache(t, c)
	if c.get(v6) == nil || c.get4(1) != nil || c.len() != 2 {
		t.Fatalf("after eviction: %v, evicted %v", lru(c), evicted)
	}
	c.remove(c.get(v6))
	checkCache(t, c)
	if c.get(v6) != nil || c.len() != 1 {
		t.Fatal("IPv6 entry not removed")
	}
}

// peer i is 192.168.69.(10+i) at 02:00:00:00:01:i.
func peer(i int) (netip.Addr, wire.MAC) {
	return netip.AddrFrom4([4]byte{192, 168, 69, byte(10 + i)}), wire.MAC{0x02, 0, 0, 0, 1, byte(i)}
}

// requestFrom is an ARP request from peer i for our address.
func requestFrom(i int) []byte {
	ip, mac := peer(i)
	return arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, ip, wire.MAC{}, hostIP)
}

// cached lists the addresses in the snapshot's ARP table.
func (th *harness) cached() []netip.Addr {
	var ips []netip.Addr
	for _, e := range th.snap().ARP {
		ips = append(ips, e.IP)
	}
	return ips
}

func addrs(is ...int) []netip.Addr {
	var ips []netip.Addr
	for _, i := range is {
		ip, _ := peer(i)
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	return ips
}

func TestARPNoLearningFromStrangers(t *testing.T) {
	th := newHarness(t)
	stranger := []struct {
		name  string
		frame []byte
	}{
		{"request for another", arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, otherIP)},
		{"reply to another", arpFrame(wire.ARPReply, wire.BroadcastMAC, peerMAC, peerIP, otherMAC, otherIP)},
		{"gratuitous request", arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, peerIP)},
		{"gratuitous reply", arpFrame(wire.ARPReply, wire.BroadcastMAC, peerMAC, peerIP, peerMAC, peerIP)},
	}
	for _, s := range stranger {
		if sent := th.recv(s.frame); len(sent) != 0 {
			t.Errorf("%s: sent %x", s.name, sent)
		}
		if got := th.cached(); len(got) != 0 {
			t.Errorf("%s: learned %v", s.name, got)
		}
	}
	// A request for us from off every subnet is answered, not learned: we
	// could never send to it.
	far := netip.MustParseAddr("10.1.2.3")
	if sent := th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, far, wire.MAC{}, hostIP)); len(sent) != 1 {
		t.Errorf("request from %s: sent %d frames, want the reply", far, len(sent))
	}
	if got := th.cached(); len(got) != 0 {
		t.Errorf("learned %v from off-subnet", got)
	}
	// Once known, any ARP from the sender updates it.
	th.recv(whoHas(hostIP))
	moved := wire.MAC{0x02, 0xaa, 0, 0, 0, 1}
	th.now = th.now.Add(10 * time.Second)
	th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, moved, peerIP, wire.MAC{}, otherIP))
	if e, _ := th.entry(peerIP); e.MAC != moved || e.TTL != DefaultARPTimeout {
		t.Errorf("entry %+v, want updated to %s for 60s", e, moved)
	}
	th.wantStats(map[Counter]uint64{ARPRxRequest: 5, ARPRxReply: 2})
}

func TestARPGratuitousUpdatesKnownNeighbour(t *testing.T) {
	for _, op := range []wire.ARPOp{wire.ARPRequest, wire.ARPReply} {
		th := newHarness(t)
		th.recv(whoHas(hostIP))
		moved := wire.MAC{0x02, 0xaa, 0, 0, 0, 1}
		th.now = th.now.Add(30 * time.Second)
		if sent := th.recv(arpFrame(op, wire.BroadcastMAC, moved, peerIP, wire.MAC{}, peerIP)); len(sent) != 0 {
			t.Errorf("op %d: answered a gratuitous ARP: %x", op, sent)
		}
		if e, _ := th.entry(peerIP); e.MAC != moved || e.State != Reachable || e.TTL != DefaultARPTimeout {
			t.Errorf("op %d: entry %+v, want moved and refreshed", op, e)
		}
		// Replies to a ping now go to the new address.
		sent := th.recv(ping(1, nil))
		if eth, _, _ := parseEchoOut(t, sent[0]); eth.Dst != moved {
			t.Errorf("op %d: echo reply to %s, want %s", op, eth.Dst, moved)
		}
	}
}

func TestARPStaticWins(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP)) // learned from traffic first
	static := wire.MAC{0x02, 0x55, 0, 0, 0, 1}
	th.mustExec("tap0/arp", "add "+peerIP.String()+" "+static.String())
	for _, f := range [][]byte{
		whoHas(hostIP),
		arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP),
		arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, peerIP),
	} {
		th.recv(f)
	}
	if e, _ := th.entry(peerIP); e.MAC != static || e.State != Static || e.TTL != -1 {
		t.Errorf("entry %+v, want the static entry untouched", e)
	}
	// The request was still answered, and pings go to the static address.
	th.wantStats(map[Counter]uint64{ARPTxReply: 2})
	sent := th.recv(ping(1, nil))
	if eth, _, _ := parseEchoOut(t, sent[0]); eth.Dst != static {
		t.Errorf("echo reply to %s, want %s", eth.Dst, static)
	}
	// Static entries never expire.
	th.advance(48 * time.Hour)
	if _, ok := th.entry(peerIP); !ok {
		t.Error("static entry expired")
	}
}

func TestARPExpiry(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	if d := th.h.Deadline(); !d.Equal(t0.Add(DefaultARPTimeout)) {
		t.Errorf("deadline %v, want expiry at %v", d, t0.Add(DefaultARPTimeout))
	}
	th.advance(DefaultARPTimeout - time.Nanosecond)
	if e, ok := th.entry(peerIP); !ok || e.TTL != time.Nanosecond {
		t.Errorf("entry %+v %v just before expiry", e, ok)
	}
	th.advance(time.Nanosecond)
	if _, ok := th.entry(peerIP); ok {
		t.Error("entry outlived arptimeout")
	}
	if n := th.h.arp.len(); n != 0 || !th.h.Deadline().IsZero() {
		t.Errorf("%d slots in use, deadline %v after expiry", n, th.h.Deadline())
	}
}

func TestARPExpiredEntryIsResolvedAgain(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	th.now = th.now.Add(DefaultARPTimeout) // expired, and no Poll has swept it
	if _, ok := th.entry(peerIP); ok {
		t.Error("the snapshot shows an expired entry")
	}
	sent := th.recv(ping(1, nil))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames, want an ARP request", len(sent))
	}
	if _, a := parseARPOut(t, sent[0]); a.Op != wire.ARPRequest || a.TargetIP != peerIP {
		t.Errorf("sent %+v", a)
	}
	if sent := th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP)); len(sent) != 1 {
		t.Errorf("the reply released %d frames, want the echo reply", len(sent))
	}
}

func TestARPTimeoutChange(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	th.now = th.now.Add(time.Second)
	th.mustExec("tap0/ctl", "arptimeout 10")
	if e, _ := th.entry(peerIP); e.TTL != 10*time.Second {
		t.Errorf("after arptimeout 10: TTL %v, want cut to 10s", e.TTL)
	}
	th.advance(10 * time.Second)
	if _, ok := th.entry(peerIP); ok {
		t.Error("entry outlived the shortened timeout")
	}
	th.recv(whoHas(hostIP))
	if e, _ := th.entry(peerIP); e.TTL != 10*time.Second {
		t.Errorf("learned with TTL %v, want 10s", e.TTL)
	}
	th.mustExec("tap0/ctl", "arptimeout 100")
	if e, _ := th.entry(peerIP); e.TTL != 10*time.Second {
		t.Errorf("after arptimeout 100: TTL %v, want 10s until confirmed", e.TTL)
	}
	th.recv(whoHas(hostIP))
	if e, _ := th.entry(peerIP); e.TTL != 100*time.Second {
		t.Errorf("confirmed with TTL %v, want 100s", e.TTL)
	}
}

func TestARPBoundAndLRUEviction(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.ARPCacheSize = 3 })
	for i := 1; i <= 3; i++ {
		th.recv(requestFrom(i))
	}
	th.recv(requestFrom(1)) // an update counts as use
	th.recv(requestFrom(4)) // evicts 2
	if got := th.cached(); !slices.Equal(got, addrs(1, 3, 4)) {
		t.Fatalf("cache %v, want peers 1 3 4", got)
	}
	ip3, _ := peer(3)
	sent := th.recv(echoFrame(wire.MAC{0x02, 0, 0, 0, 1, 3}, hostMAC, ip3, hostIP, 1, 1, nil)) // a lookup counts as use
	if len(sent) != 1 {
		t.Fatalf("ping from peer 3: %d frames", len(sent))
	}
	th.recv(requestFrom(5)) // evicts 1, not 3
	if got := th.cached(); !slices.Equal(got, addrs(3, 4, 5)) {
		t.Fatalf("cache %v, want peers 3 4 5", got)
	}
	th.wantStats(map[Counter]uint64{ARPEvicted: 2})

	// Static entries are never evicted, however old.
	ip6, mac6 := peer(6)
	ip7, mac7 := peer(7)
	th.mustExec("tap0/arp", fmt.Sprintf("add %s %s\nadd %s %s", ip6, mac6, ip7, mac7))
	th.recv(requestFrom(8))
	th.recv(requestFrom(9))
	if got := th.cached(); !slices.Equal(got, addrs(6, 7, 9)) {
		t.Fatalf("cache %v, want peers 6 7 9", got)
	}
}

func TestARPCacheFullOfStatics(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.ARPCacheSize = 2 })
	ip1, mac1 := peer(1)
	ip2, mac2 := peer(2)
	th.mustExec("tap0/arp", fmt.Sprintf("add %s %s\nadd %s %s", ip1, mac1, ip2, mac2))
	ip3, mac3 := peer(3)
	for _, text := range []string{
		fmt.Sprintf("add %s %s", ip3, mac3),
		"resolve " + ip3.String(),
	} {
		_, err := th.exec("tap0/arp", text)
		if ctl.Errno(err) != syscall.ENOSPC || err.Error() != `tap0/arp: line 1: "`+text+`": ARP cache is full of static entries` {
			t.Errorf("%s: %v", text, err)
		}
	}
	// Deleting one in the same write makes room.
	th.mustExec("tap0/arp", fmt.Sprintf("del %s\nresolve %s", ip1, ip3))
	th.mustExec("tap0/arp", fmt.Sprintf("add %s %s", ip1, mac1))
	// Traffic cannot make room either: the sender is not learned, its
	// ping's reply has nowhere to wait.
	if sent := th.recv(requestFrom(4)); len(sent) != 1 {
		t.Errorf("request from peer 4: %d frames, want the reply", len(sent))
	}
	ip4, mac4 := peer(4)
	if sent := th.recv(echoFrame(mac4, hostMAC, ip4, hostIP, 1, 1, nil)); len(sent) != 0 {
		t.Errorf("ping from peer 4: sent %x", sent)
	}
	if got := th.cached(); !slices.Equal(got, addrs(1, 2)) {
		t.Errorf("cache %v, want peers 1 2", got)
	}
	th.wantStats(map[Counter]uint64{ARPPendingDropped: 1, ICMPEchoRx: 1})
}

func TestARPRetriesThenFailure(t *testing.T) {
	th := newHarness(t)
	requests := 0
	count := func(frames [][]byte) {
		for _, f := range frames {
			if _, a := parseARPOut(t, f); a.Op == wire.ARPRequest && a.TargetIP == peerIP && a.SenderIP == hostIP {
				requests++
			} else {
				t.Errorf("unexpected frame %+v", a)
			}
		}
	}
	count(th.recv(ping(1, nil)))
	th.now = th.now.Add(500 * time.Millisecond)
	count(th.recv(ping(2, nil)))
	count(th.advance(499 * time.Millisecond))
	if requests != 1 {
		t.Fatalf("%d requests in the first second, want 1", requests)
	}
	count(th.advance(time.Millisecond)) // t0+1s
	count(th.advance(time.Second))      // t0+2s
	if requests != 3 {
		t.Fatalf("%d requests by t0+2s, want 3", requests)
	}
	if e, ok := th.entry(peerIP); !ok || e.State != Incomplete {
		t.Fatalf("entry %+v %v, want incomplete", e, ok)
	}
	count(th.advance(999 * time.Millisecond))
	if _, ok := th.entry(peerIP); !ok {
		t.Fatal("entry failed before the last request had its second")
	}
	count(th.advance(time.Millisecond)) // t0+3s: gives up
	if requests != 3 {
		t.Errorf("%d requests in all, want 3", requests)
	}
	th.wantEvent(EventUnresolved, "arp: 192.168.69.100 did not answer 3 requests; dropped 2 waiting frames")
	if _, ok := th.entry(peerIP); ok {
		t.Error("failed entry still cached")
	}
	th.wantStats(map[Counter]uint64{ARPFailed: 1, ARPPendingDropped: 2, ARPTxRequest: 3, ICMPEchoTx: 0})
	if !th.h.Deadline().IsZero() {
		t.Errorf("deadline %v after failure, want none", th.h.Deadline())
	}
	// A late reply is not learned: nobody asked any more... except that it
	// is for us, which is enough.
	th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if e, ok := th.entry(peerIP); !ok || e.State != Reachable {
		t.Errorf("entry %+v %v after a reply for us", e, ok)
	}
}

func TestARPResolveRateLimit(t *testing.T) {
	th := newHarness(t)
	resolve := "resolve " + peerIP.String()
	if sent := th.mustExec("tap0/arp", resolve); len(sent) != 1 {
		t.Fatalf("resolve sent %d frames", len(sent))
	}
	for i := 0; i < 5; i++ {
		th.now = th.now.Add(100 * time.Millisecond)
		if sent := th.mustExec("tap0/arp", resolve); len(sent) != 0 {
			t.Errorf("resolve %d within a second sent %x", i+2, sent)
		}
	}
	if sent := th.mustExec("tap0/arp", resolve+"\n"+resolve); len(sent) != 0 {
		t.Errorf("resolve twice in one write sent %d frames", len(sent))
	}
	th.wantStats(map[Counter]uint64{ARPTxRequest: 1, ARPRateLimited: 7})
	th.now = t0.Add(time.Second)
	if sent := th.mustExec("tap0/arp", resolve); len(sent) != 1 {
		t.Errorf("resolve a second later sent %d frames, want 1", len(sent))
	}
	if sent := th.poll(); len(sent) != 0 {
		t.Errorf("the retry went out as well: %d frames", len(sent))
	}
	// Resolving a reachable entry asks again, under the same limit.
	th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if sent := th.mustExec("tap0/arp", resolve); len(sent) != 0 {
		t.Errorf("resolve within a second of the last request sent %d frames", len(sent))
	}
	th.now = th.now.Add(time.Second)
	if sent := th.mustExec("tap0/arp", resolve); len(sent) != 1 {
		t.Errorf("resolve of a reachable entry sent %d frames, want 1", len(sent))
	}
	if e, _ := th.entry(peerIP); e.State != Reachable || e.MAC != peerMAC {
		t.Errorf("entry %+v, want still reachable", e)
	}
}

func TestARPPendingOverflow(t *testing.T) {
	th := newHarness(t)
	for seq := uint16(1); seq <= 6; seq++ {
		th.recv(ping(seq, []byte{byte(seq)}))
	}
	th.wantStats(map[Counter]uint64{ARPPendingDropped: 2, ICMPEchoRx: 6, ARPTxRequest: 1})
	sent := th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if len(sent) != DefaultARPPending {
		t.Fatalf("released %d frames, want %d", len(sent), DefaultARPPending)
	}
	for i, f := range sent {
		if eth, _, icmp := parseEchoOut(t, f); eth.Dst != peerMAC || icmp.Seq != uint16(i+1) {
			t.Errorf("frame %d: to %s seq %d", i, eth.Dst, icmp.Seq)
		}
	}
	th.wantStats(map[Counter]uint64{ICMPEchoTx: 4})
}

func TestARPAddReleasesPending(t *testing.T) {
	th := newHarness(t)
	th.recv(ping(1, []byte("wait")))
	sent := th.mustExec("tap0/arp", "add "+peerIP.String()+" "+otherMAC.String())
	if len(sent) != 1 {
		t.Fatalf("arp add released %d frames, want 1", len(sent))
	}
	if eth, _, icmp := parseEchoOut(t, sent[0]); eth.Dst != otherMAC || string(icmp.Data) != "wait" {
		t.Errorf("released %+v %q", eth, icmp.Data)
	}
	if sent := th.advance(5 * time.Second); len(sent) != 0 {
		t.Errorf("retries continued after arp add: %d frames", len(sent))
	}
}

func TestARPConflict(t *testing.T) {
	th := newHarness(t)
	claim := arpFrame(wire.ARPRequest, wire.BroadcastMAC, otherMAC, hostIP, wire.MAC{}, hostIP)
	if sent := th.recv(claim); len(sent) != 0 {
		t.Errorf("sent %x", sent)
	}
	th.wantEvent(EventConflict, "arp conflict: 192.168.69.1 is-at 02:00:00:00:00:09, but it is ours (02:00:00:00:00:01)")
	th.now = th.now.Add(999 * time.Millisecond)
	th.recv(arpFrame(wire.ARPReply, hostMAC, otherMAC, hostIP, hostMAC, hostIP))
	if len(th.events) != 0 {
		t.Errorf("second conflict within a second reported: %v", th.events)
	}
	th.now = th.now.Add(time.Millisecond)
	th.recv(claim)
	th.wantEvent(EventConflict, "is-at 02:00:00:00:00:09")
	th.wantStats(map[Counter]uint64{ARPConflicts: 3})
	// Our own announcement coming back is no conflict.
	th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, hostMAC, hostIP, wire.MAC{}, hostIP))
	th.wantStats(map[Counter]uint64{ARPConflicts: 3})
	if got := th.cached(); len(got) != 0 {
		t.Errorf("learned %v", got)
	}
}

func TestARPFlushDelResolve(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	th.mustExec("tap0/arp", "add 192.168.69.9 02:00:00:00:00:09\nresolve 192.168.69.7")
	if got := th.cached(); len(got) != 3 {
		t.Fatalf("cache %v", got)
	}
	th.recv(ping(1, nil)) // goes out at once
	th.mustExec("tap0/arp", "del 192.168.69.100")
	if _, ok := th.entry(peerIP); ok {
		t.Error("del left the entry")
	}
	th.recv(ping(2, nil)) // now waits
	_, err := th.exec("tap0/arp", "del 192.168.69.100\ndel 192.168.69.100")
	if ctl.Errno(err) != syscall.ENOENT || err.Error() != `tap0/arp: line 2: "del 192.168.69.100": not found: no ARP entry for 192.168.69.100` {
		t.Errorf("double del: %v", err)
	}
	th.mustExec("tap0/arp", "flush")
	if got := th.cached(); len(got) != 0 {
		t.Errorf("flush left %v", got)
	}
	th.wantStats(map[Counter]uint64{ARPPendingDropped: 1, ICMPEchoTx: 1})
	if _, err := th.exec("tap0/arp", "del 192.168.69.9"); ctl.Errno(err) != syscall.ENOENT {
		t.Errorf("del after flush: %v", err)
	}
	if sent := th.advance(10 * time.Second); len(sent) != 0 {
		t.Errorf("flushed entries still retried: %d frames", len(sent))
	}
}

func TestARPSubnetRemovedWhileResolving(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.Addrs = append(c.Addrs, netip.MustParsePrefix("10.0.0.1/8")) })
	th.mustExec("tap0/arp", "resolve "+peerIP.String())
	th.mustExec("tap0/ctl", "remove 192.168.69.1/24")
	for i := 0; i < 2; i++ {
		if sent := th.advance(time.Second); len(sent) != 0 {
			t.Errorf("asked for %s with no address on its subnet: %x", peerIP, sent)
		}
	}
	th.advance(time.Second)
	th.wantEvent(EventUnresolved, "192.168.69.100")
	if !th.h.Deadline().IsZero() {
		t.Errorf("deadline %v", th.h.Deadline())
	}
}

func TestARPRemoveAllWhileResolving(t *testing.T) {
	// With no address at all the host used to leave the retry deadline in
	// the past: its driver would spin on Poll forever.
	th := newHarness(t)
	th.recv(ping(1, nil))
	th.mustExec("tap0/ctl", "remove all")
	for i := 0; i < 3; i++ {
		th.advance(time.Second) // the harness fails if the deadline is not in the future
	}
	th.wantStats(map[Counter]uint64{ARPFailed: 1, ARPPendingDropped: 1})
}

// A flood of ARP requests for us from more distinct neighbours than the cache
// holds must not push out the neighbour the host is answering pings for.
func TestFloodDoesNotEvictNeighbourInUse(t *testing.T) {
	th := newHarness(t, func(c *Config) {
		c.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.69.1/16")}
		c.ARPCacheSize = 64
	})
	th.recv(whoHas(hostIP)) // the peer asks for us: learned, on probation
	for i := range 1000 {
		if i%100 == 0 {
			replies := th.recv(ping(uint16(i), []byte("payload")))
			if len(replies) != 1 {
				t.Fatalf("ping %d during the flood: %d frames out, want the echo reply at once (arp_pending_dropped %d)",
					i, len(replies), th.stat(ARPPendingDropped))
			}
		}
		ip := netip.AddrFrom4([4]byte{192, 168, 100 + byte(i/250), byte(1 + i%250)})
		mac := wire.MAC{0x02, 0xa5, 0, 0, byte(i >> 8), byte(i)}
		th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, ip, wire.MAC{}, hostIP))
	}
	if e, ok := th.entry(peerIP); !ok || e.State != Reachable {
		t.Fatalf("the peer's entry is gone after the flood: %+v", e)
	}
	if n := th.stat(ARPEvicted); n < 1000-64 {
		t.Errorf("arp_evicted %d, want the flood to have cycled through the cache", n)
	}
}
