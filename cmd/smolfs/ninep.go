package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
)

var ninepCommand = &command{
	name:     "9p",
	synopsis: "9p [-addr HOST:PORT|unix:PATH] [-aname NAME] ls|read|write|stat [PATH]",
	summary:  "use a running server's files without mounting: ls, read, write, stat",
	about: `A 9P2000.L client for machines and containers whose kernel has no 9P client
(in the spirit of plan9port's 9p). PATH is a file of the tree, as in
'tap0/frames' (a leading / is optional; no PATH is the root).

  ls [PATH]     the names in directory PATH, one per line (a file: its PATH)
  read PATH     the file's contents to standard output, as they come; a stream
                (frames, frames.pcap, log) goes on until the server ends it,
                Ctrl-C or the reader of the output going away (| head)
  write PATH    standard input to the file the way 'echo cmd > PATH' does: opened
                with O_TRUNC, and all of standard input sent as ONE write, so a
                batch of commands is applied whole or not at all. One write
                carries at most the session's msize less 24 bytes (128 KiB with
                smolfs); more input is refused. Empty input writes nothing.
  stat PATH     the file's attributes, one 'name value' per line

Errors name the step and the errno text (what Linux would print for the same
failure on a mount); the full reason of a refused command is in /log:
'smolfs 9p read log'. Exit status: 0 on success, at end of file and after
Ctrl-C; 1 when anything failed; 2 for a usage error.`,
	examples: `  smolfs 9p ls tap0
  smolfs 9p read tap0/addr
  smolfs 9p read tap0/frames | head -n 3
  smolfs 9p read tap0/frames.pcap | tcpdump -r - -n -e
  echo 'add 192.168.69.2/24' | smolfs 9p write tap0/ctl
  printf 'add 192.168.69.9 02:00:00:00:00:09\nresolve 192.168.69.100\n' | smolfs 9p write tap0/arp
  smolfs 9p -addr unix:/run/smolfs.sock stat tap0/stats`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		addr := flags.String("addr", defaultListen, "the server's address: `HOST:PORT` for TCP, or unix:PATH for a unix socket\n(smolfs serve's -listen)")
		aname := flags.String("aname", "", "the tree to attach to, as `NAME`: smolfs has one and ignores it; another server\n(diod) may want an exported directory")
		return func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return usagef("want a command: ls, read, write or stat")
			}
			verb, args := args[0], args[1:]
			switch verb {
			case "ls":
				if len(args) > 1 {
					return usagef("ls takes at most one PATH, got %d", len(args))
				}
			case "read", "write", "stat":
				if len(args) != 1 {
					return usagef("%s takes exactly one PATH, got %d arguments", verb, len(args))
				}
			default:
				return usagef("unknown 9p command %q: want ls, read, write or stat", verb)
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			if stdout == io.Writer(os.Stdout) {
				// A reader that goes away (| head) must end the read with a
				// clean EPIPE, not kill the process with SIGPIPE.
				signal.Ignore(syscall.SIGPIPE)
			}
			s := &ninepSession{addr: *addr, aname: *aname, stdin: ninepStdin, stdout: stdout}
			return s.run(ctx, verb, path)
		}
	},
}

// ninepStdin is what write sends; tests replace it.
var ninepStdin io.Reader = os.Stdin

// ninepSession is one smolfs 9p command: a connection, the root as fid 0
// and the file as fid 1.
type ninepSession struct {
	addr, aname string
	stdin       io.Reader
	stdout      io.Writer
	c           *ninep.Client
}

const (
	rootFid = 0
	fileFid = 1
	// connectTimeout bounds the dial and the version exchange: a port where
	// something other than a 9P server listens never answers Tversion.
	connectTimeout = 10 * time.Second
)

func (s *ninepSession) run(ctx context.Context, verb, path string) error {
	err := s.connect(ctx)
	if err == nil {
		// Interrupting closes the connection: the request in progress
		// fails at once and the server frees what the session held.
		stop := context.AfterFunc(ctx, func() { s.c.Close() })
		defer stop()
		defer s.c.Close()
		switch verb {
		case "ls":
			err = s.ls(path)
		case "read":
			err = s.read(path)
		case "write":
			err = s.write(ctx, path)
		case "stat":
			err = s.stat(path)
		}
	}
	switch {
	case err == nil, ctx.Err() != nil:
		return nil
	case errors.Is(err, syscall.EPIPE):
		return nil // the reader of our output went away
	}
	what := "9p " + verb
	if path != "" {
		what += " " + path
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (s *ninepSession) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	nc, err := ninep.Dial(dctx, s.addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w: is smolfs serve running, and listening there (its -listen)?", err)
		}
		return err
	}
	nc.SetDeadline(time.Now().Add(connectTimeout))
	c, err := ninep.NewClient(nc, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", s.addr, err)
	}
	nc.SetDeadline(time.Time{})
	uname, uid := "root", uint32(os.Getuid())
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	if _, err := c.Attach(rootFid, uname, s.aname, uid); err != nil {
		c.Close()
		return err
	}
	s.c = c
	return nil
}

// walk points fileFid at path and returns the path's qid.
func (s *ninepSession) walk(path string) (ninep.Qid, error) {
	var names []string
	for _, n := range strings.Split(path, "/") {
		if n != "" {
			names = append(names, n)
		}
	}
	qids, err := s.c.Walk(rootFid, fileFid, names...)
	if err != nil {
		return ninep.Qid{}, err
	}
	if len(qids) == 0 {
		return ninep.Qid{Type: ninep.QTDir}, nil // the root itself
	}
	return qids[len(qids)-1], nil
}

func (s *ninepSession) ls(path string) error {
	q, err := s.walk(path)
	if err != nil {
		return err
	}
	if q.Type&ninep.QTDir == 0 {
		_, err := fmt.Fprintln(s.stdout, path)
		return err
	}
	if _, _, err := s.c.Lopen(fileFid, syscall.O_RDONLY|syscall.O_DIRECTORY); err != nil {
		return err
	}
	var out []byte
	for off := uint64(0); ; {
		ents, err := s.c.Readdir(fileFid, off, s.c.Msize()-ninep.IOHeader)
		if err != nil {
			return err
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if e.Name != "." && e.Name != ".." {
				out = append(append(out, e.Name...), '\n')
			}
			off = e.Offset
		}
	}
	_, err = s.stdout.Write(out)
	return err
}

// read copies the file to stdout, each reply as it arrives.
//
// smolfs answers a 9P2000.L client as it answers Linux's read loop: after a
// short reply, the next Tread gets 0 bytes once, and only the one after it
// waits for more (see fs/stream.go). So 0 bytes right after a short reply is
// asked again, and only 0 bytes after that, or after a full reply, is the
// end of the file. For a plain file that costs one more round trip.
func (s *ninepSession) read(path string) error {
	if _, err := s.walk(path); err != nil {
		return err
	}
	_, iounit, err := s.c.Lopen(fileFid, syscall.O_RDONLY)
	if err != nil {
		return err
	}
	size := s.c.Msize() - ninep.IOHeader
	if iounit > 0 {
		size = min(size, iounit)
	}
	buf := make([]byte, size)
	short := false
	for off := uint64(0); ; {
		n, err := s.c.Read(fileFid, off, buf)
		if err != nil {
			return err
		}
		if n == 0 {
			if short {
				short = false
				continue
			}
			return nil
		}
		if _, err := s.stdout.Write(buf[:n]); err != nil {
			return err
		}
		off += uint64(n)
		short = n < len(buf)
	}
}

func (s *ninepSession) write(ctx context.Context, path string) error {
	limit := int64(s.c.Msize() - ninep.IOHeader)
	type input struct {
		data []byte
		err  error
	}
	got := make(chan input, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(s.stdin, limit+1))
		got <- input{data, err}
	}()
	var in input
	select {
	case in = <-got:
	case <-ctx.Done():
		return ctx.Err()
	}
	if in.err != nil {
		return fmt.Errorf("reading standard input: %w", in.err)
	}
	if int64(len(in.data)) > limit {
		return fmt.Errorf("standard input is longer than %d bytes, the most one write carries on this session (msize %d less 24): split it into several writes", limit, s.c.Msize())
	}
	if _, err := s.walk(path); err != nil {
		return err
	}
	if _, _, err := s.c.Lopen(fileFid, syscall.O_WRONLY|syscall.O_TRUNC); err != nil {
		return err
	}
	if len(in.data) == 0 {
		return nil
	}
	n, err := s.c.Write(fileFid, 0, in.data)
	if err != nil {
		return err
	}
	if n != len(in.data) {
		return fmt.Errorf("write: the server took %d of %d bytes", n, len(in.data))
	}
	return s.c.Clunk(fileFid)
}

func (s *ninepSession) stat(path string) error {
	if _, err := s.walk(path); err != nil {
		return err
	}
	a, err := s.c.Getattr(fileFid, ninep.GetattrBasic)
	if err != nil {
		return err
	}
	name := path
	if i := strings.LastIndexByte(strings.TrimRight(path, "/"), '/'); i >= 0 {
		name = strings.TrimRight(path, "/")[i+1:]
	}
	if name == "" {
		name = "/"
	}
	typ := "file"
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		typ = "dir"
	case syscall.S_IFREG:
	default:
		typ = "other"
	}
	ts := func(t [2]uint64) string { return fmt.Sprintf("%d.%09d", t[0], t[1]) }
	var b []byte
	for _, kv := range [][2]string{
		{"name", name},
		{"type", typ},
		{"mode", fmt.Sprintf("%#o", a.Mode&0o7777)},
		{"size", strconv.FormatUint(a.Size, 10)},
		{"uid", strconv.FormatUint(uint64(a.UID), 10)},
		{"gid", strconv.FormatUint(uint64(a.GID), 10)},
		{"nlink", strconv.FormatUint(a.Nlink, 10)},
		{"atime", ts(a.Atime)},
		{"mtime", ts(a.Mtime)},
		{"ctime", ts(a.Ctime)},
		{"qid.path", fmt.Sprintf("%#x", a.Qid.Path)},
		{"qid.version", strconv.FormatUint(uint64(a.Qid.Version), 10)},
	} {
		b = fmt.Appendf(b, "%s %s\n", kv[0], kv[1])
	}
	_, err = s.stdout.Write(b)
	return err
}
