//! The three stages of a bulk run over one Parquet file: a reader thread decodes batches of
//! the needed columns, this thread binds and scores each (the native executor, on
//! `threads` threads), a writer thread encodes the outputs. Channels of one batch between
//! the stages bound memory at a few batches whatever the file's size.

use crate::inputs::Bound;
use crate::outputs::{self, Summary};
use crate::writer::{Copy, Writer};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, SchemaRef};
use leadscore_engine::batch::Prepared;
use leadscore_engine::program::Program;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// One file to score into another.
pub struct Job<'a> {
    pub program: &'a Program,
    pub input: &'a Path,
    pub output: &'a Path,
    /// Input columns copied to the output after the scores and segments.
    pub keep: &'a [String],
    /// `days_since`'s reference time, microseconds since the epoch.
    pub as_of: i64,
    /// Rows per executor chunk, and the most blocks a batch is split into.
    pub chunk: usize,
    pub max_blocks: usize,
    pub threads: usize,
    pub compression: &'a str,
    pub row_group_rows: usize,
    /// Rows per decoded batch (a row group holds one or more: its dictionaries stay whole).
    pub batch_rows: usize,
    /// Threads decoding row groups.
    pub readers: usize,
}

/// How a run ended: scored, or handed back to the Python runner (before anything usable
/// was written: the caller discards the output) for the reason given.
pub enum Outcome {
    Done(Summary),
    Fallback(String),
}

/// Why a run stopped early (the messages are the library's; the caller names the file).
pub enum Stop {
    /// The input could not be read (a missing column, a corrupt file).
    Read(String),
    /// The output could not be written.
    Write(String),
    /// The executor refused a batch.
    Score(String),
    /// `on_batch` asked to stop (an interrupt).
    Cancelled,
}

/// The arrow schema of a Parquet file (the one its `ARROW:schema` records, else derived)
/// and its row count.
pub fn file_schema(path: &Path) -> Result<(SchemaRef, i64), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    Ok((builder.schema().clone(), builder.metadata().file_metadata().num_rows()))
}

/// Score `job.input` into `job.output`; `on_batch(rows)` after each batch (false: stop).
pub fn score_file(job: &Job, on_batch: &mut dyn FnMut(usize) -> bool) -> Result<Outcome, Stop> {
    let read = |e: String| Stop::Read(e);
    let write = |e: String| Stop::Write(e);
    let score = |e: String| Stop::Score(e);
    let prep = match Prepared::new(job.program) {
        Ok(p) => p,
        Err(why) => return Ok(Outcome::Fallback(why)),
    };
    let file = File::open(job.input).map_err(|e| read(e.to_string()))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| read(e.to_string()))?;
    let in_schema = meta.schema().clone();
    let names: Vec<String> = job.program.columns.iter().map(|c| c.name.clone()).collect();
    for name in names.iter().chain(job.keep) {
        in_schema.index_of(name).map_err(|_| read(format!("no column {name:?}")))?;
    }
    let recorded = outputs::recorded_schema(meta.metadata().file_metadata().key_value_metadata());
    let keep_fields: Vec<Field> = job
        .keep
        .iter()
        .map(|k| outputs::kept_field(in_schema.field_with_name(k).unwrap(), recorded.as_ref().and_then(|r| r.field_with_name(k).ok())))
        .collect();
    let out_schema: SchemaRef = Arc::new(outputs::schema(job.program, &keep_fields));
    let labels = outputs::label_arrays(job.program);
    let groups: Vec<usize> = (0..meta.metadata().num_row_groups()).collect();
    let readers = job.readers.clamp(1, groups.len().max(1));
    let segments: Vec<String> = job.program.segments.iter().map(|g| g.name.clone()).collect();
    let writer = Writer::create(job.output, out_schema.clone(), job.compression, job.row_group_rows, &segments, job.threads).map_err(|e| write(e.to_string()))?;
    // kept columns copied as they are: (output field, input leaf column) of each
    let first_kept = job.program.scores.len() + segments.len();
    let copies = copy_plan(job, &meta, &keep_fields, &writer, first_kept);
    // per kept column: copied, so neither decoded (unless the model reads it) nor built
    let copied: Vec<bool> = (0..job.keep.len()).map(|k| copies.iter().any(|&(f, _)| f == first_kept + k)).collect();
    let mut writer = writer.copying(&copies.iter().map(|&(f, _)| f).collect::<Vec<_>>());
    let mut roots = Vec::new();
    for name in names.iter().chain(job.keep.iter().zip(&copied).filter(|(_, &c)| !c).map(|(k, _)| k)) {
        let i = in_schema.index_of(name).unwrap();
        if !roots.contains(&i) {
            roots.push(i);
        }
    }
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
    let stop = AtomicBool::new(false);
    let mut summary = Summary::new(job.program);
    std::thread::scope(|s| {
        let (to_write, outs) = sync_channel::<Piece>(1);
        let stop = &stop;
        // reader r decodes row groups r, r + readers, ...; they are taken back in file order
        let mut decoded = Vec::with_capacity(readers);
        for r in 0..readers {
            let (to_score, batches) = sync_channel::<Decoded>(1);
            decoded.push(batches);
            let (meta, mask, groups) = (&meta, &mask, &groups);
            s.spawn(move || {
                // a file of its own: clones of one File share its position, and the reader
                // seeks before it reads
                let file = match File::open(job.input) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = to_score.send(Decoded::Failed(e.to_string()));
                        return;
                    }
                };
                for &g in groups.iter().skip(r).step_by(readers) {
                    let reader = match row_group(&file, meta, mask, g, job.batch_rows) {
                        Ok(reader) => reader,
                        Err(e) => {
                            let _ = to_score.send(Decoded::Failed(e));
                            return;
                        }
                    };
                    let mut reader = reader;
                    loop {
                        // a corrupt file can make the decoder panic: an error for this file
                        let b = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())) {
                            Ok(Some(b)) => b,
                            Ok(None) => break,
                            Err(_) => Err(parquet::errors::ParquetError::General("the Parquet decoder failed on this data".into()).into()),
                        };
                        let msg = b.map(Decoded::Batch).unwrap_or_else(|e| Decoded::Failed(e.to_string()));
                        if stop.load(Ordering::Relaxed) || to_score.send(msg).is_err() {
                            return;
                        }
                    }
                    if to_score.send(Decoded::GroupEnd).is_err() {
                        return;
                    }
                }
            });
        }
        let batches = InOrder { decoded, next: 0, n_groups: groups.len(), done_groups: 0 };
        // the batches the writer takes: the output's fields less the copied ones
        let written_fields: Vec<Field> = out_schema.fields().iter().enumerate().filter(|&(f, _)| f < first_kept || !copied[f - first_kept]).map(|(_, x)| x.as_ref().clone()).collect();
        let written_schema: SchemaRef = Arc::new(arrow_schema::Schema::new(written_fields));
        let (meta, copies) = (&meta, &copies);
        let written = s.spawn(move || -> Result<Writer, String> {
            let source = if copies.is_empty() { None } else { Some(File::open(job.input).map_err(|e| e.to_string())?) };
            for msg in outs {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match msg {
                    Piece::Batch(batch) => writer.write(&batch).map_err(|e| e.to_string())?,
                    Piece::GroupEnd(g) => {
                        let Some(source) = source.as_ref() else { continue };
                        let group = meta.metadata().row_group(g);
                        let chunks = copies.iter().map(|&(field, leaf)| Copy { field, metadata: group.column(leaf).clone(), rows: group.num_rows() as u64, source }).collect();
                        writer.end_group(chunks).map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok(writer)
        });
        // None: every batch scored; Some(why): hand the file back to the Python runner
        let scored = (|| -> Result<Option<String>, Stop> {
            for batch in batches {
                let batch = match batch.map_err(read)? {
                    Piece::Batch(b) => b,
                    Piece::GroupEnd(g) => {
                        if to_write.send(Piece::GroupEnd(g)).is_err() {
                            break;
                        }
                        continue;
                    }
                };
                let n = batch.num_rows();
                let bound = Bound::new(&batch, &names).map_err(read)?;
                let Some(inputs) = bound.inputs().map_err(read)? else {
                    return Ok(Some("a column the native binding does not take".into()));
                };
                let nblocks = job.max_blocks.clamp(1, n.div_ceil(job.chunk.max(1)).max(1));
                let Some(out) = prep.score(&inputs, n, job.as_of, job.chunk, nblocks, job.threads).map_err(score)? else {
                    return Ok(Some("a batch the native binding does not take".into()));
                };
                summary.add(&out, n);
                let mut columns: Vec<ArrayRef> = outputs::columns(out, n, &labels).map_err(score)?;
                for ((k, field), &was_copied) in job.keep.iter().zip(&keep_fields).zip(&copied) {
                    if !was_copied {
                        columns.push(outputs::kept_array(batch.column(batch.schema().index_of(k).unwrap()), field));
                    }
                }
                let batch = RecordBatch::try_new(written_schema.clone(), columns).map_err(|e| score(e.to_string()))?;
                if to_write.send(Piece::Batch(batch)).is_err() {
                    break; // the writer failed: its error is reported below
                }
                if !on_batch(n) {
                    return Err(Stop::Cancelled);
                }
            }
            Ok(None)
        })();
        if !matches!(scored, Ok(None)) {
            stop.store(true, Ordering::Relaxed);
        }
        drop(to_write);
        let writer = written.join().map_err(|_| write("the writer thread panicked".into()))?;
        if let Some(why) = scored? {
            return Ok(Outcome::Fallback(why));
        }
        writer.map_err(write)?.finish().map_err(|e| write(e.to_string()))?;
        Ok(Outcome::Done(summary.clone()))
    })
}

/// A reader of row group `g` (its dictionaries stay whole: a batch never spans two groups).
fn row_group(file: &File, meta: &ArrowReaderMetadata, mask: &ProjectionMask, g: usize, batch_rows: usize) -> Result<ParquetRecordBatchReader, String> {
    let file = file.try_clone().map_err(|e| e.to_string())?;
    ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
        .with_projection(mask.clone())
        .with_row_groups(vec![g])
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| e.to_string())
}

/// What a reader thread hands on.
enum Decoded {
    Batch(RecordBatch),
    /// The end of a row group: the next one comes from the next reader.
    GroupEnd,
    Failed(String),
}

/// The readers' batches in file order: row group k comes from reader k % readers.
struct InOrder {
    decoded: Vec<std::sync::mpsc::Receiver<Decoded>>,
    next: usize,
    n_groups: usize,
    done_groups: usize,
}

/// What a stage hands the next, in file order: a batch (decoded, then scored), or the end of
/// row group g.
enum Piece {
    Batch(RecordBatch),
    GroupEnd(usize),
}

impl Iterator for InOrder {
    type Item = Result<Piece, String>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.done_groups < self.n_groups {
            match self.decoded[self.next].recv() {
                Ok(Decoded::Batch(b)) => return Some(Ok(Piece::Batch(b))),
                Ok(Decoded::GroupEnd) => {
                    let g = self.done_groups;
                    self.done_groups += 1;
                    self.next = (self.next + 1) % self.decoded.len();
                    return Some(Ok(Piece::GroupEnd(g)));
                }
                Ok(Decoded::Failed(e)) => return Some(Err(e)),
                Err(_) => return Some(Err("a reader thread stopped".into())),
            }
        }
        None
    }
}


/// The kept columns whose chunks the output can take as they are, as (output field, input
/// leaf column): a one-leaf column kept unchanged (`kept_field`), of the same Parquet type in
/// both files, compressed in every row group with the codec asked for; and only where the
/// input's row groups are of about the size asked for (from half to twice; the output's
/// groups then end where the input's do). Decoding and encoding them again would cost as much
/// as scoring.
fn copy_plan(job: &Job, meta: &ArrowReaderMetadata, keep_fields: &[Field], writer: &Writer, first_kept: usize) -> Vec<(usize, usize)> {
    let md = meta.metadata();
    let n = md.num_row_groups();
    let want = crate::writer::codec(job.compression).ok();
    let size_ok = (0..n).all(|g| {
        let rows = md.row_group(g).num_rows().max(0) as usize;
        rows <= 2 * job.row_group_rows && (g + 1 == n || 2 * rows >= job.row_group_rows)
    });
    if n == 0 || !size_ok || want.is_none() || std::env::var("LEADSCORE_BULK_COPY").is_ok_and(|v| v == "0") {
        return Vec::new();
    }
    let want = want.unwrap();
    let descr = meta.parquet_schema();
    let in_schema = meta.schema();
    let mut plan = Vec::new();
    for (k, (name, kept)) in job.keep.iter().zip(keep_fields).enumerate() {
        let root = in_schema.index_of(name).unwrap();
        let leaves: Vec<usize> = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == root).collect();
        let [leaf] = leaves[..] else { continue };
        let out_field = first_kept + k;
        let same_type = kept == in_schema.field(root) && writer.leaf_of(out_field).is_some_and(|d| *d == *descr.column(leaf));
        let same_codec = (0..n).all(|g| std::mem::discriminant(&md.row_group(g).column(leaf).compression()) == std::mem::discriminant(&want));
        if same_type && same_codec && !plan.iter().any(|&(_, l)| l == leaf) {
            plan.push((out_field, leaf));
        }
    }
    plan
}
