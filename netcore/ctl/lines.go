package ctl

import (
	"bytes"
	"strings"
)

// Lines splits a write into lines and parses each with parse, which is
// given the line's fields, its number (1-based) and its text. Blank lines and
// lines starting with # are skipped; white space around a line and between
// its fields does not count. Every line is checked before any is returned:
// the first error, as a *CommandError of file, is the only result.
func Lines[T any](file string, text []byte, parse func(f []string, line int, text string) (T, *Reason)) ([]T, error) {
	var out []T
	for n, raw := range bytes.Split(text, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		c, r := parse(strings.Fields(line), n+1, line)
		if r != nil {
			return nil, r.At(file, n+1, line)
		}
		out = append(out, c)
	}
	return out, nil
}
