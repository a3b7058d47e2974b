//! Pass 2, typecheck: `Ast` → `TExpr` against the input schema and the scores defined so far.
//! Resolves names (earlier scores first, then columns), removes sugar, makes int→float casts
//! explicit, and rejects what the engine cannot run, with a position and a suggestion.

use crate::ast::{Ast, Lit, Pos};
use crate::error::{suggest, CompileError, ErrorKind, Result};
use crate::model::Schema;
use crate::parse::FUNCTIONS;
use crate::tir::{Aop, Cmp, Fun, Node, SFn, TExpr, Value};
use crate::types::Type;

/// An input the program reads: a schema column, or a derived `has_any` flag over one.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnRef {
    pub name: String,
    pub ty: Type,
    pub has_any: Option<Vec<String>>,
}

impl ColumnRef {
    pub fn kind(&self) -> &'static str {
        if self.has_any.is_some() {
            "has_any"
        } else {
            self.ty.kind()
        }
    }
}

/// Names visible to an expression, and the program's column table being built.
pub struct Scope<'a> {
    pub schema: &'a Schema,
    /// All score names of the model, in order.
    pub scores: &'a [String],
    /// How many of them are defined before the expression being checked.
    pub visible_scores: usize,
    /// Segmentations (name, labels) visible to the expression (queries, matrix inputs).
    pub segments: &'a [(String, Vec<String>)],
    pub columns: &'a mut Vec<ColumnRef>,
}

fn err(kind: ErrorKind, at: Pos, message: impl Into<String>) -> CompileError {
    let mut e = CompileError::new(kind, message);
    e.line = at.line;
    e.col = at.col;
    e
}

fn boxed(e: TExpr) -> Box<TExpr> {
    Box::new(e)
}

/// Make a numeric (or NULL) expression float.
pub fn to_float(e: TExpr) -> TExpr {
    match e.ty {
        Type::Int => TExpr::new(Type::Float, Node::Cast(boxed(e))),
        Type::Null => TExpr::null(Type::Float),
        _ => e,
    }
}

/// Give a bare NULL the type `ty`.
fn retype_null(e: TExpr, ty: Type) -> TExpr {
    if e.ty == Type::Null {
        TExpr::null(ty)
    } else {
        e
    }
}

impl<'a> Scope<'a> {
    fn column(&mut self, name: &str, at: Pos) -> Result<(usize, Type)> {
        let fields = &self.schema.fields;
        let found = fields.iter().find(|(n, _)| n == name).or_else(|| {
            let ci: Vec<_> = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).collect();
            if ci.len() == 1 {
                Some(ci[0])
            } else {
                None
            }
        });
        let Some((real, ty)) = found else {
            let candidates = fields.iter().map(|(n, _)| n.as_str()).chain(self.scores[..self.visible_scores].iter().map(|s| s.as_str()));
            return Err(err(ErrorKind::Schema, at, format!("unknown column '{name}'{}", suggest(name, candidates))));
        };
        Ok((self.intern(ColumnRef { name: real.clone(), ty: *ty, has_any: None }), *ty))
    }

    fn intern(&mut self, c: ColumnRef) -> usize {
        match self.columns.iter().position(|x| *x == c) {
            Some(i) => i,
            None => {
                self.columns.push(c);
                self.columns.len() - 1
            }
        }
    }

    pub fn check(&mut self, a: &Ast) -> Result<TExpr> {
        Ok(match a {
            Ast::Lit { v } => match v {
                Lit::Null(()) => TExpr::null(Type::Null),
                Lit::Bool(b) => TExpr::bool(*b),
                Lit::Int(i) => TExpr::konst(Type::Int, Value::Int(*i)),
                Lit::Float(f) => TExpr::konst(Type::Float, Value::Float(*f)),
                Lit::Str(s) => TExpr::konst(Type::Str, Value::Str(s.clone())),
            },
            Ast::Col { name, at } => {
                if let Some(i) = self.scores[..self.visible_scores].iter().position(|s| s == name) {
                    return Ok(TExpr::new(Type::Float, Node::Score(i)));
                }
                if let Some(g) = self.segments.iter().position(|(s, _)| s == name) {
                    return Ok(TExpr::new(Type::Label, Node::Segment(g)));
                }
                if let Some(i) = self.scores.iter().position(|s| s == name) {
                    let own = i == self.visible_scores;
                    let msg = if own {
                        format!("score '{name}' refers to itself")
                    } else {
                        format!("score '{name}' is used before it is defined (scores are evaluated in order; move it up)")
                    };
                    return Err(err(ErrorKind::Type, *at, msg));
                }
                let (idx, ty) = self.column(name, *at)?;
                if ty == Type::Null {
                    // Every row NULL: the column is a bare NULL that takes its type from context.
                    return Ok(TExpr::null(Type::Null));
                }
                TExpr::new(ty, Node::Column(idx))
            }
            Ast::Bin { op, l, r, at } => {
                let (l, r) = (self.check(l)?, self.check(r)?);
                match *op {
                    "+" | "-" | "*" | "/" | "%" | "//" => arith(op, l, r, *at)?,
                    "=" | "<>" | "<" | "<=" | ">" | ">=" => self.compare(op, l, r, *at)?,
                    "||" => {
                        let (l, r) = (string(l, "'||'", *at)?, string(r, "'||'", *at)?);
                        TExpr::new(Type::Str, Node::StrFn(SFn::Concat, vec![l, r]))
                    }
                    _ => {
                        let (l, r) = (boolean(l, op, *at)?, boolean(r, op, *at)?);
                        let node = if *op == "and" { Node::And(boxed(l), boxed(r)) } else { Node::Or(boxed(l), boxed(r)) };
                        TExpr::new(Type::Bool, node)
                    }
                }
            }
            Ast::Neg { e } => {
                let e = self.check(e)?;
                let at = a.pos();
                match e.ty {
                    Type::Int | Type::Float => TExpr::new(e.ty, Node::Math(Fun::Neg, boxed(e))),
                    Type::Null => TExpr::null(Type::Float),
                    t => return Err(err(ErrorKind::Type, at, format!("cannot negate a {t}"))),
                }
            }
            Ast::Not { e } => {
                let e = boolean(self.check(e)?, "NOT", a.pos())?;
                TExpr::new(Type::Bool, Node::Not(boxed(e)))
            }
            Ast::IsNull { e, neg } => {
                let e = self.check(e)?;
                // a bare column is tested in place (IS_NULL_COL); other date values as numbers
                let e = if matches!(e.node, Node::Column(_)) { e } else { lower_temporal(e) };
                let is_null = TExpr::new(Type::Bool, Node::IsNull(boxed(e)));
                negate_if(is_null, *neg)
            }
            Ast::In { e, list, neg } => {
                let at = a.pos();
                let e = self.check(e)?;
                if e.ty == Type::Str {
                    if let Some(set) = string_set(list) {
                        let has_null = list.iter().any(|x| matches!(x, Ast::Lit { v: Lit::Null(()) }));
                        let node = Node::StrIn { e: boxed(e), set, has_null };
                        return Ok(negate_if(TExpr::new(Type::Bool, node), *neg));
                    }
                }
                let mut acc: Option<TExpr> = None;
                for item in list {
                    let item = self.check(item)?;
                    let eq = self.compare("=", e.clone(), item, at)?;
                    acc = Some(match acc {
                        None => eq,
                        Some(prev) => TExpr::new(Type::Bool, Node::Or(boxed(prev), boxed(eq))),
                    });
                }
                negate_if(acc.ok_or_else(|| err(ErrorKind::Expression, at, "IN () needs at least one value"))?, *neg)
            }
            Ast::Between { e, lo, hi, neg } => {
                let at = a.pos();
                let e = self.check(e)?;
                let (lo, hi) = (self.check(lo)?, self.check(hi)?);
                let ge = self.compare(">=", e.clone(), lo, at)?;
                let le = self.compare("<=", e, hi, at)?;
                negate_if(TExpr::new(Type::Bool, Node::And(boxed(ge), boxed(le))), *neg)
            }
            Ast::Like { e, pat, neg, ci, esc, at } => {
                let e = string(self.check(e)?, "LIKE", *at)?;
                let pat = string(self.check(pat)?, "LIKE", *at)?;
                let esc = esc.as_deref().and_then(|s| s.chars().next());
                if let Some(c) = esc {
                    if *ci && (crate::casemap::lower_char(c) != c || crate::casemap::upper_char(c) != c) {
                        return Err(err(ErrorKind::Type, *at, format!("ILIKE ... ESCAPE '{c}': the escape character must be one without case (e.g. '\\' or '#')")));
                    }
                    if let Node::Const(Value::Str(p)) = &pat.node {
                        if crate::strfns::dangling_escape(p, c) {
                            return Err(err(ErrorKind::Type, *at, format!("LIKE pattern '{p}' ends with its escape character '{c}'")));
                        }
                    }
                }
                negate_if(TExpr::new(Type::Bool, Node::Like { e: boxed(e), pat: boxed(pat), ci: *ci, esc }), *neg)
            }
            Ast::Case { operand, whens, else_ } => self.case(operand.as_deref(), whens, else_.as_deref(), a.pos())?,
            Ast::Cast { e, to, at, .. } => {
                let x = self.check(e)?;
                cast(x, to, *at)?
            }
            Ast::Distinct { l, r, neg } => {
                // a IS NOT DISTINCT FROM b  ≡  (a IS NULL AND b IS NULL) OR coalesce(a = b, FALSE)
                let at = a.pos();
                let (l, r) = (self.check(l)?, self.check(r)?);
                let eq = self.compare("=", l.clone(), r.clone(), at)?;
                let null = |x: TExpr| TExpr::new(Type::Bool, Node::IsNull(boxed(x)));
                let both = TExpr::new(Type::Bool, Node::And(boxed(null(l)), boxed(null(r))));
                let same = TExpr::new(Type::Bool, Node::Coalesce(boxed(eq), boxed(TExpr::bool(false))));
                negate_if(TExpr::new(Type::Bool, Node::Or(boxed(both), boxed(same))), !*neg)
            }
            Ast::Truth { e, is, neg } => {
                let what = match is {
                    Some(true) => "IS TRUE",
                    Some(false) => "IS FALSE",
                    None => "IS UNKNOWN",
                };
                let x = boolean(self.check(e)?, what, a.pos())?;
                let t = match is {
                    None => TExpr::new(Type::Bool, Node::IsNull(boxed(x))),
                    Some(v) => {
                        let x = negate_if(x, !*v);
                        TExpr::new(Type::Bool, Node::Coalesce(boxed(x), boxed(TExpr::bool(false))))
                    }
                };
                negate_if(t, *neg)
            }
            Ast::Call { func, args, at } => self.call(func, args, *at)?,
        })
    }

    /// `compare`, plus segment labels: `tier = 'hot'` compares label codes.
    fn compare(&self, op: &str, l: TExpr, r: TExpr, at: Pos) -> Result<TExpr> {
        let (seg, other, flipped) = match (&l.node, &r.node) {
            (Node::Segment(_), _) => (l, r, false),
            (_, Node::Segment(_)) => (r, l, true),
            _ => return compare(op, l, r, at),
        };
        let Node::Segment(g) = seg.node else { unreachable!() };
        let (name, labels) = &self.segments[g];
        if !matches!(op, "=" | "<>") {
            return Err(err(ErrorKind::Type, at, format!("segments compare with = or <> only, not '{op}'")));
        }
        let code = match &other.node {
            Node::Const(Value::Str(s)) => match labels.iter().position(|l| l == s) {
                Some(c) => TExpr::konst(Type::Int, Value::Int(c as i64)),
                None => {
                    let hint = suggest(s, labels.iter().map(|l| l.as_str()));
                    return Err(err(ErrorKind::Type, at, format!("segmentation '{name}' has no segment '{s}'{hint}")));
                }
            },
            Node::Const(Value::Null) => TExpr::null(Type::Int),
            _ => return Err(err(ErrorKind::Type, at, format!("segmentation '{name}' compares only with segment names in quotes"))),
        };
        let seg = TExpr::new(Type::Int, Node::Segment(g));
        if flipped {
            compare(op, code, seg, at)
        } else {
            compare(op, seg, code, at)
        }
    }

    fn case(&mut self, operand: Option<&Ast>, whens: &[(Ast, Ast)], else_: Option<&Ast>, at: Pos) -> Result<TExpr> {
        let operand = operand.map(|o| self.check(o)).transpose()?;
        let mut conds = Vec::new();
        let mut results = Vec::new();
        for (c, r) in whens {
            let c = self.check(c)?;
            let c = match &operand {
                Some(o) => self.compare("=", o.clone(), c, c_pos(r, at))?,
                None => boolean(c, "CASE WHEN", at)?,
            };
            conds.push(c);
            results.push(self.check(r)?);
        }
        let mut other = match else_ {
            Some(e) => self.check(e)?,
            None => TExpr::null(Type::Null),
        };
        let ty = unify(results.iter().map(|r| r.ty).chain([other.ty]), "CASE results", at)?;
        other = coerce(other, ty);
        for (c, r) in conds.into_iter().zip(results).rev() {
            other = TExpr::new(ty, Node::Select(boxed(c), boxed(coerce(r, ty)), boxed(other)));
        }
        Ok(other)
    }

    fn call(&mut self, func: &str, args: &[Ast], at: Pos) -> Result<TExpr> {
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(err(ErrorKind::Type, at, format!("{func}() takes {n} argument{}, got {}", if n == 1 { "" } else { "s" }, args.len())))
            }
        };
        Ok(match func {
            "least" | "greatest" | "coalesce" => {
                if args.is_empty() {
                    return Err(err(ErrorKind::Type, at, format!("{func}() needs at least one argument")));
                }
                let items = args.iter().map(|x| self.check(x)).collect::<Result<Vec<_>>>()?;
                let ty = unify(items.iter().map(|i| i.ty), &format!("{func}() arguments"), at)?;
                if func != "coalesce" && !matches!(ty, Type::Int | Type::Float | Type::Null | Type::Str | Type::Date | Type::Timestamp) {
                    return Err(err(ErrorKind::Type, at, format!("{func}() takes numbers, strings, dates or timestamps, got {ty}")));
                }
                let mut items = items.into_iter().map(|i| coerce(i, ty));
                let first = items.next().expect("non-empty");
                items.fold(first, |acc, x| {
                    let node = match func {
                        "least" => Node::MinMax(false, boxed(acc), boxed(x)),
                        "greatest" => Node::MinMax(true, boxed(acc), boxed(x)),
                        _ => Node::Coalesce(boxed(acc), boxed(x)),
                    };
                    TExpr::new(ty, node)
                })
            }
            "abs" => {
                arity(1)?;
                let x = numeric(self.check(&args[0])?, func, at)?;
                TExpr::new(x.ty, Node::Math(Fun::Abs, boxed(x)))
            }
            "ln" | "exp" | "sqrt" => {
                arity(1)?;
                let x = to_float(numeric(self.check(&args[0])?, func, at)?);
                let f = match func {
                    "ln" => Fun::Ln,
                    "exp" => Fun::Exp,
                    _ => Fun::Sqrt,
                };
                TExpr::new(Type::Float, Node::Math(f, boxed(x)))
            }
            "floor" | "ceil" | "ceiling" | "log10" | "log2" => {
                arity(1)?;
                let x = to_float(numeric(self.check(&args[0])?, func, at)?);
                let f = match func {
                    "floor" => Fun::Floor,
                    "ceil" | "ceiling" => Fun::Ceil,
                    "log10" => Fun::Log10,
                    _ => Fun::Log2,
                };
                TExpr::new(Type::Float, Node::Math(f, boxed(x)))
            }
            "round" => {
                if !(1..=2).contains(&args.len()) {
                    return Err(err(ErrorKind::Type, at, format!("round() takes 1 or 2 arguments (number[, digits]), got {}", args.len())));
                }
                let x = numeric(self.check(&args[0])?, func, at)?;
                let digits = match args.get(1).map(|d| self.check(d)).transpose()?.map(|d| d.node) {
                    None => 0,
                    Some(Node::Const(Value::Int(d))) => d,
                    Some(Node::Const(Value::Null)) => return Ok(TExpr::null(if x.ty == Type::Int { Type::Int } else { Type::Float })),
                    Some(_) => return Err(err(ErrorKind::Type, at, "round() takes its digits as an integer literal")),
                };
                round(x, digits)
            }
            "sign" => {
                arity(1)?;
                let x = numeric(self.check(&args[0])?, func, at)?;
                if x.ty == Type::Null {
                    return Ok(TExpr::null(Type::Int));
                }
                // TINYINT -1 / 0 / 1 in DuckDB; NULL stays NULL (every comparison is NULL).
                let zero = if x.ty == Type::Int { TExpr::konst(Type::Int, Value::Int(0)) } else { TExpr::konst(Type::Float, Value::Float(0.0)) };
                let int = |i: i64| TExpr::konst(Type::Int, Value::Int(i));
                let cmp = |c: Cmp| TExpr::new(Type::Bool, Node::Cmp(c, boxed(x.clone()), boxed(zero.clone())));
                let eq = TExpr::new(Type::Int, Node::Select(boxed(cmp(Cmp::Eq)), boxed(int(0)), boxed(TExpr::null(Type::Int))));
                let lt = TExpr::new(Type::Int, Node::Select(boxed(cmp(Cmp::Lt)), boxed(int(-1)), boxed(eq)));
                TExpr::new(Type::Int, Node::Select(boxed(cmp(Cmp::Gt)), boxed(int(1)), boxed(lt)))
            }
            "pow" | "power" => {
                arity(2)?;
                let x = to_float(numeric(self.check(&args[0])?, func, at)?);
                let y = to_float(numeric(self.check(&args[1])?, func, at)?);
                TExpr::new(Type::Float, Node::Arith(Aop::Pow, boxed(x), boxed(y)))
            }
            "mod" => {
                arity(2)?;
                let (x, y) = (self.check(&args[0])?, self.check(&args[1])?);
                arith("%", x, y, at)?
            }
            "lower" | "upper" => {
                arity(1)?;
                let x = string(self.check(&args[0])?, func, at)?;
                TExpr::new(Type::Str, if func == "lower" { Node::Lower(boxed(x)) } else { Node::Upper(boxed(x)) })
            }
            "starts_with" | "contains" => {
                arity(2)?;
                let a = string(self.check(&args[0])?, func, at)?;
                let b = string(self.check(&args[1])?, func, at)?;
                let node = if func == "contains" { Node::Contains(boxed(a), boxed(b)) } else { Node::StartsWith(boxed(a), boxed(b)) };
                TExpr::new(Type::Bool, node)
            }
            "length" | "trim" | "ltrim" | "rtrim" | "ends_with" | "split_part" | "substring" | "substr" | "left" | "right"
            | "replace" | "strip_accents" | "concat" => self.string_fn(func, args, at)?,
            "regexp_matches" => {
                if !(2..=3).contains(&args.len()) {
                    return Err(err(ErrorKind::Type, at, format!("regexp_matches() takes 2 or 3 arguments (string, pattern[, options]), got {}", args.len())));
                }
                let s = string(self.check(&args[0])?, func, at)?;
                let constant = |a: &Ast, what: &str| -> Result<Option<String>> {
                    match a {
                        Ast::Lit { v: Lit::Str(p) } => Ok(Some(p.clone())),
                        Ast::Lit { v: Lit::Null(()) } => Ok(None),
                        _ => Err(err(ErrorKind::Type, at, format!("regexp_matches() needs a constant {what} (a string literal)"))),
                    }
                };
                let pat = constant(&args[1], "pattern")?;
                let opts = match args.get(2) {
                    None => Some(String::new()),
                    Some(a) => match constant(a, "options string")? {
                        Some(o) => Some(o),
                        None => return Err(err(ErrorKind::Type, at, "regexp_matches() options must not be NULL")),
                    },
                };
                let (Some(pat), Some(opts)) = (pat, opts) else { return Ok(TExpr::null(Type::Bool)) };
                if let Err(m) = crate::re2::compile(&pat, &opts) {
                    return Err(err(ErrorKind::Type, at, format!("regexp_matches(): {m}")));
                }
                TExpr::new(Type::Bool, Node::Regexp { e: boxed(s), pat, opts })
            }
            "days_since" => {
                arity(1)?;
                let x = self.check(&args[0])?;
                match (&x.node, x.ty) {
                    (Node::Column(c), Type::Timestamp | Type::Date) => TExpr::new(Type::Float, Node::Days(*c)),
                    (_, Type::Null) => TExpr::null(Type::Float),
                    (_, t) => return Err(err(ErrorKind::Type, at, format!("days_since() takes a timestamp or date column, got {t}"))),
                }
            }
            "decay" => {
                arity(3)?;
                let mut xs = Vec::new();
                for x in args {
                    xs.push(to_float(numeric(self.check(x)?, func, at)?));
                }
                let (h, a, p) = (xs.pop().unwrap(), xs.pop().unwrap(), xs.pop().unwrap());
                TExpr::new(Type::Float, Node::Decay(boxed(p), boxed(a), boxed(h)))
            }
            "has_any" => {
                if args.len() < 2 {
                    return Err(err(ErrorKind::Type, at, "has_any() takes a list<string> column and at least one string"));
                }
                let Ast::Col { name, at: col_at } = &args[0] else {
                    return Err(err(ErrorKind::Type, at, "has_any() takes a list<string> column as its first argument"));
                };
                let (_, ty) = self.column(name, *col_at)?;
                if ty != Type::ListStr {
                    return Err(err(ErrorKind::Type, *col_at, format!("has_any() needs a list<string> column; '{name}' is {ty}")));
                }
                let mut values = Vec::new();
                for x in &args[1..] {
                    match x {
                        Ast::Lit { v: Lit::Str(s) } => values.push(s.clone()),
                        _ => return Err(err(ErrorKind::Type, at, "has_any() values must be string literals")),
                    }
                }
                let real = self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name) && c.ty == Type::ListStr).map(|c| c.name.clone());
                let idx = self.intern(ColumnRef { name: real.unwrap_or_else(|| name.clone()), ty: Type::Bool, has_any: Some(values) });
                TExpr::new(Type::Bool, Node::Column(idx))
            }
            _ => {
                return Err(err(
                    ErrorKind::Type,
                    at,
                    format!("unknown function '{func}'{}", suggest(func, FUNCTIONS.iter().copied())),
                ))
            }
        })
    }
}

impl Scope<'_> {
    /// The string functions over `SFn`: arity, argument types, result type.
    fn string_fn(&mut self, func: &str, args: &[Ast], at: Pos) -> Result<TExpr> {
        use SFn::*;
        // (function, argument kinds: 's' string / 'n' integer, how many are optional, result)
        let (f, kinds, optional, ty) = match func {
            "length" => (Length, "s", 0, Type::Int),
            "trim" => (Trim, "ss", 1, Type::Str),
            "ltrim" => (LTrim, "ss", 1, Type::Str),
            "rtrim" => (RTrim, "ss", 1, Type::Str),
            "ends_with" => (EndsWith, "ss", 0, Type::Bool),
            "split_part" => (SplitPart, "ssn", 0, Type::Str),
            "substring" | "substr" => (Substring, "snn", 1, Type::Str),
            "left" => (Left, "sn", 0, Type::Str),
            "right" => (Right, "sn", 0, Type::Str),
            "replace" => (Replace, "sss", 0, Type::Str),
            "strip_accents" => (StripAccents, "s", 0, Type::Str),
            _ => (ConcatSkipNull, "", 0, Type::Str),
        };
        if f == ConcatSkipNull {
            if args.is_empty() {
                return Err(err(ErrorKind::Type, at, "concat() needs at least one argument"));
            }
        } else if args.len() > kinds.len() || args.len() + optional < kinds.len() {
            let n = if optional > 0 { format!("{} or {}", kinds.len() - optional, kinds.len()) } else { kinds.len().to_string() };
            return Err(err(ErrorKind::Type, at, format!("{func}() takes {n} argument{}, got {}", if n == "1" { "" } else { "s" }, args.len())));
        }
        let mut xs = Vec::new();
        for (k, a) in args.iter().enumerate() {
            let x = self.check(a)?;
            xs.push(match kinds.as_bytes().get(k).copied().unwrap_or(b's') {
                b'n' => match x.ty {
                    Type::Int => x,
                    Type::Null => TExpr::null(Type::Int),
                    t => return Err(err(ErrorKind::Type, at, format!("{func}() argument {} needs an integer, got {t}", k + 1))),
                },
                _ => string(x, &format!("{func}()"), at)?,
            });
        }
        Ok(TExpr::new(ty, Node::StrFn(f, xs)))
    }
}

/// The strings of an IN list made only of string literals (and NULLs), else None.
fn string_set(list: &[Ast]) -> Option<std::collections::BTreeSet<String>> {
    let mut set = std::collections::BTreeSet::new();
    for item in list {
        match item {
            Ast::Lit { v: Lit::Str(s) } => {
                set.insert(s.clone());
            }
            Ast::Lit { v: Lit::Null(()) } => {}
            _ => return None,
        }
    }
    Some(set)
}

fn c_pos(a: &Ast, fallback: Pos) -> Pos {
    let p = a.pos();
    if p.line == 0 {
        fallback
    } else {
        p
    }
}

fn negate_if(e: TExpr, neg: bool) -> TExpr {
    if neg {
        TExpr::new(Type::Bool, Node::Not(boxed(e)))
    } else {
        e
    }
}

fn boolean(e: TExpr, what: &str, at: Pos) -> Result<TExpr> {
    match e.ty {
        Type::Bool => Ok(e),
        Type::Int => Ok(int_truth(e)),
        Type::Null => Ok(TExpr::null(Type::Bool)),
        t => Err(err(ErrorKind::Type, at, format!("{what} needs a boolean, got {t}"))),
    }
}

/// An integer used as a condition (a 0/1 flag column): nonzero is TRUE, as in DuckDB.
pub fn int_truth(e: TExpr) -> TExpr {
    TExpr::new(Type::Bool, Node::Cmp(Cmp::Ne, boxed(e), boxed(TExpr::konst(Type::Int, Value::Int(0)))))
}

/// round(x[, digits]) as DuckDB: a float rounds half away from zero (`RoundTo` for digits ≠ 0);
/// an integer is itself for digits ≥ 0, else rounded half away to a multiple of 10^-digits.
fn round(x: TExpr, digits: i64) -> TExpr {
    let int = |i: i64| TExpr::konst(Type::Int, Value::Int(i));
    match x.ty {
        Type::Null => TExpr::null(Type::Float),
        Type::Int if digits >= 0 => x,
        Type::Int if digits <= -19 => {
            let null = TExpr::new(Type::Bool, Node::IsNull(boxed(x)));
            TExpr::new(Type::Int, Node::Select(boxed(null), boxed(TExpr::null(Type::Int)), boxed(int(0))))
        }
        Type::Int => {
            let p = 10i64.pow((-digits) as u32);
            let neg = TExpr::new(Type::Bool, Node::Cmp(Cmp::Lt, boxed(x.clone()), boxed(int(0))));
            let half = TExpr::new(Type::Int, Node::Select(boxed(neg), boxed(int(-p / 2)), boxed(int(p / 2))));
            let shifted = TExpr::new(Type::Int, Node::Arith(Aop::Add, boxed(x), boxed(half)));
            let q = TExpr::new(Type::Int, Node::Arith(Aop::IntDiv, boxed(shifted), boxed(int(p))));
            TExpr::new(Type::Int, Node::Arith(Aop::Mul, boxed(q), boxed(int(p))))
        }
        _ if digits == 0 => TExpr::new(Type::Float, Node::Math(Fun::Round, boxed(x))),
        _ => TExpr::new(Type::Float, Node::RoundTo(boxed(x), digits)),
    }
}

/// `CAST(x AS to)` (`to` one of `ast::CAST_TYPES`). A value that does not convert is NULL
/// (DuckDB raises an error there: CAST behaves as TRY_CAST, a documented departure).
fn cast(x: TExpr, to: &str, at: Pos) -> Result<TExpr> {
    let int = |i: i64| TExpr::konst(Type::Int, Value::Int(i));
    let flt = |f: f64| TExpr::konst(Type::Float, Value::Float(f));
    // CASE WHEN b THEN t WHEN NOT b THEN f END
    let of_bool = |b: TExpr, t: TExpr, f: TExpr, ty: Type| {
        let not = TExpr::new(Type::Bool, Node::Not(boxed(b.clone())));
        let inner = TExpr::new(ty, Node::Select(boxed(not), boxed(f), boxed(TExpr::null(ty))));
        TExpr::new(ty, Node::Select(boxed(b), boxed(t), boxed(inner)))
    };
    let str_fn = |f: SFn, ty: Type, x: TExpr| TExpr::new(ty, Node::StrFn(f, vec![x]));
    let unsupported = |x: &TExpr| err(ErrorKind::Type, at, format!("CAST of {} values to {} is not supported", x.ty, to.to_uppercase()));
    Ok(match to {
        "bigint" | "int" => {
            let v = match x.ty {
                Type::Null => TExpr::null(Type::Int),
                Type::Int => x,
                Type::Float => TExpr::new(Type::Int, Node::ToInt(boxed(x))),
                Type::Bool => of_bool(x, int(1), int(0), Type::Int),
                Type::Str => str_fn(SFn::ToInt, Type::Int, x),
                _ => return Err(unsupported(&x)),
            };
            if to == "int" {
                // INTEGER is 32 bits: outside it DuckDB raises; NULL here.
                let ge = TExpr::new(Type::Bool, Node::Cmp(Cmp::Ge, boxed(v.clone()), boxed(int(i32::MIN as i64))));
                let le = TExpr::new(Type::Bool, Node::Cmp(Cmp::Le, boxed(v.clone()), boxed(int(i32::MAX as i64))));
                let fits = TExpr::new(Type::Bool, Node::And(boxed(ge), boxed(le)));
                TExpr::new(Type::Int, Node::Select(boxed(fits), boxed(v), boxed(TExpr::null(Type::Int))))
            } else {
                v
            }
        }
        "double" => match x.ty {
            Type::Null => TExpr::null(Type::Float),
            Type::Int | Type::Float => to_float(x),
            Type::Bool => of_bool(x, flt(1.0), flt(0.0), Type::Float),
            Type::Str => str_fn(SFn::ToFloat, Type::Float, x),
            _ => return Err(unsupported(&x)),
        },
        "boolean" => match x.ty {
            Type::Null => TExpr::null(Type::Bool),
            Type::Bool => x,
            Type::Int => int_truth(x),
            Type::Float => TExpr::new(Type::Bool, Node::Cmp(Cmp::Ne, boxed(x), boxed(flt(0.0)))),
            Type::Str => str_fn(SFn::ToBool, Type::Bool, x),
            _ => return Err(unsupported(&x)),
        },
        "varchar" => match (&x.node, x.ty) {
            (_, Type::Null) => TExpr::null(Type::Str),
            (_, Type::Str) => x,
            (Node::Const(Value::Int(i)), _) => TExpr::konst(Type::Str, Value::Str(i.to_string())),
            (Node::Const(Value::Bool(b)), _) => TExpr::konst(Type::Str, Value::Str(b.to_string())),
            _ => {
                return Err(err(ErrorKind::Type, at, format!(
                    "CAST of {} values to VARCHAR is not supported (only strings and integer or boolean literals): compare the value itself",
                    x.ty
                )))
            }
        },
        "date" | "timestamp" => {
            let ty = if to == "date" { Type::Date } else { Type::Timestamp };
            let parse = if to == "date" { crate::temporal::parse_date } else { crate::temporal::parse_timestamp };
            match (&x.node, x.ty) {
                (_, Type::Null) => TExpr::null(ty),
                (Node::Const(Value::Str(text)), _) => match parse(text) {
                    Some(us) => TExpr::konst(ty, Value::Int(us)),
                    None => {
                        return Err(err(ErrorKind::Type, at, format!(
                            "'{text}' is not a valid {}: write {}",
                            to.to_uppercase(),
                            if to == "date" { "DATE 'YYYY-MM-DD'" } else { "TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.ffffff]'" }
                        )))
                    }
                },
                (_, Type::Str) => TExpr::new(ty, Node::StrFn(if to == "date" { SFn::ToDate } else { SFn::ToTimestamp }, vec![x])),
                (_, Type::Date | Type::Timestamp) if to == "timestamp" || x.ty == Type::Date => TExpr { ty, ..x },
                (Node::Const(Value::Int(us)), Type::Timestamp) => {
                    TExpr::konst(ty, Value::Int(us.div_euclid(crate::temporal::US_PER_DAY) * crate::temporal::US_PER_DAY))
                }
                _ => {
                    return Err(err(ErrorKind::Type, at, format!(
                        "CAST of {} values to {} is not supported: compare the timestamp itself (a date compares as its midnight)",
                        x.ty, to.to_uppercase()
                    )))
                }
            }
        }
        _ => unreachable!("parse.rs gives only CAST_TYPES"),
    })
}

fn numeric(e: TExpr, what: &str, at: Pos) -> Result<TExpr> {
    match e.ty {
        Type::Int | Type::Float | Type::Null => Ok(e),
        t => Err(err(ErrorKind::Type, at, format!("{what}() needs a number, got {t}"))),
    }
}

fn string(e: TExpr, what: &str, at: Pos) -> Result<TExpr> {
    match e.ty {
        Type::Str => Ok(e),
        Type::Null => Ok(TExpr::null(Type::Str)),
        t => Err(err(ErrorKind::Type, at, format!("{what} needs a string, got {t}"))),
    }
}

/// The common type of several branches/arguments: numbers widen to float, NULL fits anything.
fn unify(tys: impl Iterator<Item = Type>, what: &str, at: Pos) -> Result<Type> {
    let mut out = Type::Null;
    for t in tys {
        out = match (out, t) {
            (a, Type::Null) => a,
            (Type::Null, b) => b,
            (a, b) if a == b => a,
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => Type::Float,
            (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => Type::Timestamp,
            (a, b) => return Err(err(ErrorKind::Type, at, format!("{what} mix {a} and {b}"))),
        };
    }
    Ok(out)
}

fn coerce(e: TExpr, ty: Type) -> TExpr {
    match (e.ty, ty) {
        (Type::Null, _) => TExpr::null(ty),
        (Type::Int, Type::Float) => to_float(e),
        _ => e,
    }
}

fn arith(op: &str, l: TExpr, r: TExpr, at: Pos) -> Result<TExpr> {
    for side in [&l, &r] {
        if !matches!(side.ty, Type::Int | Type::Float | Type::Null) {
            return Err(err(ErrorKind::Type, at, format!("cannot apply '{op}' to {} and {}", l.ty, r.ty)));
        }
    }
    let aop = match op {
        "+" => Aop::Add,
        "-" => Aop::Sub,
        "*" => Aop::Mul,
        "/" => Aop::Div,
        "//" => Aop::IntDiv,
        _ => Aop::Mod,
    };
    let int = aop != Aop::Div && matches!(l.ty, Type::Int | Type::Null) && matches!(r.ty, Type::Int | Type::Null) && (l.ty == Type::Int || r.ty == Type::Int);
    let (l, r, ty) = if int {
        (retype_null(l, Type::Int), retype_null(r, Type::Int), Type::Int)
    } else {
        (to_float(l), to_float(r), Type::Float)
    };
    // `//` of floats is `/` in DuckDB.
    let aop = if aop == Aop::IntDiv && ty == Type::Float { Aop::Div } else { aop };
    Ok(TExpr::new(ty, Node::Arith(aop, boxed(l), boxed(r))))
}

fn is_temporal(t: Type) -> bool {
    matches!(t, Type::Date | Type::Timestamp)
}

/// A DATE / TIMESTAMP value as the Int microseconds since the epoch it stands for (how
/// comparisons read it): columns become `EpochUs`, constants and string casts are already
/// microseconds, and CASE / coalesce / least / greatest over them carry the same over.
fn lower_temporal(e: TExpr) -> TExpr {
    if !is_temporal(e.ty) {
        return e;
    }
    let node = match e.node {
        Node::Column(c) => Node::EpochUs(c),
        Node::Select(c, a, b) => Node::Select(c, boxed(lower_temporal(*a)), boxed(lower_temporal(*b))),
        Node::Coalesce(a, b) => Node::Coalesce(boxed(lower_temporal(*a)), boxed(lower_temporal(*b))),
        Node::MinMax(g, a, b) => Node::MinMax(g, boxed(lower_temporal(*a)), boxed(lower_temporal(*b))),
        other => other, // constants and ToDate / ToTimestamp: Int microseconds already
    };
    TExpr::new(Type::Int, node)
}

fn compare(op: &str, l: TExpr, r: TExpr, at: Pos) -> Result<TExpr> {
    if is_temporal(l.ty) && (is_temporal(r.ty) || r.ty == Type::Null) || l.ty == Type::Null && is_temporal(r.ty) {
        // a date compares as its midnight with a timestamp, as in DuckDB
        let (l, r) = (lower_temporal(retype_null(l, Type::Int)), lower_temporal(retype_null(r, Type::Int)));
        return compare(op, l, r, at);
    }
    if is_temporal(l.ty) || is_temporal(r.ty) {
        let (a, b) = (l.ty, r.ty);
        return Err(err(ErrorKind::Type, at, format!(
            "cannot compare {a} with {b} using '{op}': compare with DATE '...' or TIMESTAMP '...', or use days_since()"
        )));
    }
    let cmp = match op {
        "=" => Cmp::Eq,
        "<>" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        _ => Cmp::Ge,
    };
    let (lt, rt) = (l.ty, r.ty);
    let mk = |l: TExpr, r: TExpr| Ok(TExpr::new(Type::Bool, Node::Cmp(cmp, boxed(l), boxed(r))));
    match (lt, rt) {
        (Type::Null, Type::Null) => Ok(TExpr::null(Type::Bool)),
        (Type::Int, Type::Int) | (Type::Int, Type::Null) | (Type::Null, Type::Int) => mk(retype_null(l, Type::Int), retype_null(r, Type::Int)),
        (a, b) if a.is_numeric() && b.is_numeric() || a.is_numeric() && b == Type::Null || a == Type::Null && b.is_numeric() => {
            mk(to_float(l), to_float(r))
        }
        (Type::Str, Type::Str) | (Type::Str, Type::Null) | (Type::Null, Type::Str) => mk(retype_null(l, Type::Str), retype_null(r, Type::Str)),
        (Type::Bool, Type::Bool) | (Type::Bool, Type::Null) | (Type::Null, Type::Bool) => {
            let (l, r) = (retype_null(l, Type::Bool), retype_null(r, Type::Bool));
            // Kleene: a = b  ≡  (a AND b) OR (NOT a AND NOT b); NULL if either is NULL.
            let not = |e: &TExpr| TExpr::new(Type::Bool, Node::Not(boxed(e.clone())));
            let both = TExpr::new(Type::Bool, Node::And(boxed(l.clone()), boxed(r.clone())));
            let neither = TExpr::new(Type::Bool, Node::And(boxed(not(&l)), boxed(not(&r))));
            let eq = TExpr::new(Type::Bool, Node::Or(boxed(both), boxed(neither)));
            match cmp {
                Cmp::Eq => Ok(eq),
                Cmp::Ne => Ok(TExpr::new(Type::Bool, Node::Not(boxed(eq)))),
                _ => Err(err(ErrorKind::Type, at, format!("'{op}' is not defined on booleans"))),
            }
        }
        (a, b) => Err(err(ErrorKind::Type, at, format!("cannot compare {a} with {b} using '{op}'"))),
    }
}
