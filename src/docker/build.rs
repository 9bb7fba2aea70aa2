//! Image builds: reading a build context (honouring a minimal `.dockerignore`),
//! hashing it deterministically so unchanged sources are not rebuilt, packing
//! it as a tar archive and running the engine's classic builder on it.
//!
//! `.dockerignore` support: one pattern per line, `#` comments, `!` exceptions
//! (last matching line wins), `*` and `?` within a path segment, `**` across
//! segments, a leading `/` or `./` is ignored, and a pattern matching a
//! directory excludes everything below it. Character classes (`[a-z]`) are
//! not supported (taken literally). `Dockerfile` and `.dockerignore` are always
//! sent, as the Docker CLI does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::error::one_line;
use super::{reason_of, Docker, DockerError};

/// The Dockerfile's name, at the context root.
const DOCKERFILE: &str = "Dockerfile";
const DOCKERIGNORE: &str = ".dockerignore";

/// How many lines of builder output a build error may quote.
const OUTPUT_TAIL: usize = 5;

/// One `.dockerignore` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IgnoreRule {
    negate: bool,
    segments: Vec<String>,
}

/// The parsed `.dockerignore` of a context.
#[derive(Debug, Default)]
struct DockerIgnore {
    rules: Vec<IgnoreRule>,
}

impl DockerIgnore {
    fn parse(text: &str) -> DockerIgnore {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let segments: Vec<String> = pattern
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_string)
                .collect();
            if !segments.is_empty() {
                rules.push(IgnoreRule { negate, segments });
            }
        }
        DockerIgnore { rules }
    }

    fn load(context_dir: &Path) -> io::Result<DockerIgnore> {
        match fs::read_to_string(context_dir.join(DOCKERIGNORE)) {
            Ok(text) => Ok(DockerIgnore::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(e) => Err(e),
        }
    }

    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.negate)
    }

    /// Whether the `/`-separated relative path is excluded from the context.
    fn is_excluded(&self, rel: &str) -> bool {
        if rel == DOCKERFILE || rel == DOCKERIGNORE {
            return false;
        }
        let path: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for rule in &self.rules {
            // A rule matching the path itself or one of its parent directories.
            if (1..=path.len()).any(|n| match_segments(&rule.segments, &path[..n])) {
                excluded = !rule.negate;
            }
        }
        excluded
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => wildcard(first, name) && match_segments(rest, path_rest),
            None => false,
        },
    }
}

/// `*` (any run) and `?` (one char) matching within one path segment;
/// `\` escapes the next character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|skip| go(rest, &n[skip..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == Some(&rest[0]) && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(&p, &n)
}

/// What one context entry is.
#[derive(Debug)]
enum EntryKind {
    Dir { mode: u32 },
    File { mode: u32 },
    Symlink { target: PathBuf },
}

/// One file, directory or symlink of a build context.
#[derive(Debug)]
struct Entry {
    /// `/`-separated path relative to the context root.
    rel: String,
    abs: PathBuf,
    kind: EntryKind,
    mtime: u64,
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &fs::Metadata) -> u32 {
    if meta.is_dir() {
        0o755
    } else {
        0o644
    }
}

/// The entries of the context, `.dockerignore` applied, sorted by path.
fn context_entries(context_dir: &Path) -> io::Result<Vec<Entry>> {
    let root_meta = fs::metadata(context_dir)?;
    if !root_meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a directory",
        ));
    }
    let ignore = DockerIgnore::load(context_dir)?;
    let mut entries = Vec::new();
    walk(context_dir, "", &ignore, &mut entries)?;
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries)
}

fn walk(dir: &Path, rel_dir: &str, ignore: &DockerIgnore, out: &mut Vec<Entry>) -> io::Result<()> {
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name();
        let name = name.to_str().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file name {:?} in {} is not UTF-8", name, dir.display()),
            )
        })?;
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let abs = item.path();
        let meta = fs::symlink_metadata(&abs)?;
        let excluded = ignore.is_excluded(&rel);
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            if !excluded || ignore.has_exceptions() {
                walk(&abs, &rel, ignore, out)?;
            }
            EntryKind::Dir {
                mode: mode_of(&meta),
            }
        } else if file_type.is_file() {
            EntryKind::File {
                mode: mode_of(&meta),
            }
        } else if file_type.is_symlink() {
            EntryKind::Symlink {
                target: fs::read_link(&abs)?,
            }
        } else {
            continue; // sockets, fifos, devices: never part of a context
        };
        if !excluded {
            out.push(Entry {
                rel,
                abs,
                kind,
                mtime,
            });
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Hex SHA-256 over the sorted relative paths, kinds, contents, exec bits and
/// symlink targets of the context (after `.dockerignore`). Timestamps,
/// owners and other permission bits do not count.
pub(super) fn context_hash(context_dir: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(b"compartment-context-v1\0");
    for entry in context_entries(context_dir)? {
        match &entry.kind {
            EntryKind::Dir { .. } => {
                hasher.update(b"D\0");
                hasher.update(entry.rel.as_bytes());
                hasher.update(b"\0");
            }
            EntryKind::File { mode } => {
                hasher.update(b"F\0");
                hasher.update(entry.rel.as_bytes());
                hasher.update(if mode & 0o111 != 0 {
                    b"\0x\0"
                } else {
                    b"\0-\0"
                });
                hasher.update(sha256_file(&entry.abs)?);
            }
            EntryKind::Symlink { target } => {
                hasher.update(b"L\0");
                hasher.update(entry.rel.as_bytes());
                hasher.update(b"\0");
                hasher.update(target.to_string_lossy().as_bytes());
                hasher.update(b"\0");
            }
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The context as an (uncompressed, in-memory) tar archive.
fn pack_context(context_dir: &Path) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for entry in context_entries(context_dir)? {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(entry.mtime);
        match &entry.kind {
            EntryKind::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                tar.append_data(&mut header, format!("{}/", entry.rel), io::empty())?;
            }
            EntryKind::File { mode } => {
                let file = fs::File::open(&entry.abs)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(file.metadata()?.len());
                tar.append_data(&mut header, &entry.rel, file)?;
            }
            EntryKind::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, &entry.rel, target)?;
            }
        }
    }
    tar.into_inner()
}

fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Docker {
    /// Deterministic hex SHA-256 of a build context (see the module docs for
    /// what counts); use it in image tags so unchanged sources are not rebuilt.
    pub fn context_hash(context_dir: &Path) -> io::Result<String> {
        context_hash(context_dir)
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
        let archive = tokio::task::spawn_blocking(move || pack_context(&dir))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
            .map_err(|source| DockerError::BuildContext {
                path: context_dir.to_path_buf(),
                source,
            })?;
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

#[cfg(test)]
mod unit {
    use super::DockerIgnore;

    #[test]
    fn dockerignore_patterns() {
        let ignore = DockerIgnore::parse(
            "# comment\n\n/target\n*.log\n**/node_modules\n!keep.log\ndocs/*.md\nDockerfile\n",
        );
        assert!(ignore.is_excluded("target"));
        assert!(ignore.is_excluded("target/debug/x"));
        assert!(ignore.is_excluded("a.log"));
        assert!(!ignore.is_excluded("keep.log"));
        assert!(!ignore.is_excluded("sub/a.log"), "`*` does not cross `/`");
        assert!(ignore.is_excluded("node_modules/x"));
        assert!(ignore.is_excluded("web/app/node_modules/x/y"));
        assert!(ignore.is_excluded("docs/a.md"));
        assert!(!ignore.is_excluded("docs/sub/a.md"));
        assert!(!ignore.is_excluded("src/main.rs"));
        assert!(
            !ignore.is_excluded("Dockerfile"),
            "the Dockerfile is always sent"
        );
    }
}
