//! How engine objects are named for project P and environment E. Names are
//! stable so apply, refresh and the operations find the same objects.

/// The environment's bridge network.
pub fn network(project: &str, env: &str) -> String {
    format!("cmpt-{project}-{env}")
}

/// The container of a resource or service (their names never clash).
pub fn container(project: &str, env: &str, name: &str) -> String {
    format!("cmpt-{project}-{env}-{name}")
}

/// The named volume behind a resource's volume handle.
pub fn volume(project: &str, env: &str, resource: &str, handle: &str) -> String {
    format!("cmpt-{project}-{env}-{resource}-{handle}")
}

/// The network alias of a resource: `<resource>.<E>.<P>.resource.internal`.
pub fn resource_host(project: &str, env: &str, resource: &str) -> String {
    crate::descriptor::model::ResourceDef::host(resource, env, project)
}

/// The network alias of a service.
pub fn service_host(project: &str, env: &str, service: &str) -> String {
    format!("{service}.{env}.{project}.service.internal")
}

/// The image a service is built into, tagged with its build context's hash
/// so unchanged sources are not rebuilt.
pub fn service_image(project: &str, service: &str, context_hash: &str) -> String {
    format!(
        "cmpt-{project}-{service}:{}",
        &context_hash[..context_hash.len().min(16)]
    )
}
