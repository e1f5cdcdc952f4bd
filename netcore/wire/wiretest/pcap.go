package wiretest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/capture"
)

//go:embed testdata/kernel-frames.cap
var kernelFrames []byte

//go:embed testdata/kernel-frames6.cap
var kernelFrames6 []byte

// KernelFramesFile is where the kernel's frames are kept in the source
// tree: tcpdump's TestTcpdumpKernelFrames -update rewrites it.
func KernelFramesFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "kernel-frames.cap")
}

// Kernel is the frames the kernel sent in tcpdump's TestTcpdumpKernelFrames:
// IPv6 router solicitations, MLD reports and duplicate address detection,
// ARP, ping, arping, UDP with its port unreachable, a TCP conversation and
// a refused connection.
func Kernel(tb testing.TB) []Case {
	tb.Helper()
	cs, err := ReadPcap("kernel-frames.cap", kernelFrames)
	if err != nil {
		tb.Fatalf("kernel frames: %v", err)
	}
	return cs
}

//go:embed testdata/kernel-ipv4.cap
var kernelIPv4 []byte

// KernelIPv4File is where tcpdump's TestTcpdumpKernelIPv4 -update keeps the
// kernel's IPv4 frames.
func KernelIPv4File() string {
	return filepath.Join(filepath.Dir(KernelFramesFile()), "kernel-ipv4.cap")
}

// KernelIPv4 is the frames the kernel sent in tcpdump's
// TestTcpdumpKernelIPv4: fragments, options, source routes and the ICMP
// errors that quote a header.
func KernelIPv4(tb testing.TB) []Case {
	tb.Helper()
	cs, err := ReadPcap("kernel-ipv4.cap", kernelIPv4)
	if err != nil {
		tb.Fatalf("kernel IPv4 frames: %v", err)
	}
	return cs
}

// Kernel6File is where tcpdump's TestTcpdumpKernelIPv6 -update keeps the
// IPv6 frames the kernel sent.
func Kernel6File() string {
	return filepath.Join(filepath.Dir(KernelFramesFile()), "kernel-frames6.cap")
}

// Kernel6 is the frames of tcpdump's TestTcpdumpKernelIPv6: a host, a router
// running radvd and a host behind a narrower link, all kernels, talking
// IPv6 (neighbour and router discovery, fragments, ICMPv6 errors, UDP, TCP)
// and answering raw frames that scapy made.
func Kernel6(tb testing.TB) []Case {
	tb.Helper()
	cs, err := ReadPcap("kernel-frames6.cap", kernelFrames6)
	if err != nil {
		tb.Fatalf("kernel IPv6 frames: %v", err)
	}
	for i := range cs {
		cs[i].Name = "kernel IPv6 " + cs[i].Name[len("kernel "):]
	}
	return cs
}

// Cases is the golden table: the hand-built frames and the kernel's own,
// every one with its wire length and time set.
func Cases(tb testing.TB) []Case {
	cs := append(HandBuilt(), Kernel(tb)...)
	for i := range cs {
		if cs[i].WireLen == 0 {
			cs[i].WireLen = len(cs[i].Frame)
		}
		if cs[i].Time.IsZero() {
			cs[i].Time = TBase.Add(time.Duration(i) * 1500 * time.Microsecond)
		}
	}
	return cs
}

// ReadPcapFile reads a capture file (see ReadPcap).
func ReadPcapFile(name string) ([]Case, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return ReadPcap(name, data)
}

// ReadPcap reads a little-endian pcap stream with nanosecond or microsecond
// time stamps, as written by capture.AppendPcapRecord or tcpdump -w.
func ReadPcap(name string, data []byte) ([]Case, error) {
	if len(data) < capture.PcapHeaderLen {
		return nil, fmt.Errorf("%s: short file header", name)
	}
	scale := time.Nanosecond
	switch binary.LittleEndian.Uint32(data) {
	case capture.PcapMagicNanos:
	case 0xa1b2c3d4:
		scale = time.Microsecond
	default:
		return nil, fmt.Errorf("%s: not a little-endian pcap file", name)
	}
	var cs []Case
	for b := data[capture.PcapHeaderLen:]; len(b) > 0; {
		if len(b) < capture.PcapRecordHdrLen {
			return nil, fmt.Errorf("%s: short record header", name)
		}
		sec := binary.LittleEndian.Uint32(b)
		frac := binary.LittleEndian.Uint32(b[4:])
		incl := int(binary.LittleEndian.Uint32(b[8:]))
		orig := int(binary.LittleEndian.Uint32(b[12:]))
		if len(b) < capture.PcapRecordHdrLen+incl {
			return nil, fmt.Errorf("%s: short record", name)
		}
		cs = append(cs, Case{
			Name:    fmt.Sprintf("kernel frame %d", len(cs)+1),
			Frame:   bytes.Clone(b[capture.PcapRecordHdrLen : capture.PcapRecordHdrLen+incl]),
			WireLen: orig,
			Time:    time.Unix(int64(sec), int64(frac)*int64(scale)),
		})
		b = b[capture.PcapRecordHdrLen+incl:]
	}
	return cs, nil
}

// WritePcap writes the cases to a capture file in a temporary directory
// and returns its name.
func WritePcap(t testing.TB, cs []Case) string {
	b := capture.AppendPcapHeader(nil)
	for _, c := range cs {
		b = capture.AppendPcapRecord(b, c.Time, c.Frame, c.WireLen)
	}
	name := filepath.Join(t.TempDir(), "cases.pcap")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// TcpdumpFirstLines runs tcpdump on a capture file and returns the first
// line it prints for each frame (its continuation lines start with white
// space).
func TcpdumpFirstLines(t testing.TB, pcap string, extra ...string) []string {
	t.Helper()
	args := append([]string{"-tt", "-e", "-n", "-r", pcap}, extra...)
	cmd := exec.Command("tcpdump", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, " ") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// Frames is the frames of the golden table, the seeds of every fuzz target
// that parses frames.
func Frames(tb testing.TB) [][]byte {
	var frames [][]byte
	for _, c := range append(append(append(HandBuilt(), Kernel(tb)...), KernelIPv4(tb)...), Kernel6(tb)...) {
		frames = append(frames, c.Frame)
	}
	return frames
}
