package netcore

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/tcpdump"
	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// TestHostFramesAsTcpdump runs the IPv4 the host finishes (fragmented
// pings both ways, options echoed, ICMP errors quoting a header, time
// exceeded, replies through a gateway) and checks that the frames file's
// line for every frame in and out is tcpdump's.
func TestHostFramesAsTcpdump(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	th := newHarness(t)
	sub := th.h.Capture().Subscribe(1 << 22)
	defer sub.Close()
	peer, host := peerIP.AsSlice(), hostIP.AsSlice()
	th.recv(whoHas(hostIP))
	for _, f := range fragments(wire.ProtoICMP, 1, echoRequest(1, 1, 3000), 1480, nil) {
		th.recv(f)
	}
	for _, f := range fragments(wire.ProtoICMP, 2, echoRequest(1, 2, 65507), 1480, nil) {
		th.recv(f)
	}
	th.recv(pingWith(cat([]byte{1, 7, 39, 8}, peer, make([]byte, 32))))
	th.recv(pingWith(cat([]byte{68, 40, 9, 0}, be32(7), make([]byte, 32))))
	th.recv(pingWith(cat([]byte{68, 36, 13, 1}, peer, be32(7), make([]byte, 24))))
	th.recv(pingWith(cat([]byte{68, 12, 5, 3}, host, make([]byte, 4))))
	th.recv(pingWith([]byte{7, 6, 4, 0, 0, 0, 0, 0}))
	th.recv(unknownProto(hostMAC, peerIP, hostIP, make([]byte, 1400)))
	th.recv(unknownProto(hostMAC, peerIP, hostIP, []byte("hi")))
	th.recv(fragments(wire.ProtoICMP, 3, echoRequest(1, 3, 3000), 1480, nil)[0])
	th.advance(ReassemblyTimeout)
	th.mustExec("tap0/ctl", "route add 0.0.0.0/0 192.168.69.100")
	th.recv(echoFrame(peerMAC, hostMAC, wiretestFar, hostIP, 9, 9, []byte("far away")))

	var cs []wiretest.Case
	sub.Take(nil, func(f capture.CapturedFrame) bool {
		if f.Data != nil {
			cs = append(cs, wiretest.Case{Name: fmt.Sprint(len(cs)), Frame: bytes.Clone(f.Data), WireLen: f.OrigLen, Time: f.Time})
		}
		return true
	})
	if len(cs) < 110 {
		t.Fatalf("captured %d frames", len(cs))
	}
	want := wiretest.TcpdumpFirstLines(t, wiretest.WritePcap(t, cs))
	if len(want) != len(cs) {
		t.Fatalf("tcpdump printed %d lines for %d frames", len(want), len(cs))
	}
	all := strings.Join(want, "\n")
	for _, kind := range []string{": ip-proto-1", "> 192.168.69.100: ICMP echo reply, id 1, seq 2, length 1480", "ip reassembly time exceeded",
		"protocol 253 unreachable", "parameter problem - octet 22", "192.168.69.1 > 10.9.9.9: ICMP echo reply"} {
		if !strings.Contains(all, kind) {
			t.Errorf("no frame printed as %q", kind)
		}
	}
	var d tcpdump.Stream
	for i, c := range cs {
		if got := string(d.Append(nil, c.Time, c.Frame, c.WireLen)); got != want[i] {
			t.Errorf("frame %d (%s):\n  ours:    %q\n  tcpdump: %q", i, c.Name, got, want[i])
		}
	}
}

// wiretestFar is an address beyond the connected subnet.
var wiretestFar = netip.MustParseAddr("10.9.9.9")
