// Command arpflood is a load generator for smolfs's endurance tests: it
// sends ARP who-has requests for one target address from many distinct
// senders (consecutive IPv4 addresses, each with a hardware address of its
// own) through a raw AF_PACKET socket on one interface, counts the target's
// replies, and prints one summary line.
//
// It runs in the namespace that holds the interface (ip netns exec NS
// arpflood ...). Every loop is bounded: at most -count requests, none after
// -duration, and in window mode a silence of -timeout while requests are
// unanswered counts them as lost.
//
// Two modes: with -window K (the default, K=64) at most K requests are
// unanswered at any time, so the target sets the pace and the reply rate is
// what it can sustain (netbench's loadgen measures the same way); with
// -window 0 requests go out at -rate per second (0: as fast as the socket
// takes them) whatever the target does, the flood that a stack must survive.
//
// The summary is one line of name=value pairs on standard output:
//
//	sent=1000000 replies=1000000 lost=0 seconds=9.412 request_rate=106247 reply_rate=106247
//
// Exit status: 0 when the flood ran (however many replies came back), 1 when
// it could not (no such interface, no privileges), 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// config is the command line.
type config struct {
	iface    string
	target   netip.Addr
	src      netip.Addr // the first sender
	senders  int        // distinct senders, used in turn
	count    int        // requests in all
	duration time.Duration
	window   int // unanswered requests at most; 0: open loop
	rate     int // requests per second in open loop; 0: as fast as possible
	timeout  time.Duration
	dst      wire.MAC
}

const usageLine = "usage: arpflood -i IFACE -target IP [-src IP] [-senders N] [-count N] [-duration D] [-window K | -window 0 [-rate R]] [-dst MAC]"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "arpflood: %v\n%s\n", err, usageLine)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := flood(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "arpflood: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("arpflood", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nSends ARP who-has TARGET from N distinct senders (SRC, SRC+1, ... each with\nits own hardware address 02:a5:xx:xx:xx:xx) on IFACE and counts the replies.\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.iface, "i", "", "send on the interface `IFACE` (required)")
	target := fs.String("target", "", "ask for `IP` (required)")
	src := fs.String("src", "10.1.0.0", "the first sender address `IP`; the others follow it (the target is skipped)")
	fs.IntVar(&cfg.senders, "senders", 1_000_000, "`N` distinct senders, used in turn")
	fs.IntVar(&cfg.count, "count", 0, "send `N` requests in all (default: one per sender)")
	fs.DurationVar(&cfg.duration, "duration", time.Minute, "send no request after `D`")
	fs.IntVar(&cfg.window, "window", 64, "keep at most `K` requests unanswered; 0 sends open loop at -rate")
	fs.IntVar(&cfg.rate, "rate", 0, "open loop only: `R` requests per second (0: as fast as the socket takes them)")
	fs.DurationVar(&cfg.timeout, "timeout", 200*time.Millisecond, "window mode: unanswered requests count as lost after `D` without a reply")
	dst := fs.String("dst", "ff:ff:ff:ff:ff:ff", "Ethernet destination `MAC` of the requests")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.iface == "" {
		return nil, errors.New("-i IFACE is required")
	}
	var err error
	if cfg.target, err = parseIPv4("-target", *target); err != nil {
		return nil, err
	}
	if cfg.src, err = parseIPv4("-src", *src); err != nil {
		return nil, err
	}
	if cfg.dst, err = wire.ParseMAC(*dst); err != nil {
		return nil, fmt.Errorf("-dst %q: not a hardware address", *dst)
	}
	if cfg.senders < 1 || cfg.senders > maxSenders {
		return nil, fmt.Errorf("-senders %d: want 1 to %d", cfg.senders, maxSenders)
	}
	if cfg.count == 0 {
		cfg.count = cfg.senders
	}
	switch {
	case cfg.count < 0:
		return nil, fmt.Errorf("-count %d: want a positive number", cfg.count)
	case cfg.duration <= 0:
		return nil, fmt.Errorf("-duration %v: want a positive duration", cfg.duration)
	case cfg.window < 0:
		return nil, fmt.Errorf("-window %d: want 0 (open loop) or more", cfg.window)
	case cfg.rate < 0:
		return nil, fmt.Errorf("-rate %d: want 0 (as fast as possible) or more", cfg.rate)
	case cfg.rate > 0 && cfg.window > 0:
		return nil, errors.New("-rate applies to open loop only: give -window 0 with it")
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("-timeout %v: want a positive duration", cfg.timeout)
	}
	// The senders must not run past 255.255.255.255 (one more address
	// stands in for the target, which is skipped).
	last := uint64(ipv4(cfg.src)) + uint64(cfg.senders)
	if last > 0xffffffff {
		return nil, fmt.Errorf("-src %s -senders %d runs past 255.255.255.255", cfg.src, cfg.senders)
	}
	return cfg, nil
}

func parseIPv4(name, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%s IP is required", name)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q: not an IPv4 address", name, s)
	}
	return a, nil
}
