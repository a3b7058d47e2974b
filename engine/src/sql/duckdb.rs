//! DuckDB: the dialect `to_sql` first wrote, and the default. DuckDB has what the engine needs
//! (`/` is float division, `least`/`greatest` skip NULLs, `epoch_ns`, `ILIKE`, lists), except
//! that NaN is a value equal to itself: every float result passes through `NULLIF(x, NaN)`.

use super::bind::Cx;
use super::syntax::{duckdb_str_fn, quote_ident, quote_str, Layout, Part, Pattern, Syntax};
use crate::error::Result;
use crate::tir::{Aop, Cmp, Fun, SFn, Value};
use crate::types::Type;

pub(super) struct DuckDb;

/// NULL where `x` is NaN, evaluating `x` once (DuckDB compares NaN equal to NaN).
fn nan_to_null(x: &str) -> String {
    format!("NULLIF({x}, CAST('NaN' AS DOUBLE))")
}

impl Syntax for DuckDb {
    fn ident(&self, name: &str) -> Result<String> {
        Ok(quote_ident(name))
    }

    fn string_lit(&self, s: &str) -> Result<String> {
        Ok(quote_str(s))
    }

    fn float_lit(&self, x: f64) -> String {
        format!("CAST('{x:?}' AS DOUBLE)")
    }

    fn int_lit(&self, i: i64) -> String {
        format!("CAST({i} AS BIGINT)")
    }

    fn type_name(&self, t: Type) -> &'static str {
        match t {
            Type::Int => "BIGINT",
            Type::Bool => "BOOLEAN",
            Type::Str => "VARCHAR",
            _ => "DOUBLE",
        }
    }

    fn column(&self, name: &str, ty: Type) -> String {
        match ty {
            Type::Int => format!("CAST({name} AS BIGINT)"),
            // NaN in a float column reads as NULL.
            Type::Float => nan_to_null(&format!("CAST({name} AS DOUBLE)")),
            _ => name.to_string(),
        }
    }

    fn has_any(&self, name: &str, values: &[String]) -> Result<String> {
        let list: Vec<String> = values.iter().map(|v| quote_str(v)).collect();
        Ok(format!("list_has_any({name}, [{}]::VARCHAR[])", list.join(", ")))
    }

    fn epoch_us(&self, name: &str, _ty: Type) -> String {
        // Floored (as the VM reads any unit): epoch_ns works for every timestamp type and
        // dates, epoch_us not for TIMESTAMPTZ_NS.
        let ns = format!("epoch_ns({name})");
        format!("(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)")
    }

    fn days(&self, name: &str, ty: Type, as_of_us: i64) -> String {
        format!("(CAST({as_of_us} - {} AS DOUBLE) / 86400000000.0)", self.epoch_us(name, ty))
    }

    fn to_float(&self, a: &str) -> String {
        format!("CAST({a} AS DOUBLE)")
    }

    fn arith(&self, _cx: &Cx, op: Aop, a: Part, b: Part, float: bool) -> String {
        let (a, b) = (a.sql, b.sql);
        let x = match op {
            Aop::Div | Aop::IntDiv => format!("({a} / NULLIF({b}, 0))"),
            Aop::Mod => format!("({a} % NULLIF({b}, 0))"),
            // DuckDB raises for 0 to a negative power; the engine says NULL.
            Aop::Pow => format!("(CASE WHEN {a} = 0 AND {b} < 0 THEN NULL ELSE pow({a}, {b}) END)"),
            _ => format!("({a} {} {b})", op.sql()),
        };
        // NaN (inf - inf, 0 * inf) is NULL in the VM; DuckDB's NaN = NaN makes NULLIF do it.
        if float {
            nan_to_null(&x)
        } else {
            x
        }
    }

    fn math(&self, _cx: &Cx, f: Fun, a: Part) -> String {
        let a = a.sql;
        match f {
            Fun::Neg => format!("(-{a})"),
            Fun::Abs => format!("abs({a})"),
            Fun::Ln => format!("(CASE WHEN {a} > 0 THEN ln({a}) END)"),
            Fun::Exp => format!("exp({a})"),
            Fun::Sqrt => format!("(CASE WHEN {a} >= 0 THEN sqrt({a}) END)"),
            Fun::Floor => format!("floor({a})"),
            Fun::Ceil => format!("ceil({a})"),
            Fun::Round => format!("round({a})"),
            Fun::Log10 => format!("(CASE WHEN {a} > 0 THEN log10({a}) END)"),
            Fun::Log2 => format!("(CASE WHEN {a} > 0 THEN log2({a}) END)"),
        }
    }

    // DuckDB raises on int64 overflow; computed in HUGEINT, TRY_CAST makes it NULL.
    fn int_arith(&self, _cx: &Cx, op: Aop, a: Part, b: Part) -> Result<String> {
        let (a, b) = (a.sql, b.sql);
        Ok(match op {
            Aop::IntDiv => format!("TRY_CAST(CAST({a} AS HUGEINT) // NULLIF({b}, 0) AS BIGINT)"),
            _ => format!("TRY_CAST(CAST({a} AS HUGEINT) {} {b} AS BIGINT)", op.sql()),
        })
    }

    fn int_neg_abs(&self, _cx: &Cx, f: Fun, a: Part) -> Result<String> {
        let a = a.sql;
        Ok(if f == Fun::Neg {
            format!("TRY_CAST(-CAST({a} AS HUGEINT) AS BIGINT)")
        } else {
            format!("TRY_CAST(abs(CAST({a} AS HUGEINT)) AS BIGINT)")
        })
    }

    fn round_to(&self, _cx: &Cx, a: Part, digits: i64) -> Result<String> {
        Ok(format!("round({}, {digits})", a.sql))
    }

    fn float_to_int(&self, _cx: &Cx, a: Part) -> Result<String> {
        Ok(format!("TRY_CAST({} AS BIGINT)", a.sql))
    }

    fn str_fn(&self, _cx: &Cx, f: SFn, args: Vec<Part>, _consts: &[Option<&Value>]) -> Result<String> {
        let a = &args[0].sql;
        Ok(match f {
            SFn::ToInt => format!("TRY_CAST({a} AS BIGINT)"),
            SFn::ToFloat => nan_to_null(&format!("TRY_CAST({a} AS DOUBLE)")),
            SFn::ToBool => format!("TRY_CAST({a} AS BOOLEAN)"),
            SFn::ToDate => self.epoch_us(&format!("TRY_CAST({a} AS DATE)"), Type::Date),
            SFn::ToTimestamp => self.epoch_us(&format!("TRY_CAST({a} AS TIMESTAMP)"), Type::Timestamp),
            _ => duckdb_str_fn(f, &args),
        })
    }

    fn min_max(&self, _cx: &Cx, greatest: bool, a: Part, b: Part) -> String {
        format!("{}({}, {})", if greatest { "greatest" } else { "least" }, a.sql, b.sql)
    }

    fn decay(&self, _cx: &Cx, points: Part, age: Part, half_life: Part) -> String {
        nan_to_null(&format!("({} * pow(0.5, {} / NULLIF({}, 0)))", points.sql, age.sql, half_life.sql))
    }

    fn compare_label_null(&self, op: Cmp, a: &str, b: &str) -> String {
        format!("({a} {} {b})", op.sql())
    }

    fn like(&self, e: &str, pat: Pattern, ci: bool, esc: Option<char>) -> Result<String> {
        let pat = match pat {
            Pattern::Literal(s) => quote_str(s),
            Pattern::Expr(p) => p.sql,
        };
        let esc = esc.map(|c| format!(" ESCAPE {}", quote_str(&c.to_string()))).unwrap_or_default();
        Ok(format!("({e} {} {pat}{esc})", if ci { "ILIKE" } else { "LIKE" }))
    }

    fn regexp(&self, e: &str, pat: &str, opts: &str) -> Result<String> {
        let opts = if opts.is_empty() { String::new() } else { format!(", {}", quote_str(opts)) };
        Ok(format!("regexp_matches({e}, {}{opts})", quote_str(pat)))
    }

    fn case_map(&self, upper: bool, a: &str) -> String {
        format!("{}({a})", if upper { "upper" } else { "lower" })
    }

    fn starts_with(&self, a: &str, b: &str) -> String {
        format!("starts_with({a}, {b})")
    }

    fn contains(&self, a: &str, b: &str) -> String {
        format!("contains({a}, {b})")
    }

    fn layout(&self) -> Layout {
        Layout::OwnNames
    }

    fn rule_term(&self, _cx: &Cx, when: Option<&str>, points: Part, floor: Option<f64>, cap: Option<f64>) -> String {
        let raw = points.sql;
        let mut pts = raw.clone();
        if let Some(f) = floor {
            pts = format!("greatest({pts}, {})", self.float_lit(f));
        }
        if let Some(c) = cap {
            pts = format!("least({pts}, {})", self.float_lit(c));
        }
        let when = when.map(|w| format!("({w}) IS TRUE AND ")).unwrap_or_default();
        // NULL points add 0; a NaN result (inf - inf) is NULL in the VM too.
        format!("(CASE WHEN {when}NOT isnan(coalesce({raw}, 'NaN'::DOUBLE)) THEN {pts} ELSE {} END)", self.float_lit(0.0))
    }

    fn derived(&self, x: Part) -> String {
        let x = x.sql;
        format!("(CASE WHEN isnan(coalesce({x}, 'NaN'::DOUBLE)) THEN {} ELSE {x} END)", self.float_lit(0.0))
    }

    fn clamp(&self, x: &str, lo: f64, hi: f64) -> String {
        format!("least(greatest({x}, {}), {})", self.float_lit(lo), self.float_lit(hi))
    }
}
