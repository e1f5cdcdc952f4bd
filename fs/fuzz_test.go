package fs

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/knusbaum/go9p/proto"
)

// FuzzDecodeL: the 9P2000.L decoder never panics, and what it accepts used
// every byte of the message.
func FuzzDecodeL(f *testing.F) {
	for _, seed := range [][]byte{
		lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "nobody", "", uint32(0)),
		lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "ctl"),
		lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(40)),
		lmsgBytes(lTgetattr, 3, uint32(1), uint64(0x7ff)),
		lmsgBytes(lTsetattr, 4, uint32(1), uint32(0x68), uint32(0), uint32(0), uint32(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0)),
		lmsgBytes(lTlopen, 5, uint32(1), uint32(1)),
		lmsgBytes(lTread, 6, uint32(1), uint64(0), uint32(4096)),
		lmsgBytes(lTwrite, 7, uint32(1), uint64(0), uint32(3), []byte("up\n")),
		lmsgBytes(lTwrite, 7, uint32(1), uint64(0), uint32(300), []byte("up\n")),
		lmsgBytes(lTreaddir, 8, uint32(1), uint64(0), uint32(4096)),
		lmsgBytes(lTxattrwalk, 9, uint32(1), uint32(2), "security.capability"),
		lmsgBytes(lTfsync, 10, uint32(1), uint32(0)),
		lmsgBytes(lTclunk, 11, uint32(1)),
		{4, 0, 0, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m lmsg
		if err := decodeL(msg, &m); err != nil {
			return
		}
		if uint32(len(msg)) != binary.LittleEndian.Uint32(msg) {
			t.Fatalf("accepted a message whose size field is wrong: %x", msg)
		}
		if m.typ == lTwrite && int(m.count) != len(m.data) {
			t.Fatalf("Twrite count %d with %d bytes", m.count, len(m.data))
		}
		if len(m.names) > maxWalk {
			t.Fatalf("walk of %d names", len(m.names))
		}
	})
}

// FuzzParse9P: go9p's proto, behind our checks, never panics out, and what
// is accepted composes back to the same bytes.
func FuzzParse9P(f *testing.F) {
	for _, fc := range []proto.FCall{
		&proto.TAttach{Header: hdr(proto.Tattach, 1), Fid: 0, Afid: noFid, Uname: "glenda"},
		&proto.TWalk{Header: hdr(proto.Twalk, 2), Fid: 0, Newfid: 1, Nwname: 2, Wname: []string{"tap0", "ctl"}},
		&proto.TOpen{Header: hdr(proto.Topen, 3), Fid: 1, Mode: proto.Owrite | proto.Otrunc},
		&proto.TRead{Header: hdr(proto.Tread, 4), Fid: 1, Count: 8192},
		&proto.TWrite{Header: hdr(proto.Twrite, 5), Fid: 1, Count: 3, Data: []byte("up\n")},
		&proto.TWstat{Header: hdr(proto.Twstat, 6), Fid: 1, Stat: keepStat()},
		&proto.TCreate{Header: hdr(proto.Tcreate, 7), Fid: 0, Name: "x", Perm: 0o644},
		&proto.TClunk{Header: hdr(proto.Tclunk, 8), Fid: 1},
	} {
		f.Add(fc.Compose())
	}
	bad := (&proto.TWrite{Header: hdr(proto.Twrite, 5), Fid: 1, Count: 3, Data: []byte("up\n")}).Compose()
	binary.LittleEndian.PutUint32(bad[19:], 300)
	f.Add(bad)
	f.Add(lmsgBytes(proto.Twalk, 2, uint32(0), uint32(1), uint16(60000)))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fc, err := parse9P(msg)
		if err != nil {
			return
		}
		if !bytes.Equal(fc.Compose(), msg) {
			t.Fatalf("accepted %x, which composes to %x", msg, fc.Compose())
		}
	})
}

// FuzzServer feeds a connection arbitrary bytes after a Tversion of either
// dialect: the server neither panics nor hangs, and lets go of the
// connection.
func FuzzServer(f *testing.F) {
	f.Add(true, lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0)))
	f.Add(false, (&proto.TAttach{Header: hdr(proto.Tattach, 1), Fid: 0, Afid: noFid, Uname: "glenda"}).Compose())
	f.Add(true, append(lmsgBytes(lTattach, 1, uint32(0), uint32(noFid), "", "", uint32(0)),
		lmsgBytes(lTwalk, 2, uint32(0), uint32(1), uint16(2), "tap0", "frames")...))
	f.Add(false, []byte{3, 0, 0, 0})
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, l bool, data []byte) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			io.Copy(io.Discard, b)
		}()
		e.srv.serveConn(a)
		version := "9P2000"
		if l {
			version = "9P2000.L"
		}
		b.SetWriteDeadline(time.Now().Add(time.Second))
		b.Write(lmsgBytes(msgTversion, noTag, uint32(8192), version))
		b.Write(data)
		b.Close()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Fatal("connection not released")
		}
		if !waitFor(hangGuard, func() bool { return e.outstanding() == 0 && e.subscribers("tap0") == 0 }) {
			t.Fatalf("left %d requests, %d subscribers", e.outstanding(), e.subscribers("tap0"))
		}
	})
}
