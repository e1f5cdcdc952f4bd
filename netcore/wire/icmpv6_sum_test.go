package wire

import (
	"math/rand/v2"
	"testing"
)

// sumWords must fold to what the plain 16-bit sum folds to.
func TestSumWordsMatchesChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if rng.IntN(4) == 0 {
				for i := range b {
					b[i] = 0xff
				}
			}
			seed := rng.Uint64N(1 << 20)
			want := Checksum(b)
			// Checksum's sum plus the seed, folded, complemented.
			plain := uint64(^want) + seed
			for plain > 0xffff {
				plain = plain&0xffff + plain>>16
			}
			if got := fold(sumWords(seed, b)); got != uint16(plain) && !(got == 0xffff && plain == 0 || got == 0 && plain == 0xffff) {
				t.Fatalf("%d bytes, seed %d: %#x, want %#x", n, seed, got, plain)
			}
		}
	}
}
