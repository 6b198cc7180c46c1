//! A node raises its soft file descriptor limit to the hard limit at start.
//!
//! In its own test binary: it changes the limit of the whole process.

// The shared helpers (common/network.rs) unwrap their mutexes.
#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use common::{bounded, config, network::identities, TestNode};

#[cfg(unix)]
#[tokio::test]
async fn a_node_raises_its_soft_descriptor_limit_to_the_hard_limit() {
    bounded(async {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("read the limit");
        let low = (hard / 2).min(256);
        assert!(
            low > 0 && low < hard,
            "a hard limit of {hard} leaves nothing to raise"
        );
        rlimit::setrlimit(rlimit::Resource::NOFILE, low, hard).expect("lower the soft limit");
        let node = TestNode::spawn(identities(1).remove(0), config()).await;
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("read the limit");
        assert_eq!(
            soft, hard,
            "the soft limit was {low} and the hard one {hard}"
        );
        node.shutdown().await;
    })
    .await;
}
