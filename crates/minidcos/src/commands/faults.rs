//! `minidcos docker node`: faults on nodes' machines, each node named at once.

use anyhow::Result;
use dcos_e2e::{Node, NodeState};
use futures_util::future::join_all;
use serde::Serialize;

use super::{Status, attach};
use crate::cli::{NodeAction, NodeFaultArgs};
use crate::errors::in_flag_terms;
use crate::output;

/// One line of the result: the node and what its machine does now.
#[derive(Serialize)]
struct Done {
    node: String,
    container: Option<String>,
    state: &'static str,
}

pub async fn node(action: NodeAction, json: bool) -> Result<Status> {
    let (target, signal) = match &action {
        NodeAction::Stop(t)
        | NodeAction::Start(t)
        | NodeAction::Restart(t)
        | NodeAction::Pause(t)
        | NodeAction::Resume(t) => (t, None),
        NodeAction::Kill { target, signal } => (target, Some(signal.as_str())),
    };
    let NodeFaultArgs { id, nodes } = target;
    let cluster = attach(id, None).await?;
    let chosen = cluster.select(nodes).map_err(in_flag_terms)?;
    let act = |node: &Node| {
        let action = &action;
        let node = node.clone();
        async move {
            let state = match action {
                NodeAction::Stop(_) => node.stop().await.map(|()| NodeState::Stopped),
                NodeAction::Start(_) => node.start().await.map(|()| NodeState::Running),
                NodeAction::Restart(_) => node.restart().await.map(|()| NodeState::Running),
                NodeAction::Pause(_) => node.pause().await.map(|()| NodeState::Paused),
                NodeAction::Resume(_) => node.resume().await.map(|()| NodeState::Running),
                NodeAction::Kill { .. } => node.kill(signal.unwrap_or("SIGKILL")).await,
            }?;
            Ok::<_, dcos_e2e::Error>(Done {
                node: node.to_string(),
                container: node.container_name().map(str::to_string),
                state: state.as_str(),
            })
        }
    };
    let results = join_all(chosen.iter().map(|n| act(n))).await;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(d) => done.push(d),
            Err(e) => failed.push(e),
        }
    }
    if json {
        output::json(&done);
    } else {
        let rows = done
            .iter()
            .map(|d| vec![d.node.clone(), d.state.to_string()])
            .collect();
        output::table(&["NODE", "STATE"], rows);
    }
    // Every failure is said; the first is the command's error.
    let mut failed = failed.into_iter();
    let Some(first) = failed.next() else {
        return Ok(0);
    };
    for e in failed {
        eprintln!("error: {}", dcos_e2e::chain(&e));
    }
    Err(in_flag_terms(first))
}
