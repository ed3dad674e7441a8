//! Private keys and the ACME account at rest (issue 15, finding 5): sealed with AES-256-GCM
//! under `acme.key_encryption_key` before they reach PostgreSQL, so whoever reads the ACME
//! tables or a database backup gets no key. The row's identity (table and name) is the
//! associated data: a sealed key copied onto another row does not open, and a tampered one
//! is refused instead of served.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::AcmeError;

/// Marks a sealed value; anything else in the column is a row written before sealing existed.
const PREFIX: &str = "bcenc:v1:";

/// The cipher for the ACME tables' secrets.
pub struct KeySeal {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeySeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySeal(***)")
    }
}

impl KeySeal {
    /// From the 64 hex characters of `acme.key_encryption_key`.
    pub fn from_hex(key_hex: &str) -> Result<Self, AcmeError> {
        let bad = || AcmeError::Certificate("acme.key_encryption_key: must be 64 hex characters".into());
        let bytes = hex::decode(key_hex.trim()).map_err(|_| bad())?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad())?;
        Ok(Self { key: LessSafeKey::new(key), rng: SystemRandom::new() })
    }

    /// Whether a stored value is sealed (rather than left from before sealing existed).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// `bcenc:v1:<hex(nonce ‖ ciphertext ‖ tag)>`, bound to `row` (e.g. `acme_certificates:<name>`).
    /// A fresh random 96-bit nonce per seal: the key seals a few rows per renewal, far below the
    /// 2³² messages a random nonce allows.
    pub fn seal(&self, row: &str, plaintext: &str) -> Result<String, AcmeError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| AcmeError::Certificate("no randomness for a nonce".into()))?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(row.as_bytes()), &mut buf)
            .map_err(|_| AcmeError::Certificate("sealing failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    /// The plaintext of a sealed value of `row`; an error for a wrong key, another row's
    /// value, a tampered one or one that is not sealed at all.
    pub fn open(&self, row: &str, stored: &str) -> Result<String, AcmeError> {
        let refused = |why: &str| AcmeError::Certificate(format!("{row}: stored secret refused ({why})"));
        let body = stored.strip_prefix(PREFIX).ok_or_else(|| refused("not sealed"))?;
        let mut bytes = hex::decode(body).map_err(|_| refused("malformed"))?;
        if bytes.len() < NONCE_LEN {
            return Err(refused("malformed"));
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).map_err(|_| refused("malformed"))?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(row.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| refused("does not open with acme.key_encryption_key: another key, another row, or altered"))?;
        String::from_utf8(plain.to_vec()).map_err(|_| refused("not text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_sealed_key_opens_only_for_its_row_and_key() {
        let seal = KeySeal::from_hex(KEY).unwrap();
        let stored = seal.seal("acme_certificates:shop.example", PEM).unwrap();
        assert!(KeySeal::is_sealed(&stored));
        assert!(!stored.contains("PRIVATE KEY"), "{stored}");
        assert_eq!(seal.open("acme_certificates:shop.example", &stored).unwrap(), PEM);
        assert_ne!(stored, seal.seal("acme_certificates:shop.example", PEM).unwrap(), "a fresh nonce per seal");

        // Moved onto another name: refused.
        assert!(seal.open("acme_certificates:other.example", &stored).is_err());
        // Another key: refused.
        let other = KeySeal::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open("acme_certificates:shop.example", &stored).is_err());
        // One flipped bit: refused.
        let mut tampered = stored.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(seal.open("acme_certificates:shop.example", std::str::from_utf8(&tampered).unwrap()).is_err());
        // A plaintext row is not mistaken for a sealed one.
        assert!(!KeySeal::is_sealed(PEM));
        assert!(seal.open("acme_certificates:shop.example", PEM).is_err());
        assert!(seal.open("acme_certificates:shop.example", "bcenc:v1:00").is_err());
    }

    #[test]
    fn a_key_that_is_not_32_hex_bytes_is_refused() {
        assert!(KeySeal::from_hex("abcd").is_err());
        assert!(KeySeal::from_hex(&"zz".repeat(32)).is_err());
        assert!(KeySeal::from_hex(&"ab".repeat(33)).is_err());
    }
}
