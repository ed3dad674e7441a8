//! The domain-event envelope shared by the vertical (producer, through the outbox) and the
//! engines (consumers). `version` is an integer schema version of the payload — consumers
//! compare it numerically and skip versions newer than they understand.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One domain event as stored in `event_outbox` and carried on the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Producer-assigned id; consumers deduplicate on it (not on the stream id).
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub event_type: String,
    pub version: i32,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl EventEnvelope {
    /// A new event occurring now, version 1.
    pub fn new(tenant_id: Uuid, aggregate_type: &str, aggregate_id: Uuid, event_type: &str, payload: serde_json::Value) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            tenant_id,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id,
            event_type: event_type.to_owned(),
            version: 1,
            occurred_at: Utc::now(),
            payload,
        }
    }
}

/// Postgres channel the vertical NOTIFYs after committing outbox rows; the relay LISTENs on it.
pub const OUTBOX_NOTIFY_CHANNEL: &str = "basecommerce_outbox";
