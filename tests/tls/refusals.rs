//! Certificates a node must refuse, each refused with its reason on both ends, in both directions.

use fisco_p2p::{
    identity::{NodeIdentity, NodeKey},
    tls::RefusalReason,
};

use super::harness::{
    connect, fixture, identity, identity_unchecked, pem_certificates, Node, Seen,
};

/// Which end must do the refusing when the bad node dials.
#[derive(Clone, Copy, PartialEq)]
enum Refuser {
    /// The good node refuses the bad one.
    Good,
    /// Either: the bad node also distrusts the good one (a foreign chain), and the dialer checks
    /// the listener first.
    Either,
}

/// The bad node dials a good one and then the good node dials it: each time both ends name
/// `reason`, one as refuser and one as refused; afterwards the good node still serves a good peer.
async fn assert_refused_both_ways(bad: &NodeIdentity, reason: RefusalReason, refuser: Refuser) {
    let mut good = Node::start(&identity("fisco-2.5/node0")).await;
    let mut bad = Node::start(bad).await;

    let addr = good.addr.clone();
    let (bad_saw, good_saw) = connect(&mut bad.swarm, &mut good.swarm, &addr).await;
    assert_refusal(&good_saw, &bad_saw, reason, refuser);

    let addr = bad.addr.clone();
    let (good_saw, bad_saw) = connect(&mut good.swarm, &mut bad.swarm, &addr).await;
    assert_refusal(&good_saw, &bad_saw, reason, refuser);

    assert_serves_a_good_peer(&mut good).await;
}

#[track_caller]
fn assert_refusal(good: &Seen, bad: &Seen, reason: RefusalReason, refuser: Refuser) {
    let ((good_reason, good_refused), (bad_reason, bad_refused)) = (good.refusal(), bad.refusal());
    assert_eq!(good_reason, Some(reason), "good node saw {good:?}");
    assert_eq!(bad_reason, Some(reason), "bad node saw {bad:?}");
    // `by_peer` is Some(true) on the refused end and Some(false) on the refusing end.
    assert!(
        good_refused.is_some() && bad_refused.is_some(),
        "{good:?} / {bad:?}"
    );
    assert_ne!(
        good_refused, bad_refused,
        "one end refuses, the other is refused"
    );
    if refuser == Refuser::Good {
        assert_eq!(
            good_refused,
            Some(false),
            "the good node is the one refusing: {good:?}"
        );
    }
}

/// A good peer connects to `node` after it refused someone.
pub(crate) async fn assert_serves_a_good_peer(node: &mut Node) {
    let mut peer = Node::start(&identity("fisco-2.5/node2-sec1")).await;
    let addr = node.addr.clone();
    let (peer_saw, node_saw) = connect(&mut peer.swarm, &mut node.swarm, &addr).await;
    assert_eq!(peer_saw, Seen::Connected(node.peer_id()));
    assert_eq!(node_saw, Seen::Connected(peer.peer_id()));
}

#[tokio::test]
async fn a_node_of_a_foreign_ca_is_refused_as_unknown_ca() {
    let bad = identity("bad/foreign-ca");
    assert_refused_both_ways(&bad, RefusalReason::UnknownCa, Refuser::Either).await;
}

#[tokio::test]
async fn a_node_of_another_chain_whose_ca_bears_our_ca_name_is_refused_as_unknown_ca() {
    // FISCO's tools name every chain CA "chain0": tool/ and fisco-2.5/ share the name, not the key.
    let bad = identity("tool/node0");
    assert_refused_both_ways(&bad, RefusalReason::UnknownCa, Refuser::Either).await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    let bad = identity("bad/expired");
    assert_refused_both_ways(&bad, RefusalReason::Expired, Refuser::Good).await;
}

#[tokio::test]
async fn a_certificate_not_yet_valid_is_refused_as_not_yet_valid() {
    let bad = identity("bad/not-yet-valid");
    assert_refused_both_ways(&bad, RefusalReason::NotYetValid, Refuser::Good).await;
}

#[tokio::test]
async fn a_certificate_presented_with_the_wrong_key_is_refused_as_key_mismatch() {
    let bad = identity_unchecked("bad/wrong-key");
    assert_refused_both_ways(&bad, RefusalReason::KeyMismatch, Refuser::Good).await;
}

#[tokio::test]
async fn a_ca_certificate_as_node_certificate_is_refused_as_leaf_is_ca() {
    let bad = identity("bad/ca-leaf");
    assert_refused_both_ways(&bad, RefusalReason::LeafIsCa, Refuser::Good).await;
}

#[tokio::test]
async fn a_p256_node_certificate_is_refused_as_not_secp256k1() {
    // The node signs with a secp256k1 key but presents the P-256 certificate; the key type is
    // checked first, so this is what any P-256 node gets (a true P-256 client: see not_tls.rs).
    let dir = fixture("bad/p256-leaf");
    let bad = NodeIdentity::from_parts_unchecked(
        NodeKey::generate(),
        pem_certificates(&dir.join("node.crt")),
        pem_certificates(&dir.join("ca.crt")),
    );
    assert_refused_both_ways(&bad, RefusalReason::LeafKeyUnsupported, Refuser::Good).await;
}
