//! Local directories and S3-compatible buckets through opendal. An S3
//! target's endpoint, region and credentials come from the environment
//! (the AWS SDK's variables), never from compartment.yml, and nothing else
//! is consulted: no profile file, no instance metadata.

use super::{finish, next_chunk, Failure, Location, Moved, CHUNK};
use opendal::{services, ErrorKind, Operator};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Failure>;

/// Where partial writes to a local target wait until they are complete
/// (inside the target, so that the final rename stays on one disk).
const PARTIAL_DIR: &str = ".compartment-partial";

/// The operator of a local or S3 location.
pub(super) fn operator(location: &Location) -> Result<Operator> {
    let built = match location {
        Location::Local { path } => {
            let root = path.display().to_string();
            let partial = path.join(PARTIAL_DIR).display().to_string();
            Operator::new(
                services::Fs::default()
                    .root(&root)
                    .atomic_write_dir(&partial),
            )
        }
        Location::S3 { bucket, prefix } => {
            // reqwest is built without a TLS provider of its own: the one
            // the Docker client already links (ring) serves both.
            let _ = rustls::crypto::ring::default_provider().install_default();
            opendal_http_transport_reqwest::install_default();
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let key = env("AWS_ACCESS_KEY_ID").ok_or(Failure::Environment(
                "AWS_ACCESS_KEY_ID",
                "S3 credentials come from the environment, never from compartment.yml",
            ))?;
            let secret = env("AWS_SECRET_ACCESS_KEY").ok_or(Failure::Environment(
                "AWS_SECRET_ACCESS_KEY",
                "S3 credentials come from the environment, never from compartment.yml",
            ))?;
            let region = env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into());
            let mut b = services::S3::default()
                .bucket(bucket)
                .root(&format!("/{prefix}"))
                .region(&region)
                .access_key_id(&key)
                .secret_access_key(&secret)
                .disable_config_load()
                .disable_ec2_metadata();
            if let Some(endpoint) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
                b = b.endpoint(&endpoint);
            }
            if let Some(token) = env("AWS_SESSION_TOKEN") {
                b = b.session_token(&token);
            }
            Operator::new(b)
        }
        Location::Sftp { .. } => unreachable!("SFTP targets are not opendal operators"),
    };
    built.map_err(|e| Failure::Object("configuring it".into(), e))
}

fn failed(action: &str, key: &str) -> impl FnOnce(opendal::Error) -> Failure {
    let action = format!("{action} `{key}`");
    move |e| Failure::Object(action, e)
}

pub(super) async fn put(op: &Operator, key: &str, file: &mut tokio::fs::File) -> Result<Moved> {
    let mut w = op
        .writer_with(key)
        .chunk(CHUNK)
        .await
        .map_err(failed("writing", key))?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    loop {
        let chunk = next_chunk(file, &mut hash)
            .await
            .map_err(|e| Failure::Io("reading", key.into(), e))?;
        if chunk.is_empty() {
            break;
        }
        bytes += chunk.len() as u64;
        if let Err(e) = w.write(chunk).await {
            let _ = w.abort().await;
            return Err(failed("writing", key)(e));
        }
    }
    if let Err(e) = w.close().await {
        // No unfinished multipart upload left behind on the bucket.
        let _ = w.abort().await;
        return Err(failed("writing", key)(e));
    }
    Ok(finish(hash, bytes))
}

pub(super) async fn put_bytes(op: &Operator, key: &str, bytes: Vec<u8>) -> Result<()> {
    op.write(key, bytes)
        .await
        .map(|_| ())
        .map_err(failed("writing", key))
}

pub(super) async fn get(op: &Operator, key: &str, to: &mut tokio::fs::File) -> Result<Moved> {
    use futures_util::TryStreamExt;
    use tokio::io::AsyncWriteExt;
    let missing = |e: opendal::Error| match e.kind() {
        ErrorKind::NotFound => Failure::Missing(key.into()),
        _ => failed("reading", key)(e),
    };
    let reader = op.reader_with(key).chunk(CHUNK).await.map_err(missing)?;
    let mut stream = reader.into_bytes_stream(..).await.map_err(missing)?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| Failure::Io("reading", key.into(), e))?
    {
        hash.update(&chunk);
        bytes += chunk.len() as u64;
        to.write_all(&chunk)
            .await
            .map_err(|e| Failure::Io("writing", key.into(), e))?;
    }
    Ok(finish(hash, bytes))
}

pub(super) async fn size(op: &Operator, key: &str) -> Result<Option<u64>> {
    match op.stat(key).await {
        Ok(m) => Ok(Some(m.content_length())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed("reading", key)(e)),
    }
}

pub(super) async fn delete(op: &Operator, dir: &str) -> Result<()> {
    let dir = format!("{}/", dir.trim_end_matches('/'));
    match op.delete_with(&dir).recursive(true).await {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(failed("deleting", &dir)(e)),
        _ => Ok(()),
    }
}
