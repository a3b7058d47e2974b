//! The native executor: runs a Program's bytecode over one batch of Arrow columns with the
//! memory contract of the numba interpreter (`python/leadscore_fast/vm/kernel.py`,
//! docs/ARCHITECTURE.md §4): the same registers, chunks and blocks, the same operations in the
//! same order, so its results are the interpreter's to the bit. Nothing is compiled at run time.
//!
//! - `check.rs`: the validator (operands against the opcode table and the batch's sizes).
//! - `run.rs`: the interpreter loop, its blocks and threads.
//! - `ops.rs`: the per-opcode loops over a chunk.
//! - `ptype.rs`: the physical column types of `vm/columns.py`.

pub mod check;
mod ops;
pub mod ptype;
mod run;

pub use check::{check, implements, unsupported, Dims, Insn};
pub use run::{on_threads, run, run_with_sink, Batch, ChunkRows, ChunkSink, Column, Outputs};
