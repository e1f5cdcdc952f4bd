// Command fragflood is a load generator for scripts/fragflood.sh: it sends
// IPv4 fragments that never complete a datagram (middle fragments only: no
// first, no last, so that nothing is answered and nothing can be
// reassembled) to one host through a raw AF_PACKET socket on one
// interface, the flood a reassembler must hold its bounds against.
//
// It runs in the namespace that holds the interface (ip netns exec NS
// fragflood ...). Datagram n/16 gets fragments 1..16 of 1480 bytes (more than its share of
// the byte bound); the
// identification wraps at 65536, by which time the host has long given up
// on the first ones, or never took them. It stops after -duration or
// -count fragments and prints one summary line:
//
//	sent=123456 seconds=5.001 rate=24686
//
// Exit status: 0 when the flood ran, 1 when it could not (no such
// interface, no privileges), 2 for a usage error.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/netcore/wire"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	iface    string
	dst, src netip.Addr
	dstMAC   wire.MAC
	duration time.Duration
	count    int
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	sent, elapsed, err := flood(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fragflood: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "sent=%d seconds=%.3f rate=%.0f\n", sent, elapsed.Seconds(), float64(sent)/elapsed.Seconds())
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("fragflood", flag.ContinueOnError)
	fs.SetOutput(stderr)
	iface := fs.String("i", "", "the interface to send on (required)")
	dst := fs.String("target", "192.168.69.1", "the host's IPv4 address")
	src := fs.String("source", "192.168.69.100", "the source address of the fragments")
	mac := fs.String("mac", "02:00:00:00:00:01", "the host's hardware address")
	duration := fs.Duration("duration", 5*time.Second, "how long to send")
	count := fs.Int("count", 1<<30, "at most this many fragments")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg := &config{iface: *iface, duration: *duration, count: *count}
	var err error
	if cfg.dst, err = netip.ParseAddr(*dst); err != nil || !cfg.dst.Is4() {
		fmt.Fprintf(stderr, "fragflood: -target %q is not an IPv4 address\n", *dst)
		return nil, errors.New("bad flag")
	}
	if cfg.src, err = netip.ParseAddr(*src); err != nil || !cfg.src.Is4() {
		fmt.Fprintf(stderr, "fragflood: -source %q is not an IPv4 address\n", *src)
		return nil, errors.New("bad flag")
	}
	if cfg.dstMAC, err = wire.ParseMAC(*mac); err != nil {
		fmt.Fprintf(stderr, "fragflood: -mac: %v\n", err)
		return nil, errors.New("bad flag")
	}
	if cfg.iface == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: fragflood -i IFACE [-target IP] [-source IP] [-mac MAC] [-duration D] [-count N]")
		return nil, errors.New("bad usage")
	}
	return cfg, nil
}

const fragLen = 1480

func flood(cfg *config) (int, time.Duration, error) {
	ifi, err := net.InterfaceByName(cfg.iface)
	if err != nil {
		return 0, 0, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	var src wire.MAC
	copy(src[:], ifi.HardwareAddr)
	frame := wire.EthernetRepr{Dst: cfg.dstMAC, Src: src, Type: wire.EtherTypeIPv4}.Append(nil)
	ipOff := len(frame)
	frame = wire.IPv4Repr{Src: cfg.src, Dst: cfg.dst, Protocol: wire.ProtoUDP, TTL: 64, MF: true, PayloadLen: fragLen}.Append(frame)
	frame = append(frame, make([]byte, fragLen)...)
	ip := wire.IPv4Packet(frame[ipOff:])
	start := time.Now()
	end := start.Add(cfg.duration)
	sent := 0
	for sent < cfg.count {
		if sent%256 == 0 && time.Now().After(end) {
			break
		}
		binary.BigEndian.PutUint16(ip[wire.IPv4IDOff:], uint16(sent/16))
		ip.SetFragment(len(ip), true, fragLen*(1+sent%16))
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				time.Sleep(100 * time.Microsecond) // the queue is full: it is a flood, not a race
				continue
			}
			return sent, time.Since(start), err
		}
		sent++
	}
	return sent, time.Since(start), nil
}
