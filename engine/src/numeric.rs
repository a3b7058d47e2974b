//! The numeric operations of the language, one value at a time: the semantics the VM, the
//! fused kernels and the scalar evaluator share (the Python kernels mirror these lines).
//! Integer arithmetic never wraps: an overflowing result is NULL (DuckDB raises an error
//! there; NULL is the engine's documented departure, like division by zero).

/// `a op b` on int64 for `+ - * % //`; None = NULL (overflow, or `%`/`//` by zero).
pub fn int_arith(op: crate::tir::Aop, x: i64, y: i64) -> Option<i64> {
    use crate::tir::Aop::*;
    match op {
        Add => x.checked_add(y),
        Sub => x.checked_sub(y),
        Mul => x.checked_mul(y),
        // Truncating, as SQL's; INT64_MIN % -1 is 0 (checked_rem would call it overflow).
        Mod => (y != 0).then(|| x.wrapping_rem(y)),
        IntDiv => if y == 0 { None } else { x.checked_div(y) },
        Div | Pow => None,
    }
}

/// C's round(): half away from zero (what DuckDB's round(double) does).
pub fn round_half_away(x: f64) -> f64 {
    x.round()
}

/// DuckDB's round(x, digits) for digits ≠ 0, given `modifier` = 10^|digits| (computed once,
/// at compile time): the scaled value rounded; where that overflows to inf or NaN, the input
/// itself (digits > 0) or 0 (digits < 0).
pub fn round_to(x: f64, modifier: f64, negative_digits: bool) -> f64 {
    if x.is_nan() {
        return x;
    }
    if negative_digits {
        let r = (x / modifier).round() * modifier;
        if r.is_finite() { r } else { 0.0 }
    } else {
        let r = (x * modifier).round() / modifier;
        if r.is_finite() { r } else { x }
    }
}

/// 10^|digits| as DuckDB computes it (std::pow).
pub fn round_modifier(digits: i64) -> f64 {
    10f64.powf(digits.unsigned_abs() as f64)
}

/// float64 → int64 as DuckDB's CAST: rounded half to even; None for NaN or outside int64.
pub fn float_to_int(x: f64) -> Option<i64> {
    let r = x.round_ties_even();
    (r >= -9223372036854775808.0 && r < 9223372036854775808.0).then(|| r as i64)
}

/// pow(x, y); NaN (NULL) where DuckDB raises (0 to a negative power) or the result is NaN.
pub fn pow(x: f64, y: f64) -> f64 {
    // C's pow(1, NaN) and pow(NaN, 0) are 1; NaN is NULL here and must stay NULL.
    if x.is_nan() || y.is_nan() || (x == 0.0 && y < 0.0) {
        f64::NAN
    } else {
        x.powf(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tir::Aop;

    #[test]
    fn int_overflow_is_null() {
        assert_eq!(int_arith(Aop::Add, i64::MAX, 1), None);
        assert_eq!(int_arith(Aop::Sub, i64::MIN, 1), None);
        assert_eq!(int_arith(Aop::Mul, i64::MIN, -1), None);
        assert_eq!(int_arith(Aop::Mul, 1 << 32, 1 << 30), Some(1 << 62));
        assert_eq!(int_arith(Aop::IntDiv, i64::MIN, -1), None);
        assert_eq!(int_arith(Aop::IntDiv, -7, 2), Some(-3));
        assert_eq!(int_arith(Aop::IntDiv, 7, 0), None);
        assert_eq!(int_arith(Aop::Mod, i64::MIN, -1), Some(0));
        assert_eq!(int_arith(Aop::Mod, -7, 3), Some(-1));
    }

    #[test]
    fn rounding_as_duckdb() {
        assert_eq!(round_half_away(2.5), 3.0);
        assert_eq!(round_half_away(-2.5), -3.0);
        assert_eq!(round_half_away(0.49999999999999994), 0.0);
        assert_eq!(round_to(1234.5678, round_modifier(2), false), 1234.57);
        assert_eq!(round_to(1234.5678, round_modifier(-2), true), 1200.0);
        assert_eq!(round_to(2.5, round_modifier(400), false), 2.5);
        assert_eq!(round_to(123.456, round_modifier(-400), true), 0.0);
        assert_eq!(float_to_int(2.5), Some(2));
        assert_eq!(float_to_int(3.5), Some(4));
        assert_eq!(float_to_int(-2.5), Some(-2));
        assert_eq!(float_to_int(9.3e18), None);
        assert_eq!(float_to_int(f64::NAN), None);
        assert_eq!(float_to_int(-9223372036854775808.0), Some(i64::MIN));
        assert!(pow(0.0, -1.0).is_nan());
        assert_eq!(pow(2.0, 10.0), 1024.0);
    }
}
