// Command bench9p is a 9P2000.L load client: N connections in parallel, each
// looping walk+open+read+clunk of one file, one request at a time, for a
// fixed duration. It speaks plain "9P2000.L" and attaches as a named user
// with a numeric uid, so it measures smolfs and diod alike
// (scripts/bench9p.sh runs it against both).
//
// Setup (version, attach, one checked read of the file) goes through
// internal/ninep; the timed loop then writes pre-encoded requests and reads
// replies straight from the connection, so that the client spends as little
// CPU as it can: on a small machine the client and the server share the
// cores, and a heavy client flattens every ratio towards 1.
//
// Output: one line, `RESULT LABEL CONNS OPS OPS_PER_S P50_US P99_US`, after
// a human-readable one on standard error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
)

type options struct {
	addr, aname, uname string
	nuname             uint
	conns              int
	duration, warmup   time.Duration
	path               string
	label              string
	msize              uint
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:5640", "server `ADDR`: HOST:PORT or unix:PATH")
	flag.StringVar(&o.aname, "aname", "", "attach `NAME` (diod: the exported directory)")
	flag.StringVar(&o.uname, "uname", "root", "attach as user `NAME`")
	flag.UintVar(&o.nuname, "nuname", 0, "attach as numeric `UID`")
	flag.IntVar(&o.conns, "conns", 1, "`N` connections in parallel")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long to measure")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "how long to run before measuring")
	flag.StringVar(&o.path, "path", "tap0/addr", "the `FILE` to walk to, open, read and clunk")
	flag.StringVar(&o.label, "label", "", "`NAME` of the target in the output (default: the address)")
	flag.UintVar(&o.msize, "msize", 8192+ninep.IOHeader, "`MSIZE` to ask for")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: bench9p [flags]\n\nLoops walk+open+read+clunk of -path on -conns connections for -duration.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || o.conns < 1 || o.duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if o.label == "" {
		o.label = o.addr
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench9p %s: %v\n", o.label, err)
		os.Exit(1)
	}
}

func run(o options) error {
	workers := make([]*worker, o.conns)
	for i := range workers {
		w, err := newWorker(o)
		if err != nil {
			for _, w := range workers[:i] {
				w.nc.Close()
			}
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		workers[i] = w
	}
	defer func() {
		for _, w := range workers {
			w.nc.Close()
		}
	}()
	start := time.Now().Add(o.warmup)
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.loop(start, end)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
	}
	slices.Sort(all)
	ops := len(all)
	if ops == 0 {
		return errors.New("no operation completed in the measured interval")
	}
	rate := float64(ops) / o.duration.Seconds()
	p50, p99 := all[ops/2], all[min(ops-1, ops*99/100)]
	fmt.Fprintf(os.Stderr, "%s: %d conns, %d ops in %v: %.0f ops/s, p50 %v, p99 %v\n", o.label, o.conns, ops, o.duration, rate, p50, p99)
	fmt.Printf("RESULT %s %d %d %.0f %.1f %.1f\n", o.label, o.conns, ops, rate, us(p50), us(p99))
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

const (
	rootFid = 0
	fileFid = 1
	tag     = 1 // one request at a time per connection
)

// worker is one connection and its pre-encoded requests.
type worker struct {
	nc                      net.Conn
	r                       *bufio.Reader
	walk, open, read, clunk []byte
	want                    []byte // the file's contents
	in                      []byte
	lat                     []time.Duration
}

func newWorker(o options) (*worker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := ninep.Dial(ctx, o.addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ninep.NewClient(nc, uint32(o.msize))
	if err != nil {
		return nil, err
	}
	if _, err := c.Attach(rootFid, o.uname, o.aname, uint32(o.nuname)); err != nil {
		c.Close()
		return nil, err
	}
	names := strings.Split(strings.Trim(o.path, "/"), "/")
	// One checked round through the client learns what a read returns.
	if _, err := c.Walk(rootFid, fileFid, names...); err != nil {
		c.Close()
		return nil, err
	}
	if _, _, err := c.Lopen(fileFid, syscall.O_RDONLY); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, c.Msize()-ninep.IOHeader)
	n, err := c.Read(fileFid, 0, buf)
	if err != nil {
		c.Close()
		return nil, err
	}
	if n == 0 {
		c.Close()
		return nil, fmt.Errorf("%s reads empty: nothing to measure", o.path)
	}
	if err := c.Clunk(fileFid); err != nil {
		c.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	// From here on the connection is the worker's: the client has no
	// request in progress and nothing buffered (one reply per request).
	w := &worker{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), want: buf[:n:n], in: make([]byte, c.Msize())}
	w.walk = msg(110, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, rootFid)
		b = binary.LittleEndian.AppendUint32(b, fileFid)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(names)))
		for _, s := range names {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
		return b
	})
	w.open = msg(12, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, fileFid)
		return binary.LittleEndian.AppendUint32(b, syscall.O_RDONLY)
	})
	w.read = msg(116, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, fileFid)
		b = binary.LittleEndian.AppendUint64(b, 0)
		return binary.LittleEndian.AppendUint32(b, uint32(len(buf)))
	})
	w.clunk = msg(120, func(b []byte) []byte { return binary.LittleEndian.AppendUint32(b, fileFid) })
	return w, nil
}

// msg encodes a request of type typ whose fields body appends.
func msg(typ uint8, body func([]byte) []byte) []byte {
	b := []byte{0, 0, 0, 0, typ, tag, 0}
	b = body(b)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// loop runs operations until end, timing those that start after start.
func (w *worker) loop(start, end time.Time) error {
	w.lat = make([]time.Duration, 0, 1<<16)
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			return nil
		}
		if err := w.op(); err != nil {
			return err
		}
		if !t0.Before(start) {
			w.lat = append(w.lat, time.Since(t0))
		}
	}
}

// op is one walk+open+read+clunk, each reply checked.
func (w *worker) op() error {
	if _, err := w.call(w.walk, 111); err != nil {
		return err
	}
	if _, err := w.call(w.open, 13); err != nil {
		return err
	}
	body, err := w.call(w.read, 117)
	if err != nil {
		return err
	}
	if len(body) < 4 || !bytes.Equal(body[4:], w.want) {
		return fmt.Errorf("read returned %q, want %q", body[min(4, len(body)):], w.want)
	}
	_, err = w.call(w.clunk, 121)
	return err
}

// call sends req and returns the body of its reply, which must be of type
// want.
func (w *worker) call(req []byte, want uint8) ([]byte, error) {
	if _, err := w.nc.Write(req); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(w.r, w.in[:4]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(w.in)
	if size < 7 || size > uint32(len(w.in)) {
		return nil, fmt.Errorf("reply of %d bytes", size)
	}
	m := w.in[:size]
	if _, err := io.ReadFull(w.r, m[4:]); err != nil {
		return nil, err
	}
	switch {
	case m[4] == 7 && size == 11:
		return nil, fmt.Errorf("request type %d: %w", req[4], syscall.Errno(binary.LittleEndian.Uint32(m[7:])))
	case m[4] != want || binary.LittleEndian.Uint16(m[5:]) != tag:
		return nil, fmt.Errorf("request type %d: reply type %d tag %d", req[4], m[4], binary.LittleEndian.Uint16(m[5:]))
	}
	return m[7:], nil
}
