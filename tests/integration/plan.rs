//! `compartment plan`, `show` and `graph` against states written as if the
//! project had been applied (see `applied`). Whole outputs are compared with
//! the golden files under fixtures/plan/cases/<case>/ (`UPDATE_GOLDEN=1`
//! rewrites them); JSON plans are also checked field by field.

use crate::applied::{binding, secret_value, Sandbox, LINEAGE};
use crate::test::{assert_golden, fixture, Run, Test};
use serde_json::{json, Value};

cases! {
    plain build_context_hash_honours_dockerignore_and_follows_links,
    plain a_new_state_creates_everything_in_dependency_order,
    plain an_applied_unchanged_project_is_all_no_op,
    plain resource_env_change_updates_in_place,
    plain a_changed_secret_read_by_an_output_updates_its_services,
    plain plan_target_scopes_the_plan_and_its_file,
    plain resource_runtime_changes_update_and_never_replace,
    plain resource_image_change_replaces_and_keeps_the_volumes,
    plain service_build_context_change_replaces,
    plain service_build_env_or_path_change_replaces,
    plain service_runtime_changes_update_in_place,
    plain instance_value_change_updates_with_the_update_hook,
    plain instance_type_change_replaces_with_delete_then_create_hooks,
    plain removed_instances_are_deleted_in_reverse_dependency_order,
    plain an_instance_stops_referencing_another_before_that_one_is_deleted,
    plain a_removed_service_is_deleted,
    plain an_instance_whose_type_disappeared_is_orphaned_and_kept,
    plain an_orphan_redeclared_with_another_type_is_replaced_without_the_old_delete_hook,
    plain an_undeclared_resource_blocks_the_plan,
    plain an_undeclared_restored_resource_blocks_with_its_origin,
    plain the_removed_map_turns_the_blocker_into_a_reviewed_delete,
    plain a_removed_resource_still_bound_or_connected_is_refused,
    plain a_renamed_resource_blocks_the_plan,
    plain a_changed_volume_mount_path_blocks_the_plan,
    plain a_direct_variable_and_a_binding_for_one_key_block_the_plan,
    plain a_binding_conflicting_with_a_connection_blocks_the_plan,
    plain a_binding_selected_in_build_env_blocks_the_plan,
    plain a_connection_selected_in_build_env_is_a_descriptor_error,
    plain a_literal_env_key_shadowing_a_generated_variable_is_a_descriptor_error,
    plain generated_variables_are_generated_kept_or_regenerated,
    plain a_removed_generated_value_alone_makes_an_update,
    plain variable_set_and_remove_are_named_by_key_and_masked,
    plain connections_and_bindings_are_shown_as_references,
    plain collection_select_chains_order_instances,
    plain a_reference_cycle_names_every_member,
    plain graph_is_printed_as_dot_and_mermaid,
    plain plan_files_are_deterministic_sorted_and_timeless,
    plain check_passes_for_a_current_plan_and_names_what_differs,
    plain show_renders_a_plan_file_without_the_descriptors,
    plain a_newer_plan_format_is_refused,
    plain detailed_exitcode_is_0_2_or_1,
    plain markdown_has_the_summary_table_first_and_collapsible_details,
    plain a_create_shows_its_definition_in_every_format_without_a_secret,
    plain markdown_of_a_huge_plan_stays_under_60000_characters_with_a_note,
    plain a_plan_never_contains_a_secret_and_needs_no_key,
    plain sensitive_instance_values_are_masked_in_diffs,
}

/// The whole of a run, for a golden file: command, exit code, stdout and
/// stderr.
fn transcript(args: &[&str], run: &Run) -> String {
    let mut s = format!("$ compartment {}\nexit {}\n", args.join(" "), run.status);
    if !run.stdout.is_empty() {
        s.push_str("--- stdout\n");
        s.push_str(&run.stdout);
    }
    if !run.stderr.is_empty() {
        s.push_str("--- stderr\n");
        s.push_str(&run.stderr);
    }
    s
}

/// Runs `args` in the sandbox, expects `status`, compares the transcript
/// with fixtures/plan/cases/<case>/<file>.
fn session(sb: &Sandbox, case: &str, file: &str, args: &[&str], status: i32) -> Run {
    let run = sb.cmd().args(args).status(status).output();
    golden(case, file, &transcript(args, &run));
    run
}

fn golden(case: &str, file: &str, actual: &str) {
    let dir = fixture("plan/cases").join(case);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
    }
    assert_golden(&dir.join(file), actual);
}

/// `plan --json` in the sandbox (any exit status), parsed.
fn plan_json(sb: &Sandbox) -> Value {
    let run = sb.cmd().args(["plan", "--json"]).status(None).output();
    assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", run.stdout));
    assert_valid_order(&plan);
    plan
}

/// The entries of a change's diff that change something.
fn changed(c: &Value) -> Value {
    let d = c["diff"].as_array().unwrap();
    Value::Array(
        d.iter()
            .filter(|f| f.get("unchanged").is_none())
            .cloned()
            .collect(),
    )
}

/// The paths a replace lists as unchanged (its before equals its after).
fn unchanged(c: &Value) -> Vec<String> {
    let d = c["diff"].as_array().unwrap();
    d.iter()
        .filter(|f| f["unchanged"] == true)
        .inspect(|f| assert_eq!(f["before"], f["after"], "{f}"))
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn change<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address} in {plan:#}"))
}

fn action(plan: &Value, address: &str) -> String {
    change(plan, address)["action"]
        .as_str()
        .unwrap()
        .to_string()
}

fn addresses(plan: &Value) -> Vec<String> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect()
}

/// `changes` is a valid execution order: every `depends_on` entry is a
/// change listed earlier.
fn assert_valid_order(plan: &Value) {
    let order = addresses(plan);
    for (i, c) in plan["changes"].as_array().unwrap().iter().enumerate() {
        for d in c["depends_on"].as_array().unwrap() {
            let d = d.as_str().unwrap();
            let j = order
                .iter()
                .position(|a| a == d)
                .unwrap_or_else(|| panic!("{} depends on {d}, not in the plan", c["address"]));
            assert!(
                j < i,
                "{} is listed before its dependency {d}",
                c["address"]
            );
        }
    }
}

fn blocked_reasons(plan: &Value) -> Vec<(String, String)> {
    plan["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["address"].as_str().unwrap().to_string(),
                b["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A blocked plan exits 1 in every format and `--out` writes nothing.
fn assert_blocked_writes_nothing(sb: &Sandbox) {
    let run = sb
        .cmd()
        .args(["plan", "--out", "plans/production.json"])
        .status(1)
        .output();
    assert!(
        run.stderr.contains("the plan is blocked") && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!sb.file("plans/production.json").exists());
    assert!(!sb.file("plans").exists(), "not even the directory");
    sb.cmd()
        .args(["plan", "--detailed-exitcode", "--format", "markdown"])
        .status(1)
        .output();
    sb.cmd().args(["plan", "--json"]).status(1).output();
}

// ---------------------------------------------------------------- actions

fn a_new_state_creates_everything_in_dependency_order() {
    let sb = Sandbox::copy("example");
    session(&sb, "create", "expected.txt", &["plan", "--no-color"], 0);
    let run = sb.cmd().args(["plan", "--json"]).output();
    golden("create", "expected.json", &run.stdout);
    let plan = plan_json(&sb);
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["prior_state"], json!({"lineage": null, "serial": 0}));
    assert_eq!(
        addresses(&plan),
        [
            "resource.cache",
            "resource.db",
            "service.api",
            "service.billing",
            "service.storefront",
            "instance.downtown",
            "instance.order-hook",
            "instance.uptown"
        ]
    );
    for c in plan["changes"].as_array().unwrap() {
        assert_eq!(c["action"], "create", "{c}");
    }
    assert_eq!(
        change(&plan, "service.api")["depends_on"],
        json!(["resource.cache", "resource.db"])
    );
    assert_eq!(
        change(&plan, "instance.order-hook")["depends_on"],
        json!(["instance.downtown", "service.billing"]),
        "direct dependencies only: not service.storefront through downtown"
    );
    assert_eq!(
        plan["summary"],
        json!({"create": 8, "update": 0, "replace": 0, "delete": 0, "no_op": 0, "blocked": 0})
    );
}

fn an_applied_unchanged_project_is_all_no_op() {
    let sb = Sandbox::copy("example");
    sb.apply();
    session(&sb, "no-op", "expected.txt", &["plan", "--no-color"], 0);
    sb.cmd()
        .args(["plan", "--detailed-exitcode"])
        .status(0)
        .output();
    let plan = plan_json(&sb);
    assert_eq!(plan["prior_state"]["lineage"], LINEAGE);
    assert_eq!(plan["prior_state"]["serial"], 1);
    assert_deployed_digests(&plan["prior_state"]);
    for c in plan["changes"].as_array().unwrap() {
        assert_eq!(c["action"], "no-op", "{c}");
        assert!(c.get("diff").is_none(), "{c}");
        assert!(c.get("hooks").is_none(), "{c}");
    }
    assert_eq!(plan["summary"]["no_op"], 8);
}

fn resource_env_change_updates_in_place() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: tools_v2",
    );
    session(
        &sb,
        "resource-update",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    assert_eq!(action(&plan, "resource.db"), "update");
    assert_eq!(
        change(&plan, "resource.db")["diff"],
        json!([{"path": "env.POSTGRES_DB", "before": "tools", "after": "tools_v2"}])
    );
    // The services whose connection reads `${env.POSTGRES_DB}` through
    // db.connection-url are updated, and say why.
    for service in ["service.api", "service.storefront"] {
        let c = change(&plan, service);
        assert_eq!(c["action"], "update", "{c:#}");
        assert_eq!(
            c["reason"],
            "DATABASE_URL (from db.connection-url) changes because resource.db env.POSTGRES_DB changed"
        );
        assert_eq!(
            c["diff"],
            json!([{"path": "inputs.DATABASE_URL.env.POSTGRES_DB", "before": "tools", "after": "tools_v2"}])
        );
    }
    assert_eq!(action(&plan, "service.billing"), "no-op");
    assert_eq!(plan["summary"]["update"], 3);
}

/// A regenerated or re-set runtime variable that an output reads cascades
/// to the connected services as a masked change, with no value and no
/// digest in the plan.
fn a_changed_secret_read_by_an_output_updates_its_services() {
    let sb = Sandbox::copy("example");
    sb.apply();
    // `variable set` on the resource: a new sealed value.
    sb.change_state(|st| {
        let key = compartment::state::secrets::SecretKey::from_text(crate::applied::KEY);
        let v = st
            .variables
            .resource
            .get_mut("db")
            .unwrap()
            .get_mut("POSTGRES_PASSWORD")
            .unwrap();
        v.sealed = Some(key.seal(
            "resource/db/POSTGRES_PASSWORD",
            "another-PLAINTEXT-d0n0tl3ak",
        ));
    });
    let plan = plan_json(&sb);
    let c = change(&plan, "service.api");
    assert_eq!(c["action"], "update", "{c:#}");
    assert_eq!(
        c["reason"],
        "DATABASE_URL (from db.connection-url) changes because resource.db POSTGRES_PASSWORD has a new value"
    );
    assert_eq!(
        c["diff"],
        json!([{
            "path": "inputs.DATABASE_URL.variables.POSTGRES_PASSWORD",
            "before": "(sensitive, applied)",
            "after": "(sensitive, has a new value)",
            "sensitive": true
        }])
    );
    // The value is regenerated (removed from the state): pending.
    sb.change_state(|st| {
        st.variables
            .resource
            .get_mut("db")
            .unwrap()
            .remove("POSTGRES_PASSWORD");
    });
    let plan = plan_json(&sb);
    assert_eq!(
        change(&plan, "service.storefront")["reason"],
        "DATABASE_URL (from db.connection-url) changes because resource.db POSTGRES_PASSWORD will be generated"
    );
    let text = sb.cmd().args(["plan", "--json"]).output().stdout;
    assert!(!text.contains("d0n0tl3ak"), "{text}");
    // The cache's non-sensitive outputs read no variable: api's CACHE_*
    // inputs are unchanged.
    assert!(!text.contains("inputs.CACHE"), "{text}");
}

fn resource_runtime_changes_update_and_never_replace() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "restart: unless-stopped",
        "restart: always",
    )
    .edit(
        "compartment.yml",
        "      timeoutMs: 10000",
        "      timeoutMs: 20000",
    )
    .edit(
        "compartment.yml",
        "      data: /data\n",
        "      data: /data\n      logs: /logs\n",
    )
    .edit(
        "compartment.yml",
        r#"command: ["nc", "-ll", "-p", "6379", "-e", "/bin/cat"]"#,
        r#"command: ["nc", "-lk", "-p", "6380", "-e", "/bin/cat"]"#,
    )
    .edit("compartment.yml", "CACHE_MODE: echo", "CACHE_MODE: loud");
    let plan = plan_json(&sb);
    let c = change(&plan, "resource.cache");
    assert_eq!(c["action"], "update", "{c:#}");
    let paths: Vec<&str> = c["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "command",
            "env.CACHE_MODE",
            "readiness.timeoutMs",
            "restart",
            "volumes.logs"
        ]
    );
    assert!(c["diff"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("forces_replacement").is_none()));
}

fn resource_image_change_replaces_and_keeps_the_volumes() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "image: compartment-test/busybox:1",
        "image: compartment-test/busybox:2",
    );
    session(
        &sb,
        "resource-replace",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "resource.cache");
    assert_eq!(c["action"], "replace");
    // The rest of its definition is listed as unchanged (the plan file
    // holds what a replace creates), never shown as a change.
    let kept = unchanged(c);
    assert!(
        kept.contains(&"volumes.data".to_string()) && kept.contains(&"env.CACHE_MODE".to_string()),
        "{kept:?}"
    );
    assert_eq!(
        changed(c),
        json!([{
            "path": "image",
            "before": "compartment-test/busybox:1",
            "after": "compartment-test/busybox:2",
            "forces_replacement": true
        }])
    );
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("`image` changed") && reason.contains("volume data is kept"),
        "{reason}"
    );
    // A replace keeps the generated variables too.
    assert_eq!(c["generated"], json!({"CACHE_PASSWORD": "keep"}));
}

/// The image tag's context hash covers what is sent to the engine: an
/// ignored file does not count, a linked file's content does.
fn build_context_hash_honours_dockerignore_and_follows_links() {
    let sb = Sandbox::copy("example");
    sb.write("services/api/.dockerignore", "*.log\n");
    sb.write("services/api/debug.log", "one");
    sb.write("shared/app.conf", "one");
    std::os::unix::fs::symlink(sb.file("shared/app.conf"), sb.file("services/api/app.conf"))
        .unwrap();
    sb.apply();
    sb.write("services/api/debug.log", "two");
    assert_eq!(action(&plan_json(&sb), "service.api"), "no-op");
    sb.write("shared/app.conf", "two");
    let plan = plan_json(&sb);
    let c = change(&plan, "service.api");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert_eq!(
        c["reason"], "the build context changed (image will be rebuilt)",
        "{c:#}"
    );
}

fn service_build_context_change_replaces() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let dockerfile = sb.read("services/api/Dockerfile");
    sb.write(
        "services/api/Dockerfile",
        &format!("{dockerfile}LABEL changed=yes\n"),
    );
    session(
        &sb,
        "service-replace-context",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "service.api");
    assert_eq!(c["action"], "replace");
    assert_eq!(
        c["reason"],
        "the build context changed (image will be rebuilt)"
    );
    assert_eq!(c["diff"][0]["path"], "contextHash");
    assert_eq!(c["diff"][0]["forces_replacement"], true);
    // No input file changed (the Dockerfile is a build context, not a descriptor).
    assert_eq!(action(&plan, "service.storefront"), "no-op");
}

fn service_build_env_or_path_change_replaces() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        r#"APP_VERSION: "1.4.2""#,
        r#"APP_VERSION: "1.5.0""#,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "service.api");
    assert_eq!(c["action"], "replace");
    assert_eq!(
        changed(c),
        json!([{"path": "build.env.APP_VERSION", "before": "1.4.2", "after": "1.5.0", "forces_replacement": true}])
    );
    assert_eq!(unchanged(c), ["contextHash", "path"]);

    let sb = Sandbox::copy("example");
    sb.apply();
    crate::applied::copy_dir(&sb.file("services/billing"), &sb.file("services/billing2"));
    sb.edit(
        "compartment.yml",
        "path: services/billing",
        "path: services/billing2",
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "service.billing");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert_eq!(c["diff"][0]["path"], "path");
    assert_eq!(c["diff"][0]["forces_replacement"], true);
}

fn service_runtime_changes_update_in_place() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "  billing:\n    path: services/billing\n    ingress:\n      port: 8080",
        "  billing:\n    path: services/billing\n    ingress:\n      port: 9090",
    )
    .edit(
        "compartment.yml",
        "          DATABASE_URL: connection-url\n  billing:",
        "          DATABASE_URL: connection-url\n      cache:\n        env:\n          CACHE_HOST: host\n  billing:",
    );
    session(
        &sb,
        "service-update",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    assert_eq!(action(&plan, "service.billing"), "update");
    assert_eq!(
        change(&plan, "service.billing")["diff"],
        json!([{"path": "ingress.port", "before": 8080, "after": 9090}])
    );
    let s = change(&plan, "service.storefront");
    assert_eq!(s["action"], "update");
    assert_eq!(s["depends_on"], json!(["resource.cache", "resource.db"]));
    assert_eq!(
        s["connections"],
        json!([
            "storefront.CACHE_HOST ← cache.host",
            "storefront.DATABASE_URL ← db.connection-url"
        ])
    );
}

fn instance_value_change_updates_with_the_update_hook() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit("compartment.yml", "opening_hour: 9", "opening_hour: 10");
    session(
        &sb,
        "instance-update",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "instance.downtown");
    assert_eq!(c["action"], "update");
    assert_eq!(
        c["hooks"],
        json!([{"operation": "update", "method": "PUT", "path": "/api/v1/resources/shop", "service": "storefront"}])
    );
    // order-hook reads downtown's opening_hour: its properties change too;
    // its type declares no update hook, so none fires.
    let o = change(&plan, "instance.order-hook");
    assert_eq!(o["action"], "update");
    assert_eq!(
        o["diff"],
        json!([{"path": "properties.shop.opening_hour", "before": 9, "after": 10}])
    );
    assert!(o.get("hooks").is_none());
    assert_eq!(action(&plan, "instance.uptown"), "no-op");
}

fn instance_type_change_replaces_with_delete_then_create_hooks() {
    let sb = Sandbox::copy("plan/projects/catalog");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "  alpha:\n    type: shelf/bundle",
        "  alpha:\n    type: shelf/item",
    );
    session(
        &sb,
        "instance-replace",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "instance.alpha");
    assert_eq!(c["action"], "replace");
    assert_eq!(
        c["hooks"],
        json!([
            {"operation": "delete", "method": "DELETE", "path": "/bundles", "service": "shelf"},
            {"operation": "create", "method": "POST", "path": "/items", "service": "shelf"}
        ])
    );
    assert_eq!(
        c["diff"][0],
        json!({"path": "type", "before": "shelf/bundle", "after": "shelf/item", "forces_replacement": true})
    );
}

fn removed_instances_are_deleted_in_reverse_dependency_order() {
    let sb = Sandbox::copy("plan/projects/catalog");
    sb.apply();
    let yml = sb.read("compartment.yml");
    let cut = yml.find("instances:").unwrap();
    sb.write(
        "compartment.yml",
        &format!(
            "{}instances:\n  alpha:\n    type: shelf/bundle\n    values:\n      name: Alpha\n",
            &yml[..cut]
        ),
    );
    session(
        &sb,
        "instance-delete",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        addresses(&plan),
        [
            "service.shelf",
            "instance.alpha",
            "instance.xray",
            "instance.yankee",
            "instance.zulu"
        ]
    );
    // Reversed: the referencing instance goes first; each delete also waits
    // for the owning service, which receives the delete hook.
    assert_eq!(
        change(&plan, "instance.xray")["depends_on"],
        json!(["service.shelf"])
    );
    assert_eq!(
        change(&plan, "instance.yankee")["depends_on"],
        json!(["instance.xray", "service.shelf"])
    );
    assert_eq!(
        change(&plan, "instance.zulu")["depends_on"],
        json!(["instance.yankee", "service.shelf"])
    );
    for a in ["instance.xray", "instance.yankee", "instance.zulu"] {
        assert_eq!(action(&plan, a), "delete");
        assert_eq!(
            change(&plan, a)["hooks"],
            json!([{"operation": "delete", "method": "DELETE", "path": "/items", "service": "shelf"}])
        );
    }
}

fn an_instance_stops_referencing_another_before_that_one_is_deleted() {
    // yankee keeps existing but no longer points at zulu, which is removed:
    // the update of yankee must run before the delete of zulu.
    let sb = Sandbox::copy("plan/projects/catalog");
    sb.apply();
    sb.edit("compartment.yml", "      parent: zulu\n", "");
    let yml = sb.read("compartment.yml");
    let start = yml.find("  zulu:\n").unwrap();
    let end = yml.find("  yankee:\n").unwrap();
    sb.write(
        "compartment.yml",
        &format!("{}{}", &yml[..start], &yml[end..]),
    );
    let plan = plan_json(&sb);
    assert_eq!(action(&plan, "instance.yankee"), "update");
    assert_eq!(action(&plan, "instance.zulu"), "delete");
    assert_eq!(
        change(&plan, "instance.zulu")["depends_on"],
        json!(["instance.yankee", "service.shelf"])
    );
}

fn a_removed_service_is_deleted() {
    let sb = Sandbox::copy("example");
    sb.apply();
    let yml = sb.read("compartment.yml");
    let start = yml.find("  api:\n").unwrap();
    let end = yml.find("  storefront:\n").unwrap();
    sb.write(
        "compartment.yml",
        &format!("{}{}", &yml[..start], &yml[end..]),
    );
    session(
        &sb,
        "service-delete",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "service.api");
    assert_eq!(c["action"], "delete");
    assert_eq!(c["reason"], "no longer declared in compartment.yml");
}

// ---------------------------------------------------------------- orphans

fn an_instance_whose_type_disappeared_is_orphaned_and_kept() {
    let sb = Sandbox::copy("example");
    sb.apply();
    // billing stops declaring the webhook type, and the instance goes too.
    sb.write("services/billing/platz/resources.yaml", "[]\n");
    let yml = sb.read("compartment.yml");
    let start = yml.find("  order-hook:\n").unwrap();
    sb.write("compartment.yml", &yml[..start]);
    session(&sb, "orphaned", "expected.txt", &["plan", "--no-color"], 0);
    let plan = plan_json(&sb);
    assert_eq!(plan["blocked"], json!([]));
    assert_eq!(
        plan["warnings"][0]["address"], "instance.order-hook",
        "{plan:#}"
    );
    assert_eq!(plan["warnings"][0]["reason"], "orphaned");
    assert!(
        !addresses(&plan).contains(&"instance.order-hook".to_string()),
        "an orphan is neither deleted nor planned"
    );
    // Not blocked: the plan can be saved.
    sb.cmd()
        .args(["plan", "--out", "plan.json", "--detailed-exitcode"])
        .status(0)
        .output();
    assert!(sb.file("plan.json").is_file());
}

fn an_orphan_redeclared_with_another_type_is_replaced_without_the_old_delete_hook() {
    let sb = Sandbox::copy("plan/projects/catalog");
    sb.apply();
    // The bundle type goes away; alpha is re-declared as an item.
    let types = sb.read("services/shelf/platz/resources.yaml");
    let cut = types
        .find("- apiVersion: platz.io/v1beta1\n  kind: ResourceType\n  key: bundle")
        .unwrap();
    sb.write("services/shelf/platz/resources.yaml", &types[..cut]);
    sb.edit(
        "compartment.yml",
        "  alpha:\n    type: shelf/bundle",
        "  alpha:\n    type: shelf/item",
    );
    let plan = plan_json(&sb);
    let c = change(&plan, "instance.alpha");
    assert_eq!(c["action"], "replace", "{plan:#}");
    assert_eq!(
        c["hooks"],
        json!([{"operation": "create", "method": "POST", "path": "/items", "service": "shelf"}]),
        "the old type's delete hook is gone with it, and the new type's is not its"
    );
    assert_eq!(plan["warnings"][0]["address"], "instance.alpha");
    assert_eq!(plan["warnings"][0]["reason"], "type-removed");
}

// --------------------------------------------------------------- blockers

fn an_undeclared_resource_blocks_the_plan() {
    let sb = Sandbox::copy("example");
    sb.apply();
    // Drop the cache resource (and the api's connection to it).
    sb.edit(
        "compartment.yml",
        "      cache:\n        env:\n          CACHE_HOST: host\n          CACHE_PORT: port\n",
        "",
    );
    let yml = sb.read("compartment.yml");
    let start = yml.find("  # The expanded form.").unwrap();
    let end = yml.find("instances:").unwrap();
    sb.write(
        "compartment.yml",
        &format!("{}\n{}", &yml[..start], &yml[end..]),
    );
    session(
        &sb,
        "blocked-undeclared",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("resource.cache".to_string(), "undeclared".to_string())]
    );
    let help = plan["blocked"][0]["help"].as_str().unwrap();
    assert!(
        help.contains("compartment resource delete --resource cache")
            && help.contains("--delete-data"),
        "{help}"
    );
    assert_blocked_writes_nothing(&sb);
}

/// The example without its cache resource (and the api's connection to
/// it), as `an_undeclared_resource_blocks_the_plan` leaves it.
fn drop_cache(sb: &Sandbox) {
    sb.edit(
        "compartment.yml",
        "      cache:\n        env:\n          CACHE_HOST: host\n          CACHE_PORT: port\n",
        "",
    );
    let yml = sb.read("compartment.yml");
    let start = yml.find("  # The expanded form.").unwrap();
    let end = yml.find("instances:").unwrap();
    sb.write(
        "compartment.yml",
        &format!("{}\n{}", &yml[..start], &yml[end..]),
    );
}

/// `removed: {cache: …}` makes the undeclared cache a planned delete:
/// volumes kept by default, deleted (and said so) with `deleteData`, in
/// the plan file reviewers approve; an entry for a resource the
/// environment lacks is a warning, one for a declared resource an error.
fn the_removed_map_turns_the_blocker_into_a_reviewed_delete() {
    let sb = Sandbox::copy("example");
    sb.apply();
    drop_cache(&sb);
    let yml = sb.read("compartment.yml");
    sb.write(
        "compartment.yml",
        &format!("{yml}\nremoved:\n  cache:\n    deleteData: false\n  old-queue: {{}}\n"),
    );
    session(&sb, "removed", "keep.txt", &["plan", "--no-color"], 0);
    let plan = plan_json(&sb);
    let c = change(&plan, "resource.cache");
    assert_eq!(c["action"], "delete", "{plan:#}");
    assert_eq!(c["volumes"].as_object().unwrap().len(), 1, "{c:#}");
    assert!(c["volumes"]
        .as_object()
        .unwrap()
        .values()
        .all(|f| f == "keep"));
    // The connection is dropped first: the api changes before cache goes.
    assert_eq!(c["depends_on"], json!(["service.api"]), "{c:#}");
    assert_eq!(plan["warnings"][0]["reason"], "removed-absent");
    sb.edit("compartment.yml", "deleteData: false", "deleteData: true");
    session(
        &sb,
        "removed",
        "delete-data.txt",
        &["plan", "--no-color"],
        0,
    );
    let run = sb.cmd().args(["plan", "--out", "plan.json"]).output();
    assert_eq!(run.status, 0, "{}", run.stderr);
    let file: Value = serde_json::from_str(&sb.read("plan.json")).unwrap();
    assert!(change(&file, "resource.cache")["volumes"]
        .as_object()
        .unwrap()
        .values()
        .all(|f| f == "delete"));
    // Declared and removed at once is a located error.
    sb.edit("compartment.yml", "  old-queue: {}", "  db: {}");
    let run = sb.cmd().args(["validate"]).status(1).output();
    assert!(
        run.stderr.contains("error[removed-declared]")
            && run.stderr.contains(
                "resource `db` is both declared under `resources` and listed under `removed`"
            )
            && run.stderr.contains("compartment.yml:"),
        "{}",
        run.stderr
    );
}

/// A resource listed under `removed` that a service still reads: a
/// connection is a descriptor error that says so, a binding blocks.
fn a_removed_resource_still_bound_or_connected_is_refused() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    st.bindings
        .entry("billing".into())
        .or_default()
        .insert("CACHE_URL".into(), binding("cache", "url"));
    sb.save(&mut st);
    drop_cache(&sb);
    let yml = sb.read("compartment.yml");
    sb.write("compartment.yml", &format!("{yml}\nremoved:\n  cache:\n"));
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("service.billing".to_string(), "removed-in-use".to_string())]
    );
    let help = plan["blocked"][0]["help"].as_str().unwrap();
    assert!(
        help.contains("compartment variable remove CACHE_URL --service billing"),
        "{help}"
    );
    assert_blocked_writes_nothing(&sb);
    // Keep the api's connection to cache: a located descriptor error.
    let sb = Sandbox::copy("example");
    sb.apply();
    let yml = sb.read("compartment.yml");
    let start = yml.find("  # The expanded form.").unwrap();
    let end = yml.find("instances:").unwrap();
    sb.write(
        "compartment.yml",
        &format!(
            "{}\n{}\nremoved:\n  cache: {{}}\n",
            &yml[..start],
            &yml[end..]
        ),
    );
    let run = sb.cmd().args(["plan"]).status(1).output();
    assert!(
        run.stderr.contains("error[unknown-resource]")
            && run
                .stderr
                .contains("`cache` is listed under `removed`: drop this connection"),
        "{}",
        run.stderr
    );
}

fn an_undeclared_restored_resource_blocks_with_its_origin() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    let mut restored = st.resources["db"].clone();
    restored.origin = compartment::state::Origin::Restore;
    st.resources.insert("db-restored".into(), restored);
    sb.save(&mut st);
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("resource.db-restored".to_string(), "undeclared".to_string())]
    );
    assert!(plan["blocked"][0]["message"]
        .as_str()
        .unwrap()
        .contains("created by `resource backup restore --as`"));
    assert_blocked_writes_nothing(&sb);
}

fn a_renamed_resource_blocks_the_plan() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "      cache:\n        env:\n          CACHE_HOST",
        "      kv:\n        env:\n          CACHE_HOST",
    )
    .edit(
        "compartment.yml",
        "  cache:\n    image:",
        "  kv:\n    image:",
    );
    session(
        &sb,
        "blocked-rename",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("resource.cache".to_string(), "rename".to_string())]
    );
    assert_eq!(action(&plan, "resource.kv"), "create");
    assert_blocked_writes_nothing(&sb);
}

fn a_changed_volume_mount_path_blocks_the_plan() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "      data: /data\n",
        "      data: /srv/data\n",
    );
    session(
        &sb,
        "blocked-volume-path",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("resource.cache".to_string(), "volume-path".to_string())]
    );
    assert_blocked_writes_nothing(&sb);
}

fn a_direct_variable_and_a_binding_for_one_key_block_the_plan() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    st.bindings
        .entry("billing".into())
        .or_default()
        .insert("CACHE_URL".into(), binding("cache", "url"));
    for (svc, key) in [("billing", "CACHE_URL"), ("api", "DATABASE_URL")] {
        st.variables.service.entry(svc.into()).or_default().insert(
            key.into(),
            compartment::state::Variable {
                sensitive: false,
                generated: false,
                value: Some("set-directly".into()),
                sealed: None,
            },
        );
    }
    sb.save(&mut st);
    session(
        &sb,
        "blocked-binding-conflict",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [
            ("service.api".to_string(), "binding-conflict".to_string()),
            (
                "service.billing".to_string(),
                "binding-conflict".to_string()
            )
        ]
    );
    assert_blocked_writes_nothing(&sb);
}

fn a_binding_conflicting_with_a_connection_blocks_the_plan() {
    let sb = Sandbox::copy("example");
    let mut st = sb.applied_state();
    st.bindings
        .entry("api".into())
        .or_default()
        .insert("DATABASE_URL".into(), binding("cache", "url"));
    sb.save(&mut st);
    session(
        &sb,
        "blocked-connection-conflict",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("service.api".to_string(), "connection-conflict".to_string())]
    );
    assert_blocked_writes_nothing(&sb);
}

fn a_binding_selected_in_build_env_blocks_the_plan() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "    build:\n      env:\n        APP_VERSION: \"1.4.2\"",
        "    build:\n      env: [CACHE_URL]",
    );
    sb.change_state(|st| {
        st.bindings
            .entry("api".into())
            .or_default()
            .insert("CACHE_URL".into(), binding("cache", "url"));
    });
    session(
        &sb,
        "blocked-binding-in-build",
        "expected.txt",
        &["plan", "--no-color"],
        1,
    );
    let plan = plan_json(&sb);
    assert_eq!(
        blocked_reasons(&plan),
        [("service.api".to_string(), "binding-in-build".to_string())]
    );
    assert_blocked_writes_nothing(&sb);
}

fn a_connection_selected_in_build_env_is_a_descriptor_error() {
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "    build:\n      env:\n        APP_VERSION: \"1.4.2\"",
        "    build:\n      env: [DATABASE_URL]",
    );
    let run = sb.cmd().args(["plan", "--no-color"]).status(1).output();
    assert!(
        run.stderr.contains("error[connection-in-build]"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

fn a_literal_env_key_shadowing_a_generated_variable_is_a_descriptor_error() {
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "      CACHE_MODE: echo\n",
        "      CACHE_MODE: echo\n      CACHE_PASSWORD: literal\n",
    );
    let run = sb.cmd().args(["plan", "--no-color"]).status(1).output();
    assert!(
        run.stderr.contains("error[env-shadows-generated]"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

// ----------------------------------------------- generated and connections

fn generated_variables_are_generated_kept_or_regenerated() {
    let sb = Sandbox::copy("example");
    sb.apply();
    // The stored CACHE_PASSWORD is gone; a new generated variable appears.
    sb.change_state(|st| {
        st.variables
            .resource
            .get_mut("cache")
            .unwrap()
            .remove("CACHE_PASSWORD");
    });
    sb.edit(
        "compartment.yml",
        "    generatedVariables:\n      CACHE_PASSWORD:",
        "    generatedVariables:\n      CACHE_SALT:\n        generator: token\n        bytes: 16\n        encoding: hex\n      CACHE_PASSWORD:",
    );
    session(&sb, "generated", "expected.txt", &["plan", "--no-color"], 0);
    let plan = plan_json(&sb);
    assert_eq!(
        change(&plan, "resource.cache")["generated"],
        json!({"CACHE_PASSWORD": "regenerate", "CACHE_SALT": "generate"})
    );
    assert_eq!(
        change(&plan, "resource.db")["generated"],
        json!({"POSTGRES_PASSWORD": "keep"})
    );
    assert_eq!(action(&plan, "resource.db"), "no-op");
}

fn a_removed_generated_value_alone_makes_an_update() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.change_state(|st| {
        st.variables.resource.get_mut("db").unwrap().clear();
    });
    let plan = plan_json(&sb);
    let c = change(&plan, "resource.db");
    assert_eq!(c["action"], "update");
    assert_eq!(
        c["reason"],
        "generated variable `POSTGRES_PASSWORD` was removed and will be regenerated"
    );
    assert_eq!(c["generated"], json!({"POSTGRES_PASSWORD": "regenerate"}));
}

/// `variable set` and `variable remove` after an apply: the plan names
/// each key, shows a plain value, masks a sensitive one and shows a
/// binding as the output it reads.
fn variable_set_and_remove_are_named_by_key_and_masked() {
    use compartment::state::{service_variables_digest, variable_versions, Variable};
    let sb = Sandbox::copy("example");
    let plain = |v: &str| Variable {
        sensitive: false,
        generated: false,
        value: Some(v.into()),
        sealed: None,
    };
    // As applied: billing started with LOG_LEVEL=info and OLD_FLAG=1.
    let mut st = sb.applied_state();
    let vars = st.variables.service.entry("billing".into()).or_default();
    vars.insert("LOG_LEVEL".into(), plain("info"));
    vars.insert("OLD_FLAG".into(), plain("1"));
    let svc = &st.variables.service;
    let digest = service_variables_digest(svc, "billing", None, true);
    let versions = variable_versions(svc, "billing", None);
    let applied = &mut st.services.get_mut("billing").unwrap().applied;
    applied.applied_variables = Some(digest);
    applied.variable_versions = Some(versions);
    // Then: LOG_LEVEL changed, OLD_FLAG removed, a secret and a binding set.
    let vars = st.variables.service.get_mut("billing").unwrap();
    vars.insert("LOG_LEVEL".into(), plain("debug"));
    vars.remove("OLD_FLAG");
    let key = compartment::state::secrets::SecretKey::from_text(crate::applied::KEY);
    let sealed = key.seal("service/billing/API_TOKEN", "tok-9f2c-secret");
    vars.insert(
        "API_TOKEN".into(),
        Variable {
            sensitive: true,
            generated: false,
            value: None,
            sealed: Some(sealed),
        },
    );
    st.bindings
        .entry("billing".into())
        .or_default()
        .insert("CACHE_URL".into(), binding("cache", "url"));
    sb.save(&mut st);
    let run = session(&sb, "variables", "expected.txt", &["plan", "--no-color"], 0);
    assert!(!run.stdout.contains("tok-9f2c-secret"));
    let plan = plan_json(&sb);
    let c = change(&plan, "service.billing");
    assert_eq!(
        c["reason"],
        "runtime variables: `API_TOKEN` was set, `CACHE_URL` was set, `LOG_LEVEL` changed, `OLD_FLAG` was removed"
    );
}

fn connections_and_bindings_are_shown_as_references() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.change_state(|st| {
        st.bindings
            .entry("billing".into())
            .or_default()
            .insert("CACHE_URL".into(), binding("cache", "url"));
    });
    let plan = plan_json(&sb);
    assert_eq!(
        change(&plan, "service.api")["connections"],
        json!([
            "api.CACHE_HOST ← cache.host",
            "api.CACHE_PORT ← cache.port",
            "api.DATABASE_URL ← db.connection-url"
        ])
    );
    let b = change(&plan, "service.billing");
    assert_eq!(
        b["connections"],
        json!(["billing.CACHE_URL ← cache.url (variable binding)"])
    );
    assert_eq!(b["depends_on"], json!(["resource.cache"]));
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("redis://"), "no resolved connection value");
    assert!(
        !text.contains("postgres://"),
        "no resolved connection value"
    );
}

// ------------------------------------------------------- order and cycles

fn collection_select_chains_order_instances() {
    let sb = Sandbox::copy("plan/projects/catalog");
    session(&sb, "chain", "expected.txt", &["plan", "--no-color"], 0);
    let plan = plan_json(&sb);
    assert_eq!(
        addresses(&plan),
        [
            "service.shelf",
            "instance.alpha",
            "instance.zulu",
            "instance.yankee",
            "instance.xray"
        ]
    );
    assert_eq!(
        change(&plan, "instance.xray")["depends_on"],
        json!(["instance.yankee", "service.shelf"])
    );
}

fn a_reference_cycle_names_every_member() {
    let sb = Sandbox::copy("plan/projects/catalog");
    sb.edit(
        "compartment.yml",
        "  zulu:\n    type: shelf/item\n    values:\n      name: Zulu\n",
        "  zulu:\n    type: shelf/item\n    values:\n      name: Zulu\n      parent: xray\n",
    );
    let run = session(&sb, "cycle", "expected.txt", &["plan", "--no-color"], 1);
    for m in ["xray", "yankee", "zulu"] {
        assert!(run.stderr.contains(&format!("`{m}`")), "{}", run.stderr);
    }
    sb.cmd()
        .args(["plan", "--detailed-exitcode"])
        .status(1)
        .output();
    sb.cmd().args(["graph"]).status(1).output();
}

fn graph_is_printed_as_dot_and_mermaid() {
    let sb = Sandbox::copy("example");
    session(
        &sb,
        "graph",
        "expected-dot.txt",
        &["graph", "--format", "dot"],
        0,
    );
    session(
        &sb,
        "graph",
        "expected-mermaid.txt",
        &["graph", "--format", "mermaid"],
        0,
    );
    let dot = sb.cmd().args(["graph"]).output();
    assert!(dot.stdout.starts_with("digraph compartment {"));
}

// ------------------------------------------------- plan files and output

fn plan_files_are_deterministic_sorted_and_timeless() {
    let a = Sandbox::copy("example");
    let b = Sandbox::copy("example");
    a.apply();
    // Another checkout of the same commit: the same (committed) state file.
    let state = std::fs::read(a.state_path()).unwrap();
    std::fs::create_dir_all(b.state_path().parent().unwrap()).unwrap();
    std::fs::write(b.state_path(), state).unwrap();
    for sb in [&a, &b] {
        sb.edit("compartment.yml", "opening_hour: 9", "opening_hour: 10");
        sb.cmd().args(["plan", "--out", "plans/one.json"]).output();
        sb.cmd().args(["plan", "--out", "plans/two.json"]).output();
    }
    let one = a.read("plans/one.json");
    assert_eq!(one, a.read("plans/two.json"), "two runs, same bytes");
    assert_eq!(
        one,
        b.read("plans/one.json"),
        "another checkout, same bytes"
    );
    // Same as --json.
    assert_eq!(one, a.cmd().args(["plan", "--json"]).output().stdout);
    // Pretty, sorted keys, newline-terminated.
    let v: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(
        one,
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap())
    );
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(one.lines().count() > 50, "one line per field");
    // No timestamps, no absolute paths.
    let ts = one.as_bytes().windows(10).any(|w| {
        w[4] == b'-'
            && w[7] == b'-'
            && w.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    });
    assert!(!ts, "a date in the plan file:\n{one}");
    assert!(!one.contains(&a.path().display().to_string()));
    // Inputs: every descriptor file, hashed.
    assert_eq!(
        v["inputs"].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "compartment.yml",
            "services/billing/platz/resources.yaml",
            "services/storefront/platz/resources.yaml"
        ]
    );
    assert!(v["inputs"]["compartment.yml"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(v["prior_state"]["lineage"], LINEAGE);
    assert_eq!(v["prior_state"]["serial"], 1);
    assert_deployed_digests(&v["prior_state"]);
}

/// A plan records a digest of each deployed part of the state beside the
/// lineage and serial, and nothing else.
fn assert_deployed_digests(prior: &Value) {
    let keys: Vec<&String> = prior.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["deployed", "lineage", "serial"], "{prior:#}");
    let parts: Vec<&String> = prior["deployed"].as_object().unwrap().keys().collect();
    assert_eq!(
        parts,
        [
            "bindings",
            "instances",
            "network",
            "resources",
            "services",
            "variables"
        ]
    );
    for d in prior["deployed"].as_object().unwrap().values() {
        let d = d.as_str().unwrap();
        assert!(
            d.len() == 16 && d.chars().all(|c| c.is_ascii_hexdigit()),
            "{d}"
        );
    }
}

fn check_passes_for_a_current_plan_and_names_what_differs() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.cmd()
        .args(["plan", "--out", "plans/production.json"])
        .output();
    session(
        &sb,
        "check",
        "expected-current.txt",
        &["plan", "--check", "plans/production.json"],
        0,
    );
    // An input edit.
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: tools_v2",
    );
    session(
        &sb,
        "check",
        "expected-input-changed.txt",
        &["plan", "--check", "plans/production.json"],
        1,
    );
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools_v2",
        "POSTGRES_DB: tools",
    );
    sb.cmd()
        .args(["plan", "--check", "plans/production.json"])
        .output();
    // Day-2 bookkeeping bumps the serial and changes nothing apply would
    // do: the file stays current.
    sb.change_state(|st| {
        st.schedules.insert(
            "cache".into(),
            compartment::state::ScheduleState {
                last_scheduled_run: Some("2026-01-05T02:00:00Z".into()),
                retention_cleaned: 3,
            },
        );
    });
    session(
        &sb,
        "check",
        "expected-day-2.txt",
        &["plan", "--check", "plans/production.json"],
        0,
    );
    // The state moved on (another apply recreated the cache's container).
    sb.change_state(|st| {
        st.resources.get_mut("cache").unwrap().applied.container_id = "container-cache-2".into();
    });
    session(
        &sb,
        "check",
        "expected-state-changed.txt",
        &["plan", "--check", "plans/production.json"],
        1,
    );
    // A resources.yaml edit is named too.
    sb.cmd()
        .args(["plan", "--out", "plans/production.json"])
        .output();
    let types = sb.read("services/storefront/platz/resources.yaml");
    sb.write(
        "services/storefront/platz/resources.yaml",
        &format!("# a comment\n{types}"),
    );
    let run = sb
        .cmd()
        .args(["plan", "--check", "plans/production.json"])
        .status(1)
        .output();
    assert!(
        run.stderr
            .contains("input services/storefront/platz/resources.yaml changed"),
        "{}",
        run.stderr
    );
    // A hand-edited file is not current either.
    let file = sb.read("plans/production.json").replace("  ", "\t");
    sb.write("plans/production.json", &file);
    let run = sb
        .cmd()
        .args(["plan", "--check", "plans/production.json"])
        .status(1)
        .output();
    assert!(!run.stderr.is_empty());
    // A missing file is an error, not a pass.
    sb.cmd()
        .args(["plan", "--check", "nope.json"])
        .status(1)
        .output();
}

fn show_renders_a_plan_file_without_the_descriptors() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit("compartment.yml", "opening_hour: 9", "opening_hour: 10");
    let plan = sb.cmd().args(["plan", "--no-color"]).output().stdout;
    let saved = sb
        .cmd()
        .args(["plan", "--no-color", "--out", "plan.json"])
        .output();
    assert_eq!(
        saved.stdout,
        format!(
            "{plan}Saved the plan to plan.json. Apply it with `compartment apply plan.json`.\n"
        )
    );
    // Somewhere with no compartment.yml at all.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(sb.file("plan.json"), elsewhere.path().join("plan.json")).unwrap();
    let show = Test::new(elsewhere.path())
        .args(["show", "plan.json", "--no-color"])
        .output();
    assert_eq!(show.stdout, plan, "show renders what plan printed");
    let json = Test::new(elsewhere.path())
        .args(["show", "plan.json", "--json"])
        .output();
    assert_eq!(json.stdout, sb.read("plan.json"));
    let md = Test::new(elsewhere.path())
        .args(["show", "plan.json", "--format", "markdown"])
        .output();
    assert_eq!(
        md.stdout,
        sb.cmd()
            .args(["plan", "--format", "markdown"])
            .output()
            .stdout
    );
    golden("show", "expected.txt", &show.stdout);
}

fn a_newer_plan_format_is_refused() {
    let sb = Sandbox::copy("example");
    sb.cmd().args(["plan", "--out", "plan.json"]).output();
    let text = sb
        .read("plan.json")
        .replace("\"format_version\": 1,", "\"format_version\": 2,");
    sb.write("plan.json", &text);
    let run = session(
        &sb,
        "newer-format",
        "expected.txt",
        &["show", "plan.json"],
        1,
    );
    assert!(
        run.stderr.contains("plan format version 2"),
        "{}",
        run.stderr
    );
    let run = sb
        .cmd()
        .args(["plan", "--check", "plan.json"])
        .status(1)
        .output();
    assert!(run.stderr.contains("upgrade compartment"), "{}", run.stderr);
    // Not a plan file at all.
    sb.write("other.json", "{\"hello\": 1}\n");
    let run = sb.cmd().args(["show", "other.json"]).status(1).output();
    assert!(
        run.stderr.contains("not a compartment plan file"),
        "{}",
        run.stderr
    );
}

fn detailed_exitcode_is_0_2_or_1() {
    let sb = Sandbox::copy("example");
    let args = ["plan", "--detailed-exitcode"];
    sb.cmd().args(args).status(2).output();
    sb.apply();
    sb.cmd().args(args).status(0).output();
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: other",
    );
    sb.cmd().args(args).status(2).output();
    sb.cmd().args(["plan"]).status(0).output();
    sb.edit(
        "compartment.yml",
        "      data: /data\n",
        "      data: /srv\n",
    );
    sb.cmd().args(args).status(1).output();
    sb.edit("compartment.yml", "name: internal-tools", "name: [broken");
    sb.cmd().args(args).status(1).output();
}

/// The example on a new state: text, JSON, Markdown and the plan file each
/// show what the creates create (image, ports, env, volumes, an output's
/// template), and none holds the sensitive instance value.
fn a_create_shows_its_definition_in_every_format_without_a_secret() {
    let sb = Sandbox::copy("example");
    let text = sb.cmd().args(["plan", "--no-color"]).output().stdout;
    let json = sb.cmd().args(["plan", "--json"]).output().stdout;
    let markdown = sb
        .cmd()
        .args(["plan", "--format", "markdown"])
        .output()
        .stdout;
    sb.cmd().args(["plan", "--out", "plan.json"]).output();
    let file = sb.read("plan.json");
    for (format, out) in [("text", &text), ("markdown", &markdown)] {
        for line in [
            "+ image: \"compartment-test/busybox:1\"",
            "+ ports: [6379]",
            "+ env.CACHE_MODE: \"echo\"",
            "+ volumes.data: \"/data\"",
            "+ outputs.url.value: \"redis://:${env.CACHE_PASSWORD}@${resource.host}:6379/0\"",
            "+ image: \"postgres:16-alpine\"",
            "+ ingress.port: 8080",
            "+ values.signing_secret: \"(sensitive)\"",
        ] {
            assert!(out.contains(line), "{format} lacks {line}:\n{out}");
        }
    }
    assert_eq!(json, file, "the plan file is the JSON plan");
    let plan: Value = serde_json::from_str(&json).unwrap();
    let cache = change(&plan, "resource.cache");
    let field = |path: &str| {
        cache["diff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("no {path} in {cache:#}"))["after"]
            .clone()
    };
    assert_eq!(field("image"), "compartment-test/busybox:1");
    assert_eq!(field("ports"), json!([6379]));
    assert_eq!(field("volumes.data"), "/data");
    for out in [&text, &json, &markdown] {
        assert!(
            !out.contains("whsec-example-9f2c"),
            "a secret leaked:\n{out}"
        );
    }
}

fn markdown_has_the_summary_table_first_and_collapsible_details() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit("compartment.yml", "opening_hour: 9", "opening_hour: 10")
        .edit(
            "compartment.yml",
            "POSTGRES_DB: tools",
            "POSTGRES_DB: tools_v2",
        );
    session(
        &sb,
        "markdown",
        "expected.md",
        &["plan", "--format", "markdown"],
        0,
    );
}

/// The catalog project with `n` more items, each referencing the previous.
fn catalog_with_items(n: usize) -> Sandbox {
    let sb = Sandbox::copy("plan/projects/catalog");
    let mut yml = sb.read("compartment.yml");
    for i in 0..n {
        let parent = match i {
            0 => "zulu".to_string(),
            _ => format!("item-{:04}", i - 1),
        };
        yml.push_str(&format!(
            "  item-{i:04}:\n    type: shelf/item\n    values:\n      name: Item number {i} with a fairly long name to fill the plan\n      parent: {parent}\n"
        ));
    }
    sb.write("compartment.yml", &yml);
    sb
}

fn assert_markdown_within_limit(md: &str) {
    assert!(
        md.chars().count() < 60_000,
        "{} characters",
        md.chars().count()
    );
    assert!(md.len() < 60_000, "{} bytes", md.len());
    assert!(
        md.contains("> [!NOTE]\n> Truncated to stay under 60000 characters"),
        "{}",
        &md[md.len() - 500..]
    );
    // Every block that was started is closed.
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert_eq!(
        md.matches("```diff").count(),
        md.matches("```\n\n</details>").count()
    );
}

fn markdown_of_a_huge_plan_stays_under_60000_characters_with_a_note() {
    // Thousands of instances: the table alone fills the budget.
    let sb = catalog_with_items(3000);
    let md = sb
        .cmd()
        .args(["plan", "--format", "markdown"])
        .output()
        .stdout;
    assert_markdown_within_limit(&md);
    assert!(
        md.starts_with("### compartment plan: `catalog` / `production`\n\n**3005 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged**\n\n| | Address | Action | Reason |\n"),
        "the summary table comes first:\n{}",
        &md[..300]
    );
    assert!(
        md.contains("more changes not listed._"),
        "{}",
        &md[md.len() - 800..]
    );
    assert!(md.contains("details of 3005 of 3005 changes are not shown"));

    // Hundreds: the table is whole, the details are cut.
    let sb = catalog_with_items(500);
    let md = sb
        .cmd()
        .args(["plan", "--format", "markdown"])
        .output()
        .stdout;
    assert_markdown_within_limit(&md);
    assert!(!md.contains("more changes not listed"));
    assert_eq!(md.matches("| ➕ |").count(), 505);
    assert!(md.find("| | Address").unwrap() < md.find("<details>").unwrap());
    assert!(md.contains("<details><summary><code>service.shelf</code> — create</summary>"));

    // Thousands of warnings (orphans) are kept under the limit as well.
    let sb = catalog_with_items(3000);
    sb.apply();
    sb.write("services/shelf/platz/resources.yaml", "[]\n");
    let yml = sb.read("compartment.yml");
    sb.write("compartment.yml", &yml[..yml.find("instances:").unwrap()]);
    let run = sb.cmd().args(["plan", "--format", "markdown"]).output();
    assert!(run.stdout.len() < 60_000, "{} bytes", run.stdout.len());
    assert!(
        run.stdout.contains("more warnings._"),
        "{}",
        &run.stdout[..2000]
    );
}

// ---------------------------------------------------------------- secrets

fn a_plan_never_contains_a_secret_and_needs_no_key() {
    let sb = Sandbox::copy("example");
    let st = sb.apply();
    let sealed: Vec<String> = st
        .variables
        .resource
        .values()
        .flat_map(|m| m.values())
        .map(|v| v.sealed.clone().unwrap().0)
        .collect();
    assert_eq!(sealed.len(), 2);
    // Changes that touch the resources holding secrets.
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: tools_v2",
    )
    .edit(
        "compartment.yml",
        "image: compartment-test/busybox:1",
        "image: compartment-test/busybox:2",
    );
    let mut outputs = Vec::new();
    for args in [
        vec!["plan", "--no-color"],
        vec!["plan", "--json"],
        vec!["plan", "--format", "markdown"],
        vec!["plan", "--out", "plan.json"],
        vec!["graph"],
        vec!["show", "plan.json"],
    ] {
        let run = sb.cmd_without_key().args(&args).output();
        outputs.push(format!("{}{}", run.stdout, run.stderr));
    }
    outputs.push(sb.read("plan.json"));
    for (res, key) in [("db", "POSTGRES_PASSWORD"), ("cache", "CACHE_PASSWORD")] {
        let secret = secret_value(res, key);
        for o in &outputs {
            assert!(!o.contains(&secret), "{secret} leaked:\n{o}");
        }
    }
    for s in &sealed {
        for o in &outputs {
            assert!(!o.contains(s.as_str()), "a sealed value is in a plan:\n{o}");
        }
    }
    assert!(
        !sb.file(".config/compartment/secret.key").exists(),
        "plan never creates a key"
    );
}

fn sensitive_instance_values_are_masked_in_diffs() {
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "signing_secret: whsec-example-9f2c",
        "signing_secret: first-signing-s3cret",
    );
    sb.apply();
    sb.edit(
        "compartment.yml",
        "signing_secret: first-signing-s3cret",
        "signing_secret: second-signing-s3cret",
    );
    let run = session(
        &sb,
        "sensitive-input",
        "expected.txt",
        &["plan", "--no-color"],
        0,
    );
    let json = sb.cmd().args(["plan", "--json"]).output().stdout;
    let md = sb
        .cmd()
        .args(["plan", "--format", "markdown"])
        .output()
        .stdout;
    for out in [&run.stdout, &json, &md] {
        assert!(!out.contains("signing-s3cret"), "{out}");
    }
    let plan: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        change(&plan, "instance.order-hook")["diff"],
        json!([{"path": "values.signing_secret", "before": "(sensitive)", "after": "(sensitive)", "sensitive": true}])
    );
}

/// `plan --target` plans the target and what it depends on, says so, and
/// records the scope in the plan file (which `show` renders the same).
fn plan_target_scopes_the_plan_and_its_file() {
    let sb = Sandbox::copy("example");
    sb.apply();
    sb.edit(
        "compartment.yml",
        "POSTGRES_DB: tools",
        "POSTGRES_DB: tools_v2",
    )
    .edit("compartment.yml", "CACHE_MODE: echo", "CACHE_MODE: loud");
    let run = session(
        &sb,
        "target",
        "expected.txt",
        &["plan", "--no-color", "--target", "service.storefront"],
        0,
    );
    sb.cmd()
        .args([
            "plan",
            "--target",
            "service.storefront",
            "--out",
            "plans/p.json",
        ])
        .output();
    let file: Value = serde_json::from_str(&sb.read("plans/p.json")).unwrap();
    assert_eq!(file["targets"], json!(["service.storefront"]));
    assert_eq!(
        addresses(&file),
        ["resource.db", "service.storefront"],
        "the cache and api changes are not in the targeted plan"
    );
    assert_eq!(file["summary"]["update"], 2);
    let show = sb
        .cmd()
        .args(["show", "--no-color", "plans/p.json"])
        .output();
    assert_eq!(show.stdout, run.stdout);
    sb.cmd()
        .args(["plan", "--check", "plans/p.json"])
        .stdout("plans/p.json is up to date\n")
        .run();
    sb.cmd()
        .args(["plan", "--target", "service.nope"])
        .status(1)
        .stderr("error: --target service.nope is not in the plan; addresses look like resource.db, service.api, instance.downtown\n")
        .run();
}
