//! Files in and out of a disposable container through the engine's archive
//! API: the container's directory is a scratch volume, filled from a local
//! directory before the container starts and copied back into one after it
//! exits. For an engine on another machine, where a bind mount would name
//! the other machine's disk, and wherever each file must pass through a
//! transform on its way (backup artifacts encrypted as they come out,
//! decrypted as they go in). Both directions stream: no archive is held in
//! memory whole.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{engine_error, ContainerSpec, Docker, DockerError, Mount, RunOutcome};

/// How a file copied out of a container is written: (its path relative to
/// the directory, what the container wrote, the local file).
pub type Seal =
    Arc<dyn Fn(&Path, &mut dyn Read, &mut dyn Write) -> std::io::Result<()> + Send + Sync>;

/// How a local file is read into a container: (its path relative to the
/// directory, the open file) → (the length the container receives, what
/// it receives).
pub type Unseal =
    Arc<dyn Fn(&Path, std::fs::File) -> std::io::Result<(u64, Box<dyn Read + Send>)> + Send + Sync>;

/// What travels through a disposable container's directory.
#[derive(Clone, Default)]
pub struct DirFiles<'a> {
    /// Copied in before the container starts.
    pub upload: Option<&'a Path>,
    /// The directory is mounted read-only.
    pub read_only: bool,
    /// Where what the directory holds after the exit is copied.
    pub download: Option<&'a Path>,
    /// Each file copied out passes through it.
    pub seal: Option<Seal>,
    /// Each file copied in passes through it.
    pub unseal: Option<Unseal>,
}

fn packing(e: std::io::Error) -> DockerError {
    DockerError::Engine {
        action: "pack the files for the container".into(),
        reason: e.to_string(),
    }
}

fn unpacking(e: std::io::Error) -> DockerError {
    DockerError::Engine {
        action: "unpack the files of the container".into(),
        reason: e.to_string(),
    }
}

impl Docker {
    /// Runs `spec` to completion with `dir` a scratch volume (mounted
    /// read-only when `read_only`): the files of `upload` are copied into
    /// it first (through a container that is created, never started, and
    /// removed), and what it holds after the exit is copied into
    /// `download`. The volume and the containers are always removed.
    pub async fn run_with_dir(
        &self,
        spec: &ContainerSpec,
        dir: &str,
        files: DirFiles<'_>,
    ) -> Result<RunOutcome, DockerError> {
        let volume = format!("{}-files", spec.name);
        self.ensure_volume(&volume, &spec.labels).await?;
        let outcome = self.fill_and_run(spec, dir, &volume, files).await;
        let removed = self.remove_volume(&volume).await;
        let outcome = outcome?;
        removed?;
        Ok(outcome)
    }

    async fn fill_and_run(
        &self,
        spec: &ContainerSpec,
        dir: &str,
        volume: &str,
        files: DirFiles<'_>,
    ) -> Result<RunOutcome, DockerError> {
        if let Some(local) = files.upload {
            let mut filler = ContainerSpec::new(format!("{}-fill", spec.name), spec.image.clone());
            filler.labels = spec.labels.clone();
            filler
                .mounts
                .push(Mount::volume(volume.to_string(), dir.to_string()));
            let id = self.create_container(&filler).await?;
            let copied = self.copy_in(&id, dir, local, files.unseal.clone()).await;
            self.remove_container(&id, true).await?;
            copied?;
        }
        let mut spec = spec.clone();
        let mut mount = Mount::volume(volume.to_string(), dir.to_string());
        mount.read_only = files.read_only;
        spec.mounts.push(mount);
        let around = super::containers::Around {
            after_exit: files
                .download
                .map(|local| (dir.to_string(), local.to_path_buf())),
            seal: files.seal,
        };
        self.run_to_completion_around(&spec, around).await
    }

    /// Copies the files of the local directory `from` into `dir` of the
    /// created container `id`, each through `unseal` when given, as a tar
    /// stream built while it is sent.
    pub(super) async fn copy_in(
        &self,
        id: &str,
        dir: &str,
        from: &Path,
        unseal: Option<Unseal>,
    ) -> Result<(), DockerError> {
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
        let from = from.to_path_buf();
        let packer = tokio::task::spawn_blocking(move || {
            let mut out = ChannelWriter { tx: tx.clone() };
            let packed = pack(&from, unseal.as_ref(), &mut out);
            if let Err(e) = &packed {
                let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
            }
            packed
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let options = UploadToContainerOptions {
            path: dir.to_string(),
            ..Default::default()
        };
        let sent = self
            .client
            .upload_to_container(id, Some(options), bollard::body_try_stream(body))
            .await;
        let packed = packer
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        packed.map_err(packing)?;
        sent.map_err(|e| engine_error(format!("copy files into `{id}`"), &e))
    }

    /// Copies what `dir` of the container `id` holds into the local
    /// directory `to` (created if needed), each file through `seal` when
    /// given, unpacking the tar stream as it arrives; an entry that would
    /// land outside `to` is refused.
    pub(super) async fn copy_out(
        &self,
        id: &str,
        dir: &str,
        to: &Path,
        seal: Option<Seal>,
    ) -> Result<(), DockerError> {
        let options = DownloadFromContainerOptions {
            path: format!("{}/.", dir.trim_end_matches('/')),
        };
        let mut stream = self.client.download_from_container(id, Some(options));
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        let to = to.to_path_buf();
        let unpacker = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                buf: Bytes::new(),
            };
            unpack(reader, &to, seal.as_ref())
        });
        let mut received = Ok(());
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if tx.send(bytes).await.is_err() {
                        break; // the unpacker stopped: its error says why
                    }
                }
                Err(e) => {
                    received = Err(engine_error(format!("copy files out of `{id}`"), &e));
                    break;
                }
            }
        }
        drop(tx);
        let unpacked = unpacker
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        received?;
        unpacked.map_err(unpacking)
    }
}

/// Writes the tar of the regular files under `from` (sorted, recursively)
/// into `out`, each through `unseal` when given.
fn pack(from: &Path, unseal: Option<&Unseal>, out: &mut dyn Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(from)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for path in files {
        let rel = path.strip_prefix(from).expect("under from").to_path_buf();
        let file = std::fs::File::open(&path)?;
        let (len, mut reader): (u64, Box<dyn Read + Send>) = match unseal {
            Some(f) => f(&rel, file)?,
            None => (file.metadata()?.len(), Box::new(file)),
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(len);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &rel, &mut reader)?;
    }
    tar.finish()
}

/// Unpacks a tar stream into `to`: directories and regular files (each
/// through `seal` when given, mode 0600); anything else is skipped.
fn unpack(reader: impl Read, to: &Path, seal: Option<&Seal>) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        let inside = rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the archive names `{}`, outside the directory",
                    rel.display()
                ),
            ));
        }
        let target = to.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => std::fs::create_dir_all(&target)?,
            tar::EntryType::Regular => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut file = private_file(&target)?;
                match seal {
                    Some(f) => f(&rel, &mut entry, &mut file)?,
                    None => {
                        std::io::copy(&mut entry, &mut file)?;
                    }
                }
                file.sync_all()?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A new file readable by its owner only.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// The blocking side of a channel of byte chunks, as a `Read`.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.buf = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// The blocking side of a channel of byte chunks, as a `Write`.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(data)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading")
            })?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
