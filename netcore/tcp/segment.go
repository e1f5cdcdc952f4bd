package tcp

import (
	"net/netip"

	"github.com/smolfs/smolfs/netcore/wire"
)

// segment is a received segment, parsed once into the table's scratch.
type segment struct {
	local, remote netip.AddrPort
	seq, ack      uint32
	flags         wire.TCPFlags
	wnd           uint16
	opts          wire.TCPOptions
	payload       []byte
}

func (s *segment) parse(b []byte, src, dst netip.Addr, verify bool) error {
	v, err := wire.NewTCPSegment(b)
	if err != nil {
		return err
	}
	if verify && !v.VerifyChecksum(src, dst) {
		return wire.ErrTCPChecksum
	}
	if err := wire.ParseTCPOptions(v.Options(), &s.opts); err != nil {
		return err
	}
	s.local = netip.AddrPortFrom(dst, v.DstPort())
	s.remote = netip.AddrPortFrom(src, v.SrcPort())
	s.seq, s.ack, s.flags, s.wnd = v.Seq(), v.Ack(), v.Flags(), v.Window()
	s.payload = v.Payload()
	return nil
}

func (s *segment) has(f wire.TCPFlags) bool { return s.flags&f != 0 }

// seqLen is the sequence space the segment occupies (SYN and FIN count one).
func (s *segment) seqLen() uint32 {
	n := uint32(len(s.payload))
	if s.has(wire.TCPFlagSYN) {
		n++
	}
	if s.has(wire.TCPFlagFIN) {
		n++
	}
	return n
}
