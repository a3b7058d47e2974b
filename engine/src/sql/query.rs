//! The model → one query: a CTE stage per score and segmentation in model order (so later ones
//! read earlier ones by name), with SQLite's helper stages before the stage that reads them,
//! then one SELECT of the outputs (after the input columns when asked).

use super::bind::{Cx, Hoister, MAX_SUM_TERMS};
use super::printer::Printer;
use super::syntax::{Layout, Part, Syntax};
use crate::check::{TModel, TScoreBody, TSegment};
use crate::error::{CompileError, Result};
use std::cell::RefCell;

/// Attach where in the model an error happened.
fn within(context: impl Fn() -> String) -> impl Fn(CompileError) -> CompileError {
    move |mut e| {
        if e.context.is_empty() {
            e.context = context();
        }
        e
    }
}

/// A prefix no input column and not the relation starts with (ASCII case ignored, as SQLite
/// and DuckDB compare names): internal stage and column names cannot clash with the user's.
fn internal_prefix(input_columns: &[String], relation: &str) -> String {
    let taken = |p: &str| input_columns.iter().map(|c| c.as_str()).chain([relation]).any(|c| c.to_ascii_lowercase().starts_with(p));
    let mut prefix = String::from("_ls");
    while taken(&prefix) {
        prefix.insert(0, '_');
    }
    prefix
}

/// A score's value: the left-to-right sum of its rules (clamped to its range), or its
/// expression with NULL as 0.
fn score_value(pr: &Printer, s: &crate::check::TScore) -> Result<String> {
    let (syn, cx) = (pr.syn, &pr.cx);
    let TScoreBody::Rules { rules, range } = &s.body else {
        let TScoreBody::Derived(e) = &s.body else { unreachable!() };
        return Ok(syn.derived(pr.expr(e).map_err(within(|| format!("score '{}', expr", s.name)))?));
    };
    let start = cx.mark();
    let mut sum = syn.float_lit(0.0);
    for (k, r) in rules.iter().enumerate() {
        let at = |what: &'static str| within(move || format!("score '{}', rule '{}', {what}", s.name, r.name));
        let when = r.when.as_ref().map(|w| pr.expr(w)).transpose().map_err(at("when"))?;
        let points = pr.expr(&r.points).map_err(at("points"))?;
        sum = syn.add(&sum, &syn.rule_term(cx, when.as_ref().map(|w| w.sql.as_str()), points, r.floor, r.cap));
        if (k + 1) % MAX_SUM_TERMS == 0 {
            // the partial sum so far in a helper column (same additions, same order)
            sum = cx.hoist(Part { sql: sum, leaf: false, level: cx.level_since(start) }).sql;
        }
    }
    Ok(match range {
        Some((lo, hi)) => syn.clamp(&sum, *lo, *hi),
        None => sum,
    })
}

/// A segmentation's label: first matching case, or the matrix of two earlier ones.
fn segment_value(pr: &Printer, g: &TSegment) -> Result<String> {
    let syn = pr.syn;
    if let Some((a, b)) = g.matrix {
        let (a, b) = (&pr.segments[a], &pr.segments[b]);
        return Ok(format!("CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE {a} || '-' || {b} END"));
    }
    let mut case = String::from("CASE");
    for (label, w) in &g.cases {
        let at = within(|| format!("segmentation '{}', segment '{}'", g.name, g.labels[*label]));
        let cond = match w {
            Some(w) => format!("({}) IS TRUE", pr.expr(w).map_err(&at)?.sql),
            None => "TRUE".into(),
        };
        case.push_str(&format!(" WHEN {cond} THEN {}", syn.string_lit(&g.labels[*label]).map_err(&at)?));
    }
    case.push_str(" ELSE NULL END");
    Ok(case)
}

pub(super) fn model_sql(
    syn: &dyn Syntax,
    m: &TModel,
    input_columns: &[String],
    relation: &str,
    as_of_us: i64,
    include_input: bool,
) -> Result<String> {
    let layout = syn.layout();
    let names: Vec<&str> = m.scores.iter().map(|s| s.name.as_str()).chain(m.segments.iter().map(|g| g.name.as_str())).collect();
    // A column the model reads whose name differs from a stage's only in case: the engine
    // reads the column (score names match exactly), DuckDB would read the stage (its names
    // ignore case). Internal names keep the two apart there too.
    let case_clash = m.columns.iter().any(|c| names.iter().any(|n| *n != c.name && n.to_lowercase() == c.name.to_lowercase()));
    let internal = layout != Layout::OwnNames || case_clash;
    let prefix = internal_prefix(input_columns, relation);
    // (CTE name, column name) of each stage, quoted.
    let stages: Vec<(String, String)> = (0..names.len())
        .map(|i| {
            Ok(if internal {
                (syn.ident(&format!("{prefix}t{i}"))?, syn.ident(&format!("{prefix}{i}"))?)
            } else {
                (format!("s{i}"), syn.ident(names[i])?)
            })
        })
        .collect::<Result<_>>()?;
    let refs: Vec<String> = stages.iter().map(|(_, c)| c.clone()).collect();
    let (score_refs, segment_refs) = refs.split_at(m.scores.len());
    let hoister = RefCell::new(Hoister::new(&prefix));
    let pr = Printer {
        syn,
        cx: Cx { hoister: (layout == Layout::Hoisted).then_some(&hoister) },
        columns: &m.columns,
        scores: score_refs,
        segments: segment_refs,
        labels: m.segments.iter().map(|g| g.labels.as_slice()).collect(),
        as_of_us,
    };
    // Each stage is read as a whole, not inlined into the next: inlining would copy a score's
    // expression into every place that reads it (a derived score reading three others reading
    // ... grows exponentially). SQLite materializes; PostgreSQL streams behind OFFSET 0, which
    // it never flattens.
    let materialized = if layout == Layout::Hoisted { "MATERIALIZED " } else { "" };
    let fence = if layout == Layout::Internal { " OFFSET 0" } else { "" };

    let mut ctes = Vec::new();
    let mut from = syn.ident(relation)?;
    for (i, (cte, column)) in stages.iter().enumerate() {
        let value = match m.scores.get(i) {
            Some(s) => score_value(&pr, s)?,
            None => segment_value(&pr, &m.segments[i - m.scores.len()])?,
        };
        // The helper columns the value reads, in stages by level (a helper reads lower ones).
        let helpers = std::mem::take(&mut hoister.borrow_mut().helpers);
        for level in 1..=helpers.iter().map(|h| h.level).max().unwrap_or(0) {
            let cols: Vec<String> = helpers.iter().filter(|h| h.level == level).map(|h| format!("{} AS {}", h.sql, h.name)).collect();
            let name = syn.ident(&format!("{prefix}t{i}h{level}"))?;
            ctes.push(format!("{name} AS {materialized}(SELECT *, {} FROM {from}{fence})", cols.join(", ")));
            from = name;
        }
        // DuckDB: an input column of the same name is replaced (the model's name wins, as in the VM).
        let star = if !internal && input_columns.iter().any(|c| c.eq_ignore_ascii_case(names[i])) {
            format!("* EXCLUDE ({column})")
        } else {
            "*".to_string()
        };
        ctes.push(format!("{cte} AS {materialized}(SELECT {star}, {value} AS {column} FROM {from}{fence})"));
        from = cte.clone();
    }
    let mut select = Vec::new();
    if include_input {
        for c in input_columns.iter().filter(|c| !names.iter().any(|n| n.eq_ignore_ascii_case(c))) {
            select.push(syn.ident(c)?);
        }
    }
    for ((_, column), name) in stages.iter().zip(&names) {
        select.push(if internal { format!("{column} AS {}", syn.ident(name)?) } else { column.clone() });
    }
    let with = if ctes.is_empty() { String::new() } else { format!("WITH {}\n", ctes.join(",\n     ")) };
    Ok(format!("{with}SELECT {}\nFROM {from}", select.join(", ")))
}
