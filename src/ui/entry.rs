//! Text typed into a field without any widget taking keyboard focus.
//!
//! The window's one `FocusScope` gets every key. While a field is selected (tapped: a
//! driver's name, a vehicle's plate, a rejection note, the receiver's name, a
//! supervisor's PIN), the keys are routed here instead of to the scan framer, and the
//! field shows them. A scanner does not stop typing because a form is open, so every
//! line (the keys up to Enter, Tab, or a pause) is checked when it ends: a line shaped
//! like a scan (a Metrc tag, or a Retail ID URL, as the tag parser reads it) is taken
//! back out of the field and answered as a scan; anything else stays in the field, and
//! Enter moves on (next field, or submit). A person never types 24 hex characters
//! starting with 1A4 into a name; a mistyped field is one tap on Clear away, while a
//! scan put into a name would be a scan lost.
//!
//! The values live here (Rust), keyed by field; the screens show them.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::tag::{NotATag, TagParser};

/// The fields typed into.
pub const DRIVER_NAME: &str = "driver.name";
pub const DRIVER_OL: &str = "driver.occupational_license";
pub const DRIVER_DL: &str = "driver.drivers_license";
pub const MAKE: &str = "vehicle.make";
pub const MODEL: &str = "vehicle.model";
pub const PLATE: &str = "vehicle.plate";
pub const NOTE: &str = "note";
pub const RECEIVER: &str = "receiver";
pub const PIN: &str = "pin";

/// The longest value a field keeps (a PIN: 8 digits).
const MAX_FIELD: usize = 60;

#[derive(Default)]
struct Entry {
    active: Option<&'static str>,
    values: HashMap<&'static str, String>,
    /// The keys of the line typed so far (since the last Enter, Tab or pause).
    line: String,
    /// The active field's value when the line began.
    before: String,
    last: Option<char>,
}

thread_local! {
    static ENTRY: RefCell<Entry> = RefCell::new(Entry::default());
}

/// What a batch of typed keys did.
#[derive(Debug, Default, PartialEq)]
pub struct Fed {
    /// Lines that were scans: send them to the station.
    pub scans: Vec<String>,
    /// Enter was pressed on the field (not ending a scan).
    pub enter: bool,
}

/// Forget every field (a new app, or sign-out).
pub fn reset() {
    ENTRY.with(|e| *e.borrow_mut() = Entry::default());
}

/// The field keys go to, if any.
pub fn active() -> Option<&'static str> {
    ENTRY.with(|e| e.borrow().active)
}

/// Send keys to `field` from now on (`None`: to the scan framer again).
pub fn activate(field: Option<&'static str>) {
    ENTRY.with(|e| {
        let mut e = e.borrow_mut();
        e.active = field;
        e.line.clear();
        e.before = field
            .and_then(|f| e.values.get(f).cloned())
            .unwrap_or_default();
    });
}

pub fn value(field: &str) -> String {
    ENTRY.with(|e| e.borrow().values.get(field).cloned().unwrap_or_default())
}

pub fn set(field: &'static str, value: &str) {
    ENTRY.with(|e| {
        let mut e = e.borrow_mut();
        e.values.insert(field, value.to_string());
        if e.active == Some(field) {
            e.line.clear();
            e.before = value.to_string();
        }
    });
}

fn accepts(field: &str, c: char, len: usize) -> bool {
    if field == PIN {
        c.is_ascii_digit() && len < 8
    } else {
        !c.is_control() && len < MAX_FIELD
    }
}

/// A line shaped like a scan: the tag parser reads a tag or a Retail ID URL.
pub fn is_scan(parser: &TagParser, line: &str) -> bool {
    matches!(
        parser.parse(line.as_bytes()),
        Ok(_) | Err(NotATag::RetailId)
    )
}

/// Where the scan-shaped end of `line` starts, if it has one: a person may have typed
/// part of the field just before a scanner's line arrived ("lid crac1A4...").
fn scan_start(parser: &TagParser, line: &str) -> Option<usize> {
    line.char_indices()
        .map(|(i, _)| i)
        .find(|&i| is_scan(parser, &line[i..]))
}

/// The field's value: `before` with the typed `text` applied as keys.
fn replay(field: &str, before: &str, text: &str) -> String {
    let mut v = before.to_string();
    for c in text.chars() {
        if accepts(field, c, v.chars().count()) {
            v.push(c);
        }
    }
    v
}

/// Feed typed text to the active field (none active: nothing happens).
pub fn feed(parser: &TagParser, text: &str) -> Fed {
    let mut fed = Fed::default();
    ENTRY.with(|e| {
        let mut e = e.borrow_mut();
        let Some(field) = e.active else { return };
        for c in text.chars() {
            let last = e.last.replace(c);
            match c {
                // CR LF ends one line, not two.
                '\n' if last == Some('\r') => {}
                '\n' | '\r' | '\t' => {
                    let line = std::mem::take(&mut e.line);
                    if let Some(i) = scan_start(parser, &line) {
                        let kept = replay(field, &e.before, &line[..i]);
                        e.values.insert(field, kept);
                        fed.scans.push(line[i..].to_string());
                    } else if c != '\t' {
                        fed.enter = true;
                    }
                    e.before = e.values.get(field).cloned().unwrap_or_default();
                }
                '\u{8}' => {
                    e.line.pop();
                    let mut v = e.values.get(field).cloned().unwrap_or_default();
                    v.pop();
                    if v.len() < e.before.len() {
                        e.before = v.clone();
                    }
                    e.values.insert(field, v);
                }
                c => {
                    e.line.push(c);
                    let mut v = e.values.get(field).cloned().unwrap_or_default();
                    if accepts(field, c, v.chars().count()) {
                        v.push(c);
                        e.values.insert(field, v);
                    }
                }
            }
        }
    });
    fed
}

/// Whether a line is being typed (a pause should end it).
pub fn pending() -> bool {
    ENTRY.with(|e| !e.borrow().line.is_empty())
}

/// A pause ended the line: a scan-shaped line (a scanner that sends no Enter) is taken
/// out of the field and returned; anything else stays typed.
pub fn pause(parser: &TagParser) -> Option<String> {
    ENTRY.with(|e| {
        let mut e = e.borrow_mut();
        let field = e.active?;
        let line = std::mem::take(&mut e.line);
        if let Some(i) = scan_start(parser, &line) {
            let kept = replay(field, &e.before, &line[..i]);
            e.values.insert(field, kept.clone());
            e.before = kept;
            Some(line[i..].to_string())
        } else {
            e.before = e.values.get(field).cloned().unwrap_or_default();
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> TagParser {
        crate::config::Settings::default().tags.parser()
    }

    #[test]
    fn typed_text_goes_to_the_field_and_a_scan_is_taken_back_out() {
        reset();
        activate(Some(DRIVER_NAME));
        let p = parser();
        assert_eq!(feed(&p, "Dee"), Fed::default());
        // The scanner's line arrives in the middle of a word: still a scan.
        let fed = feed(&p, "1A4060300003C35000010005\r\n");
        assert_eq!(fed.scans, vec!["1A4060300003C35000010005".to_string()]);
        assert!(!fed.enter);
        assert_eq!(value(DRIVER_NAME), "Dee");
        let fed = feed(&p, " Driver\n");
        assert!(fed.enter && fed.scans.is_empty());
        assert_eq!(value(DRIVER_NAME), "Dee Driver");
        feed(&p, "\u{8}\u{8}");
        assert_eq!(value(DRIVER_NAME), "Dee Driv");
    }

    #[test]
    fn a_pin_keeps_digits_only_and_a_scan_without_enter_ends_on_a_pause() {
        reset();
        activate(Some(PIN));
        let p = parser();
        feed(&p, "12");
        feed(&p, "1a4060300003c35000010005");
        assert_eq!(pause(&p), Some("1a4060300003c35000010005".to_string()));
        assert_eq!(value(PIN), "12");
        feed(&p, "34");
        assert_eq!(pause(&p), None);
        assert_eq!(value(PIN), "1234");
        feed(&p, "567890");
        assert_eq!(value(PIN), "12345678", "a PIN is at most 8 digits");
    }
}
