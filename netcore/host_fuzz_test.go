package netcore

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/wire"
)

// fuzzPeer is neighbour p of 16 on 192.168.69.0/24.
func fuzzPeer(p byte) (netip.Addr, wire.MAC) {
	p %= 16
	return netip.AddrFrom4([4]byte{192, 168, 69, 10 + p}), wire.MAC{0x02, 0, 0, 0, 1, p}
}

// fuzzTemplate makes a realistic frame for the fuzzer to start from, so
// that it need not discover the ARP and IPv4 layouts by itself.
func fuzzTemplate(kind, p byte) []byte {
	ip, mac := fuzzPeer(p)
	switch kind % 17 {
	case 0:
		return arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, ip, wire.MAC{}, hostIP)
	case 1:
		return arpFrame(wire.ARPReply, hostMAC, mac, ip, hostMAC, hostIP)
	case 2:
		return arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, ip, wire.MAC{}, ip)
	case 3:
		return echoFrame(mac, hostMAC, ip, hostIP, uint16(p), uint16(kind), []byte("payload"))
	case 4:
		other, _ := fuzzPeer(p + 1)
		return arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, ip, wire.MAC{}, other)
	case 5:
		return arpFrame(wire.ARPReply, wire.BroadcastMAC, mac, hostIP, wire.MAC{}, hostIP)
	case 6:
		return append(wire.EthernetRepr{Dst: hostMAC, Src: mac, Type: wire.EtherTypeIPv6}.Append(nil), make([]byte, 46)...)
	case 7:
		return echoFrame(mac, hostMAC, ip, hostIP, 1, 1, make([]byte, int(p)*97))
	case 8:
		f := echoFrame(mac, hostMAC, ip, hostIP, 1, 1, nil)
		f[wire.EthHeaderLen+9] = byte(wire.ProtoUDP)
		return f
	case 10, 11: // the first and the last of a fragmented ping
		r := wire.IPv4Repr{Src: ip, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: uint16(p), MF: kind%17 == 10, FragOffset: 16 * int(kind%17-10)}
		b := wire.EthernetRepr{Dst: hostMAC, Src: mac, Type: wire.EtherTypeIPv4}.Append(nil)
		msg := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: 1, Seq: 1, Data: make([]byte, 24)}.Append(nil)
		r.PayloadLen = 16
		return wire.PadFrame(append(r.Append(b), msg[16*int(kind%17-10):][:16]...))
	case 12, 13: // a ping with Record Route, or Timestamp
		r := wire.IPv4Repr{Src: ip, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 1}
		opts := []byte{wire.IPv4OptRR, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}
		if kind%17 == 13 {
			opts = []byte{wire.IPv4OptTimestamp, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0}
		}
		msg := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: 1, Seq: 1, Data: []byte("opts")}.Append(nil)
		r.PayloadLen = len(msg)
		b := wire.EthernetRepr{Dst: hostMAC, Src: mac, Type: wire.EtherTypeIPv4}.Append(nil)
		return wire.PadFrame(append(r.AppendOptions(b, opts), msg...))
	case 15, 16: // a TCP SYN, or an ACK with data, to one of the ports
		r := wire.TCPRepr{SrcPort: 40000 + uint16(p%4), DstPort: fuzzPorts[int(p)%len(fuzzPorts)], Seq: 1000, Flags: wire.TCPFlagSYN, Window: 65535}
		r.Options.HasMSS, r.Options.MSS = true, 1460
		var payload []byte
		if kind%17 == 16 {
			r = wire.TCPRepr{SrcPort: r.SrcPort, DstPort: r.DstPort, Seq: 1001, Ack: 1, Flags: wire.TCPFlagACK | wire.TCPFlagPSH, Window: 65535}
			payload = []byte("some data")
		}
		seg := append(r.Append(nil), payload...)
		wire.SetTCPChecksum(seg[:r.HeaderLen()], payload, ip, hostIP)
		b := wire.EthernetRepr{Dst: hostMAC, Src: mac, Type: wire.EtherTypeIPv4}.Append(nil)
		b = wire.IPv4Repr{Src: ip, Dst: hostIP, Protocol: wire.ProtoTCP, TTL: 64, PayloadLen: len(seg)}.Append(b)
		return wire.PadFrame(append(b, seg...))
	default:
		return echoFrame(mac, wire.MAC{0x02, 0xee, 0, 0, 0, 1}, ip, netip.MustParseAddr("10.0.0.1"), 1, 1, nil)
	}
}

var fuzzCtl = []string{
	"down", "up", "garp", "promiscuous on", "promiscuous off", "mtu 576", "mtu 1500", "mtu 68",
	"arptimeout 1", "arptimeout 60", "add 10.0.0.1/8", "remove 10.0.0.1/8", "remove all",
	"remove all\nadd 192.168.69.1/24", "ea 02:00:00:00:00:02", "ea 02:00:00:00:00:01", "add 192.168.69.1/24",
	"add 192.168.69.200/32", "add 192.168.69.13/31",
	"route add 0.0.0.0/0 192.168.69.10", "route remove 0.0.0.0/0", "route add 10.0.0.0/8 192.168.69.11",
	// The link made flaky, so that every path runs with frames lost,
	// doubled, corrupted and held, and then released.
	"impair loss 30% duplicate 30% corrupt 10% reorder 30% delay 20~15", "impair rx delay 0~40 corrupt 50%",
	"impair tx loss 50% delay 5", "impair rx duplicate 100%", "impair off", "impair tx off",
}

// fuzzScript runs a script of operations on a host and checks, after each,
// the harness's invariants.
func fuzzScript(t *testing.T, script []byte) {
	th := newHarness(t, func(c *Config) { c.ARPCacheSize = 8; c.ARPPending = 2 })
	next := func() byte {
		if len(script) == 0 {
			return 0
		}
		b := script[0]
		script = script[1:]
		return b
	}
	take := func(n int) []byte {
		n = min(n, len(script))
		b := script[:n]
		script = script[n:]
		return b
	}
	var refs []ConvRef // conversations the script made, some perhaps gone
	for steps := 0; len(script) > 0 && steps < 300; steps++ {
		var sent [][]byte
		// A frame held by tx impairment leaves later, perhaps corrupted, or
		// after the host went down or changed its address: what a step
		// sends is checked against the host only when nothing went through
		// the tx stage.
		txQuiet := !th.h.tx.Active()
		txBefore := th.h.stats[TxFrames]
		switch op := next(); op % 9 {
		case 0: // a raw frame
			n := int(next())<<3 | int(next()&7)
			sent = th.recv(bytes.Clone(take(n)))
		case 1: // a template, mutated
			f := fuzzTemplate(next(), next())
			for k := next() % 4; k > 0; k-- {
				f[int(next())%len(f)] = next()
			}
			if next()%8 == 0 {
				f = f[:int(next())%len(f)]
			}
			sent = th.recv(f)
		case 2: // time passes
			sent = th.advance(time.Duration(next()) * 37 * time.Millisecond)
		case 3:
			sent, _ = th.exec("tap0/ctl", fuzzCtl[int(next())%len(fuzzCtl)])
		case 4:
			ip, mac := fuzzPeer(next())
			cmd := []string{"flush", "resolve " + ip.String(), fmt.Sprintf("add %s %s", ip, mac), "del " + ip.String()}[next()%4]
			sent, _ = th.exec("tap0/arp", cmd)
		case 5: // free text
			file := "tap0/ctl"
			if next()%2 == 1 {
				file = "tap0/arp"
			}
			sent, _ = th.exec(file, string(take(int(next()%64))))
		case 6: // the clock jumps to the next deadline
			if d := th.h.Deadline(); !d.IsZero() {
				th.now = d
				sent = th.poll()
			}
		case 7: // a conversation operation
			sent = fuzzConv(th, &refs, next(), next())
		case 8: // a datagram from a peer's port to one of ours
			ip, mac := fuzzPeer(next())
			b := wire.EthernetRepr{Dst: hostMAC, Src: mac, Type: wire.EtherTypeIPv4}.Append(nil)
			u := wire.UDPRepr{SrcPort: uint16(next() % 4), DstPort: fuzzPorts[next()%byte(len(fuzzPorts))], Payload: take(int(next()))}
			b = wire.IPv4Repr{Src: ip, Dst: hostIP, Protocol: wire.ProtoUDP, TTL: 64, PayloadLen: u.Len()}.Append(b)
			sent = th.recv(wire.PadFrame(u.Append(b, ip, hostIP)))
		}
		s := th.snap()
		if txQuiet && !th.h.tx.Active() {
			for _, f := range sent {
				if eth, _ := wire.ParseEthernet(f); eth.Src != s.Config.MAC {
					t.Fatalf("sent a frame from %s, we are %s", eth.Src, s.Config.MAC)
				}
			}
			if s.Config.Down && len(sent) > 0 {
				t.Fatalf("a down host sent %d frames", len(sent))
			}
		}
		if s.Config.Down && s.Stats[TxFrames] != txBefore {
			t.Fatalf("a down host sent %d frames", s.Stats[TxFrames]-txBefore)
		}
	}
	// Whatever the script did, the configuration renders and replays.
	want := th.snap().Config
	cmds, err := ParseCtl("tap0/ctl", AppendConfig(nil, want))
	if err != nil {
		t.Fatalf("rendered config does not parse: %v", err)
	}
	other := newHarness(t, func(c *Config) { c.ARPCacheSize = 8; c.ARPPending = 2 })
	if err := other.h.Exec(t0, "tap0/ctl", cmds, &other.out); err != nil {
		t.Fatalf("rendered config does not apply: %v", err)
	}
	if got := other.h.Snapshot().Config; !reflect.DeepEqual(got, want) {
		t.Fatalf("replayed config %+v, want %+v", got, want)
	}
}

// fuzzPorts are the ports the fuzzer's conversations and datagrams use.
var fuzzPorts = []uint16{7, 9, 53, 5000}

// fuzzConv makes, commands, reads from, writes to or closes one of the
// script's conversations.
func fuzzConv(th *harness, refs *[]ConvRef, a, b byte) [][]byte {
	if a%6 == 0 || len(*refs) == 0 {
		p := ProtoUDP
		if b&1 == 1 {
			p = ProtoTCP
		}
		if ref, err := th.h.ConvClone(p); err == nil {
			*refs = append(*refs, ref)
		}
		return nil
	}
	ref := (*refs)[int(b)%len(*refs)]
	th.out.Reset()
	switch a % 6 {
	case 1:
		peer, _ := fuzzPeer(b >> 4)
		port := fuzzPorts[int(b>>2)%len(fuzzPorts)]
		line := []string{
			fmt.Sprintf("connect %s!%d", peer, port), fmt.Sprintf("announce %d", port), "hangup",
			fmt.Sprintf("connect %s!%d %d", peer, port, fuzzPorts[int(b)%len(fuzzPorts)]), "announce 192.168.69.1!7", "ttl 1",
			"close", "keepalive 1", "nodelay on",
		}[int(a>>3)%9]
		cmds, err := ctl.ParseConv("tap0/udp/ctl", []byte(line))
		if err != nil {
			th.t.Fatalf("%q: %v", line, err)
		}
		th.h.ConvCtl(th.now, ref, cmds[0], &th.out)
	case 2:
		th.h.ConvRead(th.now, ref, make([]byte, int(b)), &th.out)
	case 3:
		th.h.ConvWrite(th.now, ref, make([]byte, int(b)*7), &th.out)
	case 4:
		if call, err := th.h.ConvAccept(th.now, ref, &th.out); err == nil {
			*refs = append(*refs, call)
		}
	case 5:
		th.h.ConvClose(th.now, ref, &th.out)
	}
	return th.sent()
}

// script encodes a few operations for the seeds.
func script(ops ...[]byte) []byte { return bytes.Join(ops, nil) }

func FuzzHostReceive(f *testing.F) {
	raw := func(frame []byte) []byte {
		return append([]byte{0, byte(len(frame) >> 3), byte(len(frame) & 7)}, frame...)
	}
	tmpl := func(kind, p byte) []byte { return []byte{1, kind, p, 0, 1} }
	tick := func(n byte) []byte { return []byte{2, n} }
	f.Add(raw(whoHas(hostIP)))
	f.Add(script(tmpl(3, 1), tmpl(3, 1), tmpl(3, 1), tick(30), tick(30), tick(30)))
	f.Add(script(tmpl(0, 1), tmpl(0, 2), tmpl(0, 3), tmpl(3, 4), tmpl(1, 4), tmpl(2, 1), tmpl(5, 0)))
	f.Add(script([]byte{4, 3, 1}, []byte{4, 3, 2}, tmpl(3, 3), []byte{6}, []byte{6}, []byte{6}, []byte{6}))
	f.Add(script([]byte{3, 0}, tmpl(0, 1), []byte{3, 1}, tmpl(7, 15), []byte{3, 5}, tmpl(7, 15)))
	f.Add(script(tmpl(3, 1), []byte{3, 12}, tick(40), tick(40), tick(40), []byte{3, 13}))
	f.Add(script([]byte{5, 0, 20}, []byte("add 10.0.0.1/8\ngarp\n"), []byte{5, 1, 10}, []byte("resolve 19")))
	f.Add(raw(make([]byte, 13)))
	f.Add(script(tmpl(8, 0), tmpl(6, 0), tmpl(9, 0), tmpl(4, 0)))
	f.Add(script(tmpl(0, 1), tmpl(10, 1), tmpl(11, 1), tmpl(10, 2), tick(255), []byte{6}, tmpl(12, 3), tmpl(13, 4)))
	f.Add(script([]byte{3, 19}, tmpl(9, 0), []byte{3, 21}, []byte{3, 12}, tmpl(0, 1), []byte{3, 20}))
	impairLine := func(i int) []byte { return []byte{3, byte(len(fuzzCtl) - 6 + i)} }
	f.Add(script(impairLine(0), tmpl(3, 1), tmpl(0, 2), tmpl(3, 1), tick(1), tmpl(3, 3), []byte{6}, []byte{6}, impairLine(4), tmpl(3, 1)))
	f.Add(script(impairLine(1), tmpl(3, 1), tmpl(3, 2), impairLine(2), tmpl(3, 1), []byte{3, 0}, tick(1), []byte{6}, []byte{3, 1}, []byte{6}))
	f.Add(script(impairLine(3), tmpl(0, 1), tmpl(3, 1), impairLine(2), tmpl(3, 4), []byte{3, 14}, tick(1), impairLine(5)))
	conv := func(a, b byte) []byte { return []byte{7, a, b} }
	udp := func(p, sport, port, n byte) []byte { return []byte{8, p, sport, port, n} }
	f.Add(script(conv(0, 0), conv(1|1<<3, 0), udp(1, 1, 1, 4), []byte("abcd"), conv(4, 0), conv(2, 200), conv(3, 10), conv(5, 0)))
	f.Add(script(conv(0, 0), conv(1, 0), tmpl(1, 0), conv(3, 100), udp(0, 1, 0, 0), conv(2, 0), conv(5, 0), conv(5, 0)))
	// TCP: an announcement a peer connects to, a call taken, data both
	// ways, a connect of our own, the clock running out its timers.
	f.Add(script(conv(0, 1), conv(1|1<<3, 0), tmpl(15, 1), tmpl(16, 1), conv(4, 0), conv(2, 100), conv(3, 3), conv(5, 0),
		conv(0, 1), conv(1, 1), tmpl(1, 1), conv(3, 9), []byte{6}, []byte{6}, tick(255), conv(1|6<<3, 1), conv(5, 1)))
	f.Fuzz(fuzzScript)
}

// checkParsed checks what holds for any parse: an error is a *ctl.CommandError
// with a class and a line, commands render to the spelling that parses back
// to them.
func checkParsed(t *testing.T, file string, cmds []Command, err error, parse func(string, []byte) ([]Command, error)) {
	t.Helper()
	if err != nil {
		var ce *ctl.CommandError
		if !errors.As(err, &ce) || ce.Errno == 0 || ce.Line < 1 || ce.File != file || ce.Err == nil {
			t.Fatalf("error %#v (%v)", err, err)
		}
		if cmds != nil {
			t.Fatalf("commands %v returned with an error", cmds)
		}
		return
	}
	var text []byte
	for _, c := range cmds {
		if r := c.check(); r != nil {
			t.Fatalf("parsed %q into an invalid command %+v: %v", c.Text, c, r)
		}
		text = c.Append(text)
	}
	again, err := parse(file, text)
	if err != nil {
		t.Fatalf("rendered %q does not parse: %v", text, err)
	}
	if len(again) != len(cmds) {
		t.Fatalf("rendered %q parses into %d commands, want %d", text, len(again), len(cmds))
	}
	for i := range cmds {
		a, b := cmds[i], again[i]
		a.Line, a.Text, b.Line, b.Text = 0, "", 0, ""
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q parses back as %+v, was %+v", cmds[i].Text, b, a)
		}
	}
	// Applied to a host, a write either works or changes nothing.
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	before := th.snap()
	if err := th.h.Exec(th.now, file, cmds, &th.out); err != nil {
		var ce *ctl.CommandError
		if !errors.As(err, &ce) || ce.Errno == 0 {
			t.Fatalf("Exec error %#v", err)
		}
		if after := th.snap(); !reflect.DeepEqual(before, after) {
			t.Fatalf("failed Exec changed the host:\n%+v\n%+v", before, after)
		}
	}
	checkInvariants(t, th.h)
}

func FuzzParseCtl(f *testing.F) {
	for _, s := range append(fuzzCtl,
		"ea 02-00-00-00-00-03\nmac 020000000004", "add 300.1.1.1/24", "mtu 99999999999999999999", "arptimeout 9223372037",
		"# comment\n\n  up  \r\n", "promiscuous maybe", "add 192.168.69.0/24", "remove 10.0.0.1/8\nremove all",
		"add 1.2.3.4/32\nadd 1.2.3.5/31", "ea ff:ff:ff:ff:ff:ff", "\x00\xff", "add 10.0.0.1/08",
		"ipv6 on\nadd 2001:db8::1/64\nipv6 autoconf on", "add fe80::1%tap0/64", "remove 2001:db8::1/64\nipv6 off") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		cmds, err := ParseCtl("tap0/ctl", text)
		checkParsed(t, "tap0/ctl", cmds, err, ParseCtl)
	})
}

func FuzzParseARPCommands(f *testing.F) {
	for _, s := range []string{
		"add 192.168.69.9 02:00:00:00:00:09", "del 192.168.69.9", "flush", "resolve 192.168.69.7",
		"add 192.168.69.9 020000000009\ndel 192.168.69.9\nresolve 192.168.69.9", "add 192.168.69.1 02:00:00:00:00:09",
		"resolve 10.0.0.1", "add 1.2.3.4 ff-ff-ff-ff-ff-ff", "del", "flush now",
		"add fe80::9 02:00:00:00:00:09\nresolve fe80::7\ndel 2001:db8::9", "resolve ::ffff:1.2.3.4",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		cmds, err := ParseARPCommands("tap0/arp", text)
		checkParsed(t, "tap0/arp", cmds, err, ParseARPCommands)
	})
}

func FuzzParseRootCtl(f *testing.F) {
	for _, s := range []string{
		"new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24", "new tap1", "del tap1",
		"new tap2 ip 10.0.0.1/8 mac 020000000002 add 10.1.0.1/16", "new ctl", "new a/b", "new tap0 ea",
		"tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24", "tap0,ip=10.0.0.1/8,ip=10.0.0.1/8", "new abcdefghijklmnop",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		check := func(err error) {
			var ce *ctl.CommandError
			if !errors.As(err, &ce) || ce.Errno == 0 || ce.Err == nil {
				t.Fatalf("error %#v (%v)", err, err)
			}
		}
		cmds, err := ctl.ParseRoot("ctl", text)
		if err != nil {
			check(err)
		} else {
			var b []byte
			for _, c := range cmds {
				b = c.Append(b)
			}
			again, err := ctl.ParseRoot("ctl", b)
			if err != nil || len(again) != len(cmds) {
				t.Fatalf("rendered %q: %v, %d commands", b, err, len(again))
			}
			for i := range cmds {
				a, b := cmds[i], again[i]
				a.Line, a.Text, b.Line, b.Text = 0, "", 0, ""
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("%q parses back as %+v, was %+v", cmds[i].Text, b, a)
				}
				if a.Op == ctl.RootNew {
					h, err := NewHost(Config{Name: a.Host.Name, MAC: hostMAC, Addrs: a.Host.Addrs})
					if err != nil || h == nil {
						t.Fatalf("NewHost refuses what ParseRootCtl accepts: %v", err)
					}
				}
			}
		}
		spec, err := ctl.ParseHostFlag(string(text))
		if err != nil {
			check(err)
			return
		}
		again, err := ctl.ParseRoot("ctl", spec.Append(nil))
		if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0].Host, spec) {
			t.Fatalf("-host %q renders as %q: %v %+v", text, spec.Append(nil), err, again)
		}
	})
}
