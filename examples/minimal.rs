//! A minimal fisco-p2p peer: joins with a FISCO node directory, answers requests on module 1,
//! and every few seconds greets every other node it knows.
//!
//! ```sh
//! cargo run --example minimal -- certs/tool/node0 127.0.0.1:30300
//! cargo run --example minimal -- certs/tool/node1 127.0.0.1:30301 127.0.0.1:30300
//! ```

use std::time::Duration;

use bytes::Bytes;
use fisco_p2p::{
    identity::NodeIdentity,
    node::{parse_address, Config, Event, Message, Node},
};

const MODULE: u16 = 1;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut args = std::env::args().skip(1);
    let usage = "usage: minimal NODE_DIR LISTEN_ADDR [PEER_ADDR...]";
    let identity = NodeIdentity::load_dir(args.next().ok_or(usage)?)?;
    let mut config = Config::default().with_listen(parse_address(&args.next().ok_or(usage)?)?);
    for peer in args {
        config = config.with_peer(parse_address(&peer)?);
    }

    let (handle, mut events) = Node::spawn(identity, config).await?;
    tracing::info!(node = %handle.node_id(), "started");

    // Answer every request on our module with a greeting, and log its other messages. The
    // match is inside the loop: `while let Some(Message::Request(..))` would end the loop at the
    // first multicast or broadcast and drop the inbox, which unregisters the module.
    let mut inbox = handle.register(MODULE).await?;
    let me = handle.node_id();
    tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            match message {
                Message::Request(request) => {
                    let reply = format!(
                        "hello from {me:?}, you sent {} bytes",
                        request.payload.len()
                    );
                    let _ = request.responder.reply(reply.into()).await;
                }
                Message::Multicast {
                    from,
                    topic,
                    payload,
                    hops,
                } => {
                    tracing::info!(?from, %topic, bytes = payload.len(), hops, "multicast");
                }
                Message::Broadcast {
                    from,
                    payload,
                    hops,
                } => {
                    tracing::info!(?from, bytes = payload.len(), hops, "broadcast");
                }
            }
        }
    });

    // Log connection events.
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if matches!(
                event,
                Event::PeerConnected { .. } | Event::PeerDisconnected { .. }
            ) {
                tracing::info!(?event);
            }
        }
    });

    // Greet every known node now and then, until Ctrl-C.
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for peer in handle.peers().await? {
                    match handle.request(peer.node_id, MODULE, Bytes::from_static(b"hi")).await {
                        Ok(reply) => tracing::info!(reply = %String::from_utf8_lossy(&reply)),
                        Err(error) => tracing::warn!(%error),
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    handle.shutdown().await?;
    Ok(())
}
