package lang

// The syntax tree. Nodes are small structs with a kind tag rather than one
// type per node: the resolver and code generation switch on the tag. The
// parser fills the syntax fields; the resolver (resolve.go) fills the
// annotations below them, which code generation (codegen.go) reads.

type exprKind uint8

const (
	eInt    exprKind = iota // Val
	eName                   // Name
	eCall                   // Name(Args)
	eIndex                  // Name[X]
	eField                  // X.Name or X.Name[Y]: a field of another domain (goals, figures)
	eUnary                  // Op X
	eBinary                 // X Op Y
	eString                 // "Name": a domain or transition named in send
)

// Expr is an expression.
type Expr struct {
	Kind exprKind
	Pos  Pos
	Op   string
	Name string
	Val  uint64
	X, Y *Expr
	Args []*Expr
	// Start, End: the expression's source text is src[Start:End]
	Start, End int32

	// Annotations, set by the resolver.
	T      vtype // the expression's type
	OT     vtype // a comparison: the type its operands are compared as
	Static bool  // computed once per run (keys, n, seed, batch, numbers)
	Folded bool  // static and independent of the run's parameters: its value is Value
	Value  uint64
	Local  *localVar // eName: the local variable it names
	Field  *field    // eName, eIndex: a field of the domain; eField: the field read
	Mem    *member   // eCall: the id function called, or send's domain; eField: the domain's member
	Fault  string    // send: the fault it raises when run ("" if none)
}

type stmtKind uint8

const (
	sLet    stmtKind = iota // let Name (: Type)? = X
	sAssign                 // Target Op X   (Op is "=" or "+=" …)
	sIf                     // if X Body else Else
	sFor                    // for Name in X .. Y Body
	sForall                 // forall Name in Entry Body
	sWhile                  // while X Body (rejected: unbounded)
	sAssert                 // assert X
	sReturn                 // return X
	sExpr                   // a call
	sBlock                  // { Body }: a nested block (generated, not parsed)
)

// Stmt is a statement.
type Stmt struct {
	Kind   stmtKind
	Pos    Pos
	Name   string // let, for, forall variable; forall entry in Entry
	Entry  string
	Type   string // let's declared type, "" if inferred
	Op     string
	Target *Expr // assignment target: eName or eIndex
	X, Y   *Expr
	Body   []*Stmt
	Else   []*Stmt
	Text   string // assert: the source text of X, as written

	// Annotations, set by the resolver.
	Local *localVar // let, for, forall: the variable declared
	Ent   *entry    // forall: the entry iterated
}

// Handler is `on Kind(a, b) { … }`, a type's `init { … }` (Kind ""), or
// a transition `transition Kind { capability { … } step { … } }`.
type Handler struct {
	Pos        Pos
	Kind       string
	Params     []string
	Body       []*Stmt
	Transition bool     // declared as a transition (the prototype's shape)
	Caps       *CapDecl // the transition's capabilities, nil if none
}

// CapDecl is `capability { messaging, send_to:X, root }`.
type CapDecl struct {
	Pos   Pos
	Items []CapItem
}

// CapItem is one capability: "messaging", "root", or "send_to" with a
// target domain.
type CapItem struct {
	Pos    Pos
	Kind   string
	Target string
}

// GoalDecl is a domain type's goal: `goal NAME { priority P target EXPR
// strategy { T1, T2 } }`.
type GoalDecl struct {
	Pos      Pos
	Name     string
	Priority uint64 // default 1
	PrioPos  Pos
	Target   *Expr
	Strategy []Ident // empty: none
}

// InvDecl is a domain type's invariant: `invariant NAME { EXPR }`.
type InvDecl struct {
	Pos  Pos
	Name string
	X    *Expr
}

// Ident is a name and where it was written.
type Ident struct {
	Pos  Pos
	Name string
}

// FieldDecl is a domain type's state field.
type FieldDecl struct {
	Pos  Pos
	Name string
	Type string // u64, i64, rng
	Len  *Expr  // array length, nil for a scalar
}

// TypeDecl is `type Name { fields, init, handlers, goals, invariants }`,
// or `domain Name { … }`: a type and one domain of it (Domain).
type TypeDecl struct {
	Pos        Pos
	Name       string
	Fields     []*FieldDecl
	Init       *Handler
	Handlers   []*Handler
	Goals      []*GoalDecl
	Invariants []*InvDecl
	Caps       *CapDecl // nil if none
	Domain     bool     // declared with `domain`: also a domain of its own
}

// Member is one member of a domains entry: Name: Type[Count], with boot and weight.
type Member struct {
	Pos    Pos
	Name   string
	Type   string
	Count  *Expr // nil: one
	Boots  bool
	Weight *Expr // nil: 1
}

// Entry is a line of `domains { }`: a member on its own, or a group of
// members repeated Count times.
type Entry struct {
	Pos     Pos
	Name    string
	Count   *Expr // group count; nil for a plain member
	Members []*Member
	Group   bool
}

// CellDecl is `cell NAME { a, b, … }`: the domains of the entries (or,
// in the prototype's shape, the domains) it names form one cell for local
// oscillation detection (SPEC §5.7); they must be a contiguous id range.
type CellDecl struct {
	Pos   Pos
	Name  string
	Names []Ident
}

// KeyDecl is `key name = default in min..max "usage"`.
type KeyDecl struct {
	Pos               Pos
	Name              string
	Default, Min, Max uint64
	Usage             string
}

// KindDecl is `kind Name = number`.
type KindDecl struct {
	Pos  Pos
	Name string
	Num  uint64
}

// Block is a goal or figure: `goal name { … }`, `figure name { … }`.
type Block struct {
	Pos  Pos
	Name string
	Body []*Stmt
}

// ConstDecl is `const NAME [: TYPE] = EXPR`.
type ConstDecl struct {
	Pos  Pos
	Name string
	Type string // "" if inferred
	X    *Expr
}

// Param is a function parameter.
type Param struct {
	Pos  Pos
	Name string
	Type string
}

// FuncDecl is `fn NAME(PARAMS) -> TYPE { … }`: a pure function.
type FuncDecl struct {
	Pos    Pos
	Name   string
	Params []Param
	Result string
	Body   []*Stmt
	Broken bool // its body has a syntax error (a statement of it was skipped)
}

// File is a parsed program.
type File struct {
	Name       string
	NamePos    Pos
	Keys       []*KeyDecl
	Consts     []*ConstDecl
	Funcs      []*FuncDecl
	Kinds      []*KindDecl
	Budget     *Expr
	Types      []*TypeDecl
	Entries    []*Entry
	DomainsPos Pos
	HasDomains bool
	Goals      []*Block
	Figures    []*Block
	Cells      []*CellDecl
}
