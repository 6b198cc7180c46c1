//! Scenario 6: a peer's listener goes away and comes back on the same port (the peer node is
//! shut down and restarted there); the time from its listener being back until the other node
//! has it connected again. Node API, default configuration: the node redials at once on the loss
//! (refused: the peer is down), then after its initial backoff of 100 ms (with jitter), so the
//! figure is mostly that backoff minus the few milliseconds the restart takes.

use std::time::{Duration, Instant};

use crate::{
    ids::Chain,
    nodes,
    report::{Better, Report, Row, Stack},
    stats::Samples,
    Settings,
};

pub(crate) async fn run(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
) -> anyhow::Result<()> {
    let b_identity = chain.node()?;
    let mut b = nodes::spawn_local(b_identity.clone()).await?;
    let mut a = nodes::spawn(
        chain.node()?,
        nodes::config("/ip4/127.0.0.1/tcp/0".parse()?).with_peer(b.addr.clone()),
    )
    .await?;
    let b_id = b.handle.node_id();
    a.wait_connected(b_id.clone()).await?;
    let rounds = settings.pick(2, 20);
    let mut times: Vec<Duration> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        b.handle.shutdown().await?;
        a.wait_disconnected(b_id.clone()).await?;
        b = nodes::spawn(b_identity.clone(), nodes::config(b.addr.clone())).await?;
        let back = Instant::now();
        a.wait_connected(b_id.clone()).await?;
        times.push(back.elapsed());
    }
    report.push(
        Row::from_samples(
            "6",
            "restart on the same port",
            Stack::OursNode,
            "reconnect time",
            "ms",
            Better::Lower,
            &Samples::millis(&times),
        )
        .with_note("node defaults: redial at once on the loss, then backoff from 100 ms"),
    );
    let _ = a.handle.shutdown().await;
    let _ = b.handle.shutdown().await;
    Ok(())
}
