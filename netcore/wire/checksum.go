package wire

import "encoding/binary"

// Checksum returns the Internet checksum of b (RFC 1071): the ones'
// complement of the ones' complement sum of its big-endian 16-bit words, an
// odd last byte padded with zero. Over data that holds a correct checksum
// field it returns 0.
func Checksum(b []byte) uint16 {
	var sum uint64
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
