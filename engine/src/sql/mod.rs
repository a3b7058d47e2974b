//! The model as one SQL query with the same semantics as the VM: the contract's third
//! implementation (users run it to cross-check; tests compare all three).
//!
//! One printer (`printer.rs`: expressions, `query.rs`: the stages of the query, `bind.rs`:
//! subexpressions needed twice or nested too deep) walks the typed model; each dialect
//! (`duckdb.rs`, `postgres.rs`, `sqlite.rs`) implements `syntax::Syntax`, spelling what differs:
//! quoting, literals, how a column is read, NULL and NaN rules, the functions a dialect lacks
//! written out. Every identifier is quoted and every literal typed, so rule text never turns
//! into SQL by pasting; what a dialect cannot express exactly is rejected with a clear error.

mod bind;
mod duckdb;
mod postgres;
mod printer;
mod query;
mod sqlite;
mod strfns;
mod syntax;

use crate::check::TModel;
use crate::error::{CompileError, ErrorKind, Result};
use std::fmt;
use std::str::FromStr;

/// The SQL dialects `model_sql` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    #[default]
    DuckDb,
    Postgres,
    Sqlite,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::DuckDb, Dialect::Postgres, Dialect::Sqlite];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    fn syntax(self) -> &'static dyn syntax::Syntax {
        match self {
            Dialect::DuckDb => &duckdb::DuckDb,
            Dialect::Postgres => &postgres::Postgres,
            Dialect::Sqlite => &sqlite::Sqlite,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = CompileError;

    /// A dialect by name (ASCII case ignored).
    fn from_str(name: &str) -> Result<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
            let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
            CompileError::new(ErrorKind::Model, format!("unknown SQL dialect '{name}' (expected one of: {})", names.join(", ")))
        })
    }
}

/// One SELECT over `relation` giving the model's score and segment columns (after the input
/// columns when `include_input`), in input order, in `dialect`. Each score and segmentation is
/// one CTE stage, so later ones can refer to earlier ones.
pub fn model_sql(
    m: &TModel,
    input_columns: &[String],
    relation: &str,
    as_of_us: i64,
    include_input: bool,
    dialect: Dialect,
) -> Result<String> {
    query::model_sql(dialect.syntax(), m, input_columns, relation, as_of_us, include_input)
}
