//! Per-lead reasons, the GIL released while they run: `_engine.top_reasons` (`engine::reasons`)
//! over numpy float64 columns of contributions, flat Arrow buffers back; `_engine.explain_native`
//! (`engine::explain`), the scoring pass that writes them into the caller's buffers, on the
//! native executor; `_engine.explain_fused` (`engine::explain_fused`), that pass on a fused
//! kernel.

use crate::native::{array, BatchArgs, F8, I4, I8};
use crate::ProgramError;
use leadscore_engine::exec;
use leadscore_engine::explain::{Explain, RowCopy, ScoreReasons};
use leadscore_engine::explain_fused::{self as fused_pass, Fused, FusedFn};
use leadscore_engine::reasons::entries_per_lead;
use std::sync::atomic::{AtomicI64, Ordering};
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

/// One rule score's reasons for `explain_native`: (score index, its rules' contribution score
/// indices, ranged, top, offsets int32[n + nblocks], rules int32[n * per lead], points
/// float64[n * per lead]).
type ReasonsArgs<'py> = (usize, Vec<usize>, bool, usize, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// The sink of one batch: `scores`/`segs` (index, float64[n] / int32[n] out) copied out,
/// `reasons` written (`engine::explain`), over `nblocks` blocks.
#[allow(clippy::type_complexity)]
fn sink<'py>(
    what: &str, n: usize, nblocks: usize, n_scores: usize, n_segs: usize, scores: &[(usize, Bound<'py, PyAny>)],
    segs: &[(usize, Bound<'py, PyAny>)], reasons: &[ReasonsArgs<'py>],
) -> PyResult<Explain> {
    let bad = |why: String| PyValueError::new_err(format!("{what}: {why}"));
    let copies = |rows: &[(usize, Bound<'py, PyAny>)], typestr: &str, of: usize, what: &str| -> PyResult<Vec<RowCopy>> {
        rows.iter().map(|(index, out)| {
            let a = array(out, what, typestr, true)?;
            if *index >= of || a.len() != n {
                return Err(bad(format!("{what} {index}: an index below {of} and {n} values")));
            }
            // SAFETY: checked dtype and size, alive while `rows` is held (the caller's call)
            Ok(RowCopy { index: *index, out: unsafe { a.slice_mut::<u8>() }.as_mut_ptr(), nulls: AtomicI64::new(0) })
        }).collect()
    };
    let score_rows = copies(scores, F8, n_scores, "score")?;
    let seg_rows = copies(segs, I4, n_segs, "segmentation")?;
    let mut picks = Vec::with_capacity(reasons.len());
    for (score, contributions, ranged, top, offsets, rules, points) in reasons {
        let (o, r, p) = (array(offsets, "offsets", I4, true)?, array(rules, "rules", I4, true)?, array(points, "points", F8, true)?);
        if *score >= n_scores || contributions.iter().any(|&c| c >= n_scores) || *top == 0 {
            return Err(bad(format!("reasons of score {score}: score indices below {n_scores} and top at least 1")));
        }
        let per = entries_per_lead(contributions.len(), *top, *ranged);
        if o.len() != n + nblocks || r.len() != n * per || p.len() != n * per {
            return Err(bad(format!("reasons of score {score}: {} offsets for {} (n + nblocks), {} rules and {} points for {}",
                                   o.len(), n + nblocks, r.len(), p.len(), n * per)));
        }
        // SAFETY: as above
        unsafe {
            picks.push(ScoreReasons {
                score: *score, contributions: contributions.clone(), ranged: *ranged, top: *top,
                offsets: o.slice_mut::<i32>().as_mut_ptr(), rules: r.slice_mut::<i32>().as_mut_ptr(), points: p.slice_mut::<f64>().as_mut_ptr(),
            });
        }
    }
    Ok(Explain { n, scores: score_rows, segs: seg_rows, reasons: picks })
}

/// The NULLs the sink wrote per score and per segmentation.
fn nulls(sink: &Explain) -> (Vec<i64>, Vec<i64>) {
    let count = |rows: &[RowCopy]| rows.iter().map(|c| c.nulls.load(Ordering::Relaxed)).collect();
    (count(&sink.scores), count(&sink.segs))
}

/// Run a batch of an explain program (the model plus one score per rule) on the native
/// executor without materialising its scores: per chunk, `scores` (score index, float64[n]
/// out) and `segs` (segmentation index, int32[n] out) are copied out and the reasons written
/// (`engine::explain`). Returns the NULLs written per score and per segmentation.
#[pyfunction]
#[pyo3(signature = (code, consts_f, consts_i, n_f, n_i, n_b, datas, valids, meta, lut_f, lut_b, lut_off, as_of, n, chunk, nblocks, n_scores, n_segs, scores, segs, reasons, threads=1))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn explain_native<'py>(
    py: Python<'py>, code: &Bound<'py, PyAny>, consts_f: &Bound<'py, PyAny>, consts_i: &Bound<'py, PyAny>, n_f: usize, n_i: usize, n_b: usize,
    datas: &Bound<'py, PyAny>, valids: &Bound<'py, PyAny>, meta: &Bound<'py, PyAny>, lut_f: &Bound<'py, PyAny>, lut_b: &Bound<'py, PyAny>,
    lut_off: &Bound<'py, PyAny>, as_of: i64, n: usize, chunk: usize, nblocks: usize, n_scores: usize, n_segs: usize,
    scores: Vec<(usize, Bound<'py, PyAny>)>, segs: Vec<(usize, Bound<'py, PyAny>)>, reasons: Vec<ReasonsArgs<'py>>, threads: usize,
) -> PyResult<(Vec<i64>, Vec<i64>)> {
    let args = BatchArgs { code, consts_f, consts_i, n_regs: [n_f, n_i, n_b], datas, valids, meta, lut_f, lut_b, lut_off, as_of, n, chunk, materialize: false, row_base: 0 };
    let nblocks = nblocks.max(1);
    let sink = sink("explain_native", n, nblocks, n_scores, n_segs, &scores, &segs, &reasons)?;
    let mut acc = vec![0i64; nblocks * (n_scores + n_segs)];
    let outs = exec::Outputs {
        out_f: &mut [], n_scores, out_seg: &mut [], n_segs, acc: &mut acc, n_slots: 0, masks: &mut [], n_masks: 0,
        tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
    };
    args.with(&[], |batch| py.detach(|| exec::run_with_sink(batch, outs, nblocks, threads, &sink)))?.map_err(ProgramError::new_err)?;
    Ok(nulls(&sink))
}

/// `explain_native`'s pass on a fused kernel: `kernel` is the address of a fused kernel
/// (vm/fused.py `Kernel.address`) compiled for the explain program, storing its `n_scores`
/// scores and `n_segs` segmentations, with no queries; `args` its int64 args array for this
/// batch (`Kernel.args`: the column and table buffers, alive for this call); `scratch_bytes`
/// what one call of it needs (`Kernel.scratch_bytes`). Each block's rows run `rows` at a
/// time into rows of the thread's own, handed to the sink (`engine::explain_fused`). The
/// blocks, buffers and result are `explain_native`'s.
#[pyfunction]
#[pyo3(signature = (kernel, args, scratch_bytes, rows, n, chunk, nblocks, n_scores, n_segs, scores, segs, reasons, threads=1))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn explain_fused<'py>(
    py: Python<'py>, kernel: usize, args: &Bound<'py, PyAny>, scratch_bytes: usize, rows: usize, n: usize, chunk: usize, nblocks: usize,
    n_scores: usize, n_segs: usize, scores: Vec<(usize, Bound<'py, PyAny>)>, segs: Vec<(usize, Bound<'py, PyAny>)>,
    reasons: Vec<ReasonsArgs<'py>>, threads: usize,
) -> PyResult<(Vec<i64>, Vec<i64>)> {
    let nblocks = nblocks.max(1);
    if kernel == 0 {
        return Err(PyValueError::new_err("explain_fused: no kernel"));
    }
    let sink = sink("explain_fused", n, nblocks, n_scores, n_segs, &scores, &segs, &reasons)?;
    let a = array(args, "args", I8, false)?;
    // SAFETY: an int64 array (checked), alive while `args` is held (this call)
    let words = unsafe { a.slice::<i64>() };
    // SAFETY: the caller's contract: the address of a kernel compiled for this program
    let fused = Fused { kernel: unsafe { std::mem::transmute::<usize, FusedFn>(kernel) }, args: words, scratch_bytes, rows, n_scores, n_segs };
    // SAFETY: as above; the sink's buffers were checked for `n` rows and `nblocks` blocks
    py.detach(|| unsafe { fused_pass::run(&fused, &sink, n, chunk, nblocks, threads) }).map_err(ProgramError::new_err)?;
    Ok(nulls(&sink))
}
