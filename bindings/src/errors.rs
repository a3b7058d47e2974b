//! The exception hierarchy of `leadscore_fast._engine`, and the one mapping from the engine's
//! error kinds onto it.

use leadscore_engine as engine;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(_engine, LeadscoreError, PyException, "Base class of every leadscore_fast error.");
create_exception!(_engine, ModelError, LeadscoreError, "The model is malformed.");
create_exception!(_engine, ExpressionError, ModelError, "An expression does not parse.");
create_exception!(_engine, TypeCheckError, ModelError, "An expression is ill-typed or refers to something undefined.");
create_exception!(_engine, SchemaError, LeadscoreError, "The model does not fit the data's schema.");
create_exception!(_engine, ProgramError, LeadscoreError, "Bytecode that does not assemble or fails the VM's check.");

pub(crate) fn to_py(e: engine::CompileError) -> PyErr {
    let msg = e.to_string();
    match e.kind {
        engine::ErrorKind::Model => ModelError::new_err(msg),
        engine::ErrorKind::Expression => ExpressionError::new_err(msg),
        engine::ErrorKind::Type => TypeCheckError::new_err(msg),
        engine::ErrorKind::Schema => SchemaError::new_err(msg),
        engine::ErrorKind::Program => ProgramError::new_err(msg),
    }
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LeadscoreError", py.get_type::<LeadscoreError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ExpressionError", py.get_type::<ExpressionError>())?;
    m.add("TypeCheckError", py.get_type::<TypeCheckError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("ProgramError", py.get_type::<ProgramError>())?;
    Ok(())
}
