package netcore

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"
)

// seedFrames are real frames for every fuzz target: the kernel's frames from
// testdata/kernel-frames.cap and the hand-built golden table.
func seedFrames(f *testing.F) [][]byte {
	f.Helper()
	var frames [][]byte
	for _, c := range handBuiltCases() {
		frames = append(frames, c.frame)
	}
	kernel, err := readPcapFile(filepath.Join("testdata", "kernel-frames.cap"))
	if err != nil {
		f.Fatalf("seed frames: %v", err)
	}
	for _, c := range kernel {
		frames = append(frames, c.frame)
	}
	return frames
}

// etherPayloads returns the payloads of the seed frames of one type.
func etherPayloads(f *testing.F, t EtherType) [][]byte {
	var out [][]byte
	for _, fr := range seedFrames(f) {
		if len(fr) >= EthHeaderLen && EtherType(binary.BigEndian.Uint16(fr[12:])) == t {
			out = append(out, fr[EthHeaderLen:])
		}
	}
	return out
}

func FuzzEthernet(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseEthernet(b)
		if err != nil {
			if len(b) >= EthHeaderLen {
				t.Fatalf("ParseEthernet rejected %d bytes: %v", len(b), err)
			}
			return
		}
		enc := r.Append(nil)
		if !bytes.Equal(enc, b[:EthHeaderLen]) {
			t.Fatalf("Append = % x, want the parsed header % x", enc, b[:EthHeaderLen])
		}
		r2, err := ParseEthernet(enc)
		if err != nil || r2 != r {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}

func FuzzARP(f *testing.F) {
	for _, p := range etherPayloads(f, EtherTypeARP) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseARP(b)
		if err != nil {
			return
		}
		enc := r.Append(nil)
		if len(enc) != ARPLen || !bytes.Equal(enc, b[:ARPLen]) {
			t.Fatalf("Append = % x, want the parsed packet % x", enc, b[:ARPLen])
		}
		r2, err := ParseARP(enc)
		if err != nil || r2 != r {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}

func FuzzIPv4(f *testing.F) {
	for _, p := range etherPayloads(f, EtherTypeIPv4) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := NewIPv4Packet(b)
		if err != nil {
			return
		}
		// The view's accessors must stay inside what it checked.
		_ = p.Payload()
		_ = p.IsFragment()
		r, err := ParseIPv4(b)
		if err != nil {
			return
		}
		if r.PayloadLen != len(p.Payload()) {
			t.Fatalf("PayloadLen %d, payload %d bytes", r.PayloadLen, len(p.Payload()))
		}
		enc := append(r.Append(nil), p.Payload()...)
		r2, err := ParseIPv4(enc)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", enc, err)
		}
		if r2 != r {
			t.Fatalf("re-parse = %+v, want %+v", r2, r)
		}
	})
}

func FuzzICMP(f *testing.F) {
	for _, p := range etherPayloads(f, EtherTypeIPv4) {
		if ip, err := NewIPv4Packet(p); err == nil && ip.Protocol() == ProtoICMP {
			f.Add(ip.Payload())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := NewICMPPacket(b); err == nil {
			_ = p.Data()
			_ = p.VerifyChecksum()
		}
		r, err := ParseICMPEcho(b)
		if err != nil {
			return
		}
		// The checksum may come back as the other encoding of zero
		// (0x0000 for 0xffff), so it is compared by verifying it.
		enc := r.Append(nil)
		if len(enc) != len(b) || !bytes.Equal(enc[:2], b[:2]) || !bytes.Equal(enc[4:], b[4:]) || !ICMPPacket(enc).VerifyChecksum() {
			t.Fatalf("Append = % x, want the parsed message % x", enc, b)
		}
		r2, err := ParseICMPEcho(enc)
		if err != nil || r2.Type != r.Type || r2.Code != r.Code || r2.Ident != r.Ident || r2.Seq != r.Seq || !bytes.Equal(r2.Data, r.Data) {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}

// FuzzTcpdump checks that any bytes render as exactly one line, the same
// every time, whatever the claimed wire length, and that the stateful
// renderer agrees with the stateless one on a fresh stream.
func FuzzTcpdump(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr, uint16(0))
		f.Add(fr[:len(fr)/2], uint16(len(fr)))
	}
	f.Fuzz(func(t *testing.T, b []byte, extra uint16) {
		now := time.Unix(1764000000, 5000)
		wire := len(b) + int(extra)
		line := AppendTcpdump(nil, now, b, wire)
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("line has a newline: %q", line)
		}
		if len(line) == 0 {
			t.Fatal("empty line")
		}
		if again := AppendTcpdump([]byte("x"), now, b, wire); !bytes.Equal(again[1:], line) {
			t.Fatalf("not deterministic:\n%q\n%q", line, again[1:])
		}
		var d Tcpdump
		if s := d.Append(nil, now, b, wire); !bytes.Equal(s, line) {
			t.Fatalf("fresh Tcpdump differs:\n%q\n%q", s, line)
		}
	})
}

// FuzzPcap checks that a record holds what it was given, within the
// snaplen, and that its lengths agree with each other.
func FuzzPcap(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr, int64(1764000000123456789), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, ns int64, extra int) {
		tm := time.Unix(0, ns)
		wire := len(b) + extra
		rec := AppendPcapRecord(nil, tm, b, wire)
		if len(rec) < PcapRecordHdrLen {
			t.Fatalf("record of %d bytes", len(rec))
		}
		incl := int(binary.LittleEndian.Uint32(rec[8:]))
		orig := int64(binary.LittleEndian.Uint32(rec[12:]))
		if incl != min(len(b), PcapSnaplen) || len(rec) != PcapRecordHdrLen+incl {
			t.Fatalf("incl_len %d, record %d bytes, frame %d bytes", incl, len(rec), len(b))
		}
		if !bytes.Equal(rec[PcapRecordHdrLen:], b[:incl]) {
			t.Fatal("record data differs from the frame")
		}
		if orig < int64(incl) {
			t.Fatalf("orig_len %d < incl_len %d", orig, incl)
		}
		if nsec := binary.LittleEndian.Uint32(rec[4:]); nsec >= 1e9 || int(nsec) != tm.Nanosecond() {
			t.Fatalf("ts nsec %d for %v", nsec, tm)
		}
	})
}
