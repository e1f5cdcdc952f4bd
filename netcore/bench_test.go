package netcore

import (
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

// BenchmarkARPRequestReply measures the responder's hot path: an ARP request
// for one of our addresses in, the reply out, with the Output reused.
func BenchmarkARPRequestReply(b *testing.B) {
	h := benchHost(b)
	req := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)
	var out Output
	now := t0
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

// BenchmarkICMPEchoReply measures a ping to us from a neighbour that is
// already cached: a 56-byte payload echo request in, the reply out.
func BenchmarkICMPEchoReply(b *testing.B) {
	h := benchHost(b)
	var out Output
	h.Receive(t0, arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP), &out)
	payload := make([]byte, 56)
	for i := range payload {
		payload[i] = byte(i)
	}
	req := echoFrame(peerMAC, hostMAC, peerIP, hostIP, 0x1234, 1, payload)
	now := t0
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

func benchHost(b *testing.B) *Host {
	h, err := NewHost(Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix}})
	if err != nil {
		b.Fatal(err)
	}
	var out Output
	h.Poll(t0, &out)
	return h
}
