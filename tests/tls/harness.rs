//! Swarms over real TCP on 127.0.0.1 with the `/fisco-tls` upgrade, and ways to watch one connection
//! attempt from both ends.

use std::{path::PathBuf, time::Duration};

use fisco_p2p::{
    identity::{NodeIdentity, NodeKey},
    tls::{self, AccessList, RefusalReason, UpgradeError},
};
use futures::StreamExt;
use libp2p::{
    noise,
    swarm::{dummy, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};
use rustls::pki_types::{pem::PemObject, CertificateDer};

/// Bound on every wait in these tests; loopback handshakes take milliseconds.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A node directory of the test fixtures.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs")
        .join(name)
}

/// Loads a fixture node directory with the identity checks of a real node.
pub(crate) fn identity(name: &str) -> NodeIdentity {
    NodeIdentity::load_dir(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Loads a fixture node directory whose key does not match its certificate.
pub(crate) fn identity_unchecked(name: &str) -> NodeIdentity {
    let dir = fixture(name);
    let key = NodeKey::load(dir.join("node.key")).expect("node.key");
    NodeIdentity::from_parts_unchecked(
        key,
        pem_certificates(&dir.join("node.crt")),
        pem_certificates(&dir.join("ca.crt")),
    )
}

/// Every certificate of a PEM file.
pub(crate) fn pem_certificates(path: &std::path::Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A swarm with the fisco-tls upgrade and nothing else.
pub(crate) struct Node {
    pub(crate) swarm: Swarm<dummy::Behaviour>,
    pub(crate) access: AccessList,
    pub(crate) addr: Multiaddr,
}

impl Node {
    /// A node listening on 127.0.0.1, port 0, with empty access lists.
    pub(crate) async fn start(identity: &NodeIdentity) -> Node {
        Self::start_with(identity, AccessList::new()).await
    }

    /// A node listening on 127.0.0.1, port 0.
    pub(crate) async fn start_with(identity: &NodeIdentity, access: AccessList) -> Node {
        let config = tls::Config::new(identity, access).expect("tls config");
        Self::start_configured(identity, config).await
    }

    /// A node with this TLS configuration, listening on 127.0.0.1, port 0.
    pub(crate) async fn start_configured(identity: &NodeIdentity, config: tls::Config) -> Node {
        let access = config.access_list().clone();
        let mut swarm = SwarmBuilder::with_existing_identity(identity.keypair().clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                config.into_security_upgrade(),
                yamux::Config::default,
            )
            .expect("tcp transport")
            .with_behaviour(|_| dummy::Behaviour)
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let addr = listen(&mut swarm).await;
        Node {
            swarm,
            access,
            addr,
        }
    }

    pub(crate) fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }
}

/// Starts listening on 127.0.0.1, port 0, and returns the address.
pub(crate) async fn listen<B: libp2p::swarm::NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr {
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
        .expect("listen");
    tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                return address;
            }
        }
    })
    .await
    .expect("listening within the timeout")
}

/// How one end saw one connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Connected, to this peer.
    Connected(PeerId),
    /// The connection failed.
    Failed {
        /// What [`tls::refusal_reason`] found.
        reason: Option<RefusalReason>,
        /// Whether our upgrade error says the peer refused us (`None`: no upgrade error).
        by_peer: Option<bool>,
        /// The error and its sources, for assertion messages.
        text: String,
    },
}

impl Seen {
    /// The refusal reason and whether the peer refused; panics if the connection did not fail.
    #[track_caller]
    pub(crate) fn refusal(&self) -> (Option<RefusalReason>, Option<bool>) {
        match self {
            Seen::Failed {
                reason, by_peer, ..
            } => (*reason, *by_peer),
            Seen::Connected(peer) => panic!("expected a refusal, but connected to {peer}"),
        }
    }
}

/// The connection outcome a swarm event reports, if it is one.
pub(crate) fn outcome<E>(event: SwarmEvent<E>) -> Option<Seen> {
    match event {
        SwarmEvent::ConnectionEstablished { peer_id, .. } => Some(Seen::Connected(peer_id)),
        SwarmEvent::OutgoingConnectionError { error, .. } => Some(failed(&error)),
        SwarmEvent::IncomingConnectionError { error, .. } => Some(failed(&error)),
        _ => None,
    }
}

fn failed(error: &(dyn std::error::Error + 'static)) -> Seen {
    Seen::Failed {
        reason: tls::refusal_reason(error),
        by_peer: tls::find_upgrade_error(error).map(UpgradeError::is_refused_by_peer),
        text: error.to_string() + &chain(error),
    }
}

/// The error's sources, for assertion messages.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = err.source();
    while let Some(e) = next {
        text += &format!(": {e}");
        next = e.source();
    }
    text
}

/// `dialer` dials `listener`; returns how each end saw it.
pub(crate) async fn connect<A, B>(
    dialer: &mut Swarm<A>,
    listener: &mut Swarm<B>,
    addr: &Multiaddr,
) -> (Seen, Seen)
where
    A: libp2p::swarm::NetworkBehaviour,
    B: libp2p::swarm::NetworkBehaviour,
{
    // From a fresh port, as the node dials: the tests dial both ways between the same two
    // listeners, and with libp2p's default (the listening port reused) the second dial failed
    // now and then with "address in use" while the first connection was still closing.
    let opts = libp2p::swarm::dial_opts::DialOpts::unknown_peer_id()
        .address(addr.clone())
        .allocate_new_port()
        .build();
    dialer.dial(opts).expect("dial");
    let mut seen = (None, None);
    let watch = async {
        while seen.0.is_none() || seen.1.is_none() {
            tokio::select! {
                event = dialer.select_next_some() => {
                    seen.0 = seen.0.take().or_else(|| outcome(event));
                }
                event = listener.select_next_some() => {
                    seen.1 = seen.1.take().or_else(|| outcome(event));
                }
            }
        }
    };
    let finished = tokio::time::timeout(WAIT, watch).await.is_ok();
    match (finished, seen) {
        (true, (Some(dialer_saw), Some(listener_saw))) => (dialer_saw, listener_saw),
        (_, partial) => panic!("no outcome within {WAIT:?}: (dialer, listener) saw {partial:?}"),
    }
}

/// Drives `swarm` until it reports a connection outcome (for a listener facing a raw client).
pub(crate) async fn next_outcome<B: libp2p::swarm::NetworkBehaviour>(swarm: &mut Swarm<B>) -> Seen {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(seen) = outcome(swarm.select_next_some().await) {
                return seen;
            }
        }
    })
    .await
    .expect("a connection outcome within the timeout")
}

/// Closes every connection between `a` and `b` and waits until both ends saw it close.
pub(crate) async fn disconnect(a: &mut Node, b: &mut Node) {
    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    let _ = a.swarm.disconnect_peer_id(b_id);
    tokio::time::timeout(WAIT, async {
        while a.swarm.is_connected(&b_id) || b.swarm.is_connected(&a_id) {
            tokio::select! {
                _ = a.swarm.select_next_some() => {}
                _ = b.swarm.select_next_some() => {}
            }
        }
    })
    .await
    .expect("disconnected within the timeout");
}

/// A stock libp2p node (noise + yamux, ed25519 identity), listening on 127.0.0.1, port 0.
pub(crate) async fn stock_node() -> (Swarm<dummy::Behaviour>, Multiaddr) {
    let mut swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|_| dummy::Behaviour)
        .expect("behaviour")
        .build();
    let addr = listen(&mut swarm).await;
    (swarm, addr)
}

/// The TCP socket address of a `/ip4/.../tcp/...` multiaddr.
pub(crate) fn socket_addr(addr: &Multiaddr) -> std::net::SocketAddr {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    match (parts.next(), parts.next()) {
        (Some(Protocol::Ip4(ip)), Some(Protocol::Tcp(port))) => (ip, port).into(),
        _ => panic!("not an ip4/tcp address: {addr}"),
    }
}
