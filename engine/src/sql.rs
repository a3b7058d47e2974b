//! The model as one DuckDB query with the same semantics as the VM: the contract's third
//! implementation (users run it to cross-check; tests compare all three). Every identifier is
//! quoted and every literal typed, so rule text never turns into SQL by pasting.

use crate::check::{TModel, TScoreBody};
use crate::tir::{Aop, Fun, Node, TExpr, Value};
use crate::typecheck::ColumnRef;
use crate::types::Type;

pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn string_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn float_lit(x: f64) -> String {
    format!("CAST('{x:?}' AS DOUBLE)")
}

/// NULL where `x` is NaN, evaluating `x` once (DuckDB compares NaN equal to NaN).
fn nan_to_null(x: &str) -> String {
    format!("NULLIF({x}, CAST('NaN' AS DOUBLE))")
}

fn sql_type(t: Type) -> &'static str {
    match t {
        Type::Int => "BIGINT",
        Type::Bool => "BOOLEAN",
        Type::Str => "VARCHAR",
        _ => "DOUBLE",
    }
}

struct Printer<'a> {
    columns: &'a [ColumnRef],
    scores: &'a [String],
    segments: &'a [(String, Vec<String>)],
    as_of_us: i64,
}

impl Printer<'_> {
    fn expr(&self, e: &TExpr) -> String {
        let p = |x: &TExpr| self.expr(x);
        match &e.node {
            Node::Const(v) => match v {
                Value::Null => format!("CAST(NULL AS {})", sql_type(e.ty)),
                Value::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
                Value::Int(i) => format!("CAST({i} AS BIGINT)"),
                Value::Float(f) => float_lit(*f),
                Value::Str(s) => string_lit(s),
            },
            Node::Column(c) => {
                let col = &self.columns[*c];
                let name = ident(&col.name);
                if let Some(vals) = &col.has_any {
                    let list: Vec<String> = vals.iter().map(|v| string_lit(v)).collect();
                    return format!("list_has_any({name}, [{}]::VARCHAR[])", list.join(", "));
                }
                match col.ty {
                    Type::Int => format!("CAST({name} AS BIGINT)"),
                    // NaN in a float column reads as NULL.
                    Type::Float => nan_to_null(&format!("CAST({name} AS DOUBLE)")),
                    _ => name,
                }
            }
            Node::Score(s) => ident(&self.scores[*s]),
            Node::Segment(g) => ident(&self.segments[*g].0),
            Node::Days(c) => {
                let col = &self.columns[*c];
                let name = ident(&col.name);
                // Whole microseconds since the epoch, floored (as the VM reads any unit):
                // epoch_ns works for every timestamp type and dates, epoch_us not for TIMESTAMPTZ_NS.
                let ns = format!("epoch_ns({name})");
                let us = format!("(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)");
                format!("(CAST({} - {us} AS DOUBLE) / 86400000000.0)", self.as_of_us)
            }
            Node::Lookup(_) => "NULL".into(),
            Node::Cast(a) => format!("CAST({} AS DOUBLE)", p(a)),
            Node::Arith(op, a, b) => {
                let x = match op {
                    Aop::Div => format!("({} / NULLIF({}, 0))", p(a), p(b)),
                    Aop::Mod => format!("({} % NULLIF({}, 0))", p(a), p(b)),
                    _ => format!("({} {} {})", p(a), op.sql(), p(b)),
                };
                // NaN (inf - inf, 0 * inf) is NULL in the VM; DuckDB's NaN = NaN makes NULLIF do it.
                if e.ty == Type::Float {
                    nan_to_null(&x)
                } else {
                    x
                }
            }
            Node::Math(f, a) => match f {
                Fun::Neg => format!("(-{})", p(a)),
                Fun::Abs => format!("abs({})", p(a)),
                Fun::Ln => format!("(CASE WHEN {0} > 0 THEN ln({0}) END)", p(a)),
                Fun::Exp => format!("exp({})", p(a)),
                Fun::Sqrt => format!("(CASE WHEN {0} >= 0 THEN sqrt({0}) END)", p(a)),
            },
            // Segment comparisons were typed as label codes; SQL compares the labels.
            Node::Cmp(op, a, b) => match (&a.node, &b.node) {
                (Node::Segment(g), Node::Const(Value::Int(c))) | (Node::Const(Value::Int(c)), Node::Segment(g)) => {
                    format!("({} {} {})", ident(&self.segments[*g].0), op.sql(), string_lit(&self.segments[*g].1[*c as usize]))
                }
                _ => format!("({} {} {})", p(a), op.sql(), p(b)),
            },
            Node::And(a, b) => format!("({} AND {})", p(a), p(b)),
            Node::Or(a, b) => format!("({} OR {})", p(a), p(b)),
            Node::Not(a) => format!("(NOT {})", p(a)),
            Node::IsNull(a) => format!("({} IS NULL)", p(a)),
            Node::Select(c, a, b) => format!("(CASE WHEN {} THEN {} ELSE {} END)", p(c), p(a), p(b)),
            Node::MinMax(g, a, b) => format!("{}({}, {})", if *g { "greatest" } else { "least" }, p(a), p(b)),
            Node::Coalesce(a, b) => format!("coalesce({}, {})", p(a), p(b)),
            Node::Decay(pt, a, h) => nan_to_null(&format!("({} * pow(0.5, {} / NULLIF({}, 0)))", p(pt), p(a), p(h))),
            Node::Like { e, pat, ci } => format!("({} {} {})", p(e), if *ci { "ILIKE" } else { "LIKE" }, p(pat)),
            Node::StrIn { e, set, has_null } => {
                let mut items: Vec<String> = set.iter().map(|v| string_lit(v)).collect();
                if *has_null {
                    items.push("NULL".into());
                }
                format!("({} IN ({}))", p(e), items.join(", "))
            }
            Node::Lower(a) => format!("lower({})", p(a)),
            Node::Upper(a) => format!("upper({})", p(a)),
            Node::StartsWith(a, b) => format!("starts_with({}, {})", p(a), p(b)),
            Node::Contains(a, b) => format!("contains({}, {})", p(a), p(b)),
        }
    }
}

/// One SELECT over `relation` giving the model's score and segment columns (after the input
/// columns when `include_input`), in input order. Each score and segmentation is one CTE stage,
/// so later ones can refer to earlier ones by name.
pub fn model_sql(m: &TModel, input_columns: &[String], relation: &str, as_of_us: i64, include_input: bool) -> String {
    let scores: Vec<String> = m.scores.iter().map(|s| s.name.clone()).collect();
    let segments: Vec<(String, Vec<String>)> = m.segments.iter().map(|g| (g.name.clone(), g.labels.clone())).collect();
    let pr = Printer { columns: &m.columns, scores: &scores, segments: &segments, as_of_us };
    let mut stages: Vec<(String, String)> = Vec::new();
    for s in &m.scores {
        let value = match &s.body {
            TScoreBody::Rules { rules, range } => {
                let mut sum = float_lit(0.0);
                for r in rules {
                    let mut pts = pr.expr(&r.points);
                    if let Some(f) = r.floor {
                        pts = format!("greatest({pts}, {})", float_lit(f));
                    }
                    if let Some(c) = r.cap {
                        pts = format!("least({pts}, {})", float_lit(c));
                    }
                    let when = r.when.as_ref().map(|w| format!("({}) IS TRUE AND ", pr.expr(w))).unwrap_or_default();
                    // NULL points add 0; a NaN result (inf - inf) is NULL in the VM too.
                    let raw = pr.expr(&r.points);
                    sum = format!("({sum} + (CASE WHEN {when}NOT isnan(coalesce({raw}, 'NaN'::DOUBLE)) THEN {pts} ELSE {} END))", float_lit(0.0));
                }
                match range {
                    Some((lo, hi)) => format!("least(greatest({sum}, {}), {})", float_lit(*lo), float_lit(*hi)),
                    None => sum,
                }
            }
            TScoreBody::Derived(e) => {
                let x = pr.expr(e);
                format!("(CASE WHEN isnan(coalesce({x}, 'NaN'::DOUBLE)) THEN {} ELSE {x} END)", float_lit(0.0))
            }
        };
        stages.push((s.name.clone(), value));
    }
    for g in &m.segments {
        let value = match g.matrix {
            Some((a, b)) => {
                let (a, b) = (ident(&segments[a].0), ident(&segments[b].0));
                format!("CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE {a} || '-' || {b} END")
            }
            None => {
                let mut case = String::from("CASE");
                for (label, w) in &g.cases {
                    let cond = match w {
                        Some(w) => format!("({}) IS TRUE", pr.expr(w)),
                        None => "TRUE".into(),
                    };
                    case.push_str(&format!(" WHEN {cond} THEN {}", string_lit(&g.labels[*label])));
                }
                case.push_str(" ELSE NULL END");
                case
            }
        };
        stages.push((g.name.clone(), value));
    }
    let mut ctes = Vec::new();
    let mut from = ident(relation);
    for (i, (name, value)) in stages.iter().enumerate() {
        // An input column of the same name is replaced (the model's name wins, as in the VM).
        let star = if input_columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            format!("* EXCLUDE ({})", ident(name))
        } else {
            "*".to_string()
        };
        ctes.push(format!("s{i} AS (SELECT {star}, {value} AS {} FROM {from})", ident(name)));
        from = format!("s{i}");
    }
    let outputs: Vec<String> = stages.iter().map(|(n, _)| ident(n)).collect();
    let select = if include_input {
        let inputs: Vec<String> =
            input_columns.iter().filter(|c| !stages.iter().any(|(n, _)| n.eq_ignore_ascii_case(c))).map(|c| ident(c)).collect();
        inputs.into_iter().chain(outputs).collect::<Vec<_>>()
    } else {
        outputs
    };
    let with = if ctes.is_empty() { String::new() } else { format!("WITH {}\n", ctes.join(",\n     ")) };
    format!("{with}SELECT {}\nFROM {from}", select.join(", "))
}
