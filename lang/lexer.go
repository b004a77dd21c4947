package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// Pos is a source position: 1-based line and column (in bytes).
type Pos struct{ Line, Col int32 }

// tok is a token kind.
type tok uint8

const (
	tEOF tok = iota
	tIdent
	tInt
	tString
	tPunct // operators and delimiters; the text says which
)

// token is one lexeme.
type token struct {
	kind tok
	text string
	val  uint64 // tInt
	pos  Pos
	off  int32 // byte offsets of the token in the source: [off, end)
	end  int32
}

// puncts are the operators and delimiters, longest first.
var puncts = []string{
	"<<=", ">>=", "-%=",
	"-%", "->",
	"..", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>",
	"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
	"+", "-", "*", "/", "%", "&", "|", "^", "!", "<", ">", "=",
	"(", ")", "{", "}", "[", "]", ",", ":", ";", ".",
}

// tokensMax bounds a program's length (and so byte offsets fit an int32:
// the CLI reads at most 1 MiB).
const tokensMax = 1 << 16

// lex splits src into tokens. Newlines are not tokens: statements are
// separated by their syntax (and optional semicolons).
func lex(src string, errs *ErrorList) []token {
	var toks []token
	line, col := int32(1), int32(1)
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		if len(toks) >= tokensMax {
			errs.add(Pos{line, col}, "program too long (more than %d tokens)", tokensMax)
			break
		}
		c := src[i]
		switch {
		case c == '\n' || c == ' ' || c == '\t' || c == '\r':
			adv(1)
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case isLetter(c):
			j := i
			for j < len(src) && (isLetter(src[j]) || isDigit(src[j])) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: Pos{line, col}, off: int32(i), end: int32(j)})
			adv(j - i)
		case isDigit(c):
			j := i
			for j < len(src) && (isLetter(src[j]) || isDigit(src[j])) {
				j++
			}
			text := src[i:j]
			v, err := strconv.ParseUint(strings.ReplaceAll(text, "_", ""), 0, 64)
			if err != nil {
				errs.add(Pos{line, col}, "invalid integer literal %q", text)
			}
			toks = append(toks, token{kind: tInt, text: text, val: v, pos: Pos{line, col}, off: int32(i), end: int32(j)})
			adv(j - i)
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				j++
			}
			p := Pos{line, col}
			if j >= len(src) || src[j] != '"' {
				errs.add(p, "unterminated string")
				adv(j - i)
				continue
			}
			toks = append(toks, token{kind: tString, text: src[i+1 : j], pos: p, off: int32(i), end: int32(j + 1)})
			adv(j + 1 - i)
		default:
			matched := false
			for _, p := range puncts {
				if strings.HasPrefix(src[i:], p) {
					toks = append(toks, token{kind: tPunct, text: p, pos: Pos{line, col}, off: int32(i), end: int32(i + len(p))})
					adv(len(p))
					matched = true
					break
				}
			}
			if !matched {
				errs.add(Pos{line, col}, "unexpected character %q", rune(c))
				adv(1)
			}
		}
	}
	toks = append(toks, token{kind: tEOF, pos: Pos{line, col}, off: int32(len(src)), end: int32(len(src))})
	return toks
}

func isLetter(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// Error is one diagnostic at a position of a file.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList is every error of a compilation, in source order.
type ErrorList struct {
	File string
	List []*Error
}

const errorsMax = 100 // after this many errors, the rest are dropped

func (l *ErrorList) add(p Pos, format string, a ...any) {
	if len(l.List) >= errorsMax {
		return
	}
	l.List = append(l.List, &Error{File: l.File, Pos: p, Msg: fmt.Sprintf(format, a...)})
}

// Error is all the errors, one per line.
func (l *ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l *ErrorList) err() error {
	if len(l.List) == 0 {
		return nil
	}
	sortErrors(l.List)
	return l
}
