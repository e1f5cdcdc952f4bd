package ctl

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

var (
	hostMAC    = wire.MAC{0x02, 0, 0, 0, 0, 0x01}
	hostPrefix = netip.MustParsePrefix("192.168.69.1/24")
)

// wantErr checks a *CommandError's class and exact words.
func wantErr(t *testing.T, what string, err error, errno syscall.Errno, msg string) {
	t.Helper()
	var ce *CommandError
	switch {
	case !errors.As(err, &ce):
		t.Errorf("%s: %v (%T), want a *CommandError %q", what, err, err, msg)
	case ce.Errno != errno || !errors.Is(err, errno) || err.Error() != msg:
		t.Errorf("%s:\n got %q (errno %d)\nwant %q (errno %d)", what, err, ce.Errno, msg, errno)
	}
}

func TestParseRoot(t *testing.T) {
	cmds, err := ParseRoot("ctl", []byte("new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\nnew tap1\nnew tap2 ip 10.0.0.1/8 mac 020000000002 add 10.1.0.1/16\ndel tap1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []RootCommand{
		{Op: RootNew, Line: 1, Text: "new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24", Host: HostSpec{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix}}},
		{Op: RootNew, Line: 2, Text: "new tap1", Host: HostSpec{Name: "tap1"}},
		{Op: RootNew, Line: 3, Text: "new tap2 ip 10.0.0.1/8 mac 020000000002 add 10.1.0.1/16", Host: HostSpec{Name: "tap2", MAC: wire.MAC{2, 0, 0, 0, 0, 2},
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/8"), netip.MustParsePrefix("10.1.0.1/16")}}},
		{Op: RootDel, Line: 4, Text: "del tap1", Host: HostSpec{Name: "tap1"}},
	}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("got:\n%+v\nwant:\n%+v", cmds, want)
	}
	var b []byte
	for _, c := range cmds {
		b = c.Append(b)
	}
	if got := string(b); got != "new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\nnew tap1\nnew tap2 ea 02:00:00:00:00:02 add 10.0.0.1/8 add 10.1.0.1/16\ndel tap1\n" {
		t.Errorf("rendered:\n%s", got)
	}

	cases := []struct {
		text  string
		errno syscall.Errno
		msg   string
	}{
		{"new", syscall.EINVAL, `ctl: line 1: "new": usage: new NAME [ea MAC] [add IP/N]...`},
		{"new tap0 ea", syscall.EINVAL, `ctl: line 1: "new tap0 ea": usage: new NAME [ea MAC] [add IP/N]...`},
		{"new tap0 ea 02:00:00:00:00:01 ea 02:00:00:00:00:02", syscall.EINVAL, `ctl: line 1: "new tap0 ea 02:00:00:00:00:01 ea 02:00:00:00:00:02": bad option: ea given twice`},
		{"new tap0 mtu 1500", syscall.EINVAL, `ctl: line 1: "new tap0 mtu 1500": bad option: unknown key "mtu" (ea, add)`},
		{"new tap0 add 10.0.0.1/8 add 10.0.0.1/16", syscall.EEXIST, `ctl: line 1: "new tap0 add 10.0.0.1/8 add 10.0.0.1/16": already exists: address 10.0.0.1 given twice`},
		{"new tap0 add 10.0.0.0/8", syscall.EINVAL, `ctl: line 1: "new tap0 add 10.0.0.0/8": bad IPv4 address/prefix: 10.0.0.0 is the network or broadcast address of 10.0.0.0/8`},
		{"new tap0 ea 01:00:00:00:00:01", syscall.EINVAL, `ctl: line 1: "new tap0 ea 01:00:00:00:00:01": bad hardware address: 01:00:00:00:00:01 is not a unicast address`},
		{"new abcdefghijklmnop", syscall.EINVAL, `ctl: line 1: "new abcdefghijklmnop": bad host name: longer than 15 bytes`},
		{"new a/b", syscall.EINVAL, `ctl: line 1: "new a/b": bad host name: "a/b" contains / : % a space or a control character`},
		{"new tap:1", syscall.EINVAL, `ctl: line 1: "new tap:1": bad host name: "tap:1" contains / : % a space or a control character`},
		{"new tap%d", syscall.EINVAL, `ctl: line 1: "new tap%d": bad host name: "tap%d" contains / : % a space or a control character`},
		{"new ..", syscall.EINVAL, `ctl: line 1: "new ..": bad host name: ".."`},
		{"new ctl", syscall.EINVAL, `ctl: line 1: "new ctl": bad host name: "ctl" is a file of the root directory`},
		{"del log", syscall.EINVAL, `ctl: line 1: "del log": bad host name: "log" is a file of the root directory`},
		{"del", syscall.EINVAL, `ctl: line 1: "del": usage: del NAME`},
		{"del tap0 tap1", syscall.EINVAL, `ctl: line 1: "del tap0 tap1": usage: del NAME`},
		{"new tap0\nfrob", syscall.EINVAL, `ctl: line 2: "frob": unknown command: "frob" (new, del)`},
	}
	for _, tc := range cases {
		_, err := ParseRoot("ctl", []byte(tc.text))
		wantErr(t, fmt.Sprintf("ParseRoot(%q)", tc.text), err, tc.errno, tc.msg)
	}
}

func TestParseHostFlag(t *testing.T) {
	h, err := ParseHostFlag("tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24,ip=10.0.0.1/8")
	want := HostSpec{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix, netip.MustParsePrefix("10.0.0.1/8")}}
	if err != nil || !reflect.DeepEqual(h, want) {
		t.Errorf("got %+v, %v", h, err)
	}
	if h, err := ParseHostFlag("tap1"); err != nil || !reflect.DeepEqual(h, HostSpec{Name: "tap1"}) {
		t.Errorf("tap1: %+v, %v", h, err)
	}
	cases := []struct {
		flag  string
		errno syscall.Errno
		msg   string
	}{
		{"", syscall.EINVAL, `-host: bad host name: ""`},
		{",ea=02:00:00:00:00:01", syscall.EINVAL, `-host: ",ea=02:00:00:00:00:01": bad host name: ""`},
		{"tap0,ea", syscall.EINVAL, `-host: "tap0,ea": bad option: "ea" is not KEY=VALUE (ea=MAC, ip=IP/N)`},
		{"tap0,ip=10.0.0.1", syscall.EINVAL, `-host: "tap0,ip=10.0.0.1": bad IPv4 address/prefix: missing /N`},
		{"tap0,ip=10.0.0.1/8,ip=10.0.0.1/8", syscall.EEXIST, `-host: "tap0,ip=10.0.0.1/8,ip=10.0.0.1/8": already exists: address 10.0.0.1 given twice`},
		{"tap0,mtu=9000", syscall.EINVAL, `-host: "tap0,mtu=9000": bad option: unknown key "mtu" (ea, add)`},
		{"tap 0", syscall.EINVAL, `-host: "tap 0": bad host name: "tap 0" contains / : % a space or a control character`},
		{"tap\x000", syscall.EINVAL, `-host: "tap\x000": bad host name: "tap\x000" contains / : % a space or a control character`},
	}
	for _, tc := range cases {
		_, err := ParseHostFlag(tc.flag)
		wantErr(t, fmt.Sprintf("ParseHostFlag(%q)", tc.flag), err, tc.errno, tc.msg)
	}
}
