//! leadscore-engine: the model compiler of leadscore_fast. No Python here.
//!
//! The compiler is a visible list of passes (see `compile`):
//! parse → typecheck (check) → fold → lookups → allocate + emit.

pub mod ast;
pub mod batch;
pub mod casemap;
pub mod casts;
pub(crate) mod unicode_table;
pub mod check;
pub mod emit;
pub mod encode;
pub mod error;
pub mod eval;
pub mod exec;
pub mod explain;
pub mod explain_fused;
pub mod fold;
pub mod fuse;
pub mod hints;
pub mod lookup;
pub mod model;
pub mod numeric;
pub mod opcodes;
pub mod parse;
pub mod program;
pub mod re2;
pub mod reasons;
pub mod row;
pub mod sql;
pub mod strfns;
pub mod strings;
pub mod strpred;
pub mod temporal;
pub mod tir;
pub mod typecheck;
pub mod types;

pub use error::{CompileError, ErrorKind, Result};
pub use model::{ModelSpec, Schema};
pub use program::{assemble, Program};

/// Compile a model against a schema into a program.
pub fn compile(spec: &ModelSpec, schema: &Schema) -> Result<Program> {
    let mut typed = check::check_model(spec, schema)?; // parse + typecheck every expression
    fold::fold_model(&mut typed); // constant folding, NULL propagation, boolean identities
    let lookups = lookup::extract_lookups(&mut typed)?; // string subtrees → dictionary tables
    let mut program = emit::emit_program(&typed, lookups)?; // CSE + register allocation + bytecode
    fuse::fuse(&mut program); // superinstructions
    Ok(program)
}

/// Compile from the engine JSON (docs/ARCHITECTURE.md §1).
pub fn compile_json(model_json: &str, schema_json: &str) -> Result<Program> {
    compile(&ModelSpec::from_json(model_json)?, &Schema::from_json(schema_json)?)
}

/// The model as a DuckDB query over `relation` (same semantics as the VM).
pub fn to_sql_json(model_json: &str, schema_json: &str, relation: &str, as_of_us: i64, include_input: bool) -> Result<String> {
    to_sql_json_dialect(model_json, schema_json, relation, as_of_us, include_input, "duckdb")
}

/// The model as one query over `relation` in `dialect` ("duckdb", "postgres" or "sqlite"),
/// with the VM's semantics; what the dialect cannot express is an error.
pub fn to_sql_json_dialect(model_json: &str, schema_json: &str, relation: &str, as_of_us: i64, include_input: bool, dialect: &str) -> Result<String> {
    let dialect: sql::Dialect = dialect.parse().map_err(|mut e: CompileError| {
        e.source = "to_sql".into();
        e
    })?;
    let spec = ModelSpec::from_json(model_json)?;
    let schema = Schema::from_json(schema_json)?;
    let typed = check::check_model(&spec, &schema)?;
    let names: Vec<String> = schema.fields.iter().map(|f| f.0.clone()).collect();
    sql::model_sql(&typed, &names, relation, as_of_us, include_input, dialect).map_err(|mut e| {
        e.source.clone_from(&spec.source);
        e
    })
}

/// Evaluate lookup table `t` of `program` for each dictionary value, plus one entry for a NULL
/// row at the end. Booleans come back as 0.0 FALSE / 1.0 NULL / 2.0 TRUE, numbers with NaN = NULL.
pub fn eval_lookup(program: &Program, t: usize, values: &[Option<String>]) -> Option<Vec<f64>> {
    eval_lookups_on(program, &[t], values).map(|mut v| v.pop().unwrap())
}

/// `eval_lookup` for several tables over the same dictionary (converted once by the caller).
pub fn eval_lookups(program: &Program, tables: &[usize], values: &[Option<String>]) -> Option<Vec<Vec<f64>>> {
    eval_lookups_on(program, tables, values)
}

/// One table's evaluator: the compiled fast path (strpred) or the generic evaluator.
enum Filler<'a> {
    Fast(Box<strpred::Compiled>),
    Generic(&'a lookup::LookupDef),
}

impl Filler<'_> {
    fn new(def: &lookup::LookupDef) -> Filler<'_> {
        match strpred::Compiled::compile(&def.expr, def.column, def.result) {
            Some(c) => Filler::Fast(Box::new(c)),
            None => Filler::Generic(def),
        }
    }

    fn one(&self, v: Option<&str>, scratch: &mut strpred::Scratch) -> f64 {
        use tir::Value;
        let def = match self {
            Filler::Fast(c) => return c.eval(v, scratch),
            Filler::Generic(def) => def,
        };
        let bound = v.map(|s| Value::Str(s.to_owned())).unwrap_or(Value::Null);
        encode_result(eval::eval(&def.expr, &|c| if c == def.column { Some(bound.clone()) } else { None }), def.result)
    }

    /// Entries for values `lo..lo + out.len()`.
    fn fill(&self, values: &(impl strings::Strings + ?Sized), lo: usize, out: &mut [f64]) {
        let mut scratch = strpred::Scratch::default();
        if let (Filler::Fast(c), Some(needle), Some(data)) = (self, self.needle(), values.data()) {
            if search_fill(c, &needle, values, data, lo, out, &mut scratch) {
                return;
            }
        }
        for (k, slot) in out.iter_mut().enumerate() {
            *slot = self.one(values.get(lo + k), &mut scratch);
        }
    }
}

impl Filler<'_> {
    fn needle(&self) -> Option<strpred::Needle<'_>> {
        match self {
            Filler::Fast(c) => c.needle(),
            Filler::Generic(_) => None,
        }
    }
}

/// `fill` for a single LIKE/contains table over values stored back to back:
/// search the whole buffer for the pattern's literal (one SIMD pass instead of a search per
/// short value) and evaluate only the values holding an occurrence; the rest are FALSE.
/// With case maps this needs an ASCII buffer (mapped in a copy, lengths unchanged); returns
/// false (nothing done) otherwise.
fn search_fill(
    c: &strpred::Compiled,
    needle: &strpred::Needle,
    values: &(impl strings::Strings + ?Sized),
    data: &[u8],
    lo: usize,
    out: &mut [f64],
    sc: &mut strpred::Scratch,
) -> bool {
    let n = out.len();
    if n == 0 {
        return true;
    }
    let (start, end) = (values.span(lo).0, values.span(lo + n - 1).1);
    let mapped: Vec<u8>;
    let hay: &[u8] = if needle.has_case_map() {
        if !data[start..end].is_ascii() {
            return false;
        }
        let mut m = data[start..end].to_vec();
        needle.map_ascii(&mut m);
        mapped = m;
        &mapped
    } else {
        &data[start..end]
    };
    let null_entry = c.eval(None, sc);
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = if values.get(lo + k).is_none() { null_entry } else { 0.0 };
    }
    let m = needle.finder.needle().len();
    let (mut pos, mut i) = (0usize, 0usize);
    while let Some(q) = needle.finder.find(&hay[pos..]).map(|q| q + pos) {
        // The first value ending at or after the occurrence's end.
        while i < n && values.span(lo + i).1 - start < q + m {
            i += 1;
        }
        if i == n {
            break;
        }
        let (a, b) = (values.span(lo + i).0 - start, values.span(lo + i).1 - start);
        if a <= q {
            // Inside value i: evaluate it fully, go on after it.
            if let Some(v) = values.get(lo + i) {
                out[i] = c.eval(Some(v), sc);
            }
            pos = b;
            i += 1;
        } else {
            pos = a; // straddles a boundary: go on from value i's start
        }
    }
    true
}

/// One part of a multi-column lookup key: a string column's dictionary (code `len()` is NULL)
/// or a boolean column (codes 0 FALSE, 1 TRUE, 2 NULL).
pub enum KeyPart {
    Str(Vec<Option<String>>),
    Bool,
}

impl KeyPart {
    /// Codes of this part, NULL (the last) included.
    pub fn codes(&self) -> usize {
        match self {
            KeyPart::Str(v) => v.len() + 1,
            KeyPart::Bool => 3,
        }
    }
    fn value(&self, code: usize) -> tir::Value {
        use tir::Value;
        match self {
            KeyPart::Str(v) => v.get(code).cloned().flatten().map_or(Value::Null, Value::Str),
            KeyPart::Bool if code < 2 => Value::Bool(code == 1),
            KeyPart::Bool => Value::Null,
        }
    }
}

/// Tables `tables` (lookups over key `key` of `program`) at the key tuples `combos`: each a
/// row of part codes, `combos.len() / parts.len()` rows, plus a last entry for the all-NULL
/// tuple. Without `combos`, at every tuple in row-major order (the first part most
/// significant, each part's codes NULL included): the dense table the runner indexes by
/// `Σ code_i · stride_i`. Entries encode results as `eval_lookup` does. None for a table that
/// is not over this key, or parts that do not match it.
pub fn eval_key_lookups(program: &Program, key: usize, tables: &[usize], parts: &[KeyPart], combos: Option<&[i64]>) -> Option<Vec<Vec<f64>>> {
    let cols = program.keys.get(key)?;
    let column = program.columns.len() + key;
    let defs: Vec<&lookup::LookupDef> = tables.iter().map(|t| program.lookups.get(*t).filter(|d| d.column == column)).collect::<Option<_>>()?;
    if parts.len() != cols.len() {
        return None;
    }
    let np = parts.len();
    let n = match combos {
        Some(c) if c.len() % np.max(1) == 0 => c.len() / np.max(1) + 1,
        Some(_) => return None,
        None => parts.iter().map(KeyPart::codes).try_fold(1usize, |a, b| a.checked_mul(b))?,
    };
    // Part codes of entry i: the combo row, the all-NULL tuple last, or i's mixed-radix digits.
    let codes_of = |i: usize, out: &mut [usize]| match combos {
        Some(c) if i + 1 < n => {
            for (j, o) in out.iter_mut().enumerate() {
                *o = usize::try_from(c[i * np + j]).unwrap_or(usize::MAX);
            }
        }
        Some(_) => {
            for (o, p) in out.iter_mut().zip(parts) {
                *o = p.codes() - 1;
            }
        }
        None => {
            let mut r = i;
            for (o, p) in out.iter_mut().zip(parts).rev() {
                *o = r % p.codes();
                r /= p.codes();
            }
        }
    };
    let fill = |lo: usize, outs: Vec<&mut [f64]>| {
        let mut codes = vec![0usize; np];
        let mut outs = outs;
        for i in 0..outs.first().map_or(0, |o| o.len()) {
            codes_of(lo + i, &mut codes);
            let vals: Vec<tir::Value> = codes.iter().zip(parts).map(|(c, p)| p.value(*c)).collect();
            let col = |c: usize| cols.iter().position(|k| *k == c).map(|j| vals[j].clone());
            for (def, out) in defs.iter().zip(outs.iter_mut()) {
                out[i] = encode_result(eval::eval(&def.expr, &col), def.result);
            }
        }
    };
    let mut out: Vec<Vec<f64>> = vec![vec![0.0; n]; tables.len()];
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if workers < 2 || n < 4096 {
        fill(0, out.iter_mut().map(|t| &mut t[..]).collect());
        return Some(out);
    }
    let part = n.div_ceil(workers);
    let mut pieces: Vec<Vec<&mut [f64]>> = (0..workers).map(|_| Vec::with_capacity(tables.len())).collect();
    for table in out.iter_mut() {
        for (w, chunk) in table.chunks_mut(part).enumerate() {
            pieces[w].push(chunk);
        }
    }
    let fill = &fill;
    std::thread::scope(|scope| {
        for (w, piece) in pieces.into_iter().enumerate() {
            scope.spawn(move || fill(w * part, piece));
        }
    });
    Some(out)
}

/// A lookup entry: booleans 0.0 FALSE / 1.0 NULL / 2.0 TRUE, numbers with NaN = NULL.
pub(crate) fn encode_result(v: Option<tir::Value>, result: types::Type) -> f64 {
    use tir::Value;
    match v {
        Some(Value::Bool(true)) => 2.0,
        Some(Value::Bool(false)) => 0.0,
        Some(Value::Int(i)) => i as f64,
        Some(Value::Float(f)) => f,
        _ if result == types::Type::Bool => 1.0,
        _ => f64::NAN,
    }
}

/// Lookup tables `tables` over `values` (a Python list's strings or Arrow buffers), each with
/// `values.len() + 1` entries (the last one for NULL rows). Large dictionaries are split over
/// the machine's cores.
pub fn eval_lookups_on(program: &Program, tables: &[usize], values: &(impl strings::Strings + ?Sized)) -> Option<Vec<Vec<f64>>> {
    let fillers: Vec<Filler> = tables.iter().map(|t| program.lookups.get(*t).map(Filler::new)).collect::<Option<_>>()?;
    let n = values.len();
    let mut out: Vec<Vec<f64>> = vec![vec![0.0; n + 1]; tables.len()];
    for (f, table) in fillers.iter().zip(out.iter_mut()) {
        table[n] = f.one(None, &mut strpred::Scratch::default());
    }
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if workers < 2 || n < 4096 {
        for (f, table) in fillers.iter().zip(out.iter_mut()) {
            f.fill(values, 0, &mut table[..n]);
        }
        return Some(out);
    }
    // One piece of every table per worker.
    let part = n.div_ceil(workers);
    let mut pieces: Vec<Vec<&mut [f64]>> = (0..workers).map(|_| Vec::with_capacity(tables.len())).collect();
    for table in out.iter_mut() {
        for (w, chunk) in table[..n].chunks_mut(part).enumerate() {
            pieces[w].push(chunk);
        }
    }
    let fillers = &fillers;
    std::thread::scope(|scope| {
        for (w, piece) in pieces.into_iter().enumerate() {
            scope.spawn(move || {
                for (f, chunk) in fillers.iter().zip(piece) {
                    f.fill(values, w * part, chunk);
                }
            });
        }
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tir::{Node, TExpr, Value};
    use types::Type;

    /// Arrow buffers (32-bit offsets, validity) for `values`.
    fn arrow(values: &[Option<String>]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut offs, mut data, mut valid) = (0i32.to_le_bytes().to_vec(), vec![], vec![0u8; values.len().div_ceil(8)]);
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                data.extend(v.as_bytes());
                valid[i / 8] |= 1 << (i % 8);
            }
            offs.extend((data.len() as i32).to_le_bytes());
        }
        (offs, data, valid)
    }

    #[test]
    fn buffer_search_matches_value_by_value() {
        // Occurrences that straddle value boundaries, overlap, repeat; empty values, NULLs,
        // ASCII and non-ASCII chunks; enough values for the parallel split.
        let words = ["aa", "a", "", "xa", "aab", "ba", "AA", "Aa", "ab_c", "abc", "é", "éa", "K", "\u{212A}", "k", "abab", "data", "DATA"];
        let values: Vec<Option<String>> = (0..9000)
            .map(|i| if i % 7 == 3 { None } else { Some(format!("{}{}", words[i % words.len()], words[(i / words.len()) % words.len()])) })
            .collect();
        let ascii: Vec<Option<String>> = values.iter().map(|v| v.as_ref().map(|s| s.replace(['é', '\u{212A}'], "e"))).collect();
        let col = || Box::new(TExpr::new(Type::Str, Node::Column(0)));
        let lit = |s: &str| Box::new(TExpr::konst(Type::Str, Value::Str(s.into())));
        let mut lookups = vec![];
        for p in ["%aa%", "%a_a%", "a%", "%ab", "%abab%", "%k%", "%K%", "%é%", "da%", "%b_c%", "aa"] {
            for ci in [false, true] {
                lookups.push(TExpr::new(Type::Bool, Node::Like { e: col(), pat: lit(p), ci, esc: None }));
            }
        }
        lookups.push(TExpr::new(Type::Bool, Node::Contains(col(), lit("aa"))));
        lookups.push(TExpr::new(Type::Bool, Node::StartsWith(col(), lit("ab"))));
        lookups.push(TExpr::new(Type::Bool, Node::Contains(Box::new(TExpr::new(Type::Str, Node::Upper(col()))), lit("AB"))));
        let program = Program {
            lookups: lookups.into_iter().map(|expr| lookup::LookupDef { column: 0, result: Type::Bool, expr }).collect(),
            ..Default::default()
        };
        let tables: Vec<usize> = (0..program.lookups.len()).collect();
        for vals in [&values, &ascii] {
            let (offs, data, valid) = arrow(vals);
            for (lo, n) in [(0, vals.len()), (5, 100), (17, 4500)] {
                let a = strings::ArrowStrings::new(&offs, false, &data, Some(&valid), lo, n).unwrap();
                let got = eval_lookups_on(&program, &tables, &a).unwrap();
                let want = eval_lookups(&program, &tables, &vals[lo..lo + n]).unwrap();
                for (t, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g, w, "table {t} on values {lo}..{}", lo + n);
                }
                // ... and the generic evaluator agrees on the whole table.
                for (t, w) in want.iter().enumerate() {
                    let def = &program.lookups[t];
                    let generic = Filler::Generic(def);
                    let mut sc = strpred::Scratch::default();
                    let slow: Vec<f64> = vals[lo..lo + n].iter().map(|v| v.as_deref()).chain([None]).map(|v| generic.one(v, &mut sc)).collect();
                    assert_eq!(w, &slow, "table {t}");
                }
            }
        }
    }

    #[test]
    fn key_tables_dense_and_at_tuples_agree() {
        // coalesce(c0, c1) = 'b' AND c2 (c2 boolean), over key (c0, c1, c2).
        let col = |c: usize, ty: Type| Box::new(TExpr::new(ty, Node::Column(c)));
        let co = TExpr::new(Type::Str, Node::Coalesce(col(0, Type::Str), col(1, Type::Str)));
        let eq = TExpr::new(Type::Bool, Node::Cmp(tir::Cmp::Eq, Box::new(co), Box::new(TExpr::konst(Type::Str, Value::Str("b".into())))));
        let expr = TExpr::new(Type::Bool, Node::And(Box::new(eq), col(2, Type::Bool)));
        let s = |t: &str| typecheck::ColumnRef { name: t.into(), ty: Type::Str, has_any: None };
        let program = Program {
            columns: vec![s("x"), s("y"), typecheck::ColumnRef { name: "f".into(), ty: Type::Bool, has_any: None }],
            keys: vec![vec![0, 1, 2]],
            lookups: vec![lookup::LookupDef { column: 3, result: Type::Bool, expr }],
            ..Program::default()
        };
        let parts = vec![
            KeyPart::Str(vec![Some("a".into()), Some("b".into())]),
            KeyPart::Str(vec![Some("b".into()), None]),
            KeyPart::Bool,
        ];
        let dense = eval_key_lookups(&program, 0, &[0], &parts, None).unwrap().pop().unwrap();
        assert_eq!(dense.len(), 3 * 3 * 3);
        // (NULL, "b", TRUE) is TRUE; ("a", "b", TRUE) FALSE; ("b", _, NULL) NULL; all-NULL NULL.
        let at = |a: usize, b: usize, c: usize| dense[(a * 3 + b) * 3 + c];
        assert_eq!((at(2, 0, 1), at(0, 0, 1), at(1, 2, 2), at(2, 2, 2)), (2.0, 0.0, 1.0, 1.0));
        let combos: Vec<i64> = vec![2, 0, 1, 0, 0, 1, 1, 2, 2, 1, 1, 0];
        let sparse = eval_key_lookups(&program, 0, &[0], &parts, Some(&combos)).unwrap().pop().unwrap();
        assert_eq!(sparse, vec![2.0, 0.0, 1.0, 0.0, 1.0]);
        assert!(eval_key_lookups(&program, 0, &[0], &parts[..2], None).is_none());
    }
}
