package capture

import (
	"encoding/binary"
	"math"
	"time"
)

// pcap file format constants (the classic libpcap format, nanosecond variant).
const (
	PcapMagicNanos   = 0xa1b23c4d
	PcapSnaplen      = 65535
	PcapLinkEthernet = 1
	PcapHeaderLen    = 24
	PcapRecordHdrLen = 16
	pcapVersionMajor = 2
	pcapVersionMinor = 4
)

// AppendPcapHeader appends the 24-byte pcap file header: nanosecond
// timestamps, version 2.4, snaplen 65535, linktype 1 (Ethernet). Like libpcap
// it is written in the host's byte order, which for every platform we build
// for is little-endian; readers detect the order from the magic.
func AppendPcapHeader(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, PcapMagicNanos)
	b = binary.LittleEndian.AppendUint16(b, pcapVersionMajor)
	b = binary.LittleEndian.AppendUint16(b, pcapVersionMinor)
	b = binary.LittleEndian.AppendUint32(b, 0) // thiszone
	b = binary.LittleEndian.AppendUint32(b, 0) // sigfigs
	b = binary.LittleEndian.AppendUint32(b, PcapSnaplen)
	return binary.LittleEndian.AppendUint32(b, PcapLinkEthernet)
}

// AppendPcapRecord appends one record: the 16-byte record header (seconds,
// nanoseconds, captured length, length on the wire) and the captured bytes.
//
// The record is kept consistent with the file header so that every reader
// sees the same thing: at most PcapSnaplen bytes are captured (libpcap would
// cut a longer record to the snaplen anyway), and a wireLen shorter than
// what was captured is raised to the captured length. The tcpdump renderer applies
// the same rules, so a frames line and tcpdump reading frames.pcap agree.
func AppendPcapRecord(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	caplen, origLen := RecordLengths(len(frame), wireLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()))
	b = binary.LittleEndian.AppendUint32(b, uint32(caplen))
	b = binary.LittleEndian.AppendUint32(b, uint32(origLen))
	return append(b, frame[:caplen]...)
}

// RecordLengths returns the captured and original lengths a record carries
// for a frame of n captured bytes that was wireLen bytes long on the wire.
func RecordLengths(n, wireLen int) (caplen, origLen int) {
	caplen = min(n, PcapSnaplen)
	origLen = max(wireLen, n)
	if origLen > math.MaxUint32 {
		origLen = math.MaxUint32
	}
	return caplen, origLen
}
