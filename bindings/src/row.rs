//! `_engine.score_row`: one lead scored from Python values (`engine::row`), for
//! `CompiledModel.score_one`: no numpy, no Arrow arrays, the GIL released while it runs.

use crate::ProgramError;
use leadscore_engine::row::{score_row as run, RowValue};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// A Python value as the column's kind needs it: None, bool, int, float or str; timestamps
/// and dates arrive as int microseconds (`Micros` for those kinds).
fn value(v: &Bound<'_, PyAny>, micros: bool) -> PyResult<RowValue> {
    if v.is_none() {
        return Ok(RowValue::Null);
    }
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Ok(RowValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<pyo3::types::PyInt>() {
        let i: i64 = v.extract()?;
        return Ok(if micros { RowValue::Micros(i) } else { RowValue::Int(i) });
    }
    if v.is_instance_of::<pyo3::types::PyFloat>() {
        return Ok(RowValue::Float(v.extract()?));
    }
    if v.is_instance_of::<pyo3::types::PyString>() {
        return Ok(RowValue::Str(v.extract()?));
    }
    Err(PyTypeError::new_err(format!("score_row: unsupported value {}", v.repr()?)))
}

/// (scores, segment label codes) of one lead: `values` one per program column, in order
/// (`micros`: which of them are timestamp/date microseconds).
#[pyfunction]
pub fn score_row(py: Python<'_>, program: &Bound<'_, crate::Program>, values: Vec<Bound<'_, PyAny>>, micros: Vec<bool>, as_of_us: i64) -> PyResult<(Vec<f64>, Vec<i32>)> {
    let vals = values.iter().zip(micros.iter().chain(std::iter::repeat(&false))).map(|(v, m)| value(v, *m)).collect::<PyResult<Vec<_>>>()?;
    let p = &program.get().0;
    let out = py.detach(|| run(p, &vals, as_of_us)).map_err(|e| ProgramError::new_err(format!("score_row: {e}")))?;
    Ok((out.scores, out.segments))
}
