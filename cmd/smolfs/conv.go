package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/internal/ninep"
	"github.com/smolfs/smolfs/netcore/ctl"
)

// What smolfs dial and listen share: they are 9P clients of the tree, with
// no side door. A conversation is made by opening PROTO/clone, driven by
// writing to its ctl, and moves data through its data file, as on Plan 9.

// convSession is one 9P session (a multiplexed connection: a read of data
// waits beside writes to it and beside a listen) with the root attached.
type convSession struct {
	m    *ninep.Mux
	root uint32
	host string
}

// dialString is NET!ADDR: the transport and an address in any form the
// conversation commands take (IP!PORT, IP:PORT, [IPv6]:PORT, *!PORT).
type dialString struct {
	proto string
	addr  string
}

func parseDialString(s string, wild bool) (dialString, error) {
	proto, addr, ok := strings.Cut(s, "!")
	if !ok || addr == "" {
		return dialString{}, usagef("%q: want NET!IP!PORT, as in udp!192.168.69.100!7", s)
	}
	switch proto {
	case "udp", "tcp":
	default:
		return dialString{}, usagef("%q: unknown network %q: want udp or tcp", s, proto)
	}
	ap, r := ctl.ParseConvAddr(addr)
	switch {
	case r != nil:
		return dialString{}, usagef("%q: %v", s, r)
	case !wild && ap.Addr().IsUnspecified():
		return dialString{}, usagef("%q: want an address to dial, not *", s)
	case ap.Port() == 0 && !wild:
		return dialString{}, usagef("%q: want a port, as in %s!7", s, proto)
	}
	return dialString{proto: proto, addr: string(ctl.AppendAddrPort(nil, ap))}, nil
}

// openConvSession connects to the server at addr and finds the host: name,
// or the only host there is.
func openConvSession(ctx context.Context, addr, host string) (*convSession, error) {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	nc, err := ninep.Dial(dctx, addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w: is smolfs serve running, and listening there (its -listen)?", err)
		}
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(connectTimeout))
	m, err := ninep.NewMux(nc, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	s := &convSession{m: m, root: m.NewFid(), host: host}
	uname, uid := "root", uint32(os.Getuid())
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	if _, err := m.Attach(dctx, s.root, uname, "", uid); err != nil {
		m.Close()
		return nil, err
	}
	if s.host == "" {
		if s.host, err = s.onlyHost(dctx); err != nil {
			m.Close()
			return nil, err
		}
	}
	return s, nil
}

// onlyHost is the name of the tree's only host.
func (s *convSession) onlyHost(ctx context.Context) (string, error) {
	fid := s.m.NewFid()
	if _, err := s.m.Walk(ctx, s.root, fid); err != nil {
		return "", err
	}
	defer s.m.Clunk(fid)
	if _, err := s.m.Lopen(ctx, fid, syscall.O_RDONLY|syscall.O_DIRECTORY); err != nil {
		return "", err
	}
	var hosts []string
	for off := uint64(0); ; {
		ents, err := s.m.Readdir(ctx, fid, off, 8192)
		if err != nil {
			return "", err
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			off = e.Offset
			if e.Qid.Type&ninep.QTDir != 0 {
				hosts = append(hosts, e.Name)
			}
		}
	}
	switch len(hosts) {
	case 1:
		return hosts[0], nil
	case 0:
		return "", errors.New("the server has no hosts")
	}
	slices.Sort(hosts)
	return "", usagef("the server has several hosts (%s): pick one with -host", strings.Join(hosts, ", "))
}

// open walks from the root to path (under the host) into a new fid and
// opens it read-write.
func (s *convSession) open(ctx context.Context, path ...string) (uint32, error) {
	// The open goes with the walk (one round trip): a call's files are
	// opened by the thousand.
	fid := s.m.NewFid()
	if _, err := s.m.WalkOpen(ctx, s.root, fid, syscall.O_RDWR, append([]string{s.host}, path...)...); err != nil {
		return 0, fmt.Errorf("%s/%s: %w", s.host, strings.Join(path, "/"), err)
	}
	return fid, nil
}

// readAll reads a small file whole.
func (s *convSession) readAll(ctx context.Context, fid uint32) (string, error) {
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := s.m.Read(ctx, fid, uint64(len(out)), buf)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

// readFile reads a file of the host's tree: a conversation's remote, err.
func (s *convSession) readFile(ctx context.Context, path ...string) (string, error) {
	fid := s.m.NewFid()
	if _, err := s.m.Walk(ctx, s.root, fid, append([]string{s.host}, path...)...); err != nil {
		s.m.FreeFid(fid)
		return "", err
	}
	defer s.m.Clunk(fid)
	if _, err := s.m.Lopen(ctx, fid, syscall.O_RDONLY); err != nil {
		return "", err
	}
	return s.readAll(ctx, fid)
}

// conv is a conversation the session holds open: its ctl, and its number.
type conv struct {
	s     *convSession
	proto string
	n     int
	ctl   uint32
}

// clone makes a new conversation of proto.
func (s *convSession) clone(ctx context.Context, proto string) (*conv, error) {
	fid, err := s.open(ctx, proto, "clone")
	if err != nil {
		return nil, err
	}
	return s.convOf(ctx, proto, fid)
}

// convOf reads the number of the conversation whose ctl fid has open.
func (s *convSession) convOf(ctx context.Context, proto string, fid uint32) (*conv, error) {
	// One read has the number whole ("N\n"); a server that gives less is
	// read to the end.
	buf := make([]byte, 32)
	n, err := s.m.Read(ctx, fid, 0, buf)
	text := string(buf[:n])
	if err == nil && (n == 0 || buf[n-1] != '\n') {
		var rest string
		rest, err = s.readAll(ctx, fid)
		text = rest
	}
	if err != nil {
		s.m.Clunk(fid)
		return nil, err
	}
	num, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil {
		s.m.Clunk(fid)
		return nil, fmt.Errorf("%s/%s: the ctl file reads %q, not a conversation number", s.host, proto, text)
	}
	return &conv{s: s, proto: proto, n: num, ctl: fid}, nil
}

// dir is the conversation's directory in the tree: /tap0/udp/3.
func (c *conv) dir() string { return fmt.Sprintf("/%s/%s/%d", c.s.host, c.proto, c.n) }

// command writes one command to the conversation's ctl. A refusal says
// why in the words of the conversation's err file.
func (c *conv) command(ctx context.Context, cmd string) error {
	if _, err := c.s.m.Write(ctx, c.ctl, 0, []byte(cmd)); err != nil {
		if words, rerr := c.s.readFile(ctx, c.proto, strconv.Itoa(c.n), "err"); rerr == nil && strings.TrimSpace(words) != "" {
			words = strings.TrimSpace(words)
			if errno := errors.Unwrap(err); errno != nil && errno.Error() != words {
				return fmt.Errorf("%s: %s (%w)", cmd, words, errno)
			}
			return fmt.Errorf("%s: %w", cmd, errors.Unwrap(err)) // the words are the errno's
		}
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// openFile opens one of the conversation's files.
func (c *conv) openFile(ctx context.Context, name string) (uint32, error) {
	return c.s.open(ctx, c.proto, strconv.Itoa(c.n), name)
}

// readFile reads one of the conversation's small files (remote, local).
func (c *conv) readFile(ctx context.Context, name string) (string, error) {
	s, err := c.s.readFile(ctx, c.proto, strconv.Itoa(c.n), name)
	return strings.TrimSpace(s), err
}

// maxDatagram is the most one write to data sends as one UDP datagram.
const maxDatagram = 65507

// ioSize is the most one read or write of data moves on this session.
func (s *convSession) ioSize() int { return min(maxDatagram, int(s.m.Msize()-ninep.IOHeader)) }
