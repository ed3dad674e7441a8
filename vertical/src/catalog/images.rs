//! Product images and the tenant's logo. An upload is accepted only when its content is a JPEG,
//! PNG or WebP that decodes within limits ([`infra::images`]); the original is stored privately
//! and an event asks the engines worker to make the WebP variants — the request never resizes.
//! Shared by the API and the UI.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::domain::{DomainError, DomainResult};
use crate::outbox;
use crate::state::AppState;
use infra::db::TenantTx;
use infra::events::{Event, EventEnvelope, LogoUploaded, ProductImageUploaded};
use infra::files::{FileKey, FileStore, Variant};

/// A product image accepted: its variants appear once the engines worker has made them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImageAccepted {
    pub product_id: Uuid,
    pub status: &'static str,
    pub event_id: Uuid,
    pub variants: Vec<String>,
}

/// A logo accepted: `url` serves it once the engines worker has made it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogoAccepted {
    pub status: &'static str,
    pub event_id: Uuid,
    pub url: &'static str,
}

/// Records that `product`'s new original is stored at `key` (the caller checked the product
/// with [`crate::catalog::products::get`] before storing the file).
pub async fn product_image_stored(tx: &TenantTx, product: Uuid, key: &FileKey) -> DomainResult<EventEnvelope> {
    Ok(outbox::record(tx, Event::ProductImageUploaded(ProductImageUploaded { product_id: product, original_key: key.as_str().to_owned() })).await?)
}

/// Records that the tenant's new logo original is stored at `key`.
pub async fn logo_stored(tx: &TenantTx, key: &FileKey) -> DomainResult<EventEnvelope> {
    Ok(outbox::record(tx, Event::LogoUploaded(LogoUploaded { original_key: key.as_str().to_owned() })).await?)
}

/// Holds the tenant to `files.tenant_quota_bytes` (issue 15, finding 4): counts `bytes` for
/// `key` — replacing what the key held before — or refuses when the tenant's originals would
/// take more. Serialised per tenant (a transaction lock), so concurrent uploads cannot each
/// squeeze in under the quota; the row commits with the upload's event or not at all.
pub async fn reserve_space(tx: &TenantTx, key: &FileKey, bytes: usize, quota: u64) -> DomainResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('stored_files:' || $1::uuid::text, 0))", &[&tx.tenant_id()]).await?;
    let others: i64 = tx
        .query_one("SELECT coalesce(sum(bytes), 0)::bigint FROM stored_files WHERE tenant_id = $1 AND key <> $2", &[&tx.tenant_id(), &key.as_str()])
        .await?
        .get(0);
    let total = others.max(0) as u64 + bytes as u64;
    if total > quota {
        let mib = |b: u64| b.div_ceil(1024 * 1024);
        return Err(DomainError::Conflict {
            code: "upload_quota_exceeded",
            message: format!(
                "this upload would bring the tenant's files to {} MiB, above its quota of {} MiB; replace or remove images, or ask the operator for more",
                mib(total),
                mib(quota)
            ),
        });
    }
    let size = bytes as i64;
    tx.execute(
        "INSERT INTO stored_files (tenant_id, key, bytes) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET bytes = EXCLUDED.bytes, stored_at = now()",
        &[&tx.tenant_id(), &key.as_str(), &size],
    )
    .await?;
    Ok(())
}

/// Counts an upload against the user's per-minute allowance (429 when spent).
pub fn take_upload_slot(state: &AppState, user: Uuid) -> DomainResult<()> {
    let limit = state.settings.files.uploads_per_minute;
    let mut slots = state.upload_slots.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    slots.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
    let (_, used) = slots.entry(user).or_insert((now, 0));
    if *used >= limit {
        return Err(DomainError::TooManyRequests(format!("at most {limit} uploads per minute; try again shortly")));
    }
    *used += 1;
    Ok(())
}

/// Checks an upload's content off the async workers, a bounded number at a time.
async fn check_image(bytes: Bytes) -> DomainResult<()> {
    match infra::images::off_thread(move || infra::images::check(&bytes)).await {
        Ok(_) => Ok(()),
        Err(e @ infra::images::ImageError::Task(_)) => Err(DomainError::Internal(format!("image check: {e}"))),
        Err(e) => Err(DomainError::Invalid { code: "invalid_image", message: e.to_string(), field: Some("file".into()) }),
    }
}

/// Stores a product's new image and records the event that makes its variants. Shared by the
/// API and the UI.
pub async fn store_product_image(state: &AppState, tenant: &Tenant, who: &Principal, product: Uuid, bytes: Bytes) -> DomainResult<ImageAccepted> {
    crate::domain::require_admin(who)?;
    take_upload_slot(state, who.user_id)?;
    // Decode before taking a pooled connection: a large image takes a moment to check.
    check_image(bytes.clone()).await?;
    let tx = state.tenant_tx(tenant).await?;
    crate::catalog::products::get(&tx, product).await?;
    let key = FileKey::product_original(tenant.id, product);
    reserve_space(&tx, &key, bytes.len(), state.settings.files.tenant_quota_bytes).await?;
    state.files.put(&key, &bytes).await.map_err(|e| DomainError::Internal(format!("store upload: {e}")))?;
    let event = product_image_stored(&tx, product, &key).await?;
    tx.commit().await?;
    Ok(ImageAccepted {
        product_id: product,
        status: "processing",
        event_id: event.event_id,
        variants: Variant::ALL.iter().map(|v| format!("/files/products/{product}/{}.webp", v.name())).collect(),
    })
}

/// Stores the tenant's new logo and records the event that makes its WebP.
pub async fn store_logo(state: &AppState, tenant: &Tenant, who: &Principal, bytes: Bytes) -> DomainResult<LogoAccepted> {
    crate::domain::require_admin(who)?;
    take_upload_slot(state, who.user_id)?;
    check_image(bytes.clone()).await?;
    let key = FileKey::logo_original(tenant.id);
    let tx = state.tenant_tx(tenant).await?;
    reserve_space(&tx, &key, bytes.len(), state.settings.files.tenant_quota_bytes).await?;
    state.files.put(&key, &bytes).await.map_err(|e| DomainError::Internal(format!("store upload: {e}")))?;
    let event = logo_stored(&tx, &key).await?;
    tx.commit().await?;
    Ok(LogoAccepted { status: "processing", event_id: event.event_id, url: "/files/branding/logo.webp" })
}

/// `/files/...?v=<version>` for a stored file, when it exists.
pub fn url(state: &AppState, key: &FileKey, path: &str) -> Option<String> {
    state.files.version(key).map(|v| format!("{path}?v={v}"))
}
