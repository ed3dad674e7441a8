//! Product images and the tenant's logo, as business records: an upload checked and stored by
//! the caller becomes an event that asks the engines worker for its WebP variants.

use uuid::Uuid;

use crate::domain::DomainResult;
use crate::outbox;
use infra::db::TenantTx;
use infra::events::{Event, EventEnvelope, LogoUploaded, ProductImageUploaded};
use infra::files::FileKey;

/// Records that `product`'s new original is stored at `key` (the caller checked the product
/// with [`crate::catalog::products::get`] before storing the file).
pub async fn product_image_stored(tx: &TenantTx, product: Uuid, key: &FileKey) -> DomainResult<EventEnvelope> {
    Ok(outbox::record(tx, Event::ProductImageUploaded(ProductImageUploaded { product_id: product, original_key: key.as_str().to_owned() })).await?)
}

/// Records that the tenant's new logo original is stored at `key`.
pub async fn logo_stored(tx: &TenantTx, key: &FileKey) -> DomainResult<EventEnvelope> {
    Ok(outbox::record(tx, Event::LogoUploaded(LogoUploaded { original_key: key.as_str().to_owned() })).await?)
}
