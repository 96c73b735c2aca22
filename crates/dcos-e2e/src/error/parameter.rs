//! The parameters an [`Error::InvalidParameter`](crate::Error::InvalidParameter) can name,
//! so callers match on a variant rather than on text.

/// A parameter, by the name a user of the library knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parameter {
    /// A command's arguments.
    Args,
    /// A loop device's size.
    SizeMib,
    /// The installer (`build_artifact`).
    BuildArtifact,
    /// An existing cluster's file.
    ClusterFile,
    /// The cluster's id.
    ClusterId,
    /// Mounts given for nodes.
    CustomMounts,
    /// `destroy_on_error`.
    DestroyOnError,
    /// `destroy_on_success`.
    DestroyOnSuccess,
    /// The node image's distribution.
    Distribution,
    /// A Docker daemon's address.
    DockerHost,
    /// The Docker daemons of a cluster over several.
    DockerHosts,
    /// The storage driver of the engine inside nodes.
    EngineStorageDriver,
    /// A command's environment.
    Env,
    /// Extra installer configuration.
    ExtraConfig,
    /// Files for the installer's genconf directory.
    FilesToCopyToInstaller,
    /// Images to load into nodes.
    Images,
    /// A known_hosts file.
    KnownHosts,
    /// Labels of the cluster's objects.
    Labels,
    /// A path on this host.
    LocalPath,
    /// The number of masters.
    Masters,
    /// The number of agents.
    Agents,
    /// The number of public agents.
    PublicAgents,
    /// How a link is degraded.
    Link,
    /// Mounts on masters.
    MasterMounts,
    /// Mounts on agents.
    AgentMounts,
    /// Mounts on public agents.
    PublicAgentMounts,
    /// The Debian mirror for the node image.
    Mirror,
    /// A mount given as text.
    Mount,
    /// The Docker network of the nodes.
    Network,
    /// A node selector.
    Node,
    /// The node image.
    NodeImage,
    /// The nodes an operation is for.
    Nodes,
    /// Ports of the first master published on this host.
    OneMasterHostPortMap,
    /// Where nodes are placed over several daemons.
    Place,
    /// The address published ports are reached at.
    PublishedAddress,
    /// How privileged the node containers are.
    Privileged,
    /// A process on a node.
    Process,
    /// A path on a node.
    RemotePath,
    /// A node role.
    Role,
    /// A shell script.
    Script,
    /// A signal for a node.
    Signal,
    /// An SSH private key.
    SshKeyPath,
    /// A node transport.
    Transport,
    /// A terminal for a command.
    Tty,
    /// Where workspaces are made.
    WorkspaceDir,
}

impl Parameter {
    /// The name, as messages spell it (`masters`, `build_artifact`, `cluster file`).
    pub fn as_str(self) -> &'static str {
        match self {
            Parameter::Args => "args",
            Parameter::BuildArtifact => "build_artifact",
            Parameter::ClusterFile => "cluster file",
            Parameter::ClusterId => "cluster_id",
            Parameter::CustomMounts => "custom mounts",
            Parameter::DestroyOnError => "destroy_on_error",
            Parameter::DestroyOnSuccess => "destroy_on_success",
            Parameter::Distribution => "distribution",
            Parameter::DockerHost => "docker_host",
            Parameter::DockerHosts => "docker_hosts",
            Parameter::EngineStorageDriver => "engine_storage_driver",
            Parameter::Env => "env",
            Parameter::ExtraConfig => "extra_config",
            Parameter::FilesToCopyToInstaller => "files_to_copy_to_installer",
            Parameter::Images => "images",
            Parameter::KnownHosts => "known_hosts",
            Parameter::Labels => "labels",
            Parameter::LocalPath => "local path",
            Parameter::SizeMib => "size_megabytes",
            Parameter::Masters => "masters",
            Parameter::Agents => "agents",
            Parameter::PublicAgents => "public_agents",
            Parameter::Link => "link",
            Parameter::MasterMounts => "master_mounts",
            Parameter::AgentMounts => "agent_mounts",
            Parameter::PublicAgentMounts => "public_agent_mounts",
            Parameter::Mirror => "mirror",
            Parameter::Mount => "mount",
            Parameter::Network => "network",
            Parameter::Node => "node",
            Parameter::NodeImage => "node_image",
            Parameter::Nodes => "nodes",
            Parameter::OneMasterHostPortMap => "one_master_host_port_map",
            Parameter::Place => "place",
            Parameter::PublishedAddress => "published_address",
            Parameter::Privileged => "privileged",
            Parameter::Process => "process",
            Parameter::RemotePath => "remote path",
            Parameter::Role => "role",
            Parameter::Script => "script",
            Parameter::Signal => "signal",
            Parameter::SshKeyPath => "ssh_key_path",
            Parameter::Transport => "transport",
            Parameter::Tty => "tty",
            Parameter::WorkspaceDir => "workspace_dir",
        }
    }
}

impl std::fmt::Display for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
