// Command udpload is the UDP load generator of scripts/bench.sh: it sends
// datagrams from a kernel socket to a UDP service (smolfs's, through
// `smolfs listen`, or the kernel's own, through socat) and prints one
// summary line.
//
// Two modes:
//
//   - open loop (the default): -count datagrams of -size bytes at -rate per
//     second (0: as fast as the socket takes them), whatever the receiver
//     does; the receiver counts what it got, so the sender only says what
//     it sent and how fast. bench.sh steps the rate up to find the highest
//     at which a reader loses nothing.
//   - -echo: one datagram at a time, each waiting for its echo (or -timeout,
//     which counts it lost): round trips per second and their latency, as
//     ping -f does for ICMP.
//
// Each datagram carries its sequence number in its first 8 bytes, so that
// an echo of an earlier one is not taken for the answer to a later one.
//
// The summary is one line of name=value pairs on standard output:
//
//	sent=100000 seconds=2.000 rate=50000
//	sent=20000 replies=20000 lost=0 seconds=1.412 rate=14164 rtt_p50_us=66 rtt_p99_us=131
//
// Exit status: 0 when the load ran (however many replies came back), 1 when
// it could not, 2 for a usage error.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

const usageLine = "usage: udpload -to IP:PORT [-size N] [-count N] [-duration D] [-lead D] [-rate R | -echo [-timeout D]]"

// config is the command line.
type config struct {
	to       netip.AddrPort
	size     int
	count    int
	duration time.Duration
	rate     int
	echo     bool
	timeout  time.Duration
	lead     time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "udpload: %v\n%s\n", err, usageLine)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(cfg.to))
	if err != nil {
		fmt.Fprintf(stderr, "udpload: %v\n", err)
		return 1
	}
	defer conn.Close()
	var res fmt.Stringer
	if cfg.echo {
		res, err = echo(ctx, conn, cfg)
	} else {
		res, err = flood(ctx, conn, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "udpload: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("udpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nSends UDP datagrams to IP:PORT: open loop at a rate, or one at a time\nwaiting for each echo (-echo).\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	to := fs.String("to", "", "send to `IP:PORT` (required)")
	fs.IntVar(&cfg.size, "size", 64, "datagrams of `N` bytes (8 to 65507)")
	fs.IntVar(&cfg.count, "count", 10000, "send `N` datagrams in all")
	fs.DurationVar(&cfg.duration, "duration", time.Minute, "send nothing after `D`")
	fs.IntVar(&cfg.rate, "rate", 0, "open loop: `R` datagrams per second (0: as fast as the socket takes them)")
	fs.BoolVar(&cfg.echo, "echo", false, "one datagram at a time, each waiting for its echo")
	fs.DurationVar(&cfg.timeout, "timeout", time.Second, "-echo: a datagram whose echo has not come after `D` is lost")
	fs.DurationVar(&cfg.lead, "lead", 0, "open loop: send the first datagram alone, `D` before the others (time for a\nreceiver that starts a process per peer, as smolfs listen does, to start it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.to, err = netip.ParseAddrPort(*to); err != nil || cfg.to.Port() == 0 {
		return nil, fmt.Errorf("-to %q: want IP:PORT", *to)
	}
	switch {
	case cfg.size < 8 || cfg.size > 65507:
		return nil, fmt.Errorf("-size %d: want 8 to 65507 (the sequence number takes 8)", cfg.size)
	case cfg.count < 1:
		return nil, fmt.Errorf("-count %d: want a positive number", cfg.count)
	case cfg.duration <= 0:
		return nil, fmt.Errorf("-duration %v: want a positive duration", cfg.duration)
	case cfg.rate < 0:
		return nil, fmt.Errorf("-rate %d: want 0 (as fast as possible) or more", cfg.rate)
	case cfg.echo && cfg.rate > 0:
		return nil, errors.New("-rate is for open loop: -echo sends one datagram at a time")
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("-timeout %v: want a positive duration", cfg.timeout)
	case cfg.lead < 0:
		return nil, fmt.Errorf("-lead %v: want 0 or a positive duration", cfg.lead)
	}
	return cfg, nil
}

// floodResult is what an open loop sent.
type floodResult struct {
	sent    int
	paced   int     // the datagrams after the lead
	seconds float64 // of those
}

func (r floodResult) String() string {
	return fmt.Sprintf("sent=%d seconds=%.3f rate=%.0f", r.sent, r.seconds, float64(r.paced)/max(r.seconds, 1e-9))
}

// flood sends cfg.count datagrams at cfg.rate. The pace is kept by the
// clock rather than by sleeping a fixed gap per datagram (Go's sleeps are
// tens of microseconds at best): each turn sends what is due by now, then
// sleeps briefly if nothing is. The first datagram goes -lead before the
// others, and the time and rate are those of the others. A send the kernel refuses for want of room
// (ENOBUFS) is a datagram lost on the sender's side, sent as far as the
// receiver is concerned: it is counted.
func flood(ctx context.Context, conn *net.UDPConn, cfg *config) (floodResult, error) {
	b := make([]byte, cfg.size)
	sent := 0
	if cfg.lead > 0 {
		if _, err := conn.Write(b); err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.ECONNREFUSED) {
			return floodResult{}, err
		}
		sent++
		select {
		case <-ctx.Done():
		case <-time.After(cfg.lead):
		}
	}
	start := time.Now()
	end := start.Add(cfg.duration)
	first := sent
	for sent < cfg.count {
		now := time.Now()
		if ctx.Err() != nil || now.After(end) {
			break
		}
		due := cfg.count
		if cfg.rate > 0 {
			due = min(cfg.count, first+int(now.Sub(start).Seconds()*float64(cfg.rate))+1)
		}
		if sent >= due {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		for ; sent < due; sent++ {
			binary.BigEndian.PutUint64(b, uint64(sent))
			if _, err := conn.Write(b); err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.ECONNREFUSED) {
				return floodResult{}, err
			}
		}
	}
	return floodResult{sent: sent, paced: sent - first, seconds: time.Since(start).Seconds()}, nil
}

// echoResult is what a closed loop measured.
type echoResult struct {
	sent, replies int
	seconds       float64
	rtts          []time.Duration // of the replies, sorted
}

func (r echoResult) String() string {
	return fmt.Sprintf("sent=%d replies=%d lost=%d seconds=%.3f rate=%.0f rtt_p50_us=%d rtt_p99_us=%d",
		r.sent, r.replies, r.sent-r.replies, r.seconds, float64(r.replies)/max(r.seconds, 1e-9),
		r.percentile(50).Microseconds(), r.percentile(99).Microseconds())
}

func (r echoResult) percentile(p int) time.Duration {
	if len(r.rtts) == 0 {
		return 0
	}
	return r.rtts[min(len(r.rtts)-1, len(r.rtts)*p/100)]
}

// echo sends one datagram at a time and waits for its echo: a reply whose
// sequence number is not the one awaited (a late echo of a datagram given
// up on) is skipped.
func echo(ctx context.Context, conn *net.UDPConn, cfg *config) (echoResult, error) {
	b := make([]byte, cfg.size)
	in := make([]byte, 65536)
	res := echoResult{rtts: make([]time.Duration, 0, cfg.count)}
	start := time.Now()
	end := start.Add(cfg.duration)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	for ; res.sent < cfg.count && ctx.Err() == nil; res.sent++ {
		t0 := time.Now()
		if t0.After(end) {
			break
		}
		binary.BigEndian.PutUint64(b, uint64(res.sent))
		if _, err := conn.Write(b); err != nil && !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOBUFS) {
			return echoResult{}, err
		}
		conn.SetReadDeadline(t0.Add(cfg.timeout))
		for {
			n, err := conn.Read(in)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					continue // an ICMP error from before the service was up
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break // lost
				}
				return echoResult{}, err
			}
			if n >= 8 && binary.BigEndian.Uint64(in) == uint64(res.sent) {
				res.replies++
				res.rtts = append(res.rtts, time.Since(t0))
				break
			}
		}
	}
	res.seconds = time.Since(start).Seconds()
	slices.Sort(res.rtts)
	return res, nil
}
