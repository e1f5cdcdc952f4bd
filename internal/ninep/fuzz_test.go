package ninep

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// reply builds a reply message of type typ with tag 1.
func reply(typ uint8, body ...byte) []byte {
	b := []byte{0, 0, 0, 0, typ, 1, 0}
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// FuzzReplies feeds arbitrary bytes to the client as a server's reply to
// each request: whatever arrives gives an answer or an error, never a
// panic, a hang or data beyond what was asked for.
func FuzzReplies(f *testing.F) {
	qid := []byte{0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	f.Add(reply(111, append([]byte{1, 0}, qid...)...))                                                          // Rwalk
	f.Add(reply(117, 3, 0, 0, 0, 'a', 'b', 'c'))                                                                // Rread
	f.Add(reply(117, 0xff, 0xff, 0xff, 0xff))                                                                   // Rread too long
	f.Add(reply(7, 2, 0, 0, 0))                                                                                 // Rlerror ENOENT
	f.Add(reply(107, 3, 0, 'b', 'a', 'd'))                                                                      // Rerror
	f.Add(reply(41, append(append([]byte{24, 0, 0, 0}, qid...), 1, 0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 'x', 'y')...)) // Rreaddir
	f.Add(reply(25, make([]byte, 153)...))                                                                      // Rgetattr
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 117, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for op := range 5 {
			a, b := net.Pipe()
			go func() {
				go io.Copy(io.Discard, b)
				b.Write(data)
				b.Close()
			}()
			c := &Client{nc: a, msize: 8192}
			c.r = newReader(a)
			buf := make([]byte, 16)
			switch op {
			case 0:
				c.Walk(0, 1, "tap0")
			case 1:
				if n, err := c.Read(1, 0, buf); err == nil && n > len(buf) {
					t.Fatalf("Read returned %d bytes into %d", n, len(buf))
				}
			case 2:
				c.Readdir(1, 0, 100)
			case 3:
				c.Getattr(1, GetattrBasic)
			case 4:
				c.Clunk(1)
			}
			a.Close()
		}
	})
}
