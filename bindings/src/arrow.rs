//! Arrow data read in place through the C data interface (`__arrow_c_array__` capsules, as
//! arrow-rs's `FFI_ArrowSchema`/`FFI_ArrowArray`, borrowed: nothing is imported or copied),
//! and buffers handed back to Python as bytes.

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use leadscore_engine as engine;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyCapsuleMethods};

pub(crate) fn i32_bytes<'py>(py: Python<'py>, v: &[i32]) -> Bound<'py, PyBytes> {
    // SAFETY: an i32 slice viewed as its bytes, in native order as Arrow buffers are.
    PyBytes::new(py, unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) })
}

pub(crate) fn f64_bytes<'py>(py: Python<'py>, t: &[f64]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &t.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>())
}

/// Whether an exported array's length and offset are non-negative (the accessors of
/// `FFI_ArrowArray` cast them to usize).
pub(crate) fn well_formed(array: &FFI_ArrowArray) -> bool {
    (array.len() as i64) >= 0 && (array.offset() as i64) >= 0
}

/// Buffer `i` of an exported array, or null where it has fewer buffers.
pub(crate) fn buffer(array: &FFI_ArrowArray, i: usize) -> *const u8 {
    if i < array.num_buffers() { array.buffer(i) } else { std::ptr::null() }
}

/// A utf8 ("u") or large_utf8 ("U") array's buffers as `ArrowStrings` (which checks offsets
/// and UTF-8). Buffer sizes are not part of the interface: offsets hold offset+length+1
/// entries, the bitmap offset+length bits, the data up to the last offset.
///
/// SAFETY: `schema`/`array` are an exported, unreleased array (checked) whose buffers live
/// as long as they do.
pub(crate) unsafe fn arrow_strings<'a>(schema: &'a FFI_ArrowSchema, array: &'a FFI_ArrowArray, check_utf8: bool) -> Result<engine::strings::ArrowStrings<'a>, String> {
    if schema.release().is_none() || array.is_released() {
        return Err("the Arrow array was already released".into());
    }
    let wide = match schema.format() {
        "u" => false,
        "U" => true,
        f => return Err(format!("expected a string or large_string array, got Arrow format {f:?}")),
    };
    if array.num_buffers() != 3 || !well_formed(array) {
        return Err("malformed Arrow string array".into());
    }
    let (offset, len) = (array.offset(), array.len());
    let width = if wide { 8 } else { 4 };
    let (validity, offsets, data) = (array.buffer(0), array.buffer(1), array.buffer(2));
    if len == 0 || offsets.is_null() {
        return engine::strings::ArrowStrings::new(&[], wide, &[], None, 0, 0).map_err(|e| e.to_string());
    }
    let offsets = std::slice::from_raw_parts(offsets, (offset + len + 1) * width);
    let last = if wide {
        i64::from_le_bytes(offsets[(offset + len) * 8..][..8].try_into().unwrap())
    } else {
        i32::from_le_bytes(offsets[(offset + len) * 4..][..4].try_into().unwrap()) as i64
    };
    if last < 0 || (last > 0 && data.is_null()) {
        return Err("malformed Arrow string array".into());
    }
    let data: &[u8] = if last == 0 { &[] } else { std::slice::from_raw_parts(data, last as usize) };
    let validity = (array.null_count() != 0 && !validity.is_null()).then(|| std::slice::from_raw_parts(validity, (offset + len).div_ceil(8)));
    if check_utf8 {
        engine::strings::ArrowStrings::new(offsets, wide, data, validity, offset, len)
    } else {
        engine::strings::ArrowStrings::new_bytes(offsets, wide, data, validity, offset, len)
    }
}

/// Dictionary-encode a string or large_string Arrow array (any object with
/// `__arrow_c_array__`), read in place, without the GIL, on up to `threads` threads:
/// `(codes, offsets, data)` as bytes (int32 codes, 0 for NULL rows; the dictionary's int32
/// offsets and character data), or None when the dictionary would not fit 32-bit offsets.
#[pyfunction]
#[pyo3(signature = (values, threads=1))]
fn encode_strings<'py>(py: Python<'py>, values: &Bound<'py, PyAny>, threads: usize) -> PyResult<Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
    // values are hashed as bytes: no UTF-8 check needed
    let encoded = with_arrow_strings(values, false, |strings| py.detach(|| engine::encode::encode_parallel(strings, threads)))?;
    Ok(encoded.map(|e| (i32_bytes(py, &e.codes), i32_bytes(py, &e.offsets), PyBytes::new(py, &e.data))))
}

/// Call `f` on a string or large_string Arrow array (any object with `__arrow_c_array__`,
/// e.g. a pyarrow array or dictionary), read in place while its exported capsules are alive.
pub(crate) fn with_arrow_strings<R>(values: &Bound<'_, PyAny>, check_utf8: bool, f: impl FnOnce(&engine::strings::ArrowStrings) -> R) -> PyResult<R> {
    if !values.hasattr("__arrow_c_array__")? {
        return Err(pyo3::exceptions::PyTypeError::new_err("expected an Arrow array (an object with __arrow_c_array__)"));
    }
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = values.call_method0("__arrow_c_array__")?.extract()?;
    let schema = schema.pointer_checked(Some(c"arrow_schema"))?.cast::<FFI_ArrowSchema>();
    let array = array.pointer_checked(Some(c"arrow_array"))?.cast::<FFI_ArrowArray>();
    // SAFETY: the capsules (alive until this function returns) own an exported, unreleased
    // ArrowSchema/ArrowArray; the buffer lengths follow from the C data interface spec.
    let strings = unsafe { arrow_strings(schema.as_ref(), array.as_ref(), check_utf8) }.map_err(pyo3::exceptions::PyTypeError::new_err)?;
    Ok(f(&strings))
}

/// Adds the Arrow functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode_strings, m)?)?;
    Ok(())
}
