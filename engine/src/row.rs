//! One lead scored from its values, with no batch to build: the webhook path behind
//! `CompiledModel.score_one`. Each value becomes a one-row column, each lookup table the value
//! of its expression at this lead (the entry for its code and the one for NULL alike), and the
//! native executor runs the bytecode over them as over any batch: the same numbers, bit for bit.

use crate::eval::eval;
use crate::exec::{self, ptype as pt};
use crate::program::Program;
use crate::tir::Value;
use crate::types::Type;

/// A lead's value for one program column: `Micros` for timestamps and dates (microseconds
/// since the epoch, a date at midnight UTC), `Bool` for a derived `has_any` column.
#[derive(Clone, Debug, PartialEq)]
pub enum RowValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Micros(i64),
}

/// Scores (NaN is NULL) and segment label codes (-1: none) of one lead.
#[derive(Debug, PartialEq)]
pub struct RowScores {
    pub scores: Vec<f64>,
    pub segments: Vec<i32>,
}

/// The value a lookup expression reads for column `c` (strings and booleans only).
fn lookup_value(v: &RowValue) -> Value {
    match v {
        RowValue::Str(s) => Value::Str(s.clone()),
        RowValue::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

/// Score one lead: `values` holds one entry per `p.columns`, in order; `as_of_us` is the
/// resolved reference time. Err names a value of the wrong kind for its column.
pub fn score_row(p: &Program, values: &[RowValue], as_of_us: i64) -> Result<RowScores, String> {
    if values.len() != p.columns.len() {
        return Err(format!("expected {} values (one per program column), got {}", p.columns.len(), values.len()));
    }
    // One row's buffers: 8 data bytes per column (enough for any type), a validity byte.
    let n_cols = p.columns.len() + p.keys.len();
    let mut data = vec![[0u8; 8]; n_cols];
    let mut valid = vec![[0u8; 1]; n_cols];
    let mut nulls = vec![false; n_cols];
    let mut ptypes = vec![pt::I64; n_cols];
    for (c, (col, v)) in p.columns.iter().zip(values).enumerate() {
        let bytes: [u8; 8] = match (col.ty, v) {
            (_, RowValue::Null) => {
                nulls[c] = true;
                [0; 8]
            }
            (Type::Int, RowValue::Int(i)) => i.to_le_bytes(),
            (Type::Float, RowValue::Float(x)) => x.to_le_bytes(),
            (Type::Float, RowValue::Int(i)) => (*i as f64).to_le_bytes(),
            (Type::Bool, RowValue::Bool(b)) => [*b as u8, 0, 0, 0, 0, 0, 0, 0],
            (Type::Str, RowValue::Str(_)) => [0; 8], // dictionary code 0: the lookups hold its value
            (Type::Timestamp | Type::Date, RowValue::Micros(us)) => us.to_le_bytes(),
            (Type::Other | Type::Null | Type::ListStr, _) => [0; 8],
            (t, v) => return Err(format!("column '{}' is {t}, got {v:?}", col.name)),
        };
        data[c] = bytes;
        ptypes[c] = match col.ty {
            Type::Float => pt::F64,
            Type::Bool => pt::BOOL,
            Type::Str => pt::I32,
            Type::Timestamp | Type::Date => pt::TS_US,
            Type::Null => pt::NULL,
            Type::Other | Type::ListStr | Type::Label => pt::OTHER,
            Type::Int => pt::I64,
        };
    }
    for k in 0..p.keys.len() {
        ptypes[p.columns.len() + k] = pt::I32; // the lead's tuple: code 0
    }
    for c in 0..n_cols {
        valid[c][0] = !nulls[c] as u8;
    }
    let columns: Vec<exec::Column> = (0..n_cols)
        .map(|c| exec::Column {
            data: if ptypes[c] == pt::NULL { &[] } else { &data[c][..] },
            valid: if nulls[c] { &valid[c][..] } else { &[] },
            offset: 0,
            ptype: ptypes[c],
        })
        .collect();
    // Each lookup table: its expression at this lead, for the lead's code and for NULL.
    let col_value = |c: usize| values.get(c).map(lookup_value);
    let mut lut_f = Vec::with_capacity(2 * p.lookups.len());
    let mut lut_b = Vec::with_capacity(2 * p.lookups.len());
    let mut lut_off = Vec::with_capacity(p.lookups.len() + 1);
    lut_off.push(0i64);
    for def in &p.lookups {
        let x = crate::encode_result(eval(&def.expr, &col_value), def.result);
        lut_f.extend([x, x]);
        lut_b.extend([x as u8, x as u8]);
        lut_off.push(lut_f.len() as i64);
    }
    let code: Vec<i64> = p.code.iter().flat_map(|i| i.iter().copied()).collect();
    let batch = exec::Batch {
        code: &code,
        consts_f: &p.consts_f,
        consts_i: &p.consts_i,
        n_regs: p.n_regs,
        columns: &columns,
        lut_f: &lut_f,
        lut_b: &lut_b,
        lut_off: &lut_off,
        as_of: as_of_us,
        n: 1,
        chunk: 1,
        materialize: true,
        row_base: 0,
        tk_meta: &[],
    };
    let (n_scores, n_segs) = (p.scores.len(), p.segments.len());
    let mut out_f = vec![0.0; n_scores];
    let mut out_seg = vec![-1i32; n_segs];
    let mut acc = vec![0i64; n_scores + n_segs];
    let outputs = exec::Outputs {
        out_f: &mut out_f,
        n_scores,
        out_seg: &mut out_seg,
        n_segs,
        acc: &mut acc,
        n_slots: 0,
        masks: &mut [],
        n_masks: 0,
        tk_val: &mut [],
        tk_row: &mut [],
        tk_groups: 0,
        tk_kmax: 0,
    };
    exec::run(&batch, outputs, 1, 1)?;
    Ok(RowScores { scores: out_f, segments: out_seg })
}
