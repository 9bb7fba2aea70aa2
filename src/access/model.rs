//! The vocabulary of access control: permissions, the guarded commands and
//! what each requires, and the built-in roles.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A permission a role can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Deploy, and operate resources: list, inspect, stop, start, outputs,
    /// backups and restores.
    DeploymentCreate,
    /// Delete resources (and their data with `--delete-data`).
    DeploymentDelete,
    /// Read resource logs.
    DeploymentLogsRead,
    /// List variables (sensitive values masked).
    VariableRead,
    /// Disclose sensitive values (`output show --reveal`).
    VariableValueRead,
    /// Set and remove variables.
    VariableValueWrite,
    /// Force state changes (`state unlock`).
    StateWrite,
    /// Create, update and delete instances whose type's lifecycle
    /// operation says `allowed_role: Owner` (and `Maintainer`).
    InstanceOwner,
    /// Create, update and delete instances whose type's lifecycle
    /// operation says `allowed_role: Maintainer`.
    InstanceMaintainer,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::DeploymentCreate,
        Permission::DeploymentDelete,
        Permission::DeploymentLogsRead,
        Permission::VariableRead,
        Permission::VariableValueRead,
        Permission::VariableValueWrite,
        Permission::StateWrite,
        Permission::InstanceOwner,
        Permission::InstanceMaintainer,
    ];

    /// The name used in access files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Permission::DeploymentCreate => "deployment.create",
            Permission::DeploymentDelete => "deployment.delete",
            Permission::DeploymentLogsRead => "deployment.logs.read",
            Permission::VariableRead => "variable.read",
            Permission::VariableValueRead => "variable.value.read",
            Permission::VariableValueWrite => "variable.value.write",
            Permission::StateWrite => "state.write",
            Permission::InstanceOwner => "instance.owner",
            Permission::InstanceMaintainer => "instance.maintainer",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A guarded command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    ResourceList,
    ResourceInspect,
    ResourceLogs,
    ResourceStop,
    ResourceStart,
    ResourceDelete,
    OutputList,
    OutputShow {
        reveal: bool,
    },
    BackupCreate,
    BackupList,
    BackupShow,
    /// In place or with `--as`: both need the same permissions.
    BackupRestore,
    /// Restores into a scratch resource, removed afterwards.
    BackupVerify,
    /// A backup's artifacts written out in plaintext: the resource's data.
    BackupExport,
    VariableSet,
    VariableRemove,
    VariableList,
    Apply,
    /// `destroy` (and `apply FILE` of a destroy plan).
    Destroy,
    /// `apply` of a plan that deletes a resource (listed under `removed:`).
    ApplyResourceDelete,
    ServiceList,
    ServiceInspect,
    ServiceLogs,
    ServiceRestart,
    /// `service exec` and `resource exec`: a command inside a container,
    /// which can read its environment (secrets included).
    Exec,
    Ps,
    /// `state rm`, `state mv` and `import`: the state changed by hand.
    StateEdit,
    /// `backup run-due` and the `scheduler` loop.
    BackupRunDue,
    StateUnlock,
}

impl Command {
    pub const ALL: [Command; 30] = [
        Command::ResourceList,
        Command::ResourceInspect,
        Command::ResourceLogs,
        Command::ResourceStop,
        Command::ResourceStart,
        Command::ResourceDelete,
        Command::OutputList,
        Command::OutputShow { reveal: false },
        Command::OutputShow { reveal: true },
        Command::BackupCreate,
        Command::BackupList,
        Command::BackupShow,
        Command::BackupRestore,
        Command::BackupVerify,
        Command::BackupExport,
        Command::VariableSet,
        Command::VariableRemove,
        Command::VariableList,
        Command::Apply,
        Command::Destroy,
        Command::ApplyResourceDelete,
        Command::ServiceList,
        Command::ServiceInspect,
        Command::ServiceLogs,
        Command::ServiceRestart,
        Command::Exec,
        Command::Ps,
        Command::StateEdit,
        Command::BackupRunDue,
        Command::StateUnlock,
    ];

    /// The command line, as users type it.
    pub fn name(self) -> &'static str {
        match self {
            Command::ResourceList => "resource list",
            Command::ResourceInspect => "resource inspect",
            Command::ResourceLogs => "resource logs",
            Command::ResourceStop => "resource stop",
            Command::ResourceStart => "resource start",
            Command::ResourceDelete => "resource delete",
            Command::OutputList => "resource output list",
            Command::OutputShow { reveal: false } => "resource output show",
            Command::OutputShow { reveal: true } => "resource output show --reveal",
            Command::BackupCreate => "resource backup create",
            Command::BackupList => "resource backup list",
            Command::BackupShow => "resource backup show",
            Command::BackupRestore => "resource backup restore",
            Command::BackupVerify => "resource backup verify",
            Command::BackupExport => "resource backup export",
            Command::VariableSet => "variable set",
            Command::VariableRemove => "variable remove",
            Command::VariableList => "variable list",
            Command::Apply => "apply",
            Command::Destroy => "destroy",
            Command::ApplyResourceDelete => "apply a plan that deletes a resource",
            Command::ServiceList => "service list",
            Command::ServiceInspect => "service inspect",
            Command::ServiceLogs => "service logs",
            Command::ServiceRestart => "service restart",
            Command::Exec => "service exec / resource exec",
            Command::Ps => "ps",
            Command::StateEdit => "state rm / state mv / import",
            Command::BackupRunDue => "backup run-due",
            Command::StateUnlock => "state unlock",
        }
    }

    /// Every permission the command needs on the target environment.
    pub fn required(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Command::ResourceList
            | Command::ResourceInspect
            | Command::ResourceStop
            | Command::ResourceStart
            | Command::OutputList
            | Command::OutputShow { reveal: false }
            | Command::BackupCreate
            | Command::BackupList
            | Command::BackupShow
            | Command::BackupRestore
            | Command::BackupVerify
            | Command::Apply
            | Command::ServiceList
            | Command::ServiceInspect
            | Command::ServiceRestart
            | Command::Ps
            | Command::BackupRunDue => &[DeploymentCreate],
            Command::ResourceLogs | Command::ServiceLogs => &[DeploymentCreate, DeploymentLogsRead],
            Command::Exec | Command::BackupExport => &[DeploymentCreate, VariableValueRead],
            Command::ResourceDelete | Command::Destroy | Command::ApplyResourceDelete => {
                &[DeploymentCreate, DeploymentDelete]
            }
            Command::OutputShow { reveal: true } => &[DeploymentCreate, VariableValueRead],
            Command::VariableSet | Command::VariableRemove => &[VariableValueWrite],
            Command::VariableList => &[VariableRead],
            Command::StateUnlock | Command::StateEdit => &[StateWrite],
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The built-in roles.
pub const BUILTIN_ROLES: [&str; 4] = ["admin", "deployer", "readonly", "viewer"];

/// A built-in role's permissions (see the module docs); `None` for other
/// names.
pub fn builtin_permissions(role: &str) -> Option<BTreeSet<Permission>> {
    use Permission::*;
    let perms: &[Permission] = match role {
        "admin" => &Permission::ALL,
        "deployer" => &[
            DeploymentCreate,
            DeploymentDelete,
            DeploymentLogsRead,
            VariableRead,
            VariableValueWrite,
            InstanceMaintainer,
        ],
        "readonly" => &[VariableRead],
        "viewer" => &[],
        _ => return None,
    };
    Some(perms.iter().copied().collect())
}

/// Every built-in role with its permissions.
pub(super) fn builtin_roles() -> BTreeMap<String, BTreeSet<Permission>> {
    BUILTIN_ROLES
        .iter()
        .map(|r| (r.to_string(), builtin_permissions(r).unwrap_or_default()))
        .collect()
}

/// The access permissions that satisfy a Platz `allowed_role`: Owner is
/// `instance.owner` (admin); Maintainer is `instance.maintainer` (deployer)
/// or `instance.owner`. `None` for a name Platz does not know.
pub fn platz_role_permissions(role: &str) -> Option<&'static [Permission]> {
    match role {
        "Owner" => Some(&[Permission::InstanceOwner]),
        "Maintainer" => Some(&[Permission::InstanceMaintainer, Permission::InstanceOwner]),
        _ => None,
    }
}
