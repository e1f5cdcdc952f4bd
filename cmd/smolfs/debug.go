package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"
)

// debugRequestWait is how long the debug endpoint waits for a request
// line (or the end of the client's input) before it dumps anyway. The line
// is read whole: a "free" that arrives late must not be taken for no
// request, so the wait is long, and a client that asks for nothing says so
// with an empty line or by closing its side (echo | nc, nc -N).
const debugRequestWait = 10 * time.Second

// checkDebugAddr accepts HOST:PORT where HOST is a loopback address or
// localhost: the goroutine dump shows the server's insides and its
// clients' requests, and serving it beyond the machine would be worth
// nothing that outweighs that.
func checkDebugAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT")
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return errors.New("served on loopback only: use 127.0.0.1:PORT or [::1]:PORT")
	}
	return nil
}

// serveDebug answers every connection to addr with the goroutine profile
// and then the heap profile in pprof's text form (debug=1: the first line is
// "goroutine profile: total N", and the heap's ends with the runtime's
// memory statistics), and closes it. Plain text over TCP rather than
// net/http/pprof, which would double the binary and add a third to the idle
// RSS: `echo | nc 127.0.0.1 PORT` or bash's /dev/tcp reads it.
//
// The client sends one line first: "free" runs debug.FreeOSMemory (a
// collection, and every free page back to the kernel) before the dump, so
// that the RSS measured right after compares between two moments of rest
// whenever the last collections happened to run; anything else, an empty
// line, the end of its input, or nothing within debugRequestWait, is just
// the dump.
func serveDebug(addr string, logger *slog.Logger) (net.Listener, error) {
	if err := checkDebugAddr(addr); err != nil {
		return nil, fmt.Errorf("-debug %q: %w", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-debug: listen on %s: %w", addr, errors.Unwrap(err))
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				if !errors.Is(err, net.ErrClosed) {
					logger.Error("debug endpoint stopped", "err", err)
				}
				return
			}
			// One at a time: a dump takes milliseconds, and a reader
			// that does not read is cut off by the deadline.
			c.SetReadDeadline(time.Now().Add(debugRequestWait))
			line, _ := bufio.NewReader(io.LimitReader(c, 64)).ReadString('\n')
			if strings.TrimSpace(line) == "free" {
				debug.FreeOSMemory()
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			pprof.Lookup("goroutine").WriteTo(c, 1)
			c.Write([]byte("\n"))
			pprof.Lookup("heap").WriteTo(c, 1)
			c.Close()
		}
	}()
	logger.Info("serving goroutine and heap profiles", "debug", l.Addr().String())
	return l, nil
}
