// Command smolfs runs the smolfs network stack and its tools: serve runs
// hosts on tap devices and serves them as a 9P file tree, dump prints the
// frames on any interface as tcpdump does, mount attaches the kernel's 9P
// client to a running server, 9p is a 9P client of its own, for kernels
// without one, and dial and listen are netcat and Plan 9's listen1 over a
// host's conversations, as 9P clients of the tree.
//
// Exit status: 0 on success (and after SIGINT or SIGTERM), 1 when the command
// failed (the message on standard error says what to do), 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand. setup defines its flags on flags and returns the
// function that runs it with the arguments left after the flags.
type command struct {
	name     string
	synopsis string // the usage line after "smolfs "
	summary  string // one line for the overview
	about    string // what it does, printed before the flags
	examples string // printed after the flags
	setup    func(flags *flag.FlagSet, stdout, stderr io.Writer) func(ctx context.Context, args []string) error
}

// commands are the subcommands, in the order the overview lists them.
var commands = []*command{serveCommand, dumpCommand, mountCommand, ninepCommand, dialCommand, listenCommand, pingCommand}

// usageError is a bad command line: the command's usage follows the message
// and the exit status is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "smolfs: no command given\n")
		shortOverview(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				c.usage(stdout, c.flagSet(stdout, stderr))
				return 0
			}
			fmt.Fprintf(stderr, "smolfs help: unknown command %q\n", args[1])
			shortOverview(stderr)
			return 2
		}
		overview(stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "smolfs: unknown command %q\n", args[0])
		shortOverview(stderr)
		return 2
	}
	flags := flag.NewFlagSet("smolfs "+c.name, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // run prints the errors and usage itself, to the right stream
	flags.Usage = func() {}
	exec := c.setup(flags, stdout, stderr)
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout, flags)
			return 0
		}
		c.usageError(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal the default action is back, so that a second
	// Ctrl-C ends a shutdown that hangs.
	context.AfterFunc(ctx, stop)
	err := exec(ctx, flags.Args())
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee): // its words are printed already
		return ee.code
	case errors.As(err, &ue):
		c.usageError(stderr, err)
		return 2
	default:
		fmt.Fprintf(stderr, "smolfs: %v\n", err)
		return 1
	}
}

// usageError reports a bad command line briefly: what is wrong, the
// synopsis, and where the whole help is.
func (c *command) usageError(w io.Writer, err error) {
	fmt.Fprintf(w, "smolfs %s: %v\nUsage: smolfs %s\nRun 'smolfs %s -h' for every flag, with examples.\n", c.name, err, c.synopsis, c.name)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// flagSet is the command's flags, for printing its usage.
func (c *command) flagSet(stdout, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet("smolfs "+c.name, flag.ContinueOnError)
	c.setup(flags, stdout, stderr)
	return flags
}

// usage prints the command's help: the flag list comes from the flag set
// itself, so that no flag can be left out of it.
func (c *command) usage(w io.Writer, flags *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: smolfs %s\n\n%s\n", c.synopsis, strings.TrimSpace(c.about))
	n := 0
	flags.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		flags.SetOutput(w)
		flags.PrintDefaults()
		flags.SetOutput(io.Discard)
	}
	fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.examples, "\n"))
}

func shortOverview(w io.Writer) {
	fmt.Fprint(w, "Usage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  smolfs %s\n", c.synopsis)
	}
	fmt.Fprint(w, "  smolfs help [COMMAND]\nRun 'smolfs -h' for what each command does, with examples.\n")
}

func overview(w io.Writer) {
	fmt.Fprint(w, `smolfs is a userspace Ethernet/ARP/IPv4/ICMP/UDP network stack whose hosts sit on
Linux tap devices and are served as a 9P file tree, in the style of Plan 9's /net.

Usage:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  smolfs %s\n", c.synopsis)
	}
	fmt.Fprint(w, "  smolfs help [COMMAND]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "  help   this text, or a command's flags and examples (same as smolfs COMMAND -h)\n\nExamples:\n")
	for _, c := range commands {
		fmt.Fprintln(w, strings.TrimRight(c.examples, "\n"))
	}
	fmt.Fprint(w, `
Mounting by hand, without smolfs mount:
  mount -t 9p -o trans=tcp,port=5640 127.0.0.1 /mnt/smol
  mount -t 9p -o trans=unix /run/smolfs.sock /mnt/smol

Run 'smolfs COMMAND -h' for every flag of a command. Exit status: 0 on success
and after SIGINT/SIGTERM, 1 when the command failed, 2 for a usage error.
`)
}
