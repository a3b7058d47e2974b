//! `leadscore_fast._engine`: thin PyO3 wrappers over the `leadscore-engine` crate, one file per
//! concern: errors.rs (the exception hierarchy, mapped once from the engine's error kinds),
//! program.rs (compile, Program, to_sql, the opcode table), arrow.rs (Arrow read in place),
//! native.rs (the native executor over numpy buffers), reasons.rs (top reasons), row.rs (one
//! lead's values: score_row, RowScorer), batch.rs (a small RecordBatch in one call:
//! BatchScorer), parquet.rs (Arrow batches to a Parquet file: ParquetWriter), bulk.rs (a
//! Parquet file scored into another, the `leadscore-bulk` crate). Each function is a one-line
//! call into the engine.

mod arrow;
mod batch;
mod bulk;
mod errors;
mod native;
mod parquet;
mod program;
mod reasons;
mod row;

pub(crate) use errors::ProgramError;
pub(crate) use program::Program;

use pyo3::prelude::*;

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    program::register(m)?;
    arrow::register(m)?;
    parquet::register(m)?;
    m.add_class::<batch::BatchScorer>()?;
    m.add_class::<row::RowScorer>()?;
    m.add_function(wrap_pyfunction!(bulk::parquet_file_info, m)?)?;
    m.add_function(wrap_pyfunction!(bulk::score_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(native::run_native, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_unsupported, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_ptypes, m)?)?;
    m.add_function(wrap_pyfunction!(reasons::top_reasons, m)?)?;
    m.add_function(wrap_pyfunction!(reasons::explain_native, m)?)?;
    m.add_function(wrap_pyfunction!(reasons::explain_fused, m)?)?;
    m.add_function(wrap_pyfunction!(row::score_row, m)?)?;
    Ok(())
}
