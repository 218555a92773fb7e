//! Scanner sources turn bytes into [`ScanEvent`]s on one channel ([`source::Sources`]).
//! Every kind shares the framing of [`framing::LineFramer`]; the tag parser is applied
//! later, by whoever checks the scan.
//!
//! - [`lines`]: standard input and replay files;
//! - [`serial`]: USB-CDC and RS-232 scanners (reconnects when unplugged);
//! - [`hid`]: USB HID keyboard-wedge scanners read from evdev, grabbed;
//! - [`wedge`]: keystrokes typed into the app window;
//! - [`camera`]: frames from a V4L2 camera or an image folder, decoded to barcodes.

pub mod camera;
pub mod framing;
pub mod hid;
pub mod lines;
pub mod profiles;
pub mod serial;
pub mod source;
pub mod wedge;

pub use framing::{Frame, LineFramer, Terminator};
pub use source::{ScanSource, Sink, SourceEvent, SourceSpec, Sources, StatusLevel};

use std::time::SystemTime;

/// One scan as a source delivered it, before any check.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanEvent {
    /// Where it came from, e.g. `stdin` or `serial:/dev/ttyACM0`.
    pub source: String,
    /// The line without its terminator, at most the framer's limit.
    pub raw: Vec<u8>,
    /// The full length of the line as received (larger than `raw` when cut).
    pub len: usize,
    /// True when the keystroke timing says a person typed it rather than a scanner.
    pub manual: bool,
    /// Set by a source that already knows this is not a tag (a camera's decoy, or a
    /// read the decoder distrusts): the check answers `not_a_tag` without parsing.
    pub refused: Option<crate::tag::NotATag>,
    pub at: SystemTime,
}

impl ScanEvent {
    /// The scan as a frame, for the pick check.
    pub fn frame(&self) -> Frame {
        Frame {
            bytes: self.raw.clone(),
            len: self.len,
        }
    }
}

/// Build the source a spec names. `max_line` bounds every line it frames; `parser`
/// is what camera sources use to tell tags from other barcodes.
pub fn open_source(
    spec: &SourceSpec,
    max_line: usize,
    parser: &crate::tag::TagParser,
) -> Result<Box<dyn ScanSource>, String> {
    use source::{opt_terminator, opt_u32};
    Ok(match spec {
        SourceSpec::Stdin => Box::new(lines::LinesSource::stdin(max_line)),
        SourceSpec::Replay { path, opts } => Box::new(lines::LinesSource::replay(
            path.clone(),
            opt_terminator(opts),
            std::time::Duration::from_millis(u64::from(opt_u32(opts, "delay_ms", 0))),
            max_line,
        )),
        SourceSpec::Serial { path, opts } => Box::new(serial::SerialSource::new(
            serial::SerialConfig::from_options(path.clone(), opts, max_line)?,
        )),
        SourceSpec::Hid { target, opts } => Box::new(hid::HidSource::new(
            hid::HidConfig::from_options(target, opts, max_line),
        )),
        SourceSpec::Camera { path, opts } => Box::new(camera::v4l2::CameraSource::new(
            path.clone(),
            opts,
            camera::decoder_for(parser, opts),
        )),
        SourceSpec::Images { path, opts } => {
            if !path.exists() {
                return Err(format!(
                    "images:{}: no such folder or video file",
                    path.display()
                ));
            }
            Box::new(camera::ImagesSource::new(
                path.clone(),
                opts,
                camera::decoder_for(parser, opts),
            ))
        }
    })
}
