//! YUV4MPEG2 (`.y4m`) video files as a frame source: the uncompressed format `ffmpeg
//! -i clip.mp4 -pix_fmt gray clip.y4m` writes. Only the luma plane is kept.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::decode::GreyImage;

#[derive(Debug, thiserror::Error)]
pub enum Y4mError {
    #[error("cannot open video {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a YUV4MPEG2 (.y4m) video: {detail}")]
    Header { path: String, detail: String },
    #[error("{path}: frame {frame} is damaged or cut short: {detail}")]
    Frame {
        path: String,
        frame: usize,
        detail: String,
    },
}

/// Frames of a Y4M file, read one at a time.
pub struct Y4mReader {
    path: String,
    input: BufReader<File>,
    width: u32,
    height: u32,
    chroma_bytes: usize,
    frame: usize,
    done: bool,
}

const MAX_PIXELS: u64 = 4096 * 4096;

impl Y4mReader {
    pub fn open(path: &Path) -> Result<Self, Y4mError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| Y4mError::Open {
            path: name.clone(),
            source,
        })?;
        let mut input = BufReader::new(file);
        let mut header = Vec::new();
        let header_err = |detail: String| Y4mError::Header {
            path: name.clone(),
            detail,
        };
        input
            .by_ref()
            .take(1024)
            .read_until(b'\n', &mut header)
            .map_err(|e| header_err(e.to_string()))?;
        let header = String::from_utf8_lossy(&header);
        let mut fields = header.split_ascii_whitespace();
        if fields.next() != Some("YUV4MPEG2") {
            return Err(header_err("it does not start with YUV4MPEG2".into()));
        }
        let (mut width, mut height, mut colour) = (0u32, 0u32, "420".to_string());
        for f in fields {
            match f.split_at(1) {
                ("W", v) => width = v.parse().map_err(|_| header_err(format!("width {v:?}")))?,
                ("H", v) => height = v.parse().map_err(|_| header_err(format!("height {v:?}")))?,
                ("C", v) => colour = v.to_string(),
                _ => {}
            }
        }
        if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(header_err(format!("unusable frame size {width}x{height}")));
        }
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let chroma_bytes = if colour.starts_with("mono") {
            0
        } else if colour.starts_with("444") {
            2 * w * h
        } else if colour.starts_with("422") {
            2 * cw * h
        } else if colour.starts_with("420") {
            2 * cw * ch
        } else {
            return Err(header_err(format!(
                "colour space C{colour} is not supported"
            )));
        };
        Ok(Y4mReader {
            path: name,
            input,
            width,
            height,
            chroma_bytes,
            frame: 0,
            done: false,
        })
    }
}

impl Iterator for Y4mReader {
    type Item = Result<GreyImage, Y4mError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let frame = self.frame;
        self.frame += 1;
        let mut fail = |detail: String| {
            self.done = true;
            Some(Err(Y4mError::Frame {
                path: self.path.clone(),
                frame,
                detail,
            }))
        };
        let mut line = Vec::new();
        match self.input.by_ref().take(1024).read_until(b'\n', &mut line) {
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(_) if line.starts_with(b"FRAME") => {}
            Ok(_) => return fail("no FRAME marker".into()),
            Err(e) => return fail(e.to_string()),
        }
        let mut pixels = vec![0u8; self.width as usize * self.height as usize];
        if let Err(e) = self.input.read_exact(&mut pixels) {
            return fail(e.to_string());
        }
        let mut chroma = vec![0u8; self.chroma_bytes];
        if let Err(e) = self.input.read_exact(&mut chroma) {
            return fail(e.to_string());
        }
        Some(Ok(GreyImage {
            width: self.width,
            height: self.height,
            pixels,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_luma_and_reports_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.y4m");
        let mut data = b"YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg\n".to_vec();
        for v in [10u8, 20] {
            data.extend(b"FRAME\n");
            data.extend([v; 8]);
            data.extend([128u8; 4]); // 2 x (2x1) chroma
        }
        data.extend(b"FRAME\n\x01\x02");
        std::fs::write(&p, &data).unwrap();
        let frames: Vec<_> = Y4mReader::open(&p).unwrap().collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].as_ref().unwrap().pixels, vec![10; 8]);
        assert_eq!(frames[1].as_ref().unwrap().width, 4);
        assert!(
            frames[2]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("frame 2")
        );

        std::fs::write(&p, b"GIF89a....").unwrap();
        assert!(
            Y4mReader::open(&p)
                .err()
                .unwrap()
                .to_string()
                .contains("not a YUV4MPEG2")
        );
        std::fs::write(&p, b"YUV4MPEG2 W20000 H20000\n").unwrap();
        assert!(
            Y4mReader::open(&p)
                .err()
                .unwrap()
                .to_string()
                .contains("20000x20000")
        );
    }
}
