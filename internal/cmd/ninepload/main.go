// Command ninepload is a load generator for smolfs's endurance tests: N 9P
// clients, each on a connection of its own, read the same files over and over
// (walk, open, read to the end, clunk), as N people running `watch cat` on a
// mount would, and it reports how many reads were answered.
//
// It is built without the race detector by the tests that use it, so that
// its own cost stays small and the same whatever the tests are built with.
//
// Every client attaches before any reads (then "attached N" goes to standard
// error), and the first polls are spread over the interval, as independent
// watchers' would be. Every client polls at least once; after -duration none
// starts another poll, and a read not answered within -timeout fails.
//
// The summary is one line of name=value pairs on standard output:
//
//	clients=50 reads=500 failures=0 min_reads=10 seconds=5.001
//
// min_reads is the fewest reads any one client had answered. Failures are
// described on standard error (the first few). Exit status: 0 when the
// clients ran (whatever the failures: the caller judges), 1 when they could
// not attach, 2 for a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hugelgupf/p9/p9"
)

type config struct {
	addr     string
	clients  int
	interval time.Duration
	duration time.Duration
	timeout  time.Duration
	files    [][]string // walk paths
}

const usageLine = "usage: ninepload [-addr HOST:PORT] [-clients N] [-interval D] [-duration D] [-timeout D] FILE..."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ninepload: %v\n%s\n", err, usageLine)
		return 2
	}
	r, err := load(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ninepload: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, r)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("ninepload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nN 9P2000.L clients read each FILE (a path of the tree, such as tap0/stats)\nonce per interval, and the answered reads are counted.\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:5640", "the server's `HOST:PORT`")
	fs.IntVar(&cfg.clients, "clients", 50, "`N` clients, each on its own connection")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "each client reads every FILE once per `D` (0: back to back)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "stop after `D`")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "a read not answered within `D` fails (and ends its client)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() == 0:
		return nil, errors.New("want at least one FILE")
	case cfg.clients < 1 || cfg.clients > 10000:
		return nil, fmt.Errorf("-clients %d: want 1 to 10000", cfg.clients)
	case cfg.interval < 0:
		return nil, fmt.Errorf("-interval %v: want 0 or more", cfg.interval)
	case cfg.duration <= 0 || cfg.timeout <= 0:
		return nil, errors.New("-duration and -timeout must be positive")
	}
	for _, f := range fs.Args() {
		f = strings.Trim(f, "/")
		if f == "" {
			return nil, errors.New("a FILE is empty")
		}
		cfg.files = append(cfg.files, strings.Split(f, "/"))
	}
	return cfg, nil
}

// result is what the clients did.
type result struct {
	clients, reads, failures, minReads int
	seconds                            float64
}

func (r result) String() string {
	return fmt.Sprintf("clients=%d reads=%d failures=%d min_reads=%d seconds=%.3f", r.clients, r.reads, r.failures, r.minReads, r.seconds)
}

// client is one 9P session.
type client struct {
	conn net.Conn
	c    *p9.Client
	root p9.File
	buf  []byte
}

func attach(addr string, timeout time.Duration) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, err := p9.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("version: %w", err)
	}
	root, err := c.Attach("")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("attach: %w", err)
	}
	conn.SetDeadline(time.Time{})
	return &client{conn: conn, c: c, root: root, buf: make([]byte, 64<<10)}, nil
}

func (c *client) close() {
	c.root.Close()
	c.c.Close()
}

// read reads a whole file; the connection's deadline bounds it.
func (c *client) read(path []string, timeout time.Duration) error {
	c.conn.SetDeadline(time.Now().Add(timeout))
	defer c.conn.SetDeadline(time.Time{}) // idle between reads is fine
	_, f, err := c.root.Walk(path)
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	defer f.Close()
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	var off int64
	for {
		n, err := f.ReadAt(c.buf, off)
		off += int64(n)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("read at %d: %w", off, err)
		}
	}
}

func load(cfg *config, stderr io.Writer) (result, error) {
	clients := make([]*client, cfg.clients)
	for i := range clients {
		c, err := attach(cfg.addr, cfg.timeout)
		if err != nil {
			for _, c := range clients[:i] {
				c.close()
			}
			return result{}, fmt.Errorf("client %d of %d: %s: %w", i+1, cfg.clients, cfg.addr, err)
		}
		clients[i] = c
	}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	fmt.Fprintf(stderr, "attached %d\n", cfg.clients)

	var (
		failures atomic.Int64
		reported atomic.Int64
		counts   = make([]int, cfg.clients)
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(cfg.duration)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(time.Duration(i) * cfg.interval / time.Duration(cfg.clients))
			for first := true; ; first = false {
				// Every client polls at least once, however late.
				if !first && !next.Before(end) {
					return
				}
				time.Sleep(time.Until(next))
				for _, p := range cfg.files {
					if err := c.read(p, cfg.timeout); err != nil {
						failures.Add(1)
						if reported.Add(1) <= 5 {
							fmt.Fprintf(stderr, "ninepload: client %d: %s: %v\n", i, strings.Join(p, "/"), err)
						}
						return // its connection may be gone
					}
					counts[i]++
				}
				next = next.Add(cfg.interval)
				if now := time.Now(); next.Before(now) {
					next = now // behind: no burst to catch up
				}
			}
		}()
	}
	wg.Wait()
	r := result{clients: cfg.clients, failures: int(failures.Load()), minReads: counts[0], seconds: time.Since(start).Seconds()}
	for _, n := range counts {
		r.reads += n
		r.minReads = min(r.minReads, n)
	}
	return r, nil
}
