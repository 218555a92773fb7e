//! What the floor did, written back to LeafLink (`tagtally leaflink push`, the hub
//! with `[leaflink] push = true`): a packed line `PATCH /line-items/{id}/` with
//! `is_packed`, `packed_at` and the picked tags in `notes` (`package_tags` cannot be
//! written; the line's own notes are kept); the order's stages by
//! `POST /orders-received/{number}/transition/{action}/` (fulfill, ship, complete),
//! one step at a time from the status read first; Metrc's manifest number in
//! `delivery_info.manifest_number`. Each write reads before it writes, so a retry
//! never fails on an order that already moved and sends nothing LeafLink has. Facts
//! and sources: `docs/leaflink.md`.

use serde_json::{Value, json};

use super::client::{Client, LeafLinkError};
use crate::domain::writeback::{Platform, Stage, Step, Wanted, leaflink_notes, leaflink_step};
use crate::store::OrderSource;
use crate::writeback::{Applied, Sink, SinkError};

/// LeafLink as a [`Sink`] of write-backs.
pub struct LeafLinkSink<'a> {
    pub client: &'a Client,
}

fn sink_error(e: LeafLinkError) -> SinkError {
    SinkError {
        failure: e.failure(),
        message: e.to_string(),
    }
}

fn bad(what: &str, message: &str) -> SinkError {
    sink_error(LeafLinkError::BadAnswer {
        what: what.into(),
        message: message.into(),
    })
}

impl LeafLinkSink<'_> {
    async fn get(&self, path: &str, what: &str) -> Result<Value, SinkError> {
        let url = self.client.url(path, &[]).map_err(sink_error)?;
        match self.client.get_json_once(url, what).await {
            // Gone from LeafLink (deleted, or out of this key's sight): said so; the
            // order and its picks stay here.
            Err(LeafLinkError::Refused { status: 404, .. }) => Err(SinkError {
                failure: crate::domain::writeback::Failure::Refused,
                message: format!(
                    "LeafLink has no {what} any more (404): it was deleted there, or this key can no longer see it; nothing here is changed, check the order in LeafLink"
                ),
            }),
            r => r.map_err(sink_error),
        }
    }

    async fn line(
        &self,
        line: &str,
        packed: bool,
        tags: &[String],
        packed_at: Option<&str>,
    ) -> Result<Applied, SinkError> {
        let path = format!("line-items/{line}/");
        let what = format!("line item {line}");
        let current = self.get(&path, &what).await?;
        if !current.is_object() {
            return Err(bad(&what, "not a line item"));
        }
        let notes = leaflink_notes(current["notes"].as_str(), tags);
        let is_packed = current["is_packed"].as_bool().unwrap_or(false);
        if is_packed == packed && current["notes"].as_str().unwrap_or("") == notes {
            return Ok(Applied {
                sent: false,
                status: None,
            });
        }
        let body = json!({
            "is_packed": packed,
            "packed_at": if packed { packed_at.map(Value::from).unwrap_or(Value::Null) } else { Value::Null },
            "notes": notes,
        });
        let url = self.client.url(&path, &[]).map_err(sink_error)?;
        self.client
            .patch_json(url, &body, &format!("marking {what} packed"))
            .await
            .map_err(sink_error)?;
        Ok(Applied {
            sent: true,
            status: None,
        })
    }

    async fn stage(&self, number: &str, stage: Stage) -> Result<Applied, SinkError> {
        let path = format!("orders-received/{number}/");
        let what = format!("order {number}");
        let mut order = self.get(&path, &what).await?;
        let mut sent = false;
        // At most one transition a stage, and never back: three steps reach any.
        for _ in 0..4 {
            let Some(status) = order["status"].as_str().map(str::to_string) else {
                return Err(bad(&what, "the order has no status"));
            };
            match leaflink_step(&status, stage) {
                Step::There => {
                    return Ok(Applied {
                        sent,
                        status: Some(status),
                    });
                }
                Step::Impossible(m) => {
                    return Err(SinkError {
                        failure: crate::domain::writeback::Failure::Refused,
                        message: format!("{what}: {m}"),
                    });
                }
                Step::Send(crate::domain::writeback::Action::LeafLink(action)) => {
                    let url = self
                        .client
                        .url(
                            &format!("orders-received/{number}/transition/{action}/"),
                            &[],
                        )
                        .map_err(sink_error)?;
                    order = self
                        .client
                        .post_json(url, &format!("the {action} transition of {what}"))
                        .await
                        .map_err(sink_error)?;
                    sent = true;
                    if order["status"].as_str().is_none() {
                        order = self.get(&path, &what).await?;
                    }
                }
                Step::Send(other) => {
                    return Err(bad(&what, &format!("not a LeafLink step: {other:?}")));
                }
            }
        }
        Err(bad(&what, "the order did not move as its transitions said"))
    }

    async fn manifest(&self, number: &str, manifest: &str) -> Result<Applied, SinkError> {
        let path = format!("orders-received/{number}/");
        let what = format!("order {number}");
        let order = self.get(&path, &what).await?;
        let mut info = match &order["delivery_info"] {
            Value::Object(m) => Value::Object(m.clone()),
            _ => json!({}),
        };
        if info["manifest_number"].as_str() == Some(manifest) {
            return Ok(Applied {
                sent: false,
                status: order["status"].as_str().map(str::to_string),
            });
        }
        info["manifest_number"] = json!(manifest);
        let url = self.client.url(&path, &[]).map_err(sink_error)?;
        let answer = self
            .client
            .patch_json(
                url,
                &json!({ "delivery_info": info }),
                &format!("the manifest number of {what}"),
            )
            .await
            .map_err(sink_error)?;
        Ok(Applied {
            sent: true,
            status: answer["status"].as_str().map(str::to_string),
        })
    }
}

impl Sink for LeafLinkSink<'_> {
    fn platform(&self) -> Platform {
        Platform::LeafLink
    }

    async fn apply(&self, source: &OrderSource, wanted: &Wanted) -> Result<Applied, SinkError> {
        match wanted {
            Wanted::Line {
                line,
                packed,
                tags,
                packed_at,
            } => self.line(line, *packed, tags, packed_at.as_deref()).await,
            Wanted::Stage { stage, .. } => self.stage(&source.platform_id, *stage).await,
            Wanted::Manifest { number } => self.manifest(&source.platform_id, number).await,
        }
    }
}
