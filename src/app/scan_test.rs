//! `tagtally scan-test`: print each scan as it arrives, with its source, raw bytes and
//! what the tag parser makes of it, so a site can check a new scanner in a minute.

use std::io::Write;
use std::sync::mpsc::Receiver;

use serde::Serialize;

use crate::scan::{ScanEvent, SourceEvent, StatusLevel};
use crate::tag::TagParser;

#[derive(Serialize)]
struct Line<'a> {
    source: &'a str,
    /// The raw line with non-printable bytes escaped (`\r`, `\x00`, ...).
    raw: String,
    raw_hex: String,
    len: usize,
    tag: Option<String>,
    verdict: &'static str,
    reason: Option<&'static str>,
    manual: bool,
    at: String,
}

/// Print scans and source status until every source has ended.
pub fn run(
    events: &Receiver<SourceEvent>,
    parser: &TagParser,
    out: &mut impl Write,
    json: bool,
) -> std::io::Result<()> {
    for ev in events {
        match ev {
            SourceEvent::Scan(scan) => print_scan(&scan, parser, out, json)?,
            SourceEvent::Status {
                source,
                level,
                message,
            } => {
                if json {
                    let level = match level {
                        StatusLevel::Info => "info",
                        StatusLevel::Warn => "warn",
                        StatusLevel::Error => "error",
                    };
                    serde_json::to_writer(
                        &mut *out,
                        &serde_json::json!({"status": message, "source": source, "level": level}),
                    )?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "[{source}] {message}")?;
                }
            }
        }
        out.flush()?;
    }
    Ok(())
}

fn print_scan(
    scan: &ScanEvent,
    parser: &TagParser,
    out: &mut impl Write,
    json: bool,
) -> std::io::Result<()> {
    let parsed = match scan.refused {
        Some(reason) => Err(reason),
        None if scan.len > scan.raw.len() => Err(crate::tag::NotATag::Malformed),
        None => parser.parse(&scan.raw),
    };
    let raw = escape(&scan.raw);
    let at = chrono::DateTime::<chrono::Utc>::from(scan.at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    if json {
        let line = Line {
            source: &scan.source,
            raw,
            raw_hex: scan.raw.iter().map(|b| format!("{b:02x}")).collect(),
            len: scan.len,
            tag: parsed.as_ref().ok().map(|t| t.to_string()),
            verdict: if parsed.is_ok() { "tag" } else { "not_a_tag" },
            reason: parsed.as_ref().err().map(|r| r.word()),
            manual: scan.manual,
            at,
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)
    } else {
        let what = match &parsed {
            Ok(t) => format!("TAG {t}"),
            Err(r) => format!("NOT A TAG ({})", r.word()),
        };
        let typed = if scan.manual { "  typed by hand" } else { "" };
        let cut = if scan.len > scan.raw.len() {
            format!(" (cut from {} bytes)", scan.len)
        } else {
            String::new()
        };
        writeln!(out, "[{}] \"{raw}\"{cut} -> {what}{typed}", scan.source)
    }
}

/// Bytes as text with everything non-printable escaped.
pub fn escape(raw: &[u8]) -> String {
    raw.iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}
