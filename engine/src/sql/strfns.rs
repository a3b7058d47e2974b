//! DuckDB's string functions written out for PostgreSQL and SQLite, which lack some of them or
//! count differently: everything becomes `substr(a, from, count)` over character positions
//! (1-based, a non-negative count), where both dialects agree with each other. Positions,
//! lengths and separators must then be constants (they are in practice: a lookup reads one
//! string column); the error says so otherwise.

use super::bind::Cx;
use super::syntax::{const_int, const_str, unsupported, Part};
use crate::error::Result;
use crate::tir::{SFn, Value};

/// How a dialect spells what the write-outs need.
pub(super) struct Spelling {
    pub dialect: &'static str,
    /// Two-argument greatest/least: `greatest`/`least` (PostgreSQL), `max`/`min` (SQLite).
    pub max: &'static str,
    pub min: &'static str,
}

/// Constants far beyond any string's length are clamped so the written arithmetic stays in
/// 32-bit integers (PostgreSQL's substr takes int4); the result is the same.
const LIMIT: i64 = 1 << 30;

fn clamp(x: i64) -> i64 {
    x.clamp(-LIMIT, LIMIT)
}

/// Characters `[start, end)` (0-based SQL expressions, start ≤ length) of `a` (a bound name).
fn chars(sp: &Spelling, a: &str, start: &str, end: &str) -> String {
    format!("substr({a}, {start} + 1, {}({end} - {start}, 0))", sp.max)
}

/// DuckDB's substring(a, offset, length) (see `strfns::substring`) with constant arguments.
fn substring(sp: &Spelling, a: &str, offset: i64, length: Option<i64>) -> String {
    let (o, mut l) = (clamp(offset), length.map(clamp));
    let empty = format!("substr({a}, 1, 0)"); // '' (NULL for NULL)
    if l == Some(0) {
        return empty;
    }
    let n = format!("length({a})");
    let mut start = if o > 0 {
        format!("{}({n}, {})", sp.min, o - 1)
    } else if o < 0 {
        format!("{}({n} - {}, 0)", sp.max, -o)
    } else {
        l = l.map(|l| l - 1);
        if l.is_some_and(|l| l <= 0) {
            return empty;
        }
        "0".to_string()
    };
    let end = match l {
        None => n.clone(),
        Some(l) if l > 0 => format!("{}({n}, {start} + {l})", sp.min),
        Some(l) => {
            let end = start.clone();
            start = format!("{}(0, {start} - {})", sp.max, -l);
            end
        }
    };
    chars(sp, a, &start, &end)
}

fn left(sp: &Spelling, a: &str, k: i64) -> String {
    let n = format!("length({a})");
    let end = if k >= 0 { format!("{}({n}, {k})", sp.min) } else { format!("{}({n} - {}, 0)", sp.max, -k) };
    chars(sp, a, "0", &end)
}

fn right(sp: &Spelling, a: &str, k: i64) -> String {
    let n = format!("length({a})");
    let start = if k >= 0 { format!("{}({n} - {k}, 0)", sp.max) } else { format!("{}({}, {n})", sp.min, -k) };
    chars(sp, a, &start, &n)
}

fn need_int(sp: &Spelling, f: SFn, v: Option<&Value>) -> Result<i64> {
    const_int(v).map(clamp).ok_or_else(|| unsupported(sp.dialect, format!("{}() needs constant integer positions here", f.name())))
}

/// substring/left/right over constant positions.
pub(super) fn positional(sp: &Spelling, cx: &Cx, f: SFn, args: Vec<Part>, consts: &[Option<&Value>]) -> Result<String> {
    let k = need_int(sp, f, consts[1])?;
    let len = match consts.get(2) {
        Some(v) => Some(need_int(sp, f, *v)?),
        None => None,
    };
    Ok(cx.bind(&[&args[0]], |v| match f {
        SFn::Left => left(sp, v[0], k),
        SFn::Right => right(sp, v[0], k),
        _ => substring(sp, v[0], k, len),
    }))
}

/// split_part with an empty separator: the n-th character (from the end when negative).
pub(super) fn split_chars(sp: &Spelling, cx: &Cx, a: Part, n: i64) -> String {
    cx.bind(&[&a], |v| {
        let a = v[0];
        match n {
            0 => format!("substr({a}, 1, 0)"),
            n if n > 0 => format!("substr({a}, {n}, 1)"),
            // Position 0 with count 1 is '' in both dialects.
            n => format!("substr({a}, {}(length({a}) - {} + 1, 0), 1)", sp.max, -n),
        }
    })
}

/// The separator and position of split_part when both are constants.
pub(super) fn split_args<'a>(sp: &Spelling, consts: &[Option<&'a Value>]) -> Result<(&'a str, i64)> {
    match (const_str(consts[1]), const_int(consts[2])) {
        (Some(sep), Some(n)) => Ok((sep, n)),
        _ => Err(unsupported(sp.dialect, "split_part() needs a constant separator and position here")),
    }
}

/// ends_with(a, b) for a constant b: the last characters compared as bytes (`collate`).
pub(super) fn ends_with(sp: &Spelling, cx: &Cx, a: Part, b: Option<&Value>, lit: &str, collate: &str) -> Result<String> {
    let Some(suffix) = const_str(b) else {
        return Err(unsupported(sp.dialect, "ends_with() needs a constant suffix here"));
    };
    let k = suffix.chars().count();
    Ok(cx.bind(&[&a], |v| {
        let a = v[0];
        if k == 0 {
            format!("({a} = {a})") // TRUE, NULL for NULL
        } else {
            format!("({} = {lit}{collate})", chars(sp, a, &format!("{}(length({a}) - {k}, 0)", sp.max), &format!("length({a})")))
        }
    }))
}
