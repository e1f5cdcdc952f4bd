package capture_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

func TestPcapHeader(t *testing.T) {
	want := []byte{
		0x4d, 0x3c, 0xb2, 0xa1, // magic a1b23c4d, little-endian: nanosecond time stamps
		2, 0, 4, 0, // version 2.4
		0, 0, 0, 0, // thiszone
		0, 0, 0, 0, // sigfigs
		0xff, 0xff, 0, 0, // snaplen 65535
		1, 0, 0, 0, // linktype Ethernet
	}
	if got := capture.AppendPcapHeader([]byte("x")); !bytes.Equal(got[1:], want) || got[0] != 'x' {
		t.Fatalf("header % x, want x then % x", got, want)
	}
}

func TestPcapRecord(t *testing.T) {
	frame := []byte{1, 2, 3, 4, 5}
	tm := time.Unix(1764000000, 123456789)
	for _, c := range []struct {
		name                  string
		frame                 []byte
		wire                  int
		wantIncl, wantOrig    uint32
		wantDataLen, wantSize int
	}{
		{"whole frame", frame, 5, 5, 5, 5, 21},
		{"snaplen cut on capture", frame, 60, 5, 60, 5, 21},
		{"wire shorter than captured", frame, 2, 5, 5, 5, 21},
		{"longer than the snaplen", make([]byte, 70000), 70000, 65535, 70000, 65535, 16 + 65535},
	} {
		rec := capture.AppendPcapRecord(nil, tm, c.frame, c.wire)
		if len(rec) != c.wantSize {
			t.Errorf("%s: %d bytes, want %d", c.name, len(rec), c.wantSize)
			continue
		}
		sec, nsec := binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint32(rec[4:])
		incl, orig := binary.LittleEndian.Uint32(rec[8:]), binary.LittleEndian.Uint32(rec[12:])
		if sec != 1764000000 || nsec != 123456789 || incl != c.wantIncl || orig != c.wantOrig {
			t.Errorf("%s: ts %d.%09d incl %d orig %d, want 1764000000.123456789 incl %d orig %d",
				c.name, sec, nsec, incl, orig, c.wantIncl, c.wantOrig)
		}
		if !bytes.Equal(rec[16:], c.frame[:c.wantDataLen]) {
			t.Errorf("%s: data differs", c.name)
		}
	}
}

func TestPcapRecordAllocates(t *testing.T) {
	buf := make([]byte, 0, 4096)
	frame := make([]byte, 1514)
	n := testing.AllocsPerRun(100, func() { buf = capture.AppendPcapRecord(buf[:0], wiretest.TBase, frame, len(frame)) })
	if n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

// pcapOfCases writes the golden frames, whose time stamps have nanoseconds
// that are not whole microseconds.
func pcapOfCases(t *testing.T) (string, []wiretest.Case) {
	cs := wiretest.Cases(t)
	for i := range cs {
		cs[i].Time = time.Unix(1764000000+int64(i), int64(i)*1001+7)
	}
	return wiretest.WritePcap(t, cs), cs
}

// TestPcapReadByTcpdump reads our file back with tcpdump, at nanosecond and
// at microsecond precision (which libpcap gets by truncating).
func TestPcapReadByTcpdump(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	name, cs := pcapOfCases(t)
	for _, nano := range []bool{true, false} {
		args := []string{"-tt", "-n", "-r", name}
		if nano {
			args = append(args, "--nano")
		}
		out, err := exec.Command("tcpdump", args...).Output()
		if err != nil {
			t.Fatalf("tcpdump %v: %v", args, err)
		}
		var stamps []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && l[0] != '\t' && l[0] != ' ' {
				stamps = append(stamps, strings.Fields(l)[0])
			}
		}
		if len(stamps) != len(cs) {
			t.Fatalf("tcpdump %v read %d frames, we wrote %d", args, len(stamps), len(cs))
		}
		for i, c := range cs {
			want := strconv.FormatInt(c.Time.Unix(), 10) + "." + strconv.Itoa(1e9 + c.Time.Nanosecond())[1:]
			if !nano {
				want = want[:len(want)-3]
			}
			if stamps[i] != want {
				t.Errorf("frame %d (nano %v): tcpdump read time %s, want %s", i+1, nano, stamps[i], want)
			}
		}
	}
}

// TestPcapReadByTshark has Wireshark's reader check the same file: every
// frame's time, length on the wire and captured length.
func TestPcapReadByTshark(t *testing.T) {
	testenv.RequireTool(t, "tshark", "tshark")
	name, cs := pcapOfCases(t)
	cmd := exec.Command("tshark", "-n", "-r", name, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cs) {
		t.Fatalf("tshark read %d frames, we wrote %d", len(lines), len(cs))
	}
	for i, c := range cs {
		f := strings.Split(lines[i], "\t")
		caplen, wire := capture.RecordLengths(len(c.Frame), c.WireLen)
		wantTime := strconv.FormatInt(c.Time.Unix(), 10) + "." + strconv.Itoa(1e9 + c.Time.Nanosecond())[1:]
		if len(f) != 3 || f[0] != wantTime || f[1] != strconv.Itoa(wire) || f[2] != strconv.Itoa(caplen) {
			t.Errorf("frame %d: tshark read %q, want %s %d %d", i+1, lines[i], wantTime, wire, caplen)
		}
	}
}

// TestPcapStreamIsTcpdumpInput checks the promise of frames.pcap: a stream
// that starts with the header and goes on with records can be piped into
// tcpdump -r -.
func TestPcapStreamIsTcpdumpInput(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	name, cs := pcapOfCases(t)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tcpdump", "-tt", "-e", "-n", "-r", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r -: %v", err)
	}
	want := wiretest.TcpdumpFirstLines(t, filepath.Clean(name))
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l != "" && l[0] != '\t' && l[0] != ' ' {
			got = append(got, l)
		}
	}
	if len(got) != len(cs) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tcpdump -r - printed %d lines, from the file %d, for %d frames", len(got), len(want), len(cs))
	}
}

// FuzzPcap checks that a record holds what it was given, within the
// snaplen, and that its lengths agree with each other.
func FuzzPcap(f *testing.F) {
	for _, fr := range wiretest.Frames(f) {
		f.Add(fr, int64(1764000000123456789), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, ns int64, extra int) {
		tm := time.Unix(0, ns)
		wire := len(b) + extra
		rec := capture.AppendPcapRecord(nil, tm, b, wire)
		if len(rec) < capture.PcapRecordHdrLen {
			t.Fatalf("record of %d bytes", len(rec))
		}
		incl := int(binary.LittleEndian.Uint32(rec[8:]))
		orig := int64(binary.LittleEndian.Uint32(rec[12:]))
		if incl != min(len(b), capture.PcapSnaplen) || len(rec) != capture.PcapRecordHdrLen+incl {
			t.Fatalf("incl_len %d, record %d bytes, frame %d bytes", incl, len(rec), len(b))
		}
		if !bytes.Equal(rec[capture.PcapRecordHdrLen:], b[:incl]) {
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
