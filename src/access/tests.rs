//! The built-in roles on every command, custom roles, refusals, the access
//! file's discovery and its located diagnostics.

use super::*;
use crate::diagnostics::render_text;
use std::ffi::OsStr;
use std::path::Path;

const FILE: &str = ".compartment/access.yml";

fn access(text: &str) -> Access {
    Access::parse(Path::new(FILE), text).unwrap_or_else(|e| panic!("{e}"))
}
/// The located diagnostics of an invalid access file, rendered.
fn err(text: &str) -> String {
    match Access::parse(Path::new(FILE), text) {
        Err(AccessError::Invalid {
            sources,
            diagnostics,
            ..
        }) => render_text(&sources, &diagnostics.sorted(&sources), false),
        other => panic!("{text:?}: {other:?}"),
    }
}

/// The expected verdict of every built-in role on every command.
#[test]
fn builtin_roles_on_every_command() {
    use Command::*;
    #[rustfmt::skip]
    let table: &[(Command, [bool; 4])] = &[
        //                                   admin  deployer readonly viewer
        (ResourceList,                       [true, true,  false, false]),
        (ResourceInspect,                    [true, true,  false, false]),
        (ResourceLogs,                       [true, true,  false, false]),
        (ResourceStop,                       [true, true,  false, false]),
        (ResourceStart,                      [true, true,  false, false]),
        (ResourceDelete,                     [true, true,  false, false]),
        (OutputList,                         [true, true,  false, false]),
        (OutputShow { reveal: false },       [true, true,  false, false]),
        (OutputShow { reveal: true },        [true, false, false, false]),
        (BackupCreate,                       [true, true,  false, false]),
        (BackupList,                         [true, true,  false, false]),
        (BackupShow,                         [true, true,  false, false]),
        (BackupRestore,                      [true, true,  false, false]),
        (BackupVerify,                       [true, true,  false, false]),
        (BackupExport,                       [true, false, false, false]),
        (VariableSet,                        [true, true,  false, false]),
        (VariableRemove,                     [true, true,  false, false]),
        (VariableList,                       [true, true,  true,  false]),
        (Apply,                              [true, true,  false, false]),
        (Destroy,                            [true, true,  false, false]),
        (ApplyResourceDelete,                [true, true,  false, false]),
        (ServiceList,                        [true, true,  false, false]),
        (ServiceInspect,                     [true, true,  false, false]),
        (ServiceLogs,                        [true, true,  false, false]),
        (ServiceRestart,                     [true, true,  false, false]),
        (Exec,                               [true, false, false, false]),
        (Ps,                                 [true, true,  false, false]),
        (StateEdit,                          [true, false, false, false]),
        (BackupRunDue,                       [true, true,  false, false]),
        (StateUnlock,                        [true, false, false, false]),
    ];
    assert_eq!(table.len(), Command::ALL.len());
    let a = access("actors: {admin-user: admin, dep: deployer, ro: readonly, view: viewer}");
    for (cmd, verdicts) in table {
        for (actor, want) in ["admin-user", "dep", "ro", "view"].iter().zip(verdicts) {
            let got = a.check(actor, "production", *cmd);
            assert_eq!(got.is_ok(), *want, "{actor} on {cmd}: {got:?}");
            if let Err(d) = got {
                assert!(!d.missing().is_empty());
                assert!(d.missing().iter().all(|p| cmd.required().contains(p)));
            }
        }
    }
}

#[test]
fn custom_roles_follow_the_seed_requirements() {
    use Command::*;
    let a = access(
        "actors:\n  alice: {production: auditor}\n  carol: {production: operator}\n  dave: {production: revealer}\n\
         roles:\n  auditor:\n    permissions: [deployment.logs.read]\n  operator:\n    description: ops without logs\n    permissions: [deployment.create]\n  revealer:\n    permissions: [deployment.create, variable.value.read, deployment.logs.read]\n",
    );
    // Without deployment.create nothing on resources works, not even logs.
    for cmd in [
        ResourceList,
        ResourceInspect,
        ResourceLogs,
        OutputList,
        BackupRestore,
    ] {
        let d = a.check("alice", "production", cmd).unwrap_err();
        assert_eq!(d.missing(), [Permission::DeploymentCreate], "{cmd}");
    }
    // deployment.create: list, inspect, outputs, backups incl. restore (--as too).
    for cmd in [
        ResourceList,
        ResourceInspect,
        OutputList,
        OutputShow { reveal: false },
        BackupCreate,
        BackupList,
        BackupShow,
        BackupRestore,
    ] {
        assert!(a.check("carol", "production", cmd).is_ok(), "{cmd}");
    }
    // ... but logs also need deployment.logs.read, reveal variable.value.read.
    let d = a.check("carol", "production", ResourceLogs).unwrap_err();
    assert_eq!(d.missing(), [Permission::DeploymentLogsRead]);
    let d = a
        .check("carol", "production", OutputShow { reveal: true })
        .unwrap_err();
    assert_eq!(d.missing(), [Permission::VariableValueRead]);
    for cmd in [ResourceLogs, OutputShow { reveal: true }] {
        assert!(a.check("dave", "production", cmd).is_ok(), "{cmd}");
    }
    assert_eq!(
        a.permissions("auditor")
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [Permission::DeploymentLogsRead]
    );
}

#[test]
fn denied_says_who_what_which_permission_and_how() {
    let a = access("actors:\n  alice:\n    production: viewer\n    staging: admin\n");
    let d = a
        .check("alice", "production", Command::ResourceLogs)
        .unwrap_err();
    assert_eq!(
        d.to_string(),
        "alice (role viewer in production) may not run `resource logs`: it needs the permissions `deployment.create` and `deployment.logs.read`; ask an admin to grant a role with them in .compartment/access.yml"
    );
    let b = access("actors: {alice: {production: auditor}}\nroles: {auditor: {permissions: [deployment.create]}}");
    assert_eq!(
        b.check("alice", "production", Command::ResourceLogs).unwrap_err().to_string(),
        "alice (role auditor in production) may not run `resource logs`: it needs the permission `deployment.logs.read`; ask an admin to grant a role with it in .compartment/access.yml"
    );
    assert!(a.check("alice", "staging", Command::ResourceLogs).is_ok());
    // Another environment alice has no role in.
    let d = a.check("alice", "qa", Command::ResourceList).unwrap_err();
    assert_eq!(d.role(), None);
    assert_eq!(
        d.to_string(),
        "alice has no role in qa and may not run `resource list`; ask an admin to give alice a role for qa under `actors` in .compartment/access.yml"
    );
}

#[test]
fn unknown_actor_is_denied_unless_there_is_a_default() {
    let a = access("actors: {alice: {production: admin}}");
    let d = a
        .check("mallory", "production", Command::BackupList)
        .unwrap_err();
    assert_eq!(d.role(), None);
    assert_eq!(d.missing(), [Permission::DeploymentCreate]);
    assert!(
        d.to_string()
            .starts_with("mallory has no role in production"),
        "{d}"
    );
    // Even commands needing nothing special are refused without a role.
    assert!(a
        .check("mallory", "production", Command::VariableList)
        .is_err());

    let a = access("actors: {alice: {production: admin}}\ndefault: readonly");
    assert_eq!(a.role_of("mallory", "production"), Some("readonly"));
    assert!(a
        .check("mallory", "production", Command::VariableList)
        .is_ok());
    let d = a
        .check("mallory", "production", Command::ResourceList)
        .unwrap_err();
    assert_eq!(d.role(), Some("readonly"));
}

#[test]
fn environment_wildcard_and_plain_roles() {
    let a = access(
        "actors:\n  alice: {production: viewer, '*': deployer}\n  ci: admin\ndefault: viewer\n",
    );
    assert_eq!(a.role_of("alice", "production"), Some("viewer"));
    assert_eq!(a.role_of("alice", "staging"), Some("deployer"));
    assert_eq!(a.role_of("ci", "production"), Some("admin"));
    assert_eq!(a.role_of("bob", "staging"), Some("viewer"));
    assert!(!a.is_local_default());
    assert_eq!(a.file(), Some(Path::new(FILE)));
}

#[test]
fn json_access_files_work_too() {
    let a = Access::parse(
        Path::new("access.json"),
        r#"{"actors": {"alice": {"production": "auditor"}},
            "roles": {"auditor": {"permissions": ["deployment.create", "deployment.logs.read"]}}}"#,
    )
    .unwrap();
    assert!(a
        .check("alice", "production", Command::ResourceLogs)
        .is_ok());
    assert!(a
        .check("alice", "production", Command::VariableSet)
        .is_err());
}

#[test]
fn missing_file_is_the_local_default_admin() {
    let dir = tempfile::tempdir().unwrap();
    for a in [
        Access::load(None).unwrap(),
        Access::load(Some(&dir.path().join("nope.yml"))).unwrap(),
        Access::resolve(dir.path(), None).unwrap(),
        Access::resolve(dir.path(), Some(OsStr::new(""))).unwrap(),
    ] {
        assert!(a.is_local_default());
        for cmd in Command::ALL {
            assert!(a.check("anyone", "production", cmd).is_ok(), "{cmd}");
        }
        assert_eq!(a.role_of("anyone", "staging"), Some("admin"));
    }
}

#[test]
fn files_are_found_beside_compartment_yml_or_by_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".compartment")).unwrap();
    let default = dir.path().join(DEFAULT_ACCESS_FILE);
    std::fs::write(&default, "actors: {alice: {production: viewer}}\n").unwrap();
    let a = Access::resolve(dir.path(), None).unwrap();
    assert_eq!(a.file(), Some(default.as_path()));
    assert!(a
        .check("alice", "production", Command::ResourceList)
        .is_err());

    let other = dir.path().join("team-access.json");
    std::fs::write(&other, r#"{"actors": {"alice": {"production": "admin"}}}"#).unwrap();
    let a = Access::resolve(dir.path(), Some(other.as_os_str())).unwrap();
    assert!(a
        .check("alice", "production", Command::ResourceList)
        .is_ok());

    // An explicit file that does not exist does not turn access control off.
    let typo = dir.path().join("acess.yml");
    let e = Access::resolve(dir.path(), Some(typo.as_os_str())).unwrap_err();
    assert!(matches!(e, AccessError::NotFound { .. }));
    assert!(e.to_string().contains("acess.yml"), "{e}");
    assert!(e.to_string().contains(ACCESS_FILE_ENV), "{e}");
}

#[test]
fn unknown_roles_and_permissions_are_located() {
    let e = err("actors: {alice: {production: deploer}}");
    assert_eq!(
        e,
        "error[unknown-role]: `actors.alice.production` names the unknown role `deploer`
  ┌─ .compartment/access.yml:1:30
  │
1 │ actors: {alice: {production: deploer}}
  │                              ^^^^^^^ at actors.alice.production
  │
  = help: did you mean `deployer`? (roles are `admin`, `deployer`, `readonly`, `viewer`)

"
    );
    let e = err("roles:\n  auditor:\n    permissions: [deployment.create, deployment.log.read]\n");
    assert!(e.contains("error[unknown-permission]: `roles.auditor.permissions[1]` names the unknown permission `deployment.log.read`"), "{e}");
    assert!(e.contains(".compartment/access.yml:3:38"), "{e}");
    assert!(
        e.contains("help: did you mean `deployment.logs.read`?"),
        "{e}"
    );
    let e = err("roles: {auditor: {permissions: [everything]}}");
    assert!(e.contains("permissions are `deployment.create`"), "{e}");
    assert!(err("default: root").contains("`default` names the unknown role `root`"));
    let e = err("actors: {ci: superuser}");
    assert!(
        e.contains("`actors.ci` names the unknown role `superuser`"),
        "{e}"
    );
    // Custom roles are known to actors.
    let e = err("actors: {a: {production: auditr}}\nroles: {auditor: {permissions: []}}");
    assert!(e.contains("did you mean `auditor`?"), "{e}");
    assert!(
        e.contains("roles are `admin`, `auditor`, `deployer`"),
        "{e}"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_one_run() {
    let text = "actors:\n  alice: {production: deploer}\n  bob: [admin]\nroles:\n  admin: {permissions: []}\n  auditor:\n    permissions: [deployment.logs.red]\n    can: all\ndefault: root\n";
    let Err(AccessError::Invalid { diagnostics, .. }) = Access::parse(Path::new(FILE), text) else {
        panic!("invalid");
    };
    assert_eq!(diagnostics.error_count(), 6, "{diagnostics:?}");
    let e = err(text);
    for needle in [
        "error[unknown-role]: `actors.alice.production`",
        "error[wrong-type]: expected a role name, or a mapping",
        "error[redefined-role]: `roles.admin` redefines the built-in role `admin`",
        "error[unknown-permission]: `roles.auditor.permissions[0]`",
        "error[unknown-field]: unknown field `can` in roles.auditor",
        "error[unknown-role]: `default` names the unknown role `root`",
        ".compartment/access.yml:2:23",
        ".compartment/access.yml:9:10",
    ] {
        assert!(e.contains(needle), "{needle}:\n{e}");
    }
}

#[test]
fn malformed_files_are_located_errors() {
    for (text, needle) in [
        (
            "",
            "error[empty-access-file]: the access file .compartment/access.yml is empty",
        ),
        ("   \n", "error[empty-access-file]"),
        (
            "actors: [alice]",
            "error[wrong-type]: expected a mapping, found a list",
        ),
        (
            "- alice",
            "error[wrong-type]: expected a mapping, found a list",
        ),
        (
            "actor: {alice: admin}",
            "error[unknown-field]: unknown field `actor` at the top level",
        ),
        (
            "actors: {alice: [admin]}",
            "expected a role name, or a mapping of environments to roles",
        ),
        (
            "actors: {alice: {production: 3}}",
            "expected a role name, found an integer",
        ),
        (
            "roles: {auditor: {}}",
            "error[missing-field]: missing required field `permissions` in roles.auditor",
        ),
        (
            "roles: {auditor: {permissions: deployment.create}}",
            "expected a list of permission names, found a string",
        ),
        (
            "roles: {auditor: {permissions: [1]}}",
            "expected a permission name, found an integer",
        ),
        (
            "roles: {auditor: {permissions: [], can: all}}",
            "unknown field `can` in roles.auditor",
        ),
        ("actors: {alice: {production: admin}", "error[yaml-syntax]"),
        ("actors: {1: admin}", "must be a string, found an integer"),
        (
            "actors: {alice: admin, alice: viewer}",
            "error[duplicate-key]",
        ),
        ("default: [admin]", "expected a role name, found a list"),
    ] {
        let e = err(text);
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(e.contains(FILE), "{text:?}: {e}");
    }
    let e = err("roles: {admin: {permissions: [state.write]}}");
    assert!(
        e.contains("`roles.admin` redefines the built-in role `admin`"),
        "{e}"
    );
    // Unreadable: a directory.
    let dir = tempfile::tempdir().unwrap();
    let e = Access::load(Some(dir.path())).unwrap_err();
    assert!(matches!(e, AccessError::Read { .. }), "{e}");
}

#[test]
fn the_actor_comes_from_compartment_actor_then_the_login() {
    assert_eq!(actor_from(Some("alice"), Some("root"), None), "alice");
    assert_eq!(actor_from(Some(""), Some("root"), None), "root");
    assert_eq!(actor_from(None, None, Some("Alice")), "Alice");
    assert_eq!(actor_from(None, Some("  "), None), "local");
}

#[test]
fn permission_and_command_names() {
    for p in Permission::ALL {
        assert_eq!(Permission::from_name(p.name()), Some(p));
    }
    for name in [
        "deployment.create",
        "deployment.logs.read",
        "variable.value.read",
        "variable.value.write",
        "deployment.delete",
        "state.write",
    ] {
        assert!(Permission::from_name(name).is_some(), "{name}");
    }
    assert_eq!(
        Command::OutputShow { reveal: true }.to_string(),
        "resource output show --reveal"
    );
    assert_eq!(
        builtin_permissions("admin").unwrap().len(),
        Permission::ALL.len()
    );
    assert_eq!(builtin_permissions("root"), None);
}

/// Platz's `allowed_role` onto access roles: Owner is admin (or a custom
/// role with `instance.owner`), Maintainer is deployer or admin.
#[test]
fn platz_roles_map_onto_access_roles() {
    let a = access(
        "actors: {ada: admin, dee: deployer, rob: readonly, cus: pages}\nroles:\n  pages:\n    permissions: [instance.owner]\n",
    );
    let holds = |actor: &str, role: &str| a.grant(actor, "production").holds_platz_role(role);
    assert!(holds("ada", "Owner") && holds("ada", "Maintainer"));
    assert!(!holds("dee", "Owner") && holds("dee", "Maintainer"));
    assert!(!holds("rob", "Owner") && !holds("rob", "Maintainer"));
    assert!(holds("cus", "Owner") && holds("cus", "Maintainer"));
    assert!(!holds("nobody", "Maintainer"));
    let refused = a
        .grant("dee", "production")
        .check_instances([("a", "delete", "Owner"), ("b", "create", "Maintainer")])
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "dee (role deployer in production) may not apply this plan, nothing was executed: delete of instance `a` needs the Platz role Owner (`instance.owner`); ask an admin to grant a role with it in .compartment/access.yml"
    );
}
