//! A loop device sidecar: a block device of a given size, backed by a file in a small
//! container of ours, for tests of a system's disk handling (the final Python API's
//! `DockerLoopbackVolume`). Loop devices are the kernel's, so the device is seen by
//! every container given access to it; the sidecar only holds its backing file.

use std::collections::HashMap;
use std::time::Duration;

use crate::backend::docker::daemon::client::{ContainerSpec, DockerClient, op};
use crate::backend::docker::image::{ImageOptions, ensure_image};
use crate::backend::docker::labels;
use crate::error::{Error, Result};

/// The `dcos-e2e.role` of a sidecar container.
pub(crate) const LOOPBACK_ROLE: &str = "loopback";

/// How long one step in the sidecar may take (writing the backing file is the longest).
const STEP_LIMIT: Duration = Duration::from_secs(300);
/// The device block major of loop devices.
const LOOP_MAJOR: u32 = 7;

/// A loop device of the given size, held by a sidecar container until
/// [`destroy`](LoopbackVolume::destroy).
#[derive(Debug)]
pub struct LoopbackVolume {
    client: DockerClient,
    container: String,
    path: String,
}

impl LoopbackVolume {
    /// Make a `size_mib` MiB loop device, its sidecar labelled with ours and `labels`.
    ///
    /// # Errors
    /// [`Error::LoopDevice`] where the host gives no loop devices (no
    /// `/dev/loop-control`, or the daemon refuses access to it), and Docker errors.
    pub async fn create(size_mib: u64, labels: HashMap<String, String>) -> Result<Self> {
        if size_mib == 0 {
            return Err(Error::invalid(
                crate::error::Parameter::SizeMib,
                size_mib,
                "a loop device needs at least 1 MiB",
            ));
        }
        if !std::path::Path::new("/dev/loop-control").exists() {
            return Err(Error::LoopDevice {
                detail: "this host has no /dev/loop-control (no loop device support)".into(),
            });
        }
        let client = DockerClient::connect().await?;
        let image = ensure_image(&client, &ImageOptions::default()).await?;
        // Ours, and its owner's: `clean` removes a sidecar whose process died.
        let mut all = labels;
        all.extend(labels::probe_labels());
        all.insert(labels::ROLE.into(), LOOPBACK_ROLE.into());
        let name = format!(
            "dcos-e2e-loopback-{}",
            hex::encode(rand::random::<[u8; 6]>())
        );
        let spec = ContainerSpec {
            name: Some(name.clone()),
            image,
            entrypoint: Some(vec!["sleep".into(), "infinity".into()]),
            labels: all,
            network_disabled: true,
            // Not --privileged (refused on some daemons): the loop control device, the
            // right to make loop device nodes, and losetup's ioctls.
            cap_add: vec!["SYS_ADMIN".into(), "MKNOD".into()],
            devices: vec!["/dev/loop-control".into()],
            device_cgroup_rules: vec![format!("b {LOOP_MAJOR}:* rwm")],
            ..ContainerSpec::default()
        };
        // Known by its name from here on (the backing file is named after it).
        client
            .create_container(&spec)
            .await
            .map_err(op("create the loop device sidecar"))?;
        let made = async {
            client
                .start_container(&name)
                .await
                .map_err(op("start the loop device sidecar"))?;
            attach(&client, &name, size_mib).await
        };
        match made.await {
            Ok(path) => Ok(Self {
                client,
                container: name,
                path,
            }),
            Err(e) => {
                let _ = remove(&client, &name).await;
                Err(e)
            }
        }
    }

    /// The device, such as `/dev/loop3`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The sidecar container's name.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// Detach the device and remove the sidecar.
    ///
    /// # Errors
    /// [`Error::LoopDevice`] when the device cannot be detached (it is in use); the
    /// sidecar is kept then, so the backing file stays valid.
    pub async fn destroy(self) -> Result<()> {
        let (code, output) = self
            .client
            .exec_to_end(&self.container, &["losetup", "-d", &self.path], STEP_LIMIT)
            .await
            .map_err(op("detach the loop device"))?;
        if code != 0 {
            return Err(Error::LoopDevice {
                detail: format!("detaching {} failed: {}", self.path, output.trim()),
            });
        }
        self.client.remove_container(&self.container).await
    }
}

/// Detach every loop device backed by `container`'s file, then remove the container
/// (for `clean`, and a failed create).
pub(crate) async fn remove(client: &DockerClient, container: &str) -> Result<()> {
    let script = format!(
        "for d in $(losetup -n -O NAME -j {file}); do losetup -d \"$d\"; done",
        file = backing_file(container)
    );
    // A sidecar that no longer runs cannot detach; its devices then stay the kernel's.
    let _ = client
        .exec_to_end(container, &["bash", "-c", &script], STEP_LIMIT)
        .await;
    client.remove_container(container).await
}

/// The backing file in the sidecar, named after it: the kernel records it by this
/// path, so each sidecar's devices can be told apart from another's.
fn backing_file(container: &str) -> String {
    format!("/{container}.img")
}

/// Write the backing file and attach it to a free loop device; the device's path.
async fn attach(client: &DockerClient, container: &str, size_mib: u64) -> Result<String> {
    let file = backing_file(container);
    // The kernel hands out a free number; its node is made here (the container's /dev
    // does not follow the host's), then attached. Another process may take the same
    // number first: then another try.
    let script = format!(
        "set -eu; dd if=/dev/zero of={file} bs=1M count={size_mib} status=none; \
         for try in 1 2 3 4 5 6 7 8; do \
           dev=$(losetup --find); n=${{dev#/dev/loop}}; \
           [ -e \"$dev\" ] || mknod \"$dev\" b {LOOP_MAJOR} \"$n\"; \
           if losetup \"$dev\" {file} 2>/dev/null; then echo \"$dev\"; exit 0; fi; \
         done; losetup --find {file}"
    );
    let (code, output) = client
        .exec_to_end(container, &["bash", "-c", &script], STEP_LIMIT)
        .await
        .map_err(op("set up the loop device"))?;
    let path = output.trim().lines().last().unwrap_or_default().to_string();
    if code != 0 || !path.starts_with("/dev/loop") {
        return Err(Error::LoopDevice {
            detail: format!(
                "no loop device could be set up (the daemon may refuse device access): {}",
                output.trim()
            ),
        });
    }
    Ok(path)
}
