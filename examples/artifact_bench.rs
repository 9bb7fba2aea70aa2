//! Benchmark of a backup artifact's path through compartment, without
//! Docker: a file of incompressible bytes encrypted as a backup writes it
//! (streamed ChaCha20-Poly1305, `ops::artifacts`), its checksum taken as
//! the record's (`ops::copies::checksums`), copied to a local backup target
//! and read back (`storage::Store`, the code SFTP and S3 targets share),
//! and decrypted as a restore reads it. Prints MiB/s for each step, the
//! median of three runs.
//!
//! `cargo build --release --example artifact_bench && target/release/examples/artifact_bench [MiB] [TARGET-URL]`
//! (the target defaults to a local directory; an `sftp://` or `s3://` URL
//! measures that kind, with the environment a backup command would have).

use compartment::ops::artifacts;
use compartment::state::secrets::SecretKey;
use compartment::storage::{Location, Store};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("dump.sql");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for i in 0..mib {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j as u64 ^ i.wrapping_mul(0x9e37_79b9)).wrapping_mul(2_654_435_761) as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let key = SecretKey::from_text("artifact-bench-key");
    let aad = artifacts::binding("rbak_bench", Path::new("dump.sql"));
    let backup = dir.path().join("rbak_bench");
    std::fs::create_dir_all(&backup).unwrap();
    let sealed = backup.join("dump.sql");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = match std::env::args().nth(2) {
        Some(url) => Location::parse(&url).expect("a backup target URL"),
        None => Location::Local {
            path: dir.path().join("target"),
        },
    };
    let mut steps: Vec<(&str, Vec<f64>)> = [
        "encrypt",
        "checksum",
        "copy to target",
        "read back",
        "decrypt",
    ]
    .iter()
    .map(|s| (*s, Vec::new()))
    .collect();
    for run in 0..3 {
        let timed = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            mib as f64 / t.elapsed().as_secs_f64()
        };
        steps[0].1.push(timed(&mut || {
            let mut r = std::fs::File::open(&plain).unwrap();
            let mut w = std::io::BufWriter::new(std::fs::File::create(&sealed).unwrap());
            artifacts::encrypt(&key, &aad, &mut r, &mut w).unwrap();
            w.flush().unwrap();
        }));
        steps[1].1.push(timed(&mut || {
            compartment::ops::copies::checksums(&backup).unwrap();
        }));
        let back = dir.path().join(format!("back-{run}"));
        steps[2].1.push(timed(&mut || {
            rt.block_on(async {
                let mut store = Store::open("bench", &target).await.unwrap();
                store
                    .put(&format!("r{run}/dump.sql"), &sealed)
                    .await
                    .unwrap();
            })
        }));
        steps[3].1.push(timed(&mut || {
            rt.block_on(async {
                let mut store = Store::open("bench", &target).await.unwrap();
                store.get(&format!("r{run}/dump.sql"), &back).await.unwrap();
            })
        }));
        steps[4].1.push(timed(&mut || {
            let mut r = std::fs::File::open(&back).unwrap();
            artifacts::decrypt(&key, &aad, &mut r, &mut std::io::sink()).unwrap();
        }));
        std::fs::remove_file(&back).unwrap();
    }
    println!("artifact of {mib} MiB, target {target} (median of 3 runs):");
    for (name, v) in steps {
        println!("  {name:<16} {:>8.0} MiB/s", median(v));
    }
}
