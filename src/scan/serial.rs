//! Serial scanners (USB-CDC `/dev/ttyACM*`, RS-232 `/dev/ttyUSB*`) through `serialport`.
//!
//! The port is opened by path (a `/dev/serial/by-id/...` link survives re-plugging), read
//! with a short timeout so a pause can end a scan that has no terminator, and reopened
//! with backoff when the cable is pulled, without restarting anything.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serialport::{DataBits, Parity, SerialPort, StopBits};

use super::framing::{LineFramer, Terminator};
use super::source::{Options, ScanSource, Sink, StatusLevel, opt_terminator, opt_u32};

/// How to talk to one serial scanner.
#[derive(Clone, Debug, PartialEq)]
pub struct SerialConfig {
    pub path: PathBuf,
    pub baud: u32,
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
    pub terminator: Terminator,
    /// A pause this long ends a scan that has no terminator yet.
    pub gap: Duration,
    pub max_line: usize,
}

impl SerialConfig {
    /// From a spec's options: `baud` (9600), `data_bits` (8), `parity` (none, odd,
    /// even), `stop_bits` (1), `terminator` (any), `gap_ms` (150).
    pub fn from_options(path: PathBuf, opts: &Options, max_line: usize) -> Result<Self, String> {
        let data_bits = match opt_u32(opts, "data_bits", 8) {
            5 => DataBits::Five,
            6 => DataBits::Six,
            7 => DataBits::Seven,
            8 => DataBits::Eight,
            n => return Err(format!("data_bits={n}: use 5, 6, 7 or 8")),
        };
        let parity = match opts
            .get("parity")
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("none") | Some("n") => Parity::None,
            Some("odd") | Some("o") => Parity::Odd,
            Some("even") | Some("e") => Parity::Even,
            Some(p) => return Err(format!("parity={p}: use none, odd or even")),
        };
        let stop_bits = match opt_u32(opts, "stop_bits", 1) {
            1 => StopBits::One,
            2 => StopBits::Two,
            n => return Err(format!("stop_bits={n}: use 1 or 2")),
        };
        Ok(SerialConfig {
            path,
            baud: opt_u32(opts, "baud", 9600),
            data_bits,
            parity,
            stop_bits,
            terminator: opt_terminator(opts),
            gap: Duration::from_millis(u64::from(opt_u32(opts, "gap_ms", 150))),
            max_line,
        })
    }

    fn open(&self) -> serialport::Result<Box<dyn SerialPort>> {
        serialport::new(self.path.to_string_lossy(), self.baud)
            .data_bits(self.data_bits)
            .parity(self.parity)
            .stop_bits(self.stop_bits)
            .timeout(Duration::from_millis(50))
            .open()
    }
}

pub struct SerialSource {
    config: SerialConfig,
}

impl SerialSource {
    pub fn new(config: SerialConfig) -> Self {
        SerialSource { config }
    }
}

const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);

impl ScanSource for SerialSource {
    fn name(&self) -> String {
        format!("serial:{}", self.config.path.display())
    }

    fn run(self: Box<Self>, sink: Sink) {
        let path = self.config.path.display().to_string();
        let mut framer = LineFramer::with_terminator(self.config.terminator, self.config.max_line);
        let mut retry = RETRY_MIN;
        let mut lost = false; // told the user the scanner is gone
        let mut ever_open = false;
        while !sink.stopped() {
            let mut port = match self.config.open() {
                Ok(p) => p,
                Err(e) => {
                    if !lost {
                        let msg = if ever_open {
                            format!("scanner on {path} is gone ({e}): waiting for it to come back")
                        } else {
                            format!(
                                "cannot open scanner on {path} ({e}): retrying until it appears"
                            )
                        };
                        sink.status(StatusLevel::Error, msg);
                        lost = true;
                    }
                    if !sink.sleep(retry) {
                        return;
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                    continue;
                }
            };
            retry = RETRY_MIN;
            let msg = if ever_open {
                format!("scanner on {path} is back")
            } else {
                format!("reading scanner on {path} at {} baud", self.config.baud)
            };
            sink.status(StatusLevel::Info, msg);
            ever_open = true;
            let why = read_until_gone(&mut *port, &mut framer, &sink, self.config.gap);
            let Some(why) = why else {
                return; // stopped, or nobody listens
            };
            if let Some(f) = framer.finish() {
                // Half a scan when the cable went: answer it (it will be refused) so
                // the person rescans, rather than dropping it silently.
                sink.scan(f, false);
            }
            sink.status(
                StatusLevel::Warn,
                format!("scanner on {path} unplugged ({why}): reconnecting"),
            );
            lost = true;
        }
    }
}

/// Read until the port fails; returns why, or `None` when asked to stop.
fn read_until_gone(
    port: &mut dyn SerialPort,
    framer: &mut LineFramer,
    sink: &Sink,
    gap: Duration,
) -> Option<String> {
    let mut buf = [0u8; 4096];
    let mut last_byte = Instant::now();
    loop {
        if sink.stopped() {
            return None;
        }
        match port.read(&mut buf) {
            Ok(0) => return Some("end of file".into()),
            Ok(n) => {
                last_byte = Instant::now();
                let mut frames = vec![];
                framer.push(&buf[..n], |f| frames.push(f));
                for f in frames {
                    if !sink.scan(f, false) {
                        return None;
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                if framer.pending()
                    && last_byte.elapsed() >= gap
                    && let Some(f) = framer.finish()
                    && !sink.scan(f, false)
                {
                    return None;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Some(e.to_string()),
        }
    }
}

/// Serial ports that could be scanners: `/dev/serial/by-id/*` links first (stable
/// across re-plugging), then `/dev/ttyACM*` and `/dev/ttyUSB*`, with the USB
/// vendor:product and product name from sysfs where known.
pub fn list_ports() -> Vec<PortInfo> {
    let mut out = vec![];
    if let Ok(dir) = std::fs::read_dir("/dev/serial/by-id") {
        for e in dir.flatten() {
            let link = e.path();
            let target = std::fs::canonicalize(&link).unwrap_or_else(|_| link.clone());
            out.push(port_info(link, &target));
        }
    }
    if let Ok(dir) = std::fs::read_dir("/dev") {
        let mut devs: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ttyACM") || n.starts_with("ttyUSB"))
            })
            .collect();
        devs.sort();
        for d in devs {
            if !out.iter().any(|p: &PortInfo| p.device == d) {
                out.push(port_info(d.clone(), &d));
            }
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct PortInfo {
    /// The path to open (a by-id link where there is one).
    pub path: PathBuf,
    /// The device node it points at.
    pub device: PathBuf,
    pub usb: Option<String>,
}

fn port_info(path: PathBuf, device: &std::path::Path) -> PortInfo {
    let name = device.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // /sys/class/tty/ttyACM0/device -> the USB interface; its parent holds idVendor.
    let iface = std::fs::canonicalize(format!("/sys/class/tty/{name}/device")).ok();
    let usb = iface.and_then(|i| {
        i.ancestors().find_map(|d| {
            let v = std::fs::read_to_string(d.join("idVendor")).ok()?;
            let p = std::fs::read_to_string(d.join("idProduct")).ok()?;
            let product = std::fs::read_to_string(d.join("product")).unwrap_or_default();
            Some(
                format!("{}:{} {}", v.trim(), p.trim(), product.trim())
                    .trim()
                    .to_string(),
            )
        })
    });
    PortInfo {
        path,
        device: device.to_path_buf(),
        usb,
    }
}
