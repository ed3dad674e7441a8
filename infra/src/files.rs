//! Tenant files (product images, logos) behind one small storage trait. Keys are built only
//! from a tenant id, a record id and a fixed name (`tenants/<tenant_id>/products/<id>/card.webp`),
//! never from client input, so one tenant can neither read nor overwrite another's files and a
//! key can never climb out of the store (`..`).
//!
//! The local-disk store is the default (`files.dir`); an S3-compatible store would implement
//! the same trait (not written yet).

use std::path::PathBuf;

use uuid::Uuid;

/// A storage key: relative, `/`-separated, made of UUIDs and fixed names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey(String);

/// The resized WebP variants of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Thumbnail,
    Card,
    Full,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Thumbnail, Variant::Card, Variant::Full];

    pub fn name(self) -> &'static str {
        match self {
            Self::Thumbnail => "thumbnail",
            Self::Card => "card",
            Self::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// The longest side in pixels (images are never enlarged).
    pub fn max_side(self) -> u32 {
        match self {
            Self::Thumbnail => 160,
            Self::Card => 480,
            Self::Full => 1600,
        }
    }
}

impl FileKey {
    /// The upload as received (private: never served; variants are made from it).
    pub fn product_original(tenant: Uuid, product: Uuid) -> Self {
        Self(format!("tenants/{tenant}/products/{product}/original"))
    }
    pub fn product_variant(tenant: Uuid, product: Uuid, variant: Variant) -> Self {
        Self(format!("tenants/{tenant}/products/{product}/{}.webp", variant.name()))
    }
    pub fn logo_original(tenant: Uuid) -> Self {
        Self(format!("tenants/{tenant}/branding/logo-original"))
    }
    /// The logo is one variant: the card size.
    pub fn logo(tenant: Uuid) -> Self {
        Self(format!("tenants/{tenant}/branding/logo.webp"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where tenant files live.
#[allow(async_fn_in_trait)]
pub trait FileStore {
    /// Stores `bytes` under `key`, replacing what was there atomically (readers see the old or
    /// the new file, never half of one).
    async fn put(&self, key: &FileKey, bytes: &[u8]) -> std::io::Result<()>;
    /// The file, or `None` when there is none.
    async fn get(&self, key: &FileKey) -> std::io::Result<Option<Vec<u8>>>;
    /// A version of the file for cache-busting URLs (`None` when absent).
    fn version(&self, key: &FileKey) -> Option<u64>;
}

/// Files on the droplet's disk under one directory (`files.dir`).
#[derive(Debug, Clone)]
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    fn path(&self, key: &FileKey) -> PathBuf {
        self.root.join(&key.0)
    }
}

impl FileStore for LocalDisk {
    async fn put(&self, key: &FileKey, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("keys have a directory");
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        Ok(())
    }

    async fn get(&self, key: &FileKey) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(key)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn version(&self, key: &FileKey) -> Option<u64> {
        let modified = std::fs::metadata(self.path(key)).ok()?.modified().ok()?;
        modified.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_namespaced_by_tenant_and_writes_replace_whole_files() {
        let (t, p) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(FileKey::product_variant(t, p, Variant::Card).as_str(), format!("tenants/{t}/products/{p}/card.webp"));
        let dir = std::env::temp_dir().join(format!("bc-files-{}", Uuid::new_v4().simple()));
        let store = LocalDisk::new(&dir);
        let key = FileKey::product_variant(t, p, Variant::Card);
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert!(store.version(&key).is_none());
        store.put(&key, b"one").await.unwrap();
        store.put(&key, b"two").await.unwrap();
        assert_eq!(store.get(&key).await.unwrap().as_deref(), Some(&b"two"[..]));
        assert!(store.version(&key).is_some());
        let other = FileKey::product_variant(Uuid::new_v4(), p, Variant::Card);
        assert_eq!(store.get(&other).await.unwrap(), None, "another tenant's key is another file");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
