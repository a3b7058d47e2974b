//! What the native executor checks before it runs a program: every operand against its kind
//! in the opcode table (as `vm/check.py` does for the numba VM) and against the sizes of the
//! batch it runs on, so that the interpreter's unchecked indexing stays inside its buffers.

use super::ptype;
use crate::opcodes::{Op, AOP_NAMES, CMP_NAMES, FN_NAMES, INSN_WIDTH, MM_NAMES};

/// What a program's operands index into, for one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dims {
    /// Registers: float, int, bool.
    pub n_regs: [usize; 3],
    /// Input columns, lookup keys included.
    pub n_cols: usize,
    /// Tables in `lut_off` (lookup tables, then the runner's points tables).
    pub n_tabs: usize,
    pub n_consts_f: usize,
    pub n_consts_i: usize,
    pub n_scores: usize,
    pub n_segs: usize,
    pub n_masks: usize,
    pub n_topk: usize,
    /// int64 query accumulators (count/hist slots).
    pub n_slots: usize,
}

/// One checked instruction: its opcode and its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub op: Op,
    pub a: [i64; INSN_WIDTH - 1],
}

/// Whether this executor implements `op`. An exhaustive match: adding a row to the opcode
/// table does not compile until the opcode is classified here (and dispatched in `run.rs`).
pub const fn implements(op: Op) -> bool {
    match op {
        Op::Nop | Op::LoadF | Op::LoadI | Op::LoadB | Op::LoadDays | Op::IsNullCol | Op::LookupF
        | Op::LookupB | Op::LoadScore | Op::LoadSeg | Op::ConstF | Op::ConstI | Op::ConstB
        | Op::IToF | Op::ArithF | Op::ArithFK | Op::ArithKF | Op::ArithI | Op::ArithIK
        | Op::MathF | Op::NegI | Op::AbsI | Op::CmpF | Op::CmpFK | Op::CmpI | Op::CmpIK
        | Op::And | Op::Or | Op::Not | Op::IsNullF | Op::IsNullI | Op::IsNullB | Op::SelectF
        | Op::SelectI | Op::SelectB | Op::MinMaxF | Op::MinMaxI | Op::CoalesceF
        | Op::CoalesceI | Op::CoalesceB | Op::Decay | Op::ZeroF | Op::Rule | Op::RuleK
        | Op::ClampF | Op::StoreScore | Op::SegSet | Op::LookupI | Op::SegMatrix
        | Op::CountIf | Op::StoreMask | Op::Hist | Op::TopK | Op::LookupRuleK | Op::RoundF | Op::FToI
        | Op::LoadUs => true,
    }
}

/// Why this executor cannot run `code` (flat int64 words, `INSN_WIDTH` per instruction), or
/// None: a malformed length, an opcode outside the table, or one it does not implement.
pub fn unsupported(code: &[i64]) -> Option<String> {
    if !code.len().is_multiple_of(INSN_WIDTH) {
        return Some(format!("program code has {} words, not a multiple of {INSN_WIDTH}", code.len()));
    }
    for (pc, insn) in code.chunks_exact(INSN_WIDTH).enumerate() {
        match Op::from_code(insn[0]) {
            None => return Some(format!("instruction {pc}: unknown opcode {}", insn[0])),
            Some(op) if !implements(op) => {
                return Some(format!("instruction {pc} ({}): opcode not implemented by the native executor", op.info().name))
            }
            Some(_) => {}
        }
    }
    None
}

fn subop_count(kind: &str) -> Option<usize> {
    Some(match kind {
        "cmp" => CMP_NAMES.len(),
        "aop" => AOP_NAMES.len(),
        "fn" => FN_NAMES.len(),
        "mm" => MM_NAMES.len(),
        _ => return None,
    })
}

/// Fixed ranges of immediates, per opcode.
fn imm_range(op: Op) -> Option<(i64, i64)> {
    match op {
        Op::ConstI => Some((0, 1)),
        Op::ConstB => Some((0, 2)),
        Op::StoreScore => Some((0, 2)),
        Op::RoundF => Some((0, 1)),
        Op::Hist | Op::SegMatrix => Some((0, i32::MAX as i64)),
        _ => None,
    }
}

/// "instruction 3 (LOAD_F)", formatted only for a message.
struct Where(usize, &'static str);

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "instruction {} ({})", self.0, self.1)
    }
}

/// Check `code` against the opcode table and `dims`; the decoded instructions, or the first
/// problem, naming the instruction, opcode and operand.
pub fn check(code: &[i64], dims: &Dims) -> Result<Vec<Insn>, String> {
    if let Some(why) = unsupported(code) {
        return Err(why);
    }
    let mut out = Vec::with_capacity(code.len() / INSN_WIDTH);
    for (pc, words) in code.chunks_exact(INSN_WIDTH).enumerate() {
        let op = Op::from_code(words[0]).expect("checked by unsupported");
        let info = op.info();
        let where_ = Where(pc, info.name);
        let a: [i64; INSN_WIDTH - 1] = words[1..].try_into().expect("INSN_WIDTH words");
        for (j, kind) in info.operands.iter().enumerate() {
            let v = a[j];
            let what = || format!("{where_} operand {j} ({kind}) = {v}");
            let optional = kind.ends_with('?');
            let base = kind.trim_end_matches('?');
            if optional && v == -1 {
                continue;
            }
            if v < 0 {
                return Err(format!("{}: negative{}", what(), if optional { "" } else { "; only optional operands may be -1" }));
            }
            let v = v as u64;
            let below = |limit: usize, what_: &str| -> Result<(), String> {
                if v < limit as u64 { Ok(()) } else { Err(format!("{}: {what_} out of range ({limit} available)", what())) }
            };
            match base {
                "dF" | "aF" | "F" => below(dims.n_regs[0], "register")?,
                "dI" | "I" => below(dims.n_regs[1], "register")?,
                "dB" | "B" => below(dims.n_regs[2], "register")?,
                "col" => below(dims.n_cols, "column")?,
                "tab" => below(dims.n_tabs, "table")?,
                "kF" if op == Op::Hist => {} // a range of edges, checked below
                "kF" => below(dims.n_consts_f, "constant")?,
                "kI" => below(dims.n_consts_i, "constant")?,
                "score" => below(dims.n_scores, "score")?,
                "seg" => below(dims.n_segs, "segmentation")?,
                "mask" => below(dims.n_masks, "mask")?,
                "topk" => below(dims.n_topk, "top-k query")?,
                "label" => {
                    if v > i32::MAX as u64 {
                        return Err(format!("{}: label code beyond int32", what()));
                    }
                }
                "slot" => {
                    // COUNT_IF adds to one slot; HIST to 1 + (edges + 1) after its first
                    let size = if op == Op::Hist { a[3].max(0) as u64 + 2 } else { 1 };
                    if v + size > dims.n_slots as u64 {
                        return Err(format!("{}: accumulator slots {v}..{} outside the {} there are", what(), v + size, dims.n_slots));
                    }
                }
                "imm" => {
                    if let Some((lo, hi)) = imm_range(op) {
                        if !(lo..=hi).contains(&(v as i64)) {
                            return Err(format!("{}: immediate outside {lo}..{hi}", what()));
                        }
                    }
                }
                k => match subop_count(k) {
                    Some(n) => {
                        if v >= n as u64 {
                            return Err(format!("{}: unknown {k} code", what()));
                        }
                    }
                    None => return Err(format!("{}: unknown operand kind", what())),
                },
            }
        }
        #[allow(clippy::needless_range_loop)] // j is the operand's number in the messages
        for j in info.operands.len()..INSN_WIDTH - 1 {
            // LOOKUP_RULE_K's last word: 1 + the runner's points table for it, 0 = none
            if op == Op::LookupRuleK && j == 4 {
                if !(0..=dims.n_tabs as i64).contains(&a[j]) {
                    return Err(format!("{where_} operand {j} (points table) = {}: outside 0..={}", a[j], dims.n_tabs));
                }
                continue;
            }
            if a[j] != 0 {
                return Err(format!("{where_} operand {j}: unused operand must be 0, got {}", a[j]));
            }
        }
        match op {
            Op::ArithI | Op::ArithIK if a[3] == 3 || a[3] == 6 => {
                return Err(format!("{where_} operand 3 (aop) = {}: '/' and pow are float operations, not valid on ints", a[3]));
            }
            Op::ArithF | Op::ArithFK | Op::ArithKF if a[3] == 5 => {
                return Err(format!("{where_} operand 3 (aop) = 5: '//' is integer division, not valid on floats"));
            }
            Op::Decay if a[1..4].contains(&a[0]) => {
                return Err(format!("{where_}: the destination register must differ from the operands"));
            }
            Op::Hist => {
                let (first, n) = (a[2], a[3]);
                if first < 0 || (first + n) as u64 > dims.n_consts_f as u64 {
                    return Err(format!("{where_}: edges kF {first}..{} outside consts_f ({})", first + n, dims.n_consts_f));
                }
            }
            _ => {}
        }
        out.push(Insn { op, a });
    }
    Ok(out)
}

/// Check the flat lookup tables: `lut_off` ascending from 0 within both flat arrays, and
/// every table an instruction reads non-empty (its last entry is the NULL row's).
pub fn check_tables(code: &[Insn], lut_off: &[i64], lut_f: usize, lut_b: usize) -> Result<(), String> {
    if lut_off.is_empty() || lut_off[0] != 0 || lut_off.windows(2).any(|w| w[1] < w[0]) {
        return Err("lut_off must ascend from 0".into());
    }
    let last = *lut_off.last().unwrap() as u64;
    if last > lut_f as u64 || last > lut_b as u64 {
        return Err(format!("lut_off ends at {last}, past the flat tables ({lut_f} float, {lut_b} tri-state entries)"));
    }
    for (pc, insn) in code.iter().enumerate() {
        let tab = match insn.op {
            Op::LookupF | Op::LookupB | Op::LookupI | Op::LookupRuleK => insn.a[2] as usize,
            _ => continue,
        };
        if lut_off[tab + 1] <= lut_off[tab] {
            return Err(format!("instruction {pc} ({}): lookup table {tab} is empty (it needs the NULL entry)", insn.op.info().name));
        }
    }
    Ok(())
}

/// Check that each column's buffers span `rows` rows from its offset, for its type.
pub fn check_column(c: usize, data: usize, valid: usize, offset: usize, ptype_: i64, rows: usize) -> Result<(), String> {
    if !(0..ptype::NAMES.len() as i64).contains(&ptype_) {
        return Err(format!("column {c}: unknown physical type {ptype_}"));
    }
    if let Some(need) = ptype::data_bytes(ptype_, offset, rows) {
        if data < need {
            return Err(format!("column {c} ({}): data buffer of {data} bytes, {rows} rows from offset {offset} need {need}", ptype::NAMES[ptype_ as usize]));
        }
    }
    let bits = (offset + rows).div_ceil(8);
    if valid != 0 && valid < bits {
        return Err(format!("column {c}: validity bitmap of {valid} bytes, {rows} rows from offset {offset} need {bits}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcodes::OPCODES;

    fn dims() -> Dims {
        Dims { n_regs: [2, 2, 2], n_cols: 1, n_tabs: 1, n_consts_f: 2, n_consts_i: 1, n_scores: 1, n_segs: 1, n_masks: 1, n_topk: 1, n_slots: 4 }
    }

    fn code(insns: &[&[i64]]) -> Vec<i64> {
        insns.iter().flat_map(|i| { let mut w = i.to_vec(); w.resize(INSN_WIDTH, 0); w }).collect()
    }

    fn err(insns: &[&[i64]]) -> String {
        check(&code(insns), &dims()).expect_err("should be refused")
    }

    #[test]
    fn every_opcode_is_implemented() {
        for info in OPCODES {
            assert!(implements(info.op), "{}", info.name);
        }
        assert_eq!(unsupported(&code(&[&[Op::Nop as i64]])), None);
    }

    #[test]
    fn accepts_a_scoring_program() {
        let c = code(&[
            &[Op::LoadF as i64, 0, 0], &[Op::ZeroF as i64, 1], &[Op::CmpFK as i64, 0, 0, 0, 4],
            &[Op::RuleK as i64, 1, 0, 1], &[Op::Rule as i64, 1, -1, 0, -1, 1], &[Op::StoreScore as i64, 0, 1, 0],
            &[Op::SegSet as i64, 0, -1, 3], &[Op::Hist as i64, 0, 0, 0, 2], &[Op::TopK as i64, 0, 1, -1],
            &[Op::LookupRuleK as i64, 1, 0, 0, 0, 1],
        ]);
        let insns = check(&c, &dims()).unwrap();
        assert_eq!(insns.len(), 10);
        assert_eq!(insns[4].a[1], -1);
    }

    #[test]
    fn refuses_bad_operands_with_a_reason() {
        assert!(err(&[&[99]]).contains("unknown opcode 99"));
        assert!(err(&[&[Op::LoadF as i64, 2, 0]]).contains("operand 0 (dF) = 2: register out of range"));
        assert!(err(&[&[Op::LoadF as i64, 0, 1]]).contains("column out of range"));
        assert!(err(&[&[Op::ConstF as i64, 0, 2]]).contains("(kF) = 2"));
        assert!(err(&[&[Op::CmpF as i64, 0, 0, 1, 6]]).contains("unknown cmp code"));
        assert!(err(&[&[Op::MathF as i64, 0, 0, 10]]).contains("unknown fn code"));
        assert!(err(&[&[Op::ConstB as i64, 0, 3]]).contains("immediate outside 0..2"));
        assert!(err(&[&[Op::LoadF as i64, 0, 0, 7]]).contains("unused operand must be 0"));
        assert!(err(&[&[Op::Rule as i64, 0, -2, 0, -1, -1]]).contains("negative"));
        assert!(err(&[&[Op::StoreScore as i64, -1, 0, 0]]).contains("only optional operands may be -1"));
        assert!(err(&[&[Op::ArithI as i64, 0, 0, 1, 3]]).contains("'/' and pow are float operations"));
        assert!(err(&[&[Op::ArithF as i64, 0, 0, 1, 5]]).contains("integer division, not valid on floats"));
        assert!(err(&[&[Op::RoundF as i64, 0, 0, 0, 2]]).contains("immediate outside 0..1"));
        assert!(err(&[&[Op::Decay as i64, 0, 0, 1, 1]]).contains("destination register must differ"));
        assert!(err(&[&[Op::Hist as i64, 0, 0, 0, 3]]).contains("accumulator slots 0..5"));
        assert!(err(&[&[Op::Hist as i64, 0, 0, 1, 2]]).contains("edges kF 1..3"));
        assert!(err(&[&[Op::CountIf as i64, 4, 0]]).contains("accumulator slots 4..5"));
        assert!(err(&[&[Op::TopK as i64, 1, 0, -1]]).contains("top-k query out of range"));
        assert!(err(&[&[Op::StoreMask as i64, 1, 0]]).contains("mask out of range"));
        assert!(err(&[&[Op::LookupRuleK as i64, 0, 0, 0, 0, 2]]).contains("points table"));
        assert!(unsupported(&[1, 2, 3]).unwrap().contains("not a multiple"));
    }

    #[test]
    fn checks_tables_and_columns() {
        let insns = check(&code(&[&[Op::LookupB as i64, 0, 0, 0]]), &dims()).unwrap();
        assert!(check_tables(&insns, &[0, 0], 0, 0).unwrap_err().contains("empty"));
        assert!(check_tables(&insns, &[0, 3], 3, 2).unwrap_err().contains("past the flat tables"));
        assert!(check_tables(&insns, &[0, 3], 3, 3).is_ok());
        assert!(check_column(0, 8 * 9, 0, 1, ptype::F64, 9).unwrap_err().contains("need 80"));
        assert!(check_column(0, 80, 1, 1, ptype::F64, 9).unwrap_err().contains("validity bitmap"));
        assert!(check_column(0, 2, 2, 3, ptype::BOOL, 9).is_ok());
        assert!(check_column(0, 0, 0, 0, ptype::NULL, 9).is_ok());
        assert!(check_column(0, 0, 0, 0, 42, 9).unwrap_err().contains("unknown physical type"));
    }
}
