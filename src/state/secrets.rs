//! Sealing sensitive values: XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`, an audited AEAD) under a key that never lives in the
//! repository. The key comes from `COMPARTMENT_SECRET_KEY` or from a key file
//! in the user's config directory, created on first use by a command that
//! writes secrets. Each value is bound to its identity (associated data), so
//! a sealed value copied to another variable does not open.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use thiserror::Error;

/// A sealed value as stored: `v1:<base64url(nonce ‖ ciphertext)>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

#[derive(Debug, Error)]
pub enum SecretError {
    #[error(
        "no secret key: set COMPARTMENT_SECRET_KEY or create the key file {path} (the first `compartment apply` creates it); the state's sensitive values cannot be read without the key that sealed them"
    )]
    NoKey { path: String },
    #[error("cannot read the secret key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("the key file {path} is empty or malformed: it must hold 32 bytes in base64 (the first `compartment apply` writes one); an empty file is not a key")]
    Malformed { path: String },
    #[error("the key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
    #[error("this state was sealed with the key {recorded}, but the configured key is {found}; set COMPARTMENT_SECRET_KEY (or the key file) to the key that wrote this state; nothing was sealed")]
    OtherKey { recorded: String, found: String },
    #[error("a sealed value in the state does not open with this key ({what}): is COMPARTMENT_SECRET_KEY (or the key file) the one that wrote this state?")]
    WrongKey { what: String },
    #[error(
        "no backup key: set COMPARTMENT_BACKUP_KEY or put the key file {path} back (the first backup created it); encrypted backup artifacts cannot be read without the key that wrote them"
    )]
    NoBackupKey { path: String },
}

/// Where a key comes from: its variable and its key file.
#[derive(Clone, Copy)]
pub struct KeySpec {
    pub variable: &'static str,
    pub file: fn() -> PathBuf,
    created: &'static std::sync::OnceLock<PathBuf>,
}

/// The state's secret key.
pub const SECRET: KeySpec = KeySpec {
    variable: "COMPARTMENT_SECRET_KEY",
    file: key_file,
    created: &CREATED,
};

/// The key of encrypted backup artifacts: kept like the secret key, apart
/// from it (an artifact copied elsewhere does not carry the state's key).
pub const BACKUP: KeySpec = KeySpec {
    variable: "COMPARTMENT_BACKUP_KEY",
    file: backup_key_file,
    created: &CREATED_BACKUP,
};

/// The backup key file: `$XDG_CONFIG_HOME/compartment/backup.key`.
pub fn backup_key_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("compartment")
        .join("backup.key")
}

static CREATED_BACKUP: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The backup key file this process created, if any.
pub fn created_backup_key_file() -> Option<&'static PathBuf> {
    CREATED_BACKUP.get()
}

/// The key that seals and opens values.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The key file: `$XDG_CONFIG_HOME/compartment/secret.key` (or the
/// platform's config directory).
pub fn key_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("compartment")
        .join("secret.key")
}

/// The key file this process created, if it created one (for the one
/// notice telling the user to back it up).
static CREATED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The key file this process created, if any.
pub fn created_key_file() -> Option<&'static PathBuf> {
    CREATED.get()
}

/// Where the secret key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `COMPARTMENT_SECRET_KEY`.
    Variable,
    /// The key file, which exists.
    File(PathBuf),
    /// No key yet; the first secret write creates this file.
    NotYet(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Variable => write!(f, "the COMPARTMENT_SECRET_KEY variable"),
            KeySource::File(p) => write!(f, "the key file {}", p.display()),
            KeySource::NotYet(p) => write!(
                f,
                "none yet (the first apply or sensitive `variable set` creates {})",
                p.display()
            ),
        }
    }
}

/// Which key commands use now.
pub fn key_source() -> KeySource {
    if std::env::var("COMPARTMENT_SECRET_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return KeySource::Variable;
    }
    let path = key_file();
    if path.exists() {
        KeySource::File(path)
    } else {
        KeySource::NotYet(path)
    }
}

impl SecretKey {
    /// From text: 32 bytes in base64 (standard or url-safe), or else any
    /// passphrase, stretched with sha256.
    pub fn from_text(s: &str) -> SecretKey {
        let s = s.trim();
        if let Ok(b) = STANDARD.decode(s).or_else(|_| URL_SAFE_NO_PAD.decode(s)) {
            if let Ok(k) = <[u8; 32]>::try_from(b.as_slice()) {
                return SecretKey(k);
            }
        }
        SecretKey(Sha256::digest(s.as_bytes()).into())
    }

    /// The configured key, if any. An empty or
    /// malformed key file and a key file readable by group or others are
    /// refused: none of them silently means a well-known key. A blank
    /// `COMPARTMENT_SECRET_KEY` counts as unset.
    pub fn load() -> Result<Option<SecretKey>, SecretError> {
        SecretKey::load_of(SECRET)
    }

    /// The key `spec` configures, if any (see [`SecretKey::load`]).
    pub fn load_of(spec: KeySpec) -> Result<Option<SecretKey>, SecretError> {
        if let Ok(k) = std::env::var(spec.variable) {
            if !k.trim().is_empty() {
                return Ok(Some(SecretKey::from_text(&k)));
            }
        }
        let path = (spec.file)();
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                check_mode(&path)?;
                SecretKey::from_file_text(&s)
                    .map(Some)
                    .ok_or_else(|| SecretError::Malformed {
                        path: path.display().to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SecretError::KeyFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// A key file's content: exactly 32 bytes in base64.
    fn from_file_text(s: &str) -> Option<SecretKey> {
        let s = s.trim();
        let b = STANDARD
            .decode(s)
            .or_else(|_| URL_SAFE_NO_PAD.decode(s))
            .ok()?;
        <[u8; 32]>::try_from(b.as_slice()).ok().map(SecretKey)
    }

    /// The raw key bytes, for a cipher of another module (backup artifacts).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `sha256:` and 16 hex digits of a domain-separated sha256 of the key:
    /// names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"compartment secret key fingerprint\0");
        h.update(self.0);
        format!("sha256:{}", &hex::encode(h.finalize())[..16])
    }

    /// The configured key, or an error saying how to provide one.
    pub fn require() -> Result<SecretKey, SecretError> {
        SecretKey::require_of(SECRET)
    }

    /// The key `spec` configures, or an error saying how to provide one.
    pub fn require_of(spec: KeySpec) -> Result<SecretKey, SecretError> {
        let path = (spec.file)().display().to_string();
        SecretKey::load_of(spec)?.ok_or(match spec.variable {
            "COMPARTMENT_BACKUP_KEY" => SecretError::NoBackupKey { path },
            _ => SecretError::NoKey { path },
        })
    }

    /// The configured key, creating the key file (mode 0600, in a
    /// directory of mode 0700) when there is none. Used by commands that
    /// write secrets (apply, variable set). Creation is atomic: the key is
    /// written to a temporary file that is hard-linked into place, so a
    /// concurrent first run either wins or reads the winner's complete key.
    pub fn load_or_create() -> Result<SecretKey, SecretError> {
        SecretKey::load_or_create_of(SECRET)
    }

    /// The key `spec` configures, its key file created when there is none
    /// (see [`SecretKey::load_or_create`]).
    pub fn load_or_create_of(spec: KeySpec) -> Result<SecretKey, SecretError> {
        if let Some(k) = SecretKey::load_of(spec)? {
            return Ok(k);
        }
        let path = (spec.file)();
        let err = |e: std::io::Error| SecretError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(err)?;
        }
        let key: [u8; 32] = rand::random();
        let text = STANDARD.encode(key);
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        use std::io::Write;
        let written = opts.open(&tmp).and_then(|mut f| {
            f.write_all(format!("{text}\n").as_bytes())?;
            f.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let _ = spec.created.set(path);
                Ok(SecretKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => SecretKey::require_of(spec),
            Err(e) => Err(err(e)),
        }
    }

    /// Seals `plaintext`, bound to `identity` (e.g. `resource/db/POSTGRES_PASSWORD`).
    pub fn seal(&self, identity: &str, plaintext: &str) -> Sealed {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ct = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: identity.as_bytes(),
                },
            )
            .expect("encryption of a string cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend(ct);
        Sealed(format!("v1:{}", URL_SAFE_NO_PAD.encode(out)))
    }

    pub fn open(&self, identity: &str, sealed: &Sealed) -> Result<String, SecretError> {
        let wrong = || SecretError::WrongKey {
            what: identity.to_string(),
        };
        let body = sealed.0.strip_prefix("v1:").ok_or_else(wrong)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| wrong())?;
        if bytes.len() < 24 {
            return Err(wrong());
        }
        let (nonce, ct) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let pt = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: identity.as_bytes(),
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(pt).map_err(|_| wrong())
    }
}

/// Refuses a key file readable by group or others, as ssh does.
fn check_mode(path: &std::path::Path) -> Result<(), SecretError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Exposed {
                    path: path.display().to_string(),
                    mode,
                });
            }
        }
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_bound_to_identity() {
        let k = SecretKey::from_text("a passphrase");
        let s = k.seal("resource/db/PW", "hunter2");
        assert!(!s.0.contains("hunter2"));
        assert_eq!(k.open("resource/db/PW", &s).unwrap(), "hunter2");
        assert!(k.open("resource/db/OTHER", &s).is_err());
        assert!(SecretKey::from_text("another")
            .open("resource/db/PW", &s)
            .is_err());
        assert_ne!(k.seal("x", "v"), k.seal("x", "v"), "nonces differ");
    }
}
