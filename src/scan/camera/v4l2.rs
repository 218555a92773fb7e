//! V4L2 cameras through `linuxvideo` (pure Rust: no libclang at build time).
//!
//! A capture thread dequeues frames and hands the newest to a decode worker; when the
//! worker is busy a frame is dropped rather than queued, so the picture never lags.
//! A camera that vanishes mid-stream is reported and reopened.
//!
//! The device is reached through [`Capture`]: [`V4l2Capture`] on a real camera, and
//! [`FolderCapture`], a fake camera that plays a folder of images in a loop and
//! "unplugs" when the folder goes away, for tests and demos on machines without one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, TrySendError};
use std::time::{Duration, Instant};

use linuxvideo::format::{PixFormat, PixelFormat};
use linuxvideo::{BufType, BufTypes, Device};

use super::decode::{Decoder, GreyImage, load_luma_bytes};
use super::{Deduper, FrameOptions, emit_frame};
use crate::scan::source::{Options, ScanSource, Sink, StatusLevel, opt_u32};

/// A camera device: opened (again, after it vanished) by the camera source.
pub trait Capture: Send {
    /// Open the device and start streaming; the text says what streams.
    fn open(&mut self) -> Result<(Box<dyn FrameStream>, String), String>;
}

/// Frames from an open camera.
pub trait FrameStream {
    /// The next frame; `Ok(None)` for a frame the device marked bad; `Err` when the
    /// device is gone.
    fn next_frame(&mut self) -> Result<Option<Result<GreyImage, String>>, String>;
}

/// A V4L2 camera (`/dev/video*`).
pub struct V4l2Capture {
    path: PathBuf,
    width: u32,
    height: u32,
    format: Option<String>,
}

/// A fake camera: the images of a folder (PNG/JPEG, name order) over and over at
/// `fps`. Removing the folder unplugs it; putting it back plugs it in again.
pub struct FolderCapture {
    dir: PathBuf,
    fps: u32,
}

impl FolderCapture {
    pub fn new(dir: PathBuf, fps: u32) -> Self {
        FolderCapture { dir, fps }
    }
}

impl Capture for FolderCapture {
    fn open(&mut self) -> Result<(Box<dyn FrameStream>, String), String> {
        let files = super::image_files(&self.dir)
            .map_err(|e| format!("fake camera {}: {e}", self.dir.display()))?;
        if files.is_empty() {
            return Err(format!("fake camera {}: no images", self.dir.display()));
        }
        let what = format!(
            "fake camera {} ({} images)",
            self.dir.display(),
            files.len()
        );
        Ok((
            Box::new(FolderStream {
                dir: self.dir.clone(),
                files,
                next: 0,
                pace: Duration::from_micros(1_000_000 / u64::from(self.fps.max(1))),
            }),
            what,
        ))
    }
}

struct FolderStream {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    pace: Duration,
}

impl FrameStream for FolderStream {
    fn next_frame(&mut self) -> Result<Option<Result<GreyImage, String>>, String> {
        std::thread::sleep(self.pace);
        if !self.dir.is_dir() {
            return Err(format!("{} is gone", self.dir.display()));
        }
        let file = &self.files[self.next % self.files.len()];
        self.next += 1;
        Ok(Some(
            super::decode::load_luma(file).map_err(|e| e.to_string()),
        ))
    }
}

struct V4l2Stream {
    stream: linuxvideo::stream::ReadStream,
    layout: Layout,
}

impl FrameStream for V4l2Stream {
    fn next_frame(&mut self) -> Result<Option<Result<GreyImage, String>>, String> {
        let layout = self.layout;
        self.stream
            .dequeue(|buf| {
                if buf.is_error() {
                    return Ok(None);
                }
                Ok(Some(to_grey(&layout, &buf)))
            })
            .map_err(|e| e.to_string())
    }
}

impl Capture for V4l2Capture {
    fn open(&mut self) -> Result<(Box<dyn FrameStream>, String), String> {
        let (stream, layout) = self.open_device()?;
        let what = format!(
            "camera {} streaming {}x{} {:?}",
            self.path.display(),
            layout.width,
            layout.height,
            layout.format
        );
        Ok((Box::new(V4l2Stream { stream, layout }), what))
    }
}

/// A camera source: a capture thread and a decode worker.
pub struct CameraSource {
    name: String,
    capture: Box<dyn Capture>,
    frames: FrameOptions,
    decoder: Decoder,
}

impl CameraSource {
    /// A V4L2 camera. Options: `fps` (30), `width` (1280), `height` (720), `format`
    /// (GREY, YUYV or MJPG; default: the first of those the camera offers),
    /// `hold_off_ms` (1500). A path that is a folder is a [`FolderCapture`].
    pub fn new(path: PathBuf, opts: &Options, decoder: Decoder) -> Self {
        let frames = FrameOptions::from_options(opts, 30);
        let capture: Box<dyn Capture> = if path.is_dir() {
            Box::new(FolderCapture::new(path.clone(), frames.fps))
        } else {
            Box::new(V4l2Capture {
                path: path.clone(),
                width: opt_u32(opts, "width", 1280),
                height: opt_u32(opts, "height", 720),
                format: opts.get("format").map(|f| f.to_ascii_uppercase()),
            })
        };
        CameraSource {
            name: format!("camera:{}", path.display()),
            capture,
            frames,
            decoder,
        }
    }
}

impl V4l2Capture {
    fn open_device(&self) -> Result<(linuxvideo::stream::ReadStream, Layout), String> {
        let dev = Device::open(&self.path)
            .map_err(|e| format!("cannot open camera {}: {e}", self.path.display()))?;
        let offered: Vec<PixelFormat> = dev
            .formats(BufType::VIDEO_CAPTURE)
            .filter_map(|f| f.ok().map(|f| f.pixel_format()))
            .collect();
        let wanted: Vec<PixelFormat> = match &self.format {
            Some(f) => vec![fourcc(f)?],
            None => vec![fourcc("GREY")?, PixelFormat::YUYV, PixelFormat::MJPG],
        };
        let format = wanted
            .into_iter()
            .find(|w| offered.contains(w))
            .ok_or_else(|| {
                format!(
                    "camera {} offers none of GREY, YUYV, MJPG{} (it offers {offered:?})",
                    self.path.display(),
                    self.format
                        .as_deref()
                        .map(|f| format!(" (asked for {f})"))
                        .unwrap_or_default()
                )
            })?;
        let capture = dev
            .video_capture(PixFormat::new(self.width, self.height, format))
            .map_err(|e| format!("camera {}: cannot set the format: {e}", self.path.display()))?;
        let f = capture.format();
        let negotiated = Layout {
            width: f.width(),
            height: f.height(),
            stride: f.bytes_per_line(),
            format: f.pixel_format(),
        };
        let stream = capture.into_stream().map_err(|e| {
            format!(
                "camera {}: cannot start streaming: {e}",
                self.path.display()
            )
        })?;
        Ok((stream, negotiated))
    }
}

fn fourcc(s: &str) -> Result<PixelFormat, String> {
    let b = s.as_bytes();
    if b.len() != 4 {
        return Err(format!(
            "camera format {s:?} should be a fourcc such as YUYV"
        ));
    }
    Ok(PixelFormat::from_fourcc([b[0], b[1], b[2], b[3]]))
}

/// The negotiated frame layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    /// Bytes per row (0: packed).
    pub stride: u32,
    pub format: PixelFormat,
}

/// A captured buffer to a grey frame.
pub fn to_grey(format: &Layout, data: &[u8]) -> Result<GreyImage, String> {
    let (w, h) = (format.width, format.height);
    let stride = format.stride as usize;
    let pf = format.format;
    let rows = |bytes_per_px: usize| -> Result<Vec<u8>, String> {
        let row_len = w as usize * bytes_per_px;
        let stride = stride.max(row_len);
        if h == 0 || data.len() < stride * (h as usize - 1) + row_len {
            return Err(format!("short frame: {} bytes for {w}x{h}", data.len()));
        }
        Ok((0..h as usize)
            .flat_map(|y| {
                data[y * stride..y * stride + row_len]
                    .iter()
                    .step_by(bytes_per_px)
                    .copied()
            })
            .collect())
    };
    let pixels = if pf == PixelFormat::YUYV {
        rows(2)? // Y of each YUYV pair: every other byte
    } else if pf == PixelFormat::MJPG {
        return load_luma_bytes("camera frame", data).map_err(|e| e.to_string());
    } else {
        rows(1)?
    };
    Ok(GreyImage {
        width: w,
        height: h,
        pixels,
    })
}

impl ScanSource for CameraSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn run(mut self: Box<Self>, sink: Sink) {
        // The decode worker takes the newest frame; the capture loop never waits on it.
        let (tx, rx) = mpsc::sync_channel::<(GreyImage, Duration)>(1);
        let worker_sink = sink.clone();
        let decoder = self.decoder.clone();
        let hold_off = self.frames.hold_off;
        let label = self.name();
        let worker = std::thread::Builder::new()
            .name("camera decode".into())
            .spawn(move || {
                let mut dedupe = Deduper::new(hold_off);
                for (frame, at) in rx {
                    if !emit_frame(&decoder, &mut dedupe, &frame, at, &worker_sink, &label) {
                        return;
                    }
                }
            })
            .expect("a thread can be spawned");
        let origin = Instant::now();
        let mut lost = false;
        let mut ever_open = false;
        while !sink.stopped() {
            let (mut stream, what) = match self.capture.open() {
                Ok(s) => s,
                Err(e) => {
                    if !lost {
                        sink.status(StatusLevel::Error, format!("{e}: retrying"));
                        lost = true;
                    }
                    if !sink.sleep(Duration::from_secs(1)) {
                        break;
                    }
                    continue;
                }
            };
            let what = if ever_open {
                format!("{what} (back)")
            } else {
                what
            };
            ever_open = true;
            sink.status(StatusLevel::Info, what);
            let why = loop {
                if sink.stopped() {
                    break None;
                }
                match stream.next_frame() {
                    Ok(Some(Ok(img))) => match tx.try_send((img, origin.elapsed())) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => break None,
                    },
                    Ok(Some(Err(e))) => {
                        sink.status(StatusLevel::Warn, format!("camera frame dropped: {e}"));
                    }
                    Ok(None) => {}
                    Err(e) => break Some(e),
                }
            };
            match why {
                None => break,
                Some(e) => {
                    sink.status(
                        StatusLevel::Warn,
                        format!("{} gone ({e}): reconnecting", self.name),
                    );
                    lost = true;
                }
            }
        }
        drop(tx);
        let _ = worker.join();
    }
}

/// Video capture devices, for `tagtally scanners`.
pub fn list_cameras() -> Vec<(PathBuf, String)> {
    let Ok(devices) = linuxvideo::list() else {
        return vec![];
    };
    devices
        .flatten()
        .filter(|d| d.supported_buf_types().contains(BufTypes::VIDEO_CAPTURE))
        .filter_map(|d| {
            let path = d.path().ok()?;
            let card = d
                .capabilities()
                .map(|c| c.card().to_string())
                .unwrap_or_default();
            Some((path, card))
        })
        .collect()
}

/// True if the path looks like a V4L2 device node.
pub fn is_video_node(p: &Path) -> bool {
    p.to_str().is_some_and(|s| s.starts_with("/dev/video"))
}
