//! SQLite (3.35 or later, with the math functions, as Python's sqlite3 and the standard builds
//! have them: `ln exp sqrt pow mod`). What differs from the engine, and how it is written out:
//! - no NaN: SQLite turns every NaN result into NULL already (as the engine), so nothing to do;
//! - `min`/`max` of several arguments are NULL when any is: `coalesce(min(a, b), a, b)`;
//! - decimal text is not always read correctly rounded (3.40 misreads e.g. 2.605168378550334e-297):
//!   floats are written where SQLite's conversion is exact, else as m·2^e (`float_lit`);
//! - LIKE ignores ASCII case (and `PRAGMA case_sensitive_like` may change that): LIKE becomes
//!   GLOB with `*?[` escaped, ILIKE the same over `lower()`. SQLite's `lower`/`upper` fold ASCII
//!   letters only (without the ICU extension), so non-ASCII letters keep their case;
//! - `--` would start a comment: negative literals and negation are parenthesised, spaced;
//! - dates and timestamps are ISO-8601 text (`days`); booleans 0/1 integers;
//! - string functions: `substring`/`left`/`right` (SQLite counts a negative start from the
//!   end differently, and has no left/right), `ends_with`, `split_part` (positive or 0
//!   positions, up to 16: nested `instr`) and `concat` are written out over `substr`/`instr`
//!   with constant positions (`strfns.rs`); `regexp_matches` (SQLite's REGEXP needs a user
//!   function), `strip_accents` and split_part with a negative position are rejected;
//! - no arrays: `has_any` is rejected; NUL characters in names are rejected, in strings written
//!   as `char(0)`;
//! - its parser nests little (about 15 CASEs) and CTEs read once are flattened: deep and repeated
//!   subexpressions go to helper columns of earlier stages, every stage `MATERIALIZED`.
//! Not written out (documented): int64 overflow turns into a float (the engine wraps).

use super::bind::Cx;
use super::syntax::{quote_ident, quote_str, unsupported, Layout, Part, Pattern, Syntax};
use crate::error::Result;
use super::strfns::{self as sf, Spelling};
use super::syntax::{const_str, duckdb_str_fn, int64_range, round_half_away, round_to_written};
use crate::tir::{Aop, Cmp, Fun, SFn, Value};
use crate::types::Type;

pub(super) struct Sqlite;

const NAME: &str = "sqlite";

/// Powers of ten SQLite builds exactly (it multiplies by 10 and 1e22, exact doubles up to 1e22).
const MAX_EXACT_POW10: u32 = 22;
/// The largest integer every double significand and `(double)i64` keep exactly.
const MAX_EXACT_INT: u64 = 1 << 53;

/// `|x| = m · 2^e` with `m` odd (or 0): the value's exact binary form.
fn dyadic(x: f64) -> (u64, i32) {
    let bits = x.abs().to_bits();
    let (field, frac) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    let (m, e) = if field == 0 { (frac, -1074) } else { (frac | (1 << 52), field - 1075) };
    if m == 0 {
        return (0, 0);
    }
    let tz = m.trailing_zeros();
    (m >> tz, e + tz as i32)
}

/// The decimal `D · 10^E` that Rust's shortest round-trip text of `x` spells (sign dropped),
/// or None when D does not fit in u64.
fn decimal(x: f64) -> Option<(u64, i32)> {
    let text = format!("{:?}", x.abs());
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text.as_str(), 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    Some((digits.parse().ok()?, exp - frac.len() as i32))
}

/// Whether SQLite reads the decimal `D · 10^E` back as exactly `x`: it computes `(double)D`,
/// `D * 10^E` or `D / 10^-E` with D and the power of ten exact, so it does when D ≤ 2^53,
/// |E| ≤ 22 and `D · 10^E` *is* `x` (then the one rounding of a correctly rounded operation
/// has nothing to round).
fn sqlite_reads_exactly(x: f64) -> bool {
    let Some((d, e10)) = decimal(x) else { return false };
    if d > MAX_EXACT_INT || e10.unsigned_abs() > MAX_EXACT_POW10 {
        return false;
    }
    let (m, e2) = dyadic(x);
    if e10 >= 0 {
        // An integer below 2^53: SQLite's digit loop reaches it exactly.
        let value = d as u128 * 10u128.pow(e10.unsigned_abs());
        e2 >= 0 && value <= MAX_EXACT_INT as u128 && (m as u128).checked_shl(e2.unsigned_abs()) == Some(value)
    } else {
        // x · 10^k = m · 5^k · 2^(e2 + k) must be the integer D.
        let k = e10.unsigned_abs();
        let shift = e2 + k as i32;
        (0..64).contains(&shift) && (m as u128).checked_mul(5u128.pow(k)).and_then(|v| v.checked_mul(1u128 << shift)) == Some(d as u128)
    }
}

/// A float literal SQLite reads back bit for bit: the shortest decimal where SQLite's own
/// conversion of it is exact, else `m · 2^e` from integer literals (multiplying or dividing a
/// double by a power of two is exact), with the decimal in a comment.
fn float_lit(x: f64) -> String {
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let paren = |s: String| if x.is_sign_negative() { format!("({s})") } else { s };
    if x.is_nan() {
        return "CAST(NULL AS REAL)".into();
    }
    if x.is_infinite() {
        return paren(format!("{sign}1e999"));
    }
    if x == 0.0 || sqlite_reads_exactly(x) {
        return paren(format!("{x:?}"));
    }
    let (m, mut e) = dyadic(x);
    let mut out = format!("CAST({sign}{m} AS REAL)");
    while e != 0 {
        let step = e.unsigned_abs().min(62);
        out.push_str(&format!(" {} {}", if e > 0 { "*" } else { "/" }, 1u64 << step));
        e -= e.signum() * step as i32;
    }
    format!("({out} /* {x:?} */)")
}

/// A LIKE pattern as a GLOB pattern (GLOB is case-sensitive and has no escape character:
/// its own wildcards are matched literally as one-character classes).
fn glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// `glob` of a LIKE pattern with an escape character: an escaped character is literal.
fn glob_escaped(pattern: &str, esc: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        let lit = |c: char, out: &mut String| match c {
            '*' | '?' | '[' => out.push_str(&format!("[{c}]")),
            c => out.push(c),
        };
        match c {
            c if c == esc => {
                if let Some(n) = it.next() {
                    lit(n, &mut out)
                }
            }
            '%' => out.push('*'),
            '_' => out.push('?'),
            c => lit(c, &mut out),
        }
    }
    out
}

/// `glob` at run time, for a pattern that is not a literal (`[` first: later steps add some).
fn glob_expr(pattern: &str) -> String {
    format!("replace(replace(replace(replace(replace({pattern}, '[', '[[]'), '*', '[*]'), '?', '[?]'), '%', '*'), '_', '?')")
}

/// split_part(a, sep, n) for n ≥ 1: the rest after each separator in turn (NULL when there are
/// fewer pieces), each bound once, then the piece before the next separator.
fn split_part(syn: &Sqlite, cx: &Cx, a: Part, sep: &str, n: i64) -> Result<String> {
    let lit = syn.string_lit(sep)?;
    let k = sep.chars().count();
    let mark = cx.mark();
    let mut rest = a.clone_part();
    for _ in 1..n {
        let next = cx.bind(&[&rest], |v| format!("(CASE WHEN instr({0}, {lit}) > 0 THEN substr({0}, instr({0}, {lit}) + {k}) END)", v[0]));
        rest = Part { sql: next, leaf: false, level: cx.level_since(mark) };
    }
    Ok(cx.bind(&[&a, &rest], |v| {
        let (a, r) = (v[0], v[1]);
        format!("(CASE WHEN {a} IS NULL THEN NULL WHEN {r} IS NULL THEN '' WHEN instr({r}, {lit}) > 0 THEN substr({r}, 1, instr({r}, {lit}) - 1) ELSE {r} END)")
    }))
}

impl Syntax for Sqlite {
    fn ident(&self, name: &str) -> Result<String> {
        if name.contains('\0') {
            return Err(unsupported(NAME, format!("the name {name:?} holds a NUL character, which SQLite cannot quote")));
        }
        Ok(quote_ident(name))
    }

    fn string_lit(&self, s: &str) -> Result<String> {
        if !s.contains('\0') {
            return Ok(quote_str(s));
        }
        // SQL text cannot hold NUL (SQLite reads it as the end): char(0) between the pieces.
        let pieces: Vec<String> = s.split('\0').map(quote_str).collect();
        Ok(format!("({})", pieces.join(" || char(0) || ")))
    }

    fn float_lit(&self, x: f64) -> String {
        float_lit(x)
    }

    fn int_lit(&self, i: i64) -> String {
        if i < 0 {
            format!("({i})")
        } else {
            i.to_string()
        }
    }

    fn type_name(&self, t: Type) -> &'static str {
        match t {
            Type::Int | Type::Bool => "INTEGER",
            Type::Str | Type::Label => "TEXT",
            _ => "REAL",
        }
    }

    fn column(&self, name: &str, ty: Type) -> String {
        match ty {
            Type::Int => format!("CAST({name} AS INTEGER)"),
            Type::Float => format!("CAST({name} AS REAL)"),
            _ => name.to_string(),
        }
    }

    fn has_any(&self, name: &str, _values: &[String]) -> Result<String> {
        Err(unsupported(
            NAME,
            format!("has_any() reads a list<string> column ({name}); SQLite has no array type (use dialect 'postgres' or 'duckdb')"),
        ))
    }

    fn epoch_us(&self, name: &str, _ty: Type) -> String {
        // ISO-8601 text as SQLite writes it: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.fff...]]',
        // 'T' or ' ' between, an optional 'Z' or ±HH:MM. Whole seconds from strftime('%s')
        // over the text without its fraction (SQLite keeps milliseconds only, rounded), plus
        // the fraction's first six digits as microseconds (floored, as the VM reads ns).
        let v = name;
        let frac = format!("substr({v}, 21, 6)");
        let digits = format!("substr({frac}, 1, length({frac}) - length(ltrim({frac}, '0123456789')))");
        format!(
            "(CASE WHEN substr({v}, 20, 1) = '.' \
             THEN CAST(strftime('%s', substr({v}, 1, 19) || ltrim(substr({v}, 21), '0123456789')) AS INTEGER) * 1000000 \
             + CAST(substr({digits} || '000000', 1, 6) AS INTEGER) \
             ELSE CAST(strftime('%s', {v}) AS INTEGER) * 1000000 END)"
        )
    }

    fn days(&self, name: &str, ty: Type, as_of_us: i64) -> String {
        let us = self.epoch_us(name, ty);
        format!("(CAST({} - {us} AS REAL) / {})", self.int_lit(as_of_us), float_lit(86_400_000_000.0))
    }

    fn to_float(&self, a: &str) -> String {
        format!("CAST({a} AS REAL)")
    }

    fn arith(&self, cx: &Cx, op: Aop, a: Part, b: Part, float: bool) -> String {
        if op == Aop::Pow {
            // C's pow gives inf for 0 to a negative power; the engine says NULL.
            return cx.bind(&[&a, &b], |v| format!("(CASE WHEN {0} = 0 AND {1} < 0 THEN NULL ELSE pow({0}, {1}) END)", v[0], v[1]));
        }
        let (a, b) = (a.sql, b.sql);
        // Division and % by zero are NULL in SQLite already; NULLIF says so. NaN is NULL too.
        match op {
            Aop::Mod if float => format!("mod({a}, NULLIF({b}, 0))"),
            Aop::Div | Aop::IntDiv => format!("({a} / NULLIF({b}, 0))"),
            Aop::Mod => format!("({a} % NULLIF({b}, 0))"),
            _ => format!("({a} {} {b})", op.sql()),
        }
    }

    fn math(&self, cx: &Cx, f: Fun, a: Part) -> String {
        // ln/log10/log2(x <= 0) and sqrt(x < 0) are NULL in SQLite, as in the engine.
        if f == Fun::Round {
            // SQLite's round() adds 0.5, which rounds 0.49999999999999994 up.
            return cx.bind(&[&a], |v| round_half_away(v[0]));
        }
        let a = a.sql;
        match f {
            Fun::Neg => format!("(- {a})"),
            Fun::Abs => format!("abs({a})"),
            Fun::Ln => format!("ln({a})"),
            Fun::Exp => format!("exp({a})"),
            Fun::Sqrt => format!("sqrt({a})"),
            Fun::Floor => format!("floor({a})"),
            Fun::Ceil => format!("ceil({a})"),
            Fun::Log10 => format!("log10({a})"),
            Fun::Log2 => format!("log2({a})"),
            Fun::Round => unreachable!("handled above"),
        }
    }

    // SQLite turns an overflowing integer + - * into a REAL: that is the NULL case.
    fn int_arith(&self, cx: &Cx, op: Aop, a: Part, b: Part) -> Result<String> {
        if op == Aop::IntDiv {
            return Ok(cx.bind(&[&a, &b], |v| {
                format!("(CASE WHEN {1} = -1 THEN (CASE WHEN {0} = -9223372036854775808 THEN NULL ELSE - {0} END) ELSE {0} / NULLIF({1}, 0) END)", v[0], v[1])
            }));
        }
        let r = Part::over(format!("({} {} {})", a.sql, op.sql(), b.sql), &[&a, &b]);
        Ok(cx.bind(&[&r], |v| format!("(CASE WHEN typeof({0}) = 'integer' THEN {0} END)", v[0])))
    }

    fn int_neg_abs(&self, cx: &Cx, f: Fun, a: Part) -> Result<String> {
        let op = if f == Fun::Neg { "-" } else { "abs" };
        Ok(cx.bind(&[&a], |v| format!("(CASE WHEN {0} = -9223372036854775808 THEN NULL ELSE {op}({0}) END)", v[0])))
    }

    fn round_to(&self, cx: &Cx, a: Part, digits: i64) -> Result<String> {
        Ok(cx.bind(&[&a], |v| round_to_written(v[0], digits, &float_lit)))
    }

    // CAST(REAL AS INTEGER) truncates: half to even written out over trunc.
    fn float_to_int(&self, cx: &Cx, a: Part) -> Result<String> {
        Ok(cx.bind(&[&a], |v| {
            let x = v[0];
            let even = format!(
                "(trunc({x}) + CASE WHEN abs({x} - trunc({x})) > 0.5 OR (abs({x} - trunc({x})) = 0.5 AND CAST(trunc({x}) AS INTEGER) % 2 <> 0) THEN sign({x}) ELSE 0 END)"
            );
            format!("(CASE WHEN {} THEN CAST({even} AS INTEGER) END)", int64_range(x, &float_lit))
        }))
    }

    fn min_max(&self, cx: &Cx, greatest: bool, a: Part, b: Part) -> String {
        let f = if greatest { "max" } else { "min" };
        cx.bind(&[&a, &b], |v| format!("coalesce({f}({0}, {1}), {0}, {1})", v[0], v[1]))
    }

    fn decay(&self, _cx: &Cx, points: Part, age: Part, half_life: Part) -> String {
        format!("({} * pow({}, {} / NULLIF({}, 0)))", points.sql, float_lit(0.5), age.sql, half_life.sql)
    }

    fn compare(&self, op: Cmp, a: &str, b: &str, strings: bool) -> String {
        let collate = if strings { " COLLATE BINARY" } else { "" };
        format!("({a} {} {b}{collate})", op.sql())
    }

    fn compare_label_null(&self, _op: Cmp, _a: &str, _b: &str) -> String {
        self.null(Type::Bool)
    }

    fn like(&self, e: &str, pat: Pattern, ci: bool, esc: Option<char>) -> Result<String> {
        if let Some(c) = esc {
            let Pattern::Literal(p) = pat else {
                return Err(unsupported(NAME, "LIKE ... ESCAPE needs a literal pattern here"));
            };
            let p = if ci { p.to_ascii_lowercase() } else { p.to_string() };
            let e = if ci { format!("lower({e})") } else { e.to_string() };
            return Ok(format!("({e} GLOB {})", self.string_lit(&glob_escaped(&p, c))?));
        }
        // SQLite's lower() folds ASCII only: the literal pattern is folded the same way.
        Ok(match (pat, ci) {
            (Pattern::Literal(p), false) => format!("({e} GLOB {})", self.string_lit(&glob(p))?),
            (Pattern::Literal(p), true) => format!("(lower({e}) GLOB {})", self.string_lit(&glob(&p.to_ascii_lowercase()))?),
            (Pattern::Expr(p), false) => format!("({e} GLOB {})", glob_expr(&p.sql)),
            (Pattern::Expr(p), true) => format!("(lower({e}) GLOB {})", glob_expr(&format!("lower({})", p.sql))),
        })
    }

    fn str_in(&self, e: &str, items: &[String]) -> String {
        format!("({e} COLLATE BINARY IN ({}))", items.join(", "))
    }

    fn regexp(&self, _e: &str, _pat: &str, _opts: &str) -> Result<String> {
        Err(unsupported(NAME, "regexp_matches() cannot be written in SQLite (its REGEXP operator needs a user-defined function)"))
    }

    fn str_fn(&self, cx: &Cx, f: SFn, args: Vec<Part>, consts: &[Option<&Value>]) -> Result<String> {
        let sp = Spelling { dialect: NAME, max: "max", min: "min" };
        let mut args = args;
        Ok(match f {
            SFn::Substring | SFn::Left | SFn::Right => sf::positional(&sp, cx, f, args, consts)?,
            SFn::EndsWith => {
                let lit = self.string_lit(const_str(consts[1]).unwrap_or(""))?;
                sf::ends_with(&sp, cx, args.remove(0), consts[1], &lit, " COLLATE BINARY")?
            }
            SFn::SplitPart => {
                let (sep, n) = sf::split_args(&sp, consts)?;
                let a = args.remove(0);
                if sep.is_empty() || n == 0 {
                    sf::split_chars(&sp, cx, a, if sep.is_empty() { n } else { 0 })
                } else if n < 0 {
                    return Err(unsupported(NAME, "split_part() with a negative position cannot be written in SQLite"));
                } else if n > 16 {
                    return Err(unsupported(NAME, "split_part() beyond the 16th piece cannot be written in SQLite"));
                } else {
                    split_part(self, cx, a, sep, n)?
                }
            }
            SFn::StripAccents => return Err(unsupported(NAME, "strip_accents() has no SQLite built-in")),
            SFn::ConcatSkipNull => {
                let pieces: Vec<String> = args.iter().map(|a| format!("coalesce({}, '')", a.sql)).collect();
                format!("({})", pieces.join(" || "))
            }
            SFn::ToInt | SFn::ToFloat | SFn::ToBool | SFn::ToDate | SFn::ToTimestamp => {
                return Err(unsupported(NAME, format!("{} of a string (DuckDB's parsing rules) is not written for SQLite", f.name())))
            }
            _ => duckdb_str_fn(f, &args),
        })
    }

    fn case_map(&self, upper: bool, a: &str) -> String {
        format!("{}({a})", if upper { "upper" } else { "lower" })
    }

    fn starts_with(&self, a: &str, b: &str) -> String {
        format!("(instr({a}, {b}) = 1)")
    }

    fn contains(&self, a: &str, b: &str) -> String {
        format!("(instr({a}, {b}) > 0)")
    }

    fn layout(&self) -> Layout {
        Layout::Hoisted
    }

    fn add(&self, sum: &str, term: &str) -> String {
        format!("{sum} + {term}")
    }

    fn rule_term(&self, _cx: &Cx, when: Option<&str>, points: Part, floor: Option<f64>, cap: Option<f64>) -> String {
        // min/max of several arguments propagate NULL: NULL points stay NULL through the clamp.
        let mut x = points.sql;
        if let Some(f) = floor {
            x = format!("max({x}, {})", float_lit(f));
        }
        if let Some(c) = cap {
            x = format!("min({x}, {})", float_lit(c));
        }
        let zero = float_lit(0.0);
        let value = format!("coalesce({x}, {zero})");
        match when {
            Some(w) => format!("(CASE WHEN ({w}) IS TRUE THEN {value} ELSE {zero} END)"),
            None => value,
        }
    }

    fn derived(&self, x: Part) -> String {
        format!("coalesce({}, {})", x.sql, float_lit(0.0))
    }

    fn clamp(&self, x: &str, lo: f64, hi: f64) -> String {
        format!("min(max({x}, {}), {})", float_lit(lo), float_lit(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates the dyadic form `CAST(m AS REAL) op 2^k ...` as SQLite does (exact steps).
    fn eval_dyadic(text: &str) -> f64 {
        let body = text.trim_start_matches("(CAST(").split(" /*").next().unwrap();
        let (m, rest) = body.split_once(" AS REAL)").unwrap();
        let mut x: f64 = m.parse::<i64>().unwrap() as f64;
        let mut it = rest.split_whitespace();
        while let (Some(op), Some(p)) = (it.next(), it.next()) {
            let p: u64 = p.parse().unwrap();
            x = if op == "*" { x * p as f64 } else { x / p as f64 };
        }
        x
    }

    #[test]
    fn float_literals_are_exact() {
        for x in [0.5, 7.5, 15.0, 0.125, 86400000000.0, -2.5, 100.0, 90.5] {
            assert_eq!(float_lit(x), if x < 0.0 { format!("({x:?})") } else { format!("{x:?}") }, "{x}");
        }
        for x in [
            0.6,
            0.1,
            -0.3,
            2.605168378550334e-297,
            5e-324,
            1.7976931348623157e308,
            1e300,
            1e16,
            123456789012345680.0,
            1e-7,
            2.2250738585072014e-308,
        ] {
            let text = float_lit(x);
            assert!(text.contains("CAST("), "{x}: {text}");
            assert_eq!(eval_dyadic(&text), x, "{x}: {text}");
        }
        assert_eq!(float_lit(f64::INFINITY), "1e999");
        assert_eq!(float_lit(f64::NEG_INFINITY), "(-1e999)");
        assert_eq!(float_lit(-0.0), "(-0.0)");
    }

    #[test]
    fn like_patterns_become_escaped_globs() {
        assert_eq!(glob("a_b%"), "a?b*");
        assert_eq!(glob("*?[]"), "[*][?][[]]");
        assert_eq!(glob("50%"), "50*");
    }
}
