//! Day-2 operations: resource commands, outputs with audited reveals,
//! variables and bindings, backups, restores in place and `--as`, scheduled
//! backups with retention, and roles.
//!
//! The refusals, roles and variable commands need no engine and always run
//! (with `DOCKER_HOST` pointing nowhere, to prove it). The rest runs against
//! the real engine on `fixtures/ops/store` (a busybox resource whose volume
//! is backed up and restored with tar) and `fixtures/ops/postgres` (the
//! preset, with its own pg_dump/psql operations).

use crate::engine::{docker, docker_ok, Project};
use crate::test::{assert_text, Run, Test};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

cases! {
    plain refusals_are_whole_messages_and_need_no_engine,
    plain roles_refuse_with_the_missing_permission_and_need_no_engine,
    plain variables_and_bindings_before_the_first_deploy,
    docker resource_commands_outputs_reveals_and_runtime_variables,
    docker backups_restore_in_place_and_into_a_new_resource,
    docker scheduled_backups_cron_minute_and_retention,
    docker postgres_preset_backup_restore_round_trip,
    docker scheduler_stops_after_a_ctrl_c_pressed_during_a_backup,
}

const NO_ENGINE: &str = "unix:///nonexistent/compartment-ops-test.sock";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

/// Runs a command expected to fail with exactly `message`, printing nothing
/// on stdout.
fn refused(t: Test, message: &str) {
    t.status(1).stderr(&format!("error: {message}\n")).run();
}

/// `apply --yes --target resource.store` of `ops/store` on an empty state.
const STORE_APPLIED: &str = "\
Plan for [PROJECT] / production (new state)
Targeted: resource.store and what it depends on; other changes are not planned.

+ resource.store create
    + command: [\"sh\",\"-c\",\"echo store starting; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.STORE_MODE: \"plain\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" . && env | sort > \\\"$COMPARTMENT_BACKUP_DIR/env.txt\\\" && getent hosts \\\"$COMPARTMENT_RESOURCE_HOST\\\" > \\\"$COMPARTMENT_BACKUP_DIR/host.txt\\\" && . /etc/os-release && echo \\\"$ID\\\" > \\\"$COMPARTMENT_BACKUP_DIR/image.txt\\\"\"
    + operations.backup.env.OP_ONLY: \"backup\"
    + operations.backup.env.STORE_MODE: \"from-operation\"
    + operations.backup.image: \"compartment-test/debian:12\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 2
    + operations.backup.retention.maxAgeDays: 1
    + operations.backup.schedule.cron: \"*/15 * * * *\"
    + operations.restore.command: \"if touch /backup/probe 2>/dev/null; then echo \\\"/backup is writable\\\"; exit 1; fi; tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"tcp://:${env.STORE_TOKEN}@${resource.host}:7000\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated STORE_TOKEN: will be generated

Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.store: preparing
resource.store: checking image compartment-test/busybox:1 ([TIME])
resource.store: starting the container ([TIME])
resource.store: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.store: ✓ created in [TIME]

Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 2).
";

fn no_engine(t: Test) -> Test {
    t.env("DOCKER_HOST", NO_ENGINE)
}

/// The backup records of the state.
fn records(p: &Project) -> Vec<Value> {
    p.state()["backups"].as_array().cloned().unwrap_or_default()
}

fn record(p: &Project, id: &str) -> Value {
    records(p)
        .into_iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("no backup record {id}"))
}

fn is_backup_id(s: &str) -> bool {
    s.strip_prefix("rbak_").is_some_and(|r| {
        r.len() == 20
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

/// `resource backup create --output json`, returning the record's id.
fn backup_create(p: &Project, resource: &str, now: Option<&str>) -> String {
    let mut t = p.ops([
        "resource",
        "backup",
        "create",
        "--resource",
        resource,
        "--output",
        "json",
    ]);
    if let Some(now) = now {
        t = t.env("COMPARTMENT_NOW", now);
    }
    let v = json(&t.output());
    assert_eq!(v["status"], "succeeded", "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert!(is_backup_id(&id), "{id}");
    id
}

fn env_of(p: &Project, container: &str) -> Vec<String> {
    p.inspect(container, "{{range .Config.Env}}{{println .}}{{end}}")
        .lines()
        .map(String::from)
        .collect()
}

fn exec(p: &Project, container: &str, script: &str) -> String {
    docker_ok(&["exec", &p.container(container), "sh", "-c", script])
}

fn audit_lines(p: &Project) -> Vec<Value> {
    match std::fs::read_to_string(p.audit_path()) {
        Ok(t) => t
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => vec![],
    }
}

fn write_access_file(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        "actors:\n  ada: admin\n  dan: {production: deployer}\n  rita: {\"*\": readonly}\n  vera: viewer\n  alice: {production: viewer, staging: admin}\n  aud: auditor\nroles:\n  auditor:\n    permissions: [deployment.create]\n",
    )
    .unwrap();
}

/// A child process whose stdout lines arrive on a channel.
struct Lines {
    child: std::process::Child,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn spawn(p: &Project, args: &[&str], envs: &[(&str, &str)]) -> Lines {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_compartment"));
        cmd.args(["--project", &p.name])
            .args(args)
            .current_dir(&p.dir)
            .env("COMPARTMENT_SECRET_KEY", "integration-test-key")
            .env("COMPARTMENT_BACKUP_KEY", "integration-test-backup-key")
            .env("COMPARTMENT_RESOURCE_BACKUP_DIR", p.backup_dir())
            .env_remove("COMPARTMENT_NOW")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            child,
            rx,
            seen: vec![],
        }
    }

    /// Waits (up to 60 s) for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no line with {needle:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn interrupt(mut self) -> (Option<i32>, Vec<String>) {
        std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(l);
        }
        (status.code(), std::mem::take(&mut self.seen))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------ no engine

fn refusals_are_whole_messages_and_need_no_engine() {
    let p = Project::new("ops/store");
    let bare = |args: &[&str]| no_engine(p.cmd(args.iter().copied()));

    // The backup directory: set, and absolute.
    refused(
        bare(&["resource", "backup", "create", "--resource", "store"]),
        "COMPARTMENT_RESOURCE_BACKUP_DIR is not set: set it to a persistent absolute host directory for backup artifacts, e.g. /var/lib/compartment/backups",
    );
    let relative = "COMPARTMENT_RESOURCE_BACKUP_DIR must be an absolute path, not `backups`: relative backup directories are rejected because they depend on the working directory; set it to e.g. /var/lib/compartment/backups";
    for args in [
        &["resource", "backup", "create", "--resource", "store"][..],
        &[
            "resource", "backup", "restore", "--backup", "rbak_x", "--as", "copy",
        ],
        &[
            "resource",
            "backup",
            "restore",
            "--backup",
            "rbak_x",
            "--resource",
            "store",
            "--yes",
        ],
        &["backup", "run-due"],
        &["scheduler"],
    ] {
        refused(
            bare(args).env("COMPARTMENT_RESOURCE_BACKUP_DIR", "backups"),
            relative,
        );
    }

    // Restore targets.
    let dir = p.backup_dir();
    let with_dir =
        |args: &[&str]| bare(args).env("COMPARTMENT_RESOURCE_BACKUP_DIR", dir.to_str().unwrap());
    refused(
        with_dir(&["resource", "backup", "restore", "--resource", "store", "--backup", "rbak_x"]),
        "in-place restore overwrites the data of `store` (after taking a pre-restore backup); pass --yes to confirm",
    );
    for extra in [&[][..], &["--yes"]] {
        let mut args = vec![
            "resource",
            "backup",
            "restore",
            "--resource",
            "store",
            "--as",
            "copy",
            "--backup",
            "rbak_x",
        ];
        args.extend_from_slice(extra);
        refused(
            with_dir(&args),
            "--resource and --as cannot be combined: in-place restore (--resource R --yes) and restore into a new resource (--as NEW) are separate restore targets",
        );
    }
    refused(
        with_dir(&["resource", "backup", "restore", "--backup", "rbak_x"]),
        "say where to restore: --resource <name> --yes (in place, destructive) or --as <new name> (into a new resource)",
    );
    // An injected clock must be a time (the message's example time is
    // normalised like any timestamp).
    refused(
        with_dir(&["backup", "run-due"]).env("COMPARTMENT_NOW", "tomorrow"),
        "COMPARTMENT_NOW must be an RFC 3339 time such as [TIMESTAMP], not `tomorrow` (premature end of input)",
    );
    // Nothing deployed yet.
    refused(
        bare(&["resource", "output", "list", "--resource", "store"]),
        "resource `store` is not deployed in environment `production`; nothing has been applied in this environment yet",
    );
    refused(
        bare(&["resource", "backup", "show", "--backup", "rbak_x"]),
        "no backup `rbak_x` in environment `production` (see `compartment resource backup list`)",
    );
}

fn roles_refuse_with_the_missing_permission_and_need_no_engine() {
    let p = Project::new("ops/store");
    let file = p.dir.join("access").join("roles.yml");
    write_access_file(&file);
    let path = file.display().to_string();
    // The file as the outputs name it, the temporary directory normalised.
    let f = "[TMP]/project/access/roles.yml";
    let as_ = |actor: &str, args: &[&str]| {
        no_engine(p.cmd(args.iter().copied()))
            .env("COMPARTMENT_ACTOR", actor)
            .env("COMPARTMENT_ACCESS_FILE", &path)
            .env(
                "COMPARTMENT_RESOURCE_BACKUP_DIR",
                p.backup_dir().to_str().unwrap(),
            )
    };
    let one = |who: &str, role: &str, cmd: &str, perm: &str| {
        format!("{who} (role {role} in production) may not run `{cmd}`: it needs the permission `{perm}`; ask an admin to grant a role with it in {f}")
    };

    // Built-in roles.
    refused(
        as_("vera", &["resource", "list"]),
        &one("vera", "viewer", "resource list", "deployment.create"),
    );
    refused(
        as_("vera", &["resource", "logs", "--resource", "store"]),
        &format!("vera (role viewer in production) may not run `resource logs`: it needs the permissions `deployment.create` and `deployment.logs.read`; ask an admin to grant a role with them in {f}"),
    );
    refused(
        as_("vera", &["scheduler"]),
        &one("vera", "viewer", "backup run-due", "deployment.create"),
    );
    refused(
        as_(
            "rita",
            &["variable", "set", "X", "y", "--resource", "store"],
        ),
        &one("rita", "readonly", "variable set", "variable.value.write"),
    );
    refused(
        as_("rita", &["resource", "backup", "list"]),
        &one(
            "rita",
            "readonly",
            "resource backup list",
            "deployment.create",
        ),
    );
    refused(
        as_("rita", &["apply", "--yes"]),
        &one("rita", "readonly", "apply", "deployment.create"),
    );
    refused(
        as_(
            "dan",
            &[
                "resource",
                "output",
                "show",
                "url",
                "--resource",
                "store",
                "--reveal",
            ],
        ),
        &one(
            "dan",
            "deployer",
            "resource output show --reveal",
            "variable.value.read",
        ),
    );
    refused(
        as_("dan", &["state", "unlock"]),
        &one("dan", "deployer", "state unlock", "state.write"),
    );
    // What they may do (none of it needs the engine).
    as_("rita", &["variable", "list"])
        .stdout("No variables.\n")
        .run();
    as_("dan", &["resource", "backup", "list"])
        .stdout("No backups.\n")
        .run();
    as_("dan", &["variable", "set", "X", "y", "--resource", "store"])
        .stdout("Set variable `X`; the next apply restarts what uses it.\n")
        .run();
    as_("ada", &["variable", "remove", "X", "--resource", "store"])
        .stdout("Removed variable `X`.\n")
        .run();

    // A custom role.
    refused(
        as_("aud", &["resource", "logs", "--resource", "store"]),
        &one("aud", "auditor", "resource logs", "deployment.logs.read"),
    );
    refused(
        as_("aud", &["resource", "delete", "--resource", "store"]),
        &one("aud", "auditor", "resource delete", "deployment.delete"),
    );
    as_("aud", &["resource", "backup", "list"])
        .stdout("No backups.\n")
        .run();

    // Roles are per environment.
    refused(
        as_("alice", &["resource", "backup", "list"]),
        &one(
            "alice",
            "viewer",
            "resource backup list",
            "deployment.create",
        ),
    );
    as_("alice", &["--env", "staging", "resource", "backup", "list"])
        .stdout("No backups.\n")
        .run();

    // An actor without a role, and an access file that does not exist.
    refused(
        as_("nobody", &["resource", "list"]),
        &format!("nobody has no role in production and may not run `resource list`; ask an admin to give nobody a role for production under `actors` in {f}"),
    );
    let missing = p.dir.join("access").join("missing.yml");
    refused(
        as_("ada", &["resource", "list"]).env("COMPARTMENT_ACCESS_FILE", missing.to_str().unwrap()),
        "the access file [TMP]/project/access/missing.yml named by COMPARTMENT_ACCESS_FILE does not exist; create it, or unset COMPARTMENT_ACCESS_FILE to use .compartment/access.yml beside compartment.yml",
    );

    // The default place: .compartment/access.yml beside compartment.yml.
    write_access_file(&p.dir.join(".compartment/access.yml"));
    refused(
        no_engine(p.cmd(["resource", "list"])).env("COMPARTMENT_ACTOR", "vera"),
        "vera (role viewer in production) may not run `resource list`: it needs the permission `deployment.create`; ask an admin to grant a role with it in ./.compartment/access.yml",
    );
}

fn variables_and_bindings_before_the_first_deploy() {
    let p = Project::new("ops/store");
    let v = |args: &[&str]| no_engine(p.cmd(["variable"]).args(args.iter().copied()));

    v(&["set", "STORE_EXTRA", "hello", "--resource", "store"])
        .stdout("Set variable `STORE_EXTRA`; the next apply restarts what uses it.\n")
        .run();
    v(&[
        "set",
        "API_KEY",
        "--service",
        "web",
        "--sensitive",
        "--stdin",
    ])
    .stdin("s3cret-value\n")
    .stdout("Set sensitive variable `API_KEY`; the next apply restarts what uses it.\n")
    .run();
    // A binding before the first deploy: compartment.yml declares the
    // service, the resource and the output.
    v(&["set", "STORE_URL", "--service", "web", "--from-resource", "store.url"])
        .stdout("Bound `web.STORE_URL` to `store.url`; it is resolved when the service starts (next apply).\n")
        .run();

    // Conflicts and mistakes.
    refused(
        v(&["set", "STORE_URL", "plain", "--service", "web"]),
        "`web.STORE_URL` is already bound to `store.url`; a direct value and a binding for the same key conflict: remove the binding first (`compartment variable remove STORE_URL --service web`)",
    );
    refused(
        v(&["set", "API_KEY", "--service", "web", "--from-resource", "store.host"]),
        "`web.API_KEY` already has a direct value; a direct value and a binding for the same key conflict: remove it first (`compartment variable remove API_KEY --service web`)",
    );
    refused(
        v(&["set", "STORE_HOST", "elsewhere", "--service", "web"]),
        "`web.STORE_HOST` comes from the connection `store.host` in compartment.yml; a direct value would conflict with it",
    );
    refused(
        v(&["set", "STORE_HOST", "--service", "web", "--from-resource", "store.url"]),
        "`web.STORE_HOST` is connected to `store.host` in compartment.yml; a binding to `store.url` would conflict with it",
    );
    refused(
        v(&["set", "BUILD_TAG", "--service", "web", "--from-resource", "store.host"]),
        "`BUILD_TAG` is selected in services.web.build.env; output bindings are runtime variables and cannot be used at build time",
    );
    refused(
        v(&[
            "set",
            "X",
            "--service",
            "web",
            "--from-resource",
            "store.nope",
        ]),
        "resource `store` has no output `nope`; its outputs: host, url",
    );
    refused(
        v(&[
            "set",
            "X",
            "--service",
            "web",
            "--from-resource",
            "cache.host",
        ]),
        "resource `cache` is not declared in compartment.yml",
    );
    refused(
        v(&[
            "set",
            "X",
            "--service",
            "api",
            "--from-resource",
            "store.host",
        ]),
        "service `api` is not declared in compartment.yml",
    );
    refused(
        v(&["set", "X", "--service", "web", "--from-resource", "store"]),
        "--from-resource takes RESOURCE.OUTPUT, e.g. db.connection-url (got `store`)",
    );
    refused(
        v(&[
            "set",
            "X",
            "--resource",
            "store",
            "--from-resource",
            "store.host",
        ]),
        "--from-resource binds a service variable: use it with --service",
    );
    refused(
        v(&["set", "X", "y"]),
        "say whose variable this is: --resource <name> or --service <name>",
    );
    refused(
        v(&["set", "X", "--resource", "store"]),
        "give the value as an argument, or --stdin to read it (use --stdin for secrets, so they stay out of shell history)",
    );
    refused(
        v(&["set", "1X", "y", "--resource", "store"]),
        "`1X` is not a valid variable name: use letters, digits and `_`, not starting with a digit",
    );
    refused(
        v(&["set", "X", "y", "--resource", "nope"]),
        "resource `nope` is not declared in compartment.yml (nor deployed)",
    );

    // --output json.
    assert_eq!(
        json(
            &v(&[
                "set",
                "OTHER",
                "x",
                "--resource",
                "store",
                "--output",
                "json"
            ])
            .output()
        ),
        serde_json::json!({"scope": "resource", "target": "store", "key": "OTHER", "kind": "value", "sensitive": false, "value": "x"})
    );
    assert_eq!(
        json(&v(&["remove", "OTHER", "--resource", "store", "--output", "json"]).output()),
        serde_json::json!({"key": "OTHER", "removed": "variable"})
    );

    // The list masks sensitive values; the state holds them sealed.
    v(&["list"])
        .stdout(
            "SCOPE     TARGET  KEY          KIND     VALUE\n\
         resource  store   STORE_EXTRA  value    hello\n\
         service   web     API_KEY      value    (sensitive)\n\
         service   web     STORE_URL    binding  ← store.url\n",
        )
        .run();
    let rows = json(&v(&["list", "--service", "web", "--output", "json"]).output());
    assert_eq!(
        rows,
        serde_json::json!([
            {"scope": "service", "target": "web", "key": "API_KEY", "kind": "value", "sensitive": true, "value": "(sensitive)"},
            {"scope": "service", "target": "web", "key": "STORE_URL", "kind": "binding", "sensitive": false, "value": "← store.url"}
        ])
    );
    let state = std::fs::read_to_string(p.state_path()).unwrap();
    assert!(!state.contains("s3cret-value"), "plaintext secret in state");

    // The plan shows the binding as a reference (no engine needed)...
    let plan = "\
Plan for [PROJECT] / production (state serial 5, lineage [LINEAGE])

+ resource.store create
    + command: [\"sh\",\"-c\",\"echo store starting; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.STORE_MODE: \"plain\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" . && env | sort > \\\"$COMPARTMENT_BACKUP_DIR/env.txt\\\" && getent hosts \\\"$COMPARTMENT_RESOURCE_HOST\\\" > \\\"$COMPARTMENT_BACKUP_DIR/host.txt\\\" && . /etc/os-release && echo \\\"$ID\\\" > \\\"$COMPARTMENT_BACKUP_DIR/image.txt\\\"\"
    + operations.backup.env.OP_ONLY: \"backup\"
    + operations.backup.env.STORE_MODE: \"from-operation\"
    + operations.backup.image: \"compartment-test/debian:12\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 2
    + operations.backup.retention.maxAgeDays: 1
    + operations.backup.schedule.cron: \"*/15 * * * *\"
    + operations.restore.command: \"if touch /backup/probe 2>/dev/null; then echo \\\"/backup is writable\\\"; exit 1; fi; tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"tcp://:${env.STORE_TOKEN}@${resource.host}:7000\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated STORE_TOKEN: will be generated
+ service.web create
    after: resource.store
    + build.env.BUILD_TAG: \"1\"
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web.STORE_HOST ← store.host
    connection web.STORE_URL ← store.url (variable binding)
";
    let totals = "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged";
    no_engine(p.cmd(["plan"]))
        .stdout(&format!("{plan}\n{totals}.\n"))
        .run();
    // ... and blocks when compartment.yml connects the same key to another
    // output, or selects the binding in build.env.
    let blocked = "error: the plan is blocked by 1 change(s); nothing was written\n";
    p.edit(
        "compartment.yml",
        "          STORE_HOST: host\n",
        "          STORE_HOST: host\n          STORE_URL: host\n",
    );
    no_engine(p.cmd(["plan"]))
        .status(1)
        .stdout(&format!(
            "\
Plan for [PROJECT] / production (state serial 5, lineage [LINEAGE])

+ resource.store create
    + command: [\"sh\",\"-c\",\"echo store starting; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.STORE_MODE: \"plain\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" . && env | sort > \\\"$COMPARTMENT_BACKUP_DIR/env.txt\\\" && getent hosts \\\"$COMPARTMENT_RESOURCE_HOST\\\" > \\\"$COMPARTMENT_BACKUP_DIR/host.txt\\\" && . /etc/os-release && echo \\\"$ID\\\" > \\\"$COMPARTMENT_BACKUP_DIR/image.txt\\\"\"
    + operations.backup.env.OP_ONLY: \"backup\"
    + operations.backup.env.STORE_MODE: \"from-operation\"
    + operations.backup.image: \"compartment-test/debian:12\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 2
    + operations.backup.retention.maxAgeDays: 1
    + operations.backup.schedule.cron: \"*/15 * * * *\"
    + operations.restore.command: \"if touch /backup/probe 2>/dev/null; then echo \\\"/backup is writable\\\"; exit 1; fi; tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${{resource.host}}\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"tcp://:${{env.STORE_TOKEN}}@${{resource.host}}:7000\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated STORE_TOKEN: will be generated
+ service.web create
    after: resource.store
    + build.env.BUILD_TAG: \"1\"
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web.STORE_HOST ← store.host
    connection web.STORE_URL ← store.host
    connection web.STORE_URL ← store.url (variable binding)

Blocked:
  ✗ service.web (connection-conflict): `web.STORE_URL` is connected to `store.host` in compartment.yml but bound to `store.url` by `variable set --from-resource`
    help: keep one source: `compartment variable remove STORE_URL --service web`, or drop the connection from compartment.yml

{totals}; 1 blocked.
"
        ))
        .stderr(blocked)
        .run();
    p.edit("compartment.yml", "          STORE_URL: host\n", "");
    p.edit(
        "compartment.yml",
        "        BUILD_TAG: \"1\"\n",
        "        BUILD_TAG: \"1\"\n        STORE_URL: \"x\"\n",
    );
    // The plan shows the new build argument in web's definition.
    let build_arg = "    + build.env.BUILD_TAG: \"1\"\n";
    let with_arg = plan.replace(
        build_arg,
        &format!("{build_arg}    + build.env.STORE_URL: \"x\"\n"),
    );
    no_engine(p.cmd(["plan"]))
        .status(1)
        .stdout(&format!(
            "\
{with_arg}
Blocked:
  ✗ service.web (binding-in-build): `STORE_URL` is a resource-output binding of service `web` and cannot be selected in build.env
    help: remove `STORE_URL` from services.web.build.env: bindings are resolved when the container starts

{totals}; 1 blocked.
"
        ))
        .stderr(blocked)
        .run();
    p.edit("compartment.yml", "        STORE_URL: \"x\"\n", "");
    no_engine(p.cmd(["plan"]))
        .stdout(&format!("{plan}\n{totals}.\n"))
        .run();

    // Removing: a binding, a direct value, then nothing.
    v(&["remove", "STORE_URL", "--service", "web"])
        .stdout("Removed binding `STORE_URL`.\n")
        .run();
    v(&["remove", "API_KEY", "--service", "web"])
        .stdout("Removed variable `API_KEY`.\n")
        .run();
    refused(
        v(&["remove", "API_KEY", "--service", "web"]),
        "service `web` has no variable `API_KEY`",
    );
    v(&["list"])
        .stdout("SCOPE     TARGET  KEY          KIND   VALUE\nresource  store   STORE_EXTRA  value  hello\n")
        .run();
}

// ------------------------------------------------------------ engine

fn resource_commands_outputs_reveals_and_runtime_variables() {
    let p = Project::new("ops/store");
    let access = p.dir.join("access.yml");
    write_access_file(&access);
    let as_ = |actor: &str, args: &[&str]| {
        p.ops(args.iter().copied())
            .env("COMPARTMENT_ACTOR", actor)
            .env("COMPARTMENT_ACCESS_FILE", access.to_str().unwrap())
    };
    // Variables of every scope, before the first deploy.
    p.cmd([
        "variable",
        "set",
        "STORE_EXTRA",
        "hello",
        "--resource",
        "store",
    ])
    .stdout("Set variable `STORE_EXTRA`; the next apply restarts what uses it.\n")
    .run();
    p.cmd([
        "variable",
        "set",
        "WEB_ONLY",
        "service-scoped",
        "--service",
        "web",
    ])
    .stdout("Set variable `WEB_ONLY`; the next apply restarts what uses it.\n")
    .run();
    p.cmd([
        "variable",
        "set",
        "STORE_URL",
        "--service",
        "web",
        "--from-resource",
        "store.url",
    ])
    .stdout("Bound `web.STORE_URL` to `store.url`; it is resolved when the service starts (next apply).\n")
    .run();
    // One chain, resource.store then service.web: the order is fixed.
    p.cmd(["apply", "--yes"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 3, lineage [LINEAGE])

+ resource.store create
    + command: [\"sh\",\"-c\",\"echo store starting; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.STORE_MODE: \"plain\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" . && env | sort > \\\"$COMPARTMENT_BACKUP_DIR/env.txt\\\" && getent hosts \\\"$COMPARTMENT_RESOURCE_HOST\\\" > \\\"$COMPARTMENT_BACKUP_DIR/host.txt\\\" && . /etc/os-release && echo \\\"$ID\\\" > \\\"$COMPARTMENT_BACKUP_DIR/image.txt\\\"\"
    + operations.backup.env.OP_ONLY: \"backup\"
    + operations.backup.env.STORE_MODE: \"from-operation\"
    + operations.backup.image: \"compartment-test/debian:12\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 2
    + operations.backup.retention.maxAgeDays: 1
    + operations.backup.schedule.cron: \"*/15 * * * *\"
    + operations.restore.command: \"if touch /backup/probe 2>/dev/null; then echo \\\"/backup is writable\\\"; exit 1; fi; tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"tcp://:${env.STORE_TOKEN}@${resource.host}:7000\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated STORE_TOKEN: will be generated
+ service.web create
    after: resource.store
    + build.env.BUILD_TAG: \"1\"
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web.STORE_HOST ← store.host
    connection web.STORE_URL ← store.url (variable binding)

Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.store: preparing
resource.store: checking image compartment-test/busybox:1 ([TIME])
resource.store: starting the container ([TIME])
resource.store: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.store: ✓ created in [TIME]
service.web: preparing
service.web: building cmpt-[PROJECT]-web:[HASH] ([TIME])
service.web: starting the container ([TIME])
service.web: ✓ created in [TIME]

Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 6).
",
        )
        .run();
    let host = format!("store.production.{}.resource.internal", p.name);
    // The host as the outputs show it, the project name normalised (a
    // table's column keeps the width of the real name).
    let shown = "store.production.[PROJECT].resource.internal";

    // The resource gets its own variables, never service-scoped ones; the
    // service gets its variable, the connection and the resolved binding.
    let store_env = env_of(&p, "store");
    let token = store_env
        .iter()
        .find_map(|l| l.strip_prefix("STORE_TOKEN="))
        .expect("generated variable injected")
        .to_string();
    assert_eq!(token.len(), 16, "8 bytes hex");
    assert!(store_env.contains(&"STORE_EXTRA=hello".to_string()));
    assert!(store_env.contains(&"STORE_MODE=plain".to_string()));
    assert!(!store_env.iter().any(|l| l.starts_with("WEB_ONLY=")));
    let url = format!("tcp://:{token}@{host}:7000");
    let web_env = env_of(&p, "web");
    for want in [
        "WEB_ONLY=service-scoped".to_string(),
        format!("STORE_HOST={host}"),
        format!("STORE_URL={url}"),
    ] {
        assert!(web_env.contains(&want), "{want} not in {web_env:?}");
    }
    assert!(!web_env.iter().any(|l| l.starts_with("STORE_TOKEN=")));

    // list, inspect, logs.
    as_("dan", &["resource", "list"])
        .stdout(&format!("NAME   STATUS   IMAGE                       HOST{}  VOLUMES\nstore  running  compartment-test/busybox:1  {shown}  data\n", " ".repeat(host.len() - 4)))
        .run();
    let rows = json(&p.cmd(["resource", "list", "--output", "json"]).output());
    assert_eq!(rows[0]["name"], "store");
    assert_eq!(rows[0]["status"], "running");
    assert_eq!(rows[0]["host"], host.as_str());
    assert_eq!(rows[0]["ports"], serde_json::json!([7000]));
    assert_eq!(rows[0]["origin"], "descriptor");
    assert_eq!(
        rows[0]["volumes"]["data"],
        format!("cmpt-{}-production-store-data", p.name)
    );
    assert!(rows[0]["appliedAt"].is_string());
    let inspect = p
        .cmd(["resource", "inspect", "--resource", "store"])
        .output();
    let info = json(&inspect);
    assert_eq!(info["host"], host.as_str());
    assert_eq!(info["container"]["running"], true);
    assert_eq!(info["container"]["name"], p.container("store"));
    assert_eq!(info["definition"]["image"], "compartment-test/busybox:1");
    assert_eq!(info["origin"], "descriptor");
    assert_eq!(info["backups"], 0);
    assert_eq!(
        info["outputs"],
        serde_json::json!([
            {"name": "host", "sensitive": false, "value": host},
            {"name": "url", "sensitive": true, "value": "(sensitive: use --reveal)"}
        ])
    );
    as_(
        "dan",
        &["resource", "logs", "--resource", "store", "--tail", "1"],
    )
    .stdout("store starting\n")
    .run();
    let mut follow = Lines::spawn(
        &p,
        &["resource", "logs", "--resource", "store", "--follow"],
        &[],
    );
    follow.wait_for("store starting");
    exec(&p, "store", "echo follow-marker > /proc/1/fd/1");
    follow.wait_for("follow-marker");
    drop(follow);

    // Outputs: sensitive ones masked everywhere unless revealed.
    p.cmd(["resource", "output", "list", "--resource", "store"])
        .stdout(&format!("OUTPUT  SENSITIVE  VALUE\nhost    false      {shown}\nurl     true       (sensitive: use --reveal)\n"))
        .run();
    // Non-sensitive outputs need no key.
    let keyless = p
        .cmd([
            "resource",
            "output",
            "list",
            "--resource",
            "store",
            "--output",
            "json",
        ])
        .env("COMPARTMENT_SECRET_KEY", "")
        .output();
    assert_eq!(json(&keyless)[0]["value"], host.as_str());
    p.cmd(["resource", "output", "show", "url", "--resource", "store"])
        .stdout("(sensitive: use --reveal)\n")
        .run();
    assert_eq!(
        json(
            &p.cmd([
                "resource",
                "output",
                "show",
                "url",
                "--resource",
                "store",
                "--output",
                "json"
            ])
            .output()
        ),
        serde_json::json!({"name": "url", "sensitive": true, "value": "(sensitive: use --reveal)"})
    );
    assert!(audit_lines(&p).is_empty(), "no reveal yet, no audit event");
    refused(
        as_("dan", &["resource", "output", "show", "url", "--resource", "store", "--reveal"]),
        "dan (role deployer in production) may not run `resource output show --reveal`: it needs the permission `variable.value.read`; ask an admin to grant a role with it in [TMP]/project/access.yml",
    );
    refused(
        p.cmd(["resource", "output", "show", "url", "--resource", "store", "--reveal"])
            .env("COMPARTMENT_SECRET_KEY", ""),
        "no secret key: set COMPARTMENT_SECRET_KEY or create the key file [TMP]/config/compartment/secret.key (the first `compartment apply` creates it); the state's sensitive values cannot be read without the key that sealed them",
    );
    assert!(
        audit_lines(&p).is_empty(),
        "refused reveals are not audited"
    );
    for n in 1..=2 {
        let reveal = as_(
            "ada",
            &[
                "resource",
                "output",
                "show",
                "url",
                "--resource",
                "store",
                "--reveal",
            ],
        )
        .output();
        // Compared raw: the normalisers would hide the token.
        assert_eq!(reveal.stdout, format!("{url}\n"));
        assert_eq!(reveal.stderr, "");
        assert_eq!(audit_lines(&p).len(), n, "one audit event per reveal");
    }
    // Revealing a non-sensitive output discloses nothing and is not audited.
    p.cmd([
        "resource",
        "output",
        "show",
        "host",
        "--resource",
        "store",
        "--reveal",
    ])
    .stdout(&format!("{shown}\n"))
    .run();
    let events = audit_lines(&p);
    assert_eq!(events.len(), 2);
    let e = &events[1];
    assert_eq!(e["actor"], "ada");
    assert_eq!(e["action"], "output.reveal");
    assert_eq!(e["project"], p.name.as_str());
    assert_eq!(e["environment"], "production");
    assert_eq!(e["resource"], "store");
    assert_eq!(e["output"], "url");
    assert!(e["at"].is_string());
    assert_eq!(e.as_object().unwrap().len(), 7, "{e}");
    let audit_text = std::fs::read_to_string(p.audit_path()).unwrap();
    assert!(!audit_text.contains(&token), "the audit log holds a value");
    // The plaintext is nowhere else.
    let state_text = std::fs::read_to_string(p.state_path()).unwrap();
    assert!(!state_text.contains(&token), "plaintext token in the state");
    for args in [
        &["resource", "inspect", "--resource", "store"][..],
        &["variable", "list"],
        &["variable", "list", "--output", "json"],
        &["state", "show"],
        &["resource", "list", "--output", "json"],
    ] {
        let run = p.cmd(args.iter().copied()).output();
        assert!(
            !run.stdout.contains(&token) && !run.stderr.contains(&token),
            "`{}` printed the token",
            args.join(" ")
        );
    }

    // stop and start.
    as_("dan", &["resource", "stop", "--resource", "store"])
        .stdout("Stopped resource `store`.\n")
        .run();
    assert_eq!(p.inspect("store", "{{.State.Running}}"), "false");
    assert_eq!(
        json(&p.cmd(["resource", "list", "--output", "json"]).output())[0]["status"],
        "exited"
    );
    p.cmd(["resource", "start", "--resource", "store"])
        .stdout("Started resource `store`.\n")
        .run();
    assert_eq!(p.inspect("store", "{{.State.Running}}"), "true");

    // delete: a stopped resource, keeping its volume; then the kept data.
    exec(&p, "store", "echo keep-me > /data/file");
    p.cmd(["resource", "stop", "--resource", "store"])
        .stdout("Stopped resource `store`.\n")
        .run();
    let volume = format!("cmpt-{}-production-store-data", p.name);
    as_("dan", &["resource", "delete", "--resource", "store"])
        .stdout("Deleted resource `store` and its container.\n  kept volume cmpt-[PROJECT]-production-store-data\n  (delete the kept data later with `compartment resource delete --resource store --delete-data`)\n")
        .run();
    assert!(
        !docker(&["inspect", &p.container("store")]).0,
        "container left"
    );
    assert!(docker(&["volume", "inspect", &volume]).0, "volume deleted");
    assert!(p.state()["resources"].get("store").is_none(), "record kept");
    p.cmd(["resource", "list"])
        .stdout("No resources are deployed in [PROJECT]/production.\n")
        .run();
    refused(
        p.cmd(["resource", "delete", "--resource", "store"]),
        "resource `store` is not deployed in environment `production`, but an earlier delete kept its volumes (cmpt-[PROJECT]-production-store-data); pass --delete-data to delete them",
    );
    // Declared again, it comes back with its data (and its kept variables).
    p.cmd(["apply", "--yes"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 7, lineage [LINEAGE])

+ resource.store create
    + command: [\"sh\",\"-c\",\"echo store starting; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.STORE_MODE: \"plain\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" . && env | sort > \\\"$COMPARTMENT_BACKUP_DIR/env.txt\\\" && getent hosts \\\"$COMPARTMENT_RESOURCE_HOST\\\" > \\\"$COMPARTMENT_BACKUP_DIR/host.txt\\\" && . /etc/os-release && echo \\\"$ID\\\" > \\\"$COMPARTMENT_BACKUP_DIR/image.txt\\\"\"
    + operations.backup.env.OP_ONLY: \"backup\"
    + operations.backup.env.STORE_MODE: \"from-operation\"
    + operations.backup.image: \"compartment-test/debian:12\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 2
    + operations.backup.retention.maxAgeDays: 1
    + operations.backup.schedule.cron: \"*/15 * * * *\"
    + operations.restore.command: \"if touch /backup/probe 2>/dev/null; then echo \\\"/backup is writable\\\"; exit 1; fi; tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"tcp://:${env.STORE_TOKEN}@${resource.host}:7000\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated STORE_TOKEN: kept

Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 1 unchanged.

resource.store: preparing
resource.store: checking image compartment-test/busybox:1 ([TIME])
resource.store: starting the container ([TIME])
resource.store: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.store: ✓ created in [TIME]

Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 9).
",
        )
        .run();
    assert_eq!(exec(&p, "store", "cat /data/file"), "keep-me\n");
    assert!(env_of(&p, "store").contains(&format!("STORE_TOKEN={token}")));
    // --delete-data on a running resource removes the volume.
    let del = json(
        &p.cmd([
            "resource",
            "delete",
            "--resource",
            "store",
            "--delete-data",
            "--output",
            "json",
        ])
        .output(),
    );
    assert_eq!(
        del,
        serde_json::json!({"resource": "store", "recordRemoved": true, "containerRemoved": true, "volumesDeleted": [volume], "volumesKept": []})
    );
    assert!(!docker(&["volume", "inspect", &volume]).0, "volume kept");
    refused(
        p.cmd(["resource", "delete", "--resource", "store", "--delete-data"]),
        "resource `store` is not deployed in environment `production`; nothing has been applied in this environment yet",
    );
}

fn backups_restore_in_place_and_into_a_new_resource() {
    let p = Project::new("ops/store");
    p.cmd(["apply", "--yes", "--target", "resource.store"])
        .stdout(STORE_APPLIED)
        .run();
    let host = format!("store.production.{}.resource.internal", p.name);
    let token = env_of(&p, "store")
        .iter()
        .find_map(|l| l.strip_prefix("STORE_TOKEN=").map(String::from))
        .unwrap();
    exec(&p, "store", "echo v1 > /data/file");

    // create: a disposable container of the operation's image on the
    // resource network, the resource's final env overlaid by the
    // operation's, the injected variables, and the artifacts under the
    // backup directory.
    let run = p
        .ops(["resource", "backup", "create", "--resource", "store"])
        .output();
    let id = run
        .stdout
        .strip_prefix("Created backup ")
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    assert!(is_backup_id(&id), "{id}");
    let artifacts = p.backup_dir().join(&id);
    assert_eq!(
        run.stdout,
        format!(
            "Created backup {id} of `store` in {}.\n",
            artifacts.display()
        )
    );
    assert_eq!(run.stderr, "");
    let mut files: Vec<String> = std::fs::read_dir(&artifacts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["data.tar", "env.txt", "host.txt", "image.txt"]);
    assert_eq!(
        String::from_utf8(p.artifact(&id, "image.txt")).unwrap(),
        "debian\n"
    );
    assert!(
        String::from_utf8(p.artifact(&id, "host.txt"))
            .unwrap()
            .trim_end()
            .ends_with(&host),
        "the operation container resolves the resource's alias"
    );
    let env = String::from_utf8(p.artifact(&id, "env.txt")).unwrap();
    for want in [
        "COMPARTMENT_BACKUP_DIR=/backup".to_string(),
        format!("COMPARTMENT_RESOURCE_HOST={host}"),
        "COMPARTMENT_RESOURCE_NAME=store".into(),
        format!("COMPARTMENT_PROJECT_NAME={}", p.name),
        "COMPARTMENT_ENVIRONMENT_NAME=production".into(),
        format!("STORE_TOKEN={token}"),
        "OP_ONLY=backup".into(),
        "STORE_MODE=from-operation".into(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in\n{env}");
    }
    assert!(
        !docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .contains(&format!("{}-backup", p.container("store"))),
        "the backup container was not removed"
    );
    // The record.
    let r = record(&p, &id);
    assert_eq!(r["resource"], "store");
    assert_eq!(r["purpose"], "manual");
    assert_eq!(r["status"], "succeeded");
    assert!(r["startedAt"].is_string() && r["finishedAt"].is_string());
    assert_eq!(
        r["artifactDir"],
        id.as_str(),
        "relative to the backup directory"
    );
    assert_eq!(r["definition"]["image"], "compartment-test/busybox:1");
    assert_eq!(r["definition"]["volumes"]["data"], "/data");
    assert_eq!(
        r["operation"]["backup"]["image"],
        "compartment-test/debian:12"
    );
    assert_eq!(r["operation"]["backup"]["retention"]["keepLast"], 2);
    assert!(r.get("retentionDeletedAt").is_none());
    let show = json(
        &p.cmd(["resource", "backup", "show", "--backup", &id])
            .output(),
    );
    assert_eq!(show, r);
    // Backup ids are random: the expectations name them once known.
    let schedule = "store: schedule cron `*/15 * * * *` (UTC), last scheduled run never, 0 record(s) cleaned by retention, last verified backup none\n";
    p.cmd(["resource", "backup", "list", "--resource", "store"])
        .stdout(&format!(
            "\
{schedule}
ID                         RESOURCE  PURPOSE  STATUS     STARTED               FINISHED              VERIFIED
{id}  store     manual   succeeded  [TIMESTAMP]  [TIMESTAMP]  -
"
        ))
        .run();

    // In place: the data is reset, then restored; a pre-restore backup holds
    // what was there.
    exec(
        &p,
        "store",
        "echo v2 > /data/file; echo later > /data/extra",
    );
    let id_before = p.inspect("store", "{{.Id}}");
    let run = p
        .ops([
            "resource",
            "backup",
            "restore",
            "--resource",
            "store",
            "--backup",
            &id,
            "--yes",
        ])
        .output();
    let pre = records(&p)
        .into_iter()
        .find(|b| b["purpose"] == "pre-restore")
        .expect("a pre-restore backup");
    let pre_id = pre["id"].as_str().unwrap();
    assert_eq!(pre["status"], "succeeded");
    assert_text(
        "stdout",
        &format!(
            "\
resetting `store`: recreating its container and volumes empty (pre-restore backup {pre_id})
resource.store: preparing
resource.store: checking image compartment-test/busybox:1 ([TIME])
resource.store: starting the container ([TIME])
resource.store: waiting for TCP port 7000 (up to 10s) ([TIME])
Restored backup {id} into `store` (pre-restore backup: {pre_id}).
"
        ),
        &p.normalize(&run.stdout),
    );
    assert_text("stderr", "", &run.stderr);
    assert_eq!(
        exec(&p, "store", "ls /data"),
        "file\n",
        "the data was not reset"
    );
    assert_eq!(exec(&p, "store", "cat /data/file"), "v1\n");
    assert_ne!(p.inspect("store", "{{.Id}}"), id_before);
    assert!(!artifacts.join("probe").exists(), "/backup was writable");
    let pre_tar = p.artifact_member(pre_id, "data.tar", "./file");
    assert_eq!(
        pre_tar, "v2\n",
        "the pre-restore backup holds the data before the restore"
    );
    p.cmd(["resource", "backup", "list"])
        .stdout(&format!(
            "\
{schedule}
ID                         RESOURCE  PURPOSE      STATUS     STARTED               FINISHED              VERIFIED
{id}  store     manual       succeeded  [TIMESTAMP]  [TIMESTAMP]  -
{pre_id}  store     pre-restore  succeeded  [TIMESTAMP]  [TIMESTAMP]  -
"
        ))
        .run();
    // The same token: the restore recreated the applied definition.
    assert!(env_of(&p, "store").contains(&format!("STORE_TOKEN={token}")));

    // --as: a new resource from the captured definition, with the data and
    // its own hostname; the next plan blocks on it.
    p.ops([
        "resource", "backup", "restore", "--backup", &id, "--as", "copy",
    ])
    .stdout(&format!(
        "\
resource.copy: preparing
resource.copy: checking image compartment-test/busybox:1 ([TIME])
resource.copy: starting the container ([TIME])
resource.copy: waiting for TCP port 7000 (up to 10s) ([TIME])
Restored backup {id} into the new resource `copy` (copy.production.[PROJECT].resource.internal).
`copy` is not declared in compartment.yml: declare it or delete it (`compartment resource delete --resource copy`) before the next apply.
"
    ))
    .run();
    let copy_host = format!("copy.production.{}.resource.internal", p.name);
    assert_eq!(exec(&p, "copy", "cat /data/file"), "v1\n");
    let aliases = p.inspect(
        "copy",
        &format!(
            "{{{{json (index .NetworkSettings.Networks \"{}\").Aliases}}}}",
            p.network()
        ),
    );
    assert!(aliases.contains(&copy_host), "{aliases}");
    assert!(!aliases.contains(&host), "{aliases}");
    assert_eq!(
        records(&p)
            .iter()
            .filter(|b| b["purpose"] == "pre-restore")
            .count(),
        1,
        "--as takes no pre-restore backup"
    );
    let rows = json(&p.cmd(["resource", "list", "--output", "json"]).output());
    assert_eq!(rows[0]["name"], "copy");
    assert_eq!(rows[0]["origin"], "restore");
    assert_eq!(rows[0]["status"], "running");
    assert_eq!(
        json(
            &p.cmd(["resource", "inspect", "--resource", "copy"])
                .output()
        )["host"],
        copy_host.as_str()
    );
    p.cmd(["plan"])
        .status(1)
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 8, lineage [LINEAGE])

+ service.web create
    after: resource.store
    + build.env.BUILD_TAG: \"1\"
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web.STORE_HOST ← store.host

Blocked:
  ✗ resource.copy (undeclared): resource `copy` was created by `resource backup restore --as` and is not declared in compartment.yml
    help: declare `copy` under `resources` in compartment.yml, or delete it: `compartment resource delete --resource copy [--delete-data]`

Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 1 unchanged; 1 blocked.
",
        )
        .stderr("error: the plan is blocked by 1 change(s); nothing was written\n")
        .run();

    // Refusals that need the state or the engine.
    for (name, message) in [
        ("copy", "resource `copy` already exists; nothing was created. Choose another name, or delete it first (`compartment resource delete --resource copy`)"),
        ("store", "resource `store` already exists; nothing was created. Choose another name, or delete it first (`compartment resource delete --resource store`)"),
        ("web", "`web` is the name of a service in compartment.yml; nothing was created. Choose another name for the restored resource"),
        ("Bad_Name", "`Bad_Name` is not a valid resource name: use lowercase letters, digits and `-`"),
    ] {
        refused(
            p.ops(["resource", "backup", "restore", "--backup", &id, "--as", name]),
            message,
        );
    }
    refused(
        p.ops(["resource", "backup", "restore", "--resource", "copy", "--backup", &id, "--yes"]),
        &format!("backup `{id}` was taken from resource `store`; in-place restore applies only to the resource that created it (use `--as <new name>` to restore it into a new resource)"),
    );
    assert_eq!(records(&p).len(), 2, "a refused restore made a backup");

    // A restore --as that fails keeps the new resource.
    p.edit(
        "compartment.yml",
        "if touch /backup/probe",
        "echo restore-broke; exit 3; if touch /backup/probe",
    );
    let broken_backup = backup_create(&p, "store", None);
    p.ops([
        "resource",
        "backup",
        "restore",
        "--backup",
        &broken_backup,
        "--as",
        "broken",
    ])
    .status(1)
    .stdout(
        "\
resource.broken: preparing
resource.broken: checking image compartment-test/busybox:1 ([TIME])
resource.broken: starting the container ([TIME])
resource.broken: waiting for TCP port 7000 (up to 10s) ([TIME])
",
    )
    .stderr("error: resource `broken` was created but its restore failed (it is kept: inspect it, or delete it with `compartment resource delete --resource broken` before retrying): the restore command exited with 3:\nrestore-broke\n")
    .run();
    assert_eq!(p.inspect("broken", "{{.State.Running}}"), "true");
    assert_eq!(p.state()["resources"]["broken"]["origin"], "restore");
    // An in-place restore checks the current operation configuration: the
    // broken restore command fails after the reset, and says where the data
    // went.
    let run = p
        .ops([
            "resource",
            "backup",
            "restore",
            "--resource",
            "store",
            "--backup",
            &id,
            "--yes",
        ])
        .status(1)
        .output();
    let pre2 = records(&p)
        .into_iter()
        .filter(|b| b["purpose"] == "pre-restore")
        .nth(1)
        .unwrap();
    let pre2 = pre2["id"].as_str().unwrap();
    assert_text(
        "stdout",
        &format!(
            "\
resetting `store`: recreating its container and volumes empty (pre-restore backup {pre2})
resource.store: preparing
resource.store: checking image compartment-test/busybox:1 ([TIME])
resource.store: starting the container ([TIME])
resource.store: waiting for TCP port 7000 (up to 10s) ([TIME])
"
        ),
        &p.normalize(&run.stdout),
    );
    assert_text(
        "stderr",
        &format!("error: the restore command failed (the data before the restore is in backup {pre2}): the restore command exited with 3:\nrestore-broke\n"),
        &run.stderr,
    );

    // A failing backup is recorded as failed, with the command's output.
    p.edit(
        "compartment.yml",
        "tar -C /data -cf",
        "echo backup-broke; exit 4; tar -C /data -cf",
    );
    p.ops(["resource", "backup", "create", "--resource", "store"])
        .status(1)
        .stderr("error: the backup command exited with 4:\nbackup-broke\n")
        .run();
    let failed = records(&p).pop().unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["purpose"], "manual");
    // The command's output is shown, but kept out of the (committed)
    // state file; the partial artifact directory is removed.
    assert_eq!(failed["error"], "the backup command exited with 4");
    assert!(!p.backup_dir().join(failed["id"].as_str().unwrap()).exists());
    refused(
        p.ops([
            "resource",
            "backup",
            "restore",
            "--backup",
            failed["id"].as_str().unwrap(),
            "--as",
            "never",
        ]),
        &format!(
            "backup `{}` has status `failed`; only succeeded backups can be restored",
            failed["id"].as_str().unwrap()
        ),
    );

    // Deleting the restored resources (and their data) unblocks the plan.
    for name in ["copy", "broken"] {
        p.cmd(["resource", "delete", "--resource", name, "--delete-data"])
            .stdout(&format!("Deleted resource `{name}` and its container.\n  deleted volume cmpt-[PROJECT]-production-{name}-data\n"))
            .run();
        assert!(
            !docker(&[
                "volume",
                "inspect",
                &format!("cmpt-{}-production-{name}-data", p.name)
            ])
            .0
        );
    }
    // Not blocked any more; the edited operation commands are an update.
    p.cmd(["plan"])
        .stdout(
            r#"Plan for [PROJECT] / production (state serial 18, lineage [LINEAGE])

~ resource.store update: `operations.backup.command` changed
    ~ operations.backup.command: "tar -C /data -cf \"$COMPARTMENT_BACKUP_DIR/data.tar\" . && env | sort > \"$COMPARTMENT_BACKUP_DIR/env.txt\" && getent hosts \"$COMPARTMENT_RESOURCE_HOST\" > \"$COMPARTMENT_BACKUP_DIR/host.txt\" && . /etc/os-release && echo \"$ID\" > \"$COMPARTMENT_BACKUP_DIR/image.txt\"" → "echo backup-broke; exit 4; tar -C /data -cf \"$COMPARTMENT_BACKUP_DIR/data.tar\" . && env | sort > \"$COMPARTMENT_BACKUP_DIR/env.txt\" && getent hosts \"$COMPARTMENT_RESOURCE_HOST\" > \"$COMPARTMENT_BACKUP_DIR/host.txt\" && . /etc/os-release && echo \"$ID\" > \"$COMPARTMENT_BACKUP_DIR/image.txt\""
    ~ operations.restore.command: "if touch /backup/probe 2>/dev/null; then echo \"/backup is writable\"; exit 1; fi; tar -C /data -xf \"$COMPARTMENT_BACKUP_DIR/data.tar\"" → "echo restore-broke; exit 3; if touch /backup/probe 2>/dev/null; then echo \"/backup is writable\"; exit 1; fi; tar -C /data -xf \"$COMPARTMENT_BACKUP_DIR/data.tar\""
    generated STORE_TOKEN: kept
+ service.web create
    after: resource.store
    + build.env.BUILD_TAG: "1"
    + contextHash: "[ID]"
    + path: "services/web"
    connection web.STORE_HOST ← store.host

Plan: 1 to create, 1 to update, 0 to replace, 0 to delete, 0 unchanged.
"#,
        )
        .run();
    // The records stay, with the definition captured: the copy can be made again.
    assert_eq!(records(&p).len(), 5);
}

fn scheduled_backups_cron_minute_and_retention() {
    let p = Project::new("ops/store");
    p.cmd(["apply", "--yes", "--target", "resource.store"])
        .stdout(STORE_APPLIED)
        .run();
    let run_due = |now: &str| {
        p.ops(["backup", "run-due"])
            .env("COMPARTMENT_NOW", now)
            .output()
            .stdout
    };
    let ran = |out: &str| -> String {
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("scheduled backup of `store`: "))
            .unwrap_or_else(|| panic!("no scheduled backup ran:\n{out}"));
        line.to_string()
    };

    // cron "*/15 * * * *": due at each quarter hour, once.
    let s1 = ran(&run_due("2090-01-01T00:00:00Z"));
    assert_eq!(
        run_due("2090-01-01T00:00:00Z"),
        "No scheduled backup is due.\n"
    );
    assert_eq!(
        run_due("2090-01-01T00:14:59Z"),
        "No scheduled backup is due.\n"
    );
    let s2 = ran(&run_due("2090-01-01T00:15:00Z"));
    let m1 = backup_create(&p, "store", Some("2090-01-01T00:20:00Z"));
    // keepLast 2: the third newest scheduled backup goes; manual ones are
    // not eligible.
    let out = run_due("2090-01-01T00:30:00Z");
    let s3 = ran(&out);
    assert_eq!(
        out,
        format!("scheduled backup of `store`: {s3}\nretention cleaned {s1} of `store`: keepLast 2: 3rd newest\n")
    );
    // A day later: both rules.
    let out = run_due("2090-01-02T00:15:30Z");
    let s4 = ran(&out);
    assert_eq!(
        out,
        format!("scheduled backup of `store`: {s4}\nretention cleaned {s2} of `store`: keepLast 2: 3rd newest; older than 1 day\n")
    );
    // maxAgeDays alone.
    p.edit("compartment.yml", "keepLast: 2", "keepLast: 10");
    let out = run_due("2090-01-02T00:31:00Z");
    let s5 = ran(&out);
    assert_eq!(
        out,
        format!("scheduled backup of `store`: {s5}\nretention cleaned {s3} of `store`: older than 1 day\n")
    );
    // includeManual makes the manual backup eligible.
    p.edit(
        "compartment.yml",
        "maxAgeDays: 1",
        "maxAgeDays: 1\n          includeManual: true",
    );
    let out = run_due("2090-01-02T00:45:00Z");
    let s6 = ran(&out);
    assert_eq!(
        out,
        format!("scheduled backup of `store`: {s6}\nretention cleaned {m1} of `store`: older than 1 day\n")
    );

    // Cleaned records stay, marked; their artifacts are gone.
    for (id, at, reason) in [
        (&s1, "2090-01-01T00:30:00Z", "keepLast 2: 3rd newest"),
        (
            &s2,
            "2090-01-02T00:15:30Z",
            "keepLast 2: 3rd newest; older than 1 day",
        ),
        (&s3, "2090-01-02T00:31:00Z", "older than 1 day"),
        (&m1, "2090-01-02T00:45:00Z", "older than 1 day"),
    ] {
        let r = record(&p, id);
        assert_eq!(r["status"], "deleted", "{r}");
        assert_eq!(r["retentionDeletedAt"], at, "{r}");
        assert_eq!(r["retentionReason"], reason, "{r}");
        assert!(!p.backup_dir().join(id).exists(), "artifacts of {id} kept");
    }
    for (id, started) in [
        (&s4, "2090-01-02T00:15:30Z"),
        (&s5, "2090-01-02T00:31:00Z"),
        (&s6, "2090-01-02T00:45:00Z"),
    ] {
        let r = record(&p, id);
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["purpose"], "scheduled", "{r}");
        assert_eq!(r["startedAt"], started, "{r}");
        assert!(p.backup_dir().join(id).join("data.tar").is_file());
    }
    assert_eq!(records(&p).len(), 7);
    // Oldest first; the times are normalised here (the JSON below names
    // the last run exactly).
    p.cmd(["resource", "backup", "list"])
        .stdout(&format!(
            "\
store: schedule cron `*/15 * * * *` (UTC), last scheduled run [TIMESTAMP], 4 record(s) cleaned by retention, last verified backup none

ID                         RESOURCE  PURPOSE    STATUS     STARTED               FINISHED              VERIFIED
{s1}  store     scheduled  deleted    [TIMESTAMP]  [TIMESTAMP]  -
{s2}  store     scheduled  deleted    [TIMESTAMP]  [TIMESTAMP]  -
{m1}  store     manual     deleted    [TIMESTAMP]  [TIMESTAMP]  -
{s3}  store     scheduled  deleted    [TIMESTAMP]  [TIMESTAMP]  -
{s4}  store     scheduled  succeeded  [TIMESTAMP]  [TIMESTAMP]  -
{s5}  store     scheduled  succeeded  [TIMESTAMP]  [TIMESTAMP]  -
{s6}  store     scheduled  succeeded  [TIMESTAMP]  [TIMESTAMP]  -
"
        ))
        .run();
    let v = json(
        &p.cmd(["resource", "backup", "list", "--output", "json"])
            .output(),
    );
    assert_eq!(
        v["schedules"],
        serde_json::json!([{"resource": "store", "schedule": "cron `*/15 * * * *` (UTC)", "lastScheduledRun": "2090-01-02T00:45:00Z", "retentionCleaned": 4, "lastVerified": null}])
    );
    refused(
        p.ops([
            "resource",
            "backup",
            "restore",
            "--resource",
            "store",
            "--backup",
            &s1,
            "--yes",
        ]),
        &format!("backup `{s1}` has status `deleted`; only succeeded backups can be restored"),
    );

    // A cron schedule fires at its UTC minute, whatever the offset of "now".
    p.edit(
        "compartment.yml",
        "cron: \"*/15 * * * *\"",
        "cron: \"30 2 * * *\"",
    );
    assert_eq!(
        run_due("2090-01-02T03:29:59+01:00"),
        "No scheduled backup is due.\n"
    );
    let c1 = ran(&run_due("2090-01-02T03:30:00+01:00"));
    assert_eq!(record(&p, &c1)["startedAt"], "2090-01-02T02:30:00Z");
    assert_eq!(
        run_due("2090-01-02T02:59:00Z"),
        "No scheduled backup is due.\n"
    );
    let report = json(
        &p.ops(["backup", "run-due", "--output", "json"])
            .env("COMPARTMENT_NOW", "2090-01-03T02:29:59Z")
            .output(),
    );
    // Retention runs even when nothing is due: S4, S5 and S6 are now older
    // than a day.
    let cleaned = |id: &str| serde_json::json!({"resource": "store", "backup": id, "reason": "older than 1 day"});
    assert_eq!(
        report,
        serde_json::json!({"ran": [], "failed": [], "verified": [], "verifyFailed": [], "cleaned": [cleaned(&s4), cleaned(&s5), cleaned(&s6)], "copied": [], "copyFailed": [], "cleanFailed": []})
    );

    // The scheduler loop: runs what is due, applies retention, then waits.
    let mut scheduler = Lines::spawn(
        &p,
        &["scheduler", "--interval-seconds", "1"],
        &[("COMPARTMENT_NOW", "2090-01-03T02:30:00Z")],
    );
    // One interrupt listener serves the whole loop, so a Ctrl-C at any
    // point of a pass is seen (see the test below).
    scheduler.wait_for("No scheduled backup is due.");
    let (code, lines) = scheduler.interrupt();
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines[0],
        "compartment scheduler: checking every 1s for due backups of production (Ctrl-C to stop)"
    );
    let c2 = lines
        .get(1)
        .and_then(|l| l.strip_prefix("scheduled backup of `store`: "))
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_string();
    assert_eq!(record(&p, &c2)["startedAt"], "2090-01-03T02:30:00Z");
    // C1 is exactly one day old: kept.
    assert_eq!(
        lines[1..],
        [
            format!("scheduled backup of `store`: {c2}"),
            "No scheduled backup is due.".into(),
            "scheduler stopped".into(),
        ]
    );
    assert_eq!(record(&p, &c1)["status"], "succeeded");
    assert_eq!(p.state()["schedules"]["store"]["retentionCleaned"], 7);
}

/// Runs `psql` in a throwaway container on the project's network.
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

fn postgres_preset_backup_restore_round_trip() {
    let p = Project::new("ops/postgres");
    p.ops(["apply", "--yes"])
        .stdout(
            "\
Plan for [PROJECT] / production (new state)

+ resource.db create
    + env.POSTGRES_DB: \"app\"
    + env.POSTGRES_USER: \"app\"
    + image: \"postgres:16-alpine\"
    + operations.backup.command: \"PGPASSWORD=\\\"$POSTGRES_PASSWORD\\\" pg_dump --host \\\"$COMPARTMENT_RESOURCE_HOST\\\" --username \\\"$POSTGRES_USER\\\" \\\"$POSTGRES_DB\\\" > \\\"$COMPARTMENT_BACKUP_DIR/postgres.sql\\\"\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.maxAgeDays: 7
    + operations.backup.schedule.interval: \"daily\"
    + operations.restore.command: \"PGPASSWORD=\\\"$POSTGRES_PASSWORD\\\" psql --host \\\"$COMPARTMENT_RESOURCE_HOST\\\" --username \\\"$POSTGRES_USER\\\" \\\"$POSTGRES_DB\\\" < \\\"$COMPARTMENT_BACKUP_DIR/postgres.sql\\\"\"
    + operations.verify.command: \"set -u; a=\\\"$COMPARTMENT_BACKUP_DIR/postgres.sql\\\"; tail -n 10 \\\"$a\\\" | grep -q '^-- PostgreSQL database dump complete' || { echo 'postgres.sql is incomplete: it lacks the closing line of pg_dump'; exit 1; }; PGPASSWORD=\\\"$POSTGRES_PASSWORD\\\" pg_dump --host \\\"$COMPARTMENT_RESOURCE_HOST\\\" --username \\\"$POSTGRES_USER\\\" \\\"$POSTGRES_DB\\\" > /tmp/restored.sql || exit 1; grep -v -e '^\\\\\\\\restrict ' -e '^\\\\\\\\unrestrict ' \\\"$a\\\" > /tmp/a.sql; grep -v -e '^\\\\\\\\restrict ' -e '^\\\\\\\\unrestrict ' /tmp/restored.sql > /tmp/b.sql; if ! diff /tmp/a.sql /tmp/b.sql > /tmp/diff.txt; then echo \\\"the restored database differs from the dump: $(grep -c '^[<>]' /tmp/diff.txt) line(s) differ\\\"; exit 1; fi; echo \\\"restored $(grep -c '^CREATE TABLE ' /tmp/b.sql) table(s); the restored database dumps back to the same text\\\"\"
    + outputs.connection-url.sensitive: true
    + outputs.connection-url.value: \"postgres://${env.POSTGRES_USER}:${env.POSTGRES_PASSWORD}@${resource.host}:5432/${env.POSTGRES_DB}\"
    + outputs.database.sensitive: false
    + outputs.database.value: \"${env.POSTGRES_DB}\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.port.sensitive: false
    + outputs.port.value: \"5432\"
    + ports: [5432]
    + preset: \"postgres\"
    + readiness.port: 5432
    + readiness.timeoutMs: 60000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/var/lib/postgresql/data\"
    generated POSTGRES_PASSWORD: will be generated

Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.db: preparing
resource.db: checking image postgres:16-alpine ([TIME])
resource.db: starting the container ([TIME])
resource.db: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.db: ✓ created in [TIME]

Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 2).
",
        )
        .run();
    let reveal = |r: &str| {
        p.cmd([
            "resource",
            "output",
            "show",
            "connection-url",
            "--resource",
            r,
            "--reveal",
        ])
        .output()
        .stdout
        .trim_end()
        .to_string()
    };
    let url = reveal("db");
    assert!(url.starts_with("postgres://app:"), "{url}");
    psql(
        &p,
        &url,
        "create table notes (id int primary key, body text); insert into notes values (1, 'first'), (2, 'second')",
    );
    let id = backup_create(&p, "db", None);
    assert!(p.backup_dir().join(&id).join("postgres.sql").is_file());
    psql(
        &p,
        &url,
        "update notes set body = 'changed' where id = 1; delete from notes where id = 2; insert into notes values (3, 'third')",
    );
    assert_eq!(
        psql(&p, &url, "select body from notes order by id"),
        "changed\nthird\n"
    );

    let run = p
        .ops([
            "resource",
            "backup",
            "restore",
            "--resource",
            "db",
            "--backup",
            &id,
            "--yes",
        ])
        .output();
    // The pre-restore backup's id is random, known from the state after.
    let pre_id = records(&p)
        .into_iter()
        .find(|b| b["purpose"] == "pre-restore")
        .expect("a pre-restore backup")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_text(
        "stdout",
        &format!(
            "\
resetting `db`: recreating its container and volumes empty (pre-restore backup {pre_id})
resource.db: preparing
resource.db: checking image postgres:16-alpine ([TIME])
resource.db: starting the container ([TIME])
resource.db: waiting for TCP port 5432 (up to 60s) ([TIME])
Restored backup {id} into `db` (pre-restore backup: {pre_id}).
"
        ),
        &p.normalize(&run.stdout),
    );
    assert_text("stderr", "", &run.stderr);
    // The same password (kept variable), the original rows.
    assert_eq!(reveal("db"), url);
    assert_eq!(
        psql(&p, &url, "select id || ':' || body from notes order by id"),
        "1:first\n2:second\n"
    );
    let v = json(
        &p.cmd(["resource", "backup", "list", "--output", "json"])
            .output(),
    );
    let purposes: Vec<&str> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["manual", "pre-restore"]);
    let pre = &v["backups"][1];
    assert_eq!(pre["status"], "succeeded");
    let dump = String::from_utf8(p.artifact(pre["id"].as_str().unwrap(), "postgres.sql")).unwrap();
    assert!(
        dump.contains("changed"),
        "the pre-restore dump holds the changed rows"
    );
    assert_eq!(v["schedules"][0]["schedule"], "daily (00:00 UTC)");

    // Into a new resource: the data, its own hostname, and a blocked plan.
    p.ops([
        "resource", "backup", "restore", "--backup", &id, "--as", "db-copy",
    ])
    .stdout(&format!(
        "\
resource.db-copy: preparing
resource.db-copy: checking image postgres:16-alpine ([TIME])
resource.db-copy: starting the container ([TIME])
resource.db-copy: waiting for TCP port 5432 (up to 60s) ([TIME])
Restored backup {id} into the new resource `db-copy` (db-copy.production.[PROJECT].resource.internal).
`db-copy` is not declared in compartment.yml: declare it or delete it (`compartment resource delete --resource db-copy`) before the next apply.
"
    ))
    .run();
    let copy_url = reveal("db-copy");
    assert!(
        copy_url.contains(&format!(
            "@db-copy.production.{}.resource.internal:5432/app",
            p.name
        )),
        "{copy_url}"
    );
    assert_eq!(
        psql(
            &p,
            &copy_url,
            "select id || ':' || body from notes order by id"
        ),
        "1:first\n2:second\n"
    );
    p.cmd(["plan"])
        .status(1)
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 8, lineage [LINEAGE])

No changes besides the blocked ones below.

Blocked:
  ✗ resource.db-copy (undeclared): resource `db-copy` was created by `resource backup restore --as` and is not declared in compartment.yml
    help: declare `db-copy` under `resources` in compartment.yml, or delete it: `compartment resource delete --resource db-copy [--delete-data]`

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 unchanged; 1 blocked.
",
        )
        .stderr("error: the plan is blocked by 1 change(s); nothing was written\n")
        .run();
    // Declaring it resolves the block (the preset expands to the captured definition).
    p.edit(
        "compartment.yml",
        "    preset: postgres\n",
        "    preset: postgres\n  db-copy:\n    preset: postgres\n",
    );
    p.cmd(["plan"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 8, lineage [LINEAGE])

No changes. The environment matches the configuration.

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 2 unchanged.
",
        )
        .run();
}

fn scheduler_stops_after_a_ctrl_c_pressed_during_a_backup() {
    let p = Project::new("ops/store");
    // A backup that takes a few seconds, so that the interrupt lands while
    // it runs (when no wait for Ctrl-C is pending).
    p.edit(
        "compartment.yml",
        "tar -C /data -cf \"$COMPARTMENT_BACKUP_DIR/data.tar\" . &&",
        "sleep 3 && tar -C /data -cf \"$COMPARTMENT_BACKUP_DIR/data.tar\" . &&",
    );
    p.cmd(["apply", "--yes", "--target", "resource.store"])
        .output();
    // A long interval: a lost Ctrl-C would leave it waiting for ten minutes.
    let mut scheduler = Lines::spawn(
        &p,
        &["scheduler", "--interval-seconds", "600"],
        &[("COMPARTMENT_NOW", "2090-01-01T00:00:00Z")],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !records(&p).iter().any(|r| r["status"] == "running") {
        assert!(
            Instant::now() < deadline,
            "the scheduled backup never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-INT", &scheduler.child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = scheduler.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler did not stop after Ctrl-C during a backup (the interrupt was lost)"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    while let Ok(l) = scheduler.rx.recv_timeout(Duration::from_secs(5)) {
        scheduler.seen.push(l);
    }
    assert_eq!(status.code(), Some(0), "{:?}", scheduler.seen);
    let id = records(&p)[0]["id"].as_str().unwrap().to_string();
    assert_eq!(record(&p, &id)["status"], "succeeded");
    assert_eq!(
        scheduler.seen,
        [
            "compartment scheduler: checking every 600s for due backups of production (Ctrl-C to stop)".to_string(),
            format!("scheduled backup of `store`: {id}"),
            "scheduler stopped".into(),
        ]
    );
}
