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
