//! `regctl list`: the registries regctl created, on one or every engine.

use regctl_runtime::LABEL_MANAGED;

use crate::cli::ListArgs;
use crate::commands::{regctl_spec, RegistryView};
use crate::engines;
use crate::error::Error;
use crate::output::print_rows;

const HEADERS: &[&str] = &[
    "name", "runtime", "state", "endpoint", "delete", "storage", "data", "image",
];

pub async fn run(args: &ListArgs) -> Result<(), Error> {
    let mut rows = Vec::new();

    for engine in engines::connect_all(&args.runtime.runtime).await? {
        let containers = engine
            .runtime
            .list_containers(LABEL_MANAGED, "true")
            .await?;

        rows.extend(containers.iter().filter_map(|container| {
            let spec = regctl_spec(container)?;
            Some(RegistryView::new(
                engine.info.kind,
                container.state.to_string(),
                &spec,
            ))
        }));
    }

    rows.sort_by(|a, b| (&a.name, a.runtime.to_string()).cmp(&(&b.name, b.runtime.to_string())));

    print_rows(&rows, args.output, HEADERS, |row| {
        vec![
            row.name.clone(),
            row.runtime.to_string(),
            row.state.clone(),
            row.endpoint.clone(),
            if row.delete_enabled {
                "enabled"
            } else {
                "disabled"
            }
            .to_owned(),
            row.storage.clone(),
            row.data.clone(),
            row.image.clone(),
        ]
    })
}
