package netcore

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
)

type testKey struct{ id uint16 }

var reasmT0 = time.Unix(1764000000, 0)

// testDatagram is a header of hl bytes (0xee) and n payload bytes numbered
// from seed, so that a misplaced fragment shows.
func testDatagram(hl, n int, seed byte) (hdr, payload []byte) {
	hdr = bytes.Repeat([]byte{0xee}, hl)
	payload = make([]byte, n)
	for i := range payload {
		payload[i] = byte(i/7) + seed
	}
	return hdr, payload
}

type testFrag struct {
	off, end int
	more     bool
}

// split cuts n bytes into fragments of size bytes (a multiple of 8).
func split(n, size int) []testFrag {
	var fs []testFrag
	for off := 0; off < n; off += size {
		end := min(off+size, n)
		fs = append(fs, testFrag{off, end, end < n})
	}
	return fs
}

func addFrag(r *reassembler[testKey], now time.Time, key testKey, f testFrag, hdr, payload []byte) reasmResult {
	return r.add(now, key, f.off, f.more, hdr, payload[f.off:f.end], 0)
}

func checkDone(t *testing.T, r *reassembler[testKey], hdr, payload []byte) {
	t.Helper()
	got, _ := r.datagram()
	if want := append(bytes.Clone(hdr), payload...); !bytes.Equal(got, want) {
		t.Fatalf("reassembled %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestReassemblyOrders(t *testing.T) {
	hdr, payload := testDatagram(20, 65515, 3)
	fs := split(len(payload), 1480)
	if len(fs) != 45 {
		t.Fatalf("%d fragments", len(fs))
	}
	orders := map[string]func([]testFrag){
		"in order": func([]testFrag) {},
		"reversed": func(fs []testFrag) {
			for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
				fs[i], fs[j] = fs[j], fs[i]
			}
		},
		"shuffled": func(fs []testFrag) {
			rng := rand.New(rand.NewPCG(7, 7))
			rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		},
		"last first": func(fs []testFrag) { fs[0], fs[len(fs)-1] = fs[len(fs)-1], fs[0] },
	}
	for name, order := range orders {
		r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
		fs := append([]testFrag(nil), fs...)
		order(fs)
		for i, f := range fs {
			res := addFrag(r, reasmT0, testKey{1}, f, hdr, payload)
			if want := reasmHeld; i == len(fs)-1 {
				if res != reasmDone {
					t.Fatalf("%s: last fragment: %d, want done", name, res)
				}
			} else if res != want {
				t.Fatalf("%s: fragment %d (%d..%d): %d, want held", name, i, f.off, f.end, res)
			}
		}
		checkDone(t, r, hdr, payload)
		if r.held() != 0 || r.bytes() != 0 || !r.next().IsZero() {
			t.Errorf("%s: after completion held %d, bytes %d, next %v", name, r.held(), r.bytes(), r.next())
		}
	}
}

func TestReassemblyDuplicates(t *testing.T) {
	hdr, payload := testDatagram(24, 3000, 1)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	fs := split(len(payload), 1480)
	for _, f := range []testFrag{fs[1], fs[1], fs[0], fs[0]} {
		addFrag(r, reasmT0, testKey{1}, f, hdr, payload)
	}
	if r.held() != 1 {
		t.Fatalf("held %d", r.held())
	}
	if res := addFrag(r, reasmT0, testKey{1}, fs[1], hdr, payload); res != reasmDuplicate {
		t.Fatalf("duplicate: %d", res)
	}
	if res := addFrag(r, reasmT0, testKey{1}, fs[2], hdr, payload); res != reasmDone {
		t.Fatalf("last: %d", res)
	}
	checkDone(t, r, hdr, payload)
}

func TestReassemblyOverlapDropsWhole(t *testing.T) {
	hdr, payload := testDatagram(20, 4000, 1)
	for name, overlapping := range map[string]testFrag{
		"into the previous":      {1480 - 8, 2960 - 8, true},
		"into the next":          {8, 1480 + 8, true},
		"same offset, shorter":   {1480, 1480 + 8, true},
		"same offset, longer":    {1480, 2960 + 8, true},
		"inside one":             {1488, 1496, true},
		"across the boundary":    {1400, 1560, true},
		"same start, last, long": {2960, 4000, false},
	} {
		r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
		fs := split(len(payload), 1480)
		addFrag(r, reasmT0, testKey{1}, fs[0], hdr, payload)
		addFrag(r, reasmT0, testKey{1}, fs[1], hdr, payload)
		if name == "same start, last, long" {
			addFrag(r, reasmT0, testKey{1}, testFrag{2960, 3960, true}, hdr, payload)
		}
		if res := addFrag(r, reasmT0, testKey{1}, overlapping, hdr, payload); res != reasmOverlap {
			t.Errorf("%s: %d, want overlap", name, res)
			continue
		}
		if r.bytes() != 0 || r.held() != 1 {
			t.Errorf("%s: after the overlap: bytes %d held %d (want none, one dead entry)", name, r.bytes(), r.held())
		}
		// The rest of the datagram is dropped too; nothing completes.
		for _, f := range fs {
			if res := addFrag(r, reasmT0, testKey{1}, f, hdr, payload); res != reasmOverlap {
				t.Errorf("%s: fragment %d..%d of the dropped datagram: %d", name, f.off, f.end, res)
			}
		}
		// Its time up, the dead entry goes without a live report.
		if _, first, _, live, ok := r.expire(reasmT0.Add(ReassemblyTimeout)); !ok || live || first != nil {
			t.Errorf("%s: expire = live %v, first %d bytes, ok %v", name, live, len(first), ok)
		}
		// And the same key may be reassembled afresh.
		for i, f := range fs {
			res := addFrag(r, reasmT0.Add(ReassemblyTimeout), testKey{1}, f, hdr, payload)
			if i == len(fs)-1 && res != reasmDone {
				t.Errorf("%s: the same key afterwards: %d", name, res)
			}
		}
	}
}

func TestReassemblyInconsistent(t *testing.T) {
	hdr, payload := testDatagram(20, 4000, 1)
	for name, c := range map[string][]testFrag{
		"two different ends":       {{2960, 4000, false}, {2960, 3000, false}},
		"past the end":             {{2960, 4000, false}, {4000, 4008, true}},
		"end before what is held":  {{1480, 2960, true}, {0, 1480, false}},
		"longer than 65535":        {{65512, 65528, false}},
		"first one's header + end": {{0, 8, true}, {65512, 65520, false}},
	} {
		r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
		big := make([]byte, 65528)
		var last reasmResult
		for _, f := range c {
			last = r.add(reasmT0, testKey{1}, f.off, f.more, hdr, big[f.off:f.end], 0)
		}
		if last != reasmBad {
			t.Errorf("%s: %d, want bad", name, last)
		}
		if r.bytes() != 0 {
			t.Errorf("%s: %d bytes held after a bad fragment", name, r.bytes())
		}
	}
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	if res := r.add(reasmT0, testKey{1}, 8, true, nil, nil, 0); res != reasmBad || r.held() != 0 {
		t.Errorf("empty fragment: %d, held %d", res, r.held())
	}
	_ = payload
}

func TestReassemblyBounds(t *testing.T) {
	hdr, payload := testDatagram(20, 1480, 0)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	// MaxReassembly datagrams, each with one fragment held.
	for i := range MaxReassembly {
		if res := r.add(reasmT0, testKey{uint16(i)}, 0, true, hdr, payload[:1480], 0); res != reasmHeld {
			t.Fatalf("datagram %d: %d", i, res)
		}
	}
	if res := r.add(reasmT0, testKey{999}, 0, true, hdr, payload[:1480], 0); res != reasmNoRoom {
		t.Fatalf("datagram %d: %d, want no room", MaxReassembly+1, res)
	}
	// The ones held go on.
	if res := r.add(reasmT0, testKey{3}, 1480, false, nil, payload[:8], 0); res != reasmDone {
		t.Fatalf("completing one: %d", res)
	}
	for i := 0; i < 100; i++ {
		r.add(reasmT0, testKey{uint16(i)}, 1480*(1+i%40), true, nil, payload[:1480], 0)
		if r.held() > MaxReassembly || r.bytes() > MaxReassemblyBytes {
			t.Fatalf("held %d, bytes %d", r.held(), r.bytes())
		}
	}

	// One datagram of many small fragments runs into the byte bound: it is
	// dropped whole, and the memory comes back.
	r = newReassembler[testKey](65535, 20, ReassemblyTimeout)
	var res reasmResult
	n := 0
	for off := 0; off < 65000; off += 8 {
		res = r.add(reasmT0, testKey{1}, off, true, hdr, payload[:8], 0)
		if res != reasmHeld {
			break
		}
		n++
	}
	if res != reasmNoRoom || n != MaxReassemblyBytes/fragChunk {
		t.Fatalf("after %d tiny fragments: %d, want no room after %d", n, res, MaxReassemblyBytes/fragChunk)
	}
	if r.bytes() != 0 {
		t.Fatalf("%d bytes still held", r.bytes())
	}
	// The bytes may serve another datagram at once.
	if res := r.add(reasmT0, testKey{2}, 0, false, hdr, payload[:100], 0); res != reasmDone {
		t.Fatalf("another datagram: %d", res)
	}
}

func TestReassemblyExpiry(t *testing.T) {
	hdr, payload := testDatagram(20, 4000, 5)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	fs := split(len(payload), 1480)
	addFrag(r, reasmT0, testKey{1}, fs[0], hdr, payload)                  // has its first
	addFrag(r, reasmT0.Add(time.Second), testKey{2}, fs[1], hdr, payload) // has none
	if got := r.next(); !got.Equal(reasmT0.Add(ReassemblyTimeout)) {
		t.Fatalf("next %v", got)
	}
	if _, _, _, _, ok := r.expire(reasmT0.Add(ReassemblyTimeout - 1)); ok {
		t.Fatal("expired early")
	}
	key, first, _, live, ok := r.expire(reasmT0.Add(ReassemblyTimeout))
	if !ok || !live || key != (testKey{1}) || !bytes.Equal(first, append(bytes.Clone(hdr), payload[:1480]...)) {
		t.Fatalf("expire: key %v live %v ok %v first %d bytes", key, live, ok, len(first))
	}
	if _, _, _, _, ok := r.expire(reasmT0.Add(ReassemblyTimeout)); ok {
		t.Fatal("the second expired a second early")
	}
	if got := r.next(); !got.Equal(reasmT0.Add(ReassemblyTimeout + time.Second)) {
		t.Fatalf("next %v", got)
	}
	key, first, _, live, ok = r.expire(reasmT0.Add(time.Hour))
	if !ok || !live || key != (testKey{2}) || first != nil {
		t.Fatalf("expire: key %v live %v ok %v first %d bytes", key, live, ok, len(first))
	}
	if r.held() != 0 || !r.next().IsZero() || r.bytes() != 0 {
		t.Fatalf("held %d next %v bytes %d", r.held(), r.next(), r.bytes())
	}
}

// TestReassemblyTrims checks that a flood of fragments leaves no more than
// the reserve behind once its datagrams have expired.
func TestReassemblyTrims(t *testing.T) {
	hdr, payload := testDatagram(20, 1480, 0)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	for i := range 10000 {
		r.add(reasmT0, testKey{uint16(i % 200)}, 1480*(1+i/200), true, hdr, payload, 0)
	}
	if r.bytes() > MaxReassemblyBytes || len(r.chunks) > MaxReassemblyBytes/fragChunk {
		t.Fatalf("%d bytes, %d chunks", r.bytes(), len(r.chunks))
	}
	for {
		if _, _, _, _, ok := r.expire(reasmT0.Add(ReassemblyTimeout)); !ok {
			break
		}
	}
	if len(r.chunks) > fragReserve {
		t.Fatalf("%d chunks kept after the flood", len(r.chunks))
	}
}

// TestReassemblyAllocates checks that, warm, reassembling a 64 KiB datagram
// allocates nothing.
func TestReassemblyAllocates(t *testing.T) {
	hdr, payload := testDatagram(20, 65515, 3)
	fs := split(len(payload), 1480)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	id := uint16(0)
	n := testing.AllocsPerRun(20, func() {
		id++
		for _, f := range fs {
			addFrag(r, reasmT0, testKey{id}, f, hdr, payload)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per datagram", n)
	}
	checkDone(t, r, hdr, payload)
}

func BenchmarkReassembly64K(b *testing.B) {
	hdr, payload := testDatagram(20, 65515, 3)
	fs := split(len(payload), 1480)
	r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	id := uint16(0)
	for b.Loop() {
		id++
		for _, f := range fs {
			addFrag(r, reasmT0, testKey{id}, f, hdr, payload)
		}
	}
	if got, _ := r.datagram(); len(got) != 65535 {
		b.Fatalf("%d bytes", len(got))
	}
}

// FuzzReassembly feeds random fragment sets, cut from one datagram or from
// several with the same key, in any order, duplicated and overlapping,
// across time. Whatever comes, the bounds hold, and a datagram that
// completes is exactly the one that was cut.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 10, 0})
	f.Add([]byte{0, 5, 0, 0, 255, 255, 1, 0, 1, 3, 3, 3, 3, 200, 100})
	f.Fuzz(func(t *testing.T, script []byte) {
		hdr, payload := testDatagram(20, 9000, 9)
		r := newReassembler[testKey](65535, 20, ReassemblyTimeout)
		now := reasmT0
		for len(script) >= 4 {
			op := script[0]
			key := testKey{uint16(script[1] % 4)}
			off := int(binary.BigEndian.Uint16(script[2:])) % 9000 &^ 7
			script = script[4:]
			switch op % 8 {
			case 0: // time passes
				now = now.Add(time.Duration(off) * 5 * time.Millisecond)
				for {
					if _, first, _, live, ok := r.expire(now); !ok {
						break
					} else if first != nil && (!live || !bytes.Equal(first[:20], hdr)) {
						t.Fatalf("expired first fragment % x (live %v)", first[:20], live)
					}
				}
				continue
			}
			size := 8 * (1 + int(op)%185)
			end := min(off+size, len(payload))
			more := end < len(payload)
			if op&0x80 != 0 && more {
				more = false // a lying last fragment
			}
			res := r.add(now, key, off, more, hdr, payload[off:end], 0)
			if r.held() > MaxReassembly || r.bytes() > MaxReassemblyBytes {
				t.Fatalf("bounds: held %d, bytes %d", r.held(), r.bytes())
			}
			if res == reasmDone {
				got, _ := r.datagram()
				if len(got) < 20 || !bytes.Equal(got[:20], hdr) || !bytes.Equal(got[20:], payload[:len(got)-20]) {
					t.Fatalf("reassembled %d bytes that are not the datagram's start", len(got))
				}
			}
		}
	})
}
