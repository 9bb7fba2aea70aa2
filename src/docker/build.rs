//! Image builds: packing a build context as a tar archive and running the
//! engine's classic builder on it. What a context holds (`.dockerignore`,
//! links) and its hash are decided in one place, `crate::support::context`,
//! so the archive sent is exactly what the image tag's hash covers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::Path;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use super::error::one_line;
use super::{reason_of, Docker, DockerError};
use crate::support::context::{self, DOCKERFILE};

/// How many lines of builder output a build error may quote.
const OUTPUT_TAIL: usize = 5;

fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Docker {
    /// Deterministic hex SHA-256 of a build context (`support::context::hash`:
    /// what is hashed is what `build_image` sends); use it in image tags so
    /// unchanged sources are not rebuilt.
    pub fn context_hash(context_dir: &Path) -> io::Result<String> {
        context::hash(context_dir)
    }

    /// Builds `context_dir` (with its `Dockerfile` at the root) into the image
    /// `tag` with the classic builder, passing `build_args` and setting
    /// `labels` on the image. Intermediate containers are removed even when a
    /// step fails; the error names the failing step and its message.
    pub async fn build_image(
        &self,
        context_dir: &Path,
        tag: &str,
        build_args: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), DockerError> {
        let dir = context_dir.to_path_buf();
        let archive = tokio::task::spawn_blocking(move || context::pack(&dir))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
            .map_err(|source| DockerError::BuildContext {
                path: context_dir.to_path_buf(),
                source,
            })?;
        self.build_archive(archive, tag, build_args, labels).await
    }

    /// Builds the tar `archive` of a build context (its `Dockerfile` at the
    /// root) into the image `tag`.
    pub(super) async fn build_archive(
        &self,
        archive: Vec<u8>,
        tag: &str,
        build_args: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), DockerError> {
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(DOCKERFILE)
            .t(tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&to_hash_map(build_args))
            .labels(&to_hash_map(labels))
            .build();
        let mut stream =
            self.client
                .build_image(options, None, Some(bollard::body_full(archive.into())));
        let mut step: Option<String> = None;
        let mut tail: VecDeque<String> = VecDeque::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    for line in info.stream.as_deref().unwrap_or_default().lines() {
                        let line = line.trim();
                        if line.is_empty() {
                            continue;
                        }
                        if line.starts_with("Step ") {
                            step = Some(one_line(line));
                            tail.clear();
                        } else {
                            if tail.len() == OUTPUT_TAIL {
                                tail.pop_front();
                            }
                            tail.push_back(one_line(line));
                        }
                    }
                }
                Err(e) => {
                    let message = reason_of(&e);
                    let reason = match &step {
                        Some(step) => format!("{step}: {message}"),
                        None => message,
                    };
                    return Err(DockerError::Build {
                        tag: tag.to_string(),
                        reason,
                    });
                }
            }
        }
        if self.image_exists(tag).await? {
            Ok(())
        } else {
            let last = tail.back().cloned().unwrap_or_default();
            Err(DockerError::Build {
                tag: tag.to_string(),
                reason: format!("the builder finished without producing the image ({last})"),
            })
        }
    }
}
