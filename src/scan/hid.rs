//! USB HID keyboard-wedge scanners read straight from evdev (`/dev/input/event*`).
//!
//! The device is grabbed exclusively, so its keystrokes never reach another window.
//! [`KeyDecoder`] turns key events into characters (US layout, shift and caps lock
//! handled) and frames them like every other source; the time between keys tells a
//! scanner (a few milliseconds a key) from a person typing (a hundred or more).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use evdev::{Device, EventType, InputEvent, KeyCode};

use super::framing::Terminator;
use super::source::{Options, ScanSource, Sink, StatusLevel, opt_terminator, opt_u32};
use super::wedge::{Decoded, TypedFramer};

/// Keystrokes to framed scans, with the scanner-or-person call per scan.
#[derive(Debug)]
pub struct KeyDecoder {
    typed: TypedFramer,
    shift: u8,
    caps: bool,
}

impl KeyDecoder {
    pub fn new(terminator: Terminator, max_line: usize, max_scanner_gap: Duration) -> Self {
        KeyDecoder {
            typed: TypedFramer::new(terminator, max_line, max_scanner_gap),
            shift: 0,
            caps: false,
        }
    }

    /// Feed one evdev event with its time (any monotonic origin). Returns a scan when
    /// this key ended one.
    pub fn feed(&mut self, ev: &InputEvent, at: Duration) -> Option<Decoded> {
        if ev.event_type() != EventType::KEY {
            return None;
        }
        let key = KeyCode(ev.code());
        let pressed = ev.value() != 0; // 1 press, 2 autorepeat, 0 release
        if key == KeyCode::KEY_LEFTSHIFT || key == KeyCode::KEY_RIGHTSHIFT {
            let bit = if key == KeyCode::KEY_LEFTSHIFT { 1 } else { 2 };
            if pressed {
                self.shift |= bit;
            } else {
                self.shift &= !bit;
            }
            return None;
        }
        if ev.value() != 1 {
            return None;
        }
        if key == KeyCode::KEY_CAPSLOCK {
            self.caps = !self.caps;
            return None;
        }
        let c = key_char(key, self.shift != 0, self.caps)?;
        self.typed.feed(c.encode_utf8(&mut [0u8; 4]), at).pop()
    }

    /// End a scan that has no terminator (after a pause).
    pub fn flush(&mut self) -> Option<Decoded> {
        self.typed.flush()
    }

    pub fn pending(&self) -> bool {
        self.typed.pending()
    }
}

/// A key on a US layout, as the character it types.
pub fn key_char(key: KeyCode, shift: bool, caps: bool) -> Option<char> {
    const LETTERS: [(KeyCode, char); 26] = [
        (KeyCode::KEY_A, 'a'),
        (KeyCode::KEY_B, 'b'),
        (KeyCode::KEY_C, 'c'),
        (KeyCode::KEY_D, 'd'),
        (KeyCode::KEY_E, 'e'),
        (KeyCode::KEY_F, 'f'),
        (KeyCode::KEY_G, 'g'),
        (KeyCode::KEY_H, 'h'),
        (KeyCode::KEY_I, 'i'),
        (KeyCode::KEY_J, 'j'),
        (KeyCode::KEY_K, 'k'),
        (KeyCode::KEY_L, 'l'),
        (KeyCode::KEY_M, 'm'),
        (KeyCode::KEY_N, 'n'),
        (KeyCode::KEY_O, 'o'),
        (KeyCode::KEY_P, 'p'),
        (KeyCode::KEY_Q, 'q'),
        (KeyCode::KEY_R, 'r'),
        (KeyCode::KEY_S, 's'),
        (KeyCode::KEY_T, 't'),
        (KeyCode::KEY_U, 'u'),
        (KeyCode::KEY_V, 'v'),
        (KeyCode::KEY_W, 'w'),
        (KeyCode::KEY_X, 'x'),
        (KeyCode::KEY_Y, 'y'),
        (KeyCode::KEY_Z, 'z'),
    ];
    if let Some((_, c)) = LETTERS.iter().find(|(k, _)| *k == key) {
        return Some(if shift ^ caps {
            c.to_ascii_uppercase()
        } else {
            *c
        });
    }
    const KEYS: [(KeyCode, char, char); 36] = [
        (KeyCode::KEY_1, '1', '!'),
        (KeyCode::KEY_2, '2', '@'),
        (KeyCode::KEY_3, '3', '#'),
        (KeyCode::KEY_4, '4', '$'),
        (KeyCode::KEY_5, '5', '%'),
        (KeyCode::KEY_6, '6', '^'),
        (KeyCode::KEY_7, '7', '&'),
        (KeyCode::KEY_8, '8', '*'),
        (KeyCode::KEY_9, '9', '('),
        (KeyCode::KEY_0, '0', ')'),
        (KeyCode::KEY_MINUS, '-', '_'),
        (KeyCode::KEY_EQUAL, '=', '+'),
        (KeyCode::KEY_LEFTBRACE, '[', '{'),
        (KeyCode::KEY_RIGHTBRACE, ']', '}'),
        (KeyCode::KEY_SEMICOLON, ';', ':'),
        (KeyCode::KEY_APOSTROPHE, '\'', '"'),
        (KeyCode::KEY_GRAVE, '`', '~'),
        (KeyCode::KEY_BACKSLASH, '\\', '|'),
        (KeyCode::KEY_COMMA, ',', '<'),
        (KeyCode::KEY_DOT, '.', '>'),
        (KeyCode::KEY_SLASH, '/', '?'),
        (KeyCode::KEY_SPACE, ' ', ' '),
        (KeyCode::KEY_ENTER, '\r', '\r'),
        (KeyCode::KEY_KPENTER, '\r', '\r'),
        (KeyCode::KEY_TAB, '\t', '\t'),
        (KeyCode::KEY_KP0, '0', '0'),
        (KeyCode::KEY_KP1, '1', '1'),
        (KeyCode::KEY_KP2, '2', '2'),
        (KeyCode::KEY_KP3, '3', '3'),
        (KeyCode::KEY_KP4, '4', '4'),
        (KeyCode::KEY_KP5, '5', '5'),
        (KeyCode::KEY_KP6, '6', '6'),
        (KeyCode::KEY_KP7, '7', '7'),
        (KeyCode::KEY_KP8, '8', '8'),
        (KeyCode::KEY_KP9, '9', '9'),
        (KeyCode::KEY_KPMINUS, '-', '-'),
    ];
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, plain, shifted)| if shift { *shifted } else { *plain })
}

/// How to find and read one HID scanner.
#[derive(Clone, Debug, PartialEq)]
pub struct HidConfig {
    /// `/dev/input/eventN`, `VID:PID` (hex) or `name=TEXT` (part of the device name).
    pub target: String,
    pub terminator: Terminator,
    pub gap: Duration,
    pub max_scanner_gap: Duration,
    /// Grab the device exclusively (default true).
    pub grab: bool,
    pub max_line: usize,
}

impl HidConfig {
    /// From a spec's options: `terminator` (any), `gap_ms` (100), `max_human_ms`
    /// (the longest median key gap still counted as a scanner, 35), `grab` (true).
    pub fn from_options(target: &str, opts: &Options, max_line: usize) -> Self {
        HidConfig {
            target: target.to_string(),
            terminator: opt_terminator(opts),
            gap: Duration::from_millis(u64::from(opt_u32(opts, "gap_ms", 100))),
            max_scanner_gap: Duration::from_millis(u64::from(opt_u32(opts, "max_human_ms", 35))),
            grab: opts.get("grab").is_none_or(|v| v != "false" && v != "0"),
            max_line,
        }
    }
}

/// An input device as `tagtally scanners` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct InputInfo {
    pub path: PathBuf,
    pub name: String,
    pub vendor: u16,
    pub product: u16,
    /// Has Enter and digit keys but no full set of letters and modifiers like a keyboard
    /// usually has. A guess: wedge scanners present themselves as keyboards.
    pub looks_like_scanner: bool,
}

/// Input devices with keys.
pub fn list_inputs() -> Vec<InputInfo> {
    let mut out: Vec<InputInfo> = evdev::enumerate()
        .filter_map(|(path, dev)| {
            let keys = dev.supported_keys()?;
            if !keys.contains(KeyCode::KEY_ENTER) || !keys.contains(KeyCode::KEY_1) {
                return None;
            }
            let id = dev.input_id();
            let name = dev.name().unwrap_or("").to_string();
            let lower = name.to_lowercase();
            Some(InputInfo {
                path,
                looks_like_scanner: [
                    "scan",
                    "barcode",
                    "honeywell",
                    "zebra",
                    "symbol",
                    "datalogic",
                ]
                .iter()
                .any(|w| lower.contains(w)),
                name,
                vendor: id.vendor(),
                product: id.product(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Does the device at `path` with this id and name match the target?
pub fn matches(target: &str, path: &Path, vendor: u16, product: u16, name: &str) -> bool {
    if let Some(n) = target.strip_prefix("name=") {
        return name.to_lowercase().contains(&n.to_lowercase());
    }
    if target.starts_with('/') {
        return path == Path::new(target);
    }
    match target.split_once(':') {
        Some((v, p)) => {
            u16::from_str_radix(v, 16).ok() == Some(vendor)
                && u16::from_str_radix(p, 16).ok() == Some(product)
        }
        None => false,
    }
}

fn open(target: &str) -> Result<(PathBuf, Device), String> {
    if target.starts_with('/') {
        let d = Device::open(target).map_err(|e| format!("cannot open {target}: {e}"))?;
        return Ok((PathBuf::from(target), d));
    }
    evdev::enumerate()
        .find(|(path, d)| {
            let id = d.input_id();
            matches(target, path, id.vendor(), id.product(), d.name().unwrap_or(""))
        })
        .ok_or_else(|| {
            format!("no input device matches {target:?} (see `tagtally scanners`; is the user in the input group?)")
        })
}

pub struct HidSource {
    config: HidConfig,
}

impl HidSource {
    pub fn new(config: HidConfig) -> Self {
        HidSource { config }
    }
}

impl ScanSource for HidSource {
    fn name(&self) -> String {
        format!("hid:{}", self.config.target)
    }

    fn run(self: Box<Self>, sink: Sink) {
        let c = &self.config;
        let mut decoder = KeyDecoder::new(c.terminator, c.max_line, c.max_scanner_gap);
        let mut lost = false;
        while !sink.stopped() {
            let (path, mut dev) = match open(&c.target) {
                Ok(d) => d,
                Err(e) => {
                    if !lost {
                        sink.status(StatusLevel::Error, format!("{e}: retrying"));
                        lost = true;
                    }
                    if !sink.sleep(Duration::from_secs(1)) {
                        return;
                    }
                    continue;
                }
            };
            if c.grab
                && let Err(e) = dev.grab()
            {
                sink.status(
                    StatusLevel::Error,
                    format!(
                        "cannot grab {}: {e} (another program holds it?)",
                        path.display()
                    ),
                );
                if !sink.sleep(Duration::from_secs(1)) {
                    return;
                }
                continue;
            }
            if let Err(e) = dev.set_nonblocking(true) {
                sink.status(StatusLevel::Error, format!("{}: {e}", path.display()));
                return;
            }
            sink.status(
                StatusLevel::Info,
                format!(
                    "reading {} ({}){}",
                    path.display(),
                    dev.name().unwrap_or("?"),
                    if c.grab { ", grabbed" } else { "" }
                ),
            );
            let origin = Instant::now();
            let mut last = Instant::now();
            let why = loop {
                if sink.stopped() {
                    return;
                }
                match dev.fetch_events() {
                    Ok(events) => {
                        let events: Vec<InputEvent> = events.collect();
                        for ev in events {
                            last = Instant::now();
                            let at = event_time(&ev).unwrap_or_else(|| origin.elapsed());
                            if let Some(d) = decoder.feed(&ev, at)
                                && !sink.scan(d.frame, d.manual)
                            {
                                return;
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if decoder.pending()
                            && last.elapsed() >= c.gap
                            && let Some(d) = decoder.flush()
                            && !sink.scan(d.frame, d.manual)
                        {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => break e,
                }
            };
            if let Some(d) = decoder.flush() {
                sink.scan(d.frame, d.manual);
            }
            sink.status(
                StatusLevel::Warn,
                format!("scanner {} unplugged ({why}): reconnecting", path.display()),
            );
            lost = true;
        }
    }
}

fn event_time(ev: &InputEvent) -> Option<Duration> {
    ev.timestamp().duration_since(SystemTime::UNIX_EPOCH).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, value: i32) -> InputEvent {
        InputEvent::new(EventType::KEY.0, code.0, value)
    }

    /// Key events typing `text` (US layout), `gap` apart, press and release each.
    fn typing(text: &str, gap: Duration) -> Vec<(InputEvent, Duration)> {
        let mut out = vec![];
        let mut t = Duration::from_secs(100);
        for ch in text.chars() {
            let (code, shift) = char_key(ch);
            if shift {
                out.push((key(KeyCode::KEY_LEFTSHIFT, 1), t));
            }
            out.push((key(code, 1), t));
            out.push((key(code, 0), t + Duration::from_micros(300)));
            if shift {
                out.push((
                    key(KeyCode::KEY_LEFTSHIFT, 0),
                    t + Duration::from_micros(400),
                ));
            }
            t += gap;
        }
        out
    }

    fn char_key(ch: char) -> (KeyCode, bool) {
        for code in 0..=255u16 {
            let k = KeyCode(code);
            if key_char(k, false, false) == Some(ch) {
                return (k, false);
            }
            if key_char(k, true, false) == Some(ch) {
                return (k, true);
            }
        }
        panic!("no key types {ch:?}")
    }

    fn decode(events: &[(InputEvent, Duration)]) -> Vec<Decoded> {
        let mut d = KeyDecoder::new(Terminator::Any, 4096, Duration::from_millis(35));
        let mut out: Vec<Decoded> = events.iter().filter_map(|(e, t)| d.feed(e, *t)).collect();
        out.extend(d.flush());
        out
    }

    fn text(d: &Decoded) -> String {
        String::from_utf8(d.frame.bytes.clone()).unwrap()
    }

    #[test]
    fn a_scanner_burst_with_aim_prefix_and_enter() {
        let scans = decode(&typing(
            "]C01A4060300003C35000019794\r",
            Duration::from_millis(2),
        ));
        assert_eq!(scans.len(), 1);
        assert_eq!(text(&scans[0]), "]C01A4060300003C35000019794");
        assert!(!scans[0].manual);
    }

    #[test]
    fn a_person_typing_is_told_apart() {
        let scans = decode(&typing(
            "1a4060300003c35000019794\r",
            Duration::from_millis(140),
        ));
        assert_eq!(text(&scans[0]), "1a4060300003c35000019794");
        assert!(scans[0].manual);
    }

    #[test]
    fn shift_caps_and_symbols() {
        let mut events = typing("ab", Duration::from_millis(1));
        events.push((key(KeyCode::KEY_CAPSLOCK, 1), Duration::from_secs(101)));
        events.extend(typing("cD!~?\t\r", Duration::from_millis(1)));
        let scans = decode(&events);
        assert_eq!(text(&scans[0]), "abCd!~?\t");
    }

    #[test]
    fn repeats_releases_and_other_events_type_nothing() {
        let events = vec![
            (key(KeyCode::KEY_A, 1), Duration::from_millis(1)),
            (key(KeyCode::KEY_A, 2), Duration::from_millis(2)),
            (key(KeyCode::KEY_A, 0), Duration::from_millis(3)),
            (
                InputEvent::new(EventType::SYNCHRONIZATION.0, 0, 0),
                Duration::from_millis(3),
            ),
            (
                InputEvent::new(EventType::MISC.0, 4, 458756),
                Duration::from_millis(3),
            ),
            (key(KeyCode::KEY_LEFTCTRL, 1), Duration::from_millis(4)),
            (key(KeyCode::KEY_B, 1), Duration::from_millis(5)),
            (key(KeyCode::KEY_ENTER, 1), Duration::from_millis(6)),
        ];
        let scans = decode(&events);
        assert_eq!(scans.iter().map(text).collect::<Vec<_>>(), vec!["ab"]);
    }

    #[test]
    fn a_scan_without_terminator_ends_on_flush() {
        let scans = decode(&typing(
            "1A4060300003C35000019794",
            Duration::from_millis(3),
        ));
        assert_eq!(scans.len(), 1);
        assert!(!scans[0].manual);
    }

    #[test]
    fn device_matching() {
        let p = Path::new("/dev/input/event7");
        assert!(matches("0c2e:0b61", p, 0x0c2e, 0x0b61, "Honeywell Scanner"));
        assert!(matches("0C2E:0B61", p, 0x0c2e, 0x0b61, ""));
        assert!(!matches("0c2e:0b62", p, 0x0c2e, 0x0b61, ""));
        assert!(matches("name=honeywell", p, 1, 2, "Honeywell Scanner"));
        assert!(matches("/dev/input/event7", p, 1, 2, ""));
        assert!(!matches("nonsense", p, 1, 2, "x"));
    }
}
