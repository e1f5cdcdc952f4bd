package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
	"github.com/smolfs/smolfs/netcore/wire"
)

var pingCommand = &command{
	name:     "ping",
	synopsis: "ping [-addr HOST:PORT|unix:PATH] [-host NAME] [-c COUNT] [-i SECONDS] [-s SIZE] [-W SECONDS] IP",
	summary:  "ping from a host of a running server, printing what iputils ping prints",
	about: `Pings IP from a host of a running server, through the tree's files alone
(icmp/clone, N/ctl, N/data, N/status): it is a 9P client of the server, and
needs no mount. It prints what iputils ping prints, line for line: the
header, a line per reply ("64 bytes from 192.168.69.100: icmp_seq=1 ttl=64
time=0.210 ms") or per error ("From 192.168.69.1 icmp_seq=1 Destination Host
Unreachable"), and the statistics at the end (after -c replies, or Ctrl-C).
Round-trip times are measured here, so they include the 9P round trips to the
server.

Exit status, as ping's: 0 if any reply came, 1 if none did, 2 on an error
(the server cannot be reached, no route: "ping: connect: Network is
unreachable").`,
	examples: `  smolfs ping -c 3 192.168.69.100
  smolfs ping -host tap1 -c 1 -s 3000 10.0.0.2        # fragmented both ways
  smolfs ping -c 5 -i 0.2 -W 1 192.168.69.7           # nobody there: exit 1`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		addr := flags.String("addr", defaultListen, "the server's address: `HOST:PORT` for TCP, or unix:PATH (smolfs serve's -listen)")
		host := flags.String("host", "", "the host to ping from, by `NAME` (default: the server's only host)")
		count := flags.Int("c", 0, "stop after `COUNT` replies (0: until Ctrl-C)")
		interval := flags.Float64("i", 1, "`SECONDS` between requests")
		size := flags.Int("s", 56, "`SIZE` bytes of data in each request (at most 65507)")
		linger := flags.Float64("W", 10, "`SECONDS` to wait for replies after the last request")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usagef("want one IP, got %d arguments", len(args))
			}
			ip, err := netip.ParseAddr(args[0])
			switch {
			case err != nil || !ip.Is4():
				return usagef("%q is not an IPv4 address", args[0])
			case *count < 0:
				return usagef("-c %d: want 0 or more", *count)
			case *interval < 0.002 || *interval > 3600:
				return usagef("-i %g: want 0.002 to 3600 seconds", *interval)
			case *size < 0 || *size > 65507:
				return usagef("-s %d: want 0 to 65507", *size)
			case *linger <= 0 || *linger > 3600:
				return usagef("-W %g: want more than 0, up to 3600 seconds", *linger)
			}
			p := &pinger{ip: ip, count: *count, size: *size, out: stdout, errOut: stderr,
				interval: time.Duration(*interval * float64(time.Second)), linger: time.Duration(*linger * float64(time.Second))}
			return p.run(ctx, *addr, *host)
		}
	},
}

// exitError ends a command with a status of its own, its words (if any)
// already printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }

// pinger is one run of smolfs ping, with iputils ping's counters.
type pinger struct {
	ip               netip.Addr
	count, size      int
	interval, linger time.Duration
	out, errOut      io.Writer

	mu                sync.Mutex
	start, last       time.Time // the first request, and now for the statistics
	sent              map[uint16]time.Time
	seen              map[uint16]bool
	transmitted       int
	received, repeats int
	errs, pipe        int
	tmin, tmax        int64 // µs
	tsum, tsum2       int64
	done              chan struct{} // closed when -c replies and errors have come
}

func (p *pinger) run(ctx context.Context, addr, host string) error {
	s, err := openConvSession(ctx, addr, host)
	if err != nil {
		return err
	}
	defer s.m.Close()
	c, err := s.clone(ctx, "icmp")
	if err != nil {
		return err
	}
	if err := c.command(ctx, "connect "+p.ip.String()); err != nil {
		// iputils' words for a connect that fails, from the errno.
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return err
		}
		fmt.Fprintf(p.errOut, "ping: connect: %s\n", capitalize(errno.Error()))
		return &exitError{2}
	}
	data, err := c.openFile(ctx, "data")
	if err != nil {
		return err
	}
	p.sent, p.seen, p.tmin, p.done = map[uint16]time.Time{}, map[uint16]bool{}, math.MaxInt64, make(chan struct{})
	fmt.Fprintf(p.out, "PING %s (%s) %d(%d) bytes of data.\n", p.ip, p.ip, p.size, p.size+wire.ICMPHeaderLen+wire.IPv4MinLen)

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	readErr := make(chan error, 1)
	go func() { readErr <- p.receive(rctx, c, data) }()

	msg := make([]byte, wire.ICMPHeaderLen+p.size)
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	var lingering <-chan time.Time
	for seq := uint16(1); ; seq++ {
		p.fill(msg, seq)
		p.mu.Lock()
		p.sent[seq] = time.Now()
		if p.start.IsZero() {
			p.start = p.sent[seq]
		}
		p.transmitted++
		p.mu.Unlock()
		if _, err := s.m.Write(ctx, data, 0, msg); err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("sending icmp_seq=%d: %w", seq, err)
		}
		if p.count > 0 && int(seq) >= p.count {
			lingering = time.After(p.linger)
			break
		}
		select {
		case <-tick.C:
			continue
		case <-p.done:
		case <-ctx.Done():
		case err := <-readErr:
			return err
		}
		break
	}
	select {
	case <-p.done:
	case <-lingering:
	case <-ctx.Done():
	case err := <-readErr:
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	stop()
	if code := p.finish(); code != 0 {
		return &exitError{code}
	}
	return nil
}

// fill makes request seq: iputils' layout, a timeval and then the bytes
// 0x10, 0x11, ... (the host fills in the identifier and the checksum).
func (p *pinger) fill(msg []byte, seq uint16) {
	msg[wire.ICMPTypeOff] = byte(wire.ICMPEchoRequest)
	binary.BigEndian.PutUint16(msg[wire.ICMPSeqOff:], seq)
	data := msg[wire.ICMPHeaderLen:]
	for i := range data {
		data[i] = byte(i)
	}
	if len(data) >= 16 {
		now := time.Now()
		binary.LittleEndian.PutUint64(data, uint64(now.Unix()))
		binary.LittleEndian.PutUint64(data[8:], uint64(now.Nanosecond()/1000))
	}
}

// receive reads the conversation's messages and prints a line for each
// reply and each error, until ctx ends. Where a message came from, and its
// TTL, are in the status file, which is read (opened afresh: an open file
// is a snapshot) after each message.
func (p *pinger) receive(ctx context.Context, c *conv, data uint32) error {
	buf := make([]byte, int(c.s.m.Msize()-ninep.IOHeader)) // a whole 65515-byte reply
	for {
		n, err := c.s.m.Read(ctx, data, 0, buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		at := time.Now()
		from, ttl := p.ip, 0
		if st, err := c.readFile(ctx, "status"); err == nil {
			from, ttl = parseStatusFrom(st, from)
		}
		p.message(buf[:n], at, from, ttl)
	}
}

// parseStatusFrom reads `from IP rcvttl N` of a conversation's status.
func parseStatusFrom(st string, from netip.Addr) (netip.Addr, int) {
	f := strings.Fields(st)
	ttl := 0
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "from":
			if a, err := netip.ParseAddr(f[i+1]); err == nil {
				from = a
			}
		case "rcvttl":
			ttl, _ = strconv.Atoi(f[i+1])
		}
	}
	return from, ttl
}

// message prints the line of one message read, as iputils does.
func (p *pinger) message(m []byte, at time.Time, from netip.Addr, ttl int) {
	if len(m) < wire.ICMPHeaderLen {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	typ := wire.ICMPType(m[wire.ICMPTypeOff])
	if typ == wire.ICMPEchoReply {
		seq := binary.BigEndian.Uint16(m[wire.ICMPSeqOff:])
		sent, ok := p.sent[seq]
		if !ok {
			return
		}
		p.acknowledge(seq)
		rtt := at.Sub(sent).Microseconds()
		dup := p.seen[seq]
		if dup {
			p.repeats++
		} else {
			p.seen[seq] = true
			p.received++
			p.tsum += rtt
			p.tsum2 += rtt * rtt
			p.tmin, p.tmax = min(p.tmin, rtt), max(p.tmax, rtt)
		}
		line := fmt.Sprintf("%d bytes from %s: icmp_seq=%d ttl=%d time=%s ms", len(m), from, seq, ttl, tripTime(rtt))
		if dup {
			line += " (DUP!)"
		}
		fmt.Fprintln(p.out, line)
	} else if typ.IsError() {
		_, inner, err := wire.QuotedIPv4(m[wire.ICMPQuoteOff:])
		if err != nil || wire.ICMPType(inner[wire.ICMPTypeOff]) != wire.ICMPEchoRequest {
			return
		}
		seq := binary.BigEndian.Uint16(inner[wire.ICMPSeqOff:])
		if _, ok := p.sent[seq]; !ok {
			return
		}
		p.acknowledge(seq)
		p.errs++
		fmt.Fprintf(p.out, "From %s icmp_seq=%d %s\n", from, seq, icmpErrorText(typ, m[wire.ICMPCodeOff], binary.BigEndian.Uint32(m[wire.ICMPIdentOff:])))
	} else {
		return
	}
	if p.count > 0 && p.received+p.errs >= p.count {
		select {
		case <-p.done:
		default:
			close(p.done)
		}
	}
}

// acknowledge keeps iputils' pipe: the most requests ever in flight.
func (p *pinger) acknowledge(seq uint16) {
	if diff := uint16(p.transmitted) - seq; diff <= 0x7fff && int(diff)+1 > p.pipe {
		p.pipe = int(diff) + 1
	}
}

// tripTime is iputils' rendering of a round trip of us microseconds: three
// significant digits, at least.
func tripTime(us int64) string {
	switch {
	case us >= 100000-50:
		return strconv.FormatInt((us+500)/1000, 10)
	case us >= 10000-5:
		return fmt.Sprintf("%d.%01d", (us+50)/1000, (us+50)%1000/100)
	case us >= 1000:
		return fmt.Sprintf("%d.%02d", (us+5)/1000, (us+5)%1000/10)
	}
	return fmt.Sprintf("%d.%03d", us/1000, us%1000)
}

// icmpErrorText is iputils' pr_icmph for the errors a ping can get.
func icmpErrorText(typ wire.ICMPType, code uint8, info uint32) string {
	switch typ {
	case wire.ICMPDestUnreachable:
		texts := [...]string{"Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
			"Destination Port Unreachable", "", "Source Route Failed", "Destination Net Unknown", "Destination Host Unknown",
			"Source Host Isolated", "Destination Net Prohibited", "Destination Host Prohibited",
			"Destination Net Unreachable for Type of Service", "Destination Host Unreachable for Type of Service",
			"Packet filtered", "Precedence Violation", "Precedence Cutoff"}
		switch {
		case code == wire.ICMPFragNeeded:
			return fmt.Sprintf("Frag needed and DF set (mtu = %d)", info&0xffff)
		case int(code) < len(texts):
			return texts[code]
		}
		return fmt.Sprintf("Dest Unreachable, Bad Code: %d", code)
	case wire.ICMPSourceQuench:
		return "Source Quench"
	case wire.ICMPTimeExceeded:
		switch code {
		case wire.ICMPTTLExceeded:
			return "Time to live exceeded"
		case wire.ICMPReassemblyExceeded:
			return "Frag reassembly time exceeded"
		}
		return fmt.Sprintf("Time exceeded, Bad Code: %d", code)
	case wire.ICMPParamProblem:
		return fmt.Sprintf("Parameter problem: pointer = %d", info>>24)
	case wire.ICMPRedirect:
		return "Redirect"
	}
	return fmt.Sprintf("Bad ICMP type: %d", typ)
}

// finish prints iputils' statistics and returns ping's exit status.
func (p *pinger) finish() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Duration(0)
	if !p.start.IsZero() {
		elapsed = time.Since(p.start)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n--- %s ping statistics ---\n", p.ip)
	fmt.Fprintf(&b, "%d packets transmitted, %d received", p.transmitted, p.received)
	if p.repeats > 0 {
		fmt.Fprintf(&b, ", +%d duplicates", p.repeats)
	}
	if p.errs > 0 {
		fmt.Fprintf(&b, ", +%d errors", p.errs)
	}
	if p.transmitted > 0 {
		loss := float32(float64(p.transmitted-p.received) * 100 / float64(p.transmitted))
		fmt.Fprintf(&b, ", %s%% packet loss, time %dms", strconv.FormatFloat(float64(loss), 'g', 6, 32), (elapsed+500*time.Microsecond)/time.Millisecond)
	}
	b.WriteByte('\n')
	comma := ""
	if p.received > 0 {
		total := int64(p.received + p.repeats)
		avg := p.tsum / total
		var variance int64
		if p.tsum < math.MaxInt32 {
			variance = (p.tsum2 - p.tsum*p.tsum/total) / total
		} else {
			variance = p.tsum2/total - avg*avg
		}
		mdev := isqrt(variance)
		fmt.Fprintf(&b, "rtt min/avg/max/mdev = %d.%03d/%d.%03d/%d.%03d/%d.%03d ms",
			p.tmin/1000, p.tmin%1000, avg/1000, avg%1000, p.tmax/1000, p.tmax%1000, mdev/1000, mdev%1000)
		comma = ", "
	}
	if p.pipe > 1 {
		fmt.Fprintf(&b, "%spipe %d", comma, p.pipe)
	}
	b.WriteByte('\n')
	io.WriteString(p.out, b.String())
	if p.received == 0 {
		return 1
	}
	return 0
}

// isqrt is iputils' llsqrt: Newton's method in integers.
func isqrt(a int64) int64 {
	x, prev := a, int64(math.MaxInt64)
	if x > 0 {
		for x < prev {
			prev = x
			x = (x + a/x) / 2
		}
	}
	return x
}

// capitalize makes Go's errno words ping's: "network is unreachable" ->
// "Network is unreachable".
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
