//! Operations on running nodes' containers: node handles, the `docker exec` transport,
//! the containers' inspect, and the container engine inside nodes (its state, images
//! loaded into it).

pub(crate) mod exec;
pub(crate) mod handles;
pub(crate) mod inspect;
pub(crate) mod load;
