//! What the floor did, written back to Apex (`tagtally apex push`, the hub with
//! `[apex] push = true`): Apex takes only a status (`PUT /v1/shipping-orders/{id}`
//! with `order_status_id`; B2B-API.md §10), so a complete order goes to the stage
//! "packed" (parent status Pending Shipment), a confirmed load to "in transit", a
//! signed delivery to "delivered". The status id of a stage is `[apex] status_ids`,
//! or else the first status of the order's deal flow under the stage's parent (as
//! Apex says to find it). The order is read first: one already at the stage or past
//! it is left alone, so a retry never fails on an order that moved and a second push
//! sends nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use super::client::{Client, first_status_of};
use super::error::ApexError;
use crate::domain::writeback::{
    Action, ApexStatusIds, Failure, Platform, Stage, Step, Wanted, apex_parent, apex_step,
};
use crate::store::OrderSource;
use crate::writeback::{Applied, Sink, SinkError};

/// Apex as a [`Sink`] of write-backs.
pub struct ApexSink<'a> {
    pub client: &'a Client,
    pub status_ids: ApexStatusIds,
    /// Each deal flow's statuses, read once a round.
    flows: Mutex<HashMap<i64, Vec<super::client::ApexStatus>>>,
}

impl<'a> ApexSink<'a> {
    pub fn new(client: &'a Client, status_ids: ApexStatusIds) -> ApexSink<'a> {
        ApexSink {
            client,
            status_ids,
            flows: Mutex::new(HashMap::new()),
        }
    }

    fn refused(message: String) -> SinkError {
        SinkError {
            failure: Failure::Refused,
            message,
        }
    }

    /// The status id that stands for `stage` on an order of `deal_flow`.
    async fn target(&self, stage: Stage, deal_flow: Option<i64>) -> Result<i64, SinkError> {
        if let Some(id) = self.status_ids.of(stage) {
            return Ok(id);
        }
        let parent = apex_parent(stage);
        let key = match stage {
            Stage::Fulfilled => "packed",
            Stage::Shipped => "in_transit",
            Stage::Delivered => "delivered",
        };
        let Some(flow) = deal_flow else {
            return Err(Self::refused(format!(
                "the Apex order names no deal flow, so the status for {parent} is unknown: set [apex] status_ids.{key}"
            )));
        };
        let cached = self.flows.lock().expect("lock").get(&flow).cloned();
        let statuses = match cached {
            Some(s) => s,
            None => {
                let s = self
                    .client
                    .deal_flow_statuses(flow)
                    .await
                    .map_err(sink_error)?;
                self.flows.lock().expect("lock").insert(flow, s.clone());
                s
            }
        };
        first_status_of(&statuses, parent).ok_or_else(|| {
            Self::refused(format!(
                "Apex's deal flow {flow} has no status under {parent}: add one in Apex, or set [apex] status_ids.{key}"
            ))
        })
    }
}

fn sink_error(e: ApexError) -> SinkError {
    SinkError {
        failure: e.failure(),
        message: e.to_string(),
    }
}

impl Sink for ApexSink<'_> {
    fn platform(&self) -> Platform {
        Platform::Apex
    }

    async fn apply(&self, source: &OrderSource, wanted: &Wanted) -> Result<Applied, SinkError> {
        let Wanted::Stage { stage, .. } = wanted else {
            return Err(Self::refused(format!(
                "Apex takes only an order's status, not {}",
                wanted.describe()
            )));
        };
        let id: i64 = source.platform_id.parse().map_err(|_| {
            Self::refused(format!(
                "{:?} is not an Apex order id (order {})",
                source.platform_id, source.order
            ))
        })?;
        let (state, deal_flow) = self.client.order(id).await.map_err(sink_error)?;
        let target = self.target(*stage, deal_flow).await?;
        match apex_step(&state, *stage, target, &self.status_ids) {
            Step::There => Ok(Applied {
                sent: false,
                status: Some(state.status_id.to_string()),
            }),
            Step::Impossible(m) => Err(Self::refused(format!("Apex order {id}: {m}"))),
            Step::Send(Action::ApexStatus(status)) => {
                let after = self
                    .client
                    .put_status(id, status)
                    .await
                    .map_err(sink_error)?;
                Ok(Applied {
                    sent: true,
                    status: Some(after.status_id.to_string()),
                })
            }
            Step::Send(other) => Err(Self::refused(format!("not an Apex step: {other:?}"))),
        }
    }
}
