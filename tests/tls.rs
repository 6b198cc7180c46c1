//! The `/fisco-tls` upgrade between real swarms over TCP on 127.0.0.1.
//!
//! `tls/harness.rs` builds the swarms and watches a connection attempt from both ends;
//! `tls/raw.rs` has the clients that are not swarms. The refusal cases live in
//! `tls/refusals.rs` (certificates), `tls/access.rs` (access lists) and `tls/not_tls.rs`.

#[path = "tls/access.rs"]
mod access;
#[path = "tls/harness.rs"]
mod harness;
#[path = "tls/not_tls.rs"]
mod not_tls;
#[path = "tls/raw.rs"]
mod raw;
#[path = "tls/refusals.rs"]
mod refusals;

use std::time::{Duration, Instant};

use fisco_p2p::tls::{self, AccessList, TlsError};
use harness::{connect, disconnect, identity, Node, Seen};
use secp256k1::ecdsa::Signature;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Connects `a` to `b` (b listening) and checks that each knows the other by its node ID.
async fn assert_connect(a: &str, b: &str) {
    let (a, b) = (identity(a), identity(b));
    let mut dialer = Node::start(&a).await;
    let mut listener = Node::start(&b).await;
    let addr = listener.addr.clone();
    let (dialer_saw, listener_saw) = connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
    assert_eq!(dialer_saw, Seen::Connected(b.node_id().to_peer_id()));
    assert_eq!(listener_saw, Seen::Connected(a.node_id().to_peer_id()));
}

#[tokio::test]
async fn two_nodes_of_one_chain_connect_and_know_each_other_by_node_id() {
    assert_connect("fisco-2.5/node0", "fisco-2.5/node1").await;
}

#[tokio::test]
async fn a_node_signed_directly_by_the_ca_and_one_signed_by_an_agency_connect() {
    assert_connect("tool/node-direct", "tool/node0").await;
    assert_connect("tool/node1", "tool/node-direct").await;
}

#[tokio::test]
async fn nodes_of_a_legacy_rsa_chain_connect() {
    assert_connect("fisco-2.0-rsa/node0", "fisco-2.0-rsa/node1").await;
}

#[tokio::test]
async fn a_node_with_a_sec1_key_connects() {
    assert_connect("fisco-2.5/node2-sec1", "fisco-2.5/node0").await;
}

#[tokio::test]
async fn an_openssl_made_chain_with_high_s_signatures_is_accepted() {
    // Without a high-S signature in the chain this test would prove nothing: check the fixture.
    let chain = identity("fisco-2.5/node0").chain().to_vec();
    let high_s = chain.iter().any(|der| {
        let (_, cert) = X509Certificate::from_der(der).expect("certificate");
        let signature = Signature::from_der(&cert.signature_value.data).expect("ECDSA signature");
        let mut normalized = signature;
        normalized.normalize_s();
        normalized != signature
    });
    assert!(
        high_s,
        "regenerate certs/fisco-2.5 until its chain holds a high-S signature"
    );
    assert_connect("fisco-2.5/node1", "fisco-2.5/node0").await;
}

#[tokio::test]
async fn the_swarm_must_run_on_the_node_key() {
    let config = tls::Config::new(&identity("fisco-2.5/node0"), AccessList::new()).expect("config");
    let other = identity("fisco-2.5/node1");
    let upgrade = config.clone().into_security_upgrade();
    assert!(matches!(
        upgrade(other.keypair()),
        Err(TlsError::KeypairMismatch { .. })
    ));
    let upgrade = config.into_security_upgrade();
    assert!(upgrade(identity("fisco-2.5/node0").keypair()).is_ok());
}

#[tokio::test]
async fn a_closure_returning_the_config_is_accepted_as_the_security_upgrade() {
    let identity = identity("fisco-2.5/node0");
    let config = tls::Config::new(&identity, AccessList::new()).expect("config");
    // Neither the argument lifetime nor the error type can be inferred: name both.
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            |_: &libp2p::identity::Keypair| Ok::<_, TlsError>(config.clone()),
            libp2p::yamux::Config::default,
        )
        .expect("transport")
        .with_behaviour(|_| libp2p::swarm::dummy::Behaviour)
        .expect("behaviour")
        .build();
    assert_eq!(*swarm.local_peer_id(), identity.node_id().to_peer_id());
}

#[tokio::test]
#[allow(clippy::print_stdout)] // the figure is the point of this test; run with --nocapture
async fn handshake_time_on_loopback_is_reported() {
    const ROUNDS: usize = 21;
    let mut dialer = Node::start(&identity("fisco-2.5/node0")).await;
    let mut listener = Node::start(&identity("fisco-2.5/node1")).await;
    let addr = listener.addr.clone();
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let (dialer_saw, listener_saw) =
            connect(&mut dialer.swarm, &mut listener.swarm, &addr).await;
        times.push(start.elapsed());
        assert!(matches!(dialer_saw, Seen::Connected(_)), "{dialer_saw:?}");
        assert!(
            matches!(listener_saw, Seen::Connected(_)),
            "{listener_saw:?}"
        );
        disconnect(&mut dialer, &mut listener).await;
    }
    times.sort();
    let median = times[ROUNDS / 2];
    println!(
        "fisco-tls connect (TCP + multistream-select + TLS 1.3 + acceptance byte + yamux), \
         {ROUNDS} rounds on 127.0.0.1: median {median:?}, min {:?}, max {:?}",
        times[0],
        times[ROUNDS - 1]
    );
    assert!(median < Duration::from_secs(5), "sanity bound only");
}
