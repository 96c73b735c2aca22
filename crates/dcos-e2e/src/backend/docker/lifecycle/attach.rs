//! A handle on an existing Docker cluster by id (made by `minidcos docker create` or
//! kept by a test). The handle never destroys on drop.

use std::sync::{Arc, Mutex};

use crate::backend::docker::create::container::DEFAULT_USER;
use crate::backend::docker::lifecycle::discover::discover;
use crate::backend::docker::lifecycle::running::DockerCluster;
use crate::backend::running::NewCluster;
use crate::error::Result;
use crate::node::TransportKind;

pub(crate) async fn attach(id: &str, transport: Option<TransportKind>) -> Result<NewCluster> {
    let found = discover(id, transport).await?;
    let running = DockerCluster {
        client: found.client,
        others: found.others,
        id: id.to_string(),
        workspace: found.workspace,
        watchdog: Arc::new(Mutex::new(Vec::new())),
        genconf_upload: found.genconf_upload,
    };
    Ok(NewCluster {
        liveness: found.liveness,
        nodes: found.nodes,
        default_user: DEFAULT_USER.into(),
        running: Box::new(running),
    })
}
