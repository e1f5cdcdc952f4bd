package ninep

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// decoder reads little-endian 9P fields from a reply body; running short
// sets a flag instead of panicking, and done reports it, or bytes left
// over.
type decoder struct {
	b     []byte
	short bool
}

func (d *decoder) take(n int) []byte {
	if d.short || n < 0 || len(d.b) < n {
		d.short = true
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string { return string(d.take(int(d.u16()))) }

func (d *decoder) qid() Qid {
	return Qid{Type: d.u8(), Version: d.u32(), Path: d.u64()}
}

// done reports a reply that was too short or too long for its fields.
func (d *decoder) done() error {
	switch {
	case d.short:
		return fmt.Errorf("reply too short for its fields")
	case len(d.b) > 0:
		return fmt.Errorf("%d bytes left over after the reply's fields", len(d.b))
	}
	return nil
}

func parseRlerror(op string, body []byte) error {
	d := decoder{b: body}
	errno := d.u32()
	if err := d.done(); err != nil {
		return fmt.Errorf("%s: malformed Rlerror: %w", op, err)
	}
	if errno == 0 {
		return fmt.Errorf("%s: Rlerror with errno 0", op)
	}
	return &Error{Op: op, Errno: syscall.Errno(errno)}
}

func parseRerror(op string, body []byte) error {
	d := decoder{b: body}
	text := d.str()
	if err := d.done(); err != nil {
		return fmt.Errorf("%s: malformed Rerror: %w", op, err)
	}
	return &Error{Op: op, Text: text}
}

func parseRwalk(body []byte) ([]Qid, error) {
	d := decoder{b: body}
	n := d.u16()
	if n > maxWalkEl {
		return nil, fmt.Errorf("Rwalk of %d qids (at most %d)", n, maxWalkEl)
	}
	qids := make([]Qid, 0, n)
	for range n {
		qids = append(qids, d.qid())
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("malformed Rwalk: %w", err)
	}
	return qids, nil
}

// parseRread returns the data of an Rread for a Tread of count bytes; it
// aliases body.
func parseRread(body []byte, count uint32) ([]byte, error) {
	d := decoder{b: body}
	n := d.u32()
	if n > count {
		return nil, fmt.Errorf("Rread of %d bytes for a Tread of %d", n, count)
	}
	data := d.take(int(n))
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("malformed Rread: %w", err)
	}
	return data, nil
}

func parseRreaddir(body []byte, count uint32) ([]Dirent, error) {
	d := decoder{b: body}
	n := d.u32()
	if n > count {
		return nil, fmt.Errorf("Rreaddir of %d bytes for a Treaddir of %d", n, count)
	}
	data := d.take(int(n))
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("malformed Rreaddir: %w", err)
	}
	var ents []Dirent
	e := decoder{b: data}
	for len(e.b) > 0 && !e.short {
		ents = append(ents, Dirent{Qid: e.qid(), Offset: e.u64(), Type: e.u8(), Name: e.str()})
	}
	if err := e.done(); err != nil {
		return nil, fmt.Errorf("malformed Rreaddir entry %d: %w", len(ents), err)
	}
	return ents, nil
}

func parseRgetattr(body []byte) (Attr, error) {
	d := decoder{b: body}
	var a Attr
	a.Valid, a.Qid = d.u64(), d.qid()
	a.Mode, a.UID, a.GID = d.u32(), d.u32(), d.u32()
	a.Nlink = d.u64()
	d.u64() // rdev
	a.Size = d.u64()
	d.u64() // blksize
	a.Blocks = d.u64()
	a.Atime = [2]uint64{d.u64(), d.u64()}
	a.Mtime = [2]uint64{d.u64(), d.u64()}
	a.Ctime = [2]uint64{d.u64(), d.u64()}
	d.u64() // btime
	d.u64()
	d.u64() // gen
	a.DataVersion = d.u64()
	if err := d.done(); err != nil {
		return Attr{}, fmt.Errorf("malformed Rgetattr: %w", err)
	}
	return a, nil
}
