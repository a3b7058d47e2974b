//! The typed expression tree: what the type checker produces from an `Ast` and what the
//! optimizer, the SQL printer, the scalar evaluator and the emitter consume. Sugar is gone
//! (IN, BETWEEN, CASE x WHEN, multi-argument functions, boolean `=`), every node has a type,
//! and int/float mixing is explicit (`Cast`).

use crate::types::Type;
use serde::{Deserialize, Serialize};

/// A constant value (also what the scalar evaluator computes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aop {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `//`: truncating integer division (ints only; `//` of floats is `/`, as in DuckDB).
    IntDiv,
    /// pow(a, b): floats only.
    Pow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fun {
    Neg,
    Abs,
    Ln,
    Exp,
    Sqrt,
    Floor,
    Ceil,
    /// Half away from zero (C's round), as DuckDB's round(double).
    Round,
    Log10,
    Log2,
}

/// String functions of the model language (string domain: they only survive inside lookups
/// and constant folding). Arguments other than the string are usually constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SFn {
    /// length(s): code points, Int.
    Length,
    /// trim/ltrim/rtrim(s[, characters]).
    Trim,
    LTrim,
    RTrim,
    /// ends_with(s, suffix): Bool.
    EndsWith,
    /// split_part(s, sep, n).
    SplitPart,
    /// substring(s, start[, length]).
    Substring,
    Left,
    Right,
    /// replace(s, from, to).
    Replace,
    StripAccents,
    /// `a || b`: NULL if either is.
    Concat,
    /// concat(a, ...): NULL arguments skipped.
    ConcatSkipNull,
    /// CAST(s AS BIGINT / DOUBLE / BOOLEAN): DuckDB's string parsing; NULL where it fails.
    ToInt,
    ToFloat,
    ToBool,
    /// CAST(s AS DATE / TIMESTAMP): Int microseconds since the epoch (see `temporal.rs`).
    ToDate,
    ToTimestamp,
}

impl SFn {
    /// The DuckDB spelling.
    pub fn name(self) -> &'static str {
        use SFn::*;
        match self {
            Length => "length",
            Trim => "trim",
            LTrim => "ltrim",
            RTrim => "rtrim",
            EndsWith => "ends_with",
            SplitPart => "split_part",
            Substring => "substring",
            Left => "left",
            Right => "right",
            Replace => "replace",
            StripAccents => "strip_accents",
            Concat => "||",
            ConcatSkipNull => "concat",
            ToInt => "CAST AS BIGINT",
            ToFloat => "CAST AS DOUBLE",
            ToBool => "CAST AS BOOLEAN",
            ToDate => "CAST AS DATE",
            ToTimestamp => "CAST AS TIMESTAMP",
        }
    }
    /// A NULL argument makes the result NULL.
    pub fn strict(self) -> bool {
        self != SFn::ConcatSkipNull
    }
}

impl Aop {
    /// Operand code in the bytecode (`aop`).
    pub fn code(self) -> i64 {
        self as i64
    }
    pub fn sql(self) -> &'static str {
        ["+", "-", "*", "/", "%", "//", "pow"][self as usize]
    }
}

impl Cmp {
    /// Operand code in the bytecode (`cmp`).
    pub fn code(self) -> i64 {
        self as i64
    }
    pub fn sql(self) -> &'static str {
        ["=", "<>", "<", "<=", ">", ">="][self as usize]
    }
    /// `a op b` == `b op.flip() a`.
    pub fn flip(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            other => other,
        }
    }
}

impl Fun {
    pub fn code(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Const(Value),
    /// An input column, by index into the program's column table.
    Column(usize),
    /// An earlier score, by index.
    Score(usize),
    /// A segmentation's label code (Int after comparison with a label literal), by index.
    Segment(usize),
    /// `days_since(column)` for a timestamp or date column.
    Days(usize),
    /// A timestamp or date column as Int microseconds since the epoch (a date is its
    /// midnight UTC): what comparisons with DATE / TIMESTAMP values read.
    EpochUs(usize),
    /// A dictionary lookup table replacing a subtree over one string column (optimizer output).
    Lookup(usize),
    /// int → float.
    Cast(Box<TExpr>),
    Arith(Aop, Box<TExpr>, Box<TExpr>),
    Math(Fun, Box<TExpr>),
    Cmp(Cmp, Box<TExpr>, Box<TExpr>),
    And(Box<TExpr>, Box<TExpr>),
    Or(Box<TExpr>, Box<TExpr>),
    Not(Box<TExpr>),
    IsNull(Box<TExpr>),
    /// CASE WHEN c THEN a ELSE b END.
    Select(Box<TExpr>, Box<TExpr>, Box<TExpr>),
    /// least (false) / greatest (true) of two, skipping NULLs.
    MinMax(bool, Box<TExpr>, Box<TExpr>),
    Coalesce(Box<TExpr>, Box<TExpr>),
    Decay(Box<TExpr>, Box<TExpr>, Box<TExpr>),
    /// round(x, digits) of a float, digits a constant other than 0 (DuckDB's formula).
    RoundTo(Box<TExpr>, i64),
    /// float → int: rounded half to even, NULL outside int64 (CAST(x AS BIGINT)).
    ToInt(Box<TExpr>),
    // String-domain nodes: they only survive inside lookups and constant folding.
    /// `e IN ('a', 'b', ...)` over string literals: one set probe per dictionary value
    /// (an OR chain would cost one comparison per list item). `has_null`: the list holds NULL.
    StrIn { e: Box<TExpr>, set: std::collections::BTreeSet<String>, has_null: bool },
    /// `e [I]LIKE pat [ESCAPE esc]`.
    Like { e: Box<TExpr>, pat: Box<TExpr>, ci: bool, #[serde(default)] esc: Option<char> },
    /// `regexp_matches(e, pat, opts)`: RE2 search semantics (see `re2.rs`); the pattern and
    /// options are constants, checked at compile time.
    Regexp { e: Box<TExpr>, pat: String, opts: String },
    StrFn(SFn, Vec<TExpr>),
    Lower(Box<TExpr>),
    Upper(Box<TExpr>),
    StartsWith(Box<TExpr>, Box<TExpr>),
    Contains(Box<TExpr>, Box<TExpr>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TExpr {
    pub ty: Type,
    pub node: Node,
}

impl TExpr {
    pub fn new(ty: Type, node: Node) -> TExpr {
        TExpr { ty, node }
    }
    pub fn konst(ty: Type, v: Value) -> TExpr {
        TExpr { ty, node: Node::Const(v) }
    }
    pub fn null(ty: Type) -> TExpr {
        TExpr::konst(ty, Value::Null)
    }
    pub fn bool(b: bool) -> TExpr {
        TExpr::konst(Type::Bool, Value::Bool(b))
    }
    pub fn as_const(&self) -> Option<&Value> {
        match &self.node {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }

    /// Direct children, in evaluation order.
    pub fn children(&self) -> Vec<&TExpr> {
        use Node::*;
        match &self.node {
            Const(_) | Column(_) | Score(_) | Segment(_) | Days(_) | EpochUs(_) | Lookup(_) => vec![],
            Cast(a) | Math(_, a) | RoundTo(a, _) | ToInt(a) | Not(a) | IsNull(a) | Lower(a) | Upper(a) | StrIn { e: a, .. } | Regexp { e: a, .. } => vec![a],
            Arith(_, a, b) | Cmp(_, a, b) | And(a, b) | Or(a, b) | MinMax(_, a, b) | Coalesce(a, b) | StartsWith(a, b)
            | Contains(a, b) => vec![a, b],
            Like { e, pat, .. } => vec![e, pat],
            Select(a, b, c) | Decay(a, b, c) => vec![a, b, c],
            StrFn(_, args) => args.iter().collect(),
        }
    }

    pub fn children_mut(&mut self) -> Vec<&mut TExpr> {
        use Node::*;
        match &mut self.node {
            Const(_) | Column(_) | Score(_) | Segment(_) | Days(_) | EpochUs(_) | Lookup(_) => vec![],
            Cast(a) | Math(_, a) | RoundTo(a, _) | ToInt(a) | Not(a) | IsNull(a) | Lower(a) | Upper(a) | StrIn { e: a, .. } | Regexp { e: a, .. } => vec![a],
            Arith(_, a, b) | Cmp(_, a, b) | And(a, b) | Or(a, b) | MinMax(_, a, b) | Coalesce(a, b) | StartsWith(a, b)
            | Contains(a, b) => vec![a, b],
            Like { e, pat, .. } => vec![e, pat],
            Select(a, b, c) | Decay(a, b, c) => vec![a, b, c],
            StrFn(_, args) => args.iter_mut().collect(),
        }
    }

    /// Input columns this expression reads (Days and Column nodes), and whether it reads a score.
    pub fn inputs(&self, cols: &mut Vec<usize>, scores: &mut bool) {
        match &self.node {
            Node::Column(c) | Node::Days(c) | Node::EpochUs(c) => {
                if !cols.contains(c) {
                    cols.push(*c)
                }
            }
            Node::Score(_) | Node::Segment(_) | Node::Lookup(_) => *scores = true,
            _ => {}
        }
        for c in self.children() {
            c.inputs(cols, scores);
        }
    }
}
