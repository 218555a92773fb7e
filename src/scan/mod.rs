//! Scanner sources turn bytes into [`ScanEvent`]s. For now: a stream of lines (standard
//! input, a replay file); serial, HID and camera sources build on the same framing.

pub mod camera;
pub mod framing;
pub mod wedge;

pub use framing::{Frame, LineFramer, Terminator};

use std::time::SystemTime;

/// One scan as a source delivered it, before any check.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanEvent {
    /// Where it came from, e.g. `stdin`.
    pub source: String,
    /// The line without its terminator, at most the framer's limit.
    pub raw: Vec<u8>,
    /// The full length of the line as received (larger than `raw` when cut).
    pub len: usize,
    pub at: SystemTime,
}
