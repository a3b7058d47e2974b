//! Compiler behaviour end to end: errors, optimizations, the text form and the SQL.

use leadscore_engine::opcodes::Op;
use leadscore_engine::types::Type;
use leadscore_engine::{assemble, compile_json, to_sql_json, ErrorKind, Program};
use serde_json::json;

fn schema() -> String {
    json!([
        {"name": "visits", "kind": "int"}, {"name": "revenue", "kind": "float"},
        {"name": "industry", "kind": "string"}, {"name": "unsubscribed", "kind": "bool"},
        {"name": "seen_at", "kind": "timestamp"}, {"name": "tech", "kind": "list_string"},
        {"name": "Lead Source", "kind": "string"}
    ])
    .to_string()
}

fn src(text: &str) -> serde_json::Value {
    json!({"text": text, "line": 10, "col": 7})
}

fn model(rules: &[(Option<&str>, &str)]) -> String {
    let rules: Vec<_> = rules
        .iter()
        .enumerate()
        .map(|(i, (w, p))| json!({"name": format!("r{i}"), "line": 9, "when": w.map(src), "points": src(p), "cap": null, "floor": null}))
        .collect();
    json!({"name": "m", "source": "m.yaml", "scores": [{"name": "s", "line": 3, "range": null, "rules": rules, "expr": null}], "segments": []})
        .to_string()
}

fn compile(rules: &[(Option<&str>, &str)]) -> Program {
    compile_json(&model(rules), &schema()).unwrap_or_else(|e| panic!("{e}"))
}

fn ops(p: &Program) -> Vec<Op> {
    p.code.iter().map(|i| Op::from_code(i[0]).unwrap()).collect()
}

fn error(rules: &[(Option<&str>, &str)]) -> leadscore_engine::CompileError {
    compile_json(&model(rules), &schema()).unwrap_err()
}

#[test]
fn unknown_column_names_position_and_suggests() {
    let e = error(&[(Some("visit >= 3"), "1")]);
    assert_eq!(e.kind, ErrorKind::Schema);
    assert_eq!((e.line, e.col), (10, 7));
    let text = e.to_string();
    assert!(text.starts_with("m.yaml:10:7: unknown column 'visit' (did you mean 'visits'?)"), "{text}");
    assert!(text.contains("rule 'r0'"), "{text}");
}

#[test]
fn positions_inside_the_expression_are_offset() {
    let e = error(&[(Some("visits >= 3 AND industy = 'x'"), "1")]);
    assert_eq!((e.line, e.col), (10, 7 + 16), "{e}");
}

#[test]
fn type_errors() {
    for (when, points, needle) in [
        (Some("industry > 3"), "1", "cannot compare string with integer"),
        (Some("lower(industry)"), "1", "must be a boolean"),
        (None, "round(visits, visits)", "round() takes its digits as an integer literal"),
        (None, "CAST(visits AS FLOAT)", "(32-bit float) is not supported: use DOUBLE"),
        (None, "CAST(visits AS SMALLINT)", "the types are INTEGER, BIGINT, DOUBLE"),
        (Some("CAST(visits AS VARCHAR) = '1'"), "1", "CAST of integer values to VARCHAR is not supported"),
        (None, "industry", "must be a float"),
        (None, "nosuch(visits)", "unknown function 'nosuch'"),
        (None, "lest(visits, 1)", "did you mean 'least'"),
        (None, "days_since(visits)", "days_since() takes a timestamp"),
        (Some("has_any(industry, 'a')"), "1", "list<string>"),
    ] {
        let e = error(&[(when, points)]);
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    assert_eq!(error(&[(None, "visits +")]).kind, ErrorKind::Expression);
}

#[test]
fn an_integer_condition_reads_as_nonzero() {
    // `when: visits` is `visits <> 0`, as DuckDB reads an integer used as a condition.
    let a = compile(&[(Some("visits"), "1")]);
    let b = compile(&[(Some("visits <> 0"), "1")]);
    assert_eq!(a.code, b.code);
}

#[test]
fn scores_must_be_defined_before_use() {
    let m = json!({"name": "m", "source": "m.yaml", "scores": [
        {"name": "a", "line": 2, "expr": src("b + 1")},
        {"name": "b", "line": 4, "expr": src("1")}], "segments": []});
    let e = compile_json(&m.to_string(), &schema()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(e.to_string().contains("used before it is defined"), "{e}");
    let m = json!({"name": "m", "scores": [{"name": "a", "expr": src("a + 1")}]});
    assert!(compile_json(&m.to_string(), &schema()).unwrap_err().to_string().contains("refers to itself"));
}

#[test]
fn constants_fold_and_dead_rules_vanish() {
    let p = compile(&[(Some("1 > 2"), "visits"), (Some("TRUE AND 2 > 1"), "2 * 3 + 1"), (Some("NULL"), "5")]);
    assert_eq!(ops(&p), vec![Op::ZeroF, Op::RuleK, Op::StoreScore]);
    assert_eq!(p.consts_f, vec![7.0]);
}

#[test]
fn common_subexpressions_load_once() {
    let p = compile(&[(Some("visits >= 3"), "1"), (Some("visits >= 3 AND revenue > 10"), "2"), (None, "visits * 2")]);
    let loads = ops(&p).iter().filter(|o| **o == Op::LoadI).count();
    assert_eq!(loads, 1, "{}", p.disassemble());
    let cmps = ops(&p).iter().filter(|o| **o == Op::CmpIK).count();
    assert_eq!(cmps, 1, "{}", p.disassemble());
}

#[test]
fn string_predicates_become_one_lookup_per_distinct_subtree() {
    let p = compile(&[
        (Some("industry IN ('software', 'fintech')"), "1"),
        (Some("lower(industry) LIKE 'soft%' AND visits > 1"), "2"),
        (Some("industry IN ('software', 'fintech')"), "3"),
        (None, "CASE WHEN \"Lead Source\" = 'web' THEN 5 ELSE 1 END"),
    ]);
    assert_eq!(p.lookups.len(), 3, "{}", p.disassemble());
    assert!(p.disassemble().contains("StrIn"), "string IN lists become set probes");
    // The CASE is cast to float as a rule's points, so the whole cast becomes the lookup.
    assert_eq!(p.lookups[2].result, Type::Float);
    let t = leadscore_engine::eval_lookup(&p, 1, &[Some("Software".into()), Some("hardware".into())]).unwrap();
    assert_eq!(t, vec![2.0, 0.0, 1.0]);
    let t = leadscore_engine::eval_lookup(&p, 2, &[Some("web".into()), Some("ads".into())]).unwrap();
    assert_eq!(t, vec![5.0, 1.0, 1.0]);
}

#[test]
fn string_in_lists_follow_sql_null_rules() {
    let p = compile(&[(Some("industry IN ('a', NULL)"), "1"), (Some("industry NOT IN ('a', 'b')"), "2")]);
    let v = |t| leadscore_engine::eval_lookup(&p, t, &[Some("a".into()), Some("c".into())]).unwrap();
    assert_eq!(v(0), vec![2.0, 1.0, 1.0]); // TRUE, NULL (list holds NULL), NULL row
    assert_eq!(v(1), vec![0.0, 2.0, 1.0]);
}

#[test]
fn large_dictionaries_evaluate_in_parallel_to_the_same_tables() {
    let p = compile(&[(Some("industry LIKE '%7%' OR industry IN ('v1', 'v22')"), "1"), (None, "CASE WHEN industry ILIKE 'V9%' THEN 2 END")]);
    let values: Vec<Option<String>> = (0..20_000).map(|i| if i % 97 == 0 { None } else { Some(format!("v{i}")) }).collect();
    let both = leadscore_engine::eval_lookups(&p, &[0, 1], &values).unwrap();
    for (t, table) in both.iter().enumerate() {
        assert_eq!(table.len(), values.len() + 1);
        let one = leadscore_engine::eval_lookup(&p, t, &values).unwrap();
        assert!(table.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn rule_scores_are_reused_from_their_accumulator() {
    let m = json!({"name": "m", "scores": [
        {"name": "a", "rules": [{"name": "r", "points": src("visits")}]},
        {"name": "t", "expr": src("a * 2 + a")}]});
    let p = compile_json(&m.to_string(), &schema()).unwrap();
    assert!(!ops(&p).contains(&Op::LoadScore), "{}", p.disassemble());
    // A derived score's register is reused when nothing else needs it: the store zeroes its
    // NULLs in place (imm 2) ...
    let m = json!({"name": "m", "scores": [{"name": "d", "expr": src("revenue")}, {"name": "t", "expr": src("d + 1")}]});
    let p = compile_json(&m.to_string(), &schema()).unwrap();
    assert!(!ops(&p).contains(&Op::LoadScore), "{}", p.disassemble());
    assert!(p.code.iter().any(|i| i[0] == Op::StoreScore as i64 && i[3] == 2), "{}", p.disassemble());
    // ... but not when the expression's register is still needed as it is (NULL stays NULL).
    let m = json!({"name": "m", "scores": [{"name": "d", "expr": src("revenue")}, {"name": "t", "expr": src("d + revenue")}]});
    let p = compile_json(&m.to_string(), &schema()).unwrap();
    assert!(ops(&p).contains(&Op::LoadScore), "{}", p.disassemble());
}

#[test]
fn several_string_columns_become_a_key_lookup() {
    for when in [
        "industry = \"Lead Source\"",
        "industry LIKE \"Lead Source\"",
        "contains(industry, \"Lead Source\")",
        "coalesce(industry, \"Lead Source\") = 'saas'",
        "CASE WHEN unsubscribed THEN industry ELSE \"Lead Source\" END IN ('a', 'b')",
    ] {
        let p = compile(&[(Some(when), "1")]);
        let n = p.columns.len();
        assert_eq!(p.keys.len(), 1, "{when}");
        let mut names: Vec<&str> = p.keys[0].iter().map(|c| p.columns[*c].name.as_str()).collect();
        names.sort_unstable();
        let want: &[&str] = if when.contains("unsubscribed") { &["Lead Source", "industry", "unsubscribed"] } else { &["Lead Source", "industry"] };
        assert_eq!(names, want, "{when}");
        assert_eq!(p.lookups.len(), 1);
        assert_eq!(p.lookups[0].column, n, "the lookup reads key column len(columns) + 0");
        assert!(ops(&p).contains(&Op::LookupRuleK) || ops(&p).contains(&Op::LookupB), "{when}: {:?}", ops(&p));
    }
}

#[test]
fn one_string_column_lookups_take_no_key() {
    // The string part is a one-column lookup; AND with a boolean column stays outside it.
    let p = compile(&[(Some("industry = 'a' AND unsubscribed"), "1"), (Some("industry = \"Lead Source\" OR industry = 'x'"), "2")]);
    assert_eq!(p.keys.len(), 1);
    assert_eq!(p.lookups.iter().filter(|l| l.column < p.columns.len()).count(), 2, "{}", p.disassemble());
}

#[test]
fn a_string_value_over_a_number_column_is_rejected() {
    let e = error(&[(Some("CASE WHEN visits > 3 THEN industry ELSE 'x' END = 'x'"), "1")]);
    let text = e.to_string();
    assert!(text.contains("a string value here is computed from column 'visits' (int)") && !text.contains("TExpr"), "{text}");
    assert!(text.contains("rule 'r0'"), "{text}");
}

#[test]
fn disassemble_is_the_inverse_of_assemble() {
    let p = compile(&[
        (Some("industry IN ('a', 'b') OR has_any(tech, 'x', 'y')"), "decay(20, days_since(seen_at), 30)"),
        (Some("visits % 3 = 1"), "least(revenue / 1000, 5)"),
        (None, "CASE WHEN unsubscribed THEN -40 END"),
        (Some("coalesce(industry, \"Lead Source\") = 'x'"), "1"),
    ]);
    let text = p.disassemble();
    assert!(text.contains(".key 0 c"), "{text}");
    let q = assemble(&text).unwrap();
    assert_eq!(q.disassemble(), text);
    assert_eq!(q.code, p.code);
    assert!(assemble("0000 NOPE F0").is_err());
    assert!(assemble("0000 LOAD_F B0, c0").is_err());
}

#[test]
fn sql_quotes_identifiers_and_strings() {
    let m = json!({"name": "m", "scores": [{"name": "we\"ird", "rules": [
        {"name": "r", "when": src("\"Lead Source\" = 'it''s'"), "points": src("1")}]}],
        "segments": [{"name": "tier", "cases": [{"label": "o'k", "when": null}]}]});
    let sql = to_sql_json(&m.to_string(), &schema(), "my table", 0, false).unwrap();
    assert!(sql.contains("\"Lead Source\" = 'it''s'"), "{sql}");
    assert!(sql.contains("AS \"we\"\"ird\""), "{sql}");
    assert!(sql.contains("FROM \"my table\""), "{sql}");
    assert!(sql.contains("'o''k'"), "{sql}");
}

#[test]
fn structural_errors() {
    let m = json!({"name": "m", "source": "m.yaml", "scores": [{"name": "a", "line": 4, "range": [10, 0], "rules": []}]});
    let e = compile_json(&m.to_string(), &schema()).unwrap_err();
    assert_eq!((e.kind, e.line), (ErrorKind::Model, 4));
    assert!(compile_json("{", &schema()).is_err());
}

fn seg_model(extra_segments: serde_json::Value, queries: serde_json::Value) -> String {
    let mut segs = vec![
        json!({"name": "tier", "cases": [{"label": "hot", "when": src("s >= 10")}, {"label": "cold", "when": null}]}),
        json!({"name": "grade", "cases": [{"label": "A", "when": src("revenue > 5")}, {"label": "B", "when": src("revenue <= 5")}]}),
    ];
    segs.extend(extra_segments.as_array().unwrap().iter().cloned());
    json!({"name": "m", "source": "m.yaml", "scores": [{"name": "s", "rules": [{"name": "r", "points": src("visits")}]}],
           "segments": segs, "queries": queries})
    .to_string()
}

#[test]
fn matrix_labels_are_the_product_in_order() {
    let p = compile_json(&seg_model(json!([{"name": "priority", "matrix": ["grade", "tier"]}]), json!([])), &schema()).unwrap();
    assert_eq!(p.segments[2].labels, vec!["A-hot", "A-cold", "B-hot", "B-cold"]);
    assert_eq!(Op::from_code(p.code.last().unwrap()[0]), Some(Op::SegMatrix));
    let e = compile_json(&seg_model(json!([{"name": "p", "line": 7, "matrix": ["grad", "tier"]}]), json!([])), &schema()).unwrap_err();
    assert!(e.to_string().contains("did you mean 'grade'"), "{e}");
}

#[test]
fn queries_compare_segments_by_label() {
    let q = json!([
        {"kind": "count", "name": "hot", "expr": src("s >= 5 AND tier != 'cold'")},
        {"kind": "hist", "name": "h", "expr": src("s"), "edges": [0, 5, 10]},
        {"kind": "topk", "name": "t", "expr": src("s"), "k": 3, "per": "grade"},
        {"kind": "mask", "name": "m", "expr": src("tier IN ('hot')")}
    ]);
    let p = compile_json(&seg_model(json!([]), q), &schema()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.queries.len(), 4);
    assert_eq!((p.queries[1].slot, p.queries[1].size), (1, 5));
    assert_eq!(p.queries[2].groups, 2);
    let text = p.disassemble();
    assert!(text.contains("LOAD_SEG") && text.contains("COUNT_IF") && text.contains("TOPK"), "{text}");
    assert_eq!(assemble(&text).unwrap().disassemble(), text);
    let bad = json!([{"kind": "count", "expr": src("tier = 'hto'")}]);
    let e = compile_json(&seg_model(json!([]), bad), &schema()).unwrap_err();
    assert!(e.to_string().contains("did you mean 'hot'"), "{e}");
    let bad = json!([{"kind": "topk", "expr": src("s"), "k": 0}]);
    assert!(compile_json(&seg_model(json!([]), bad), &schema()).unwrap_err().to_string().contains("k >= 1"));
}
