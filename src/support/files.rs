//! Reading a project's text files at the edge, before any parser sees them:
//! only files that resolve inside the project directory (through `..`,
//! absolute paths and symbolic links alike), at most
//! [`MAX_DESCRIPTOR_BYTES`], UTF-8 without NUL bytes; a leading UTF-8 byte
//! order mark is dropped. A refused file is never read into memory (beyond
//! the limit) and its text never reaches a caller, so no diagnostic can
//! quote a line of a file outside the project.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest descriptor file read (8 MiB).
pub const MAX_DESCRIPTOR_BYTES: u64 = 8 * 1024 * 1024;

/// The limit as the user reads it.
pub const MAX_DESCRIPTOR_SIZE: &str = "8 MiB";

/// Why a text file was not read (or not used).
#[derive(Debug)]
pub enum TextError {
    Io(io::Error),
    /// The file resolves outside the project directory; `resolved` is where
    /// it leads (see [`outside`]).
    Outside {
        resolved: PathBuf,
    },
    /// Larger than [`MAX_DESCRIPTOR_BYTES`] (`len` is at least what was seen).
    TooLarge {
        len: u64,
    },
    /// Not UTF-8; `shown` is the text with invalid bytes replaced, the
    /// position is that of the first invalid byte.
    NotUtf8 {
        shown: String,
        line: u32,
        col: u32,
    },
    /// A NUL byte; `shown` is the text with every NUL shown as `␀`.
    Nul {
        shown: String,
        line: u32,
        col: u32,
    },
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::Io(e) => write!(f, "{e}"),
            TextError::Outside { resolved } => write!(
                f,
                "it leads to {}, outside the project directory",
                resolved.display()
            ),
            TextError::TooLarge { len } => write!(
                f,
                "it is {}, over the {MAX_DESCRIPTOR_SIZE} limit for descriptor files",
                human_size(*len)
            ),
            TextError::NotUtf8 { line, col, .. } => write!(
                f,
                "it is not UTF-8 text (invalid byte at line {line}, column {col})"
            ),
            TextError::Nul { line, col, .. } => {
                write!(f, "it holds a NUL byte at line {line}, column {col}")
            }
        }
    }
}

impl std::error::Error for TextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TextError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Where `path` leads when that is outside `root` (both resolved through
/// symbolic links and `..`); `None` when it is inside, or does not exist.
/// What is returned is what the user wrote when `path` is itself a link
/// (its target, e.g. `/proc/self/environ`), else the resolved path.
pub fn outside(root: &Path, path: &Path) -> Option<PathBuf> {
    outside_resolved(&fs::canonicalize(root).ok()?, path)
}

/// Whether relative paths of plain names name existing paths below a root
/// with no symbolic link on the way: then they are inside the root
/// (`outside` says `None`) without resolving them. One `lstat` per name,
/// where resolving a path reads every component from `/` (six system calls
/// for `services/api`, per service of a large project); and the
/// directories found plain are remembered, so the `services` of a thousand
/// services' paths is asked about once, not a thousand times
/// (docs/benchmarks.md).
#[derive(Debug, Default)]
pub struct Plain {
    /// Hashed as bytes with FxHash (a `PathBuf` hashes component by
    /// component, with SipHash: more than the `lstat` it saves).
    dirs: rustc_hash::FxHashSet<std::ffi::OsString>,
}

impl Plain {
    /// `None` unless `rel` is plainly inside `root` (`None` says nothing:
    /// ask [`outside`]); then whether it names a directory.
    pub fn inside(&mut self, root: &Path, rel: &str) -> Option<bool> {
        let mut path = root.to_path_buf();
        let mut is_dir = None;
        for c in Path::new(rel).components() {
            match c {
                std::path::Component::Normal(name) => path.push(name),
                std::path::Component::CurDir => continue,
                _ => return None,
            }
            if self.dirs.contains(path.as_os_str()) {
                is_dir = Some(true);
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    self.dirs.insert(path.as_os_str().to_owned());
                    is_dir = Some(true);
                }
                Ok(m) if !m.file_type().is_symlink() => is_dir = Some(false),
                _ => return None,
            }
        }
        is_dir
    }
}

/// [`outside`] with `root` already resolved (`fs::canonicalize`), for a
/// caller asking about many paths (resolving the root again for each of a
/// thousand services was a tenth of the system calls of a load).
pub fn outside_resolved(root: &Path, path: &Path) -> Option<PathBuf> {
    let resolved = fs::canonicalize(path).ok()?;
    if resolved.starts_with(root) {
        return None;
    }
    Some(fs::read_link(path).unwrap_or(resolved))
}

/// Whether `rel`, a path written in a descriptor, leaves the directory it
/// is relative to by its spelling alone: absolute, or `..` climbing above it.
pub fn escapes(rel: &str) -> bool {
    let p = Path::new(rel);
    if p.has_root() {
        return true;
    }
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// The text of the file at `path`, which must resolve inside `root` when
/// given. Checked in this order: inside the project, a regular file, the
/// size (before reading, and again while reading, since `/proc` files
/// report none), UTF-8, no NUL. A leading byte order mark is dropped.
pub fn read_text(path: &Path, root: Option<&Path>) -> Result<String, TextError> {
    if let Some(resolved) = root.and_then(|r| outside(r, path)) {
        return Err(TextError::Outside { resolved });
    }
    let meta = fs::metadata(path).map_err(TextError::Io)?;
    if !meta.is_file() {
        return Err(TextError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if meta.len() > MAX_DESCRIPTOR_BYTES {
        return Err(TextError::TooLarge { len: meta.len() });
    }
    // Sized once (read_to_end doubling it copied a large descriptor
    // several times over).
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    fs::File::open(path)
        .and_then(|f| f.take(MAX_DESCRIPTOR_BYTES + 1).read_to_end(&mut bytes))
        .map_err(TextError::Io)?;
    if bytes.len() as u64 > MAX_DESCRIPTOR_BYTES {
        return Err(TextError::TooLarge {
            len: bytes.len() as u64,
        });
    }
    decode(bytes)
}

/// UTF-8 text without NUL, a leading byte order mark dropped.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, TextError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => match text.find('\0') {
            None => Ok(text),
            Some(at) => {
                let (line, col) = position(&text, at);
                Err(TextError::Nul {
                    shown: text.replace('\0', "\u{2400}"),
                    line,
                    col,
                })
            }
        },
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let before = String::from_utf8_lossy(&bytes[..valid]);
            let (line, col) = position(&before, before.len());
            Err(TextError::NotUtf8 {
                shown: String::from_utf8_lossy(&bytes).into_owned(),
                line,
                col,
            })
        }
    }
}

/// The 1-based line and column (in characters) of byte offset `at`.
fn position(text: &str, at: usize) -> (u32, u32) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map(|i| i + 1).unwrap_or(0)..]
        .chars()
        .count()
        + 1;
    (line as u32, col as u32)
}

/// A size as the user reads it: `9.5 MiB`, `12 KiB`, `80 bytes`.
pub fn human_size(len: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if len >= 1024 * 1024 {
        format!("{:.1} MiB", len as f64 / MIB)
    } else if len >= 1024 {
        format!("{} KiB", len / 1024)
    } else {
        format!("{len} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn plainly_inside_only_for_existing_names_without_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("services/api")).unwrap();
        std::os::unix::fs::symlink("/", root.join("services/away")).unwrap();
        let plainly_inside = |rel| Plain::default().inside(root, rel).is_some();
        assert!(plainly_inside("services/api"));
        assert!(plainly_inside("./services/api"));
        assert_eq!(outside(root, &root.join("services/api")), None);
        for rel in [
            "services/away",
            "services/away/etc",
            "services/none",
            "../x",
            "/etc",
            "",
            ".",
        ] {
            assert!(!plainly_inside(rel), "{rel}");
        }
        assert!(outside(root, &root.join("services/away")).is_some());
        // Asked about many paths, it remembers directories and says which
        // paths are directories; links are never plain.
        fs::write(root.join("services/api/Dockerfile"), "FROM scratch\n").unwrap();
        let mut plain = Plain::default();
        assert_eq!(plain.inside(root, "services/api"), Some(true));
        assert_eq!(plain.inside(root, "./services/api/Dockerfile"), Some(false));
        assert_eq!(plain.inside(root, "services/api/Dockerfile/x"), None);
        assert_eq!(plain.inside(root, "services/away"), None);
        assert_eq!(plain.inside(root, "services/none"), None);
        assert_eq!(plain.inside(root, "services/../services/api"), None);
        assert_eq!(plain.inside(root, ""), None);
    }

    #[test]
    fn spelling_that_leaves_the_directory() {
        for p in ["/etc", "..", "../x", "a/../../b", "./../x"] {
            assert!(escapes(p), "{p}");
        }
        for p in ["a", "a/b", "a/../b", "./a", "a/.."] {
            assert!(!escapes(p), "{p}");
        }
    }

    #[test]
    fn bom_dropped_nul_and_bad_bytes_located() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFname: x\n".to_vec()).unwrap(),
            "name: x\n"
        );
        match decode(b"a: 1\nb: x\0y\n".to_vec()) {
            Err(TextError::Nul { shown, line, col }) => {
                assert_eq!((line, col), (2, 5));
                assert_eq!(shown, "a: 1\nb: x\u{2400}y\n");
            }
            other => panic!("{other:?}"),
        }
        match decode(b"a: \xC3\xA9\nb: \xFF\n".to_vec()) {
            Err(TextError::NotUtf8 { line, col, .. }) => assert_eq!((line, col), (2, 4)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(80), "80 bytes");
        assert_eq!(human_size(12 * 1024 + 5), "12 KiB");
        assert_eq!(human_size(9 * 1024 * 1024 + 512 * 1024), "9.5 MiB");
    }
}
