//! Line sources: standard input, and replay files of scanner lines (for tests, demos
//! and audits).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use super::framing::{LineFramer, Terminator};
use super::source::{ScanSource, Sink, StatusLevel};

/// Scanner lines from any reader (stdin, a file).
pub struct LinesSource {
    name: String,
    input: Input,
    terminator: Terminator,
    max_line: usize,
    /// Pause between replayed lines.
    delay: Duration,
}

enum Input {
    Stdin,
    File(PathBuf),
}

impl LinesSource {
    pub fn stdin(max_line: usize) -> Self {
        LinesSource {
            name: "stdin".into(),
            input: Input::Stdin,
            terminator: Terminator::Any,
            max_line,
            delay: Duration::ZERO,
        }
    }

    pub fn replay(path: PathBuf, terminator: Terminator, delay: Duration, max_line: usize) -> Self {
        LinesSource {
            name: format!("replay:{}", path.display()),
            input: Input::File(path),
            terminator,
            max_line,
            delay,
        }
    }
}

impl ScanSource for LinesSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn run(self: Box<Self>, sink: Sink) {
        let mut reader: Box<dyn Read> = match &self.input {
            Input::Stdin => Box::new(std::io::stdin()),
            Input::File(p) => match std::fs::File::open(p) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    sink.status(
                        StatusLevel::Error,
                        format!("cannot open replay file {}: {e}", p.display()),
                    );
                    return;
                }
            },
        };
        let mut framer = LineFramer::with_terminator(self.terminator, self.max_line);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if sink.stopped() {
                return;
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    sink.status(
                        StatusLevel::Error,
                        format!("cannot read {}: {e}", self.name),
                    );
                    return;
                }
            };
            let mut frames = vec![];
            framer.push(&buf[..n], |f| frames.push(f));
            for f in frames {
                if !sink.scan(f, false) {
                    return;
                }
                if !self.delay.is_zero() && !sink.sleep(self.delay) {
                    return;
                }
            }
        }
        if let Some(f) = framer.finish() {
            sink.scan(f, false);
        }
    }
}
