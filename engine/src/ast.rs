//! The untyped expression tree produced by the parser. It serialises to the JSON documented
//! in docs/ARCHITECTURE.md §2, which the plain-Python reference evaluator walks.

use serde::Serialize;

/// A position inside one expression's text (1-based); `Pos::default()` when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Lit {
    Null(()),
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Ast {
    Lit { v: Lit },
    Col { name: String, #[serde(skip)] at: Pos },
    Bin { op: &'static str, l: Box<Ast>, r: Box<Ast>, #[serde(skip)] at: Pos },
    Neg { e: Box<Ast> },
    Not { e: Box<Ast> },
    IsNull { e: Box<Ast>, neg: bool },
    In { e: Box<Ast>, list: Vec<Ast>, neg: bool },
    Between { e: Box<Ast>, lo: Box<Ast>, hi: Box<Ast>, neg: bool },
    /// `esc`: the ESCAPE character (None: no ESCAPE clause, or ESCAPE '').
    Like { e: Box<Ast>, pat: Box<Ast>, neg: bool, ci: bool, #[serde(skip_serializing_if = "Option::is_none")] esc: Option<String>, #[serde(skip)] at: Pos },
    Case { operand: Option<Box<Ast>>, whens: Vec<(Ast, Ast)>, #[serde(rename = "else")] else_: Option<Box<Ast>> },
    Call { #[serde(rename = "fn")] func: String, args: Vec<Ast>, #[serde(skip)] at: Pos },
    /// `CAST(e AS to)`, `e::to`, `TRY_CAST(...)`, and typed literals (`DATE '...'`): `to` is
    /// one of `CAST_TYPES`.
    Cast { e: Box<Ast>, to: &'static str, #[serde(rename = "try")] try_: bool, #[serde(skip)] at: Pos },
    /// `l IS [NOT] DISTINCT FROM r` (neg = IS NOT DISTINCT FROM: equal, NULLs equal).
    Distinct { l: Box<Ast>, r: Box<Ast>, neg: bool },
    /// `e IS [NOT] TRUE / FALSE / UNKNOWN`: `is` true, false or null (UNKNOWN).
    Truth { e: Box<Ast>, is: Option<bool>, neg: bool },
}

/// The types CAST takes, as the AST names them (DuckDB's: `int` is INTEGER, 32 bits).
pub const CAST_TYPES: &[&str] = &["int", "bigint", "double", "varchar", "boolean", "date", "timestamp"];

impl Ast {
    /// Best-known position of this node (for error messages).
    pub fn pos(&self) -> Pos {
        match self {
            Ast::Col { at, .. } | Ast::Bin { at, .. } | Ast::Like { at, .. } | Ast::Call { at, .. } | Ast::Cast { at, .. } => *at,
            Ast::Neg { e } | Ast::Not { e } | Ast::IsNull { e, .. } | Ast::In { e, .. } | Ast::Between { e, .. } | Ast::Truth { e, .. } => e.pos(),
            Ast::Distinct { l, .. } => l.pos(),
            Ast::Case { whens, .. } => whens.first().map(|w| w.0.pos()).unwrap_or_default(),
            Ast::Lit { .. } => Pos::default(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("AST serialises")
    }
}
