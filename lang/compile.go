package lang

import "fmt"

// Compile parses, resolves and compiles the program src read from file
// (the passes are described in the package documentation). The error, if
// any, is an *ErrorList with every error found, in source order.
func Compile(file, src string) (*Program, error) {
	errs := &ErrorList{File: file}
	f := parse(src, errs)
	r := newResolver(file, f, errs)
	r.src = src
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
