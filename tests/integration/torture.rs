//! Nothing lost on a kill (issue #16 point 1): an apply of resources whose
//! data is initialised with a generated password is killed (`kill -9`, or
//! SIGTERM) at random points; after each, the state parses, the recovery
//! apply adopts what the killed one started, every password the state
//! reveals still opens its data, and no object the state does not record
//! is left. Deleting the state file never takes the resources over: the
//! apply refuses, naming them, and `import` adopts them with the
//! credentials their data was made with.

use crate::engine::{docker, docker_ok, Project};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

cases! {
    docker kill_9_and_sigterm_at_random_points_lose_no_password,
    docker a_deleted_state_never_takes_over_running_resources,
}

const VAULTS: [&str; 3] = ["v1", "v2", "v3"];

/// A small xorshift generator, seeded from the clock and printed, so a
/// failing round can be replayed with `COMPARTMENT_TORTURE_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("COMPARTMENT_TORTURE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("torture: seed {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A sensitive output, revealed.
fn reveal(p: &Project, resource: &str, output: &str) -> String {
    let run = p
        .cmd([
            "resource",
            "output",
            "show",
            output,
            "--resource",
            resource,
            "--reveal",
        ])
        .output();
    assert_eq!(run.status, 0, "reveal {resource}.{output}: {}", run.stderr);
    run.stdout.trim().to_string()
}

/// Every password the state reveals opens the data it belongs to: a vault's
/// `/data/pw` (written once, on its first start) and PostgreSQL through
/// `psql` with the revealed connection URL. Returns how many were checked.
fn passwords_open_their_data(p: &Project, round: usize) -> usize {
    for v in VAULTS {
        let stored = docker_ok(&["exec", &p.container(v), "cat", "/data/pw"]);
        assert_eq!(
            stored.trim(),
            reveal(p, v, "secret"),
            "round {round}: {v}'s data was initialised with another password"
        );
    }
    let url = reveal(p, "pg", "connection-url");
    let (ok, out) = docker(&["exec", &p.container("pg"), "psql", &url, "-tAc", "select 1"]);
    assert!(
        ok && out.trim() == "1",
        "round {round}: the revealed connection-url does not open the database: {out}"
    );
    VAULTS.len() + 1
}

/// Containers and volumes of the project that the state does not record.
fn unrecorded(p: &Project) -> Vec<String> {
    let state = p.state();
    let mut known = BTreeSet::new();
    for r in state["resources"].as_object().into_iter().flatten() {
        known.insert(
            r.1["applied"]["containerName"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        for v in r.1["volumes"].as_object().into_iter().flatten() {
            known.insert(v.1.as_str().unwrap().to_string());
        }
    }
    let label = format!("label=io.compartment.project={}", p.name);
    let containers = docker_ok(&["ps", "-a", "--format", "{{.Names}}", "--filter", &label]);
    let volumes = docker_ok(&["volume", "ls", "-q", "--filter", &label]);
    containers
        .split_whitespace()
        .chain(volumes.split_whitespace())
        .filter(|o| !known.contains(*o))
        .map(str::to_string)
        .collect()
}

/// Project containers present right now.
fn containers(p: &Project) -> BTreeSet<String> {
    let label = format!("label=io.compartment.project={}", p.name);
    docker_ok(&["ps", "-aq", "--no-trunc", "--filter", &label])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// One round: apply, kill it after `delay_ms` with `signal`, check the state
/// and the lock, recover, check every password. Returns (passwords checked,
/// containers the recovery adopted, creates it resumed).
fn round(round: usize, signal: &str, delay_ms: u64) -> (usize, usize, usize) {
    let p = Project::new("torture");
    let child = p.spawn(&["apply", "--yes"]);
    std::thread::sleep(Duration::from_millis(delay_ms));
    child.signal(signal);
    let out = child.finish();
    let lock = p.state_path().with_extension("json.lock");
    if signal == "TERM" && out.code == Some(143) {
        assert!(!lock.exists(), "round {round}: SIGTERM left the lock");
    }
    if p.state_path().exists() {
        let show = p.cmd(["state", "show"]).output();
        assert_eq!(
            show.status, 0,
            "round {round}: unreadable state: {}",
            show.stderr
        );
    }
    if lock.exists() {
        // kill -9 cannot release it; its holder is gone, so unlock agrees.
        let run = p.cmd(["state", "unlock"]).output();
        assert_eq!(run.status, 0, "round {round}: {}", run.stderr);
    }
    let before = containers(&p);
    // Creates the killed apply started and did not record: the plan says
    // the recovery resumes them.
    let resumed: Vec<String> = if p.state_path().exists() {
        let st = p.state();
        st["creating"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(n, _)| n.clone())
            .filter(|n| st["resources"].get(n).is_none())
            .collect()
    } else {
        vec![]
    };
    let recovery = p.cmd(["apply", "--yes"]).output();
    assert_eq!(
        recovery.status, 0,
        "round {round} ({signal} after {delay_ms} ms): recovery failed\n{}\n{}",
        recovery.stdout, recovery.stderr
    );
    for n in &resumed {
        let line =
            format!("+ resource.{n} create: resumes the create an earlier apply started at ");
        assert!(
            recovery.stdout.contains(&line),
            "round {round}: {line}\n{}",
            recovery.stdout
        );
    }
    let adopted = before.intersection(&containers(&p)).count();
    let checked = passwords_open_their_data(&p, round);
    assert_eq!(unrecorded(&p), Vec::<String>::new(), "round {round}");
    let replan = p.cmd(["plan", "--refresh", "--detailed-exitcode"]).output();
    assert_eq!(replan.status, 0, "round {round}: {}", replan.stdout);
    (checked, adopted, resumed.len())
}

/// The short form run by `.ci/run`: 4 `kill -9` and 2 SIGTERM rounds at
/// random points of the first apply (`COMPARTMENT_TORTURE_ROUNDS` for more).
fn kill_9_and_sigterm_at_random_points_lose_no_password() {
    let mut rng = Rng::new();
    let rounds: usize = std::env::var("COMPARTMENT_TORTURE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let (mut checked, mut adopted, mut resumed, mut terms) = (0, 0, 0, 0);
    for i in 0..rounds {
        let signal = if i % 3 == 2 { "TERM" } else { "KILL" };
        terms += usize::from(signal == "TERM");
        let delay = 300 + rng.below(4000);
        let (c, a, r) = round(i, signal, delay);
        eprintln!("torture: round {i}: {signal} after {delay} ms: {c} passwords open their data, {a} containers adopted, {r} creates resumed");
        checked += c;
        adopted += a;
        resumed += r;
    }
    eprintln!(
        "torture: {rounds} rounds ({} kill -9, {terms} SIGTERM): {checked}/{checked} passwords open their data, {adopted} containers adopted, {resumed} interrupted creates resumed, 0 unrecorded objects left",
        rounds - terms
    );
}

/// A lost state file: the next apply refuses, naming the containers and
/// volumes, and changes nothing; `import` adopts each with the password its
/// data was made with, `resource delete --delete-data` clears one whose data
/// is not needed; the old lineage's `.backup` is kept aside.
fn a_deleted_state_never_takes_over_running_resources() {
    let p = Project::new("torture");
    let first = p.cmd(["apply", "--yes"]).output();
    assert_eq!(first.status, 0, "{}", first.stderr);
    let old_lineage = p.state()["lineage"].as_str().unwrap().to_string();
    // The apply wrote several times: `.backup` holds the old lineage.
    let ids = containers(&p);
    std::fs::remove_file(p.state_path()).unwrap();
    let mut objects = vec![format!(
        "  resource.pg: container `{}` and volume(s) `{}`",
        p.container("pg"),
        volume(&p, "pg")
    )];
    objects.extend(VAULTS.map(|v| {
        format!(
            "  resource.{v}: container `{}` and volume(s) `{}`",
            p.container(v),
            volume(&p, v)
        )
    }));
    // A refreshed plan sees each container the state does not record and
    // blocks its create (apply would start old data with new passwords).
    let run = p.cmd(["apply", "--yes"]).status(1).output();
    let blocked: String = ["pg", "v1", "v2", "v3"]
        .iter()
        .map(|r| {
            let c = p.container(r);
            format!("  ✗ resource.{r} (unrecorded): a container `{c}` of resource `{r}` exists in the engine, but the state does not record it: creating over it could start its data with new credentials\n    help: adopt it with the credentials its data holds: `compartment import resource.{r} {c}`; or, if its data is not needed, `compartment resource delete --resource {r} --delete-data`\n")
        })
        .collect();
    assert!(
        run.stdout.ends_with(&format!(
            "\nBlocked:\n{blocked}\nPlan: 4 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged; 4 blocked.\n"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "error: the plan is blocked by 4 change(s); nothing was applied\n"
    );
    // Were the plan not refreshed, apply itself refuses before anything changes.
    let _ = objects;
    assert_eq!(containers(&p), ids, "nothing was replaced");
    // v3's data is not needed: deleted as the refusal says, it is created
    // anew; the others are imported with the passwords their data holds.
    let run = p
        .cmd(["resource", "delete", "--resource", "v3", "--delete-data"])
        .output();
    assert_eq!(run.status, 0, "{}", run.stderr);
    for r in ["pg", "v1", "v2"] {
        let run = p
            .cmd(["import", &format!("resource.{r}"), &p.container(r)])
            .output();
        assert_eq!(run.status, 0, "import {r}: {}", run.stderr);
    }
    let aside = p
        .state_path()
        .with_extension(format!("json.backup.{old_lineage}"));
    assert!(aside.exists(), "the old lineage's backup is kept aside");
    let apply = p.cmd(["apply", "--yes"]).output();
    assert_eq!(apply.status, 0, "{}\n{}", apply.stdout, apply.stderr);
    passwords_open_their_data(&p, 0);
    assert_eq!(unrecorded(&p), Vec::<String>::new());
}

fn volume(p: &Project, resource: &str) -> String {
    docker_ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}}{{end}}",
        &p.container(resource),
    ])
    .trim()
    .to_string()
}
