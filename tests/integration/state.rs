//! The state file: where it lives, atomic writes and the backup, the lock
//! (two real processes), `state show` and `state unlock`, sealed secrets,
//! versioned reading with the v0 and v1 upgrades, and the JSON Schemas and sample
//! files in the top-level state/ folder.

use crate::applied::{secret_value, Sandbox, ENV, KEY, LINEAGE};
use crate::test::{assert_golden, repo, Test};
use compartment::state::secrets::SecretKey;
use compartment::state::store::StateStore;
use compartment::state::{format, State, Variable};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

cases! {
    plain a_missing_state_file_is_an_empty_state,
    plain the_state_lives_beside_compartment_yml_per_project_and_environment,
    plain state_flag_and_environment_variable_override_the_location,
    plain a_state_of_another_project_or_environment_is_refused,
    plain writes_are_atomic_and_keep_the_previous_version_as_backup,
    plain lock_holder_process,
    plain a_second_process_is_refused_the_lock_with_the_holder_named,
    plain state_unlock_clears_a_stale_lock_and_names_its_holder,
    plain no_plaintext_secret_in_the_state_file_or_state_show,
    plain sensitive_instance_values_are_stored_hashed,
    plain a_v0_state_is_upgraded_on_read,
    plain a_v1_state_is_upgraded_on_read,
    plain a_v2_state_is_upgraded_on_read,
    plain a_v3_state_is_upgraded_on_read,
    plain a_v4_state_is_upgraded_on_read,
    plain a_v5_state_is_upgraded_on_read,
    plain a_newer_state_version_is_refused_with_a_clear_message,
    plain samples_match_the_schemas,
    plain fresh_states_and_plans_match_the_schemas,
    plain state_show_and_unlock_work_on_a_state_file_without_its_project,
}

pub(crate) const STATE: &str = ".compartment/state/internal-tools/production.json";

fn sample(name: &str) -> String {
    std::fs::read_to_string(repo().join("state/samples").join(name)).unwrap()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// `state show`'s masking, applied to a state file's JSON.
fn masked(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if (k == "sealed" || k == "hookSecret") && x.is_string() {
                        *x = json!("(sealed)");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

// ------------------------------------------------------------- location

fn a_missing_state_file_is_an_empty_state() {
    let sb = Sandbox::copy("example");
    let run = sb.cmd().args(["state", "show"]).output();
    let v = json_of(&run.stdout);
    assert_eq!(v["version"], 6);
    assert_eq!(v["serial"], 0);
    assert_eq!(v["project"], "internal-tools");
    assert_eq!(v["environment"], "production");
    for k in [
        "resources",
        "services",
        "instances",
        "bindings",
        "schedules",
    ] {
        assert_eq!(v[k], json!({}), "{k}");
    }
    assert_eq!(v["backups"], json!([]));
    let plan = sb.cmd().args(["plan", "--no-color"]).output();
    assert!(plan
        .stdout
        .starts_with("Plan for internal-tools / production (new state)\n"));
    // Reading never creates anything.
    assert!(!sb.file(".compartment").exists());
}

fn the_state_lives_beside_compartment_yml_per_project_and_environment() {
    let sb = Sandbox::copy("example");
    sb.apply();
    assert!(sb.file(STATE).is_file());
    // From another directory, through -f.
    let run = Test::new(sb.path().parent().unwrap())
        .env("COMPARTMENT_SECRET_KEY", KEY)
        .args([
            "-f",
            &sb.file("compartment.yml").display().to_string(),
            "plan",
            "--detailed-exitcode",
        ])
        .status(0)
        .output();
    assert!(
        run.stdout.contains("state serial 1, lineage 5eed0000"),
        "{}",
        run.stdout
    );
    // Another environment has its own (missing, so empty) state.
    let staging = sb.cmd().args(["--env", "staging", "plan"]).output();
    assert!(staging
        .stdout
        .starts_with("Plan for internal-tools / staging (new state)"));
    // --project names another project's state.
    let other = sb.cmd().args(["--project", "other", "plan"]).output();
    assert!(other
        .stdout
        .starts_with("Plan for other / production (new state)"));
}

fn state_flag_and_environment_variable_override_the_location() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    let custom = StateStore::at(sb.file("elsewhere/prod-state.json"));
    custom.save(&mut st).unwrap();
    let run = sb
        .cmd()
        .args([
            "plan",
            "--state",
            "elsewhere/prod-state.json",
            "--detailed-exitcode",
        ])
        .status(0)
        .output();
    assert!(run.stdout.contains("state serial 1"), "{}", run.stdout);
    let run = sb
        .cmd()
        .env("COMPARTMENT_STATE", "elsewhere/prod-state.json")
        .args(["plan", "--detailed-exitcode"])
        .status(0)
        .output();
    assert!(run.stdout.contains("state serial 1"), "{}", run.stdout);
    // The default location is untouched and still empty.
    assert!(!sb.file(STATE).exists());
    sb.cmd()
        .args(["plan", "--detailed-exitcode"])
        .status(2)
        .output();
    let show = sb
        .cmd()
        .args(["state", "show", "--state", "elsewhere/prod-state.json"])
        .output();
    assert_eq!(json_of(&show.stdout)["serial"], 1);
}

fn a_state_of_another_project_or_environment_is_refused() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let run = sb
        .cmd()
        .args(["--env", "staging", "plan", "--state", STATE])
        .status(1)
        .output();
    assert_eq!(
        run.stderr,
        format!("error: the state {STATE} belongs to project `internal-tools` environment `production`, not `internal-tools`/`staging`\n")
    );
}

// ------------------------------------------------- atomic writes, backup

fn writes_are_atomic_and_keep_the_previous_version_as_backup() {
    let sb = Sandbox::copy("example");
    let store = sb.store();
    let mut st = sb.applied_state();
    store.save(&mut st).unwrap();
    assert_eq!(st.serial, 1);
    assert!(!store.backup_path().exists(), "nothing to back up yet");
    let first = std::fs::read_to_string(&store.path).unwrap();

    st.resources.remove("cache");
    store.save(&mut st).unwrap();
    assert_eq!(st.serial, 2);
    let backup = std::fs::read_to_string(store.backup_path()).unwrap();
    assert_eq!(
        backup, first,
        "the backup is the previous file, byte for byte"
    );
    assert_eq!(
        format::read("backup", &backup).unwrap().serial,
        1,
        "the backup holds the previous serial"
    );
    assert_eq!(store.load("internal-tools", ENV).unwrap().serial, 2);
    assert_eq!(
        store.backup_path().file_name().unwrap(),
        "production.json.backup"
    );
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(store.path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Pretty JSON, keys sorted, newline-terminated.
    let text = std::fs::read_to_string(&store.path).unwrap();
    let v = json_of(&text);
    assert_eq!(
        text,
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap())
    );
    // A reader sees the last complete file: the binary reads serial 2.
    let show = sb.cmd().args(["state", "show"]).output();
    assert_eq!(json_of(&show.stdout)["serial"], 2);
    // A crash leaves a stray temporary file at worst; it is ignored and
    // replaced by the next write.
    std::fs::write(
        format!("{}.tmp-99999", store.path.display()),
        "{\"version\": 1, \"trunc",
    )
    .unwrap();
    assert_eq!(store.load("internal-tools", ENV).unwrap().serial, 2);
    store.save(&mut st).unwrap();
    assert_eq!(
        format::read("b", &std::fs::read_to_string(store.backup_path()).unwrap())
            .unwrap()
            .serial,
        2
    );
}

// ------------------------------------------------------------------ lock

const HOLD_LOCK: &str = "INTEGRATION_TEST_HOLD_STATE_LOCK";

/// Not a test of its own: when the variable is set, this process (a second
/// copy of the test binary) takes the state lock through the library and
/// holds it until its stdin closes, like an apply in progress.
fn lock_holder_process() {
    let Some(path) = std::env::var_os(HOLD_LOCK) else {
        return;
    };
    let store = StateStore::at(path.into());
    let _guard = store.lock("apply").expect("take the lock");
    println!("LOCKED {}", std::process::id());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Starts a second process holding the lock of `store`; returns it once the
/// lock is held.
pub(crate) fn hold_lock(store: &StateStore) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "state::lock_holder_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_LOCK, &store.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the lock holder exited"
        );
        // libtest writes `test state::lock_holder_process ... ` first.
        if let Some((_, pid)) = line.split_once("LOCKED ") {
            assert_eq!(pid.trim(), child.id().to_string());
            break;
        }
    }
    // Keep reading, so that the holder can report its end.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

/// `user@host` as the lock records it: the OS user (not `$USER`) and the
/// kernel's host name.
pub(crate) fn holder() -> String {
    let run = |cmd: &str, arg: &str| {
        let out = std::process::Command::new(cmd).arg(arg).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    format!("{}@{}", run("id", "-un"), run("uname", "-n"))
}

fn a_second_process_is_refused_the_lock_with_the_holder_named() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let store = sb.store();
    let mut child = hold_lock(&store);
    let info = store.lock_info().expect("the lock file names its holder");
    assert_eq!(info.pid, child.id());
    assert_eq!(info.operation, "apply");
    assert_eq!(info.holder, holder());

    let err = store.lock("apply").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "the state {} is locked by {} (pid {}) running `apply` since {}; wait for it to finish, or if that process is gone run `compartment state unlock`",
            store.display(),
            holder(),
            child.id(),
            info.since
        )
    );
    // A command of the real binary that writes the state is refused too,
    // with the same message, and changes nothing.
    let before = sb.read(STATE);
    let run = sb
        .cmd()
        .args(["variable", "set", "LOG_LEVEL", "debug", "--service", "api"])
        .status(1)
        .output();
    assert_eq!(
        run.stderr,
        format!("error: {}\n", err.replace(&store.display(), STATE))
    );
    assert_eq!(sb.read(STATE), before);
    // Reading does not need the lock: plan works while an apply runs.
    sb.cmd()
        .args(["plan", "--detailed-exitcode"])
        .status(0)
        .output();

    // The holder finishes: the lock is released.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(!store.lock_path().exists());
    let guard = store.lock("apply").expect("free again");
    drop(guard);
    assert!(!store.lock_path().exists());
}

fn state_unlock_clears_a_stale_lock_and_names_its_holder() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let store = sb.store();
    let mut child = hold_lock(&store);
    let pid = child.id();
    let since = store.lock_info().unwrap().since;
    // The holder crashes: its lock stays behind.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(store.lock_path().exists());
    assert!(store.lock("apply").is_err(), "a stale lock still refuses");

    let run = sb.cmd().args(["state", "unlock"]).output();
    assert_eq!(
        run.stdout,
        format!(
            "Removed the lock on {STATE} held by {} (pid {pid}) running `apply` since {since}.\n",
            holder()
        )
    );
    assert!(!store.lock_path().exists());
    assert!(store.lock("apply").is_ok());
    // The state itself is untouched.
    assert_eq!(store.load("internal-tools", ENV).unwrap().serial, 1);

    let run = sb.cmd().args(["state", "unlock"]).output();
    assert_eq!(run.stdout, format!("{STATE} is not locked.\n"));
    // An unreadable lock file is still removed.
    std::fs::write(store.lock_path(), "garbage").unwrap();
    let run = sb.cmd().args(["state", "unlock"]).output();
    assert!(run.stdout.contains("held by unknown"), "{}", run.stdout);
    assert!(!store.lock_path().exists());
}

// --------------------------------------------------------------- secrets

/// A state with every kind of sealed value: generated variables, a
/// sensitive service variable and the hook secret.
fn state_with_secrets(sb: &Sandbox) -> State {
    let key = SecretKey::from_text(KEY);
    let mut st = sb.applied_state();
    st.hook_secret = Some(key.seal("environment/hook-secret", "PLAINTEXT-hook-secret"));
    st.variables
        .service
        .entry("api".into())
        .or_default()
        .insert(
            "API_TOKEN".into(),
            Variable {
                sensitive: true,
                generated: false,
                value: None,
                sealed: Some(key.seal("service/api/API_TOKEN", "PLAINTEXT-api-token")),
            },
        );
    st.variables
        .service
        .entry("api".into())
        .or_default()
        .insert(
            "LOG_LEVEL".into(),
            Variable {
                sensitive: false,
                generated: false,
                value: Some("debug".into()),
                sealed: None,
            },
        );
    sb.save(&mut st);
    st
}

fn no_plaintext_secret_in_the_state_file_or_state_show() {
    let sb = Sandbox::copy("example");
    let st = state_with_secrets(&sb);
    let plaintexts = [
        secret_value("db", "POSTGRES_PASSWORD"),
        secret_value("cache", "CACHE_PASSWORD"),
        "PLAINTEXT-hook-secret".to_string(),
        "PLAINTEXT-api-token".to_string(),
    ];
    let file = sb.read(STATE);
    let show = sb.cmd_without_key().args(["state", "show"]).output().stdout;
    for p in &plaintexts {
        assert!(!file.contains(p.as_str()), "{p} in the state file");
        assert!(!show.contains(p.as_str()), "{p} in state show");
        assert!(!file.contains("PLAINTEXT"), "no plaintext at all");
    }
    // The sealed values are in the file, and they open with the key.
    let key = SecretKey::from_text(KEY);
    let stored = format::read("s", &file).unwrap();
    let var = &stored.variables.resource["db"]["POSTGRES_PASSWORD"];
    assert!(var.value.is_none());
    assert_eq!(
        key.open(
            "resource/db/POSTGRES_PASSWORD",
            var.sealed.as_ref().unwrap()
        )
        .unwrap(),
        secret_value("db", "POSTGRES_PASSWORD")
    );
    // Another key does not open them.
    assert!(SecretKey::from_text("another key")
        .open(
            "resource/db/POSTGRES_PASSWORD",
            var.sealed.as_ref().unwrap()
        )
        .is_err());
    // state show: sealed values masked, everything else as stored.
    let shown = json_of(&show);
    assert_eq!(shown, masked(json_of(&file)));
    assert_eq!(shown["hookSecret"], "(sealed)");
    assert_eq!(
        shown["variables"]["resource"]["db"]["POSTGRES_PASSWORD"],
        json!({"generated": true, "sealed": "(sealed)", "sensitive": true})
    );
    assert_eq!(
        shown["variables"]["service"]["api"]["LOG_LEVEL"]["value"],
        "debug"
    );
    for s in st
        .variables
        .resource
        .values()
        .chain(st.variables.service.values())
        .flat_map(|m| m.values())
        .filter_map(|v| v.sealed.as_ref())
    {
        assert!(!show.contains(&s.0), "a sealed value in state show");
    }
}

fn sensitive_instance_values_are_stored_hashed() {
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "signing_secret: whsec-example-9f2c",
        "signing_secret: instance-signing-s3cret",
    );
    sb.apply();
    assert!(!sb.read(STATE).contains("instance-signing-s3cret"));
    let show = sb.cmd().args(["state", "show"]).output().stdout;
    assert!(!show.contains("instance-signing-s3cret"), "{show}");
    let stored = json_of(&show)["instances"]["order-hook"]["values"]["signing_secret"].clone();
    // Salted and slow (argon2id), not the unsalted sha256 of the value.
    assert!(
        stored
            .as_str()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let unsalted = compartment::support::digest::sha256_hex(b"\"instance-signing-s3cret\"");
    assert!(!sb.read(STATE).contains(&unsalted));
    // The planner still tells an unchanged secret from a changed one.
    let plan = |args: &[&str]| sb.cmd().args(args).status(None).output().stdout;
    let unchanged = plan(&["plan", "--no-color"]);
    assert!(!unchanged.contains("instance.order-hook"), "{unchanged}");
    sb.edit(
        "compartment.yml",
        "signing_secret: instance-signing-s3cret",
        "signing_secret: instance-signing-s3cret2",
    );
    let changed = plan(&["plan", "--no-color"]);
    assert!(
        changed.contains("~ instance.order-hook update: `values.signing_secret` changed"),
        "{changed}"
    );
    assert!(!changed.contains("s3cret"), "{changed}");
}

// ------------------------------------------------------ format versions

fn a_v0_state_is_upgraded_on_read() {
    upgraded_on_read("state-v0.json");
}

fn a_v1_state_is_upgraded_on_read() {
    upgraded_on_read("state-v1.json");
}

fn a_v2_state_is_upgraded_on_read() {
    upgraded_on_read("state-v2.json");
}

fn a_v3_state_is_upgraded_on_read() {
    upgraded_on_read("state-v3.json");
}

fn a_v4_state_is_upgraded_on_read() {
    upgraded_on_read("state-v4.json");
}

fn a_v5_state_is_upgraded_on_read() {
    upgraded_on_read("state-v5.json");
}

/// An older sample reads as the current one (`state-v6.json`, which
/// describes the same state), plans work against it, and the next write
/// saves the current version with the old file as the backup.
fn upgraded_on_read(old: &str) {
    let sb = Sandbox::copy("example");
    sb.write("old-state.json", &sample(old));
    let show = sb
        .cmd()
        .args(["state", "show", "--state", "old-state.json"])
        .output();
    // The same content as the v1 sample, which describes the same state.
    assert_eq!(
        json_of(&show.stdout),
        masked(json_of(&sample("state-v6.json")))
    );
    // Exactly, sealed values and lineage included, through the library.
    let upgraded = format::read(old, &sample(old)).unwrap();
    assert_eq!(
        upgraded,
        format::read("v6", &sample("state-v6.json")).unwrap()
    );
    assert_eq!(upgraded.lineage, LINEAGE);
    // Reading does not rewrite the file.
    assert_eq!(sb.read("old-state.json"), sample(old));
    // Plans work against it.
    let plan = sb
        .cmd()
        .args(["plan", "--json", "--state", "old-state.json"])
        .output();
    let plan = json_of(&plan.stdout);
    assert_eq!(plan["prior_state"]["lineage"], LINEAGE);
    assert_eq!(plan["prior_state"]["serial"], 6);
    // The upgraded state is deployed exactly as the current sample says.
    sb.write("v3-state.json", &sample("state-v6.json"));
    let current = sb
        .cmd()
        .args(["plan", "--json", "--state", "v3-state.json"])
        .output();
    assert_eq!(
        plan["prior_state"]["deployed"],
        json_of(&current.stdout)["prior_state"]["deployed"]
    );
    // The next write is the current version, with the old file as the backup.
    let store = StateStore::at(sb.file("old-state.json"));
    let mut st = store.load("internal-tools", ENV).unwrap();
    store.save(&mut st).unwrap();
    assert_eq!(json_of(&sb.read("old-state.json"))["version"], 6);
    assert_eq!(
        std::fs::read_to_string(store.backup_path()).unwrap(),
        sample(old)
    );
}

fn a_newer_state_version_is_refused_with_a_clear_message() {
    let sb = Sandbox::copy("example");
    let v99 = sample("state-v6.json").replacen("\"version\": 6", "\"version\": 99", 1);
    sb.write("v99.json", &v99);
    let expected = "error: v99.json has state format version 99, newer than this compartment understands (up to 6); upgrade compartment to read it\n";
    for args in [
        vec!["state", "show", "--state", "v99.json"],
        vec!["plan", "--state", "v99.json"],
        vec!["plan", "--detailed-exitcode", "--state", "v99.json"],
    ] {
        let run = sb.cmd().args(&args).status(1).output();
        assert_eq!(run.stderr, expected, "{args:?}");
        assert_eq!(run.stdout, "");
    }
    sb.write("nover.json", "{\"serial\": 1}\n");
    let run = sb
        .cmd()
        .args(["state", "show", "--state", "nover.json"])
        .status(1)
        .output();
    assert_eq!(
        run.stderr,
        "error: nover.json has no `version` field; it is not a compartment state file\n"
    );
    sb.write(
        "broken.json",
        "{\"version\": 0, \"resources\": [{\"image\": \"x\"}]}\n",
    );
    let run = sb
        .cmd()
        .args(["state", "show", "--state", "broken.json"])
        .status(1)
        .output();
    assert_eq!(
        run.stderr,
        "error: broken.json (state format version 0) is malformed: an entry of `resources` has no name\n"
    );
}

// ------------------------------------------------ schemas and samples

fn schema(name: &str) -> jsonschema::Validator {
    let s = json_of(&std::fs::read_to_string(repo().join("state").join(name)).unwrap());
    jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{name} is not a valid schema: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}",
        errors.join("\n")
    );
}

fn samples_match_the_schemas() {
    let state = schema("state.schema.json");
    let plan = schema("plan.schema.json");
    assert_valid(&state, "state-v3.json", &json_of(&sample("state-v6.json")));
    assert_valid(&plan, "plan-v1.json", &json_of(&sample("plan-v1.json")));
    // The older samples are not current states.
    assert!(!state.is_valid(&json_of(&sample("state-v0.json"))));
    assert!(!state.is_valid(&json_of(&sample("state-v1.json"))));
    // A newer version is not either.
    let v99 = sample("state-v6.json").replacen("\"version\": 6", "\"version\": 99", 1);
    assert!(!state.is_valid(&json_of(&v99)));
    // A plaintext in a sensitive variable is not valid.
    let mut leaky = json_of(&sample("state-v6.json"));
    leaky["variables"]["resource"]["db"]["POSTGRES_PASSWORD"]["value"] = json!("hunter2");
    assert!(!state.is_valid(&leaky));
}

fn fresh_states_and_plans_match_the_schemas() {
    let state = schema("state.schema.json");
    let plan = schema("plan.schema.json");
    // A state written by the library.
    let sb = Sandbox::copy("example");
    state_with_secrets(&sb);
    assert_valid(&state, "a written state", &json_of(&sb.read(STATE)));
    // Plans: new state, an applied state with changes, a blocked plan.
    let fresh = Sandbox::copy("example");
    let run = fresh.cmd().args(["plan", "--json"]).output();
    assert_valid(&plan, "a plan on a new state", &json_of(&run.stdout));
    sb.edit("compartment.yml", "opening_hour: 9", "opening_hour: 10")
        .edit(
            "compartment.yml",
            "image: compartment-test/busybox:1",
            "image: compartment-test/busybox:2",
        );
    sb.cmd().args(["plan", "--out", "plan.json"]).output();
    assert_valid(&plan, "a plan file", &json_of(&sb.read("plan.json")));
    sb.edit(
        "compartment.yml",
        "      data: /data\n",
        "      data: /srv\n",
    );
    let run = sb.cmd().args(["plan", "--json"]).status(1).output();
    assert_valid(&plan, "a blocked plan", &json_of(&run.stdout));
    // The plan sample is what `show` renders.
    sb.write("sample.json", &sample("plan-v1.json"));
    let show = sb
        .cmd()
        .args(["show", "sample.json", "--no-color"])
        .output();
    assert_golden(
        &crate::test::fixture("plan/cases/show/expected-sample.txt"),
        &show.stdout,
    );
}

fn state_show_and_unlock_work_on_a_state_file_without_its_project() {
    let sb = Sandbox::copy("example");
    state_with_secrets(&sb);
    let path = sb.file(STATE).display().to_string();
    let nowhere = tempfile::tempdir().unwrap();
    let show = Test::new(nowhere.path())
        .args(["state", "show", "--state", &path])
        .output();
    assert_eq!(json_of(&show.stdout), masked(json_of(&sb.read(STATE))));
    std::fs::write(sb.store().lock_path(), "{}").unwrap();
    let unlock = Test::new(nowhere.path())
        .args(["state", "unlock", "--state", &path])
        .output();
    assert!(
        unlock.stdout.starts_with("Removed the lock on "),
        "{}",
        unlock.stdout
    );
    assert!(!sb.store().lock_path().exists());
    // Without --state and without compartment.yml there is nothing to go by.
    let run = Test::new(nowhere.path())
        .args(["state", "show"])
        .status(1)
        .output();
    assert!(
        run.stderr.contains("cannot tell the project name"),
        "{}",
        run.stderr
    );
    // A --state file that does not exist, with no project to make an empty
    // state for, is an error.
    let run = Test::new(nowhere.path())
        .args(["state", "show", "--state", "missing.json"])
        .status(1)
        .output();
    assert!(
        run.stderr.starts_with("error: cannot read missing.json"),
        "{}",
        run.stderr
    );
}
