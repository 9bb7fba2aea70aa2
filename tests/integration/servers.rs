//! Real servers for backup targets: an S3-compatible server on loopback
//! (moto's server mode, installed by scripts/install-s3-test-server.sh
//! the first time, as the test images are) and an SFTP server (Debian's
//! `sshd`) in a test host of its own, reached through `ssh` as a user
//! reaches one. Each is stopped, and what it made removed, when dropped.

use crate::host::{InHost, TestHost};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MOTO: &str = "/opt/compartment-test/moto/bin/moto_server";

static INSTALL: std::sync::Once = std::sync::Once::new();

/// The S3 server's program: `COMPARTMENT_TEST_S3_SERVER`, else the one
/// scripts/install-s3-test-server.sh installs (run here when missing).
fn moto() -> PathBuf {
    if let Ok(p) = std::env::var("COMPARTMENT_TEST_S3_SERVER") {
        return PathBuf::from(p);
    }
    INSTALL.call_once(|| {
        if !Path::new(MOTO).exists() {
            let status = Command::new("bash")
                .arg(crate::test::repo().join("scripts/install-s3-test-server.sh"))
                .status()
                .expect("run scripts/install-s3-test-server.sh");
            assert!(status.success(), "scripts/install-s3-test-server.sh failed");
        }
    });
    PathBuf::from(MOTO)
}

/// An S3-compatible server on 127.0.0.1 with one bucket.
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub bucket: String,
}

impl S3Server {
    pub fn start(bucket: &str) -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let server = S3Server {
            child,
            port,
            bucket: bucket.into(),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the S3 server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, body) = server.http("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating the bucket: {body}");
        server
    }

    /// The environment a compartment command reaches it with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "compartment-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "compartment-test-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// The keys under `prefix`, sorted (ListObjectsV2; the server asks for
    /// no signature).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let (status, body) = self.http(
            "GET",
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
        );
        assert_eq!(status, 200, "{body}");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(String::from)
            .collect();
        keys.sort();
        keys
    }

    fn http(&self, method: &str, path: &str) -> (u16, String) {
        let (status, body) = self.raw(method, path);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn raw(&self, method: &str, path: &str) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&out[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, out[split + 4..].to_vec())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's sshd in a test host of its own, letting in a key made for it;
/// `ssh_command()` is what `COMPARTMENT_SSH` is set to so that compartment
/// uses that key and a `known_hosts` of its own (as a user's
/// `~/.ssh/config` would).
pub struct SftpHost {
    _sshd: InHost,
    pub host: TestHost,
    keys: tempfile::TempDir,
}

impl SftpHost {
    pub fn start() -> SftpHost {
        let host = TestHost::bare();
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("key");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let sshd = host.sshd(keys.path());
        std::fs::write(
            keys.path().join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {}\n  UserKnownHostsFile {}/known_hosts\n  StrictHostKeyChecking accept-new\n",
                key.display(),
                keys.path().display()
            ),
        )
        .unwrap();
        SftpHost {
            _sshd: sshd,
            host,
            keys,
        }
    }

    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.keys.path().join("ssh_config").display())
    }
}
