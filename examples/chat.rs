//! An interactive chat peer. Type a line to broadcast it to every node; commands:
//!
//! ```text
//! /join TOPIC          follow a topic          /leave TOPIC     stop following it
//! /say TOPIC TEXT      multicast to a topic    /ask TOPIC TEXT  ask one follower
//! /msg NODE_ID TEXT    ask one node            /peers           list known nodes
//! /quit
//! ```
//!
//! ```sh
//! cargo run --example chat -- certs/tool/node0 127.0.0.1:30300
//! cargo run --example chat -- certs/tool/node1 127.0.0.1:30301 127.0.0.1:30300
//! ```

#![allow(clippy::print_stdout)]

use bytes::Bytes;
use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::{parse_address, Config, Handle, Message, Node},
};
use tokio::io::{AsyncBufReadExt, BufReader};

const MODULE: u16 = 2;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: chat NODE_DIR LISTEN_ADDR [PEER_ADDR...]";
    let identity = NodeIdentity::load_dir(args.next().ok_or(usage)?)?;
    let mut config = Config::default().with_listen(parse_address(&args.next().ok_or(usage)?)?);
    for peer in args {
        config = config.with_peer(parse_address(&peer)?);
    }
    let (handle, _events) = Node::spawn(identity, config).await?;
    println!("you are {}", handle.node_id());

    let mut inbox = handle.register(MODULE).await?;
    tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            match message {
                Message::Broadcast { from, payload, .. } => {
                    println!("<{from:?}> {}", text(&payload))
                }
                Message::Multicast {
                    from,
                    topic,
                    payload,
                    ..
                } => {
                    println!("[{topic}] <{from:?}> {}", text(&payload))
                }
                Message::Request(request) => {
                    println!("? <{:?}> {}", request.from, text(&request.payload));
                    let _ = request.responder.reply(Bytes::from_static(b"got it")).await;
                }
            }
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "/quit" {
            break;
        }
        if let Err(error) = command(&handle, line.trim()).await {
            println!("! {error}");
        }
    }
    handle.shutdown().await?;
    Ok(())
}

async fn command(handle: &Handle, line: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (first, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let body = || Bytes::from(text.to_owned());
    match verb {
        "" => {}
        "/join" => println!("following {first}: {}", handle.subscribe(first).await?),
        "/leave" => println!("left {first}: {}", handle.unsubscribe(first).await?),
        "/say" => println!(
            "sent to {} followers",
            handle.multicast(first, MODULE, body()).await?
        ),
        "/ask" => {
            let (node, reply) = handle.send_to_topic(first, MODULE, body()).await?;
            println!("{node:?} answered {}", self::text(&reply));
        }
        "/msg" => {
            let node: NodeId = first.parse()?;
            println!(
                "{node:?} answered {}",
                self::text(&handle.request(node.clone(), MODULE, body()).await?)
            );
        }
        "/peers" => {
            for peer in handle.peers().await? {
                let link = if peer.connected {
                    "connected"
                } else {
                    "via others"
                };
                println!("{} {link} topics={:?}", peer.node_id, peer.topics);
            }
        }
        verb if verb.starts_with('/') => println!("! unknown command {verb}"),
        _ => {
            handle
                .broadcast(MODULE, Bytes::from(line.to_owned()))
                .await?
        }
    }
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
