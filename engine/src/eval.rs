//! The scalar evaluator: one row's worth of the typed IR over `Value`s. The optimizer uses it
//! to fold constants and to fill dictionary lookup tables (a string predicate is evaluated
//! once per distinct dictionary value, never per row). Same semantics as the VM.

use crate::casemap;
use crate::tir::{Aop, Cmp, Fun, Node, SFn, TExpr, Value};
use crate::{casts, numeric, re2, strfns, temporal};

/// Evaluate `e`, reading columns through `col`. Returns None when `e` reads something only
/// the VM can provide (scores, timestamps, lookups).
pub fn eval(e: &TExpr, col: &dyn Fn(usize) -> Option<Value>) -> Option<Value> {
    use Value::*;
    let ev = |x: &TExpr| eval(x, col);
    Some(match &e.node {
        Node::Const(v) => v.clone(),
        Node::Column(c) => col(*c)?,
        Node::Score(_) | Node::Segment(_) | Node::Days(_) | Node::EpochUs(_) | Node::Lookup(_) => return None,
        Node::Cast(a) => match ev(a)? {
            Int(i) => Float(i as f64),
            other => other,
        },
        Node::Arith(op, a, b) => arith(*op, ev(a)?, ev(b)?),
        Node::Math(f, a) => math(*f, ev(a)?),
        Node::RoundTo(a, digits) => match num(&ev(a)?) {
            Some(x) => float(numeric::round_to(x, numeric::round_modifier(*digits), *digits < 0)),
            None => Null,
        },
        Node::ToInt(a) => match num(&ev(a)?).and_then(numeric::float_to_int) {
            Some(i) => Int(i),
            None => Null,
        },
        Node::Cmp(op, a, b) => compare(*op, &ev(a)?, &ev(b)?),
        Node::And(a, b) => kleene_and(truth(&ev(a)?), truth(&ev(b)?)),
        Node::Or(a, b) => kleene_or(truth(&ev(a)?), truth(&ev(b)?)),
        Node::Not(a) => match truth(&ev(a)?) {
            Some(t) => Bool(!t),
            None => Null,
        },
        Node::IsNull(a) => Bool(ev(a)? == Null),
        Node::Select(c, a, b) => {
            if truth(&ev(c)?) == Some(true) {
                ev(a)?
            } else {
                ev(b)?
            }
        }
        Node::MinMax(greatest, a, b) => match (ev(a)?, ev(b)?) {
            (Null, x) | (x, Null) => x,
            (Int(x), Int(y)) => Int(if *greatest { x.max(y) } else { x.min(y) }),
            // Strings order by their UTF-8 bytes, as in comparisons.
            (Str(x), Str(y)) => Str(if *greatest { x.max(y) } else { x.min(y) }),
            (x, y) => {
                let (x, y) = (num(&x)?, num(&y)?);
                Float(if *greatest { x.max(y) } else { x.min(y) })
            }
        },
        Node::Coalesce(a, b) => match ev(a)? {
            Null => ev(b)?,
            x => x,
        },
        Node::Decay(p, a, h) => match (ev(p)?, ev(a)?, ev(h)?) {
            (Float(p), Float(a), Float(h)) if h != 0.0 => float(decay(p, a, h)),
            _ => Null,
        },
        Node::Like { e, pat, ci, esc } => match (ev(e)?, ev(pat)?) {
            (Str(s), Str(p)) => {
                // ILIKE is LIKE of DuckDB's lower() of both sides.
                let (s, p) = if *ci { (casemap::lower(&s), casemap::lower(&p)) } else { (s, p) };
                Bool(match esc {
                    Some(c) => strfns::like_escape(&s, &p, *c),
                    None => like(&s, &p),
                })
            }
            _ => Null,
        },
        Node::Regexp { e, pat, opts } => match ev(e)? {
            Str(s) => Bool(re2::matches(&s, pat, opts)?),
            _ => Null,
        },
        Node::StrFn(f, args) => {
            let vals = args.iter().map(ev).collect::<Option<Vec<_>>>()?;
            str_fn(*f, vals)
        }
        Node::StrIn { e, set, has_null } => match ev(e)? {
            Str(s) if set.contains(&s) => Bool(true),
            Str(_) if !*has_null => Bool(false),
            _ => Null,
        },
        Node::Lower(a) => map_str(ev(a)?, casemap::lower),
        Node::Upper(a) => map_str(ev(a)?, casemap::upper),
        Node::StartsWith(a, b) => match (ev(a)?, ev(b)?) {
            (Str(s), Str(p)) => Bool(s.starts_with(&p)),
            _ => Null,
        },
        Node::Contains(a, b) => match (ev(a)?, ev(b)?) {
            (Str(s), Str(p)) => Bool(s.contains(&p)),
            _ => Null,
        },
    })
}

/// A string function of evaluated arguments (types as the type checker made them).
fn str_fn(f: SFn, args: Vec<Value>) -> Value {
    use Value::*;
    if f.strict() && args.iter().any(|a| *a == Null) {
        return Null;
    }
    let s = |i: usize| match &args[i] {
        Str(s) => s.as_str(),
        _ => "",
    };
    let n = |i: usize| match &args[i] {
        Int(x) => *x,
        _ => 0,
    };
    match f {
        SFn::Length => Int(strfns::length(s(0))),
        SFn::Trim | SFn::LTrim | SFn::RTrim => {
            let chars = if args.len() > 1 { Some(s(1)) } else { None };
            Str(strfns::trim(s(0), chars, f != SFn::RTrim, f != SFn::LTrim).to_string())
        }
        SFn::EndsWith => Bool(s(0).ends_with(s(1))),
        SFn::SplitPart => Str(strfns::split_part(s(0), s(1), n(2))),
        SFn::Substring => Str(strfns::substring(s(0), n(1), if args.len() > 2 { Some(n(2)) } else { None })),
        SFn::Left => Str(strfns::left(s(0), n(1))),
        SFn::Right => Str(strfns::right(s(0), n(1))),
        SFn::Replace => Str(strfns::replace(s(0), s(1), s(2))),
        SFn::StripAccents => Str(strfns::strip_accents(s(0))),
        SFn::ToInt => casts::to_int(s(0)).map_or(Null, Int),
        SFn::ToFloat => casts::to_float(s(0)).map_or(Null, float),
        SFn::ToBool => casts::to_bool(s(0)).map_or(Null, Bool),
        SFn::ToDate => temporal::parse_date(s(0)).map_or(Null, Int),
        SFn::ToTimestamp => temporal::parse_timestamp(s(0)).map_or(Null, Int),
        SFn::Concat | SFn::ConcatSkipNull => Str((0..args.len()).map(s).collect()),
    }
}

/// points · 0.5^(age / half_life), the one formula the VM and SQL also use.
pub fn decay(p: f64, age: f64, half_life: f64) -> f64 {
    p * 0.5f64.powf(age / half_life)
}

fn float(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else {
        Value::Float(x)
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn kleene_and(a: Option<bool>, b: Option<bool>) -> Value {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Value::Bool(false),
        (Some(true), Some(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

fn kleene_or(a: Option<bool>, b: Option<bool>) -> Value {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Value::Bool(true),
        (Some(false), Some(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

fn map_str(v: Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::Str(s) => Value::Str(f(&s)),
        other => other,
    }
}

fn arith(op: Aop, a: Value, b: Value) -> Value {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) if op != Aop::Div => match numeric::int_arith(op, x, y) {
            Some(v) => Int(v),
            None => Null,
        },
        (Int(x), Int(y)) => {
            if y == 0 {
                Null
            } else {
                float(x as f64 / y as f64)
            }
        }
        (a, b) => match (num(&a), num(&b)) {
            (Some(x), Some(y)) => match op {
                Aop::Add => float(x + y),
                Aop::Sub => float(x - y),
                Aop::Mul => float(x * y),
                Aop::Div | Aop::Mod | Aop::IntDiv if y == 0.0 => Null,
                Aop::Div | Aop::IntDiv => float(x / y),
                Aop::Mod => float(x % y),
                Aop::Pow => float(numeric::pow(x, y)),
            },
            _ => Null,
        },
    }
}

fn math(f: Fun, a: Value) -> Value {
    use Value::*;
    match (f, a) {
        (_, Null) => Null,
        (Fun::Neg, Int(i)) => i.checked_neg().map_or(Null, Int),
        (Fun::Abs, Int(i)) => i.checked_abs().map_or(Null, Int),
        (f, v) => match num(&v) {
            None => Null,
            Some(x) => match f {
                Fun::Neg => float(-x),
                Fun::Abs => float(x.abs()),
                Fun::Ln if x <= 0.0 => Null,
                Fun::Ln => float(x.ln()),
                Fun::Exp => float(x.exp()),
                Fun::Sqrt if x < 0.0 => Null,
                Fun::Sqrt => float(x.sqrt()),
                Fun::Floor => float(x.floor()),
                Fun::Ceil => float(x.ceil()),
                Fun::Round => float(numeric::round_half_away(x)),
                Fun::Log10 | Fun::Log2 if x <= 0.0 => Null,
                Fun::Log10 => float(x.log10()),
                Fun::Log2 => float(x.log2()),
            },
        },
    }
}

fn compare(op: Cmp, a: &Value, b: &Value) -> Value {
    use std::cmp::Ordering;
    use Value::*;
    let ord: Option<Ordering> = match (a, b) {
        (Null, _) | (_, Null) => return Null,
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Str(x), Str(y)) => Some(x.as_str().cmp(y.as_str())),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (x, y) => match (num(x), num(y)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    let Some(o) = ord else { return Null };
    Bool(match op {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    })
}

/// SQL LIKE: `%` any sequence, `_` one character, no escape character. Works on UTF-8 bytes
/// without allocating: a literal character matches byte for byte, `_` skips one whole character.
pub fn like(s: &str, pat: &str) -> bool {
    let (s, p) = (s.as_bytes(), pat.as_bytes());
    let char_len = |b: u8| match b {
        0..=0x7F => 1,
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    };
    let (mut i, mut j) = (0usize, 0usize);
    // Backtracking point: the last `%` and where in `s` it currently resumes.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && p[j] == b'_' {
            i += char_len(s[i]);
            j += 1;
        } else if j < p.len() && p[j] == b'%' {
            star = Some((j, i));
            j += 1;
        } else if j < p.len() && p[j] == s[i] {
            i += 1;
            j += 1;
        } else if let Some((sj, si)) = star {
            let next = si + char_len(s[si]);
            star = Some((sj, next));
            j = sj + 1;
            i = next;
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == b'%' {
        j += 1;
    }
    j == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("software", "soft%"));
        assert!(like("software", "%war%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("", "%"));
        assert!(!like("abc", "ABC"));
        assert!(like("a%c", "a%c"));
        assert!(like("mississippi", "%iss%ppi"));
        assert!(like("héllo", "h_llo"));
        assert!(like("日本語", "_本_"));
        assert!(!like("日本語", "__"));
        assert!(like("aé", "%é"));
    }

    #[test]
    fn sql_modulo_and_division() {
        assert_eq!(arith(Aop::Mod, Value::Int(-7), Value::Int(3)), Value::Int(-1));
        assert_eq!(arith(Aop::Mod, Value::Int(7), Value::Int(-3)), Value::Int(1));
        assert_eq!(arith(Aop::Mod, Value::Int(7), Value::Int(0)), Value::Null);
        assert_eq!(arith(Aop::Div, Value::Float(1.0), Value::Float(0.0)), Value::Null);
        assert_eq!(arith(Aop::Mod, Value::Float(-7.5), Value::Float(2.0)), Value::Float(-1.5));
    }

    #[test]
    fn kleene_logic() {
        assert_eq!(kleene_and(None, Some(false)), Value::Bool(false));
        assert_eq!(kleene_and(None, Some(true)), Value::Null);
        assert_eq!(kleene_or(None, Some(true)), Value::Bool(true));
        assert_eq!(kleene_or(None, Some(false)), Value::Null);
    }
}
