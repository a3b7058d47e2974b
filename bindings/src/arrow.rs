//! Arrow data read in place through the C data interface (`__arrow_c_array__` capsules), and
//! buffers handed back to Python as bytes.

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

/// The Arrow C data interface structs (https://arrow.apache.org/docs/format/CDataInterface.html).
#[repr(C)]
pub(crate) struct FfiSchema {
    pub(crate) format: *const std::ffi::c_char,
    pub(crate) name: *const std::ffi::c_char,
    pub(crate) metadata: *const std::ffi::c_char,
    pub(crate) flags: i64,
    pub(crate) n_children: i64,
    pub(crate) children: *mut *mut FfiSchema,
    pub(crate) dictionary: *mut FfiSchema,
    pub(crate) release: Option<unsafe extern "C" fn(*mut FfiSchema)>,
    pub(crate) private_data: *mut std::ffi::c_void,
}

#[repr(C)]
pub(crate) struct FfiArray {
    pub(crate) length: i64,
    pub(crate) null_count: i64,
    pub(crate) offset: i64,
    pub(crate) n_buffers: i64,
    pub(crate) n_children: i64,
    pub(crate) buffers: *mut *const std::ffi::c_void,
    pub(crate) children: *mut *mut FfiArray,
    pub(crate) dictionary: *mut FfiArray,
    pub(crate) release: Option<unsafe extern "C" fn(*mut FfiArray)>,
    pub(crate) private_data: *mut std::ffi::c_void,
}

/// A utf8 ("u") or large_utf8 ("U") array's buffers as `ArrowStrings` (which checks offsets
/// and UTF-8). Buffer sizes are not part of the interface: offsets hold offset+length+1
/// entries, the bitmap offset+length bits, the data up to the last offset.
pub(crate) unsafe fn arrow_strings<'a>(schema: &'a FfiSchema, array: &'a FfiArray, check_utf8: bool) -> Result<engine::strings::ArrowStrings<'a>, String> {
    if schema.release.is_none() || array.release.is_none() {
        return Err("the Arrow array was already released".into());
    }
    let format = std::ffi::CStr::from_ptr(schema.format).to_bytes();
    let wide = match format {
        b"u" => false,
        b"U" => true,
        f => return Err(format!("expected a string or large_string array, got Arrow format {:?}", String::from_utf8_lossy(f))),
    };
    if array.n_buffers != 3 || array.length < 0 || array.offset < 0 {
        return Err("malformed Arrow string array".into());
    }
    let (offset, len) = (array.offset as usize, array.length as usize);
    let bufs = std::slice::from_raw_parts(array.buffers, 3);
    let width = if wide { 8 } else { 4 };
    if len == 0 || bufs[1].is_null() {
        return engine::strings::ArrowStrings::new(&[], wide, &[], None, 0, 0).map_err(|e| e.to_string());
    }
    let offsets = std::slice::from_raw_parts(bufs[1] as *const u8, (offset + len + 1) * width);
    let last = if wide {
        i64::from_le_bytes(offsets[(offset + len) * 8..][..8].try_into().unwrap())
    } else {
        i32::from_le_bytes(offsets[(offset + len) * 4..][..4].try_into().unwrap()) as i64
    };
    if last < 0 || (last > 0 && bufs[2].is_null()) {
        return Err("malformed Arrow string array".into());
    }
    let data: &[u8] = if last == 0 { &[] } else { std::slice::from_raw_parts(bufs[2] as *const u8, last as usize) };
    let validity = (array.null_count != 0 && !bufs[0].is_null()).then(|| std::slice::from_raw_parts(bufs[0] as *const u8, (offset + len).div_ceil(8)));
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
    let schema = schema.pointer_checked(Some(c"arrow_schema"))?.cast::<FfiSchema>();
    let array = array.pointer_checked(Some(c"arrow_array"))?.cast::<FfiArray>();
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
