//! A soak run: a small network under steady mixed traffic, with a node killed and restarted at
//! intervals, printing memory, descriptors and queue depths over time. Memory must be flat once
//! warmed up; nothing may pile up.
//!
//! ```sh
//! cargo run --release --example soak -- --minutes 10            # a line every 10 s
//! cargo run --release --example soak -- --minutes 1 --csv soak.csv
//! ```
//!
//! Six nodes on 127.0.0.1 in a ring with one chord (so every message kind crosses relays), each
//! answering requests and following a topic. Every 100 ms each node sends a request to a node
//! two links away and a 1 KiB multicast; every second one node broadcasts 4 KiB and changes its
//! state. Every 30 s the next node is stopped abruptly and restarted on the same port 2 s later.
//! Each line: elapsed time, resident memory of the process, open file descriptors, requests that
//! succeeded and failed in the interval, requests in flight and bytes queued on links (summed over
//! the nodes), and messages dropped by reason.

#![allow(clippy::print_stdout)]

use std::{
    io::Write as _,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use fisco_p2p::{
    certs::{self, CertSpec, Role},
    identity::{NodeId, NodeIdentity},
    node::{Config, Handle, Message, Node},
};
use libp2p::Multiaddr;

const NODES: usize = 6;
const MODULE: u16 = 1;
const TOPIC: &str = "soak";

struct Settings {
    minutes: u64,
    every: Duration,
    csv: Option<std::path::PathBuf>,
}

fn settings() -> Result<Settings, String> {
    let mut settings = Settings {
        minutes: 10,
        every: Duration::from_secs(10),
        csv: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--minutes" => {
                settings.minutes = value()?.parse().map_err(|e| format!("--minutes: {e}"))?
            }
            "--every" => {
                settings.every =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--every: {e}"))?)
            }
            "--csv" => settings.csv = Some(value()?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other}; use --minutes N [--every SECONDS] [--csv FILE]"
                ))
            }
        }
    }
    Ok(settings)
}

fn identities(n: usize) -> Result<Vec<NodeIdentity>, Box<dyn std::error::Error>> {
    let ca = certs::new_ca(&CertSpec::new(Role::Chain, "soak"))?;
    let agency = certs::new_agency(&CertSpec::new(Role::Agency, "agency"), &ca)?;
    (0..n)
        .map(|i| {
            let (key, cert) =
                certs::new_node(&CertSpec::new(Role::Node, format!("node{i}")), &agency)?;
            let chain = vec![cert, agency.certificate().clone(), ca.certificate().clone()];
            Ok(NodeIdentity::from_parts(
                key,
                chain,
                vec![ca.certificate().clone()],
            )?)
        })
        .collect()
}

/// The static peers of node `i`: the next one round the ring, and a chord from node 0 to 3.
fn peers_of(i: usize) -> Vec<usize> {
    let mut peers = vec![(i + 1) % NODES];
    if i == 0 {
        peers.push(NODES / 2);
    }
    peers
}

struct Running {
    handle: Handle,
    server: tokio::task::JoinHandle<()>,
}

/// Starts node `i` listening on `addrs[i]`, answering requests and following the topic.
async fn start(
    identity: NodeIdentity,
    i: usize,
    addrs: &[Multiaddr],
) -> Result<Running, Box<dyn std::error::Error>> {
    let mut config = Config::default()
        .with_listen(addrs[i].clone())
        .with_topic(TOPIC);
    for p in peers_of(i) {
        config = config.with_peer(addrs[p].clone());
    }
    let (handle, _events) = Node::spawn(identity, config).await?;
    let mut inbox = handle.register(MODULE).await?;
    let server = tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            if let Message::Request(request) = message {
                let _ = request.responder.reply(request.payload).await;
            }
        }
    });
    Ok(Running { handle, server })
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = settings()?;
    let ids = identities(NODES)?;
    let node_ids: Vec<NodeId> = ids.iter().map(NodeIdentity::node_id).collect();
    // Fixed ports, so a restarted node comes back where its neighbours look for it.
    let ports: Vec<u16> = (0..NODES)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
        })
        .collect::<Result<_, _>>()?;
    let addrs: Vec<Multiaddr> = ports
        .iter()
        .map(|p| format!("/ip4/127.0.0.1/tcp/{p}").parse())
        .collect::<Result<_, _>>()?;
    let mut nodes = Vec::new();
    for (i, identity) in ids.iter().cloned().enumerate() {
        nodes.push(start(identity, i, &addrs).await?);
    }
    let handles: Arc<std::sync::Mutex<Vec<Handle>>> = Arc::new(std::sync::Mutex::new(
        nodes.iter().map(|n| n.handle.clone()).collect(),
    ));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    // Traffic: every 100 ms each node asks a node two links away and multicasts 1 KiB.
    let traffic = {
        let (handles, ok, failed, node_ids) = (
            handles.clone(),
            ok.clone(),
            failed.clone(),
            node_ids.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut round = 0u64;
            loop {
                tick.tick().await;
                round += 1;
                let current: Vec<Handle> = handles.lock().map(|h| h.clone()).unwrap_or_default();
                for (i, handle) in current.iter().enumerate() {
                    let (handle, ok, failed) = (handle.clone(), ok.clone(), failed.clone());
                    let target = node_ids[(i + 2) % NODES].clone();
                    tokio::spawn(async move {
                        let payload = Bytes::from(round.to_be_bytes().to_vec());
                        match handle.request(target, MODULE, payload).await {
                            Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                        let _ = handle
                            .multicast(TOPIC, MODULE, Bytes::from(vec![7u8; 1024]))
                            .await;
                    });
                }
                if round.is_multiple_of(10) {
                    let i = (round / 10) as usize % NODES;
                    let _ = current[i]
                        .broadcast(MODULE, Bytes::from(vec![9u8; 4096]))
                        .await;
                    let _ = current[i]
                        .set_state("round", Some(Bytes::from(round.to_be_bytes().to_vec())))
                        .await;
                }
            }
        })
    };

    let mut csv = match &settings.csv {
        Some(path) => Some(std::fs::File::create(path)?),
        None => None,
    };
    let header = "seconds,rss_mib,fds,requests_ok,requests_failed,in_flight,queued_bytes,dropped_queue_full,dropped_over_budget,dropped_inbox";
    println!("{header}");
    if let Some(file) = csv.as_mut() {
        writeln!(file, "{header}")?;
    }
    let started = Instant::now();
    let end = started + Duration::from_secs(settings.minutes * 60);
    let mut next_report = started + settings.every;
    let mut next_kill = started + Duration::from_secs(30);
    let mut victim = 1;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if Instant::now() >= next_kill {
            next_kill += Duration::from_secs(30);
            // Abrupt stop: the node's task and sockets go at once (its neighbours see the links
            // break), then it comes back on the same port.
            let placeholder = start_placeholder(&nodes[victim]);
            let old = std::mem::replace(&mut nodes[victim], placeholder);
            let _ = old.handle.shutdown().await;
            old.server.abort();
            tokio::time::sleep(Duration::from_secs(2)).await;
            nodes[victim] = start(ids[victim].clone(), victim, &addrs).await?;
            if let Ok(mut h) = handles.lock() {
                h[victim] = nodes[victim].handle.clone();
            }
            victim = victim % (NODES - 1) + 1;
        }
        if Instant::now() >= next_report {
            next_report += settings.every;
            let (mut in_flight, mut queued, mut queue_full, mut over_budget, mut inbox) =
                (0, 0, 0, 0, 0);
            for node in &nodes {
                if let Ok(status) = node.handle.status().await {
                    in_flight += status.requests_in_flight;
                    queued += status.queued_bytes;
                    queue_full += status.overlay.dropped_queue_full;
                    over_budget += status.overlay.dropped_over_budget;
                    inbox += status.inbox_dropped;
                }
            }
            let line = format!(
                "{},{:.1},{},{},{},{},{},{},{},{}",
                started.elapsed().as_secs(),
                rss_mib(),
                open_fds(),
                ok.swap(0, Ordering::Relaxed),
                failed.swap(0, Ordering::Relaxed),
                in_flight,
                queued,
                queue_full,
                over_budget,
                inbox
            );
            println!("{line}");
            if let Some(file) = csv.as_mut() {
                writeln!(file, "{line}")?;
            }
        }
    }
    traffic.abort();
    for node in nodes {
        let _ = node.handle.shutdown().await;
    }
    Ok(())
}

/// A stand-in while a node is down: the old handle, which answers "stopped".
fn start_placeholder(node: &Running) -> Running {
    Running {
        handle: node.handle.clone(),
        server: tokio::spawn(async {}),
    }
}
