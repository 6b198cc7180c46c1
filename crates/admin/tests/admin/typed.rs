//! The typed client against a live pair of daemons: every call reads its answer as its `api`
//! type, and an answer of another shape is an error naming the route.

use std::time::Duration;

use fisco_p2p_admin::{
    api::{self, Data, Event, MessageKind},
    client::{Client, ClientError},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::WAIT;
use crate::harness::pair;

fn text(data: &str) -> Data {
    Data::Text { data: data.into() }
}

#[tokio::test]
async fn every_typed_call_reads_its_answer_from_a_live_daemon() {
    let (a, b) = pair().await;
    let (a_id, b_id) = (a.node_id(), b.node_id());
    let mut events = b.client.events().await.expect("event stream opens");
    let blocks = api::SubscribeBody {
        topic: "blocks".into(),
    };
    let joined = b.client.subscribe(&blocks).await.expect("subscribe");
    assert!(joined.changed);

    let status = a.client.status().await.expect("status");
    assert_eq!(status.node_id, a_id);
    assert_eq!(status.connected, 1);
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.client.peers().await.expect("peers")[0].topics != ["blocks"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a never learnt b's topic"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peers = a.client.peers().await.expect("peers");
    assert_eq!(
        (peers[0].node_id.clone(), peers[0].connected),
        (b_id.clone(), true)
    );
    let statics = a.client.static_peers().await.expect("static peers");
    assert_eq!(statics[0].addr, b.node.addr.to_string());
    let routes = a.client.routes().await.expect("routes");
    assert!(routes.iter().all(|r| r.destination == b_id), "{routes:?}");

    let request = api::RequestBody {
        to: b_id.to_string(),
        module: None,
        data: None,
        data_base64: Some("AAH/".into()),
        timeout_ms: Some(5_000),
    };
    let reply = a.client.request(&request).await.expect("request");
    assert_eq!(reply.from, b_id);
    assert_eq!(
        reply.data,
        Data::Base64 {
            data_base64: "AAH/".into()
        }
    );

    let topic = api::TopicBody {
        topic: "blocks".into(),
        module: None,
        data: Some("to one".into()),
        data_base64: None,
    };
    let reply = a.client.send_topic(&topic).await.expect("send-topic");
    assert_eq!((reply.from, reply.data), (b_id.clone(), text("to one")));
    let sent = a.client.multicast(&topic).await.expect("multicast");
    assert_eq!(sent.sent_to, 1);
    let broadcast = api::BroadcastBody {
        module: Some(0),
        data: Some("to all".into()),
        data_base64: None,
    };
    assert!(
        a.client
            .broadcast(&broadcast)
            .await
            .expect("broadcast")
            .sent
    );

    // b's event stream reads every message of module 0 as a typed event: the two requests in
    // order, then the multicast and the broadcast (two protocols: either may come first).
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("an event in time")
            .expect("a readable event")
            .expect("the stream goes on");
        if let Event::Message { kind, from, .. } = event {
            assert_eq!(from, a_id);
            kinds.push(kind);
        }
    }
    assert_eq!(kinds[..2], [MessageKind::Unicast, MessageKind::Unicast]);
    assert!(kinds[2..].contains(&MessageKind::Multicast), "{kinds:?}");
    assert!(kinds[2..].contains(&MessageKind::Broadcast), "{kinds:?}");

    let left = b.client.unsubscribe(&blocks).await.expect("unsubscribe");
    assert!(left.changed);
    let addr = api::AddrBody {
        addr: b.node.addr.to_string(),
    };
    assert!(!a.client.add_peer(&addr).await.expect("add-peer").added);
    assert!(
        a.client
            .remove_peer(&addr)
            .await
            .expect("remove-peer")
            .removed
    );
}

#[tokio::test]
async fn an_error_answer_is_the_apis_message_with_its_status() {
    let (a, _b) = pair().await;
    let request = api::RequestBody {
        to: "abc".into(),
        module: None,
        data: Some("x".into()),
        data_base64: None,
        timeout_ms: None,
    };
    match a.client.request(&request).await {
        Err(ClientError::Api { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("bad node ID"), "{message}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_of_another_shape_names_the_route_and_what_serde_found() {
    // Something that is not this version of the API answers 200 with other fields.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepts");
        let mut buffer = [0u8; 4096];
        let _ = stream.read(&mut buffer).await;
        let body = r#"{"id":"not a node","listening":[]}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.expect("answers");
    });
    let error = Client::new(address)
        .with_timeout(WAIT)
        .status()
        .await
        .expect_err("the answer is not a status");
    assert!(
        matches!(&error, ClientError::UnexpectedAnswer { route, .. } if route == "GET /v1/status"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("missing field `node_id`"),
        "{error}"
    );
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the fake server ends in time")
        .expect("the fake server ran");
}
