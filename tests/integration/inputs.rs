//! Inputs from outside the project and inputs checked at validate time
//! (issue #16 points 4 and 7): files that resolve outside the directory of
//! compartment.yml are refused and never shown, descriptors are bounded in
//! size, NUL bytes are errors and a byte order mark is accepted. The
//! located cases live in fixtures/broken (`outside-project`, `nul-byte`,
//! ...); these tests cover what a committed fixture cannot: secrets in the
//! process environment, files of many megabytes, the access file.

use crate::applied::Sandbox;
use std::os::unix::fs::symlink;

cases! {
    plain files_outside_the_project_are_never_read_or_shown,
    plain descriptor_files_over_8_mib_are_refused_before_parsing,
    plain a_byte_order_mark_is_accepted,
    plain an_access_file_outside_the_project_is_refused,
    plain a_generated_variable_stays_sealed_when_set,
    plain a_sensitive_variable_stays_sealed_when_set_without_sensitive,
    plain a_sensitive_variable_is_never_a_build_argument,
    docker hooks_are_signed_per_service_and_cannot_be_replayed,
    plain services_started_with_the_shared_hook_secret_are_restarted,
}

/// A value that exists only in the child's environment and in a file
/// outside the project: no output may ever contain it.
const MARKER: &str = "inputs-marker-5f1e9c";

const BILLING_TYPES: &str = "services/billing/platz/resources.yaml";

const OUTSIDE_HELP: &str = "keep descriptors inside the directory of compartment.yml; replace the link with the file itself";

/// The error that the billing types are not read, and its consequence.
fn refused_billing(target: &str) -> String {
    format!(
        "error[outside-project]: {BILLING_TYPES} leads to {target}, outside the project directory: it is not read
   ┌─ compartment.yml:28:11
   │
28 │     path: services/billing
   │           ^^^^^^^^^^^^^^^^ at services.billing.path
   │
   = help: {OUTSIDE_HELP}

error[unknown-type]: instance `order-hook` has unknown type `billing/webhook`
   ┌─ compartment.yml:96:11
   │
96 │     type: billing/webhook
   │           ^^^^^^^^^^^^^^^ at instances.order-hook.type
   │
   = help: types are named `<owning service>/<key>`; declared: storefront/shop

error: 2 errors, 0 warnings
"
    )
}

/// A `resources.yaml` linked to `/proc/self/environ` or to a secret file
/// elsewhere used to be printed line by line in `validate`, `--output json`
/// and the Markdown plan (pull-request CI). Now it is refused at the
/// service's path in all three, and its text appears nowhere.
fn files_outside_the_project_are_never_read_or_shown() {
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("key");
    std::fs::write(&secret, format!("SECRET={MARKER}\n")).unwrap();
    for target in [std::path::PathBuf::from("/proc/self/environ"), secret] {
        let sb = Sandbox::copy("example");
        std::fs::remove_file(sb.file(BILLING_TYPES)).unwrap();
        symlink(&target, sb.file(BILLING_TYPES)).unwrap();
        let shown = target.display().to_string();
        sb.cmd()
            .args(["validate", "--no-color"])
            .env("INPUTS_MARKER", MARKER)
            .status(1)
            .stderr(&refused_billing(&shown))
            .run();
        for args in [
            &["validate", "--output", "json"][..],
            &["plan", "--format", "markdown", "--no-color"][..],
            &["plan", "--output", "json"][..],
        ] {
            let run = sb
                .cmd()
                .args(args)
                .env("INPUTS_MARKER", MARKER)
                .status(1)
                .output();
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(
                !all.contains(MARKER),
                "{args:?} shows the outside file:\n{all}"
            );
            assert!(all.contains("outside-project"), "{args:?}:\n{all}");
            assert!(
                all.contains(&format!("leads to {shown}")),
                "{args:?}:\n{all}"
            );
        }
    }
}

/// A 9 MiB compartment.yml (valid YAML: comment lines) or resources.yaml is
/// refused before parsing, naming the file and the limit; the one within
/// the limit still loads.
fn descriptor_files_over_8_mib_are_refused_before_parsing() {
    let sb = Sandbox::copy("example");
    let original = std::fs::read_to_string(sb.file("compartment.yml")).unwrap();
    let padding = format!("# {}\n", "p".repeat(61)).repeat(9 * 1024 * 1024 / 64);
    std::fs::write(sb.file("compartment.yml"), format!("{original}{padding}")).unwrap();
    sb.cmd()
        .args(["validate", "--no-color"])
        .status(1)
        .stderr(
            "error[file-too-large]: compartment.yml is 9.0 MiB, over the 8 MiB limit for descriptor files: it is not read
 = help: descriptors are at most 8 MiB; check that the path names the descriptor, not a data file

error: 1 error, 0 warnings
",
        )
        .run();
    std::fs::write(sb.file("compartment.yml"), &original).unwrap();
    let types = std::fs::read_to_string(sb.file(BILLING_TYPES)).unwrap();
    std::fs::write(sb.file(BILLING_TYPES), format!("{types}{padding}")).unwrap();
    sb.cmd()
        .args(["validate", "--no-color"])
        .status(1)
        .stderr(
            "error[file-too-large]: services/billing/platz/resources.yaml is 9.0 MiB, over the 8 MiB limit for descriptor files: it is not read
   ┌─ compartment.yml:28:11
   │
28 │     path: services/billing
   │           ^^^^^^^^^^^^^^^^ at services.billing.path
   │
   = help: descriptors are at most 8 MiB; check that the path names the descriptor, not a data file

error[unknown-type]: instance `order-hook` has unknown type `billing/webhook`
   ┌─ compartment.yml:96:11
   │
96 │     type: billing/webhook
   │           ^^^^^^^^^^^^^^^ at instances.order-hook.type
   │
   = help: types are named `<owning service>/<key>`; declared: storefront/shop

error: 2 errors, 0 warnings
",
        )
        .run();
    // 7 MiB of comments is within the limit.
    let within = &padding[..7 * 1024 * 1024];
    std::fs::write(sb.file(BILLING_TYPES), format!("{types}{within}")).unwrap();
    sb.cmd()
        .args(["validate", "--no-color"])
        .stdout(VALID)
        .run();
}

const VALID: &str = "compartment.yml is valid: project `internal-tools`, 3 services, 2 resources, 2 resource types, 3 instances (0 warnings)\n";

/// Editors on Windows save UTF-8 with a byte order mark; both descriptors
/// load as if it were not there (it used to become part of the first key).
fn a_byte_order_mark_is_accepted() {
    let sb = Sandbox::copy("example");
    for rel in ["compartment.yml", BILLING_TYPES] {
        let text = std::fs::read(sb.file(rel)).unwrap();
        std::fs::write(sb.file(rel), [b"\xEF\xBB\xBF".as_slice(), &text].concat()).unwrap();
    }
    sb.cmd()
        .args(["validate", "--no-color"])
        .stdout(VALID)
        .run();
}

/// `.compartment/access.yml` beside compartment.yml is a project file too:
/// a link leading outside the project is refused, not read (and not quoted
/// in its diagnostics).
fn an_access_file_outside_the_project_is_refused() {
    let sb = Sandbox::copy("example");
    std::fs::create_dir_all(sb.file(".compartment")).unwrap();
    symlink("/proc/self/environ", sb.file(".compartment/access.yml")).unwrap();
    sb.cmd()
        .args(["resource", "list"])
        .env("INPUTS_MARKER", MARKER)
        .env(
            "DOCKER_HOST",
            "unix:///nonexistent/compartment-inputs-test.sock",
        )
        .status(1)
        .stderr("error: cannot read the access file .compartment/access.yml: it leads to /proc/self/environ, outside the project directory\n")
        .run();
}

// ------------------------------------------------- point 7: variables

/// `variable set` over a generated variable without `--sensitive` used to
/// store it as plaintext in the state (the generated value lost with it).
/// Now it is refused, before and after the first apply; with `--sensitive`
/// the new value is sealed.
fn a_generated_variable_stays_sealed_when_set() {
    let sb = Sandbox::copy("example");
    let refused = "error: `cache.CACHE_PASSWORD` is a generated sensitive variable; set it with --sensitive (and --stdin) so it stays sealed\n";
    let plain = [
        "variable",
        "set",
        "CACHE_PASSWORD",
        "--resource",
        "cache",
        "hunter2",
    ];
    sb.cmd().args(plain).status(1).stderr(refused).run();
    assert!(!sb.state_path().exists(), "nothing written");
    // Recorded as generated in the state (as after an apply), not declared.
    let mut st = sb.applied_state();
    sb.store().save(&mut st).unwrap();
    std::fs::write(
        sb.file("compartment.yml"),
        sb.read("compartment.yml").replace(
            "    generatedVariables:\n      CACHE_PASSWORD:\n        generator: token\n        bytes: 32\n        encoding: base64url\n",
            "",
        ).replace("      url:\n        sensitive: true\n        value: redis://:${env.CACHE_PASSWORD}@${resource.host}:6379/0\n", ""),
    )
    .unwrap();
    sb.cmd().args(plain).status(1).stderr(refused).run();
    let before = std::fs::read_to_string(sb.state_path()).unwrap();
    sb.cmd()
        .args([
            "variable",
            "set",
            "CACHE_PASSWORD",
            "--resource",
            "cache",
            "--sensitive",
            "--stdin",
        ])
        .stdin("hunter2\n")
        .stdout("Set sensitive variable `CACHE_PASSWORD`; the next apply restarts what uses it.\n")
        .run();
    let after = std::fs::read_to_string(sb.state_path()).unwrap();
    assert_ne!(before, after);
    assert!(!after.contains("hunter2"), "the value is sealed");
    let st = sb
        .store()
        .load("internal-tools", crate::applied::ENV)
        .unwrap();
    let v = &st.variables.resource["cache"]["CACHE_PASSWORD"];
    assert!(
        v.sensitive && v.value.is_none() && v.sealed.is_some(),
        "{v:?}"
    );
}

/// A sensitive variable set again without `--sensitive` used to become
/// plaintext in the state; it is refused, the sealed value untouched, and a
/// plaintext one needs an explicit `variable remove` first.
fn a_sensitive_variable_stays_sealed_when_set_without_sensitive() {
    let sb = Sandbox::copy("example");
    let sealed = [
        "variable",
        "set",
        "API_TOKEN",
        "--service",
        "api",
        "--sensitive",
        "--stdin",
    ];
    sb.cmd()
        .args(sealed)
        .stdin("s3cret\n")
        .stdout("Set sensitive variable `API_TOKEN`; the next apply restarts what uses it.\n")
        .run();
    let before = sb.read(".compartment/state/internal-tools/production.json");
    let plain = [
        "variable",
        "set",
        "API_TOKEN",
        "--service",
        "api",
        "hunter2",
    ];
    sb.cmd()
        .args(plain)
        .status(1)
        .stderr("error: `api.API_TOKEN` is a sensitive variable; set it with --sensitive (and --stdin) so it stays sealed, or `variable remove` it first to store a plaintext value\n")
        .run();
    let after = sb.read(".compartment/state/internal-tools/production.json");
    assert_eq!(before, after, "nothing written");
    sb.cmd()
        .args(["variable", "remove", "API_TOKEN", "--service", "api"])
        .output();
    let run = sb.cmd().args(plain).output();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(sb
        .read(".compartment/state/internal-tools/production.json")
        .contains("hunter2"));
}

/// A sensitive service variable selected in `build.env` would become a
/// build argument, kept in the image (`docker history`). `variable set
/// --sensitive` refuses it, and a selection added afterwards blocks the plan.
fn a_sensitive_variable_is_never_a_build_argument() {
    let sb = Sandbox::copy("example");
    let select = |extra: &str| {
        let text = sb.read("compartment.yml").replace(
            "        APP_VERSION: \"1.4.2\"\n",
            &format!("        - APP_VERSION\n        - {extra}\n"),
        );
        std::fs::write(sb.file("compartment.yml"), text).unwrap();
    };
    select("API_TOKEN");
    let set = [
        "variable",
        "set",
        "API_TOKEN",
        "--service",
        "api",
        "--sensitive",
        "--stdin",
    ];
    sb.cmd()
        .args(set)
        .stdin("tok-3f9a\n")
        .status(1)
        .stderr("error: `api.API_TOKEN` is selected in services.api.build.env: a sensitive value there would be kept in the image, where `docker history` shows it; remove it from build.env first, or set it without --sensitive if it is not a secret\n")
        .run();
    // Not selected: accepted; selected afterwards: the plan is blocked.
    std::fs::write(
        sb.file("compartment.yml"),
        sb.read("compartment.yml")
            .replace("        - API_TOKEN\n", ""),
    )
    .unwrap();
    sb.cmd()
        .args(set)
        .stdin("tok-3f9a\n")
        .stdout("Set sensitive variable `API_TOKEN`; the next apply restarts what uses it.\n")
        .run();
    std::fs::write(
        sb.file("compartment.yml"),
        sb.read("compartment.yml").replace(
            "        - APP_VERSION\n",
            "        - APP_VERSION\n        - API_TOKEN\n",
        ),
    )
    .unwrap();
    let run = sb.cmd().args(["plan", "--no-color"]).status(1).output();
    let blocked = run.stdout[run.stdout.find("Blocked:").expect("blocked")..].to_string();
    assert_eq!(
        blocked,
        "Blocked:
  ✗ service.api (sensitive-in-build): `api.API_TOKEN` is a sensitive variable and is selected in services.api.build.env: build arguments are kept in the image, where `docker history` shows them
    help: remove `API_TOKEN` from services.api.build.env (the running container receives it), or set it without --sensitive if it is not a secret

Plan: 8 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged; 1 blocked.
"
    );
    assert_eq!(
        run.stderr,
        "error: the plan is blocked by 1 change(s); nothing was written\n"
    );
    assert!(!run.stdout.contains("tok-3f9a"));
}

// ------------------------------------------------------ point 9: hooks

/// Runs a Python program inside a container of `p` and returns its stdout.
fn py(p: &crate::engine::Project, container: &str, code: &str) -> String {
    crate::engine::docker_ok(&["exec", &p.container(container), "python3", "-c", code])
        .trim()
        .to_string()
}

/// Python that signs a storefront hook for the body `{"name":"Forged"}`
/// with the secret of the container it runs in, sends it to the
/// storefront and prints the status (with the refusal's reason).
fn forge(project: &str) -> String {
    format!(
        r#"
import base64, hashlib, hmac, json, os, time, urllib.error, urllib.request, uuid
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
body = b'{{"name":"Forged"}}'
now = int(time.time())
claims = {{"iss": "compartment", "aud": "storefront", "sub": "instance.forged", "jti": str(uuid.uuid4()),
          "project": "{project}", "environment": "production", "service": "storefront",
          "resource_type": "storefront/shop", "instance": "forged", "operation": "create",
          "body_sha256": hashlib.sha256(body).hexdigest(), "iat": now, "exp": now + 60}}
head = b(json.dumps({{"alg": "HS256", "typ": "JWT"}}).encode())
payload = b(json.dumps(claims).encode())
sig = b(hmac.new(os.environ["COMPARTMENT_HOOK_SECRET"].encode(), f"{{head}}.{{payload}}".encode(), hashlib.sha256).digest())
req = urllib.request.Request("http://storefront.production.{project}.service.internal:8080/api/v1/resources/shop",
    data=body, method="POST", headers={{"Authorization": f"Bearer {{head}}.{{payload}}.{{sig}}", "Content-Type": "application/json"}})
try:
    print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e:
    print(e.code, json.loads(e.read())["error"])
"#
    )
}

/// Replays the token of the storefront's `downtown` create hook with its
/// own body, then with another; prints both answers.
const REPLAY: &str = r#"
import json, urllib.error, urllib.request
hooks = json.load(urllib.request.urlopen("http://127.0.0.1:8080/_hooks"))
h = [h for h in hooks if h["claims"]["instance"] == "downtown"][0]
def send(body):
    req = urllib.request.Request("http://127.0.0.1:8080/api/v1/resources/shop", data=body, method="POST",
        headers={"Authorization": "Bearer " + h["token"], "Content-Type": "application/json"})
    try:
        return str(urllib.request.urlopen(req).status)
    except urllib.error.HTTPError as e:
        return f'{e.code} {json.loads(e.read())["error"]}'
print(send(json.dumps(h["body"], separators=(",", ":")).encode()))
print(send(b'{"name":"Evil"}'))
"#;

/// Each hook-receiving service gets a secret of its own: billing cannot
/// sign a hook the storefront accepts (it used to share one secret). A
/// token names its service (`aud`), is unique (`jti`) and carries the
/// SHA-256 of its body, so the example services refuse a replay with the
/// same body and with another.
fn hooks_are_signed_per_service_and_cannot_be_replayed() {
    let p = crate::engine::Project::new("example");
    p.cmd(["apply", "--yes"]).output();
    let secret = |svc: &str| {
        py(
            &p,
            svc,
            "import os; print(os.environ['COMPARTMENT_HOOK_SECRET'])",
        )
    };
    let (shop, billing) = (secret("storefront"), secret("billing"));
    assert!(!shop.is_empty() && !billing.is_empty());
    assert!(shop != billing, "one hook secret per service");
    let hooks: serde_json::Value = serde_json::from_str(&py(
        &p,
        "storefront",
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())",
    ))
    .unwrap();
    let downtown = hooks
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["claims"]["instance"] == "downtown")
        .expect("the storefront verified and kept the downtown hook");
    let claims = &downtown["claims"];
    assert_eq!(claims["aud"], "storefront");
    let body = serde_json::to_vec(&downtown["body"]).unwrap();
    assert_eq!(
        claims["body_sha256"],
        compartment::support::digest::sha256_hex(&body).as_str()
    );
    let jtis: std::collections::BTreeSet<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["claims"]["jti"].as_str().unwrap())
        .collect();
    assert_eq!(
        jtis.len(),
        hooks.as_array().unwrap().len(),
        "every jti is new"
    );
    assert_eq!(
        py(&p, "storefront", REPLAY),
        "401 invalid token: replayed\n401 invalid token: the body is not the one signed"
    );
    // The forging program works with the storefront's own secret ...
    assert_eq!(py(&p, "storefront", &forge(&p.name)), "200");
    // ... and not with billing's.
    assert_eq!(
        py(&p, "billing", &forge(&p.name)),
        "401 invalid token: bad signature"
    );
}

/// A hook-receiving service started by an older version has the
/// environment's shared secret: the next plan restarts it (and only the
/// services that receive hooks) so that it gets its own.
fn services_started_with_the_shared_hook_secret_are_restarted() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    for (name, svc) in st.services.iter_mut() {
        svc.applied.applied_variables = Some(compartment::state::variables_digest(
            &Default::default(),
            name,
            None,
        ));
    }
    sb.store().save(&mut st).unwrap();
    let run = sb.cmd().args(["plan", "--no-color"]).output();
    let changes: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(['+', '~', '-', '!']))
        .collect();
    assert_eq!(
        changes,
        [
            "~ service.billing update: it receives hooks and gets a hook secret of its own (it had the environment's shared one)",
            "~ service.storefront update: it receives hooks and gets a hook secret of its own (it had the environment's shared one)",
        ],
        "{}",
        run.stdout
    );
}
