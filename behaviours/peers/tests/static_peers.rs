//! The peers behaviour on real swarms (in-memory transport and TCP, plaintext, yamux), each
//! run by the testkit in its own task.

use std::time::{Duration, Instant};

use fisco_p2p_peers::{Behaviour, Config, Event, StaticPeerStatus};
use fisco_p2p_testkit::{memory_tcp_swarm, within, Running};
use libp2p::{identity::Keypair, multiaddr::Protocol, swarm::SwarmEvent, Multiaddr, PeerId, Swarm};
use tokio::task::JoinHandle;

const WAIT: Duration = fisco_p2p_testkit::STEP;

type Command = Box<dyn FnOnce(&mut Swarm<Behaviour>) + Send>;

/// A swarm running in its own task; the test talks to it through closures and reads every
/// swarm event.
struct Node {
    peer_id: PeerId,
    keypair: Keypair,
    running: Running<Command, SwarmEvent<Event>>,
}

impl Node {
    fn spawn(keypair: Keypair, listen: Option<Multiaddr>) -> Node {
        Self::spawn_with(keypair, listen, |c| c)
    }

    fn spawn_with(
        keypair: Keypair,
        listen: Option<Multiaddr>,
        configure: impl FnOnce(Config) -> Config,
    ) -> Node {
        let peer_id = keypair.public().to_peer_id();
        let config = configure(
            Config::default()
                .with_initial_backoff(Duration::from_millis(50))
                .with_heartbeat_interval(Duration::from_millis(100))
                .with_heartbeat_timeout(Duration::from_secs(2)),
        );
        let mut swarm = memory_tcp_swarm(keypair.clone(), Behaviour::new(peer_id, config));
        if let Some(address) = listen {
            swarm.listen_on(address).expect("listen on the address");
        }
        let running =
            Running::spawn_with(swarm, 1024, |swarm, command: Command| command(swarm), Some);
        Node {
            peer_id,
            keypair,
            running,
        }
    }

    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Swarm<Behaviour>) -> R + Send + 'static,
    ) -> R {
        self.running
            .ask(|reply| -> Command {
                Box::new(move |swarm| {
                    let _ = reply.send(f(swarm));
                })
            })
            .await
    }

    /// Established connections of this node (the tests connect it to one peer at most).
    async fn connections(&self) -> u32 {
        self.with(|swarm| swarm.network_info().connection_counters().num_established())
            .await
    }

    async fn wait_for<T>(&mut self, mut f: impl FnMut(&SwarmEvent<Event>) -> Option<T>) -> T {
        within("the expected event", async {
            loop {
                if let Some(found) = f(&self.running.next_event().await) {
                    return found;
                }
            }
        })
        .await
    }

    /// Every event during `window`.
    async fn events_during(&mut self, window: Duration) -> Vec<SwarmEvent<Event>> {
        self.running.events_during(window).await
    }

    /// Stops the node and waits until its swarm, and with it its listener, is gone.
    async fn stop(self) {
        self.running.stop().await;
    }
}

fn memory_addr() -> Multiaddr {
    Multiaddr::empty().with(Protocol::Memory(rand::random::<u64>() >> 1))
}

fn keypair() -> Keypair {
    Keypair::generate_secp256k1()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_static_peer_is_dialled_and_connected() {
    let address = memory_addr();
    let b = Node::spawn(keypair(), Some(address.clone()));
    let mut a = Node::spawn(keypair(), None);
    let b_id = b.peer_id;
    a.with(move |s| s.behaviour_mut().add_static_peer(address))
        .await;
    let connected = a
        .wait_for(|e| match e {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => Some(*peer_id),
            _ => None,
        })
        .await;
    assert_eq!(connected, b_id);
    let statuses: Vec<_> = a
        .with(|s| s.behaviour().static_peers().map(|(_, st)| st).collect())
        .await;
    assert_eq!(statuses, vec![StaticPeerStatus::Connected(b_id)]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_restarted_peer_is_reconnected_within_two_seconds() {
    let b_key = keypair();
    let mut b = Node::spawn(b_key.clone(), Some("/ip4/127.0.0.1/tcp/0".parse().unwrap()));
    let address = b
        .wait_for(|e| match e {
            SwarmEvent::NewListenAddr { address, .. } => Some(address.clone()),
            _ => None,
        })
        .await;
    let mut a = Node::spawn(keypair(), None);
    let target = address.clone();
    a.with(move |s| s.behaviour_mut().add_static_peer(target))
        .await;
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionEstablished { .. }).then_some(()))
        .await;

    b.stop().await;
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionClosed { .. }).then_some(()))
        .await;
    // Let a few redials fail so that the backoff has grown.
    a.wait_for(|e| match e {
        SwarmEvent::Behaviour(Event::DialFailed { failures, .. }) if *failures >= 3 => Some(()),
        _ => None,
    })
    .await;

    let restarted_at = Instant::now();
    let b = Node::spawn(b_key, Some(address));
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionEstablished { .. }).then_some(()))
        .await;
    let took = restarted_at.elapsed();
    assert!(took < Duration::from_secs(2), "reconnected after {took:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn failed_dials_back_off_exponentially() {
    let mut a = Node::spawn(keypair(), None);
    let nowhere = memory_addr();
    a.with(move |s| s.behaviour_mut().add_static_peer(nowhere))
        .await;
    let mut delays = Vec::new();
    while delays.len() < 4 {
        let delay = a
            .wait_for(|e| match e {
                SwarmEvent::Behaviour(Event::DialFailed { retry_in, .. }) => Some(*retry_in),
                _ => None,
            })
            .await;
        delays.push(delay);
    }
    // 50 ms initial backoff doubling, with at most 20 % jitter either way.
    for (i, delay) in delays.iter().enumerate() {
        let base = Duration::from_millis(50 * (1 << i));
        assert!(
            *delay >= base.mul_f64(0.79) && *delay <= base.mul_f64(1.21),
            "delay {i} was {delay:?}, expected about {base:?}"
        );
    }
    a.stop().await;
}

#[tokio::test]
async fn simultaneous_dials_end_with_exactly_one_connection() {
    for _ in 0..5 {
        let (a_addr, b_addr) = (memory_addr(), memory_addr());
        let a = Node::spawn(keypair(), Some(a_addr.clone()));
        let b = Node::spawn(keypair(), Some(b_addr.clone()));
        let (a_id, b_id) = (a.peer_id, b.peer_id);
        // Both learn of each other at the same moment and dial at once.
        let (_, _) = tokio::join!(
            a.with(move |s| s.behaviour_mut().add_static_peer(b_addr)),
            b.with(move |s| s.behaviour_mut().add_static_peer(a_addr)),
        );
        eventually("both sides hold exactly one connection", async || {
            a.connections().await == 1 && b.connections().await == 1
        })
        .await;
        // And it stays that way: no flapping, no second round of dials.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(a.connections().await, 1);
        assert_eq!(b.connections().await, 1);
        assert!(a.with(move |s| s.is_connected(&b_id)).await);
        assert!(b.with(move |s| s.is_connected(&a_id)).await);
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn dialling_our_own_address_is_detected_and_not_repeated() {
    let address = memory_addr();
    let mut a = Node::spawn(keypair(), Some(address.clone()));
    let own = address.clone();
    a.with(move |s| s.behaviour_mut().add_static_peer(own))
        .await;
    let reported = a
        .wait_for(|e| match e {
            SwarmEvent::Behaviour(Event::SelfDial { address }) => Some(address.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reported, address);
    let events = a.events_during(Duration::from_millis(500)).await;
    let dials = events
        .iter()
        .filter(|e| matches!(e, SwarmEvent::Dialing { .. }))
        .count();
    assert_eq!(dials, 0, "the own address was dialled again");
    let statuses: Vec<_> = a
        .with(|s| s.behaviour().static_peers().map(|(_, st)| st).collect())
        .await;
    assert_eq!(statuses, vec![StaticPeerStatus::OwnAddress]);
    let _ = a.keypair;
    a.stop().await;
}

#[tokio::test]
async fn removing_a_static_peer_disconnects_it_and_stops_redialling() {
    let address = memory_addr();
    let b = Node::spawn(keypair(), Some(address.clone()));
    let mut a = Node::spawn(keypair(), None);
    let b_id = b.peer_id;
    let target = address.clone();
    a.with(move |s| s.behaviour_mut().add_static_peer(target))
        .await;
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionEstablished { .. }).then_some(()))
        .await;
    let removed = a
        .with(move |s| s.behaviour_mut().remove_static_peer(&address))
        .await;
    assert!(removed);
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionClosed { .. }).then_some(()))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.connections().await, 0);
    assert!(!a.with(move |s| s.is_connected(&b_id)).await);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn the_heartbeat_measures_the_round_trip_time_of_a_live_link() {
    let address = memory_addr();
    let b = Node::spawn(keypair(), Some(address.clone()));
    let mut a = Node::spawn(keypair(), None);
    let b_id = b.peer_id;
    a.with(move |s| s.behaviour_mut().add_static_peer(address))
        .await;
    a.wait_for(|e| matches!(e, SwarmEvent::ConnectionEstablished { .. }).then_some(()))
        .await;
    // The test config beats every 100 ms.
    eventually("a heartbeat round trip is recorded", async || {
        a.with(move |s| s.behaviour().rtt(&b_id)).await.is_some()
    })
    .await;
    let rtt = a.with(move |s| s.behaviour().rtt(&b_id)).await.unwrap();
    assert!(rtt < Duration::from_secs(1), "in-memory RTT was {rtt:?}");
    // A live link is never reported as failed.
    let events = a.events_during(Duration::from_millis(500)).await;
    let failures = events
        .iter()
        .filter(|e| matches!(e, SwarmEvent::Behaviour(Event::HeartbeatFailed { .. })))
        .count();
    assert_eq!(failures, 0);
    a.stop().await;
    b.stop().await;
}

/// A TCP listener that accepts connections and never answers: a dial to it stays in flight.
async fn silent_listener() -> (Multiaddr, JoinHandle<()>) {
    // On every loopback address, so that 127.0.0.x are distinct addresses of one listener.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let address = Multiaddr::empty()
        .with(Protocol::Ip4([127, 0, 0, 1].into()))
        .with(Protocol::Tcp(port));
    (address, task)
}

#[tokio::test]
async fn dials_beyond_the_cap_wait_for_a_free_slot() {
    let (address, listener) = silent_listener().await;
    let node = Node::spawn_with(keypair(), None, |c| c.with_max_concurrent_dials(2));
    let port = match address.iter().last() {
        Some(Protocol::Tcp(port)) => port,
        _ => unreachable!("a TCP address"),
    };
    for i in 1..=10u8 {
        // Distinct static addresses that all lead to the silent listener.
        let address = Multiaddr::empty()
            .with(Protocol::Ip4([127, 0, 0, i].into()))
            .with(Protocol::Tcp(port));
        node.with(move |swarm| swarm.behaviour_mut().add_static_peer(address))
            .await;
    }
    eventually("two dials in flight and eight waiting", async || {
        node.with(|swarm| swarm.behaviour().dials()).await == (2, 8)
    })
    .await;
    // It stays so: nothing else starts while the two hang.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node.with(|swarm| swarm.behaviour().dials()).await, (2, 8));
    node.stop().await;
    listener.abort();
}

#[tokio::test]
async fn requests_to_dial_one_node_share_one_dial() {
    let (address, listener) = silent_listener().await;
    let mut node = Node::spawn(keypair(), None);
    let target = keypair().public().to_peer_id();
    let answers = node
        .with(move |swarm| {
            (0..5)
                .map(|_| swarm.behaviour_mut().dial(target, vec![address.clone()]))
                .collect::<Vec<_>>()
        })
        .await;
    assert_eq!(answers[0], Ok(fisco_p2p_peers::Dial::Started));
    assert!(answers[1..]
        .iter()
        .all(|a| *a == Ok(fisco_p2p_peers::Dial::Joined)));
    assert_eq!(node.with(|swarm| swarm.behaviour().dials()).await, (1, 0));
    // The silent listener never finishes the handshake: stop it, and the one dial fails once.
    listener.abort();
    let error = node
        .wait_for(|event| match event {
            SwarmEvent::Behaviour(Event::DialFinished { peer, error }) if *peer == target => {
                Some(error.clone())
            }
            _ => None,
        })
        .await;
    assert!(error.is_some());
    assert_eq!(node.with(|swarm| swarm.behaviour().dials()).await, (0, 0));
    node.stop().await;
}
