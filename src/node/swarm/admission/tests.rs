//! Admission wired to the peers behaviour's static IPs.
use libp2p::PeerId;

use super::*;

fn addr(text: &str) -> Multiaddr {
    text.parse().expect("multiaddr")
}

/// The static peers' IPs that admission exempts are those the peers behaviour holds now.
#[test]
fn a_static_peers_ip_gets_in_without_evicting_anyone_while_it_is_static() {
    let ips = StaticIps::default();
    let config = fisco_p2p_peers::Config::default().with_static_ips(ips.clone());
    let mut peers = fisco_p2p_peers::Behaviour::new(PeerId::random(), config);
    let static_peer = addr("/ip4/127.0.0.1/tcp/30300");
    peers.add_static_peer(static_peer.clone());
    let settings = Settings {
        limits: Limits {
            capacity: 1,
            per_ip: 1,
        },
        first_bytes: Duration::from_secs(3),
    };
    let admission = Admission::new(settings, ips);
    let local = addr("/ip4/127.0.0.1/tcp/30301");
    let register = |remote: &str| admission.register(&local, &addr(remote)).expect("admitted");
    let first = register("/ip4/127.0.0.9/tcp/5000");
    let second = register("/ip4/127.0.0.8/tcp/5000");
    assert!(first.probe.evicted().is_some(), "a full table evicts");
    let exempt = register("/ip4/127.0.0.1/tcp/5000");
    assert!(
        second.probe.evicted().is_none(),
        "the static IP took no one's place"
    );
    // The socket of each connection picks up its probe once.
    let watch = admission.watch::<()>();
    let endpoint = ConnectedPoint::Listener {
        local_addr: local.clone(),
        send_back_addr: addr("/ip4/127.0.0.1/tcp/5000"),
    };
    let watched = watch((), endpoint);
    assert_eq!(
        watched.probe.as_ref().map(|p| p.ticket),
        Some(exempt.probe.ticket)
    );
    // No longer static: the same IP is a stranger again and must make room.
    assert!(peers.remove_static_peer(&static_peer));
    let _third = register("/ip4/127.0.0.1/tcp/5001");
    assert!(second.probe.evicted().is_some());
}

#[test]
fn an_ipv6_source_counts_as_its_64_prefix_and_a_mapped_ipv4_as_ipv4() {
    let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
    assert_eq!(source_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
    assert_eq!(
        source_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
        source_of(ip("2001:db8:1:2::7"))
    );
    assert_ne!(source_of(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
    assert_eq!(source_of(ip("10.1.2.3")), ip("10.1.2.3"));
    assert_eq!(
        ip_of(&addr("/ip6/::ffff:10.1.2.3/tcp/1")),
        Some(ip("10.1.2.3"))
    );
}
