//! Command-line arguments, as clap parses them.
//!
//! Values that can be checked alone are parsed here by `value_parser`
//! functions from [`crate::validate`], so clap reports them as usage errors.
//! Checks that involve several flags live in [`crate::compile`].

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::validate::{
    parse_env_var, parse_image, parse_port, parse_registry_name, parse_runtime, EnvArg, PortArg,
};

/// Default registry name, also the container name.
pub const DEFAULT_NAME: &str = "regctl-registry";

/// Default registry image.
pub const DEFAULT_IMAGE: &str = "docker.io/library/registry:2";

#[derive(Debug, Parser)]
#[command(
    name = "regctl",
    version,
    about = "Create and manage local OCI registries on Docker or Podman",
    long_about = "Create and manage local OCI registries (the Distribution registry:2 server) \
                  on Docker or Podman, rootful or rootless.\n\n\
                  Not related to regclient's `regctl`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log more detail to stderr: -v for debug, -vv for trace
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log only errors to stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and start a registry
    Create(CreateArgs),

    /// List the registries regctl created
    #[command(alias = "ls")]
    List(ListArgs),

    /// Show one registry in detail
    Inspect(InspectArgs),

    /// Start a stopped registry and wait until it answers
    Start(StartArgs),

    /// Stop a running registry
    Stop(NameArgs),

    /// Remove registries; their data volumes stay unless --volumes is given
    #[command(alias = "rm")]
    Delete(DeleteArgs),

    /// List the container engines regctl can reach, and the one `auto` picks
    Runtimes(RuntimesArgs),
}

/// Container engine to use, as `--runtime` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// The first engine that answers: Docker, then Podman.
    Auto,
    Docker,
    Podman,
    /// One engine API address, `unix:///PATH` or `tcp://HOST:PORT`. Whether
    /// Docker or Podman listens there is read from its `GET /version`.
    Url(String),
}

/// Data format of stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// Data format of commands that print one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DocumentFormat {
    Json,
    Yaml,
}

#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Container engine to use: auto (the first that answers, Docker first),
    /// docker, podman, or the API address of one engine, such as
    /// unix:///run/podman/podman.sock or tcp://127.0.0.1:2375
    #[arg(
        long,
        value_name = "auto|docker|podman|URL",
        env = "REGCTL_RUNTIME",
        default_value = "auto",
        value_parser = parse_runtime
    )]
    pub runtime: RuntimeChoice,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Seconds to wait until the registry answers `GET /v2/`
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub wait_timeout: u64,

    /// Return as soon as the container started, without waiting for the
    /// registry to answer
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Registry name: the container name and its DNS alias on --network
    #[arg(default_value = DEFAULT_NAME, value_parser = parse_registry_name)]
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Registry image; pulled only when missing locally
    #[arg(long, value_name = "REF", default_value = DEFAULT_IMAGE, value_parser = parse_image)]
    pub image: String,

    /// Host address to publish the registry on, as [HOST_IP:]HOST_PORT.
    /// Default: 127.0.0.1 and the first free port from 5001
    #[arg(long, value_name = "[HOST_IP:]HOST_PORT", value_parser = parse_port)]
    pub port: Option<PortArg>,

    /// Allow deleting manifests and blobs through the registry API
    /// (REGISTRY_STORAGE_DELETE_ENABLED=true). Security cost: the registry
    /// has no authentication, so anyone who can reach the port can delete
    /// images
    #[arg(long)]
    pub delete_enabled: bool,

    /// Extra environment variable for the registry container, such as
    /// REGISTRY_LOG_LEVEL=debug; repeatable
    #[arg(long = "extra-env", value_name = "KEY=VALUE", value_parser = parse_env_var)]
    pub extra_env: Vec<EnvArg>,

    /// Existing network to attach the registry to (for a kind or k3d
    /// cluster); the registry name becomes its alias there
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// Keep the container when the registry fails to become ready, for
    /// debugging
    #[arg(long)]
    pub keep_on_failure: bool,

    /// Print the registry spec and the engine request, and create nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Format of stdout: the push address as text by default, or a document
    #[arg(short, long, value_enum)]
    pub output: Option<DocumentFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct RuntimesArgs {
    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Registry name
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = DocumentFormat::Json)]
    pub output: DocumentFormat,
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Registry name
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct NameArgs {
    /// Registry name
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Registry names
    #[arg(required = true)]
    pub names: Vec<String>,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Also remove the data volumes regctl created for them
    #[arg(long)]
    pub volumes: bool,
}
