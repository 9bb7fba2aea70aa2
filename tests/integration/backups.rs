//! Backups you can trust (issue #15): `resource backup verify` restores a
//! backup into a scratch resource, checks it, records the outcome on the
//! backup and removes the scratch resource; `schedule.verify: true` does it
//! for every scheduled backup, and a red one makes `backup run-due` fail.
//!
//! Against the real engine: the postgres preset (real pg_dump and psql in
//! the test image) and `fixtures/ops/store` (busybox, tar).

use crate::engine::{docker_ok, Project};
use crate::test::assert_text;
use compartment::ops::artifacts;
use compartment::state::secrets::SecretKey;
use serde_json::Value;
use std::path::Path;

cases! {
    docker preset_backup_verified_green_and_a_corrupted_one_red,
    docker artifacts_are_encrypted_bound_and_still_restore,
    docker scheduled_backups_verified_and_a_red_one_fails_run_due,
    docker copies_on_sftp_and_s3_restore_when_the_local_artifacts_are_gone,
    docker retention_deletes_copies_and_keeps_a_backup_whose_copy_failed,
}

/// The backup key `Project::cmd` passes (COMPARTMENT_BACKUP_KEY).
fn backup_key() -> SecretKey {
    SecretKey::from_text("integration-test-backup-key")
}

/// The plaintext of the encrypted artifact `file` of backup `id`.
fn read_artifact(p: &Project, id: &str, file: &str) -> String {
    let path = p.backup_dir().join(id).join(file);
    let mut out = Vec::new();
    let aad = artifacts::binding(id, Path::new(file));
    artifacts::decrypt(
        &backup_key(),
        &aad,
        &mut std::fs::File::open(&path).unwrap(),
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(out).unwrap()
}

/// Replaces the artifact `file` of backup `id` with `text`, encrypted as
/// compartment encrypts it.
fn write_artifact(p: &Project, id: &str, file: &str, text: &str) {
    let path = p.backup_dir().join(id).join(file);
    let aad = artifacts::binding(id, Path::new(file));
    let mut out = Vec::new();
    artifacts::encrypt(&backup_key(), &aad, &mut text.as_bytes(), &mut out).unwrap();
    std::fs::write(path, out).unwrap();
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn record(p: &Project, id: &str) -> Value {
    p.state()["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no backup record {id}"))
}

fn create(p: &Project, resource: &str) -> String {
    let out = p
        .ops([
            "resource",
            "backup",
            "create",
            "--resource",
            resource,
            "--output",
            "json",
        ])
        .output();
    let v = json(&out.stdout);
    assert_eq!(v["status"], "succeeded", "{v}\n{}", out.stderr);
    v["id"].as_str().unwrap().to_string()
}

/// The scratch resource's name for backup `id` (the library's rule).
fn scratch(id: &str) -> String {
    format!("verify-{}", &id[5..15])
}

/// What the engine holds of the project: containers and volumes, sorted.
fn leftovers(p: &Project) -> (Vec<String>, Vec<String>) {
    let label = format!("label=io.compartment.project={}", p.name);
    let lines = |s: String| {
        let mut v: Vec<String> = s.lines().map(|l| l.replace(&p.name, "[PROJECT]")).collect();
        v.sort();
        v
    };
    (
        lines(docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &label,
            "--format",
            "{{.Names}}",
        ])),
        lines(docker_ok(&[
            "volume",
            "ls",
            "--filter",
            &label,
            "--format",
            "{{.Name}}",
        ])),
    )
}

fn psql(p: &Project, url: &str, sql: &str) -> String {
    docker_ok(&[
        "run",
        "--rm",
        "--network",
        &p.network(),
        "postgres:16-alpine",
        "psql",
        url,
        "-v",
        "ON_ERROR_STOP=1",
        "-tA",
        "-c",
        sql,
    ])
}

fn preset_backup_verified_green_and_a_corrupted_one_red() {
    let p = Project::new("ops/postgres");
    p.ops(["apply", "--yes"]).output();
    let url = p
        .cmd([
            "resource",
            "output",
            "show",
            "connection-url",
            "--resource",
            "db",
            "--reveal",
        ])
        .output()
        .stdout
        .trim_end()
        .to_string();
    psql(
        &p,
        &url,
        "create table notes (id int primary key, body text); insert into notes values (1, 'first'), (2, 'second')",
    );
    let before = leftovers(&p);
    assert_eq!(
        before,
        (
            vec!["cmpt-[PROJECT]-production-db".to_string()],
            vec!["cmpt-[PROJECT]-production-db-data".to_string()]
        )
    );

    // Green: the dump restores into a scratch database that answers.
    let id = create(&p, "db");
    let s = scratch(&id);
    let run = p
        .ops(["resource", "backup", "verify", "--backup", &id])
        .output();
    assert_text(
        "stdout",
        &format!(
            "\
resource.{s}: preparing
resource.{s}: checking image postgres:16-alpine ([TIME])
resource.{s}: starting the container ([TIME])
resource.{s}: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.{s}: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.{s}: running the verify command
restored 1 table(s); the restored database dumps back to the same text
Verified backup {id} of `db`: restored into the scratch resource `{s}`, ready, the verify command passed; the scratch resource and its volumes are removed.
"
        ),
        &p.normalize(&run.stdout),
    );
    assert_text("stderr", "", &run.stderr);
    let r = record(&p, &id);
    assert_eq!(r["verifyStatus"], "passed", "{r}");
    assert!(r["verifiedAt"].is_string(), "{r}");
    assert!(r.get("verifyError").is_none(), "{r}");
    assert_eq!(leftovers(&p), before, "the scratch resource is removed");
    // The state never holds the scratch resource.
    assert!(p.state()["resources"].get(&s).is_none());
    let list = json(
        &p.cmd(["resource", "backup", "list", "--output", "json"])
            .output()
            .stdout,
    );
    assert_eq!(list["schedules"][0]["lastVerified"]["backup"], id.as_str());
    assert_eq!(list["backups"][0]["verifyStatus"], "passed");

    // Red: a dump whose row no longer fits its column.
    let bad = create(&p, "db");
    let text = read_artifact(&p, &bad, "postgres.sql");
    assert!(text.contains("1\tfirst\n"), "{text}");
    write_artifact(
        &p,
        &bad,
        "postgres.sql",
        &text.replace("1\tfirst\n", "one\tfirst\n"),
    );
    let run = p
        .ops(["resource", "backup", "verify", "--backup", &bad])
        .status(1)
        .output();
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    let r = record(&p, &bad);
    assert_eq!(r["verifyStatus"], "failed", "{r}");
    let why = r["verifyError"].as_str().unwrap();
    // psql carries on past the failed COPY (the preset's restore is the
    // seed's): the re-dump shows the two rows missing. Only a count is
    // recorded, never the rows.
    assert_eq!(
        why,
        "the verify command exited with 1:\nthe restored database differs from the dump: 2 line(s) differ"
    );
    assert_text(
        "stderr",
        &format!("error: backup `{bad}` failed verification (recorded on the backup, see `compartment resource backup show --backup {bad}`): {why}\n"),
        &run.stderr,
    );
    let password = url
        .strip_prefix("postgres://app:")
        .and_then(|r| r.split('@').next())
        .unwrap();
    assert!(!why.contains(password));
    assert_eq!(leftovers(&p), before, "the scratch resource is removed");
    // The last verified backup is still the green one.
    let list = p.cmd(["resource", "backup", "list"]).output().stdout;
    assert!(
        list.contains(&format!("last verified backup {id} (verified ")),
        "{list}"
    );
    // The live database was never touched.
    assert_eq!(
        psql(&p, &url, "select id || ':' || body from notes order by id"),
        "1:first\n2:second\n"
    );
}

fn scheduled_backups_verified_and_a_red_one_fails_run_due() {
    let p = Project::new("ops/store");
    p.cmd(["apply", "--yes", "--target", "resource.store"])
        .output();
    p.edit(
        "compartment.yml",
        "          cron: \"*/15 * * * *\"\n",
        "          cron: \"*/15 * * * *\"\n          verify: true\n",
    );
    p.edit(
        "compartment.yml",
        "      restore:\n",
        "      verify:\n        command: test -s \"$COMPARTMENT_BACKUP_DIR/data.tar\" && echo verified\n      restore:\n",
    );
    let before = leftovers(&p);
    let run = p
        .ops(["backup", "run-due"])
        .env("COMPARTMENT_NOW", "2090-01-01T00:00:00Z")
        .output();
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let id = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("scheduled backup of `store`: "))
        .unwrap_or_else(|| panic!("no backup ran:\n{}", run.stdout))
        .to_string();
    assert_text(
        "stdout",
        &format!("scheduled backup of `store`: {id}\nverified scheduled backup {id} of `store`\n"),
        &run.stdout,
    );
    assert_eq!(record(&p, &id)["verifyStatus"], "passed");
    assert_eq!(leftovers(&p), before);

    // A verify command that fails: the record says why, run-due exits 1.
    p.edit(
        "compartment.yml",
        "&& echo verified",
        "&& echo \"no rows in $STORE_TOKEN\" && exit 4",
    );
    let run = p
        .ops(["backup", "run-due"])
        .env("COMPARTMENT_NOW", "2090-01-01T00:15:00Z")
        .status(1)
        .output();
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    let red = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("scheduled backup of `store`: "))
        .unwrap()
        .to_string();
    assert_text(
        "stderr",
        &format!("verification of scheduled backup {red} of `store` failed: the verify command exited with 4:\nno rows in (sensitive)\n"),
        &run.stderr,
    );
    let r = record(&p, &red);
    assert_eq!(r["verifyStatus"], "failed");
    assert_eq!(
        r["verifyError"],
        "the verify command exited with 4:\nno rows in (sensitive)"
    );
    assert_eq!(leftovers(&p), before);
    let list = p.cmd(["resource", "backup", "list"]).output().stdout;
    assert!(
        list.contains(&format!("last verified backup {id} (verified ")),
        "{list}"
    );
    let row = list.lines().find(|l| l.starts_with(&red)).unwrap();
    assert!(row.trim_end().ends_with("failed"), "{row}");
}

/// The artifacts of a backup are encrypted (a known row is nowhere in the
/// backup directory), bound to their backup and key, and restore; a
/// missing or other key is refused before anything is created; a changed
/// byte makes verification red with the reason; a plaintext artifact of an
/// earlier version still restores; the first backup without a key creates
/// the key file and says so.
fn artifacts_are_encrypted_bound_and_still_restore() {
    let p = Project::new("ops/postgres");
    p.ops(["apply", "--yes"]).output();
    let url = |resource: &str| {
        p.cmd([
            "resource",
            "output",
            "show",
            "connection-url",
            "--resource",
            resource,
            "--reveal",
        ])
        .output()
        .stdout
        .trim_end()
        .to_string()
    };
    let marker = "marker-row-7f3a9c";
    psql(
        &p,
        &url("db"),
        &format!("create table notes (body text); insert into notes values ('{marker}')"),
    );
    let id = create(&p, "db");
    let dir = p.backup_dir().join(&id);
    let dump = dir.join("postgres.sql");
    let bytes = std::fs::read(&dump).unwrap();
    assert!(bytes.starts_with(b"CMPTBAK1"), "not encrypted");
    for entry in walkdir::WalkDir::new(p.backup_dir()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let b = std::fs::read(entry.path()).unwrap();
            assert!(
                !b.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "plaintext in {}",
                entry.path().display()
            );
        }
    }
    assert!(read_artifact(&p, &id, "postgres.sql").contains(marker));
    let shown = json(
        &p.ops(["resource", "backup", "show", "--backup", &id])
            .output()
            .stdout,
    );
    assert_eq!(
        shown["encryptedWith"],
        backup_key().fingerprint().as_str(),
        "{shown}"
    );
    // It restores (decrypted on its way into the engine).
    p.ops([
        "resource", "backup", "restore", "--backup", &id, "--as", "copy",
    ])
    .output();
    assert_eq!(
        psql(&p, &url("copy"), "select body from notes"),
        format!("{marker}\n")
    );
    // Exported, decrypted, for a person or another tool: audited.
    let to = p.backup_dir().parent().unwrap().join("export");
    let to_arg = to.to_str().unwrap();
    let run = p
        .ops([
            "resource", "backup", "export", "--backup", &id, "--to", to_arg,
        ])
        .output();
    assert_eq!(
        p.normalize(&run.stdout),
        format!("Exported backup {id} of `db` (1 file(s), decrypted) to [TMP]/export. They hold the resource's data in plaintext: keep them safe, and delete them when done.\n")
    );
    let exported = std::fs::read_to_string(to.join("postgres.sql")).unwrap();
    assert!(exported.contains(marker));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(to.join("postgres.sql"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let audit = std::fs::read_to_string(p.audit_path()).unwrap();
    let last: Value = json(audit.lines().last().unwrap());
    assert_eq!(
        (last["action"].as_str(), last["backup"].as_str()),
        (Some("backup.export"), Some(id.as_str())),
        "{audit}"
    );
    let again = p
        .ops([
            "resource", "backup", "export", "--backup", &id, "--to", to_arg,
        ])
        .status(1)
        .output();
    assert_eq!(
        p.normalize(&again.stderr),
        "error: cannot export to [TMP]/export: it is not empty; name a new or empty directory\n"
    );
    // No key, or another key: refused before anything is created.
    let refused = |key: &str| {
        p.ops([
            "resource", "backup", "restore", "--backup", &id, "--as", "copy2",
        ])
        .env("COMPARTMENT_BACKUP_KEY", key)
        .status(1)
        .output()
        .stderr
    };
    let none = refused("");
    assert!(
        none.starts_with("error: no backup key: set COMPARTMENT_BACKUP_KEY or put the key file ")
            && none.contains("backup.key back"),
        "{none}"
    );
    let other = refused("another-key");
    assert_eq!(other, format!("error: the artifacts of backup `{id}` were encrypted with the backup key {}, but the configured backup key is {}; set COMPARTMENT_BACKUP_KEY (or the key file) to the key that wrote them; nothing was changed\n", backup_key().fingerprint(), SecretKey::from_text("another-key").fingerprint()));
    assert!(
        !crate::engine::docker(&["inspect", &p.container("copy2")]).0,
        "nothing was created"
    );
    // A plaintext artifact of an earlier version still restores.
    let plain = read_artifact(&p, &id, "postgres.sql");
    std::fs::write(&dump, &plain).unwrap();
    p.ops([
        "resource", "backup", "restore", "--backup", &id, "--as", "copy3",
    ])
    .output();
    assert_eq!(
        psql(&p, &url("copy3"), "select body from notes"),
        format!("{marker}\n")
    );
    // One changed byte: verification is red and says why.
    let mut changed = bytes.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 0x20;
    std::fs::write(&dump, &changed).unwrap();
    let run = p
        .ops(["resource", "backup", "verify", "--backup", &id])
        .status(1)
        .output();
    let why = record(&p, &id)["verifyError"].as_str().unwrap().to_string();
    assert!(why.contains("it does not open with this backup key: it was changed or cut short, or written with another key"), "{why}\n{}", run.stderr);
    // The first backup without a configured key creates the key file.
    let run = p
        .ops(["resource", "backup", "create", "--resource", "db"])
        .env("COMPARTMENT_BACKUP_KEY", "")
        .output();
    let stderr = p.normalize(&run.stderr);
    assert!(stderr.contains("note: created the backup key [TMP]/config/compartment/backup.key (backup artifacts are encrypted with it). Back it up now"), "{stderr}");
}

/// `text` appended to the project's compartment.yml.
fn append(p: &Project, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(p.dir.join("compartment.yml"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn sha256(bytes: &[u8]) -> String {
    compartment::support::digest::sha256_hex(bytes)
}

/// What the backup directory holds besides the backups' own directories
/// (a `--from` read leaves nothing behind).
fn strays(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.backup_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("rbak_"))
        .collect()
}

/// Every backup is copied to an SFTP host (Debian's sshd in a test host of
/// its own, through `ssh`) and to an S3 server, byte for byte with its
/// checksums, encrypted (no row of the data in any copy); `backup list`
/// says where each copy lives. With the local artifacts gone a restore
/// names the copies, and restores from each (`--from`); a copy that changed
/// is refused before anything is reset; an unknown target is named.
fn copies_on_sftp_and_s3_restore_when_the_local_artifacts_are_gone() {
    let sftp = crate::servers::SftpHost::start();
    let s3 = crate::servers::S3Server::start("compartment-test");
    let p = Project::new("ops/postgres");
    let root = p.backup_dir().with_file_name("sftp-root");
    let ip = sftp.host.ip.clone();
    append(
        &p,
        &format!(
            "\nenvironments:\n  production:\n    backups:\n      offsite: sftp://root@{ip}{}\n      vault: s3://compartment-test/shop\n",
            root.display()
        ),
    );
    let ssh = sftp.ssh_command();
    let cmd = |args: &[&str]| {
        let mut t = p.ops(args).env("COMPARTMENT_SSH", &ssh);
        for (k, v) in s3.env() {
            t = t.env(k, &v);
        }
        t
    };
    cmd(&["apply", "--yes"]).output();
    let url = p
        .cmd(["resource", "output", "show", "connection-url"])
        .args(["--resource", "db", "--reveal"])
        .output()
        .stdout
        .trim_end()
        .to_string();
    let rows = |p: &Project| psql(p, &url, "select id || ':' || body from notes order by id");
    psql(
        &p,
        &url,
        "create table notes (id int primary key, body text); insert into notes values (1, 'first-row'), (2, 'second-row')",
    );

    let run = cmd(&["resource", "backup", "create", "--resource", "db"]).output();
    let id = run
        .stdout
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let dir = format!("[PROJECT]/production/{id}");
    assert_text(
        "stdout",
        &format!(
            "Created backup {id} of `db` in [TMP]/backups/{id}.\n\
             Copied it to `offsite` (sftp://root@[IP][TMP]/sftp-root/{dir}).\n\
             Copied it to `vault` (s3://compartment-test/shop/{dir}).\n"
        ),
        &p.normalize(&run.stdout),
    );
    assert_text("stderr", "", &run.stderr);
    // Byte for byte, with the checksum recorded and written beside it.
    let local = std::fs::read(p.backup_dir().join(&id).join("postgres.sql")).unwrap();
    let sum = sha256(&local);
    assert_eq!(record(&p, &id)["checksums"]["postgres.sql"], sum.as_str());
    let on_sftp = root.join(&p.name).join("production").join(&id);
    assert_eq!(std::fs::read(on_sftp.join("postgres.sql")).unwrap(), local);
    assert_eq!(
        std::fs::read_to_string(on_sftp.join("SHA256SUMS")).unwrap(),
        format!("{sum}  postgres.sql\n")
    );
    let prefix = format!("shop/{}/production/{id}", p.name);
    assert_eq!(
        s3.keys("shop/"),
        [
            format!("{prefix}/SHA256SUMS"),
            format!("{prefix}/postgres.sql")
        ]
    );
    // The copies are the encrypted artifact (the S3 one is checked against
    // the same checksum when it is restored from, below).
    for copy in [
        &local,
        &std::fs::read(on_sftp.join("postgres.sql")).unwrap(),
    ] {
        let text = String::from_utf8_lossy(copy);
        assert!(!text.contains("first-row") && !text.contains("notes"));
    }
    // Where each copy lives.
    let list = p.normalize(&p.cmd(["resource", "backup", "list"]).output().stdout);
    for (target, place) in [
        ("offsite", format!("sftp://root@[IP][TMP]/sftp-root/{dir}")),
        ("vault", format!("s3://compartment-test/shop/{dir}")),
    ] {
        assert!(
            list.lines().any(|l| l.contains(&id)
                && l.contains(target)
                && l.contains(&place)
                && l.contains("copied")),
            "{list}"
        );
    }
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.trim_end().ends_with("offsite, vault")),
        "{list}"
    );

    // The local artifacts are lost: the restore says where copies are.
    std::fs::remove_dir_all(p.backup_dir().join(&id)).unwrap();
    let run = cmd(&["resource", "backup", "restore", "--backup", &id])
        .args(["--resource", "db", "--yes"])
        .status(1)
        .output();
    assert_text(
        "stderr",
        &format!("error: the artifacts of backup `{id}` are missing from [TMP]/backups/{id}; it has copies on offsite, vault: read it from one with --from TARGET\n"),
        &p.normalize(&run.stderr),
    );
    for target in ["offsite", "vault"] {
        psql(
            &p,
            &url,
            &format!("insert into notes values (3, 'after-{target}')"),
        );
        let run = cmd(&["resource", "backup", "restore", "--backup", &id])
            .args(["--resource", "db", "--yes", "--from", target])
            .output();
        let pre = run
            .stdout
            .lines()
            .last()
            .and_then(|l| {
                l.strip_prefix(&format!(
                    "Restored backup {id} into `db` (pre-restore backup: "
                ))
            })
            .and_then(|l| l.strip_suffix(")."))
            .unwrap_or_else(|| panic!("{}\n{}", run.stdout, run.stderr))
            .to_string();
        assert_eq!(rows(&p), "1:first-row\n2:second-row\n", "from {target}");
        assert_eq!(strays(&p), Vec::<String>::new(), "from {target}");
        // The pre-restore backup was copied like any other.
        let copies = record(&p, &pre)["copies"].clone();
        assert_eq!(copies[0]["status"], "copied", "{copies}");
        assert_eq!(copies[1]["status"], "copied", "{copies}");
    }

    // A copy that changed is refused before the database is reset.
    psql(&p, &url, "insert into notes values (5, 'kept')");
    let mut changed = local.clone();
    changed[40] ^= 1;
    std::fs::write(on_sftp.join("postgres.sql"), &changed).unwrap();
    let run = cmd(&["resource", "backup", "restore", "--backup", &id])
        .args(["--resource", "db", "--yes", "--from", "offsite"])
        .status(1)
        .output();
    assert_text(
        "stderr",
        &format!(
            "error: the copy of `postgres.sql` of backup `{id}` has sha256 [ID], not the recorded [ID]: it is corrupt or not this backup's; nothing was restored from it\n"
        ),
        &p.normalize(&run.stderr),
    );
    assert_eq!(rows(&p), "1:first-row\n2:second-row\n5:kept\n");
    assert_eq!(strays(&p), Vec::<String>::new());
    let run = cmd(&["resource", "backup", "verify", "--backup", &id])
        .args(["--from", "nowhere"])
        .status(1)
        .output();
    assert_text(
        "stderr",
        &format!("error: backup `{id}` has no copy on `nowhere` (copies: offsite, vault)\n"),
        &run.stderr,
    );
}

/// Scheduled backups are copied to a directory on another disk and to an
/// S3 server; a copy that fails (the server unreachable) marks the backup,
/// fails `backup run-due` and shows in `backup list`; retention keeps a
/// backup while its copy failed and a backup whose copy it cannot delete;
/// the next run retries the failed copies, and retention then deletes the
/// old backups' copies with them.
fn retention_deletes_copies_and_keeps_a_backup_whose_copy_failed() {
    let s3 = crate::servers::S3Server::start("compartment-test");
    let p = Project::new("ops/store");
    let disk = p.backup_dir().with_file_name("disk");
    append(
        &p,
        &format!(
            "\nenvironments:\n  production:\n    backups:\n      disk: {}\n      vault: s3://compartment-test/store\n",
            disk.display()
        ),
    );
    p.cmd(["apply", "--yes", "--target", "resource.store"])
        .output();
    let run_due = |now: &str, reachable: bool, status: i32| {
        let mut t = p
            .ops(["backup", "run-due", "--output", "json"])
            .env("COMPARTMENT_NOW", now)
            .status(status);
        for (k, v) in s3.env() {
            t = t.env(k, &v);
        }
        if !reachable {
            t = t.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        }
        let run = t.output();
        assert_eq!(run.status, status, "{}\n{}", run.stdout, run.stderr);
        json(&run.stdout)
    };
    let names = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["backup"].as_str().unwrap(),
                    c["target"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let on_disk = |id: &str| disk.join(&p.name).join("production").join(id);
    let in_s3 = |id: &str| s3.keys(&format!("store/{}/production/{id}/", p.name));
    let files = ["SHA256SUMS", "data.tar", "env.txt", "host.txt", "image.txt"];

    let r = run_due("2090-01-01T00:00:00Z", true, 0);
    let a = r["ran"][0]["backup"].as_str().unwrap().to_string();
    assert_eq!(
        names(&r, "copied"),
        [format!("{a} disk"), format!("{a} vault")]
    );
    for f in files {
        assert!(on_disk(&a).join(f).is_file(), "{f}");
    }
    assert_eq!(in_s3(&a).len(), files.len());

    // The server is unreachable: the copy fails, the run fails.
    let r = run_due("2090-01-01T00:15:00Z", false, 1);
    let b = r["ran"][0]["backup"].as_str().unwrap().to_string();
    assert_eq!(names(&r, "copied"), [format!("{b} disk")]);
    assert_eq!(names(&r, "copyFailed"), [format!("{b} vault")]);
    let why = r["copyFailed"][0]["error"].as_str().unwrap();
    assert!(
        why.starts_with("backup target `vault` (s3://compartment-test/store): writing `"),
        "{why}"
    );
    let copies = record(&p, &b)["copies"].clone();
    assert_eq!(
        (&copies[1]["target"], &copies[1]["status"]),
        (&"vault".into(), &"failed".into())
    );
    let list = p.cmd(["resource", "backup", "list"]).output().stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&b) && l.trim_end().ends_with("disk, vault (failed)")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.starts_with(&b)
            && l.contains(" failed ")
            && l.contains("backup target `vault`")),
        "{list}"
    );

    // Two days on, still unreachable: `a` is due for deletion but its S3
    // copy cannot be deleted, so all of it is kept; `b` is kept while its
    // copy failed.
    let r = run_due("2090-01-03T00:00:00Z", false, 1);
    let c = r["ran"][0]["backup"].as_str().unwrap().to_string();
    assert_eq!(
        names(&r, "copyFailed"),
        [format!("{c} vault"), format!("{b} vault")]
    );
    assert_eq!(r["cleaned"], serde_json::json!([]));
    let kept = r["cleanFailed"][0]["error"].as_str().unwrap();
    assert!(
        kept.starts_with(&format!("deleting the copy of backup `{a}` on `vault` failed (the backup and its local artifacts are kept): backup target `vault`")),
        "{kept}"
    );
    for id in [&a, &b] {
        assert_eq!(record(&p, id)["status"], "succeeded", "{id}");
        assert!(p.backup_dir().join(id).is_dir(), "{id}");
    }
    assert!(!on_disk(&a).exists(), "the disk copy of `a` went first");
    assert_eq!(record(&p, &a)["copies"][0]["status"], "deleted");

    // Reachable again: the failed copies are made, and retention (keepLast
    // 2) deletes `a` and `b` with their copies.
    let r = run_due("2090-01-03T00:15:00Z", true, 0);
    let d = r["ran"][0]["backup"].as_str().unwrap().to_string();
    assert_eq!(
        names(&r, "copied"),
        [
            format!("{d} disk"),
            format!("{d} vault"),
            format!("{b} vault"),
            format!("{c} vault")
        ]
    );
    assert_eq!(names(&r, "cleaned"), [format!("{a} "), format!("{b} ")]);
    for id in [&a, &b] {
        let rec = record(&p, id);
        assert_eq!(rec["status"], "deleted", "{rec}");
        assert!(
            rec["copies"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["status"] == "deleted"),
            "{rec}"
        );
        assert!(!on_disk(id).exists() && in_s3(id).is_empty(), "{id}");
        assert!(!p.backup_dir().join(id).exists(), "{id}");
    }
    for id in [&c, &d] {
        assert_eq!(in_s3(id).len(), files.len(), "{id}");
        assert!(on_disk(id).join("SHA256SUMS").is_file(), "{id}");
    }
}
