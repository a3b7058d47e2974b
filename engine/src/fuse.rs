//! Pass 7: superinstructions. A peephole over the emitted bytecode that replaces a common
//! instruction pair by one fused opcode, so the VM loops over the chunk once instead of twice
//! and skips a register round trip. A pair is fused only when its intermediate register is
//! dead afterwards, so the program computes exactly what it did before.

use crate::opcodes::Op;
use crate::program::{Insn, Program};

/// `LOOKUP_B b, col, tab` + `RULE_K acc, b, k` → `LOOKUP_RULE_K acc, col, tab, k`: a rule
/// whose condition is a string predicate (IN list, LIKE, ...) over a dictionary column.
pub fn fuse(p: &mut Program) {
    let code = std::mem::take(&mut p.code);
    let mut out: Vec<Insn> = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let a = code[i];
        if let Some(&b) = code.get(i + 1) {
            let pair = a[0] == Op::LookupB as i64 && b[0] == Op::RuleK as i64 && b[2] == a[1];
            if pair && bool_reg_dead(&code[i + 2..], a[1]) {
                out.push([Op::LookupRuleK as i64, b[1], a[2], a[3], b[3], 0]);
                i += 2;
                continue;
            }
        }
        out.push(a);
        i += 1;
    }
    p.code = out;
}

/// Is bool register `r` written (or never read again) before any of `rest` reads it?
fn bool_reg_dead(rest: &[Insn], r: i64) -> bool {
    for insn in rest {
        let Some(op) = Op::from_code(insn[0]) else { return false };
        let operands = op.info().operands.iter().zip(&insn[1..]);
        if operands.clone().any(|(kind, v)| matches!(*kind, "B" | "B?") && *v == r) {
            return false; // read first (an instruction may read and write r)
        }
        if operands.clone().any(|(kind, v)| *kind == "dB" && *v == r) {
            return true;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(code: Vec<Insn>) -> Program {
        Program { code, ..Default::default() }
    }

    const LB: i64 = Op::LookupB as i64;
    const RK: i64 = Op::RuleK as i64;

    #[test]
    fn fuses_a_lookup_feeding_only_its_rule() {
        let mut p = prog(vec![[LB, 0, 3, 1, 0, 0], [RK, 2, 0, 5, 0, 0], [LB, 0, 3, 2, 0, 0]]);
        fuse(&mut p);
        assert_eq!(p.code[0], [Op::LookupRuleK as i64, 2, 3, 1, 5, 0]);
        assert_eq!(p.code.len(), 2);
    }

    #[test]
    fn keeps_a_lookup_whose_register_is_read_later() {
        let and = Op::And as i64;
        let code = vec![[LB, 0, 3, 1, 0, 0], [RK, 2, 0, 5, 0, 0], [and, 1, 0, 0, 0, 0]];
        let mut p = prog(code.clone());
        fuse(&mut p);
        assert_eq!(p.code, code);
        // ... also when the later reader writes the same register
        let code = vec![[LB, 0, 3, 1, 0, 0], [RK, 2, 0, 5, 0, 0], [and, 0, 0, 0, 0, 0]];
        let mut p = prog(code.clone());
        fuse(&mut p);
        assert_eq!(p.code, code);
    }

    #[test]
    fn keeps_a_rule_on_another_register() {
        let code = vec![[LB, 0, 3, 1, 0, 0], [RK, 2, 1, 5, 0, 0]];
        let mut p = prog(code.clone());
        fuse(&mut p);
        assert_eq!(p.code, code);
    }
}
