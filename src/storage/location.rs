//! Where a backup target is: a URL of compartment.yml parsed into a
//! [`Location`], or the reason it is not one. Pure: no I/O.

use std::fmt;
use std::path::PathBuf;

/// A backup target's place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine (another disk, a mounted share):
    /// `/mnt/backups` or `file:///mnt/backups`.
    Local { path: PathBuf },
    /// A directory on an SFTP server, reached through the user's own ssh:
    /// `sftp://[user@]host[:port]/path` (absolute), `…/~/path` (under the
    /// login's home).
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        /// Absolute (`/srv/backups`), or relative to the login's home.
        path: String,
    },
    /// A bucket of S3-compatible object storage and a key prefix:
    /// `s3://bucket[/prefix]`; endpoint, region and credentials come from
    /// the environment (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from the file.
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// Parses a target URL; the reason it is not one otherwise.
    pub fn parse(url: &str) -> Result<Location, String> {
        if url.trim() != url || url.is_empty() {
            return Err("it is empty or has spaces around it".into());
        }
        if url.contains(['?', '#']) {
            return Err("a target URL has no query (`?`) or fragment (`#`)".into());
        }
        if let Some(path) = url.strip_prefix("file://") {
            return local(path);
        }
        if url.starts_with('/') {
            return local(url);
        }
        if let Some(rest) = url.strip_prefix("sftp://") {
            return sftp(rest);
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            return s3(rest);
        }
        match url.split_once("://") {
            Some((scheme, _)) => Err(format!(
                "the scheme `{scheme}://` is not one of file://, sftp:// or s3://"
            )),
            None => Err("a local target is an absolute path".into()),
        }
    }

    /// The kind, as `backup list` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Local { .. } => "local",
            Location::Sftp { .. } => "sftp",
            Location::S3 { .. } => "s3",
        }
    }
}

/// `url` with a password in it (`user:password@`) masked, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{}", &rest[end..])
        }
        _ => url.to_string(),
    }
}

fn local(path: &str) -> Result<Location, String> {
    let p = PathBuf::from(path);
    if !p.is_absolute() {
        return Err("a local target is an absolute path (`file:///mnt/backups`)".into());
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err("a local target's path has no `..`".into());
    }
    Ok(Location::Local { path: p })
}

fn sftp(rest: &str) -> Result<Location, String> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = match path.strip_prefix("/~/") {
        Some(home) => home.to_string(),
        None => path.trim_end_matches('/').to_string(),
    };
    if path.is_empty() || path == "~" {
        return Err("an sftp:// target names a directory: sftp://user@host/srv/backups".into());
    }
    if path.split('/').any(|s| s == "..") {
        return Err("an sftp:// target's path has no `..`".into());
    }
    let (user, hostport) =
        match authority.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => return Err(
                "a password does not belong in compartment.yml: SFTP goes through your ssh keys"
                    .into(),
            ),
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err("the user before `@` is empty".into()),
            None => (None, authority),
        };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{p}` is not a port"))?;
            (h, Some(port))
        }
        _ => (hostport, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c));
    if !host_ok {
        return Err(format!("`{host}` is not a host name or address"));
    }
    Ok(Location::Sftp {
        user,
        host: host.to_string(),
        port,
        path,
    })
}

fn s3(rest: &str) -> Result<Location, String> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(format!(
            "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|s| s == ".." || s == ".") || prefix.contains("//") {
        return Err("an s3:// target's prefix has no `.`, `..` or empty segments".into());
    }
    Ok(Location::S3 {
        bucket: bucket.into(),
        prefix: prefix.into(),
    })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local { path } => write!(f, "{}", path.display()),
            Location::Sftp {
                user,
                host,
                port,
                path,
            } => {
                write!(f, "sftp://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{host}")?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                match path.starts_with('/') {
                    true => write!(f, "{path}"),
                    false => write!(f, "/~/{path}"),
                }
            }
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_prints_back() {
        for (url, kind) in [
            ("/mnt/backups", "local"),
            ("sftp://backup@files.example.com/srv/backups", "sftp"),
            ("sftp://files.example.com:2222/srv/b", "sftp"),
            ("sftp://u@10.0.0.5/~/backups", "sftp"),
            ("s3://shop-backups", "s3"),
            ("s3://shop-backups/production/db", "s3"),
        ] {
            let l = Location::parse(url).unwrap();
            assert_eq!((l.to_string().as_str(), l.kind()), (url, kind));
        }
        assert_eq!(
            Location::parse("file:///mnt/b/").unwrap(),
            Location::Local {
                path: "/mnt/b/".into()
            }
        );
        assert_eq!(
            Location::parse("sftp://u@h:22/srv/b/").unwrap(),
            Location::Sftp {
                user: Some("u".into()),
                host: "h".into(),
                port: Some(22),
                path: "/srv/b".into()
            }
        );
    }

    #[test]
    fn passwords_are_masked_in_messages() {
        assert_eq!(
            redacted("sftp://backup:hunter2@files/srv"),
            "sftp://backup:***@files/srv"
        );
        assert_eq!(
            redacted("sftp://backup@files/a:b@c"),
            "sftp://backup@files/a:b@c"
        );
        assert_eq!(redacted("/mnt/x"), "/mnt/x");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("backups", "a local target is an absolute path"),
            ("file://backups", "a local target is an absolute path"),
            ("/mnt/../etc", "no `..`"),
            ("ftp://host/x", "the scheme `ftp://` is not one of"),
            ("sftp://u:pw@host/x", "a password does not belong"),
            ("sftp://host/../x", "no `..`"),
            ("sftp://host", "names a directory"),
            ("sftp://host/", "names a directory"),
            ("sftp://host:99999/x", "`99999` is not a port"),
            ("sftp://@host/x", "the user before `@` is empty"),
            ("sftp://ho st/x", "is not a host name"),
            ("s3://A", "is not a bucket name"),
            ("s3://bucket/a/../b", "no `.`, `..`"),
            ("s3://bucket/x?versionId=1", "no query"),
            (" /x", "spaces"),
        ] {
            let err = Location::parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }
}
