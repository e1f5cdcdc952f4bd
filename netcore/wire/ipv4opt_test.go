package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// Headers the kernel sent (ping -R, ping -T tsonly, ping -T tsandaddr from
// 192.168.69.100 to 192.168.69.1, captured with tcpdump -xx).
var (
	kernelRR = unhex(`4f00 007c cf4f 4000 4001 275f c0a8 4564 c0a8 4501
		0107 2708 c0a8 4564 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000`)
	kernelTSOnly = unhex(`4f00 007c cf5c 4000 4001 5d6b c0a8 4564 c0a8 4501
		4428 0900 0089 aa51 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000`)
	kernelTSAddr = unhex(`4e00 0078 cf71 4000 4001 53bc c0a8 4564 c0a8 4501
		4424 0d01 c0a8 4564 0089 aae5 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000`)
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// header makes an IPv4 header (no payload, total length = header) with the
// given options, padded as AppendOptions pads them.
func header(opts ...byte) wire.IPv4Packet {
	return wire.IPv4Packet(wire.IPv4Repr{Src: wiretest.IPA, Dst: wiretest.IPB, Protocol: wire.ProtoICMP, TTL: 64}.AppendOptions(nil, opts))
}

func TestIPv4OptionsKernel(t *testing.T) {
	for _, c := range []struct {
		name       string
		hdr        []byte
		rr, ts     uint8
		ptr, flag  int
		wantFilled int // slots in use
	}{
		{"ping -R", kernelRR, 21, 0, 8, -1, 1},
		{"ping -T tsonly", kernelTSOnly, 0, 20, 9, wire.IPv4TSOnly, 1},
		{"ping -T tsandaddr", kernelTSAddr, 0, 20, 13, wire.IPv4TSAndAddr, 1},
	} {
		p := wire.IPv4Packet(c.hdr)
		if !p.VerifyChecksum() {
			t.Fatalf("%s: the kernel's header fails its checksum", c.name)
		}
		o, err := p.Options()
		if err != nil || o.RR != c.rr || o.TS != c.ts || o.SRR != 0 {
			t.Errorf("%s: Options = %+v, %v; want RR %d TS %d", c.name, o, err, c.rr, c.ts)
			continue
		}
		opt := p.Option(max(o.RR, o.TS))
		if opt.Pointer() != c.ptr || opt.Full() {
			t.Errorf("%s: pointer %d full %v, want %d", c.name, opt.Pointer(), opt.Full(), c.ptr)
		}
		if c.flag >= 0 && int(opt.TSFlag()) != c.flag {
			t.Errorf("%s: flag %d, want %d", c.name, opt.TSFlag(), c.flag)
		}
		if c.rr != 0 && !bytes.Equal(opt.Slot(wire.IPv4OptRRMinPtr), wiretest.IPA.AsSlice()) {
			t.Errorf("%s: first slot % x, want the sender's address", c.name, opt.Slot(wire.IPv4OptRRMinPtr))
		}
	}
}

func TestIPv4OptionsMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []byte
		bad  uint8 // the octet Parameter Problem points at
	}{
		{"length 1", []byte{7, 1, 4, 0}, 20},
		{"length past the header", []byte{7, 9, 4, 0, 0, 0, 0, 0}, 20},
		{"type without length", []byte{1, 1, 1, 68}, 23},
		{"rr length 2", []byte{7, 2, 0, 0}, 21},
		{"rr pointer 3", []byte{7, 7, 3, 0, 0, 0, 0, 0}, 22},
		{"rr slot cut", []byte{7, 6, 4, 0, 0, 0, 0, 0}, 22},
		{"two rr", []byte{7, 3, 4, 7, 3, 4, 0, 0}, 23},
		{"ts length 3", []byte{68, 3, 5, 0}, 21},
		{"ts pointer 4", []byte{68, 8, 4, 0, 0, 0, 0, 0}, 22},
		{"ts slot cut", []byte{68, 7, 5, 0, 0, 0, 0, 0}, 22},
		{"tsandaddr slot cut", []byte{68, 8, 5, 1, 0, 0, 0, 0}, 22},
		{"ts overflow at 15", []byte{68, 4, 5, 0xf0}, 23},
		{"two ts", []byte{68, 4, 5, 0, 68, 4, 5, 0}, 24},
		{"lsrr pointer 2", []byte{131, 7, 2, 0, 0, 0, 0, 0}, 22},
		{"lsrr and ssrr", []byte{131, 3, 4, 137, 3, 4, 0, 0}, 23},
	} {
		o, err := header(c.opts...).Options()
		if !errors.Is(err, wire.ErrIPv4Option) || o.Bad != c.bad {
			t.Errorf("%s: Options = %+v, %v; want ErrIPv4Option at octet %d", c.name, o, err, c.bad)
		}
	}
}

func TestIPv4OptionsAccepted(t *testing.T) {
	for _, c := range []struct {
		name        string
		opts        []byte
		rr, ts, srr uint8
		strict      bool
	}{
		{"none", nil, 0, 0, 0, false},
		{"nops and end", []byte{1, 1, 1, 0}, 0, 0, 0, false},
		{"end then garbage", []byte{0, 7, 1, 9}, 0, 0, 0, false},
		{"router alert", []byte{148, 4, 0, 0}, 0, 0, 0, false},
		{"unknown option skipped", []byte{0x9e, 6, 1, 2, 3, 4, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0}, 26, 0, 0, false},
		{"rr full", []byte{7, 7, 8, 1, 2, 3, 4, 0}, 20, 0, 0, false},
		{"ts full, overflow 14", []byte{68, 8, 9, 0xe0, 0, 0, 0, 0}, 0, 20, 0, false},
		{"prespec full at 15", []byte{68, 4, 5, 0xf3}, 0, 20, 0, false}, // prespec never counts overflow
		{"ts unknown flag", []byte{68, 8, 5, 2, 0, 0, 0, 0}, 0, 20, 0, false},
		{"lsrr", []byte{131, 7, 4, 10, 0, 0, 1, 0}, 0, 0, 20, false},
		{"ssrr and rr", []byte{137, 7, 4, 10, 0, 0, 1, 7, 3, 4, 0, 0}, 27, 0, 20, true},
	} {
		o, err := header(c.opts...).Options()
		if err != nil || o.RR != c.rr || o.TS != c.ts || o.SRR != c.srr || o.StrictSR != c.strict {
			t.Errorf("%s: Options = %+v, %v; want RR %d TS %d SRR %d strict %v", c.name, o, err, c.rr, c.ts, c.srr, c.strict)
		}
	}
}

func TestAppendOptionsPads(t *testing.T) {
	opts := kernelRR[21:60] // the RR option, 39 bytes
	r := wire.IPv4Repr{Src: wiretest.IPB, Dst: wiretest.IPA, Protocol: wire.ProtoICMP, TTL: 64, ID: 9, PayloadLen: 64}
	b := r.AppendOptions(nil, opts)
	p := wire.IPv4Packet(b)
	if p.HeaderLen() != 60 || len(b) != 60 || b[59] != wire.IPv4OptEnd || !bytes.Equal(b[20:59], opts) {
		t.Fatalf("header % x", b)
	}
	if !p.VerifyChecksum() {
		t.Fatal("bad checksum")
	}
	got, err := wire.ParseIPv4(append(b, make([]byte, 64)...))
	if err != nil || got != r {
		t.Fatalf("ParseIPv4 = %+v, %v; want %+v", got, err, r)
	}
}

func TestSetFragment(t *testing.T) {
	r := wire.IPv4Repr{Src: wiretest.IPB, Dst: wiretest.IPA, Protocol: wire.ProtoUDP, TTL: 64, ID: 77, DF: true, PayloadLen: 4000}
	h := wire.IPv4Packet(r.Append(nil))
	h.SetFragment(20+1480, true, 2960)
	got, err := wire.ParseIPv4(append(bytes.Clone(h), make([]byte, 1480)...))
	want := r
	want.MF, want.FragOffset, want.PayloadLen = true, 2960, 1480
	if err != nil || got != want {
		t.Fatalf("after SetFragment: %+v, %v; want %+v", got, err, want)
	}
}

// FuzzIPv4Options checks that Options never reads outside the header, that
// what it locates is where it says, and that a located option's slots can
// be read and written within it.
func FuzzIPv4Options(f *testing.F) {
	f.Add(kernelRR[20:])
	f.Add(kernelTSOnly[20:])
	f.Add(kernelTSAddr[20:])
	f.Add([]byte{131, 7, 4, 10, 0, 0, 1, 7, 3, 4, 0, 0})
	f.Add([]byte{68, 4, 5, 0xf0})
	f.Fuzz(func(t *testing.T, opts []byte) {
		if len(opts) > wire.IPv4MaxOptLen {
			opts = opts[:wire.IPv4MaxOptLen]
		}
		p := header(opts...)
		o, err := p.Options()
		if err != nil {
			if int(o.Bad) < wire.IPv4MinLen || int(o.Bad) >= p.HeaderLen() {
				t.Fatalf("Bad %d outside the options", o.Bad)
			}
			return
		}
		for _, c := range []struct {
			off  uint8
			typs []uint8
		}{{o.RR, []uint8{wire.IPv4OptRR}}, {o.TS, []uint8{wire.IPv4OptTimestamp}}, {o.SRR, []uint8{wire.IPv4OptLSRR, wire.IPv4OptSSRR}}} {
			if c.off == 0 {
				continue
			}
			opt := p.Option(c.off)
			if !bytes.Contains(c.typs, []byte{opt.Type()}) {
				t.Fatalf("option at %d has type %d, want %v", c.off, opt.Type(), c.typs)
			}
			if opt.Type() == wire.IPv4OptSSRR != o.StrictSR && c.off == o.SRR {
				t.Fatalf("StrictSR %v for type %d", o.StrictSR, opt.Type())
			}
			if opt.Type() == wire.IPv4OptLSRR || opt.Type() == wire.IPv4OptSSRR || opt.Full() {
				continue
			}
			slot := 4
			if opt.Type() == wire.IPv4OptTimestamp {
				switch opt.TSFlag() {
				case wire.IPv4TSOnly:
				case wire.IPv4TSAndAddr, wire.IPv4TSPrespec:
					slot = 8
				default:
					continue // an unknown flag: nothing is recorded
				}
			}
			for at := opt.Pointer(); at < opt.Pointer()+slot; at += 4 {
				copy(opt.Slot(at), []byte{1, 2, 3, 4}) // must not panic
			}
		}
	})
}
