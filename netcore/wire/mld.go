package wire

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Multicast listener discovery: the queries a host answers (MLDv1, RFC
// 2710, and MLDv2, RFC 3810) and the version 2 reports it sends. A host
// reports every group it listens to except the all-nodes group (RFC 3810
// 6): for smolfs, the solicited-node groups of its addresses.

// MLD message layout, from the start of the ICMPv6 message.
const (
	MLDMaxRespOff   = 4 // query: maximum response code (v2) or delay in ms (v1)
	MLDGroupOff     = 8 // query, v1 report and done: the multicast address
	MLDv1Len        = 24
	MLDv2QueryFlags = 24 // S flag and QRV
	MLDv2QueryQQIC  = 25
	MLDv2QueryNSrc  = 26
	MLDv2QueryLen   = 28

	MLDv2ReportNRecOff = 6 // number of address records
	MLDv2ReportLen     = 8 // the header before the records
	MLDv2RecordLen     = 20
	MLDv2RecTypeOff    = 0 // from a record's start
	MLDv2RecAuxOff     = 1 // aux data length in 4-byte words
	MLDv2RecNSrcOff    = 2
	MLDv2RecGroupOff   = 4
)

// MLDv2 address record types (RFC 3810 5.2.12).
const (
	MLDModeIsInclude   = 1
	MLDModeIsExclude   = 2
	MLDChangeToInclude = 3 // leaving a group (with no sources)
	MLDChangeToExclude = 4 // joining a group (with no sources)
	MLDAllowNewSources = 5
	MLDBlockOldSources = 6
)

// MLDQuery is the parsed meaning of a multicast listener query, version 1
// or 2. Group is the unspecified address for a general query.
type MLDQuery struct {
	V2      bool
	MaxResp time.Duration // the longest a reply may wait
	Group   netip.Addr
	Sources int // v2: the number of sources of a source-specific query
}

// ParseMLDQuery parses a query sent from src to dst (RFC 3810 8.1: a 24-byte
// query is version 1; 28 bytes and more, version 2; other lengths are
// ignored).
func ParseMLDQuery(b []byte, src, dst netip.Addr) (MLDQuery, error) {
	p, err := NewICMPv6Packet(b)
	if err != nil {
		return MLDQuery{}, err
	}
	if p.Type() != ICMPv6MLDQuery || len(p) < MLDv1Len || len(p) > MLDv1Len && len(p) < MLDv2QueryLen {
		return MLDQuery{}, ErrNDPInvalid
	}
	if !p.VerifyChecksum(src, dst) {
		return MLDQuery{}, ErrICMPv6Checksum
	}
	q := MLDQuery{Group: netip.AddrFrom16([16]byte(p[MLDGroupOff : MLDGroupOff+16]))}
	code := binary.BigEndian.Uint16(p[MLDMaxRespOff:])
	if len(p) == MLDv1Len {
		q.MaxResp = time.Duration(code) * time.Millisecond
		return q, nil
	}
	q.V2 = true
	q.Sources = int(binary.BigEndian.Uint16(p[MLDv2QueryNSrc:]))
	if len(p) < MLDv2QueryLen+16*q.Sources {
		return MLDQuery{}, ErrTruncated
	}
	q.MaxResp = time.Duration(MLDMaxRespDelay(code)) * time.Millisecond
	return q, nil
}

// MLDMaxRespDelay decodes an MLDv2 maximum response code to milliseconds
// (RFC 3810 5.1.3): below 32768 it is the delay; above, a floating-point
// value with a 3-bit exponent and 12-bit mantissa.
func MLDMaxRespDelay(code uint16) uint32 {
	if code < 0x8000 {
		return uint32(code)
	}
	mant, exp := uint32(code&0x0fff), uint32(code>>12&0x7)
	return (mant | 0x1000) << (exp + 3)
}

// MLDv2Record is one multicast address record of a version 2 report, with
// no sources (the only records smolfs sends).
type MLDv2Record struct {
	Type  uint8
	Group netip.Addr
}

// MLDv2Records walks the records of a version 2 report.
type MLDv2Records struct {
	b   []byte
	n   int
	err error
}

// ParseMLDv2Report checks a version 2 report sent from src to dst and
// returns its records. Sources and aux data are skipped.
func ParseMLDv2Report(b []byte, src, dst netip.Addr) (MLDv2Records, error) {
	p, err := NewICMPv6Packet(b)
	if err != nil {
		return MLDv2Records{}, err
	}
	if p.Type() != ICMPv6MLDv2Report || len(p) < MLDv2ReportLen {
		return MLDv2Records{}, ErrTruncated
	}
	if !p.VerifyChecksum(src, dst) {
		return MLDv2Records{}, ErrICMPv6Checksum
	}
	return MLDv2Records{b: p[MLDv2ReportLen:], n: int(binary.BigEndian.Uint16(p[MLDv2ReportNRecOff:]))}, nil
}

// Next returns the next record, and false at the end or when a record runs
// past the message (then Err says so).
func (it *MLDv2Records) Next() (MLDv2Record, bool) {
	if it.err != nil || it.n == 0 {
		return MLDv2Record{}, false
	}
	if len(it.b) < MLDv2RecordLen {
		it.err = ErrTruncated
		return MLDv2Record{}, false
	}
	n := MLDv2RecordLen + 16*int(binary.BigEndian.Uint16(it.b[MLDv2RecNSrcOff:])) + 4*int(it.b[MLDv2RecAuxOff])
	if len(it.b) < n {
		it.err = ErrTruncated
		return MLDv2Record{}, false
	}
	r := MLDv2Record{Type: it.b[MLDv2RecTypeOff], Group: netip.AddrFrom16([16]byte(it.b[MLDv2RecGroupOff : MLDv2RecGroupOff+16]))}
	it.b = it.b[n:]
	it.n--
	return r, true
}

// Err is the error that ended the walk, if any.
func (it *MLDv2Records) Err() error { return it.err }

// MLDv2ReportLenFor is the length of a version 2 report of n records with
// no sources.
func MLDv2ReportLenFor(n int) int { return MLDv2ReportLen + n*MLDv2RecordLen }

// AppendMLDv2Report appends a version 2 report of records (no sources)
// from src to dst, checksum included, to b.
func AppendMLDv2Report(b []byte, records []MLDv2Record, src, dst netip.Addr) []byte {
	start := len(b)
	b = append(b, uint8(ICMPv6MLDv2Report), 0, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(records)))
	for _, r := range records {
		b = append(b, r.Type, 0, 0, 0)
		g := r.Group.As16()
		b = append(b, g[:]...)
	}
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}
