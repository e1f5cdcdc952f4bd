package devices

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore"
	convctl "github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// Do runs conversation operations under the lock and sends what they
// leave; a datagram that arrives for a conversation is reported through
// WithWake; after Close, Do fails with EIO.
func TestDriverDoAndWake(t *testing.T) {
	a, peer, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	woken := make(chan netcore.ConvRef, 16)
	d := NewDriver(newHost(t, a.Name()), a, nil, WithWake(func(r netcore.ConvRef) { woken <- r }))
	defer peer.Close()
	expect(t, peer, time.Minute, "the first announcement", isGARP(hostIP))
	// The host learns the peer.
	if err := peer.WriteFrame(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, hostIP)); err != nil {
		t.Fatal(err)
	}
	expect(t, peer, time.Minute, "the ARP reply", func(f parsed) bool { return f.isARP })

	cmds, err := convctl.ParseConv("tap0/udp/0/ctl", []byte("connect 192.168.69.100!7 5000"))
	if err != nil {
		t.Fatal(err)
	}
	var ref netcore.ConvRef
	var opErr error
	if err := d.Do(func(h *netcore.Host, now time.Time, out *netcore.Output) {
		if ref, opErr = h.ConvClone(netcore.ProtoUDP); opErr == nil {
			opErr = h.ConvCtl(now, ref, cmds[0], out)
		}
		if opErr == nil {
			_, opErr = h.ConvWrite(now, ref, []byte("from Do"), out)
		}
	}); err != nil || opErr != nil {
		t.Fatalf("Do: %v, %v", err, opErr)
	}
	expect(t, peer, time.Minute, "the datagram written in Do", func(f parsed) bool {
		return f.ip.Protocol == wire.ProtoUDP && f.ip.Dst == peerIP
	})

	b := wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil)
	u := wire.UDPRepr{SrcPort: 7, DstPort: 5000, Payload: []byte("to the conversation")}
	b = wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoUDP, TTL: 64, PayloadLen: u.Len()}.Append(b)
	if err := peer.WriteFrame(wire.PadFrame(u.Append(b, peerIP, hostIP))); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-woken:
		if r != ref {
			t.Errorf("woken %v, want %v", r, ref)
		}
	case <-time.After(time.Minute):
		t.Fatal("no wake for the datagram")
	}
	buf := make([]byte, 100)
	var n int
	d.Do(func(h *netcore.Host, now time.Time, out *netcore.Output) { n, opErr = h.ConvRead(now, ref, buf, out) })
	if opErr != nil || string(buf[:n]) != "to the conversation" {
		t.Errorf("read %q, %v", buf[:n], opErr)
	}
	// Closing the last reference wakes it.
	d.Do(func(h *netcore.Host, now time.Time, out *netcore.Output) { h.ConvClose(now, ref, out) })
	select {
	case r := <-woken:
		if r != ref {
			t.Errorf("woken %v at close, want %v", r, ref)
		}
	case <-time.After(time.Minute):
		t.Error("no wake when the conversation went")
	}
	d.Close()
	ran := false
	if err := d.Do(func(*netcore.Host, time.Time, *netcore.Output) { ran = true }); !errors.Is(err, syscall.EIO) || ran {
		t.Errorf("Do after Close: %v (ran %v), want EIO and fn not run", err, ran)
	}
}
