//! Pass 3, fold: evaluate column-free subtrees at compile time, propagate NULL through strict
//! operators, and simplify boolean identities (x AND FALSE → FALSE, CASE WHEN TRUE ...).

use crate::check::{TModel, TScoreBody};
use crate::eval::eval;
use crate::tir::{Aop, Node, TExpr, Value};

pub fn fold_model(m: &mut TModel) {
    for s in &mut m.scores {
        match &mut s.body {
            TScoreBody::Rules { rules, .. } => {
                for r in rules {
                    if let Some(w) = &mut r.when {
                        fold(w);
                    }
                    fold(&mut r.points);
                }
            }
            TScoreBody::Derived(e) => fold(e),
        }
    }
    for q in &mut m.queries {
        fold(&mut q.expr);
    }
    for g in &mut m.segments {
        for (_, w) in &mut g.cases {
            if let Some(w) = w {
                fold(w);
            }
        }
    }
}

fn is_null(e: &TExpr) -> bool {
    matches!(e.node, Node::Const(Value::Null))
}

fn const_bool(e: &TExpr) -> Option<bool> {
    match e.node {
        Node::Const(Value::Bool(b)) => Some(b),
        _ => None,
    }
}

/// Fold `e` in place, children first.
pub fn fold(e: &mut TExpr) {
    for c in e.children_mut() {
        fold(c);
    }
    let (mut cols, mut opaque) = (Vec::new(), false);
    e.inputs(&mut cols, &mut opaque);
    if cols.is_empty() && !opaque && !matches!(e.node, Node::Const(_)) {
        if let Some(v) = eval(e, &|_| None) {
            e.node = Node::Const(v);
            return;
        }
    }
    let ty = e.ty;
    let replacement = match &e.node {
        // Strict operators: a NULL operand makes the result NULL.
        Node::Cast(a) | Node::Math(_, a) | Node::Lower(a) | Node::Upper(a) | Node::StrIn { e: a, .. } if is_null(a) => Some(TExpr::null(ty)),
        Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::StartsWith(a, b) | Node::Contains(a, b) if is_null(a) || is_null(b) => {
            Some(TExpr::null(ty))
        }
        Node::Like { e: a, pat: b, .. } if is_null(a) || is_null(b) => Some(TExpr::null(ty)),
        Node::Regexp { e: a, .. } if is_null(a) => Some(TExpr::null(ty)),
        Node::StrFn(f, args) if f.strict() && args.iter().any(is_null) => Some(TExpr::null(ty)),
        Node::Decay(a, b, c) if is_null(a) || is_null(b) || is_null(c) => Some(TExpr::null(ty)),
        Node::And(a, b) => match (const_bool(a), const_bool(b)) {
            (Some(false), _) | (_, Some(false)) => Some(TExpr::bool(false)),
            (Some(true), _) => Some((**b).clone()),
            (_, Some(true)) => Some((**a).clone()),
            _ => None,
        },
        Node::Or(a, b) => match (const_bool(a), const_bool(b)) {
            (Some(true), _) | (_, Some(true)) => Some(TExpr::bool(true)),
            (Some(false), _) => Some((**b).clone()),
            (_, Some(false)) => Some((**a).clone()),
            _ => None,
        },
        Node::Not(a) => match &a.node {
            Node::Not(inner) => Some((**inner).clone()),
            _ => None,
        },
        Node::Select(c, a, b) => match &c.node {
            Node::Const(Value::Bool(true)) => Some((**a).clone()),
            Node::Const(_) => Some((**b).clone()),
            _ => None,
        },
        // Constants go right in commutative operators, where the opcodes have a `k` form.
        Node::Arith(op @ (Aop::Add | Aop::Mul), a, b) if matches!(a.node, Node::Const(_)) && !matches!(b.node, Node::Const(_)) => {
            Some(TExpr::new(ty, Node::Arith(*op, b.clone(), a.clone())))
        }
        Node::Coalesce(a, b) | Node::MinMax(_, a, b) if is_null(a) => Some((**b).clone()),
        Node::Coalesce(a, b) | Node::MinMax(_, a, b) if is_null(b) => Some((**a).clone()),
        _ => None,
    };
    if let Some(mut r) = replacement {
        r.ty = ty;
        *e = r;
    }
}
