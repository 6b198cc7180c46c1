//! TLS session resumption is off on both sides: handshakes between our rustls configurations in
//! memory, each configuration reused for two handshakes as a resuming peer would.
//!
//! (The swarm tests cannot show this: the upgrade builds fresh rustls configurations, and so fresh
//! session caches, per connection. These tests pin the settings themselves.)

use std::sync::Arc;

use rustls::{
    client::Resumption, server::ServerSessionMemoryCache, ClientConfig, ClientConnection,
    HandshakeKind, ServerConfig, ServerConnection,
};

use super::fixture_config as config;
use crate::{config::unused_server_name, verifier::Verdict, Config};

/// Our client configuration with rustls's default session cache put back.
fn resuming_client(config: &Config) -> ClientConfig {
    let mut client = config.client_config(Verdict::default()).expect("client");
    client.resumption = Resumption::default();
    client
}

/// Our server configuration with a session cache and tickets put back.
fn resuming_server(config: &Config) -> ServerConfig {
    let mut server = config.server_config(Verdict::default()).expect("server");
    server.session_storage = ServerSessionMemoryCache::new(16);
    server.send_tls13_tickets = 2;
    server
}

/// Runs one handshake and delivers everything the server sends after it (session tickets).
fn handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> HandshakeKind {
    let mut client_conn =
        ClientConnection::new(Arc::clone(client), unused_server_name()).expect("client conn");
    let mut server_conn = ServerConnection::new(Arc::clone(server)).expect("server conn");
    // A handshake takes a few flights; tickets follow the last one.
    for _ in 0..10 {
        let to_server = flush(|buf| client_conn.write_tls(buf));
        deliver(&to_server, |r| server_conn.read_tls(r));
        server_conn.process_new_packets().expect("server side");
        let to_client = flush(|buf| server_conn.write_tls(buf));
        deliver(&to_client, |r| client_conn.read_tls(r));
        client_conn.process_new_packets().expect("client side");
        if !client_conn.is_handshaking() && to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    assert!(!client_conn.is_handshaking() && !server_conn.is_handshaking());
    client_conn.handshake_kind().expect("handshake done")
}

fn flush(mut write: impl FnMut(&mut Vec<u8>) -> std::io::Result<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    while write(&mut out).expect("write_tls") > 0 {}
    out
}

fn deliver(bytes: &[u8], mut read: impl FnMut(&mut &[u8]) -> std::io::Result<usize>) {
    let mut rest = bytes;
    while !rest.is_empty() {
        read(&mut rest).expect("read_tls");
    }
}

/// Shows the two tests below can fail: with caches and tickets back, the second handshake resumes.
#[test]
fn with_resumption_put_back_a_second_handshake_resumes() {
    let client = Arc::new(resuming_client(&config("fisco-2.5/node0")));
    let server = Arc::new(resuming_server(&config("fisco-2.5/node1")));
    assert_eq!(handshake(&client, &server), HandshakeKind::Full);
    assert_eq!(handshake(&client, &server), HandshakeKind::Resumed);
}

#[test]
fn our_server_makes_every_handshake_a_full_one() {
    let client = Arc::new(resuming_client(&config("fisco-2.5/node0")));
    let server = Arc::new(
        config("fisco-2.5/node1")
            .server_config(Verdict::default())
            .expect("server"),
    );
    assert_eq!(handshake(&client, &server), HandshakeKind::Full);
    assert_eq!(handshake(&client, &server), HandshakeKind::Full);
}

#[test]
fn our_client_never_resumes_even_when_the_server_offers_it() {
    let client = Arc::new(
        config("fisco-2.5/node0")
            .client_config(Verdict::default())
            .expect("client"),
    );
    let server = Arc::new(resuming_server(&config("fisco-2.5/node1")));
    assert_eq!(handshake(&client, &server), HandshakeKind::Full);
    assert_eq!(handshake(&client, &server), HandshakeKind::Full);
}
