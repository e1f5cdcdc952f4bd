package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// The views must refuse every buffer too short for what they promise to
// read, so that no accessor can run off the end.
func TestViewsRejectShortBuffers(t *testing.T) {
	eth := wiretest.Eth(wiretest.MACB, wiretest.MACA, wire.EtherTypeARP, wiretest.ARP(wire.ARPRequest, wiretest.MACA, wiretest.IPA, wire.MAC{}, wiretest.IPB))
	for n := 0; n < wire.EthHeaderLen; n++ {
		if _, err := wire.NewEthernetFrame(eth[:n]); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewEthernetFrame(%d bytes) = %v, want ErrTruncated", n, err)
		}
		if _, err := wire.ParseEthernet(eth[:n]); err == nil {
			t.Errorf("ParseEthernet(%d bytes) succeeded", n)
		}
	}
	arp := eth[wire.EthHeaderLen:]
	for n := 0; n < wire.ARPLen; n++ {
		_, err := wire.NewARPPacket(arp[:n])
		if err == nil {
			t.Errorf("NewARPPacket(%d bytes) succeeded", n)
		}
		if n >= 8 && !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewARPPacket(%d bytes) = %v, want ErrTruncated", n, err)
		}
	}
	ip := wiretest.IPv4(wiretest.IPA, wiretest.IPB, wire.ProtoICMP, wiretest.ICMPEcho(wire.ICMPEchoRequest, 1, 2, 8))
	for n := 0; n < len(ip); n++ {
		if _, err := wire.NewIPv4Packet(ip[:n]); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewIPv4Packet(%d of %d bytes) = %v, want ErrTruncated", n, len(ip), err)
		}
	}
	for n := 0; n < wire.ICMPHeaderLen; n++ {
		if _, err := wire.NewICMPPacket(ip[20 : 20+n]); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewICMPPacket(%d bytes) = %v, want ErrTruncated", n, err)
		}
	}
}

func TestViewsRejectMalformed(t *testing.T) {
	arp := wiretest.ARP(wire.ARPRequest, wiretest.MACA, wiretest.IPA, wire.MAC{}, wiretest.IPB)
	for i, mutate := range []func(b []byte){
		func(b []byte) { b[1] = 6 },    // hardware type 6
		func(b []byte) { b[2] = 0x86 }, // protocol 0x86xx
		func(b []byte) { b[4] = 8 },    // hardware length 8
		func(b []byte) { b[5] = 16 },   // protocol length 16
	} {
		b := bytes.Clone(arp)
		mutate(b)
		if _, err := wire.ParseARP(b); !errors.Is(err, wire.ErrARPUnsupported) {
			t.Errorf("ARP mutation %d: %v, want ErrARPUnsupported", i, err)
		}
	}
	ip := wiretest.IPv4(wiretest.IPA, wiretest.IPB, wire.ProtoICMP, wiretest.ICMPEcho(wire.ICMPEchoRequest, 1, 2, 8))
	for _, c := range []struct {
		name   string
		mutate func(b []byte)
		want   error
	}{
		{"version 6", func(b []byte) { b[0] = 0x65 }, wire.ErrIPv4Version},
		{"header length 16", func(b []byte) { b[0] = 0x44 }, wire.ErrIPv4Header},
		{"total length below header", func(b []byte) { binary.BigEndian.PutUint16(b[2:], 19) }, wire.ErrIPv4Length},
		{"header length beyond buffer", func(b []byte) { b[0] = 0x4f }, wire.ErrTruncated},
		{"total length beyond buffer", func(b []byte) { binary.BigEndian.PutUint16(b[2:], 200) }, wire.ErrTruncated},
		{"bad checksum", func(b []byte) { b[8]-- }, wire.ErrIPv4Checksum},
	} {
		b := bytes.Clone(ip)
		c.mutate(b)
		if _, err := wire.ParseIPv4(b); !errors.Is(err, c.want) {
			t.Errorf("IPv4 %s: %v, want %v", c.name, err, c.want)
		}
	}
	echo := wiretest.ICMPEcho(wire.ICMPEchoRequest, 1, 2, 8)
	bad := bytes.Clone(echo)
	bad[9] ^= 1
	if _, err := wire.ParseICMPEcho(bad); !errors.Is(err, wire.ErrICMPChecksum) {
		t.Errorf("ICMP with a flipped bit: %v, want ErrICMPChecksum", err)
	}
	unreach := wiretest.ICMP(3, 3, [4]byte{}, ip[:28])
	if _, err := wire.ParseICMPEcho(unreach); !errors.Is(err, wire.ErrNotEcho) {
		t.Errorf("ICMP port unreachable: %v, want ErrNotEcho", err)
	}
}

func TestReprRoundTrips(t *testing.T) {
	e := wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: wiretest.MACA, Type: wire.EtherTypeARP}
	if got, err := wire.ParseEthernet(e.Append(nil)); err != nil || got != e {
		t.Errorf("Ethernet: %+v, %v; want %+v", got, err, e)
	}
	for _, a := range []wire.ARPRepr{
		{Op: wire.ARPRequest, SenderMAC: wiretest.MACA, SenderIP: wiretest.IPA, TargetIP: wiretest.IPB},
		{Op: wire.ARPReply, SenderMAC: wiretest.MACB, SenderIP: wiretest.IPB, TargetMAC: wiretest.MACA, TargetIP: wiretest.IPA},
		{Op: 9, SenderMAC: wire.BroadcastMAC, SenderIP: netip.IPv4Unspecified(), TargetMAC: wiretest.MACB, TargetIP: netip.MustParseAddr("255.255.255.255")},
	} {
		b := a.Append(nil)
		if len(b) != wire.ARPLen {
			t.Errorf("ARP %+v: %d bytes", a, len(b))
		}
		if got, err := wire.ParseARP(b); err != nil || got != a {
			t.Errorf("ARP: %+v, %v; want %+v", got, err, a)
		}
	}
	for _, r := range []wire.IPv4Repr{
		{Src: wiretest.IPA, Dst: wiretest.IPB, Protocol: wire.ProtoICMP, TTL: 64, ID: 7, DF: true, PayloadLen: 64},
		{Src: wiretest.IPB, Dst: netip.MustParseAddr("255.255.255.255"), Protocol: wire.ProtoUDP, TTL: 1, TOS: 0xb8, PayloadLen: 0},
		{Src: wiretest.IPA, Dst: wiretest.IPB, Protocol: 253, TTL: 255, ID: 65535, PayloadLen: 1480},
	} {
		b := append(r.Append(nil), make([]byte, r.PayloadLen)...)
		if got, err := wire.ParseIPv4(b); err != nil || got != r {
			t.Errorf("IPv4: %+v, %v; want %+v", got, err, r)
		}
	}
	for _, r := range []wire.ICMPEchoRepr{
		{Type: wire.ICMPEchoRequest, Ident: 17, Seq: 1, Data: []byte("0123456789abcdef")},
		{Type: wire.ICMPEchoReply, Ident: 65535, Seq: 0, Data: []byte{}},
		{Type: wire.ICMPEchoReply, Ident: 1, Seq: 2, Data: []byte{0xff}}, // odd length
	} {
		b := r.Append(nil)
		if len(b) != r.Len() {
			t.Errorf("ICMP Len %d, encoded %d bytes", r.Len(), len(b))
		}
		got, err := wire.ParseICMPEcho(b)
		if err != nil || got.Type != r.Type || got.Ident != r.Ident || got.Seq != r.Seq || !bytes.Equal(got.Data, r.Data) {
			t.Errorf("ICMP: %+v, %v; want %+v", got, err, r)
		}
	}
}

// The views read the fields where RFC 826 and RFC 791 put them: checked
// against a frame the kernel sent (testdata/kernel-frames.cap).
func TestViewsOnKernelFrames(t *testing.T) {
	kernel := wiretest.Kernel(t)
	var sawARP, sawEcho bool
	for _, c := range kernel {
		f, err := wire.NewEthernetFrame(c.Frame)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Type() {
		case wire.EtherTypeARP:
			a, err := wire.ParseARP(f.Payload())
			if err != nil {
				t.Errorf("kernel ARP: %v", err)
				continue
			}
			if a.Op == wire.ARPReply && a.SenderIP == wiretest.IPB && a.SenderMAC == wiretest.MACB {
				sawARP = true
			}
		case wire.EtherTypeIPv4:
			ip, err := wire.ParseIPv4(f.Payload())
			if err != nil {
				t.Errorf("kernel IPv4: %v", err)
				continue
			}
			if ip.Protocol == wire.ProtoICMP {
				p, _ := wire.NewIPv4Packet(f.Payload())
				if e, err := wire.ParseICMPEcho(p.Payload()); err == nil && e.Type == wire.ICMPEchoReply && ip.Src == wiretest.IPB {
					sawEcho = true
				}
			}
		}
	}
	if !sawARP || !sawEcho {
		t.Errorf("kernel frames: ARP reply from %v seen %v, echo reply seen %v", wiretest.IPB, sawARP, sawEcho)
	}
}

// etherPayloads returns the payloads of the seed frames of one type.
func etherPayloads(f *testing.F, t wire.EtherType) [][]byte {
	var out [][]byte
	for _, fr := range wiretest.Frames(f) {
		if len(fr) >= wire.EthHeaderLen && wire.EtherType(binary.BigEndian.Uint16(fr[12:])) == t {
			out = append(out, fr[wire.EthHeaderLen:])
		}
	}
	return out
}
