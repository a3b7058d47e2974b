//! What each dialect spells its own way: the `Syntax` trait the shared printer calls, the
//! printed fragments it passes around, and the quoting every dialect starts from.

use super::bind::Cx;
use crate::error::{CompileError, ErrorKind, Result};
use crate::tir::{Aop, Cmp, Fun, SFn, Value};
use crate::types::Type;

/// A printed subexpression. A `leaf` (literal, column read, score or helper reference) has a
/// bounded size, so a dialect may repeat it; anything else needed more than once goes through
/// `Cx::bind`, so the text never grows exponentially with nesting. `level`: how many helper
/// stages it needs before it (see `bind::Hoister`; 0 without).
pub(super) struct Part {
    pub sql: String,
    pub leaf: bool,
    pub level: u32,
}

impl Part {
    pub fn clone_part(&self) -> Part {
        Part { sql: self.sql.clone(), leaf: self.leaf, level: self.level }
    }
    pub fn leaf(sql: String) -> Part {
        Part { sql, leaf: true, level: 0 }
    }
    pub fn node(sql: String) -> Part {
        Part { sql, leaf: false, level: 0 }
    }
    /// A node written over `parts`: it needs the helper stages they need.
    pub fn over(sql: String, parts: &[&Part]) -> Part {
        Part { sql, leaf: false, level: parts.iter().map(|p| p.level).max().unwrap_or(0) }
    }
}

/// A LIKE pattern: a string literal (a dialect may rewrite it) or any string expression.
pub(super) enum Pattern<'a> {
    Literal(&'a str),
    Expr(Part),
}

/// `"name"` with embedded quotes doubled: the identifier quoting all three dialects share.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled.
pub(super) fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What a dialect cannot express: a model error naming the dialect.
pub(super) fn unsupported(dialect: &str, message: impl std::fmt::Display) -> CompileError {
    CompileError::new(ErrorKind::Model, format!("to_sql(dialect='{dialect}'): {message}"))
}

/// How one dialect writes what differs between dialects. Arguments are printed SQL; methods
/// taking `Part`s may need an argument more than once and then bind it through `cx`.
pub(super) trait Syntax: Sync {
    fn ident(&self, name: &str) -> Result<String>;
    fn string_lit(&self, s: &str) -> Result<String>;
    fn float_lit(&self, x: f64) -> String;
    fn int_lit(&self, i: i64) -> String;
    /// The SQL type a NULL of type `t` is cast to.
    fn type_name(&self, t: Type) -> &'static str;
    fn null(&self, t: Type) -> String {
        format!("CAST(NULL AS {})", self.type_name(t))
    }
    /// Input column `name` (quoted) of type `ty` as the engine reads it (NaN is NULL).
    fn column(&self, name: &str, ty: Type) -> String;
    /// `has_any(column, values...)` over a list<string> column.
    fn has_any(&self, name: &str, values: &[String]) -> Result<String>;
    /// A timestamp or date column as whole microseconds since the epoch (BIGINT; nanoseconds
    /// floored, a date is midnight UTC).
    fn epoch_us(&self, name: &str, ty: Type) -> String;
    /// `days_since(column)`: whole microseconds from the column to `as_of_us`, in days.
    fn days(&self, name: &str, ty: Type, as_of_us: i64) -> String;
    /// int → float.
    fn to_float(&self, a: &str) -> String;
    /// `a op b`; `float`: the result is float (then NaN must read as NULL).
    fn arith(&self, cx: &Cx, op: Aop, a: Part, b: Part, float: bool) -> String;
    /// A float function (`Fun`; `Neg`/`Abs` of ints go to `int_neg_abs`).
    fn math(&self, cx: &Cx, f: Fun, a: Part) -> String;
    /// int64 `a op b` for `+ - * //`: NULL where the result overflows int64 (and `//` by 0).
    fn int_arith(&self, cx: &Cx, op: Aop, a: Part, b: Part) -> Result<String>;
    /// `-a` / `abs(a)` of an int64: NULL for INT64_MIN.
    fn int_neg_abs(&self, cx: &Cx, f: Fun, a: Part) -> Result<String>;
    /// round(a, digits) of a float, digits ≠ 0, as DuckDB computes it (`numeric::round_to`).
    fn round_to(&self, cx: &Cx, a: Part, digits: i64) -> Result<String>;
    /// float → int64 rounded half to even; NULL outside int64 (`numeric::float_to_int`).
    fn float_to_int(&self, cx: &Cx, a: Part) -> Result<String>;
    /// least/greatest of two, skipping NULLs.
    fn min_max(&self, cx: &Cx, greatest: bool, a: Part, b: Part) -> String;
    fn decay(&self, cx: &Cx, points: Part, age: Part, half_life: Part) -> String;
    /// `a op b`; `strings`: both are strings (compared as UTF-8 bytes).
    fn compare(&self, op: Cmp, a: &str, b: &str, strings: bool) -> String {
        let _ = strings;
        format!("({a} {} {b})", op.sql())
    }
    /// A segmentation (its label text) compared with a NULL label (typed as a label code):
    /// `a op b`, one of them the segmentation.
    fn compare_label_null(&self, op: Cmp, a: &str, b: &str) -> String;
    /// least/greatest of two strings (UTF-8 byte order), skipping NULLs.
    fn min_max_str(&self, cx: &Cx, greatest: bool, a: Part, b: Part) -> String {
        self.min_max(cx, greatest, a, b)
    }
    /// `e [I]LIKE pattern [ESCAPE esc]`: `%` any sequence, `_` one character, `esc` (None:
    /// no escape character) makes the next character literal.
    fn like(&self, e: &str, pat: Pattern, ci: bool, esc: Option<char>) -> Result<String>;
    /// `regexp_matches(e, pat, opts)` (RE2 search, DuckDB's options; see `re2.rs`).
    fn regexp(&self, e: &str, pat: &str, opts: &str) -> Result<String>;
    /// A string function over printed arguments; `consts`: each argument's value when it is
    /// a constant (dialects that write a function out may need them). Default: DuckDB's names.
    fn str_fn(&self, cx: &Cx, f: SFn, args: Vec<Part>, consts: &[Option<&Value>]) -> Result<String> {
        let _ = (cx, consts);
        Ok(duckdb_str_fn(f, &args))
    }
    /// `e IN (items)`, items printed (string literals and maybe NULL).
    fn str_in(&self, e: &str, items: &[String]) -> String {
        format!("({e} IN ({}))", items.join(", "))
    }
    /// lower (false) / upper (true), Unicode as the engine's.
    fn case_map(&self, upper: bool, a: &str) -> String;
    fn starts_with(&self, a: &str, b: &str) -> String;
    fn contains(&self, a: &str, b: &str) -> String;

    /// How the query carries stages (see `query.rs`).
    fn layout(&self) -> Layout;
    /// One rule's contribution to a score's sum: `points` clamped to [floor, cap] where
    /// `when` (printed) is TRUE, 0 elsewhere and where the points are NULL.
    fn rule_term(&self, cx: &Cx, when: Option<&str>, points: Part, floor: Option<f64>, cap: Option<f64>) -> String;
    /// `sum + term` in a score's left-to-right sum.
    fn add(&self, sum: &str, term: &str) -> String {
        format!("({sum} + {term})")
    }
    /// A derived score: NULL becomes 0.
    fn derived(&self, x: Part) -> String;
    /// A rule score's sum (never NULL) clamped to its range.
    fn clamp(&self, x: &str, lo: f64, hi: f64) -> String;
}

/// How stages are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// Scores and segments under their own names; an input column of the same name is
    /// EXCLUDEd (DuckDB, as `to_sql` always wrote it; `Internal`'s naming where a column the
    /// model reads differs from a stage's name only in case).
    OwnNames,
    /// Under internal names no input column can clash with, renamed in the final SELECT;
    /// repeated subexpressions bound by one-row subqueries, every stage behind `OFFSET 0`
    /// (PostgreSQL: it would otherwise inline a stage into each place that reads it).
    Internal,
    /// `Internal`, and deep or repeated subexpressions hoisted into helper columns of earlier
    /// stages, every stage `MATERIALIZED` (SQLite: its parser allows little nesting, and
    /// flattening would copy a helper into every place that reads it).
    Hoisted,
}

/// A string function as DuckDB spells it.
pub(super) fn duckdb_str_fn(f: SFn, args: &[Part]) -> String {
    let list = args.iter().map(|a| a.sql.as_str()).collect::<Vec<_>>().join(", ");
    match f {
        SFn::Concat => format!("({} || {})", args[0].sql, args[1].sql),
        f => format!("{}({list})", f.name()),
    }
}

/// An integer constant argument (None: not a constant integer).
pub(super) fn const_int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// A string constant argument (None: not a constant string).
pub(super) fn const_str<'a>(v: Option<&'a Value>) -> Option<&'a str> {
    match v {
        Some(Value::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// C's round(x) (half away from zero) over trunc and sign, exactly: `x - trunc(x)` is exact.
/// `x` is a bound name (it is repeated).
pub(super) fn round_half_away(x: &str) -> String {
    format!("(trunc({x}) + CASE WHEN abs({x} - trunc({x})) >= 0.5 THEN sign({x}) ELSE 0 END)")
}

/// DuckDB's round(a, digits), digits ≠ 0 (see `numeric::round_to`), for dialects without
/// it; `a` is a bound name, `lit` writes a float literal. Where `a * 10^digits` would overflow
/// the input is kept (what DuckDB's not-finite rule gives there).
pub(super) fn round_to_written(a: &str, digits: i64, lit: &dyn Fn(f64) -> String) -> String {
    let m = crate::numeric::round_modifier(digits);
    if digits > 0 {
        let scaled = format!("({a} * {})", lit(m));
        format!("(CASE WHEN abs({a}) >= {} THEN {a} ELSE {} / {} END)", lit(1e308 / m), round_half_away(&scaled), lit(m))
    } else if m.is_infinite() {
        format!("(CASE WHEN {a} IS NULL THEN NULL ELSE {} END)", lit(0.0))
    } else {
        let scaled = format!("({a} / {})", lit(m));
        format!("({} * {})", round_half_away(&scaled), lit(m))
    }
}

/// The float bounds of int64, [-2^63, 2^63), for range checks before a cast.
pub(super) fn int64_range(x: &str, lit: &dyn Fn(f64) -> String) -> String {
    format!("({x} >= {} AND {x} < {})", lit(-9223372036854775808.0), lit(9223372036854775808.0))
}
