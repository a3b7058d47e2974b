//! Logical types of the expression language and of input columns.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Date,
    ListStr,
    /// The type of a bare NULL literal before context gives it one; also a column of Arrow's
    /// null type (every row NULL, e.g. a CSV column with no values), which reads as NULL.
    Null,
    /// A segmentation's label; only compared with string literals (mapped to label codes).
    Label,
    /// A column of a type the language cannot use (only `IS NULL` may touch it).
    Other,
}

impl Type {
    pub fn from_kind(kind: &str) -> Option<Type> {
        Some(match kind {
            "bool" => Type::Bool,
            "int" => Type::Int,
            "float" => Type::Float,
            "string" => Type::Str,
            "timestamp" => Type::Timestamp,
            "date" => Type::Date,
            "list_string" => Type::ListStr,
            "other" => Type::Other,
            "null" => Type::Null,
            "label" => Type::Label,
            _ => return None,
        })
    }

    pub fn kind(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Float => "float",
            Type::Str => "string",
            Type::Timestamp => "timestamp",
            Type::Date => "date",
            Type::ListStr => "list_string",
            Type::Null => "null",
            Type::Label => "label",
            Type::Other => "other",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Bool => "boolean",
            Type::Int => "integer",
            Type::Float => "float",
            Type::Str => "string",
            Type::Timestamp => "timestamp",
            Type::Date => "date",
            Type::ListStr => "list<string>",
            Type::Null => "NULL",
            Type::Label => "segment label",
            Type::Other => "unsupported type",
        })
    }
}
