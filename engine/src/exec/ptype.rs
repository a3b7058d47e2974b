//! Physical column types: the `ptype` codes of `python/leadscore_fast/vm/columns.py`
//! (`tests/test_vm_native.py` checks the two lists agree).

pub const F64: i64 = 0;
pub const F32: i64 = 1;
pub const I8: i64 = 2;
pub const I16: i64 = 3;
pub const I32: i64 = 4;
pub const I64: i64 = 5;
pub const U8: i64 = 6;
pub const U16: i64 = 7;
pub const U32: i64 = 8;
pub const U64: i64 = 9;
/// Bit-packed booleans.
pub const BOOL: i64 = 10;
pub const TS_S: i64 = 11;
pub const TS_MS: i64 = 12;
pub const TS_US: i64 = 13;
pub const TS_NS: i64 = 14;
/// int32 days.
pub const DATE32: i64 = 15;
/// int64 milliseconds.
pub const DATE64: i64 = 16;
/// Every row NULL, no buffers.
pub const NULL: i64 = 17;
/// Any other type: only its validity is readable (IS_NULL_COL).
pub const OTHER: i64 = 18;

pub const NAMES: &[&str] = &[
    "f64", "f32", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool", "ts_s", "ts_ms",
    "ts_us", "ts_ns", "date32", "date64", "null", "other",
];

/// Bytes of the data buffer that `rows` rows starting at element `offset` span, or None for a
/// type whose data buffer is never read (NULL, OTHER).
pub fn data_bytes(ptype: i64, offset: usize, rows: usize) -> Option<usize> {
    let end = offset + rows;
    Some(match ptype {
        F64 | I64 | U64 | TS_S | TS_MS | TS_US | TS_NS | DATE64 => end * 8,
        F32 | I32 | U32 | DATE32 => end * 4,
        I16 | U16 => end * 2,
        I8 | U8 => end,
        BOOL => end.div_ceil(8),
        _ => return None,
    })
}

/// Integer codes a lookup reads after widening to int64 (every int type but int32/uint32,
/// which are read in place), as `kernel._wide_codes`.
pub fn wide_codes(ptype: i64) -> bool {
    matches!(ptype, I8 | I16 | I64 | U8 | U16 | U64)
}

/// Integer types LOAD_B reads as numbers (`kernel._is_int`).
pub fn is_int(ptype: i64) -> bool {
    wide_codes(ptype) || ptype == I32 || ptype == U32
}
