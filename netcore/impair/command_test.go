package impair

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		line string
		want Command
		back string // the canonical rendering, when it differs from line
	}{
		{"impair off", Command{}, ""},
		{"impair rx off", Command{Dir: Rx}, ""},
		{"impair tx off", Command{Dir: Tx}, ""},
		{"impair loss 5%", Command{Settings: Settings{Loss: 50_000}}, ""},
		{"impair rx loss 50%", Command{Dir: Rx, Settings: Settings{Loss: 500_000}}, ""},
		{"impair tx loss 0.0001%", Command{Dir: Tx, Settings: Settings{Loss: 1}}, ""},
		{"impair loss 100%", Command{Settings: Settings{Loss: Certain}}, ""},
		{"impair loss 12.5", Command{Settings: Settings{Loss: 125_000}}, "impair loss 12.5%"},
		{"impair loss 0%", Command{}, "impair off"},
		{"impair loss 007.50%", Command{Settings: Settings{Loss: 75_000}}, "impair loss 7.5%"},
		{"impair duplicate 5% loss 1%", Command{Settings: Settings{Loss: 10_000, Duplicate: 50_000}}, "impair loss 1% duplicate 5%"},
		{"impair corrupt 0.05%", Command{Settings: Settings{Corrupt: 500}}, ""},
		{"impair delay 20", Command{Settings: Settings{Delay: 20 * ms}}, ""},
		{"impair delay 20ms~5ms", Command{Settings: Settings{Delay: 20 * ms, Jitter: 5 * ms}}, "impair delay 20~5"},
		{"impair delay 0.5~0.025", Command{Settings: Settings{Delay: 500 * time.Microsecond, Jitter: 25 * time.Microsecond}}, ""},
		{"impair delay 0~10", Command{Settings: Settings{Jitter: 10 * ms}}, ""},
		{"impair delay 60000", Command{Settings: Settings{Delay: MaxDelay}}, ""},
		{"impair tx reorder 25% delay 10", Command{Dir: Tx, Settings: Settings{Reorder: 250_000, Delay: 10 * ms}}, ""},
		{"impair rx loss 1% duplicate 2% reorder 3% corrupt 4% delay 5~6",
			Command{Dir: Rx, Settings: Settings{Loss: 10_000, Duplicate: 20_000, Reorder: 30_000, Corrupt: 40_000, Delay: 5 * ms, Jitter: 6 * ms}}, ""},
	} {
		got, err := Parse(strings.Fields(tc.line))
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.line, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
		back := tc.back
		if back == "" {
			back = tc.line
		}
		if s := got.String(); s != back {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.line, s, back)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		line string
		want error
		text string // in the message
	}{
		{"impair", ErrUsage, Usage},
		{"impair rx", ErrUsage, Usage},
		{"impair off loss 1%", ErrUsage, Usage},
		{"impair rx tx loss 1%", ErrBadOption, `unknown option "tx"`},
		{"impair loss", ErrUsage, Usage},
		{"impair loss 1% loss 2%", ErrBadOption, "loss given twice"},
		{"impair delay 1 delay 2", ErrBadOption, "delay given twice"},
		{"impair jitter 5", ErrBadOption, `unknown option "jitter"`},
		{"impair loss 101%", ErrBadNumber, "loss must be a percentage 0..100"},
		{"impair loss 100.0001%", ErrBadNumber, "loss must be a percentage"},
		{"impair loss -1%", ErrBadNumber, "loss must be"},
		{"impair loss +1%", ErrBadNumber, "loss must be"},
		{"impair loss 1e2%", ErrBadNumber, "loss must be"},
		{"impair loss 0.00001%", ErrBadNumber, "at most 4 decimals"},
		{"impair loss .5%", ErrBadNumber, "loss must be"},
		{"impair loss 5.%", ErrBadNumber, "loss must be"},
		{"impair loss %", ErrBadNumber, "loss must be"},
		{"impair loss 5%%", ErrBadNumber, "loss must be"},
		{"impair duplicate x", ErrBadNumber, "duplicate must be"},
		{"impair corrupt 99999999999999999999", ErrBadNumber, "corrupt must be"},
		{"impair delay 60000.001", ErrBadNumber, "delay must be MS[~JITTER]"},
		{"impair delay 1~", ErrBadNumber, "delay must be"},
		{"impair delay ~1", ErrBadNumber, "delay must be"},
		{"impair delay 1~2~3", ErrBadNumber, "delay must be"},
		{"impair delay 0.0001", ErrBadNumber, "delay must be"},
		{"impair delay 5s", ErrBadNumber, "delay must be"},
		{"impair reorder 25%", ErrBadOption, "reorder needs a delay"},
		{"impair reorder 25% delay 0~5", ErrBadOption, "reorder needs a delay"},
	} {
		c, err := Parse(strings.Fields(tc.line))
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", tc.line, c)
			continue
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Parse(%q) error %q, want %v containing %q", tc.line, err, tc.want, tc.text)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Settings{
		{Loss: Certain + 1},
		{Corrupt: 2 * Certain},
		{Delay: -time.Millisecond},
		{Delay: MaxDelay + DelayResolution},
		{Jitter: MaxDelay + DelayResolution},
		{Delay: time.Millisecond + 1},
		{Reorder: 1},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", s)
		}
	}
}

func TestAppendConfig(t *testing.T) {
	loss := Settings{Loss: 10_000}
	slow := Settings{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}
	for _, tc := range []struct {
		rx, tx Settings
		want   string
	}{
		{Settings{}, Settings{}, "impair off\n"},
		{loss, loss, "impair loss 1%\n"},
		{loss, Settings{}, "impair rx loss 1%\nimpair tx off\n"},
		{Settings{}, slow, "impair rx off\nimpair tx delay 20~5\n"},
	} {
		got := string(AppendConfig(nil, tc.rx, tc.tx))
		if got != tc.want {
			t.Errorf("AppendConfig(%+v, %+v) = %q, want %q", tc.rx, tc.tx, got, tc.want)
		}
		// Replayed on a host with other settings, the lines give it these.
		rx, tx := Settings{Corrupt: 1}, Settings{Duplicate: 1}
		for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			c, err := Parse(strings.Fields(line))
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if c.Dir != Tx {
				rx = c.Settings
			}
			if c.Dir != Rx {
				tx = c.Settings
			}
		}
		if rx != tc.rx || tx != tc.tx {
			t.Errorf("replaying %q gave %+v, %+v", got, rx, tx)
		}
	}
}

// FuzzParse checks that the parser never panics, that what it accepts is
// valid, and that it reads back to the same command.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"impair off", "impair rx loss 50%", "impair tx delay 20~5 reorder 25%",
		"impair loss 1% duplicate 2% reorder 3% corrupt 4% delay 5.5~6.125", "impair loss 0.0001", "impair delay 1~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := Parse(strings.Fields(line))
		if err != nil {
			return
		}
		if err := c.Settings.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted invalid %+v: %v", line, c, err)
		}
		again, err := Parse(strings.Fields(c.String()))
		if err != nil || again != c {
			t.Fatalf("Parse(%q) = %+v renders %q, which parses to %+v, %v", line, c, c.String(), again, err)
		}
	})
}
