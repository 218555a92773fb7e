//! Typed characters to scans: the keyboard-wedge fallback (a scanner typing into the
//! focused app window) and the character half of the HID source.
//!
//! The same framing as every other source, plus the rhythm of the keys: a scanner
//! types a whole tag in a few milliseconds a key, a person takes a hundred or more, so
//! each scan says whether a person typed it.

use std::time::Duration;

use super::framing::{Frame, LineFramer, Terminator};

/// One framed scan, and whether a person typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub frame: Frame,
    pub manual: bool,
}

/// Characters with their times to framed scans.
#[derive(Debug)]
pub struct TypedFramer {
    framer: LineFramer,
    /// A scan whose median time between keys is above this was typed by a person.
    max_scanner_gap: Duration,
    last_key: Option<Duration>,
    gaps: Vec<Duration>,
}

impl TypedFramer {
    pub fn new(terminator: Terminator, max_line: usize, max_scanner_gap: Duration) -> Self {
        TypedFramer {
            framer: LineFramer::with_terminator(terminator, max_line),
            max_scanner_gap,
            last_key: None,
            gaps: vec![],
        }
    }

    /// Feed text typed at `at` (any monotonic origin); returns the scans it ended.
    pub fn feed(&mut self, text: &str, at: Duration) -> Vec<Decoded> {
        let mut out = vec![];
        for c in text.chars() {
            if let Some(last) = self.last_key
                && self.framer.pending()
            {
                self.gaps.push(at.saturating_sub(last));
            }
            self.last_key = Some(at);
            let mut buf = [0u8; 4];
            let mut frames = vec![];
            self.framer
                .push(c.encode_utf8(&mut buf).as_bytes(), |f| frames.push(f));
            out.extend(frames.into_iter().map(|f| self.finish_frame(f)));
        }
        out
    }

    /// True while a scan has started and not ended.
    pub fn pending(&self) -> bool {
        self.framer.pending()
    }

    /// The time of the last key, to decide when a pause ends a scan.
    pub fn last_key(&self) -> Option<Duration> {
        self.last_key
    }

    /// End a scan that has no terminator (after a pause).
    pub fn flush(&mut self) -> Option<Decoded> {
        let f = self.framer.finish()?;
        Some(self.finish_frame(f))
    }

    fn finish_frame(&mut self, frame: Frame) -> Decoded {
        let mut gaps = std::mem::take(&mut self.gaps);
        gaps.sort();
        // A single key has no rhythm: count it as typed.
        let manual = gaps
            .get(gaps.len() / 2)
            .is_none_or(|median| *median > self.max_scanner_gap);
        Decoded { frame, manual }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str, gap_ms: u64) -> Vec<Decoded> {
        let mut f = TypedFramer::new(Terminator::Any, 4096, Duration::from_millis(35));
        let mut out = vec![];
        for (i, c) in text.chars().enumerate() {
            out.extend(f.feed(&c.to_string(), Duration::from_millis(i as u64 * gap_ms)));
        }
        out.extend(f.flush());
        out
    }

    #[test]
    fn scanner_and_person_and_several_scans() {
        let scans = typed("1A4060300003C35000019794\n1A4060300003C35000019795\n", 3);
        assert_eq!(scans.len(), 2);
        assert!(scans.iter().all(|s| !s.manual));
        let scans = typed("1A4060300003C35000019794\n", 150);
        assert!(scans[0].manual);
        // A scanner burst that has no terminator ends when flushed.
        let scans = typed("1A4060300003C35000019794", 2);
        assert_eq!(scans[0].frame.bytes, b"1A4060300003C35000019794");
        assert!(!scans[0].manual);
    }

    #[test]
    fn a_pasted_block_is_framed_line_by_line() {
        let mut f = TypedFramer::new(Terminator::Any, 4096, Duration::from_millis(35));
        let scans = f.feed("AAA\r\nBBB\r\n", Duration::ZERO);
        let texts: Vec<_> = scans.iter().map(|s| s.frame.bytes.clone()).collect();
        assert_eq!(texts, vec![b"AAA".to_vec(), b"BBB".to_vec()]);
        assert!(
            scans.iter().all(|s| !s.manual),
            "pasted at once is not typed by hand"
        );
    }
}
