package spaces

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels, matched with errors.Is. The CLI maps ErrInvalid to exit code 2.
var (
	// ErrInvalid marks bad input: a space file, config file, budget or
	// quantity the user wrote that cannot be used as written. Every
	// *FileError, every parse error of this package and every ErrInfeasible
	// error matches it; anything else (I/O on a file that exists but cannot
	// be read is still input) is an internal failure.
	ErrInvalid = errors.New("invalid input")

	// ErrInfeasible marks a configuration that does not fit its budget
	// (Check, and Validate's smallest-configuration test). It also matches
	// ErrInvalid, because on the command line an infeasible config is bad
	// input; search tests it first to skip a proposal rather than fail.
	ErrInfeasible = errors.New("does not fit the budget")
)

// FileError is one problem in an input file, printed as
// "file:line: field: message". Several are joined with errors.Join so the
// user sees every problem at once. It matches ErrInvalid and, when set, Err.
type FileError struct {
	File  string // path as given to Load or LoadConfig; empty for a Space built in code
	Line  int    // 1-based; 0 when unknown
	Field string // e.g. "services[0].cpu", or a parameter name in a config; may be empty
	Msg   string
	Err   error // underlying cause such as fs.ErrNotExist; may be nil
}

// Error is "file:line: field: message", leaving out the parts not known.
func (e *FileError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is find ErrInvalid and the cause.
func (e *FileError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// inputError is an error whose text is exactly msg and which matches the
// sentinels in kinds, so messages stay free of "invalid input:" prefixes.
type inputError struct {
	msg   string
	kinds []error
}

func (e *inputError) Error() string   { return e.msg }
func (e *inputError) Unwrap() []error { return e.kinds }

func invalidf(format string, a ...any) error {
	return &inputError{msg: fmt.Sprintf(format, a...), kinds: []error{ErrInvalid}}
}

func infeasible(msg string) error {
	return &inputError{msg: msg, kinds: []error{ErrInfeasible, ErrInvalid}}
}

// joinFileErrors joins errs, or returns nil when there are none.
func joinFileErrors(errs []*FileError) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// FieldError is a problem with what the space's file says at field (such
// as "load.mix"), naming the file and the field's line: for a consumer
// that cannot use a valid space as it is (a target that cannot run its
// load). It matches ErrInvalid.
func (s *Space) FieldError(field, format string, a ...any) error {
	return &FileError{File: s.File, Line: s.line(field), Field: field, Msg: fmt.Sprintf(format, a...)}
}
