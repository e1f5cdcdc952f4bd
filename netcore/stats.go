package netcore

import "strconv"

// Counter names one of the host's counters.
type Counter int

// The host's counters. Every received frame is counted in rx_frames and in
// exactly one of the counters marked "fate", so their sum equals rx_frames.
// With `impair rx` on, a received frame is what reaches the host past the
// impairment, and each copy it lost (impair_rx_dropped,
// impair_rx_queue_overflow) is counted as one too; frames waiting out a
// delay are counted when they arrive.
const (
	RxFrames Counter = iota
	RxBytes
	TxFrames
	TxBytes
	RxMalformed       // fate: shorter than a header or inconsistent lengths
	RxNotForUs        // fate: unicast to another hardware address (promiscuous off), or IP to another address or group
	RxDown            // fate: received while the host is down (still captured)
	Rx8023            // fate: 802.3 length-field frame
	RxOtherEthertype  // fate: an ethertype the host does not speak (IPv6 while it is off, ...)
	RxTooBig          // fate: payload longer than the MTU
	ARPRxRequest      // fate: ARP request, IPv4 over Ethernet
	ARPRxReply        // fate: ARP reply
	ARPRxOther        // fate: other ARP operations and hardware/protocol types
	IPv4RxBadChecksum // fate
	IPv4RxFragment    // fate: a fragment held for reassembly (the one that completes a datagram takes the datagram's fate)
	IPv4RxOther       // fate: a protocol the host does not carry (answered with protocol unreachable)
	ICMPEchoRx        // fate: echo requests to one of our addresses
	ICMPRxOther       // fate: other ICMP types, or a bad ICMP checksum
	ARPTxRequest
	ARPTxReply
	ICMPEchoTx
	ARPConflicts      // someone else claimed one of our addresses
	ARPPendingDropped // packets dropped waiting for a resolution (queue full or failed)
	ARPFailed         // resolutions that ran out of retries
	ARPEvicted        // entries evicted because the cache was full
	ARPRateLimited    // requests not sent because of the per-address rate limit
	TxNoRoute         // replies not sent: destination not on a connected subnet
	TxDropped         // frames the device failed to send
	CaptureDropped    // frames dropped for slow capture readers (from Capture)

	// What `impair` did to the frames of each direction (impair.go): the
	// six counters of impair.Counters, in its order, for rx and then tx.
	ImpairRxDropped       // fate: lost on purpose (loss)
	ImpairRxDuplicated    // extra copies delivered (each also counted in rx_frames and a fate)
	ImpairRxReordered     // delivered at once past the frames waiting out the delay
	ImpairRxCorrupted     // a bit flipped
	ImpairRxDelayed       // held for a delay
	ImpairRxQueueOverflow // fate: dropped because the delay queue was full
	ImpairTxDropped
	ImpairTxDuplicated
	ImpairTxReordered
	ImpairTxCorrupted
	ImpairTxDelayed
	ImpairTxQueueOverflow

	// UDP (udp.go).
	UDPRx            // fate: datagrams queued for a conversation
	UDPRxNoPort      // fate: datagrams to a port no conversation has
	UDPRxBadChecksum // fate
	UDPRxBadLength   // fate: shorter than the header, or a length that disagrees with IP's
	UDPRxQueueFull   // fate: dropped because the conversation's receive queue was full
	UDPRxNoCall      // fate: a new remote of an announced port, with no room for its conversation
	UDPTx            // datagrams sent
	UDPTxTooBig      // datagrams refused as longer than one frame holds

	IPv4RxBadOptions    // fate: malformed IPv4 options (answered with parameter problem)
	IPv4RxSourceRoute   // fate: a loose or strict source route: dropped, as Linux drops them by default
	IPv4RxFragDuplicate // fate: a fragment received again: dropped, its datagram kept
	IPv4RxFragOverlap   // fate: a fragment that overlaps another, or of a datagram dropped for that (RFC 5722)
	IPv4RxFragBad       // fate: a fragment inconsistent with its datagram, empty, or not a multiple of 8 bytes before the last
	IPv4RxFragNoRoom    // fate: a fragment beyond the reassembly bounds (64 datagrams, 1 MiB)
	ICMPRxError         // fate: an ICMP error given to the conversation it concerns
	ICMPRxErrorOther    // fate: an ICMP error no conversation of ours takes
	IPv4Reassembled     // datagrams reassembled
	IPv4ReasmTimeout    // datagrams whose fragments did not all come in time
	IPv4TxFragments     // fragments sent, of datagrams longer than the MTU
	ICMPTxUnreachable   // destination unreachable sent (port, protocol)
	ICMPTxTimeExceeded  // time exceeded sent (reassembly)
	ICMPTxParamProblem  // parameter problem sent (malformed options)
	ICMPTxRateLimited   // errors not sent: the token bucket was empty
	ICMPTxSuppressed    // errors not sent: RFC 1122 3.2.2 forbids them (about an ICMP error, a broadcast, a later fragment, a bad source)
	ICMPConvRx          // fate: an echo reply given to the ICMP conversation that pinged
	ICMPConvRxDropped   // fate: an echo reply for a conversation whose receive queue was full
	ICMPConvTx          // ICMP messages sent by conversations
	// IPv6 (ipv6.go, icmpv6.go, ndp.go, mld.go, slaac.go, frag6.go).
	IPv6RxBadHeader     // fate: extension headers or options refused (a parameter problem where RFC 8200 asks for one), a multicast source
	IPv6RxUnknownNext   // fate: a next header the host does not carry (parameter problem)
	IPv6RxFragment      // fate: a fragment held for reassembly
	IPv6RxFragDuplicate // fate: a fragment received again: dropped, its datagram kept
	IPv6RxFragOverlap   // fate: a fragment that overlaps another, or of a datagram dropped for that (RFC 5722)
	IPv6RxFragBad       // fate: a fragment inconsistent with its datagram, or too long
	IPv6RxFragNoRoom    // fate: a fragment beyond the reassembly bounds (64 datagrams, 1 MiB)
	IPv6RxOther         // fate: no next header
	ICMPv6EchoRx        // fate: echo requests to one of our addresses or groups
	ICMPv6RxError       // fate: error messages (unreachable, packet too big, time exceeded, parameter problem)
	ICMPv6RxOther       // fate: other ICMPv6 types, echo replies, a bad ICMPv6 checksum
	NDPRxNS             // fate: neighbor solicitations
	NDPRxNA             // fate: neighbor advertisements
	NDPRxRS             // fate: router solicitations (a host ignores them)
	NDPRxRA             // fate: router advertisements
	NDPRxRedirect       // fate: redirects (ignored)
	NDPRxInvalid        // fate: NDP or MLD messages that fail RFC 4861's validation (hop limit, code, length, options)
	MLDRxQuery          // fate: multicast listener queries
	MLDRxReport         // fate: other listeners' reports and dones
	ICMPv6EchoTx
	ICMPv6ErrorTx
	ICMPv6RateLimited // errors not sent because of the rate limit
	NDPTxNS
	NDPTxNA
	NDPTxRS
	MLDTxReport
	NDPFailed        // IPv6 resolutions that ran out of solicitations
	NDPConflicts     // another station advertised one of our addresses
	DADDuplicate     // addresses that duplicate address detection found in use
	NDPRAIgnored     // router advertisements ignored (autoconf off, or not from a link-local source)
	IPv6ReasmOK      // datagrams reassembled
	IPv6ReasmTimeout // datagrams that did not complete in time

	// TCP (tcp.go); the engine's own counters are in tcp/stats.
	TCPRx           // fate: segments handed to TCP (a connection, a listener, or a RST for a closed port)
	TCPRxBad        // fate: malformed, or a bad checksum
	TCPRxNotUnicast // fate: in a link-layer broadcast or multicast, or from a source that is not unicast
	TCPTx           // segments sent (retransmissions included)
	TCPTxDropped    // segments not sent: the host was down, or no route
	numCounters
)

var counterNames = [numCounters]string{
	RxFrames:          "rx_frames",
	RxBytes:           "rx_bytes",
	TxFrames:          "tx_frames",
	TxBytes:           "tx_bytes",
	RxMalformed:       "rx_malformed",
	RxNotForUs:        "rx_not_for_us",
	RxDown:            "rx_down",
	Rx8023:            "rx_8023",
	RxOtherEthertype:  "rx_other_ethertype",
	RxTooBig:          "rx_too_big",
	ARPRxRequest:      "arp_rx_request",
	ARPRxReply:        "arp_rx_reply",
	ARPRxOther:        "arp_rx_other",
	IPv4RxBadChecksum: "ipv4_rx_bad_checksum",
	IPv4RxFragment:    "ipv4_rx_fragment",
	IPv4RxOther:       "ipv4_rx_other",
	ICMPEchoRx:        "icmp_echo_rx",
	ICMPRxOther:       "icmp_rx_other",
	ARPTxRequest:      "arp_tx_request",
	ARPTxReply:        "arp_tx_reply",
	ICMPEchoTx:        "icmp_echo_tx",
	ARPConflicts:      "arp_conflicts",
	ARPPendingDropped: "arp_pending_dropped",
	ARPFailed:         "arp_failed",
	ARPEvicted:        "arp_evicted",
	ARPRateLimited:    "arp_rate_limited",
	TxNoRoute:         "tx_no_route",
	TxDropped:         "tx_dropped",
	CaptureDropped:    "capture_dropped",

	ImpairRxDropped:       "impair_rx_dropped",
	ImpairRxDuplicated:    "impair_rx_duplicated",
	ImpairRxReordered:     "impair_rx_reordered",
	ImpairRxCorrupted:     "impair_rx_corrupted",
	ImpairRxDelayed:       "impair_rx_delayed",
	ImpairRxQueueOverflow: "impair_rx_queue_overflow",
	ImpairTxDropped:       "impair_tx_dropped",
	ImpairTxDuplicated:    "impair_tx_duplicated",
	ImpairTxReordered:     "impair_tx_reordered",
	ImpairTxCorrupted:     "impair_tx_corrupted",
	ImpairTxDelayed:       "impair_tx_delayed",
	ImpairTxQueueOverflow: "impair_tx_queue_overflow",

	UDPRx:            "udp_rx",
	UDPRxNoPort:      "udp_rx_no_port",
	UDPRxBadChecksum: "udp_rx_bad_checksum",
	UDPRxBadLength:   "udp_rx_bad_length",
	UDPRxQueueFull:   "udp_rx_queue_full",
	UDPRxNoCall:      "udp_rx_no_call",
	UDPTx:            "udp_tx",
	UDPTxTooBig:      "udp_tx_too_big",

	IPv4RxBadOptions:    "ipv4_rx_bad_options",
	IPv4RxSourceRoute:   "ipv4_rx_source_route",
	IPv4RxFragDuplicate: "ipv4_rx_frag_duplicate",
	IPv4RxFragOverlap:   "ipv4_rx_frag_overlap",
	IPv4RxFragBad:       "ipv4_rx_frag_bad",
	IPv4RxFragNoRoom:    "ipv4_rx_frag_no_room",
	ICMPRxError:         "icmp_rx_error",
	ICMPRxErrorOther:    "icmp_rx_error_other",
	IPv4Reassembled:     "ipv4_reasm_ok",
	IPv4ReasmTimeout:    "ipv4_reasm_timeout",
	IPv4TxFragments:     "ipv4_tx_fragments",
	ICMPTxUnreachable:   "icmp_tx_unreachable",
	ICMPTxTimeExceeded:  "icmp_tx_time_exceeded",
	ICMPTxParamProblem:  "icmp_tx_param_problem",
	ICMPTxRateLimited:   "icmp_tx_rate_limited",
	ICMPTxSuppressed:    "icmp_tx_suppressed",
	ICMPConvRx:          "icmp_conv_rx",
	ICMPConvRxDropped:   "icmp_conv_rx_dropped",
	ICMPConvTx:          "icmp_conv_tx",

	IPv6RxBadHeader:     "ipv6_rx_bad_header",
	IPv6RxUnknownNext:   "ipv6_rx_unknown_next_header",
	IPv6RxFragment:      "ipv6_rx_fragment",
	IPv6RxFragDuplicate: "ipv6_rx_frag_duplicate",
	IPv6RxFragOverlap:   "ipv6_rx_frag_overlap",
	IPv6RxFragBad:       "ipv6_rx_frag_bad",
	IPv6RxFragNoRoom:    "ipv6_rx_frag_no_room",
	IPv6RxOther:         "ipv6_rx_other",
	ICMPv6EchoRx:        "icmp6_echo_rx",
	ICMPv6RxError:       "icmp6_rx_error",
	ICMPv6RxOther:       "icmp6_rx_other",
	NDPRxNS:             "ndp_rx_ns",
	NDPRxNA:             "ndp_rx_na",
	NDPRxRS:             "ndp_rx_rs",
	NDPRxRA:             "ndp_rx_ra",
	NDPRxRedirect:       "ndp_rx_redirect",
	NDPRxInvalid:        "ndp_rx_invalid",
	MLDRxQuery:          "mld_rx_query",
	MLDRxReport:         "mld_rx_report",
	ICMPv6EchoTx:        "icmp6_echo_tx",
	ICMPv6ErrorTx:       "icmp6_error_tx",
	ICMPv6RateLimited:   "icmp6_rate_limited",
	NDPTxNS:             "ndp_tx_ns",
	NDPTxNA:             "ndp_tx_na",
	NDPTxRS:             "ndp_tx_rs",
	MLDTxReport:         "mld_tx_report",
	NDPFailed:           "ndp_failed",
	NDPConflicts:        "ndp_conflicts",
	DADDuplicate:        "dad_duplicate",
	NDPRAIgnored:        "ndp_ra_ignored",
	IPv6ReasmOK:         "ipv6_reasm_ok",
	IPv6ReasmTimeout:    "ipv6_reasm_timeout",

	TCPRx:           "tcp_rx",
	TCPRxBad:        "tcp_rx_bad",
	TCPRxNotUnicast: "tcp_rx_not_unicast",
	TCPTx:           "tcp_tx",
	TCPTxDropped:    "tcp_tx_dropped",
}

// RxFates are the counters whose sum equals RxFrames.
var RxFates = []Counter{RxMalformed, RxNotForUs, RxDown, Rx8023, RxOtherEthertype, RxTooBig,
	ARPRxRequest, ARPRxReply, ARPRxOther, IPv4RxBadChecksum, IPv4RxFragment, IPv4RxOther,
	ICMPEchoRx, ICMPRxOther,
	ImpairRxDropped, ImpairRxQueueOverflow,
	UDPRx, UDPRxNoPort, UDPRxBadChecksum, UDPRxBadLength, UDPRxQueueFull, UDPRxNoCall,
	IPv4RxBadOptions, IPv4RxSourceRoute, IPv4RxFragDuplicate, IPv4RxFragOverlap,
	IPv4RxFragBad, IPv4RxFragNoRoom, ICMPRxError, ICMPRxErrorOther, ICMPConvRx, ICMPConvRxDropped,
	IPv6RxBadHeader, IPv6RxUnknownNext, IPv6RxFragment, IPv6RxFragDuplicate, IPv6RxFragOverlap,
	IPv6RxFragBad, IPv6RxFragNoRoom, IPv6RxOther,
	ICMPv6EchoRx, ICMPv6RxError, ICMPv6RxOther, NDPRxNS, NDPRxNA, NDPRxRS, NDPRxRA, NDPRxRedirect,
	NDPRxInvalid, MLDRxQuery, MLDRxReport,
	TCPRx, TCPRxBad, TCPRxNotUnicast}

func (c Counter) String() string {
	if c < 0 || c >= numCounters {
		return "counter(" + strconv.Itoa(int(c)) + ")"
	}
	return counterNames[c]
}

// Fates is the sum of the RxFates counters, which equals RxFrames when every
// received frame was accounted for exactly once.
func (s *Stats) Fates() uint64 {
	var sum uint64
	for _, c := range RxFates {
		sum += s[c]
	}
	return sum
}

// Stats holds every counter of a host, indexed by Counter.
type Stats [numCounters]uint64

// Append renders the counters as `name value` lines.
func (s *Stats) Append(b []byte) []byte {
	for i, v := range s {
		b = append(b, counterNames[i]...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	return b
}
