package netcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// The views must refuse every buffer too short for what they promise to
// read, so that no accessor can run off the end.
func TestViewsRejectShortBuffers(t *testing.T) {
	eth := ethFrame(macB, macA, EtherTypeARP, arpPayload(ARPRequest, macA, ipA, MAC{}, ipB))
	for n := 0; n < EthHeaderLen; n++ {
		if _, err := NewEthernetFrame(eth[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("NewEthernetFrame(%d bytes) = %v, want ErrTruncated", n, err)
		}
		if _, err := ParseEthernet(eth[:n]); err == nil {
			t.Errorf("ParseEthernet(%d bytes) succeeded", n)
		}
	}
	arp := eth[EthHeaderLen:]
	for n := 0; n < ARPLen; n++ {
		_, err := NewARPPacket(arp[:n])
		if err == nil {
			t.Errorf("NewARPPacket(%d bytes) succeeded", n)
		}
		if n >= 8 && !errors.Is(err, ErrTruncated) {
			t.Errorf("NewARPPacket(%d bytes) = %v, want ErrTruncated", n, err)
		}
	}
	ip := ipv4Packet(ipA, ipB, ProtoICMP, icmpEcho(ICMPEchoRequest, 1, 2, 8))
	for n := 0; n < len(ip); n++ {
		if _, err := NewIPv4Packet(ip[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("NewIPv4Packet(%d of %d bytes) = %v, want ErrTruncated", n, len(ip), err)
		}
	}
	for n := 0; n < ICMPHeaderLen; n++ {
		if _, err := NewICMPPacket(ip[20 : 20+n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("NewICMPPacket(%d bytes) = %v, want ErrTruncated", n, err)
		}
	}
}

func TestViewsRejectMalformed(t *testing.T) {
	arp := arpPayload(ARPRequest, macA, ipA, MAC{}, ipB)
	for i, mutate := range []func(b []byte){
		func(b []byte) { b[1] = 6 },    // hardware type 6
		func(b []byte) { b[2] = 0x86 }, // protocol 0x86xx
		func(b []byte) { b[4] = 8 },    // hardware length 8
		func(b []byte) { b[5] = 16 },   // protocol length 16
	} {
		b := bytes.Clone(arp)
		mutate(b)
		if _, err := ParseARP(b); !errors.Is(err, ErrARPUnsupported) {
			t.Errorf("ARP mutation %d: %v, want ErrARPUnsupported", i, err)
		}
	}
	ip := ipv4Packet(ipA, ipB, ProtoICMP, icmpEcho(ICMPEchoRequest, 1, 2, 8))
	for _, c := range []struct {
		name   string
		mutate func(b []byte)
		want   error
	}{
		{"version 6", func(b []byte) { b[0] = 0x65 }, ErrIPv4Version},
		{"header length 16", func(b []byte) { b[0] = 0x44 }, ErrIPv4Header},
		{"total length below header", func(b []byte) { binary.BigEndian.PutUint16(b[2:], 19) }, ErrIPv4Length},
		{"header length beyond buffer", func(b []byte) { b[0] = 0x4f }, ErrTruncated},
		{"total length beyond buffer", func(b []byte) { binary.BigEndian.PutUint16(b[2:], 200) }, ErrTruncated},
		{"bad checksum", func(b []byte) { b[8]-- }, ErrIPv4Checksum},
	} {
		b := bytes.Clone(ip)
		c.mutate(b)
		if _, err := ParseIPv4(b); !errors.Is(err, c.want) {
			t.Errorf("IPv4 %s: %v, want %v", c.name, err, c.want)
		}
	}
	echo := icmpEcho(ICMPEchoRequest, 1, 2, 8)
	bad := bytes.Clone(echo)
	bad[9] ^= 1
	if _, err := ParseICMPEcho(bad); !errors.Is(err, ErrICMPChecksum) {
		t.Errorf("ICMP with a flipped bit: %v, want ErrICMPChecksum", err)
	}
	unreach := icmpMsg(3, 3, [4]byte{}, ip[:28])
	if _, err := ParseICMPEcho(unreach); !errors.Is(err, ErrNotEcho) {
		t.Errorf("ICMP port unreachable: %v, want ErrNotEcho", err)
	}
}

func TestReprRoundTrips(t *testing.T) {
	e := EthernetRepr{Dst: BroadcastMAC, Src: macA, Type: EtherTypeARP}
	if got, err := ParseEthernet(e.Append(nil)); err != nil || got != e {
		t.Errorf("Ethernet: %+v, %v; want %+v", got, err, e)
	}
	for _, a := range []ARPRepr{
		{Op: ARPRequest, SenderMAC: macA, SenderIP: ipA, TargetIP: ipB},
		{Op: ARPReply, SenderMAC: macB, SenderIP: ipB, TargetMAC: macA, TargetIP: ipA},
		{Op: 9, SenderMAC: BroadcastMAC, SenderIP: netip.IPv4Unspecified(), TargetMAC: macB, TargetIP: netip.MustParseAddr("255.255.255.255")},
	} {
		b := a.Append(nil)
		if len(b) != ARPLen {
			t.Errorf("ARP %+v: %d bytes", a, len(b))
		}
		if got, err := ParseARP(b); err != nil || got != a {
			t.Errorf("ARP: %+v, %v; want %+v", got, err, a)
		}
	}
	for _, r := range []IPv4Repr{
		{Src: ipA, Dst: ipB, Protocol: ProtoICMP, TTL: 64, ID: 7, DF: true, PayloadLen: 64},
		{Src: ipB, Dst: netip.MustParseAddr("255.255.255.255"), Protocol: ProtoUDP, TTL: 1, TOS: 0xb8, PayloadLen: 0},
		{Src: ipA, Dst: ipB, Protocol: 253, TTL: 255, ID: 65535, PayloadLen: 1480},
	} {
		b := append(r.Append(nil), make([]byte, r.PayloadLen)...)
		if got, err := ParseIPv4(b); err != nil || got != r {
			t.Errorf("IPv4: %+v, %v; want %+v", got, err, r)
		}
	}
	for _, r := range []ICMPEchoRepr{
		{Type: ICMPEchoRequest, Ident: 17, Seq: 1, Data: []byte("0123456789abcdef")},
		{Type: ICMPEchoReply, Ident: 65535, Seq: 0, Data: []byte{}},
		{Type: ICMPEchoReply, Ident: 1, Seq: 2, Data: []byte{0xff}}, // odd length
	} {
		b := r.Append(nil)
		if len(b) != r.Len() {
			t.Errorf("ICMP Len %d, encoded %d bytes", r.Len(), len(b))
		}
		got, err := ParseICMPEcho(b)
		if err != nil || got.Type != r.Type || got.Ident != r.Ident || got.Seq != r.Seq || !bytes.Equal(got.Data, r.Data) {
			t.Errorf("ICMP: %+v, %v; want %+v", got, err, r)
		}
	}
}

// The views read the fields where RFC 826 and RFC 791 put them: checked
// against a frame the kernel sent (testdata/kernel-frames.cap).
func TestViewsOnKernelFrames(t *testing.T) {
	kernel, err := readPcapFile("testdata/kernel-frames.cap")
	if err != nil {
		t.Fatal(err)
	}
	var sawARP, sawEcho bool
	for _, c := range kernel {
		f, err := NewEthernetFrame(c.frame)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Type() {
		case EtherTypeARP:
			a, err := ParseARP(f.Payload())
			if err != nil {
				t.Errorf("kernel ARP: %v", err)
				continue
			}
			if a.Op == ARPReply && a.SenderIP == ipB && a.SenderMAC == macB {
				sawARP = true
			}
		case EtherTypeIPv4:
			ip, err := ParseIPv4(f.Payload())
			if err != nil {
				t.Errorf("kernel IPv4: %v", err)
				continue
			}
			if ip.Protocol == ProtoICMP {
				p, _ := NewIPv4Packet(f.Payload())
				if e, err := ParseICMPEcho(p.Payload()); err == nil && e.Type == ICMPEchoReply && ip.Src == ipB {
					sawEcho = true
				}
			}
		}
	}
	if !sawARP || !sawEcho {
		t.Errorf("kernel frames: ARP reply from %v seen %v, echo reply seen %v", ipB, sawARP, sawEcho)
	}
}

// RFC 1071 section 3's worked example and the edge cases of the fold.
func TestChecksum(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want uint16
	}{
		{"RFC 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"empty", nil, 0xffff},
		{"zeros", make([]byte, 20), 0xffff},
		{"odd length pads with zero", []byte{0x01}, ^uint16(0x0100)},
		{"carry folds", []byte{0xff, 0xff, 0x00, 0x01}, ^uint16(0x0001)},
		{"many carries", bytes.Repeat([]byte{0xff}, 1001), ^uint16(0xff00)},
		// RFC 1071 1.2 (B): the sum is the same in either byte order.
		{"unaligned tail", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x12, 0x34, 0x56}, ^uint16(0xddf2 + 0x1234 + 0x5600 - 0xffff)},
	} {
		if got := Checksum(c.b); got != c.want {
			t.Errorf("%s: %#04x, want %#04x", c.name, got, c.want)
		}
	}
	// Over data that carries its checksum, the checksum is zero: the
	// receiver's check.
	h := IPv4Repr{Src: ipA, Dst: ipB, Protocol: ProtoUDP, TTL: 64, PayloadLen: 8}.Append(nil)
	if Checksum(h) != 0 {
		t.Errorf("checksum over a header with its checksum: %#04x", Checksum(h))
	}
	// A header the kernel wrote.
	kernel, err := readPcapFile("testdata/kernel-frames.cap")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kernel {
		if p, err := NewIPv4Packet(c.frame[EthHeaderLen:]); err == nil && binary.BigEndian.Uint16(c.frame[12:]) == 0x0800 && !p.VerifyChecksum() {
			t.Errorf("%s: the kernel's IPv4 checksum does not verify", c.name)
		}
	}
}
