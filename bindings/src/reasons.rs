//! `_engine.top_reasons`: per-lead reasons (`engine::reasons`) over numpy float64 columns of
//! contributions, the GIL released while it runs; flat Arrow buffers back.

use crate::native::{array, F8};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fn bytes_of<'py, T: Copy>(py: Python<'py>, v: &[T]) -> Bound<'py, PyBytes> {
    // SAFETY: a slice of plain numbers viewed as its bytes, in native order as Arrow's are
    PyBytes::new(py, unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) })
}

/// (offsets int32[n + 1], rules int32, points float64) for `columns` (one float64 array of
/// contributions per rule) and `adj` (the clamp adjustment per lead, or None).
#[pyfunction]
#[pyo3(signature = (columns, adj, n, top, threads=1))]
#[allow(clippy::type_complexity)]
pub fn top_reasons<'py>(
    py: Python<'py>,
    columns: Vec<Bound<'py, PyAny>>,
    adj: Option<Bound<'py, PyAny>>,
    n: usize,
    top: usize,
    threads: usize,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let arrs = columns.iter().map(|c| array(c, "columns", F8, false)).collect::<PyResult<Vec<_>>>()?;
    let adj = adj.map(|a| array(&a, "adj", F8, false)).transpose()?;
    if arrs.iter().chain(adj.iter()).any(|a| a.len() != n) {
        return Err(PyValueError::new_err(format!("top_reasons: every column must hold {n} values")));
    }
    // SAFETY: float64 arrays (checked), alive while `columns`/`adj` are held here
    let cols: Vec<&[f64]> = arrs.iter().map(|a| unsafe { a.slice::<f64>() }).collect();
    let adj: Option<&[f64]> = adj.as_ref().map(|a| unsafe { a.slice::<f64>() });
    let r = py.detach(|| leadscore_engine::reasons::top_reasons(&cols, adj, n, top, threads));
    Ok((bytes_of(py, &r.offsets), bytes_of(py, &r.rules), bytes_of(py, &r.points)))
}
