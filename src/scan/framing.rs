//! Splitting a byte stream into scanner lines, shared by every source.
//!
//! Scanners end a scan with CR, LF, CRLF or TAB, or with nothing at all (then a pause
//! ends it); which one is a per-source setting ([`Terminator`]). [`LineFramer`] emits a line the moment its terminator arrives (it never
//! waits to see whether an LF follows a CR), copes with bytes split across reads and
//! several lines in one read, keeps every other byte as sent (NUL padding included:
//! the tag parser ignores control characters, and the log keeps the raw line), and bounds
//! memory: a line longer than the limit is cut, with its full length reported, so a
//! 10 MB burst of garbage costs no more than a short line. A source that sees a pause
//! (`gap`) calls [`LineFramer::finish`], so a scan without a terminator is still
//! answered rather than silently held.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One framed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The line without terminator, at most `max` bytes.
    pub bytes: Vec<u8>,
    /// The line's full length as received.
    pub len: usize,
}

impl Frame {
    /// True if the line was longer than the framer keeps.
    pub fn overflowed(&self) -> bool {
        self.len > self.bytes.len()
    }
}

/// What ends a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Terminator {
    /// CR, LF or CRLF (the default). A TAB suffix then stays in the line, where the
    /// tag parser ignores it, and a pause ends a scan that has no CR or LF.
    #[default]
    Any,
    Cr,
    Lf,
    /// CR or LF, with CRLF counted once.
    CrLf,
    Tab,
    /// No terminator: a pause in the input ends the scan.
    None,
}

impl FromStr for Terminator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "any" => Terminator::Any,
            "cr" => Terminator::Cr,
            "lf" => Terminator::Lf,
            "crlf" => Terminator::CrLf,
            "tab" => Terminator::Tab,
            "none" => Terminator::None,
            other => {
                return Err(format!(
                    "unknown terminator {other:?}: use any, cr, lf, crlf, tab or none"
                ));
            }
        })
    }
}

impl Terminator {
    fn ends(self, b: u8) -> bool {
        match self {
            Terminator::Any => matches!(b, b'\r' | b'\n'),
            Terminator::Cr => b == b'\r',
            Terminator::Lf => b == b'\n',
            Terminator::CrLf => matches!(b, b'\r' | b'\n'),
            Terminator::Tab => b == b'\t',
            Terminator::None => false,
        }
    }
}

#[derive(Debug)]
pub struct LineFramer {
    terminator: Terminator,
    max: usize,
    buf: Vec<u8>,
    len: usize,
    after_cr: bool,
}

impl LineFramer {
    /// A framer for CR, LF, CRLF and TAB, keeping at most `max` bytes a line.
    pub fn new(max: usize) -> Self {
        Self::with_terminator(Terminator::Any, max)
    }

    pub fn with_terminator(terminator: Terminator, max: usize) -> Self {
        LineFramer {
            terminator,
            max: max.max(1),
            buf: Vec::new(),
            len: 0,
            after_cr: false,
        }
    }

    /// Feed bytes; `emit` is called once for each completed line.
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(Frame)) {
        for &b in bytes {
            if b == b'\n' && self.after_cr {
                // The LF of a CRLF whose CR already ended the line.
                self.after_cr = false;
                continue;
            }
            self.after_cr = false;
            if self.terminator.ends(b) {
                self.after_cr = b == b'\r' && self.terminator.ends(b'\n');
                emit(self.take());
            } else {
                if self.buf.len() < self.max {
                    self.buf.push(b);
                }
                self.len += 1;
            }
        }
    }

    /// True if a line has started and not yet ended.
    pub fn pending(&self) -> bool {
        self.len > 0
    }

    /// End the current line without a terminator (end of input, or a pause).
    pub fn finish(&mut self) -> Option<Frame> {
        self.after_cr = false;
        (self.len > 0).then(|| self.take())
    }

    fn take(&mut self) -> Frame {
        let frame = Frame {
            bytes: std::mem::take(&mut self.buf),
            len: self.len,
        };
        self.len = 0;
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(t: Terminator, chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut f = LineFramer::with_terminator(t, max);
        let mut out = vec![];
        for c in chunks {
            f.push(c, |fr| out.push(fr));
        }
        out.extend(f.finish());
        out
    }

    fn texts(fr: &[Frame]) -> Vec<String> {
        fr.iter()
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
            .collect()
    }

    #[test]
    fn terminators_and_split_reads() {
        let out = frames(
            Terminator::Any,
            &[b"AB", b"C\r", b"\nDEF\n\rG", b"H\r\r\nI"],
            100,
        );
        assert_eq!(texts(&out), vec!["ABC", "DEF", "", "GH", "", "I"]);
        let out = frames(Terminator::Any, &[b"A\tB\t\r\n"], 100);
        assert_eq!(texts(&out), vec!["A\tB\t"]);
    }

    #[test]
    fn crlf_split_across_reads_is_one_terminator() {
        let out = frames(Terminator::Any, &[b"ABC\r", b"\n", b"DEF\r\n"], 100);
        assert_eq!(texts(&out), vec!["ABC", "DEF"]);
    }

    #[test]
    fn a_configured_terminator_is_the_only_one() {
        assert_eq!(
            texts(&frames(Terminator::Tab, &[b"AB\r\nC\tD"], 100)),
            vec!["AB\r\nC", "D"]
        );
        assert_eq!(
            texts(&frames(Terminator::Cr, &[b"AB\nC\rD"], 100)),
            vec!["AB\nC", "D"]
        );
        assert_eq!(
            texts(&frames(Terminator::None, &[b"AB\r\n", b"CD"], 100)),
            vec!["AB\r\nCD"]
        );
        assert_eq!("crlf".parse::<Terminator>(), Ok(Terminator::CrLf));
        assert!("semicolon".parse::<Terminator>().is_err());
    }

    #[test]
    fn nul_bytes_are_kept_as_sent() {
        let out = frames(Terminator::Any, &[b"\0\0AB\0C\r\n\0\0\0"], 100);
        assert_eq!(texts(&out), vec!["\0\0AB\0C", "\0\0\0"]);
    }

    #[test]
    fn long_lines_are_cut_and_measured() {
        let big = vec![b'x'; 10_000];
        let out = frames(Terminator::Any, &[&big, b"\nok\n"], 16);
        assert_eq!(out[0].bytes.len(), 16);
        assert_eq!(out[0].len, 10_000);
        assert!(out[0].overflowed());
        assert_eq!(texts(&out[1..]), vec!["ok"]);
        assert!(!out[1].overflowed());
    }
}
