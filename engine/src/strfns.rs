//! The string functions of the language over plain `&str`, exactly as DuckDB computes them
//! (characters are code points, as DuckDB's `length`/`substring`/`left`/`right` count them).
//! Used by the scalar evaluator (folding and lookup tables); `tests/reference_strings.py`
//! states the same semantics in Python.

use crate::unicode_table::STRIP_ACCENTS;

pub fn length(s: &str) -> i64 {
    s.chars().count() as i64
}

/// trim/ltrim/rtrim: remove `chars` (any of its code points; a space when None) from the
/// left and/or right end.
pub fn trim<'a>(s: &'a str, chars: Option<&str>, left: bool, right: bool) -> &'a str {
    let hit = |c: char| match chars {
        None => c == ' ',
        Some(set) => set.contains(c),
    };
    let mut out = s;
    if left {
        out = out.trim_start_matches(hit);
    }
    if right {
        out = out.trim_end_matches(hit);
    }
    out
}

/// split_part(s, sep, n): the n-th piece (1-based; negative counts from the end; 0 or out of
/// range: ''). An empty separator splits into characters.
pub fn split_part(s: &str, sep: &str, n: i64) -> String {
    let parts: Vec<&str> = if sep.is_empty() {
        if s.is_empty() {
            vec![""]
        } else {
            s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect()
        }
    } else {
        s.split(sep).collect()
    };
    let len = parts.len() as i64;
    let idx = if n > 0 { n - 1 } else if n < 0 { len + n } else { -1 };
    if (0..len).contains(&idx) {
        parts[idx as usize].to_string()
    } else {
        String::new()
    }
}

/// The characters `start..end` of `s` (character indices, clamped).
fn chars_range(s: &str, start: i64, end: i64) -> String {
    if start >= end {
        return String::new();
    }
    s.chars().skip(start as usize).take((end - start) as usize).collect()
}

/// substring(s, offset[, length]) as DuckDB's `SubstringStartEnd`: a positive offset counts
/// from 1, a negative one from the end, 0 starts one character before the first; a negative
/// length takes the characters before the start. `length` None: to the end.
pub fn substring(s: &str, offset: i64, length: Option<i64>) -> String {
    let size = self::length(s);
    let mut length = length.unwrap_or(i64::MAX / 4);
    if length == 0 {
        return String::new();
    }
    let mut start = if offset > 0 {
        size.min(offset - 1)
    } else if offset < 0 {
        size.saturating_add(offset).max(0)
    } else {
        length = length.saturating_sub(1);
        if length <= 0 {
            return String::new();
        }
        0
    };
    let end = if length > 0 {
        size.min(start.saturating_add(length))
    } else {
        let end = start;
        start = start.saturating_add(length).max(0);
        end
    };
    chars_range(s, start, end)
}

/// left(s, n): the first n characters; negative: all but the last -n.
pub fn left(s: &str, n: i64) -> String {
    let size = length(s);
    let end = if n >= 0 { n.min(size) } else { size.saturating_add(n).max(0) };
    chars_range(s, 0, end)
}

/// right(s, n): the last n characters; negative: all but the first -n.
pub fn right(s: &str, n: i64) -> String {
    let size = length(s);
    let start = if n >= 0 { size - n.min(size) } else { n.saturating_neg().min(size) };
    chars_range(s, start, size)
}

/// replace(s, from, to): every non-overlapping occurrence, left to right; an empty `from`
/// replaces nothing.
pub fn replace(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        s.to_string()
    } else {
        s.replace(from, to)
    }
}

/// strip_accents: DuckDB's per-code-point map (combining marks removed, 'é' → 'e').
pub fn strip_accents(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match STRIP_ACCENTS.binary_search_by_key(&(c as u32), |p| p.0) {
            Ok(i) => out.push_str(STRIP_ACCENTS[i].1),
            Err(_) => out.push(c),
        }
    }
    out
}

/// A LIKE pattern token under an ESCAPE character.
#[derive(Debug, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Any,
}

/// The pattern's tokens, or None when it ends with the escape character (DuckDB: an error).
fn tokens(pat: &str, esc: char) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut it = pat.chars();
    while let Some(c) = it.next() {
        out.push(if c == esc {
            Tok::Lit(it.next()?)
        } else if c == '%' {
            Tok::Any
        } else if c == '_' {
            Tok::One
        } else {
            Tok::Lit(c)
        });
    }
    Some(out)
}

/// Whether `pat` ends with an unescaped escape character (DuckDB rejects such a pattern).
pub fn dangling_escape(pat: &str, esc: char) -> bool {
    tokens(pat, esc).is_none()
}

/// `s LIKE pat ESCAPE esc`: `esc` makes the next character literal (`%`, `_` or itself).
/// A pattern ending with the escape character matches nothing.
pub fn like_escape(s: &str, pat: &str, esc: char) -> bool {
    let Some(toks) = tokens(pat, esc) else { return false };
    let s: Vec<char> = s.chars().collect();
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match toks.get(j) {
            Some(Tok::One) => {
                i += 1;
                j += 1;
            }
            Some(Tok::Any) => {
                star = Some((j, i));
                j += 1;
            }
            Some(Tok::Lit(c)) if *c == s[i] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    star = Some((sj, si + 1));
                    j = sj + 1;
                    i = si + 1;
                }
                None => return false,
            },
        }
    }
    while toks.get(j) == Some(&Tok::Any) {
        j += 1;
    }
    j == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected value below is DuckDB's.
    #[test]
    fn split_part_as_duckdb() {
        let cases = [
            ("a@b@c", "@", 2, "b"),
            ("a@b@c", "@", -1, "c"),
            ("a@b@c", "@", -3, "a"),
            ("a@b@c", "@", -4, ""),
            ("a@b@c", "@", 0, ""),
            ("a@b@c", "@", 4, ""),
            ("a@b@c", "", 2, "@"),
            ("", "@", 1, ""),
            ("", "", 1, ""),
            ("abc", "", -1, "c"),
            ("a@@b", "@", 2, ""),
            ("é😀", "", 2, "😀"),
        ];
        for (s, sep, n, want) in cases {
            assert_eq!(split_part(s, sep, n), want, "split_part({s:?}, {sep:?}, {n})");
        }
    }

    #[test]
    fn substring_left_right_as_duckdb() {
        let cases = [
            (2, None, "ello"),
            (0, Some(2), "h"),
            (-2, None, "lo"),
            (-2, Some(1), "l"),
            (2, Some(-1), "h"),
            (0, None, "hello"),
            (-10, Some(12), "hello"),
            (10, None, ""),
            (3, Some(0), ""),
            (i64::MIN, Some(i64::MAX), "hello"),
            (i64::MAX, Some(i64::MIN), "hello"),
        ];
        for (start, len, want) in cases {
            assert_eq!(substring("hello", start, len), want, "substring('hello', {start}, {len:?})");
        }
        assert_eq!(substring("héllo", 2, Some(2)), "él");
        assert_eq!(left("hello", 2), "he");
        assert_eq!(left("hello", -2), "hel");
        assert_eq!(left("hello", 0), "");
        assert_eq!(left("hello", i64::MIN), "");
        assert_eq!(right("hello", 2), "lo");
        assert_eq!(right("hello", -2), "llo");
        assert_eq!(right("héllo", 10), "héllo");
        assert_eq!(right("hello", i64::MIN), "");
    }

    #[test]
    fn trim_replace_accents_length() {
        assert_eq!(trim("  xx  ", None, true, true), "xx");
        assert_eq!(trim("\t a\n", None, true, true), "\t a\n");
        assert_eq!(trim("xyaxy", Some("yx"), true, true), "a");
        assert_eq!(trim("xxaxx", Some("x"), true, false), "axx");
        assert_eq!(trim("ééa", Some("é"), true, false), "a");
        assert_eq!(trim("abc", Some(""), true, true), "abc");
        assert_eq!(replace("aaa", "aa", "b"), "ba");
        assert_eq!(replace("aaa", "", "b"), "aaa");
        assert_eq!(strip_accents("Ünïcödé"), "Unicode");
        assert_eq!(strip_accents("straße ﬁ"), "straße ﬁ");
        assert_eq!(strip_accents("e\u{301}"), "e");
        assert_eq!(length("😀 é"), 3);
        assert_eq!(length("e\u{301}"), 2);
    }

    #[test]
    fn like_with_escape() {
        assert!(like_escape("a%", "a\\%", '\\'));
        assert!(!like_escape("ab", "a\\%", '\\'));
        assert!(like_escape("a_b%c", "a$_b$%c", '$'));
        assert!(like_escape("ab", "a\\b", '\\'));
        assert!(like_escape("\\", "\\\\", '\\'));
        assert!(!like_escape("%", "\\", '\\'));
        assert!(dangling_escape("ab\\", '\\'));
        assert!(like_escape("xé_yz", "%é#_%", '#'));
        assert!(like_escape("mississippi", "%iss%ppi", '#'));
        assert!(!like_escape("abc", "a_", '#'));
        assert!(like_escape("", "%", '#'));
    }
}
