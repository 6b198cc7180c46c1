//! Compression of large messages between two nodes over real TCP + TLS on 127.0.0.1: 1 MiB
//! payloads, compressible (JSON-like transaction records) and incompressible (random bytes),
//! with compression on and off on both nodes. A counting proxy between the nodes measures the
//! bytes that cross the wire.
//!
//! `cargo bench --bench compression` (add `-- --quick` for a smoke run of 3 requests per case).
//! Prints one table: requests per second, payload throughput, and wire bytes per payload byte.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use fisco_p2p::{
    identity::NodeIdentity,
    node::{Config, Handle, Message, Node},
};
use tokio::net::{TcpListener, TcpStream};

const MODULE: u16 = 3;
const PAYLOAD: usize = 1 << 20;

fn identity(node: &str) -> NodeIdentity {
    NodeIdentity::load_dir(format!(
        "{}/../../certs/fisco-2.5/{node}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Transaction-like records: field names repeat, hashes and amounts are random.
fn compressible() -> Bytes {
    let mut text = String::with_capacity(PAYLOAD + 256);
    let mut nonce = 0u64;
    while text.len() < PAYLOAD {
        let (from, to): ([u8; 20], [u8; 20]) = (rand::random(), rand::random());
        let value: u32 = rand::random();
        text.push_str(&format!(
            "{{\"from\":\"0x{}\",\"to\":\"0x{}\",\"value\":{value},\"nonce\":{nonce},\"gas\":21000,\"input\":\"0x\"}}\n",
            hex::encode(from),
            hex::encode(to)
        ));
        nonce += 1;
    }
    text.truncate(PAYLOAD);
    Bytes::from(text)
}

fn incompressible() -> Bytes {
    (0..PAYLOAD)
        .map(|_| rand::random::<u8>())
        .collect::<Vec<u8>>()
        .into()
}

/// A TCP proxy to `target` counting the bytes sent towards it.
async fn counting_proxy(
    target: std::net::SocketAddr,
    sent: Arc<AtomicU64>,
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let Ok(n) = ri.read(&mut buf).await else {
                            break;
                        };
                        if n == 0 || wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent.fetch_add(n as u64, Ordering::Relaxed);
                    }
                };
                let down = async {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    address
}

fn config(compression: bool) -> Config {
    Config::default()
        .with_listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .with_compression(compression)
        .with_max_message_size(4 << 20)
}

/// Answers every request on `MODULE` with two bytes.
async fn serve(handle: &Handle) {
    let mut inbox = handle.register(MODULE).await.unwrap();
    tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            if let Message::Request(request) = message {
                let _ = request.responder.reply(Bytes::from_static(b"ok")).await;
            }
        }
    });
}

struct Outcome {
    per_second: f64,
    mib_per_second: f64,
    wire_ratio: f64,
}

async fn case(payload: &Bytes, compression: bool, requests: usize) -> Outcome {
    let (server, _) = Node::spawn(identity("node1"), config(compression))
        .await
        .unwrap();
    serve(&server).await;
    let server_addr = server.listen_addrs().await.unwrap()[0].clone();
    let port = match server_addr.iter().nth(1) {
        Some(libp2p::multiaddr::Protocol::Tcp(port)) => port,
        _ => panic!("a TCP address: {server_addr}"),
    };
    let sent = Arc::new(AtomicU64::new(0));
    let proxy = counting_proxy(([127, 0, 0, 1], port).into(), sent.clone()).await;
    let (client, mut events) = Node::spawn(identity("node0"), config(compression))
        .await
        .unwrap();
    client
        .operator()
        .add_peer(
            format!("/ip4/127.0.0.1/tcp/{}", proxy.port())
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let target = server.node_id();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            if matches!(event, fisco_p2p::node::Event::PeerConnected { .. }) {
                break;
            }
        }
    })
    .await
    .unwrap();
    // One request to open the streams, then measure.
    client
        .request(target.clone(), MODULE, payload.clone())
        .await
        .unwrap();
    let before = sent.load(Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..requests {
        client
            .request(target.clone(), MODULE, payload.clone())
            .await
            .unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    let wire = sent.load(Ordering::Relaxed) - before;
    let _ = client.shutdown().await;
    let _ = server.shutdown().await;
    Outcome {
        per_second: requests as f64 / took,
        mib_per_second: (requests * payload.len()) as f64 / took / (1 << 20) as f64,
        wire_ratio: wire as f64 / (requests * payload.len()) as f64,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let requests = if quick { 3 } else { 40 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let payloads = [
            ("compressible", compressible()),
            ("incompressible", incompressible()),
        ];
        let reference = zstd::bulk::compress(&payloads[0].1, 1).unwrap().len() as f64
            / payloads[0].1.len() as f64;
        println!("1 MiB requests, {requests} per case, two nodes over TCP + TLS on 127.0.0.1");
        println!(
            "(zstd level 1 alone shrinks the compressible payload to {reference:.3} of its size)"
        );
        println!("| payload | compression | requests/s | MiB/s | wire bytes / payload byte |");
        println!("|---|---|---|---|---|");
        for (name, payload) in &payloads {
            for compression in [false, true] {
                let outcome = case(payload, compression, requests).await;
                println!(
                    "| {name} | {} | {:.1} | {:.1} | {:.3} |",
                    if compression { "on" } else { "off" },
                    outcome.per_second,
                    outcome.mib_per_second,
                    outcome.wire_ratio
                );
            }
        }
    });
}
