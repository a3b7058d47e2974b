//! lower()/upper() as DuckDB computes them: each code point mapped on its own through
//! DuckDB's table (`unicode_table.rs`, generated from DuckDB by `engine/tools/gen_casemap.py`).
//! Unlike Rust's `to_lowercase` there is no final-sigma rule and no one-to-many mapping:
//! lower('ΣΑΣ') = 'σασ', upper('straße') = 'STRAẞE', lower('İ') = 'i', upper('ﬁ') = 'ﬁ'.
//! Every case-insensitive matcher (ILIKE) goes through here.

use crate::unicode_table::{LOWER, UPPER};

fn map_char(table: &[(u32, u32)], c: char) -> char {
    match table.binary_search_by_key(&(c as u32), |p| p.0) {
        Ok(i) => char::from_u32(table[i].1).unwrap_or(c),
        Err(_) => c,
    }
}

pub fn lower_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        map_char(LOWER, c)
    }
}

pub fn upper_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_uppercase()
    } else {
        map_char(UPPER, c)
    }
}

/// `out += lower(s)`.
pub fn lower_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        out.extend(s.chars().map(lower_char));
    }
}

/// `out += upper(s)`.
pub fn upper_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_uppercase();
    } else {
        out.extend(s.chars().map(upper_char));
    }
}

pub fn lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    lower_into(s, &mut out);
    out
}

pub fn upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    upper_into(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_examples() {
        assert_eq!(lower("ΣΑΣ"), "σασ");
        assert_eq!(lower("ΟΔΟΣ"), "οδοσ");
        assert_eq!(upper("straße"), "STRAẞE");
        assert_eq!(lower("İstanbul"), "istanbul");
        assert_eq!(upper("ﬁle"), "ﬁLE");
        assert_eq!(lower("😀 Emoji"), "😀 emoji");
        assert_eq!(upper("ǆ"), "Ǆ");
        assert_eq!(lower("Kelvin\u{212A}"), "kelvink");
        assert_eq!(upper("ÜNÏCÖDÉ".to_lowercase().as_str()), "ÜNÏCÖDÉ");
    }

    #[test]
    fn table_is_sorted_and_one_to_one_per_code_point() {
        for t in [LOWER, UPPER] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(t.iter().all(|p| char::from_u32(p.0).is_some() && char::from_u32(p.1).is_some()));
        }
        // Every string maps code point by code point: same number of characters.
        let s = "ΣΑΣ straße İ ﬁ 😀 ǅ";
        assert_eq!(lower(s).chars().count(), s.chars().count());
        assert_eq!(upper(s).chars().count(), s.chars().count());
    }
}
