//! What DC/OS records of its build on every node it installed:
//! `/opt/mesosphere/etc/dcos-version.json`.

use serde::Deserialize;

use super::command::Command;
use super::node::Node;
use crate::error::{Error, Result};

/// Where DC/OS keeps its build information on a node.
pub const BUILD_INFO_PATH: &str = "/opt/mesosphere/etc/dcos-version.json";

/// Where DC/OS before 1.12 kept what tells the variants apart.
const FULL_CONFIG_PATH: &str = "/opt/mesosphere/etc/expanded.config.full.json";

/// Open source DC/OS or DC/OS Enterprise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DcosVariant {
    /// Open source DC/OS (`open`).
    Oss,
    /// DC/OS Enterprise (`enterprise`).
    Enterprise,
}

/// A node's DC/OS build: [`Node::dcos_build_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    /// The DC/OS version, e.g. `2.2.0`.
    pub version: String,
    /// The commit of the DC/OS image it was built from.
    pub commit: String,
    /// Open source or Enterprise.
    pub variant: DcosVariant,
}

#[derive(Deserialize)]
struct Recorded {
    version: String,
    #[serde(rename = "dcos-image-commit")]
    commit: String,
    #[serde(rename = "dcos-variant")]
    variant: Option<String>,
}

/// Exit status of the read when the file is not there (distinct from `cat`'s own).
const MISSING: i32 = 66;

impl Node {
    /// The DC/OS build installed on this node, from [`BUILD_INFO_PATH`]. A node without
    /// it is [`Error::NotInstalled`].
    pub async fn dcos_build_info(&self) -> Result<BuildInfo> {
        let recorded: Recorded = parse(self, &self.read_json(BUILD_INFO_PATH).await?)?;
        let variant = match recorded.variant.as_deref() {
            Some(v) => variant(self, v)?,
            // Before DC/OS 1.12 the variant was only in the full config: Enterprise has a
            // `security` key there.
            None => {
                let full: serde_json::Value =
                    parse(self, &self.read_json(FULL_CONFIG_PATH).await?)?;
                if full.get("security").is_some() {
                    DcosVariant::Enterprise
                } else {
                    DcosVariant::Oss
                }
            }
        };
        Ok(BuildInfo {
            version: recorded.version,
            commit: recorded.commit,
            variant,
        })
    }

    async fn read_json(&self, path: &'static str) -> Result<String> {
        let script = format!("[ -e {path} ] || exit {MISSING}; cat {path}");
        let out = self.output(Command::shell(script)).await?;
        match out.status {
            0 => Ok(out.stdout_text()),
            MISSING => Err(Error::NotInstalled {
                node: self.to_string(),
                detail: format!("{path} is missing"),
            }),
            _ => Err(Error::NotInstalled {
                node: self.to_string(),
                detail: format!("{path} cannot be read: {}", out.stderr_text()),
            }),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(node: &Node, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::NotInstalled {
        node: node.to_string(),
        detail: format!("its build information is not what DC/OS writes: {e}"),
    })
}

fn variant(node: &Node, recorded: &str) -> Result<DcosVariant> {
    match recorded {
        "open" => Ok(DcosVariant::Oss),
        "enterprise" => Ok(DcosVariant::Enterprise),
        other => Err(Error::NotInstalled {
            node: node.to_string(),
            detail: format!(
                "unknown dcos-variant `{other}` in {BUILD_INFO_PATH} (open or enterprise)"
            ),
        }),
    }
}
