//! PostgreSQL (11 or later, tested on 15; built with ICU, as the standard packages are). What
//! differs from the engine, and how it is written out:
//! - float `%` does not exist: an exact fmod from the operands' IEEE bits (`fmod`);
//! - `/` and `%` by zero raise: the divisor goes through `NULLIF(b, 0)`;
//! - NaN is a value (equal to itself, above every number): `NULLIF(x, 'NaN')` after every float result;
//! - `ln`/`sqrt` outside their domain raise, and so do `exp` and `power` when the result over- or
//!   underflows: guarded by CASE, with the bounds where glibc's results become ±inf or 0;
//! - string order and `lower`/`upper` follow the database's locale: comparisons use
//!   `COLLATE "C"` (UTF-8 byte order, as the engine); `lower`/`upper` (and ILIKE) are written as
//!   `translate(s, from, to)` over DuckDB's per-code-point table (`unicode_table.rs`), exactly
//!   the engine's mapping whatever the locale;
//! - LIKE has a default escape character: `ESCAPE ''`; string literals with a backslash are
//!   written `E'...'` (right whatever `standard_conforming_strings` says);
//! - string functions: `trim` is `btrim`; `ends_with`, `strip_accents` (a `translate` over
//!   DuckDB's table), `substring` (PostgreSQL counts a negative start before the string, and a
//!   negative length raises), split_part with an empty separator or a negative position
//!   (PostgreSQL 14+ only) and 0 (raises) are written out over `substr` (`strfns.rs`), with
//!   constant positions;
//! - `regexp_matches` is `~` (`~*` with option `i`; `strpos` with `l`) after `(?p)`: `.` stops at
//!   newlines as in RE2 (option `s` drops it). Departures, documented: PostgreSQL's ARE syntax
//!   differs from RE2 beyond the common core (e.g. `[^a]` does not match a newline under `(?p)`,
//!   `\d \w \s` are rewritten to ASCII classes, `\b` to `\y`);
//! - identifiers longer than 63 bytes would be truncated silently: rejected, as are NUL characters;
//! - a CTE read once is inlined into each place that reads its columns: stages sit behind `OFFSET 0`.
//! Not written out (documented): float `+ - * /` of finite operands overflowing to ±inf or
//! underflowing to 0 raises "value out of range", as does int64 overflow (the engine gives
//! ±inf/0 and wraps).

use super::bind::{bind_all, Cx};
use super::syntax::{quote_ident, quote_str, unsupported, Layout, Part, Pattern, Syntax};
use crate::error::Result;
use super::strfns::{self as sf, Spelling};
use super::syntax::{const_str, duckdb_str_fn, int64_range, round_half_away, round_to_written};
use crate::tir::{Aop, Cmp, Fun, SFn, Value};
use crate::types::Type;

pub(super) struct Postgres;

/// lower (index 0) and upper (1) as `translate` arguments (quoted): DuckDB's table.
fn case_translation() -> &'static [(String, String); 2] {
    static T: std::sync::OnceLock<[(String, String); 2]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let side = |table: &[(u32, u32)]| {
            let ch = |c: u32| char::from_u32(c).expect("a code point");
            let from: String = table.iter().map(|p| ch(p.0)).collect();
            let to: String = table.iter().map(|p| ch(p.1)).collect();
            (quote_str(&from), quote_str(&to))
        };
        [side(crate::unicode_table::LOWER), side(crate::unicode_table::UPPER)]
    })
}

/// strip_accents as `translate(s, from, to)`: every table entry maps to one character or none
/// (`translate` drops the characters of `from` past the end of `to`).
fn accent_translation() -> (String, String) {
    let table = crate::unicode_table::STRIP_ACCENTS;
    let (mut from, mut to, mut dropped) = (String::new(), String::new(), String::new());
    for (cp, img) in table {
        let c = char::from_u32(*cp).expect("a code point");
        if img.is_empty() {
            dropped.push(c);
        } else {
            from.push(c);
            to.push_str(img);
        }
    }
    from.push_str(&dropped);
    (from, to)
}

const NAME: &str = "postgres";
/// NAMEDATALEN - 1: PostgreSQL cuts longer identifiers (with only a NOTICE).
const MAX_IDENT_BYTES: usize = 63;
const FLOAT: &str = "DOUBLE PRECISION";
const NAN: &str = "CAST('NaN' AS DOUBLE PRECISION)";
const INF: &str = "CAST('Infinity' AS DOUBLE PRECISION)";
const ZERO: &str = "CAST('0.0' AS DOUBLE PRECISION)";
const BYTES: &str = "COLLATE \"C\"";
/// exp(x) is +inf above this (the largest x with a finite exp), and 0 below the next bound:
/// PostgreSQL raises "value out of range" where libm returns those.
const EXP_FINITE_MAX: &str = "CAST('709.782712893384' AS DOUBLE PRECISION)";
const EXP_NONZERO_MIN: &str = "CAST('-745.1332191019411' AS DOUBLE PRECISION)";
/// 0.5^t is 0 from t = 1075 (2^-1075 rounds to even, 0), +inf below the second bound.
const HALF_POW_ZERO_FROM: &str = "CAST('1075.0' AS DOUBLE PRECISION)";
const HALF_POW_FINITE_MIN: &str = "CAST('-1023.9999999999999' AS DOUBLE PRECISION)";

fn not_nan(x: &str) -> String {
    format!("NULLIF({x}, {NAN})")
}

/// The IEEE bits of |x| (a finite, non-NULL float) as a BIGINT.
fn abs_bits(x: &str) -> String {
    format!("CAST(CAST('x' || encode(float8send(abs({x})), 'hex') AS BIT(64)) AS BIGINT)")
}

/// x % y for floats, exactly as C's fmod (the result has x's sign; |x| = ma·2^ea, |y| = mb·2^eb
/// with integer significands: the remainder is ((ma·2^(ea-eb)) mod mb)·2^eb, computed in
/// NUMERIC, which is exact for integers). NULL where y is 0 or x is infinite, x where y is
/// infinite (fmod's NaN and identity cases).
fn fmod(a: Part, b: Part) -> String {
    bind_all(&[&a, &b], |v| {
        let (x, y) = (v[0], v[1]);
        let significand =
            |bits: &str| format!("CASE WHEN ({bits} >> 52) = 0 THEN {bits} ELSE ({bits} & 4503599627370495) + 4503599627370496 END");
        let exponent = |bits: &str| format!("CASE WHEN ({bits} >> 52) = 0 THEN -1074 ELSE ({bits} >> 52) - 1075 END");
        let exact = format!(
            "(SELECT CASE WHEN \"_ea\" < \"_eb\" THEN {x} \
             ELSE sign({x}) * CAST(mod(\"_ma\" * power(CAST(2 AS NUMERIC), \"_ea\" - \"_eb\"), \"_mb\") AS {FLOAT}) \
             * power(CAST(2 AS {FLOAT}), \"_eb\") END \
             FROM (SELECT {} AS \"_ma\", {} AS \"_ea\", {} AS \"_mb\", {} AS \"_eb\" \
             FROM (SELECT {} AS \"_xb\", {} AS \"_yb\") AS \"_f\") AS \"_g\")",
            significand("\"_xb\""),
            exponent("\"_xb\""),
            significand("\"_yb\""),
            exponent("\"_yb\""),
            abs_bits(x),
            abs_bits(y),
        );
        format!(
            "(CASE WHEN {x} IS NULL OR {y} IS NULL OR {y} = 0 OR abs({x}) = {INF} THEN NULL \
             WHEN abs({y}) = {INF} OR {x} = 0 THEN {x} ELSE {exact} END)"
        )
    })
}

impl Syntax for Postgres {
    fn ident(&self, name: &str) -> Result<String> {
        if name.contains('\0') {
            return Err(unsupported(NAME, format!("the name {name:?} holds a NUL character, which PostgreSQL identifiers cannot")));
        }
        if name.len() > MAX_IDENT_BYTES {
            return Err(unsupported(
                NAME,
                format!("the name '{name}' is {} bytes long; PostgreSQL identifiers hold at most {MAX_IDENT_BYTES} (longer ones are cut silently)", name.len()),
            ));
        }
        Ok(quote_ident(name))
    }

    fn string_lit(&self, s: &str) -> Result<String> {
        if s.contains('\0') {
            return Err(unsupported(NAME, format!("the string {s:?} holds a NUL character, which PostgreSQL text cannot")));
        }
        Ok(if s.contains('\\') { format!("E{}", quote_str(&s.replace('\\', "\\\\"))) } else { quote_str(s) })
    }

    fn float_lit(&self, x: f64) -> String {
        if x.is_nan() {
            self.null(Type::Float)
        } else if x.is_infinite() {
            format!("CAST('{}Infinity' AS {FLOAT})", if x < 0.0 { "-" } else { "" })
        } else {
            // float8in is strtod: correctly rounded, so the shortest round-trip text is exact.
            format!("CAST('{x:?}' AS {FLOAT})")
        }
    }

    fn int_lit(&self, i: i64) -> String {
        format!("CAST({i} AS BIGINT)")
    }

    fn type_name(&self, t: Type) -> &'static str {
        match t {
            Type::Int => "BIGINT",
            Type::Bool => "BOOLEAN",
            Type::Str | Type::Label => "TEXT",
            _ => FLOAT,
        }
    }

    fn column(&self, name: &str, ty: Type) -> String {
        match ty {
            Type::Int => format!("CAST({name} AS BIGINT)"),
            Type::Float => not_nan(&format!("CAST({name} AS {FLOAT})")),
            _ => name.to_string(),
        }
    }

    fn has_any(&self, name: &str, values: &[String]) -> Result<String> {
        // `&&` (overlap) ignores NULL elements and is NULL for a NULL array, as has_any.
        let list = values.iter().map(|v| self.string_lit(v)).collect::<Result<Vec<_>>>()?;
        Ok(format!("(CAST({name} AS TEXT[]) && CAST(ARRAY[{}] AS TEXT[]))", list.join(", ")))
    }

    fn epoch_us(&self, name: &str, ty: Type) -> String {
        // Exactly, on every version (EXTRACT returned float before 14): whole seconds, plus
        // the microseconds of the seconds field. A date is midnight UTC, a timestamp without
        // zone UTC (EXTRACT(EPOCH) reads it so).
        if ty == Type::Date {
            format!("(CAST({name} - DATE '1970-01-01' AS BIGINT) * 86400000000)")
        } else {
            format!(
                "(CAST(EXTRACT(EPOCH FROM date_trunc('second', {name})) AS BIGINT) * 1000000 \
                 + CAST(EXTRACT(MICROSECONDS FROM {name}) AS BIGINT) % 1000000)"
            )
        }
    }

    fn days(&self, name: &str, ty: Type, as_of_us: i64) -> String {
        let us = self.epoch_us(name, ty);
        format!("(CAST(CAST({as_of_us} AS BIGINT) - {us} AS {FLOAT}) / {})", self.float_lit(86_400_000_000.0))
    }

    fn to_float(&self, a: &str) -> String {
        format!("CAST({a} AS {FLOAT})")
    }

    fn arith(&self, cx: &Cx, op: Aop, a: Part, b: Part, float: bool) -> String {
        let x = match op {
            Aop::Mod if float => return fmod(a, b),
            Aop::Div | Aop::IntDiv => format!("({} / NULLIF({}, 0))", a.sql, b.sql),
            // PostgreSQL raises for 0 to a negative power and a negative to a fraction.
            Aop::Pow => cx.bind(&[&a, &b], |v| {
                format!("(CASE WHEN {0} = 0 AND {1} < 0 THEN NULL WHEN {0} < 0 AND {1} <> trunc({1}) THEN NULL ELSE power({0}, {1}) END)", v[0], v[1])
            }),
            Aop::Mod => format!("({} % NULLIF({}, 0))", a.sql, b.sql),
            _ => format!("({} {} {})", a.sql, op.sql(), b.sql),
        };
        if float {
            not_nan(&x)
        } else {
            x
        }
    }

    fn math(&self, cx: &Cx, f: Fun, a: Part) -> String {
        match f {
            Fun::Neg => format!("(- {})", a.sql),
            Fun::Abs => format!("abs({})", a.sql),
            Fun::Ln => cx.bind(&[&a], |v| format!("(CASE WHEN {0} > 0 THEN ln({0}) END)", v[0])),
            Fun::Sqrt => cx.bind(&[&a], |v| format!("(CASE WHEN {0} >= 0 THEN sqrt({0}) END)", v[0])),
            Fun::Exp => cx.bind(&[&a], |v| {
                format!("(CASE WHEN {0} > {EXP_FINITE_MAX} THEN {INF} WHEN {0} < {EXP_NONZERO_MIN} THEN {ZERO} ELSE exp({0}) END)", v[0])
            }),
            Fun::Floor => format!("floor({})", a.sql),
            Fun::Ceil => format!("ceil({})", a.sql),
            // PostgreSQL's round(double precision) rounds half to even.
            Fun::Round => cx.bind(&[&a], |v| round_half_away(v[0])),
            // log(double precision) is log10 (C's); log2 through numeric, correctly rounded.
            Fun::Log10 => cx.bind(&[&a], |v| format!("(CASE WHEN {0} > 0 THEN log({0}) END)", v[0])),
            Fun::Log2 => cx.bind(&[&a], |v| format!("(CASE WHEN {0} > 0 THEN CAST(log(2, CAST({0} AS NUMERIC)) AS {FLOAT}) END)", v[0])),
        }
    }

    fn int_arith(&self, cx: &Cx, op: Aop, a: Part, b: Part) -> Result<String> {
        // Exact in NUMERIC, then the int64 range check PostgreSQL would raise on.
        let r = match op {
            Aop::IntDiv => format!("trunc(CAST({} AS NUMERIC) / NULLIF({}, 0))", a.sql, b.sql),
            _ => format!("(CAST({} AS NUMERIC) {} {})", a.sql, op.sql(), b.sql),
        };
        Ok(cx.bind(&[&Part::over(r, &[&a, &b])], |v| {
            format!("(CASE WHEN {0} BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST({0} AS BIGINT) END)", v[0])
        }))
    }

    fn int_neg_abs(&self, cx: &Cx, f: Fun, a: Part) -> Result<String> {
        let op = if f == Fun::Neg { "-" } else { "abs" };
        Ok(cx.bind(&[&a], |v| format!("(CASE WHEN {0} = -9223372036854775808 THEN NULL ELSE {op}({0}) END)", v[0])))
    }

    fn round_to(&self, cx: &Cx, a: Part, digits: i64) -> Result<String> {
        Ok(cx.bind(&[&a], |v| round_to_written(v[0], digits, &|x| self.float_lit(x))))
    }

    // CAST(double precision AS BIGINT) rounds half to even (rint), as DuckDB's; it raises
    // outside int64, so the range is checked first.
    fn float_to_int(&self, cx: &Cx, a: Part) -> Result<String> {
        Ok(cx.bind(&[&a], |v| {
            format!("(CASE WHEN {} THEN CAST({} AS BIGINT) END)", int64_range(v[0], &|x| self.float_lit(x)), v[0])
        }))
    }

    fn min_max(&self, _cx: &Cx, greatest: bool, a: Part, b: Part) -> String {
        format!("{}({}, {})", if greatest { "greatest" } else { "least" }, a.sql, b.sql)
    }

    fn decay(&self, cx: &Cx, points: Part, age: Part, half_life: Part) -> String {
        // t = age / half_life; NaN (inf / inf) first made NULL: PostgreSQL orders NaN above 1075.
        let t = Part::node(not_nan(&format!("({} / NULLIF({}, 0))", age.sql, half_life.sql)));
        cx.bind(&[&points, &t], |v| {
            let (p, t) = (v[0], v[1]);
            let factor = format!(
                "(CASE WHEN {t} >= {HALF_POW_ZERO_FROM} THEN {ZERO} WHEN {t} < {HALF_POW_FINITE_MIN} THEN {INF} \
                 ELSE power(CAST('0.5' AS {FLOAT}), {t}) END)"
            );
            not_nan(&format!("({p} * {factor})"))
        })
    }

    fn compare(&self, op: Cmp, a: &str, b: &str, strings: bool) -> String {
        if strings {
            format!("({a} {BYTES} {} {b} {BYTES})", op.sql())
        } else {
            format!("({a} {} {b})", op.sql())
        }
    }

    fn compare_label_null(&self, _op: Cmp, _a: &str, _b: &str) -> String {
        self.null(Type::Bool)
    }

    fn like(&self, e: &str, pat: Pattern, ci: bool, esc: Option<char>) -> Result<String> {
        let pat = match pat {
            Pattern::Literal(s) => self.string_lit(s)?,
            Pattern::Expr(p) => p.sql,
        };
        let esc = self.string_lit(&esc.map(String::from).unwrap_or_default())?;
        // ILIKE is LIKE over both sides lowercased, as the engine's.
        Ok(if ci {
            format!("({} LIKE {} ESCAPE {esc})", self.case_map(false, e), self.case_map(false, &pat))
        } else {
            format!("({e} {BYTES} LIKE {pat} {BYTES} ESCAPE {esc})")
        })
    }

    fn min_max_str(&self, _cx: &Cx, greatest: bool, a: Part, b: Part) -> String {
        format!("{}({} {BYTES}, {} {BYTES})", if greatest { "greatest" } else { "least" }, a.sql, b.sql)
    }

    fn regexp(&self, e: &str, pat: &str, opts: &str) -> Result<String> {
        let (ci, literal, dot_nl) = crate::re2::options(opts).map_err(|m| unsupported(NAME, m))?;
        if literal {
            let lit = self.string_lit(pat)?;
            let (e, p) = if ci { (self.case_map(false, e), self.case_map(false, &lit)) } else { (e.to_string(), lit) };
            return Ok(format!("(strpos({e}, {p}) > 0)"));
        }
        let flags = if dot_nl { "" } else { "(?p)" };
        let re = format!("{flags}{}", crate::re2::ascii_classes(pat, ("\\y", "\\Y")));
        Ok(format!("({e} {} {})", if ci { "~*" } else { "~" }, self.string_lit(&re)?))
    }

    fn str_fn(&self, cx: &Cx, f: SFn, args: Vec<Part>, consts: &[Option<&Value>]) -> Result<String> {
        let sp = Spelling { dialect: NAME, max: "greatest", min: "least" };
        let mut args = args;
        Ok(match f {
            SFn::Trim => duckdb_str_fn(f, &args).replacen("trim(", "btrim(", 1),
            SFn::Substring => sf::positional(&sp, cx, f, args, consts)?,
            SFn::Left | SFn::Right => match consts[1] {
                Some(Value::Int(k)) => format!("{}({}, {})", f.name(), args[0].sql, (*k).clamp(-(1 << 30), 1 << 30)),
                _ => duckdb_str_fn(f, &args),
            },
            SFn::EndsWith => {
                let lit = self.string_lit(const_str(consts[1]).unwrap_or(""))?;
                sf::ends_with(&sp, cx, args.remove(0), consts[1], &lit, &format!(" {BYTES}"))?
            }
            SFn::SplitPart => {
                let (sep, n) = sf::split_args(&sp, consts)?;
                let a = args.remove(0);
                if sep.is_empty() || n == 0 {
                    sf::split_chars(&sp, cx, a, if sep.is_empty() { n } else { 0 })
                } else if n > 0 {
                    format!("split_part({}, {}, {n})", a.sql, self.string_lit(sep)?)
                } else {
                    // The piece count from the separators replace() removes, then a position from the start.
                    let (lit, k) = (self.string_lit(sep)?, sep.chars().count());
                    cx.bind(&[&a], |v| {
                        let a = v[0];
                        let pos = format!("((length({a}) - length(replace({a}, {lit}, ''))) / {k} + 1 - {})", -n - 1);
                        format!("(CASE WHEN {a} IS NULL THEN NULL WHEN {pos} >= 1 THEN split_part({a}, {lit}, {pos}) ELSE '' END)")
                    })
                }
            }
            SFn::StripAccents => {
                let (from, to) = accent_translation();
                format!("translate({}, {}, {})", args[0].sql, self.string_lit(&from)?, self.string_lit(&to)?)
            }
            SFn::ToInt | SFn::ToFloat | SFn::ToBool | SFn::ToDate | SFn::ToTimestamp => {
                return Err(unsupported(NAME, format!("{} of a string (DuckDB's parsing rules) is not written for PostgreSQL", f.name())))
            }
            _ => duckdb_str_fn(f, &args),
        })
    }

    fn str_in(&self, e: &str, items: &[String]) -> String {
        format!("({e} {BYTES} IN ({}))", items.join(", "))
    }

    fn case_map(&self, upper: bool, a: &str) -> String {
        let (from, to) = &case_translation()[upper as usize];
        format!("translate({a}, {from}, {to})")
    }

    fn starts_with(&self, a: &str, b: &str) -> String {
        format!("starts_with({a} {BYTES}, {b} {BYTES})")
    }

    fn contains(&self, a: &str, b: &str) -> String {
        format!("(strpos({a} {BYTES}, {b} {BYTES}) > 0)")
    }

    fn layout(&self) -> Layout {
        Layout::Internal
    }

    fn add(&self, sum: &str, term: &str) -> String {
        format!("{sum} + {term}")
    }

    fn rule_term(&self, cx: &Cx, when: Option<&str>, points: Part, floor: Option<f64>, cap: Option<f64>) -> String {
        // greatest/least skip NULLs, so NULL points are tested before clamping.
        let value = if floor.is_none() && cap.is_none() {
            format!("coalesce({}, {ZERO})", points.sql)
        } else {
            cx.bind(&[&points], |v| {
                let mut x = v[0].to_string();
                if let Some(f) = floor {
                    x = format!("greatest({x}, {})", self.float_lit(f));
                }
                if let Some(c) = cap {
                    x = format!("least({x}, {})", self.float_lit(c));
                }
                format!("(CASE WHEN {} IS NULL THEN {ZERO} ELSE {x} END)", v[0])
            })
        };
        match when {
            Some(w) => format!("(CASE WHEN ({w}) IS TRUE THEN {value} ELSE {ZERO} END)"),
            None => value,
        }
    }

    fn derived(&self, x: Part) -> String {
        format!("coalesce({}, {ZERO})", x.sql)
    }

    fn clamp(&self, x: &str, lo: f64, hi: f64) -> String {
        format!("least(greatest({x}, {}), {})", self.float_lit(lo), self.float_lit(hi))
    }
}
