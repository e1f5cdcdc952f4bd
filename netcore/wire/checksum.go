package wire

import "encoding/binary"

// Checksum returns the Internet checksum of b (RFC 1071): the ones'
// complement of the ones' complement sum of its big-endian 16-bit words, an
// odd last byte padded with zero. Over data that holds a correct checksum
// field it returns 0.
func Checksum(b []byte) uint16 { return ChecksumFinish(ChecksumAdd(0, b)) }

// ChecksumAdd adds b's big-endian 16-bit words (an odd last byte padded with
// zero) to an unfolded ones' complement sum, so that a checksum can run over
// pieces (a pseudo-header, a header, a payload elsewhere); every piece but the
// last must be of even length.
func ChecksumAdd(sum uint64, b []byte) uint64 {
	for len(b) >= 32 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) + uint64(binary.BigEndian.Uint32(b[12:])) +
			uint64(binary.BigEndian.Uint32(b[16:])) + uint64(binary.BigEndian.Uint32(b[20:])) +
			uint64(binary.BigEndian.Uint32(b[24:])) + uint64(binary.BigEndian.Uint32(b[28:]))
		b = b[32:]
	}
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// ChecksumFinish folds a sum from ChecksumAdd and complements it: the
// checksum to store, or 0 when the data held a correct one.
func ChecksumFinish(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
