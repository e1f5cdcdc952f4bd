// Package tcpdump renders a frame as the first line that tcpdump 4.99 prints
// for it with `tcpdump -tt -e -n` (Debian 12's tcpdump 4.99.3 is the
// reference): the lines of a host's frames file and of `smolfs dump`. It
// reads frames with package wire's offsets and applies package capture's
// record rules, so that a frames line and tcpdump reading frames.pcap agree.
//
// One file per protocol, after tcpdump's printers: ethernet.go (print-ether.c,
// print-llc.c), arp.go, ipv4.go (print-ip.c, print-ip-demux.c), icmp.go,
// udp.go, tcp.go, ipv6.go (print-ip6.c, print-ip6opts.c, print-frag6.c) and
// icmpv6.go; printer.go holds the output and captured-data helpers they share.
// The printers follow tcpdump's step by step, including their order of
// bounds checks, because that order decides where a truncated frame is cut
// and marked ` [|proto]`. Layers that tcpdump decodes and we do not (LLDP,
// STP, DNS and the other port-based application printers, IGMP, GRE, ...)
// get the lower layers printed exactly and nothing more.
//
// tcpdump reports truncation with a longjmp out of whatever printer ran off
// the captured data; here a panic of truncPanic plays that part and is
// recovered in (*printer).run. Where tcpdump would continue on a new line
// (hex dumps of undecoded payloads) the output is cut at that point.
package tcpdump

import (
	"strconv"
	"time"

	"github.com/smolfs/smolfs/netcore/capture"
)

// maxSnaplen is tcpdump's MAXIMUM_SNAPLEN: it refuses longer records as an
// "Invalid header".
const maxSnaplen = 262144

// Stream renders a stream of frames the way one tcpdump process would: it
// remembers TCP conversations so that, like tcpdump without -S, sequence and
// acknowledgement numbers after a conversation's first segment are printed
// relative to the first ones seen. A reader of a capture stream keeps one
// Stream for the stream's life. The zero value is ready to use; a Stream is
// not safe for concurrent use.
type Stream struct {
	conv4 map[tcpConv4Key]tcpConvSeq
	conv6 map[tcpConv6Key]tcpConvSeq
}

// Append appends the line for one frame (without a newline) to b. frame
// holds the captured bytes and wireLen is the frame's length on the wire.
func (d *Stream) Append(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	p := printer{conv: d}
	return p.frame(b, t, frame, wireLen)
}

// Append appends to b, without a trailing newline, the first line that
// `tcpdump -tt -e -n -r` prints for a capture file holding only this frame:
// frame is the captured bytes and wireLen the frame's length on the wire. It
// never panics, and allocates nothing when b has room for the line (about 200
// bytes is plenty). TCP sequence numbers are printed as tcpdump prints them
// for the first segment of a conversation; use a Stream to render a stream.
func Append(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	p := printer{}
	return p.frame(b, t, frame, wireLen)
}

// frame prints the record: its time stamp, then the frame from Ethernet up.
func (p *printer) frame(b []byte, t time.Time, frame []byte, wireLen int) []byte {
	caplen, length := capture.RecordLengths(len(frame), wireLen)
	if caplen == 0 || length > maxSnaplen {
		// tcpdump refuses the record before printing its time stamp.
		b = append(b, "[Invalid header:"...)
		sep := ""
		if caplen == 0 {
			b = append(b, " caplen==0"...)
			sep = ","
		}
		if length == 0 {
			b = append(b, sep+" len==0"...)
		} else if length > maxSnaplen {
			b = append(b, sep+" len("...)
			b = strconv.AppendUint(b, uint64(length), 10)
			b = append(b, ") > 262144"...)
		}
		return append(b, ']')
	}
	// The pcap record holds 32-bit seconds; tcpdump rejects the upper half.
	sec := uint32(t.Unix())
	if sec&0x80000000 != 0 {
		b = append(b, "[Error converting time]"...)
	} else {
		b = strconv.AppendUint(b, uint64(sec), 10)
		b = append(b, '.')
		b = appendZeroPadded(b, uint32(t.Nanosecond()/1000), 6)
	}
	b = append(b, ' ')

	p.out = b
	p.pkt = frame[:caplen]
	p.end = caplen
	p.cut = -1
	p.run(length, caplen)
	if p.cut >= 0 {
		p.out = p.out[:p.cut]
	}
	return p.out
}
