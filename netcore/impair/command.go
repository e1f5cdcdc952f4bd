package impair

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smolfs/smolfs/netcore/ctl"
)

// Prob is a probability in parts per million: 10000 is 1%. The command
// language takes percentages with up to four decimals, which is exactly this
// resolution, so that every value reads back as it was written.
type Prob uint32

// Certain is a probability of 100%.
const Certain Prob = 1_000_000

// Limits of the command language.
const (
	MaxDelay        = time.Minute      // for delay and for jitter
	DelayResolution = time.Microsecond // delay and jitter are whole microseconds (3 decimals of a ms)
)

// Settings are one direction's impairments. The zero value is off: frames
// pass unchanged. They compare with ==.
type Settings struct {
	Loss      Prob          // a frame is dropped
	Duplicate Prob          // a second copy of the frame is sent as well
	Reorder   Prob          // a frame is sent at once while the others wait out the delay (needs Delay)
	Corrupt   Prob          // one random bit of the frame is flipped
	Delay     time.Duration // every other frame waits this long...
	Jitter    time.Duration // ... plus or minus up to this much, uniformly
}

// Off reports whether s leaves frames alone.
func (s Settings) Off() bool { return s == Settings{} }

// Dir is the direction a command applies to.
type Dir uint8

// Directions: received frames, sent frames, or both.
const (
	Both Dir = iota
	Rx
	Tx
)

func (d Dir) String() string {
	switch d {
	case Rx:
		return "rx"
	case Tx:
		return "tx"
	}
	return "both"
}

// Command is a parsed `impair` line: the settings that replace those of its
// direction (or of both). Zero Settings is `impair off`.
type Command struct {
	Dir      Dir
	Settings Settings
}

// Reasons a command is refused, all of the errno class EINVAL: the
// sentinels of the host's other ctl commands, so that errors.Is finds
// ctl.ErrBadNumber in a bad `impair` line as in a bad `mtu` line.
var (
	ErrUsage     = ctl.ErrUsage
	ErrBadNumber = ctl.ErrBadNumber
	ErrBadOption = ctl.ErrBadOption
)

// Usage is the command's synopsis.
const Usage = "impair [rx|tx] [loss P%] [duplicate P%] [reorder P%] [corrupt P%] [delay MS[~JITTER]] | impair [rx|tx] off"

// Parse parses the fields of an `impair` line, the command word included:
// strings.Fields("impair rx loss 5%"). Like netem's `tc qdisc change`, the
// options given replace the direction's settings whole: what is not named
// is off.
func Parse(f []string) (Command, error) {
	if len(f) == 0 || f[0] != "impair" {
		return Command{}, fmt.Errorf("%w: %s", ErrUsage, Usage)
	}
	return ParseArgs(f[1:])
}

// ParseArgs parses the words after `impair`, as a command table that has
// found the command by its name gives them.
func ParseArgs(args []string) (Command, error) {
	var c Command
	if len(args) > 0 {
		switch args[0] {
		case "rx":
			c.Dir, args = Rx, args[1:]
		case "tx":
			c.Dir, args = Tx, args[1:]
		}
	}
	if len(args) == 0 {
		return c, fmt.Errorf("%w: %s", ErrUsage, Usage)
	}
	if args[0] == "off" {
		if len(args) != 1 {
			return c, fmt.Errorf("%w: %s", ErrUsage, Usage)
		}
		return c, nil
	}
	var seen [5]bool
	for len(args) > 0 {
		name := args[0]
		opt := optionIndex(name)
		if opt < 0 {
			return c, fmt.Errorf("%w: unknown option %q (rx, tx, off, loss, duplicate, reorder, corrupt, delay)", ErrBadOption, name)
		}
		if len(args) < 2 {
			return c, fmt.Errorf("%w: %s", ErrUsage, Usage)
		}
		if seen[opt] {
			return c, fmt.Errorf("%w: %s given twice", ErrBadOption, name)
		}
		seen[opt] = true
		val := args[1]
		args = args[2:]
		if opt == optDelay {
			d, j, err := parseDelay(val)
			if err != nil {
				return c, err
			}
			c.Settings.Delay, c.Settings.Jitter = d, j
			continue
		}
		p, ok := parsePercent(val)
		if !ok {
			return c, fmt.Errorf("%w: %s must be a percentage 0..100 with at most 4 decimals, not %q", ErrBadNumber, name, val)
		}
		*c.Settings.prob(opt) = p
	}
	return c, c.Settings.Validate()
}

const (
	optLoss = iota
	optDuplicate
	optReorder
	optCorrupt
	optDelay
)

var optionNames = [...]string{optLoss: "loss", optDuplicate: "duplicate", optReorder: "reorder", optCorrupt: "corrupt", optDelay: "delay"}

func optionIndex(name string) int {
	for i, n := range optionNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (s *Settings) prob(opt int) *Prob {
	switch opt {
	case optLoss:
		return &s.Loss
	case optDuplicate:
		return &s.Duplicate
	case optReorder:
		return &s.Reorder
	}
	return &s.Corrupt
}

// Validate checks settings by the parser's rules, so that settings built by
// hand are held to them too.
func (s Settings) Validate() error {
	for opt := optLoss; opt <= optCorrupt; opt++ {
		if *s.prob(opt) > Certain {
			return fmt.Errorf("%w: %s must be a percentage 0..100", ErrBadNumber, optionNames[opt])
		}
	}
	for _, d := range []time.Duration{s.Delay, s.Jitter} {
		if d < 0 || d > MaxDelay || d%DelayResolution != 0 {
			return fmt.Errorf("%w: delay and jitter must be 0..%d ms with at most 3 decimals", ErrBadNumber, MaxDelay/time.Millisecond)
		}
	}
	// As tc refuses it: with no delay there is nothing to overtake.
	if s.Reorder > 0 && s.Delay == 0 {
		return fmt.Errorf("%w: reorder needs a delay (the reordered frames go at once while the others wait)", ErrBadOption)
	}
	return nil
}

// parsePercent accepts D[.DDDD][%]: like tc, the number is a percentage
// whether or not the sign follows it.
func parsePercent(s string) (Prob, bool) {
	s = strings.TrimSuffix(s, "%")
	n, ok := parseFixed(s, 4)
	if !ok || n > uint64(Certain) {
		return 0, false
	}
	return Prob(n), true
}

// parseDelay accepts MS[~JITTER], each a number of milliseconds with up to
// three decimals and an optional "ms".
func parseDelay(s string) (d, j time.Duration, err error) {
	ds, js, hasJitter := strings.Cut(s, "~")
	d, ok := parseMillis(ds)
	if ok && hasJitter {
		j, ok = parseMillis(js)
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: delay must be MS[~JITTER], each 0..%d ms with at most 3 decimals, not %q", ErrBadNumber, MaxDelay/time.Millisecond, s)
	}
	return d, j, nil
}

func parseMillis(s string) (time.Duration, bool) {
	n, ok := parseFixed(strings.TrimSuffix(s, "ms"), 3)
	if !ok || n > uint64(MaxDelay/DelayResolution) {
		return 0, false
	}
	return time.Duration(n) * DelayResolution, true
}

// parseFixed parses DIGITS[.DIGITS] with at most decimals digits after the
// point, as an integer scaled by 10^decimals. It refuses signs, exponents
// and numbers long enough to overflow.
func parseFixed(s string, decimals int) (uint64, bool) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || len(frac) > decimals || hasPoint && frac == "" {
		return 0, false
	}
	var n uint64
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + uint64(c-'0')
		}
	}
	for range decimals - len(frac) {
		n *= 10
	}
	return n, true
}

// Append renders c as the line that parses back to it, with a newline.
func (c Command) Append(b []byte) []byte {
	b = append(b, "impair "...)
	return append(c.AppendArgs(b), '\n')
}

// AppendArgs renders the words after `impair` that ParseArgs reads back as
// c: the direction, if not both, then the options or `off`.
func (c Command) AppendArgs(b []byte) []byte {
	if c.Dir != Both {
		b = append(b, c.Dir.String()...)
		b = append(b, ' ')
	}
	return c.Settings.appendOptions(b)
}

// String is the command as Append renders it, without the newline.
func (c Command) String() string {
	b := c.Append(nil)
	return string(b[:len(b)-1])
}

// appendOptions renders the settings as the options after the direction:
// "off", or each option that is on, in the synopsis's order, separated by
// spaces.
func (s Settings) appendOptions(b []byte) []byte {
	if s.Off() {
		return append(b, "off"...)
	}
	sep := false
	for opt := optLoss; opt <= optCorrupt; opt++ {
		if p := *s.prob(opt); p != 0 {
			if sep {
				b = append(b, ' ')
			}
			sep = true
			b = append(b, optionNames[opt]...)
			b = append(b, ' ')
			b = appendFixed(b, uint64(p), 4)
			b = append(b, '%')
		}
	}
	if s.Delay != 0 || s.Jitter != 0 {
		if sep {
			b = append(b, ' ')
		}
		b = append(b, "delay "...)
		b = appendFixed(b, uint64(s.Delay/DelayResolution), 3)
		if s.Jitter != 0 {
			b = append(b, '~')
			b = appendFixed(b, uint64(s.Jitter/DelayResolution), 3)
		}
	}
	return b
}

// appendFixed renders n/10^decimals with no trailing zeros after the point.
func appendFixed(b []byte, n uint64, decimals int) []byte {
	scale := uint64(1)
	for range decimals {
		scale *= 10
	}
	b = strconv.AppendUint(b, n/scale, 10)
	frac := n % scale
	if frac == 0 {
		return b
	}
	digits := decimals
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.')
	s := strconv.FormatUint(frac, 10)
	for range digits - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// Config is the commands that give a host these settings: one for both
// directions when they agree (`impair off` when both are off, so that
// replaying a saved configuration also clears what it did not have), else
// one for each.
func Config(rx, tx Settings) []Command {
	if rx == tx {
		return []Command{{Dir: Both, Settings: rx}}
	}
	return []Command{{Dir: Rx, Settings: rx}, {Dir: Tx, Settings: tx}}
}

// AppendConfig renders Config's commands, a line each.
func AppendConfig(b []byte, rx, tx Settings) []byte {
	for _, c := range Config(rx, tx) {
		b = c.Append(b)
	}
	return b
}
