//! Backup targets off the machine (compartment.yml's
//! `environments.<env>.backups`): a directory on another disk, an SFTP
//! server reached through the user's own `ssh`, and S3-compatible object
//! storage. The only user of `opendal` (local directories and S3) and
//! `openssh-sftp-client` (SFTP over `ssh -s sftp`). Files stream through in
//! chunks, never whole in memory, and every transfer hashes what it moves
//! (sha256) so that the caller can record it and check it on the way back.
//! A file appears under its final name only once it is complete.

pub mod location;
mod object;
mod sftp;

pub use location::Location;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The size of one chunk read from or written to a target.
const CHUNK: usize = 4 << 20;

/// A target's failure, naming the target, what was being done and why.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("backup target `{target}` ({url}): {action}: {source}")]
    Object {
        target: String,
        url: String,
        action: String,
        source: opendal::Error,
    },
    #[error("backup target `{target}` ({url}): {action}: {source}")]
    Sftp {
        target: String,
        url: String,
        action: String,
        source: openssh_sftp_client::Error,
    },
    #[error("backup target `{target}` ({url}): ssh did not open an SFTP session: {reason}")]
    Ssh {
        target: String,
        url: String,
        reason: String,
    },
    #[error("backup target `{target}` ({url}): {action} {}: {source}", path.display())]
    Local {
        target: String,
        url: String,
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backup target `{target}` ({url}) needs {variable} in the environment: {why}")]
    Environment {
        target: String,
        url: String,
        variable: &'static str,
        why: &'static str,
    },
    #[error("backup target `{target}` ({url}) has no `{key}`")]
    Missing {
        target: String,
        url: String,
        key: String,
    },
}

/// What one transfer moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub bytes: u64,
    /// sha256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// An open backup target.
pub struct Store {
    name: String,
    url: String,
    inner: Inner,
}

enum Inner {
    Object(opendal::Operator),
    Sftp(sftp::Session),
}

impl Store {
    /// Opens target `name` at `location` (an SFTP target starts its ssh).
    pub async fn open(name: &str, location: &Location) -> Result<Store, StorageError> {
        let (name, url) = (name.to_string(), location.to_string());
        let inner = match location {
            Location::Sftp {
                user,
                host,
                port,
                path,
            } => Inner::Sftp(
                sftp::Session::connect(user.as_deref(), host, *port, path)
                    .await
                    .map_err(|e| e.into_error(&name, &url))?,
            ),
            other => Inner::Object(object::operator(other).map_err(|e| e.into_error(&name, &url))?),
        };
        Ok(Store { name, url, inner })
    }

    /// Streams the local file `from` to `key` (`a/b/file`, under the
    /// target's root), replacing what is there.
    pub async fn put(&mut self, key: &str, from: &Path) -> Result<Moved, StorageError> {
        let mut file = tokio::fs::File::open(from)
            .await
            .map_err(|source| self.local("reading", from, source))?;
        let result = match &mut self.inner {
            Inner::Object(op) => object::put(op, key, &mut file).await,
            Inner::Sftp(s) => s.put(key, &mut file).await,
        };
        result.map_err(|e| e.into_error(&self.name, &self.url))
    }

    /// Writes a small file (`SHA256SUMS`) to `key`.
    pub async fn put_bytes(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let result = match &mut self.inner {
            Inner::Object(op) => object::put_bytes(op, key, bytes).await,
            Inner::Sftp(s) => s.put_bytes(key, &bytes).await,
        };
        result.map_err(|e| e.into_error(&self.name, &self.url))
    }

    /// Streams `key` into the new local file `to`.
    pub async fn get(&mut self, key: &str, to: &Path) -> Result<Moved, StorageError> {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(to)
            .await
            .map_err(|source| self.local("creating", to, source))?;
        let result = match &mut self.inner {
            Inner::Object(op) => object::get(op, key, &mut file).await,
            Inner::Sftp(s) => s.get(key, &mut file).await,
        };
        let moved = result.map_err(|e| e.into_error(&self.name, &self.url))?;
        use tokio::io::AsyncWriteExt;
        file.flush()
            .await
            .map_err(|source| self.local("writing", to, source))?;
        Ok(moved)
    }

    /// The size of `key`, `None` when it does not exist.
    pub async fn size(&mut self, key: &str) -> Result<Option<u64>, StorageError> {
        let result = match &mut self.inner {
            Inner::Object(op) => object::size(op, key).await,
            Inner::Sftp(s) => s.size(key).await,
        };
        result.map_err(|e| e.into_error(&self.name, &self.url))
    }

    /// Deletes the directory `dir` (a backup's own) with everything in
    /// it; what is already gone is not an error.
    pub async fn delete(&mut self, dir: &str) -> Result<(), StorageError> {
        let result = match &mut self.inner {
            Inner::Object(op) => object::delete(op, dir).await,
            Inner::Sftp(s) => s.delete(dir).await,
        };
        result.map_err(|e| e.into_error(&self.name, &self.url))
    }

    /// Ends the session (an SFTP target's ssh).
    pub async fn close(self) {
        if let Inner::Sftp(s) = self.inner {
            s.close().await;
        }
    }

    fn local(&self, action: &'static str, path: &Path, source: std::io::Error) -> StorageError {
        StorageError::Local {
            target: self.name.clone(),
            url: self.url.clone(),
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A failure inside a backend, before it is given the target's name.
enum Failure {
    Object(String, opendal::Error),
    Sftp(String, openssh_sftp_client::Error),
    Ssh(String),
    Io(&'static str, PathBuf, std::io::Error),
    Environment(&'static str, &'static str),
    Missing(String),
}

impl Failure {
    fn into_error(self, target: &str, url: &str) -> StorageError {
        let (target, url) = (target.to_string(), url.to_string());
        match self {
            Failure::Object(action, source) => StorageError::Object {
                target,
                url,
                action,
                source,
            },
            Failure::Sftp(action, source) => StorageError::Sftp {
                target,
                url,
                action,
                source,
            },
            Failure::Ssh(reason) => StorageError::Ssh {
                target,
                url,
                reason,
            },
            Failure::Io(action, path, source) => StorageError::Local {
                target,
                url,
                action,
                path,
                source,
            },
            Failure::Environment(variable, why) => StorageError::Environment {
                target,
                url,
                variable,
                why,
            },
            Failure::Missing(key) => StorageError::Missing { target, url, key },
        }
    }
}

/// Reads the next chunk (up to [`CHUNK`] bytes; empty at the end) of a
/// local file, hashing it.
async fn next_chunk(
    file: &mut tokio::fs::File,
    hash: &mut Sha256,
) -> Result<Vec<u8>, std::io::Error> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    hash.update(&buf);
    Ok(buf)
}

fn finish(hash: Sha256, bytes: u64) -> Moved {
    Moved {
        bytes,
        sha256: hex::encode(hash.finalize()),
    }
}
