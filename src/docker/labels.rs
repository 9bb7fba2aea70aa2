//! The Docker label keys (and `kind` values) compartment stamps on every
//! engine object it creates, so that state can be rediscovered from the engine.

use std::collections::BTreeMap;

/// The compartment project an object belongs to.
pub const PROJECT: &str = "io.compartment.project";
/// The environment (e.g. `dev`, `prod`) an object belongs to.
pub const ENVIRONMENT: &str = "io.compartment.environment";
/// What the object is: one of the `KIND_*` values.
pub const KIND: &str = "io.compartment.kind";
/// The descriptor name of the resource/service the object implements.
pub const NAME: &str = "io.compartment.name";
/// Hash of the definition the object was created from (drift detection).
pub const DEFINITION_HASH: &str = "io.compartment.definition-hash";

/// Marks the probe agent's image and its short-lived containers.
pub const AGENT: &str = "io.compartment.agent";

/// Every label key compartment owns.
pub const ALL: [&str; 6] = [PROJECT, ENVIRONMENT, KIND, NAME, DEFINITION_HASH, AGENT];

/// `io.compartment.kind` value: a container implementing a resource.
pub const KIND_RESOURCE: &str = "resource";
/// `io.compartment.kind` value: a container implementing a service.
pub const KIND_SERVICE: &str = "service";
/// `io.compartment.kind` value: the project network.
pub const KIND_NETWORK: &str = "network";
/// `io.compartment.kind` value: a named volume.
pub const KIND_VOLUME: &str = "volume";
/// `io.compartment.kind` value: a disposable one-shot container (backup, restore...).
pub const KIND_OPERATION: &str = "operation";

/// The standard label set for one object.
pub fn standard(
    project: &str,
    environment: &str,
    kind: &str,
    name: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT.to_string(), project.to_string()),
        (ENVIRONMENT.to_string(), environment.to_string()),
        (KIND.to_string(), kind.to_string()),
        (NAME.to_string(), name.to_string()),
    ])
}
