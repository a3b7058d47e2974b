//! `to_sql` per dialect: what the text looks like where the dialects differ (quoting, escapes,
//! rejections, the constructs each writes out). Whether the SQL gives the engine's numbers is
//! tested against real databases in tests/test_sql_dialects.py.

use leadscore_engine::{to_sql_json, to_sql_json_dialect, ErrorKind};
use serde_json::json;

fn schema() -> String {
    json!([
        {"name": "visits", "kind": "int"}, {"name": "revenue", "kind": "float"},
        {"name": "industry", "kind": "string"}, {"name": "seen_at", "kind": "timestamp"},
        {"name": "tech", "kind": "list_string"}, {"name": "Lead Source", "kind": "string"},
        {"name": "x\"; DROP TABLE leads; --", "kind": "int"}, {"name": "_ls0", "kind": "int"}
    ])
    .to_string()
}

fn src(text: &str) -> serde_json::Value {
    json!({"text": text, "line": 3, "col": 5})
}

/// One score `s` of rules (when, points).
fn model(rules: &[(Option<&str>, &str)]) -> String {
    let rules: Vec<_> = rules
        .iter()
        .enumerate()
        .map(|(i, (w, p))| json!({"name": format!("r{i}"), "when": w.map(src), "points": src(p), "cap": null, "floor": null}))
        .collect();
    json!({"name": "m", "source": "m.yaml", "scores": [{"name": "s", "rules": rules}], "segments": []}).to_string()
}

fn sql(dialect: &str, m: &str) -> String {
    to_sql_json_dialect(m, &schema(), "leads", 0, false, dialect).unwrap_or_else(|e| panic!("{dialect}: {e}"))
}

fn err(dialect: &str, m: &str) -> leadscore_engine::CompileError {
    to_sql_json_dialect(m, &schema(), "leads", 0, false, dialect).unwrap_err()
}

#[test]
fn duckdb_is_the_default_and_unchanged() {
    let m = model(&[(Some("industry LIKE 'a%'"), "ln(revenue) + visits % 3")]);
    assert_eq!(to_sql_json(&m, &schema(), "leads", 0, false).unwrap(), sql("duckdb", &m));
    assert_eq!(sql("DuckDB", &m), sql("duckdb", &m));
}

#[test]
fn unknown_dialects_are_a_model_error_listing_the_dialects() {
    let e = err("oracle", &model(&[(None, "1")]));
    assert_eq!(e.kind, ErrorKind::Model);
    assert!(e.message.contains("unknown SQL dialect 'oracle' (expected one of: duckdb, postgres, sqlite)"), "{e}");
}

#[test]
fn names_and_strings_are_quoted_in_every_dialect() {
    let nasty = "x\"; DROP TABLE leads; --";
    let m = json!({"name": "m", "scores": [{"name": "it's \"x\"", "rules": [
        {"name": "r", "when": src("\"Lead Source\" = 'o''k''); DROP TABLE leads; --'"), "points": src("\"x\"\"; DROP TABLE leads; --\"")}]}],
        "segments": [{"name": "select", "cases": [{"label": "a'b", "when": null}]}]})
    .to_string();
    for dialect in ["duckdb", "postgres", "sqlite"] {
        let text = to_sql_json_dialect(&m, &schema(), "my \"leads\"", 0, false, dialect).unwrap();
        assert!(text.contains(&format!("\"{}\"", nasty.replace('"', "\"\""))), "{dialect}: {text}");
        assert!(text.contains("'o''k''); DROP TABLE leads; --'"), "{dialect}: {text}");
        assert!(text.contains("\"it's \"\"x\"\"\""), "{dialect}: {text}");
        assert!(text.contains("FROM \"my \"\"leads\"\"\""), "{dialect}: {text}");
        assert!(text.contains("'a''b'") && text.contains("\"select\""), "{dialect}: {text}");
    }
}

#[test]
fn postgres_escapes_backslashes_and_rejects_what_it_would_mangle() {
    let m = model(&[(Some("industry = 'a\\b'"), "1")]);
    assert!(sql("postgres", &m).contains("E'a\\\\b'"), "{}", sql("postgres", &m));
    assert!(sql("sqlite", &m).contains("'a\\b'"));
    let long = format!(
        "{{\"name\": \"m\", \"scores\": [{{\"name\": \"{}\", \"rules\": [{{\"name\": \"r\", \"points\": {{\"text\": \"1\"}}}}]}}]}}",
        "é".repeat(32)
    );
    let e = err("postgres", &long);
    assert_eq!(e.kind, ErrorKind::Model);
    assert!(e.message.contains("64 bytes long; PostgreSQL identifiers hold at most 63"), "{e}");
    let nul = model(&[(Some("industry = 'a\u{0}b'"), "1")]);
    assert!(err("postgres", &nul).message.contains("NUL"));
    assert!(sql("sqlite", &nul).contains("('a' || char(0) || 'b')"), "{}", sql("sqlite", &nul));
}

#[test]
fn sqlite_rejects_has_any_naming_the_rule() {
    let e = err("sqlite", &model(&[(Some("has_any(tech, 'aws')"), "1")]));
    assert_eq!(e.kind, ErrorKind::Model);
    assert!(e.message.contains("SQLite has no array type"), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("m.yaml: to_sql(dialect='sqlite')") && text.contains("in score 's', rule 'r0', when"), "{text}");
    assert!(sql("postgres", &model(&[(Some("has_any(tech, 'aws')"), "1")])).contains("&& CAST(ARRAY['aws'] AS TEXT[])"));
}

#[test]
fn each_dialect_writes_out_what_it_lacks() {
    let m = model(&[(None, "revenue % 2.5"), (None, "visits % 3"), (Some("industry LIKE 'a_%'"), "greatest(visits, revenue)")]);
    let pg = sql("postgres", &m);
    assert!(pg.contains("float8send") && pg.contains("% NULLIF(CAST(3 AS BIGINT), 0)"), "{pg}");
    assert!(pg.contains("COLLATE \"C\" LIKE 'a_%' COLLATE \"C\" ESCAPE ''"), "{pg}");
    let lite = sql("sqlite", &m);
    assert!(lite.contains("mod(") && lite.contains("GLOB 'a?*'") && lite.contains("coalesce(max("), "{lite}");
    assert!(lite.contains("AS MATERIALIZED (SELECT *"), "{lite}");
    // the input column "_ls0" cannot clash with the internal names
    assert!(lite.contains("\"__ls0\" AS \"s\""), "{lite}");
}

#[test]
fn sqlite_hoists_deep_expressions_instead_of_nesting_subqueries() {
    let deep = (0..12).fold("visits".to_string(), |e, i| format!("CASE WHEN visits > {i} THEN least({e}, {i}) ELSE -{i} END"));
    let m = model(&[(None, &deep)]);
    let lite = sql("sqlite", &m);
    assert!(!lite.contains("FROM (SELECT "), "SQLite gets helper columns, not subqueries");
    assert!(lite.matches("MATERIALIZED").count() > 5, "{lite}");
    // each line (one stage) stays shallow
    for line in lite.lines() {
        let (mut depth, mut max) = (0i32, 0i32);
        for c in line.chars() {
            depth += (c == '(') as i32 - (c == ')') as i32;
            max = max.max(depth);
        }
        assert!(max < 40, "{max}: {line}");
    }
    assert!(!sql("postgres", &m).contains("MATERIALIZED"));
    assert!(sql("postgres", &model(&[(None, "ln(visits + 1)")])).contains("FROM (SELECT "), "PostgreSQL binds by a one-row subquery");
}

#[test]
fn a_column_named_like_a_score_but_for_case_stays_the_column() {
    // The engine reads the column `total` (score names match exactly); DuckDB's names ignore
    // case, so under the score's own name the later stage would read the score.
    let schema = json!([{"name": "total", "kind": "float"}]).to_string();
    let m = json!({"name": "m", "scores": [
        {"name": "Total", "rules": [{"name": "r", "points": src("1")}]},
        {"name": "after", "expr": src("total * 2")}]})
    .to_string();
    let duck = to_sql_json(&m, &schema, "leads", 0, true).unwrap();
    assert!(duck.contains("\"_ls0\" AS \"Total\"") && !duck.contains("EXCLUDE"), "{duck}");
    assert!(duck.contains("(NULLIF(CAST(\"total\" AS DOUBLE)"), "{duck}");
}

#[test]
fn string_functions_per_dialect() {
    let m = |w: &str| model(&[(Some(w), "1")]);
    // DuckDB: its own names.
    let duck = sql("duckdb", &m("split_part(lower(industry), '@', -1) = 'x' AND regexp_matches(industry, 'a.b', 'i') AND industry LIKE 'a#_%' ESCAPE '#'"));
    assert!(duck.contains("split_part(lower(\"industry\"), '@', CAST(-1 AS BIGINT))"), "{duck}");
    assert!(duck.contains("regexp_matches(\"industry\", 'a.b', 'i')") && duck.contains("LIKE 'a#_%' ESCAPE '#'"), "{duck}");
    // PostgreSQL: trim is btrim, regex is ~ / ~*, case maps are translate() over DuckDB's table,
    // a negative split_part is counted from the start.
    let pg = sql("postgres", &m("trim(industry) = 'a' AND regexp_matches(industry, '\\d', 'i') AND lower(industry) = 'σασ' AND split_part(industry, '@', -1) = 'x'"));
    assert!(pg.contains("btrim(\"industry\")") && pg.contains("~* '(?p)[0-9]'"), "{pg}");
    assert!(pg.contains("translate(\"industry\", 'ABC"), "{pg}");
    assert!(pg.contains("split_part(") && pg.contains("replace("), "{pg}");
    let pg = sql("postgres", &m("strip_accents(industry) = 'e' AND ends_with(industry, 'x')"));
    assert!(pg.contains("translate(\"industry\", 'ÀÁ"), "{pg}");
    assert!(pg.contains("substr(") && pg.contains("'x' COLLATE \"C\""), "{pg}");
    // SQLite: written out over substr/instr; regexp and strip_accents rejected, naming the rule.
    let lite = sql("sqlite", &m("substring(industry, -2, 1) = 'a' AND split_part(industry, '@', 2) = 'b' AND concat(industry, NULL) = ''"));
    assert!(lite.contains("substr(") && lite.contains("instr(") && lite.contains("coalesce("), "{lite}");
    assert!(!lite.contains("split_part") && !lite.contains("substring("), "{lite}");
    for (w, msg) in [
        ("regexp_matches(industry, 'a')", "regexp_matches() cannot be written in SQLite"),
        ("strip_accents(industry) = 'a'", "strip_accents() has no SQLite built-in"),
        ("split_part(industry, '@', -1) = 'a'", "negative position"),
    ] {
        let e = err("sqlite", &m(w));
        assert_eq!(e.kind, ErrorKind::Model);
        assert!(e.message.contains(msg) && e.to_string().contains("in score 's', rule 'r0'"), "{e}");
    }
}
