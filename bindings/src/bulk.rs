//! A Parquet file scored into another with no Python in the loop (`leadscore-bulk`): the
//! GIL is released for the whole run and taken back only to report each batch's rows.

use leadscore_bulk::pipeline::{self, Job, Outcome, Stop};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A Parquet file's engine schema JSON (`[{"name", "kind"}]`, from its Arrow schema) and
/// row count; ValueError saying what is wrong with the file.
#[pyfunction]
pub(crate) fn parquet_file_info(py: Python<'_>, path: PathBuf) -> PyResult<(String, i64)> {
    let (schema, rows) = py.detach(|| pipeline::file_schema(&path)).map_err(PyValueError::new_err)?;
    Ok((leadscore_bulk::kinds::schema_json(&schema), rows))
}

/// Score the Parquet file `input` into the Parquet file `output` (created or truncated).
/// Returns a dict (rows; per score [min, max, sum, count]; per segmentation its counts per
/// label then NULL), or a string: why the Python runner must score this file instead (the
/// output is then incomplete: the caller discards it). ValueError when the input cannot
/// be read, OSError when the output cannot be written, ProgramError when the executor
/// refuses a batch; what `on_batch(rows)` raises (an interrupt) stops the run and is
/// raised here.
#[pyfunction]
#[pyo3(signature = (program, input, output, keep, as_of, chunk, max_blocks, threads, compression, row_group_rows, batch_rows, readers, on_batch))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn score_parquet<'py>(py: Python<'py>, program: &Bound<'py, crate::Program>, input: PathBuf, output: PathBuf, keep: Vec<String>, as_of: i64, chunk: usize, max_blocks: usize, threads: usize, compression: &str, row_group_rows: usize, batch_rows: usize, readers: usize, on_batch: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let program = &program.get().0;
    let job = Job { program, input: &input, output: &output, keep: &keep, as_of, chunk, max_blocks, threads, compression, row_group_rows, batch_rows, readers };
    let mut raised: Option<PyErr> = None;
    let outcome = py.detach(|| {
        pipeline::score_file(&job, &mut |rows| {
            Python::attach(|py| match on_batch.call1(py, (rows,)) {
                Ok(_) => true,
                Err(e) => {
                    raised = Some(e);
                    false
                }
            })
        })
    });
    match outcome {
        Ok(Outcome::Done(summary)) => {
            let d = PyDict::new(py);
            d.set_item("rows", summary.rows)?;
            let scores: Vec<(f64, f64, f64, u64)> = summary.scores.iter().map(|s| (s.min, s.max, s.sum, s.count)).collect();
            d.set_item("scores", scores)?;
            d.set_item("segments", summary.segments)?;
            Ok(d.into_any())
        }
        Ok(Outcome::Fallback(why)) => Ok(why.into_pyobject(py)?.into_any()),
        Err(Stop::Read(e)) => Err(PyValueError::new_err(e)),
        Err(Stop::Write(e)) => Err(PyOSError::new_err(e)),
        Err(Stop::Score(e)) => Err(crate::ProgramError::new_err(e)),
        Err(Stop::Cancelled) => Err(raised.unwrap_or_else(|| PyValueError::new_err("the run was stopped"))),
    }
}
