package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
)

var listenCommand = &command{
	name:     "listen",
	synopsis: "listen [-addr HOST:PORT|unix:PATH] [-host NAME] [-idle SECONDS] [-quiet] [-service echo|discard|chargen] NET!*!PORT [CMD [ARG...]]",
	summary:  "serve calls to a port of a host: a command per call (Plan 9's listen1), or echo, discard, chargen",
	about: `Announces NET!*!PORT (or NET!IP!PORT, one address of the host) on a host of a
running server and serves each call that comes, as Plan 9's listen1 does:
CMD runs once per call, its standard input and output the call's data, with
$net set to the call's conversation directory in the tree (/tap0/udp/3) and
$remote to the caller's IP!PORT. A UDP call is each new remote IP!PORT: its
datagrams are CMD's input, each write of CMD's output is one datagram back,
and it ends (CMD's input ends) when nothing has come from that remote for
-idle seconds. Each call and its end are reported on standard error (but with -quiet).

-service serves RFC 862 echo, RFC 863 discard or RFC 864 chargen in the
listen process itself, without a process per call.

It is a 9P client of the server (clone, ctl, listen, data), and needs no
mount. Ctrl-C stops it: the announcement and every call end, and commands
still running see the end of their input. Exit status: 0 after Ctrl-C, 1 when
anything failed, 2 for a usage error.`,
	examples: `  smolfs listen 'udp!*!7' cat                   # a UDP echo server, a cat per peer
  smolfs listen -service echo 'udp!*!7'         # the same, in one process
  smolfs listen -idle 5 'udp!*!53' ./resolver   # a UDP call ends 5 s after its last datagram
  smolfs listen 'tcp!*!13' date
  smolfs listen 'udp!*!9' sh -c 'cat >/dev/null'`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		addr := flags.String("addr", defaultListen, "the server's address: `HOST:PORT` for TCP, or unix:PATH (smolfs serve's -listen)")
		host := flags.String("host", "", "the host to listen on, by `NAME` (default: the server's only host)")
		service := flags.String("service", "", "serve `NAME` in this process: echo, discard or chargen")
		quiet := flags.Bool("quiet", false, "do not report each call and its end on standard error (errors still are)")
		idle := flags.Float64("idle", 60, "end a UDP call after `SECONDS` without a datagram from its remote (0: never)")
		return func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return usagef("want NET!*!PORT and a command (or -service)")
			}
			ds, err := parseDialString(args[0], true)
			if err != nil {
				return err
			}
			if *idle < 0 {
				return usagef("-idle %v: want 0 (never) or more seconds", *idle)
			}
			l := &listener{addr: *addr, host: *host, ds: ds, cmd: args[1:], stderr: stderr, quiet: *quiet}
			if ds.proto == "udp" {
				l.idle = time.Duration(*idle * float64(time.Second))
			}
			switch *service {
			case "":
				if len(l.cmd) == 0 {
					return usagef("want a command to run for each call, or -service")
				}
			case "echo", "discard", "chargen":
				if len(l.cmd) > 0 {
					return usagef("-service %s runs no command, got %q", *service, l.cmd[0])
				}
				l.service = *service
			default:
				return usagef("-service %q: want echo, discard or chargen", *service)
			}
			if err := l.run(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("listen %s: %w", args[0], err)
			}
			return nil
		}
	},
}

type listener struct {
	addr, host string
	ds         dialString
	cmd        []string
	service    string
	stderr     io.Writer
	quiet      bool          // no line for each call
	idle       time.Duration // a UDP call ends after this long without a datagram; 0: never

	wg    sync.WaitGroup
	mu    sync.Mutex
	procs map[*exec.Cmd]bool // commands running

	smu      sync.Mutex
	sessions []*callSession // the first is the announcement's
}

// childGrace is how long listen waits, when it stops, for the commands of
// calls to end after their input has: then they are killed.
const childGrace = 2 * time.Second

func (l *listener) run(ctx context.Context) error {
	s, err := openConvSession(ctx, l.addr, l.host)
	if err != nil {
		return err
	}
	l.procs = map[*exec.Cmd]bool{}
	l.sessions = []*callSession{{s: s}}
	defer l.stop()
	a, err := s.clone(ctx, l.ds.proto)
	if err != nil {
		return err
	}
	if err := a.command(ctx, "announce "+l.ds.addr); err != nil {
		return err
	}
	local, _ := a.readFile(ctx, "local")
	l.logf("%s!%s announced as %s", l.ds.proto, local, a.dir())
	// Several calls are taken at once, each listen open waiting at the
	// server, so that a burst of callers is not served one round trip at
	// a time.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, acceptors)
	for range acceptors {
		go func() { errs <- l.accept(actx, a) }()
	}
	err = <-errs
	cancel()
	for range acceptors - 1 {
		<-errs
	}
	return err
}

// acceptors is how many listen opens a listen keeps waiting.
const acceptors = 4

// accept takes calls of the announced conversation a and serves each in a
// goroutine of its own, until an error.
func (l *listener) accept(ctx context.Context, a *conv) error {
	for {
		// The call is taken (listen opened) on the session that will
		// serve it: a session carries at most callsPerSession calls.
		cs, err := l.sessionForCall(ctx)
		if err != nil {
			return err
		}
		fid, err := cs.s.open(ctx, l.ds.proto, strconv.Itoa(a.n), "listen")
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EAGAIN) {
			// A call past the host's bound of conversations (the caller
			// was reset), or the session's requests at the server's
			// bound: the next may fit.
			l.done(cs)
			l.logf("%v", err)
			continue
		}
		if err != nil {
			l.done(cs)
			return err
		}
		call, err := cs.s.convOf(ctx, l.ds.proto, fid)
		if err != nil {
			l.done(cs)
			return err
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.done(cs)
			l.serve(ctx, call)
		}()
	}
}

// callsPerSession bounds the calls one 9P session serves: each keeps
// reads of its data in flight, and the server bounds a session's requests
// in flight (1024) and fids (8192).
func (l *listener) callsPerSession() int { return sessionReads / readDepth(l.ds.proto == "tcp") }

// callSession is a 9P session and how many calls it serves.
type callSession struct {
	s     *convSession
	calls int
}

// sessionForCall finds a session with room for one more call (opening one
// when none has) and counts the call in it.
func (l *listener) sessionForCall(ctx context.Context) (*callSession, error) {
	l.smu.Lock()
	defer l.smu.Unlock()
	for _, cs := range l.sessions {
		if cs.calls < l.callsPerSession() {
			cs.calls++
			return cs, nil
		}
	}
	s, err := openConvSession(ctx, l.addr, l.host)
	if err != nil {
		return nil, err
	}
	cs := &callSession{s: s, calls: 1}
	l.sessions = append(l.sessions, cs)
	return cs, nil
}

// done counts a call of cs as ended.
func (l *listener) done(cs *callSession) {
	l.smu.Lock()
	cs.calls--
	l.smu.Unlock()
}

// stop ends the sessions, which ends every call and the announcement on
// the server, and waits for the calls' commands, which see the end of
// their input, killing those that outlive childGrace.
func (l *listener) stop() {
	l.smu.Lock()
	for _, cs := range l.sessions {
		cs.s.m.Close()
	}
	l.smu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(childGrace):
	}
	l.mu.Lock()
	for p := range l.procs {
		p.Process.Kill()
	}
	l.mu.Unlock()
	<-done
}

// serve serves one call and then lets go of it.
func (l *listener) serve(ctx context.Context, call *conv) {
	s := call.s
	// The caller's address, for the call's line and a command's $remote:
	// a service run -quiet needs neither, and spares the round trips.
	remote := "?"
	if !l.quiet || l.service == "" {
		var err error
		if remote, err = call.readFile(ctx, "remote"); err != nil {
			l.logf("call %s: %v", call.dir(), err)
			s.m.Clunk(call.ctl)
			return
		}
	}
	data, err := call.openFile(ctx, "data")
	if err != nil {
		l.logf("call %s from %s: %v", call.dir(), remote, err)
		s.m.Clunk(call.ctl)
		return
	}
	// Both files go in one write, after the reads in flight are done with
	// (rd.Close, deferred below, runs first).
	defer s.m.ClunkAll(data, call.ctl)
	if !l.quiet {
		l.logf("call %s from %s", call.dir(), remote)
		defer l.logf("call %s from %s ended", call.dir(), remote)
	}
	tcp := l.ds.proto == "tcp"
	// The call's reads: many in flight (see copyData), ended by an error
	// or, for UDP, by the idle time passing.
	rd := s.newDataReader(data, tcp)
	defer rd.Close()
	rctx, touch, stop := withIdle(ctx, l.idle)
	defer stop()
	cr := callReader{rd: rd, ctx: rctx, touch: touch, stop: stop}
	switch l.service {
	case "discard":
		copyData(rctx, rd, io.Discard, tcp, touch)
	case "echo":
		for {
			b, err := cr.next()
			if err != nil || len(b) == 0 && tcp {
				return
			}
			if _, err := s.m.Write(ctx, data, 0, b); err != nil {
				return
			}
		}
	case "chargen":
		l.chargen(ctx, s, data, cr, tcp)
	default:
		l.command(ctx, call, data, cr, remote, tcp)
	}
}

// callReader reads the next datagram (or bytes) of a call: an error ends
// the call, as the idle time of a UDP call passing does. One goroutine
// reads at a time; stop ends its wait, and it must be over before the
// call's serve returns (which closes rd).
type callReader struct {
	rd    *ninep.Reader
	ctx   context.Context
	touch func()
	stop  func()
}

// next is the call's next datagram (or bytes), valid until the next call.
func (r callReader) next() ([]byte, error) {
	b, err := r.rd.Next(r.ctx)
	r.touch()
	return b, err
}

// chargen sends RFC 864's lines: on TCP without end, on UDP a datagram of
// 0 to 512 characters for each datagram received.
func (l *listener) chargen(ctx context.Context, s *convSession, data uint32, cr callReader, tcp bool) {
	var g chargenLines
	if tcp {
		ctx, cancel := context.WithCancel(ctx)
		read := make(chan struct{})
		defer func() { cancel(); cr.stop(); <-read }()
		go func() { // a TCP caller's data is discarded; its end ends the call
			defer close(read)
			defer cancel()
			for {
				if b, err := cr.next(); err != nil || len(b) == 0 {
					return
				}
			}
		}()
		for {
			if _, err := s.m.Write(ctx, data, 0, g.next(nil, 74*16)); err != nil {
				return
			}
		}
	}
	for {
		if _, err := cr.next(); err != nil {
			return
		}
		if _, err := s.m.Write(ctx, data, 0, g.next(nil, rand.IntN(513))); err != nil {
			return
		}
	}
}

// chargenLines is RFC 864's pattern: lines of 72 of the 95 printable ASCII
// characters, each starting one further on than the last, then CR LF.
type chargenLines struct {
	line, col int
}

// next appends the next n characters of the pattern to b.
func (g *chargenLines) next(b []byte, n int) []byte {
	for range n {
		switch {
		case g.col < 72:
			b = append(b, byte(' '+(g.line+g.col)%95))
		case g.col == 72:
			b = append(b, '\r')
		default:
			b = append(b, '\n')
		}
		if g.col++; g.col == 74 {
			g.col = 0
			g.line++
		}
	}
	return b
}

// command runs the listen's command for one call.
func (l *listener) command(ctx context.Context, call *conv, data uint32, cr callReader, remote string, tcp bool) {
	s := call.s
	cmd := exec.Command(l.cmd[0], l.cmd[1:]...)
	cmd.Env = append(os.Environ(), "net="+call.dir(), "remote="+remote)
	cmd.Stderr = l.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		l.logf("call %s: %v", call.dir(), err)
		return
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		l.logf("call %s: %v", call.dir(), err)
		return
	}
	l.mu.Lock()
	err = cmd.Start()
	if err == nil {
		l.procs[cmd] = true
	}
	l.mu.Unlock()
	if err != nil {
		l.logf("call %s: %v", call.dir(), err)
		return
	}
	defer func() {
		l.mu.Lock()
		delete(l.procs, cmd)
		l.mu.Unlock()
	}()
	copied := make(chan struct{})
	defer func() { cr.stop(); <-copied }()
	go func() { // the call's data to the command
		defer close(copied)
		defer in.Close()
		copyData(cr.ctx, cr.rd, in, tcp, cr.touch)
	}()
	// The command's output to the call: each read one datagram (UDP).
	buf := make([]byte, s.ioSize())
	for {
		n, err := out.Read(buf)
		if n > 0 {
			if _, werr := s.m.Write(ctx, data, 0, buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if tcp {
		call.command(ctx, "close")
	}
	io.Copy(io.Discard, out) // until the command exits
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Exited() || ee.ExitCode() != 0 {
			l.logf("call %s from %s: %s: %v", call.dir(), remote, l.cmd[0], err)
		}
	}
}

func (l *listener) logf(format string, args ...any) {
	fmt.Fprintf(l.stderr, "smolfs listen: "+format+"\n", args...)
}
