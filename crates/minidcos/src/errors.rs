//! How errors reach the user: one line with the cause chain, then a hint where there is
//! an obvious next step. Errors are told apart by the library's variants, never by text.

use dcos_e2e::{Aftermath, Error as Lib, Parameter};

/// An error the CLI itself finds, with what to do about it.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error with a hint.
pub fn failure(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Failure {
        message: message.into(),
        hint: Some(hint.into()),
    }
    .into()
}

/// The library's parameters, as the flags that set them.
pub fn flag_of(parameter: Parameter) -> Option<&'static str> {
    Some(match parameter {
        Parameter::ClusterId => "--cluster-id",
        Parameter::Masters => "--masters",
        Parameter::Agents => "--agents",
        Parameter::PublicAgents => "--public-agents",
        Parameter::MasterMounts => "--custom-master-volume",
        Parameter::AgentMounts => "--custom-agent-volume",
        Parameter::PublicAgentMounts => "--custom-public-agent-volume",
        Parameter::WorkspaceDir => "--workspace-dir",
        Parameter::NodeImage => "--node-image",
        Parameter::BuildArtifact => "ARTIFACT",
        Parameter::ExtraConfig => "--extra-config",
        Parameter::FilesToCopyToInstaller => "--copy-to-genconf",
        Parameter::Privileged => "--privileged",
        Parameter::Transport => "--transport",
        Parameter::Network => "--network",
        Parameter::Node => "--node",
        Parameter::Labels => "--label",
        Parameter::OneMasterHostPortMap => "--one-master-host-port-map",
        Parameter::Distribution => "--distribution",
        Parameter::EngineStorageDriver => "--engine-storage-driver",
        Parameter::Images => "IMAGE",
        _ => return None,
    })
}

/// A library error about a parameter, restated in terms of the flag the user gave.
pub fn in_flag_terms(e: Lib) -> anyhow::Error {
    let restated = match &e {
        Lib::InvalidParameter {
            parameter,
            value,
            reason,
        } => flag_of(*parameter).map(|flag| format!("invalid {flag} `{value}`: {reason}")),
        Lib::ClusterIdTaken { cluster_id } => Some(format!(
            "invalid --cluster-id `{cluster_id}`: a cluster with this id already exists"
        )),
        Lib::NoSuchNode {
            selector,
            cluster_id,
        } => Some(format!(
            "--node `{selector}` matches no node of {cluster_id}"
        )),
        _ => None,
    };
    match restated {
        Some(message) => Failure {
            message,
            hint: hint_for(&e),
        }
        .into(),
        None => e.into(),
    }
}

/// What to do next, for the library's errors with an obvious remedy.
fn hint_for(lib: &Lib) -> Option<String> {
    Some(
        match lib {
            Lib::ClusterIdTaken { .. } => {
                "pick another id, or leave --cluster-id out for a random one; `minidcos docker list` shows the ids in use"
            }
            Lib::NoSuchCluster { .. } => "`minidcos docker list` shows the clusters",
            Lib::NoSuchNode { .. } => "`inspect` lists the nodes",
            Lib::InvalidParameter { parameter, .. } => match *parameter {
                Parameter::ClusterId => "leave --cluster-id out for a random one",
                Parameter::MasterMounts | Parameter::AgentMounts | Parameter::PublicAgentMounts => {
                    "the source must be an existing path on this host, the target an absolute path"
                }
                Parameter::WorkspaceDir => "give an existing directory",
                Parameter::NodeImage => {
                    "leave --node-image out to use (and build) ours, or `docker load` the image first"
                }
                Parameter::BuildArtifact => {
                    "give the path of the installer, e.g. dcos_generate_config.sh"
                }
                Parameter::ExtraConfig => "give a readable YAML mapping, e.g. `cluster_name: test`",
                Parameter::Network => {
                    "`docker network ls` shows the networks; leave --network out for a private one"
                }
                Parameter::Distribution => "bookworm and trixie boot on any host; forky needs a cgroup v2 host",
                Parameter::ClusterFile => "see `minidcos existing --help` for the format",
                _ => return None,
            },
            Lib::DockerUnreachable { .. } => {
                "start dockerd, or set DOCKER_HOST; `minidcos docker doctor` checks the setup"
            }
            Lib::DebootstrapMissing => "apt-get install debootstrap",
            Lib::ImageBuild { .. } => {
                "check the mirror (--mirror) and that you are root; `minidcos docker doctor`"
            }
            Lib::CreateFailed(f) if matches!(f.cause, Lib::AddressPoolsExhausted { .. }) => {
                return hint_for(&f.cause);
            }
            Lib::AddressPoolsExhausted { .. } => {
                "`minidcos docker list` shows the clusters, `minidcos docker doctor` counts the free subnets; docs/troubleshooting.md shows a daemon.json with room for hundreds"
            }
            Lib::CreateFailed(f) => match f.aftermath {
                Aftermath::Kept(_) => {
                    "inspect it with `minidcos docker inspect`, remove it with `minidcos docker destroy`"
                }
                Aftermath::CleanupFailed(_) => "`minidcos docker clean` removes what is left",
                _ => {
                    "nothing was left behind; `-v` shows each step, and DCOS_E2E_KEEP=1 keeps a failed cluster for a look"
                }
            },
            Lib::HostKeyMismatch { .. } => {
                "the address now answers with another host key: is it still the node you made?"
            }
            Lib::HostKeyUnknown { .. } => {
                "check the fingerprint, then add the host with `ssh-keyscan -H ADDRESS >> KNOWN_HOSTS`; or set `known_hosts:` in the cluster file, or `strict_host_key_checking: false` to trust it on first use"
            }
            Lib::HostKeyRevoked { .. } => {
                "the key is revoked on purpose: find out why before connecting"
            }
            Lib::AuthenticationRefused { .. } => {
                "check the user and that the key is in its authorized_keys"
            }
            Lib::NoAddress { .. } | Lib::Unreachable { .. } | Lib::Timeout { .. } | Lib::Transport { .. } => {
                "is the node running and reachable? `--transport docker-exec` avoids the network path"
            }
            Lib::KernelModuleMissing { .. } => {
                "ask only for what the kernel has (`minidcos docker doctor`: link shaping), or load the module on the daemon's host"
            }
            Lib::NodeDown { .. } => {
                "start or resume it: `minidcos docker node start ID NODE` (or `resume`)"
            }
            Lib::WaitTimeout { .. } => {
                "look at the node with `minidcos docker run ID -- journalctl -b`"
            }
            Lib::Install { .. } => {
                "the message ends with the step's output; `minidcos docker create --log-output-live` streams it as it runs"
            }
            Lib::InstallTimeout { .. } => {
                "the installer hung: its last lines are above; `--log-output-live` streams all of it, and DCOS_E2E_KEEP=1 keeps the workspace with genconf.log"
            }
            Lib::Io { .. } => "check the path exists and is readable",
            Lib::ImageBuildLocked { .. } => {
                "another build of this image is running (or stuck): wait for it, or find it with `fuser` on the lock file"
            }
            Lib::ImageMissing { .. } => {
                "`docker images` lists the images on this host; build, pull or `docker load` it there first"
            }
            Lib::NoEngine { .. } => {
                "create the cluster with `--engine` (a node image with a Docker Engine inside)"
            }
            Lib::EngineDown { .. } => {
                "`minidcos docker run ID --node NODE -- journalctl -u docker --no-pager` says why"
            }
            Lib::Download { .. } => {
                "check the URL; a path or a file:// URL works without a network, and DCOS_E2E_CACHE_DIR says where downloads are kept"
            }
            Lib::ChecksumMismatch { .. } => {
                "the artifact at that URL is not the one the checksum is for: check both"
            }
            Lib::NotInstalled { .. } => {
                "install DC/OS first: `minidcos docker install ID ARTIFACT`"
            }
            Lib::NodesMissing { .. } => {
                "`minidcos docker add-node ID ROLE` makes one at that address and installs it"
            }
            Lib::VersionsDiffer { .. } => {
                "upgrade the nodes of each version apart, with --node"
            }
            Lib::UpgradeStopped { .. } => {
                "the nodes named before it are upgraded; `minidcos docker run ID --node NODE -- journalctl -b` shows why, and `upgrade --node` goes on with the rest"
            }
            Lib::ImageLoad { .. } => {
                "the message says why on each node; `minidcos docker inspect ID` shows each node's engine"
            }
            _ => return None,
        }
        .to_string(),
    )
}

/// The error and its causes, on one line.
pub fn chain(e: &anyhow::Error) -> String {
    dcos_e2e::chain(e.as_ref())
}

/// What to do next, for errors with an obvious remedy.
pub fn hint(e: &anyhow::Error) -> Option<String> {
    if let Some(f) = e.chain().find_map(|c| c.downcast_ref::<Failure>()) {
        return f.hint.clone();
    }
    e.chain()
        .find_map(|c| c.downcast_ref::<Lib>())
        .and_then(hint_for)
}
