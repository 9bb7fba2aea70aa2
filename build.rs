//! Builds the probe agent (agent/probe.rs) as one static executable that
//! compartment ships inside itself and runs, on an engine that is not this
//! machine's, as a short-lived container on an environment's network
//! (docker::agent). Static, so it runs in an image with nothing else in it.
//! When the toolchain cannot link it statically, compartment is built
//! without it and says so when a remote engine needs it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=agent/probe.rs");
    println!("cargo:rerun-if-changed=agent/transfer.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.join("compartment-probe");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let built = Command::new(rustc)
        .args(["--edition", "2021", "--crate-name", "compartment_probe"])
        .args(["-C", "target-feature=+crt-static", "-C", "opt-level=z"])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "-C",
            "codegen-units=1",
        ])
        .arg("agent/probe.rs")
        .arg("-o")
        .arg(&target)
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        println!("cargo:warning=the probe agent could not be built statically; remote engines will not be usable");
        std::fs::write(&target, b"").expect("OUT_DIR is writable");
    }
}
