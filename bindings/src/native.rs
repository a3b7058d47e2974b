//! `_engine.run_native`: the native executor (`engine::exec`) over numpy arrays, with the
//! arguments of `vm/kernel.start_batch`. Arrays are read through numpy's `__array_struct__`
//! (dtype and C order checked); column buffers come as `pool.Buffers.where` rows of
//! (address, bytes), which the caller keeps alive. The GIL is released while it runs.

use crate::ProgramError;
use leadscore_engine::exec;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};
use pyo3::intern;

/// A C-contiguous numpy array: data address and shape.
pub(crate) struct Arr {
    addr: usize,
    pub(crate) shape: Vec<usize>,
}

impl Arr {
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// SAFETY: the array is alive and of element type T (checked by `array`).
    pub(crate) unsafe fn slice<'a, T>(&self) -> &'a [T] {
        if self.len() == 0 { &[] } else { std::slice::from_raw_parts(self.addr as *const T, self.len()) }
    }
    /// SAFETY: as `slice`, and nothing else reads or writes it meanwhile.
    pub(crate) unsafe fn slice_mut<'a, T>(&self) -> &'a mut [T] {
        if self.len() == 0 { &mut [] } else { std::slice::from_raw_parts_mut(self.addr as *mut T, self.len()) }
    }
}

/// numpy's `PyArrayInterface`, the struct behind `__array_struct__` (a capsule): cheaper to
/// read than `__array_interface__`'s dict, which matters for a one-row batch.
#[repr(C)]
struct ArrayStruct {
    two: i32,
    nd: i32,
    typekind: u8,
    itemsize: i32,
    flags: i32,
    shape: *const isize,
    strides: *const isize,
    data: *mut std::ffi::c_void,
    descr: *mut pyo3::ffi::PyObject,
}

const C_CONTIGUOUS: i32 = 0x1;
const NOTSWAPPED: i32 = 0x200;
const WRITEABLE: i32 = 0x400;

pub(crate) fn array(a: &Bound<'_, PyAny>, what: &str, typestr: &str, writable: bool) -> PyResult<Arr> {
    let py = a.py();
    let cap = a.getattr(intern!(py, "__array_struct__")).map_err(|_| PyTypeError::new_err(format!("{what}: expected a numpy array")))?;
    let cap = cap.cast::<PyCapsule>()?;
    // SAFETY: numpy's __array_struct__ capsule (no name) holds a PyArrayInterface, alive with
    // the capsule, which keeps the array alive
    let s = unsafe { &*cap.pointer_checked(None)?.cast::<ArrayStruct>().as_ptr() };
    if s.two != 2 || s.nd < 0 {
        return Err(PyTypeError::new_err(format!("{what}: malformed __array_struct__")));
    }
    let order = if s.flags & NOTSWAPPED != 0 { if s.itemsize == 1 { '|' } else { '<' } } else { '>' };
    let got = format!("{order}{}{}", s.typekind as char, s.itemsize);
    if got != typestr {
        return Err(PyTypeError::new_err(format!("{what}: expected dtype {typestr}, got {got}")));
    }
    if s.flags & C_CONTIGUOUS == 0 {
        return Err(PyTypeError::new_err(format!("{what}: expected a C-contiguous array")));
    }
    if writable && s.flags & WRITEABLE == 0 {
        return Err(PyValueError::new_err(format!("{what}: the array is read-only")));
    }
    let shape = if s.nd == 0 { Vec::new() } else {
        // SAFETY: nd entries (numpy's contract)
        unsafe { std::slice::from_raw_parts(s.shape, s.nd as usize) }.iter().map(|&d| d.max(0) as usize).collect()
    };
    Ok(Arr { addr: s.data as usize, shape })
}

pub(crate) const F8: &str = "<f8";
pub(crate) const I8: &str = "<i8";
pub(crate) const I4: &str = "<i4";
const U1: &str = "|u1";

/// The program and one batch's columns and tables, as `run_native` and `explain_native` take
/// them (the arguments of `kernel.start_batch`).
pub(crate) struct BatchArgs<'py, 'a> {
    pub code: &'a Bound<'py, PyAny>,
    pub consts_f: &'a Bound<'py, PyAny>,
    pub consts_i: &'a Bound<'py, PyAny>,
    pub n_regs: [usize; 3],
    pub datas: &'a Bound<'py, PyAny>,
    pub valids: &'a Bound<'py, PyAny>,
    pub meta: &'a Bound<'py, PyAny>,
    pub lut_f: &'a Bound<'py, PyAny>,
    pub lut_b: &'a Bound<'py, PyAny>,
    pub lut_off: &'a Bound<'py, PyAny>,
    pub as_of: i64,
    pub n: usize,
    pub chunk: usize,
    pub materialize: bool,
    pub row_base: i64,
}

impl BatchArgs<'_, '_> {
    /// `f` over the batch these arguments describe (checked for dtypes, C order and shapes).
    pub(crate) fn with<R>(&self, tk_meta: &[[i64; 3]], f: impl FnOnce(&exec::Batch) -> R) -> PyResult<R> {
        let a_code = array(self.code, "code", I8, false)?;
        let (a_datas, a_valids, a_meta) = (array(self.datas, "datas", I8, false)?, array(self.valids, "valids", I8, false)?, array(self.meta, "meta", I8, false)?);
        let arrs = [
            array(self.consts_f, "consts_f", F8, false)?, array(self.consts_i, "consts_i", I8, false)?, array(self.lut_f, "lut_f", F8, false)?,
            array(self.lut_b, "lut_b", U1, false)?, array(self.lut_off, "lut_off", I8, false)?,
        ];
        let n_cols = a_meta.shape.first().copied().unwrap_or(0);
        if a_meta.len() != n_cols * 3 || a_datas.len() != n_cols * 2 || a_valids.len() != n_cols * 2 {
            return Err(PyValueError::new_err("meta must be int64[n_cols, 3], datas and valids int64[n_cols, 2]"));
        }
        // SAFETY: each array was checked for its dtype and C order and stays alive (borrowed
        // from the caller's arguments) until this call returns.
        // Column buffers: the (address, bytes) rows the caller keeps alive (pool.Buffers).
        let (datas_w, valids_w, meta_w): (&[i64], &[i64], &[i64]) = unsafe { (a_datas.slice(), a_valids.slice(), a_meta.slice()) };
        let buf = |w: &[i64], c: usize| -> &[u8] {
            let (addr, len) = (w[2 * c] as usize, w[2 * c + 1].max(0) as usize);
            if len == 0 || addr == 0 { &[] } else { unsafe { std::slice::from_raw_parts(addr as *const u8, len) } }
        };
        let columns: Vec<exec::Column> = (0..n_cols)
            .map(|c| exec::Column { data: buf(datas_w, c), valid: buf(valids_w, c), offset: meta_w[3 * c + 1].max(0) as usize, ptype: meta_w[3 * c] })
            .collect();
        let batch = unsafe {
            exec::Batch {
                code: a_code.slice(), consts_f: arrs[0].slice(), consts_i: arrs[1].slice(), n_regs: self.n_regs, columns: &columns,
                lut_f: arrs[2].slice(), lut_b: arrs[3].slice(), lut_off: arrs[4].slice(), as_of: self.as_of, n: self.n, chunk: self.chunk,
                materialize: self.materialize, row_base: self.row_base, tk_meta,
            }
        };
        Ok(f(&batch))
    }
}

/// Run a batch on the native executor (the arguments of `kernel.start_batch`, plus the thread
/// count); raises ProgramError when the program or the buffers fail its check.
#[pyfunction]
#[pyo3(signature = (code, consts_f, consts_i, n_f, n_i, n_b, datas, valids, meta, lut_f, lut_b, lut_off, as_of, n, chunk, nblocks, out_f, out_seg, materialize, row_base, acc, masks, tk_meta, tk_val, tk_row, threads=1))]
#[allow(clippy::too_many_arguments)]
pub fn run_native(
    py: Python<'_>, code: &Bound<'_, PyAny>, consts_f: &Bound<'_, PyAny>, consts_i: &Bound<'_, PyAny>, n_f: usize, n_i: usize, n_b: usize,
    datas: &Bound<'_, PyAny>, valids: &Bound<'_, PyAny>, meta: &Bound<'_, PyAny>, lut_f: &Bound<'_, PyAny>, lut_b: &Bound<'_, PyAny>,
    lut_off: &Bound<'_, PyAny>, as_of: i64, n: usize, chunk: usize, nblocks: usize, out_f: &Bound<'_, PyAny>, out_seg: &Bound<'_, PyAny>,
    materialize: bool, row_base: i64, acc: &Bound<'_, PyAny>, masks: &Bound<'_, PyAny>, tk_meta: &Bound<'_, PyAny>, tk_val: &Bound<'_, PyAny>,
    tk_row: &Bound<'_, PyAny>, threads: usize,
) -> PyResult<()> {
    let args = BatchArgs { code, consts_f, consts_i, n_regs: [n_f, n_i, n_b], datas, valids, meta, lut_f, lut_b, lut_off, as_of, n, chunk, materialize, row_base };
    let (a_out_f, a_out_seg, a_acc) = (array(out_f, "out_f", F8, true)?, array(out_seg, "out_seg", I4, true)?, array(acc, "acc", I8, true)?);
    let (a_masks, a_tk_meta) = (array(masks, "masks", U1, true)?, array(tk_meta, "tk_meta", I8, false)?);
    let (a_tk_val, a_tk_row) = (array(tk_val, "tk_val", F8, true)?, array(tk_row, "tk_row", I8, true)?);
    let dim = |a: &Arr, k: usize| a.shape.get(k).copied().unwrap_or(0);
    let (n_scores, n_segs, n_masks) = (dim(&a_out_f, 0), dim(&a_out_seg, 0), dim(&a_masks, 0));
    let n_slots = dim(&a_acc, 1).checked_sub(n_scores + n_segs).ok_or_else(|| PyValueError::new_err("acc narrower than the NULL counts"))?;
    // SAFETY: checked as the inputs; the outputs are distinct arrays, alive for the call
    let tk_meta_s: &[i64] = unsafe { a_tk_meta.slice() };
    if !tk_meta_s.len().is_multiple_of(3) {
        return Err(PyValueError::new_err("tk_meta must be int64[n_topk, 3]"));
    }
    let tk_meta_rows: Vec<[i64; 3]> = tk_meta_s.chunks_exact(3).map(|r| [r[0], r[1], r[2]]).collect();
    let outs = unsafe {
        exec::Outputs {
            out_f: a_out_f.slice_mut(), n_scores, out_seg: a_out_seg.slice_mut(), n_segs, acc: a_acc.slice_mut(), n_slots,
            masks: a_masks.slice_mut(), n_masks, tk_val: a_tk_val.slice_mut(), tk_row: a_tk_row.slice_mut(),
            tk_groups: dim(&a_tk_val, 1), tk_kmax: dim(&a_tk_val, 2),
        }
    };
    args.with(&tk_meta_rows, |batch| py.detach(|| exec::run(batch, outs, nblocks, threads)))?.map_err(ProgramError::new_err)
}

/// Why the native executor cannot run `code` (int64 words), or None.
#[pyfunction]
pub fn native_unsupported(code: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let a = array(code, "code", I8, false)?;
    // SAFETY: checked int64, C order, alive for the call
    Ok(exec::unsupported(unsafe { a.slice() }))
}

/// The physical column type names, by code (`vm/columns.py` PTYPE_NAMES must agree).
#[pyfunction]
pub fn native_ptypes() -> Vec<&'static str> {
    exec::ptype::NAMES.to_vec()
}
