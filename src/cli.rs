//! Command-line arguments, as clap parses them.
//!
//! Values that can be checked alone are parsed here by `value_parser`
//! functions from [`crate::validate`], so clap reports them as usage errors.
//! Checks that involve several flags live in [`crate::compile`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::refs::ImageRef;
use crate::validate::{
    parse_bucket, parse_endpoint, parse_env_var, parse_image, parse_image_ref, parse_port,
    parse_region, parse_registry_name, parse_repository, parse_root_directory, parse_runtime,
    parse_volume, EnvArg, PortArg, VolumeArg,
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
    Create(Box<CreateArgs>),

    /// List the registries regctl created
    #[command(alias = "ls")]
    List(ListArgs),

    /// Show one registry in detail
    Inspect(InspectArgs),

    /// Start a stopped registry and wait until it responds
    Start(StartArgs),

    /// Stop a running registry
    Stop(NameArgs),

    /// Remove registries; their data volumes stay unless --volumes is given
    #[command(alias = "rm")]
    Delete(DeleteArgs),

    /// List the repositories of a registry with their tags and digests
    Images(ImagesArgs),

    /// Delete images from a registry by tag, digest or tag glob
    ///
    /// The registry deletes manifests by digest, and every tag on a deleted
    /// manifest goes with it. A tag or glob therefore removes a manifest
    /// only when every tag on it is selected, while `REPO@DIGEST` removes
    /// it with all its tags. Deleting frees no disk space until `regctl gc`
    /// runs.
    Rmi(RmiArgs),

    /// Change a registry's settings, keeping its port, data and images
    ///
    /// The container is recreated from the spec recorded in its labels, with
    /// the same port and data volume. A running registry is started again,
    /// and a stopped one stays stopped. When the new container fails, the
    /// previous one is restored.
    Update(UpdateArgs),

    /// Free the disk space of deleted images with the registry's garbage
    /// collector
    ///
    /// The registry is stopped for the collection, because the collector
    /// corrupts images pushed while it runs, and started again afterwards.
    /// The restart also clears the registry's blob cache, which otherwise
    /// reports deleted layers as present.
    Gc(GcArgs),

    /// List the container engines regctl can reach, and the one `auto` picks
    Runtimes(RuntimesArgs),
}

/// Container engine to use, as `--runtime` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// The first engine that responds: Docker, then Podman.
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
    /// Container engine to use: auto (the first that responds, Docker first),
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
    /// Seconds to wait until the registry responds to `GET /v2/`
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
    pub storage: StorageArgs,

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

/// Storage driver of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    /// A named volume or a host path at /var/lib/registry
    Filesystem,
    /// Memory of the registry process; data is lost when it stops
    #[value(name = "inmemory")]
    InMemory,
    /// An S3 bucket, on AWS or an S3-compatible server
    S3,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Storage")]
pub struct StorageArgs {
    /// Storage driver of the registry
    #[arg(long, value_enum, default_value_t = StorageKind::Filesystem)]
    pub storage: StorageKind,

    /// Data of the filesystem storage: a volume name (created and labelled by
    /// regctl) or an absolute host path (bind-mounted, never deleted by
    /// regctl). Default: the volume NAME-data
    #[arg(long, value_name = "NAME|/PATH", value_parser = parse_volume)]
    pub volume: Option<VolumeArg>,

    /// S3 bucket; required with --storage s3
    #[arg(long, value_name = "BUCKET", value_parser = parse_bucket)]
    pub s3_bucket: Option<String>,

    /// S3 region; required unless --s3-endpoint is given, then us-east-1
    #[arg(long, value_name = "REGION", value_parser = parse_region)]
    pub s3_region: Option<String>,

    /// Endpoint of an S3-compatible server, such as http://10.88.0.1:9000;
    /// an http:// endpoint turns TLS off
    #[arg(long, value_name = "URL", value_parser = parse_endpoint)]
    pub s3_endpoint: Option<String>,

    /// Put the bucket name in the URL path instead of the host name, as
    /// most S3-compatible servers need
    #[arg(long)]
    pub s3_path_style: bool,

    /// Key prefix for everything the registry stores in the bucket
    #[arg(long, value_name = "PREFIX", value_parser = parse_root_directory)]
    pub s3_root_directory: Option<String>,

    /// S3 access key ID. Default: the AWS_ACCESS_KEY_ID variable
    #[arg(long, value_name = "KEY")]
    pub s3_access_key: Option<String>,

    /// File that contains the S3 secret access key. Default: the
    /// AWS_SECRET_ACCESS_KEY variable. Without any key, the registry uses the
    /// AWS SDK's default credential chain
    #[arg(long, value_name = "PATH")]
    pub s3_secret_key_file: Option<PathBuf>,
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

/// Largest catalog page that Distribution serves by default
/// (`catalog.maxentries`).
const MAX_PAGE_SIZE: i64 = 1000;

#[derive(Debug, Clone, Args)]
pub struct ImagesArgs {
    /// Registry name
    pub name: String,

    /// Repositories to list; all of them by default
    #[arg(value_name = "REPO", value_parser = parse_repository)]
    pub repositories: Vec<String>,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Repositories per catalog request
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PAGE_SIZE))]
    pub page_size: u32,

    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct RmiArgs {
    /// Registry name
    pub name: String,

    /// Images to delete: REPO:TAG, REPO@sha256:DIGEST, or a tag glob such
    /// as 'REPO:pr-*' (quote it for the shell)
    #[arg(value_name = "REF", required = true, value_parser = parse_image_ref)]
    pub references: Vec<ImageRef>,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Keep the N newest of the selected tags of each repository, by the
    /// creation time in the image config, and delete the rest
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Print what would be deleted, and delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
#[command(group(
    clap::ArgGroup::new("change")
        .required(true)
        .args(["delete_enabled", "no_delete_enabled"])
))]
pub struct UpdateArgs {
    /// Registry name
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Allow deleting manifests and blobs through the registry API.
    /// Security cost: the registry has no authentication, so anyone who can
    /// reach the port can delete images
    #[arg(long)]
    pub delete_enabled: bool,

    /// Forbid deleting through the registry API
    #[arg(long)]
    pub no_delete_enabled: bool,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct GcArgs {
    /// Registry name
    pub name: String,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Report what the collector would delete, and delete nothing. The
    /// registry is still stopped while the collector reads the storage
    #[arg(long)]
    pub dry_run: bool,

    /// Also delete manifests that no tag points at
    #[arg(long)]
    pub delete_untagged: bool,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// Format of stdout
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}
