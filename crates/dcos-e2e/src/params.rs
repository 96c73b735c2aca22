//! What a user asks for: DC/OS E2E's 2017 API's `Cluster` parameters, what to install and with which
//! configuration. Checked here, before anything is made; read by the backends (counts,
//! logging, error policy) and the installer.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Parameter, Result};

/// Receives progress lines of a long step (an image build, an image load).
pub type ProgressFn = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// A YAML mapping merged over the base install config (its top-level keys win): the
/// `extra_config` of DC/OS E2E's 2017 API.
///
/// ```
/// use dcos_e2e::ExtraConfig;
///
/// let extra = ExtraConfig::from_yaml("cluster_name: test\nresolvers: [10.0.0.1]").unwrap();
/// assert!(!extra.is_empty());
/// assert!(ExtraConfig::from_yaml("- not a mapping").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraConfig(yaml_serde::Mapping);

impl ExtraConfig {
    /// An empty configuration (nothing overridden).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse YAML text; it must be a mapping (or empty).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let value: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| {
            Error::invalid(
                Parameter::ExtraConfig,
                one_line(text),
                format!("not YAML: {e}"),
            )
        })?;
        Self::from_value(value)
    }

    /// Read a YAML file (as `minidcos docker create --extra-config FILE` does).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                Parameter::ExtraConfig,
                path.display(),
                format!("cannot be read: {e}"),
            )
        })?;
        let value: yaml_serde::Value = yaml_serde::from_str(&text).map_err(|e| {
            Error::invalid(
                Parameter::ExtraConfig,
                path.display(),
                format!("not YAML: {e}"),
            )
        })?;
        Self::from_value(value)
    }

    /// From any serializable value that is a mapping (a struct, a map).
    pub fn from_serialize<T: serde::Serialize>(value: &T) -> Result<Self> {
        let value = yaml_serde::to_value(value)
            .map_err(|e| Error::invalid(Parameter::ExtraConfig, "(value)", e.to_string()))?;
        Self::from_value(value)
    }

    fn from_value(value: yaml_serde::Value) -> Result<Self> {
        match value {
            yaml_serde::Value::Mapping(m) => Ok(Self(m)),
            yaml_serde::Value::Null => Ok(Self::default()),
            other => Err(Error::invalid(
                Parameter::ExtraConfig,
                yaml_one_line(&other),
                "must be a YAML mapping",
            )),
        }
    }

    /// Whether it overrides nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The configuration as YAML text.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(&self.0).unwrap_or_default()
    }

    pub(crate) fn mapping(&self) -> &yaml_serde::Mapping {
        &self.0
    }
}

impl std::fmt::Display for ExtraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&one_line(&self.to_yaml()))
    }
}

fn one_line(text: &str) -> String {
    text.trim().replace('\n', " ")
}

pub(crate) fn yaml_one_line(v: &yaml_serde::Value) -> String {
    one_line(&yaml_serde::to_string(v).unwrap_or_default())
}

/// What to install: the artifact and its configuration.
///
/// ```
/// use dcos_e2e::{ExtraConfig, InstallOptions};
///
/// let options = InstallOptions::new("dcos_generate_config.sh")
///     .extra_config(ExtraConfig::from_yaml("cluster_name: test").unwrap())
///     .file_to_copy_to_installer("/etc/ssl/ca.crt", "/genconf/ca.crt");
/// assert_eq!(options.files_to_copy_to_installer.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct InstallOptions {
    /// The installer, run with bash.
    pub build_artifact: PathBuf,
    /// Merged over the base config (its keys win).
    pub extra_config: Option<ExtraConfig>,
    /// Host file or directory -> destination under `/genconf`.
    pub files_to_copy_to_installer: Vec<(PathBuf, PathBuf)>,
    /// The sha256 (hex) the artifact's content must have.
    pub artifact_sha256: Option<String>,
    /// Log the installer's output as it comes, for this install: stdout lines at INFO,
    /// stderr lines at WARN (the final Python API's `Output.LOG_AND_CAPTURE`). `None`:
    /// as the cluster's `log_output_live` says, every line at INFO.
    pub log_output_live: Option<bool>,
}

impl InstallOptions {
    /// Install from this artifact with the base config.
    pub fn new(build_artifact: impl Into<PathBuf>) -> Self {
        Self {
            build_artifact: build_artifact.into(),
            ..Default::default()
        }
    }

    /// Merge this over the base config.
    pub fn extra_config(mut self, config: ExtraConfig) -> Self {
        self.extra_config = Some(config);
        self
    }

    /// Copy a host file or directory into the installer's `genconf/` (the destination
    /// must lie under `/genconf`).
    pub fn file_to_copy_to_installer(
        mut self,
        source: impl Into<PathBuf>,
        destination: impl Into<PathBuf>,
    ) -> Self {
        self.files_to_copy_to_installer
            .push((source.into(), destination.into()));
        self
    }

    /// Log this install's installer output as it comes, stderr lines as warnings (see
    /// the field).
    pub fn log_output_live(mut self, live: bool) -> Self {
        self.log_output_live = Some(live);
        self
    }

    /// Check the artifact's content against this sha256 (hex, any case), for a URL or a
    /// path.
    pub fn artifact_sha256(mut self, hex: impl Into<String>) -> Self {
        self.artifact_sha256 = Some(hex.into());
        self
    }

    /// Check everything that can be checked before any node is touched.
    pub fn validate(&self) -> Result<()> {
        let artifact = &self.build_artifact;
        // A URL is only fetched when installing; a `file://` one must be there now.
        if let ArtifactSource::Local(path) = artifact_source(artifact)? {
            check_artifact_file(artifact, &path)?;
        }
        if let Some(hex) = &self.artifact_sha256 {
            sha256_hex(hex)?;
        }
        for (source, destination) in &self.files_to_copy_to_installer {
            genconf_relative(destination)?;
            if !source.exists() {
                return Err(Error::invalid(
                    Parameter::FilesToCopyToInstaller,
                    source.display(),
                    "the source does not exist",
                ));
            }
        }
        Ok(())
    }
}

/// Where a build artifact is. Here rather than in `install`, so `validate` can tell.
#[derive(Debug, PartialEq)]
pub(crate) enum ArtifactSource {
    /// A file on this host: a plain path, or a `file://` URL's path.
    Local(PathBuf),
    /// An `http://` or `https://` URL.
    Remote(reqwest::Url),
}

/// The URL schemes a build artifact may have.
pub(crate) const ARTIFACT_SCHEMES: [&str; 3] = ["http", "https", "file"];

/// The scheme of an artifact written as `scheme://...`, lower-cased.
pub(crate) fn artifact_scheme(artifact: &Path) -> Option<String> {
    let text = artifact.to_str()?;
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// A plain path, a `file://` URL's path, or an `http(s)://` URL; anything else is refused.
pub(crate) fn artifact_source(artifact: &Path) -> Result<ArtifactSource> {
    let Some(scheme) = artifact_scheme(artifact) else {
        return Ok(ArtifactSource::Local(artifact.to_path_buf()));
    };
    let shown = artifact.display().to_string();
    if !ARTIFACT_SCHEMES.contains(&scheme.as_str()) {
        return Err(Error::invalid(
            Parameter::BuildArtifact,
            shown,
            "is neither a path nor an http://, https:// or file:// URL",
        ));
    }
    let text = artifact.to_str().unwrap_or_default();
    let url = reqwest::Url::parse(text)
        .map_err(|e| Error::invalid(Parameter::BuildArtifact, &shown, format!("not a URL: {e}")))?;
    if scheme != "file" {
        return Ok(ArtifactSource::Remote(url));
    }
    let path = url.to_file_path().map_err(|()| {
        Error::invalid(
            Parameter::BuildArtifact,
            shown,
            "names no file on this host (write file:///absolute/path)",
        )
    })?;
    Ok(ArtifactSource::Local(path))
}

/// The artifact, given as `shown`, is a readable file at `path`.
pub(crate) fn check_artifact_file(shown: &Path, path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Error::invalid(
            Parameter::BuildArtifact,
            shown.display(),
            "is not a file",
        )),
        Err(e) => Err(Error::invalid(
            Parameter::BuildArtifact,
            shown.display(),
            format!("cannot be read: {e}"),
        )),
    }
}

/// A sha256 given as hex, lower-cased; refused unless 64 hex digits.
pub(crate) fn sha256_hex(hex: &str) -> Result<String> {
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(Error::invalid(
            Parameter::BuildArtifact,
            hex,
            "is not an artifact_sha256: it must be 64 hex digits",
        ))
    }
}

/// The part of a `/genconf/...` destination below `/genconf`.
pub(crate) fn genconf_relative(destination: &Path) -> Result<PathBuf> {
    let rel = destination.strip_prefix("/genconf").ok().filter(|r| {
        !r.as_os_str().is_empty() && r.components().all(|c| matches!(c, Component::Normal(_)))
    });
    rel.map(Path::to_path_buf).ok_or_else(|| {
        Error::invalid(
            Parameter::FilesToCopyToInstaller,
            destination.display(),
            "the destination must be a path under /genconf",
        )
    })
}

/// The `Cluster` parameters (DC/OS E2E's 2017 names and defaults).
#[derive(Clone, Debug)]
pub(crate) struct ClusterParams {
    /// The sha256 (hex) the artifact's content must have.
    pub artifact_sha256: Option<String>,
    pub build_artifact: Option<PathBuf>,
    pub extra_config: Option<ExtraConfig>,
    pub masters: usize,
    pub agents: usize,
    pub public_agents: usize,
    pub log_output_live: bool,
    pub destroy_on_error: bool,
    pub destroy_on_success: bool,
    pub files_to_copy_to_installer: Vec<(PathBuf, PathBuf)>,
    /// Where to write a log bundle when the scope ends by error or panic.
    pub logs_on_failure: Option<PathBuf>,
    /// After create: wait for DC/OS this long, as part of creating.
    pub wait_for_dcos: Option<std::time::Duration>,
    /// Told each step of creating as it starts.
    pub progress: Option<Steps>,
}

/// A [`ProgressFn`] in parameters that are printed with `{:?}`.
#[derive(Clone)]
pub(crate) struct Steps(pub ProgressFn);

impl std::fmt::Debug for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Steps(..)")
    }
}

impl Steps {
    pub(crate) fn tell(steps: &Option<Steps>, step: &str) {
        tracing::info!("{step}");
        if let Some(Steps(f)) = steps {
            f(step);
        }
    }
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            build_artifact: None,
            artifact_sha256: None,
            extra_config: None,
            masters: 1,
            agents: 1,
            public_agents: 1,
            log_output_live: false,
            destroy_on_error: true,
            destroy_on_success: true,
            files_to_copy_to_installer: Vec::new(),
            logs_on_failure: None,
            wait_for_dcos: None,
            progress: None,
        }
    }
}

impl ClusterParams {
    pub(crate) fn install_options(&self) -> Option<InstallOptions> {
        self.build_artifact.as_ref().map(|artifact| InstallOptions {
            build_artifact: artifact.clone(),
            extra_config: self.extra_config.clone(),
            files_to_copy_to_installer: self.files_to_copy_to_installer.clone(),
            artifact_sha256: self.artifact_sha256.clone(),
            log_output_live: None,
        })
    }

    /// Whether a failed creation is kept rather than removed.
    pub(crate) fn keep_on_error(&self) -> bool {
        !self.destroy_on_error || crate::policy::keep_requested()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_be_under_genconf() {
        assert_eq!(
            genconf_relative(Path::new("/genconf/a/b.txt")).unwrap(),
            PathBuf::from("a/b.txt")
        );
        for bad in [
            "/etc/passwd",
            "/genconf",
            "/genconf/../etc",
            "genconf/x",
            "/genconfx/y",
        ] {
            let err = genconf_relative(Path::new(bad)).unwrap_err().to_string();
            assert!(
                err.contains("files_to_copy_to_installer") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn artifact_must_be_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = InstallOptions::new(dir.path())
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("build_artifact") && err.contains("not a file"),
            "{err}"
        );
        let err = InstallOptions::new(dir.path().join("missing.sh"))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("build_artifact") && err.contains("missing.sh"),
            "{err}"
        );
        let file = dir.path().join("installer.sh");
        std::fs::write(&file, "exit 0").unwrap();
        InstallOptions::new(&file).validate().unwrap();
        let missing_src = InstallOptions::new(&file)
            .file_to_copy_to_installer(dir.path().join("nope"), "/genconf/nope");
        assert!(
            missing_src
                .validate()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn a_url_artifact_is_checked_when_fetched() {
        InstallOptions::new("https://example.invalid/dcos_generate_config.sh")
            .validate()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("file://{}/none.sh", dir.path().display());
        let err = InstallOptions::new(&missing).validate().unwrap_err();
        assert_eq!(err.parameter(), Some(Parameter::BuildArtifact), "{err}");
        let err = InstallOptions::new("ftp://example.invalid/x.sh")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://"), "{err}");
        let file = dir.path().join("installer.sh");
        std::fs::write(&file, "exit 0").unwrap();
        let sha = "AB".repeat(32);
        InstallOptions::new(format!("file://{}", file.display()))
            .artifact_sha256(&sha)
            .validate()
            .unwrap();
        let err = InstallOptions::new(&file)
            .artifact_sha256("abc")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn extra_config_must_be_a_mapping() {
        let err = ExtraConfig::from_yaml("3").unwrap_err().to_string();
        assert!(
            err.contains("extra_config") && err.contains("mapping"),
            "{err}"
        );
        assert!(ExtraConfig::from_yaml("").unwrap().is_empty());
        let err = ExtraConfig::from_yaml("a: [").unwrap_err().to_string();
        assert!(err.contains("not YAML"), "{err}");
        #[derive(serde::Serialize)]
        struct Extra {
            cluster_name: &'static str,
        }
        let from_struct = ExtraConfig::from_serialize(&Extra { cluster_name: "x" }).unwrap();
        assert_eq!(
            from_struct,
            ExtraConfig::from_yaml("cluster_name: x").unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        let err = ExtraConfig::from_file(dir.path().join("none.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot be read") && err.contains("none.yaml"),
            "{err}"
        );
    }
}
