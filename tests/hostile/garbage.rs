//! Peers that misbehave inside the protocol: garbage instead of a handshake, a truncated TLS
//! record, a TLS client that stalls halfway, and an authenticated peer opening thousands of
//! substreams. Each is refused or reset, and the node keeps serving a legitimate peer.

use std::{
    future::poll_fn,
    net::{IpAddr, Ipv4Addr},
    task::Poll,
    time::Duration,
};

use fisco_p2p::{
    identity::NodeIdentity,
    node::{Event, Refusal},
    tls::{self, AccessList, RefusalReason},
};
use futures::{AsyncRead, AsyncWrite};
use libp2p::{
    core::{
        muxing::{StreamMuxerBox, StreamMuxerExt, SubstreamBox},
        transport::{DialOpts, PortUse},
        upgrade::Version,
        Endpoint,
    },
    tcp, yamux, Multiaddr, Transport,
};

use crate::{
    attacker::{closed_within, connect_from, frame, send, tls_proposal},
    common::{bounded, config, network::identities, socket_addr, TestNode, WAIT},
};

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 66));

/// A victim with short deadlines (so the tests are quick), and a legitimate peer's identity.
async fn victim() -> (TestNode, NodeIdentity) {
    let (victim, mut others) = victim_and(1).await;
    (victim, others.remove(0))
}

/// A victim and `n` more identities of its chain.
async fn victim_and(n: usize) -> (TestNode, Vec<NodeIdentity>) {
    let mut ids = identities(n + 1).into_iter();
    let config = config()
        .with_first_bytes_timeout(Duration::from_millis(500))
        .with_handshake_timeout(Duration::from_secs(4));
    let victim = TestNode::spawn(ids.next().expect("identity"), config).await;
    (victim, ids.collect())
}

/// The victim still lets a legitimate peer in, within a generous bound (it takes milliseconds).
async fn assert_serves(victim: &mut TestNode, peer: NodeIdentity) {
    let peer = TestNode::spawn(peer, config().with_peer(victim.addr.clone())).await;
    let start = tokio::time::Instant::now();
    victim.wait_connected(peer.node_id()).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    peer.shutdown().await;
}

/// Waits for the victim's report of an inbound refusal.
async fn refusal(victim: &mut TestNode) -> Refusal {
    victim
        .wait_for("an inbound refusal", |e| match e {
            Event::ConnectionRefused {
                direction: fisco_p2p::node::Direction::Inbound,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_is_refused_as_not_tls() {
    bounded(async {
        let (mut victim, peer) = victim().await;
        let target = socket_addr(&victim.addr);
        // Bytes that look like nothing: a deterministic pseudo-random stream.
        let garbage: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut stream = connect_from(ATTACKER, target).await.expect("connect");
        send(&mut stream, &garbage).await;
        assert!(closed_within(&mut stream, WAIT).await.is_some(), "closed");
        assert_eq!(
            refusal(&mut victim).await,
            Refusal::Tls(RefusalReason::NotTls)
        );
        assert_serves(&mut victim, peer).await;
        victim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_truncated_tls_record_is_cut_off_at_the_first_bytes_deadline() {
    bounded(async {
        let (mut victim, peer) = victim().await;
        let mut stream = connect_from(ATTACKER, socket_addr(&victim.addr))
            .await
            .expect("connect");
        // The protocol proposal, then a handshake record that announces 512 bytes and brings 5.
        let record = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03];
        send(&mut stream, &[tls_proposal(), record.to_vec()].concat()).await;
        let closed = closed_within(&mut stream, WAIT).await.expect("closed");
        // The first-bytes deadline (500 ms) covers the whole ClientHello, well before the
        // handshake timeout (4 s).
        assert!(closed < Duration::from_secs(3), "{closed:?}");
        assert_eq!(refusal(&mut victim).await, Refusal::Timeout);
        assert_serves(&mut victim, peer).await;
        victim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_tls_client_that_stalls_mid_handshake_is_cut_off_at_the_handshake_timeout() {
    bounded(async {
        let (mut victim, peer) = victim().await;
        let stranger = identities(1).into_iter().next().expect("identity");
        let mut stream = connect_from(ATTACKER, socket_addr(&victim.addr))
            .await
            .expect("connect");
        // A real ClientHello (from a node of another chain), then silence: the node sends its
        // certificate and waits for ours, which never comes.
        send(
            &mut stream,
            &[tls_proposal(), client_hello(&stranger).await].concat(),
        )
        .await;
        let closed = closed_within(&mut stream, WAIT).await.expect("closed");
        assert!(
            closed > Duration::from_millis(3500) && closed < Duration::from_secs(10),
            "closed after {closed:?}, the handshake timeout is 4 s"
        );
        assert_eq!(refusal(&mut victim).await, Refusal::Timeout);
        assert_serves(&mut victim, peer).await;
        victim.shutdown().await;
    })
    .await;
}

/// The first flight of a `/fisco-tls` client, its ClientHello, captured from our own client.
async fn client_hello(identity: &NodeIdentity) -> Vec<u8> {
    use libp2p::core::upgrade::OutboundConnectionUpgrade;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = tls::Config::new(identity, AccessList::new()).expect("tls config");
    let client = tokio::spawn(async move {
        let socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let socket = tcp::tokio::TcpStream(socket);
        let _ =
            tokio::time::timeout(WAIT, config.upgrade_outbound(socket, tls::PROTOCOL_NAME)).await;
    });
    let (mut server, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("accepted in time")
        .expect("accept");
    let mut hello = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut server, &mut hello))
        .await
        .expect("hello in time")
        .expect("read");
    client.abort();
    hello.truncate(n);
    assert_eq!(hello.first(), Some(&0x16), "a TLS handshake record");
    hello
}

/// An authenticated peer opens thousands of substreams, each proposing a protocol the node does
/// not have, as fast as the node lets it. The node refuses or resets them (its multiplexer never
/// lets more than a few hundred wait) and meanwhile lets a legitimate peer in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_peer_opening_thousands_of_substreams_is_refused_and_the_node_serves() {
    bounded(async {
        let (mut victim, mut ids) = victim_and(2).await;
        let (peer, mallory) = (ids.remove(0), ids.remove(0));
        let muxer = dial(&mallory, victim.addr.clone()).await;
        let addr = victim.addr.clone();
        let legitimate = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let peer = TestNode::spawn(peer, config().with_peer(addr)).await;
            let start = tokio::time::Instant::now();
            victim.wait_connected(peer.node_id()).await;
            let took = start.elapsed();
            peer.shutdown().await;
            took
        };
        let ((opened, refused, most_waiting), took) =
            tokio::join!(open_substreams(muxer, 5000), legitimate);
        eprintln!(
            "{opened} substreams opened, {refused} refused or reset by the node, at most \
             {most_waiting} waiting at once; a legitimate peer connected in {took:?} meanwhile"
        );
        assert_eq!(opened, 5000, "the attacker got its substreams open");
        assert!(refused >= 4000, "the node refused or reset them: {refused}");
        assert!(
            most_waiting <= 512,
            "never more than yamux's window waiting"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
        victim.shutdown().await;
    })
    .await;
}

/// Opens `total` substreams on `muxer`, each proposing `/mallory/1.0.0`, keeping unanswered ones
/// open until the multiplexer holds further ones back (then it drops the oldest). Returns how
/// many it opened, how many the node refused ("na") or reset, and the most waiting at once.
async fn open_substreams(mut muxer: StreamMuxerBox, total: usize) -> (usize, usize, usize) {
    let proposal = [frame("/multistream/1.0.0"), frame("/mallory/1.0.0")].concat();
    let mut waiting: std::collections::VecDeque<SubstreamBox> = Default::default();
    let (mut opened, mut refused, mut most_waiting) = (0, 0, 0);
    while opened < total {
        let open = poll_fn(|cx| {
            drive(&mut muxer, cx);
            muxer.poll_outbound_unpin(cx)
        });
        match tokio::time::timeout(Duration::from_millis(200), open).await {
            Ok(Ok(mut stream)) => {
                opened += 1;
                let write = poll_fn(|cx| {
                    drive(&mut muxer, cx);
                    std::pin::Pin::new(&mut stream).poll_write(cx, &proposal)
                });
                let _ = tokio::time::timeout(Duration::from_millis(200), write).await;
                waiting.push_back(stream);
            }
            Ok(Err(error)) => panic!("the connection broke: {error}"),
            // Held back until the node acknowledges streams: give up the oldest.
            Err(_) => drop(waiting.drain(..waiting.len().min(64))),
        }
        // Collect the answers that arrived: "na" or a reset.
        let mut answer = [0u8; 64];
        waiting.retain_mut(|stream| {
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            drive(&mut muxer, &mut cx);
            match std::pin::Pin::new(stream).poll_read(&mut cx, &mut answer) {
                Poll::Ready(_) => {
                    refused += 1;
                    false
                }
                Poll::Pending => true,
            }
        });
        most_waiting = most_waiting.max(waiting.len());
    }
    (opened, refused, most_waiting)
}

/// Dials `addr` as `identity` with the node's own security upgrade and yamux, without a swarm.
async fn dial(identity: &NodeIdentity, addr: Multiaddr) -> StreamMuxerBox {
    let tls = tls::Config::new(identity, AccessList::new()).expect("tls config");
    let mut transport = tcp::tokio::Transport::new(tcp::Config::default())
        .upgrade(Version::V1)
        .authenticate(tls)
        .multiplex(yamux::Config::default())
        .map(|(_, muxer), _| StreamMuxerBox::new(muxer))
        .boxed();
    let opts = DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    };
    let dial = transport.dial(addr, opts).expect("dial starts");
    tokio::time::timeout(WAIT, dial)
        .await
        .expect("handshake in time")
        .expect("mallory's certificate is from the right CA, so it connects")
}

/// Lets the multiplexer do its I/O, and drops what the node opens towards us (its heartbeat).
fn drive(muxer: &mut StreamMuxerBox, cx: &mut std::task::Context<'_>) {
    while let Poll::Ready(Ok(_)) = muxer.poll_unpin(cx) {}
    while let Poll::Ready(Ok(stream)) = muxer.poll_inbound_unpin(cx) {
        drop(stream);
    }
}
