//! The watchdog holds the Docker API: it runs our image whatever the nodes run, with
//! no network, no capabilities, a read-only root and small limits, as our user.

use std::process::Command as Proc;

use dcos_e2e::blocking::Cluster;

use super::Case;
use crate::common::{self, docker_inspect};

#[test]
fn the_watchdog_is_confined_and_runs_our_image() {
    let _case = Case::new("watchdog: our image, confined");
    let ours = common::node_image().to_string();
    // The nodes run an image of the user's (our image under another name).
    let theirs = format!("dcos-e2e-test/user-image:{}", std::process::id());
    common::docker_cli(&["tag", &ours, &theirs]);
    let cluster = Cluster::builder(common::docker().node_image(&theirs))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision();
    let _ = Proc::new("docker").args(["rmi", &theirs]).output();
    let cluster = cluster.unwrap();
    let watchdog = format!("{}-watchdog", cluster.id());
    let field = |format: &str| docker_inspect(format, &watchdog);
    assert_eq!(field("{{.Config.Image}}"), ours);
    assert_eq!(
        docker_inspect(
            "{{.Config.Image}}",
            cluster.masters()[0].container_name().unwrap()
        ),
        theirs
    );
    assert_eq!(field("{{.HostConfig.CapDrop}}"), "[ALL]");
    assert_eq!(field("{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(field("{{.HostConfig.SecurityOpt}}"), "[no-new-privileges]");
    assert_eq!(field("{{.HostConfig.NetworkMode}}"), "none");
    assert_eq!(field("{{.HostConfig.PidsLimit}}"), "32");
    assert_eq!(field("{{.HostConfig.Memory}}"), (64u64 << 20).to_string());
    // SAFETY: geteuid/getegid have no preconditions.
    let me = unsafe { format!("{}:{}", libc::geteuid(), libc::getegid()) };
    assert_eq!(field("{{.Config.User}}"), me);
    let workspace = cluster.workspace().unwrap();
    let mut mounts: Vec<String> =
        field("{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}} {{end}}")
            .split_whitespace()
            .map(str::to_string)
            .collect();
    mounts.sort();
    assert_eq!(
        mounts,
        [
            format!("{}:/workspaces:true", workspace.parent().unwrap().display()),
            "/var/run/docker.sock:/var/run/docker.sock:true".to_string(),
        ]
    );
    // Still armed and working: the cluster is whole.
    assert_eq!(cluster.masters()[0].run(["true"]).unwrap().status, 0);
}
