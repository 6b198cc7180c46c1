//! Every answer, body and event as the server writes it and the client reads it: each sample is
//! written to the JSON the docs show, and read back equal.

use std::{collections::BTreeMap, fmt::Debug};

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

use super::*;
use fisco_p2p::{identity::NodeId, node::Direction};

fn node_id() -> NodeId {
    let key = libp2p::identity::Keypair::generate_secp256k1();
    NodeId::from_peer_id(&key.public().to_peer_id()).expect("a secp256k1 peer ID")
}

/// `value` is written as `expected`, and `expected` read back is `value`.
fn round_trip<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(value).expect("serializes");
    let written: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(written, expected);
    let read: T = serde_json::from_str(&text).expect("the client reads what the server wrote");
    assert_eq!(&read, value);
}

#[test]
fn status_round_trips_with_its_drops() {
    let id = node_id();
    let status = Status {
        node_id: id.clone(),
        listen: vec!["/ip4/127.0.0.1/tcp/30300".into()],
        seq: 7,
        topics: vec!["blocks".into()],
        connected: 2,
        routes: 5,
        no_static_peer_connected: false,
        requests_in_flight: 1,
        queued_bytes: 10,
        relayed: 3,
        dropped: Dropped {
            over_budget: 1,
            queue_full: 2,
            inbox_full: 3,
            bad_signature: 4,
            barred_origin: 5,
            malformed: 6,
            hop_limit: 7,
            no_route: 8,
        },
    };
    round_trip(
        &status,
        json!({
            "node_id": id.to_string(), "listen": ["/ip4/127.0.0.1/tcp/30300"], "seq": 7,
            "topics": ["blocks"], "connected": 2, "routes": 5, "no_static_peer_connected": false,
            "requests_in_flight": 1, "queued_bytes": 10, "relayed": 3,
            "dropped": {"over_budget": 1, "queue_full": 2, "inbox_full": 3, "bad_signature": 4,
                        "barred_origin": 5, "malformed": 6, "hop_limit": 7, "no_route": 8}
        }),
    );
}

#[test]
fn peers_round_trip_and_state_base64_appears_only_when_there_is_some() {
    let id = node_id();
    let mut peer = Peer {
        node_id: id.clone(),
        connected: true,
        online: true,
        addrs: vec!["/ip4/127.0.0.1/tcp/30301".into()],
        topics: vec!["blocks".into()],
        seq: 9,
        state: BTreeMap::from([("height".into(), "42".into())]),
        state_base64: BTreeMap::new(),
    };
    let mut expected = json!({
        "node_id": id.to_string(), "connected": true, "online": true,
        "addrs": ["/ip4/127.0.0.1/tcp/30301"], "topics": ["blocks"], "seq": 9,
        "state": {"height": "42"}
    });
    round_trip(&peer, expected.clone());
    peer.state_base64.insert("raw".into(), "/wA=".into());
    expected["state_base64"] = json!({"raw": "/wA="});
    round_trip(&peer, expected);
}

#[test]
fn static_peers_and_routes_round_trip() {
    let (a, b) = (node_id(), node_id());
    let connected = StaticPeer {
        addr: "/ip4/127.0.0.1/tcp/30301".into(),
        connected: Some(a.clone()),
        own_address: false,
    };
    let expected = json!({"addr": "/ip4/127.0.0.1/tcp/30301", "connected": a.to_string(),
                          "own_address": false});
    round_trip(&connected, expected);
    let own = StaticPeer {
        addr: "a".into(),
        connected: None,
        own_address: true,
    };
    round_trip(
        &own,
        json!({"addr": "a", "connected": null, "own_address": true}),
    );
    let route = Route {
        destination: b.clone(),
        next_hop: a.clone(),
        hops: 2,
        path: vec![a.clone(), b.clone()],
    };
    round_trip(
        &route,
        json!({"destination": b.to_string(), "next_hop": a.to_string(), "hops": 2,
               "path": [a.to_string(), b.to_string()]}),
    );
}

#[test]
fn replies_carry_text_as_data_and_binary_as_data_base64() {
    let from = node_id();
    let text = Reply {
        from: from.clone(),
        data: Data::from_bytes(b"ping"),
    };
    round_trip(&text, json!({"from": from.to_string(), "data": "ping"}));
    let binary = Reply {
        from: from.clone(),
        data: Data::from_bytes(&[0, 1, 255]),
    };
    round_trip(
        &binary,
        json!({"from": from.to_string(), "data_base64": "AAH/"}),
    );
}

#[test]
fn the_small_answers_round_trip() {
    let multicast = Multicast {
        topic: "m".into(),
        sent_to: 3,
    };
    round_trip(&multicast, json!({"topic": "m", "sent_to": 3}));
    round_trip(&Broadcast { sent: true }, json!({"sent": true}));
    let subscription = Subscription {
        topic: "blocks".into(),
        changed: false,
    };
    round_trip(&subscription, json!({"topic": "blocks", "changed": false}));
    let added = PeerAdded {
        addr: "127.0.0.1:1".into(),
        added: true,
    };
    round_trip(&added, json!({"addr": "127.0.0.1:1", "added": true}));
    let removed = PeerRemoved {
        addr: "127.0.0.1:1".into(),
        removed: false,
    };
    round_trip(&removed, json!({"addr": "127.0.0.1:1", "removed": false}));
    let error = ErrorAnswer {
        error: "bad node ID".into(),
    };
    round_trip(&error, json!({"error": "bad node ID"}));
}

#[test]
fn answers_read_fields_a_newer_server_added() {
    let answer = json!({"topic": "m", "sent_to": 1, "confirmed": 1});
    let read: Multicast = serde_json::from_value(answer).expect("an unknown field is ignored");
    assert_eq!(read.sent_to, 1);
}

#[test]
fn bodies_leave_out_absent_fields_and_refuse_unknown_ones() {
    let request = RequestBody {
        to: "abc".into(),
        module: None,
        data: Some("ping".into()),
        data_base64: None,
        timeout_ms: Some(5000),
    };
    round_trip(
        &request,
        json!({"to": "abc", "data": "ping", "timeout_ms": 5000}),
    );
    let topic = TopicBody {
        topic: "t".into(),
        module: Some(7),
        data: None,
        data_base64: Some("/w==".into()),
    };
    round_trip(
        &topic,
        json!({"topic": "t", "module": 7, "data_base64": "/w=="}),
    );
    let broadcast = BroadcastBody {
        module: None,
        data: Some("x".into()),
        data_base64: None,
    };
    round_trip(&broadcast, json!({"data": "x"}));
    round_trip(&SubscribeBody { topic: "t".into() }, json!({"topic": "t"}));
    round_trip(&AddrBody { addr: "a".into() }, json!({"addr": "a"}));

    let misspelt = serde_json::from_value::<BroadcastBody>(json!({"data": "x", "modul": 1}));
    assert!(misspelt
        .unwrap_err()
        .to_string()
        .contains("unknown field `modul`"));
    let null = serde_json::from_value::<BroadcastBody>(json!({"data": "x", "module": null}));
    assert_eq!(null.expect("null is absent").module, None);
}

#[test]
fn a_payload_over_the_limit_is_given_by_size() {
    let data = Data::at_most(b"hello", 4);
    assert_eq!(
        data,
        Data::Omitted {
            size: 5,
            data_omitted: true
        }
    );
    assert_eq!(Data::at_most(b"hello", 5), Data::from_bytes(b"hello"));
}

/// One event of each kind, with the JSON the feed sends for it.
fn sample_events() -> Vec<(Event, Value)> {
    let (a, b) = (node_id(), node_id());
    let (a_text, b_text) = (a.to_string(), b.to_string());
    vec![
        (
            Event::Listening {
                address: "/ip4/127.0.0.1/tcp/1".into(),
            },
            json!({"address": "/ip4/127.0.0.1/tcp/1"}),
        ),
        (
            Event::PeerConnected {
                node_id: a.clone(),
                address: "x".into(),
                direction: Direction::Outbound,
            },
            json!({"node_id": a_text, "address": "x", "direction": "outbound"}),
        ),
        (
            Event::PeerDisconnected {
                node_id: a.clone(),
                reason: "requested".into(),
                message: "m".into(),
            },
            json!({"node_id": a_text, "reason": "requested", "message": "m"}),
        ),
        (
            Event::ConnectionRefused {
                node_id: None,
                address: Some("x".into()),
                direction: Direction::Inbound,
                reason: "unknown_ca".into(),
                message: "m".into(),
            },
            json!({"node_id": null, "address": "x", "direction": "inbound",
                   "reason": "unknown_ca", "message": "m"}),
        ),
        (
            Event::StaticPeerUnreachable {
                address: "x".into(),
                failures: 2,
                retry_in_ms: 100,
            },
            json!({"address": "x", "failures": 2, "retry_in_ms": 100}),
        ),
        (
            Event::SelfDial {
                address: "x".into(),
            },
            json!({"address": "x"}),
        ),
        (
            Event::PeerState {
                node_id: a.clone(),
                seq: 4,
                topics: vec!["t".into()],
            },
            json!({"node_id": a_text, "seq": 4, "topics": ["t"]}),
        ),
        (
            Event::PeerOnline { node_id: a.clone() },
            json!({"node_id": a_text}),
        ),
        (
            Event::PeerOffline { node_id: a.clone() },
            json!({"node_id": a_text}),
        ),
        (
            Event::PeerForgotten { node_id: a.clone() },
            json!({"node_id": a_text}),
        ),
        (
            Event::InvalidMessage {
                node_id: a.clone(),
                origin: Some(b.clone()),
                protocol: "sync".into(),
                reason: "r".into(),
            },
            json!({"node_id": a_text, "origin": b_text, "protocol": "sync", "reason": "r"}),
        ),
        (
            Event::Message {
                kind: MessageKind::Multicast,
                from: b.clone(),
                topic: Some("t".into()),
                module: 0,
                data: Data::from_bytes(b"hi"),
            },
            json!({"kind": "multicast", "from": b_text, "topic": "t", "module": 0, "data": "hi"}),
        ),
        (
            Event::Lagged {
                missed: 3,
                source: LagSource::Client,
                message: "m".into(),
            },
            json!({"missed": 3, "source": "client", "message": "m"}),
        ),
    ]
}

#[test]
fn every_kind_of_event_round_trips_under_its_listed_type() {
    let samples = sample_events();
    assert_eq!(samples.len(), EVENT_TYPES.len());
    for ((event, mut expected), listed) in samples.into_iter().zip(EVENT_TYPES) {
        assert_eq!(event.kind(), listed);
        expected["type"] = json!(listed);
        round_trip(&event, expected);
    }
}

#[test]
fn a_message_event_gives_a_large_payload_by_size() {
    let from = node_id();
    let event = Event::Message {
        kind: MessageKind::Broadcast,
        from: from.clone(),
        topic: None,
        module: 0,
        data: Data::at_most(&[0; 10], 4),
    };
    round_trip(
        &event,
        json!({"type": "message", "kind": "broadcast", "from": from.to_string(), "topic": null,
               "module": 0, "size": 10, "data_omitted": true}),
    );
}

#[test]
fn a_message_kind_or_lag_source_from_a_newer_node_still_reads() {
    let event: Event =
        serde_json::from_str(r#"{"type":"lagged","missed":3,"source":"relay","message":"m"}"#)
            .expect("an unknown source reads");
    assert!(matches!(
        event,
        Event::Lagged {
            missed: 3,
            source: LagSource::Unknown,
            ..
        }
    ));
    let kind: MessageKind = serde_json::from_str(r#""anycast""#).expect("an unknown kind reads");
    assert_eq!(kind, MessageKind::Unknown);
}
