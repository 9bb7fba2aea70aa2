//! Hardening (issue #16): the lock (its holder, `state unlock` refusing a
//! live holder, one lock per real file, symlinked states written through),
//! keys, state strictness, validate-time input checks, files outside the
//! project, backups inside their directory, signals, hooks and the crash
//! torture test. Each test reproduces one problem the issue measured.

use crate::applied::{Sandbox, ENV};
use crate::state::{hold_lock, holder, STATE};

cases! {
    plain state_unlock_refuses_a_live_holder_unless_forced,
    plain the_lock_names_host_pid_and_process_start,
    plain a_symlinked_state_is_written_through_and_shares_the_lock_of_its_target,
}

// ------------------------------------------------------------------ lock

fn state_unlock_refuses_a_live_holder_unless_forced() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let store = sb.store();
    let mut child = hold_lock(&store);
    let info = store.lock_info().unwrap();
    let run = sb.cmd().args(["state", "unlock"]).status(1).output();
    assert_eq!(
        run.stderr,
        format!(
            "error: the lock on {STATE} is held by {} (pid {}) running `apply` since {}, and that process is still running on this host; wait for it to finish, or pass `--force` to remove the lock anyway\n",
            holder(),
            child.id(),
            info.since
        )
    );
    assert!(store.lock_path().exists(), "a live holder's lock is kept");
    let run = sb.cmd().args(["state", "unlock", "--force"]).output();
    assert_eq!(
        run.stdout,
        format!(
            "Removed the lock on {STATE} held by {} (pid {}) running `apply` since {}.\n",
            holder(),
            child.id(),
            info.since
        )
    );
    assert!(!store.lock_path().exists());
    drop(child.stdin.take());
    child.wait().unwrap();
}

fn the_lock_names_host_pid_and_process_start() {
    let sb = Sandbox::copy("example");
    let store = sb.store();
    let mut child = hold_lock(&store);
    let text = std::fs::read_to_string(store.lock_path()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let host = holder().split_once('@').unwrap().1.to_string();
    assert_eq!(v["host"], host.as_str());
    assert_eq!(v["pid"], child.id());
    // The start time is field 22 of /proc/<pid>/stat.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(v["processStart"], start);
    let info = store.lock_info().unwrap();
    assert!(info.is_alive_here());
    drop(child.stdin.take());
    child.wait().unwrap();
    // A lock recording the same pid with another start time is a reused
    // pid, not a live holder.
    let mut stale = info.clone();
    stale.pid = std::process::id();
    stale.process_start = Some(1);
    assert!(!stale.is_alive_here());
    stale.process_start = None;
    assert!(stale.is_alive_here());
    stale.host = Some("another-host".into());
    assert!(
        !stale.is_alive_here(),
        "a holder on another host is not checked"
    );
}

fn a_symlinked_state_is_written_through_and_shares_the_lock_of_its_target() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let store = sb.store();
    let real = sb.file(STATE);
    std::os::unix::fs::symlink(&real, sb.file("link.json")).unwrap();
    sb.cmd()
        .args([
            "variable",
            "set",
            "LOG_LEVEL",
            "debug",
            "--service",
            "api",
            "--state",
            "link.json",
        ])
        .output();
    let link = std::fs::symlink_metadata(sb.file("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink is not replaced");
    let st = store.load("internal-tools", ENV).unwrap();
    assert_eq!(st.serial, 2, "the target was written");
    assert_eq!(
        st.variables.service["api"]["LOG_LEVEL"].value.as_deref(),
        Some("debug")
    );
    assert!(!sb.file("link.json.backup").exists());
    assert!(sb.file(&format!("{STATE}.backup")).exists());
    // One lock for both names.
    let mut child = hold_lock(&store);
    let run = sb
        .cmd()
        .args([
            "variable",
            "set",
            "LOG_LEVEL",
            "info",
            "--service",
            "api",
            "--state",
            "link.json",
        ])
        .status(1)
        .output();
    assert!(run.stderr.contains("is locked by"), "{}", run.stderr);
    drop(child.stdin.take());
    child.wait().unwrap();
}
