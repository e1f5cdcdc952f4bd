package wire

import (
	"encoding/hex"
	"errors"
	"net"
)

// MAC is an Ethernet hardware address. It is a value type: it compares with
// == and never aliases a frame buffer.
type MAC [6]byte

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

var errBadMAC = errors.New("bad hardware address")

// ParseMAC accepts 02:00:00:00:00:01, 02-00-00-00-00-01 and 020000000001.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) == 12 {
		if _, err := hex.Decode(m[:], []byte(s)); err != nil {
			return MAC{}, errBadMAC
		}
		return m, nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 || len(s) != 17 {
		return MAC{}, errBadMAC
	}
	copy(m[:], hw)
	return m, nil
}

// IsMulticast reports whether the group bit is set (broadcast included).
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// String renders m lower-case with colons, as tcpdump and ip do.
func (m MAC) String() string { return string(m.AppendTo(make([]byte, 0, 17))) }

// AppendText appends the lower-case, colon-separated form of m to b.
func (m MAC) AppendText(b []byte) ([]byte, error) {
	return m.AppendTo(b), nil
}

func (m MAC) AppendTo(b []byte) []byte {
	const digits = "0123456789abcdef"
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[x>>4], digits[x&0xf])
	}
	return b
}
