//! Files in and out of a disposable container through the engine's archive
//! API, for an engine on another machine, where a bind mount would name the
//! other machine's disk: the container's directory is a scratch volume,
//! filled from a local directory before the container starts and copied
//! back into one after it exits (backups and restores of a remote
//! environment keep their artifacts on this machine).

use std::path::Path;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;

use super::{engine_error, ContainerSpec, Docker, DockerError, Mount, RunOutcome};

/// What travels through a disposable container's directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct DirFiles<'a> {
    /// Copied in before the container starts.
    pub upload: Option<&'a Path>,
    /// The directory is mounted read-only.
    pub read_only: bool,
    /// Where what the directory holds after the exit is copied.
    pub download: Option<&'a Path>,
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
            let copied = self.copy_in(&id, dir, local).await;
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
        };
        self.run_to_completion_around(&spec, around).await
    }

    /// Copies the files of the local directory `from` into `dir` of the
    /// created container `id`.
    pub(super) async fn copy_in(
        &self,
        id: &str,
        dir: &str,
        from: &Path,
    ) -> Result<(), DockerError> {
        let from = from.to_path_buf();
        let archive = tokio::task::spawn_blocking(move || {
            let mut tar = tar::Builder::new(Vec::new());
            tar.follow_symlinks(false);
            tar.append_dir_all(".", &from)?;
            tar.into_inner()
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
        .map_err(|e| DockerError::Engine {
            action: "pack the files for the container".into(),
            reason: e.to_string(),
        })?;
        let options = UploadToContainerOptions {
            path: dir.to_string(),
            ..Default::default()
        };
        self.client
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| engine_error(format!("copy files into `{id}`"), &e))
    }

    /// Copies what `dir` of the container `id` holds into the local
    /// directory `to` (created if needed; entries that would land outside
    /// it are refused by the tar reader).
    pub(super) async fn copy_out(&self, id: &str, dir: &str, to: &Path) -> Result<(), DockerError> {
        let options = DownloadFromContainerOptions {
            path: format!("{}/.", dir.trim_end_matches('/')),
        };
        let mut stream = self.client.download_from_container(id, Some(options));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| engine_error(format!("copy files out of `{id}`"), &e))?;
            archive.extend_from_slice(&chunk);
        }
        let to = to.to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&to)?;
            tar::Archive::new(&archive[..]).unpack(&to)
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
        .map_err(|e| DockerError::Engine {
            action: "unpack the files of the container".into(),
            reason: e.to_string(),
        })
    }
}
