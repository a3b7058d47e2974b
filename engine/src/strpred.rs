//! Compiled string predicates: the fast path of lookup-table filling.
//!
//! A lookup table evaluates one subtree once per distinct dictionary value (100k+ values for a
//! high-cardinality column, a dozen tables each). The generic evaluator (`eval::eval`) pays for
//! its generality there: it owns every value (`Value::Str` clones), clones the LIKE pattern per
//! call, lowercases the ILIKE pattern per call and probes a set of `String`s. This module
//! compiles the common shapes once per table (patterns pre-lowercased and split at `%`, IN
//! lists hashed, substring searchers built) and evaluates them over borrowed `&str` without
//! allocating. Shapes it does not know (`compile` returns None) use the generic evaluator.
//!
//! The results must be exactly the generic evaluator's: SQL three-valued logic, LIKE with
//! `%`/`_` on Unicode characters, ILIKE = LIKE of `lower()` of both sides. The tests below
//! compare the two on many values and patterns.

use crate::tir::{Cmp, Node, SFn, TExpr, Value};
use crate::types::Type;
use memchr::memmem::Finder;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A compiled lookup subtree: its table entry for one value (`None` = a NULL row).
pub struct Compiled {
    out: Out,
    /// For a table that is one LIKE / contains test: a literal that every TRUE
    /// value contains (after the case maps). The caller may then search a whole buffer of
    /// values for it at once (`Needle`) rather than test value by value.
    needle: Option<Box<(Vec<Case>, Finder<'static>)>>,
}

/// See `Compiled::needle`.
pub struct Needle<'a> {
    pub finder: &'a Finder<'static>,
    maps: &'a [Case],
}

impl Needle<'_> {
    /// Whether the test reads the value through lower()/upper().
    pub fn has_case_map(&self) -> bool {
        !self.maps.is_empty()
    }
    /// Apply the case maps to an ASCII buffer in place (where they keep every length).
    pub fn map_ascii(&self, buf: &mut [u8]) {
        for c in self.maps {
            match c {
                Case::Lower => buf.make_ascii_lowercase(),
                Case::Upper => buf.make_ascii_uppercase(),
            }
        }
    }
}

/// Reusable buffers for case mapping (one per thread), so `lower()` allocates nothing.
#[derive(Default)]
pub struct Scratch {
    a: String,
    b: String,
}

impl Compiled {
    /// Compile lookup expression `e` over program column `column`; None for shapes the fast
    /// path does not cover.
    pub fn compile(e: &TExpr, column: usize, result: Type) -> Option<Compiled> {
        let out = match result {
            Type::Bool => Out::Bool(pred(e, column)?),
            Type::Int | Type::Float => num(e, column)?,
            _ => return None,
        };
        let needle = match &out {
            Out::Bool(P::Leaf { map, test }) => {
                let lit: Option<&[u8]> = match test {
                    Test::Like(l) => l.longest_literal(),
                    Test::Contains(f) => Some(f.needle()),
                    _ => None, // starts_with is one comparison per value already
                };
                lit.filter(|l| !l.is_empty()).map(|l| Box::new((map.clone(), Finder::new(l).into_owned())))
            }
            _ => None,
        };
        Some(Compiled { out, needle })
    }

    /// The literal of a single-test table (None otherwise); values that do not contain it are
    /// FALSE (0.0), NULL values give `eval(None)`.
    pub fn needle(&self) -> Option<Needle<'_>> {
        self.needle.as_deref().map(|(maps, finder)| Needle { finder, maps })
    }

    /// The table entry for `v`, encoded as `eval_lookup` does: FALSE 0.0 / NULL 1.0 / TRUE 2.0
    /// for booleans, the number (NaN = NULL) otherwise.
    pub fn eval(&self, v: Option<&str>, scratch: &mut Scratch) -> f64 {
        self.out.eval(v, scratch)
    }
}

/// The table entry: a predicate (bool tables) or a CASE over predicates with constant arms.
enum Out {
    Bool(P),
    Num(f64),
    Select(P, Box<Out>, Box<Out>),
}

impl Out {
    fn eval(&self, v: Option<&str>, sc: &mut Scratch) -> f64 {
        match self {
            Out::Bool(p) => match p.eval(v, sc) {
                Some(true) => 2.0,
                Some(false) => 0.0,
                None => 1.0,
            },
            Out::Num(x) => *x,
            Out::Select(c, a, b) => {
                if c.eval(v, sc) == Some(true) {
                    a.eval(v, sc)
                } else {
                    b.eval(v, sc)
                }
            }
        }
    }
}

fn num(e: &TExpr, column: usize) -> Option<Out> {
    match &e.node {
        Node::Const(Value::Int(i)) => Some(Out::Num(*i as f64)),
        Node::Const(Value::Float(f)) => Some(Out::Num(*f)),
        Node::Const(Value::Null) => Some(Out::Num(f64::NAN)),
        Node::Select(c, a, b) => Some(Out::Select(pred(c, column)?, Box::new(num(a, column)?), Box::new(num(b, column)?))),
        _ => None,
    }
}

/// A three-valued predicate of the column value.
enum P {
    Const(Option<bool>),
    /// The (possibly case-mapped) column value IS NULL: case mapping keeps NULLs NULL.
    ValueIsNull,
    IsNull(Box<P>),
    Not(Box<P>),
    And(Box<P>, Box<P>),
    Or(Box<P>, Box<P>),
    Select(Box<P>, Box<P>, Box<P>),
    Coalesce(Box<P>, Box<P>),
    /// A test of the column value after the case mappings in `map` (applied in order).
    Leaf { map: Vec<Case>, test: Test },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Case {
    Lower,
    Upper,
}

enum Test {
    Like(Box<Like>),
    In { set: HashSet<Box<str>, Fx>, has_null: bool },
    Starts(Box<str>),
    Ends(Box<str>),
    Regex(Box<regex::Regex>),
    Contains(Box<Finder<'static>>),
    Cmp(Cmp, Box<str>),
}

impl P {
    fn eval(&self, v: Option<&str>, sc: &mut Scratch) -> Option<bool> {
        match self {
            P::Const(b) => *b,
            P::ValueIsNull => Some(v.is_none()),
            P::IsNull(a) => Some(a.eval(v, sc).is_none()),
            P::Not(a) => a.eval(v, sc).map(|b| !b),
            // Kleene logic; both sides are pure, so short-circuiting is safe.
            P::And(a, b) => match a.eval(v, sc) {
                Some(false) => Some(false),
                x => match (x, b.eval(v, sc)) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
            },
            P::Or(a, b) => match a.eval(v, sc) {
                Some(true) => Some(true),
                x => match (x, b.eval(v, sc)) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
            },
            P::Select(c, a, b) => {
                if c.eval(v, sc) == Some(true) {
                    a.eval(v, sc)
                } else {
                    b.eval(v, sc)
                }
            }
            P::Coalesce(a, b) => a.eval(v, sc).or_else(|| b.eval(v, sc)),
            P::Leaf { map, test } => {
                let s = case_map(v?, map, sc);
                match test {
                    Test::Like(l) => Some(l.matches(s.as_bytes())),
                    Test::In { set, has_null } => {
                        if set.contains(s) {
                            Some(true)
                        } else if *has_null {
                            None
                        } else {
                            Some(false)
                        }
                    }
                    Test::Starts(p) => Some(s.starts_with(&**p)),
                    Test::Ends(p) => Some(s.ends_with(&**p)),
                    Test::Regex(r) => Some(r.is_match(s)),
                    Test::Contains(f) => Some(f.find(s.as_bytes()).is_some()),
                    Test::Cmp(op, c) => {
                        let o = s.cmp(c);
                        Some(match op {
                            Cmp::Eq => o.is_eq(),
                            Cmp::Ne => o.is_ne(),
                            Cmp::Lt => o.is_lt(),
                            Cmp::Le => o.is_le(),
                            Cmp::Gt => o.is_gt(),
                            Cmp::Ge => o.is_ge(),
                        })
                    }
                }
            }
        }
    }
}

/// A string constant operand: Some(None) for NULL.
fn str_const(x: &TExpr) -> Option<Option<&str>> {
    match &x.node {
        Node::Const(Value::Str(s)) => Some(Some(s.as_str())),
        Node::Const(Value::Null) => Some(None),
        _ => None,
    }
}

fn pred(e: &TExpr, column: usize) -> Option<P> {
    let leaf = |a: &TExpr, test: &dyn Fn(&str, &mut Vec<Case>) -> Test, c: &TExpr| -> Option<P> {
        let mut map = source(a, column)?;
        Some(match str_const(c)? {
            None => P::Const(None), // any string op with a NULL operand is NULL
            Some(c) => {
                let test = test(c, &mut map);
                P::Leaf { map, test }
            }
        })
    };
    Some(match &e.node {
        Node::Const(Value::Bool(b)) => P::Const(Some(*b)),
        Node::Const(Value::Null) => P::Const(None),
        Node::IsNull(a) if a.ty == Type::Str => {
            source(a, column)?;
            P::ValueIsNull
        }
        Node::IsNull(a) if a.ty == Type::Bool => P::IsNull(Box::new(pred(a, column)?)),
        Node::Not(a) => P::Not(Box::new(pred(a, column)?)),
        Node::And(a, b) => P::And(Box::new(pred(a, column)?), Box::new(pred(b, column)?)),
        Node::Or(a, b) => P::Or(Box::new(pred(a, column)?), Box::new(pred(b, column)?)),
        Node::Select(c, a, b) => P::Select(Box::new(pred(c, column)?), Box::new(pred(a, column)?), Box::new(pred(b, column)?)),
        Node::Coalesce(a, b) => P::Coalesce(Box::new(pred(a, column)?), Box::new(pred(b, column)?)),
        Node::StrIn { e, set, has_null } => P::Leaf {
            map: source(e, column)?,
            test: Test::In { set: set.iter().map(|s| s.as_str().into()).collect(), has_null: *has_null },
        },
        Node::Like { e, pat, ci, esc: None } => leaf(
            e,
            &|p, map| {
                if *ci {
                    // ILIKE is LIKE of lower() of both sides: lower the pattern once here.
                    map.push(Case::Lower);
                    Test::Like(Box::new(Like::new(&crate::casemap::lower(p))))
                } else {
                    Test::Like(Box::new(Like::new(p)))
                }
            },
            pat,
        )?,
        Node::StartsWith(a, b) => leaf(a, &|p, _| Test::Starts(p.into()), b)?,
        Node::StrFn(SFn::EndsWith, args) => leaf(&args[0], &|p, _| Test::Ends(p.into()), &args[1])?,
        Node::Regexp { e, pat, opts } => P::Leaf { map: source(e, column)?, test: Test::Regex(Box::new(crate::re2::compile(pat, opts).ok()?)) },
        Node::Contains(a, b) => leaf(a, &|p, _| Test::Contains(Box::new(Finder::new(p.as_bytes()).into_owned())), b)?,
        Node::Cmp(op, a, b) if a.ty == Type::Str && b.ty == Type::Str => {
            if source(a, column).is_some() {
                leaf(a, &|c, _| Test::Cmp(*op, c.into()), b)?
            } else {
                leaf(b, &|c, _| Test::Cmp(op.flip(), c.into()), a)?
            }
        }
        _ => return None,
    })
}

/// The case mappings that turn the column value into `e` (innermost first), if `e` is the
/// column under lower()/upper().
fn source(e: &TExpr, column: usize) -> Option<Vec<Case>> {
    match &e.node {
        Node::Column(c) if *c == column => Some(Vec::new()),
        Node::Lower(a) => source(a, column).map(|mut m| {
            m.push(Case::Lower);
            m
        }),
        Node::Upper(a) => source(a, column).map(|mut m| {
            m.push(Case::Upper);
            m
        }),
        _ => None,
    }
}

/// Apply `map` to `s`, borrowing `s` when there is nothing to apply.
fn case_map<'a>(s: &'a str, map: &[Case], sc: &'a mut Scratch) -> &'a str {
    let Some((first, rest)) = map.split_first() else { return s };
    sc.a.clear();
    map_into(*first, s, &mut sc.a);
    for c in rest {
        sc.b.clear();
        map_into(*c, &sc.a, &mut sc.b);
        std::mem::swap(&mut sc.a, &mut sc.b);
    }
    &sc.a
}

/// `out += lower(s)` / `upper(s)`, DuckDB's per-code-point mapping (`casemap`).
fn map_into(c: Case, s: &str, out: &mut String) {
    match c {
        Case::Lower => crate::casemap::lower_into(s, out),
        Case::Upper => crate::casemap::upper_into(s, out),
    }
}

/// A LIKE pattern split at `%`: the first piece is anchored at the start, the last at the end
/// (when there is a `%`), the middle ones float and are found leftmost-first. Each piece matches
/// a fixed number of characters (`_` is one character), so the leftmost match of a piece also
/// ends leftmost and greedy matching is exact; `eval::like` is the reference.
struct Like {
    /// The whole pattern when it has no `%`.
    exact: Option<Piece>,
    first: Piece,
    middle: Vec<Piece>,
    last: Piece,
}

/// Literal byte runs and runs of `_` (a count of characters).
struct Piece {
    toks: Vec<Tok>,
    /// For floating pieces: the first literal run (index into toks) and its searcher.
    find: Option<(usize, Finder<'static>)>,
}

enum Tok {
    Lit(Vec<u8>),
    Any(usize),
}

impl Like {
    fn new(pat: &str) -> Like {
        let mut pieces: Vec<Piece> = pat.split('%').map(Piece::new).collect();
        if pieces.len() == 1 {
            let p = pieces.pop().unwrap();
            return Like { exact: Some(p), first: Piece::new(""), middle: vec![], last: Piece::new("") };
        }
        let last = pieces.pop().unwrap();
        let first = pieces.remove(0);
        let middle = pieces.into_iter().filter(|p| !p.toks.is_empty()).collect();
        Like { exact: None, first, middle, last }
    }

    /// The longest literal run of the pattern: every match contains it.
    fn longest_literal(&self) -> Option<&[u8]> {
        let pieces = self.exact.iter().chain([&self.first, &self.last]).chain(&self.middle);
        let lits = pieces.flat_map(|p| p.toks.iter()).filter_map(|t| if let Tok::Lit(l) = t { Some(l.as_slice()) } else { None });
        lits.max_by_key(|l| l.len())
    }

    fn matches(&self, s: &[u8]) -> bool {
        if let Some(p) = &self.exact {
            return p.fwd(s, 0) == Some(s.len());
        }
        let Some(mut lo) = self.first.fwd(s, 0) else { return false };
        let Some(hi) = self.last.bwd(s, s.len()) else { return false };
        if hi < lo {
            return false; // the anchored ends overlap
        }
        let hay = &s[..hi];
        for p in &self.middle {
            match p.find(hay, lo) {
                Some(end) => lo = end,
                None => return false,
            }
        }
        true
    }
}

fn char_len(b: u8) -> usize {
    match b {
        0..=0x7F => 1,
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

fn is_cont(b: u8) -> bool {
    b & 0xC0 == 0x80
}

impl Piece {
    fn new(text: &str) -> Piece {
        let mut toks: Vec<Tok> = Vec::new();
        for b in text.bytes() {
            match (b, toks.last_mut()) {
                (b'_', Some(Tok::Any(n))) => *n += 1,
                (b'_', _) => toks.push(Tok::Any(1)),
                (b, Some(Tok::Lit(l))) => l.push(b),
                (b, _) => toks.push(Tok::Lit(vec![b])),
            }
        }
        let find = toks.iter().position(|t| matches!(t, Tok::Lit(_))).map(|i| {
            let Tok::Lit(l) = &toks[i] else { unreachable!() };
            (i, Finder::new(l).into_owned())
        });
        Piece { toks, find }
    }

    /// Match at `i` (a character boundary) going forward: the end of the match.
    fn fwd(&self, s: &[u8], mut i: usize) -> Option<usize> {
        for t in &self.toks {
            match t {
                Tok::Lit(l) => {
                    if !s[i..].starts_with(l) {
                        return None;
                    }
                    i += l.len();
                }
                Tok::Any(n) => {
                    for _ in 0..*n {
                        if i >= s.len() {
                            return None;
                        }
                        i += char_len(s[i]);
                    }
                    i = i.min(s.len());
                }
            }
        }
        Some(i)
    }

    /// Match ending at `e` going backward: the start of the match.
    fn bwd(&self, s: &[u8], mut e: usize) -> Option<usize> {
        for t in self.toks.iter().rev() {
            match t {
                Tok::Lit(l) => {
                    if !s[..e].ends_with(l) {
                        return None;
                    }
                    e -= l.len();
                }
                Tok::Any(n) => {
                    for _ in 0..*n {
                        if e == 0 {
                            return None;
                        }
                        e -= 1;
                        while e > 0 && is_cont(s[e]) {
                            e -= 1;
                        }
                    }
                }
            }
        }
        Some(e)
    }

    /// The leftmost match starting at or after `lo` (a character boundary) within `s`: its end.
    fn find(&self, s: &[u8], lo: usize) -> Option<usize> {
        let Some((k, finder)) = &self.find else {
            // Only `_`s: the leftmost start is `lo` itself.
            return self.fwd(s, lo);
        };
        // Candidates from the first literal run; the piece starts `before` characters earlier.
        let before: usize = self.toks[..*k].iter().map(|t| if let Tok::Any(n) = t { *n } else { 0 }).sum();
        let mut from = lo;
        while let Some(q) = finder.find(&s[from..]).map(|q| q + from) {
            let mut start = Some(q);
            for _ in 0..before {
                start = start.and_then(|mut p| {
                    if p <= lo {
                        return None;
                    }
                    p -= 1;
                    while p > lo && is_cont(s[p]) {
                        p -= 1;
                    }
                    Some(p)
                });
            }
            if let Some(end) = start.and_then(|p| self.fwd(s, p)) {
                return Some(end);
            }
            from = q + 1;
        }
        None
    }
}

/// FxHash (rustc's): a multiply-rotate hash, far cheaper than SipHash for short keys. The IN
/// lists come from the model, not from untrusted input, so HashDoS is not a concern.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

type Fx = BuildHasherDefault<FxHasher>;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let mut tail = [0u8; 8];
        let r = chunks.remainder();
        tail[..r.len()].copy_from_slice(r);
        self.add(u64::from_le_bytes(tail) ^ (r.len() as u64) << 59);
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval;

    fn col() -> TExpr {
        TExpr::new(Type::Str, Node::Column(0))
    }
    fn s(x: &str) -> TExpr {
        TExpr::konst(Type::Str, Value::Str(x.into()))
    }
    fn b(ty: Type, n: Node) -> TExpr {
        TExpr::new(ty, n)
    }
    fn like(e: TExpr, p: TExpr, ci: bool) -> TExpr {
        b(Type::Bool, Node::Like { e: Box::new(e), pat: Box::new(p), ci, esc: None })
    }

    /// The generic evaluator's table entry for `v`, as `eval_lookup` encodes it.
    fn generic(e: &TExpr, result: Type, v: Option<&str>) -> f64 {
        let bound = v.map(|s| Value::Str(s.into())).unwrap_or(Value::Null);
        match eval::eval(e, &|c| if c == 0 { Some(bound.clone()) } else { None }) {
            Some(Value::Bool(true)) => 2.0,
            Some(Value::Bool(false)) => 0.0,
            Some(Value::Int(i)) => i as f64,
            Some(Value::Float(f)) => f,
            _ if result == Type::Bool => 1.0,
            _ => f64::NAN,
        }
    }

    const VALUES: &[&str] = &[
        "", "a", "b", "ab", "ba", "abc", "abcabc", "aab", "abb", "a_c", "a%c", "%", "_", "__", "%%",
        "software", "Software", "SOFTWARE", "soft", "ware", "mississippi", "acme.io", "x.co.uk",
        "co.uk", ".io", "tech", "fintech", "TechCo", "2025w01_linkedin_x", "_linkedin_", "linkedin",
        "xlinkedinx", "2025w07_g2_pricing", "2025w01_a_retarget_b", "2025w0_retarget", "héllo",
        "HÉLLO", "hello", "日本語", "本", "日本", "aé", "é", "ÉA", "straße", "STRASSE", "ὈΔΥΣΣΕΎΣ",
        "ὀδυσσεύς", "ΣΑΣ", "σας", "İstanbul", "i̇stanbul", "ISTANBUL", "ǅ", "ǆ", "Ǆ", "ﬁ", "FI",
        "a\u{0}b", "ab\u{10FFFF}", "\u{10FFFF}", "x日y", "日本語日本語", "aXbXc", "data", "database",
        "Data", "CAPTERRA", "capterra_x", "Kelvin\u{212A}", "kelvink",
    ];

    const PATTERNS: &[&str] = &[
        "", "%", "%%", "_", "__", "___", "%_", "_%", "%_%", "a", "a%", "%a", "%a%", "a%c", "a_c",
        "a%b%c", "%b%", "ab%ab", "a%a", "abc%abc", "%abc", "_b%", "%_b", "%b_", "_%_", "a__",
        "%iss%ppi", "%iss_ppi", "m%i", "%.io", "%.co.uk", "%TECH%", "%tech%", "data%", "%cloud%",
        "%_linkedin_%", "%_g2_%", "2025w___%retarget%", "2025w__%retarget%", "h_llo", "h%llo",
        "HÉLLO", "%É%", "%é", "_本_", "__", "%本%", "日%語", "%ß%", "%SS%", "straße", "STRASSE",
        "%ς", "%σ%", "%Σ", "ΣΑΣ", "i̇%", "İ%", "%_%_%_%", "%a%a%a%", "%\u{10FFFF}", "_\u{0}_",
        "%CAPTERRA%", "%k", "%K",
    ];

    fn check(e: &TExpr, result: Type) {
        let c = Compiled::compile(e, 0, result).unwrap_or_else(|| panic!("no fast path for {e:?}"));
        let mut sc = Scratch::default();
        for v in VALUES.iter().map(|v| Some(*v)).chain([None]) {
            let (fast, slow) = (c.eval(v, &mut sc), generic(e, result, v));
            assert!(fast == slow || (fast.is_nan() && slow.is_nan()), "{e:?} on {v:?}: fast {fast} generic {slow}");
        }
    }

    #[test]
    fn like_and_ilike_match_the_generic_evaluator() {
        for p in PATTERNS {
            for ci in [false, true] {
                check(&like(col(), s(p), ci), Type::Bool);
                let lowered = b(Type::Str, Node::Lower(Box::new(col())));
                check(&like(lowered, s(p), ci), Type::Bool);
                let upper = b(Type::Str, Node::Upper(Box::new(col())));
                check(&like(upper, s(p), ci), Type::Bool);
            }
        }
        check(&like(col(), TExpr::null(Type::Str), false), Type::Bool);
    }

    #[test]
    fn pieces_agree_with_eval_like_on_generated_strings() {
        // Every string over a small alphabet (with a multi-byte character) up to length 5
        // against every pattern over the alphabet plus `%`/`_` up to length 4.
        let alpha = ['a', 'b', 'é'];
        let mut values = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            frontier = frontier.iter().flat_map(|f| alpha.iter().map(move |c| format!("{f}{c}"))).collect();
            values.extend(frontier.iter().cloned());
        }
        let palpha = ['a', 'é', '%', '_'];
        let mut pats = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            frontier = frontier.iter().flat_map(|f| palpha.iter().map(move |c| format!("{f}{c}"))).collect();
            pats.extend(frontier.iter().cloned());
        }
        for p in &pats {
            let l = Like::new(p);
            for v in &values {
                assert_eq!(l.matches(v.as_bytes()), eval::like(v, p), "{v:?} LIKE {p:?}");
            }
        }
    }

    #[test]
    fn other_shapes_match_the_generic_evaluator() {
        let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<std::collections::BTreeSet<_>>();
        let strin = |e: TExpr, xs: &[&str], has_null| b(Type::Bool, Node::StrIn { e: Box::new(e), set: set(xs), has_null });
        let lower = b(Type::Str, Node::Lower(Box::new(col())));
        let upper = b(Type::Str, Node::Upper(Box::new(col())));
        let lower_upper = b(Type::Str, Node::Lower(Box::new(upper.clone())));
        let in_list = &["a", "", "software", "日本語", "straße", "σας"][..];
        let mut shapes = vec![];
        for e in [col(), lower.clone(), upper.clone(), lower_upper.clone()] {
            shapes.push(strin(e.clone(), in_list, false));
            shapes.push(strin(e.clone(), in_list, true));
            shapes.push(strin(e.clone(), &[], true));
            for c in ["", "a", "soft", "日", "ß", "SS", "Σ"] {
                shapes.push(b(Type::Bool, Node::StartsWith(Box::new(e.clone()), Box::new(s(c)))));
                shapes.push(b(Type::Bool, Node::StrFn(SFn::EndsWith, vec![e.clone(), s(c)])));
                shapes.push(b(Type::Bool, Node::Contains(Box::new(e.clone()), Box::new(s(c)))));
                for op in [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge] {
                    shapes.push(b(Type::Bool, Node::Cmp(op, Box::new(e.clone()), Box::new(s(c)))));
                    shapes.push(b(Type::Bool, Node::Cmp(op, Box::new(s(c)), Box::new(e.clone()))));
                }
            }
            shapes.push(b(Type::Bool, Node::StartsWith(Box::new(e.clone()), Box::new(TExpr::null(Type::Str)))));
            shapes.push(b(Type::Bool, Node::Cmp(Cmp::Eq, Box::new(e.clone()), Box::new(TExpr::null(Type::Str)))));
            shapes.push(b(Type::Bool, Node::IsNull(Box::new(e.clone()))));
            for (pat, opts) in [("^s", ""), ("SS|ß", "i"), ("\\w+", ""), ("^.$", "s"), ("σ", "i"), ("a.c", "l")] {
                shapes.push(b(Type::Bool, Node::Regexp { e: Box::new(e.clone()), pat: pat.into(), opts: opts.into() }));
            }
        }
        let p1 = like(col(), s("%a%"), false);
        let p2 = strin(col(), in_list, true);
        let p3 = like(col(), s("%TECH%"), true);
        let not = |x: TExpr| b(Type::Bool, Node::Not(Box::new(x)));
        let and = |x: TExpr, y: TExpr| b(Type::Bool, Node::And(Box::new(x), Box::new(y)));
        let or = |x: TExpr, y: TExpr| b(Type::Bool, Node::Or(Box::new(x), Box::new(y)));
        let isnull = |x: TExpr| b(Type::Bool, Node::IsNull(Box::new(x)));
        shapes.extend([
            not(p1.clone()),
            and(p1.clone(), p2.clone()),
            or(p1.clone(), p2.clone()),
            and(not(p2.clone()), or(p3.clone(), isnull(col()))),
            or(isnull(p2.clone()), TExpr::bool(false)),
            and(TExpr::null(Type::Bool), p1.clone()),
            or(TExpr::null(Type::Bool), p1.clone()),
            not(isnull(and(p2.clone(), p3.clone()))),
            b(Type::Bool, Node::Select(Box::new(p2.clone()), Box::new(p1.clone()), Box::new(not(p3.clone())))),
            b(Type::Bool, Node::Coalesce(Box::new(p2.clone()), Box::new(p3.clone()))),
            b(Type::Bool, Node::Coalesce(Box::new(p2.clone()), Box::new(TExpr::bool(false)))),
        ]);
        for e in &shapes {
            check(e, Type::Bool);
        }
        let int = |i| TExpr::konst(Type::Int, Value::Int(i));
        let sel = |c: TExpr, a: TExpr, d: TExpr| b(a.ty, Node::Select(Box::new(c), Box::new(a), Box::new(d)));
        check(&sel(p2.clone(), int(5), int(-3)), Type::Int);
        check(&sel(p2.clone(), int(5), TExpr::null(Type::Int)), Type::Int);
        let fl = |f| TExpr::konst(Type::Float, Value::Float(f));
        check(&sel(p1.clone(), fl(1.5), sel(p3.clone(), fl(2.5), TExpr::null(Type::Float))), Type::Float);
    }

    #[test]
    fn unknown_shapes_fall_back() {
        let len_like = b(Type::Bool, Node::Like { e: Box::new(col()), pat: Box::new(col()), ci: false, esc: None });
        assert!(Compiled::compile(&len_like, 0, Type::Bool).is_none());
        let other_col = like(TExpr::new(Type::Str, Node::Column(1)), s("a%"), false);
        assert!(Compiled::compile(&other_col, 0, Type::Bool).is_none());
    }
}
