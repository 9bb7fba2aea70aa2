//! Command-line conventions through the real binary: usage errors exit 1, a
//! closed stdout ends quietly, compartment.yml is found from a subdirectory,
//! completions and the man page generate, a held lock can be waited for, the
//! secret key's creation is announced once.

use crate::test::{fixture, Test};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

cases! {
    plain usage_errors_exit_1_and_help_exits_0,
    plain a_reader_that_stops_early_ends_the_process_quietly,
    plain compartment_yml_is_found_from_a_subdirectory,
    plain completions_and_the_man_page_generate,
    plain a_lock_timeout_waits_for_the_holder,
    plain creating_the_secret_key_is_announced_once,
    plain init_scaffolds_a_project_that_validates_and_never_overwrites,
    plain config_prints_the_expanded_configuration_with_secrets_masked,
    plain env_and_project_names_are_checked_before_any_path_is_built,
    docker a_second_apply_with_a_lock_timeout_waits_for_the_first,
}

fn usage_errors_exit_1_and_help_exits_0() {
    let run = Test::new(fixture("example"))
        .args(["plan", "--detailed-exitcode", "--bogus"])
        .status(1)
        .output();
    assert!(
        run.stderr
            .starts_with("error: unexpected argument '--bogus' found"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let help = Test::new(fixture("example")).args(["--help"]).output();
    assert!(help.stdout.starts_with("Plan and apply"), "{}", help.stdout);
}

/// A project whose plan is far longer than a pipe's buffer.
fn long_project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut yml = String::from("name: long\nresources:\n");
    for i in 0..400 {
        yml.push_str(&format!(
            "  r{i}:\n    image: compartment-test/busybox:1\n    env: {{A: \"{i}\", B: \"a value long enough to fill the pipe quickly\"}}\n"
        ));
    }
    std::fs::write(tmp.path().join("compartment.yml"), yml).unwrap();
    tmp
}

fn a_reader_that_stops_early_ends_the_process_quietly() {
    let project = long_project();
    for round in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_compartment"))
            .args(["plan", "--no-color"])
            .current_dir(project.path())
            .env_remove("COMPARTMENT_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone (like `| head -1`).
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(first, "Plan for long / production (new state)\n");
        assert_eq!(out.status.code(), Some(0), "round {round}: {stderr}");
        assert_eq!(stderr, "", "round {round}");
    }
}

fn compartment_yml_is_found_from_a_subdirectory() {
    Test::new(fixture("example").join("services/api"))
        .args(["validate"])
        .stdout("../../compartment.yml is valid: project `internal-tools`, 3 services, 2 resources, 2 resource types, 3 instances (0 warnings)\n")
        .run();
    // With no compartment.yml above, the error names the file looked for.
    let tmp = tempfile::tempdir().unwrap();
    let run = Test::new(tmp.path()).args(["validate"]).status(1).output();
    assert!(
        run.stderr.contains("cannot read compartment.yml"),
        "{}",
        run.stderr
    );
}

fn completions_and_the_man_page_generate() {
    for (shell, marker) in [
        ("bash", "_compartment()"),
        ("zsh", "#compdef compartment"),
        ("fish", "complete -c compartment"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = Test::new(fixture("example"))
            .args(["completions", shell])
            .output();
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        assert!(
            run.stdout.contains("validate"),
            "{shell} knows the subcommands"
        );
    }
    let man = Test::new(fixture("example")).args(["man"]).output();
    assert!(man.stdout.contains(".TH compartment 1"), "{}", man.stdout);
    assert!(man.stdout.contains("apply"), "{}", man.stdout);
}

fn a_lock_timeout_waits_for_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.json");
    let lock = tmp.path().join("state.json.lock");
    let held = r#"{"holder": "ada@elsewhere", "pid": 4242, "operation": "apply", "since": "2026-12-02T00:00:00Z"}"#;
    std::fs::write(&lock, held).unwrap();
    let set = |extra: &[&str]| {
        Test::new(fixture("example"))
            .args(["variable", "set", "LOG_LEVEL", "debug", "--service", "api"])
            .args(extra)
            .env("COMPARTMENT_STATE", state.to_str().unwrap())
    };
    let refused = set(&[]).status(1).output();
    assert!(
        refused.stderr.contains("ada@elsewhere") && refused.stderr.contains("pid 4242"),
        "{}",
        refused.stderr
    );
    // The holder finishes after a second; a second command waits for it.
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        std::fs::remove_file(lock).unwrap();
    });
    set(&["--lock-timeout", "10s"])
        .stdout("Set variable `LOG_LEVEL`; the next apply restarts what uses it.\n")
        .run();
    release.join().unwrap();
}

fn creating_the_secret_key_is_announced_once() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.json");
    let config = tmp.path().join("config");
    let key = config.join("compartment/secret.key");
    let run = |value: &str| {
        Test::new(fixture("example"))
            .args([
                "variable",
                "set",
                "API_TOKEN",
                value,
                "--service",
                "api",
                "--sensitive",
            ])
            .env("COMPARTMENT_STATE", state.to_str().unwrap())
            .env("XDG_CONFIG_HOME", config.to_str().unwrap())
            .env("HOME", tmp.path().to_str().unwrap())
            .stdout("Set sensitive variable `API_TOKEN`; the next apply restarts what uses it.\n")
    };
    run("one")
        .stderr(&format!("note: created the secret key {} (it seals the secrets in the state). Back it up now, e.g. in a password manager: without it the sealed values cannot be opened, and it never belongs in the repository.\n", key.display()))
        .run();
    assert!(key.is_file());
    run("two").run();
    let show = Test::new(fixture("example"))
        .args(["state", "show"])
        .env("COMPARTMENT_STATE", state.to_str().unwrap())
        .env("XDG_CONFIG_HOME", config.to_str().unwrap())
        .output();
    assert_eq!(
        show.stderr,
        format!("secret key: the key file {}\n", key.display())
    );
}

fn init_scaffolds_a_project_that_validates_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-shop");
    std::fs::create_dir(&dir).unwrap();
    Test::new(&dir)
        .args(["init", "--service", "web"])
        .stdout("Created project `my-shop`:\n  compartment.yml\n  .schemas/compartment.schema.json\n  services/web/Dockerfile\n  services/web/platz/resources.yaml\n  .schemas/resources.schema.json\nNext: `compartment validate`, then `compartment plan`.\n")
        .run();
    let yml = std::fs::read_to_string(dir.join("compartment.yml")).unwrap();
    assert!(
        yml.starts_with("# yaml-language-server: $schema=.schemas/compartment.schema.json\n"),
        "{yml}"
    );
    Test::new(&dir)
        .args(["validate"])
        .stdout("compartment.yml is valid: project `my-shop`, 1 service, 0 resources, 1 resource type, 0 instances (0 warnings)\n")
        .run();
    Test::new(&dir)
        .args(["init"])
        .status(1)
        .stderr("error: compartment.yml already exists; nothing was written (edit it, or run `compartment init` in another directory)\n")
        .run();
    assert_eq!(
        std::fs::read_to_string(dir.join("compartment.yml")).unwrap(),
        yml
    );
}

fn config_prints_the_expanded_configuration_with_secrets_masked() {
    let run = Test::new(fixture("example"))
        .args(["config", "--output", "json"])
        .output();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    // The preset is expanded: image, generated password, outputs, operations.
    let db = &v["resources"]["db"];
    assert_eq!(db["image"], "postgres:16-alpine", "{db:#}");
    assert!(
        db["generatedVariables"]["POSTGRES_PASSWORD"].is_object(),
        "{db:#}"
    );
    assert!(db["operations"]["backup"].is_object(), "{db:#}");
    // A sensitive instance input is masked, in its values and wherever its
    // value would be stored.
    let hook = &v["instances"]["order-hook"];
    let text = run.stdout.clone();
    assert_eq!(hook["values"]["signing_secret"], "(sensitive)", "{hook:#}");
    let secret = std::fs::read_to_string(fixture("example/compartment.yml")).unwrap();
    let literal = secret
        .lines()
        .find_map(|l| l.trim().strip_prefix("signing_secret: "))
        .unwrap()
        .trim_matches('"');
    assert!(!text.contains(literal), "the secret leaked:\n{text}");
    // Text mode is the same document as YAML.
    let yaml = Test::new(fixture("example")).args(["config"]).output();
    let parsed: serde_json::Value = serde_yaml::from_str(&yaml.stdout).unwrap();
    assert_eq!(parsed, v);
}

fn a_second_apply_with_a_lock_timeout_waits_for_the_first() {
    let p = crate::engine::Project::new("example");
    // The first apply holds the lock (as its lock file says) for a second.
    let mut lock = p.state_path().into_os_string();
    lock.push(".lock");
    let lock = std::path::PathBuf::from(lock);
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let held = r#"{"holder": "ada@elsewhere", "pid": 4242, "operation": "apply", "since": "2026-12-02T00:00:00Z"}"#;
    std::fs::write(&lock, held).unwrap();
    let refused = p.cmd(["apply", "--yes"]).status(1).output();
    assert!(
        refused.stderr.contains("ada@elsewhere"),
        "{}",
        refused.stderr
    );
    let release = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            std::fs::remove_file(lock).unwrap();
        })
    };
    let run = p.cmd(["apply", "--yes", "--lock-timeout", "30s"]).output();
    release.join().unwrap();
    assert!(run.stdout.contains("Apply complete:"), "{}", run.stdout);
    assert!(!lock.exists(), "the second apply released its lock");
}

/// `--env` and `--project` become part of the state file's path and of
/// Docker object names: `../../x` or `a/b` is refused before either is built,
/// whether given as a flag or through `COMPARTMENT_*`.
fn env_and_project_names_are_checked_before_any_path_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    crate::applied::copy_dir(&fixture("example"), &dir);
    let refused = |args: &[&str], env: Option<(&str, &str)>, message: &str| {
        let mut t = Test::new(&dir).args(args.iter().copied());
        if let Some((k, v)) = env {
            t = t.env(k, v);
        }
        t.status(1).stderr(message).run();
    };
    let rule = "is not a valid name: use lowercase letters, digits and `-` (at most 63, not starting or ending with `-`), as for resources";
    refused(
        &["plan", "--env", "../../x"],
        None,
        &format!("error: --env (COMPARTMENT_ENV) `../../x` {rule}\n"),
    );
    refused(
        &["state", "show"],
        Some(("COMPARTMENT_ENV", "a/b")),
        &format!("error: --env (COMPARTMENT_ENV) `a/b` {rule}\n"),
    );
    refused(
        &["plan", "--project", "a/b"],
        None,
        &format!("error: --project (COMPARTMENT_PROJECT) `a/b` {rule}\n"),
    );
    refused(
        &["plan"],
        Some(("COMPARTMENT_PROJECT", "Bad")),
        &format!("error: --project (COMPARTMENT_PROJECT) `Bad` {rule}\n"),
    );
    // Nothing was written anywhere: no state directory beside the project,
    // none above it.
    assert!(!dir.join(".compartment").exists());
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("x.json").exists());
    // A preview environment's name is fine.
    Test::new(&dir)
        .args(["plan", "--env", "pr-123", "--detailed-exitcode"])
        .status(2)
        .output();
}
