package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var dialCommand = &command{
	name:     "dial",
	synopsis: "dial [-addr HOST:PORT|unix:PATH] [-host NAME] [-q SECONDS] NET!IP!PORT",
	summary:  "netcat over the tree: standard input to a UDP or TCP conversation, its data to standard output",
	about: `Makes a conversation of a host of a running server (udp or tcp), connects it
to IP!PORT and copies standard input to it and what it receives to standard
output, as netcat does, through the tree's files alone (PROTO/clone, N/ctl,
N/data): it is a 9P client of the server, and needs no mount.

NET!IP!PORT is the network and the remote address: udp!192.168.69.100!7
(quoted in an interactive shell, where ! is history expansion). The address
may also be written IP:PORT or [IPv6]:PORT.

UDP: each read of standard input is sent as one datagram, and each datagram
received is written to standard output as it comes. At the end of standard
input dial goes on printing what arrives: until Ctrl-C, or -q seconds.
TCP: at the end of standard input the conversation is closed for sending
(FIN) and dial prints what arrives until the remote closes too; when the
remote closes first, dial goes on sending its input to the end (a terminal's
input excepted: then dial ends with the remote's close).

A connect that fails says why (the words of the conversation's err file:
"192.168.69.7 is not on a connected subnet"). Exit status: 0 at the end (and
after Ctrl-C), 1 when anything failed, 2 for a usage error.`,
	examples: `  smolfs dial 'udp!192.168.69.100!7'    # type lines: each is a datagram
  echo hello | smolfs dial -q 1 'udp!192.168.69.100!7'
  smolfs dial -host tap1 'udp!10.0.0.2:53' <query.bin >answer.bin
  smolfs dial 'tcp!192.168.69.100!80' <request.txt`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		addr := flags.String("addr", defaultListen, "the server's address: `HOST:PORT` for TCP, or unix:PATH (smolfs serve's -listen)")
		host := flags.String("host", "", "the host to dial from, by `NAME` (default: the server's only host)")
		quit := flags.Float64("q", -1, "after the end of standard input, quit after `SECONDS` (negative: wait for the remote\nto close a TCP conversation, or for Ctrl-C)")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usagef("want one NET!IP!PORT, got %d arguments", len(args))
			}
			ds, err := parseDialString(args[0], false)
			if err != nil {
				return err
			}
			if stdout == io.Writer(os.Stdout) {
				signal.Ignore(syscall.SIGPIPE) // | head ends the copy with EPIPE
			}
			var q time.Duration = -1
			if *quit >= 0 {
				q = time.Duration(*quit * float64(time.Second))
			}
			err = dial(ctx, *addr, *host, ds, q, dialStdin, stdout, isTerminal(dialStdin))
			switch {
			case err == nil, ctx.Err() != nil, errors.Is(err, syscall.EPIPE):
				return nil
			}
			return fmt.Errorf("dial %s: %w", args[0], err)
		}
	},
}

// dialStdin is what dial sends; tests replace it.
var dialStdin io.Reader = os.Stdin

// isTerminal reports whether r is a terminal (a character device).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// dial copies stdin to a new conversation and the conversation to stdout.
// A TCP dial ends when both directions have: the remote closed and stdin
// ended (and was sent), or, with interactive input, the remote closed.
func dial(ctx context.Context, addr, host string, ds dialString, quit time.Duration, stdin io.Reader, stdout io.Writer, interactive bool) error {
	s, err := openConvSession(ctx, addr, host)
	if err != nil {
		return err
	}
	defer s.m.Close()
	c, err := s.clone(ctx, ds.proto)
	if err != nil {
		return err
	}
	if err := c.command(ctx, "connect "+ds.addr); err != nil {
		return err
	}
	data, err := c.openFile(ctx, "data")
	if err != nil {
		return err
	}
	tcp := ds.proto == "tcp"
	done := make(chan error, 2)
	inEnd := make(chan struct{})
	go func() { // standard input to the conversation
		buf := make([]byte, s.ioSize())
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				if _, werr := s.m.Write(ctx, data, 0, buf[:n]); werr != nil {
					done <- werr
					return
				}
			}
			if err == io.EOF {
				if tcp {
					if err := c.command(ctx, "close"); err != nil {
						done <- err
						return
					}
				}
				close(inEnd)
				return
			}
			if err != nil {
				done <- fmt.Errorf("reading standard input: %w", err)
				return
			}
		}
	}()
	go func() { // the conversation to standard output; nil: the remote closed
		// Always at offset 0: data has no offsets, and a read at the end
		// of the last would be answered at once with nothing (the
		// server's rule for Linux's read loop).
		done <- copyData(ctx, s.newDataReader(data, tcp), stdout, tcp, func() {})
	}()
	var timeout <-chan time.Time
	remoteDone := false
	for {
		select {
		case err := <-done:
			if err != nil || !tcp || interactive || inEnd == nil {
				return err
			}
			remoteDone = true // the remote closed: send the rest of stdin
		case <-inEnd:
			inEnd = nil
			if remoteDone {
				return nil
			}
			if quit >= 0 {
				timeout = time.After(quit)
			}
		case <-timeout:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
