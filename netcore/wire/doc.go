// Package wire holds the wire formats smolfs speaks, one file per protocol
// (mac, ethernet, arp, ipv4, icmp, udp, tcp, checksum; ipv6 with its
// extension headers, icmpv6, ndp, mld). It sits below everything else:
// the host (package netcore) parses and builds frames with it, and the
// tcpdump renderer reads fields at its named offsets.
//
// Each protocol has three parts, after gVisor's header package and smoltcp's
// wire module: a checked view over the bytes (NewARPPacket refuses a buffer
// too short for any of its accessors; the accessors then read in place and
// copy nothing), a parsed value of comparable fields (ARPRepr, with
// netip.Addr and MAC fields), and an append encoder (ARPRepr.Append). The
// named offset constants (ARPSPAOff, IPv4DstOff, ...) are exported for the
// hot paths and printers that read one field without parsing the rest.
// Nothing here allocates on the hot path, and every parser has a fuzz target
// beside it.
package wire

import "errors"

// ErrTruncated is returned by the checked views when the buffer is shorter than
// the header or length field it must hold.
var ErrTruncated = errors.New("truncated")
