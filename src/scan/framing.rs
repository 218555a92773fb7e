//! Splitting a byte stream into scanner lines.
//!
//! Scanners end a scan with CR, LF or CRLF. [`LineFramer`] treats each of those as one
//! terminator, emits a line the moment its terminator arrives (it never waits to see
//! whether an LF follows a CR), copes with bytes split across reads and several lines in
//! one read, and bounds memory: a line longer than the limit is cut, with its full
//! length reported, so a 10 MB burst of garbage costs no more than a short line.

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

#[derive(Debug)]
pub struct LineFramer {
    max: usize,
    buf: Vec<u8>,
    len: usize,
    after_cr: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> Self {
        LineFramer {
            max: max.max(1),
            buf: Vec::new(),
            len: 0,
            after_cr: false,
        }
    }

    /// Feed bytes; `emit` is called once for each completed line.
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(Frame)) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    emit(self.take());
                }
                _ => {
                    self.after_cr = false;
                    if self.buf.len() < self.max {
                        self.buf.push(b);
                    }
                    self.len += 1;
                }
            }
        }
    }

    /// At end of input: the last line, if it had no terminator.
    pub fn finish(&mut self) -> Option<Frame> {
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

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut f = LineFramer::new(max);
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
        let out = frames(&[b"AB", b"C\r", b"\nDEF\n\rG", b"H\r\r\nI"], 100);
        assert_eq!(texts(&out), vec!["ABC", "DEF", "", "GH", "", "I"]);
    }

    #[test]
    fn crlf_split_across_reads_is_one_terminator() {
        let out = frames(&[b"ABC\r", b"\n", b"DEF\r\n"], 100);
        assert_eq!(texts(&out), vec!["ABC", "DEF"]);
    }

    #[test]
    fn long_lines_are_cut_and_measured() {
        let big = vec![b'x'; 10_000];
        let out = frames(&[&big, b"\nok\n"], 16);
        assert_eq!(out[0].bytes.len(), 16);
        assert_eq!(out[0].len, 10_000);
        assert!(out[0].overflowed());
        assert_eq!(texts(&out[1..]), vec!["ok"]);
        assert!(!out[1].overflowed());
    }
}
