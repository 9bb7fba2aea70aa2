//! Encrypted backup artifacts: each file a backup writes is encrypted as
//! it streams out of the engine, so its plaintext never touches the backup
//! directory, and decrypted as it streams back in for a restore or a
//! verification, so it never sits in memory whole.
//!
//! The format is the STREAM construction (Hoang, Reyhanitabar, Rogaway,
//! Vizár; RustCrypto's `aead::stream`, big-endian 32-bit counter) over
//! ChaCha20-Poly1305: the magic `CMPTBAK1`, a random 7-byte nonce prefix,
//! then the plaintext in chunks of 64 KiB, each with its 16-byte tag; the
//! last chunk (possibly empty) is marked as last, so a truncated file does
//! not open. Every chunk is bound to the backup's id and the file's name
//! (associated data): a file moved to another backup, or renamed, does not
//! open either. Files without the magic are plaintext artifacts of earlier
//! versions and still restore.

use crate::state::secrets::SecretKey;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use std::io::{self, Read, Write};
use std::path::Path;

/// The first bytes of an encrypted artifact.
pub const MAGIC: &[u8; 8] = b"CMPTBAK1";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const NONCE: usize = 7;

/// What every chunk of a file is bound to.
pub fn binding(backup: &str, file: &Path) -> Vec<u8> {
    let name = file.to_string_lossy();
    let name = name.trim_start_matches("./");
    format!("compartment backup artifact\0{backup}\0{name}").into_bytes()
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn cipher(key: &SecretKey) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(key.bytes().into())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Encrypts all of `r` into `w`; returns the plaintext length.
pub fn encrypt(
    key: &SecretKey,
    aad: &[u8],
    r: &mut dyn Read,
    w: &mut dyn Write,
) -> io::Result<u64> {
    let prefix: [u8; NONCE] = rand::random();
    w.write_all(MAGIC)?;
    w.write_all(&prefix)?;
    let mut enc = EncryptorBE32::from_aead(cipher(key), (&prefix).into());
    let (mut cur, mut next) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut len = read_full(r, &mut cur)?;
    let mut total = len as u64;
    loop {
        let more = if len == CHUNK {
            read_full(r, &mut next)?
        } else {
            0
        };
        let msg = Payload {
            msg: &cur[..len],
            aad,
        };
        if more == 0 {
            let ct = enc
                .encrypt_last(msg)
                .map_err(|_| invalid("encryption failed"))?;
            w.write_all(&ct)?;
            return Ok(total);
        }
        let ct = enc
            .encrypt_next(msg)
            .map_err(|_| invalid("encryption failed"))?;
        w.write_all(&ct)?;
        std::mem::swap(&mut cur, &mut next);
        len = more;
        total += more as u64;
    }
}

/// Why an artifact does not decrypt.
pub const DOES_NOT_OPEN: &str = "it does not open with this backup key: it was changed or cut short, or written with another key";

/// Decrypts all of `r` (an encrypted artifact) into `w`; returns the
/// plaintext length. A changed, truncated or extended file, another
/// binding or another key is an `InvalidData` error ([`DOES_NOT_OPEN`]).
pub fn decrypt(
    key: &SecretKey,
    aad: &[u8],
    r: &mut dyn Read,
    w: &mut dyn Write,
) -> io::Result<u64> {
    let mut reader = Decrypting::new(key.clone(), aad.to_vec(), r);
    io::copy(&mut reader, w)
}

/// An encrypted artifact read as its plaintext, one chunk at a time: the
/// bytes of a chunk are handed out only once its tag checked, and the end
/// only once the last chunk's did.
pub struct Decrypting<R> {
    key: SecretKey,
    aad: Vec<u8>,
    inner: R,
    dec: Option<DecryptorBE32<ChaCha20Poly1305>>,
    /// The sealed chunk read ahead, and its length.
    ahead: (Vec<u8>, usize),
    plain: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Decrypting<R> {
    pub fn new(key: SecretKey, aad: Vec<u8>, inner: R) -> Decrypting<R> {
        Decrypting {
            key,
            aad,
            inner,
            dec: None,
            ahead: (vec![0u8; CHUNK + TAG], 0),
            plain: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    /// Reads the header and the first sealed chunk.
    fn start(&mut self) -> io::Result<()> {
        let mut head = [0u8; 8 + NONCE];
        if read_full(&mut self.inner, &mut head)? != head.len() || &head[..8] != MAGIC {
            return Err(invalid("not an encrypted artifact"));
        }
        let prefix: [u8; NONCE] = head[8..].try_into().expect("7 bytes");
        self.dec = Some(DecryptorBE32::from_aead(
            cipher(&self.key),
            (&prefix).into(),
        ));
        self.ahead.1 = read_full(&mut self.inner, &mut self.ahead.0)?;
        Ok(())
    }

    /// Decrypts the chunk read ahead into `plain`, reading the next one.
    fn refill(&mut self) -> io::Result<()> {
        let mut next = vec![0u8; CHUNK + TAG];
        let more = match self.ahead.1 == CHUNK + TAG {
            true => read_full(&mut self.inner, &mut next)?,
            false => 0,
        };
        let msg = Payload {
            msg: &self.ahead.0[..self.ahead.1],
            aad: &self.aad,
        };
        self.plain = match more {
            0 => {
                self.done = true;
                self.dec.take().expect("started").decrypt_last(msg)
            }
            _ => self.dec.as_mut().expect("started").decrypt_next(msg),
        }
        .map_err(|_| invalid(DOES_NOT_OPEN))?;
        self.pos = 0;
        self.ahead = (next, more);
        Ok(())
    }
}

impl<R: Read> Read for Decrypting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.dec.is_none() && !self.done {
            self.start()?;
        }
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes the artifacts of backup `id` in `dir` into `to` (created; it must
/// not exist or be empty), each decrypted (or copied, when plaintext), mode
/// 0600; returns each file's plaintext length by relative path.
pub fn export(
    key: Option<&SecretKey>,
    id: &str,
    dir: &Path,
    to: &Path,
) -> io::Result<std::collections::BTreeMap<String, u64>> {
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it is not empty; name a new or empty directory",
        ));
    }
    std::fs::create_dir_all(to)?;
    let mut files = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("under dir")
            .to_path_buf();
        let target = to.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut out = opts.open(&target)?;
        let mut input = std::fs::File::open(entry.path())?;
        let len = match (is_encrypted(entry.path())?, key) {
            (true, Some(k)) => decrypt(k, &binding(id, &rel), &mut input, &mut out)?,
            (true, None) => {
                return Err(invalid("an artifact is encrypted and no backup key is set"))
            }
            (false, _) => io::copy(&mut input, &mut out)?,
        };
        out.sync_all()?;
        files.insert(rel.to_string_lossy().into_owned(), len);
    }
    Ok(files)
}

/// Whether any file under `dir` is an encrypted artifact.
pub fn any_encrypted(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .any(|e| is_encrypted(e.path()).unwrap_or(false))
}

/// The plaintext length of an encrypted artifact of `len` bytes (header
/// included), when that length is possible.
pub fn plain_len(len: u64) -> Option<u64> {
    let body = len.checked_sub((MAGIC.len() + NONCE) as u64)?;
    let sealed = (CHUNK + TAG) as u64;
    let chunks = body.div_ceil(sealed).max(1);
    body.checked_sub(chunks * TAG as u64)
}

/// Whether the file at `path` is an encrypted artifact (starts with
/// [`MAGIC`]).
pub fn is_encrypted(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path)?;
    Ok(read_full(&mut f, &mut head)? == 8 && &head == MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> SecretKey {
        SecretKey::from_text(s)
    }

    fn sealed(plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encrypt(&key("k"), aad, &mut &plain[..], &mut out).unwrap();
        out
    }

    fn opened(ct: &[u8], k: &str, aad: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decrypt(&key(k), aad, &mut &ct[..], &mut out).map(|_| out)
    }

    #[test]
    fn every_length_round_trips_and_its_plain_length_is_known() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let ct = sealed(&plain, b"a");
            assert_eq!(opened(&ct, "k", b"a").unwrap(), plain, "length {n}");
            assert_eq!(plain_len(ct.len() as u64), Some(n as u64), "length {n}");
        }
    }

    #[test]
    fn a_changed_cut_extended_or_rebound_file_or_another_key_does_not_open() {
        let plain = vec![7u8; 2 * CHUNK + 5];
        let ct = sealed(&plain, b"a");
        let mut flipped = ct.clone();
        flipped[CHUNK + 40] ^= 1;
        let cut = &ct[..ct.len() - (5 + TAG)];
        let at_boundary = &ct[..8 + NONCE + 2 * (CHUNK + TAG)];
        let mut longer = ct.clone();
        longer.extend_from_slice(&[0u8; 20]);
        for (what, bytes, k, aad) in [
            ("flipped", &flipped[..], "k", &b"a"[..]),
            ("cut", cut, "k", b"a"),
            ("cut at a chunk boundary", at_boundary, "k", b"a"),
            ("extended", &longer[..], "k", b"a"),
            ("another binding", &ct[..], "k", b"b"),
            ("another key", &ct[..], "other", b"a"),
        ] {
            let e = opened(bytes, k, aad).expect_err(what);
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{what}");
        }
        let e = opened(&plain, "k", b"a").unwrap_err();
        assert_eq!(e.to_string(), "not an encrypted artifact");
    }

    #[test]
    fn the_binding_names_the_backup_and_the_file() {
        assert_eq!(
            binding("rbak_1", Path::new("./dump.sql")),
            b"compartment backup artifact\0rbak_1\0dump.sql".to_vec()
        );
    }
}
