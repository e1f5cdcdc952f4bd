package wire_test

import (
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

func TestParseMAC(t *testing.T) {
	want := wire.MAC{0x02, 0xab, 0, 0, 0, 0x01}
	for _, s := range []string{"02:ab:00:00:00:01", "02-ab-00-00-00-01", "02ab00000001", "02:AB:00:00:00:01", "02AB00000001"} {
		m, err := wire.ParseMAC(s)
		if err != nil || m != want {
			t.Errorf("ParseMAC(%q) = %s, %v", s, m, err)
		}
		if m.String() != "02:ab:00:00:00:01" {
			t.Errorf("%q prints as %s", s, m)
		}
	}
	for _, s := range []string{"", "02:ab:00:00:00", "02ab0000000", "02ab000000011", "02:ab:00:00:00:0g", "02ab.0000.0001",
		"02:ab:00:00:00:00:00:01", "02ab0000000g", "2:ab:0:0:0:1", "02:ab-00:00:00:01x"} {
		if m, err := wire.ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) = %s, want an error", s, m)
		}
	}
}
