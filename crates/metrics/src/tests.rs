//! Tests of [`Metrics`](super::Metrics): counters, the collectors, and both text formats.

use super::*;
use fisco_p2p::node::{Direction, Refusal};
use fisco_p2p::tls::RefusalReason;

fn value_of(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn counts_refusals_by_direction_and_reason() {
    let metrics = Metrics::new();
    let refused = Event::ConnectionRefused {
        node_id: None,
        address: None,
        direction: Direction::Inbound,
        reason: Refusal::Tls(RefusalReason::Blacklisted),
    };
    metrics.event(&refused);
    metrics.event(&refused);
    let text = metrics.encode();
    assert_eq!(
        value_of(
            &text,
            "fisco_p2p_connection_refusals_total{direction=\"inbound\",reason=\"blacklisted\"}"
        ),
        Some(2.0),
        "{text}"
    );
}

#[test]
fn counts_messages_and_bytes_by_kind() {
    let metrics = Metrics::new();
    metrics.message_sent(MessageKind::Broadcast, 10);
    metrics.message_sent(MessageKind::Broadcast, 5);
    metrics.message_received(MessageKind::Multicast, 7);
    let text = metrics.encode();
    assert_eq!(
        value_of(&text, "fisco_p2p_messages_sent_total{kind=\"broadcast\"}"),
        Some(2.0)
    );
    assert_eq!(
        value_of(
            &text,
            "fisco_p2p_payload_sent_bytes_total{kind=\"broadcast\"}"
        ),
        Some(15.0)
    );
    assert_eq!(
        value_of(
            &text,
            "fisco_p2p_payload_received_bytes_total{kind=\"multicast\"}"
        ),
        Some(7.0)
    );
}

fn node_id(seed: u8) -> fisco_p2p::identity::NodeId {
    let key = secp256k1::SecretKey::from_secret_bytes([seed; 32]).expect("a valid scalar");
    fisco_p2p::identity::NodeKey::from_secret_key(key).node_id()
}

#[test]
fn the_view_gauges_follow_the_events_without_anyone_asking_the_node() {
    let metrics = Metrics::new();
    let (a, b) = (node_id(1), node_id(2));
    let address: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    metrics.event(&Event::PeerConnected {
        node_id: a.clone(),
        address,
        direction: Direction::Outbound,
    });
    metrics.event(&Event::PeerStateChanged {
        node_id: b.clone(),
        seq: 7,
        topics: vec![],
    });
    metrics.event(&Event::PeerOffline { node_id: b.clone() });
    metrics.local_record(42, 3);
    let text = metrics.encode();
    assert_eq!(
        value_of(&text, "fisco_p2p_connected_peers "),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value_of(&text, "fisco_p2p_known_nodes "), Some(2.0));
    assert_eq!(value_of(&text, "fisco_p2p_online_nodes "), Some(1.0));
    assert_eq!(value_of(&text, "fisco_p2p_local_seq "), Some(42.0));
    assert_eq!(value_of(&text, "fisco_p2p_followed_topics "), Some(3.0));
    metrics.event(&Event::PeerDisconnected {
        node_id: a.clone(),
        reason: fisco_p2p::node::DisconnectReason::HeartbeatTimeout,
    });
    metrics.event(&Event::PeerForgotten { node_id: b });
    let text = metrics.encode();
    assert_eq!(value_of(&text, "fisco_p2p_connected_peers "), Some(0.0));
    assert_eq!(value_of(&text, "fisco_p2p_known_nodes "), Some(1.0));
}

#[test]
fn every_label_series_exists_at_zero_before_its_first_event() {
    let text = Metrics::new().encode();
    for series in [
        "fisco_p2p_connection_refusals_total{direction=\"outbound\",reason=\"unknown_ca\"} 0",
        "fisco_p2p_disconnections_total{reason=\"heartbeat_timeout\"} 0",
        "fisco_p2p_messages_sent_total{kind=\"multicast\"} 0",
        "fisco_p2p_connections_established_total{direction=\"inbound\"} 0",
        "fisco_p2p_request_duration_seconds_count{target=\"topic\",outcome=\"timeout\"} 0",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
}

#[test]
fn build_info_process_metrics_and_no_identify() {
    let text = Metrics::new().encode();
    let version = format!(
        "fisco_p2p_build_info{{version=\"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&version), "{text}");
    #[cfg(target_os = "linux")]
    for name in [
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_cpu_seconds_total ",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    assert!(!text.contains("identify"), "{text}");
}

#[test]
fn the_text_format_names_counters_by_their_total_series() {
    let metrics = Metrics::new();
    let text = metrics.encode_as(Format::Text004);
    assert!(text.contains("# HELP fisco_p2p_connections_established_total "));
    assert!(text.contains("# TYPE fisco_p2p_build_info gauge"));
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    assert!(metrics.encode_as(Format::OpenMetrics).ends_with("# EOF\n"));
}

#[test]
fn request_latency_lands_in_the_right_bucket() {
    let metrics = Metrics::new();
    metrics.request_completed(
        RequestKind::Node,
        Duration::from_millis(3),
        RequestOutcome::Reply,
    );
    let text = metrics.encode();
    let bucket = |le: &str| {
        value_of(
            &text,
            &format!(
                "fisco_p2p_request_duration_seconds_bucket{{le=\"{le}\",target=\"node\",outcome=\"reply\"}}"
            ),
        )
    };
    assert_eq!(bucket("0.002"), Some(0.0), "{text}");
    assert_eq!(bucket("0.004"), Some(1.0), "{text}");
}
