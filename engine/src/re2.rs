//! `regexp_matches` with RE2's semantics (DuckDB's regex engine) on the `regex` crate, whose
//! syntax is RE2's. What differs is made to agree here:
//! - RE2's Perl classes are ASCII (`\d` = `[0-9]`, `\w` = `[0-9A-Za-z_]`, `\s` = `[\t\n\f\r ]`,
//!   `\b` an ASCII word boundary); the crate's are Unicode: they are rewritten to ASCII forms;
//! - options as DuckDB reads them, the last one of a pair winning: `c` case-sensitive, `i`
//!   case-insensitive, `l` the pattern is a literal, `s` `.` matches a newline, `m`/`n`/`p`
//!   it does not (the default); anything else is an error, as in DuckDB.
//! A match anywhere in the string counts (DuckDB's regexp_matches is a search, not a full match).

use regex::{Regex, RegexBuilder};

/// Rewrite the Unicode-aware Perl classes of `pat` to RE2's ASCII ones (inside and outside
/// brackets); everything else is copied as written. `boundary`: how the target spells an
/// ASCII word boundary and its negation.
pub fn ascii_classes(pat: &str, boundary: (&str, &str)) -> String {
    let mut out = String::with_capacity(pat.len());
    let mut chars = pat.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(n) = chars.next() else {
                out.push('\\');
                break;
            };
            let (inside, outside) = match n {
                'd' => ("0-9", "[0-9]"),
                'D' => ("", "[^0-9]"),
                'w' => ("0-9A-Za-z_", "[0-9A-Za-z_]"),
                'W' => ("", "[^0-9A-Za-z_]"),
                's' => ("\\t\\n\\f\\r ", "[\\t\\n\\f\\r ]"),
                'S' => ("", "[^\\t\\n\\f\\r ]"),
                'b' if !in_class => ("", boundary.0),
                'B' if !in_class => ("", boundary.1),
                _ => ("", ""),
            };
            match (in_class, inside, outside) {
                (true, i, _) if !i.is_empty() => out.push_str(i),
                (false, _, o) if !o.is_empty() => out.push_str(o),
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            class_start = false;
            continue;
        }
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
            }
            class_start = class_start && c == '^';
            out.push(c);
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
            if chars.peek() == Some(&'^') {
                out.push('[');
                out.push(chars.next().unwrap());
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// DuckDB's options: (case-insensitive, literal, dot matches newline).
pub fn options(opts: &str) -> Result<(bool, bool, bool), String> {
    let (mut ci, mut literal, mut dot_nl) = (false, false, false);
    for o in opts.chars() {
        match o {
            'c' => ci = false,
            'i' => ci = true,
            'l' => literal = true,
            's' => dot_nl = true,
            'm' | 'n' | 'p' => dot_nl = false,
            other => return Err(format!("unrecognized regex option '{other}' (options: c i l m n p s)")),
        }
    }
    Ok((ci, literal, dot_nl))
}

/// Compile `pat` under DuckDB's `opts`; the error says what is wrong, as DuckDB would.
pub fn compile(pat: &str, opts: &str) -> Result<Regex, String> {
    let (ci, literal, dot_nl) = options(opts)?;
    let text = if literal { regex::escape(pat) } else { ascii_classes(pat, ("(?-u:\\b)", "(?-u:\\B)")) };
    RegexBuilder::new(&text)
        .case_insensitive(ci)
        .dot_matches_new_line(dot_nl)
        .size_limit(1 << 23)
        .build()
        .map_err(|e| match e {
            // The crate's message: the pattern, a caret line under the offending part, the reason.
            regex::Error::Syntax(s) => {
                let lines: Vec<&str> = s.lines().collect();
                let why = lines.last().map_or(s.as_str(), |l| l.trim_start_matches("error: "));
                let at = lines.iter().find(|l| l.trim_start().starts_with('^')).map(|l| l.len() - l.trim_start().len());
                match (at, literal) {
                    // 4: the indent of the pattern line; offsets are characters of the rewritten
                    // pattern, which equal the original's before any rewritten class.
                    (Some(col), false) if col >= 4 => format!("invalid regular expression '{pat}' at character {}: {why}", col - 3),
                    _ => format!("invalid regular expression '{pat}': {why}"),
                }
            }
            other => format!("invalid regular expression '{pat}': {other}"),
        })
}

thread_local! {
    /// Compiled patterns by (pattern, options): the evaluator sees the pattern per value.
    static CACHE: std::cell::RefCell<std::collections::HashMap<(String, String), Regex>> = Default::default();
}

/// regexp_matches(s, pat, opts); None when the pattern does not compile (the type checker
/// rejected such a pattern already).
pub fn matches(s: &str, pat: &str, opts: &str) -> Option<bool> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let key = (pat.to_string(), opts.to_string());
        if !c.contains_key(&key) {
            let re = compile(pat, opts).ok()?;
            c.insert(key.clone(), re);
        }
        Some(c[&key].is_match(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str, p: &str, o: &str) -> bool {
        compile(p, o).unwrap().is_match(s)
    }

    // Expected values are DuckDB's.
    #[test]
    fn as_duckdb() {
        assert!(!m("abc", "B", ""));
        assert!(m("abc", "B", "i"));
        assert!(!m("ab", "A", "ic"));
        assert!(m("ab", "A", "ci"));
        assert!(!m("abc", "^b", ""));
        assert!(m("abc", "", ""));
        assert!(!m("a\nb", "a.b", ""));
        assert!(m("a\nb", "a.b", "s"));
        assert!(!m("a\nb", "^b", "m"));
        assert!(!m("٣", "\\d", ""));
        assert!(!m("é", "\\w", ""));
        assert!(m("É", "é", "i"));
        assert!(!m("x", "\\Bx", ""));
        assert!(m("a.b", "a.b", "l"));
        assert!(!m("axb", "a.b", "l"));
        assert!(m("a1", "[\\d]", ""));
        assert!(!m("٣", "[\\d]", ""));
        assert!(m("x]", "[]x]+$", ""));
        assert!(m("gmail.com", "^(gmail|yahoo)\\.com$", ""));
    }

    #[test]
    fn errors() {
        assert!(compile("(", "").unwrap_err().contains("invalid regular expression '(' at character 1: unclosed group"), "{}", compile("(", "").unwrap_err());
        assert!(compile("ab[", "").unwrap_err().contains("at character 3"), "{}", compile("ab[", "").unwrap_err());
        assert!(compile("a", "x").unwrap_err().contains("unrecognized regex option 'x'"));
    }
}
