package ctl

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseConvAddr(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		in   string
		want netip.AddrPort
	}{
		{"192.168.69.100!7", ap("192.168.69.100:7")},
		{"192.168.69.100:7", ap("192.168.69.100:7")},
		{"192.168.69.100", ap("192.168.69.100:0")},
		{"[2001:db8::2]:7", ap("[2001:db8::2]:7")},
		{"2001:db8::2!7", ap("[2001:db8::2]:7")},
		{"fe80::2!65535", ap("[fe80::2]:65535")},
		{"2001:db8::2", ap("[2001:db8::2]:0")},
		{"*!7", ap("0.0.0.0:7")},
		{"[::ffff:192.168.69.1]:7", ap("192.168.69.1:7")},
	} {
		got, r := ParseConvAddr(tc.in)
		if r != nil || got != tc.want {
			t.Errorf("ParseConvAddr(%q) = %v, %v; want %v", tc.in, got, r, tc.want)
		}
	}
	for _, in := range []string{"", "!", "1.2.3.4!", "1.2.3.4!65536", "1.2.3.4:-1", "1.2.3.4:+7", "1.2.3.4:x",
		"host!7", "[::1", "[::1]x7", "[::1]:", "1.2.3.4:", "300.1.1.1!7", "1.2.3.4!7!8", "[fe80::1%eth0]:7", "*:7"} {
		if got, r := ParseConvAddr(in); r == nil || r.Errno != syscall.EINVAL || !errors.Is(r, ErrBadAddrPort) {
			t.Errorf("ParseConvAddr(%q) = %v, %v; want a bad address!port", in, got, r)
		}
	}
}

func TestParseConv(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		in   string
		want ConvCommand
		text string // Append's rendering, when it differs from in
	}{
		{"connect 192.168.69.100!7", ConvCommand{Op: ConvConnect, Remote: ap("192.168.69.100:7")}, ""},
		{"connect 192.168.69.100:7 4000", ConvCommand{Op: ConvConnect, Remote: ap("192.168.69.100:7"), LocalPort: 4000}, "connect 192.168.69.100!7 4000"},
		{"connect 192.168.69.100", ConvCommand{Op: ConvConnect, Remote: ap("192.168.69.100:0")}, "connect 192.168.69.100!0"},
		{"announce 7", ConvCommand{Op: ConvAnnounce, Local: ap("0.0.0.0:7")}, "announce 0.0.0.0!7"},
		{"announce *!7", ConvCommand{Op: ConvAnnounce, Local: ap("0.0.0.0:7")}, "announce 0.0.0.0!7"},
		{"announce 192.168.69.1!53", ConvCommand{Op: ConvAnnounce, Local: ap("192.168.69.1:53")}, ""},
		{"close", ConvCommand{Op: ConvClose}, ""},
		{"hangup", ConvCommand{Op: ConvHangup}, ""},
		{"keepalive", ConvCommand{Op: ConvKeepalive, On: true}, ""},
		{"keepalive 30", ConvCommand{Op: ConvKeepalive, On: true, D: 30 * time.Second}, ""},
		{"keepalive 0", ConvCommand{Op: ConvKeepalive}, ""},
		{"nodelay on", ConvCommand{Op: ConvNodelay, On: true}, ""},
		{"nodelay off", ConvCommand{Op: ConvNodelay}, ""},
		{"ttl 1", ConvCommand{Op: ConvTTL, N: 1}, ""},
		{"tos 0", ConvCommand{Op: ConvTOS}, ""},
		{"tos 255", ConvCommand{Op: ConvTOS, N: 255}, ""},
	} {
		cmds, err := ParseConv("tap0/udp/0/ctl", []byte("\n# comment\n  "+tc.in+"  \n"))
		if err != nil || len(cmds) != 1 {
			t.Errorf("ParseConv(%q) = %v, %v", tc.in, cmds, err)
			continue
		}
		got := cmds[0]
		tc.want.Line, tc.want.Text = 3, tc.in
		if got != tc.want {
			t.Errorf("ParseConv(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		text := tc.text
		if text == "" {
			text = tc.in
		}
		if s := got.String(); s != text {
			t.Errorf("%q renders as %q, want %q", tc.in, s, text)
		}
	}
}

func TestParseConvErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"frob", `tap0/udp/0/ctl: line 1: "frob": unknown command: "frob" (connect, announce, close, hangup, keepalive, nodelay, ttl, tos)`},
		{"connect", `usage: connect IP!PORT [LOCALPORT]`},
		{"connect 1.2.3.4!7 99999", `bad address!port: port "99999"`},
		{"connect nowhere!7", `bad address!port`},
		{"announce", `usage: announce PORT`},
		{"announce 70000", `bad address!port`},
		{"close now", `usage: close`},
		{"keepalive -1", `bad number`},
		{"keepalive 99999999999999999999", `bad number`},
		{"nodelay maybe", `usage: nodelay on|off`},
		{"ttl 0", `bad number: ttl takes 1 to 255`},
		{"ttl 256", `bad number`},
		{"tos -1", `bad number: tos takes 0 to 255`},
	} {
		_, err := ParseConv("tap0/udp/0/ctl", []byte(tc.in))
		var ce *CommandError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || ce.Line != 1 || ce.Text != tc.in {
			t.Errorf("ParseConv(%q): %v, want a CommandError of line 1 containing %q", tc.in, err, tc.want)
			continue
		}
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("ParseConv(%q): %v is not of class EINVAL", tc.in, err)
		}
	}
	// One bad line refuses the whole write and names its line.
	if _, err := ParseConv("c", []byte("ttl 9\nfrob\n")); err == nil || !strings.HasPrefix(err.Error(), `c: line 2: "frob"`) {
		t.Errorf("a bad second line: %v", err)
	}
}

// FuzzParseConv: no input panics, and every command that parses renders to
// a line that parses back to the same command.
func FuzzParseConv(f *testing.F) {
	for _, s := range []string{"connect 192.168.69.100!7 4000", "announce *!7", "announce [::1]:9", "keepalive 30",
		"nodelay on", "ttl 64", "tos 16", "hangup", "connect [fe80::1]:80", "connect 1.2.3.4:", "connect ::ffff:1.2.3.4!7"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		cmds, err := ParseConv("f", text)
		if err != nil {
			var ce *CommandError
			if !errors.As(err, &ce) || ce.Errno != syscall.EINVAL || ce.Line < 1 {
				t.Fatalf("error %v is not a CommandError of class EINVAL with a line", err)
			}
			return
		}
		for _, c := range cmds {
			back, err := ParseConv("f", []byte(c.String()))
			if err != nil || len(back) != 1 {
				t.Fatalf("%q renders as %q, which does not parse: %v", c.Text, c.String(), err)
			}
			b := back[0]
			b.Line, b.Text = c.Line, c.Text
			if b != c {
				t.Fatalf("%q renders as %q, which parses to %+v, not %+v", c.Text, c.String(), b, c)
			}
		}
	})
}
