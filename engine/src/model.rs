//! The engine JSON a front end sends: the model (with source positions) and the schema.
//! Documented in docs/ARCHITECTURE.md §1.

use crate::error::{CompileError, ErrorKind, Result};
use crate::types::Type;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Src {
    pub text: String,
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub col: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RuleSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line: u32,
    pub when: Option<Src>,
    pub points: Src,
    pub cap: Option<f64>,
    pub floor: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ScoreSpec {
    pub name: String,
    #[serde(default)]
    pub line: u32,
    pub range: Option<[f64; 2]>,
    pub rules: Option<Vec<RuleSpec>>,
    pub expr: Option<Src>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CaseSpec {
    pub label: String,
    #[serde(default)]
    pub line: u32,
    pub when: Option<Src>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SegmentSpec {
    pub name: String,
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub cases: Vec<CaseSpec>,
    /// `[a, b]`: the fit × engagement matrix of two earlier segmentations, labels `A-hot`.
    #[serde(default)]
    pub matrix: Option<Vec<String>>,
}

/// A threshold query evaluated in the same pass as scoring (docs/ARCHITECTURE.md §6).
#[derive(Clone, Debug, Deserialize)]
pub struct QuerySpec {
    /// "count" | "mask" | "hist" | "topk".
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line: u32,
    /// The condition (count, mask), the value (hist) or the ranking expression (topk).
    pub expr: Src,
    /// hist: bin edges, strictly increasing.
    #[serde(default)]
    pub edges: Vec<f64>,
    /// topk: rank within each segment of this segmentation.
    #[serde(default)]
    pub per: Option<String>,
    /// topk: how many.
    #[serde(default)]
    pub k: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub as_of: Option<String>,
    #[serde(default)]
    pub scores: Vec<ScoreSpec>,
    #[serde(default)]
    pub segments: Vec<SegmentSpec>,
    #[serde(default)]
    pub queries: Vec<QuerySpec>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    pub kind: String,
}

impl ModelSpec {
    pub fn from_json(text: &str) -> Result<ModelSpec> {
        serde_json::from_str(text).map_err(|e| CompileError::new(ErrorKind::Model, format!("malformed engine model JSON: {e}")))
    }
}

/// The input schema: column names and their logical types.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub fields: Vec<(String, Type)>,
}

impl Schema {
    pub fn from_json(text: &str) -> Result<Schema> {
        let specs: Vec<FieldSpec> =
            serde_json::from_str(text).map_err(|e| CompileError::new(ErrorKind::Schema, format!("malformed schema JSON: {e}")))?;
        let fields = specs
            .into_iter()
            .map(|f| {
                let ty = Type::from_kind(&f.kind)
                    .ok_or_else(|| CompileError::new(ErrorKind::Schema, format!("column '{}' has unknown kind '{}'", f.name, f.kind)))?;
                Ok((f.name, ty))
            })
            .collect::<Result<_>>()?;
        Ok(Schema { fields })
    }

    pub fn new(fields: &[(&str, Type)]) -> Schema {
        Schema { fields: fields.iter().map(|(n, t)| (n.to_string(), *t)).collect() }
    }
}
