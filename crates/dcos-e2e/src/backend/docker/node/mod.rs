//! Operations on running nodes' containers: node handles, the `docker exec` transport,
//! the containers' inspect, the container engine inside nodes (its state, images
//! loaded into it), and each node's machine (stop, start, pause, kill).

pub(crate) mod exec;
pub(crate) mod handles;
pub(crate) mod inspect;
pub(crate) mod load;
pub(crate) mod machine;
