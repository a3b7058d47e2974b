//! `leadscore_fast._engine`: thin PyO3 wrappers over the `leadscore-engine` crate.
//! Each method is a one-line call into the engine; errors map once, by kind, to the Python
//! exception hierarchy defined here.

mod native;
mod reasons;
mod row;

use leadscore_engine as engine;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyCapsuleMethods, PyDict, PyList};

create_exception!(_engine, LeadscoreError, PyException, "Base class of every leadscore_fast error.");
create_exception!(_engine, ModelError, LeadscoreError, "The model is malformed.");
create_exception!(_engine, ExpressionError, ModelError, "An expression does not parse.");
create_exception!(_engine, TypeCheckError, ModelError, "An expression is ill-typed or refers to something undefined.");
create_exception!(_engine, SchemaError, LeadscoreError, "The model does not fit the data's schema.");
create_exception!(_engine, ProgramError, LeadscoreError, "Bytecode that does not assemble or fails the VM's check.");

fn to_py(e: engine::CompileError) -> PyErr {
    let msg = e.to_string();
    match e.kind {
        engine::ErrorKind::Model => ModelError::new_err(msg),
        engine::ErrorKind::Expression => ExpressionError::new_err(msg),
        engine::ErrorKind::Type => TypeCheckError::new_err(msg),
        engine::ErrorKind::Schema => SchemaError::new_err(msg),
        engine::ErrorKind::Program => ProgramError::new_err(msg),
    }
}

/// A compiled program (docs/ARCHITECTURE.md §3).
#[pyclass(frozen, module = "leadscore_fast._engine")]
struct Program(engine::Program);

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

fn i32_bytes<'py>(py: Python<'py>, v: &[i32]) -> Bound<'py, PyBytes> {
    // SAFETY: an i32 slice viewed as its bytes, in native order as Arrow buffers are.
    PyBytes::new(py, unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) })
}

fn f64_bytes<'py>(py: Python<'py>, t: &[f64]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &t.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>())
}

/// The Arrow C data interface structs (https://arrow.apache.org/docs/format/CDataInterface.html).
#[repr(C)]
struct FfiSchema {
    format: *const std::ffi::c_char,
    name: *const std::ffi::c_char,
    metadata: *const std::ffi::c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut FfiSchema,
    dictionary: *mut FfiSchema,
    release: Option<unsafe extern "C" fn(*mut FfiSchema)>,
    private_data: *mut std::ffi::c_void,
}

#[repr(C)]
struct FfiArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const std::ffi::c_void,
    children: *mut *mut FfiArray,
    dictionary: *mut FfiArray,
    release: Option<unsafe extern "C" fn(*mut FfiArray)>,
    private_data: *mut std::ffi::c_void,
}

/// A utf8 ("u") or large_utf8 ("U") array's buffers as `ArrowStrings` (which checks offsets
/// and UTF-8). Buffer sizes are not part of the interface: offsets hold offset+length+1
/// entries, the bitmap offset+length bits, the data up to the last offset.
unsafe fn arrow_strings<'a>(schema: &'a FfiSchema, array: &'a FfiArray, check_utf8: bool) -> Result<engine::strings::ArrowStrings<'a>, String> {
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
fn with_arrow_strings<R>(values: &Bound<'_, PyAny>, check_utf8: bool, f: impl FnOnce(&engine::strings::ArrowStrings) -> R) -> PyResult<R> {
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

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LeadscoreError", py.get_type::<LeadscoreError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ExpressionError", py.get_type::<ExpressionError>())?;
    m.add("TypeCheckError", py.get_type::<TypeCheckError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("ProgramError", py.get_type::<ProgramError>())?;
    m.add("INSN_WIDTH", engine::opcodes::INSN_WIDTH)?;
    m.add_class::<Program>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(assemble, m)?)?;
    m.add_function(wrap_pyfunction!(parse_expr, m)?)?;
    m.add_function(wrap_pyfunction!(to_sql, m)?)?;
    m.add_function(wrap_pyfunction!(opcode_table, m)?)?;
    m.add_function(wrap_pyfunction!(subop_names, m)?)?;
    m.add_function(wrap_pyfunction!(encode_strings, m)?)?;
    m.add_function(wrap_pyfunction!(native::run_native, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_unsupported, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_ptypes, m)?)?;
    m.add_function(wrap_pyfunction!(reasons::top_reasons, m)?)?;
    m.add_function(wrap_pyfunction!(reasons::explain_native, m)?)?;
    m.add_function(wrap_pyfunction!(row::score_row, m)?)?;
    Ok(())
}
