//! A pick session: scanner lines in, one durable verdict out per line.
//!
//! The path of one scan: frame -> [`TagParser::parse`] -> [`Store::tag_facts`] ->
//! [`decide`] -> [`Store::append`] (durable) -> answer. The answer is written only after
//! the event is committed, so a scan that was answered is never lost.

use std::io::Write;
use std::sync::mpsc::Receiver;

use chrono::Local;
use serde::Serialize;

use crate::domain::pick::{Progress, decide};
use crate::domain::pull::Pull;
use crate::domain::walk::WalkOrder;
use crate::domain::{Event, EventKind, PickList, Rules, Verdict};
use crate::scan::{Frame, ScanEvent, SourceEvent};
use crate::store::{Decided, Store, StoreError};
use crate::tag::{MetrcTag, NotATag, TagParser};

mod follow;
use follow::Follow;

/// One open order being picked on this device.
pub struct PickSession<'s> {
    store: &'s mut Store,
    parser: TagParser,
    rules: Rules,
    f: Follow,
}

/// What one scan got, ready to print.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    /// The line as received (lossy UTF-8, without terminator, cut to the kept length).
    pub input: String,
    /// The full length in bytes of the line as received.
    pub input_len: usize,
    pub tag: Option<MetrcTag>,
    pub verdict: &'static str,
    pub reason: Option<&'static str>,
    pub line: Option<String>,
    /// For `wrong_order`: the order the package belongs to.
    pub other_order: Option<String>,
    pub item: Option<String>,
    pub message: String,
    pub picked: usize,
    pub total: usize,
    pub complete: bool,
    /// The next package to pull after this scan, in walking order (none when the
    /// order is complete or what is left may not ship).
    pub next: Option<Pull>,
    /// The event's sequence number on this device; `None` when nothing was recorded.
    pub seq: Option<i64>,
    /// The scanner source, e.g. `stdin` or `serial:/dev/ttyACM0`.
    pub source: String,
    /// True when key timing says a person typed the line rather than a scanner.
    pub manual: bool,
}

impl<'s> PickSession<'s> {
    /// Open `order` (number or short id) for picking.
    pub fn open(
        store: &'s mut Store,
        order: &str,
        parser: TagParser,
        rules: Rules,
    ) -> Result<Self, StoreError> {
        let order = store.find_order(order)?;
        store.check_open(&order, "picked")?;
        store.refuse_if_license_held(
            &order,
            crate::domain::Stage::Pick,
            Local::now().date_naive(),
        )?;
        let f = Follow::open(store, order, WalkOrder::default())?;
        Ok(PickSession {
            store,
            parser,
            rules,
            f,
        })
    }

    /// Open `order` with the site's settings: its tag format, its rules and the order
    /// its vault is walked in.
    pub fn open_for(
        store: &'s mut Store,
        order: &str,
        settings: &crate::config::Settings,
    ) -> Result<Self, StoreError> {
        Self::open(store, order, settings.tags.parser(), settings.rules.clone())?
            .with_walk(settings.pick.walk())
    }

    /// Walk the vault in the site's order (`[pick] location_order`) rather than in
    /// natural order throughout.
    pub fn with_walk(mut self, walk: WalkOrder) -> Result<Self, StoreError> {
        if walk != self.f.walk_order {
            self.f = Follow::open(self.store, self.f.order.clone(), walk)?;
        }
        Ok(self)
    }

    /// Fold what this session just recorded; read the order again if it came out of
    /// fold order.
    fn took(&mut self, event: &Event) -> Result<(), StoreError> {
        self.f.recorded(event);
        if self.f.stale {
            self.f = Follow::open(self.store, self.f.order.clone(), self.f.walk_order.clone())?;
        }
        Ok(())
    }

    /// Every allocated package in walking order, picked or not, as of now.
    pub fn pulls(&self) -> Vec<Pull> {
        let today = Local::now().date_naive();
        self.f.walk.pulls(
            &self.f.list,
            &self.f.state,
            &self.f.packages,
            &self.rules,
            today,
        )
    }

    /// The next package to pull (of `line` only, if given).
    pub fn next(&self, line: Option<&str>) -> Option<Pull> {
        let today = Local::now().date_naive();
        self.f.walk.next(
            &self.f.list,
            &self.f.state,
            &self.f.packages,
            &self.rules,
            today,
            line,
        )
    }

    /// The store, for reads beside the pick (order lists).
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The store, to act on it beside the session (a supervisor's check and name).
    pub fn store_mut(&mut self) -> &mut Store {
        self.store
    }

    pub fn list(&self) -> &PickList {
        &self.f.list
    }

    pub fn progress(&self) -> Progress {
        self.f.state.progress(&self.f.list)
    }

    /// Check one scan from a source: [`PickSession::scan`], except that a scan the
    /// source already refused (a camera's decoy) is answered `not_a_tag` unparsed.
    pub fn scan_event(&mut self, scan: &ScanEvent) -> Result<Answer, StoreError> {
        self.check(&scan.frame(), scan.refused)
    }

    /// Check one scanner line, record it durably, and answer. Only a store failure is
    /// an `Err`, and then nothing was recorded and nothing is answered.
    pub fn scan(&mut self, frame: &Frame) -> Result<Answer, StoreError> {
        self.check(frame, None)
    }

    fn check(&mut self, frame: &Frame, refused: Option<NotATag>) -> Result<Answer, StoreError> {
        let Parsed {
            input,
            parsed,
            empty,
        } = parse_frame(&self.parser, frame, refused);
        if empty {
            // An empty line is not a scan: answer it, record nothing.
            return Ok(self.answer(
                input,
                frame.len,
                None,
                &Verdict::NotATag {
                    reason: NotATag::Malformed,
                },
                None,
                None,
                EMPTY_LINE.into(),
            ));
        }
        let today = Local::now().date_naive();
        let tag = parsed.clone().ok();
        let (f, rules) = (&mut self.f, &self.rules);
        // Facts read, verdict decided and event appended under the write lock: no
        // other connection commits in between.
        let (events, (verdict, facts)) =
            self.store
                .decide_and_record(|store, changed| -> Result<_, StoreError> {
                    if changed {
                        f.catch_up(store)?;
                    }
                    let facts = facts_of(store, &parsed)?;
                    let verdict = decide(&f.list, &f.state, &parsed, &facts, rules, today);
                    let kind =
                        EventKind::scan(&frame.bytes, frame.len, tag.clone(), verdict.clone());
                    Ok(Decided::one(&f.list.order, kind, (verdict, facts)))
                })?;
        let event = events.into_iter().next().expect("one event was recorded");
        self.took(&event)?;
        let item = facts.package.as_ref().map(|p| p.item.clone());
        let mut message = verdict.message();
        if frame.overflowed() {
            message = format!("Line too long ({} bytes): not a tag.", frame.len);
        }
        Ok(self.answer(
            input,
            frame.len,
            tag,
            &verdict,
            item,
            Some(event.seq),
            message,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        input: String,
        input_len: usize,
        tag: Option<MetrcTag>,
        verdict: &Verdict,
        item: Option<String>,
        seq: Option<i64>,
        message: String,
    ) -> Answer {
        let progress = self.f.state.progress(&self.f.list);
        Answer {
            input,
            input_len,
            tag,
            verdict: verdict.word(),
            reason: verdict.reason(),
            line: verdict.line().map(str::to_string),
            other_order: match verdict {
                Verdict::WrongOrder { order, .. } => Some(order.clone()),
                _ => None,
            },
            item,
            message,
            picked: progress.picked,
            total: progress.total,
            complete: progress.complete,
            next: self.next(None),
            seq,
            source: String::new(),
            manual: false,
        }
    }

    /// Take in what another connection wrote since the last scan (the background
    /// sync: other devices' picks, the hub's allocation), so a tag picked on another
    /// device is `already_scanned` here. One cheap check when nothing changed.
    pub fn follow_other_devices(&mut self) -> Result<(), StoreError> {
        let f = &mut self.f;
        self.store.follow_changes(|store| f.catch_up(store))
    }

    /// Record that the rest of a line will not be picked.
    pub fn short(&mut self, line: &str, reason: &str) -> Result<Progress, PickError> {
        self.follow_other_devices()?;
        if self.f.list.line(line).is_none() {
            let known: Vec<&str> = self.f.list.lines.iter().map(|l| l.id.as_str()).collect();
            return Err(PickError::NoSuchLine {
                line: line.into(),
                order: self.f.list.order.clone(),
                known: known.join(", "),
            });
        }
        if reason.trim().is_empty() {
            return Err(PickError::ReasonRequired);
        }
        let event = self.store.append(
            &self.f.list.order,
            EventKind::Short {
                line: line.into(),
                reason: reason.trim().into(),
            },
        )?;
        self.took(&event)?;
        Ok(self.progress())
    }

    /// Take back a pick (recorded as a new event; the pick's event stays).
    pub fn undo(&mut self, tag: &str, reason: &str) -> Result<Progress, PickError> {
        // The undo names the picks of the tag this device holds: hear of the others'
        // first.
        self.follow_other_devices()?;
        let tag = self
            .parser
            .parse(tag.as_bytes())
            .map_err(|_| PickError::NotATag(tag.into()))?;
        if !self.f.state.is_picked(&tag) {
            return Err(PickError::NotPicked {
                tag,
                order: self.f.list.order.clone(),
            });
        }
        if reason.trim().is_empty() {
            return Err(PickError::ReasonRequired);
        }
        let event = self.store.append(
            &self.f.list.order,
            EventKind::Undo {
                undoes: self.f.state.picks_of(&tag),
                tag,
                reason: reason.trim().into(),
            },
        )?;
        self.took(&event)?;
        Ok(self.progress())
    }

    /// Answer every scan from `events` as it arrives, until every source has ended.
    /// With `json`, one JSON object per scan on `out`; otherwise one human-readable
    /// line. Output is flushed per answer. Source status ("unplugged: reconnecting")
    /// goes to `status`. Stops early only on a store or output failure.
    pub fn run(
        &mut self,
        events: &Receiver<SourceEvent>,
        out: &mut impl Write,
        status: &mut impl Write,
        json: bool,
    ) -> Result<(), PickError> {
        answer_all(
            events,
            out,
            status,
            json,
            |scan| {
                let mut a = self.scan_event(scan)?;
                a.source = scan.source.clone();
                a.manual = scan.manual;
                Ok(a)
            },
            human,
        )
    }
}

/// Answer every scan from `events` as it arrives, until every source has ended: with
/// `json` one JSON object a line, otherwise `human`'s line; flushed per answer. Source
/// status goes to `status`. Shared by the pick, the load and the delivery.
pub(crate) fn answer_all<A: Serialize, E: From<std::io::Error>>(
    events: &Receiver<SourceEvent>,
    out: &mut impl Write,
    status: &mut impl Write,
    json: bool,
    mut check: impl FnMut(&ScanEvent) -> Result<A, E>,
    human: impl Fn(&A) -> String,
) -> Result<(), E> {
    for event in events {
        match event {
            SourceEvent::Scan(scan) => {
                let a = check(&scan)?;
                if json {
                    serde_json::to_writer(&mut *out, &a).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{}", human(&a))?;
                }
                out.flush()?;
            }
            SourceEvent::Status {
                source, message, ..
            } => {
                writeln!(status, "[{source}] {message}")?;
                status.flush()?;
            }
        }
    }
    Ok(())
}

/// What an empty line is told.
pub(crate) const EMPTY_LINE: &str = "Empty line: nothing was scanned.";

/// A scanner line, parsed: shared by the pick, the load and the delivery.
pub(crate) struct Parsed {
    /// The line as received (lossy UTF-8).
    pub input: String,
    pub parsed: Result<MetrcTag, NotATag>,
    /// Nothing but blanks and control bytes: not a scan, nothing to record.
    pub empty: bool,
}

/// What the store knows of a parsed scan (nothing for a line that is not a tag).
pub(crate) fn facts_of(
    store: &Store,
    parsed: &Result<MetrcTag, NotATag>,
) -> Result<crate::domain::TagFacts, StoreError> {
    match parsed {
        Ok(tag) => store.tag_facts(tag),
        Err(_) => Ok(Default::default()),
    }
}

/// Parse one frame; a scan the source already refused (a camera's decoy) or an
/// overflowing line is `not_a_tag` unparsed.
pub(crate) fn parse_frame(parser: &TagParser, frame: &Frame, refused: Option<NotATag>) -> Parsed {
    let input = String::from_utf8_lossy(&frame.bytes).into_owned();
    let parsed = match refused {
        Some(reason) => Err(reason),
        None if frame.overflowed() => Err(NotATag::Malformed),
        None => parser.parse(&frame.bytes),
    };
    let empty = frame
        .bytes
        .iter()
        .all(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        && !frame.overflowed();
    Parsed {
        input,
        parsed,
        empty,
    }
}

/// One line for a person at a terminal.
pub fn human(a: &Answer) -> String {
    let done = match (&a.next, a.complete) {
        (_, true) => "  ORDER COMPLETE".to_string(),
        (Some(n), false) => format!("  next: {}", next_words(n)),
        (None, false) => String::new(),
    };
    let done = done.as_str();
    human_line(
        (a.verdict, a.reason),
        a.tag.as_ref(),
        &a.input,
        a.item.as_deref(),
        &a.message,
        (a.picked, a.total),
        done,
    )
}

/// `Vault A · Shelf 3 · …019794 · Blue Dream 3.5g · 10 Each`: the next package as
/// the pick screen and the terminal show it.
pub fn next_words(n: &Pull) -> String {
    let mut parts = vec![n.place(), format!("…{}", n.tag.tail(6)), n.item.clone()];
    let amount = n.amount();
    if !amount.is_empty() {
        parts.push(amount);
    }
    parts.join(" · ")
}

/// The verdict word, the tag's tail (or the input), the item, the message and the
/// counts: the terminal line of every stage.
pub(crate) fn human_line(
    (verdict, reason): (&str, Option<&str>),
    tag: Option<&MetrcTag>,
    input: &str,
    item: Option<&str>,
    message: &str,
    (done, total): (usize, usize),
    suffix: &str,
) -> String {
    let word = match (verdict, reason) {
        ("ineligible", Some(r)) => r.replace('_', " ").to_uppercase(),
        (v, _) => v.replace('_', " ").to_uppercase(),
    };
    let what = match tag {
        Some(t) => format!("...{}", t.tail(6)),
        None => {
            let shown: String = input.chars().take(30).collect();
            format!("{shown:?}")
        }
    };
    let item = item.map(|i| format!(" {i}")).unwrap_or_default();
    format!("{word:<16} {what}{item}  {message}  [{done}/{total}]{suffix}")
}

#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("order {order} has no line {line:?}; its lines are: {known}")]
    NoSuchLine {
        line: String,
        order: String,
        known: String,
    },
    #[error("a reason is required")]
    ReasonRequired,
    #[error("{0:?} is not a Metrc tag")]
    NotATag(String),
    #[error("{tag} is not picked on order {order}; nothing to undo")]
    NotPicked { tag: MetrcTag, order: String },
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
