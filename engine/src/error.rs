//! Compile errors: one type, a kind that the bindings map to the Python exception hierarchy,
//! and a location (file, line, column) plus the expression text it is about.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The model's structure (bad JSON, duplicate names, bad bounds).
    Model,
    /// Expression text that does not parse.
    Expression,
    /// Types, unknown functions, scores used before they are defined.
    Type,
    /// Unknown columns or columns of unusable types.
    Schema,
    /// Bytecode text that does not assemble.
    Program,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub kind: ErrorKind,
    pub message: String,
    pub source: String,
    pub line: u32,
    pub col: u32,
    /// Where in the model, e.g. "score 'fit', rule 'visits', when".
    pub context: String,
    pub expr: String,
}

impl CompileError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CompileError { kind, message: message.into(), source: String::new(), line: 0, col: 0, context: String::new(), expr: String::new() }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = if self.source.is_empty() { "<model>" } else { &self.source };
        match (self.line, self.col) {
            (0, _) => write!(f, "{src}: ")?,
            (l, 0) => write!(f, "{src}:{l}: ")?,
            (l, c) => write!(f, "{src}:{l}:{c}: ")?,
        }
        write!(f, "{}", self.message)?;
        if !self.context.is_empty() {
            write!(f, "\n  in {}", self.context)?;
        }
        if !self.expr.is_empty() {
            write!(f, ": {}", self.expr)?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

pub type Result<T> = std::result::Result<T, CompileError>;

/// " (did you mean 'x'?)" for the closest candidate, or "".
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let lower = name.to_lowercase();
    // Similar by Jaro-Winkler, or a typo or two away (transpositions count once).
    let best = candidates
        .into_iter()
        .map(|c| {
            let cl = c.to_lowercase();
            let edits = strsim::damerau_levenshtein(&lower, &cl);
            let close = edits <= if lower.chars().count() <= 4 { 1 } else { 2 };
            let score = strsim::jaro_winkler(&lower, &cl) + if close { 1.0 } else { 0.0 };
            (score, c)
        })
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}
