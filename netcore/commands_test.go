package netcore

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/impair"
	"github.com/smolfs/smolfs/netcore/wire"
)

func TestParseCtl(t *testing.T) {
	text := "# a comment\n" +
		"ea 02:00:00:00:00:02\r\n" +
		"mac 02-00-00-00-00-03\n" +
		"\n" +
		"  add   192.168.69.1/24  \n" +
		"add 10.0.0.1/31\n" +
		"add 10.0.0.9/32\n" +
		"remove 10.0.0.1/31\n" +
		"remove all\n" +
		"mtu 68\n" +
		"mtu 1500\n" +
		"up\n" +
		"down\n" +
		"promiscuous on\n" +
		"promiscuous off\n" +
		"garp\n" +
		"arptimeout 1\n" +
		"arptimeout 86400\n" +
		"impair off\n" +
		"impair rx loss 50%\n" +
		"impair  tx  delay 20ms~5  reorder 25\n"
	cmds, err := ParseCtl("tap0/ctl", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{
		{Op: OpEA, Line: 2, Text: "ea 02:00:00:00:00:02", MAC: wire.MAC{2, 0, 0, 0, 0, 2}},
		{Op: OpEA, Line: 3, Text: "mac 02-00-00-00-00-03", MAC: wire.MAC{2, 0, 0, 0, 0, 3}},
		{Op: OpAdd, Line: 5, Text: "add   192.168.69.1/24", Prefix: hostPrefix},
		{Op: OpAdd, Line: 6, Text: "add 10.0.0.1/31", Prefix: netip.MustParsePrefix("10.0.0.1/31")},
		{Op: OpAdd, Line: 7, Text: "add 10.0.0.9/32", Prefix: netip.MustParsePrefix("10.0.0.9/32")},
		{Op: OpRemove, Line: 8, Text: "remove 10.0.0.1/31", Prefix: netip.MustParsePrefix("10.0.0.1/31")},
		{Op: OpRemoveAll, Line: 9, Text: "remove all"},
		{Op: OpMTU, Line: 10, Text: "mtu 68", N: 68},
		{Op: OpMTU, Line: 11, Text: "mtu 1500", N: 1500},
		{Op: OpUp, Line: 12, Text: "up"},
		{Op: OpDown, Line: 13, Text: "down"},
		{Op: OpPromisc, Line: 14, Text: "promiscuous on", On: true},
		{Op: OpPromisc, Line: 15, Text: "promiscuous off"},
		{Op: OpGARP, Line: 16, Text: "garp"},
		{Op: OpARPTimeout, Line: 17, Text: "arptimeout 1", D: time.Second},
		{Op: OpARPTimeout, Line: 18, Text: "arptimeout 86400", D: 24 * time.Hour},
		{Op: OpImpair, Line: 19, Text: "impair off"},
		{Op: OpImpair, Line: 20, Text: "impair rx loss 50%", Impair: impair.Command{Dir: impair.Rx, Settings: impair.Settings{Loss: 500_000}}},
		{Op: OpImpair, Line: 21, Text: "impair  tx  delay 20ms~5  reorder 25",
			Impair: impair.Command{Dir: impair.Tx, Settings: impair.Settings{Reorder: 250_000, Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}}},
	}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("got:\n%+v\nwant:\n%+v", cmds, want)
	}
	if cmds, err := ParseCtl("tap0/ctl", []byte("\n\n# nothing\n")); err != nil || len(cmds) != 0 {
		t.Errorf("empty write: %v, %v", cmds, err)
	}
}

func TestParseARPCommands(t *testing.T) {
	cmds, err := ParseARPCommands("tap0/arp", []byte("add 192.168.69.9 020000000009\ndel 192.168.69.9\nflush\nresolve 192.168.69.7\n"))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.168.69.9")
	want := []Command{
		{Op: OpARPAdd, Line: 1, Text: "add 192.168.69.9 020000000009", IP: ip, MAC: wire.MAC{2, 0, 0, 0, 0, 9}},
		{Op: OpARPDel, Line: 2, Text: "del 192.168.69.9", IP: ip},
		{Op: OpARPFlush, Line: 3, Text: "flush"},
		{Op: OpARPResolve, Line: 4, Text: "resolve 192.168.69.7", IP: netip.MustParseAddr("192.168.69.7")},
	}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("got:\n%+v\nwant:\n%+v", cmds, want)
	}
}

// wantErr checks a *ctl.CommandError's class and exact words.
func wantErr(t *testing.T, what string, err error, errno syscall.Errno, msg string) {
	t.Helper()
	var ce *ctl.CommandError
	switch {
	case !errors.As(err, &ce):
		t.Errorf("%s: %v (%T), want a *ctl.CommandError %q", what, err, err, msg)
	case ce.Errno != errno || !errors.Is(err, errno) || err.Error() != msg:
		t.Errorf("%s:\n got %q (errno %d)\nwant %q (errno %d)", what, err, ce.Errno, msg, errno)
	}
}

func TestParseCtlErrors(t *testing.T) {
	const E = syscall.EINVAL
	cases := []struct{ text, msg string }{
		{"up\nadd 300.1.1.1/24", `tap0/ctl: line 2: "add 300.1.1.1/24": bad IPv4 address`},
		{"frob", `tap0/ctl: line 1: "frob": unknown command: "frob" (ea, add, remove, mtu, up, down, promiscuous, garp, arptimeout, impair, route, ipv6)`},
		{"EA 02:00:00:00:00:01", `tap0/ctl: line 1: "EA 02:00:00:00:00:01": unknown command: "EA" (ea, add, remove, mtu, up, down, promiscuous, garp, arptimeout, impair, route, ipv6)`},
		{"ea", `tap0/ctl: line 1: "ea": usage: ea MAC`},
		{"mac 1 2", `tap0/ctl: line 1: "mac 1 2": usage: mac MAC`},
		{"ea zz", `tap0/ctl: line 1: "ea zz": bad hardware address`},
		{"ea 01:00:5e:00:00:01", `tap0/ctl: line 1: "ea 01:00:5e:00:00:01": bad hardware address: 01:00:5e:00:00:01 is not a unicast address`},
		{"ea 000000000000", `tap0/ctl: line 1: "ea 000000000000": bad hardware address: 00:00:00:00:00:00 is not a unicast address`},
		{"add", `tap0/ctl: line 1: "add": usage: add IP/N`},
		{"remove", `tap0/ctl: line 1: "remove": usage: remove IP/N`},
		{"remove all now", `tap0/ctl: line 1: "remove all now": usage: remove IP/N`},
		{"add all", `tap0/ctl: line 1: "add all": bad IPv4 address/prefix: missing /N`},
		{"add 10.0.0.1", `tap0/ctl: line 1: "add 10.0.0.1": bad IPv4 address/prefix: missing /N`},
		{"add 10.0.0.1/33", `tap0/ctl: line 1: "add 10.0.0.1/33": bad IPv4 address/prefix: prefix length must be 1..32`},
		{"add 10.0.0.1/0", `tap0/ctl: line 1: "add 10.0.0.1/0": bad IPv4 address/prefix: prefix length must be 1..32`},
		{"add 10.0.0.1/024", `tap0/ctl: line 1: "add 10.0.0.1/024": bad IPv4 address/prefix: prefix length must be 1..32`},
		{"add 10.0.0.1/x", `tap0/ctl: line 1: "add 10.0.0.1/x": bad IPv4 address/prefix: prefix length must be 1..32`},
		{"add 192.168.69.0/24", `tap0/ctl: line 1: "add 192.168.69.0/24": bad IPv4 address/prefix: 192.168.69.0 is the network or broadcast address of 192.168.69.0/24`},
		{"add 192.168.69.255/24", `tap0/ctl: line 1: "add 192.168.69.255/24": bad IPv4 address/prefix: 192.168.69.255 is the network or broadcast address of 192.168.69.0/24`},
		{"add 10.0.0.0/30", `tap0/ctl: line 1: "add 10.0.0.0/30": bad IPv4 address/prefix: 10.0.0.0 is the network or broadcast address of 10.0.0.0/30`},
		{"add 224.0.0.1/4", `tap0/ctl: line 1: "add 224.0.0.1/4": bad IPv4 address: 224.0.0.1 is not a unicast address`},
		{"add 127.0.0.1/8", `tap0/ctl: line 1: "add 127.0.0.1/8": bad IPv4 address: 127.0.0.1 is not a unicast address`},
		{"add 0.0.0.0/8", `tap0/ctl: line 1: "add 0.0.0.0/8": bad IPv4 address: 0.0.0.0 is not a unicast address`},
		{"add 255.255.255.255/32", `tap0/ctl: line 1: "add 255.255.255.255/32": bad IPv4 address: 255.255.255.255 is not a unicast address`},
		{"add ::1/128", `tap0/ctl: line 1: "add ::1/128": bad IPv6 address: ::1 is not a unicast address`},
		{"add ::ffff:10.0.0.1/24", `tap0/ctl: line 1: "add ::ffff:10.0.0.1/24": bad IPv6 address: ::ffff:10.0.0.1 is an IPv4-mapped address`},
		{"add ff02::1/64", `tap0/ctl: line 1: "add ff02::1/64": bad IPv6 address: ff02::1 is not a unicast address`},
		{"add ::/64", `tap0/ctl: line 1: "add ::/64": bad IPv6 address: :: is not a unicast address`},
		{"add 2001:db8::1", `tap0/ctl: line 1: "add 2001:db8::1": bad IPv6 address/prefix: missing /N`},
		{"add 2001:db8::1/129", `tap0/ctl: line 1: "add 2001:db8::1/129": bad IPv6 address/prefix: prefix length must be 1..128`},
		{"add 2001:db8::1/064", `tap0/ctl: line 1: "add 2001:db8::1/064": bad IPv6 address/prefix: prefix length must be 1..128`},
		{"add fe80::1%tap0/64", `tap0/ctl: line 1: "add fe80::1%tap0/64": bad IPv6 address`},
		{"add 2001:db8::g/64", `tap0/ctl: line 1: "add 2001:db8::g/64": bad IPv6 address`},
		{"ipv6", `tap0/ctl: line 1: "ipv6": usage: ipv6 on|off`},
		{"ipv6 yes", `tap0/ctl: line 1: "ipv6 yes": usage: ipv6 on|off`},
		{"ipv6 autoconf", `tap0/ctl: line 1: "ipv6 autoconf": usage: ipv6 autoconf on|off`},
		{"ipv6 autoconf maybe", `tap0/ctl: line 1: "ipv6 autoconf maybe": usage: ipv6 autoconf on|off`},
		{"ipv6 on off", `tap0/ctl: line 1: "ipv6 on off": usage: ipv6 on|off`},
		{"add 010.0.0.1/8", `tap0/ctl: line 1: "add 010.0.0.1/8": bad IPv4 address`},
		{"mtu", `tap0/ctl: line 1: "mtu": usage: mtu N`},
		{"mtu 67", `tap0/ctl: line 1: "mtu 67": bad number: mtu must be 68..1500`},
		{"mtu 1501", `tap0/ctl: line 1: "mtu 1501": bad number: mtu must be 68..1500`},
		{"mtu 9000", `tap0/ctl: line 1: "mtu 9000": bad number: mtu must be 68..1500`},
		{"mtu big", `tap0/ctl: line 1: "mtu big": bad number: mtu must be 68..1500`},
		{"up now", `tap0/ctl: line 1: "up now": usage: up`},
		{"down 1", `tap0/ctl: line 1: "down 1": usage: down`},
		{"garp 10.0.0.1", `tap0/ctl: line 1: "garp 10.0.0.1": usage: garp`},
		{"promiscuous", `tap0/ctl: line 1: "promiscuous": usage: promiscuous on|off`},
		{"promiscuous yes", `tap0/ctl: line 1: "promiscuous yes": usage: promiscuous on|off`},
		{"arptimeout", `tap0/ctl: line 1: "arptimeout": usage: arptimeout SECONDS`},
		{"arptimeout 0", `tap0/ctl: line 1: "arptimeout 0": bad number: arptimeout must be 1..86400 seconds`},
		{"arptimeout 86401", `tap0/ctl: line 1: "arptimeout 86401": bad number: arptimeout must be 1..86400 seconds`},
		{"arptimeout -5", `tap0/ctl: line 1: "arptimeout -5": bad number: arptimeout must be 1..86400 seconds`},
		{"arptimeout 1.5", `tap0/ctl: line 1: "arptimeout 1.5": bad number: arptimeout must be 1..86400 seconds`},
		// 9223372037 s overflows a Duration: it must not wrap into range.
		{"arptimeout 9223372037", `tap0/ctl: line 1: "arptimeout 9223372037": bad number: arptimeout must be 1..86400 seconds`},
		{"arptimeout 99999999999999999999", `tap0/ctl: line 1: "arptimeout 99999999999999999999": bad number: arptimeout must be 1..86400 seconds`},
		{"up\n\n# fine\nmtu 0", `tap0/ctl: line 4: "mtu 0": bad number: mtu must be 68..1500`},
		{"impair", `tap0/ctl: line 1: "impair": usage: ` + impair.Usage},
		{"impair rx", `tap0/ctl: line 1: "impair rx": usage: ` + impair.Usage},
		{"impair loss 101%", `tap0/ctl: line 1: "impair loss 101%": bad number: loss must be a percentage 0..100 with at most 4 decimals, not "101%"`},
		{"impair tx jitter 5", `tap0/ctl: line 1: "impair tx jitter 5": bad option: unknown option "jitter" (rx, tx, off, loss, duplicate, reorder, corrupt, delay)`},
		{"impair reorder 5%", `tap0/ctl: line 1: "impair reorder 5%": bad option: reorder needs a delay (the reordered frames go at once while the others wait)`},
	}
	for _, tc := range cases {
		cmds, err := ParseCtl("tap0/ctl", []byte(tc.text))
		if cmds != nil {
			t.Errorf("%q: returned commands with an error: %v", tc.text, cmds)
		}
		wantErr(t, fmt.Sprintf("ParseCtl(%q)", tc.text), err, E, tc.msg)
	}
}

func TestParseARPErrors(t *testing.T) {
	cases := []struct{ text, msg string }{
		{"add 192.168.69.9", `tap0/arp: line 1: "add 192.168.69.9": usage: add IP MAC`},
		{"add 192.168.69.9/24 02:00:00:00:00:09", `tap0/arp: line 1: "add 192.168.69.9/24 02:00:00:00:00:09": bad IPv4 address`},
		{"add 192.168.69.9 ff:ff:ff:ff:ff:ff", `tap0/arp: line 1: "add 192.168.69.9 ff:ff:ff:ff:ff:ff": bad hardware address: ff:ff:ff:ff:ff:ff is not a unicast address`},
		{"add 192.168.69.9 nope", `tap0/arp: line 1: "add 192.168.69.9 nope": bad hardware address`},
		{"add 224.1.1.1 02:00:00:00:00:09", `tap0/arp: line 1: "add 224.1.1.1 02:00:00:00:00:09": bad IPv4 address: 224.1.1.1 is not a unicast address`},
		{"del", `tap0/arp: line 1: "del": usage: del IP`},
		{"del 1.2.3", `tap0/arp: line 1: "del 1.2.3": bad IPv4 address`},
		{"resolve 1.2.3.4 5.6.7.8", `tap0/arp: line 1: "resolve 1.2.3.4 5.6.7.8": usage: resolve IP`},
		{"resolve 0.0.0.0", `tap0/arp: line 1: "resolve 0.0.0.0": bad IPv4 address: 0.0.0.0 is not a unicast address`},
		{"flush now", `tap0/arp: line 1: "flush now": usage: flush`},
		{"flush\nmtu 1500", `tap0/arp: line 2: "mtu 1500": unknown command: "mtu" (add, del, flush, resolve)`},
	}
	for _, tc := range cases {
		_, err := ParseARPCommands("tap0/arp", []byte(tc.text))
		wantErr(t, fmt.Sprintf("ParseARPCommands(%q)", tc.text), err, syscall.EINVAL, tc.msg)
	}
}

func TestExecErrors(t *testing.T) {
	cases := []struct {
		file, text string
		errno      syscall.Errno
		msg        string
	}{
		{"tap0/ctl", "add 192.168.69.1/16", syscall.EEXIST, `tap0/ctl: line 1: "add 192.168.69.1/16": already exists: 192.168.69.1 is already an address of this host`},
		{"tap0/ctl", "add 10.0.0.1/8\nadd 10.0.0.1/8", syscall.EEXIST, `tap0/ctl: line 2: "add 10.0.0.1/8": already exists: 10.0.0.1 is already an address of this host`},
		{"tap0/ctl", "remove 10.0.0.1/8", syscall.ENOENT, `tap0/ctl: line 1: "remove 10.0.0.1/8": not found: 10.0.0.1/8 is not an address of this host`},
		{"tap0/ctl", "remove 192.168.69.1/16", syscall.ENOENT, `tap0/ctl: line 1: "remove 192.168.69.1/16": not found: 192.168.69.1/16 is not an address of this host`},
		{"tap0/ctl", "remove all\nremove 192.168.69.1/24", syscall.ENOENT, `tap0/ctl: line 2: "remove 192.168.69.1/24": not found: 192.168.69.1/24 is not an address of this host`},
		{"tap0/ctl", "down\ngarp", syscall.ENETDOWN, `tap0/ctl: line 2: "garp": host is down`},
		{"tap0/arp", "add 192.168.69.1 02:00:00:00:00:09", syscall.EINVAL, `tap0/arp: line 1: "add 192.168.69.1 02:00:00:00:00:09": bad IPv4 address: 192.168.69.1 is an address of this host`},
		{"tap0/arp", "add 192.168.69.9 02:00:00:00:00:09\nadd 192.168.69.9 02:00:00:00:00:08", syscall.EEXIST, `tap0/arp: line 2: "add 192.168.69.9 02:00:00:00:00:08": already exists: 192.168.69.9 already has a static entry`},
		{"tap0/arp", "del 192.168.69.9", syscall.ENOENT, `tap0/arp: line 1: "del 192.168.69.9": not found: no ARP entry for 192.168.69.9`},
		{"tap0/arp", "resolve 10.0.0.2", syscall.ENETUNREACH, `tap0/arp: line 1: "resolve 10.0.0.2": not on a connected subnet`},
		{"tap0/arp", "resolve 192.168.69.255", syscall.ENETUNREACH, `tap0/arp: line 1: "resolve 192.168.69.255": not on a connected subnet`},
		{"tap0/arp", "resolve 192.168.69.1", syscall.EINVAL, `tap0/arp: line 1: "resolve 192.168.69.1": bad IPv4 address: 192.168.69.1 is an address of this host`},
	}
	for _, tc := range cases {
		th := newHarness(t)
		_, err := th.exec(tc.file, tc.text)
		wantErr(t, fmt.Sprintf("%s %q", tc.file, tc.text), err, tc.errno, tc.msg)
	}
	// Commands built by hand are checked as if they had been parsed.
	th := newHarness(t)
	for _, c := range []Command{
		{Op: OpEA}, {Op: OpMTU, N: 20000}, {Op: OpARPTimeout, D: -time.Second}, {Op: OpAdd},
		{Op: OpARPAdd, IP: peerIP}, {Op: OpARPResolve}, {Op: 99},
		{Op: OpImpair, Impair: impair.Command{Dir: 7}}, {Op: OpImpair, Impair: impair.Command{Settings: impair.Settings{Loss: impair.Certain + 1}}},
		{Op: OpImpair, Impair: impair.Command{Settings: impair.Settings{Reorder: 1}}},
	} {
		c.Line, c.Text = 1, "built"
		var out Output
		if err := th.h.Exec(th.now, "tap0/ctl", []Command{c}, &out); ctl.Errno(err) != syscall.EINVAL {
			t.Errorf("Exec(%+v) = %v, want EINVAL", c, err)
		}
	}
}

func TestExecTooManyAddrs(t *testing.T) {
	th := newHarness(t)
	var b strings.Builder
	for i := 1; i < MaxAddrs; i++ {
		fmt.Fprintf(&b, "add 10.%d.%d.1/24\n", i>>8, i&0xff)
	}
	th.mustExec("tap0/ctl", b.String())
	_, err := th.exec("tap0/ctl", "add 172.16.0.1/12")
	wantErr(t, "one address too many", err, syscall.ENOSPC, `tap0/ctl: line 1: "add 172.16.0.1/12": too many addresses: at most 256`)
	th.mustExec("tap0/ctl", "remove 10.0.1.1/24\nadd 172.16.0.1/12")
}

// TestExecIsAtomic: a write with one bad line changes nothing at all.
func TestExecIsAtomic(t *testing.T) {
	cases := []struct{ file, text string }{
		{"tap0/ctl", "ea 02:00:00:00:00:07\nmtu 576\npromiscuous on\narptimeout 5\nadd 10.0.0.1/8\nremove 192.168.69.1/24\ndown\nremove 172.16.0.1/12"},
		{"tap0/ctl", "remove all\nadd 10.0.0.1/8\ngarp\ndown\ngarp"},
		{"tap0/ctl", "impair tx delay 10\nimpair rx loss 100%\nmtu 1"},
		{"tap0/arp", "flush\nadd 192.168.69.7 02:00:00:00:00:07\nresolve 192.168.69.8\ndel 192.168.69.100\ndel 192.168.69.50"},
		{"tap0/arp", "del 192.168.69.9\nresolve 10.9.9.9"},
	}
	for _, tc := range cases {
		th := newHarness(t)
		th.recv(whoHas(hostIP))
		th.recv(ping(1, nil))
		th.mustExec("tap0/arp", "add 192.168.69.9 02:00:00:00:00:09\nresolve 192.168.69.20")
		th.now = th.now.Add(300 * time.Millisecond)
		before := th.snap()
		deadline := th.h.Deadline()
		sent, err := th.exec(tc.file, tc.text)
		if err == nil {
			t.Fatalf("%q: no error", tc.text)
		}
		if len(sent) != 0 || len(th.out.Events) != 0 {
			t.Errorf("%q: failed write sent %d frames, %d events", tc.text, len(sent), len(th.out.Events))
		}
		if after := th.snap(); !reflect.DeepEqual(before, after) {
			t.Errorf("%q changed the host:\nbefore %+v\nafter  %+v", tc.text, before, after)
		}
		if !th.h.Deadline().Equal(deadline) {
			t.Errorf("%q moved the deadline", tc.text)
		}
	}
}

func TestConfigReplay(t *testing.T) {
	for _, down := range []bool{false, true} {
		src := newHarness(t)
		src.mustExec("tap0/ctl", "ea 02:00:00:00:00:2a\nmtu 1280\npromiscuous on\narptimeout 120\nadd 10.0.0.1/8\nadd 172.16.5.4/31\nimpair rx corrupt 0.5%")
		if down {
			src.mustExec("tap0/ctl", "down")
		}
		want := src.snap().Config
		text := AppendConfig(nil, want)

		dst := newHarness(t, func(c *Config) {
			c.MAC = wire.MAC{2, 0, 0, 0, 0, 0x77}
			c.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.1.1/24"), netip.MustParsePrefix("10.0.0.1/16")}
			c.MTU = 600
		})
		if !down {
			dst.mustExec("tap0/ctl", "down")
		}
		dst.mustExec("tap0/ctl", "impair duplicate 1%") // which the replay clears
		sent := dst.mustExec("tap0/ctl", string(text))
		got := dst.snap().Config
		if !reflect.DeepEqual(got, want) {
			t.Errorf("down=%v: replaying\n%s\ngave %+v\nwant %+v", down, text, got, want)
		}
		// Each address is announced once, with the new hardware address,
		// and only by a host that is up.
		wantSent := 3
		if down {
			wantSent = 0
		}
		if len(sent) != wantSent {
			t.Errorf("down=%v: replay sent %d frames, want %d", down, len(sent), wantSent)
		}
		for _, f := range sent {
			if eth, a := parseARPOut(t, f); eth.Src != want.MAC || a.SenderIP != a.TargetIP {
				t.Errorf("announcement %+v %+v", eth, a)
			}
		}
		// Replaying onto itself changes nothing.
		src.mustExec("tap0/ctl", string(text))
		if got := src.snap().Config; !reflect.DeepEqual(got, want) {
			t.Errorf("down=%v: self-replay gave %+v", down, got)
		}
	}
	// The rendering itself, for the docs.
	th := newHarness(t)
	want := "ea 02:00:00:00:00:01\nmtu 1500\npromiscuous off\narptimeout 60\nimpair off\nremove all\nadd 192.168.69.1/24\nipv6 autoconf off\nipv6 off\nup\n"
	s := th.snap()
	if got := string(s.AppendConfig(nil)); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}

func TestCommandAppendRoundTrip(t *testing.T) {
	ctl := "ea 02:00:00:00:00:02\nadd 192.168.69.1/24\nremove 10.0.0.1/31\nremove all\nmtu 576\nup\ndown\npromiscuous on\npromiscuous off\ngarp\narptimeout 90\nroute add 0.0.0.0/0 192.168.69.100\nroute remove 10.0.0.0/8\n" +
		"impair off\nimpair rx off\nimpair tx loss 1% duplicate 2% reorder 3% corrupt 4% delay 5~6\nimpair delay 0~0.5\n" +
		"add 2001:db8::1/64\nremove fe80::2/10\nipv6 on\nipv6 off\nipv6 autoconf on\nipv6 autoconf off\n"
	arp := "add 192.168.69.9 02:00:00:00:00:09\ndel 192.168.69.9\nflush\nresolve 192.168.69.7\nadd fe80::9 02:00:00:00:00:09\ndel 2001:db8::9\nresolve fe80::7\n"
	for _, tc := range []struct {
		text  string
		parse func(string, []byte) ([]Command, error)
	}{{ctl, ParseCtl}, {arp, ParseARPCommands}} {
		cmds, err := tc.parse("f", []byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for _, c := range cmds {
			b = c.Append(b)
		}
		if string(b) != tc.text {
			t.Errorf("rendered:\n%s\nwant:\n%s", b, tc.text)
		}
	}
	if s := (Command{Op: OpMTU, N: 1500}).String(); s != "mtu 1500" {
		t.Errorf("String() = %q", s)
	}
}

func TestErrno(t *testing.T) {
	_, err := ParseCtl("tap0/ctl", []byte("mtu 1"))
	if !errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) || !errors.Is(err, ctl.ErrBadNumber) {
		t.Errorf("errors.Is on %v", err)
	}
	_, err = ParseCtl("tap0/ctl", []byte("impair delay 1s"))
	if !errors.Is(err, syscall.EINVAL) || !errors.Is(err, ctl.ErrBadNumber) {
		t.Errorf("errors.Is on %v", err)
	}
	wrapped := fmt.Errorf("writing: %w", err)
	if ctl.Errno(wrapped) != syscall.EINVAL {
		t.Errorf("ctl.Errno(wrapped) = %d", ctl.Errno(wrapped))
	}
	if ctl.Errno(nil) != 0 || ctl.Errno(errors.New("x")) != syscall.EIO || ctl.Errno(fmt.Errorf("open: %w", syscall.EBUSY)) != syscall.EBUSY {
		t.Error("Errno of nil, plain and wrapped errno errors")
	}
	if ctl.Errno(&fs.PathError{Op: "open", Path: "/dev/net/tun", Err: syscall.ENOENT}) != syscall.ENOENT {
		t.Error("Errno of a PathError")
	}
	ce := &ctl.CommandError{File: "tap0/ctl", Errno: syscall.EIO, Err: errors.New("tap gone")}
	if ce.Error() != "tap0/ctl: tap gone" {
		t.Errorf("%q", ce.Error())
	}
}
