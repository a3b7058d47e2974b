//! Pass 4, lookups: replace every maximal subtree that reads exactly one string column (and
//! nothing else) and yields a boolean or a number by a dictionary lookup table. The VM then
//! evaluates string predicates once per distinct dictionary value, never per row.

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

pub fn extract_lookups(m: &mut TModel) -> Result<Vec<LookupDef>> {
    let mut defs = Vec::new();
    let TModel { scores, segments, columns, queries, .. } = m;
    let mut visit = |e: &mut TExpr, ctx: &str| -> Result<()> {
        replace(e, columns, &mut defs);
        if find_string(e).is_some() {
            let names: Vec<&str> = {
                let (mut cols, mut opaque) = (Vec::new(), false);
                e.inputs(&mut cols, &mut opaque);
                cols.iter().map(|c| columns[*c].name.as_str()).collect()
            };
            let mut err = CompileError::new(
                ErrorKind::Type,
                format!(
                    "a string value here is computed from several columns ({}); string expressions may read one string column and constants",
                    names.join(", ")
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
    Ok(defs)
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

fn replace(e: &mut TExpr, columns: &[crate::typecheck::ColumnRef], defs: &mut Vec<LookupDef>) {
    let is_plain_null_test = matches!(&e.node, Node::IsNull(a) if matches!(a.node, Node::Column(_)));
    if matches!(e.ty, Type::Bool | Type::Int | Type::Float) && !is_plain_null_test {
        if let Some(col) = single_string_column(e, columns) {
            let def = LookupDef { column: col, result: e.ty, expr: e.clone() };
            let idx = defs.iter().position(|d| *d == def).unwrap_or_else(|| {
                defs.push(def);
                defs.len() - 1
            });
            e.node = Node::Lookup(idx);
            return;
        }
    }
    for c in e.children_mut() {
        replace(c, columns, defs);
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
