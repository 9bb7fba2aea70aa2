//! Plans that tell the whole truth (issue #9), against the real engine:
//! changes cascade through outputs to the services that read them, a
//! day-2 write leaves a reviewed plan current, `deploy` is apply, drift of
//! recorded objects is shown and repaired.

use crate::engine::{docker_ok, Project};

cases! {
    docker the_database_url_cascade_is_planned_applied_and_converges,
    docker a_manual_backup_leaves_a_reviewed_plan_current,
    plain deploy_is_apply,
    docker a_removed_resource_is_deleted_by_the_reviewed_plan,
    docker drift_beyond_missing_containers_is_planned_and_repaired,
}

/// What `plan` prints when nothing changes.
fn no_changes(serial: u32, unchanged: u32) -> String {
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

No changes. The environment matches the configuration.

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, {unchanged} unchanged.
"
    )
}

fn env_var(p: &Project, container: &str, key: &str) -> String {
    let env = p.inspect(container, "{{range .Config.Env}}{{println .}}{{end}}");
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} not in the env of {container}: {env}"))
        .to_string()
}

/// The reproduction: `POSTGRES_DB` changes from `tools` to
/// `tools2`; both services whose `DATABASE_URL` reads it through
/// `db.connection-url` are planned as updates with the reason, applied with
/// the new URL, and the next plan is a no-op.
fn the_database_url_cascade_is_planned_applied_and_converges() {
    let p = Project::new("example");
    let first = p.cmd(["deploy", "--yes"]).output();
    assert!(env_var(&p, "api", "DATABASE_URL").ends_with("/tools"));
    // Service containers start only once every resource is ready, also
    // those they do not connect to (billing connects to none, storefront
    // only to db).
    let pos = |s: &str| {
        first
            .stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} not in:\n{}", first.stdout))
    };
    for service in ["api", "billing", "storefront"] {
        for resource in ["cache", "db"] {
            assert!(
                pos(&format!("resource.{resource}: ✓ created"))
                    < pos(&format!("service.{service}: preparing")),
                "service.{service} started before resource.{resource} was ready:\n{}",
                first.stdout
            );
        }
    }
    p.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: tools2",
    );
    let plan = "\
Plan for [PROJECT] / production (state serial 9, lineage [LINEAGE])

~ resource.db update: `env.POSTGRES_DB` changed
    ~ env.POSTGRES_DB: \"tools\" → \"tools2\"
    generated POSTGRES_PASSWORD: kept
~ service.api update: DATABASE_URL (from db.connection-url) changes because resource.db env.POSTGRES_DB changed
    after: resource.cache, resource.db
    ~ inputs.DATABASE_URL.env.POSTGRES_DB: \"tools\" → \"tools2\"
    connection api.CACHE_HOST ← cache.host
    connection api.CACHE_PORT ← cache.port
    connection api.DATABASE_URL ← db.connection-url
~ service.storefront update: DATABASE_URL (from db.connection-url) changes because resource.db env.POSTGRES_DB changed
    after: resource.db
    ~ inputs.DATABASE_URL.env.POSTGRES_DB: \"tools\" → \"tools2\"
    connection storefront.DATABASE_URL ← db.connection-url

Plan: 0 to create, 3 to update, 0 to replace, 0 to delete, 5 unchanged.
";
    p.cmd(["plan", "--no-color"]).stdout(plan).run();
    let run = p.cmd(["deploy", "--yes"]).output();
    let shown = p.normalize(&run.stdout);
    assert!(shown.starts_with(plan), "{shown}");
    assert!(
        run.stdout.contains(
            "Apply complete: 0 created, 3 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped."
        ),
        "{}",
        run.stdout
    );
    for service in ["api", "storefront"] {
        let url = env_var(&p, service, "DATABASE_URL");
        assert!(url.ends_with("/tools2"), "{service}: {url}");
    }
    // No secret in what was printed.
    let password = env_var(&p, "db", "POSTGRES_PASSWORD");
    assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
    assert!(!std::fs::read_to_string(p.state_path())
        .unwrap()
        .contains(&password));
    p.cmd(["plan", "--no-color"])
        .stdout(&no_changes(12, 8))
        .run();
}

/// A committed plan made before a manual backup is still current after
/// it: `plan --check` passes and `deploy FILE` executes it.
fn a_manual_backup_leaves_a_reviewed_plan_current() {
    let p = Project::new("example");
    p.cmd(["apply", "--yes"]).output();
    p.edit("compartment.yml", "CACHE_MODE: echo", "CACHE_MODE: loud");
    p.cmd(["plan", "--out", "plans/production.json"]).output();
    let before = p.state()["serial"].as_u64().unwrap();
    p.ops(["resource", "backup", "create", "--resource", "cache"])
        .output();
    assert!(
        p.state()["serial"].as_u64().unwrap() > before,
        "the backup was recorded in the state"
    );
    assert_eq!(p.state()["backups"].as_array().unwrap().len(), 1);
    p.cmd(["plan", "--check", "plans/production.json"])
        .stdout("plans/production.json is up to date\n")
        .run();
    let run = p.cmd(["deploy", "plans/production.json"]).output();
    assert!(
        run.stdout.contains(
            "Apply complete: 0 created, 1 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped."
        ),
        "{}",
        run.stdout
    );
    assert_eq!(env_var(&p, "cache", "CACHE_MODE"), "loud");
    // Once applied, the file is stale, and the refusal names what changed.
    p.cmd(["plan", "--check", "plans/production.json"])
        .status(1)
        .output();
    let refused = p
        .cmd(["deploy", "plans/production.json"])
        .status(1)
        .output();
    assert!(
        refused.stderr.contains(
            "the state changed: its resources differ from what the file was planned against"
        ),
        "{}",
        refused.stderr
    );
    docker_ok(&["inspect", &p.container("cache")]);
}

/// The example without its cache (and the api's connection to it), with
/// `removed: {cache: {deleteData: …}}`.
fn remove_cache(p: &Project, delete_data: bool) {
    p.edit(
        "compartment.yml",
        "      cache:\n        env:\n          CACHE_HOST: host\n          CACHE_PORT: port\n",
        "",
    );
    let path = p.dir.join("compartment.yml");
    let yml = std::fs::read_to_string(&path).unwrap();
    let start = yml.find("  # The expanded form.").unwrap();
    let end = yml.find("instances:").unwrap();
    let removed = format!("removed:\n  cache:\n    deleteData: {delete_data}\n");
    std::fs::write(
        &path,
        format!("{}\n{}\n{removed}", &yml[..start], &yml[end..]),
    )
    .unwrap();
}

/// `removed:` turns the undeclared-resource blocker into a planned delete
/// that the reviewed plan file carries and apply executes: the api drops
/// its connection first, the cache container goes, its volume is kept (and
/// recorded as kept); the replan says there is nothing left to delete.
fn a_removed_resource_is_deleted_by_the_reviewed_plan() {
    let p = Project::new("example");
    p.cmd(["apply", "--yes"]).output();
    let volume = format!("cmpt-{}-production-cache-data", p.name);
    docker_ok(&["volume", "inspect", &volume]);
    remove_cache(&p, false);
    p.cmd(["plan", "--out", "plans/production.json"]).output();
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.join("plans/production.json")).unwrap(),
    )
    .unwrap();
    let cache = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "resource.cache")
        .unwrap();
    assert_eq!(cache["action"], "delete");
    assert_eq!(cache["volumes"][&volume], "keep", "{cache:#}");
    // Deleting a resource through a plan needs what `resource delete`
    // needs: a role that may deploy but not delete is refused.
    let access = p.dir.join(".compartment/access.yml");
    std::fs::create_dir_all(access.parent().unwrap()).unwrap();
    std::fs::write(
        &access,
        "actors:\n  ship: shipper\n  ada: admin\nroles:\n  shipper:\n    permissions: [deployment.create]\n",
    )
    .unwrap();
    let refused = p
        .cmd(["deploy", "plans/production.json"])
        .env("COMPARTMENT_ACTOR", "ship")
        .status(1)
        .output();
    assert!(
        refused.stderr.contains("ship (role shipper in production) may not run `apply a plan that deletes a resource`: it needs the permission `deployment.delete`"),
        "{}",
        refused.stderr
    );
    docker_ok(&["inspect", &p.container("cache")]);
    std::fs::remove_file(&access).unwrap();
    let run = p.cmd(["deploy", "plans/production.json"]).output();
    assert!(
        run.stdout.contains(
            "Apply complete: 0 created, 1 updated, 0 replaced, 1 deleted, 0 failed, 0 skipped."
        ),
        "{}",
        run.stdout
    );
    let (exists, _) = crate::engine::docker(&["inspect", &p.container("cache")]);
    assert!(!exists, "the cache container is gone");
    docker_ok(&["volume", "inspect", &volume]);
    let state = p.state();
    assert!(state["resources"].get("cache").is_none(), "{state:#}");
    assert_eq!(state["keptVolumes"]["cache"]["data"], volume.as_str());
    let api_env = p.inspect("api", "{{range .Config.Env}}{{println .}}{{end}}");
    assert!(!api_env.contains("CACHE_HOST="), "{api_env}");
    let replan = p.cmd(["plan", "--no-color"]).output();
    assert!(
        replan.stdout.contains("No changes.")
            && replan
                .stdout
                .contains("`removed.cache` names a resource this environment does not have"),
        "{}",
        replan.stdout
    );
}

/// `deploy` is `apply`: the same command, flags and help.
fn deploy_is_apply() {
    let dir = tempfile::tempdir().unwrap();
    let help = |cmd: &str| {
        crate::test::Test::new(dir.path())
            .args([cmd, "--help"])
            .output()
            .stdout
    };
    let apply = help("apply");
    assert!(apply.contains("--parallelism"), "{apply}");
    assert!(apply.contains("--target"), "{apply}");
    assert_eq!(help("deploy"), apply);
    let top = crate::test::Test::new(dir.path())
        .args(["--help"])
        .output()
        .stdout;
    assert!(
        top.lines()
            .any(|l| l.trim_start().starts_with("apply") && l.ends_with("[alias: deploy]")),
        "{top}"
    );
}

/// A per-test image tag, built from the busybox test image with a label
/// (so each build is another image ID); the image is removed by its ID on
/// drop (a later build of the same tag leaves this one untagged).
struct TaggedImage(String);

impl TaggedImage {
    fn build(tag: &str, generation: &str) -> TaggedImage {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!("FROM compartment-test/busybox:1\nLABEL generation={generation}\n"),
        )
        .unwrap();
        let id = docker_ok(&["build", "-q", "-t", tag, dir.path().to_str().unwrap()]);
        TaggedImage(id.trim().to_string())
    }
}

impl Drop for TaggedImage {
    fn drop(&mut self) {
        crate::engine::docker(&["rmi", "-f", &self.0]);
    }
}

/// `docker run -d` of a busybox container labelled as part of `p`.
fn run_labelled(p: &Project, name: &str, kind: &str, object: &str) {
    let label = |k: &str, v: &str| format!("--label=io.compartment.{k}={v}");
    docker_ok(&[
        "run",
        "-d",
        "--name",
        name,
        &label("project", &p.name),
        &label("environment", "production"),
        &label("kind", kind),
        &label("name", object),
        "compartment-test/busybox:1",
        "sleep",
        "600",
    ]);
}

/// `plan --refresh` shows what apply will do about each kind of drift
/// (start, recreate on the moved image, remove a leftover or an unrecorded
/// container, recreate the network and the containers on it), apply does
/// it, and the next refreshed plan is a no-op.
fn drift_beyond_missing_containers_is_planned_and_repaired() {
    // Declared before the project: dropped after it, once no container
    // uses the images.
    let mut images = Vec::new();
    let p = Project::new("apply/drift");
    let tag = format!("compartment-test/drift:{}", p.name);
    images.push(TaggedImage::build(&tag, "one"));
    p.edit("compartment.yml", "IMAGE", &tag);
    p.cmd(["apply", "--yes"]).output();
    let converge = |plan: &str| {
        p.cmd(["plan", "--refresh", "--no-color"])
            .stdout(plan)
            .run();
        let run = p.cmd(["apply", "--yes", "--no-color"]).output();
        assert!(p.normalize(&run.stdout).starts_with(plan), "{}", run.stdout);
        let replan = p.cmd(["plan", "--refresh", "--no-color"]).output();
        assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
    };
    // A stopped container is started.
    docker_ok(&["stop", "-t", "1", &p.container("store")]);
    converge(&stopped_plan(3));
    assert_eq!(p.inspect("store", "{{.State.Running}}"), "true");
    // The tag moved: the container is recreated on the image it names now.
    let old = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    images.push(TaggedImage::build(&tag, "two"));
    let new = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    assert_ne!(old, new);
    converge(&moved_plan(4));
    assert_eq!(p.inspect("store", "{{.Image}}"), new.trim());
    // A leftover of an interrupted replace, and a container nobody records.
    let next = format!("{}-next", p.container("web"));
    run_labelled(&p, &next, "service", "web");
    run_labelled(&p, &p.container("ghost"), "service", "ghost");
    converge(&strays_plan(5));
    for gone in [next, p.container("ghost")] {
        assert!(
            !crate::engine::docker(&["inspect", &gone]).0,
            "{gone} is gone"
        );
    }
    // The network is removed (its containers stopped first, as Docker
    // requires): it is recreated with every container on it.
    docker_ok(&[
        "stop",
        "-t",
        "1",
        &p.container("web"),
        &p.container("store"),
    ]);
    docker_ok(&["network", "rm", &p.network()]);
    converge(&network_plan(7));
    for c in ["store", "web"] {
        assert_eq!(p.inspect(c, "{{.State.Running}}"), "true");
    }
}

fn stopped_plan(serial: u32) -> String {
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

~ resource.store update: container exited (drift): it will be started

Warnings:
  ! resource.store (container-stopped): the container of `resource.store` is exited, not running; apply starts it

Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 1 unchanged.
"
    )
}

/// (The image IDs, the one it runs and the one the tag names, read `[ID]`.)
fn moved_plan(serial: u32) -> String {
    let what = "it runs another image than `compartment-test/drift:[PROJECT]` names now ([ID] instead of [ID]): apply recreates it on `compartment-test/drift:[PROJECT]`";
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

~ resource.store update: container changed outside compartment (drift): {what}

Warnings:
  ! resource.store (container-changed): the container of `resource.store` differs from what was applied: {what}

Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 1 unchanged.
"
    )
}

fn strays_plan(serial: u32) -> String {
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

- service.ghost delete: a container of this project that the state does not record and compartment.yml does not declare (drift): apply removes `cmpt-[PROJECT]-production-ghost`
~ service.web update: `cmpt-[PROJECT]-production-web-next`, left by an interrupted replace, is removed (drift)
    after: resource.store
    connection web.STORE_HOST ← store.host

Warnings:
  ! service.ghost (container-unrecorded): the container `cmpt-[PROJECT]-production-ghost` belongs to this project and environment, but the state does not record it; apply removes it
  ! service.web (leftover-container): `cmpt-[PROJECT]-production-web-next` was left by an interrupted replace of `service.web`; apply removes it

Plan: 0 to create, 1 to update, 0 to replace, 1 to delete, 1 unchanged.
"
    )
}

fn network_plan(serial: u32) -> String {
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

~ resource.store update: container exited (drift): it will be started
~ service.web update: container exited (drift): it will be started
    after: resource.store
    connection web.STORE_HOST ← store.host

Warnings:
  ! network.cmpt-[PROJECT]-production (network-missing): the environment network `cmpt-[PROJECT]-production` is gone from the engine; apply recreates it and every container on it
  ! resource.store (container-stopped): the container of `resource.store` is exited, not running; apply starts it
  ! service.web (container-stopped): the container of `service.web` is exited, not running; apply starts it

Plan: 0 to create, 2 to update, 0 to replace, 0 to delete, 0 unchanged.
"
    )
}
