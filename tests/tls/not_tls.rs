//! Peers that do not speak `/fisco-tls`: garbage, plain TCP, stock libp2p, a foreign TLS client;
//! and a handshake that stalls.

use std::{io::Write, time::Duration};

use fisco_p2p::tls::{self, AccessList, RefusalReason};
use rustls::{
    pki_types::{pem::PemObject, PrivateKeyDer},
    AlertDescription,
};

use super::{
    harness::{
        connect, fixture, identity, next_outcome, pem_certificates, socket_addr, stock_node, Node,
        Seen, WAIT,
    },
    raw,
    refusals::assert_serves_a_good_peer,
};

/// Runs a blocking client next to the test's swarm driving.
async fn blocking<T: Send + 'static>(client: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(WAIT, tokio::task::spawn_blocking(client))
        .await
        .expect("client finished within the timeout")
        .expect("client did not panic")
}

#[tokio::test]
async fn garbage_bytes_are_refused_as_not_tls() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let addr = socket_addr(&node.addr);
    let client = tokio::task::spawn_blocking(move || {
        let mut tcp = raw::tcp(addr);
        let _ = tcp.write_all(b"GET / HTTP/1.1\r\nHost: node0\r\n\r\n");
        // Keep the socket open until the node has judged it.
        std::thread::sleep(Duration::from_millis(500));
    });
    let seen = next_outcome(&mut node.swarm).await;
    assert_eq!(seen.refusal().0, Some(RefusalReason::NotTls), "{seen:?}");
    client.await.expect("client");
    assert_serves_a_good_peer(&mut node).await;
}

#[tokio::test]
async fn a_plain_tcp_client_that_hangs_up_is_refused_as_not_tls() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let addr = socket_addr(&node.addr);
    blocking(move || drop(raw::tcp(addr))).await;
    let seen = next_outcome(&mut node.swarm).await;
    assert_eq!(seen.refusal().0, Some(RefusalReason::NotTls), "{seen:?}");
    assert_serves_a_good_peer(&mut node).await;
}

#[tokio::test]
async fn a_stock_libp2p_node_dialing_in_is_refused_as_not_tls() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let (mut stock, _) = stock_node().await;
    let addr = node.addr.clone();
    let (stock_saw, node_saw) = connect(&mut stock, &mut node.swarm, &addr).await;
    assert!(matches!(stock_saw, Seen::Failed { .. }), "{stock_saw:?}");
    assert_eq!(
        node_saw.refusal().0,
        Some(RefusalReason::NotTls),
        "{node_saw:?}"
    );
    assert_serves_a_good_peer(&mut node).await;
}

#[tokio::test]
async fn dialing_a_stock_libp2p_node_fails_as_not_tls() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let (mut stock, stock_addr) = stock_node().await;
    let (node_saw, stock_saw) = connect(&mut node.swarm, &mut stock, &stock_addr).await;
    assert_eq!(
        node_saw.refusal().0,
        Some(RefusalReason::NotTls),
        "{node_saw:?}"
    );
    assert!(matches!(stock_saw, Seen::Failed { .. }), "{stock_saw:?}");
}

/// A genuine P-256 client (stock rustls, signing with its P-256 key) gets as far as presenting its
/// certificate, and is refused for its key type rather than for a lack of common algorithms.
#[tokio::test]
async fn a_stock_tls_client_with_a_p256_certificate_is_refused_as_not_secp256k1() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let addr = socket_addr(&node.addr);
    let dir = fixture("bad/p256-leaf");
    let chain = pem_certificates(&dir.join("node.crt"));
    let key = PrivateKeyDer::from_pem_file(dir.join("node.key")).expect("P-256 key");
    let client =
        tokio::task::spawn_blocking(move || raw::stock_rustls_client(addr, Some((chain, key))));
    let seen = next_outcome(&mut node.swarm).await;
    assert_eq!(
        seen.refusal(),
        (Some(RefusalReason::LeafKeyUnsupported), Some(false)),
        "{seen:?}"
    );
    let client_result = tokio::time::timeout(WAIT, client)
        .await
        .expect("client done")
        .expect("client");
    assert_eq!(
        client_result,
        Err(rustls::Error::AlertReceived(
            AlertDescription::UnsupportedCertificate
        )),
        "the client learns the reason from the alert"
    );
    assert_serves_a_good_peer(&mut node).await;
}

#[tokio::test]
async fn a_tls_client_without_a_certificate_is_refused_as_no_certificate() {
    let mut node = Node::start(&identity("fisco-2.5/node0")).await;
    let addr = socket_addr(&node.addr);
    let client = tokio::task::spawn_blocking(move || raw::stock_rustls_client(addr, None));
    let seen = next_outcome(&mut node.swarm).await;
    assert_eq!(
        seen.refusal(),
        (Some(RefusalReason::NoCertificate), Some(false)),
        "{seen:?}"
    );
    let client_result = tokio::time::timeout(WAIT, client)
        .await
        .expect("client done")
        .expect("client");
    assert_eq!(
        client_result,
        Err(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
        ))
    );
    assert_serves_a_good_peer(&mut node).await;
}

#[tokio::test]
async fn a_stalled_handshake_ends_with_a_timeout() {
    let node_id = identity("fisco-2.5/node0");
    let config = tls::Config::new(&node_id, AccessList::new())
        .expect("config")
        .with_handshake_timeout(Duration::from_millis(300));
    let mut node = Node::start_configured(&node_id, config).await;
    let addr = socket_addr(&node.addr);
    let client = tokio::task::spawn_blocking(move || {
        let mut tcp = raw::tcp(addr);
        assert!(raw::negotiate(&mut tcp, "/fisco-tls/1.0.0").expect("negotiation"));
        // Say nothing more, but stay connected past the handshake timeout.
        std::thread::sleep(Duration::from_millis(1500));
    });
    let seen = next_outcome(&mut node.swarm).await;
    match &seen {
        Seen::Failed {
            reason: None, text, ..
        } => assert!(text.contains("timed out after 300ms"), "{text}"),
        other => panic!("expected a timeout, saw {other:?}"),
    }
    client.await.expect("client");
}
