//! The compiled program: bytecode, constants and the tables the VM needs, plus its text form.
//! `disassemble` and `assemble` are exact inverses: `assemble(p.disassemble()) == p`.

use crate::error::{CompileError, ErrorKind, Result};
use crate::lookup::LookupDef;
use crate::opcodes::{Op, AOP_NAMES, CMP_NAMES, FN_NAMES, INSN_WIDTH, MM_NAMES};
use crate::typecheck::ColumnRef;
use crate::types::Type;
use std::fmt::Write;

pub type Insn = [i64; INSN_WIDTH];

#[derive(Clone, Debug, PartialEq)]
pub struct SegmentInfo {
    pub name: String,
    pub labels: Vec<String>,
}

/// Where a query's results go (docs/ARCHITECTURE.md §6).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueryInfo {
    pub name: String,
    /// "count" | "mask" | "hist" | "topk".
    pub kind: String,
    /// count/hist: first int64 accumulator slot and how many (hist: null, below, bins..., above).
    pub slot: usize,
    pub size: usize,
    /// mask: mask row; topk: top-k table.
    pub index: usize,
    pub edges: Vec<f64>,
    pub k: usize,
    /// topk: the segmentation ranked within, and its number of labels (1 group without one).
    pub per: Option<usize>,
    pub groups: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub name: String,
    pub as_of: Option<String>,
    pub code: Vec<Insn>,
    pub consts_f: Vec<f64>,
    pub consts_i: Vec<i64>,
    /// Register counts: float, int, bool.
    pub n_regs: [usize; 3],
    pub columns: Vec<ColumnRef>,
    pub lookups: Vec<LookupDef>,
    /// Multi-column lookup keys: tuples of string/boolean columns. Key k is read by lookup
    /// opcodes as column `columns.len() + k` (see lookup.rs); the runner binds its codes.
    pub keys: Vec<Vec<usize>>,
    pub scores: Vec<String>,
    pub segments: Vec<SegmentInfo>,
    pub queries: Vec<QueryInfo>,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string serialises")
}

fn perr(line: usize, msg: impl Into<String>) -> CompileError {
    let mut e = CompileError::new(ErrorKind::Program, msg);
    e.line = line as u32;
    e.source = "<bytecode>".into();
    e
}

impl Program {
    /// The code as one flat little-endian int64 buffer (what the VM reads).
    pub fn code_bytes(&self) -> Vec<u8> {
        self.code.iter().flatten().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn operand_text(&self, kind: &str, v: i64) -> String {
        if v < 0 && kind.ends_with('?') {
            return "-".into();
        }
        let k = kind.trim_end_matches('?');
        let sub = |names: &[&str]| names.get(v as usize).map(|s| s.to_string()).unwrap_or_else(|| format!("?{v}"));
        match k {
            "dF" | "aF" | "F" => format!("F{v}"),
            "dI" | "I" => format!("I{v}"),
            "dB" | "B" => format!("B{v}"),
            "col" => format!("c{v}"),
            "tab" => format!("t{v}"),
            "kF" => format!("kf{v}"),
            "kI" => format!("ki{v}"),
            "score" => format!("s{v}"),
            "seg" => format!("g{v}"),
            "slot" => format!("a{v}"),
            "mask" => format!("m{v}"),
            "topk" => format!("k{v}"),
            "label" => format!("l{v}"),
            "cmp" => sub(CMP_NAMES),
            "aop" => sub(AOP_NAMES),
            "fn" => sub(FN_NAMES),
            "mm" => sub(MM_NAMES),
            _ => v.to_string(),
        }
    }

    fn comment(&self, kind: &str, v: i64) -> Option<String> {
        if v < 0 {
            return None;
        }
        let i = v as usize;
        match kind.trim_end_matches('?') {
            "col" => self.columns.get(i).map(|c| c.name.clone()).or_else(|| {
                let key = self.keys.get(i - self.columns.len())?;
                Some(format!("({})", key.iter().map(|c| self.columns.get(*c).map_or("?", |c| c.name.as_str())).collect::<Vec<_>>().join(", ")))
            }),
            "kF" => self.consts_f.get(i).map(|x| format!("{x:?}")),
            "kI" => self.consts_i.get(i).map(|x| x.to_string()),
            "score" => self.scores.get(i).cloned(),
            "seg" => self.segments.get(i).map(|s| s.name.clone()),
            _ => None,
        }
    }

    /// Human-readable text form; `assemble` reads it back exactly.
    pub fn disassemble(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, ".program {}", q(&self.name));
        let _ = writeln!(s, ".as_of {}", self.as_of.as_deref().map(q).unwrap_or_else(|| "none".into()));
        let _ = writeln!(s, ".regs F={} I={} B={}", self.n_regs[0], self.n_regs[1], self.n_regs[2]);
        for (i, x) in self.consts_f.iter().enumerate() {
            let _ = writeln!(s, ".const_f {i} {x:?}");
        }
        for (i, x) in self.consts_i.iter().enumerate() {
            let _ = writeln!(s, ".const_i {i} {x}");
        }
        for (i, c) in self.columns.iter().enumerate() {
            match &c.has_any {
                Some(vals) => {
                    let _ = writeln!(s, ".column {i} {} has_any {}", q(&c.name), serde_json::to_string(vals).unwrap());
                }
                None => {
                    let _ = writeln!(s, ".column {i} {} {}", q(&c.name), c.ty.kind());
                }
            }
        }
        for (i, k) in self.keys.iter().enumerate() {
            let _ = writeln!(s, ".key {i} c{} {}", self.columns.len() + i, serde_json::to_string(k).unwrap());
        }
        for (i, l) in self.lookups.iter().enumerate() {
            let _ = writeln!(s, ".lookup {i} c{} {} {}", l.column, l.result.kind(), serde_json::to_string(&l.expr).unwrap());
        }
        for (i, n) in self.scores.iter().enumerate() {
            let _ = writeln!(s, ".score {i} {}", q(n));
        }
        for (i, g) in self.segments.iter().enumerate() {
            let _ = writeln!(s, ".segment {i} {} {}", q(&g.name), serde_json::to_string(&g.labels).unwrap());
        }
        for (i, x) in self.queries.iter().enumerate() {
            let _ = writeln!(s, ".query {i} {}", serde_json::to_string(x).unwrap());
        }
        for (pc, insn) in self.code.iter().enumerate() {
            let Some(op) = Op::from_code(insn[0]) else {
                let _ = writeln!(s, "{pc:04} ?{}", insn[0]);
                continue;
            };
            let info = op.info();
            let ops: Vec<String> = info.operands.iter().enumerate().map(|(j, k)| self.operand_text(k, insn[j + 1])).collect();
            let notes: Vec<String> = info.operands.iter().enumerate().filter_map(|(j, k)| self.comment(k, insn[j + 1])).collect();
            let mut line = format!("{pc:04} {:<11} {}", info.name, ops.join(", "));
            if !notes.is_empty() {
                line = format!("{line:<40} ; {}", notes.join(", "));
            }
            let _ = writeln!(s, "{}", line.trim_end());
        }
        s
    }
}

fn parse_operand(kind: &str, tok: &str, line: usize) -> Result<i64> {
    let bad = || perr(line, format!("operand '{tok}' does not fit kind {kind}"));
    if tok == "-" {
        return if kind.ends_with('?') { Ok(-1) } else { Err(bad()) };
    }
    let k = kind.trim_end_matches('?');
    let pick = |names: &[&str]| names.iter().position(|n| *n == tok).map(|p| p as i64).ok_or_else(bad);
    let prefixed = |p: &str| tok.strip_prefix(p).and_then(|r| r.parse::<i64>().ok()).ok_or_else(bad);
    match k {
        "dF" | "aF" | "F" => prefixed("F"),
        "dI" | "I" => prefixed("I"),
        "dB" | "B" => prefixed("B"),
        "col" => prefixed("c"),
        "tab" => prefixed("t"),
        "kF" => prefixed("kf"),
        "kI" => prefixed("ki"),
        "score" => prefixed("s"),
        "seg" => prefixed("g"),
        "slot" => prefixed("a"),
        "mask" => prefixed("m"),
        "topk" => prefixed("k"),
        "label" => prefixed("l"),
        "cmp" => pick(CMP_NAMES),
        "aop" => pick(AOP_NAMES),
        "fn" => pick(FN_NAMES),
        "mm" => pick(MM_NAMES),
        _ => tok.parse().map_err(|_| bad()),
    }
}

/// Split `"quoted json string" rest` into the string and the rest.
fn take_json_str(s: &str, line: usize) -> Result<(String, &str)> {
    let mut de = serde_json::Deserializer::from_str(s).into_iter::<String>();
    match de.next() {
        Some(Ok(v)) => Ok((v, s[de.byte_offset()..].trim_start())),
        _ => Err(perr(line, format!("expected a quoted string in '{s}'"))),
    }
}

fn index(tok: Option<&str>, expected: usize, line: usize) -> Result<()> {
    match tok.and_then(|t| t.parse::<usize>().ok()) {
        Some(i) if i == expected => Ok(()),
        _ => Err(perr(line, format!("expected index {expected}"))),
    }
}

/// Read the text form written by `Program::disassemble`.
pub fn assemble(text: &str) -> Result<Program> {
    let mut p = Program::default();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with(';') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('.') {
            let (dir, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let rest = rest.trim();
            match dir {
                "program" => p.name = take_json_str(rest, line)?.0,
                "as_of" => p.as_of = if rest == "none" { None } else { Some(take_json_str(rest, line)?.0) },
                "regs" => {
                    for (i, part) in rest.split_whitespace().enumerate() {
                        let v = part.get(2..).and_then(|x| x.parse().ok()).ok_or_else(|| perr(line, "bad .regs"))?;
                        *p.n_regs.get_mut(i).ok_or_else(|| perr(line, "bad .regs"))? = v;
                    }
                }
                "const_f" | "const_i" | "column" | "key" | "lookup" | "score" | "segment" | "query" => {
                    let (idx, rest) = rest.split_once(' ').ok_or_else(|| perr(line, format!("bad .{dir}")))?;
                    let rest = rest.trim();
                    match dir {
                        "const_f" => {
                            index(Some(idx), p.consts_f.len(), line)?;
                            p.consts_f.push(rest.parse().map_err(|_| perr(line, "bad float"))?)
                        }
                        "const_i" => {
                            index(Some(idx), p.consts_i.len(), line)?;
                            p.consts_i.push(rest.parse().map_err(|_| perr(line, "bad int"))?)
                        }
                        "column" => {
                            index(Some(idx), p.columns.len(), line)?;
                            let (name, rest) = take_json_str(rest, line)?;
                            let c = if let Some(vals) = rest.strip_prefix("has_any ") {
                                let vals = serde_json::from_str(vals).map_err(|e| perr(line, e.to_string()))?;
                                ColumnRef { name, ty: Type::Bool, has_any: Some(vals) }
                            } else {
                                let ty = Type::from_kind(rest).ok_or_else(|| perr(line, format!("unknown kind '{rest}'")))?;
                                ColumnRef { name, ty, has_any: None }
                            };
                            p.columns.push(c);
                        }
                        "key" => {
                            index(Some(idx), p.keys.len(), line)?;
                            let (col, parts) = rest.split_once(' ').ok_or_else(|| perr(line, "bad .key"))?;
                            if parse_operand("col", col, line)? != (p.columns.len() + p.keys.len()) as i64 {
                                return Err(perr(line, format!("key {idx} must be column c{}", p.columns.len() + p.keys.len())));
                            }
                            p.keys.push(serde_json::from_str(parts).map_err(|e| perr(line, e.to_string()))?);
                        }
                        "lookup" => {
                            index(Some(idx), p.lookups.len(), line)?;
                            let mut parts = rest.splitn(3, ' ');
                            let column = parse_operand("col", parts.next().unwrap_or(""), line)? as usize;
                            let kind = parts.next().unwrap_or("");
                            let result = Type::from_kind(kind).ok_or_else(|| perr(line, format!("unknown kind '{kind}'")))?;
                            let expr = serde_json::from_str(parts.next().unwrap_or("")).map_err(|e| perr(line, e.to_string()))?;
                            p.lookups.push(LookupDef { column, result, expr });
                        }
                        "query" => {
                            index(Some(idx), p.queries.len(), line)?;
                            p.queries.push(serde_json::from_str(rest).map_err(|e| perr(line, e.to_string()))?)
                        }
                        "score" => {
                            index(Some(idx), p.scores.len(), line)?;
                            p.scores.push(take_json_str(rest, line)?.0)
                        }
                        _ => {
                            index(Some(idx), p.segments.len(), line)?;
                            let (name, rest) = take_json_str(rest, line)?;
                            let labels = serde_json::from_str(rest).map_err(|e| perr(line, e.to_string()))?;
                            p.segments.push(SegmentInfo { name, labels });
                        }
                    }
                }
                other => return Err(perr(line, format!("unknown directive .{other}"))),
            }
            continue;
        }
        let body = t.split(';').next().unwrap_or("").trim();
        let mut parts = body.splitn(3, char::is_whitespace);
        index(parts.next(), p.code.len(), line)?;
        let name = parts.next().unwrap_or("");
        let op = Op::from_name(name).ok_or_else(|| perr(line, format!("unknown opcode '{name}'")))?;
        let toks: Vec<&str> = parts.next().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        let kinds = op.info().operands;
        if toks.len() != kinds.len() {
            return Err(perr(line, format!("{name} takes {} operands, got {}", kinds.len(), toks.len())));
        }
        let mut insn = [0i64; INSN_WIDTH];
        insn[0] = op as i64;
        for (j, (k, tok)) in kinds.iter().zip(toks).enumerate() {
            insn[j + 1] = parse_operand(k, tok, line)?;
        }
        p.code.push(insn);
    }
    Ok(p)
}
