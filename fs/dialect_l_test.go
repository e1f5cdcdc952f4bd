package fs

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"

	"github.com/smolfs/smolfs/netcore"
)

// errnoOfL is the errno a p9 client call failed with (0 for none).
func errnoOfL(err error) syscall.Errno {
	var le linux.Errno
	if errors.As(err, &le) {
		return syscall.Errno(le)
	}
	if err != nil {
		return syscall.Errno(1 << 20) // not an errno at all
	}
	return 0
}

func readdirNames(t *testing.T, root p9.File, path ...string) []string {
	t.Helper()
	f := walkOpen(t, root, p9.ReadOnly, path...)
	defer f.Close()
	var names []string
	for off := uint64(0); ; {
		ents, err := f.Readdir(off, 4096)
		if err != nil {
			t.Fatalf("readdir %v: %v", path, err)
		}
		if len(ents) == 0 {
			return names
		}
		for _, e := range ents {
			names = append(names, e.Name)
			off = e.Offset
		}
	}
}

func TestLReadEveryFile(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	h, _ := e.st.Host("tap0")

	if got, want := readdirNames(t, root), []string{"ctl", "log", "tap0"}; !slices.Equal(got, want) {
		t.Errorf("root lists %v, want %v", got, want)
	}
	if got, want := readdirNames(t, root, "tap0"), []string{"ctl", "addr", "arp", "frames", "frames.pcap", "stats", "udp", "tcp", "icmp"}; !slices.Equal(got, want) {
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
		{[]string{"tap0", "arp"}, string(netcore.AppendARP(nil, h.ARPTable()))},
	} {
		if got := readAllL(t, root, tc.path...); got != tc.want {
			t.Errorf("%v reads %q, want %q", tc.path, got, tc.want)
		}
	}
	if got := readAllL(t, root, "ctl"); got != "new tap0 ea 02:00:00:00:00:01 add 192.168.69.1/24\n" {
		t.Errorf("/ctl reads %q", got)
	}
	stats := readAllL(t, root, "tap0", "stats")
	for _, name := range []string{"rx_frames", "tx_frames", "capture_dropped", "arp_rx_request", "icmp_echo_rx"} {
		if !strings.Contains(stats, "\n"+name+" ") && !strings.HasPrefix(stats, name+" ") {
			t.Errorf("stats lacks %s:\n%s", name, stats)
		}
	}

	// A sequence of reads sees the snapshot of the open.
	f := walkOpen(t, root, p9.ReadOnly, "tap0", "addr")
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 0); n != 5 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	if err := writeL(root, "add 192.168.69.2/24\n", "tap0", "ctl"); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, 100)
	n, _ := f.ReadAt(rest, 5)
	if got := string(buf) + string(rest[:n]); got != "02:00:00:00:00:01\n192.168.69.1/24\n" {
		t.Errorf("open addr read across a change: %q", got)
	}
	f.Close()
	if got := readAllL(t, root, "tap0", "addr"); got != "02:00:00:00:00:01\n192.168.69.1/24\n192.168.69.2/24\n" {
		t.Errorf("after add, addr reads %q", got)
	}
}

func TestLWritesAndErrors(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	h, _ := e.st.Host("tap0")
	logr := e.st.Log().Subscribe()
	defer logr.Close()

	before := readAllL(t, root, "tap0", "ctl")
	for _, tc := range []struct {
		path  []string
		data  string
		errno syscall.Errno
	}{
		{[]string{"tap0", "ctl"}, "add 192.168.69.3/24\nfrob\n", syscall.EINVAL},
		{[]string{"tap0", "ctl"}, "add 192.168.69.3/24\nadd 300.1.1.1/24\n", syscall.EINVAL},
		{[]string{"tap0", "ctl"}, "add 192.168.69.1/24\n", syscall.EEXIST},
		{[]string{"tap0", "ctl"}, "mtu 9000\n", syscall.EINVAL},
		{[]string{"tap0", "arp"}, "add 192.168.69.9 02:00:00:00:00:09\nbogus\n", syscall.EINVAL},
		{[]string{"ctl"}, "new tap9\ndel nosuch\n", syscall.ENOENT},
		{[]string{"ctl"}, "new tap9\nnew tap0\n", syscall.EEXIST},
	} {
		err := writeL(root, tc.data, tc.path...)
		if got := errnoOfL(err); got != tc.errno {
			t.Errorf("write %q to %v: %v (errno %d), want errno %d (%v)", tc.data, tc.path, err, got, tc.errno, tc.errno)
		}
	}
	if got := readAllL(t, root, "tap0", "ctl"); got != before {
		t.Errorf("failed writes changed ctl:\n%s\nwas\n%s", got, before)
	}
	if got := readAllL(t, root, "tap0", "arp"); got != "" {
		t.Errorf("failed arp write left %q", got)
	}
	if names := e.st.HostNames(); !slices.Equal(names, []string{"tap0"}) {
		t.Errorf("failed root writes left hosts %v", names)
	}
	if err := writeL(root, "add 192.168.69.9 02-00-00-00-00-09\n", "tap0", "arp"); err != nil {
		t.Fatal(err)
	}
	if got := readAllL(t, root, "tap0", "arp"); got != "192.168.69.9 02:00:00:00:00:09 static -\n" {
		t.Errorf("arp reads %q", got)
	}

	// The full reason of a failed write goes to /log.
	want := `tap0/ctl: line 2: "frob": unknown command`
	var lines []string
	if !waitFor(hangGuard, func() bool {
		logr.Take(func(l string) bool { lines = append(lines, l); return true })
		return strings.Contains(strings.Join(lines, "\n"), want)
	}) {
		t.Errorf("log lacks %q:\n%s", want, strings.Join(lines, "\n"))
	}

	// cat ctl > f; cat f > ctl restores the host.
	saved := readAllL(t, root, "tap0", "ctl")
	if err := writeL(root, "add 192.168.69.4/24\nmtu 1400\npromiscuous on\n", "tap0", "ctl"); err != nil {
		t.Fatal(err)
	}
	if readAllL(t, root, "tap0", "ctl") == saved {
		t.Fatal("ctl did not change")
	}
	if err := writeL(root, saved, "tap0", "ctl"); err != nil {
		t.Fatalf("writing back %q: %v", saved, err)
	}
	if got := readAllL(t, root, "tap0", "ctl"); got != saved {
		t.Errorf("round trip: ctl reads\n%s\nwant\n%s", got, saved)
	}
	if got := h.Snapshot().Config.Addrs; len(got) != 1 {
		t.Errorf("round trip left addresses %v", got)
	}

	// Metadata: truncation to 0 is accepted on writable files, nothing else.
	_, ctl, _ := root.Walk([]string{"tap0", "ctl"})
	defer ctl.Close()
	_, addr, _ := root.Walk([]string{"tap0", "addr"})
	defer addr.Close()
	for _, tc := range []struct {
		f     p9.File
		mask  p9.SetAttrMask
		attr  p9.SetAttr
		errno syscall.Errno
	}{
		{ctl, p9.SetAttrMask{Size: true, MTime: true, CTime: true}, p9.SetAttr{Size: 0}, 0},
		{ctl, p9.SetAttrMask{ATime: true, MTime: true}, p9.SetAttr{}, 0},
		{ctl, p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 5}, syscall.EINVAL},
		{ctl, p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o777}, syscall.EPERM},
		{ctl, p9.SetAttrMask{UID: true}, p9.SetAttr{UID: 1000}, syscall.EPERM},
		{addr, p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 0}, syscall.EACCES},
	} {
		if got := errnoOfL(tc.f.SetAttr(tc.mask, tc.attr)); got != tc.errno {
			t.Errorf("setattr %+v %+v: errno %d, want %d", tc.mask, tc.attr, got, tc.errno)
		}
	}
	_, tapdir, _ := root.Walk([]string{"tap0"})
	defer tapdir.Close()
	for _, tc := range []struct {
		what  string
		err   error
		errno syscall.Errno
	}{
		{"create", func() error { _, _, _, err := tapdir.Create("new", p9.ReadWrite, 0o644, 0, 0); return err }(), syscall.EROFS},
		{"mkdir", func() error { _, err := tapdir.Mkdir("d", 0o755, 0, 0); return err }(), syscall.EROFS},
		{"symlink", func() error { _, err := tapdir.Symlink("a", "b", 0, 0); return err }(), syscall.EROFS},
		{"mknod", func() error { _, err := tapdir.Mknod("n", 0o644, 0, 0, 0, 0); return err }(), syscall.EROFS},
		{"renameat", tapdir.RenameAt("ctl", tapdir, "ctl2"), syscall.EROFS},
		{"unlinkat", tapdir.UnlinkAt("ctl", 0), syscall.EROFS},
		{"link", tapdir.Link(ctl, "ctl3"), syscall.EROFS},
		{"rename", ctl.Rename(tapdir, "x"), syscall.EROFS},
		{"readlink", func() error { _, err := ctl.Readlink(); return err }(), syscall.EINVAL},
		{"lock", func() error { _, err := ctl.Lock(1, p9.WriteLock, 0, 0, 0, "c"); return err }(), syscall.EOPNOTSUPP},
		{"open addr for writing", func() error {
			_, f, _ := root.Walk([]string{"tap0", "addr"})
			defer f.Close()
			_, _, err := f.Open(p9.WriteOnly)
			return err
		}(), syscall.EACCES},
		{"open a directory for writing", func() error {
			_, f, _ := root.Walk([]string{"tap0"})
			defer f.Close()
			_, _, err := f.Open(p9.ReadWrite)
			return err
		}(), syscall.EISDIR},
		{"walk to a missing file", func() error { _, _, err := tapdir.Walk([]string{"nosuch"}); return err }(), syscall.ENOENT},
		{"walk to a missing host", func() error { _, _, err := root.Walk([]string{"tap7"}); return err }(), syscall.ENOENT},
		{"walk below a file", func() error { _, _, err := ctl.Walk([]string{"x"}); return err }(), syscall.ENOTDIR},
	} {
		if got := errnoOfL(tc.err); got != tc.errno {
			t.Errorf("%s: %v (errno %d), want errno %d (%v)", tc.what, tc.err, got, tc.errno, tc.errno)
		}
	}
	if st, err := root.StatFS(); err != nil || st.Type != v9fsMagic {
		t.Errorf("statfs: %+v, %v", st, err)
	}
	_, attrMask, attr, err := ctl.GetAttr(p9.AttrMaskAll)
	if err != nil || attr.Mode.Permissions() != 0o644 || !attr.Mode.IsRegular() || !attrMask.Mode {
		t.Errorf("getattr ctl: %v %+v %v", attrMask, attr, err)
	}
	_, _, attr, _ = tapdir.GetAttr(p9.AttrMaskAll)
	if !attr.Mode.IsDir() || attr.Mode.Permissions() != 0o555 {
		t.Errorf("getattr tap0: mode %v", attr.Mode)
	}
	_, _, attr, _ = addr.GetAttr(p9.AttrMaskAll)
	if attr.Mode.Permissions() != 0o444 {
		t.Errorf("getattr addr: mode %v", attr.Mode)
	}
}

// A host removed and created again is a new directory: new qids, and fids
// on the old one fail.
func TestLHostRecreated(t *testing.T) {
	e := newEnv(t)
	_, root := e.dialL(t)
	q1, old, err := root.Walk([]string{"tap0"})
	if err != nil {
		t.Fatal(err)
	}
	frames := walkOpen(t, root, p9.ReadOnly, "tap0", "frames")
	got := make(chan error, 1)
	go func() {
		_, err := frames.ReadAt(make([]byte, 4096), 0)
		got <- err
	}()
	if err := writeL(root, "del tap0\n", "ctl"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != io.EOF {
			t.Errorf("a frames reader of a removed host got %v, want end of file", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("a frames reader of a removed host is still blocked")
	}
	if err := writeL(root, "new tap0\n", "ctl"); err != nil {
		t.Fatal(err)
	}
	q2, _, err := root.Walk([]string{"tap0"})
	if err != nil {
		t.Fatal(err)
	}
	if q1[0].Path == q2[0].Path {
		t.Errorf("recreated host has the old qid %v", q1[0])
	}
	if _, _, err := old.Walk([]string{"addr"}); errnoOfL(err) != syscall.ENOENT {
		t.Errorf("walk in the removed host's directory: %v, want ENOENT", err)
	}
}

// ---- raw 9P2000.L frames, for what the p9 client cannot send ----

func lmsgBytes(typ uint8, tag uint16, fields ...any) []byte {
	b := begin(typ, tag)
	for _, f := range fields {
		switch v := f.(type) {
		case uint8:
			b = append(b, v)
		case uint16:
			b = binary.LittleEndian.AppendUint16(b, v)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case string:
			b = appendString(b, v)
		case []byte:
			b = append(b, v...)
		default:
			panic("lmsgBytes: bad field")
		}
	}
	return end(b)
}

// sessionL negotiates 9P2000.L on a raw connection and attaches fid 0.
func (e *env) sessionL(t testing.TB) *raw {
	t.Helper()
	r := e.dialRaw(t)
	r.send(lmsgBytes(msgTversion, noTag, uint32(65536), "9P2000.L"))
	if m := r.expect(msgRversion, noTag); string(m[13:]) != "9P2000.L" {
		t.Fatalf("Rversion %q", m[13:])
	}
	r.send(lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "root", "", uint32(0)))
	r.expect(lRattach, 1)
	return r
}

// expect reads one reply and checks its type and tag.
func (r *raw) expect(typ uint8, tag uint16) []byte {
	r.t.Helper()
	m, err := r.recv(hangGuard)
	if err != nil {
		r.t.Fatalf("waiting for type %d tag %d: %v", typ, tag, err)
	}
	if m[4] != typ || binary.LittleEndian.Uint16(m[5:]) != tag {
		r.t.Fatalf("got type %d tag %d (%x), want type %d tag %d", m[4], binary.LittleEndian.Uint16(m[5:]), m, typ, tag)
	}
	return m
}

func (r *raw) expectLerror(tag uint16, errno syscall.Errno) {
	r.t.Helper()
	m := r.expect(lRlerror, tag)
	if got := syscall.Errno(binary.LittleEndian.Uint32(m[7:])); got != errno {
		r.t.Errorf("tag %d: errno %d (%v), want %d (%v)", tag, got, got, errno, errno)
	}
}

func TestLRawMessages(t *testing.T) {
	e := newEnv(t)
	r := e.sessionL(t)
	// xattrwalk: a named attribute does not exist; the list is empty.
	r.send(lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "ctl"))
	r.expect(lRwalk, 2)
	r.send(lmsgBytes(lTxattrwalk, 3, uint32(1), uint32(2), "security.capability"))
	r.expectLerror(3, syscall.ENODATA)
	r.send(lmsgBytes(lTxattrwalk, 3, uint32(1), uint32(2), ""))
	if m := r.expect(lRxattrwalk, 3); binary.LittleEndian.Uint64(m[7:]) != 0 {
		t.Errorf("xattr list size %d", binary.LittleEndian.Uint64(m[7:]))
	}
	r.send(lmsgBytes(lTread, 4, uint32(2), uint64(0), uint32(100)))
	if m := r.expect(lRread, 4); binary.LittleEndian.Uint32(m[7:]) != 0 {
		t.Errorf("xattr list read %x", m)
	}
	// What v9fs sends for `echo cmd > ctl`.
	r.send(lmsgBytes(lTlopen, 5, uint32(1), uint32(lOWronly|0o100|0o100000)))
	r.expect(lRlopen, 5)
	r.send(lmsgBytes(lTsetattr, 6, uint32(1), uint32(0x68), uint32(0), uint32(0), uint32(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0)))
	r.expect(lRsetattr, 6)
	r.send(lmsgBytes(lTwrite, 7, uint32(1), uint64(0), uint32(6), []byte("mtu 9\n")))
	r.expectLerror(7, syscall.EINVAL)
	r.send(lmsgBytes(lTwrite, 7, uint32(1), uint64(0), uint32(9), []byte("mtu 1280\n")))
	if m := r.expect(lRwrite, 7); binary.LittleEndian.Uint32(m[7:]) != 9 {
		t.Errorf("Rwrite count %d", binary.LittleEndian.Uint32(m[7:]))
	}
	r.send(lmsgBytes(lTfsync, 8, uint32(1), uint32(0)))
	r.expect(lRfsync, 8)
	// Old 9P2000 messages, unknown types and stray replies get EOPNOTSUPP.
	for i, typ := range []uint8{112, 114, 124, 126, 0, 99, 200, lRread, lTgetlock, lTxattrcreate} {
		tag := uint16(100 + i)
		r.send(lmsgBytes(typ, tag, uint32(1)))
		r.expectLerror(tag, syscall.EOPNOTSUPP)
	}
	// Tauth gets ENOENT, as from diod: "no authentication needed" to
	// diod's client library, which then attaches with NOFID.
	r.send(lmsgBytes(lTauth, 99, uint32(9), "root", "", uint32(0)))
	r.expectLerror(99, syscall.ENOENT)
	// Bad fids.
	r.send(lmsgBytes(lTclunk, 9, uint32(77)))
	r.expectLerror(9, syscall.EBADF)
	r.send(lmsgBytes(lTwalk, 10, uint32(0), uint32(1), uint16(0)))
	r.expectLerror(10, syscall.EBADF) // newfid in use
	r.send(lmsgBytes(lTremove, 11, uint32(1)))
	r.expectLerror(11, syscall.EROFS)
	r.send(lmsgBytes(lTclunk, 12, uint32(1))) // remove clunked it
	r.expectLerror(12, syscall.EBADF)
	if h, _ := e.st.Host("tap0"); h.Snapshot().Config.MTU != 1280 {
		t.Errorf("mtu is %d after the write", h.Snapshot().Config.MTU)
	}
}
