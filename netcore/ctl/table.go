package ctl

import (
	"slices"
	"strings"
	"syscall"
)

// Syntax is how one command of a language is written. A language's table is
// a slice of rows that embed a Syntax beside what the command does; Find
// picks the row a line names.
type Syntax struct {
	// Names are the command's spellings; the first is the one that
	// read-backs write.
	Names []string
	// Usage is the synopsis, with %s for the name as written ("%s MAC").
	Usage string
	// Args is how many words follow the name; -1 when the row's parser
	// checks that itself.
	Args int
	// Match, if set, claims a line for this row among rows of the same
	// name; a row without Match takes any line of its name.
	Match func(args []string) bool
}

// Spelling returns s; rows that embed a Syntax have it, which is how Find
// reaches their syntax.
func (s *Syntax) Spelling() *Syntax { return s }

// UsageError is the Reason for a line of the command that does not follow
// its synopsis; name is the name as written.
func (s *Syntax) UsageError(name string) *Reason {
	if strings.Contains(s.Usage, "%s") {
		return Usage(s.Usage, name)
	}
	return Usage("%s", s.Usage)
}

// Find returns the row of rows that the line with fields f names, or the
// language's error: an unknown command (listing the names the language
// knows), or the usage of the command when the number of words is wrong.
func Find[R any, P interface {
	*R
	Spelling() *Syntax
}](rows []R, f []string) (*R, *Reason) {
	name, args := f[0], f[1:]
	var named *R
	for i := range rows {
		s := P(&rows[i]).Spelling()
		if !slices.Contains(s.Names, name) {
			continue
		}
		if s.Match == nil || s.Match(args) {
			named = &rows[i]
			break
		}
	}
	if named == nil {
		return nil, Fail(syscall.EINVAL, ErrUnknownCommand, "%q (%s)", name, strings.Join(Names[R, P](rows), ", "))
	}
	if s := P(named).Spelling(); s.Args >= 0 && len(args) != s.Args {
		return nil, s.UsageError(name)
	}
	return named, nil
}

// Names lists the first name of every row, each once, in the table's order.
func Names[R any, P interface {
	*R
	Spelling() *Syntax
}](rows []R) []string {
	var names []string
	for i := range rows {
		if s := P(&rows[i]).Spelling(); len(s.Names) > 0 && !slices.Contains(names, s.Names[0]) {
			names = append(names, s.Names[0])
		}
	}
	return names
}
