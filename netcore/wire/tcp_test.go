package wire_test

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// Segments built by scapy, which computes the checksums on its own.
var (
	scapySYN4 = mustHex("9c4000070102030400000000a002faf0bec90000020405b40402080a0001e2400000000001030307")
	scapyPA6  = mustHex("00079c400000000501020305d01801f6573600000101080a000000090001e2400101051200000064000000c80000012c0000019068656c6c6f")
	v4src     = netip.MustParseAddr("192.168.69.100")
	v4dst     = netip.MustParseAddr("192.168.69.1")
	v6src     = netip.MustParseAddr("fe80::1")
	v6dst     = netip.MustParseAddr("fe80::2")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestTCPParseScapySYN(t *testing.T) {
	var r wire.TCPRepr
	payload, err := wire.ParseTCP(scapySYN4, &r)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) != 0 || r.SrcPort != 40000 || r.DstPort != 7 || r.Seq != 0x01020304 || r.Flags != wire.TCPFlagSYN || r.Window != 64240 {
		t.Fatalf("repr %+v payload %d", r, len(payload))
	}
	o := r.Options
	if !o.HasMSS || o.MSS != 1460 || !o.SACKPermitted || !o.HasTS || o.TSVal != 123456 || o.TSEcr != 0 || !o.HasWS || o.WindowScale != 7 {
		t.Fatalf("options %+v", o)
	}
	if !wire.TCPSegment(scapySYN4).VerifyChecksum(v4src, v4dst) {
		t.Fatal("scapy's IPv4 checksum does not verify")
	}
	if wire.TCPSegment(scapySYN4).VerifyChecksum(v4dst, netip.MustParseAddr("192.168.69.2")) {
		t.Fatal("checksum verifies under the wrong pseudo-header")
	}
	// Our encoder writes the same options in Linux's order: same bytes.
	hdr := r.Append(nil)
	wire.SetTCPChecksum(hdr, nil, v4src, v4dst)
	if !bytes.Equal(hdr, scapySYN4) {
		t.Fatalf("Append\n got % x\nwant % x", hdr, scapySYN4)
	}
}

func TestTCPParseScapySACKv6(t *testing.T) {
	var r wire.TCPRepr
	payload, err := wire.ParseTCP(scapyPA6, &r)
	if err != nil {
		t.Fatal(err)
	}
	if string(payload) != "hello" || r.Flags != wire.TCPFlagPSH|wire.TCPFlagACK || r.Ack != 0x01020305 {
		t.Fatalf("repr %+v payload %q", r, payload)
	}
	o := r.Options
	if !o.HasTS || o.TSVal != 9 || o.TSEcr != 123456 || o.NumSACK != 2 ||
		o.SACK[0] != (wire.TCPSACKBlock{100, 200}) || o.SACK[1] != (wire.TCPSACKBlock{300, 400}) {
		t.Fatalf("options %+v", o)
	}
	if !wire.TCPSegment(scapyPA6).VerifyChecksum(v6src, v6dst) {
		t.Fatal("scapy's IPv6 checksum does not verify")
	}
	hdr := r.Append(nil)
	wire.SetTCPChecksum(hdr, payload, v6src, v6dst)
	if !bytes.Equal(append(hdr, payload...), scapyPA6) {
		t.Fatalf("Append\n got % x\nwant % x", append(hdr, payload...), scapyPA6)
	}
}

func TestTCPCheckedView(t *testing.T) {
	if _, err := wire.NewTCPSegment(scapySYN4[:19]); err != wire.ErrTruncated {
		t.Fatalf("19 bytes: %v", err)
	}
	b := bytes.Clone(scapySYN4)
	b[wire.TCPDataOffOff] = 4 << 4
	if _, err := wire.NewTCPSegment(b); err != wire.ErrTCPDataOffset {
		t.Fatalf("offset 4: %v", err)
	}
	b[wire.TCPDataOffOff] = 15 << 4
	if _, err := wire.NewTCPSegment(b); err != wire.ErrTruncated {
		t.Fatalf("offset past the end: %v", err)
	}
}

func TestTCPOptionErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []byte
		ok   bool
	}{
		{"length past end", []byte{wire.TCPOptMSS, 4, 5}, false},
		{"length zero", []byte{30, 0}, false},
		{"MSS wrong length", []byte{wire.TCPOptMSS, 3, 5}, false},
		{"SACK empty", []byte{wire.TCPOptSACK, 2}, false},
		{"SACK ragged", []byte{wire.TCPOptSACK, 6, 0, 0, 0, 0}, false},
		{"lone kind", []byte{wire.TCPOptMSS}, false},
		{"unknown skipped", []byte{30, 3, 0, wire.TCPOptNOP}, true},
		{"end stops", []byte{wire.TCPOptEnd, 0xff, 0xff}, true},
	} {
		var o wire.TCPOptions
		if err := wire.ParseTCPOptions(c.opts, &o); (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
	var o wire.TCPOptions
	if err := wire.ParseTCPOptions([]byte{wire.TCPOptWindowScale, 3, 20, 0}, &o); err != nil || o.WindowScale != wire.TCPMaxWindowScale {
		t.Fatalf("window scale 20: %v %d (RFC 7323 2.3: use 14)", err, o.WindowScale)
	}
}

func TestTCPFlagsString(t *testing.T) {
	if s := (wire.TCPFlagSYN | wire.TCPFlagACK).String(); s != "S." {
		t.Fatal(s)
	}
}

func BenchmarkTCPChecksum1448(b *testing.B) {
	hdr := bytes.Clone(scapyPA6[:32])
	payload := make([]byte, 1448)
	b.SetBytes(1448)
	b.ReportAllocs()
	for b.Loop() {
		wire.SetTCPChecksum(hdr, payload, v4src, v4dst)
	}
}

// kernelTCP returns the TCP segments (with their addresses) in the kernel's
// frames.
func kernelTCP(tb testing.TB) (segs [][]byte, srcs, dsts []netip.Addr) {
	for _, c := range wiretest.Kernel(tb) {
		fr := c.Frame
		if len(fr) < wire.EthHeaderLen+20 || fr[12] != 8 || fr[13] != 0 {
			continue
		}
		p, err := wire.NewIPv4Packet(fr[wire.EthHeaderLen:])
		if err != nil || p.Protocol() != wire.ProtoTCP || p.IsFragment() {
			continue
		}
		segs = append(segs, p.Payload())
		srcs, dsts = append(srcs, p.Src()), append(dsts, p.Dst())
	}
	return segs, srcs, dsts
}

func TestTCPKernelSegments(t *testing.T) {
	segs, srcs, dsts := kernelTCP(t)
	if len(segs) == 0 {
		t.Fatal("no TCP segments among the kernel's frames")
	}
	for i, b := range segs {
		var r wire.TCPRepr
		payload, err := wire.ParseTCP(b, &r)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		// Captured on the sending side with checksum offload, the field
		// holds the folded pseudo-header sum the device completes
		// (CHECKSUM_PARTIAL): a check of our pseudo-header.
		partial := ^wire.ChecksumFinish(wire.TCPPseudoHeaderSum(srcs[i], dsts[i], len(b)))
		if got := wire.TCPSegment(b).Checksum(); got != partial && !wire.TCPSegment(b).VerifyChecksum(srcs[i], dsts[i]) {
			t.Errorf("segment %d: checksum %#04x neither verifies nor is the partial %#04x", i, got, partial)
		}
		hdr := r.Append(nil)
		hdr[wire.TCPChecksumOff], hdr[wire.TCPChecksumOff+1] = b[wire.TCPChecksumOff], b[wire.TCPChecksumOff+1]
		if !bytes.Equal(hdr, b[:len(b)-len(payload)]) {
			t.Errorf("segment %d: re-encoded\n got % x\nwant % x", i, hdr, b[:len(hdr)])
		}
	}
}

func FuzzTCP(f *testing.F) {
	f.Add(scapySYN4)
	f.Add(scapyPA6)
	segs, _, _ := kernelTCP(f)
	for _, b := range segs {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wire.TCPRepr
		payload, err := wire.ParseTCP(b, &r)
		if err != nil {
			return
		}
		hdr := r.Append(nil)
		if len(hdr) != r.HeaderLen() || len(hdr) > wire.TCPMaxLen+wire.TCPMaxSACKBlocks*8 {
			t.Fatalf("Append wrote %d bytes, HeaderLen %d", len(hdr), r.HeaderLen())
		}
		wire.SetTCPChecksum(hdr, payload, v4src, v4dst)
		seg := append(hdr, payload...)
		if !wire.TCPSegment(seg).VerifyChecksum(v4src, v4dst) {
			t.Fatal("our own checksum does not verify")
		}
		var r2 wire.TCPRepr
		p2, err := wire.ParseTCP(seg, &r2)
		if err != nil {
			if len(hdr) > wire.TCPMaxLen {
				return // too many options to fit a real header: ours, not the input's
			}
			t.Fatalf("re-parse: %v", err)
		}
		if r2 != r || !bytes.Equal(p2, payload) {
			t.Fatalf("re-parse\n got %+v\nwant %+v", r2, r)
		}
	})
}
