//! Evaluating a subexpression once where a dialect needs it several times (`least` as CASE,
//! guards before `ln`), and keeping SQLite's text shallow: one-row subqueries for PostgreSQL,
//! helper columns of earlier stages for SQLite (whose parser stack holds about 15 nested
//! CASEs or 8 nested subqueries).

use super::syntax::{quote_ident, Part};
use std::cell::RefCell;

/// The most nesting (weighted as `nesting` counts it) a subexpression may bring into its
/// parent before it is hoisted into a helper column. SQLite 3.40's parser stack holds 100
/// entries: about 93 bare parentheses, 31 nested calls or 15 nested CASEs; the widest wrapper a
/// dialect adds (a rule's clamp) and the stage around it take about 25 of the weighted count.
pub(super) const MAX_CHILD_NESTING: u32 = 30;
/// Terms of a score's sum per stage column: SQLite caps expression trees at 1,000 levels.
pub(super) const MAX_SUM_TERMS: usize = 64;

/// A conservative estimate of the parser stack a text needs: 3 per open parenthesis, 6 per
/// open CASE, outside quoted strings, quoted names and comments.
pub(super) fn nesting(sql: &str) -> u32 {
    let b = sql.as_bytes();
    let word = |i: usize, w: &[u8]| {
        let boundary = |c: Option<&u8>| c.is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_');
        b[i..].len() >= w.len()
            && b[i..i + w.len()].eq_ignore_ascii_case(w)
            && (i == 0 || boundary(b.get(i - 1)))
            && boundary(b.get(i + w.len()))
    };
    let mut open: Vec<u32> = Vec::new(); // the weights of what is open, innermost last
    let (mut depth, mut max, mut i) = (0u32, 0u32, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                // to the closing quote (a doubled quote closes and reopens: same result)
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b')' => {
                while let Some(w) = open.pop() {
                    depth -= w;
                    if w == 3 {
                        break;
                    }
                }
            }
            _ if word(i, b"END") && open.last() == Some(&6) => depth -= open.pop().unwrap_or(0),
            c => {
                let w = if c == b'(' {
                    3
                } else if word(i, b"CASE") {
                    6
                } else {
                    0
                };
                if w > 0 {
                    open.push(w);
                    depth += w;
                    max = max.max(depth);
                }
            }
        }
        i += 1;
    }
    max
}

/// A helper column: a subexpression computed in a stage before the one that reads it.
pub(super) struct Helper {
    pub name: String,
    pub sql: String,
    /// 1 + the highest level among the helpers it reads: the stage it goes in.
    pub level: u32,
}

/// The helper columns of the stage being printed.
pub(super) struct Hoister {
    prefix: String,
    next: usize,
    pub helpers: Vec<Helper>,
}

impl Hoister {
    pub fn new(prefix: &str) -> Hoister {
        Hoister { prefix: prefix.to_string(), next: 0, helpers: Vec::new() }
    }

    /// `part` as a helper column: a leaf naming it.
    fn hoist(&mut self, sql: String, level: u32) -> Part {
        let name = quote_ident(&format!("{}h{}", self.prefix, self.next));
        self.next += 1;
        self.helpers.push(Helper { name: name.clone(), sql, level: level + 1 });
        Part { sql: name, leaf: true, level: level + 1 }
    }
}

/// The binding context the printer hands a dialect: with a `Hoister` (SQLite), bound and deep
/// subexpressions become helper columns; without, bound ones become one-row subqueries.
pub(super) struct Cx<'a> {
    pub hoister: Option<&'a RefCell<Hoister>>,
}

impl Cx<'_> {
    /// `body` over `args`, each evaluated once. Leaves are substituted as they are.
    pub fn bind(&self, args: &[&Part], body: impl FnOnce(&[&str]) -> String) -> String {
        if args.iter().all(|a| a.leaf) {
            let direct: Vec<&str> = args.iter().map(|a| a.sql.as_str()).collect();
            return body(&direct);
        }
        let Some(h) = self.hoister else { return bind_all(args, body) };
        let names: Vec<String> =
            args.iter().map(|a| if a.leaf { a.sql.clone() } else { h.borrow_mut().hoist(a.sql.clone(), a.level).sql }).collect();
        let refs: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        body(&refs)
    }

    /// `part`, hoisted into a helper column when it nests too deep to go inside a parent.
    pub fn shallow(&self, part: Part) -> Part {
        match self.hoister {
            Some(h) if nesting(&part.sql) > MAX_CHILD_NESTING => h.borrow_mut().hoist(part.sql, part.level),
            _ => part,
        }
    }

    /// `part` as a helper column (with a `Hoister`), else unchanged.
    pub fn hoist(&self, part: Part) -> Part {
        match self.hoister {
            Some(h) => h.borrow_mut().hoist(part.sql, part.level),
            None => part,
        }
    }

    /// How many helpers exist now (see `level_since`).
    pub fn mark(&self) -> usize {
        self.hoister.map_or(0, |h| h.borrow().helpers.len())
    }

    /// The highest level among the helpers made since `mark`: every helper a subexpression
    /// printed since then reads was made for it.
    pub fn level_since(&self, mark: usize) -> u32 {
        self.hoister.map_or(0, |h| h.borrow().helpers[mark..].iter().map(|x| x.level).max().unwrap_or(0))
    }
}

/// `body` over `args` bound by a one-row subquery, leaves too:
/// `(SELECT body FROM (SELECT a AS "_v0", ...) AS "_b")`; `body` sees only the bound names, so
/// no column of the same name can shadow them (and a body with subqueries of its own, whose
/// names must not capture a column a leaf reads, can use it directly).
pub(super) fn bind_all(args: &[&Part], body: impl FnOnce(&[&str]) -> String) -> String {
    let names: Vec<String> = (0..args.len()).map(|i| format!("\"_v{i}\"")).collect();
    let refs: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    let cols: Vec<String> = args.iter().zip(&names).map(|(a, n)| format!("{} AS {n}", a.sql)).collect();
    format!("(SELECT {} FROM (SELECT {}) AS \"_b\")", body(&refs), cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_weighs_parentheses_and_cases_outside_quotes() {
        assert_eq!(nesting("x"), 0);
        assert_eq!(nesting("abs(x)"), 3);
        assert_eq!(nesting("abs(abs(x)) + (y)"), 6);
        assert_eq!(nesting("(CASE WHEN a THEN (b) END)"), 12);
        assert_eq!(nesting("'((((' || \"(((\" /* ((( */"), 0);
        assert_eq!(nesting("(CASE WHEN a THEN b END) + (CASE WHEN c THEN d END)"), 9);
        assert_eq!(nesting("\"case\" + caseless(x) + endx"), 3);
    }
}
