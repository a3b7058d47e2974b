//! A batch of Arrow columns scored in one call: the prepared path behind
//! `CompiledModel.score_batch` for small batches. Everything that depends only on the program
//! is done once (`Prepared::new`: the flat code, which opcodes read each column, the lookup
//! tables over each column); per batch the columns are bound as the runner binds them
//! (`runner._bind`: dictionary indices read in place, plain strings dictionary-encoded, the
//! same type rules), the lookup tables are filled from the dictionaries (kept while a
//! column's dictionary stays equal) and the native executor runs the batch: the same bits as
//! the runner's path.
//!
//! `score` answers `None` where the batch needs something only the runner does (multi-column
//! keys, dictionaries holding NULL values, uint64 read as BIGINT, ...): the caller takes the
//! runner's path then, which also gives the error for a column of the wrong type.

use crate::encode::{self, Encoded};
use crate::exec::{self, ptype as pt, Column};
use crate::opcodes::Op;
use crate::program::Program;
use crate::strings::{ArrowStrings, Strings};
use crate::types::Type;
use std::sync::{Arc, Mutex};

/// One input column of a batch, as the caller found it in the Arrow data.
pub enum Input<'a> {
    /// A column the executor reads in place (numbers, booleans, timestamps, dates).
    Plain(Column<'a>),
    /// A dictionary-coded column: its indices (`ptype` an integer type) and its values.
    Dict(Column<'a>, ArrowStrings<'a>),
    /// Plain strings, dictionary-encoded here; `valid` is the array's whole validity bitmap
    /// (empty: no NULLs) and `offset` its first row's bit.
    Strings { values: ArrowStrings<'a>, valid: &'a [u8], offset: usize },
}

/// The outputs of one batch: `scores[s * n + i]` (NaN is NULL), `segments[g * n + i]` (-1 is
/// NULL), and the NULLs written per score, then per segmentation.
#[derive(Debug, PartialEq)]
pub struct Scored {
    pub scores: Vec<f64>,
    pub segments: Vec<i32>,
    pub nulls: Vec<i64>,
}

/// The lookup tables over one column, filled from one dictionary (its values kept to
/// recognise it in the next batch).
struct Tables {
    lens: Vec<i64>, // per value: its byte length, -1 for NULL
    data: Vec<u8>,  // the values' bytes back to back
    tables: Vec<Vec<f64>>, // per table over the column (Prepared::by_column order)
}

impl Tables {
    fn same(&self, values: &ArrowStrings) -> bool {
        if values.len() != self.lens.len() {
            return false;
        }
        let mut at = 0usize;
        for (i, &len) in self.lens.iter().enumerate() {
            match values.get(i) {
                None if len < 0 => {}
                Some(v) if len >= 0 && v.len() == len as usize => {
                    if &self.data[at..at + v.len()] != v.as_bytes() {
                        return false;
                    }
                    at += v.len();
                }
                _ => return false,
            }
        }
        true
    }
}

/// The flat tables of one batch, in the executor's layout.
struct Flat {
    lut_f: Vec<f64>,
    lut_b: Vec<u8>,
    lut_off: Vec<i64>,
}

/// The last batch's flat tables and the per-column tables they were laid out from.
type LastFlat = Option<(Vec<Arc<Tables>>, Arc<Flat>)>;

/// A program prepared for scoring batches. Shared by threads: the table caches are behind
/// locks held only to read or replace an entry.
pub struct Prepared {
    program: Program,
    code: Vec<i64>,
    /// Per column: the opcodes that read it.
    reads: Vec<Vec<Op>>,
    /// Per column: the lookup tables over it, in table order.
    by_column: Vec<Vec<usize>>,
    cache: Mutex<Vec<Option<Arc<Tables>>>>,
    flat: Mutex<LastFlat>,
}

impl Prepared {
    /// Err for a program this path does not run (queries, multi-column keys, or an opcode
    /// the native executor lacks).
    pub fn new(program: &Program) -> Result<Prepared, String> {
        if !program.queries.is_empty() {
            return Err("the program has queries".into());
        }
        if !program.keys.is_empty() {
            return Err("the program has multi-column lookup keys".into());
        }
        let code: Vec<i64> = program.code.iter().flat_map(|i| i.iter().copied()).collect();
        if let Some(why) = exec::unsupported(&code) {
            return Err(why);
        }
        let n_cols = program.columns.len();
        let mut reads = vec![Vec::new(); n_cols];
        for insn in &program.code {
            let op = Op::from_code(insn[0]).ok_or("unknown opcode")?;
            if let Some(k) = op.info().operands.iter().position(|&k| k == "col") {
                let c = usize::try_from(insn[1 + k]).ok().filter(|&c| c < n_cols).ok_or("column operand out of range")?;
                if !reads[c].contains(&op) {
                    reads[c].push(op);
                }
            }
        }
        let mut by_column = vec![Vec::new(); n_cols];
        for (t, lk) in program.lookups.iter().enumerate() {
            by_column.get_mut(lk.column).ok_or("lookup over a column out of range")?.push(t);
        }
        Ok(Prepared {
            program: program.clone(), code, reads, by_column,
            cache: Mutex::new(vec![None; n_cols]), flat: Mutex::new(None),
        })
    }

    /// (scores, segmentations) a batch's outputs hold.
    pub fn outputs(&self) -> (usize, usize) {
        (self.program.scores.len(), self.program.segments.len())
    }

    /// Whether every opcode reading column `c` reads this physical type (`runner._ACCEPTS`;
    /// a lookup reads dictionary codes). uint64 read as BIGINT needs the runner's range check.
    fn accepts(&self, c: usize, ptype: i64, dictionary: bool) -> bool {
        let int = matches!(ptype, pt::I8 | pt::I16 | pt::I32 | pt::I64 | pt::U8 | pt::U16 | pt::U32 | pt::U64);
        let numeric = int || matches!(ptype, pt::F64 | pt::F32 | pt::BOOL);
        let time = matches!(ptype, pt::TS_S | pt::TS_MS | pt::TS_US | pt::TS_NS | pt::DATE32 | pt::DATE64);
        self.reads[c].iter().all(|op| match op {
            Op::LoadF | Op::LoadB => numeric,
            Op::LoadI => int && ptype != pt::U64,
            Op::LoadDays | Op::LoadUs => time,
            op if op.info().operands.contains(&"tab") => int && dictionary,
            _ => true,
        })
    }

    /// The tables over column `c` for dictionary `values`: the cached ones while it is equal.
    fn tables(&self, c: usize, values: &ArrowStrings) -> Option<Arc<Tables>> {
        let cached = self.cache.lock().unwrap()[c].clone();
        if let Some(t) = cached.filter(|t| t.same(values)) {
            return Some(t);
        }
        let mut tables = crate::eval_lookups_on(&self.program, &self.by_column[c], values)?;
        for (table, &t) in tables.iter_mut().zip(&self.by_column[c]) {
            if self.program.lookups[t].result == Type::Bool {
                // the tri-state the executor reads: anything but FALSE / TRUE is NULL
                for x in table.iter_mut() {
                    if *x != 0.0 && *x != 2.0 {
                        *x = 1.0;
                    }
                }
            }
        }
        let (mut lens, mut data) = (Vec::with_capacity(values.len()), Vec::new());
        for i in 0..values.len() {
            match values.get(i) {
                Some(v) => {
                    lens.push(v.len() as i64);
                    data.extend_from_slice(v.as_bytes());
                }
                None => lens.push(-1),
            }
        }
        let entry = Arc::new(Tables { lens, data, tables });
        self.cache.lock().unwrap()[c] = Some(entry.clone());
        Some(entry)
    }

    /// The flat layout of `per_column`'s tables (table t at `lut_off[t]..lut_off[t + 1]`),
    /// the last batch's while its tables are the same.
    fn flat(&self, per_column: &[Option<Arc<Tables>>]) -> Arc<Flat> {
        let used: Vec<Arc<Tables>> = per_column.iter().flatten().cloned().collect();
        if let Some((last, flat)) = self.flat.lock().unwrap().as_ref() {
            if last.len() == used.len() && last.iter().zip(&used).all(|(a, b)| Arc::ptr_eq(a, b)) {
                return flat.clone();
            }
        }
        let n_tabs = self.program.lookups.len();
        let mut at: Vec<Option<&[f64]>> = vec![None; n_tabs];
        for (c, tabs) in per_column.iter().enumerate() {
            if let Some(tabs) = tabs {
                for (&t, values) in self.by_column[c].iter().zip(&tabs.tables) {
                    at[t] = Some(values);
                }
            }
        }
        let mut flat = Flat { lut_f: Vec::new(), lut_b: Vec::new(), lut_off: vec![0] };
        for (t, values) in at.into_iter().enumerate() {
            let bool_table = self.program.lookups[t].result == Type::Bool;
            // a table over a column no dictionary came with: one entry, NULL (never read)
            let values = values.unwrap_or(if bool_table { &[1.0] } else { &[f64::NAN] });
            for &x in values {
                flat.lut_f.push(if bool_table { 0.0 } else { x });
                flat.lut_b.push(if bool_table { x as u8 } else { 0 });
            }
            flat.lut_off.push(flat.lut_f.len() as i64);
        }
        let flat = Arc::new(flat);
        *self.flat.lock().unwrap() = Some((used, flat.clone()));
        flat
    }

    /// Score `n` rows given as one `Input` per program column, in order; `chunk` rows per
    /// executor chunk, `nblocks` blocks on up to `threads` threads. None: take the runner's
    /// path (see the module doc); Err: the executor's check failed.
    pub fn score(&self, inputs: &[Input], n: usize, as_of: i64, chunk: usize, nblocks: usize, threads: usize) -> Result<Option<Scored>, String> {
        let n_cols = self.program.columns.len();
        if inputs.len() != n_cols {
            return Err(format!("expected {n_cols} columns (one per program column), got {}", inputs.len()));
        }
        // plain strings, encoded: (codes, their validity realigned to bit 0)
        let mut encoded: Vec<Option<(Encoded, Vec<u8>)>> = Vec::with_capacity(n_cols);
        for input in inputs {
            encoded.push(match input {
                Input::Strings { values, valid, offset } => {
                    let Some(e) = encode::encode(values) else { return Ok(None) };
                    (e.codes.len() == n).then_some(()).ok_or("string column of another length")?;
                    Some((e, realign(valid, *offset, n)))
                }
                _ => None,
            });
        }
        let mut encoded_values: Vec<Option<ArrowStrings>> = Vec::with_capacity(n_cols);
        for enc in &encoded {
            encoded_values.push(match enc {
                Some((e, _)) => Some(ArrowStrings::new(as_bytes(&e.offsets), false, &e.data, None, 0, e.offsets.len() - 1)?),
                None => None,
            });
        }
        let mut dicts: Vec<Option<&ArrowStrings>> = Vec::with_capacity(n_cols);
        let mut columns: Vec<Column> = Vec::with_capacity(n_cols);
        for (c, input) in inputs.iter().enumerate() {
            let (col, dict) = match (input, &encoded[c], &encoded_values[c]) {
                (Input::Plain(col), _, _) => (*col, None),
                (Input::Dict(col, values), _, _) => {
                    if (0..values.len()).any(|i| !values.is_valid(i)) {
                        return Ok(None); // NULL values: the runner folds them into the validity
                    }
                    (*col, Some(values))
                }
                (Input::Strings { .. }, Some((e, valid)), Some(values)) => {
                    (Column { data: as_bytes(&e.codes), valid, offset: 0, ptype: pt::I32 }, Some(values))
                }
                (Input::Strings { .. }, _, _) => unreachable!("encoded above"),
            };
            if !self.accepts(c, col.ptype, dict.is_some()) {
                return Ok(None);
            }
            columns.push(col);
            dicts.push(dict);
        }
        let mut per_column: Vec<Option<Arc<Tables>>> = vec![None; n_cols];
        for (c, dict) in dicts.iter().enumerate() {
            if let (Some(values), false) = (dict, self.by_column[c].is_empty()) {
                per_column[c] = Some(self.tables(c, values).ok_or("lookup table out of range")?);
            }
        }
        let flat = self.flat(&per_column);
        let batch = exec::Batch {
            code: &self.code, consts_f: &self.program.consts_f, consts_i: &self.program.consts_i,
            n_regs: self.program.n_regs, columns: &columns, lut_f: &flat.lut_f, lut_b: &flat.lut_b,
            lut_off: &flat.lut_off, as_of, n, chunk, materialize: true, row_base: 0, tk_meta: &[],
        };
        let (n_scores, n_segs) = (self.program.scores.len(), self.program.segments.len());
        let nblocks = nblocks.clamp(1, n.div_ceil(chunk.max(1)).max(1));
        let mut out = Scored { scores: vec![0.0; n_scores * n], segments: vec![-1; n_segs * n], nulls: vec![0; n_scores + n_segs] };
        let mut acc = vec![0i64; nblocks * (n_scores + n_segs)];
        let outputs = exec::Outputs {
            out_f: &mut out.scores, n_scores, out_seg: &mut out.segments, n_segs, acc: &mut acc, n_slots: 0,
            masks: &mut [], n_masks: 0, tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
        };
        exec::run(&batch, outputs, nblocks, threads)?;
        for (k, x) in acc.iter().enumerate() {
            out.nulls[k % (n_scores + n_segs)] += x; // acc is empty when there are no outputs
        }
        Ok(Some(out))
    }
}

/// A slice of `T` as its bytes (native order, as Arrow buffers are).
fn as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain numbers viewed as bytes, within the slice
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// Bits `offset..offset + n` of bitmap `valid` as a bitmap starting at bit 0 (empty stays
/// empty: no NULLs).
fn realign(valid: &[u8], offset: usize, n: usize) -> Vec<u8> {
    if valid.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0u8; n.div_ceil(8)];
    for i in 0..n {
        let j = offset + i;
        if valid[j / 8] >> (j % 8) & 1 == 1 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{score_row, RowValue};

    fn program() -> Program {
        let model = r#"{"name": "m", "source": "m", "as_of": null, "scores": [{"name": "s",
            "line": 1, "range": null, "expr": null, "rules": [
            {"name": "a", "line": 2, "when": {"text": "c IN ('x', 'y')", "line": 2, "col": 1},
             "points": {"text": "10", "line": 2, "col": 9}, "cap": null, "floor": null},
            {"name": "b", "line": 3, "when": {"text": "n > 2", "line": 3, "col": 1},
             "points": {"text": "n * 1.5", "line": 3, "col": 9}, "cap": null, "floor": null}]}],
            "segments": [{"name": "g", "line": 4, "cases": [
            {"label": "hi", "line": 5, "when": {"text": "s >= 10", "line": 5, "col": 1}},
            {"label": "lo", "line": 6, "when": null}]}]}"#;
        let schema = r#"[{"name": "c", "kind": "string"}, {"name": "n", "kind": "int"}]"#;
        crate::compile_json(model, schema).unwrap()
    }

    fn utf8(values: &[Option<&str>]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut offs, mut data, mut valid) = (vec![0i32], Vec::new(), vec![0u8; values.len().div_ceil(8)]);
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                data.extend_from_slice(v.as_bytes());
                valid[i / 8] |= 1 << (i % 8);
            }
            offs.push(data.len() as i32);
        }
        (as_bytes(&offs).to_vec(), data, valid)
    }

    #[test]
    fn batches_score_as_rows_do() {
        let p = program();
        let prep = Prepared::new(&p).unwrap();
        let c = [Some("x"), None, Some("z"), Some("y"), Some("x")];
        let n: [i64; 5] = [1, 3, 5, 0, 7];
        let n_valid = [0b10111u8]; // row 3 NULL
        let (offs, data, valid) = utf8(&c);
        for _ in 0..2 {  // the second batch reads the cached tables
            let strings = ArrowStrings::new(&offs, false, &data, Some(&valid), 0, 5).unwrap();
            let num = Column { data: as_bytes(&n), valid: &n_valid, offset: 0, ptype: pt::I64 };
            let inputs = [Input::Strings { values: strings, valid: &valid, offset: 0 }, Input::Plain(num)];
            let got = prep.score(&inputs, 5, 0, 2, 4, 2).unwrap().unwrap();
            for i in 0..5 {
                let row = [
                    c[i].map_or(RowValue::Null, |s| RowValue::Str(s.into())),
                    if n_valid[0] >> i & 1 == 1 { RowValue::Int(n[i]) } else { RowValue::Null },
                ];
                let want = score_row(&p, &row, 0).unwrap();
                assert_eq!(got.scores[i].to_bits(), want.scores[0].to_bits(), "row {i}");
                assert_eq!(got.segments[i], want.segments[0], "row {i}");
            }
            assert_eq!(got.nulls, vec![0, 0]);
        }
    }

    #[test]
    fn realigned_validity_starts_at_bit_zero() {
        assert_eq!(realign(&[0b1010_0000, 0b1], 5, 4), vec![0b1101]);
        assert!(realign(&[], 3, 10).is_empty());
    }

    #[test]
    fn a_dictionary_with_null_values_takes_the_runners_path() {
        let p = program();
        let prep = Prepared::new(&p).unwrap();
        let (offs, data, valid) = utf8(&[Some("x"), None]);
        let dict = ArrowStrings::new(&offs, false, &data, Some(&valid), 0, 2).unwrap();
        let codes: [i32; 2] = [0, 1];
        let n: [i64; 2] = [1, 2];
        let inputs = [
            Input::Dict(Column { data: as_bytes(&codes), valid: &[], offset: 0, ptype: pt::I32 }, dict),
            Input::Plain(Column { data: as_bytes(&n), valid: &[], offset: 0, ptype: pt::I64 }),
        ];
        assert_eq!(prep.score(&inputs, 2, 0, 8192, 1, 1).unwrap(), None);
        // a float column where BIGINT is read: the runner's path (and its SchemaError)
        let f: [f64; 2] = [1.0, 2.0];
        let (offs, data, _) = utf8(&[Some("x"), Some("y")]);
        let dict = ArrowStrings::new(&offs, false, &data, None, 0, 2).unwrap();
        let inputs = [
            Input::Dict(Column { data: as_bytes(&codes), valid: &[], offset: 0, ptype: pt::I32 }, dict),
            Input::Plain(Column { data: as_bytes(&f), valid: &[], offset: 0, ptype: pt::F64 }),
        ];
        let load_i = p.code.iter().any(|i| i[0] == Op::LoadI as i64);
        assert_eq!(prep.score(&inputs, 2, 0, 8192, 1, 1).unwrap().is_none(), load_i);
    }
}
