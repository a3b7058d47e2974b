//! Pass 4, lookups: replace every maximal subtree that reads exactly one string column (and
//! nothing else) and yields a boolean or a number by a dictionary lookup table. The VM then
//! evaluates string predicates once per distinct dictionary value, never per row.
//!
//! A string value computed from several columns (`coalesce(a, b) = 'x'`, `a = b`,
//! `CASE WHEN flag THEN a ELSE b END IN (...)`, `a LIKE b`) is looked up by a *key*: the tuple
//! of the string and boolean columns it reads. The smallest non-string node holding the string
//! value becomes a lookup over key column `columns.len() + k` (k indexes `keys`), which the
//! runner binds per batch as one int32 code per row over the tuples (vm/keys.py): dense codes
//! over every combination when the dictionaries' product is small, else codes of the distinct
//! tuples present in the batch. The VM's lookup opcodes read it like any dictionary column.

use crate::check::{TModel, TScoreBody};
use crate::error::{CompileError, ErrorKind, Result};
use crate::tir::{Node, TExpr};
use crate::types::Type;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupDef {
    /// The program column (a string column) the table is indexed by.
    pub column: usize,
    /// Bool, Int or Float: the register kind the lookup fills.
    pub result: Type,
    /// The subtree, reading `Node::Column(column)`; evaluated per dictionary value.
    pub expr: TExpr,
}

/// The lookup tables and the keys (tuples of program columns, each a string or boolean column)
/// that multi-column lookups are indexed by.
#[derive(Debug, Default)]
pub struct Lookups {
    pub defs: Vec<LookupDef>,
    pub keys: Vec<Vec<usize>>,
}

pub fn extract_lookups(m: &mut TModel) -> Result<Lookups> {
    let mut out = Lookups::default();
    let TModel { scores, segments, columns, queries, .. } = m;
    let mut visit = |e: &mut TExpr, ctx: &str| -> Result<()> {
        replace(e, columns, &mut out);
        if let Some(bad) = find_string(e) {
            let mut what = Vec::new();
            not_string_inputs(bad, columns, &mut what);
            let mut err = CompileError::new(
                ErrorKind::Type,
                format!(
                    "a string value here is computed from {}; string expressions may read string and boolean columns and constants only",
                    if what.is_empty() { "something other than string and boolean columns".to_string() } else { what.join(", ") }
                ),
            );
            err.context = ctx.to_string();
            return Err(err);
        }
        Ok(())
    };
    for s in scores.iter_mut() {
        match &mut s.body {
            TScoreBody::Rules { rules, .. } => {
                for r in rules.iter_mut() {
                    let ctx = format!("score '{}', rule '{}'", s.name, r.name);
                    if let Some(w) = &mut r.when {
                        visit(w, &ctx)?;
                    }
                    visit(&mut r.points, &ctx)?;
                }
            }
            TScoreBody::Derived(e) => visit(e, &format!("score '{}'", s.name))?,
        }
    }
    for g in segments.iter_mut() {
        for (_, w) in g.cases.iter_mut() {
            if let Some(w) = w {
                visit(w, &format!("segmentation '{}'", g.name))?;
            }
        }
    }
    for q in queries.iter_mut() {
        visit(&mut q.expr, &format!("query '{}'", q.name))?;
    }
    Ok(out)
}

fn single_string_column(e: &TExpr, columns: &[crate::typecheck::ColumnRef]) -> Option<usize> {
    let (mut cols, mut opaque) = (Vec::new(), false);
    e.inputs(&mut cols, &mut opaque);
    if opaque || cols.len() != 1 || columns[cols[0]].ty != Type::Str || columns[cols[0]].has_any.is_some() {
        return None;
    }
    // Days reads a timestamp column, never a string one, so cols[0] is read through Column.
    Some(cols[0])
}

fn replace(e: &mut TExpr, columns: &[crate::typecheck::ColumnRef], out: &mut Lookups) {
    let is_plain_null_test = matches!(&e.node, Node::IsNull(a) if matches!(a.node, Node::Column(_)));
    if matches!(e.ty, Type::Bool | Type::Int | Type::Float) && !is_plain_null_test {
        if let Some(col) = single_string_column(e, columns) {
            let def = LookupDef { column: col, result: e.ty, expr: e.clone() };
            e.node = Node::Lookup(intern_def(&mut out.defs, def));
            return;
        }
        if let Some(key) = tuple_key(e, columns) {
            let k = out.keys.iter().position(|x| *x == key).unwrap_or_else(|| {
                out.keys.push(key);
                out.keys.len() - 1
            });
            let def = LookupDef { column: columns.len() + k, result: e.ty, expr: e.clone() };
            e.node = Node::Lookup(intern_def(&mut out.defs, def));
            return;
        }
    }
    for c in e.children_mut() {
        replace(c, columns, out);
    }
}

fn intern_def(defs: &mut Vec<LookupDef>, def: LookupDef) -> usize {
    defs.iter().position(|d| *d == def).unwrap_or_else(|| {
        defs.push(def);
        defs.len() - 1
    })
}

/// The key (sorted program columns) of a non-string node that holds a string value directly
/// (a comparison, LIKE, IN, IS NULL, ... of a string expression) and reads two or more
/// columns, all of them string or boolean columns: the smallest subtree a tuple lookup needs.
fn tuple_key(e: &TExpr, columns: &[crate::typecheck::ColumnRef]) -> Option<Vec<usize>> {
    if !e.children().iter().any(|c| c.ty == Type::Str) {
        return None;
    }
    let (mut cols, mut opaque) = (Vec::new(), false);
    e.inputs(&mut cols, &mut opaque);
    let plain = |c: &usize| matches!(columns[*c].ty, Type::Str | Type::Bool) && columns[*c].has_any.is_none();
    // Days reads a timestamp column: never a string or boolean one, so `plain` rejects it.
    if opaque || cols.len() < 2 || !cols.iter().all(plain) {
        return None;
    }
    cols.sort_unstable();
    Some(cols)
}

/// What `e` reads that a string expression may not: columns of other types, scores, segments.
fn not_string_inputs(e: &TExpr, columns: &[crate::typecheck::ColumnRef], out: &mut Vec<String>) {
    let what = match &e.node {
        Node::Column(c) | Node::Days(c) | Node::EpochUs(c) if !matches!(columns[*c].ty, Type::Str | Type::Bool) || columns[*c].has_any.is_some() => {
            Some(format!("column '{}' ({})", columns[*c].name, columns[*c].kind()))
        }
        Node::Score(_) => Some("a score".to_string()),
        Node::Segment(_) => Some("a segmentation".to_string()),
        _ => None,
    };
    if let Some(w) = what.filter(|w| !out.contains(w)) {
        out.push(w);
    }
    for c in e.children() {
        not_string_inputs(c, columns, out);
    }
}

/// A string-domain node that survived extraction: it reads more than one column.
fn find_string(e: &TExpr) -> Option<&TExpr> {
    if e.ty == Type::Str && !matches!(e.node, Node::Column(_)) {
        return Some(e);
    }
    match &e.node {
        Node::Cmp(_, a, _) if a.ty == Type::Str => return Some(e),
        Node::Like { .. } | Node::StrIn { .. } | Node::StartsWith(..) | Node::Contains(..) | Node::Regexp { .. } | Node::StrFn(..) => {
            return Some(e)
        }
        _ => {}
    }
    e.children().into_iter().find_map(find_string)
}
