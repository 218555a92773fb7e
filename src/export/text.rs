//! Text for the export PDFs: three of the standard 14 PDF fonts (Helvetica,
//! Helvetica-Bold, Courier) with WinAnsi encoding, so nothing is embedded and every
//! viewer shows the same thing, and the measures that keep text inside its box.
//!
//! WinAnsi covers Latin-1 and a few typographic marks only: any other character (CJK,
//! emoji, ...) is printed as `?`, and zero-width characters, variation selectors and
//! combining accents are dropped. Widths come from the fonts' published metrics
//! (Adobe AFM) so a cell is truncated with an ellipsis before it can overrun its
//! column.

use pdf_writer::Name;

/// WinAnsi "…".
pub(super) const ELLIPSIS: u8 = 0x85;

/// One of the three standard fonts the documents use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    pub(super) const ALL: [Font; 3] = [Font::Regular, Font::Bold, Font::Mono];

    pub(super) fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
            Font::Mono => Name(b"F3"),
        }
    }

    pub(super) fn base(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"Helvetica"),
            Font::Bold => Name(b"Helvetica-Bold"),
            Font::Mono => Name(b"Courier"),
        }
    }

    /// Advance width of a WinAnsi byte in thousandths of the font size.
    fn advance(self, byte: u8) -> u16 {
        match (self, byte) {
            (Font::Mono, _) => 600,
            (Font::Regular, 32..=126) => HELVETICA[usize::from(byte - 32)],
            (Font::Bold, 32..=126) => HELVETICA_BOLD[usize::from(byte - 32)],
            // Outside ASCII: the real width or a little more, never less.
            (_, 0x85 | 0x89 | 0x8C | 0x97 | 0x99 | 0xC6) => 1000,
            (_, 0x9C | 0xE6) => 944,
            (_, 0xBC..=0xBE) => 834,
            _ => 778,
        }
    }
}

/// Helvetica advance widths for ASCII 32..=126 (Adobe AFM, WinAnsi quotesingle/grave).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // sp-/
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0-?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @-O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P-_
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `-o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p-~
];

/// Helvetica-Bold advance widths for ASCII 32..=126 (Adobe AFM).
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // sp-/
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0-?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @-O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P-_
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `-o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p-~
];

/// `text` in WinAnsi bytes: Latin-1 as is, the typographic marks WinAnsi has in
/// 0x80..=0x9F, `?` for anything else; control characters become spaces and
/// zero-width characters, variation selectors and combining marks are dropped.
pub fn winansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let b = match c {
            ' '..='~' => c as u8,
            '\u{A0}'..='\u{FF}' if c != '\u{AD}' => c as u8,
            '\u{AD}' => b'-',
            c if c.is_control() => b' ',
            '\u{200B}'..='\u{200F}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{0300}'..='\u{036F}'
            | '\u{1F3FB}'..='\u{1F3FF}'
            | '\u{E0020}'..='\u{E007F}' => continue,
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => b'?',
        };
        out.push(b);
    }
    out
}

/// Width of WinAnsi `bytes` in `font` at `size`, points.
pub fn width(font: Font, size: f32, bytes: &[u8]) -> f32 {
    let units: u32 = bytes.iter().map(|&b| u32::from(font.advance(b))).sum();
    units as f32 * size / 1000.0
}

/// `bytes` cut to fit `max` points, ending in "…" when cut.
pub fn fit(font: Font, size: f32, bytes: &[u8], max: f32) -> Vec<u8> {
    if width(font, size, bytes) <= max {
        return bytes.to_vec();
    }
    let room = max - width(font, size, &[ELLIPSIS]);
    let mut used = 0.0;
    let mut out = Vec::new();
    for &b in bytes {
        let w = width(font, size, &[b]);
        if used + w > room {
            break;
        }
        used += w;
        out.push(b);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    if room > 0.0 {
        out.push(ELLIPSIS);
    }
    out
}

/// `text` broken into lines of at most `max` points at spaces (a longer word is split),
/// at most `max_lines` lines (the last cut with "…"). Always at least one line.
pub fn wrap(font: Font, size: f32, text: &str, max: f32, max_lines: usize) -> Vec<Vec<u8>> {
    let bytes = winansi(text);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in bytes.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(font, size, &candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone, split where it must be.
        for &b in word {
            line.push(b);
            if width(font, size, &line) > max && line.len() > 1 {
                let last = line.pop().unwrap_or(b' ');
                lines.push(std::mem::replace(&mut line, vec![last]));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines.max(1) {
        lines.truncate(max_lines.max(1));
        if let Some(last) = lines.last_mut() {
            last.extend_from_slice(b" ");
            last.push(ELLIPSIS);
            *last = fit(font, size, last, max);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winansi_keeps_latin1_maps_marks_and_replaces_the_rest() {
        let cases: [(&str, &[u8]); 8] = [
            ("Tag 1A4", b"Tag 1A4"),
            ("Café Niño", b"Caf\xE9 Ni\xF1o"),
            ("“Gelato” – 3.5 g …", b"\x93Gelato\x94 \x96 3.5 g \x85"),
            ("€5 ™", b"\x805 \x99"),
            ("line\nbreak\ttab", b"line break tab"),
            ("🔥 Fire OG 🔥", b"? Fire OG ?"),
            // A variation selector and a skin tone are dropped, not doubled into "??".
            ("❤\u{FE0F} 👍\u{1F3FD}", b"? ?"),
            ("草莓", b"??"),
        ];
        for (text, want) in cases {
            assert_eq!(winansi(text), want, "{text}");
        }
    }

    #[test]
    fn fit_cuts_with_an_ellipsis_only_when_needed() {
        let tag = winansi("1A4FF0100000000000000001");
        // Courier: 24 x 600 / 1000 x 8 = 115.2 points.
        assert_eq!(width(Font::Mono, 8.0, &tag), 115.2);
        assert_eq!(fit(Font::Mono, 8.0, &tag, 116.0), tag);
        let cut = fit(Font::Mono, 8.0, &tag, 60.0);
        assert_eq!(cut.last(), Some(&ELLIPSIS));
        assert!(width(Font::Mono, 8.0, &cut) <= 60.0);
        let long = winansi(&"Blue Dream Live Resin Cartridge ".repeat(10));
        for font in Font::ALL {
            for max in [0.0, 3.0, 20.0, 150.0] {
                let cut = fit(font, 8.0, &long, max);
                assert!(width(font, 8.0, &cut) <= max, "{font:?} {max}");
            }
        }
        assert!(fit(Font::Regular, 8.0, b"", 10.0).is_empty());
    }

    #[test]
    fn wrap_breaks_at_spaces_splits_long_words_and_caps_lines() {
        let lines = wrap(Font::Regular, 9.0, "one two three four", 60.0, 10);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(width(Font::Regular, 9.0, l) <= 60.0);
        }
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, b"one two three four");
        let word = "X".repeat(300);
        let lines = wrap(Font::Bold, 9.0, &word, 100.0, 100);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat().len(), 300);
        let capped = wrap(Font::Regular, 9.0, &"word ".repeat(500), 100.0, 3);
        assert_eq!(capped.len(), 3);
        assert_eq!(capped[2].last(), Some(&ELLIPSIS));
        assert_eq!(
            wrap(Font::Regular, 9.0, "", 100.0, 3),
            vec![Vec::<u8>::new()]
        );
        assert_eq!(wrap(Font::Regular, 9.0, "x", 0.0, 3).len(), 1);
    }
}
