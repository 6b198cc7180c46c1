//! Blacklist and whitelist, checked inside the handshake; no session resumption around them.

use fisco_p2p::tls::{AccessList, RefusalReason};

use super::{
    harness::{connect, disconnect, identity, Node, Seen},
    refusals::assert_serves_a_good_peer,
};

#[tokio::test]
async fn a_blacklisted_dialer_is_refused_as_blacklisted_on_both_ends() {
    let dialer_id = identity("fisco-2.5/node1");
    let access = AccessList::new();
    access.set_blacklist([dialer_id.node_id()]);
    let mut listener = Node::start_with(&identity("fisco-2.5/node0"), access).await;
    let mut dialer = Node::start(&dialer_id).await;
    let addr = listener.addr.clone();
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(
        dialer_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(true)),
        "{dialer_saw:?}"
    );
    assert_eq!(
        listener_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(false)),
        "{listener_saw:?}"
    );
    assert_serves_a_good_peer(&mut listener).await;
}

#[tokio::test]
async fn a_dialer_refuses_a_blacklisted_listener() {
    let listener_id = identity("fisco-2.5/node1");
    let access = AccessList::new();
    access.set_blacklist([listener_id.node_id()]);
    let mut dialer = Node::start_with(&identity("fisco-2.5/node0"), access).await;
    let mut listener = Node::start(&listener_id).await;
    let addr = listener.addr.clone();
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(
        dialer_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(false)),
        "{dialer_saw:?}"
    );
    assert_eq!(
        listener_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(true)),
        "{listener_saw:?}"
    );
}

#[tokio::test]
async fn a_node_missing_from_a_non_empty_whitelist_is_refused_as_not_whitelisted() {
    let allowed = identity("fisco-2.5/node2-sec1");
    let access = AccessList::new();
    access.set_whitelist([allowed.node_id()]);
    let mut listener = Node::start_with(&identity("fisco-2.5/node0"), access).await;
    let mut dialer = Node::start(&identity("fisco-2.5/node1")).await;
    let addr = listener.addr.clone();
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(
        dialer_saw.refusal(),
        (Some(RefusalReason::NotWhitelisted), Some(true)),
        "{dialer_saw:?}"
    );
    assert_eq!(
        listener_saw.refusal(),
        (Some(RefusalReason::NotWhitelisted), Some(false)),
        "{listener_saw:?}"
    );
    // node2-sec1 is the good peer, and it is on the whitelist.
    assert_serves_a_good_peer(&mut listener).await;
}

/// With TLS session resumption a reconnecting peer skips the certificate check, so a node
/// blacklisted after its first visit would get back in. Connect twice (a resumable session would
/// exist by then), blacklist at runtime, and reconnect.
#[tokio::test]
async fn a_peer_blacklisted_at_runtime_cannot_reconnect_by_resuming_its_session() {
    let dialer_id = identity("fisco-2.5/node1");
    let mut listener = Node::start(&identity("fisco-2.5/node0")).await;
    let mut dialer = Node::start(&dialer_id).await;
    let addr = listener.addr.clone();
    for _ in 0..2 {
        let (dialer_saw, _) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
        assert_eq!(dialer_saw, Seen::Connected(listener.peer_id()));
        disconnect(&mut dialer, &mut listener).await;
    }
    assert!(listener.access.add_to_blacklist(dialer_id.node_id()));
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(
        dialer_saw.refusal().0,
        Some(RefusalReason::Blacklisted),
        "{dialer_saw:?}"
    );
    assert_eq!(
        listener_saw.refusal().0,
        Some(RefusalReason::Blacklisted),
        "{listener_saw:?}"
    );
}

/// The same from the dialer's side: a client that resumed would not check the server again.
#[tokio::test]
async fn a_dialer_that_blacklists_a_listener_at_runtime_does_not_resume_its_session() {
    let listener_id = identity("fisco-2.5/node1");
    let mut dialer = Node::start(&identity("fisco-2.5/node0")).await;
    let mut listener = Node::start(&listener_id).await;
    let addr = listener.addr.clone();
    let (dialer_saw, _) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(dialer_saw, Seen::Connected(listener.peer_id()));
    disconnect(&mut dialer, &mut listener).await;
    dialer.access.add_to_blacklist(listener_id.node_id());
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(
        dialer_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(false)),
        "{dialer_saw:?}"
    );
    assert_eq!(
        listener_saw.refusal(),
        (Some(RefusalReason::Blacklisted), Some(true)),
        "{listener_saw:?}"
    );
}

#[tokio::test]
async fn lifting_a_blacklisting_at_runtime_lets_the_peer_back_in() {
    let dialer_id = identity("fisco-2.5/node1");
    let access = AccessList::new();
    access.add_to_blacklist(dialer_id.node_id());
    let mut listener = Node::start_with(&identity("fisco-2.5/node0"), access).await;
    let mut dialer = Node::start(&dialer_id).await;
    let addr = listener.addr.clone();
    let (dialer_saw, _) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(dialer_saw.refusal().0, Some(RefusalReason::Blacklisted));
    listener.access.remove_from_blacklist(&dialer_id.node_id());
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(dialer_saw, Seen::Connected(listener.peer_id()));
    assert_eq!(listener_saw, Seen::Connected(dialer.peer_id()));
}
