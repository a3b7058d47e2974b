//! Bulk rescoring of a Parquet file into a Parquet file with no Python in the loop: the job
//! users bring most ("rescore our lead table and write the scores back"). A reader thread
//! decodes row groups (only the model's and the kept columns), the calling thread binds and
//! scores each batch on the native executor (`engine::batch::Prepared`, the bits of every
//! other executor), and a writer thread encodes the output, its columns on threads of
//! their own. Bounded channels between the stages keep memory at a few batches.
//!
//! - `kinds.rs`: Arrow types as the engine's column kinds (the schema the compiler checks).
//! - `inputs.rs`: arrow-rs arrays as the executor's inputs, read in place.
//! - `outputs.rs`: the scored batch as Arrow columns, and the run's summary.
//! - `writer.rs`: the Parquet writer (row groups of a fixed size, columns encoded in parallel).
//! - `chunks.rs`: the column chunks the writer encodes itself (float64 scores, segment labels).
//! - `codecs.rs`: their page compression, as parquet-rs compresses.
//! - `pipeline.rs`: the three stages and their channels.

pub mod chunks;
pub mod codecs;
pub mod inputs;
pub mod kinds;
pub mod outputs;
pub mod pipeline;
pub mod writer;

pub use pipeline::{score_file, Job, Outcome};
