//! The whole life of an environment (issue #10) against the real engine:
//! destroy from a reviewed plan (volumes kept, then deleted with
//! `--delete-data`), services as day-2 objects, zero-downtime replace,
//! rollback, `allowed_role`, and adopting or forgetting nodes.

use crate::engine::{docker, Project};

cases! {
    docker destroy_from_a_reviewed_plan_keeps_volumes_then_delete_data_removes_them,
    docker services_are_day_2_objects_with_logs_exec_restart_and_ps,
    docker allowed_role_owner_guards_the_delete_of_an_instance,
    docker state_mv_renames_with_its_data_rm_forgets_and_import_adopts,
    docker readiness_beyond_tcp_waits_for_http_command_and_healthcheck,
    docker a_service_replace_is_start_first_and_loses_no_request,
    docker rollback_returns_to_a_recorded_release_and_old_images_are_pruned,
}

/// `apply --yes` of fixtures/life on an empty state (quietly: the apply
/// tests compare apply's output).
fn deploy(p: &Project) {
    p.cmd(["apply", "--yes"]).status(0).output();
}

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).0
}

fn destroy_from_a_reviewed_plan_keeps_volumes_then_delete_data_removes_them() {
    let p = Project::new("life");
    deploy(&p);
    let image = p.state()["services"]["web"]["image"]
        .as_str()
        .unwrap()
        .to_string();
    let lineage = p.state()["lineage"].clone();
    let volume = format!("cmpt-{}-production-store-data", p.name);
    assert!(exists("volume", &volume) && exists("image", &image));
    let plan = "\
Plan for [PROJECT] / production (state serial 3, lineage [LINEAGE])

- service.web delete: destroy
- resource.store delete: destroy (named volumes are kept; --delete-data deletes them)
    after: service.web
    volume cmpt-[PROJECT]-production-store-data: kept
- network cmpt-[PROJECT]-production
- image cmpt-[PROJECT]-web:[HASH] (kept if another container uses it)

Plan: 0 to create, 0 to update, 0 to replace, 2 to delete, 0 unchanged.
";
    p.cmd(["plan", "--destroy", "--out", "plans/destroy.json"])
        .stdout(&format!("{plan}Saved the plan to plans/destroy.json. Apply it with `compartment apply plans/destroy.json`.\n"))
        .run();
    // Nothing happened yet: a plan is only a plan.
    assert!(exists("container", &p.container("web")));
    p.cmd(["apply", "plans/destroy.json"])
        .stdout(&format!(
            "{plan}
service.web: removing the container
service.web: ✓ deleted in [TIME]
resource.store: removing the container
resource.store: ✓ deleted in [TIME]
image.cmpt-[PROJECT]-web:[HASH]: removing the image
image.cmpt-[PROJECT]-web:[HASH]: ✓ removed in [TIME]
network.cmpt-[PROJECT]-production: removing the network
network.cmpt-[PROJECT]-production: ✓ removed in [TIME]

Apply complete: 0 created, 0 updated, 0 replaced, 2 deleted, 0 failed, 0 skipped.
  removed: image.cmpt-[PROJECT]-web:[HASH]
  removed: network.cmpt-[PROJECT]-production
State saved to .compartment/state/[PROJECT]/production.json (serial 6).
"
        ))
        .run();
    assert!(!exists("container", &p.container("web")));
    assert!(!exists("container", &p.container("store")));
    assert!(!exists("network", &p.network()));
    assert!(!exists("image", &image));
    assert!(exists("volume", &volume), "the data volume is kept");
    let st = p.state();
    assert_eq!(st["lineage"], lineage);
    assert_eq!(st["resources"], serde_json::json!({}));
    assert_eq!(st["services"], serde_json::json!({}));
    assert!(st.get("network").is_none(), "{st}");
    assert_eq!(
        st["keptVolumes"],
        serde_json::json!({"store": {"data": volume}})
    );
    assert!(st["variables"]["resource"].is_object());

    // Nothing deployed: a plain destroy has nothing left to do.
    p.cmd(["plan", "--destroy"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 6, lineage [LINEAGE])

Nothing to destroy: nothing is deployed in this environment.

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.
",
        )
        .run();
    // --delete-data removes the kept volumes, stated in the plan.
    p.cmd(["destroy", "--yes", "--delete-data", "--no-color"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 6, lineage [LINEAGE])

- resource.store delete: the named volumes an earlier destroy kept
    volume cmpt-[PROJECT]-production-store-data: DATA WILL BE DELETED

Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 0 unchanged.

resource.store: removing the container
resource.store: deleting volume cmpt-[PROJECT]-production-store-data ([TIME])
resource.store: ✓ deleted in [TIME]

Apply complete: 0 created, 0 updated, 0 replaced, 1 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 7).
",
        )
        .run();
    assert!(!exists("volume", &volume));
    let st = p.state();
    assert!(st.get("keptVolumes").is_none(), "{st}");
    assert_eq!(st["lineage"], lineage);
}

/// One HTTP GET of the web service from inside its own container (busybox
/// wget against loopback): what it served.
fn get(p: &Project) -> String {
    let (_, out) = docker(&[
        "exec",
        &p.container("web"),
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/",
    ]);
    out
}

fn services_are_day_2_objects_with_logs_exec_restart_and_ps() {
    let p = Project::new("life");
    deploy(&p);
    let image = p.state()["services"]["web"]["image"]
        .as_str()
        .unwrap()
        .to_string();
    // Tables are as wide as the project's name: JSON is compared whole.
    p.cmd(["--output", "json", "service", "list"])
        .stdout(
            r#"[
  {
    "name": "web",
    "status": "running",
    "image": "cmpt-[PROJECT]-web:[HASH]",
    "host": "web.production.[PROJECT].service.internal",
    "ingress": 8080,
    "appliedAt": "[TIMESTAMP]"
  }
]
"#,
        )
        .run();
    // `logs --follow` streams: a request made after it started shows up.
    let follow = p.spawn(&["service", "logs", "web", "--follow"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(get(&p), "release 1\n");
    follow.wait_for_stdout("response:200", 20);
    drop(follow);
    // exec: the output as it comes and the command's exit code.
    p.cmd([
        "service",
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "cat /www/index.html; echo oops >&2; exit 3",
    ])
    .status(3)
    .stdout("release 1\n")
    .stderr("oops\n")
    .run();
    p.cmd([
        "--output", "json", "resource", "exec", "store", "--", "ls", "-d", "/data",
    ])
    .stdout("{\n  \"exitCode\": 0,\n  \"stderr\": \"\",\n  \"stdout\": \"/data\\n\"\n}\n")
    .run();
    // restart: a new process in the same container.
    let started = p.inspect("web", "{{.State.StartedAt}}");
    p.cmd(["service", "restart", "web"])
        .stdout("Restarted service `web`.\n")
        .run();
    assert_ne!(p.inspect("web", "{{.State.StartedAt}}"), started);
    // ps: both kinds in one table; an exited container with its code.
    docker(&["stop", "-t", "0", &p.container("store")]);
    let ps = p.cmd(["ps"]).status(0).output().stdout;
    let rows: Vec<Vec<&str>> = ps
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    let (web, store) = (p.container("web"), p.container("store"));
    assert_eq!(
        rows,
        [
            vec!["KIND", "NAME", "STATUS", "IMAGE", "CONTAINER"],
            vec![
                "resource",
                "store",
                "exited (code 137)",
                "compartment-test/busybox:1",
                &store
            ],
            vec!["service", "web", "running", &image, &web],
        ],
        "{ps}"
    );
    p.cmd(["--output", "json", "ps"])
        .stdout(
            r#"[
  {
    "kind": "resource",
    "name": "store",
    "state": "exited",
    "exitCode": 137,
    "health": null,
    "status": "exited (code 137)",
    "image": "compartment-test/busybox:1",
    "container": "cmpt-[PROJECT]-production-store"
  },
  {
    "kind": "service",
    "name": "web",
    "state": "running",
    "exitCode": null,
    "health": null,
    "status": "running",
    "image": "cmpt-[PROJECT]-web:[HASH]",
    "container": "cmpt-[PROJECT]-production-web"
  }
]
"#,
        )
        .run();
    p.cmd(["resource", "exec", "store", "--", "true"])
        .status(1)
        .stderr("error: `store` is not running (exited (code 137)); start it first (`compartment resource start --resource store`)\n")
        .run();
    p.cmd(["service", "logs", "api"])
        .status(1)
        .stderr("error: service `api` is not deployed in environment `production`; deployed services: web\n")
        .run();
    // Role checks as for resources: a deployer reads logs, only an admin
    // runs commands inside containers (they can read secrets).
    let access = p.dir.join(".compartment/access.yml");
    std::fs::write(&access, "actors: {dee: deployer, ada: admin}\n").unwrap();
    p.cmd(["service", "logs", "web", "--tail", "0"])
        .env("COMPARTMENT_ACTOR", "dee")
        .run();
    p.cmd(["service", "exec", "web", "--", "true"])
        .env("COMPARTMENT_ACTOR", "dee")
        .status(1)
        .stderr("error: dee (role deployer in production) may not run `service exec / resource exec`: it needs the permission `variable.value.read`; ask an admin to grant a role with it in ./.compartment/access.yml\n")
        .run();
    p.cmd(["service", "exec", "web", "--", "true"])
        .env("COMPARTMENT_ACTOR", "ada")
        .run();
}

/// A resource type of `web` whose instances a Maintainer creates and
/// updates but only an Owner deletes.
const PAGE_TYPE: &str = "\
- apiVersion: platz.io/v1beta1
  kind: ResourceType
  key: page
  spec:
    name_singular: Page
    name_plural: Pages
    fontawesome_icon: file
    values_ui:
      inputs:
        - id: title
          type: text
          label: Title
          required: true
      outputs:
        values:
          - path: [title]
            value:
              FieldValue:
                input: title
    lifecycle:
      create:
        allowed_role: Maintainer
      update:
        allowed_role: Maintainer
      delete:
        allowed_role: Owner
";

const HOME: &str = "instances:\n  home:\n    type: web/page\n    values: {title: Home}\n";

fn allowed_role_owner_guards_the_delete_of_an_instance() {
    let p = Project::new("life");
    std::fs::create_dir_all(p.dir.join("services/web/platz")).unwrap();
    std::fs::write(p.dir.join("services/web/platz/resources.yaml"), PAGE_TYPE).unwrap();
    let yml = p.dir.join("compartment.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, format!("{text}{HOME}")).unwrap();
    std::fs::create_dir_all(p.dir.join(".compartment")).unwrap();
    std::fs::write(
        p.dir.join(".compartment/access.yml"),
        "actors: {dee: deployer, ada: admin, vic: viewer}\nroles:\n  pages:\n    permissions: [deployment.create, instance.owner]\n",
    )
    .unwrap();
    // A deployer is a Platz Maintainer: it creates the instance.
    let run = p
        .cmd(["apply", "--yes"])
        .env("COMPARTMENT_ACTOR", "dee")
        .status(0)
        .output();
    assert!(
        run.stdout.contains("+ instance.home create\n    after: service.web\n    + properties.title: \"Home\"\n    + type: \"web/page\"\n    + values.title: \"Home\"\n    requires role: Maintainer (create)\n"),
        "{}",
        run.stdout
    );
    assert!(p.state()["instances"]["home"].is_object());
    // The instance is no longer declared: deleting it needs an Owner.
    std::fs::write(&yml, &text).unwrap();
    let plan = "\
Plan for [PROJECT] / production (state serial 4, lineage [LINEAGE])

- instance.home delete: no longer declared in compartment.yml
    after: service.web
    - properties.title: \"Home\"
    - type: \"web/page\"
    - values.title: \"Home\"
    requires role: Owner (delete)

Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 2 unchanged.
";
    p.cmd(["plan", "--out", "plans/p.json"])
        .stdout(&format!("{plan}Saved the plan to plans/p.json. Apply it with `compartment apply plans/p.json`.\n"))
        .run();
    p.cmd(["apply", "plans/p.json"])
        .env("COMPARTMENT_ACTOR", "dee")
        .status(1)
        .stdout(plan)
        .stderr("error: dee (role deployer in production) may not apply this plan, nothing was executed: delete of instance `home` needs the Platz role Owner (`instance.owner`); ask an admin to grant a role with it in ./.compartment/access.yml\n")
        .run();
    assert!(
        p.state()["instances"]["home"].is_object(),
        "nothing was executed"
    );
    assert_eq!(p.state()["serial"], 4);
    // An admin is an Owner.
    p.cmd(["apply", "plans/p.json"])
        .env("COMPARTMENT_ACTOR", "ada")
        .status(0)
        .output();
    assert!(p.state()["instances"].get("home").is_none());
    // A viewer may not apply at all; a custom role with instance.owner may.
    std::fs::write(&yml, format!("{text}{HOME}")).unwrap();
    p.cmd(["apply", "--yes"])
        .env("COMPARTMENT_ACTOR", "vic")
        .status(1)
        .stderr("error: vic (role viewer in production) may not run `apply`: it needs the permission `deployment.create`; ask an admin to grant a role with it in ./.compartment/access.yml\n")
        .run();
}

fn state_mv_renames_with_its_data_rm_forgets_and_import_adopts() {
    let p = Project::new("life");
    deploy(&p);
    docker(&[
        "exec",
        &p.container("store"),
        "sh",
        "-c",
        "echo precious > /data/x",
    ]);
    let volume = format!("cmpt-{}-production-store-data", p.name);
    // The seed's rename: store becomes vault, without losing its data.
    p.edit(
        "compartment.yml",
        "  store:\n    image",
        "  vault:\n    image",
    );
    p.edit(
        "compartment.yml",
        "      store:\n        env:",
        "      vault:\n        env:",
    );
    p.cmd(["plan"]).status(1).output(); // blocked: store is undeclared
    p.cmd(["state", "mv", "resource.store", "resource.vault"])
        .stdout("Moved resource.store to resource.vault in the state (serial 4); the next apply runs its container under the new name, with the same volumes.\n")
        .run();
    p.cmd(["state", "mv", "resource.vault", "service.vault"])
        .status(1)
        .stderr("error: `resource.vault` and `service.vault` are of different kinds; state mv renames a node, it does not change its kind\n")
        .run();
    let run = p.cmd(["apply", "--yes"]).status(0).output();
    assert!(
        run.stdout.contains("~ resource.vault update: container changed outside compartment (drift): it runs as `cmpt-"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("resource.vault: removing the previous container"),
        "{}",
        run.stdout
    );
    assert!(!exists("container", &p.container("store")));
    let (_, data) = docker(&["exec", &p.container("vault"), "cat", "/data/x"]);
    assert_eq!(data, "precious\n");
    assert_eq!(
        p.state()["resources"]["vault"]["volumes"]["data"],
        volume.as_str()
    );
    let (_, env) = docker(&[
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &p.container("web"),
    ]);
    assert!(
        env.contains(&format!(
            "STORE_HOST=vault.production.{}.resource.internal",
            p.name
        )),
        "{env}"
    );

    // state rm forgets without touching Docker; import adopts it back, and
    // the next plan is a no-op.
    p.cmd(["state", "rm", "resource.vault"])
        .stdout("Removed resource.vault from the state (serial 7); its container and volumes are untouched.\n")
        .run();
    assert!(exists("container", &p.container("vault")));
    p.cmd(["state", "rm", "resource.vault"])
        .status(1)
        .stderr("error: `resource.vault` is not in the state (see `compartment state show`)\n")
        .run();
    p.cmd(["import", "resource.vault", &p.container("vault")])
        .stdout(&format!(
            "Imported container cmpt-[PROJECT]-production-vault as resource.vault (serial 8).\n  volume data: {}\nRun `compartment plan` to see how it differs from its declaration.\n",
            volume.replace(&p.name, "[PROJECT]")
        ))
        .run();
    let plan = p.cmd(["plan", "--refresh"]).status(0).output().stdout;
    assert!(plan.contains("No changes."), "{plan}");
    p.cmd(["import", "resource.vault", "nope"])
        .status(1)
        .stderr("error: `resource.vault` is already in the state; `compartment state rm resource.vault` first if it should be replaced\n")
        .run();
    p.cmd(["import", "resource.other", &p.container("vault")])
        .status(1)
        .stderr("error: `resource.other` is not declared in compartment.yml: declare it first, so that the next plan compares the container with its declaration\n")
        .run();
}

/// fixtures/apply/probes: an http probe that waits for a 200 (the service
/// answers 404 for two seconds), a command probe that waits for a file, an
/// image's own HEALTHCHECK honoured without any `readiness:`; a probe that
/// never passes fails its node with what it tried and the last answer. The
/// failed creates keep their intent, and a destroy removes what they left.
fn readiness_beyond_tcp_waits_for_http_command_and_healthcheck() {
    let p = Project::new("apply/probes");
    let warming = "`sh -c 'echo still warming up >&2; exit 3'` in the container";
    let teapot_failure = "not ready: HTTP GET :8080/health (expecting 2xx) did not pass within 1.5s (last answer: HTTP 404: <HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD> <BODY><H1>404 Not Found</H1> The requested URL was not found </BODY></HTML>)";
    let warming_failure = format!(
        "not ready: {warming} did not pass within 1.5s (last answer: exit code 3: still warming up)"
    );
    p.cmd(["apply", "--yes"])
        .status(1)
        .stdout_unordered(&format!(
            "\
Plan for [PROJECT] / production (new state)

+ resource.flagged create
    + command: [\"sh\",\"-c\",\"sleep 2; touch /tmp/ready; exec sleep 3600\"]
    + image: \"compartment-test/busybox:1\"
    + readiness.command: [\"test\",\"-f\",\"/tmp/ready\"]
    + readiness.timeoutMs: 20000
    + readiness.type: \"command\"
    + restart: \"unless-stopped\"
+ resource.teapot create
    + command: [\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/var\"]
    + image: \"compartment-test/busybox:1\"
    + ports: [8080]
    + readiness.path: \"/health\"
    + readiness.port: 8080
    + readiness.timeoutMs: 1500
    + readiness.type: \"http\"
    + restart: \"unless-stopped\"
+ resource.warming create
    + command: [\"sleep\",\"3600\"]
    + image: \"compartment-test/busybox:1\"
    + readiness.command: [\"sh\",\"-c\",\"echo still warming up >&2; exit 3\"]
    + readiness.timeoutMs: 1500
    + readiness.type: \"command\"
    + restart: \"unless-stopped\"
+ service.checked create
    + contextHash: \"[ID]\"
    + path: \"services/checked\"
+ service.web create
    + contextHash: \"[ID]\"
    + ingress.port: 8080
    + path: \"services/web\"
    + readiness.expectStatus: 200
    + readiness.path: \"/health\"
    + readiness.port: 8080
    + readiness.timeoutMs: 20000
    + readiness.type: \"http\"

Plan: 5 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.

resource.flagged: preparing
resource.flagged: checking image compartment-test/busybox:1 ([TIME])
resource.teapot: preparing
resource.teapot: checking image compartment-test/busybox:1 ([TIME])
resource.warming: preparing
resource.warming: checking image compartment-test/busybox:1 ([TIME])
resource.flagged: starting the container ([TIME])
resource.teapot: starting the container ([TIME])
resource.warming: starting the container ([TIME])
resource.warming: waiting for {warming} (up to 2s) ([TIME])
resource.flagged: waiting for `test -f /tmp/ready` in the container (up to 20s) ([TIME])
resource.teapot: waiting for HTTP GET :8080/health (expecting 2xx) (up to 2s) ([TIME])
resource.warming: ✗ failed: {warming_failure} in [TIME]
resource.teapot: ✗ failed: {teapot_failure} in [TIME]
resource.flagged: ✓ created in [TIME]
service.checked: preparing
service.web: preparing
service.web: building cmpt-[PROJECT]-web:[HASH] ([TIME])
service.checked: building cmpt-[PROJECT]-checked:[HASH] ([TIME])
service.web: starting the container ([TIME])
service.checked: starting the container ([TIME])
service.checked: waiting for the image's HEALTHCHECK (up to 120s) ([TIME])
service.web: waiting for HTTP GET :8080/health (expecting 200) (up to 20s) ([TIME])
service.web: ✓ created in [TIME]
service.checked: ✓ created in [TIME]

Apply failed: 3 created, 0 updated, 0 replaced, 0 deleted, 2 failed, 0 skipped.
  failed: resource.warming: {warming_failure}
  failed: resource.teapot: {teapot_failure}
State saved to .compartment/state/[PROJECT]/production.json (serial 6).
"
        ))
        .run();
    // Each probe passed for real: the service answers 200 on /health, the
    // engine says the HEALTHCHECK is healthy, the flag file exists.
    let (_, health) = docker(&[
        "exec",
        &p.container("web"),
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/health",
    ]);
    assert_eq!(health.trim(), "healthy");
    assert_eq!(p.inspect("checked", "{{.State.Health.Status}}"), "healthy");
    assert!(docker(&["exec", &p.container("flagged"), "test", "-f", "/tmp/ready"]).0);
    let st = p.state();
    let resources: Vec<&String> = st["resources"].as_object().unwrap().keys().collect();
    assert_eq!(resources, ["flagged"]);
    let creating: Vec<&String> = st["creating"].as_object().unwrap().keys().collect();
    assert_eq!(creating, ["teapot", "warming"], "{st}");
    assert_eq!(
        st["services"]["web"]["applied"]["definition"]["readiness"],
        serde_json::json!({"type": "http", "port": 8080, "path": "/health", "expectStatus": 200, "timeoutMs": 20000})
    );

    // A destroy removes what the failed creates left, so the network goes too.
    p.cmd(["plan", "--destroy"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 6, lineage [LINEAGE])

- resource.flagged delete: destroy
- resource.teapot delete: what an unfinished create (started at [TIMESTAMP]) left: container cmpt-[PROJECT]-production-teapot
- resource.warming delete: what an unfinished create (started at [TIMESTAMP]) left: container cmpt-[PROJECT]-production-warming
- service.checked delete: destroy
- service.web delete: destroy
- network cmpt-[PROJECT]-production
- image cmpt-[PROJECT]-checked:[HASH] (kept if another container uses it)
- image cmpt-[PROJECT]-web:[HASH] (kept if another container uses it)

Plan: 0 to create, 0 to update, 0 to replace, 5 to delete, 0 unchanged.
",
        )
        .run();
    p.cmd(["destroy", "--yes"]).status(0).output();
    for name in ["web", "checked", "flagged", "teapot", "warming"] {
        assert!(!exists("container", &p.container(name)), "{name} is left");
    }
    assert!(!exists("network", &p.network()));
    assert!(p.state().get("creating").is_none());
}

/// A request loop on the environment network, as a client that tries each
/// address a name resolves to (curl, Go, Python and Java clients do): one
/// line per request, `ok <body>` or `fail`, until /tmp/stop exists.
const REQUEST_LOOP: &str = r#"
while [ ! -f /tmp/stop ]; do
  line=fail
  for ip in $(nslookup "$HOST" 2>/dev/null | sed -n 's/^Address: *\([0-9.]*\)$/\1/p'); do
    if body=$(wget -qO- "http://$ip:8080/" 2>/dev/null); then line="ok $body"; break; fi
  done
  echo "$line" >> /tmp/log
done
touch /tmp/done
sleep 3600
"#;

/// Starts the request loop against the web service of `p`; returns the
/// loop container's name.
fn request_loop(p: &Project) -> String {
    let name = format!("{}-client", p.name);
    let host = format!("HOST=web.production.{}.service.internal", p.name);
    let label = format!("io.compartment.project={}", p.name);
    let (ok, out) = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &label,
        "--network",
        &p.network(),
        "-e",
        &host,
        "compartment-test/busybox:1",
        "sh",
        "-c",
        REQUEST_LOOP,
    ]);
    assert!(ok, "{out}");
    name
}

/// Stops the loop; returns (requests that failed, requests, the bodies
/// served in order, runs of the same body counted once).
fn loop_results(client: &str) -> (usize, usize, Vec<String>) {
    docker(&["exec", client, "touch", "/tmp/stop"]);
    for _ in 0..100 {
        if docker(&["exec", client, "test", "-f", "/tmp/done"]).0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_, log) = docker(&["exec", client, "cat", "/tmp/log"]);
    let failed = log.lines().filter(|l| *l == "fail").count();
    let mut bodies: Vec<String> = Vec::new();
    for l in log.lines().filter_map(|l| l.strip_prefix("ok ")) {
        if bodies.last().map(String::as_str) != Some(l) {
            bodies.push(l.to_string());
        }
    }
    (failed, log.lines().count(), bodies)
}

/// The web service is replaced under a steady request loop: the new
/// container starts beside the old one, gets ready, takes the alias, and
/// only then is the old one stopped: no request fails, and the loop sees
/// release 1 then release 2. A new release that never gets ready is removed
/// with its last log lines, and the old one keeps serving.
fn a_service_replace_is_start_first_and_loses_no_request() {
    let p = Project::new("life");
    deploy(&p);
    let client = request_loop(&p);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::write(p.dir.join("services/web/index.html"), "release 2\n").unwrap();
    p.edit(
        "compartment.yml",
        "    ingress:\n      port: 8080\n",
        "    ingress:\n      port: 8080\n    stopGracePeriod: 3s\n",
    );
    p.cmd(["apply", "--yes"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 3, lineage [LINEAGE])

± service.web replace: the build context changed (image will be rebuilt)
    after: resource.store
    ~ contextHash: \"[ID]\" → \"[ID]\"  # forces replacement
    + stopGracePeriod: 3
    # (2 unchanged attributes hidden; the plan file and --json list them)
    connection web.STORE_HOST ← store.host

Plan: 0 to create, 0 to update, 1 to replace, 0 to delete, 1 unchanged.

service.web: preparing
service.web: building cmpt-[PROJECT]-web:[HASH] ([TIME])
service.web: starting the new container beside the old one ([TIME])
service.web: waiting for TCP port 8080 (up to 30s) ([TIME])
service.web: moving web.production.[PROJECT].service.internal to the new container ([TIME])
service.web: stopping the old container (grace period 3s) ([TIME])
service.web: ✓ replaced (the new container started beside the old one) in [TIME]

Apply complete: 0 created, 0 updated, 1 replaced, 0 deleted, 0 failed, 0 skipped.
State saved to .compartment/state/[PROJECT]/production.json (serial 4).
",
        )
        .run();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let (failed, requests, bodies) = loop_results(&client);
    assert_eq!(failed, 0, "{failed} of {requests} requests failed");
    // Release 1 until the new container takes the alias, both while the old
    // one gets its grace period (busybox httpd, PID 1, ignores SIGTERM),
    // release 2 from then on.
    assert_eq!(bodies.first().map(String::as_str), Some("release 1"));
    assert_eq!(bodies.last().map(String::as_str), Some("release 2"));
    assert!(
        bodies.iter().all(|b| b == "release 1" || b == "release 2"),
        "{bodies:?}"
    );
    assert!(requests > 20, "only {requests} requests");
    assert_eq!(get(&p), "release 2\n");
    assert_eq!(p.inspect("web", "{{.Config.StopTimeout}}"), "3");
    let (_, names) = docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={}", p.container("web")),
    ]);
    assert_eq!(
        names.trim(),
        p.container("web"),
        "no second container is left"
    );

    // A release that never listens: removed with its last log lines; the
    // old container keeps serving and the state keeps recording it.
    let before = p.state()["services"]["web"].clone();
    std::fs::write(
        p.dir.join("services/web/Dockerfile"),
        "FROM compartment-test/busybox:1\nCMD [\"sh\", \"-c\", \"echo booting release 3; sleep 0.3; echo cannot open port 8080 >&2; sleep 3600\"]\n",
    )
    .unwrap();
    p.edit(
        "compartment.yml",
        "    stopGracePeriod: 3s\n",
        "    stopGracePeriod: 3s\n    readiness: {type: tcp, port: 8080, timeoutMs: 2000}\n",
    );
    let out = p.cmd(["apply", "--yes"]).status(1).output().stdout;
    let failure = "failed: service.web: the new container was removed and the old one keeps serving: not ready: TCP port 8080 did not pass within 2.0s (last answer: Connection refused (os error 111)); last log lines of the new container: booting release 3 | cannot open port 8080";
    assert!(out.contains(failure), "{out}");
    assert_eq!(get(&p), "release 2\n");
    assert_eq!(p.state()["services"]["web"], before);
    let (_, names) = docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={}", p.container("web")),
    ]);
    assert_eq!(
        names.trim(),
        p.container("web"),
        "the failed new container is removed"
    );
}

/// Releases `n` of the web service of `p`: its page says `release n`.
fn release(p: &Project, n: u32) {
    std::fs::write(
        p.dir.join("services/web/index.html"),
        format!("release {n}\n"),
    )
    .unwrap();
    p.cmd(["apply", "--yes"]).status(0).output();
}

fn image_exists(image: &str) -> bool {
    docker(&["image", "inspect", image]).0
}

/// Every replace records the release it replaced (at most 3, newest
/// first); the images of older ones are pruned. `rollback` plans a return
/// to the previous release as an ordinary plan, saved and applied like any
/// other; `--to` picks another; what cannot be rolled back is blocked.
fn rollback_returns_to_a_recorded_release_and_old_images_are_pruned() {
    let p = Project::new("life");
    p.edit(
        "compartment.yml",
        "    ingress:\n      port: 8080\n",
        "    ingress:\n      port: 8080\n    stopGracePeriod: 1\n",
    );
    deploy(&p);
    p.cmd(["rollback"])
        .status(1)
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 3, lineage [LINEAGE])

Nothing to roll back.

Blocked:
  ✗ service.* (no-release): no service of this environment has an earlier release to return to
    help: a release is recorded when an apply replaces a service's image or definition

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged; 1 blocked.
",
        )
        .stderr("error: the plan is blocked by 1 change(s); nothing was applied\n")
        .run();
    let image = |p: &Project| {
        p.state()["services"]["web"]["image"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = image(&p);
    let mut images = vec![first.clone()];
    for n in 2..=4 {
        release(&p, n);
        images.push(image(&p));
    }
    // The fifth release pushes the first past the three kept: the plan says
    // its image goes.
    std::fs::write(p.dir.join("services/web/index.html"), "release 5\n").unwrap();
    let plan = p.cmd(["plan"]).status(0).output().stdout;
    assert!(
        plan.contains(&format!(
            "    image {first}: pruned (an older release than the service keeps)\n"
        )),
        "{plan}"
    );
    release(&p, 5);
    images.push(image(&p));
    let recorded: Vec<String> = p.state()["services"]["web"]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        recorded,
        [images[3].clone(), images[2].clone(), images[1].clone()]
    );
    assert!(
        !image_exists(&first),
        "the oldest release's image is pruned"
    );
    assert!(images[1..].iter().all(|i| image_exists(i)));

    p.cmd(["rollback", "--out", "plans/rollback.json"])
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 7, lineage [LINEAGE])

± service.web replace: rollback to the release applied at [TIMESTAMP] (image cmpt-[PROJECT]-web:[HASH])
    ~ contextHash: \"[ID]\" → \"[ID]\"  # forces replacement

Plan: 0 to create, 0 to update, 1 to replace, 0 to delete, 0 unchanged.
Saved the plan to plans/rollback.json. Apply it with `compartment apply plans/rollback.json`.
",
        )
        .run();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dir.join("plans/rollback.json")).unwrap())
            .unwrap();
    assert_eq!(saved["mode"], serde_json::json!({"kind": "rollback"}));
    assert_eq!(saved["changes"][0]["release"]["image"], images[3].as_str());
    p.cmd(["apply", "plans/rollback.json"]).status(0).output();
    assert_eq!(get(&p), "release 4\n");
    assert_eq!(image(&p), images[3]);
    // The release rolled back from is recorded in its place.
    let recorded: Vec<String> = p.state()["services"]["web"]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        recorded,
        [images[4].clone(), images[2].clone(), images[1].clone()]
    );
    // The next ordinary plan brings the configuration back.
    let plan = p.cmd(["plan"]).status(0).output().stdout;
    assert!(
        plan.contains("± service.web replace: the build context changed"),
        "{plan}"
    );

    // --to: the third recorded release (release 2), applied at once.
    p.cmd(["rollback", "web", "--to", "3", "--yes"])
        .status(0)
        .output();
    assert_eq!(get(&p), "release 2\n");
    p.cmd(["rollback", "web", "--to", "9"])
        .status(1)
        .stdout(
            "\
Plan for [PROJECT] / production (state serial 9, lineage [LINEAGE])

Nothing to roll back.

Blocked:
  ✗ service.web (unknown-release): service `web` has no release `9`
    help: --to takes a release number, its image or a prefix of its context hash (4 characters at least); recorded: 1 (cmpt-[PROJECT]-web:[HASH]), 2 (cmpt-[PROJECT]-web:[HASH]), 3 (cmpt-[PROJECT]-web:[HASH])

Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged; 1 blocked.
",
        )
        .stderr("error: the plan is blocked by 1 change(s); nothing was applied\n")
        .run();
    // A destroy removes the images of the recorded releases too.
    p.cmd(["destroy", "--yes"]).status(0).output();
    assert!(images[1..].iter().all(|i| !image_exists(i)), "{images:?}");
}
