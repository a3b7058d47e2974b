//! `_engine.ParquetWriter`: Arrow record batches (through the C data interface) written to a
//! Parquet file by the bulk crate's writer (`leadscore_bulk::writer`, arrow-rs): row groups of
//! exactly `row_group_rows` rows (the last one smaller), each batch's columns encoded in
//! parallel with the GIL released, the Arrow schema stored in the file (`ARROW:schema`) so that
//! readers get dictionary columns back as dictionaries.

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::Schema;
use leadscore_bulk::writer::{OpenError, Writer};
use parquet::errors::ParquetError;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};
use std::sync::{Arc, Mutex};

/// A Parquet file being written: `write` batches, then `close` (footer) or `discard`.
#[pyclass(frozen, module = "leadscore_fast._engine")]
pub struct ParquetWriter(Mutex<Option<Writer>>);

/// Some rows of every column, in schema order.
struct Piece {
    columns: Vec<ArrayRef>,
    rows: usize,
}

#[pymethods]
impl ParquetWriter {
    /// Open `path` (created or truncated) for a file of `schema` (an object with
    /// `__arrow_c_schema__`, e.g. a pyarrow Schema). `compression`: snappy, zstd, lz4, gzip,
    /// brotli or none (zstd, gzip and brotli at pyarrow's default levels: 1, 9, 8);
    /// `dictionary`: the top-level columns written with dictionary pages (the others plain);
    /// `threads`: how many columns encode at once.
    #[new]
    #[pyo3(signature = (path, schema, compression="snappy", row_group_rows=1 << 20, dictionary=Vec::new(), threads=1))]
    fn new(path: std::path::PathBuf, schema: &Bound<'_, PyAny>, compression: &str, row_group_rows: usize, dictionary: Vec<String>, threads: usize) -> PyResult<Self> {
        let schema = Arc::new(import_schema(schema)?);
        if row_group_rows == 0 {
            return Err(PyValueError::new_err("row_group_rows must be at least 1"));
        }
        let open = Writer::create(&path, schema, compression, row_group_rows, &dictionary, threads).map_err(|e| match e {
            OpenError::Config(e) => PyValueError::new_err(e),
            OpenError::Write(e) => PyOSError::new_err(e),
        })?;
        Ok(ParquetWriter(Mutex::new(Some(open))))
    }

    /// Append the rows of `data`, of the file's schema; each row group that fills is written.
    /// `data`: a RecordBatch or anything with `__arrow_c_array__` (a struct array) or
    /// `__arrow_c_stream__` (a Table, a RecordBatchReader). Its columns are encoded before it
    /// returns.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let pieces = import(data)?;
        py.detach(|| {
            let mut state = self.0.lock().map_err(|_| PyValueError::new_err("the writer failed before"))?;
            let open = state.as_mut().ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
            for p in pieces {
                let batch = batch_of(open.schema(), p)?;
                open.write(&batch).map_err(write_error)?;
            }
            Ok(())
        })
    }

    /// Write the held rows and the footer; returns the rows written.
    /// An empty file gets one empty row group, as pyarrow's writer writes.
    fn close(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| {
            let open = self.0.lock().map_err(|_| PyValueError::new_err("the writer failed before"))?.take();
            let open = open.ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
            open.finish().map_err(write_error)
        })
    }

    /// Drop the file without its footer (the caller removes it): after a failure part-way.
    fn discard(&self) {
        if let Ok(mut state) = self.0.lock() {
            state.take();
        }
    }

    /// Rows written so far, held ones included.
    #[getter]
    fn rows(&self) -> usize {
        self.0.lock().ok().and_then(|s| s.as_ref().map(Writer::rows)).unwrap_or(0)
    }
}

/// A piece as a batch of the file's schema: its columns those of the schema, in order, of
/// the same types.
fn batch_of(schema: &arrow_schema::SchemaRef, p: Piece) -> PyResult<RecordBatch> {
    let fields = schema.fields();
    if p.columns.len() != fields.len() {
        return Err(PyValueError::new_err(format!("a batch of {} columns for a file of {}", p.columns.len(), fields.len())));
    }
    for (f, c) in fields.iter().zip(&p.columns) {
        if f.data_type() != c.data_type() {
            return Err(PyValueError::new_err(format!("column {}: a batch of {} for a file of {}", f.name(), c.data_type(), f.data_type())));
        }
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(p.rows));
    RecordBatch::try_new_with_options(schema.clone(), p.columns, &options).map_err(data_error)
}

fn import_schema(schema: &Bound<'_, PyAny>) -> PyResult<Schema> {
    if !schema.hasattr("__arrow_c_schema__")? {
        return Err(PyTypeError::new_err("expected an Arrow schema (an object with __arrow_c_schema__)"));
    }
    let capsule = schema.call_method0("__arrow_c_schema__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let ptr = capsule.pointer_checked(Some(c"arrow_schema"))?.cast::<FFI_ArrowSchema>();
    // SAFETY: the capsule (alive here) owns an exported ArrowSchema; it is read, not moved.
    Schema::try_from(unsafe { ptr.as_ref() }).map_err(data_error)
}

/// The pieces of a batch (`__arrow_c_array__`, preferred: one export) or of a stream.
fn import(data: &Bound<'_, PyAny>) -> PyResult<Vec<Piece>> {
    let py = data.py();
    if data.hasattr(pyo3::intern!(py, "__arrow_c_array__"))? {
        let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = data.call_method0(pyo3::intern!(py, "__arrow_c_array__"))?.extract()?;
        let schema = schema.pointer_checked(Some(c"arrow_schema"))?.cast::<FFI_ArrowSchema>();
        let array = array.pointer_checked(Some(c"arrow_array"))?.cast::<FFI_ArrowArray>();
        // SAFETY: the capsules own an exported ArrowSchema/ArrowArray; the array is moved out
        // (its capsule is left a released one) and its buffers live as long as the import.
        let data = unsafe { from_ffi(FFI_ArrowArray::from_raw(array.as_ptr()), schema.as_ref()) }.map_err(data_error)?;
        return Ok(vec![piece(StructArray::from(data))?]);
    }
    if data.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? {
        let capsule = data.call_method0(pyo3::intern!(py, "__arrow_c_stream__"))?;
        let capsule = capsule.cast::<PyCapsule>()?;
        let stream = capsule.pointer_checked(Some(c"arrow_array_stream"))?.cast::<FFI_ArrowArrayStream>();
        // SAFETY: as above, the stream is moved out of its capsule.
        let reader = unsafe { RecordBatchStreamReader::from_raw(stream.as_ptr()) }.map_err(data_error)?;
        return reader.map(|b| piece(StructArray::from(b.map_err(data_error)?))).collect();
    }
    Err(PyTypeError::new_err("expected Arrow data (an object with __arrow_c_array__ or __arrow_c_stream__)"))
}

fn piece(batch: StructArray) -> PyResult<Piece> {
    if batch.null_count() > 0 {
        return Err(PyValueError::new_err("expected a RecordBatch: a struct array without NULL rows"));
    }
    let rows = batch.len();
    let (_, columns, _) = batch.into_parts();
    Ok(Piece { columns, rows })
}

/// Bad data or schema: ValueError (sinks.py turns it into a DataError naming the file).
fn data_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A failed encode or write: OSError for the file's I/O, ValueError for the data.
fn write_error(e: ParquetError) -> PyErr {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => PyOSError::new_err(io.to_string()),
            Err(other) => PyValueError::new_err(other.to_string()),
        },
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Adds the Parquet writer to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ParquetWriter>()?;
    Ok(())
}
