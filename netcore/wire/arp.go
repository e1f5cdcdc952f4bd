package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// ARPOp is the ARP operation code.
type ARPOp uint16

// ARP operations (RFC 826).
const (
	ARPRequest ARPOp = 1
	ARPReply   ARPOp = 2
)

// ARP packet layout for IPv4 over Ethernet.
const (
	ARPHTypeOff         = 0
	ARPPTypeOff         = 2
	ARPHLenOff          = 4
	ARPPLenOff          = 5
	ARPOpOff            = 6
	ARPSHAOff           = 8
	ARPSPAOff           = 14
	ARPTHAOff           = 18
	ARPTPAOff           = 24
	ARPLen              = 28
	ARPHardwareEthernet = 1
	arpHLenEt           = 6
	arpPLenV4           = 4
)

// ErrARPUnsupported is returned for ARP packets that are not IPv4 over Ethernet.
var ErrARPUnsupported = errors.New("not IPv4-over-Ethernet ARP")

// ARPPacket is a view over the bytes of an ARP packet.
type ARPPacket []byte

// NewARPPacket checks that b holds a whole ARP header for IPv4 over Ethernet.
func NewARPPacket(b []byte) (ARPPacket, error) {
	if len(b) < 8 {
		return nil, ErrTruncated
	}
	p := ARPPacket(b)
	if p.HType() != ARPHardwareEthernet || p.PType() != EtherTypeIPv4 || b[ARPHLenOff] != arpHLenEt || b[ARPPLenOff] != arpPLenV4 {
		return nil, ErrARPUnsupported
	}
	if len(b) < ARPLen {
		return nil, ErrTruncated
	}
	return p, nil
}

// HType is the hardware type (1 for Ethernet).
func (p ARPPacket) HType() uint16 { return binary.BigEndian.Uint16(p[ARPHTypeOff:]) }

// PType is the protocol type (0x0800 for IPv4).
func (p ARPPacket) PType() EtherType { return EtherType(binary.BigEndian.Uint16(p[ARPPTypeOff:])) }

// Op is the operation.
func (p ARPPacket) Op() ARPOp { return ARPOp(binary.BigEndian.Uint16(p[ARPOpOff:])) }

// SenderMAC is the sender hardware address.
func (p ARPPacket) SenderMAC() MAC { return MAC(p[ARPSHAOff : ARPSHAOff+6]) }

// SenderIP is the sender protocol address.
func (p ARPPacket) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(p[ARPSPAOff : ARPSPAOff+4])) }

// TargetMAC is the target hardware address.
func (p ARPPacket) TargetMAC() MAC { return MAC(p[ARPTHAOff : ARPTHAOff+6]) }

// TargetIP is the target protocol address.
func (p ARPPacket) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(p[ARPTPAOff : ARPTPAOff+4])) }

// ARPRepr is the parsed meaning of an IPv4-over-Ethernet ARP packet.
type ARPRepr struct {
	Op                   ARPOp
	SenderMAC, TargetMAC MAC
	SenderIP, TargetIP   netip.Addr
}

// ParseARP parses an ARP packet (the Ethernet payload).
func ParseARP(b []byte) (ARPRepr, error) {
	p, err := NewARPPacket(b)
	if err != nil {
		return ARPRepr{}, err
	}
	return ARPRepr{
		Op:        p.Op(),
		SenderMAC: p.SenderMAC(),
		SenderIP:  p.SenderIP(),
		TargetMAC: p.TargetMAC(),
		TargetIP:  p.TargetIP(),
	}, nil
}

// Append appends the 28-byte packet to b. Addresses that are not IPv4 are
// written as 0.0.0.0.
func (r ARPRepr) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, ARPHardwareEthernet)
	b = binary.BigEndian.AppendUint16(b, uint16(EtherTypeIPv4))
	b = append(b, arpHLenEt, arpPLenV4)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Op))
	b = append(b, r.SenderMAC[:]...)
	b = appendIPv4(b, r.SenderIP)
	b = append(b, r.TargetMAC[:]...)
	return appendIPv4(b, r.TargetIP)
}

func appendIPv4(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}
