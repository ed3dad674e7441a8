//! The Redis side of the event bus: entry format, consumer-group setup, and the figures
//! operators watch (length, lag, pending, dead letters).

use redis::aio::ConnectionLike;
use redis::streams::{StreamId, StreamPendingReply};
use serde::Serialize;

use crate::config::EnginesSettings;
use crate::events::EventEnvelope;

/// Field holding the envelope JSON in a stream entry.
pub const FIELD_EVENT: &str = "event";
/// Field holding the event type (readable in `XRANGE` output without parsing JSON).
pub const FIELD_TYPE: &str = "type";
/// Dead-letter fields: why, where it came from, how often it was tried.
pub const FIELD_REASON: &str = "reason";
pub const FIELD_SOURCE_ID: &str = "source_id";
pub const FIELD_DELIVERIES: &str = "deliveries";

/// The Postgres advisory-lock key the relay leader holds ("bcrelay" in ASCII).
pub const RELAY_LOCK_KEY: i64 = 0x0062_6372_656c_6179;

/// Creates the consumer group (and the stream) if missing; an existing group is fine.
pub async fn ensure_group<C: ConnectionLike + Send>(conn: &mut C, settings: &EnginesSettings) -> redis::RedisResult<()> {
    let created: redis::RedisResult<()> =
        redis::cmd("XGROUP").arg("CREATE").arg(&settings.stream).arg(&settings.group).arg("0").arg("MKSTREAM").query_async(conn).await;
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// Reads the envelope of a stream entry.
pub fn envelope(entry: &StreamId) -> Result<EventEnvelope, String> {
    let raw: String = entry.get(FIELD_EVENT).ok_or_else(|| format!("entry {} has no `{FIELD_EVENT}` field", entry.id))?;
    serde_json::from_str(&raw).map_err(|e| format!("entry {} is not an event envelope: {e}", entry.id))
}

/// Where the bus stands; served by the health endpoints and `basecommerce events status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub length: u64,
    pub group: String,
    /// Entries not yet delivered to the group (Redis ≥ 7 reports it).
    pub lag: Option<u64>,
    /// Delivered but not acknowledged.
    pub pending: u64,
    pub consumers: u64,
    /// Age of the oldest unacknowledged entry, by its id's time on the Redis clock.
    pub oldest_pending_ms: Option<u64>,
    pub dlq: String,
    pub dlq_length: u64,
}

/// Collects [`StreamStatus`]; a missing stream or group reads as zeros.
pub async fn status<C: ConnectionLike + Send>(conn: &mut C, settings: &EnginesSettings) -> redis::RedisResult<StreamStatus> {
    let length: u64 = redis::cmd("XLEN").arg(&settings.stream).query_async(conn).await?;
    let dlq_length: u64 = redis::cmd("XLEN").arg(&settings.dlq_stream).query_async(conn).await?;
    let mut out = StreamStatus {
        stream: settings.stream.clone(),
        length,
        group: settings.group.clone(),
        dlq: settings.dlq_stream.clone(),
        dlq_length,
        ..Default::default()
    };
    if length == 0 {
        return Ok(out);
    }
    let groups: redis::RedisResult<Vec<std::collections::HashMap<String, redis::Value>>> =
        redis::cmd("XINFO").arg("GROUPS").arg(&settings.stream).query_async(conn).await;
    if let Ok(groups) = groups {
        for g in groups {
            let name: Option<String> = g.get("name").and_then(|v| redis::from_redis_value_ref(v).ok());
            if name.as_deref() == Some(settings.group.as_str()) {
                out.lag = g.get("lag").and_then(|v| redis::from_redis_value_ref(v).ok());
                out.pending = g.get("pending").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or(0);
                out.consumers = g.get("consumers").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or(0);
            }
        }
    }
    if out.pending > 0 {
        if let StreamPendingReply::Data(d) = redis::cmd("XPENDING").arg(&settings.stream).arg(&settings.group).query_async(conn).await? {
            let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await?;
            out.oldest_pending_ms = Some((secs * 1000 + micros / 1000).saturating_sub(parse_id(&d.start_id).0));
        }
    }
    Ok(out)
}

/// The highest id below which every entry has been delivered to *and* acknowledged by every
/// group: trimming below it can never drop unprocessed work (MAXLEN alone could).
pub async fn safe_trim_id<C: ConnectionLike + Send>(conn: &mut C, stream: &str) -> redis::RedisResult<Option<String>> {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = match redis::cmd("XINFO").arg("GROUPS").arg(stream).query_async(conn).await {
        Ok(g) => g,
        Err(_) => return Ok(None),
    };
    if groups.is_empty() {
        return Ok(None);
    }
    let mut floor: Option<(u64, u64)> = None;
    for g in groups {
        let name: String = g.get("name").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or_default();
        let delivered: String = g.get("last-delivered-id").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or_else(|| "0-0".into());
        let mut candidate = parse_id(&delivered);
        let pending: StreamPendingReply = redis::cmd("XPENDING").arg(stream).arg(&name).query_async(conn).await?;
        if let StreamPendingReply::Data(d) = pending {
            let first = parse_id(&d.start_id);
            if first <= candidate {
                // Entries from the oldest pending one on must stay.
                candidate = if first.1 > 0 { (first.0, first.1 - 1) } else { (first.0.saturating_sub(1), u64::MAX) };
            }
        }
        floor = Some(floor.map_or(candidate, |f| f.min(candidate)));
    }
    // MINID keeps entries >= id, so pass the successor of the last removable entry.
    Ok(floor.map(|(ms, seq)| if seq == u64::MAX { format!("{}-0", ms + 1) } else { format!("{ms}-{}", seq + 1) }))
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_order_numerically() {
        assert!(super::parse_id("10-0") > super::parse_id("9-99"));
        assert_eq!(super::parse_id("5"), (5, 0));
    }
}
