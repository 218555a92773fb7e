//! Metrc package tags: normalise what a scanner sent, then decide whether it is a tag.
//!
//! A scanner line can carry an AIM symbology identifier (`]C0`, `]Q1`, `]d2`), a
//! configured prefix or suffix, CR/LF/TAB terminators, stray spaces and lower case.
//! [`TagParser::parse`] strips all of that and answers either a [`MetrcTag`] or the
//! reason the input is not one. It never panics, whatever the bytes.
//!
//! ```
//! use tagtally::tag::{NotATag, TagParser};
//!
//! let parser = TagParser::default();
//! let tag = parser.parse(b"]C01a4060300003c35000019794\r\n").unwrap();
//! assert_eq!(tag.as_str(), "1A4060300003C35000019794");
//! assert_eq!(parser.parse(b"https://id.1a4.com/abc"), Err(NotATag::RetailId));
//! assert_eq!(parser.parse(b"012345678905"), Err(NotATag::OtherBarcode));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// Length of every Metrc package tag.
pub const TAG_LEN: usize = 24;

/// A validated, upper-case, 24-character Metrc package tag.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MetrcTag(String);

impl MetrcTag {
    /// Accepts a tag in the lenient shape `[0-9A-Z]{24}` after upper-casing; use
    /// [`TagParser`] to apply the site's strictness and to strip scanner framing.
    pub fn new(s: &str) -> Result<Self, NotATag> {
        let up = s.trim().to_ascii_uppercase();
        if is_lenient_shape(&up) {
            Ok(MetrcTag(up))
        } else {
            Err(NotATag::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last `n` characters, which floor staff read off the label.
    pub fn tail(&self, n: usize) -> &str {
        &self.0[TAG_LEN.saturating_sub(n)..]
    }

    /// The tag as people read it off a label: the first 18 characters, the last six.
    pub fn head_and_six(&self) -> (&str, &str) {
        self.0.split_at(TAG_LEN - 6)
    }

    /// True if the tag has the shape of every real tag seen: `1A4` + 21 hex digits.
    pub fn is_strict(&self) -> bool {
        is_strict_shape(&self.0)
    }
}

impl fmt::Display for MetrcTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MetrcTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetrcTag({})", self.0)
    }
}

impl TryFrom<String> for MetrcTag {
    type Error = NotATag;
    fn try_from(s: String) -> Result<Self, NotATag> {
        MetrcTag::new(&s)
    }
}

impl From<MetrcTag> for String {
    fn from(t: MetrcTag) -> String {
        t.0
    }
}

/// Why a scanned line is not a package tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotATag {
    /// Wrong length or characters, empty, or not text at all.
    Malformed,
    /// A Metrc Retail ID QR code (a URL on `1a4.com`): a consumer label, not a package tag.
    RetailId,
    /// A UPC/EAN/GTIN-shaped number: a product barcode, not a package tag.
    OtherBarcode,
}

impl fmt::Display for NotATag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotATag::Malformed => "not a 24-character Metrc tag",
            NotATag::RetailId => "a Metrc Retail ID URL, not a package tag",
            NotATag::OtherBarcode => "a UPC/EAN product barcode, not a package tag",
        })
    }
}

impl NotATag {
    pub fn word(self) -> &'static str {
        match self {
            NotATag::Malformed => "malformed",
            NotATag::RetailId => "retail_id",
            NotATag::OtherBarcode => "other_barcode",
        }
    }
}

/// How strictly a tag is checked, and which site framing to strip.
#[derive(Clone, Debug, Default)]
pub struct TagParser {
    /// Accept `[0-9A-Z]{24}` instead of only `1A4` + 21 hex.
    pub lenient: bool,
    /// A prefix the site programmed into its scanners, stripped if present.
    pub prefix: String,
    /// A suffix the site programmed into its scanners, stripped if present.
    pub suffix: String,
}

impl TagParser {
    /// Normalise one scanner line and classify it.
    pub fn parse(&self, raw: &[u8]) -> Result<MetrcTag, NotATag> {
        let Ok(text) = std::str::from_utf8(raw) else {
            return Err(NotATag::Malformed);
        };
        let cleaned = self.normalise(text);
        if is_retail_id(&cleaned) {
            return Err(NotATag::RetailId);
        }
        let ok = if self.lenient {
            is_lenient_shape(&cleaned)
        } else {
            is_strict_shape(&cleaned)
        };
        if ok {
            return Ok(MetrcTag(cleaned));
        }
        if is_gtin_shape(&cleaned) {
            return Err(NotATag::OtherBarcode);
        }
        Err(NotATag::Malformed)
    }

    /// Strip whitespace and control characters, the AIM identifier and the site's
    /// prefix/suffix, and upper-case. Idempotent: `normalise(normalise(x)) == normalise(x)`.
    pub fn normalise(&self, text: &str) -> String {
        let mut s: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect();
        let prefix = strip_ws(&self.prefix);
        let suffix = strip_ws(&self.suffix);
        // Strip repeatedly until nothing changes, so the result is a fixed point.
        loop {
            let before = s.len();
            s = strip_aim(&s).to_string();
            if !prefix.is_empty() && starts_with_ignore_ascii_case(&s, &prefix) {
                s.drain(..prefix.len());
            }
            if !suffix.is_empty() && ends_with_ignore_ascii_case(&s, &suffix) {
                s.truncate(s.len() - suffix.len());
            }
            if s.len() == before {
                break;
            }
        }
        s.make_ascii_uppercase();
        s
    }
}

fn starts_with_ignore_ascii_case(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
}

fn ends_with_ignore_ascii_case(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.as_bytes()[s.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
}

fn strip_ws(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect()
}

/// An AIM symbology identifier is `]` + a letter + one character (ISO/IEC 15424).
fn strip_aim(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() {
        &s[3..]
    } else {
        s
    }
}

fn is_strict_shape(s: &str) -> bool {
    s.len() == TAG_LEN
        && s.starts_with("1A4")
        && s.bytes()
            .skip(3)
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn is_lenient_shape(s: &str) -> bool {
    s.len() == TAG_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Metrc Retail ID labels are QR codes holding a URL on `1a4.com` (e.g. `id.1a4.com/...`).
fn is_retail_id(upper: &str) -> bool {
    let rest = upper
        .strip_prefix("HTTPS://")
        .or_else(|| upper.strip_prefix("HTTP://"))
        .unwrap_or(upper);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host == "1A4.COM" || host.ends_with(".1A4.COM")
}

/// EAN-8, UPC-A (12), EAN-13 and GTIN-14 are all-digit codes of these lengths.
fn is_gtin_shape(s: &str) -> bool {
    matches!(s.len(), 8 | 12 | 13 | 14) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> TagParser {
        TagParser::default()
    }

    #[test]
    fn table() {
        let p = strict();
        let ok = "1A4060300003C35000019794";
        let cases: &[(&[u8], Result<&str, NotATag>)] = &[
            (b"1A4060300003C35000019794", Ok(ok)),
            (b"1a4060300003c35000019794\r\n", Ok(ok)),
            (b"]C01A4060300003C35000019794\r", Ok(ok)),
            (b"  1A4060300003C35000019794\t", Ok(ok)),
            (b"]c0 1a4060300003c35000019794 \n", Ok(ok)),
            (b"1A4FF0100000022000000123", Ok("1A4FF0100000022000000123")),
            (b"ABCDEF012345670000010042", Err(NotATag::Malformed)),
            (b"1A4060300003C3500001979", Err(NotATag::Malformed)),
            (b"1A4060300003C350000197944", Err(NotATag::Malformed)),
            (b"1A4060300003G35000019794", Err(NotATag::Malformed)),
            (b"", Err(NotATag::Malformed)),
            (b"\r\n", Err(NotATag::Malformed)),
            (b"\xff\xfe1A4060300003C35000019794", Err(NotATag::Malformed)),
            (b"https://id.1a4.com/ABC123XYZ", Err(NotATag::RetailId)),
            (b"]Q1HTTPS://ID.1A4.COM/Q/ABC", Err(NotATag::RetailId)),
            (b"id.1a4.com/abc", Err(NotATag::RetailId)),
            (
                b"https://example.com/1A4060300003C35000019794",
                Err(NotATag::Malformed),
            ),
            (b"012345678905", Err(NotATag::OtherBarcode)),
            (b"]E04006381333931", Err(NotATag::OtherBarcode)),
            (b"96385074", Err(NotATag::OtherBarcode)),
            (b"12345678901234", Err(NotATag::OtherBarcode)),
            (b"123456789012345678901234", Err(NotATag::Malformed)),
        ];
        for (raw, want) in cases {
            let got = p.parse(raw).map(|t| t.0);
            let want = want.map(str::to_string);
            assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn lenient_accepts_placeholders_and_numbers_of_24() {
        let p = TagParser {
            lenient: true,
            ..TagParser::default()
        };
        assert_eq!(
            p.parse(b"abcdef012345670000010042").unwrap().as_str(),
            "ABCDEF012345670000010042"
        );
        assert!(p.parse(b"123456789012345678901234").is_ok());
        assert_eq!(p.parse(b"012345678905"), Err(NotATag::OtherBarcode));
        assert_eq!(
            p.parse(b"ABCDEF01234567000001004-"),
            Err(NotATag::Malformed)
        );
    }

    #[test]
    fn site_prefix_and_suffix_are_stripped() {
        let p = TagParser {
            lenient: false,
            prefix: "#".into(),
            suffix: "!!".into(),
        };
        assert_eq!(
            p.parse(b"#1A4060300003C35000019794!!\r\n")
                .unwrap()
                .as_str(),
            "1A4060300003C35000019794"
        );
        // Without the framing, the tag still parses.
        assert!(p.parse(b"1A4060300003C35000019794").is_ok());
    }

    #[test]
    fn tail_shows_last_digits() {
        let t = MetrcTag::new("1A4060300003C35000019794").unwrap();
        assert_eq!(t.tail(5), "19794");
        assert!(t.is_strict());
    }
}
