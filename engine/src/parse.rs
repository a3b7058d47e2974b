//! Pass 1, parse: expression text → untyped `Ast`, using the `sqlparser` crate (SQL precedence,
//! positions). Anything outside the model language is rejected here with a position.

use crate::ast::{Ast, Lit, Pos};
use crate::error::{CompileError, ErrorKind, Result};
use sqlparser::ast::{
    BinaryOperator as B, Expr, InTarget, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart, Spanned,
    UnaryOperator as U, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

/// Functions of the model language (lower-case); anything else is a type error later.
pub const FUNCTIONS: &[&str] = &[
    "least", "greatest", "abs", "coalesce", "ln", "exp", "sqrt", "lower", "upper", "starts_with", "contains",
    "days_since", "decay", "has_any", "length", "trim", "ltrim", "rtrim", "ends_with", "split_part", "substring",
    "substr", "left", "right", "replace", "regexp_matches", "strip_accents", "concat", "round", "floor", "ceil",
    "ceiling", "sign", "pow", "power", "log10", "log2", "mod",
];

/// Regular-expression spellings of other SQL dialects: the message names the one to use.
fn no_regex_operator(at: Pos, what: &str) -> CompileError {
    err_at(at, format!("no {what} operator: use regexp_matches(s, pattern)"))
}

fn pos(loc: Location) -> Pos {
    Pos { line: loc.line as u32, col: loc.column as u32 }
}

fn err_at(at: Pos, message: impl Into<String>) -> CompileError {
    let mut e = CompileError::new(ErrorKind::Expression, message);
    e.line = at.line;
    e.col = at.col;
    e
}

/// sqlparser reports "... at Line: L, Column: C"; lift that into a position.
fn from_parser_error(e: ParserError) -> CompileError {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        other => other.to_string(),
    };
    let (msg, at) = match text.rfind(" at Line: ") {
        Some(i) => {
            let nums: Vec<u32> = text[i..].split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
            let at = Pos { line: *nums.first().unwrap_or(&0), col: *nums.get(1).unwrap_or(&0) };
            (text[..i].to_string(), at)
        }
        None => (text, Pos::default()),
    };
    err_at(at, format!("syntax error: {msg}"))
}

/// Parse one expression of the model language.
pub fn parse_expr(text: &str) -> Result<Ast> {
    if text.trim().is_empty() {
        return Err(err_at(Pos { line: 1, col: 1 }, "empty expression"));
    }
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(from_parser_error)?;
    let expr = parser.parse_expr().map_err(from_parser_error)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(err_at(pos(next.span.start), format!("unexpected '{}' after the expression", next.token)));
    }
    convert(&expr)
}

fn b(a: Ast) -> Box<Ast> {
    Box::new(a)
}

fn convert(e: &Expr) -> Result<Ast> {
    let at = pos(e.span().start);
    Ok(match e {
        Expr::Identifier(id) => Ast::Col { name: id.value.clone(), at: pos(id.span.start) },
        Expr::CompoundIdentifier(ids) => {
            let name: Vec<_> = ids.iter().map(|i| i.value.as_str()).collect();
            return Err(err_at(at, format!("qualified name '{}' is not supported; quote column names that contain dots", name.join("."))));
        }
        Expr::Value(v) => Ast::Lit { v: literal(&v.value, pos(v.span.start))? },
        Expr::Nested(inner) => convert(inner)?,
        Expr::UnaryOp { op, expr } => match op {
            U::Minus => match convert(expr)? {
                Ast::Lit { v: Lit::Int(i) } => Ast::Lit { v: Lit::Int(-i) },
                Ast::Lit { v: Lit::Float(f) } => Ast::Lit { v: Lit::Float(-f) },
                other => Ast::Neg { e: b(other) },
            },
            U::Plus => convert(expr)?,
            U::Not => Ast::Not { e: b(convert(expr)?) },
            other => return Err(err_at(at, format!("operator '{other}' is not supported"))),
        },
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                B::Plus => "+",
                B::Minus => "-",
                B::Multiply => "*",
                B::Divide => "/",
                B::Modulo => "%",
                B::DuckIntegerDivide => "//",
                B::Eq => "=",
                B::NotEq => "<>",
                B::Lt => "<",
                B::LtEq => "<=",
                B::Gt => ">",
                B::GtEq => ">=",
                B::And => "and",
                B::Or => "or",
                B::StringConcat => "||",
                B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                    return Err(no_regex_operator(at, &op.to_string()))
                }
                B::Regexp => return Err(no_regex_operator(at, "REGEXP")),
                other => return Err(err_at(at, format!("operator '{other}' is not supported"))),
            };
            Ast::Bin { op, l: b(convert(left)?), r: b(convert(right)?), at }
        }
        Expr::IsNull(x) => Ast::IsNull { e: b(convert(x)?), neg: false },
        Expr::IsDistinctFrom(l, r) => Ast::Distinct { l: b(convert(l)?), r: b(convert(r)?), neg: false },
        Expr::IsNotDistinctFrom(l, r) => Ast::Distinct { l: b(convert(l)?), r: b(convert(r)?), neg: true },
        Expr::IsTrue(x) => Ast::Truth { e: b(convert(x)?), is: Some(true), neg: false },
        Expr::IsNotTrue(x) => Ast::Truth { e: b(convert(x)?), is: Some(true), neg: true },
        Expr::IsFalse(x) => Ast::Truth { e: b(convert(x)?), is: Some(false), neg: false },
        Expr::IsNotFalse(x) => Ast::Truth { e: b(convert(x)?), is: Some(false), neg: true },
        Expr::IsUnknown(x) => Ast::Truth { e: b(convert(x)?), is: None, neg: false },
        Expr::IsNotUnknown(x) => Ast::Truth { e: b(convert(x)?), is: None, neg: true },
        Expr::Cast { kind, expr, data_type, format: None } => {
            use sqlparser::ast::CastKind as K;
            let try_ = matches!(kind, K::TryCast | K::SafeCast);
            Ast::Cast { e: b(convert(expr)?), to: cast_type(data_type, at)?, try_, at }
        }
        // sqlparser gives FLOOR/CEIL their own node: floor(x) and ceil(x) only.
        Expr::Floor { expr, field } | Expr::Ceil { expr, field } => {
            use sqlparser::ast::{CeilFloorKind as K, DateTimeField as D};
            let func = if matches!(e, Expr::Floor { .. }) { "floor" } else { "ceil" };
            if !matches!(field, K::DateTimeField(D::NoDateTime)) {
                return Err(err_at(at, format!("{func}() takes one number: {func}(x)")));
            }
            Ast::Call { func: func.into(), args: vec![convert(expr)?], at }
        }
        Expr::TypedString(ts) => {
            let to = cast_type(&ts.data_type, at)?;
            if !matches!(to, "date" | "timestamp") {
                return Err(err_at(at, format!("typed literal {} '...' is not supported: use CAST('...' AS {})", ts.data_type, ts.data_type)));
            }
            let Value::SingleQuotedString(text) = &ts.value.value else {
                return Err(err_at(at, format!("{} takes a string in single quotes", ts.data_type)));
            };
            Ast::Cast { e: b(Ast::Lit { v: Lit::Str(text.clone()) }), to, try_: false, at }
        }
        Expr::IsNotNull(x) => Ast::IsNull { e: b(convert(x)?), neg: true },
        Expr::In { expr, target: InTarget::List(list), negated, global: false } => {
            Ast::In { e: b(convert(expr)?), list: list.iter().map(convert).collect::<Result<_>>()?, neg: *negated }
        }
        Expr::Between { expr, negated, low, high } => {
            Ast::Between { e: b(convert(expr)?), lo: b(convert(low)?), hi: b(convert(high)?), neg: *negated }
        }
        Expr::Like { negated, any, expr, pattern, escape_char } | Expr::ILike { negated, any, expr, pattern, escape_char } => {
            if *any {
                return Err(err_at(at, "LIKE ANY is not supported"));
            }
            let esc = match escape_char.as_deref().map(convert).transpose()? {
                None => None,
                Some(Ast::Lit { v: Lit::Str(s) }) if s.chars().count() <= 1 => Some(s),
                Some(_) => return Err(err_at(at, "ESCAPE takes a string literal of one character (or '' for none)")),
            };
            let ci = matches!(e, Expr::ILike { .. });
            Ast::Like { e: b(convert(expr)?), pat: b(convert(pattern)?), neg: *negated, ci, esc, at }
        }
        // sqlparser gives these no span of their own: the operand's position.
        Expr::RLike { regexp, expr, .. } => return Err(no_regex_operator(pos(expr.span().start), if *regexp { "REGEXP" } else { "RLIKE" })),
        Expr::SimilarTo { expr, .. } => return Err(no_regex_operator(pos(expr.span().start), "SIMILAR TO")),
        // SUBSTRING(s FROM a FOR b) and SUBSTRING(s, a, b) / SUBSTR(...): one function.
        Expr::Substring { expr, substring_from, substring_for, .. } => {
            let mut args = vec![convert(expr)?];
            match (substring_from, substring_for) {
                (Some(f), l) => {
                    args.push(convert(f)?);
                    if let Some(l) = l {
                        args.push(convert(l)?);
                    }
                }
                (None, Some(_)) => return Err(err_at(at, "SUBSTRING(s FOR n) needs FROM: use substring(s, 1, n)")),
                (None, None) => {}
            }
            Ast::Call { func: "substring".into(), args, at }
        }
        // TRIM(s), TRIM(s, chars), TRIM([BOTH|LEADING|TRAILING] [chars] FROM s).
        Expr::Trim { trim_where, trim_what, expr, trim_characters } => {
            use sqlparser::ast::TrimWhereField as W;
            let func = match trim_where {
                None | Some(W::Both) => "trim",
                Some(W::Leading) => "ltrim",
                Some(W::Trailing) => "rtrim",
            };
            let mut args = vec![convert(expr)?];
            if let Some(w) = trim_what {
                args.push(convert(w)?);
            }
            for c in trim_characters.iter().flatten() {
                args.push(convert(c)?);
            }
            Ast::Call { func: func.into(), args, at }
        }
        Expr::Case { operand, conditions, else_result, .. } => Ast::Case {
            operand: operand.as_ref().map(|o| convert(o).map(b)).transpose()?,
            whens: conditions.iter().map(|w| Ok((convert(&w.condition)?, convert(&w.result)?))).collect::<Result<_>>()?,
            else_: else_result.as_ref().map(|o| convert(o).map(b)).transpose()?,
        },
        Expr::Function(f) => {
            let parts: Vec<String> = f
                .name
                .0
                .iter()
                .map(|p| match p {
                    ObjectNamePart::Identifier(i) => i.value.clone(),
                    other => other.to_string(),
                })
                .collect();
            let name = parts.join(".").to_lowercase();
            let args = match &f.args {
                FunctionArguments::List(list) if list.duplicate_treatment.is_none() && list.clauses.is_empty() => list
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => convert(x),
                        _ => Err(err_at(at, format!("unsupported argument in {name}(...)"))),
                    })
                    .collect::<Result<Vec<_>>>()?,
                FunctionArguments::None => Vec::new(),
                _ => return Err(err_at(at, format!("unsupported argument list in {name}(...)"))),
            };
            if f.filter.is_some() || f.over.is_some() || !f.within_group.is_empty() {
                return Err(err_at(at, format!("{name}(...) with FILTER/OVER/WITHIN GROUP is not supported")));
            }
            Ast::Call { func: name, args, at }
        }
        other => {
            let text = other.to_string();
            return Err(err_at(at, format!("'{text}' is not part of the model expression language")));
        }
    })
}

/// The CAST target, as `CAST_TYPES` names it; anything else is an error naming what is.
fn cast_type(t: &sqlparser::ast::DataType, at: Pos) -> Result<&'static str> {
    let text = t.to_string().to_lowercase();
    let base = text.split(['(', ' ']).next().unwrap_or("");
    Ok(match (base, text.as_str()) {
        ("int" | "integer" | "int4" | "int32" | "signed", _) => "int",
        ("bigint" | "int8" | "int64" | "long", _) => "bigint",
        ("double" | "float8" | "float64", _) => "double",
        ("varchar" | "text" | "string" | "char" | "bpchar", _) => "varchar",
        ("boolean" | "bool" | "logical", _) => "boolean",
        ("date", _) => "date",
        ("timestamp" | "datetime", t) if !t.contains("with time zone") => "timestamp",
        ("float" | "real" | "float4", _) => {
            return Err(err_at(at, format!("CAST to {text} (32-bit float) is not supported: use DOUBLE")))
        }
        _ => {
            return Err(err_at(at, format!(
                "CAST to {text} is not supported; the types are INTEGER, BIGINT, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP"
            )))
        }
    })
}

fn literal(v: &Value, at: Pos) -> Result<Lit> {
    Ok(match v {
        Value::Number(s, _) => {
            let is_int = s.chars().all(|c| c.is_ascii_digit());
            if is_int {
                match s.parse::<i64>() {
                    Ok(i) => Lit::Int(i),
                    Err(_) => Lit::Float(s.parse().map_err(|_| err_at(at, format!("bad number '{s}'")))?),
                }
            } else {
                Lit::Float(s.parse().map_err(|_| err_at(at, format!("bad number '{s}'")))?)
            }
        }
        Value::SingleQuotedString(s) => Lit::Str(s.clone()),
        Value::Boolean(x) => Lit::Bool(*x),
        Value::Null => Lit::Null(()),
        Value::DoubleQuotedString(s) => return Err(err_at(at, format!("\"{s}\" is a column name here; use single quotes for strings"))),
        other => return Err(err_at(at, format!("literal {other} is not supported"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        parse_expr(text).unwrap().to_json()
    }

    #[test]
    fn precedence_and_shapes() {
        assert_eq!(
            json("a + 2 * b"),
            r#"{"t":"bin","op":"+","l":{"t":"col","name":"a"},"r":{"t":"bin","op":"*","l":{"t":"lit","v":2},"r":{"t":"col","name":"b"}}}"#
        );
        assert_eq!(json("x IS NOT NULL"), r#"{"t":"is_null","e":{"t":"col","name":"x"},"neg":true}"#);
        assert_eq!(json("-1.5"), r#"{"t":"lit","v":-1.5}"#);
        assert_eq!(json("\"Lead Source\" != 'x'"), r#"{"t":"bin","op":"<>","l":{"t":"col","name":"Lead Source"},"r":{"t":"lit","v":"x"}}"#);
        assert!(json("CASE WHEN a THEN 1 END").contains(r#""else":null"#));
        assert_eq!(json("NULL"), r#"{"t":"lit","v":null}"#);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_expr("a >= ").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Expression);
        let e = parse_expr("a b").unwrap_err();
        assert_eq!((e.line, e.col), (1, 3), "{e}");
        assert!(parse_expr("a || b").is_ok());
        for (text, msg) in [
            ("s REGEXP 'x'", "no REGEXP operator: use regexp_matches(s, pattern)"),
            ("s ~ 'x'", "no ~ operator: use regexp_matches(s, pattern)"),
            ("s !~* 'x'", "no !~* operator: use regexp_matches(s, pattern)"),
            ("a = 1 AND s SIMILAR TO 'x'", "no SIMILAR TO operator: use regexp_matches(s, pattern)"),
            ("s RLIKE 'x'", "no RLIKE operator"),
        ] {
            let e = parse_expr(text).unwrap_err();
            assert!(e.message.contains(msg), "{text}: {e}");
            assert!(e.line == 1 && e.col >= 1, "{text}: {e:?}");
        }
        assert_eq!(json("substring(s FROM 2 FOR 3)"), json("substring(s, 2, 3)"));
        assert_eq!(json("substr(s, 2)"), json("substring(s, 2)"));
        assert_eq!(json("trim(LEADING 'x' FROM s)"), json("ltrim(s, 'x')"));
        assert_eq!(json("trim(s, 'x')"), r#"{"t":"call","fn":"trim","args":[{"t":"col","name":"s"},{"t":"lit","v":"x"}]}"#);
        assert!(parse_expr("(SELECT 1)").is_err());
    }
}
