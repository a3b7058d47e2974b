//! Hints for the mistakes people make writing a model, added to the compiler's error where the
//! text shows which one it was: a column name with spaces left unquoted, a string in double
//! quotes (a column name in SQL), a segmentation used before it is defined.

use crate::error::{CompileError, ErrorKind};
use crate::model::Schema;

/// `e` (an error in expression `text`) with a hint, when one applies. `segmentations`: every
/// segmentation of the model, so an unknown name that is one of them can be told apart.
pub fn add(mut e: CompileError, text: &str, schema: &Schema, segmentations: &[String]) -> CompileError {
    let unknown = e.message.strip_prefix("unknown column '").and_then(|r| r.split('\'').next()).map(str::to_string);
    if let Some(name) = &unknown {
        if segmentations.iter().any(|s| s == name) {
            e.kind = ErrorKind::Type;
            e.message = format!(
                "segmentation '{name}' is used before it is defined (segmentations are evaluated in order, after every score: move '{name}' above the segmentation that uses it)"
            );
            return e;
        }
        if text.contains(&format!("\"{name}\"")) && !e.message.contains("did you mean") {
            e.message = format!("{} (\"{name}\" in double quotes is a column name; string literals take single quotes: '{name}')", e.message);
            return e;
        }
    }
    let syntax = e.kind == ErrorKind::Expression && (e.message.starts_with("unexpected") || e.message.starts_with("syntax error"));
    if syntax || unknown.is_some() {
        // a column whose name has spaces, written without its double quotes
        let spaced = schema.fields.iter().map(|(n, _)| n.as_str()).filter(|n| n.contains(char::is_whitespace));
        if let Some(name) = spaced.filter(|n| text.contains(n) && !text.contains(&format!("\"{n}\""))).max_by_key(|n| n.len()) {
            e.message = format!("{}: did you mean \"{name}\"? (a column name with spaces takes double quotes)", e.message);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Type;

    fn schema() -> Schema {
        Schema { fields: vec![("Lead Origin".into(), Type::Str), ("Country".into(), Type::Str)] }
    }

    #[test]
    fn hints() {
        let e = |kind, m: &str| CompileError::new(kind, m);
        let h = add(e(ErrorKind::Expression, "unexpected 'Origin' after the expression"), "Lead Origin = 'API'", &schema(), &[]);
        assert!(h.message.ends_with("did you mean \"Lead Origin\"? (a column name with spaces takes double quotes)"), "{}", h.message);
        let h = add(e(ErrorKind::Schema, "unknown column 'India'"), "Country = \"India\"", &schema(), &[]);
        assert!(h.message.contains("string literals take single quotes: 'India'"), "{}", h.message);
        let h = add(e(ErrorKind::Schema, "unknown column 'tier'"), "tier = 'hot'", &schema(), &["combo".into(), "tier".into()]);
        assert!(h.message.starts_with("segmentation 'tier' is used before it is defined"), "{}", h.message);
        let h = add(e(ErrorKind::Expression, "unexpected 'x'"), "\"Lead Origin\" = 'API' x", &schema(), &[]);
        assert_eq!(h.message, "unexpected 'x'");
    }
}
