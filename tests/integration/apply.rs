//! `compartment apply` against the real Docker engine: the example project
//! end to end, idempotence, update vs replace keeping volumes, stale plan
//! files, readiness failures, Ctrl-C, lifecycle hooks, drift.

use crate::engine::{docker, docker_ok, Project};
use crate::test::Test;

cases! {
    docker example_project_end_to_end,
    docker env_change_updates_image_change_replaces_and_volumes_survive,
    docker stale_plan_file_is_refused_and_a_fresh_one_applies,
    docker failed_readiness_skips_exactly_its_dependents,
    docker ctrl_c_stops_starting_nodes_saves_and_the_next_apply_converges,
    docker lifecycle_hooks_reach_the_service_with_a_verified_jwt,
    docker a_failing_hook_is_recorded_and_not_retried,
    docker a_container_removed_by_hand_is_detected_and_recreated,
    plain an_unreachable_engine_is_one_clear_line,
    docker target_applies_a_node_and_what_it_depends_on_only,
    docker ctrl_c_at_the_prompt_cancels_and_leaves_no_lock,
    docker instances_of_global_types_live_in_the_project_wide_state,
}

/// Runs `psql` in a throwaway container on the project's network.
fn psql(p: &Project, url: &str, sql: &str) -> (bool, String) {
    docker(&[
        "run",
        "--rm",
        "--network",
        &p.network(),
        "postgres:16-alpine",
        "psql",
        url,
        "-tA",
        "-c",
        sql,
    ])
}

/// apply/readiness: `slow` listens at once.
fn no_delay(p: &Project) {
    p.edit(
        "compartment.yml",
        "      DELAY: \"4\"",
        "      DELAY: \"0\"",
    );
}

/// apply/readiness: `broken` listens too, so every resource becomes ready.
fn mend_broken(p: &Project) {
    p.edit(
        "compartment.yml",
        "    command: [\"sleep\", \"3600\"]",
        "    command: [\"nc\", \"-ll\", \"-p\", \"7000\", \"-e\", \"/bin/cat\"]",
    );
}

fn env_of(p: &Project, container: &str) -> Vec<String> {
    p.inspect(container, "{{range .Config.Env}}{{println .}}{{end}}")
        .lines()
        .map(String::from)
        .collect()
}

fn example_project_end_to_end() {
    let p = Project::new("example");
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout.contains("Apply complete: 8 created"),
        "{}",
        run.stdout
    );
    let state_text = std::fs::read_to_string(p.state_path()).unwrap();

    // Network and aliases.
    assert_eq!(
        docker_ok(&["network", "inspect", "-f", "{{.Driver}}", &p.network()]).trim(),
        "bridge"
    );
    let aliases = p.inspect(
        "db",
        &format!(
            "{{{{json (index .NetworkSettings.Networks \"{}\").Aliases}}}}",
            p.network()
        ),
    );
    assert!(
        aliases.contains(&format!("db.production.{}.resource.internal", p.name)),
        "{aliases}"
    );
    // Labels.
    let labels = p.inspect("db", "{{json .Config.Labels}}");
    for l in [
        format!("\"io.compartment.project\":\"{}\"", p.name),
        "\"io.compartment.environment\":\"production\"".into(),
        "\"io.compartment.kind\":\"resource\"".into(),
        "\"io.compartment.name\":\"db\"".into(),
        "io.compartment.definition-hash".into(),
    ] {
        assert!(labels.contains(&l), "{l} not in {labels}");
    }
    // Volumes: the handle's named volume is mounted at the declared path.
    let mounts = p.inspect("db", "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}");
    assert!(
        mounts.contains(&format!(
            "cmpt-{}-production-db-data=/var/lib/postgresql/data",
            p.name
        )),
        "{mounts}"
    );
    // Internal ports only.
    assert!(!p
        .inspect("db", "{{json .HostConfig.PortBindings}}")
        .contains("HostPort"));
    assert!(!p
        .inspect("db", "{{json .NetworkSettings.Ports}}")
        .contains("HostPort"));
    assert!(p
        .inspect("db", "{{json .Config.ExposedPorts}}")
        .contains("5432/tcp"));
    assert_eq!(
        p.inspect("db", "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    // The generated password: in the container, sealed in state, never printed.
    let env = env_of(&p, "db");
    let password = env
        .iter()
        .find_map(|l| l.strip_prefix("POSTGRES_PASSWORD="))
        .expect("generated password injected")
        .to_string();
    assert_eq!(password.len(), 48, "24 bytes hex");
    assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
    assert!(
        !state_text.contains(&password),
        "plaintext password in the state file"
    );
    assert!(env.contains(&"POSTGRES_DB=tools".to_string()));
    // Services never get resource-scoped variables; connections resolve at injection.
    let api_env = env_of(&p, "api");
    assert!(!api_env.iter().any(|l| l.starts_with("POSTGRES_PASSWORD=")));
    let url = api_env
        .iter()
        .find_map(|l| l.strip_prefix("DATABASE_URL="))
        .expect("connection injected")
        .to_string();
    assert_eq!(
        url,
        format!(
            "postgres://app:{password}@db.production.{}.resource.internal:5432/tools",
            p.name
        )
    );
    // Readiness order: each resource was ready before a service that connects to it started.
    let pos = |s: &str| {
        run.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} not in output:\n{}", run.stdout))
    };
    assert!(pos("resource.db: ✓ created") < pos("service.api: preparing"));
    assert!(pos("resource.cache: ✓ created") < pos("service.api: preparing"));
    assert!(pos("resource.db: ✓ created") < pos("service.storefront: preparing"));
    // The preset database accepts the generated password from another container.
    let (ok, out) = psql(&p, &url, "select 'connected as ' || current_user");
    assert!(ok && out.contains("connected as app"), "{out}");
    // A second apply is a no-op.
    let again = p.cmd(["apply", "--yes"]).output();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(again.stdout.contains("8 unchanged"), "{}", again.stdout);
}

fn env_change_updates_image_change_replaces_and_volumes_survive() {
    let p = Project::new("example");
    p.cmd(["apply", "--yes"]).output();
    let url = env_of(&p, "api")
        .iter()
        .find_map(|l| l.strip_prefix("DATABASE_URL=").map(String::from))
        .unwrap();
    let (ok, out) = psql(
        &p,
        &url,
        "create table kept (v text); insert into kept values ('survives')",
    );
    assert!(ok, "{out}");
    let id_before = p.inspect("db", "{{.Id}}");

    // env change → update; the container is recreated, the volume kept.
    p.edit("compartment.yml", "CACHE_MODE: echo", "CACHE_MODE: loud");
    p.edit(
        "compartment.yml",
        "      POSTGRES_DB: tools",
        "      POSTGRES_DB: tools\n      PGTZ: UTC",
    );
    let plan = p.cmd(["plan", "--json"]).output();
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let action = |a: &str| {
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == a)
            .unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action("resource.db"), "update");
    assert_eq!(action("resource.cache"), "update");
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout
            .contains("resource.db: ✓ updated (container recreated, volumes kept)"),
        "{}",
        run.stdout
    );
    assert_ne!(p.inspect("db", "{{.Id}}"), id_before);
    assert!(env_of(&p, "db").contains(&"PGTZ=UTC".to_string()));
    let (ok, out) = psql(&p, &url, "select v from kept");
    assert!(ok && out.trim() == "survives", "{out}");

    // image change → replace; still the same data.
    docker_ok(&["tag", "postgres:16-alpine", &format!("{}-pg:copy", p.name)]);
    p.edit("compartment.yml", "  db:\n    preset: postgres\n    env:\n      POSTGRES_DB: tools\n      PGTZ: UTC", &format!("  db:\n    image: {}-pg:copy\n    env: {{POSTGRES_DB: tools, POSTGRES_USER: app, PGTZ: UTC}}\n    generatedVariables: {{POSTGRES_PASSWORD: {{generator: token}}}}\n    ports: [5432]\n    readiness: {{type: tcp, port: 5432, timeoutMs: 60000}}\n    volumes: {{data: /var/lib/postgresql/data}}\n    outputs:\n      connection-url: {{sensitive: true, value: 'postgres://${{env.POSTGRES_USER}}:${{env.POSTGRES_PASSWORD}}@${{resource.host}}:5432/${{env.POSTGRES_DB}}'}}", p.name));
    let plan = p.cmd(["plan"]).output();
    assert!(
        plan.stdout
            .contains("± resource.db replace: `image` changed"),
        "{}",
        plan.stdout
    );
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout
            .contains("resource.db: ✓ replaced (volumes kept)"),
        "{}",
        run.stdout
    );
    let (ok, out) = psql(&p, &url, "select v from kept");
    assert!(ok && out.trim() == "survives", "{out}");
    docker(&["rmi", &format!("{}-pg:copy", p.name)]);
}

fn stale_plan_file_is_refused_and_a_fresh_one_applies() {
    let p = Project::new("apply/readiness");
    no_delay(&p);
    mend_broken(&p);
    p.cmd(["plan", "--out", "plans/production.json"]).output();
    p.edit(
        "compartment.yml",
        "web-ok:\n    path: services/web",
        "web-ok:\n    path: services/web\n    ingress: {port: 8080}",
    );
    let run = p.cmd(["apply", "plans/production.json"]).status(1).output();
    assert!(
        run.stderr.contains("Saved plan is stale")
            && run
                .stderr
                .contains("compartment.yml changed since the plan was made"),
        "{}",
        run.stderr
    );
    // Nothing was created.
    let (_, ps) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.compartment.project={}", p.name),
    ]);
    assert!(
        ps.trim().is_empty(),
        "containers created by a refused apply: {ps}"
    );
    p.cmd(["plan", "--out", "plans/production.json"]).output();
    let run = p.cmd(["apply", "plans/production.json"]).output();
    assert!(
        run.stdout.contains("Apply complete: 6 created"),
        "{}",
        run.stdout
    );
    // Applying the same file again: the state moved on.
    let run = p.cmd(["apply", "plans/production.json"]).status(1).output();
    assert!(
        run.stderr.contains("Saved plan is stale")
            && run
                .stderr
                .contains("the state changed: the file was planned against serial"),
        "{}",
        run.stderr
    );
}

fn failed_readiness_skips_exactly_its_dependents() {
    let p = Project::new("apply/readiness");
    no_delay(&p);
    // The three resources, then the services, run in parallel: their
    // progress lines interleave in no fixed order, so the whole output is
    // compared as a sorted list of lines.
    p.cmd(["apply", "--yes"])
        .status(1)
        .stdout_unordered(
            "\
Plan for [PROJECT] / production (new state)

+ resource.broken create
+ resource.ok create
+ resource.slow create
+ service.web-broken create
    after: resource.broken
    connection web-broken.BROKEN_HOST ← broken.host
+ service.web-ok create
    after: resource.ok
    connection web-ok.OK_HOST ← ok.host
+ service.web-slow create
    after: resource.slow
    connection web-slow.SLOW_HOST ← slow.host

Plan: 6 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.broken: preparing
resource.broken: checking image compartment-test/busybox:1 ([TIME])
resource.ok: preparing
resource.ok: checking image compartment-test/busybox:1 ([TIME])
resource.slow: preparing
resource.slow: checking image compartment-test/busybox:1 ([TIME])
resource.broken: starting the container ([TIME])
resource.ok: starting the container ([TIME])
resource.slow: starting the container ([TIME])
resource.broken: waiting for TCP port 7000 (up to 2s) ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.slow: waiting for TCP port 7000 (up to 20s) ([TIME])
resource.ok: ✓ created in [TIME]
service.web-ok: preparing
service.web-ok: building cmpt-[PROJECT]-web-ok:[HASH] ([TIME])
resource.slow: ✓ created in [TIME]
service.web-slow: preparing
service.web-slow: building cmpt-[PROJECT]-web-slow:[HASH] ([TIME])
resource.broken: ✗ failed: not ready: [IP]:7000 did not accept a TCP connection within 1.5s (last attempt: Connection refused (os error 111)) in [TIME]
service.web-broken: skipped because resource.broken did not complete
service.web-ok: starting the container ([TIME])
service.web-slow: starting the container ([TIME])
service.web-ok: ✓ created in [TIME]
service.web-slow: ✓ created in [TIME]

Apply failed: 4 created, 0 updated, 0 replaced, 0 deleted, 1 failed, 1 skipped.
  failed: resource.broken: not ready: [IP]:7000 did not accept a TCP connection within 1.5s (last attempt: Connection refused (os error 111))
  skipped: service.web-broken (depends on resource.broken, which did not complete)
State saved to .compartment/state/[PROJECT]/production.json (serial 6).
",
        )
        .run();
    let state = p.state();
    let services: Vec<&String> = state["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["web-ok", "web-slow"]);
    assert!(
        state["resources"].get("broken").is_none(),
        "a resource that never became ready is not recorded as applied"
    );
}

fn ctrl_c_stops_starting_nodes_saves_and_the_next_apply_converges() {
    let p = Project::new("apply/readiness");
    mend_broken(&p);
    let child = p.spawn(&["apply", "--yes", "--parallelism", "1"]);
    // Interrupt while the slow resource is waiting for readiness.
    child.wait_for_stdout("resource.slow: waiting for TCP port 7000", 60);
    child.interrupt();
    let out = child.finish();
    let stdout = &out.stdout;
    assert_eq!(out.code, Some(130), "{stdout}\n{}", out.stderr);
    assert!(
        stdout.contains("Interrupt received: starting nothing new; waiting for 1 running step(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(stdout.contains("not started: "), "{stdout}");
    // The state is valid and names what was finished.
    let state = p.state();
    assert!(state["serial"].as_u64().unwrap() >= 1);
    // The next apply converges, and the one after is a no-op.
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

fn lifecycle_hooks_reach_the_service_with_a_verified_jwt() {
    let p = Project::new("example");
    p.cmd(["apply", "--yes"]).output();
    let hooks = |svc: &str| -> serde_json::Value {
        let out = docker_ok(&["exec", &p.container(svc), "python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())"]);
        serde_json::from_str(out.trim()).unwrap()
    };
    // The server verified every token (a bad one would have got 401 and not been recorded).
    let shop = hooks("storefront");
    let shop = shop.as_array().unwrap();
    assert_eq!(shop.len(), 2, "{shop:?}");
    let downtown = shop
        .iter()
        .find(|h| h["claims"]["instance"] == "downtown")
        .unwrap();
    assert_eq!(downtown["method"], "POST");
    assert_eq!(downtown["path"], "/api/v1/resources/shop");
    assert_eq!(
        downtown["body"],
        serde_json::json!({"name": "Downtown", "opening_hour": 9, "closing_hour": 20})
    );
    for (k, v) in [
        ("iss", "compartment"),
        ("environment", "production"),
        ("service", "storefront"),
        ("resource_type", "storefront/shop"),
        ("operation", "create"),
    ] {
        assert_eq!(downtown["claims"][k], v, "claim {k}");
    }
    assert_eq!(downtown["claims"]["project"], p.name.as_str());
    let billing = hooks("billing");
    assert_eq!(
        billing[0]["body"],
        serde_json::json!({"shop": {"name": "Downtown", "opening_hour": 9}, "url": "https://hooks.example.com/orders", "events": ["order.created", "order.paid"]})
    );
    // The outcome is recorded on the instance.
    let state = p.state();
    assert_eq!(state["instances"]["downtown"]["lastHook"]["status"], 200);
    // An update fires the update hook with PUT; a removed instance the delete hook.
    p.edit(
        "compartment.yml",
        "      name: Downtown\n",
        "      name: Downtown Central\n",
    );
    p.edit("compartment.yml", "  uptown:\n    type: storefront/shop\n    values:\n      name: Uptown\n      parent_shop: downtown\n      delivery: true\n      delivery_radius_km: 5\n", "");
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout.contains("instance.uptown: ✓ deleted"),
        "{}",
        run.stdout
    );
    let shop = hooks("storefront");
    let ops: Vec<(String, String, String)> = shop.as_array().unwrap()[2..]
        .iter()
        .map(|h| {
            (
                h["claims"]["instance"].as_str().unwrap().into(),
                h["claims"]["operation"].as_str().unwrap().into(),
                h["method"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        ops.contains(&("downtown".into(), "update".into(), "PUT".into())),
        "{ops:?}"
    );
    assert!(
        ops.contains(&("uptown".into(), "delete".into(), "DELETE".into())),
        "{ops:?}"
    );
    assert!(p.state()["instances"].get("uptown").is_none());
}

fn a_failing_hook_is_recorded_and_not_retried() {
    let p = Project::new("apply/hook-fails");
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout
            .contains("warning: instance.one: create hook POST"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "failed: the service answered 500 Internal Server Error (recorded; not retried)"
        ),
        "{}",
        run.stdout
    );
    let state = p.state();
    let hook = &state["instances"]["one"]["lastHook"];
    assert_eq!(hook["status"], 500);
    assert_eq!(hook["ok"], false);
    assert_eq!(state["instances"]["one"]["properties"]["label"], "first");
    let out = docker_ok(&["exec", &p.container("flaky"), "python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())"]);
    let received: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        received.as_array().unwrap().len(),
        1,
        "exactly one attempt: {received}"
    );
    // Not retried by the next apply either.
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

fn a_container_removed_by_hand_is_detected_and_recreated() {
    let p = Project::new("apply/readiness");
    no_delay(&p);
    mend_broken(&p);
    p.cmd(["apply", "--yes"]).output();
    docker_ok(&["rm", "-f", &p.container("ok")]);
    let plan = p.cmd(["plan", "--refresh"]).output();
    assert!(
        plan.stdout
            .contains("~ resource.ok update: container missing (drift): it will be recreated"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("the container of `resource.ok` is gone from the engine; apply recreates it"),
        "{}",
        plan.stdout
    );
    // Without --refresh, the plan reads only the state.
    assert!(p.cmd(["plan"]).output().stdout.contains("No changes."));
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout.contains("resource.ok: ✓ recreated")
            || run.stdout.contains("resource.ok: ✓ updated"),
        "{}",
        run.stdout
    );
    assert_eq!(p.inspect("ok", "{{.State.Running}}"), "true");
    assert!(p
        .cmd(["apply", "--yes"])
        .output()
        .stdout
        .contains("No changes."));
}

fn an_unreachable_engine_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    Test::new(crate::test::fixture("example"))
        .args(["--state", state.to_str().unwrap(), "apply", "--yes"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("COMPARTMENT_SECRET_KEY", "k")
        .status(1)
        .stderr(
            "error: cannot reach the Docker engine at unix:///nonexistent/docker.sock: \
             no socket at /nonexistent/docker.sock (is it running? set DOCKER_HOST)\n",
        )
        .run();
}

fn target_applies_a_node_and_what_it_depends_on_only() {
    let p = Project::new("apply/readiness");
    let run = p
        .cmd(["apply", "--yes", "--target", "service.web-ok"])
        .output();
    assert!(
        run.stdout.contains("Apply complete: 2 created, 0 updated"),
        "{}",
        run.stdout
    );
    let state = p.state();
    let names = |k: &str| {
        state[k]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names("resources"), ["ok"]);
    assert_eq!(names("services"), ["web-ok"]);
    let run = p
        .cmd(["apply", "--yes", "--target", "resource.nope"])
        .status(1)
        .output();
    assert!(
        run.stderr
            .contains("--target resource.nope is not in the plan"),
        "{}",
        run.stderr
    );
}

fn ctrl_c_at_the_prompt_cancels_and_leaves_no_lock() {
    let p = Project::new("apply/readiness");
    let child = p.spawn(&["apply"]);
    let lock = p.state_path().with_extension("json.lock");
    // Interrupt at the prompt (printed while apply holds the lock).
    child.wait_for_stdout("  Enter a value: ", 60);
    assert!(lock.exists(), "apply holds the lock while it asks");
    child.interrupt();
    let out = child.finish();
    assert_eq!(out.code, Some(130), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Do you want to apply these changes?"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "\nApply cancelled; nothing was changed.\n");
    assert!(!lock.exists(), "the lock was released");
    let (_, ps) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.compartment.project={}", p.name),
    ]);
    assert!(ps.trim().is_empty(), "nothing was created: {ps}");
}

fn instances_of_global_types_live_in_the_project_wide_state() {
    let p = Project::new("apply/global");
    let run = p.cmd(["apply", "--yes"]).output();
    assert!(
        run.stdout.contains("+ instance.acme create [global]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("warning[global-type]"),
        "{}",
        run.stderr
    );
    let global_path = p.state_path().with_file_name("_global.json");
    let global: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&global_path).unwrap()).unwrap();
    assert_eq!(global["instances"]["acme"]["properties"]["name"], "Acme");
    assert!(
        p.state()["instances"].get("acme").is_none(),
        "not in the environment's state"
    );
    // Another environment sees it as already there.
    let staging = p.cmd(["--env", "staging", "plan", "--json"]).output();
    let plan: serde_json::Value = serde_json::from_str(&staging.stdout).unwrap();
    let change = |a: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == a)
            .unwrap()
            .clone()
    };
    assert_eq!(change("instance.acme")["action"], "no-op");
    assert_eq!(change("instance.acme")["global"], true);
    assert_eq!(change("service.tenants")["action"], "create");
}
