//! Accept and reject sounds, played without blocking the screen.
//!
//! The tones are made here (no audio files, no audio library at build time) and played
//! by the first of `pw-play`, `paplay`, `aplay` found. With no player or no audio
//! device the app stays silent and says so once in the log.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn sound on or off (tests and screenshots run silent).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Play the accept (two short high beeps) or reject (one long low buzz) sound.
pub fn play(accept: bool) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let Some((player, files)) = setup() else {
        return;
    };
    let file = if accept { &files.0 } else { &files.1 };
    let spawned = Command::new(player)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // Reap the child on a thread of its own; the screen never waits.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::warn!("cannot play a sound with {player}: {e}"),
    }
}

type Setup = Option<(&'static str, (PathBuf, PathBuf))>;

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let player = ["pw-play", "paplay", "aplay"]
            .into_iter()
            .find(|p| which(p))
            .or_else(|| {
                tracing::info!("no audio player (pw-play, paplay, aplay): verdicts are silent");
                None
            })?;
        let dir = std::env::temp_dir().join(format!("tagtally-sounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = dir.join("accept.wav");
        let bad = dir.join("reject.wav");
        std::fs::write(&ok, wav(&[(1760.0, 0.08), (0.0, 0.05), (1760.0, 0.08)])).ok()?;
        std::fs::write(&bad, wav(&[(220.0, 0.45)])).ok()?;
        Some((player, (ok, bad)))
    })
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
}

/// A 16-bit mono 22.05 kHz WAV of (frequency, seconds) tones; frequency 0 is silence.
pub fn wav(tones: &[(f32, f32)]) -> Vec<u8> {
    const RATE: u32 = 22_050;
    let mut samples: Vec<i16> = vec![];
    for &(freq, secs) in tones {
        let n = (secs * RATE as f32) as usize;
        for i in 0..n {
            let t = i as f32 / RATE as f32;
            // A short fade in and out avoids clicks.
            let env = (i.min(n - i) as f32 / 200.0).min(1.0);
            let v = if freq > 0.0 {
                (t * freq * std::f32::consts::TAU).sin() * 0.6 * env
            } else {
                0.0
            };
            samples.push((v * i16::MAX as f32) as i16);
        }
    }
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // PCM
    out.extend(1u16.to_le_bytes()); // mono
    out.extend(RATE.to_le_bytes());
    out.extend((RATE * 2).to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for s in samples {
        out.extend(s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wav_header_matches_its_samples() {
        let w = super::wav(&[(440.0, 0.1)]);
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(&w[8..12], b"WAVE");
        let data = u32::from_le_bytes(w[40..44].try_into().unwrap()) as usize;
        assert_eq!(data, 2205 * 2);
        assert_eq!(w.len(), 44 + data);
    }
}
