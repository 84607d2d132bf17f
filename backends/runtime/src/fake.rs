//! An in-memory [`ContainerRuntime`] that records every call, for unit
//! tests of the code that drives a runtime.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{
    one_off_labels, registry_labels, CompletedRun, ContainerFile, ContainerInfo, ContainerRuntime,
    ContainerState, EngineInfo, ImageCommand, MountInfo, PublishedPort, RegistrySpec, RuntimeError,
    RuntimeKind, DATA_DIR, REGISTRY_PORT,
};

/// Failure a test makes the fake return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `pull_image` fails.
    Pull,
    /// `start_container` fails with [`RuntimeError::PortInUse`].
    PortInUse,
    /// `create_container` fails after the volume was created.
    CreateContainer,
    /// The next `create_container` fails, and later ones succeed.
    CreateContainerOnce,
    /// `run_to_completion` fails before the container runs.
    RunToCompletion,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<String>,
    images: BTreeSet<String>,
    networks: BTreeSet<String>,
    volumes: BTreeMap<String, BTreeMap<String, String>>,
    containers: BTreeMap<String, ContainerInfo>,
    files: BTreeMap<(String, String), ContainerFile>,
    faults: Vec<Fault>,
    image_commands: BTreeMap<String, ImageCommand>,
    runs: VecDeque<CompletedRun>,
    volume_sizes: BTreeMap<String, VecDeque<u64>>,
}

/// Fake engine whose state lives in memory.
#[derive(Debug)]
pub struct FakeRuntime {
    kind: RuntimeKind,
    state: Mutex<State>,
}

impl FakeRuntime {
    pub fn new(kind: RuntimeKind) -> Self {
        FakeRuntime {
            kind,
            state: Mutex::new(State::default()),
        }
    }

    /// Makes `reference` present locally, so `create` does not pull it.
    pub fn with_image(self, reference: &str) -> Self {
        self.lock().images.insert(reference.to_owned());
        self
    }

    pub fn with_network(self, name: &str) -> Self {
        self.lock().networks.insert(name.to_owned());
        self
    }

    pub fn with_fault(self, fault: Fault) -> Self {
        self.lock().faults.push(fault);
        self
    }

    /// Sets the entrypoint and command that `image_command` returns for
    /// `reference`.
    pub fn with_image_command(self, reference: &str, entrypoint: &[&str], cmd: &[&str]) -> Self {
        let command = ImageCommand {
            entrypoint: entrypoint.iter().map(|arg| (*arg).to_owned()).collect(),
            cmd: cmd.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        self.lock()
            .image_commands
            .insert(reference.to_owned(), command);
        self
    }

    /// Queues the result of the next `run_to_completion`. Without one, a run
    /// exits 0 with no output.
    pub fn with_run_result(self, exit_code: i64, output: &str) -> Self {
        self.lock().runs.push_back(CompletedRun {
            exit_code,
            output: output.to_owned(),
        });
        self
    }

    /// Queues the sizes that successive `volume_size` calls return for
    /// `name`. Without one, the size is unknown.
    pub fn with_volume_sizes(self, name: &str, sizes: &[u64]) -> Self {
        self.lock()
            .volume_sizes
            .insert(name.to_owned(), sizes.iter().copied().collect());
        self
    }

    /// Adds the container of a registry that regctl created from `spec`,
    /// in `state`, without recording a call or checking faults.
    pub fn with_registry(self, spec: &RegistrySpec, state: ContainerState) -> Self {
        let mut info = container_from_spec(spec);
        info.state = state;
        self.lock().containers.insert(spec.name.clone(), info);
        self
    }

    /// Adds an exited one-off container named `name` that worked on
    /// registry `registry`, as an interrupted task leaves it.
    pub fn with_one_off(self, name: &str, registry: &str) -> Self {
        let info = ContainerInfo {
            id: format!("id-{name}"),
            name: name.to_owned(),
            image: "docker.io/library/registry:2".to_owned(),
            state: ContainerState::Exited,
            labels: one_off_labels(registry),
            env: Vec::new(),
            ports: Vec::new(),
            networks: Vec::new(),
            mounts: Vec::new(),
        };
        self.lock().containers.insert(name.to_owned(), info);
        self
    }

    /// Adds a container that regctl did not create.
    pub fn with_foreign_container(self, name: &str) -> Self {
        let info = ContainerInfo {
            id: format!("id-{name}"),
            name: name.to_owned(),
            image: "docker.io/library/nginx:latest".to_owned(),
            state: ContainerState::Running,
            labels: BTreeMap::new(),
            env: Vec::new(),
            ports: Vec::new(),
            networks: Vec::new(),
            mounts: Vec::new(),
        };
        self.lock().containers.insert(name.to_owned(), info);
        self
    }

    /// Calls made so far, such as `create_container regctl-registry`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn container_names(&self) -> Vec<String> {
        self.lock().containers.keys().cloned().collect()
    }

    /// Returns the file written into `container` at `path`, if any.
    pub fn file(&self, container: &str, path: &str) -> Option<ContainerFile> {
        self.lock()
            .files
            .get(&(container.to_owned(), path.to_owned()))
            .cloned()
    }

    pub fn volume_names(&self) -> Vec<String> {
        self.lock().volumes.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("fake runtime state is not poisoned")
    }

    fn record(&self, call: String) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.lock();
        state.calls.push(call);
        state
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected fault: {0}")]
struct InjectedFault(&'static str);

fn container_from_spec(spec: &RegistrySpec) -> ContainerInfo {
    ContainerInfo {
        id: format!("id-{}", spec.name),
        name: spec.name.clone(),
        image: spec.image.clone(),
        state: ContainerState::Created,
        labels: registry_labels(spec),
        env: spec.env_strings(),
        ports: vec![PublishedPort {
            host_ip: spec.port.host_ip.to_string(),
            host_port: spec.port.host_port.unwrap_or_default(),
            container_port: REGISTRY_PORT,
        }],
        networks: spec.network.iter().map(|net| net.name.clone()).collect(),
        mounts: spec
            .data_volume()
            .map(|name| ("volume", name))
            .or(spec.bind_path().map(|path| ("bind", path)))
            .map(|(kind, source)| MountInfo {
                kind: kind.to_owned(),
                source: source.to_owned(),
                destination: DATA_DIR.to_owned(),
            })
            .into_iter()
            .collect(),
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }

    fn socket(&self) -> &str {
        "fake://"
    }

    fn create_request(&self, spec: &RegistrySpec) -> Result<serde_json::Value, RuntimeError> {
        Ok(serde_json::json!({ "fake": spec.name }))
    }

    async fn info(&self) -> Result<EngineInfo, RuntimeError> {
        drop(self.record("info".to_owned()));
        Ok(EngineInfo {
            kind: self.kind,
            version: "0.0.0".to_owned(),
            api_version: "0.0".to_owned(),
            socket: self.socket().to_owned(),
            rootless: false,
        })
    }

    async fn image_exists(&self, reference: &str) -> Result<bool, RuntimeError> {
        let state = self.record(format!("image_exists {reference}"));
        Ok(state.images.contains(reference))
    }

    async fn pull_image(&self, reference: &str) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("pull_image {reference}"));
        if state.faults.contains(&Fault::Pull) {
            return Err(RuntimeError::engine(InjectedFault("pull failed")));
        }
        state.images.insert(reference.to_owned());
        Ok(())
    }

    async fn network_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        let state = self.record(format!("network_exists {name}"));
        Ok(state.networks.contains(name))
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        let state = self.record(format!("volume_exists {name}"));
        Ok(state.volumes.contains_key(name))
    }

    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, RuntimeError> {
        let state = self.record(format!("volume_labels {name}"));
        Ok(state.volumes.get(name).cloned())
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("create_volume {name}"));
        state.volumes.insert(name.to_owned(), labels.clone());
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("remove_volume {name}"));
        state.volumes.remove(name);
        Ok(())
    }

    async fn create_container(&self, spec: &RegistrySpec) -> Result<String, RuntimeError> {
        let mut state = self.record(format!("create_container {}", spec.name));
        if state.faults.contains(&Fault::CreateContainer) {
            return Err(RuntimeError::engine(InjectedFault("create failed")));
        }
        if let Some(index) = state
            .faults
            .iter()
            .position(|fault| *fault == Fault::CreateContainerOnce)
        {
            state.faults.remove(index);
            return Err(RuntimeError::engine(InjectedFault("create failed once")));
        }
        if state.containers.contains_key(&spec.name) {
            return Err(RuntimeError::ContainerExists {
                name: spec.name.clone(),
            });
        }
        let info = container_from_spec(spec);
        let id = info.id.clone();
        state.containers.insert(spec.name.clone(), info);
        Ok(id)
    }

    async fn copy_file_into(&self, name: &str, file: &ContainerFile) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("copy_file_into {name} {}", file.path));
        if !state.containers.contains_key(name) {
            return Err(RuntimeError::ContainerNotFound {
                name: name.to_owned(),
            });
        }
        state
            .files
            .insert((name.to_owned(), file.path.clone()), file.clone());
        Ok(())
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, RuntimeError> {
        let state = self.record(format!("read_file {name} {path}"));
        Ok(state
            .files
            .get(&(name.to_owned(), path.to_owned()))
            .map(|file| file.contents.clone()))
    }

    async fn start_container(&self, name: &str) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("start_container {name}"));
        if state.faults.contains(&Fault::PortInUse) {
            let port = state
                .containers
                .get(name)
                .and_then(|info| info.ports.first())
                .map_or(0, |port| port.host_port);
            return Err(RuntimeError::PortInUse {
                port,
                source: Box::new(InjectedFault("address already in use")),
            });
        }
        let info =
            state
                .containers
                .get_mut(name)
                .ok_or_else(|| RuntimeError::ContainerNotFound {
                    name: name.to_owned(),
                })?;
        info.state = ContainerState::Running;
        Ok(())
    }

    async fn stop_container(&self, name: &str, _timeout_seconds: u32) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("stop_container {name}"));
        let info =
            state
                .containers
                .get_mut(name)
                .ok_or_else(|| RuntimeError::ContainerNotFound {
                    name: name.to_owned(),
                })?;
        info.state = ContainerState::Exited;
        Ok(())
    }

    async fn remove_container(&self, name: &str) -> Result<(), RuntimeError> {
        let mut state = self.record(format!("remove_container {name}"));
        state
            .containers
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| RuntimeError::ContainerNotFound {
                name: name.to_owned(),
            })
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        let state = self.record(format!("inspect_container {name}"));
        Ok(state.containers.get(name).cloned())
    }

    async fn list_containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let state = self.record(format!("list_containers {label}={value}"));
        Ok(state
            .containers
            .values()
            .filter(|info| info.labels.get(label).map(String::as_str) == Some(value))
            .cloned()
            .collect())
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String, RuntimeError> {
        drop(self.record(format!("container_logs {name} {tail}")));
        Ok("fake log line\n".to_owned())
    }

    async fn image_command(&self, image: &str) -> Result<ImageCommand, RuntimeError> {
        let state = self.record(format!("image_command {image}"));
        Ok(state.image_commands.get(image).cloned().unwrap_or_default())
    }

    /// Records the run and returns the next queued result. No container is
    /// left behind, as with the real backends.
    async fn run_to_completion(
        &self,
        spec: &RegistrySpec,
        name: &str,
        command: Vec<String>,
        files: &[ContainerFile],
    ) -> Result<CompletedRun, RuntimeError> {
        let mut state = self.record(format!(
            "run_to_completion {name} from {} {}",
            spec.name,
            command.join(" ")
        ));
        for file in files {
            state
                .files
                .insert((name.to_owned(), file.path.clone()), file.clone());
        }
        if state.faults.contains(&Fault::RunToCompletion) {
            return Err(RuntimeError::engine(InjectedFault("run failed")));
        }
        if state.containers.contains_key(name) {
            return Err(RuntimeError::ContainerExists {
                name: name.to_owned(),
            });
        }
        Ok(state.runs.pop_front().unwrap_or(CompletedRun {
            exit_code: 0,
            output: String::new(),
        }))
    }

    async fn volume_size(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        let mut state = self.record(format!("volume_size {name}"));
        Ok(state
            .volume_sizes
            .get_mut(name)
            .and_then(VecDeque::pop_front))
    }
}
