use std::collections::BTreeMap;

use crate::RegistrySpec;

/// Marks a container or volume as created by regctl. Commands other than
/// `create` refuse to touch a container without it.
pub const LABEL_MANAGED: &str = "io.regctl.managed";
/// Registry name the container or volume belongs to.
pub const LABEL_NAME: &str = "io.regctl.name";
/// Version of regctl that created the object.
pub const LABEL_VERSION: &str = "io.regctl.version";
/// JSON of the [`RegistrySpec`] the container was created from.
pub const LABEL_SPEC: &str = "io.regctl.spec";
/// Marks a one-off container that runs a task, such as garbage collection,
/// on a registry's storage. Its value is [`ROLE_ONE_OFF`].
pub const LABEL_ROLE: &str = "io.regctl.role";
/// Value of [`LABEL_ROLE`] on one-off containers.
pub const ROLE_ONE_OFF: &str = "one-off";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Labels of a registry container, including its serialized spec.
pub fn registry_labels(spec: &RegistrySpec) -> BTreeMap<String, String> {
    let mut labels = volume_labels(&spec.name);

    // Serializing plain strings, numbers and enums cannot fail.
    let json = serde_json::to_string(spec).expect("a registry spec serializes to JSON");
    labels.insert(LABEL_SPEC.to_owned(), json);

    labels
}

/// Labels of a data volume that regctl created for registry `name`.
pub fn volume_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_NAME.to_owned(), name.to_owned()),
        (LABEL_VERSION.to_owned(), VERSION.to_owned()),
    ])
}

/// Labels of a one-off container that works on registry `name`: the volume
/// labels plus [`LABEL_ROLE`], and no spec, so `list` skips it.
pub fn one_off_labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = volume_labels(name);
    labels.insert(LABEL_ROLE.to_owned(), ROLE_ONE_OFF.to_owned());
    labels
}

/// Reads the spec back from a container's labels. `None` when the container
/// is not regctl's or its spec label does not parse.
pub fn spec_from_labels(labels: &BTreeMap<String, String>) -> Option<RegistrySpec> {
    if labels.get(LABEL_MANAGED).map(String::as_str) != Some("true") {
        return None;
    }
    serde_json::from_str(labels.get(LABEL_SPEC)?).ok()
}
