//! What to ask Metrc for, and what an answer means: pure, no IO, no clock (the time
//! of the request is an argument). The client ([`super::client`]) does what these
//! decide.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// The package lists a pull reads: active, on hold, finished or discontinued, and in
/// transit (a package leaves the active list when it is sent on an outgoing
/// transfer; METRC-API.md §3).
pub const LISTS: [&str; 4] = ["active", "onhold", "inactive", "intransit"];

/// Records a page asks for: Metrc's most ("a value that does not exceed 20").
pub const PAGE_SIZE: u32 = 20;

/// How far before the last stored window a pull starts again: clocks drift, and
/// Metrc's own example overlaps by five minutes.
pub const OVERLAP: Duration = Duration::minutes(5);

/// One `lastModified` window: both bounds are always sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The query parameters of this window, as UTC `...Z` (no `+` to encode).
    pub fn query(&self) -> [(&'static str, String); 2] {
        [
            ("lastModifiedStart", stamp(self.start)),
            ("lastModifiedEnd", stamp(self.end)),
        ]
    }
}

/// `t` rounded up to a whole second: the end of a pull's last window.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    if floor == t {
        t
    } else {
        floor + Duration::seconds(1)
    }
}

/// A timestamp as Metrc's query strings take it.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Where a pull starts: the first time (no cursor) and with `full`, `first_pull_days`
/// back from `now`; otherwise the cursor less [`OVERLAP`]. A cursor ahead of `now`
/// (it was stored while this clock ran fast) is not trusted: the pull goes back as
/// far before `now` as the cursor is after it, so what changed while the clock was
/// wrong is asked for again (never further than `first_pull_days`).
pub fn start_of_pull(
    cursor: Option<DateTime<Utc>>,
    full: bool,
    first_pull_days: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let furthest = now - Duration::days(i64::from(first_pull_days));
    match cursor {
        Some(c) if !full && c <= now => c - OVERLAP,
        Some(c) if !full => (now - (c - now) - OVERLAP).max(furthest),
        _ => furthest,
    }
}

/// The windows from `from` to `now`, oldest first, none wider than `width`; the last
/// ends at `now`. Nothing to ask when `from` is not before `now`. The bounds are whole
/// seconds (what the query strings carry), rounded outwards: `from` down, `now` up,
/// so a change in the last second is asked for too (an overlap is harmless: the
/// newer record wins).
pub fn windows(from: DateTime<Utc>, now: DateTime<Utc>, width: Duration) -> Vec<Window> {
    let width = Duration::seconds(width.num_seconds().max(60));
    let floor = |t: DateTime<Utc>| t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    let from = floor(from);
    let now = if now.timestamp_subsec_nanos() == 0 {
        now
    } else {
        floor(now) + Duration::seconds(1)
    };
    let mut out = Vec::new();
    let mut start = from;
    while start < now {
        let end = (start + width).min(now);
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// A Metrc time in any of the forms it sends (offset or `Z`, with or without
/// fractions, no offset taken as UTC, a bare date); null-like text, and the
/// `0001-01-01` sentinel, are no time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0001-01-01") {
        return None;
    }
    crate::import::normalise_timestamp(s)
        .and_then(|n| DateTime::parse_from_rfc3339(&n).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The pages still to read after page `page` of `total_pages` (Metrc counts from 1;
/// an empty list says 0 pages).
pub fn next_page(page: u32, total_pages: u32) -> Option<u32> {
    (page < total_pages).then_some(page + 1)
}

/// What an error answer means, read from its status, content type and body (each of
/// the four body shapes Metrc uses), in Metrc's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetrcError {
    #[error(
        "Metrc refused the keys ({message}): check [metrc] vendor_key and user_key (the user key belongs to the Metrc user, the vendor key to the software)"
    )]
    WrongKeys { message: String },
    #[error(
        "Metrc says these keys work only on the old v1 API ({message}): ask the Metrc user for a v2 user key"
    )]
    V1Only { message: String },
    #[error(
        "these keys cannot reach license {license} ({message}): check [metrc] license_number, and that the Metrc user has that facility"
    )]
    License { license: String, message: String },
    #[error(
        "Metrc refused {what} ({status}: {message}): this license type or this user's permissions cannot use it"
    )]
    NotAllowed {
        what: String,
        status: u16,
        message: String,
    },
    #[error("Metrc answered {what} with {status}: {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("Metrc is busy or failing ({status}: {message}); tried {tries} times")]
    Server {
        status: u16,
        message: String,
        tries: u32,
    },
    #[error("Metrc did not answer within {seconds} s ({what}); tried {tries} times")]
    Timeout {
        what: String,
        seconds: u64,
        tries: u32,
    },
    #[error("cannot reach Metrc at {url}: {message}")]
    Network { url: String, message: String },
    #[error("Metrc's answer to {what} is not what Metrc sends: {message}")]
    BadAnswer { what: String, message: String },
    #[error("[metrc] is not set up: {0}")]
    NotConfigured(String),
}

impl MetrcError {
    /// Worth trying again after a pause: busy, failing, slow or unreachable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MetrcError::Server { .. } | MetrcError::Timeout { .. } | MetrcError::Network { .. }
        )
    }
}

/// Metrc's words in an error body: `{"Message": ...}` (with `ValidationErrors`),
/// `[{"row": 0, "message": ...}]`, `["...", ...]`, or plain text or HTML.
pub fn message_of(content_type: Option<&str>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let json = content_type.is_none_or(|c| c.contains("json"))
        || text.trim_start().starts_with(['{', '[']);
    if json && let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let words = match &v {
            serde_json::Value::Object(o) => {
                let mut parts: Vec<String> = o
                    .get("Message")
                    .or_else(|| o.get("message"))
                    .and_then(|m| m.as_str())
                    .map(|m| vec![m.to_string()])
                    .unwrap_or_default();
                if let Some(serde_json::Value::Array(errs)) = o.get("ValidationErrors") {
                    parts.extend(errs.iter().map(|e| match e {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }));
                }
                parts.join("; ")
            }
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(o) => {
                        let m = o
                            .get("message")
                            .or_else(|| o.get("Message"))
                            .and_then(|m| m.as_str())
                            .unwrap_or("");
                        match o.get("row") {
                            Some(r) => format!("row {r}: {m}"),
                            None => m.to_string(),
                        }
                    }
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        if !words.trim().is_empty() {
            return cut(&words);
        }
    }
    // Plain text or HTML: the words, without tags.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.is_empty() {
        "no message".into()
    } else {
        cut(&plain)
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() > 300 {
        let mut t: String = s.chars().take(299).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

/// What a non-success answer to `what` means. `license` is the one asked about (for
/// the package lists), none for the facilities call that proves the keys.
pub fn classify(
    what: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    license: Option<&str>,
) -> MetrcError {
    let message = message_of(content_type, body);
    let what = what.to_string();
    match status {
        401 if message.to_ascii_lowercase().contains("only valid for v1") => {
            MetrcError::V1Only { message }
        }
        401 => match license {
            // The facilities call needs no license: a 401 there is the keys.
            None => MetrcError::WrongKeys { message },
            // Elsewhere a 401 is as often the license (or its type) as the keys;
            // `metrc check` tells the two apart.
            Some(l) => MetrcError::License {
                license: l.to_string(),
                message,
            },
        },
        403 | 405 => MetrcError::NotAllowed {
            what,
            status,
            message,
        },
        500..=599 => MetrcError::Server {
            status,
            message,
            tries: 1,
        },
        _ => MetrcError::Refused {
            what,
            status,
            message,
        },
    }
}

/// How long to wait after a 429: `Retry-After` in seconds when Metrc sends it (an
/// HTTP date is read as "a second"), else `fallback`; never more than a minute.
pub fn retry_after(header: Option<&str>, fallback: std::time::Duration) -> std::time::Duration {
    let secs = header.and_then(|h| h.trim().parse::<u64>().ok());
    let d = match (header, secs) {
        (_, Some(s)) => std::time::Duration::from_secs(s),
        (Some(_), None) => std::time::Duration::from_secs(1),
        (None, None) => fallback,
    };
    d.min(std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows_table() {
        let h = Duration::hours;
        let cases: [(&str, &str, &str, Duration, usize, &str); 5] = [
            (
                "a day in 24 h windows",
                "2026-11-30T10:00:00Z",
                "2026-12-01T10:00:00Z",
                h(24),
                1,
                "2026-12-01T10:00:00Z",
            ),
            (
                "30 days: 30 windows, the last ends now",
                "2026-11-01T10:00:00Z",
                "2026-12-01T10:00:00Z",
                h(24),
                30,
                "2026-12-01T10:00:00Z",
            ),
            (
                "a part window at the end",
                "2026-11-30T10:00:00Z",
                "2026-12-01T13:30:00Z",
                h(24),
                2,
                "2026-12-01T13:30:00Z",
            ),
            (
                "6 h windows",
                "2026-11-30T10:00:00Z",
                "2026-12-01T10:00:00Z",
                h(6),
                4,
                "2026-12-01T10:00:00Z",
            ),
            (
                "nothing to ask",
                "2026-12-01T10:00:00Z",
                "2026-12-01T10:00:00Z",
                h(24),
                0,
                "",
            ),
        ];
        for (case, from, now, width, n, last_end) in cases {
            let w = windows(t(from), t(now), width);
            assert_eq!(w.len(), n, "{case}");
            for pair in w.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{case}: no gaps");
            }
            for x in &w {
                assert!(x.end - x.start <= width && x.start < x.end, "{case}");
            }
            if let Some(l) = w.last() {
                assert_eq!(stamp(l.end), last_end, "{case}");
            }
        }
    }

    #[test]
    fn a_pull_starts_where_the_last_stopped_less_the_overlap() {
        let now = t("2026-12-01T10:00:00Z");
        let cursor = t("2026-12-01T09:00:00Z");
        assert_eq!(
            start_of_pull(None, false, 30, now),
            t("2026-11-01T10:00:00Z")
        );
        assert_eq!(
            start_of_pull(Some(cursor), false, 30, now),
            t("2026-12-01T08:55:00Z")
        );
        assert_eq!(
            start_of_pull(Some(cursor), true, 30, now),
            t("2026-11-01T10:00:00Z")
        );
        // A cursor an hour in the future (the clock ran fast, then was set right):
        // an hour back, and the overlap.
        let ahead = t("2026-12-01T11:00:00Z");
        assert_eq!(
            start_of_pull(Some(ahead), false, 30, now),
            t("2026-12-01T08:55:00Z")
        );
        // Never further than the first pull.
        let far = t("2027-06-01T10:00:00Z");
        assert_eq!(
            start_of_pull(Some(far), false, 30, now),
            t("2026-11-01T10:00:00Z")
        );
        let ragged = windows(
            t("2026-12-01T09:00:00.700Z"),
            t("2026-12-01T10:00:00.200Z"),
            Duration::hours(24),
        );
        assert_eq!(
            ragged[0].query().map(|(_, v)| v),
            ["2026-12-01T09:00:00Z", "2026-12-01T10:00:01Z"],
            "whole seconds, rounded outwards"
        );
        assert_eq!(
            Window {
                start: cursor,
                end: now
            }
            .query(),
            [
                ("lastModifiedStart", "2026-12-01T09:00:00Z".to_string()),
                ("lastModifiedEnd", "2026-12-01T10:00:00Z".to_string())
            ]
        );
    }

    #[test]
    fn pages_run_to_the_last() {
        assert_eq!(next_page(1, 3), Some(2));
        assert_eq!(next_page(3, 3), None);
        assert_eq!(next_page(1, 0), None);
    }

    #[test]
    fn error_bodies_in_each_shape_read_in_metrcs_words() {
        let cases: [(Option<&str>, &str, &str); 6] = [
            (
                Some("application/json"),
                r#"{"Message":"Authorization denied."}"#,
                "Authorization denied.",
            ),
            (
                Some("application/json"),
                r#"{"Message":"Bad","ValidationErrors":["lastModifiedEnd is required"]}"#,
                "Bad; lastModifiedEnd is required",
            ),
            (
                Some("application/json"),
                r#"[{"row":0,"message":"Tag X is not available."}]"#,
                "row 0: Tag X is not available.",
            ),
            (Some("application/json"), r#"["one","two"]"#, "one; two"),
            (
                Some("text/html"),
                "<html><body><h1>The provided API key is only valid for V1 API endpoints.</h1></body></html>",
                "The provided API key is only valid for V1 API endpoints.",
            ),
            (None, "", "no message"),
        ];
        for (ct, body, want) in cases {
            assert_eq!(message_of(ct, body.as_bytes()), want, "{body}");
        }
    }

    #[test]
    fn statuses_mean_table() {
        let json = Some("application/json");
        let m = br#"{"Message":"no"}"#;
        assert!(matches!(
            classify("facilities", 401, json, m, None),
            MetrcError::WrongKeys { .. }
        ));
        assert!(matches!(
            classify("packages", 401, json, m, Some("C11-1")),
            MetrcError::License { .. }
        ));
        let v1 = b"The provided API key is only valid for V1 API endpoints.";
        assert!(matches!(
            classify("facilities", 401, Some("text/plain"), v1, None),
            MetrcError::V1Only { .. }
        ));
        assert!(matches!(
            classify("x", 405, json, m, None),
            MetrcError::NotAllowed { status: 405, .. }
        ));
        assert!(matches!(
            classify("x", 403, json, m, None),
            MetrcError::NotAllowed { .. }
        ));
        assert!(classify("x", 503, json, m, None).is_retryable());
        assert!(!classify("x", 400, json, m, None).is_retryable());
        let s = classify("packages", 401, json, m, Some("C11-1")).to_string();
        assert!(s.contains("C11-1") && s.contains("no"), "{s}");
    }

    #[test]
    fn retry_after_reads_seconds_and_caps_at_a_minute() {
        let fb = std::time::Duration::from_millis(700);
        assert_eq!(retry_after(Some("3"), fb).as_secs(), 3);
        assert_eq!(retry_after(Some("3600"), fb).as_secs(), 60);
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT"), fb).as_secs(),
            1
        );
        assert_eq!(retry_after(None, fb), fb);
    }
}
