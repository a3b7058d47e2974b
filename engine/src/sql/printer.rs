//! The expression printer every dialect shares: typed expressions → SQL text, through a
//! dialect's `Syntax` for everything that differs.

use super::bind::Cx;
use super::syntax::{Part, Pattern, Syntax};
use crate::error::Result;
use crate::tir::{Aop, Fun, Node, TExpr, Value};
use crate::typecheck::ColumnRef;
use crate::types::Type;

pub(super) struct Printer<'a> {
    pub syn: &'a dyn Syntax,
    pub cx: Cx<'a>,
    pub columns: &'a [ColumnRef],
    /// How an expression refers to each score and segmentation (quoted), and their labels.
    pub scores: &'a [String],
    pub segments: &'a [String],
    pub labels: Vec<&'a [String]>,
    pub as_of_us: i64,
}

impl Printer<'_> {
    /// `e` printed, hoisted into a helper column when the dialect needs its text shallow.
    pub fn expr(&self, e: &TExpr) -> Result<Part> {
        let mark = self.cx.mark();
        let mut part = self.node(e)?;
        part.level = part.level.max(self.cx.level_since(mark));
        Ok(self.cx.shallow(part))
    }

    fn node(&self, e: &TExpr) -> Result<Part> {
        let (syn, cx) = (self.syn, &self.cx);
        let p = |x: &TExpr| self.expr(x);
        let text = |x: &TExpr| self.expr(x).map(|part| part.sql);
        Ok(match &e.node {
            Node::Const(v) => Part::leaf(match v {
                Value::Null => syn.null(e.ty),
                Value::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
                Value::Int(i) => syn.int_lit(*i),
                Value::Float(f) => syn.float_lit(*f),
                Value::Str(s) => syn.string_lit(s)?,
            }),
            Node::Column(c) => {
                let col = &self.columns[*c];
                let name = syn.ident(&col.name)?;
                Part::leaf(match &col.has_any {
                    Some(values) => syn.has_any(&name, values)?,
                    None => syn.column(&name, col.ty),
                })
            }
            Node::Score(s) => Part::leaf(self.scores[*s].clone()),
            Node::Segment(g) => Part::leaf(self.segments[*g].clone()),
            Node::Days(c) => {
                let col = &self.columns[*c];
                Part::leaf(syn.days(&syn.ident(&col.name)?, col.ty, self.as_of_us))
            }
            Node::EpochUs(c) => {
                let col = &self.columns[*c];
                Part::leaf(syn.epoch_us(&syn.ident(&col.name)?, col.ty))
            }
            Node::Lookup(_) => Part::leaf("NULL".into()),
            Node::Cast(a) => Part::node(syn.to_float(&text(a)?)),
            Node::Arith(op @ (Aop::Add | Aop::Sub | Aop::Mul | Aop::IntDiv), a, b) if e.ty == Type::Int => {
                Part::node(syn.int_arith(cx, *op, p(a)?, p(b)?)?)
            }
            Node::Arith(op, a, b) => Part::node(syn.arith(cx, *op, p(a)?, p(b)?, e.ty == Type::Float)),
            Node::Math(f @ (Fun::Neg | Fun::Abs), a) if a.ty == Type::Int => Part::node(syn.int_neg_abs(cx, *f, p(a)?)?),
            Node::Math(f, a) => Part::node(syn.math(cx, *f, p(a)?)),
            Node::RoundTo(a, digits) => Part::node(syn.round_to(cx, p(a)?, *digits)?),
            Node::ToInt(a) => Part::node(syn.float_to_int(cx, p(a)?)?),
            // Segment comparisons were typed as label codes; SQL compares the labels.
            Node::Cmp(op, a, b) => Part::node(match (&a.node, &b.node) {
                (Node::Segment(g), Node::Const(Value::Int(c))) | (Node::Const(Value::Int(c)), Node::Segment(g)) => {
                    let label = syn.string_lit(&self.labels[*g][*c as usize])?;
                    format!("({} {} {label})", self.segments[*g], op.sql())
                }
                (Node::Segment(_), Node::Const(Value::Null)) | (Node::Const(Value::Null), Node::Segment(_)) => {
                    syn.compare_label_null(*op, &text(a)?, &text(b)?)
                }
                _ => syn.compare(*op, &text(a)?, &text(b)?, a.ty == Type::Str),
            }),
            Node::And(a, b) => Part::node(format!("({} AND {})", text(a)?, text(b)?)),
            Node::Or(a, b) => Part::node(format!("({} OR {})", text(a)?, text(b)?)),
            Node::Not(a) => Part::node(format!("(NOT {})", text(a)?)),
            Node::IsNull(a) => Part::node(format!("({} IS NULL)", text(a)?)),
            Node::Select(c, a, b) => Part::node(format!("(CASE WHEN {} THEN {} ELSE {} END)", text(c)?, text(a)?, text(b)?)),
            Node::MinMax(g, a, b) if e.ty == Type::Str => Part::node(syn.min_max_str(cx, *g, p(a)?, p(b)?)),
            Node::MinMax(g, a, b) => Part::node(syn.min_max(cx, *g, p(a)?, p(b)?)),
            Node::Coalesce(a, b) => Part::node(format!("coalesce({}, {})", text(a)?, text(b)?)),
            Node::Decay(pt, a, h) => Part::node(syn.decay(cx, p(pt)?, p(a)?, p(h)?)),
            Node::Like { e, pat, ci, esc } => {
                let pattern = match pat.as_const() {
                    Some(Value::Str(s)) => Pattern::Literal(s),
                    _ => Pattern::Expr(p(pat)?),
                };
                Part::node(syn.like(&text(e)?, pattern, *ci, *esc)?)
            }
            Node::Regexp { e, pat, opts } => Part::node(syn.regexp(&text(e)?, pat, opts)?),
            // A strict function of a NULL constant is NULL (to_sql does not fold).
            Node::StrFn(f, args) if f.strict() && args.iter().any(|a| matches!(a.node, Node::Const(Value::Null))) => {
                Part::leaf(syn.null(e.ty))
            }
            Node::StrFn(f, args) => {
                let parts = args.iter().map(p).collect::<Result<Vec<_>>>()?;
                let consts: Vec<Option<&Value>> = args.iter().map(|a| a.as_const()).collect();
                Part::node(syn.str_fn(cx, *f, parts, &consts)?)
            }
            Node::StrIn { e, set, has_null } => {
                let mut items = set.iter().map(|v| syn.string_lit(v)).collect::<Result<Vec<_>>>()?;
                if *has_null {
                    items.push("NULL".into());
                }
                Part::node(syn.str_in(&text(e)?, &items))
            }
            Node::Lower(a) => Part::node(syn.case_map(false, &text(a)?)),
            Node::Upper(a) => Part::node(syn.case_map(true, &text(a)?)),
            Node::StartsWith(a, b) => Part::node(syn.starts_with(&text(a)?, &text(b)?)),
            Node::Contains(a, b) => Part::node(syn.contains(&text(a)?, &text(b)?)),
        })
    }
}
