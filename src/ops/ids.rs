//! Backup ids: `rbak_` followed by 20 random characters from the lowercase
//! base32 alphabet (`a-z2-7`), 100 random bits, e.g. `rbak_k3v9...`.

use rand::Rng;

/// The prefix of every backup id.
pub const BACKUP_ID_PREFIX: &str = "rbak_";

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const RANDOM_CHARS: usize = 20;

/// A new random backup id.
pub fn new_backup_id() -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(BACKUP_ID_PREFIX.len() + RANDOM_CHARS);
    id.push_str(BACKUP_ID_PREFIX);
    for _ in 0..RANDOM_CHARS {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// Whether `s` has the shape of a backup id made by `new_backup_id`.
pub fn is_backup_id(s: &str) -> bool {
    s.strip_prefix(BACKUP_ID_PREFIX).is_some_and(|rest| {
        rest.len() == RANDOM_CHARS && rest.bytes().all(|b| ALPHABET.contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn format_and_uniqueness() {
        let mut seen = HashSet::new();
        let mut used = HashSet::new();
        for _ in 0..10_000 {
            let id = new_backup_id();
            assert_eq!(id.len(), 25, "{id}");
            assert!(id.starts_with("rbak_"), "{id}");
            assert!(id[5..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
            assert!(is_backup_id(&id), "{id}");
            used.extend(id[5..].bytes());
            assert!(seen.insert(id), "duplicate id");
        }
        // The whole alphabet is in use (a broken generator would not be).
        assert_eq!(used.len(), 32);
        for bad in [
            "rbak_123",
            "rbak_ABCDEFGHIJKLMNOPQRST",
            "bak_abcdefghijklmnopqrst",
            "rbak_abcdefghijklmnopqrs1",
        ] {
            assert!(!is_backup_id(bad), "{bad}");
        }
    }
}
