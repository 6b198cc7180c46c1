//! An event in words, as `ctl events` prints it: its type, then its fields as `key=value` in
//! the order of the docs, node IDs shortened unless `--wide`, a missing value as `-`, and every
//! string from the network escaped (a payload unescaped with `--raw`). Each kind is matched
//! whole, so a field added to an event does not compile here until it is shown.

use fisco_p2p::node::Direction;
use fisco_p2p_admin::api::{Event, LagSource, MessageKind};

use super::show::Output;

/// The line of `event`, without a line end.
pub(super) fn line(out: &Output, event: &Event) -> String {
    let mut line = event.kind().to_owned();
    let mut field = |key: &str, value: String| {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(&value);
    };
    match event {
        Event::Listening { address } | Event::SelfDial { address } => {
            field("address", out.text(address));
        }
        Event::PeerConnected {
            node_id,
            address,
            direction,
        } => {
            field("node_id", out.id(node_id));
            field("address", out.text(address));
            field("direction", direction_word(*direction).to_owned());
        }
        Event::PeerDisconnected {
            node_id,
            reason,
            message,
        } => {
            field("node_id", out.id(node_id));
            field("reason", out.text(reason));
            field("message", out.text(message));
        }
        Event::ConnectionRefused {
            node_id,
            address,
            direction,
            reason,
            message,
        } => {
            field("node_id", out.maybe_id(node_id.as_ref()));
            field(
                "address",
                address.as_deref().map_or("-".into(), |a| out.text(a)),
            );
            field("direction", direction_word(*direction).to_owned());
            field("reason", out.text(reason));
            field("message", out.text(message));
        }
        Event::StaticPeerUnreachable {
            address,
            failures,
            retry_in_ms,
        } => {
            field("address", out.text(address));
            field("failures", failures.to_string());
            field("retry_in_ms", retry_in_ms.to_string());
        }
        Event::PeerState {
            node_id,
            seq,
            topics,
        } => {
            field("node_id", out.id(node_id));
            field("seq", seq.to_string());
            field("topics", out.list(topics));
        }
        Event::PeerOnline { node_id }
        | Event::PeerOffline { node_id }
        | Event::PeerForgotten { node_id } => field("node_id", out.id(node_id)),
        Event::InvalidMessage {
            node_id,
            origin,
            protocol,
            reason,
        } => {
            field("node_id", out.id(node_id));
            field("origin", out.maybe_id(origin.as_ref()));
            field("protocol", out.text(protocol));
            field("reason", out.text(reason));
        }
        Event::Message {
            kind,
            from,
            topic,
            module,
            data,
        } => {
            field("kind", message_word(*kind).to_owned());
            field("from", out.id(from));
            field(
                "topic",
                topic.as_deref().map_or("-".into(), |t| out.text(t)),
            );
            field("module", module.to_string());
            field("data", out.payload(data));
        }
        Event::Lagged {
            missed,
            source,
            message,
        } => {
            field("missed", missed.to_string());
            field("source", lag_word(*source).to_owned());
            field("message", out.text(message));
        }
    }
    line
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Outbound => "outbound",
        Direction::Inbound => "inbound",
    }
}

fn message_word(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Unicast => "unicast",
        MessageKind::Multicast => "multicast",
        MessageKind::Broadcast => "broadcast",
        MessageKind::Unknown => "unknown",
    }
}

fn lag_word(source: LagSource) -> &'static str {
    match source {
        LagSource::Node => "node",
        LagSource::Client => "client",
        LagSource::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fisco_p2p::identity::NodeId;
    use fisco_p2p_admin::api::Data;

    fn node_id() -> NodeId {
        let key = libp2p::identity::Keypair::generate_secp256k1();
        NodeId::from_peer_id(&key.public().to_peer_id()).expect("a secp256k1 peer ID")
    }

    /// Each word is the one the API sends, so `--type` and the JSON name the same things.
    #[test]
    fn words_are_the_api_names() {
        for (word, value) in [
            (
                direction_word(Direction::Inbound),
                serde_json::to_value(Direction::Inbound),
            ),
            (
                direction_word(Direction::Outbound),
                serde_json::to_value(Direction::Outbound),
            ),
            (
                message_word(MessageKind::Unicast),
                serde_json::to_value(MessageKind::Unicast),
            ),
            (
                message_word(MessageKind::Multicast),
                serde_json::to_value(MessageKind::Multicast),
            ),
            (
                message_word(MessageKind::Broadcast),
                serde_json::to_value(MessageKind::Broadcast),
            ),
            (
                lag_word(LagSource::Node),
                serde_json::to_value(LagSource::Node),
            ),
            (
                lag_word(LagSource::Client),
                serde_json::to_value(LagSource::Client),
            ),
        ] {
            assert_eq!(value.expect("serializes"), word);
        }
    }

    #[test]
    fn a_message_line_shortens_ids_and_escapes_the_payload() {
        let from = node_id();
        let event = Event::Message {
            kind: MessageKind::Broadcast,
            from: from.clone(),
            topic: None,
            module: 0,
            data: Data::from_bytes(b"hi\x1b[31m\nforged"),
        };
        let short = &from.to_string()[..12];
        let expected = format!(
            "message kind=broadcast from={short}… topic=- module=0 data=hi\\x1b[31m\\nforged"
        );
        assert_eq!(line(&Output::new(false, false, false), &event), expected);
        let raw = line(&Output::new(false, true, true), &event);
        assert!(raw.contains(&format!("from={from} ")) && raw.ends_with("data=hi\x1b[31m\nforged"));
    }
}
