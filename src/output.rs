//! Rendering data to stdout as a table, JSON or YAML.

use std::io::Write;

use comfy_table::{presets::NOTHING, Table};
use serde::Serialize;

use crate::cli::{DocumentFormat, OutputFormat};
use crate::error::Error;

/// Writes one document to stdout.
pub fn print_document<T: Serialize>(value: &T, format: DocumentFormat) -> Result<(), Error> {
    let text = match format {
        DocumentFormat::Json => {
            let mut json = serde_json::to_string_pretty(value)
                .map_err(|error| Error::Serialize(Box::new(error)))?;
            json.push('\n');
            json
        }
        DocumentFormat::Yaml => {
            serde_yaml::to_string(value).map_err(|error| Error::Serialize(Box::new(error)))?
        }
    };
    print_text(&text)
}

/// Writes rows to stdout as a table with `headers`, or as a JSON or YAML
/// list of `rows`.
pub fn print_rows<T: Serialize>(
    rows: &[T],
    format: OutputFormat,
    headers: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<(), Error> {
    match format {
        OutputFormat::Json => print_document(&rows, DocumentFormat::Json),
        OutputFormat::Yaml => print_document(&rows, DocumentFormat::Yaml),
        OutputFormat::Table => print_table(headers, rows.iter().map(cells).collect()),
    }
}

/// Writes `rows` to stdout as a table with `headers`, for data whose table
/// rows differ from its document form.
pub fn print_table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<(), Error> {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(headers.iter().map(|header| header.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    print_text(&format!("{}\n", table.trim_fmt()))
}

/// Writes `text` to stdout as is.
pub fn print_text(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}
