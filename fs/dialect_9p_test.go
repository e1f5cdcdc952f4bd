package fs

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knusbaum/go9p/proto"

	"github.com/smolfs/smolfs/netcore"
)

// keepStat is a Twstat stat that changes nothing.
func keepStat() proto.Stat {
	return proto.Stat{Type: 0xffff, Dev: ^uint32(0), Qid: proto.Qid{Qtype: 0xff, Vers: ^uint32(0), Uid: ^uint64(0)},
		Mode: ^uint32(0), Atime: ^uint32(0), Mtime: ^uint32(0), Length: ^uint64(0)}
}

func (r *raw) wstat(fid uint32, st proto.Stat) proto.FCall {
	return r.call(&proto.TWstat{Header: hdr(proto.Twstat, 6), Fid: fid, Stat: st})
}

func (r *raw) write(fid uint32, data string) proto.FCall {
	return r.call(&proto.TWrite{Header: hdr(proto.Twrite, 7), Fid: fid, Count: uint32(len(data)), Data: []byte(data)})
}

func TestPlan9ReadEveryFile(t *testing.T) {
	e := newEnv(t)
	r := e.session9P(t, "glenda")
	h, _ := e.st.Host("tap0")

	listing := func(path ...string) []string {
		if fc := r.walkOpen(1, proto.Oread, path...); rerr(fc) != "" {
			t.Fatalf("open %v: %s", path, rerr(fc))
		}
		defer r.clunk(1)
		stats, err := proto.ParseStats([]byte(r.readAll(1)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, st := range stats {
			names = append(names, st.Name)
			if (st.Mode&proto.DMDIR != 0) != (st.Qid.Qtype == qtDir) {
				t.Errorf("%s: mode %o and qid type %x disagree", st.Name, st.Mode, st.Qid.Qtype)
			}
		}
		return names
	}
	if got, want := listing(), []string{"ctl", "log", "tap0"}; !slices.Equal(got, want) {
		t.Errorf("root lists %v, want %v", got, want)
	}
	if got, want := listing("tap0"), []string{"ctl", "addr", "arp", "frames", "frames.pcap", "stats", "udp", "tcp", "icmp"}; !slices.Equal(got, want) {
		t.Errorf("tap0 lists %v, want %v", got, want)
	}
	snap := h.Snapshot()
	for _, tc := range []struct {
		path []string
		want string
	}{
		{[]string{"ctl"}, string(e.st.CtlText())},
		{[]string{"tap0", "ctl"}, string(snap.AppendConfig(nil))},
		{[]string{"tap0", "addr"}, "02:00:00:00:00:01\n192.168.69.1/24\n"},
		{[]string{"tap0", "arp"}, ""},
	} {
		if fc := r.walkOpen(2, proto.Oread, tc.path...); rerr(fc) != "" {
			t.Fatalf("open %v: %s", tc.path, rerr(fc))
		}
		if got := r.readAll(2); got != tc.want {
			t.Errorf("%v reads %q, want %q", tc.path, got, tc.want)
		}
		r.clunk(2)
	}
	// Stat.
	r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 3, Nwname: 2, Wname: []string{"tap0", "ctl"}})
	st, ok := r.call(&proto.TStat{Header: hdr(proto.Tstat, 2), Fid: 3}).(*proto.RStat)
	if !ok || st.Stat.Name != "ctl" || st.Stat.Mode != 0o644 || st.Stat.Length != 0 {
		t.Errorf("stat tap0/ctl: %v", st)
	}
	// A directory read must start at 0 or where the last one ended.
	r.walkOpen(4, proto.Oread)
	r.call(&proto.TRead{Header: hdr(proto.Tread, 4), Fid: 4, Offset: 0, Count: 80})
	if fc := r.call(&proto.TRead{Header: hdr(proto.Tread, 4), Fid: 4, Offset: 3, Count: 4096}); !strings.Contains(rerr(fc), "bad offset") {
		t.Errorf("directory read at offset 3: %v", fc)
	}
	// A partial walk returns the qids it got and no new fid.
	rw, ok := r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 5, Nwname: 2, Wname: []string{"tap0", "nosuch"}}).(*proto.RWalk)
	if !ok || rw.Nwqid != 1 {
		t.Errorf("partial walk: %v", rw)
	}
	if fc := r.call(&proto.TClunk{Header: hdr(proto.Tclunk, 2), Fid: 5}); rerr(fc) == "" {
		t.Error("a partial walk made its newfid")
	}
}

// cmdErr is the error netcore gives for a write, to compare with what the
// server says.
func cmdErr(t *testing.T, file, text string) string {
	t.Helper()
	var err error
	if strings.HasSuffix(file, "/arp") {
		_, err = netcore.ParseARPCommands(file, []byte(text))
	} else {
		_, err = netcore.ParseCtl(file, []byte(text))
	}
	if err == nil {
		t.Fatalf("%q parses", text)
	}
	return err.Error()
}

// Plan 9 clients get the full reason; Linux (uname nobody) gets the string
// of its errno table.
func TestPlan9Errors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		uname                                                  string
		badCtl, badAddr, exists, noHost, create, rename, trunc string
	}{
		{"glenda", cmdErr(t, "tap0/ctl", "frob\n"), cmdErr(t, "tap0/ctl", "add 1.1.1.1/24\nadd 300.1.1.1/24\n"),
			`tap0/ctl: line 1: "add 192.168.69.1/24": already exists`,
			"tap7: no such file or host", "x: files cannot be created here", "tap0/ctl: files cannot be renamed",
			"tap0/ctl: only truncation to length 0 is supported"},
		{"nobody", "Invalid argument", "Invalid argument", "File exists", "No such file or directory",
			"Read-only file system", "Operation not permitted", "Invalid argument"},
	} {
		t.Run(tc.uname, func(t *testing.T) {
			r := e.session9P(t, tc.uname)
			before := r.walkOpen(1, proto.Oread, "tap0", "ctl")
			if rerr(before) != "" {
				t.Fatal(rerr(before))
			}
			cfg := r.readAll(1)
			r.clunk(1)
			if fc := r.walkOpen(1, proto.Owrite|proto.Otrunc, "tap0", "ctl"); rerr(fc) != "" {
				t.Fatal(rerr(fc))
			}
			for _, c := range []struct{ data, want string }{
				{"frob\n", tc.badCtl},
				{"add 1.1.1.1/24\nadd 300.1.1.1/24\n", tc.badAddr},
				{"add 192.168.69.1/24\n", tc.exists},
			} {
				if got := rerr(r.write(1, c.data)); !matches(tc.uname, got, c.want) {
					t.Errorf("write %q: error %q, want %q", c.data, got, c.want)
				}
			}
			st := keepStat()
			st.Length = 5
			if got := rerr(r.wstat(1, st)); got != tc.trunc {
				t.Errorf("wstat length 5: %q, want %q", got, tc.trunc)
			}
			st = keepStat()
			st.Name = "ctl2"
			if got := rerr(r.wstat(1, st)); got != tc.rename {
				t.Errorf("wstat rename: %q, want %q", got, tc.rename)
			}
			r.clunk(1)
			if fc := r.walkOpen(1, proto.Oread, "tap0", "ctl"); rerr(fc) != "" {
				t.Fatal(rerr(fc))
			}
			if got := r.readAll(1); got != cfg {
				t.Errorf("failed writes changed ctl to\n%s\nfrom\n%s", got, cfg)
			}
			r.clunk(1)
			if got := rerr(r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 1, Nwname: 1, Wname: []string{"tap7"}})); got != tc.noHost {
				t.Errorf("walk to tap7: %q, want %q", got, tc.noHost)
			}
			if got := rerr(r.call(&proto.TCreate{Header: hdr(proto.Tcreate, 2), Fid: 0, Name: "x", Perm: 0o644, Mode: 1})); got != tc.create {
				t.Errorf("create: %q, want %q", got, tc.create)
			}
		})
	}
}

// matches compares an error string: exactly for Linux, whose strings are
// a fixed table; by prefix for others, whose reasons may say more.
func matches(uname, got, want string) bool {
	if uname == "nobody" {
		return got == want
	}
	return strings.HasPrefix(got, want) && want != ""
}

// What Linux sends for `echo cmd > ctl` on a 9P2000 mount.
func TestPlan9EchoToCtl(t *testing.T) {
	e := newEnv(t)
	r := e.session9P(t, "nobody")
	r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 1, Nwname: 2, Wname: []string{"tap0", "ctl"}})
	r.call(&proto.TStat{Header: hdr(proto.Tstat, 2), Fid: 1})
	r.call(&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 1, Newfid: 2, Nwname: 0})
	if fc := r.call(&proto.TOpen{Header: hdr(proto.Topen, 3), Fid: 2, Mode: proto.Owrite | proto.Otrunc}); rerr(fc) != "" {
		t.Fatal(rerr(fc))
	}
	st := keepStat()
	st.Length, st.Mtime = 0, uint32(time.Now().Unix())
	if fc := r.wstat(2, st); rerr(fc) != "" {
		t.Fatalf("truncating wstat: %s", rerr(fc))
	}
	if fc, ok := r.write(2, "add 192.168.69.2/24\n").(*proto.RWrite); !ok || fc.Count != 20 {
		t.Fatalf("write: %v", fc)
	}
	r.clunk(2)
	if fc := r.walkOpen(3, proto.Oread, "tap0", "addr"); rerr(fc) != "" {
		t.Fatal(rerr(fc))
	}
	if got := r.readAll(3); got != "02:00:00:00:00:01\n192.168.69.1/24\n192.168.69.2/24\n" {
		t.Errorf("addr reads %q", got)
	}
	// Read-only files refuse writers; remove refuses and clunks.
	if got := rerr(r.walkOpen(4, proto.Owrite, "tap0", "stats")); got != "Permission denied" {
		t.Errorf("open stats for writing: %q", got)
	}
	if got := rerr(r.call(&proto.TRemove{Header: hdr(proto.Tremove, 2), Fid: 4})); got != "Read-only file system" {
		t.Errorf("remove: %q", got)
	}
	if got := rerr(r.call(&proto.TClunk{Header: hdr(proto.Tclunk, 2), Fid: 4})); got != "Bad file descriptor" {
		t.Errorf("clunk after remove: %q", got)
	}
	// Tauth is refused as diod refuses it: ENOENT, "no authentication
	// needed" (a Linux session gets the errno's text).
	if got := rerr(r.call(&proto.TAuth{Header: hdr(proto.Tauth, 2), Afid: 9, Uname: "nobody"})); got != "No such file or directory" {
		t.Errorf("auth: %q", got)
	}
	if got := rerr(r.call(&proto.TOpen{Header: hdr(proto.Topen, 2), Fid: 1, Mode: proto.Oread | proto.Orclose})); got != "Operation not permitted" {
		t.Errorf("open ORCLOSE: %q", got)
	}
}

// Every string the server can send a Linux 9P2000 client is in Linux's
// table, so that the errno survives.
func TestLinuxErrorStrings(t *testing.T) {
	for errno, s := range linuxErrstr {
		if s == "" || strings.ToLower(s[:1]) == s[:1] {
			t.Errorf("errno %d: %q does not look like an entry of net/9p/error.c", errno, s)
		}
	}
	for _, errno := range []int{1, 2, 5, 9, 11, 13, 16, 17, 20, 21, 22, 24, 28, 29, 30, 38, 61, 71, 74, 90, 95, 100, 101} {
		if _, ok := linuxErrstr[syscall.Errno(errno)]; !ok {
			t.Errorf("errno %d has no Linux string", errno)
		}
	}
}
