//! Passes 5 and 6, allocate + emit: walk the typed, folded model and write bytecode.
//! Identical subexpressions are computed once (CSE): a first walk counts how often each is
//! used, the emitting walk keeps its register alive until the last use, then frees it.
//! Constants become `k` operands where an opcode has a constant form.

use crate::check::{QueryKind, TModel, TScoreBody, TSegment};
use crate::error::{CompileError, ErrorKind, Result};
use crate::opcodes::{Op, INSN_WIDTH};
use crate::program::{Insn, Program, QueryInfo, SegmentInfo};
use crate::tir::{Aop, Fun, Node, TExpr, Value};
use crate::types::Type;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    F = 0,
    I = 1,
    B = 2,
}

fn kind(ty: Type) -> Kind {
    match ty {
        Type::Int | Type::Label => Kind::I,
        Type::Bool => Kind::B,
        _ => Kind::F,
    }
}

const NULL_B: i64 = 1;
const TRUE_B: i64 = 2;

#[derive(Default)]
struct Emitter {
    p: Program,
    free: [Vec<i64>; 3],
    uses: HashMap<String, usize>,
    live: HashMap<String, (i64, usize)>,
}

fn key(e: &TExpr) -> String {
    format!("{:?}", e)
}

fn is_const(e: &TExpr) -> bool {
    matches!(e.node, Node::Const(_))
}

/// The children of `e` that need a register of their own (constants folded into `k`
/// operands and loads that cast on the fly do not).
fn reg_children(e: &TExpr) -> Vec<&TExpr> {
    match &e.node {
        Node::Cast(a) if matches!(a.node, Node::Column(_)) => vec![],
        Node::IsNull(a) if matches!(a.node, Node::Column(_)) => vec![],
        Node::Arith(op, a, b) => {
            if is_const(b) && (e.ty == Type::Float || *op != Aop::Div) {
                vec![a]
            } else if is_const(a) && e.ty == Type::Float {
                vec![b]
            } else {
                vec![a, b]
            }
        }
        Node::Cmp(_, a, b) => {
            if is_const(b) {
                vec![a]
            } else if is_const(a) {
                vec![b]
            } else {
                vec![a, b]
            }
        }
        _ => e.children(),
    }
}

impl Emitter {
    fn count(&mut self, e: &TExpr) {
        let n = self.uses.entry(key(e)).or_insert(0);
        *n += 1;
        if *n == 1 {
            for c in reg_children(e) {
                self.count(c);
            }
        }
    }

    fn alloc(&mut self, k: Kind) -> i64 {
        self.free[k as usize].pop().unwrap_or_else(|| {
            let r = self.p.n_regs[k as usize] as i64;
            self.p.n_regs[k as usize] += 1;
            r
        })
    }

    fn release(&mut self, k: Kind, r: i64) {
        self.free[k as usize].push(r);
        // Lowest register first keeps the working set small.
        self.free[k as usize].sort_unstable_by(|a, b| b.cmp(a));
    }

    /// One use of `e` is over: free its register after the last one.
    fn done(&mut self, e: &TExpr) {
        let k = key(e);
        if let Some((r, left)) = self.live.get_mut(&k) {
            *left -= 1;
            if *left == 0 {
                let r = *r;
                self.live.remove(&k);
                self.release(kind(e.ty), r);
            }
        }
    }

    fn push(&mut self, op: Op, operands: &[i64]) {
        let mut insn: Insn = [0; INSN_WIDTH];
        insn[0] = op as i64;
        insn[1..=operands.len()].copy_from_slice(operands);
        self.p.code.push(insn);
    }

    fn kf(&mut self, x: f64) -> i64 {
        match self.p.consts_f.iter().position(|c| c.to_bits() == x.to_bits()) {
            Some(i) => i as i64,
            None => {
                self.p.consts_f.push(x);
                self.p.consts_f.len() as i64 - 1
            }
        }
    }

    fn ki(&mut self, x: i64) -> i64 {
        match self.p.consts_i.iter().position(|c| *c == x) {
            Some(i) => i as i64,
            None => {
                self.p.consts_i.push(x);
                self.p.consts_i.len() as i64 - 1
            }
        }
    }

    fn const_f(&mut self, e: &TExpr) -> i64 {
        let x = match e.as_const() {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            _ => f64::NAN,
        };
        self.kf(x)
    }

    fn const_i(&mut self, e: &TExpr) -> Option<i64> {
        match e.as_const() {
            Some(Value::Int(i)) => Some(self.ki(*i)),
            _ => None,
        }
    }

    /// Emit `e` (or reuse its live register); the caller calls `done(e)` after consuming it.
    fn expr(&mut self, e: &TExpr) -> Result<i64> {
        let k = key(e);
        if let Some((r, _)) = self.live.get(&k) {
            return Ok(*r);
        }
        let regs: Vec<i64> = reg_children(e).into_iter().map(|c| self.expr(c)).collect::<Result<_>>()?;
        let dst = self.alloc(kind(e.ty));
        self.instruction(e, dst, &regs)?;
        for c in reg_children(e) {
            self.done(c);
        }
        let uses = self.uses.get(&k).copied().unwrap_or(1);
        self.live.insert(k, (dst, uses));
        Ok(dst)
    }

    fn instruction(&mut self, e: &TExpr, d: i64, r: &[i64]) -> Result<()> {
        use Node::*;
        let int = e.ty == Type::Int;
        match &e.node {
            Const(v) => match (kind(e.ty), v) {
                (Kind::B, Value::Bool(b)) => self.push(Op::ConstB, &[d, if *b { TRUE_B } else { 0 }]),
                (Kind::B, _) => self.push(Op::ConstB, &[d, NULL_B]),
                (Kind::I, Value::Int(i)) => {
                    let k = self.ki(*i);
                    self.push(Op::ConstI, &[d, k, 1])
                }
                (Kind::I, _) => {
                    let k = self.ki(0);
                    self.push(Op::ConstI, &[d, k, 0])
                }
                (Kind::F, _) => {
                    let k = self.const_f(e);
                    self.push(Op::ConstF, &[d, k])
                }
            },
            Column(c) => {
                let op = match kind(e.ty) {
                    Kind::F => Op::LoadF,
                    Kind::I => Op::LoadI,
                    Kind::B => Op::LoadB,
                };
                self.push(op, &[d, *c as i64])
            }
            Score(s) => self.push(Op::LoadScore, &[d, *s as i64]),
            Segment(g) => self.push(Op::LoadSeg, &[d, *g as i64]),
            Days(c) => self.push(Op::LoadDays, &[d, *c as i64]),
            EpochUs(c) => self.push(Op::LoadUs, &[d, *c as i64]),
            Lookup(t) => {
                let col = self.p.lookups[*t].column as i64;
                let op = match kind(e.ty) {
                    Kind::F => Op::LookupF,
                    Kind::I => Op::LookupI,
                    Kind::B => Op::LookupB,
                };
                self.push(op, &[d, col, *t as i64])
            }
            Cast(a) => match &a.node {
                Column(c) => self.push(Op::LoadF, &[d, *c as i64]),
                _ => self.push(Op::IToF, &[d, r[0]]),
            },
            Arith(op, a, b) => {
                let aop = op.code();
                if r.len() == 2 {
                    self.push(if int { Op::ArithI } else { Op::ArithF }, &[d, r[0], r[1], aop])
                } else if is_const(b) {
                    if int {
                        let k = self.const_i(b).expect("int constant");
                        self.push(Op::ArithIK, &[d, r[0], k, aop])
                    } else {
                        let k = self.const_f(b);
                        self.push(Op::ArithFK, &[d, r[0], k, aop])
                    }
                } else {
                    let _ = a;
                    let k = self.const_f(a);
                    self.push(Op::ArithKF, &[d, k, r[0], aop])
                }
            }
            RoundTo(_, digits) => {
                let k = self.kf(crate::numeric::round_modifier(*digits));
                self.push(Op::RoundF, &[d, r[0], k, (*digits < 0) as i64])
            }
            ToInt(_) => self.push(Op::FToI, &[d, r[0]]),
            Math(f, a) => {
                if a.ty == Type::Int {
                    match f {
                        Fun::Neg => self.push(Op::NegI, &[d, r[0]]),
                        _ => self.push(Op::AbsI, &[d, r[0]]),
                    }
                } else {
                    self.push(Op::MathF, &[d, r[0], f.code()])
                }
            }
            Cmp(op, a, b) => {
                let operand_int = a.ty == Type::Int;
                if r.len() == 2 {
                    self.push(if operand_int { Op::CmpI } else { Op::CmpF }, &[d, r[0], r[1], op.code()])
                } else {
                    let (c, cmp) = if is_const(b) { (b, *op) } else { (a, op.flip()) };
                    if operand_int {
                        let k = self.const_i(c).expect("int constant");
                        self.push(Op::CmpIK, &[d, r[0], k, cmp.code()])
                    } else {
                        let k = self.const_f(c);
                        self.push(Op::CmpFK, &[d, r[0], k, cmp.code()])
                    }
                }
            }
            And(..) => self.push(Op::And, &[d, r[0], r[1]]),
            Or(..) => self.push(Op::Or, &[d, r[0], r[1]]),
            Not(_) => self.push(Op::Not, &[d, r[0]]),
            IsNull(a) => match (&a.node, kind(a.ty)) {
                (Column(c), _) => self.push(Op::IsNullCol, &[d, *c as i64]),
                (_, Kind::F) => self.push(Op::IsNullF, &[d, r[0]]),
                (_, Kind::I) => self.push(Op::IsNullI, &[d, r[0]]),
                (_, Kind::B) => self.push(Op::IsNullB, &[d, r[0]]),
            },
            Select(..) => {
                let op = [Op::SelectF, Op::SelectI, Op::SelectB][kind(e.ty) as usize];
                self.push(op, &[d, r[0], r[1], r[2]])
            }
            MinMax(greatest, ..) => self.push(if int { Op::MinMaxI } else { Op::MinMaxF }, &[d, r[0], r[1], *greatest as i64]),
            Coalesce(..) => {
                let op = [Op::CoalesceF, Op::CoalesceI, Op::CoalesceB][kind(e.ty) as usize];
                self.push(op, &[d, r[0], r[1]])
            }
            Decay(..) => self.push(Op::Decay, &[d, r[0], r[1], r[2]]),
            Like { .. } | StrIn { .. } | Lower(_) | Upper(_) | StartsWith(..) | Contains(..) | Regexp { .. } | StrFn(..) => {
                return Err(CompileError::new(ErrorKind::Type, "internal: string expression left for the VM"))
            }
        }
        Ok(())
    }

    /// A condition operand: None/TRUE → -1 (always), FALSE/NULL → skip (None), else a register.
    fn condition(&mut self, when: Option<&TExpr>) -> Result<Option<i64>> {
        match when.map(|w| &w.node) {
            None | Some(Node::Const(Value::Bool(true))) => Ok(Some(-1)),
            Some(Node::Const(_)) => Ok(None),
            Some(_) => Ok(Some(self.expr(when.unwrap())?)),
        }
    }
}

/// A condition folded to FALSE or NULL: the rule or segment can never apply.
fn never(w: Option<&TExpr>) -> bool {
    matches!(w.map(|w| &w.node), Some(Node::Const(v)) if *v != Value::Bool(true))
}

fn when_needs_reg(w: Option<&TExpr>) -> Option<&TExpr> {
    w.filter(|w| !is_const(w))
}

/// Emit the whole program for a checked, folded model with its lookups extracted.
pub fn emit_program(m: &TModel, lookups: crate::lookup::Lookups) -> Result<Program> {
    let mut em = Emitter::default();
    em.p.name = m.name.clone();
    em.p.as_of = m.as_of.clone();
    em.p.columns = m.columns.clone();
    em.p.lookups = lookups.defs;
    em.p.keys = lookups.keys;
    em.p.scores = m.scores.iter().map(|s| s.name.clone()).collect();
    em.p.segments = m.segments.iter().map(|g| SegmentInfo { name: g.name.clone(), labels: g.labels.clone() }).collect();

    // Walk 1: count uses, in the same order the emitting walk visits.
    for s in &m.scores {
        match &s.body {
            TScoreBody::Rules { rules, .. } => {
                for r in rules.iter().filter(|r| !never(r.when.as_ref())) {
                    if let Some(w) = when_needs_reg(r.when.as_ref()) {
                        em.count(w);
                    }
                    if !is_const(&r.points) {
                        em.count(&r.points);
                    }
                }
            }
            TScoreBody::Derived(e) => em.count(e),
        }
    }
    for g in &m.segments {
        for (_, w) in &g.cases {
            if let Some(w) = when_needs_reg(w.as_ref()) {
                em.count(w);
            }
        }
    }

    for q in &m.queries {
        em.count(&q.expr);
    }

    // Walk 2: emit.
    for (si, s) in m.scores.iter().enumerate() {
        // How later expressions refer to this score, and how many of them do.
        let score_ref = key(&TExpr::new(Type::Float, Node::Score(si)));
        let later = em.uses.get(&score_ref).copied().unwrap_or(0);
        match &s.body {
            TScoreBody::Rules { rules, range } => {
                let acc = em.alloc(Kind::F);
                em.push(Op::ZeroF, &[acc]);
                for r in rules {
                    let cond = em.condition(r.when.as_ref())?;
                    let Some(cond) = cond else { continue };
                    match r.points.as_const() {
                        Some(v) => {
                            let x = match v {
                                Value::Float(f) => Some(*f),
                                Value::Int(i) => Some(*i as f64),
                                _ => None,
                            };
                            if let Some(mut x) = x {
                                if let Some(f) = r.floor {
                                    x = x.max(f);
                                }
                                if let Some(c) = r.cap {
                                    x = x.min(c);
                                }
                                let k = em.kf(x);
                                em.push(Op::RuleK, &[acc, cond, k]);
                            }
                        }
                        None => {
                            let p = em.expr(&r.points)?;
                            let floor = r.floor.map(|f| em.kf(f)).unwrap_or(-1);
                            let cap = r.cap.map(|c| em.kf(c)).unwrap_or(-1);
                            em.push(Op::Rule, &[acc, cond, p, floor, cap]);
                            em.done(&r.points);
                        }
                    }
                    if let Some(w) = when_needs_reg(r.when.as_ref()) {
                        em.done(w);
                    }
                }
                if let Some((lo, hi)) = range {
                    let (lo, hi) = (em.kf(*lo), em.kf(*hi));
                    em.push(Op::ClampF, &[acc, lo, hi]);
                }
                em.push(Op::StoreScore, &[si as i64, acc, 0]);
                // Later expressions naming this score read the accumulator (never NULL) instead
                // of reloading the stored column; it is freed after its last use.
                if later > 0 {
                    em.live.insert(score_ref, (acc, later));
                } else {
                    em.release(Kind::F, acc);
                }
            }
            TScoreBody::Derived(e) => {
                let r = em.expr(e)?;
                let k = key(e);
                let last_use = matches!(em.live.get(&k), Some((_, 1)));
                if later > 0 && last_use && kind(e.ty) == Kind::F {
                    // Nothing else needs this register: the store zeroes its NULLs in place
                    // and later references read it instead of reloading the stored column.
                    em.push(Op::StoreScore, &[si as i64, r, 2]);
                    em.live.remove(&k);
                    em.live.insert(score_ref, (r, later));
                } else {
                    em.push(Op::StoreScore, &[si as i64, r, 1]);
                    em.done(e);
                }
            }
        }
    }
    for (gi, g) in m.segments.iter().enumerate() {
        match g.matrix {
            Some((a, b)) => {
                let n_b = m.segments[b].labels.len() as i64;
                em.push(Op::SegMatrix, &[gi as i64, a as i64, b as i64, n_b]);
            }
            None => emit_segment(&mut em, gi, g)?,
        }
    }
    let (mut slots, mut masks, mut topks) = (0usize, 0usize, 0usize);
    for q in &m.queries {
        let r = em.expr(&q.expr)?;
        let mut info = QueryInfo { name: q.name.clone(), kind: String::new(), slot: 0, size: 0, index: 0, edges: vec![], k: 0, per: None, groups: 1 };
        match &q.kind {
            QueryKind::Count => {
                info.kind = "count".into();
                (info.slot, info.size) = (slots, 1);
                slots += 1;
                em.push(Op::CountIf, &[info.slot as i64, r]);
            }
            QueryKind::Mask => {
                info.kind = "mask".into();
                info.index = masks;
                masks += 1;
                em.push(Op::StoreMask, &[info.index as i64, r]);
            }
            QueryKind::Hist { edges } => {
                info.kind = "hist".into();
                (info.slot, info.size) = (slots, edges.len() + 2);
                slots += info.size;
                info.edges = edges.clone();
                // Edges are stored contiguously (no dedupe) so the VM can binary-search them.
                let first = em.p.consts_f.len() as i64;
                em.p.consts_f.extend_from_slice(edges);
                em.push(Op::Hist, &[info.slot as i64, r, first, edges.len() as i64]);
            }
            QueryKind::TopK { k, per } => {
                info.kind = "topk".into();
                info.index = topks;
                topks += 1;
                info.k = *k;
                info.per = *per;
                let group = match per {
                    Some(g) => {
                        info.groups = m.segments[*g].labels.len();
                        let reg = em.alloc(Kind::I);
                        em.push(Op::LoadSeg, &[reg, *g as i64]);
                        reg
                    }
                    None => -1,
                };
                em.push(Op::TopK, &[info.index as i64, r, group]);
                if group >= 0 {
                    em.release(Kind::I, group);
                }
            }
        }
        em.done(&q.expr);
        em.p.queries.push(info);
    }
    Ok(em.p)
}

fn emit_segment(em: &mut Emitter, gi: usize, g: &TSegment) -> Result<()> {
    let mut open = true;
    for (label, w) in &g.cases {
        let cond = em.condition(w.as_ref())?;
        if let (Some(cond), true) = (cond, open) {
            em.push(Op::SegSet, &[gi as i64, cond, *label as i64]);
            // After an unconditional segment nothing else can match.
            open = cond >= 0;
        }
        if let Some(w) = when_needs_reg(w.as_ref()) {
            if cond.is_some() {
                em.done(w);
            }
        }
    }
    Ok(())
}
