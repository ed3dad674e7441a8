//! Image variants: from an uploaded original (already checked by the vertical), the WebP
//! thumbnail, card and full sizes of a product image, or the tenant's logo — re-encoded from
//! decoded pixels (no metadata survives) and resized here, off the request path.
//!
//! Keys are rebuilt from the event's tenant and product ids, never taken from the payload, so
//! an event can only ever touch its own tenant's files. Writing a variant twice writes the same
//! bytes, so redeliveries are harmless.

use infra::events::Event;
use infra::files::{FileKey, FileStore, LocalDisk, Variant};
use uuid::Uuid;

use super::EngineError;

pub async fn apply(files: &LocalDisk, tenant: Uuid, event: &Event) -> Result<(), EngineError> {
    let jobs: Vec<(FileKey, Vec<(Variant, FileKey)>)> = match event {
        Event::ProductImageUploaded(upload) => {
            let product = upload.product_id;
            let variants = Variant::ALL.iter().map(|v| (*v, FileKey::product_variant(tenant, product, *v))).collect();
            vec![(FileKey::product_original(tenant, product), variants)]
        }
        Event::LogoUploaded(_) => vec![(FileKey::logo_original(tenant), vec![(Variant::Card, FileKey::logo(tenant))])],
        _ => return Ok(()),
    };
    for (original, variants) in jobs {
        let bytes = files.get(&original).await.map_err(|e| EngineError::Db(format!("read {}: {e}", original.as_str())))?;
        let bytes = bytes.ok_or_else(|| EngineError::Payload(format!("{} is missing", original.as_str())))?;
        let sizes: Vec<Variant> = variants.iter().map(|(v, _)| *v).collect();
        // An original over the limits (a poison image) is a permanent failure: dead-lettered at
        // once, never retried into another decode. A failed task is not the image's fault.
        let encoded = infra::images::off_thread(move || {
            let img = infra::images::decode(&bytes)?;
            sizes.into_iter().map(|v| infra::images::variant(&img, v)).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| match e {
            infra::images::ImageError::Task(_) => EngineError::Db(e.to_string()),
            other => EngineError::Payload(other.to_string()),
        })?;
        for ((_, key), webp) in variants.iter().zip(encoded) {
            files.put(key, &webp).await.map_err(|e| EngineError::Db(format!("write {}: {e}", key.as_str())))?;
        }
    }
    Ok(())
}
