//! SFTP targets: the user's own `ssh` (`support::ssh`, batch mode) runs the
//! server's `sftp` subsystem, and openssh-sftp-client speaks the protocol
//! over its stdin and stdout. No second SSH implementation, no control
//! socket left in the working directory: keys, agent, `known_hosts` and
//! `~/.ssh/config` apply as they do for `ssh` itself.

use super::{finish, next_chunk, Failure, Moved};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::{Error, Sftp, SftpOptions};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;

type Result<T> = std::result::Result<T, Failure>;

/// An SFTP session over one `ssh` process.
pub(super) struct Session {
    sftp: Sftp,
    child: tokio::process::Child,
    /// The target's directory on the server (absolute, or under the home).
    root: PathBuf,
}

fn not_found(e: &Error) -> bool {
    matches!(e, Error::SftpError(SftpErrorKind::NoSuchFile, _))
}

fn failed(action: &str, path: &Path) -> impl FnOnce(Error) -> Failure {
    let action = format!("{action} `{}`", path.display());
    move |e| Failure::Sftp(action, e)
}

impl Session {
    pub(super) async fn connect(
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
        root: &str,
    ) -> Result<Session> {
        let mut cmd = tokio::process::Command::from(crate::support::ssh::command(port));
        let destination = match user {
            Some(u) => format!("{u}@{host}"),
            None => host.to_string(),
        };
        cmd.args(["-s", &destination, "sftp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure::Ssh(format!("cannot run ssh: {e}")))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            return Err(Failure::Ssh("ssh has no pipes".into()));
        };
        match Sftp::new(stdin, stdout, SftpOptions::new()).await {
            Ok(sftp) => {
                let mut s = Session {
                    sftp,
                    child,
                    root: PathBuf::from(root),
                };
                s.make_dirs(&s.root.clone()).await?;
                Ok(s)
            }
            Err(e) => Err(Failure::Ssh(why_ssh_failed(child, e).await)),
        }
    }

    /// `mkdir -p`: every missing directory of `dir`.
    async fn make_dirs(&mut self, dir: &Path) -> Result<()> {
        let mut fs = self.sftp.fs();
        let mut at = PathBuf::new();
        for part in dir.components() {
            at.push(part);
            if matches!(part, std::path::Component::RootDir) {
                continue;
            }
            if fs.metadata(&at).await.is_ok() {
                continue;
            }
            fs.create_dir(&at)
                .await
                .map_err(failed("creating the directory", &at))?;
        }
        Ok(())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub(super) async fn put(&mut self, key: &str, file: &mut tokio::fs::File) -> Result<Moved> {
        let (mut out, partial, path) = self.create_partial(key).await?;
        let mut hash = Sha256::new();
        let mut bytes = 0u64;
        loop {
            let chunk = next_chunk(file, &mut hash)
                .await
                .map_err(|e| Failure::Io("reading", PathBuf::from(key), e))?;
            if chunk.is_empty() {
                break;
            }
            bytes += chunk.len() as u64;
            out.write_all(&chunk)
                .await
                .map_err(failed("writing", &partial))?;
        }
        self.complete(out, &partial, &path).await?;
        Ok(finish(hash, bytes))
    }

    /// Opens `<key>.partial` for writing (its directories made): a file is
    /// written beside its final name and renamed once complete. The open
    /// file, the partial name and the final one.
    async fn create_partial(
        &mut self,
        key: &str,
    ) -> Result<(openssh_sftp_client::file::File, PathBuf, PathBuf)> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            self.make_dirs(parent).await?;
        }
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let out = self
            .sftp
            .options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .await
            .map_err(failed("writing", &partial))?;
        Ok((out, partial, path))
    }

    /// Closes a partial file and renames it to its final name.
    async fn complete(
        &mut self,
        out: openssh_sftp_client::file::File,
        partial: &Path,
        path: &Path,
    ) -> Result<()> {
        out.close().await.map_err(failed("writing", partial))?;
        self.replace(partial, path).await
    }

    /// Renames `from` to `to`, replacing `to` (plain SFTP rename refuses
    /// an existing target).
    async fn replace(&mut self, from: &Path, to: &Path) -> Result<()> {
        let mut fs = self.sftp.fs();
        match fs.remove_file(to).await {
            Err(e) if !not_found(&e) => return Err(failed("replacing", to)(e)),
            _ => {}
        }
        fs.rename(from, to).await.map_err(failed("renaming", from))
    }

    pub(super) async fn put_bytes(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        let (mut out, partial, path) = self.create_partial(key).await?;
        out.write_all(bytes)
            .await
            .map_err(failed("writing", &partial))?;
        self.complete(out, &partial, &path).await
    }

    pub(super) async fn get(&mut self, key: &str, to: &mut tokio::fs::File) -> Result<Moved> {
        use tokio::io::AsyncWriteExt;
        let path = self.path(key);
        let mut file = match self.sftp.open(&path).await {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Err(Failure::Missing(key.into())),
            Err(e) => return Err(failed("reading", &path)(e)),
        };
        let len: u32 = 256 << 10;
        let mut hash = Sha256::new();
        let mut bytes = 0u64;
        while let Some(buf) = file
            .read(len, bytes::BytesMut::with_capacity(len as usize))
            .await
            .map_err(failed("reading", &path))?
        {
            hash.update(&buf);
            bytes += buf.len() as u64;
            to.write_all(&buf)
                .await
                .map_err(|e| Failure::Io("writing", PathBuf::from(key), e))?;
        }
        file.close().await.map_err(failed("reading", &path))?;
        Ok(finish(hash, bytes))
    }

    pub(super) async fn size(&mut self, key: &str) -> Result<Option<u64>> {
        let path = self.path(key);
        match self.sftp.fs().metadata(&path).await {
            Ok(m) => Ok(Some(m.len().unwrap_or(0))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(failed("reading", &path)(e)),
        }
    }

    /// Deletes every file of `dir` (a backup's own directory) and `dir`.
    pub(super) async fn delete(&mut self, dir: &str) -> Result<()> {
        use futures_util::TryStreamExt;
        let path = self.path(dir);
        let mut fs = self.sftp.fs();
        let listing = match fs.open_dir(&path).await {
            Ok(d) => d,
            Err(e) if not_found(&e) => return Ok(()),
            Err(e) => return Err(failed("listing", &path)(e)),
        };
        let entries: Vec<_> = listing
            .read_dir()
            .try_collect()
            .await
            .map_err(failed("listing", &path))?;
        for entry in entries {
            let name = entry.filename();
            if name == Path::new(".") || name == Path::new("..") {
                continue;
            }
            let file = path.join(name);
            match fs.remove_file(&file).await {
                Err(e) if !not_found(&e) => return Err(failed("deleting", &file)(e)),
                _ => {}
            }
        }
        match fs.remove_dir(&path).await {
            Err(e) if !not_found(&e) => Err(failed("deleting", &path)(e)),
            _ => Ok(()),
        }
    }

    pub(super) async fn close(mut self) {
        let _ = self.sftp.close().await;
        let _ = self.child.kill().await;
    }
}

/// Why the session did not open: ssh's own words when it exited (host key,
/// permission denied, no such host), else the protocol error.
async fn why_ssh_failed(mut child: tokio::process::Child, e: Error) -> String {
    use tokio::io::AsyncReadExt;
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            s.read_to_string(&mut err),
        )
        .await;
    }
    let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
    match waited {
        Ok(Ok(status)) if !err.is_empty() => format!("ssh exited ({status}): {err}"),
        Ok(Ok(status)) => format!("ssh exited ({status}): {e}"),
        _ => {
            let _ = child.kill().await;
            e.to_string()
        }
    }
}
