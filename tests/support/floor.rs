//! What the floor's commands take in the integration tests: the demo's tags as
//! scanner lines, a driver and vehicle for `load --confirm`, a receiver's signature.
#![allow(dead_code)]

use std::path::Path;

/// The demo packages' tag prefix: `t(10005)` is `1A4060300003C35000010005`.
pub const P: &str = "1A4060300003C350000";

pub fn t(n: u32) -> String {
    format!("{P}{n:05}")
}

/// The tags `tags` as scanner lines.
pub fn lines(tags: &[u32]) -> Vec<u8> {
    tags.iter()
        .map(|n| format!("{}\n", t(*n)))
        .collect::<String>()
        .into_bytes()
}

/// A driver and a vehicle, as `load --confirm` takes them.
pub const DRIVER: &[&str] = &[
    "--driver",
    "Dee Driver",
    "--occupational-license",
    "OL-55501",
    "--drivers-license",
    "D1234567",
    "--make",
    "Ford",
    "--model",
    "Transit",
    "--plate",
    "8abc 123",
];

/// A signature in `dir/name`: a white PNG with a scribble, or blank; its path.
pub fn signature(dir: &Path, name: &str, ink: bool) -> String {
    let mut img = image::GrayImage::from_pixel(300, 120, image::Luma([255]));
    if ink {
        for x in 20..280u32 {
            let y = 60.0 + 30.0 * ((x as f32) / 20.0).sin();
            for dy in 0..3 {
                img.put_pixel(x, (y as u32 + dy).min(119), image::Luma([0]));
            }
        }
    }
    let path = dir.join(name);
    img.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}
