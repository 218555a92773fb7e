//! Group commit on the hub's store thread: the pushes waiting together go into one
//! transaction, each in its own savepoint, are committed once and only then answered,
//! each with its own result.

use axum::http::StatusCode;

use super::api::PushResponse;
use super::{ApiError, HubOptions, Inner, PushJob, Pushed};
use crate::domain::Event;
use crate::store::PushRefused;

impl Inner {
    /// Group commit: every push of `jobs` in one transaction, each in its own
    /// savepoint (a refused push rolls back alone, its neighbours stay), one commit
    /// (one fsync), then each push answered with its own result. No push is answered
    /// before the commit; if the commit fails, every push of the group is refused and
    /// nothing of it is kept.
    pub(super) fn push_group(&mut self, jobs: Vec<PushJob>, opts: &HubOptions) {
        if let Err(e) = self.store.begin_group() {
            let e = ApiError::from(e);
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
            return;
        }
        let mut done = Vec::with_capacity(jobs.len());
        let mut lost: Option<ApiError> = None;
        for job in jobs {
            let r = match &lost {
                Some(e) => Err(e.clone()),
                None => self.push_one(&job, opts),
            };
            if lost.is_none() && !self.store.in_group() {
                // SQLite rolled back the whole transaction (a full disk, an I/O
                // error): nothing of the group is kept, every push of it is refused.
                lost = Some(match &r {
                    Err(e) => e.clone(),
                    Ok(_) => ApiError::internal("the hub's transaction was rolled back".into()),
                });
            }
            done.push((job, r));
        }
        let committed = match lost {
            Some(e) => Err(e),
            None => self.store.commit_group().map_err(ApiError::from),
        };
        if let Err(e) = committed {
            // The merged orders may have folded events that are not kept.
            self.orders.clear();
            self.aliases.clear();
            for (job, _) in done {
                let _ = job.reply.send(Err(e.clone()));
            }
            return;
        }
        for (job, r) in done {
            let answer =
                r.and_then(|(number, receipt)| self.push_answer(&job, number, receipt, opts));
            let _ = job.reply.send(answer);
        }
    }

    /// One push inside the group's transaction, all or nothing in its own savepoint.
    /// A refusal's security-log row is kept (outside the savepoint).
    fn push_one(
        &mut self,
        job: &PushJob,
        opts: &HubOptions,
    ) -> Result<(String, crate::store::Receipt), ApiError> {
        self.store.push_savepoint()?;
        let result = self.push_in_savepoint(job, opts);
        if !self.store.in_group() {
            // SQLite rolled back the whole transaction (a full disk, an I/O error).
            return Err(match result {
                Err(Refusal::Plain(e)) => e,
                _ => ApiError::internal("the hub's transaction was rolled back".into()),
            });
        }
        if let Err(e) = self.store.end_push_savepoint(result.is_ok()) {
            // This push's writes could not be kept or undone alone: the group is
            // rolled back whole (every push of it refused) rather than committed.
            self.store.abort_group();
            return Err(e.into());
        }
        match result {
            Ok(done) => Ok(done),
            Err(Refusal::Plain(e)) => Err(e),
            Err(Refusal::Altered { device, seq, order }) => {
                self.store.log_security(
                    Some(&device),
                    "altered_replay",
                    &format!(
                        "event {device}/{seq} resent on order {order} with different contents"
                    ),
                )?;
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "altered_replay",
                    format!(
                        "event {device}/{seq} was already received with different contents: refused and logged as a security event"
                    ),
                ))
            }
            Err(Refusal::HubOnly { device, message }) => {
                self.store
                    .log_security(Some(&device), "forged_hold", &message)?;
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "hub_only",
                    format!("{message}; logged as a security event"),
                ))
            }
        }
    }

    fn push_in_savepoint(
        &mut self,
        job: &PushJob,
        opts: &HubOptions,
    ) -> Result<(String, crate::store::Receipt), Refusal> {
        let events = &job.req.events;
        // Resolve the order first: a push for an unknown order stores nothing.
        let (number, _) = self.merged(&job.key, &opts.rules).map_err(Refusal::Plain)?;
        if let Some(e) = events.iter().find(|e| e.order != number) {
            return Err(ApiError::bad_request(format!(
                "event {} is for order {}, pushed to order {number}",
                e.seq, e.order
            ))
            .into());
        }
        let attachments = job
            .req
            .attachments
            .iter()
            .map(|w| w.decode())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_attachment", m))?;
        let receipt = match self.store.receive_with(events, &attachments) {
            Ok(r) => r,
            Err(PushRefused::Altered { device, seq }) => {
                return Err(Refusal::Altered {
                    device,
                    seq,
                    order: number,
                });
            }
            Err(e @ PushRefused::MissingAttachment { .. }) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "missing_attachment",
                    e.to_string(),
                )
                .into());
            }
            Err(e @ PushRefused::HubOnly { .. }) => {
                return Err(Refusal::HubOnly {
                    device: job.device.clone(),
                    message: e.to_string(),
                });
            }
            Err(PushRefused::Store(e)) => return Err(ApiError::from(e).into()),
        };
        if receipt.new > 0
            && let Some((e, days)) = clock_skew(events)
        {
            // Merging goes by arrival, not by device time: the events are kept as
            // recorded, and the wrong clock is reported.
            self.store.log_security(
                Some(&job.device),
                "clock_skew",
                &format!(
                    "event {}/{} says {} ({days:+} days from the hub's clock): check the device's clock",
                    e.device, e.seq, e.at
                ),
            ).map_err(ApiError::from)?;
        }
        Ok((number, receipt))
    }

    /// A committed push's answer: the order's merged state and feed as they are now.
    fn push_answer(
        &mut self,
        job: &PushJob,
        number: String,
        receipt: crate::store::Receipt,
        opts: &HubOptions,
    ) -> Result<Pushed, ApiError> {
        let (_, feed) = self.feed(&number, job.req.since, Some(&job.device), &opts.rules)?;
        let update = (receipt.new > 0 && job.live_watched)
            .then(|| serde_json::to_string(&feed.merged).expect("merged orders serialise"));
        Ok((
            number,
            PushResponse {
                accepted: receipt.new,
                duplicates: receipt.duplicates,
                acked: receipt.acked,
                held: receipt
                    .held
                    .into_iter()
                    .map(|(seq, why)| super::api::HeldEvent { seq, why })
                    .collect(),
                feed,
            },
            update,
        ))
    }
}

/// Why one push of a group was refused (its savepoint is rolled back).
enum Refusal {
    Plain(ApiError),
    /// An altered replay: logged after the rollback, so the log row is kept.
    Altered {
        device: String,
        seq: i64,
        order: String,
    },
    /// A hold pushed by a device (only the hub records them): logged after the
    /// rollback too.
    HubOnly {
        device: String,
        message: String,
    },
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Plain(e)
    }
}

/// The first event whose time is more than a day off the hub's clock (or unreadable),
/// with the difference in whole days.
fn clock_skew(events: &[Event]) -> Option<(&Event, i64)> {
    let now = chrono::Utc::now();
    events.iter().find_map(|e| {
        let days = match chrono::DateTime::parse_from_rfc3339(&e.at) {
            Ok(t) => (t.with_timezone(&chrono::Utc) - now).num_days(),
            Err(_) => i64::MAX,
        };
        (days.abs() >= 1).then_some((e, days))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, Verdict};
    use crate::hub::api::PushRequest;
    use crate::store::Store;
    use crate::tag::NotATag;
    use std::collections::HashMap;
    use std::time::Duration;

    fn inner() -> (tempfile::TempDir, Inner) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("hub.db"), Duration::from_secs(1)).unwrap();
        crate::app::load_demo(&mut store).unwrap();
        let data_version = store.data_version().unwrap();
        let inner = Inner {
            store,
            orders: HashMap::new(),
            aliases: HashMap::new(),
            devices: HashMap::new(),
            data_version,
        };
        (dir, inner)
    }

    fn ev(device: &str, seq: i64, raw: &str) -> Event {
        Event {
            person: None,
            device: device.into(),
            seq,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            order: "SO-1001".into(),
            kind: EventKind::scan(
                raw.as_bytes(),
                raw.len(),
                None,
                Verdict::NotATag {
                    reason: NotATag::OtherBarcode,
                },
            ),
        }
    }

    type Answer = tokio::sync::oneshot::Receiver<Result<Pushed, ApiError>>;

    fn job(key: &str, events: Vec<Event>) -> (PushJob, Answer) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = PushJob {
            key: key.into(),
            device: events[0].device.clone(),
            req: PushRequest {
                events,
                since: 0,
                attachments: vec![],
            },
            live_watched: false,
            reply,
        };
        (job, answer)
    }

    /// (status, accepted, duplicates, acked) of one answer.
    fn outcome(mut a: Answer) -> (u16, usize, usize, Vec<i64>) {
        match a.try_recv().expect("answered when the group ends") {
            Ok((_, r, _)) => (200, r.accepted, r.duplicates, r.acked),
            Err(e) => (e.status.as_u16(), 0, 0, vec![]),
        }
    }

    #[test]
    fn a_group_commits_once_and_answers_each_push_with_its_own_result() {
        let (_d, mut inner) = inner();
        let opts = HubOptions::default();
        let held = ev("d1", 1, "a");
        let (first, a) = job("SO-1001", vec![held.clone()]);
        inner.push_group(vec![first], &opts);
        assert_eq!(outcome(a), (200, 1, 0, vec![1]));

        let pushes = vec![
            job("SO-1001", vec![ev("d2", 1, "b")]),
            // An altered replay of d1/1, with a new event: refused whole.
            job("SO-1001", vec![ev("d1", 1, "CHANGED"), ev("d1", 2, "c")]),
            job("SO-1001", vec![ev("d3", 1, "d")]),
            job("SO-9999", vec![ev("d4", 1, "e")]),
            job("SO-1001", vec![ev("d2", 2, "f")]),
            // A plain resend of d1/1: a duplicate, acknowledged again.
            job("SO-1001", vec![held]),
        ];
        let (jobs, answers): (Vec<_>, Vec<_>) = pushes.into_iter().unzip();
        inner.push_group(jobs, &opts);
        assert!(!inner.store.in_group(), "the group's transaction is closed");
        let got: Vec<_> = answers.into_iter().map(outcome).collect();
        assert_eq!(
            got,
            vec![
                (200, 1, 0, vec![1]),
                (409, 0, 0, vec![]),
                (200, 1, 0, vec![1]),
                (404, 0, 0, vec![]),
                (200, 1, 0, vec![2]),
                (200, 0, 1, vec![1]),
            ]
        );
        // d1/1, d2/1, d3/1, d2/2: the refused push kept nothing (not d1/2).
        assert_eq!(inner.store.event_count().unwrap(), 4);
        let log = inner.store.security_log().unwrap();
        assert!(
            log.iter()
                .any(|e| e.kind == "altered_replay" && e.detail.contains("d1/1")),
            "{log:?}"
        );
        // The merged order counts what was kept, nothing of the refused push.
        let (_, c) = inner.merged("SO-1001", &opts.rules).unwrap();
        let last = c.last_id;
        let held = inner.store.order_events_after("SO-1001", 0, 100).unwrap();
        assert_eq!(held.len(), 4);
        assert_eq!(held.last().unwrap().0, last);
    }
}
