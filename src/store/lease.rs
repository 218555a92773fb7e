//! Leases on queued writes (Metrc's and the platforms'): the owner token of this
//! process and whether another process's lease still holds.

use chrono::{DateTime, Utc};

/// This process's lease owner token: `host:pid:random`, so two processes never
/// share one (not even the same pid in two containers).
pub(super) fn me() -> &'static str {
    static ME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // The kernel's random source; the time as a fallback is enough here (the
        // token only has to differ from other processes').
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .is_err()
        {
            bytes = (Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64).to_le_bytes();
        }
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{}:{random}", host(), std::process::id())
    })
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether the lease `owner` still holds: ours, or another process's until it runs
/// out, unless that process was of this host and is gone.
pub(super) fn holds(owner: &str, until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    if owner == me() {
        return false;
    }
    if until.is_none_or(|u| u < now) {
        return false;
    }
    let mut parts = owner.split(':');
    match (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(h), Some(pid)) if h == host() => {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}
