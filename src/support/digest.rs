//! Content digests: the lowercase hex sha256 used for input files, build
//! contexts, definitions and secret fingerprints; and the salted, slow hash
//! (argon2id) under which the state keeps the values of sensitive instance
//! inputs.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How state files before format 3 kept a sensitive value: `sha256:` and
/// the hex sha256 of its canonical JSON, unsalted.
pub const LEGACY_SECRET_PREFIX: &str = "sha256:";

/// The salted, slow hash of a secret whose canonical form (JSON text) is
/// `canonical`: argon2id with a random 16-byte salt and the `argon2`
/// crate's default cost (19 MiB, 2 passes, 1 lane), as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). What is hashed is the
/// hex sha256 of `canonical`, so an old state's unsalted digest can be
/// upgraded without the secret (see [`upgrade_legacy_secret`]).
pub fn secret_hash(canonical: &str) -> String {
    let salt: [u8; 16] = rand::random();
    hash_prehashed(&sha256_hex(canonical.as_bytes()), &salt)
}

/// Whether `stored` (a [`secret_hash`] string) is the hash of the secret
/// whose canonical form is `canonical`.
pub fn secret_matches(canonical: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(sha256_hex(canonical.as_bytes()).as_bytes(), &parsed)
        .is_ok()
}

/// The [`secret_hash`] form of a legacy `sha256:<hex>` digest, salted with
/// `salt_source` (which the caller makes unique per state and value, so
/// reading one old file twice gives the same result). `None` for a string
/// that is not a legacy digest.
pub fn upgrade_legacy_secret(stored: &str, salt_source: &str) -> Option<String> {
    let hex = stored.strip_prefix(LEGACY_SECRET_PREFIX)?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let salt = Sha256::digest(salt_source.as_bytes());
    Some(hash_prehashed(hex, &salt[..16]))
}

fn hash_prehashed(prehash: &str, salt: &[u8]) -> String {
    let salt = SaltString::encode_b64(salt).expect("16 bytes are a valid salt");
    Argon2::default()
        .hash_password(prehash.as_bytes(), &salt)
        .expect("argon2id with default parameters cannot fail")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hashes_are_salted_and_verify() {
        let a = secret_hash("\"hunter2\"");
        let b = secret_hash("\"hunter2\"");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a random salt each time");
        assert!(secret_matches("\"hunter2\"", &a) && secret_matches("\"hunter2\"", &b));
        assert!(!secret_matches("\"hunter3\"", &a));
        assert!(!secret_matches("\"hunter2\"", "sha256:00"));
    }

    #[test]
    fn legacy_digests_upgrade_deterministically_and_still_verify() {
        let legacy = format!("sha256:{}", sha256_hex(b"\"hunter2\""));
        let up = upgrade_legacy_secret(&legacy, "lineage/downtown/secret").unwrap();
        assert_eq!(
            Some(&up),
            upgrade_legacy_secret(&legacy, "lineage/downtown/secret").as_ref()
        );
        assert_ne!(
            Some(&up),
            upgrade_legacy_secret(&legacy, "other/downtown/secret").as_ref()
        );
        assert!(secret_matches("\"hunter2\"", &up));
        assert_eq!(upgrade_legacy_secret("plain", "x"), None);
        assert_eq!(upgrade_legacy_secret(&up, "x"), None);
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
