package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/smolfs/smolfs/devices"
	"github.com/smolfs/smolfs/fs"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/tcp"
	"github.com/smolfs/smolfs/stack"
)

// Defaults of smolfs serve: smoltcp's example host on tap0.
const (
	defaultListen = "127.0.0.1:5640"
	defaultHost   = "tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24"
)

var serveCommand = &command{
	name:     "serve",
	synopsis: "serve [-listen ADDR] [-host NAME[,ea=MAC][,ip=IP/N]...]... [-log-level LEVEL] [-debug ADDR] [-offload] [-tcp-syn-retries N]",
	summary:  "run hosts on tap devices and serve them as a 9P file tree",
	about: `Runs one network host per -host on a Linux tap device of that name (creating
the tap if it does not exist; a tap it created disappears when smolfs stops) and
serves them as a 9P file tree: /ctl, /log and a directory per host with ctl,
addr, arp, frames, frames.pcap and stats. Mount it with 'smolfs mount' or
'mount -t 9p -o trans=tcp,port=5640 127.0.0.1 /mnt/smol'.

Without -host it runs one host: tap0 with 02:00:00:00:00:01 and 192.168.69.1/24.
Configure the kernel's side of a tap yourself, after smolfs has it open:
  ip addr add 192.168.69.100/24 dev tap0 && ip link set tap0 up

Opening a tap needs root, or a tap made for your user beforehand:
  sudo ip tuntap add dev tap0 mode tap user $USER

Events go to standard error (and /log). SIGINT or SIGTERM shuts down cleanly:
readers see end of file, the taps are closed, the exit status is 0.`,
	examples: `  smolfs serve                                  # tap0, 192.168.69.1/24, 127.0.0.1:5640
  smolfs serve -host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24 -host tap1
  smolfs serve -listen unix:/run/smolfs.sock -log-level debug`,
	setup: func(flags *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, []string) error {
		o := &serveOptions{}
		flags.StringVar(&o.listen, "listen", defaultListen, "serve 9P on `ADDR`: HOST:PORT for TCP, or unix:PATH for a unix socket (a stale\nsocket file is replaced, and removed on exit). 9P over TCP has no\nauthentication: an address other than loopback is logged as a warning")
		flags.Func("host", "run a host on a tap device, described as `NAME[,ea=MAC][,ip=IP/N]...`:\nNAME is the tap's name, ea its hardware address (default: the first free one of\n02:00:00:00:00:01, :02, ...), and each ip=IP/N adds an IPv4 address (the first is\nprimary). Repeat -host for more hosts. Without -host: "+defaultHost, func(s string) error {
			spec, err := ctl.ParseHostFlag(s)
			if err != nil {
				return errors.Unwrap(err) // the flag package names the flag and value itself
			}
			for _, h := range o.hosts {
				if h.Name == spec.Name {
					return fmt.Errorf("host %s is given twice", spec.Name)
				}
			}
			o.hosts = append(o.hosts, spec)
			return nil
		})
		flags.TextVar(&o.level, "log-level", slog.LevelInfo, "log events at `LEVEL` and above to standard error: debug, info, warn or error")
		flags.Func("debug", "answer each TCP connection to `ADDR`, a loopback HOST:PORT such as\n127.0.0.1:6060, with the goroutine and heap profiles as text (echo | nc 127.0.0.1 6060);\na first line \"free\" from the client returns free memory to the kernel first", func(s string) error {
			if err := checkDebugAddr(s); err != nil {
				return err
			}
			o.debug = s
			return nil
		})
		flags.BoolVar(&o.offload, "offload", false, "open the taps with the virtio-net header and TCP checksum and segmentation\noffload (IFF_VNET_HDR, TUNSETOFFLOAD): the kernel hands over its TCP segments\nuncut, up to 64 KiB a frame, as to a NIC that segments them (faster bulk TCP\nfrom the kernel's side)")
		flags.IntVar(&o.synRetries, "tcp-syn-retries", 6, "retransmit a TCP connect's SYN `N` times (1 to 12) before it fails with\nConnection timed out: 6 gives up after 127 s, as Linux (net.ipv4.tcp_syn_retries)")
		return func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q (hosts are given with -host)", args[0])
			}
			if o.synRetries < 1 || o.synRetries > 12 {
				return usagef("-tcp-syn-retries %d: want 1 to 12", o.synRetries)
			}
			if len(o.hosts) == 0 {
				spec, err := ctl.ParseHostFlag(defaultHost)
				if err != nil {
					panic(err) // a constant
				}
				o.hosts = []ctl.HostSpec{spec}
			}
			return serve(ctx, o, stderr)
		}
	},
}

type serveOptions struct {
	listen string
	hosts  []ctl.HostSpec
	level  slog.Level
	debug  string // loopback HOST:PORT for the profiles, or ""

	synRetries int  // TCP SYN retransmissions
	offload    bool // taps with the virtio-net header and offloads
}

// tapOpener is the stack's Opener: each host runs on the tap of its name, in
// the network namespace smolfs runs in, on one of pool's loops.
func tapOpener(pool *devices.Pool, offload bool) stack.Opener {
	return func(h *netcore.Host, onEvent func(netcore.Event), onWake func(netcore.ConvRef)) (stack.Driver, error) {
		open := devices.OpenTap
		if offload {
			open = devices.OpenTapOffload
		}
		tap, err := open(h.Name())
		if err != nil {
			return nil, err
		}
		d, err := pool.Start(h, tap, onEvent, onWake)
		if err != nil {
			tap.Close()
			return nil, err
		}
		return d, nil
	}
}

// shutdownGrace bounds how long a shutdown waits for 9P requests in progress.
const shutdownGrace = time.Second

func serve(ctx context.Context, o *serveOptions, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	// Listen first: a port in use is the likelier mistake, and finding it
	// before any tap is touched leaves nothing to undo.
	l, err := listen(o.listen, logger)
	if err != nil {
		return err
	}
	if o.debug != "" {
		d, err := serveDebug(o.debug, logger)
		if err != nil {
			l.Close()
			return err
		}
		defer d.Close()
	}
	// A few loops, one per core, serve every host: threads and buffers
	// grow with the cores, not with the hosts.
	popts := []devices.Option{devices.WithLogger(logger)}
	if o.offload {
		popts = append(popts, devices.WithPollLoop())
	}
	pool := devices.NewPool(0, popts...)
	defer pool.Close()
	st := stack.New(tapOpener(pool, o.offload), logger)
	st.SetTCP(tcp.Config{SynRetries: o.synRetries})
	for _, spec := range o.hosts {
		if err := st.Add(spec); err != nil {
			l.Close()
			st.Close()
			return hostError(err)
		}
	}
	srv := fs.NewServer(st, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	// Scripts and tests wait for this line.
	logger.Info("ready", "listen", listenAddr(l), "hosts", strings.Join(st.HostNames(), ","))

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", context.Cause(ctx))
	case serveErr = <-served:
		// Serve returns only when the listener failed for good.
		logger.Error("9P server stopped", "err", serveErr)
	}
	start := time.Now()
	// Blocked readers are answered with end of file and requests in
	// progress get their replies before the connections close (a unix
	// socket's file goes with its listener); then the taps close.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("9P clients did not finish in time; their connections were closed", "grace", shutdownGrace)
	}
	cancel()
	st.Close()
	logger.Info("stopped", "took", time.Since(start).Round(time.Microsecond))
	if serveErr != nil {
		return fmt.Errorf("serving 9P on %s: %w", o.listen, serveErr)
	}
	return nil
}

// hostError drops the "-host: SPEC:" prefix of a failed Stack.Add: the
// device's error already names the tap and says what to do, and the default
// host was never written as a -host flag.
func hostError(err error) error {
	var ce *ctl.CommandError
	if errors.As(err, &ce) && ce.Err != nil {
		return ce.Err
	}
	return err
}

// listen opens the 9P listener: unix:PATH or a TCP HOST:PORT.
func listen(addr string, logger *slog.Logger) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(path)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("-listen %q: want HOST:PORT or unix:PATH", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: address already in use: is another smolfs serve running? stop it, or pick another address with -listen", addr)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, errors.Unwrap(err))
	}
	if ta, ok := l.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		logger.Warn("listening beyond loopback: 9P over TCP has no authentication, so whoever can reach this address can reconfigure the hosts", "listen", l.Addr().String())
	}
	return l, nil
}

// listenAddr is where l listens, in -listen's syntax.
func listenAddr(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}

// listenUnix listens on a unix socket at path, replacing a socket file that
// no server answers on any more (left by a server that was killed).
func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("-listen unix:PATH: the path is empty")
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listen on unix:%s: the file exists and is not a socket: remove it or pick another path", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on unix:%s: a server is answering on it: is another smolfs serve running? stop it, or pick another path", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on unix:%s: removing the stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix:%s: %w", path, errors.Unwrap(err))
	}
	return l, nil
}
