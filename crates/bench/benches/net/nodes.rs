//! Full nodes (`Node::spawn`) on 127.0.0.1, for the scenarios the node API covers today.

use std::time::Duration;

use anyhow::Context as _;
use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::{Config, Event, Events, Handle, Node},
};
use libp2p::Multiaddr;

/// Longest wait for any one node event.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A running node, its events and its listen address.
pub(crate) struct BenchNode {
    pub(crate) handle: Handle,
    pub(crate) events: Events,
    pub(crate) addr: Multiaddr,
}

/// The node's defaults (heartbeat 5 s, redial from 100 ms), listening on `listen`.
pub(crate) fn config(listen: Multiaddr) -> Config {
    Config::default()
        .with_listen(listen)
        .with_max_connections(1024)
}

pub(crate) async fn spawn(identity: NodeIdentity, config: Config) -> anyhow::Result<BenchNode> {
    let (handle, events) = Node::spawn(identity, config).await?;
    let addr = handle
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .context("node listens nowhere")?;
    Ok(BenchNode {
        handle,
        events,
        addr,
    })
}

/// Spawns a node on 127.0.0.1 port 0 with the default configuration.
pub(crate) async fn spawn_local(identity: NodeIdentity) -> anyhow::Result<BenchNode> {
    spawn(identity, config("/ip4/127.0.0.1/tcp/0".parse()?)).await
}

impl BenchNode {
    /// Waits for the first event `accept` takes.
    pub(crate) async fn wait(
        &mut self,
        what: &str,
        mut accept: impl FnMut(&Event) -> bool,
    ) -> anyhow::Result<()> {
        let events = &mut self.events;
        tokio::time::timeout(WAIT, async {
            while let Some(event) = events.next().await {
                if accept(&event) {
                    return Ok(());
                }
            }
            anyhow::bail!("node stopped while waiting for {what}")
        })
        .await
        .with_context(|| format!("timed out waiting for {what}"))?
    }

    pub(crate) async fn wait_connected(&mut self, peer: NodeId) -> anyhow::Result<()> {
        self.wait(
            "peer connected",
            |e| matches!(e, Event::PeerConnected { node_id, .. } if *node_id == peer),
        )
        .await
    }

    pub(crate) async fn wait_disconnected(&mut self, peer: NodeId) -> anyhow::Result<()> {
        self.wait(
            "peer disconnected",
            |e| matches!(e, Event::PeerDisconnected { node_id, .. } if *node_id == peer),
        )
        .await
    }
}
