//! The build context of a service: the one walk that both the context hash
//! (which tags images and decides rebuilds) and the tar archive sent to the
//! engine use, so what is hashed is exactly what is built.
//!
//! Rules, applied alike to the hash and the archive:
//! - `.dockerignore` at the context root, with Docker's semantics: one
//!   pattern per line, `#` comments, `!` exceptions (the last matching line
//!   wins), patterns anchored at the context root, `*`, `?` and `[...]`
//!   within a path segment, `**` across segments, a leading `/` or `./`
//!   dropped, and a pattern matching a directory excludes everything below
//!   it. Patterns are compiled by `globset`; `Dockerfile` and
//!   `.dockerignore` are always sent, as the Docker CLI does.
//! - `platz/` (compartment's resource types, not part of the image) and
//!   `.git/` at the root are never part of the context.
//! - Symbolic links are followed: a link to a file is hashed and sent as a
//!   regular file with its target's content and mode, a link to a directory
//!   as that directory. A dangling link is hashed and sent as a link.
//!   A link cycle is an error. Walked for a project (`entries_within` with
//!   the project directory), a link leading outside it is neither followed
//!   nor sent, and is reported.
//!
//! The hash covers the sorted relative paths, the executable bit, size and
//! content of every file, every empty directory and every dangling link;
//! timestamps, owners and other permission bits do not count.

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The Dockerfile's name, at the context root.
pub const DOCKERFILE: &str = "Dockerfile";
const DOCKERIGNORE: &str = ".dockerignore";
/// Root entries that are never part of a build context.
const NEVER_SENT: &[&str] = &["platz", ".git"];

/// What one context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        len: u64,
    },
    /// A symbolic link whose target does not exist.
    DanglingLink {
        target: PathBuf,
    },
}

/// One directory, file or dangling link of a build context.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `/`-separated path relative to the context root.
    pub rel: String,
    /// Where to read it (the link itself for a link that was followed).
    pub abs: PathBuf,
    pub kind: EntryKind,
    /// Seconds since the epoch, for the archive only.
    pub mtime: u64,
}

/// One `.dockerignore` line.
#[derive(Debug, Clone)]
struct Rule {
    negate: bool,
    matcher: GlobMatcher,
}

/// The parsed `.dockerignore` of a context.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text; an invalid pattern is an error.
    pub fn parse(text: &str) -> Result<DockerIgnore, globset::Error> {
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
            let pattern = pattern
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .collect::<Vec<_>>()
                .join("/");
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()?;
            rules.push(Rule {
                negate,
                matcher: glob.compile_matcher(),
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// The `.dockerignore` of `context_dir`; none is no rule.
    pub fn load(context_dir: &Path) -> io::Result<DockerIgnore> {
        match fs::read_to_string(context_dir.join(DOCKERIGNORE)) {
            Ok(text) => DockerIgnore::parse(&text)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(e) => Err(e),
        }
    }

    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.negate)
    }

    /// Whether the `/`-separated relative path is excluded from the context.
    pub fn is_excluded(&self, rel: &str) -> bool {
        if rel == DOCKERFILE || rel == DOCKERIGNORE {
            return false;
        }
        let prefixes: Vec<&str> = rel
            .match_indices('/')
            .map(|(i, _)| &rel[..i])
            .chain(std::iter::once(rel))
            .collect();
        let mut excluded = false;
        for rule in &self.rules {
            // A rule matching the path itself or one of its parent directories.
            if prefixes.iter().any(|p| rule.matcher.is_match(p)) {
                excluded = !rule.negate;
            }
        }
        excluded
    }
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

/// A directory's or a file's entry kind; `None` for anything else.
fn kind_of(meta: &fs::Metadata) -> Option<EntryKind> {
    if meta.is_dir() {
        Some(EntryKind::Dir {
            mode: mode_of(meta),
        })
    } else if meta.is_file() {
        Some(EntryKind::File {
            mode: mode_of(meta),
            len: meta.len(),
        })
    } else {
        None
    }
}

fn mtime_of(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// `path` relative to `root`, `/`-separated; a non-UTF-8 name is an error.
fn relative(root: &Path, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut parts = Vec::new();
    for c in rel.components() {
        let part = c.as_os_str().to_str().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file name {:?} in {} is not UTF-8", c, root.display()),
            )
        })?;
        parts.push(part);
    }
    Ok(parts.join("/"))
}

/// The entry for a walk error, when it is a dangling link; otherwise the
/// error itself.
fn dangling(root: &Path, err: walkdir::Error) -> io::Result<Option<(String, Entry)>> {
    let link = err
        .path()
        .filter(|_| err.loop_ancestor().is_none())
        .and_then(|p| fs::symlink_metadata(p).ok().map(|m| (p.to_path_buf(), m)))
        .filter(|(p, m)| m.file_type().is_symlink() && fs::metadata(p).is_err());
    let Some((abs, meta)) = link else {
        return Err(err.into());
    };
    let rel = relative(root, &abs)?;
    let target = fs::read_link(&abs)?;
    let entry = Entry {
        rel: rel.clone(),
        abs,
        kind: EntryKind::DanglingLink { target },
        mtime: mtime_of(&meta),
    };
    Ok(Some((rel, entry)))
}

/// The entries of the context at `context_dir`, `.dockerignore` applied,
/// links followed, sorted by path. The root itself is not an entry.
pub fn entries(context_dir: &Path) -> io::Result<Vec<Entry>> {
    Ok(entries_within(context_dir, None)?.0)
}

/// A link of a context leading outside the project: its relative path and
/// its target.
pub type OutsideLink = (String, PathBuf);

/// `entries`, and with `root` (the project directory) the links that lead
/// outside it, by relative path with their target: they are neither
/// followed nor entries, so nothing from elsewhere on the machine is read
/// (a link to `/` is not walked). Excluded links are not reported.
pub fn entries_within(
    context_dir: &Path,
    root: Option<&Path>,
) -> io::Result<(Vec<Entry>, Vec<OutsideLink>)> {
    match walk_plain(context_dir) {
        Some(entries) => Ok((entries, Vec::new())),
        None => walk(context_dir, root),
    }
}

/// [`entries_within`] by walkdir, links followed.
fn walk(context_dir: &Path, root: Option<&Path>) -> io::Result<(Vec<Entry>, Vec<OutsideLink>)> {
    if !fs::metadata(context_dir)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a directory",
        ));
    }
    let ignore = DockerIgnore::load(context_dir)?;
    let descend_excluded = ignore.has_exceptions();
    let mut outside = Vec::new();
    let walk = walkdir::WalkDir::new(context_dir)
        .follow_links(true)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let Ok(rel) = relative(context_dir, e.path()) else {
                return true; // reported below
            };
            if e.depth() == 1 && NEVER_SENT.contains(&rel.as_str()) {
                return false;
            }
            if let Some(to) = root
                .filter(|_| e.path_is_symlink())
                .and_then(|r| super::files::outside(r, e.path()))
            {
                if !ignore.is_excluded(&rel) {
                    outside.push((rel, to));
                }
                return false;
            }
            descend_excluded || !e.file_type().is_dir() || !ignore.is_excluded(&rel)
        });
    let mut out = Vec::new();
    for item in walk {
        let entry = match item {
            Ok(e) => {
                let rel = relative(context_dir, e.path())?;
                let meta = e.metadata()?;
                let Some(kind) = kind_of(&meta) else {
                    continue; // sockets, fifos, devices: never part of a context
                };
                Entry {
                    rel,
                    abs: e.path().to_path_buf(),
                    kind,
                    mtime: mtime_of(&meta),
                }
            }
            Err(err) => match dangling(context_dir, err)? {
                Some((_, entry)) => entry,
                None => continue,
            },
        };
        if !ignore.is_excluded(&entry.rel) {
            out.push(entry);
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    outside.sort();
    Ok((out, outside))
}

/// The entries of a context without links, walked by hand: `None` when
/// the walk meets a link, a name that is not UTF-8 or any error, and
/// walkdir walks the context instead (it resolves the root's ancestors and
/// watches for loops, which only links can make). Same entries as walkdir
/// gives such a context, with half the system calls: a one-file context
/// was 16 calls (the root resolved, `.dockerignore` tried, the file
/// `stat`ed twice), and a thousand services' contexts were most of a
/// large project's load (docs/benchmarks.md).
fn walk_plain(context_dir: &Path) -> Option<Vec<Entry>> {
    let listing = list(context_dir)?;
    let ignore = if listing.iter().any(|(name, _)| name == DOCKERIGNORE) {
        DockerIgnore::load(context_dir).ok()?
    } else {
        DockerIgnore::default()
    };
    let descend_excluded = ignore.has_exceptions();
    let mut out = Vec::new();
    let mut dirs = vec![(context_dir.to_path_buf(), String::new(), listing)];
    while let Some((dir, prefix, listing)) = dirs.pop() {
        for (name, kind) in listing {
            if prefix.is_empty() && NEVER_SENT.contains(&name.as_str()) {
                continue;
            }
            let abs = dir.join(&name);
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let excluded = ignore.is_excluded(&rel);
            if excluded && !(kind.is_dir() && descend_excluded) {
                continue;
            }
            let meta = fs::symlink_metadata(&abs).ok()?;
            if meta.file_type().is_symlink() {
                return None;
            }
            let Some(entry_kind) = kind_of(&meta) else {
                continue; // sockets, fifos, devices: never part of a context
            };
            if meta.is_dir() {
                dirs.push((abs.clone(), rel.clone(), list(&abs)?));
            }
            if !excluded {
                out.push(Entry {
                    rel,
                    abs,
                    kind: entry_kind,
                    mtime: mtime_of(&meta),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Some(out)
}

/// The names and types of a directory's entries (the types from the
/// listing itself where the file system gives them); `None` on an error, a
/// link or a name that is not UTF-8.
fn list(dir: &Path) -> Option<Vec<(String, fs::FileType)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let kind = entry.file_type().ok()?;
        if kind.is_symlink() {
            return None;
        }
        out.push((entry.file_name().into_string().ok()?, kind));
    }
    Some(out)
}

/// Feeds the file at `path` to `hasher` (`io::copy`'s stack buffer: a zeroed
/// 64 KiB heap buffer per file was 5 % of planning a project with a
/// thousand services).
fn copy_into(hasher: &mut Sha256, path: &Path, len: u64) -> io::Result<()> {
    // At most the `len` walked (and hashed before the content): a small
    // file is one `read`, not a second one to find its end.
    let mut file = io::Read::take(fs::File::open(path)?, len);
    io::copy(&mut file, hasher)?;
    Ok(())
}

/// Whether the directory at `i` has no entry below it.
fn is_empty_dir(entries: &[Entry], i: usize) -> bool {
    let prefix = format!("{}/", entries[i].rel);
    !entries
        .get(i + 1)
        .is_some_and(|next| next.rel.starts_with(&prefix))
}

/// The deterministic hex sha256 of the build context at `context_dir` (see
/// the module docs for what counts). Image tags carry it.
pub fn hash(context_dir: &Path) -> io::Result<String> {
    hash_entries(&entries(context_dir)?)
}

/// The hash of entries already walked (see [`hash`]).
pub fn hash_entries(entries: &[Entry]) -> io::Result<String> {
    let mut h = Sha256::new();
    for (i, entry) in entries.iter().enumerate() {
        match &entry.kind {
            EntryKind::File { mode, len } => {
                h.update(entry.rel.as_bytes());
                h.update([0, (mode & 0o111 != 0) as u8]);
                h.update(len.to_le_bytes());
                copy_into(&mut h, &entry.abs, *len)?;
            }
            EntryKind::Dir { .. } if is_empty_dir(entries, i) => {
                h.update(entry.rel.as_bytes());
                h.update([0, 2]);
            }
            EntryKind::Dir { .. } => {}
            EntryKind::DanglingLink { target } => {
                h.update(entry.rel.as_bytes());
                h.update([0, 3]);
                h.update(target.to_string_lossy().as_bytes());
                h.update([0]);
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// The build context at `context_dir` as an (uncompressed, in-memory) tar
/// archive: the same entries the hash covers.
pub fn pack(context_dir: &Path) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for entry in entries(context_dir)? {
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
            EntryKind::File { mode, .. } => {
                let file = fs::File::open(&entry.abs)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(file.metadata()?.len());
                tar.append_data(&mut header, &entry.rel, file)?;
            }
            EntryKind::DanglingLink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, &entry.rel, target)?;
            }
        }
    }
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::io::Read;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn dockerignore_patterns() {
        let ignore = DockerIgnore::parse(
            "# comment\n\n/target\n*.log\n**/node_modules\n!keep.log\ndocs/*.md\nDockerfile\n",
        )
        .unwrap();
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
        let classes = DockerIgnore::parse("log[0-9].txt\n").unwrap();
        assert!(classes.is_excluded("log1.txt"));
        assert!(!classes.is_excluded("logx.txt"));
        assert!(DockerIgnore::parse("a[\n").is_err());
    }

    /// An entry as a comparable tuple.
    fn seen(e: &Entry) -> (String, PathBuf, EntryKind, u64) {
        (e.rel.clone(), e.abs.clone(), e.kind.clone(), e.mtime)
    }

    #[test]
    fn the_walk_by_hand_gives_what_walkdir_gives_and_leaves_links_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (rel, text) in [
            ("Dockerfile", "FROM scratch\n"),
            ("src/main.rs", "fn main() {}"),
            ("src/deep/er/x.txt", "x"),
            ("vendor/a.txt", "a"),
            ("vendor/keep.txt", "k"),
            ("target/debug/big", "b"),
            ("notes.log", "n"),
            ("docs/keep.log", "k"),
            ("platz/resources.yaml", "[]"),
            (".git/HEAD", "ref"),
            ("sub/platz/kept.yaml", "[]"),
        ] {
            write(d, rel, text);
        }
        fs::create_dir_all(d.join("empty/inner")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(d.join("src/main.rs"), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let ignores = [
            None,
            Some("target\n*.log\n"),
            Some("vendor\n!vendor/keep.txt\n**/*.log\n!docs/keep.log\n"),
            Some("src/deep\nempty/inner\n"),
        ];
        for ignore in ignores {
            let _ = fs::remove_file(d.join(DOCKERIGNORE));
            if let Some(text) = ignore {
                write(d, DOCKERIGNORE, text);
            }
            let by_hand = walk_plain(d).expect("no links: walked by hand");
            let (by_walkdir, outside) = walk(d, Some(d)).unwrap();
            assert!(outside.is_empty());
            assert_eq!(
                by_hand.iter().map(seen).collect::<Vec<_>>(),
                by_walkdir.iter().map(seen).collect::<Vec<_>>(),
                "{ignore:?}"
            );
        }
        // A link anywhere walked, or a root that is no directory: walkdir's
        // walk (a link in an excluded directory is not met).
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("../main.rs", d.join("src/deep/link.rs")).unwrap();
            assert!(walk_plain(d).is_some(), "src/deep is excluded");
            fs::remove_file(d.join(DOCKERIGNORE)).unwrap();
            assert!(walk_plain(d).is_none());
            let (all, _) = entries_within(d, Some(d)).unwrap();
            assert!(all.iter().any(|e| e.rel == "src/deep/link.rs"));
        }
        assert!(walk_plain(&d.join("Dockerfile")).is_none());
        assert!(walk_plain(&d.join("missing")).is_none());
        assert!(entries_within(&d.join("Dockerfile"), None).is_err());
    }

    #[test]
    fn exceptions_reach_into_excluded_directories() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "vendor/a.txt", "a");
        write(dir.path(), "vendor/keep.txt", "k");
        write(dir.path(), ".dockerignore", "vendor\n!vendor/keep.txt\n");
        let rels: Vec<String> = entries(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(rels, [".dockerignore", "vendor/keep.txt"]);
    }

    #[test]
    fn editing_an_ignored_file_keeps_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "*.tmp\nbuild/\n");
        write(dir.path(), "scratch.tmp", "one");
        write(dir.path(), "build/out.bin", "one");
        let before = hash(dir.path()).unwrap();
        write(dir.path(), "scratch.tmp", "two");
        write(dir.path(), "build/out.bin", "two");
        write(dir.path(), "build/new.bin", "new");
        assert_eq!(before, hash(dir.path()).unwrap());
        write(dir.path(), "app.sh", "echo\n");
        assert_ne!(before, hash(dir.path()).unwrap());
    }

    #[test]
    fn platz_and_git_are_never_part_of_the_context() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        let before = hash(dir.path()).unwrap();
        write(dir.path(), "platz/resources.yaml", "[]\n");
        write(dir.path(), ".git/HEAD", "ref: x\n");
        assert_eq!(before, hash(dir.path()).unwrap());
        let rels: Vec<String> = entries(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(rels, ["Dockerfile"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_so_its_target_content_counts() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "shared.conf", "one");
        write(outside.path(), "lib/util.sh", "true\n");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        std::os::unix::fs::symlink(
            outside.path().join("shared.conf"),
            dir.path().join("app.conf"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path().join("lib"), dir.path().join("lib")).unwrap();
        let before = hash(dir.path()).unwrap();
        write(outside.path(), "shared.conf", "two");
        let after = hash(dir.path()).unwrap();
        assert_ne!(before, after, "the link's target content changed");
        write(outside.path(), "lib/util.sh", "false\n");
        assert_ne!(
            after,
            hash(dir.path()).unwrap(),
            "a linked directory counts"
        );
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_count_and_cycles_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        std::os::unix::fs::symlink("missing-a", dir.path().join("gone")).unwrap();
        let before = hash(dir.path()).unwrap();
        fs::remove_file(dir.path().join("gone")).unwrap();
        std::os::unix::fs::symlink("missing-b", dir.path().join("gone")).unwrap();
        assert_ne!(before, hash(dir.path()).unwrap());
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        assert!(hash(dir.path()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_archive_holds_exactly_the_hashed_files() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "shared.conf", "linked content");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), "src/main.sh", "echo hi\n");
        write(dir.path(), "src/debug.log", "noise");
        write(dir.path(), "platz/resources.yaml", "[]\n");
        write(dir.path(), ".dockerignore", "**/*.log\n");
        fs::create_dir(dir.path().join("empty")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("shared.conf"),
            dir.path().join("app.conf"),
        )
        .unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("dangling")).unwrap();

        let hashed: BTreeSet<(String, String)> = entries(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| {
                let kind = match e.kind {
                    EntryKind::Dir { .. } => "dir",
                    EntryKind::File { .. } => "file",
                    EntryKind::DanglingLink { .. } => "link",
                };
                (e.rel, kind.to_string())
            })
            .collect();
        let archive = pack(dir.path()).unwrap();
        let mut packed = BTreeSet::new();
        let mut linked = String::new();
        for item in tar::Archive::new(&archive[..]).entries().unwrap() {
            let mut item = item.unwrap();
            let rel = item
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let kind = match item.header().entry_type() {
                tar::EntryType::Directory => "dir",
                tar::EntryType::Regular => "file",
                tar::EntryType::Symlink => "link",
                other => panic!("unexpected {other:?}"),
            };
            if rel == "app.conf" {
                item.read_to_string(&mut linked).unwrap();
            }
            packed.insert((rel, kind.to_string()));
        }
        assert_eq!(hashed, packed);
        assert_eq!(
            linked, "linked content",
            "a followed link is sent as its target"
        );
        let names: Vec<&str> = packed.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "Dockerfile",
                "app.conf",
                "dangling",
                "empty",
                "src",
                "src/main.sh"
            ]
        );
    }
}
