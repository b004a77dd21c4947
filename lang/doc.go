// Package lang is the Lexum language: a workload written as a text file
// (docs/language.md), compiled to bytecode and run on the engine like a
// native workload, with the same hashes.
//
// # From text to the VM
//
// A program flows through passes, each in its own file, each consuming
// only what the one before produced (as starlark-go separates syntax,
// resolve, compile and interp):
//
//  1. lexer.go, parser.go: text → tokens → syntax tree (ast.go). Syntax
//     errors are recorded and the parser resynchronizes, so one run
//     reports every error.
//  2. resolve.go, the resolver: declares every name (keys, constants,
//     functions, kinds, types, fields, domain entries, goals, figures),
//     then binds each name in each body to what it denotes and types every
//     expression, marking the static ones (computable once per run).
//     model.go resolves the model: transitions as kinds, `domain`
//     declarations, goals, invariants, capabilities, sends; cells.go the
//     `cell` declarations. All semantic errors are reported here, as
//     FILE:LINE:COL, in source order. Its output is the annotated tree
//     and the declarations in a Program. Last, observe.go runs a data
//     flow over the annotated tree: which fields oscillation detection
//     may leave out (counters), and whether transitions use the tick.
//  3. codegen.go, code generation: walks the annotated tree and emits
//     register bytecode (ops.go), one body at a time into a buffer whose
//     jumps name labels; functions are inlined. Instruction selection
//     happens here (immediate forms, fused field and array forms, division
//     by a static divisor). Static expressions go to a separate code
//     array. modelgen.go adds a type's targets, invariants and strategies;
//     explain.go the explanations of failed conditions.
//  4. peephole.go: rewrites of neighbouring instructions (dropped jumps to
//     the next instruction, split, threaded jumps, X-then-ret forms, a
//     jump to a ret is a ret); the buffer is then assembled into the
//     program's one code array.
//  5. vectorize.go: marks the handler loops whose bodies can run column by
//     column, 64 iterations per instruction.
//
// A Program is independent of parameters. Linking it with parameters
// (link.go, at the start of each run) evaluates the static code, lays out
// the domains and their fields, patches field offsets into a copy of the
// code, builds each type's mask of the words detection compares
// (keptMasks) and translates the vectorized loops (buildVprog): the
// result is an engine.Workload, also Celled, Projector and
// TickDependent. The engine calls its Deliver per shard and tick; the
// interpreter (vm.go, with vloop.go for vectorized loops) runs the
// handlers with a register file on the shard's stack and allocates
// nothing per message. A program with goals is also an engine.TickEnder:
// goals.go reconciles its goal-directed domains at the end of each tick
// (targets, trial runs of strategies, suppression) and reports broken
// invariants.
//
// The op table is checked at init (checkOps); with `-tags invariants`,
// every compiled program's code is checked too (verify.go).
package lang
