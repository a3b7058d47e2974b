//! leadscore-engine: the model compiler of leadscore_fast. No Python here.
//!
//! The compiler is a visible list of passes (see `compile`):
//! parse → typecheck (check) → fold → lookups → allocate + emit.

pub mod ast;
pub mod check;
pub mod emit;
pub mod error;
pub mod eval;
pub mod fold;
pub mod lookup;
pub mod model;
pub mod opcodes;
pub mod parse;
pub mod program;
pub mod sql;
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
    emit::emit_program(&typed, lookups) // CSE + register allocation + bytecode
}

/// Compile from the engine JSON (docs/ARCHITECTURE.md §1).
pub fn compile_json(model_json: &str, schema_json: &str) -> Result<Program> {
    compile(&ModelSpec::from_json(model_json)?, &Schema::from_json(schema_json)?)
}

/// The model as a DuckDB query over `relation` (same semantics as the VM).
pub fn to_sql_json(model_json: &str, schema_json: &str, relation: &str, as_of_us: i64, include_input: bool) -> Result<String> {
    let spec = ModelSpec::from_json(model_json)?;
    let schema = Schema::from_json(schema_json)?;
    let typed = check::check_model(&spec, &schema)?;
    let names: Vec<String> = schema.fields.iter().map(|f| f.0.clone()).collect();
    Ok(sql::model_sql(&typed, &names, relation, as_of_us, include_input))
}

/// Evaluate lookup table `t` of `program` for each dictionary value, plus one entry for a NULL
/// row at the end. Booleans come back as 0.0 FALSE / 1.0 NULL / 2.0 TRUE, numbers with NaN = NULL.
pub fn eval_lookup(program: &Program, t: usize, values: &[Option<String>]) -> Option<Vec<f64>> {
    use tir::Value;
    let def = program.lookups.get(t)?;
    let one = |v: Option<&String>| -> f64 {
        let bound = v.map(|s| Value::Str(s.clone())).unwrap_or(Value::Null);
        let out = eval::eval(&def.expr, &|c| if c == def.column { Some(bound.clone()) } else { None });
        match out {
            Some(Value::Bool(true)) => 2.0,
            Some(Value::Bool(false)) => 0.0,
            Some(Value::Int(i)) => i as f64,
            Some(Value::Float(f)) => f,
            _ if def.result == types::Type::Bool => 1.0,
            _ => f64::NAN,
        }
    };
    let mut out: Vec<f64> = values.iter().map(|v| one(v.as_ref())).collect();
    out.push(one(None));
    Some(out)
}

/// `eval_lookup` for several tables over the same dictionary (converted once by the caller).
/// Large dictionaries are split over the machine's cores.
pub fn eval_lookups(program: &Program, tables: &[usize], values: &[Option<String>]) -> Option<Vec<Vec<f64>>> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if workers < 2 || values.len() < 4096 {
        return tables.iter().map(|t| eval_lookup(program, *t, values)).collect();
    }
    let part = values.len().div_ceil(workers);
    let pieces: Vec<Option<Vec<Vec<f64>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = values
            .chunks(part)
            .map(|chunk| {
                scope.spawn(move || {
                    // Each piece drops its trailing NULL entry; the whole table gets one at the end.
                    tables.iter().map(|t| eval_lookup(program, *t, chunk).map(|mut v| { v.pop(); v })).collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("lookup worker")).collect()
    });
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(values.len() + 1); tables.len()];
    for piece in pieces {
        for (table, part) in out.iter_mut().zip(piece?) {
            table.extend(part);
        }
    }
    for (table, t) in out.iter_mut().zip(tables) {
        table.push(*eval_lookup(program, *t, &[])?.last()?);
    }
    Some(out)
}
