//! Request/reply through the node API: `Handle::request` on one node, an `Inbox` answering on
//! the other, over the node's own connection (TLS, yamux, the overlay inside the node's event
//! loop).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use fisco_p2p::{
    identity::NodeId,
    node::{Handle, Message},
};
use futures::{stream::FuturesUnordered, StreamExt};

use crate::{
    ids::Chain,
    nodes::{self, BenchNode},
    pairs::Server,
    rpc::Round,
};

/// The module the benchmark's requests are for.
pub(crate) const MODULE: u16 = 1;

/// Registers [`MODULE`] on the node of `handle` and answers every request with `reply` until
/// the returned task is dropped.
pub(crate) async fn serve(handle: &Handle, reply: &Bytes) -> anyhow::Result<Server> {
    let mut inbox = handle.register(MODULE).await?;
    let reply = reply.clone();
    Ok(Server(tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            if let Message::Request(request) = message {
                let _ = request.responder.reply(reply.clone()).await;
            }
        }
    })))
}

/// A client node connected to a server node whose inbox answers every request with `reply`.
pub(crate) async fn connect(
    chain: &mut Chain,
    reply: &Bytes,
) -> anyhow::Result<(BenchNode, NodeId, Server)> {
    let server = nodes::spawn_local(chain.node()?).await?;
    let server_id = server.handle.node_id();
    let server_addr = server.addr.clone();
    let serving = serve(&server.handle, reply).await?;
    let task = tokio::spawn(async move {
        // The server node lives as long as this task: its handle is the task's.
        let _server = server;
        let _serving = serving;
        std::future::pending::<()>().await
    });
    let mut client = nodes::spawn(
        chain.node()?,
        nodes::config("/ip4/127.0.0.1/tcp/0".parse()?).with_peer(server_addr),
    )
    .await?;
    client.wait_connected(server_id.clone()).await?;
    Ok((client, server_id, Server(task)))
}

/// `count` requests, `in_flight` at a time, each timed from the call to its reply.
pub(crate) async fn round(
    handle: &Handle,
    server: NodeId,
    payload: &Bytes,
    count: usize,
    in_flight: usize,
) -> anyhow::Result<Round> {
    let request = |_| {
        let server = server.clone();
        async move {
            let at = Instant::now();
            handle.request(server, MODULE, payload.clone()).await?;
            anyhow::Ok(at.elapsed())
        }
    };
    let started = Instant::now();
    let run = async {
        let mut pending = FuturesUnordered::new();
        let mut latencies = Vec::with_capacity(count);
        let mut sent = 0;
        while latencies.len() < count {
            while sent < count && pending.len() < in_flight {
                pending.push(request(sent));
                sent += 1;
            }
            let took = pending.next().await.context("no request in flight")??;
            latencies.push(took);
        }
        anyhow::Ok(latencies)
    };
    let latencies = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .context("round did not finish in time")??;
    Ok(Round {
        latencies,
        elapsed: started.elapsed(),
    })
}
