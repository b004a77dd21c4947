package lang

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Compile parses, resolves and compiles the program src read from file
// (the passes are described in the package documentation). The error, if
// any, is an *ErrorList with every error found, in source order.
func Compile(file, src string) (*Program, error) {
	errs := &ErrorList{File: file}
	if at := binaryAt(src); at >= 0 {
		errs.add(posOf(src, at), "not a Lexum program: binary data at byte %d", at)
		return nil, errs.err()
	}
	f := parse(src, errs)
	r := newResolver(file, f, errs)
	r.src = src
	r.parseFailed = len(errs.List) > 0
	r.declare()
	// Bodies are resolved after declaration errors too: a declaration in
	// error is still declared (or stands in with an invalid type, which
	// is compatible with anything), so one run reports every error
	// without errors that only follow from another.
	r.bodies()
	if len(errs.List) == 0 {
		r.observe()
	}
	if len(errs.List) == 0 {
		g := newCodegen(r)
		g.declare()
		g.bodies()
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if invariants {
		if err := r.p.checkCode(); err != nil {
			panic(fmt.Sprintf("lang: %s: compiled code is inconsistent: %v", file, err))
		}
	}
	return r.p, nil
}

// binaryAt is the offset of the first byte that shows src is not text (a
// NUL byte or invalid UTF-8), or -1.
func binaryAt(src string) int {
	at := strings.IndexByte(src, 0)
	if at < 0 {
		at = len(src)
	}
	if !utf8.ValidString(src[:at]) {
		for i, r := range src[:at] {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(src[i:]); n <= 1 {
					return i
				}
			}
		}
	}
	if at == len(src) {
		return -1
	}
	return at
}

// posOf is the position of byte offset at of src (columns in bytes, as
// the lexer counts them).
func posOf(src string, at int) Pos {
	line := int32(1 + strings.Count(src[:at], "\n"))
	return Pos{line, int32(at - strings.LastIndexByte(src[:at], '\n'))}
}
