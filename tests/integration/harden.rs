//! Hardening (issue #16): the lock (its holder, `state unlock` refusing a
//! live holder, one lock per real file, symlinked states written through),
//! keys, state strictness, validate-time input checks, files outside the
//! project, backups inside their directory, signals, hooks and the crash
//! torture test. Each test reproduces one problem the issue measured.

use crate::applied::{Sandbox, ENV};
use crate::state::{hold_lock, holder, STATE};
use crate::test::Test;
use std::os::unix::fs::PermissionsExt;

cases! {
    plain state_unlock_refuses_a_live_holder_unless_forced,
    plain the_lock_names_host_pid_and_process_start,
    plain a_symlinked_state_is_written_through_and_shares_the_lock_of_its_target,
    plain an_empty_or_malformed_key_file_is_refused,
    plain a_key_file_readable_by_others_is_refused,
    plain concurrent_first_runs_create_one_key_in_a_private_directory,
    plain a_state_sealed_with_another_key_is_refused_before_sealing,
    plain state_version_and_unknown_fields_are_named,
    docker sigterm_and_sighup_stop_like_ctrl_c_with_143_and_129,
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

// ------------------------------------------------------------------ keys

/// `variable set TOKEN --sensitive` (reads the value from stdin) with the
/// key from the sandbox's key file only.
fn set_sensitive(sb: &Sandbox, value: &str) -> Test {
    sb.cmd_without_key()
        .args([
            "variable",
            "set",
            "TOKEN",
            "--service",
            "api",
            "--sensitive",
            "--stdin",
        ])
        .stdin(&format!("{value}\n"))
}

fn write_key_file(sb: &Sandbox, text: &str, mode: u32) -> std::path::PathBuf {
    let path = sb.file(".config/compartment/secret.key");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn an_empty_or_malformed_key_file_is_refused() {
    for text in ["", "\n", "not base64!", "c2hvcnQ="] {
        let sb = Sandbox::copy("example");
        sb.apply();
        let before = sb.read(STATE);
        let path = write_key_file(&sb, text, 0o600);
        let run = set_sensitive(&sb, "s3cret").status(1).output();
        assert_eq!(
            run.stderr,
            format!("error: the key file {} is empty or malformed: it must hold 32 bytes in base64 (the first `compartment apply` writes one); an empty file is not a key\n", path.display()),
            "key file {text:?}"
        );
        assert_eq!(sb.read(STATE), before, "nothing sealed under a bad key");
    }
}

fn a_key_file_readable_by_others_is_refused() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let key = base64_key(7);
    let path = write_key_file(&sb, &key, 0o644);
    let run = set_sensitive(&sb, "s3cret").status(1).output();
    assert_eq!(
        run.stderr,
        format!(
            "error: the key file {p} is readable by group or others (mode 644); run `chmod 600 {p}`\n",
            p = path.display()
        )
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    set_sensitive(&sb, "s3cret").output();
}

fn base64_key(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn concurrent_first_runs_create_one_key_in_a_private_directory() {
    let config = tempfile::tempdir().unwrap();
    let sandboxes: Vec<Sandbox> = (0..8).map(|_| Sandbox::copy("example")).collect();
    let runs: Vec<_> = sandboxes
        .iter()
        .map(|sb| {
            let dir = config.path().display().to_string();
            let cmd = set_sensitive(sb, "s3cret").env("XDG_CONFIG_HOME", &dir);
            std::thread::spawn(move || cmd.output())
        })
        .collect();
    for r in runs {
        let run = r.join().unwrap();
        assert_eq!(run.status, 0, "{}", run.stderr);
    }
    let dir = config.path().join("compartment");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secret.key")), 0o600);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["secret.key"], "no temporary file left");
    // Every run sealed under the one key that was kept.
    let fingerprints: std::collections::BTreeSet<_> = sandboxes
        .iter()
        .map(|sb| {
            sb.store()
                .load("internal-tools", ENV)
                .unwrap()
                .key_fingerprint
        })
        .collect();
    assert_eq!(fingerprints.len(), 1, "{fingerprints:?}");
    let key = std::fs::read_to_string(dir.join("secret.key")).unwrap();
    let key = compartment::state::secrets::SecretKey::from_text(&key);
    assert_eq!(
        fingerprints.into_iter().next().unwrap(),
        Some(key.fingerprint())
    );
}

fn a_state_sealed_with_another_key_is_refused_before_sealing() {
    let sb = Sandbox::copy("example");
    sb.apply();
    write_key_file(&sb, &base64_key(1), 0o600);
    set_sensitive(&sb, "first").output();
    let st = sb.store().load("internal-tools", ENV).unwrap();
    let first = st
        .key_fingerprint
        .clone()
        .expect("the fingerprint is recorded");
    assert!(first.starts_with("sha256:") && first.len() == 23, "{first}");
    let before = sb.read(STATE);
    // The key file is replaced by another key (say, a fresh machine).
    write_key_file(&sb, &base64_key(2), 0o600);
    let other = compartment::state::secrets::SecretKey::from_text(&base64_key(2)).fingerprint();
    let run = set_sensitive(&sb, "second").status(1).output();
    assert_eq!(
        run.stderr,
        format!("error: this state was sealed with the key {first}, but the configured key is {other}; set COMPARTMENT_SECRET_KEY (or the key file) to the key that wrote this state; nothing was sealed\n")
    );
    assert_eq!(sb.read(STATE), before);
    // apply refuses too, before it seals or creates anything (no engine
    // is needed to get there: the key is checked first).
}

// ------------------------------------------------------- state strictness

fn state_version_and_unknown_fields_are_named() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let text = sb.read(STATE);
    for (version, shown) in [
        ("\"1\"", "\"1\" (a string, not a number)"),
        ("-1", "-1"),
        ("null", "null"),
    ] {
        sb.write(
            STATE,
            &text.replacen("\"version\": 6", &format!("\"version\": {version}"), 1),
        );
        let run = sb.cmd().args(["state", "show"]).status(1).output();
        assert_eq!(
            run.stderr,
            format!("error: {STATE} has `version` {shown}; a state format version is a whole number from 0 to 6\n")
        );
    }
    sb.write(
        STATE,
        &text.replacen("\"lineage\"", "\"linage\": \"typo\",\n  \"lineage\"", 1),
    );
    let run = sb.cmd().args(["plan"]).status(1).output();
    assert!(
        run.stderr.starts_with(&format!("error: {STATE} (state format version 6) is malformed: at `linage`: unknown field `linage`, expected one of")),
        "{}",
        run.stderr
    );
}

// --------------------------------------------------------------- signals

/// SIGTERM and SIGHUP mid-apply: starting nothing new, the running step
/// finishes, the state is saved, the lock released, exit 128 + signal.
fn sigterm_and_sighup_stop_like_ctrl_c_with_143_and_129() {
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let p = crate::engine::Project::new("apply/readiness");
        // As `apply::ctrl_c_stops_starting_nodes_...`: resource.broken made
        // ready so that the order is fixed with one step at a time.
        crate::apply::mend_broken(&p);
        let lock = p.state_path().with_extension("json.lock");
        let child = p.spawn(&["apply", "--yes", "--parallelism", "1"]);
        child.wait_for_stdout("resource.slow: waiting for TCP port 7000", 60);
        assert!(lock.exists());
        child.signal(signal);
        let out = child.finish();
        assert_eq!(
            out.code,
            Some(code),
            "{signal}\n{}\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout.contains("Interrupt received: starting nothing new; waiting for 1 running step(s): resource.slow\nresource.slow: ✓ created in"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("Apply interrupted: 3 created"),
            "{}",
            out.stdout
        );
        assert!(!lock.exists(), "the lock is released after SIG{signal}");
        let state = p.state();
        assert_eq!(
            state["resources"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["broken", "ok", "slow"]
        );
    }
}
