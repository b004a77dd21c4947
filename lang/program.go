package lang

import (
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// Program is a compiled workload: its declarations, its layout in terms of
// keys, and one bytecode array holding every handler, init, goal and
// figure. Key-dependent quantities (array lengths, counts, field offsets)
// are resolved when a Program is instantiated with parameters (link).
type Program struct {
	File  string
	Name  string
	Keys  []workloads.Key // in declaration order: the params text's order
	Kinds []kindInfo      // sorted by number

	types   []*dtype
	fields  []*field // every field of every type; its index is the field id
	entries []*entry
	cells   []*cellInfo // declared cells, in declaration order (cells.go)
	ids     []*member   // id functions, by id-descriptor index

	code     []uint64 // handlers, inits, goals, figures
	pos      []Pos    // source position per instruction
	regions  []region // named code ranges, ascending start
	static   []uint64 // code computing the static globals, run once at link
	spos     []Pos
	patch    []int // code indexes whose imm is a field id to replace by the field's offset
	consts   []constInit
	nGlobals int
	temps    int     // registers above the fixed ones the largest body uses (locals and temporaries)
	budget   int     // global register of the budget, or -1 for the default
	divs     []uint8 // divisor slots: the global register holding each divisor.Divisor
	asserts  []assertInfo
	goals    []block
	figures  []block
	vloops   []vloopDesc
	invs     []*invInfo // every invariant, indexed by opInvFail
	faults   []string   // messages of opFault
	hasGoals bool       // some type has goals: the workload reconciles (goals.go)
	// noProject: detection compares every field, hidden ones too
	// (WithoutProjection)
	noProject bool
}

// vloopDesc is a loop whose body runs vectorized (vloop.go).
type vloopDesc struct {
	head, loop   int // body is code[head:loop], loop is its opLoop
	iReg, endReg int
}

type kindInfo struct {
	Name string
	Num  trace.Kind
}

// dtype is a domain type.
type dtype struct {
	decl     *TypeDecl
	name     string
	fields   []*field
	rng      *field
	init     int      // pc of init, -1 if none
	handlers [][2]int // (kind number, pc), ascending kind
	hname    []string // handler names for messages, parallel to handlers

	// the model: goals in walk order (priority descending, then
	// declaration order), invariants, capabilities
	goals    []*goalInfo
	invs     []*invInfo
	targets  int // pc of the code computing the goals' targets as a bit mask, -1 if none
	inv      int // pc of the invariant checks, -1 if none
	stub     int // a goal type: pc of the handler of kinds it does not handle, -1 if none
	sendTo   map[string]bool
	sendRoot bool
	readsNow bool // its transitions use now other than in hidden fields (observe.go)
	unknown  bool // a stand-in for a type name declared nowhere (reported once, at the name)
}

// goalInfo is a goal of a domain type (SPEC-independent: the language's
// model, docs/language.md).
type goalInfo struct {
	name     string
	priority uint64
	pos      Pos
	text     string // the target as written
	target   *Expr
	strategy []string   // transition names, empty if none
	kind     trace.Kind // the strategy message's kind
	pc       int        // the strategy's handler
	local    bool       // its handler acts only on the domain's own state (Program.localOnly)
	explain  int        // pc of the target's explanation
	subs     []subExpr
}

// invInfo is an invariant of a domain type.
type invInfo struct {
	typ  *dtype
	name string
	pos  Pos
	text string
	x    *Expr
	subs []subExpr
}

// field is a state field; an array if lenReg >= 0.
type field struct {
	id      int
	typ     *dtype
	name    string
	t       vtype // u64, i64 or bool (an rng field is u64)
	lenExpr *Expr // the array length, nil for a scalar
	lenReg  int   // global register holding the array length, -1 for a scalar
	hidden  bool  // oscillation detection leaves it out (observe.go)
}

// member is a named run of domains of one type inside an entry.
type member struct {
	name       string
	typ        *dtype
	entry      *entry
	idx        int   // index in entry.members
	countExpr  *Expr // nil: one
	countReg   int   // global register of the count, -1: one
	boots      bool
	weightExpr *Expr // nil: 1
	weightReg  int   // global register of the weight, -1: 1
}

// entry is a line of `domains`: count groups of its members (count 1 and
// one member for a plain member line).
type entry struct {
	name      string
	countExpr *Expr // nil: one
	countReg  int   // -1: one
	group     bool
	members   []*member
	cell      *cellInfo // the declared cell it is in (cells.go), nil: the default
}

type constInit struct {
	reg int
	val uint64
}

type region struct {
	start int
	name  string // e.g. "Bank.on Transfer", "goal balances"
	ctx   ctxKind
	typ   *dtype // the domain type of a handler, init, target, invariant; nil otherwise
}

type block struct {
	name string
	pc   int
}

// assertInfo is an assert of a goal: where, its text as written, the
// variables in scope and the sub-expressions its explanation notes.
type assertInfo struct {
	pos  Pos
	text string
	vars []namedReg
	subs []subExpr
}

type namedReg struct {
	name string
	reg  uint8
	t    vtype
}

// subExpr is a sub-expression of an explained condition: its source
// text and type (for printing its value).
type subExpr struct {
	text string
	t    vtype
}

// Fixed registers: the message and the receiving domain.
const (
	regA      = 0
	regB      = 1
	regSrc    = 2
	regSelf   = 3
	regIndex  = 4
	regMember = 5
	regGlob0  = 6 // first global register
	regsMax   = 256
)
