//! Model-level checking: parse and typecheck every expression of a `ModelSpec` against the
//! schema, enforce the model's structure, and produce the typed model the later passes use.
//! Every error gets the file, line, column, where in the model, and the expression text.

use crate::error::{CompileError, ErrorKind, Result};
use crate::model::{ModelSpec, Schema, Src};
use crate::parse::parse_expr;
use crate::tir::{Node, TExpr, Value};
use crate::typecheck::{to_float, ColumnRef, Scope};
use crate::types::Type;

#[derive(Clone, Debug)]
pub struct TRule {
    pub name: String,
    pub when: Option<TExpr>,
    pub points: TExpr,
    pub floor: Option<f64>,
    pub cap: Option<f64>,
}

#[derive(Clone, Debug)]
pub enum TScoreBody {
    Rules { rules: Vec<TRule>, range: Option<(f64, f64)> },
    Derived(TExpr),
}

#[derive(Clone, Debug)]
pub struct TScore {
    pub name: String,
    pub body: TScoreBody,
}

#[derive(Clone, Debug)]
pub struct TSegment {
    pub name: String,
    pub labels: Vec<String>,
    /// (label index, condition; None = default).
    pub cases: Vec<(usize, Option<TExpr>)>,
    /// A matrix of two earlier segmentations (indices); then `cases` is empty.
    pub matrix: Option<(usize, usize)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryKind {
    Count,
    Mask,
    Hist { edges: Vec<f64> },
    TopK { k: usize, per: Option<usize> },
}

#[derive(Clone, Debug)]
pub struct TQuery {
    pub name: String,
    pub kind: QueryKind,
    /// Boolean condition (count, mask) or float value (hist, topk).
    pub expr: TExpr,
}

#[derive(Clone, Debug)]
pub struct TModel {
    pub name: String,
    pub as_of: Option<String>,
    pub columns: Vec<ColumnRef>,
    pub scores: Vec<TScore>,
    pub segments: Vec<TSegment>,
    pub queries: Vec<TQuery>,
}

struct Ctx<'a> {
    source: &'a str,
    schema: &'a Schema,
    /// Every segmentation's name (for the "used before it is defined" hint).
    segmentations: Vec<String>,
}

impl Ctx<'_> {
    /// Attach source position (expression start + offset inside it), context and text.
    fn locate(&self, mut e: CompileError, src: Option<&Src>, line: u32, context: &str) -> CompileError {
        e.source = self.source.to_string();
        e.context = context.to_string();
        match src {
            Some(s) => {
                e = crate::hints::add(e, &s.text, self.schema, &self.segmentations);
                e.expr = s.text.clone();
                let (l, c) = (e.line, e.col);
                if s.line == 0 {
                    // Only the position inside the expression text is known.
                    if l > 0 {
                        e.context = format!("{context} (expression line {l}, column {c})");
                    }
                    e.line = 0;
                    e.col = 0;
                } else if l == 0 {
                    e.line = s.line;
                    e.col = s.col;
                } else {
                    e.line = s.line + l - 1;
                    e.col = if l == 1 { s.col + c.max(1) - 1 } else { c };
                }
            }
            None => {
                e.line = line;
                e.col = 0;
            }
        }
        e
    }

    fn structural(&self, line: u32, context: &str, msg: String) -> CompileError {
        let mut e = CompileError::new(ErrorKind::Model, msg);
        e.source = self.source.to_string();
        e.line = line;
        e.context = context.to_string();
        e
    }
}

fn expect(e: TExpr, want: Type, what: &str) -> std::result::Result<TExpr, CompileError> {
    match (want, e.ty) {
        (Type::Bool, Type::Bool) => Ok(e),
        (Type::Bool, Type::Null) => Ok(TExpr::null(Type::Bool)),
        (Type::Bool, Type::Int) => Ok(crate::typecheck::int_truth(e)),
        (Type::Float, Type::Int | Type::Float | Type::Null) => Ok(to_float(e)),
        (_, t) => Err(CompileError::new(ErrorKind::Type, format!("{what} must be a {want}, got {t}"))),
    }
}

pub fn check_model(spec: &ModelSpec, schema: &Schema) -> Result<TModel> {
    let cx = Ctx { source: &spec.source, schema, segmentations: spec.segments.iter().map(|g| g.name.clone()).collect() };
    let score_names: Vec<String> = spec.scores.iter().map(|s| s.name.clone()).collect();
    let mut columns = Vec::new();
    let mut scores = Vec::new();

    for (i, s) in spec.scores.iter().enumerate() {
        let sctx = format!("score '{}'", s.name);
        if score_names[..i].contains(&s.name) {
            return Err(cx.structural(s.line, &sctx, format!("duplicate score name '{}'", s.name)));
        }
        let mut scope = Scope { schema, scores: &score_names, visible_scores: i, segments: &[], columns: &mut columns };
        let typed = |src: &Src, want: Type, what: &str, ctx: &str, scope: &mut Scope| -> Result<TExpr> {
            let ast = parse_expr(&src.text).map_err(|e| cx.locate(e, Some(src), 0, ctx))?;
            let t = scope.check(&ast).map_err(|e| cx.locate(e, Some(src), 0, ctx))?;
            expect(t, want, what).map_err(|e| cx.locate(e, Some(src), 0, ctx))
        };
        let body = match (&s.rules, &s.expr) {
            (Some(rules), None) => {
                let range = match s.range {
                    Some([lo, hi]) if lo > hi => return Err(cx.structural(s.line, &sctx, format!("range [{lo}, {hi}] has lo > hi"))),
                    Some([lo, hi]) => Some((lo, hi)),
                    None => None,
                };
                let mut out = Vec::new();
                for r in rules {
                    let rctx = format!("score '{}', rule '{}'", s.name, r.name);
                    if let (Some(f), Some(c)) = (r.floor, r.cap) {
                        if f > c {
                            return Err(cx.structural(r.line, &rctx, format!("floor {f} is above cap {c}")));
                        }
                    }
                    let when = r.when.as_ref().map(|w| typed(w, Type::Bool, "a rule's `when`", &format!("{rctx}, when"), &mut scope)).transpose()?;
                    let points = typed(&r.points, Type::Float, "a rule's `points`", &format!("{rctx}, points"), &mut scope)?;
                    out.push(TRule { name: r.name.clone(), when, points, floor: r.floor, cap: r.cap });
                }
                TScoreBody::Rules { rules: out, range }
            }
            (None, Some(expr)) => {
                let e = typed(expr, Type::Float, "a score's `expr`", &format!("{sctx}, expr"), &mut scope)?;
                match s.range {
                    None => TScoreBody::Derived(e),
                    Some([lo, hi]) if lo > hi => return Err(cx.structural(s.line, &sctx, format!("range [{lo}, {hi}] has lo > hi"))),
                    // Clamp after NULL → 0: least(greatest(coalesce(e, 0), lo), hi).
                    Some([lo, hi]) => {
                        let k = |x: f64| Box::new(TExpr::konst(Type::Float, Value::Float(x)));
                        let zeroed = TExpr::new(Type::Float, Node::Coalesce(Box::new(e), k(0.0)));
                        let low = TExpr::new(Type::Float, Node::MinMax(true, Box::new(zeroed), k(lo)));
                        TScoreBody::Derived(TExpr::new(Type::Float, Node::MinMax(false, Box::new(low), k(hi))))
                    }
                }
            }
            (Some(_), Some(_)) => return Err(cx.structural(s.line, &sctx, "a score has either `rules` or `expr`, not both".into())),
            (None, None) => return Err(cx.structural(s.line, &sctx, "a score needs `rules` or `expr`".into())),
        };
        scores.push(TScore { name: s.name.clone(), body });
    }

    let mut segments: Vec<TSegment> = Vec::new();
    let mut seg_names: Vec<(String, Vec<String>)> = Vec::new();
    for (i, g) in spec.segments.iter().enumerate() {
        let gctx = format!("segmentation '{}'", g.name);
        if spec.segments[..i].iter().any(|o| o.name == g.name) {
            return Err(cx.structural(g.line, &gctx, format!("duplicate segmentation name '{}'", g.name)));
        }
        if score_names.contains(&g.name) {
            return Err(cx.structural(g.line, &gctx, format!("'{}' is already a score name", g.name)));
        }
        if let Some(pair) = &g.matrix {
            let find = |n: &String| {
                seg_names.iter().position(|(s, _)| s == n).ok_or_else(|| {
                    let hint = crate::error::suggest(n, seg_names.iter().map(|(s, _)| s.as_str()));
                    cx.structural(g.line, &gctx, format!("matrix over unknown segmentation '{n}'{hint} (list it above this one)"))
                })
            };
            let [a, b] = pair.as_slice() else {
                return Err(cx.structural(g.line, &gctx, "a matrix names exactly two segmentations".into()));
            };
            let (a, b) = (find(a)?, find(b)?);
            let labels =
                seg_names[a].1.iter().flat_map(|x| seg_names[b].1.iter().map(move |y| format!("{x}-{y}"))).collect::<Vec<_>>();
            seg_names.push((g.name.clone(), labels.clone()));
            segments.push(TSegment { name: g.name.clone(), labels, cases: Vec::new(), matrix: Some((a, b)) });
            continue;
        }
        let mut labels: Vec<String> = Vec::new();
        let mut cases = Vec::new();
        for c in &g.cases {
            let cctx = format!("{gctx}, segment '{}'", c.label);
            if labels.contains(&c.label) {
                return Err(cx.structural(c.line, &cctx, format!("duplicate segment '{}'", c.label)));
            }
            labels.push(c.label.clone());
            let when = match &c.when {
                None => None,
                Some(src) => {
                    let mut scope =
                        Scope { schema, scores: &score_names, visible_scores: score_names.len(), segments: &seg_names, columns: &mut columns };
                    let ast = parse_expr(&src.text).map_err(|e| cx.locate(e, Some(src), 0, &cctx))?;
                    let t = scope.check(&ast).map_err(|e| cx.locate(e, Some(src), 0, &cctx))?;
                    Some(expect(t, Type::Bool, "a segment's `when`").map_err(|e| cx.locate(e, Some(src), 0, &cctx))?)
                }
            };
            cases.push((labels.len() - 1, when));
        }
        if cases.is_empty() {
            return Err(cx.structural(g.line, &gctx, "a segmentation needs at least one segment".into()));
        }
        seg_names.push((g.name.clone(), labels.clone()));
        segments.push(TSegment { name: g.name.clone(), labels, cases, matrix: None });
    }

    let mut queries = Vec::new();
    for (i, q) in spec.queries.iter().enumerate() {
        let name = if q.name.is_empty() { format!("q{i}") } else { q.name.clone() };
        let qctx = format!("query '{name}'");
        let src = &q.expr;
        let mut scope = Scope { schema, scores: &score_names, visible_scores: score_names.len(), segments: &seg_names, columns: &mut columns };
        let ast = parse_expr(&src.text).map_err(|e| cx.locate(e, Some(src), 0, &qctx))?;
        let t = scope.check(&ast).map_err(|e| cx.locate(e, Some(src), 0, &qctx))?;
        let (kind, want) = match q.kind.as_str() {
            "count" => (QueryKind::Count, Type::Bool),
            "mask" => (QueryKind::Mask, Type::Bool),
            "hist" => {
                if q.edges.is_empty() || q.edges.windows(2).any(|w| !(w[0] < w[1])) || q.edges.iter().any(|e| !e.is_finite()) {
                    return Err(cx.structural(q.line, &qctx, "histogram edges must be finite and strictly increasing".into()));
                }
                (QueryKind::Hist { edges: q.edges.clone() }, Type::Float)
            }
            "topk" => {
                if q.k == 0 {
                    return Err(cx.structural(q.line, &qctx, "top_k needs k >= 1".into()));
                }
                let per = match &q.per {
                    None => None,
                    Some(p) => Some(seg_names.iter().position(|(s, _)| s == p).ok_or_else(|| {
                        let hint = crate::error::suggest(p, seg_names.iter().map(|(s, _)| s.as_str()));
                        cx.structural(q.line, &qctx, format!("top_k per unknown segmentation '{p}'{hint}"))
                    })?),
                };
                (QueryKind::TopK { k: q.k, per }, Type::Float)
            }
            other => return Err(cx.structural(q.line, &qctx, format!("unknown query kind '{other}'"))),
        };
        let expr = expect(t, want, "the query's expression").map_err(|e| cx.locate(e, Some(src), 0, &qctx))?;
        queries.push(TQuery { name, kind, expr });
    }

    if scores.is_empty() && segments.is_empty() {
        return Err(cx.structural(0, "", "the model defines no scores and no segments".into()));
    }
    Ok(TModel { name: spec.name.clone(), as_of: spec.as_of.clone(), columns, scores, segments, queries })
}
