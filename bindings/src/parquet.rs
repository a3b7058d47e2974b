//! `_engine.ParquetWriter`: Arrow record batches (through the C data interface) written to a
//! Parquet file with arrow-rs, each row group's columns encoded in parallel, the GIL released
//! while it encodes and writes. Batches are gathered into row groups of exactly
//! `row_group_rows` rows (the last one smaller); the Arrow schema is stored in the file as
//! arrow-rs does (`ARROW:schema`), so readers get dictionary columns back as dictionaries.

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A Parquet file being written: `write` batches, then `close` (footer) or `discard`.
#[pyclass(frozen, module = "leadscore_fast._engine")]
pub struct ParquetWriter(Mutex<Option<Open>>);

/// A top-level column's encoded chunks (one per Parquet leaf), or why it failed.
type Encoded = Result<Vec<ArrowColumnChunk>, ParquetError>;

/// Some rows of every column, in schema order.
struct Piece {
    columns: Vec<ArrayRef>,
    rows: usize,
}

struct Open {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// the top-level field of each Parquet leaf column (nested fields have several)
    roots: Vec<usize>,
    held: Vec<Piece>,
    held_rows: usize,
    group_rows: usize,
    threads: usize,
    groups: usize,
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
        let compression = codec(compression)?;
        if row_group_rows == 0 {
            return Err(PyValueError::new_err("row_group_rows must be at least 1"));
        }
        let mut props = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_coerce_types(true)
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_created_by(format!("leadscore_fast (parquet-rs {})", parquet_version()));
        for name in &dictionary {
            props = props.set_column_dictionary_enabled(ColumnPath::new(vec![name.clone()]), true);
        }
        if !schema.metadata().is_empty() {
            // as pyarrow's writer: the schema's metadata also as the file's key/value pairs
            let mut kv: Vec<KeyValue> = schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
            kv.sort_by(|a, b| a.key.cmp(&b.key));
            props = props.set_key_value_metadata(Some(kv));
        }
        let mut props = props.build();
        let descr = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema).map_err(data_error)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let file = File::create(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let file = SerializedFileWriter::new(file, descr.root_schema_ptr(), Arc::new(props)).map_err(write_error)?;
        let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(&schema));
        let roots = (0..file.schema_descr().num_columns()).map(|leaf| file.schema_descr().get_column_root_idx(leaf)).collect();
        let open = Open { file, factory, schema, roots, held: Vec::new(), held_rows: 0, group_rows: row_group_rows, threads: threads.max(1), groups: 0, rows: 0 };
        Ok(ParquetWriter(Mutex::new(Some(open))))
    }

    /// Append the rows of `data`, of the file's schema; whole row groups are written.
    /// `data`: a RecordBatch or anything with `__arrow_c_array__` (a struct array) or
    /// `__arrow_c_stream__` (a Table, a RecordBatchReader). Each row group held complete is
    /// encoded and written before it returns.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let pieces = import(data)?;
        py.detach(|| {
            let mut state = self.0.lock().map_err(|_| PyValueError::new_err("the writer failed before"))?;
            let open = state.as_mut().ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
            for p in pieces {
                open.check(&p)?;
                open.push(p).map_err(write_error)?;
            }
            Ok(())
        })
    }

    /// Write the held rows and the footer; returns the rows written.
    /// An empty file gets one empty row group, as pyarrow's writer writes.
    fn close(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| {
            let open = self.0.lock().map_err(|_| PyValueError::new_err("the writer failed before"))?.take();
            let mut open = open.ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
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
        self.0.lock().ok().and_then(|s| s.as_ref().map(|o| o.rows)).unwrap_or(0)
    }
}

impl Open {
    /// A piece's columns are those of the schema, in order, of the same types.
    fn check(&self, p: &Piece) -> PyResult<()> {
        let fields = self.schema.fields();
        if p.columns.len() != fields.len() {
            return Err(PyValueError::new_err(format!("a batch of {} columns for a file of {}", p.columns.len(), fields.len())));
        }
        for (f, c) in fields.iter().zip(&p.columns) {
            if f.data_type() != c.data_type() {
                return Err(PyValueError::new_err(format!("column {}: a batch of {} for a file of {}", f.name(), c.data_type(), f.data_type())));
            }
        }
        Ok(())
    }

    /// Hold `p`; encode every complete row group held.
    fn push(&mut self, p: Piece) -> Result<(), ParquetError> {
        self.rows += p.rows;
        self.held_rows += p.rows;
        if p.rows > 0 {
            self.held.push(p);
        }
        while self.held_rows >= self.group_rows {
            let group = self.take(self.group_rows);
            self.encode(&group)?;
        }
        Ok(())
    }

    /// The first `n` held rows (slicing a piece where the group ends in it).
    fn take(&mut self, n: usize) -> Vec<Piece> {
        let (mut out, mut got) = (Vec::new(), 0);
        while got < n {
            let p = self.held.remove(0);
            let want = n - got;
            if p.rows <= want {
                got += p.rows;
                out.push(p);
            } else {
                let head = Piece { columns: p.columns.iter().map(|c| c.slice(0, want)).collect(), rows: want };
                let tail = Piece { columns: p.columns.iter().map(|c| c.slice(want, p.rows - want)).collect(), rows: p.rows - want };
                self.held.insert(0, tail);
                got += want;
                out.push(head);
            }
        }
        self.held_rows -= n;
        out
    }

    /// One row group from `pieces`: each top-level column's leaves encoded on a worker
    /// thread (the biggest first), then appended to the file in schema order.
    fn encode(&mut self, pieces: &[Piece]) -> Result<(), ParquetError> {
        let n_fields = self.schema.fields().len();
        let mut per_field: Vec<Vec<ArrowColumnWriter>> = (0..n_fields).map(|_| Vec::new()).collect();
        for (leaf, w) in self.factory.create_column_writers(self.groups)?.into_iter().enumerate() {
            per_field[self.roots[leaf]].push(w);
        }
        let jobs: Vec<Mutex<Option<Vec<ArrowColumnWriter>>>> = per_field.into_iter().map(|w| Mutex::new(Some(w))).collect();
        let done: Vec<Mutex<Option<Encoded>>> = (0..n_fields).map(|_| Mutex::new(None)).collect();
        let mut order: Vec<usize> = (0..n_fields).collect();
        let size = |f: usize| pieces.iter().map(|p| p.columns[f].get_array_memory_size()).sum::<usize>();
        order.sort_by_key(|&f| std::cmp::Reverse(size(f)));
        let next = AtomicUsize::new(0);
        let schema = &self.schema;
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&f) = order.get(i) else { break };
            let writers = jobs[f].lock().unwrap().take().unwrap_or_default();
            let chunks = encode_column(schema.field(f), f, pieces, writers);
            *done[f].lock().unwrap() = Some(chunks);
        };
        let workers = self.threads.min(n_fields);
        if workers <= 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(work);
                }
            });
        }
        let mut group = self.file.next_row_group()?;
        for slot in done {
            let chunks = slot.into_inner().unwrap().unwrap_or_else(|| Err(ParquetError::General("a column was not encoded".into())))?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut group)?;
            }
        }
        group.close()?;
        self.groups += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<usize, ParquetError> {
        if self.held_rows > 0 || self.groups == 0 {
            let rest = self.take(self.held_rows);
            self.encode(&rest)?;
        }
        self.file.finish()?;
        Ok(self.rows)
    }
}

/// A top-level column's chunks: every piece's leaves through its writers (one per leaf).
fn encode_column(field: &arrow_schema::Field, f: usize, pieces: &[Piece], mut writers: Vec<ArrowColumnWriter>) -> Encoded {
    for p in pieces {
        for (w, leaf) in writers.iter_mut().zip(compute_leaves(field, &p.columns[f])?) {
            w.write(&leaf)?;
        }
    }
    writers.into_iter().map(ArrowColumnWriter::close).collect()
}

/// The compression of a name of `sinks.COMPRESSIONS`.
fn codec(name: &str) -> PyResult<Compression> {
    let level = |r: Result<Compression, ParquetError>| r.map_err(data_error);
    Ok(match name {
        "snappy" => Compression::SNAPPY,
        "zstd" => level(ZstdLevel::try_new(1).map(Compression::ZSTD))?,
        "lz4" => Compression::LZ4_RAW,
        "gzip" => level(GzipLevel::try_new(9).map(Compression::GZIP))?,
        "brotli" => level(BrotliLevel::try_new(8).map(Compression::BROTLI))?,
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        other => return Err(PyValueError::new_err(format!("unknown compression {other:?}"))),
    })
}

fn parquet_version() -> &'static str {
    parquet::file::properties::DEFAULT_CREATED_BY.rsplit(' ').next().unwrap_or("")
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
