package tcpdump

import (
	"bufio"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// TestTcpdumpKernelIPv4 captures what the kernel sends for the IPv4 the
// host finishes (fragments of ping -s 3000 and -s 65507, ping -R and -T
// in its three flavours, source routes, malformed options, and the ICMP
// errors that quote a header: port and protocol unreachable, reassembly
// time exceeded, parameter problem, traceroute -U) and compares our lines
// with tcpdump's. With -update it keeps the frames in
// wiretest.KernelIPv4File(), which TestTcpdumpKernelIPv4Replay replays
// where there is no root.
func TestTcpdumpKernelIPv4(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	testenv.RequireTool(t, "ping", "iputils-ping")
	testenv.RequireTool(t, "traceroute", "traceroute")
	ns1 := testenv.NewNetns(t)
	ns2 := testenv.NewNetns(t)
	ns1.Run("ip", "link", "add", "v0", "address", wiretest.MACA.String(), "type", "veth", "peer", "name", "v1", "address", wiretest.MACB.String(), "netns", ns2.Name)
	ns1.Run("ip", "addr", "add", "192.168.69.100/24", "dev", "v0")
	ns2.Run("ip", "addr", "add", "192.168.69.1/24", "dev", "v1")
	// No IPv6 chatter: this capture is about IPv4.
	ns1.Run("sysctl", "-q", "-w", "net.ipv6.conf.v0.disable_ipv6=1")
	ns2.Run("sysctl", "-q", "-w", "net.ipv6.conf.v1.disable_ipv6=1")
	ns2.Run("sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0")
	ns2.Run("sysctl", "-q", "-w", "net.ipv4.ipfrag_time=1")
	ns1.Run("ip", "link", "set", "v0", "up")
	ns2.Run("ip", "link", "set", "v1", "up")

	pcapName := filepath.Join(t.TempDir(), "kernel-ipv4.cap")
	stop := startDump(t, ns1, "v0", pcapName)

	ns1.Run("ping", "-c", "1", "-s", "3000", "192.168.69.1")
	ns1.Run("ping", "-c", "1", "-s", "65507", "192.168.69.1")
	ns1.Run("ping", "-c", "1", "-R", "192.168.69.1")
	ns1.Run("ping", "-c", "1", "-T", "tsonly", "192.168.69.1")
	ns1.Run("ping", "-c", "1", "-T", "tsandaddr", "192.168.69.1")
	ns1.Run("ping", "-c", "1", "-T", "tsprespec", "192.168.69.1", "192.168.69.1")
	ns1.Run("traceroute", "-n", "-U", "-p", "33434", "-q", "1", "-m", "2", "192.168.69.1") // not 53: tcpdump would print DNS
	err := ns1.Do(func() error {
		// UDP to a closed port: small, long (the error quotes 548 bytes),
		// fragmented, and with a Record Route option.
		// Not connected: a connected socket would fail the next write with
		// the port unreachable the last one earned.
		u, err := net.ListenPacket("udp", "192.168.69.100:0")
		if err != nil {
			return err
		}
		defer u.Close()
		to := &net.UDPAddr{IP: net.IPv4(192, 168, 69, 1), Port: 9}
		for _, n := range []int{4, 1400, 3000} {
			if _, err := u.WriteTo(make([]byte, n), to); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		rc, err := u.(*net.UDPConn).SyscallConn()
		if err != nil {
			return err
		}
		rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptString(int(fd), syscall.IPPROTO_IP, syscall.IP_OPTIONS, string([]byte{1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}))
		})
		if err != nil {
			return err
		}
		if _, err := u.WriteTo([]byte("rr"), to); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)

		// Raw datagrams: an unknown protocol, a first fragment alone (time
		// exceeded after ipfrag_time), a malformed option (parameter
		// problem), a loose source route (dropped by the kernel).
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		dst := &syscall.SockaddrInet4{Addr: [4]byte{192, 168, 69, 1}}
		send := func(proto wire.IPProtocol, opts []byte, frag func(h []byte), payload []byte) error {
			r := wire.IPv4Repr{Src: wiretest.IPA, Dst: wiretest.IPB, Protocol: proto, TTL: 64, ID: 0x4242, PayloadLen: len(payload)}
			b := wiretest.WithIPv4(append(r.AppendOptions(nil, opts), payload...), frag, false)
			return syscall.Sendto(fd, b, 0, dst)
		}
		none := func([]byte) {}
		for _, s := range []error{
			send(253, nil, none, []byte("unknown protocol")),
			send(wire.ProtoUDP, nil, func(h []byte) { binary.BigEndian.PutUint16(h[6:], wire.IPv4FlagMF) }, wiretest.UDP(40000, 9, make([]byte, 40))),
			send(wire.ProtoUDP, []byte{7, 3, 2, 0}, none, wiretest.UDP(40000, 9, []byte("bad rr"))),
			send(wire.ProtoICMP, []byte{131, 7, 4, 192, 168, 69, 7}, none, wiretest.ICMPEcho(wire.ICMPEchoRequest, 5, 1, 8)),
			send(wire.ProtoUDP, []byte{148, 4, 0, 0}, none, wiretest.UDP(40000, 9, []byte("router alert"))),
		} {
			if s != nil {
				return s
			}
		}
		time.Sleep(2500 * time.Millisecond) // the reassembly timeout, 1 s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop()

	cs, err := wiretest.ReadPcapFile(pcapName)
	if err != nil {
		t.Fatal(err)
	}
	want := wiretest.TcpdumpFirstLines(t, wiretest.WritePcap(t, cs))
	if len(want) != len(cs) {
		t.Fatalf("tcpdump printed %d first lines for %d frames", len(want), len(cs))
	}
	// Every kind the test meant to make is there.
	all := strings.Join(want, "\n")
	for _, s := range []string{"ip-proto-1", "ICMP echo request, id", "udp port 9 unreachable", "protocol 253 unreachable",
		"ip reassembly time exceeded", "parameter problem - octet 22", "udp port 33434 unreachable"} {
		if !strings.Contains(all, s) {
			t.Errorf("no frame printed as %q in the capture", s)
		}
	}
	compareLines(t, cs, ourLines(cs), want, "tcpdump")
	t.Logf("compared %d kernel frames", len(cs))
	if *updateGolden && !t.Failed() {
		b := capture.AppendPcapHeader(nil)
		for _, c := range cs {
			b = capture.AppendPcapRecord(b, c.Time, c.Frame, c.WireLen)
		}
		if err := os.WriteFile(wiretest.KernelIPv4File(), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTcpdumpKernelIPv4Replay compares our lines with tcpdump's for the
// frames TestTcpdumpKernelIPv4 kept.
func TestTcpdumpKernelIPv4Replay(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	cs := wiretest.KernelIPv4(t)
	if len(cs) < 100 {
		t.Fatalf("only %d frames kept", len(cs))
	}
	want := wiretest.TcpdumpFirstLines(t, wiretest.WritePcap(t, cs))
	if len(want) != len(cs) {
		t.Fatalf("tcpdump printed %d first lines for %d frames", len(want), len(cs))
	}
	compareLines(t, cs, ourLines(cs), want, "tcpdump")
}

// startDump runs tcpdump -w in ns on dev until the returned stop is called
// (or the test ends), and returns once tcpdump is capturing.
func startDump(t *testing.T, ns *testenv.Netns, dev, pcapName string) (stop func()) {
	t.Helper()
	// -B: 45 full-size fragments at once must not overflow the ring.
	dump := ns.Command("tcpdump", "-i", dev, "-n", "-U", "--immediate-mode", "-B", "16384", "-s", "65535", "-w", pcapName)
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "listening on") {
				ok = true
				listening <- true
			}
			if strings.Contains(sc.Text(), "dropped by kernel") && !strings.HasPrefix(sc.Text(), "0 ") {
				t.Errorf("tcpdump: %s", sc.Text())
			}
		}
		if !ok {
			listening <- false
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			dump.Process.Signal(os.Interrupt)
			dump.Wait()
		}
	}
	t.Cleanup(stop)
	select {
	case ok := <-listening:
		if !ok {
			t.Fatal("tcpdump did not start capturing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start capturing within 10s")
	}
	return stop
}
