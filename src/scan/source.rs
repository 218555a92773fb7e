//! One shape for every scanner source: a thread that sends [`SourceEvent`]s into one
//! channel, and a [`SourceSpec`] string that names a source on the command line or in
//! config (`serial:/dev/ttyACM0?baud=9600`, `hid:0c2e:0b61`, `images:DIR`, ...).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::ScanEvent;
use super::framing::{Frame, Terminator};

/// What a source reports: a scan, or a change a person should see ("unplugged:
/// reconnecting"), so scanning never silently stops.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceEvent {
    Scan(ScanEvent),
    Status {
        source: String,
        level: StatusLevel,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusLevel {
    Info,
    Warn,
    Error,
}

/// A source's end of the shared channel, and the stop flag every source polls.
#[derive(Clone)]
pub struct Sink {
    name: String,
    tx: Sender<SourceEvent>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Send one framed scan. Returns false once nobody listens any more.
    pub fn scan(&self, frame: Frame, manual: bool) -> bool {
        self.send_scan(frame, manual, None)
    }

    /// Send a read the source already knows is not a tag, with the reason.
    pub fn scan_refused(&self, frame: Frame, reason: crate::tag::NotATag) -> bool {
        self.send_scan(frame, false, Some(reason))
    }

    fn send_scan(&self, frame: Frame, manual: bool, refused: Option<crate::tag::NotATag>) -> bool {
        self.tx
            .send(SourceEvent::Scan(ScanEvent {
                source: self.name.clone(),
                raw: frame.bytes,
                len: frame.len,
                manual,
                refused,
                at: SystemTime::now(),
            }))
            .is_ok()
    }

    pub fn status(&self, level: StatusLevel, message: impl Into<String>) -> bool {
        let message = message.into();
        match level {
            StatusLevel::Info => tracing::info!(source = %self.name, "{message}"),
            StatusLevel::Warn => tracing::warn!(source = %self.name, "{message}"),
            StatusLevel::Error => tracing::error!(source = %self.name, "{message}"),
        }
        self.tx
            .send(SourceEvent::Status {
                source: self.name.clone(),
                level,
                message,
            })
            .is_ok()
    }

    /// True once the sources are asked to stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleep up to `d`, waking early when asked to stop. Returns false if stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let step = Duration::from_millis(20);
        let mut left = d;
        while !left.is_zero() {
            if self.stopped() {
                return false;
            }
            let s = left.min(step);
            std::thread::sleep(s);
            left -= s;
        }
        !self.stopped()
    }
}

/// A scanner source: runs on its own thread until its input ends or it is stopped.
pub trait ScanSource: Send {
    /// A short name for messages and events, e.g. `serial:/dev/ttyACM0`.
    fn name(&self) -> String;
    /// Read, frame and send scans until the input ends or `sink.stopped()`.
    fn run(self: Box<Self>, sink: Sink);
}

/// Running sources feeding one channel.
pub struct Sources {
    rx: Receiver<SourceEvent>,
    tx: Option<Sender<SourceEvent>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Default for Sources {
    fn default() -> Self {
        Self::new()
    }
}

impl Sources {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Sources {
            rx,
            tx: Some(tx),
            stop: Arc::new(AtomicBool::new(false)),
            threads: vec![],
        }
    }

    /// Start a source on its own thread.
    pub fn start(&mut self, source: Box<dyn ScanSource>) {
        let sink = Sink {
            name: source.name(),
            tx: self
                .tx
                .clone()
                .expect("sources are started before they are read"),
            stop: self.stop.clone(),
        };
        let name = sink.name.clone();
        let handle = std::thread::Builder::new()
            .name(format!("scan {name}"))
            .spawn(move || source.run(sink))
            .expect("a thread can be spawned");
        self.threads.push(handle);
    }

    /// The receiving end. The channel closes when every source has ended.
    pub fn events(&mut self) -> &Receiver<SourceEvent> {
        self.tx = None;
        &self.rx
    }

    /// Hand the receiving end to another thread; the sources run until [`Sources::stop`].
    pub fn take_events(&mut self) -> Receiver<SourceEvent> {
        self.tx = None;
        std::mem::replace(&mut self.rx, mpsc::channel().1)
    }

    /// Ask every source to stop and wait for their threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Sources {
    /// Dropped without [`Sources::stop`]: the sources are told to stop (they end on
    /// their own, within a read's timeout; a blocked standard input is not waited
    /// for), so nothing holds the stream's senders for ever.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A source named by one string: `KIND:TARGET?key=value&...`.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    /// Lines on standard input (`stdin`, `-`).
    Stdin,
    /// A file of scanner lines, replayed (`replay:FILE`).
    Replay { path: PathBuf, opts: Options },
    /// A serial scanner (`serial:/dev/ttyACM0?baud=9600&terminator=cr`).
    Serial { path: PathBuf, opts: Options },
    /// A USB HID keyboard-wedge scanner read from evdev (`hid:0c2e:0b61`,
    /// `hid:name=Honeywell`, `hid:/dev/input/event3`).
    Hid { target: String, opts: Options },
    /// A V4L2 camera (`camera:/dev/video0?fps=30&width=1280&height=720`).
    Camera { path: PathBuf, opts: Options },
    /// A folder of images played as camera frames (`images:DIR?fps=10`).
    Images { path: PathBuf, opts: Options },
}

/// The `?key=value&...` part of a spec, checked against what each kind knows.
pub type Options = BTreeMap<String, String>;

impl SourceSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Stdin => "stdin",
            SourceSpec::Replay { .. } => "replay",
            SourceSpec::Serial { .. } => "serial",
            SourceSpec::Hid { .. } => "hid",
            SourceSpec::Camera { .. } => "camera",
            SourceSpec::Images { .. } => "images",
        }
    }

    pub fn options(&self) -> Option<&Options> {
        match self {
            SourceSpec::Stdin => None,
            SourceSpec::Replay { opts, .. }
            | SourceSpec::Serial { opts, .. }
            | SourceSpec::Hid { opts, .. }
            | SourceSpec::Camera { opts, .. }
            | SourceSpec::Images { opts, .. } => Some(opts),
        }
    }
}

const SERIAL_KEYS: &[&str] = &[
    "baud",
    "data_bits",
    "parity",
    "stop_bits",
    "terminator",
    "gap_ms",
];
const HID_KEYS: &[&str] = &["terminator", "gap_ms", "max_human_ms", "grab"];
const CAMERA_KEYS: &[&str] = &["fps", "width", "height", "format", "hold_off_ms", "formats"];
const IMAGES_KEYS: &[&str] = &["fps", "hold_off_ms", "loop", "formats"];
const REPLAY_KEYS: &[&str] = &["delay_ms", "terminator"];

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "stdin" || s == "-" {
            return Ok(SourceSpec::Stdin);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            format!(
                "source {s:?} needs a kind: stdin, replay:FILE, serial:PORT, hid:VID:PID, camera:DEVICE or images:DIR"
            )
        })?;
        let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
        if target.is_empty() {
            return Err(format!(
                "source {s:?} names no device or file after {kind:?}"
            ));
        }
        let mut opts = Options::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("option {pair:?} in {s:?} should be key=value"))?;
            opts.insert(k.to_ascii_lowercase(), v.to_string());
        }
        // A device profile supplies options; the spec's own win.
        if let Some(name) = opts.remove("profile") {
            let p = super::profiles::profile(&name)?;
            if p.kind != kind {
                return Err(format!(
                    "profile {name} is for {} sources, not {kind}",
                    p.kind
                ));
            }
            for (k, v) in p.options {
                opts.entry(k).or_insert(v);
            }
        }
        let known: &[&str] = match kind {
            "serial" => SERIAL_KEYS,
            "hid" => HID_KEYS,
            "camera" => CAMERA_KEYS,
            "images" => IMAGES_KEYS,
            "replay" => REPLAY_KEYS,
            other => {
                return Err(format!(
                    "unknown source kind {other:?}: use stdin, replay, serial, hid, camera or images"
                ));
            }
        };
        if let Some(bad) = opts.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "{kind} sources have no option {bad:?}; they take: {}",
                known.join(", ")
            ));
        }
        let path = PathBuf::from(target);
        let spec = match kind {
            "serial" => SourceSpec::Serial { path, opts },
            "hid" => SourceSpec::Hid {
                target: target.to_string(),
                opts,
            },
            "camera" => SourceSpec::Camera { path, opts },
            "images" => SourceSpec::Images { path, opts },
            _ => SourceSpec::Replay { path, opts },
        };
        // Check typed options now, so a typo fails at start, not at the first scan.
        if let Some(o) = spec.options() {
            if let Some(t) = o.get("terminator") {
                t.parse::<Terminator>()?;
            }
            if let Some(f) = o.get("formats") {
                super::camera::parse_formats(f)?;
            }
            for (k, v) in o {
                let numeric = matches!(
                    k.as_str(),
                    "baud"
                        | "data_bits"
                        | "stop_bits"
                        | "gap_ms"
                        | "max_human_ms"
                        | "fps"
                        | "width"
                        | "height"
                        | "hold_off_ms"
                        | "delay_ms"
                );
                if numeric && v.parse::<u32>().is_err() {
                    return Err(format!("option {k}={v:?} should be a whole number"));
                }
            }
        }
        Ok(spec)
    }
}

/// Read a numeric option with a default.
pub fn opt_u32(opts: &Options, key: &str, default: u32) -> u32 {
    opts.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Read the terminator option with a default.
pub fn opt_terminator(opts: &Options) -> Terminator {
    opts.get("terminator")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("stdin".parse::<SourceSpec>(), Ok(SourceSpec::Stdin));
        let s: SourceSpec = "serial:/dev/ttyACM0?baud=9600&terminator=cr"
            .parse()
            .unwrap();
        let SourceSpec::Serial { path, opts } = &s else {
            panic!("{s:?}")
        };
        assert_eq!(path, &PathBuf::from("/dev/ttyACM0"));
        assert_eq!(opt_u32(opts, "baud", 0), 9600);
        assert_eq!(opt_terminator(opts), Terminator::Cr);
        assert_eq!(
            "hid:0c2e:0b61".parse::<SourceSpec>().unwrap(),
            SourceSpec::Hid {
                target: "0c2e:0b61".into(),
                opts: Options::new()
            }
        );
        assert_eq!(
            "images:frames?fps=5".parse::<SourceSpec>().unwrap().kind(),
            "images"
        );
        assert_eq!(
            "camera:/dev/video0?fps=30"
                .parse::<SourceSpec>()
                .unwrap()
                .kind(),
            "camera"
        );
        let s: SourceSpec = "serial:/dev/ttyUSB0?profile=generic-rs232&baud=19200"
            .parse()
            .unwrap();
        let o = s.options().unwrap();
        assert_eq!(
            (o["baud"].as_str(), o["terminator"].as_str()),
            ("19200", "crlf")
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = |s: &str| s.parse::<SourceSpec>().unwrap_err();
        assert!(e("/dev/ttyACM0").contains("needs a kind"));
        assert!(e("usb:/dev/x").contains("unknown source kind"));
        assert!(e("serial:").contains("names no device"));
        assert!(e("serial:/dev/x?bud=9600").contains("no option \"bud\""));
        assert!(e("serial:/dev/x?baud=fast").contains("whole number"));
        assert!(e("serial:/dev/x?terminator=semicolon").contains("unknown terminator"));
        assert!(e("serial:/dev/x?baud").contains("key=value"));
        assert!(e("serial:/dev/x?profile=nope").contains("no device profile"));
        assert!(e("hid:1:2?profile=generic-rs232").contains("not hid"));
    }
}
