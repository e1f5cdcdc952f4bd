package tcp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), M a
// clock ticking every 4 µs and F a keyed pseudo-random function. F is
// SipHash-2-4 (a PRF with a 128-bit key), which also keys the SYN cookies
// and the timestamp offsets. The key comes from Config.Secret.

type sipKey struct{ k0, k1 uint64 }

func (k sipKey) hash(b []byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(b)
	for len(b) >= 8 {
		m := binary.LittleEndian.Uint64(b)
		v3 ^= m
		round()
		round()
		v0 ^= m
		b = b[8:]
	}
	var last [8]byte
	copy(last[:], b)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// tupleHash hashes a 4-tuple and an extra word (a purpose tag, a cookie's
// time counter or the peer's ISN).
func (k sipKey) tupleHash(local, remote netip.AddrPort, extra uint64) uint64 {
	var b [16 + 16 + 2 + 2 + 8]byte
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:], l[:])
	copy(b[16:], r[:])
	binary.BigEndian.PutUint16(b[32:], local.Port())
	binary.BigEndian.PutUint16(b[34:], remote.Port())
	binary.BigEndian.PutUint64(b[36:], extra)
	return k.hash(b[:])
}

const (
	tagISN      = 1
	tagTSOffset = 2
	tagCookie   = 1 << 16
)

// isn is RFC 6528's ISN for the 4-tuple at time now (nanoseconds).
func (t *Table) isn(local, remote netip.AddrPort, now int64) uint32 {
	m := uint32(now / 4000)
	return m + uint32(t.key.tupleHash(local, remote, tagISN))
}

// tsOffset is the per-connection random offset of our timestamp clock
// (RFC 7323 5.4 and 7.1), so that TSval reveals no host-wide clock.
func (t *Table) tsOffset(local, remote netip.AddrPort) uint32 {
	return uint32(t.key.tupleHash(local, remote, tagTSOffset))
}
