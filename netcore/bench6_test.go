package netcore

import (
	"testing"
	"time"
)

// benchHost6 is benchHost with IPv6 on, its link-local address through DAD
// and the peer's link-local address known (reachable), as after a first
// ping: what the benchmarks below measure is the steady state.
func benchHost6(b *testing.B) (*Host, time.Time) {
	h := benchHost(b)
	var out Output
	now := t0
	if err := h.Exec(now, "tap0/ctl", []Command{{Op: OpIPv6, On: true}}, &out); err != nil {
		b.Fatal(err)
	}
	for range 60 {
		now = now.Add(50 * time.Millisecond)
		out.Reset()
		h.Poll(now, &out)
	}
	out.Reset()
	h.Receive(now, nsFrom(peerLL, hostLL), &out)
	h.Receive(now, naFrom(peerMAC, peerLL, hostLL, peerLL, true), &out)
	if e := h.arp.get(peerLL); e == nil || e.state != Reachable {
		b.Fatalf("peer not reachable: %+v", e)
	}
	return h, now
}

// BenchmarkICMPv6EchoReply is BenchmarkICMPEchoReply over IPv6: a 56-byte
// echo request to our link-local address from a reachable neighbour in,
// the reply out.
func BenchmarkICMPv6EchoReply(b *testing.B) {
	h, now := benchHost6(b)
	payload := make([]byte, 56)
	for i := range payload {
		payload[i] = byte(i)
	}
	req := echo6(peerLL, hostLL, 1, payload)
	var out Output
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		h.Receive(now, req, &out)
		if len(out.Frames) != 1 {
			b.Fatalf("sent %d frames, want 1", len(out.Frames))
		}
	}
}

// BenchmarkNDPSolicitAdvert is BenchmarkARPRequestReply over IPv6: a
// neighbour solicitation for our link-local address (to its
// solicited-node group, with the solicitor's address) in, the
// advertisement out.
func BenchmarkNDPSolicitAdvert(b *testing.B) {
	h, now := benchHost6(b)
	req := nsFrom(peerLL, hostLL)
	var out Output
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		h.Receive(now, req, &out)
		if len(out.Frames) != 1 {
			b.Fatalf("sent %d frames, want 1", len(out.Frames))
		}
	}
}
