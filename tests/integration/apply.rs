//! `compartment apply` against the real Docker engine: the example project
//! end to end, idempotence, update vs replace keeping volumes, stale plan
//! files, readiness failures, Ctrl-C, lifecycle hooks, drift.

use crate::engine::{docker, docker_ok, Project};
use crate::test::{assert_text, Run, Test};

cases! {
    docker example_project_end_to_end,
    docker a_generated_variable_can_be_delivered_as_a_file,
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

/// The plan of `apply/readiness` on an empty state.
const READINESS_PLAN: &str = r#"Plan for [PROJECT] / production (new state)

+ resource.broken create
    + command: ["sleep","3600"]
    + image: "compartment-test/busybox:1"
    + outputs.host.sensitive: false
    + outputs.host.value: "${resource.host}"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 1500
    + readiness.type: "tcp"
    + restart: "unless-stopped"
+ resource.ok create
    + command: ["nc","-ll","-p","7000","-e","/bin/cat"]
    + image: "compartment-test/busybox:1"
    + outputs.host.sensitive: false
    + outputs.host.value: "${resource.host}"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: "tcp"
    + restart: "unless-stopped"
+ resource.slow create
    + command: ["sh","-c","sleep ${DELAY:-4}; exec nc -ll -p 7000 -e /bin/cat"]
    + env.DELAY: "4"
    + image: "compartment-test/busybox:1"
    + outputs.host.sensitive: false
    + outputs.host.value: "${resource.host}"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 20000
    + readiness.type: "tcp"
    + restart: "unless-stopped"
+ service.web-broken create
    after: resource.broken
    + contextHash: "[ID]"
    + path: "services/web"
    connection web-broken.BROKEN_HOST ← broken.host
+ service.web-ok create
    after: resource.ok
    + contextHash: "[ID]"
    + path: "services/web"
    connection web-ok.OK_HOST ← ok.host
+ service.web-slow create
    after: resource.slow
    + contextHash: "[ID]"
    + path: "services/web"
    connection web-slow.SLOW_HOST ← slow.host

Plan: 6 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.
"#;

/// The plan of `apply/readiness` on an empty state after [`no_delay`]
/// (`slow`'s `DELAY` is `0`) and, when `mended`, [`mend_broken`].
fn readiness_plan(no_delay: bool, mended: bool) -> String {
    let mut plan = READINESS_PLAN.to_string();
    if no_delay {
        plan = plan.replace(r#"+ env.DELAY: "4""#, r#"+ env.DELAY: "0""#);
    }
    if mended {
        plan = plan.replace(
            r#"+ command: ["sleep","3600"]"#,
            r#"+ command: ["nc","-ll","-p","7000","-e","/bin/cat"]"#,
        );
    }
    plan
}

/// What `plan` and `apply` print when the state at `serial`, with
/// `unchanged` nodes, matches the configuration.
fn no_changes(serial: u32, unchanged: u32) -> String {
    format!(
        "\
Plan for [PROJECT] / production (state serial {serial}, lineage [LINEAGE])

No changes. The environment matches the configuration.

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, {unchanged} unchanged.
"
    )
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
pub(crate) fn mend_broken(p: &Project) {
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

/// `apply --yes` of the example project on an empty state. Resources,
/// services and instances run in parallel where the graph allows: their
/// progress lines interleave in no fixed order, so it is compared as a set
/// of lines (and the tests that care about an order check it apart).
fn apply_example(p: &Project) -> Run {
    p.cmd(["apply", "--yes"])
        .stdout_unordered(
            "\
Plan for [PROJECT] / production (new state)

+ resource.cache create
    + command: [\"nc\",\"-ll\",\"-p\",\"6379\",\"-e\",\"/bin/cat\"]
    + env.CACHE_MODE: \"echo\"
    + image: \"compartment-test/busybox:1\"
    + operations.backup.command: \"tar -C /data -cf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\" .\"
    + operations.backup.retention.includeManual: false
    + operations.backup.retention.keepLast: 7
    + operations.backup.retention.maxAgeDays: 30
    + operations.backup.schedule.cron: \"0 2 * * 1\"
    + operations.restore.command: \"tar -C /data -xf \\\"$COMPARTMENT_BACKUP_DIR/data.tar\\\"\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + outputs.port.sensitive: false
    + outputs.port.value: \"6379\"
    + outputs.url.sensitive: true
    + outputs.url.value: \"redis://:${env.CACHE_PASSWORD}@${resource.host}:6379/0\"
    + ports: [6379]
    + readiness.port: 6379
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
    + volumes.data: \"/data\"
    generated CACHE_PASSWORD: will be generated
+ resource.db create
    + env.POSTGRES_DB: \"tools\"
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
+ service.api create
    after: resource.cache, resource.db
    + build.env.APP_VERSION: \"1.4.2\"
    + contextHash: \"[ID]\"
    + path: \"services/api\"
    connection api.CACHE_HOST ← cache.host
    connection api.CACHE_PORT ← cache.port
    connection api.DATABASE_URL ← db.connection-url
+ service.billing create
    + contextHash: \"[ID]\"
    + ingress.port: 8080
    + path: \"services/billing\"
+ service.storefront create
    after: resource.db
    + contextHash: \"[ID]\"
    + ingress.port: 8080
    + path: \"services/storefront\"
    connection storefront.DATABASE_URL ← db.connection-url
+ instance.downtown create
    after: service.storefront
    + properties.closing_hour: 20
    + properties.name: \"Downtown\"
    + properties.opening_hour: 9
    + type: \"storefront/shop\"
    + values.closing_hour: 20
    + values.delivery: false
    + values.name: \"Downtown\"
    + values.opening_hour: 9
    + values.tier: \"premium\"
    hook create: POST /api/v1/resources/shop on service.storefront
    requires role: Maintainer (create)
+ instance.order-hook create
    after: instance.downtown, service.billing
    + properties.events: [\"order.created\",\"order.paid\"]
    + properties.shop.name: \"Downtown\"
    + properties.shop.opening_hour: 9
    + properties.url: \"https://hooks.example.com/orders\"
    + type: \"billing/webhook\"
    + values.events: [\"order.created\",\"order.paid\"]
    + values.schedule.days: [\"mon\",\"wed\",\"fri\"]
    + values.schedule.hour: 6
    + values.signing_secret: \"(sensitive)\"
    + values.target_shop: \"downtown\"
    + values.url: \"https://hooks.example.com/orders\"
    hook create: POST /hooks/webhook on service.billing
    requires role: Maintainer (create)
+ instance.uptown create
    after: instance.downtown, service.storefront
    + properties.closing_hour: 20
    + properties.flagship.name: \"Downtown\"
    + properties.name: \"Uptown\"
    + properties.opening_hour: 8
    + type: \"storefront/shop\"
    + values.closing_hour: 20
    + values.delivery: true
    + values.delivery_radius_km: 5
    + values.name: \"Uptown\"
    + values.opening_hour: 8
    + values.parent_shop: \"downtown\"
    + values.tier: \"basic\"
    hook create: POST /api/v1/resources/shop on service.storefront
    requires role: Maintainer (create)

Plan: 8 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.cache: preparing
resource.cache: checking image compartment-test/busybox:1 ([TIME])
resource.db: preparing
resource.db: checking image postgres:16-alpine ([TIME])
service.billing: preparing
service.billing: building cmpt-[PROJECT]-billing:[HASH] ([TIME])
resource.cache: starting the container ([TIME])
resource.db: starting the container ([TIME])
resource.db: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.cache: waiting for TCP port 6379 (up to 10s) ([TIME])
resource.cache: ✓ created in [TIME]
resource.db: ✓ created in [TIME]
service.api: preparing
service.storefront: preparing
service.storefront: building cmpt-[PROJECT]-storefront:[HASH] ([TIME])
service.api: building cmpt-[PROJECT]-api:[HASH] ([TIME])
service.api: starting the container ([TIME])
service.api: ✓ created in [TIME]
service.billing: starting the container ([TIME])
service.billing: waiting for TCP port 8080 (up to 30s) ([TIME])
service.billing: ✓ created in [TIME]
service.storefront: starting the container ([TIME])
service.storefront: waiting for TCP port 8080 (up to 30s) ([TIME])
service.storefront: ✓ created in [TIME]
instance.downtown: calling lifecycle hooks
instance.downtown: POST /api/v1/resources/shop ([TIME])
instance.downtown: ✓ created in [TIME]
instance.order-hook: calling lifecycle hooks
instance.uptown: calling lifecycle hooks
instance.uptown: POST /api/v1/resources/shop ([TIME])
instance.order-hook: POST /hooks/webhook ([TIME])
instance.uptown: ✓ created in [TIME]
instance.order-hook: ✓ created in [TIME]

Apply complete: 8 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 9).
",
        )
        .run()
}

fn example_project_end_to_end() {
    let p = Project::new("example");
    let run = apply_example(&p);
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
    // Readiness order: each resource was ready before a service that
    // connects to it started (the comparison above was of the set of lines).
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
    p.cmd(["apply", "--yes"]).stdout(&no_changes(9, 8)).run();
}

fn env_change_updates_image_change_replaces_and_volumes_survive() {
    let p = Project::new("example");
    apply_example(&p);
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
    // The two resources update in parallel: compared as a set of lines.
    p.cmd(["apply", "--yes"])
        .stdout_unordered(
            "\
Plan for [PROJECT] / production (state serial 9, lineage [LINEAGE])

~ resource.cache update: `env.CACHE_MODE` changed
    ~ env.CACHE_MODE: \"echo\" → \"loud\"
    generated CACHE_PASSWORD: kept
~ resource.db update: `env.PGTZ` changed
    + env.PGTZ: \"UTC\"
    generated POSTGRES_PASSWORD: kept

Plan: 0 to create, 2 to update, 0 to replace, 0 to delete, 6 unchanged.

resource.cache: preparing
resource.cache: checking image compartment-test/busybox:1 ([TIME])
resource.db: preparing
resource.db: checking image postgres:16-alpine ([TIME])
resource.db: removing the old container ([TIME])
resource.cache: removing the old container ([TIME])
resource.db: starting the container ([TIME])
resource.db: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.db: ✓ updated (container recreated, volumes kept) in [TIME]
resource.cache: starting the container ([TIME])
resource.cache: waiting for TCP port 6379 (up to 10s) ([TIME])
resource.cache: ✓ updated (container recreated, volumes kept) in [TIME]

Apply complete: 0 created, 2 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 11).
",
        )
        .run();
    assert_ne!(p.inspect("db", "{{.Id}}"), id_before);
    assert!(env_of(&p, "db").contains(&"PGTZ=UTC".to_string()));
    let (ok, out) = psql(&p, &url, "select v from kept");
    assert!(ok && out.trim() == "survives", "{out}");

    // image change → replace; still the same data.
    docker_ok(&["tag", "postgres:16-alpine", &format!("{}-pg:copy", p.name)]);
    p.edit("compartment.yml", "  db:\n    preset: postgres\n    env:\n      POSTGRES_DB: tools\n      PGTZ: UTC", &format!("  db:\n    image: {}-pg:copy\n    env: {{POSTGRES_DB: tools, POSTGRES_USER: app, PGTZ: UTC}}\n    generatedVariables: {{POSTGRES_PASSWORD: {{generator: token}}}}\n    ports: [5432]\n    readiness: {{type: tcp, port: 5432, timeoutMs: 60000}}\n    volumes: {{data: /var/lib/postgresql/data}}\n    outputs:\n      connection-url: {{sensitive: true, value: 'postgres://${{env.POSTGRES_USER}}:${{env.POSTGRES_PASSWORD}}@${{resource.host}}:5432/${{env.POSTGRES_DB}}'}}", p.name));
    // The hand-written definition drops what the preset brought
    // (operations, the other outputs).
    let replace = r#"Plan for [PROJECT] / production (state serial 11, lineage [LINEAGE])

± resource.db replace: `image` changed; volume data is kept (data)
    ~ image: "postgres:16-alpine" → "[PROJECT]-pg:copy"  # forces replacement
    - operations: {"backup":{"command":"PGPASSWORD=\"$POSTGRES_PASSWORD\" pg_dump --host \"$COMPARTMENT_RESOURCE_HOST\" --username \"$POSTGRES_USER\" \"$POSTGRES_DB\" > \"$COMPARTMENT_BACKUP_DIR/postgres.sql\"","retention":{"includeManual":false,"maxAgeDays":7},"schedule":{"interval":"daily"}},"restore":{"command":"PGPASSWORD=\"$POSTGRES_PASSWORD\" psql --host \"$COMPARTMENT_RESOURCE_HOST\" --username \"$POSTGRES_USER\" \"$POSTGRES_DB\" < \"$COMPARTMENT_BACKUP_DIR/postgres.sql\""},"verify":{"command":"set -u; a=\"$COMPARTMENT_BACKUP_DIR/postgres.sql\"; tail -n 10 \"$a\" | grep -q '^-- PostgreSQL database dump complete' || { echo 'postgres.sql is incomplete: it lacks the closing line of pg_dump'; exit 1; }; PGPASSWORD=\"$POSTGRES_PASSWORD\" pg_dump --host \"$COMPARTMENT_RESOURCE_HOST\" --username \"$POSTGRES_USER\" \"$POSTGRES_DB\" > /tmp/restored.sql || exit 1; grep -v -e '^\\\\restrict ' -e '^\\\\unrestrict ' \"$a\" > /tmp/a.sql; grep -v -e '^\\\\restrict ' -e '^\\\\unrestrict ' /tmp/restored.sql > /tmp/b.sql; if ! diff /tmp/a.sql /tmp/b.sql > /tmp/diff.txt; then echo \"the restored database differs from the dump: $(grep -c '^[<>]' /tmp/diff.txt) line(s) differ\"; exit 1; fi; echo \"restored $(grep -c '^CREATE TABLE ' /tmp/b.sql) table(s); the restored database dumps back to the same text\""}}
    - outputs.database: {"sensitive":false,"value":"${env.POSTGRES_DB}"}
    - outputs.host: {"sensitive":false,"value":"${resource.host}"}
    - outputs.port: {"sensitive":false,"value":"5432"}
    - preset: "postgres"  # forces replacement
    # (11 unchanged attributes hidden; the plan file and --json list them)
    generated POSTGRES_PASSWORD: kept

Plan: 0 to create, 0 to update, 1 to replace, 0 to delete, 7 unchanged.
"#;
    p.cmd(["plan"]).stdout(replace).run();
    p.cmd(["apply", "--yes"])
        .stdout(&format!(
            "{replace}
resource.db: preparing
resource.db: checking image [PROJECT]-pg:copy ([TIME])
resource.db: removing the old container ([TIME])
resource.db: starting the container ([TIME])
resource.db: waiting for TCP port 5432 (up to 60s) ([TIME])
resource.db: ✓ replaced (volumes kept) in [TIME]

Apply complete: 0 created, 0 updated, 1 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 12).
"
        ))
        .run();
    let (ok, out) = psql(&p, &url, "select v from kept");
    assert!(ok && out.trim() == "survives", "{out}");
    docker(&["rmi", &format!("{}-pg:copy", p.name)]);
}

fn stale_plan_file_is_refused_and_a_fresh_one_applies() {
    let p = Project::new("apply/readiness");
    let readiness = readiness_plan(true, true);
    no_delay(&p);
    mend_broken(&p);
    let saved = format!(
        "{readiness}Saved the plan to plans/production.json. \
         Apply it with `compartment apply plans/production.json`.\n"
    );
    p.cmd(["plan", "--out", "plans/production.json"])
        .stdout(&saved)
        .run();
    p.edit(
        "compartment.yml",
        "web-ok:\n    path: services/web",
        "web-ok:\n    path: services/web\n    ingress: {port: 8080}",
    );
    p.cmd(["apply", "plans/production.json"])
        .status(1)
        .stderr(
            "error: Saved plan is stale: plans/production.json cannot be applied because input \
             compartment.yml changed since the plan was made. Make a new plan with \
             `compartment plan --out plans/production.json` and review it.\n",
        )
        .run();
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
    // The fresh plan shows web-ok's new ingress in its definition.
    let web_ok = "+ service.web-ok create\n    after: resource.ok\n    + contextHash: \"[ID]\"\n";
    assert!(readiness.contains(web_ok));
    let readiness = readiness.replace(web_ok, &format!("{web_ok}    + ingress.port: 8080\n"));
    let saved = format!(
        "{readiness}Saved the plan to plans/production.json. \
         Apply it with `compartment apply plans/production.json`.\n"
    );
    p.cmd(["plan", "--out", "plans/production.json"])
        .stdout(&saved)
        .run();
    // The resources, then the services, run in parallel: their progress
    // lines interleave in no fixed order, so stdout is compared as a set.
    p.cmd(["apply", "plans/production.json"])
        .stdout_unordered(&format!(
            "{readiness}
resource.broken: preparing
resource.broken: checking image compartment-test/busybox:1 ([TIME])
resource.ok: preparing
resource.ok: checking image compartment-test/busybox:1 ([TIME])
resource.slow: preparing
resource.slow: checking image compartment-test/busybox:1 ([TIME])
resource.broken: starting the container ([TIME])
resource.ok: starting the container ([TIME])
resource.slow: starting the container ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.ok: ✓ created in [TIME]
service.web-ok: preparing
service.web-ok: building cmpt-[PROJECT]-web-ok:[HASH] ([TIME])
resource.slow: waiting for TCP port 7000 (up to 20s) ([TIME])
resource.slow: ✓ created in [TIME]
service.web-slow: preparing
service.web-slow: building cmpt-[PROJECT]-web-slow:[HASH] ([TIME])
resource.broken: waiting for TCP port 7000 (up to 2s) ([TIME])
resource.broken: ✓ created in [TIME]
service.web-broken: preparing
service.web-broken: building cmpt-[PROJECT]-web-broken:[HASH] ([TIME])
service.web-ok: starting the container ([TIME])
service.web-broken: starting the container ([TIME])
service.web-ok: waiting for TCP port 8080 (up to 30s) ([TIME])
service.web-ok: ✓ created in [TIME]
service.web-slow: starting the container ([TIME])
service.web-broken: ✓ created in [TIME]
service.web-slow: ✓ created in [TIME]

Apply complete: 6 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 7).
"
        ))
        .run();
    // Applying the same file again: the state moved on.
    p.cmd(["apply", "plans/production.json"])
        .status(1)
        .stderr(
            "error: Saved plan is stale: plans/production.json cannot be applied because the \
             state changed: the file was planned against serial 0 (lineage none), the state is \
             now at serial 7 (lineage [UUID]). Make a new plan with \
             `compartment plan --out plans/production.json` and review it.\n",
        )
        .run();
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
    + command: [\"sleep\",\"3600\"]
    + image: \"compartment-test/busybox:1\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 1500
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
+ resource.ok create
    + command: [\"nc\",\"-ll\",\"-p\",\"7000\",\"-e\",\"/bin/cat\"]
    + image: \"compartment-test/busybox:1\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
+ resource.slow create
    + command: [\"sh\",\"-c\",\"sleep ${DELAY:-4}; exec nc -ll -p 7000 -e /bin/cat\"]
    + env.DELAY: \"0\"
    + image: \"compartment-test/busybox:1\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 20000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
+ service.web-broken create
    after: resource.broken
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-broken.BROKEN_HOST ← broken.host
+ service.web-ok create
    after: resource.ok
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-ok.OK_HOST ← ok.host
+ service.web-slow create
    after: resource.slow
    + contextHash: \"[ID]\"
    + path: \"services/web\"
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
resource.broken: ✗ failed: not ready: TCP port 7000 did not pass within 1.5s (last answer: Connection refused (os error 111)) in [TIME]
service.web-broken: skipped because resource.broken did not complete
service.web-ok: starting the container ([TIME])
service.web-slow: starting the container ([TIME])
service.web-ok: ✓ created in [TIME]
service.web-slow: ✓ created in [TIME]

Apply failed: 4 created, 0 updated, 0 replaced, 0 deleted, 1 failed, 1 skipped.
  failed: resource.broken: not ready: TCP port 7000 did not pass within 1.5s (last answer: Connection refused (os error 111))
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
    let readiness = readiness_plan(false, true);
    mend_broken(&p);
    let child = p.spawn(&["apply", "--yes", "--parallelism", "1"]);
    // Interrupt while the slow resource is waiting for readiness (it waits
    // 4s); with one step at a time, the order is fixed.
    child.wait_for_stdout("resource.slow: waiting for TCP port 7000", 60);
    child.interrupt();
    let out = child.finish();
    assert_eq!(out.code, Some(130), "{}\n{}", out.stdout, out.stderr);
    assert_text(
        "stdout",
        &format!(
            "{readiness}
resource.broken: preparing
resource.broken: checking image compartment-test/busybox:1 ([TIME])
resource.broken: starting the container ([TIME])
resource.broken: waiting for TCP port 7000 (up to 2s) ([TIME])
resource.broken: ✓ created in [TIME]
resource.ok: preparing
resource.ok: checking image compartment-test/busybox:1 ([TIME])
resource.ok: starting the container ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.ok: ✓ created in [TIME]
resource.slow: preparing
resource.slow: checking image compartment-test/busybox:1 ([TIME])
resource.slow: starting the container ([TIME])
resource.slow: waiting for TCP port 7000 (up to 20s) ([TIME])
Interrupt received: starting nothing new; waiting for 1 running step(s): resource.slow
resource.slow: ✓ created in [TIME]

Apply interrupted: 3 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
  not started: service.web-broken
  not started: service.web-ok
  not started: service.web-slow
State saved to .compartment/state/[PROJECT]/production.json (serial 4).
"
        ),
        &p.normalize(&out.stdout),
    );
    assert_text("stderr", "", &out.stderr);
    // The state is valid and names what was finished.
    let state = p.state();
    assert_eq!(state["serial"], 4);
    // The next apply converges (the three services in parallel: compared
    // as a set of lines), and the one after is a no-op.
    p.cmd(["apply", "--yes"])
        .stdout_unordered(
            "\
Plan for [PROJECT] / production (state serial 4, lineage [LINEAGE])

+ service.web-broken create
    after: resource.broken
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-broken.BROKEN_HOST ← broken.host
+ service.web-ok create
    after: resource.ok
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-ok.OK_HOST ← ok.host
+ service.web-slow create
    after: resource.slow
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-slow.SLOW_HOST ← slow.host

Plan: 3 to create, 0 to update, 0 to replace, 0 to delete, 3 unchanged.

service.web-broken: preparing
service.web-ok: preparing
service.web-slow: preparing
service.web-slow: building cmpt-[PROJECT]-web-slow:[HASH] ([TIME])
service.web-broken: building cmpt-[PROJECT]-web-broken:[HASH] ([TIME])
service.web-ok: building cmpt-[PROJECT]-web-ok:[HASH] ([TIME])
service.web-slow: starting the container ([TIME])
service.web-ok: starting the container ([TIME])
service.web-broken: starting the container ([TIME])
service.web-slow: ✓ created in [TIME]
service.web-ok: ✓ created in [TIME]
service.web-broken: ✓ created in [TIME]

Apply complete: 3 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 7).
",
        )
        .run();
    p.cmd(["apply", "--yes"]).stdout(&no_changes(7, 6)).run();
}

fn lifecycle_hooks_reach_the_service_with_a_verified_jwt() {
    let p = Project::new("example");
    apply_example(&p);
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
    // downtown and uptown run in parallel: compared as a set of lines.
    p.cmd(["apply", "--yes"])
        .stdout_unordered(
            "\
Plan for [PROJECT] / production (state serial 9, lineage [LINEAGE])

~ instance.downtown update: `values.name` changed
    after: service.storefront
    ~ properties.name: \"Downtown\" → \"Downtown Central\"
    ~ values.name: \"Downtown\" → \"Downtown Central\"
    hook update: PUT /api/v1/resources/shop on service.storefront
    requires role: Maintainer (update)
~ instance.order-hook update: `properties.shop.name` changed
    after: instance.downtown, service.billing
    ~ properties.shop.name: \"Downtown\" → \"Downtown Central\"
- instance.uptown delete: no longer declared in compartment.yml
    after: service.storefront
    - properties.closing_hour: 20
    - properties.flagship.name: \"Downtown\"
    - properties.name: \"Uptown\"
    - properties.opening_hour: 8
    - type: \"storefront/shop\"
    - values.closing_hour: 20
    - values.delivery: true
    - values.delivery_radius_km: 5
    - values.name: \"Uptown\"
    - values.opening_hour: 8
    - values.parent_shop: \"downtown\"
    - values.tier: \"basic\"
    hook delete: DELETE /api/v1/resources/shop on service.storefront
    requires role: Owner (delete)

Plan: 0 to create, 2 to update, 0 to replace, 1 to delete, 5 unchanged.

instance.downtown: calling lifecycle hooks
instance.uptown: calling lifecycle hooks
instance.downtown: PUT /api/v1/resources/shop ([TIME])
instance.uptown: DELETE /api/v1/resources/shop ([TIME])
instance.downtown: ✓ updated in place in [TIME]
instance.order-hook: writing
instance.uptown: ✓ deleted in [TIME]
instance.order-hook: ✓ updated in place in [TIME]

Apply complete: 0 created, 2 updated, 0 replaced, 1 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 12).
",
        )
        .run();
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
    let warning = "warning: instance.one: create hook POST http://[IP]:8080/things failed: \
                   the service answered 500 Internal Server Error (recorded; not retried)";
    p.cmd(["apply", "--yes"])
        .stdout(&format!(
            "\
Plan for [PROJECT] / production (new state)

+ service.flaky create
    + contextHash: \"[ID]\"
    + ingress.port: 8080
    + path: \"services/flaky\"
+ instance.one create
    after: service.flaky
    + properties.label: \"first\"
    + type: \"flaky/thing\"
    + values.label: \"first\"
    hook create: POST /things on service.flaky
    requires role: Maintainer (create)

Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

service.flaky: preparing
service.flaky: building cmpt-[PROJECT]-flaky:[HASH] ([TIME])
service.flaky: starting the container ([TIME])
service.flaky: waiting for TCP port 8080 (up to 30s) ([TIME])
service.flaky: ✓ created in [TIME]
instance.one: calling lifecycle hooks
instance.one: POST /things ([TIME])
{warning}
instance.one: ✓ created in [TIME]

Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
  {warning}
State saved to .compartment/state/[PROJECT]/production.json (serial 3).
"
        ))
        .run();
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
    p.cmd(["apply", "--yes"]).stdout(&no_changes(3, 2)).run();
}

fn a_container_removed_by_hand_is_detected_and_recreated() {
    let p = Project::new("apply/readiness");
    let readiness = readiness_plan(true, true);
    no_delay(&p);
    mend_broken(&p);
    // The resources, then the services, run in parallel: their progress
    // lines interleave in no fixed order, so stdout is compared as a set.
    p.cmd(["apply", "--yes"])
        .stdout_unordered(&format!(
            "{readiness}
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
resource.broken: ✓ created in [TIME]
service.web-broken: preparing
service.web-broken: building cmpt-[PROJECT]-web-broken:[HASH] ([TIME])
resource.slow: waiting for TCP port 7000 (up to 20s) ([TIME])
resource.slow: ✓ created in [TIME]
service.web-slow: preparing
service.web-slow: building cmpt-[PROJECT]-web-slow:[HASH] ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.ok: ✓ created in [TIME]
service.web-ok: preparing
service.web-ok: building cmpt-[PROJECT]-web-ok:[HASH] ([TIME])
service.web-slow: starting the container ([TIME])
service.web-broken: starting the container ([TIME])
service.web-slow: ✓ created in [TIME]
service.web-ok: starting the container ([TIME])
service.web-ok: ✓ created in [TIME]
service.web-broken: ✓ created in [TIME]

Apply complete: 6 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 7).
"
        ))
        .run();
    docker_ok(&["rm", "-f", &p.container("ok")]);
    let drift = "\
Plan for [PROJECT] / production (state serial 7, lineage [LINEAGE])

~ resource.ok update: container missing (drift): it will be recreated

Warnings:
  ! resource.ok (container-missing): the container of `resource.ok` is gone from the engine; apply recreates it

Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 5 unchanged.
";
    p.cmd(["plan", "--refresh"]).stdout(drift).run();
    // Without --refresh, the plan reads only the state.
    p.cmd(["plan"]).stdout(&no_changes(7, 6)).run();
    // apply refreshes.
    p.cmd(["apply", "--yes"])
        .stdout(&format!(
            "{drift}
resource.ok: preparing
resource.ok: checking image compartment-test/busybox:1 ([TIME])
resource.ok: starting the container ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.ok: ✓ updated (container recreated, volumes kept) in [TIME]

Apply complete: 0 created, 1 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 8).
"
        ))
        .run();
    assert_eq!(p.inspect("ok", "{{.State.Running}}"), "true");
    p.cmd(["apply", "--yes"]).stdout(&no_changes(8, 6)).run();
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
    // One chain, resource.ok then service.web-ok: the order is fixed.
    p.cmd(["apply", "--yes", "--target", "service.web-ok"])
        .stdout(
            "\
Plan for [PROJECT] / production (new state)
Targeted: service.web-ok and what it depends on; other changes are not planned.

+ resource.ok create
    + command: [\"nc\",\"-ll\",\"-p\",\"7000\",\"-e\",\"/bin/cat\"]
    + image: \"compartment-test/busybox:1\"
    + outputs.host.sensitive: false
    + outputs.host.value: \"${resource.host}\"
    + ports: [7000]
    + readiness.port: 7000
    + readiness.timeoutMs: 10000
    + readiness.type: \"tcp\"
    + restart: \"unless-stopped\"
+ service.web-ok create
    after: resource.ok
    + contextHash: \"[ID]\"
    + path: \"services/web\"
    connection web-ok.OK_HOST ← ok.host

Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.ok: preparing
resource.ok: checking image compartment-test/busybox:1 ([TIME])
resource.ok: starting the container ([TIME])
resource.ok: waiting for TCP port 7000 (up to 10s) ([TIME])
resource.ok: ✓ created in [TIME]
service.web-ok: preparing
service.web-ok: building cmpt-[PROJECT]-web-ok:[HASH] ([TIME])
service.web-ok: starting the container ([TIME])
service.web-ok: ✓ created in [TIME]

Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 3).
",
        )
        .run();
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
    p.cmd(["apply", "--yes", "--target", "resource.nope"])
        .status(1)
        .stdout("")
        .stderr(
            "error: --target resource.nope is not in the plan; addresses look like resource.db, \
             service.api, instance.downtown\n",
        )
        .run();
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
    assert_text(
        "stdout",
        &format!(
            "{READINESS_PLAN}
Do you want to apply these changes? Only 'yes' will be accepted.
  Enter a value: "
        ),
        &p.normalize(&out.stdout),
    );
    assert_text(
        "stderr",
        "\nApply cancelled; nothing was changed.\n",
        &out.stderr,
    );
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
    p.cmd(["apply", "--yes"])
        .stdout(
            "\
Plan for [PROJECT] / production (new state)

+ service.tenants create
    + contextHash: \"[ID]\"
    + path: \"services/tenants\"
+ instance.acme create [global]
    after: service.tenants
    + properties.name: \"Acme\"
    + type: \"tenants/tenant\"
    + values.name: \"Acme\"

Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

service.tenants: preparing
service.tenants: building cmpt-[PROJECT]-tenants:[HASH] ([TIME])
service.tenants: starting the container ([TIME])
service.tenants: ✓ created in [TIME]
instance.acme: writing
instance.acme: ✓ created in [TIME]

Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 3).
",
        )
        .stderr(
            "\
warning[global-type]: resource type `tenants/tenant` is global: its instances are shared by every environment
  ┌─ services/tenants/platz/resources.yaml:8:13
  │
8 │     global: true
  │             ^^^^ at [0].spec.global
  │
  = help: global types break environment isolation; keep `global: false` unless the concept really spans environments

",
        )
        .run();
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

/// `file: true`: the cache's generated password is the file
/// /run/secrets/CACHE_PASSWORD (copied in before the container starts),
/// `CACHE_PASSWORD_FILE` names it, and the value is nowhere in the
/// container's inspected configuration, the state or the output.
fn a_generated_variable_can_be_delivered_as_a_file() {
    let p = Project::new("example");
    p.edit(
        "compartment.yml",
        "        encoding: base64url\n",
        "        encoding: base64url\n        file: true\n",
    );
    let applied = p
        .cmd(["apply", "--yes", "--target", "resource.cache"])
        .output();
    let container = p.container("cache");
    let (ok, value) = crate::host::sh(&[
        "docker",
        "exec",
        &container,
        "cat",
        "/run/secrets/CACHE_PASSWORD",
    ]);
    assert!(ok, "{value}");
    assert_eq!(value.len(), 43, "32 random bytes, base64url: {value}");
    let (_, inspected) = crate::host::sh(&["docker", "inspect", &container]);
    assert!(
        inspected.contains("\"CACHE_PASSWORD_FILE=/run/secrets/CACHE_PASSWORD\""),
        "{inspected}"
    );
    assert!(!inspected.contains("\"CACHE_PASSWORD="), "{inspected}");
    for (what, text) in [
        ("docker inspect", inspected),
        (
            "apply's output",
            format!("{}{}", applied.stdout, applied.stderr),
        ),
        (
            "the state",
            std::fs::read_to_string(p.state_path()).unwrap(),
        ),
    ] {
        assert!(!text.contains(&value), "the value is in {what}");
    }
    let replan = p
        .cmd(["plan", "--refresh", "--target", "resource.cache"])
        .output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
}
