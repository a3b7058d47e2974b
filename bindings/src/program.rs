//! The compiler's surface: `compile`/`assemble` into a `Program`, its read-only facts (code,
//! constants, columns, lookups, segments, queries), lookup-table evaluation, `to_sql`, and the
//! opcode table that `vm/opcodes.py` is generated from.

use crate::arrow::{f64_bytes, with_arrow_strings};
use crate::errors::{to_py, ProgramError};
use leadscore_engine as engine;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

/// A compiled program (docs/ARCHITECTURE.md §3).
#[pyclass(frozen, module = "leadscore_fast._engine")]
pub(crate) struct Program(pub(crate) engine::Program);

#[pymethods]
impl Program {
    #[getter]
    fn code<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.code_bytes())
    }
    #[getter]
    fn n_insns(&self) -> usize {
        self.0.code.len()
    }
    #[getter]
    fn consts_f(&self) -> Vec<f64> {
        self.0.consts_f.clone()
    }
    #[getter]
    fn consts_i(&self) -> Vec<i64> {
        self.0.consts_i.clone()
    }
    #[getter]
    fn n_regs(&self) -> (usize, usize, usize) {
        (self.0.n_regs[0], self.0.n_regs[1], self.0.n_regs[2])
    }
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    #[getter]
    fn as_of(&self) -> Option<String> {
        self.0.as_of.clone()
    }
    #[getter]
    fn scores(&self) -> Vec<String> {
        self.0.scores.clone()
    }
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for c in &self.0.columns {
            let d = PyDict::new(py);
            d.set_item("name", &c.name)?;
            d.set_item("kind", c.kind())?;
            d.set_item("has_any", c.has_any.clone())?;
            list.append(d)?;
        }
        Ok(list)
    }
    #[getter]
    fn lookups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for l in &self.0.lookups {
            let d = PyDict::new(py);
            d.set_item("column", l.column)?;
            let result = match l.result {
                engine::types::Type::Bool => "B",
                engine::types::Type::Int => "I",
                _ => "F",
            };
            d.set_item("result", result)?;
            list.append(d)?;
        }
        Ok(list)
    }
    #[getter]
    fn segments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for g in &self.0.segments {
            let d = PyDict::new(py);
            d.set_item("name", &g.name)?;
            d.set_item("labels", g.labels.clone())?;
            list.append(d)?;
        }
        Ok(list)
    }
    /// Threshold queries compiled into this program (docs/ARCHITECTURE.md §6).
    #[getter]
    fn queries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for q in &self.0.queries {
            let d = PyDict::new(py);
            d.set_item("name", &q.name)?;
            d.set_item("kind", &q.kind)?;
            d.set_item("slot", q.slot)?;
            d.set_item("size", q.size)?;
            d.set_item("index", q.index)?;
            d.set_item("edges", q.edges.clone())?;
            d.set_item("k", q.k)?;
            d.set_item("per", q.per)?;
            d.set_item("groups", q.groups)?;
            list.append(d)?;
        }
        Ok(list)
    }
    /// Lookup table `t` for the given dictionary values, plus a trailing entry for NULL rows.
    fn eval_lookup(&self, t: usize, values: Vec<Option<String>>) -> PyResult<Vec<f64>> {
        engine::eval_lookup(&self.0, t, &values).ok_or_else(|| ProgramError::new_err(format!("no lookup table {t}")))
    }
    /// Several lookup tables over one dictionary, each as float64 bytes (`len(values) + 1`
    /// entries): one conversion of the values, no Python floats.
    fn eval_lookups<'py>(&self, py: Python<'py>, tables: Vec<usize>, values: Vec<Option<String>>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let out = py.detach(|| engine::eval_lookups(&self.0, &tables, &values));
        let out = out.ok_or_else(|| ProgramError::new_err(format!("no lookup table among {tables:?}")))?;
        Ok(out.iter().map(|t| f64_bytes(py, t)).collect())
    }
    /// `eval_lookups` over a string or large_string Arrow array (any object with
    /// `__arrow_c_array__`, e.g. a pyarrow dictionary), read in place: no Python strings.
    fn eval_lookups_arrow<'py>(&self, py: Python<'py>, tables: Vec<usize>, values: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let out = with_arrow_strings(values, true, |strings| py.detach(|| engine::eval_lookups_on(&self.0, &tables, strings)))?;
        let out = out.ok_or_else(|| ProgramError::new_err(format!("no lookup table among {tables:?}")))?;
        Ok(out.iter().map(|t| f64_bytes(py, t)).collect())
    }
    /// Multi-column lookup keys: each a list of program columns; key k is column
    /// `len(columns) + k` of the lookup opcodes.
    #[getter]
    fn keys(&self) -> Vec<Vec<usize>> {
        self.0.keys.clone()
    }
    /// Tables `tables` over key `key` (engine::eval_key_lookups): `parts` one entry per key
    /// column, a string column's dictionary values or None for a boolean column; `combos`
    /// None for the dense table over every tuple, else little-endian int64 part codes, one
    /// row of `len(parts)` per tuple. Each table comes back as float64 bytes.
    #[pyo3(signature = (key, tables, parts, combos=None))]
    fn eval_key_lookups<'py>(&self, py: Python<'py>, key: usize, tables: Vec<usize>, parts: Vec<Option<Vec<Option<String>>>>, combos: Option<Vec<u8>>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let parts: Vec<engine::KeyPart> = parts.into_iter().map(|p| p.map_or(engine::KeyPart::Bool, engine::KeyPart::Str)).collect();
        let combos: Option<Vec<i64>> = combos.map(|b| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect());
        let out = py.detach(|| engine::eval_key_lookups(&self.0, key, &tables, &parts, combos.as_deref()));
        let out = out.ok_or_else(|| ProgramError::new_err(format!("no lookup table among {tables:?} over key {key} with {} parts", parts.len())))?;
        Ok(out.iter().map(|t| f64_bytes(py, t)).collect())
    }
    fn disassemble(&self) -> String {
        self.0.disassemble()
    }
    fn __eq__(&self, other: &Program) -> bool {
        self.0.disassemble() == other.0.disassemble()
    }
    fn __repr__(&self) -> String {
        format!("<Program {:?}: {} instructions, {} scores, {} segmentations>", self.0.name, self.0.code.len(), self.0.scores.len(), self.0.segments.len())
    }
}

#[pyfunction]
fn compile(model_json: &str, schema_json: &str) -> PyResult<Program> {
    engine::compile_json(model_json, schema_json).map(Program).map_err(to_py)
}

#[pyfunction]
fn assemble(text: &str) -> PyResult<Program> {
    engine::assemble(text).map(Program).map_err(to_py)
}

#[pyfunction]
fn parse_expr(text: &str) -> PyResult<String> {
    engine::parse::parse_expr(text).map(|a| a.to_json()).map_err(to_py)
}

#[pyfunction]
#[pyo3(signature = (model_json, schema_json, relation, as_of_us, include_input=false, dialect="duckdb"))]
fn to_sql(model_json: &str, schema_json: &str, relation: &str, as_of_us: i64, include_input: bool, dialect: &str) -> PyResult<String> {
    engine::to_sql_json_dialect(model_json, schema_json, relation, as_of_us, include_input, dialect).map_err(to_py)
}

/// The opcode table: (code, name, operand kinds, doc, variant, fusion) per opcode.
#[pyfunction]
fn opcode_table() -> Vec<(i64, &'static str, Vec<&'static str>, &'static str, &'static str, &'static str)> {
    engine::opcodes::OPCODES.iter().map(|o| (o.code, o.name, o.operands.to_vec(), o.doc, o.variant, o.fusion)).collect()
}

/// The sub-operation names of the `cmp`, `aop`, `fn` and `mm` operand kinds, by code.
#[pyfunction]
fn subop_names() -> Vec<(&'static str, Vec<&'static str>)> {
    use engine::opcodes::{AOP_NAMES, CMP_NAMES, FN_NAMES, MM_NAMES};
    vec![("cmp", CMP_NAMES.to_vec()), ("aop", AOP_NAMES.to_vec()), ("fn", FN_NAMES.to_vec()), ("mm", MM_NAMES.to_vec())]
}

/// Adds `Program` and the compiler's functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("INSN_WIDTH", engine::opcodes::INSN_WIDTH)?;
    m.add_class::<Program>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(assemble, m)?)?;
    m.add_function(wrap_pyfunction!(parse_expr, m)?)?;
    m.add_function(wrap_pyfunction!(to_sql, m)?)?;
    m.add_function(wrap_pyfunction!(opcode_table, m)?)?;
    m.add_function(wrap_pyfunction!(subop_names, m)?)?;
    Ok(())
}
