//! CAST of a string to a number or a boolean, as DuckDB parses them; None where DuckDB
//! raises a conversion error (the engine gives NULL there: CAST behaves as TRY_CAST).

/// DuckDB's whitespace (StringUtil::CharacterIsSpace).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Digits with single underscores between them ("1_000"), underscores removed; None if the
/// text has anything else, or an underscore at an end or next to another.
fn digits(s: &str, radix: u32) -> Option<String> {
    let b = s.as_bytes();
    if b.is_empty() || b[0] == b'_' || b[b.len() - 1] == b'_' || s.contains("__") {
        return None;
    }
    let out: String = s.chars().filter(|&c| c != '_').collect();
    out.chars().all(|c| c.is_digit(radix)).then_some(out)
}

/// CAST(s AS BIGINT): optional sign; decimal digits, or 0x / 0b with hex / binary digits; a
/// decimal may have a fraction and an exponent, and is rounded half away from zero.
pub fn to_int(s: &str) -> Option<i64> {
    let t = s.trim_matches(is_space);
    let lower = t.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return i64::from_str_radix(&digits(rest, radix)?, radix).ok();
        }
    }
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    if int_part.is_empty() && frac.is_empty() {
        return None;
    }
    let int_digits = if int_part.is_empty() { String::new() } else { digits(int_part, 10)? };
    let frac_digits = if frac.is_empty() { String::new() } else { digits(frac, 10)? };
    // All digits, and where the decimal point falls among them after the exponent.
    let all = format!("{int_digits}{frac_digits}");
    let point = int_digits.len() as i64 + exp as i64;
    let (whole, next) = if point <= 0 {
        ("", if point == 0 { all.chars().next() } else { None })
    } else if point as usize >= all.len() {
        (all.as_str(), None)
    } else {
        (&all[..point as usize], all[point as usize..].chars().next())
    };
    let mut v: i128 = 0;
    for c in whole.chars() {
        v = v.checked_mul(10)?.checked_add(c.to_digit(10)? as i128)?;
        if v > (1i128 << 64) {
            return None;
        }
    }
    if point as usize > all.len() {
        for _ in 0..(point as usize - all.len()) {
            v = v.checked_mul(10)?;
            if v > (1i128 << 64) {
                return None;
            }
        }
    }
    if next.is_some_and(|c| c >= '5') {
        v += 1;
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// CAST(s AS DOUBLE): surrounding whitespace, single underscores between digits, inf / nan.
pub fn to_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_space);
    if t.is_empty() {
        return None;
    }
    let clean = if t.contains('_') {
        let b = t.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b'_' && !(i > 0 && b[i - 1].is_ascii_digit() && i + 1 < b.len() && b[i + 1].is_ascii_digit()) {
                return None;
            }
        }
        t.replace('_', "")
    } else {
        t.to_string()
    };
    clean.parse::<f64>().ok()
}

/// CAST(s AS BOOLEAN): true/t/yes/y/1 and false/f/no/n/0, any case, nothing around them.
pub fn to_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_as_duckdb_parses_them() {
        // (text, DuckDB's TRY_CAST(text AS BIGINT)), read off DuckDB 2.0
        for (s, want) in [
            ("2.49", Some(2)), ("2.51", Some(3)), ("2.5", Some(3)), ("-2.5", Some(-3)), ("1e-1", Some(0)),
            ("15e-1", Some(2)), ("1.5e1", Some(15)), ("-0.5", Some(-1)), (" 12 ", Some(12)), ("\t7\n", Some(7)),
            ("+3", Some(3)), ("-0", Some(0)), ("0x1F", Some(31)), ("0X1f", Some(31)), ("-0x10", None),
            ("1_000", Some(1000)), ("1__0", None), ("_1", None), ("1_", None), ("12abc", None), ("1.2.3", None),
            (".5", Some(1)), ("5.", Some(5)), ("1e", None), ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None), ("-9223372036854775808", Some(i64::MIN)), ("1e19", None),
            ("0b101", Some(5)), ("0o17", None), ("١٢", None), ("1,000", None), ("", None), (".", None),
        ] {
            assert_eq!(to_int(s), want, "{s:?}");
        }
    }

    #[test]
    fn floats_and_bools() {
        assert_eq!(to_float(" 2.5 "), Some(2.5));
        assert_eq!(to_float("1_0.5"), Some(10.5));
        assert_eq!(to_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(to_float("1__0"), None);
        assert_eq!(to_float("0x10"), None);
        assert_eq!(to_float(""), None);
        assert_eq!(to_bool("TRUE"), Some(true));
        assert_eq!(to_bool("n"), Some(false));
        assert_eq!(to_bool(" true"), None);
        assert_eq!(to_bool("on"), None);
    }
}
