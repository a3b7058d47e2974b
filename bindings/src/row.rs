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

/// How `RowScorer` reads a program column's value from a lead.
enum Kind {
    Int,
    Float,
    Bool,
    Str,
    /// timestamp / date: microseconds from the `micros` callable
    Micros,
    /// `has_any(list, values...)`: TRUE when an item is one of them
    HasAny(Vec<String>),
    /// a column read only for its NULLs (other types, NULL, list<string>)
    Present,
}

/// One lead scored from a dict in one call, for `CompiledModel.score_one`.
/// The column names, their kinds and the output names are prepared once; the values are read
/// from the dict, the native executor run (`engine::row`) and the result dict built here.
#[pyclass(frozen, module = "leadscore_fast._engine")]
pub struct RowScorer {
    program: Py<crate::Program>,
    names: Vec<Py<pyo3::types::PyString>>,
    kinds: Vec<Kind>,
    outputs: Vec<Py<pyo3::types::PyString>>,
    labels: Vec<Vec<Py<PyAny>>>,
    micros: Py<PyAny>,
}

#[pymethods]
impl RowScorer {
    /// `columns`: (name, kind, has_any values) per program column; `labels`: per
    /// segmentation, its labels; `micros`: a datetime or date → int microseconds since the
    /// epoch, or None for a value it does not take.
    #[new]
    fn new(py: Python<'_>, program: Py<crate::Program>, columns: Vec<(String, String, Vec<String>)>, labels: Vec<Vec<String>>, micros: Py<PyAny>) -> PyResult<Self> {
        let p = &program.get().0;
        if columns.len() != p.columns.len() || labels.len() != p.segments.len() {
            return Err(PyTypeError::new_err("RowScorer: one entry per program column and per segmentation"));
        }
        let names = columns.iter().map(|(n, _, _)| pyo3::types::PyString::intern(py, n).unbind()).collect();
        let kinds = columns
            .into_iter()
            .map(|(_, kind, values)| match kind.as_str() {
                "int" => Kind::Int,
                "float" => Kind::Float,
                "bool" => Kind::Bool,
                "string" => Kind::Str,
                "timestamp" | "date" => Kind::Micros,
                "has_any" => Kind::HasAny(values),
                _ => Kind::Present,
            })
            .collect();
        let outputs = p.scores.iter().chain(p.segments.iter().map(|g| &g.name)).map(|n| pyo3::types::PyString::intern(py, n).unbind()).collect();
        let labels = labels.into_iter().map(|ls| ls.into_iter().map(|l| l.into_pyobject(py).unwrap().into_any().unbind()).collect()).collect();
        Ok(RowScorer { program, names, kinds, outputs, labels, micros })
    }

    /// The lead's `{score: float or None, ..., segmentation: label or None}`, or None.
    /// `lead`: a dict of column values (a missing key is NULL). None where a value is not of the plain Python type its
    /// column takes (the caller converts it through Arrow then).
    fn score<'py>(&self, py: Python<'py>, lead: &Bound<'py, pyo3::types::PyDict>, as_of_us: i64) -> PyResult<Option<Bound<'py, pyo3::types::PyDict>>> {
        use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
        let mut vals = Vec::with_capacity(self.kinds.len());
        for (name, kind) in self.names.iter().zip(&self.kinds) {
            let v = match lead.get_item(name.bind(py))? {
                Some(v) if !v.is_none() => v,
                _ => {
                    vals.push(RowValue::Null);
                    continue;
                }
            };
            let is_bool = v.is_instance_of::<PyBool>();
            let value = match kind {
                Kind::Bool if is_bool => Some(RowValue::Bool(v.extract()?)),
                Kind::Int if !is_bool && v.is_instance_of::<PyInt>() => v.extract().ok().map(RowValue::Int),
                Kind::Float if !is_bool && v.is_instance_of::<PyInt>() => v.extract().ok().map(RowValue::Int),
                Kind::Float if v.is_instance_of::<PyFloat>() => Some(RowValue::Float(v.extract()?)),
                Kind::Str if v.is_instance_of::<PyString>() => Some(RowValue::Str(v.extract()?)),
                Kind::Micros => {
                    let us = self.micros.bind(py).call1((v,))?;
                    if us.is_none() { None } else { Some(RowValue::Micros(us.extract()?)) }
                }
                Kind::HasAny(wanted) if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() => {
                    let mut hit = false;
                    for item in v.try_iter()? {
                        let item = item?;
                        if let Ok(s) = item.cast::<PyString>() {
                            let s = s.to_cow()?;
                            if wanted.iter().any(|w| *w == *s) {
                                hit = true;
                                break;
                            }
                        }
                    }
                    Some(RowValue::Bool(hit))
                }
                Kind::Present if !is_bool => Some(RowValue::Int(0)),
                _ => None,
            };
            match value {
                Some(x) => vals.push(x),
                None => return Ok(None),
            }
        }
        let p = &self.program.get().0;
        let out = py.detach(|| run(p, &vals, as_of_us)).map_err(|e| ProgramError::new_err(format!("score_row: {e}")))?;
        let result = PyDict::new(py);
        for (name, &x) in self.outputs.iter().zip(&out.scores) {
            if x.is_nan() {
                result.set_item(name.bind(py), py.None())?;
            } else {
                result.set_item(name.bind(py), x)?;
            }
        }
        for ((name, &code), labels) in self.outputs[out.scores.len()..].iter().zip(&out.segments).zip(&self.labels) {
            match usize::try_from(code).ok().and_then(|c| labels.get(c)) {
                Some(label) => result.set_item(name.bind(py), label.bind(py))?,
                None => result.set_item(name.bind(py), py.None())?,
            }
        }
        Ok(Some(result))
    }
}
