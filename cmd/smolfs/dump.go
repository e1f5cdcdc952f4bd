package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/smolfs/smolfs/devices"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/tcpdump"
)

var dumpCommand = &command{
	name:     "dump",
	synopsis: "dump [-w FILE|-] IFACE",
	summary:  "print the frames on any interface as 'tcpdump -tt -e -n' does, or write pcap",
	about: `Captures every frame that interface IFACE receives or sends (a raw AF_PACKET
socket, promiscuous while it runs, like tcpdump) and prints one line per frame,
exactly the line 'tcpdump -tt -e -n -i IFACE' prints for it, with the kernel's
timestamp. With -w it writes a pcap stream instead (nanosecond timestamps,
snaplen 65535, Ethernet), one record per frame as it arrives, so that a reader
at the other end of a pipe sees each frame at once.

It needs root (CAP_NET_RAW) and an Ethernet interface that is up; it works on
any such interface, not only on smolfs's taps. It stops on SIGINT or SIGTERM,
or when the reader of its output goes away, and then says how many frames it
captured and how many the kernel dropped.`,
	examples: `  smolfs dump tap0
  smolfs dump -w - tap0 | tcpdump -r - -n -e      # the same capture through tcpdump
  smolfs dump -w capture.pcap eth0`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		file := flags.String("w", "", "write a pcap stream to `FILE` instead of printing lines; - is standard output")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one interface, got %d arguments", len(args))
			}
			return dump(ctx, args[0], *file, stdout, stderr)
		}
	},
}

// dumpBufSize is tcpdump's default snapshot length: frames up to it are read
// whole (the pcap records keep capture.Snaplen bytes of them).
const dumpBufSize = 262144

func dump(ctx context.Context, iface, file string, stdout, stderr io.Writer) error {
	var w io.Writer = stdout
	pcap := file != ""
	if file != "" && file != "-" {
		f, err := os.Create(file)
		if err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		defer f.Close()
		w = f
	}
	if w == io.Writer(os.Stdout) {
		// A reader that goes away (| head) must end the capture with a
		// clean EPIPE, not kill the process with SIGPIPE.
		signal.Ignore(syscall.SIGPIPE)
	}
	p, err := devices.OpenPacket(iface)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	var (
		once              sync.Once
		received, dropped uint64
		statsErr          error
	)
	finish := func() {
		once.Do(func() {
			received, dropped, statsErr = p.Stats()
			p.Close()
		})
	}
	defer finish()
	context.AfterFunc(ctx, finish) // wakes ReadFrame

	out := make([]byte, 0, 512)
	if pcap {
		out = capture.AppendPcapHeader(out)
		if _, err := w.Write(out); err != nil {
			return writeError(err)
		}
	}
	fmt.Fprintf(stderr, "smolfs dump: listening on %s, link-type EN10MB (Ethernet)\n", iface)

	var td tcpdump.Stream
	buf := make([]byte, dumpBufSize)
	frames := 0
	for {
		n, wireLen, t, _, err := p.ReadFrame(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) && ctx.Err() != nil {
				break
			}
			if errors.Is(err, syscall.ENETDOWN) {
				if _, ierr := net.InterfaceByName(iface); ierr != nil {
					return fmt.Errorf("dump: %s went away after %d frames", iface, frames)
				}
				fmt.Fprintf(stderr, "smolfs dump: %s went down; waiting for it to come up again\n", iface)
				continue
			}
			return fmt.Errorf("dump: %w", err)
		}
		if pcap {
			out = capture.AppendPcapRecord(out[:0], t, buf[:n], wireLen)
		} else {
			out = append(td.Append(out[:0], t, buf[:n], wireLen), '\n')
		}
		// One write per frame: a pipe's reader sees every frame as it happens.
		if _, err := w.Write(out); err != nil {
			if errors.Is(err, syscall.EPIPE) {
				break
			}
			return writeError(err)
		}
		frames++
	}
	finish()
	if statsErr != nil {
		fmt.Fprintf(stderr, "smolfs dump: %d frames captured (%v)\n", frames, statsErr)
		return nil
	}
	fmt.Fprintf(stderr, "smolfs dump: %d frames captured, %d received by the socket, %d dropped by the kernel\n", frames, received, dropped)
	return nil
}

func writeError(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return fmt.Errorf("dump: writing the capture: %w", err)
}
