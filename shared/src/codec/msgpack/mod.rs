//! msgpack as Scope's Go codec (ugorji, old spec) reads and writes it: strings and binary share
//! the raw type, times are 15-byte `time.MarshalBinary` raws, structs are maps keyed by their
//! JSON names.

mod read;
mod scan;
mod write;

pub use read::decode;
pub use scan::{Checked, check};
pub use write::encode;
