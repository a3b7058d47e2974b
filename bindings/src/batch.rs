//! `_engine.BatchScorer`: a Program prepared for scoring small Arrow batches in one call
//! (`engine::batch`), for `CompiledModel.score_batch`. The batch is read in place through the
//! Arrow C data interface (`__arrow_c_array__`: a RecordBatch exports a struct array), the
//! GIL released while it is bound and run; the output columns come back as their Arrow
//! buffers.

use crate::arrow::{arrow_strings, buffer, well_formed};
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use crate::ProgramError;
use leadscore_engine::batch::{Input, Prepared};
use leadscore_engine::exec::{ptype as pt, Column};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyCapsuleMethods};

/// A program prepared for scoring small Arrow batches in one call.
/// ProgramError for one this path does not take (queries, multi-column keys).
#[pyclass(frozen, module = "leadscore_fast._engine")]
pub struct BatchScorer(Prepared);

/// One output column: (data, validity bitmap or None, NULL count).
type OutColumn<'py> = (Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>, usize);

#[pymethods]
impl BatchScorer {
    #[new]
    fn new(program: &Bound<'_, crate::Program>) -> PyResult<Self> {
        Prepared::new(&program.get().0).map(BatchScorer).map_err(ProgramError::new_err)
    }

    /// The output columns of a RecordBatch, or None where the runner's path must score it.
    /// `batch`: an object whose `__arrow_c_array__` exports a struct array (a RecordBatch);
    /// `columns[c]` is the batch column of program column `c`. Returns one
    /// (data, validity or None, NULL count) per score (float64) then per segmentation (int32
    /// label codes), or None where the batch needs the runner's path.
    #[pyo3(signature = (batch, columns, as_of, chunk, nblocks, threads))]
    #[allow(clippy::too_many_arguments)]
    fn score<'py>(&self, py: Python<'py>, batch: &Bound<'py, PyAny>, columns: Vec<usize>, as_of: i64, chunk: usize, nblocks: usize, threads: usize) -> PyResult<Option<Vec<OutColumn<'py>>>> {
        let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = batch.call_method0(pyo3::intern!(py, "__arrow_c_array__"))?.extract()?;
        let schema = schema.pointer_checked(Some(c"arrow_schema"))?.cast::<FFI_ArrowSchema>();
        let array = array.pointer_checked(Some(c"arrow_array"))?.cast::<FFI_ArrowArray>();
        // SAFETY: the capsules (alive until this function returns) own an exported, unreleased
        // ArrowSchema/ArrowArray; buffer lengths follow from the C data interface spec.
        let (schema, array) = unsafe { (schema.as_ref(), array.as_ref()) };
        let Some((n, inputs)) = (unsafe { inputs(schema, array, &columns) }).map_err(PyTypeError::new_err)? else {
            return Ok(None);
        };
        let prep = &self.0;
        let scored = py.detach(|| prep.score(&inputs, n, as_of, chunk, nblocks, threads)).map_err(|e| ProgramError::new_err(format!("score_batch: {e}")))?;
        let Some(scored) = scored else { return Ok(None) };
        let (n_scores, n_segs) = prep.outputs();
        let mut out = Vec::with_capacity(n_scores + n_segs);
        for s in 0..n_scores {
            let rows = &scored.scores[s * n..(s + 1) * n];
            let valid = (scored.nulls[s] > 0).then(|| bitmap(rows.iter().map(|x| !x.is_nan())));
            out.push(column(py, raw_bytes(py, rows), valid));
        }
        for g in 0..n_segs {
            let codes = &scored.segments[g * n..(g + 1) * n];
            let valid = (scored.nulls[n_scores + g] > 0).then(|| bitmap(codes.iter().map(|&c| c >= 0)));
            out.push(column(py, raw_bytes(py, codes), valid));
        }
        Ok(Some(out))
    }
}

/// Numbers as the bytes of an Arrow buffer (native order).
fn raw_bytes<'py, T: Copy>(py: Python<'py>, v: &[T]) -> Bound<'py, PyBytes> {
    // SAFETY: plain numbers viewed as their bytes, within the slice
    PyBytes::new(py, unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) })
}

/// An output column from its data and, where it has NULLs, (bitmap, NULL count).
fn column<'py>(py: Python<'py>, data: Bound<'py, PyBytes>, valid: Option<(Vec<u8>, usize)>) -> OutColumn<'py> {
    match valid {
        Some((bits, nulls)) if nulls > 0 => (data, Some(PyBytes::new(py, &bits)), nulls),
        _ => (data, None, 0),
    }
}

/// The validity bitmap of `valid` (LSB first, as Arrow's) and its count of NULLs.
fn bitmap(valid: impl Iterator<Item = bool>) -> (Vec<u8>, usize) {
    let (mut bits, mut nulls) = (Vec::new(), 0);
    for (i, ok) in valid.enumerate() {
        if i % 8 == 0 {
            bits.push(0u8);
        }
        if ok {
            bits[i / 8] |= 1 << (i % 8);
        } else {
            nulls += 1;
        }
    }
    (bits, nulls)
}

/// The physical type of a primitive Arrow format, or None where the runner's path binds it
/// (float16, NULL, nested and other types).
fn ptype(format: &str) -> Option<i64> {
    Some(match format {
        "b" => pt::BOOL,
        "c" => pt::I8,
        "C" => pt::U8,
        "s" => pt::I16,
        "S" => pt::U16,
        "i" => pt::I32,
        "I" => pt::U32,
        "l" => pt::I64,
        "L" => pt::U64,
        "f" => pt::F32,
        "g" => pt::F64,
        "tdD" => pt::DATE32,
        "tdm" => pt::DATE64,
        f if f.starts_with("tss:") => pt::TS_S,
        f if f.starts_with("tsm:") => pt::TS_MS,
        f if f.starts_with("tsu:") => pt::TS_US,
        f if f.starts_with("tsn:") => pt::TS_NS,
        _ => return None,
    })
}

/// The batch's row count and program columns as `Input`s, or None where a column needs the
/// runner's path. Err for a malformed export.
///
/// SAFETY: `schema`/`array` are an exported, unreleased struct array, alive while the
/// returned inputs are used.
unsafe fn inputs<'a>(schema: &'a FFI_ArrowSchema, array: &'a FFI_ArrowArray, columns: &[usize]) -> Result<Option<(usize, Vec<Input<'a>>)>, String> {
    if schema.release().is_none() || array.is_released() {
        return Err("the Arrow batch was already released".into());
    }
    let n_children = array.num_children();
    if schema.format() != "+s" || schema.children().count() != n_children || !well_formed(array) {
        return Err("expected a RecordBatch (an Arrow struct array)".into());
    }
    if array.offset() != 0 || array.null_count() > 0 {
        return Ok(None);
    }
    let n = array.len();
    let mut out = Vec::with_capacity(columns.len());
    for &c in columns {
        if c >= n_children {
            return Err(format!("column {c} of a batch of {n_children}"));
        }
        let (cs, ca) = (schema.child(c), array.child(c));
        if cs.release().is_none() || ca.is_released() || ca.len() != n || !well_formed(ca) {
            return Err("malformed Arrow batch column".into());
        }
        let format = cs.format();
        let offset = ca.offset();
        let validity = buffer(ca, 0);
        let valid: &[u8] = if !validity.is_null() && ca.null_count() != 0 { std::slice::from_raw_parts(validity, (offset + n).div_ceil(8)) } else { &[] };
        if let Some(dict_schema) = cs.dictionary() {
            let (Some(p), Some(dict_array)) = (ptype(format), ca.dictionary()) else { return Ok(None) };
            if !matches!(p, pt::I8 | pt::I16 | pt::I32 | pt::I64 | pt::U8 | pt::U16 | pt::U32 | pt::U64) {
                return Ok(None);
            }
            if !matches!(dict_schema.format(), "u" | "U") {
                return Ok(None);
            }
            let values = arrow_strings(dict_schema, dict_array, true)?;
            out.push(Input::Dict(Column { data: data(ca, p, offset, n)?, valid, offset, ptype: p }, values));
        } else if format == "u" || format == "U" {
            let values = arrow_strings(cs, ca, false)?;
            out.push(Input::Strings { values, valid, offset });
        } else {
            let Some(p) = ptype(format) else { return Ok(None) };
            out.push(Input::Plain(Column { data: data(ca, p, offset, n)?, valid, offset, ptype: p }));
        }
    }
    Ok(Some((n, out)))
}

/// The data buffer (buffer 1) of a primitive column: the bytes its rows span.
///
/// SAFETY: as `inputs`.
unsafe fn data(array: &FFI_ArrowArray, p: i64, offset: usize, n: usize) -> Result<&[u8], String> {
    let bytes = pt::data_bytes(p, offset, n).unwrap_or(0);
    let b = buffer(array, 1);
    match b.is_null() {
        _ if n == 0 => Ok(&[]),
        false => Ok(std::slice::from_raw_parts(b, bytes)),
        true => Err("malformed Arrow column: no data buffer".into()),
    }
}
