//! Fault injection on the routed overlay, each node in a network namespace of its own: a
//! neighbour flooding broadcasts, a network split in two halves and healed, a relay killed in the
//! middle of a thousand requests. What must hold: nothing the node accepted is lost without a
//! count saying why, memory stays bounded, the rest of the network keeps working, and nothing is
//! left behind.
//!
//! Each test skips with a message when namespaces cannot be made (not root, no iproute2), and
//! fails instead under CI.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // the tests print what they measured

use fisco_p2p_testnode as common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use common::{
    bounded,
    netns::{Lab, NsNode},
    network::{identities, Delivery, Server, MODULE},
};

use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::{Config, Message},
};

async fn spawn(lab: &Lab, i: usize, identity: NodeIdentity, peers: &[usize]) -> NsNode {
    let config = peers.iter().fold(Config::default(), |config, &p| {
        config.with_peer(lab.address(p, i))
    });
    lab.spawn(i, identity, config).await
}

async fn wait_routes(node: &NsNode, targets: &[NodeId], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let routes = node.handle.routes().await.unwrap();
        if targets
            .iter()
            .all(|t| routes.iter().any(|r| r.destination == *t))
        {
            return;
        }
        assert!(Instant::now() < deadline, "no route to all of {targets:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resident memory of process `pid`, from /proc.
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The flood's broadcasts start with this byte; everything else is other traffic.
const FLOOD: u8 = 0xF1;

/// Counts the flood's broadcasts delivered to module 0 and answers requests on it.
struct Sink {
    delivered: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start(handle: &fisco_p2p::node::Handle) -> Sink {
        let mut inbox = handle.register(0).await.unwrap();
        let delivered = Arc::new(AtomicU64::new(0));
        let count = delivered.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = inbox.next().await {
                match message {
                    Message::Broadcast { payload, .. } if payload.first() == Some(&FLOOD) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Message::Request(request) => {
                        let _ = request.responder.reply(request.payload).await;
                    }
                    _ => {}
                }
            }
        });
        Sink { delivered, task }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `fisco-p2p ctl --json status` of the daemon in namespace `i`.
async fn daemon_status(lab: &Lab, i: usize) -> serde_json::Value {
    let output = lab
        .command(i, env!("CARGO_BIN_EXE_fisco-p2p"))
        .args(["ctl", "--admin", "127.0.0.1:31300", "--json", "status"])
        .output()
        .await
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "status JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_flood_is_paid_for_by_its_sender_and_accounted_for_by_everyone_else() {
    // A star around the victim V (1), a `fisco-p2p run` process of its own with default limits:
    // the flooder F (0), and T (2) and D (3), which talk through V all along.
    let Some(lab) = Lab::new("broadcast flood", 4, &[(0, 1), (1, 2), (1, 3)]) else {
        return;
    };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        let made = tokio::process::Command::new(env!("CARGO_BIN_EXE_fisco-p2p"))
            .args(["certs", "network", "--nodes", "4", "--out", net.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let identity = |i: usize| NodeIdentity::load_dir(net.join(format!("node{i}"))).unwrap();
        let node_ids: Vec<NodeId> = (0..4).map(|i| identity(i).node_id()).collect();
        let config = net.join("node1").join("victim.toml");
        std::fs::write(
            &config,
            format!(
                "dir = \"{}\"\nlisten = [\"0.0.0.0:{}\"]\nadmin = \"127.0.0.1:31300\"\n",
                net.join("node1").display(),
                common::netns::PORT
            ),
        )
        .unwrap();
        let victim = lab
            .command(1, env!("CARGO_BIN_EXE_fisco-p2p"))
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let victim_pid = victim.id().unwrap();
        let f = spawn(&lab, 0, identity(0), &[1]).await;
        let t = spawn(&lab, 2, identity(2), &[1]).await;
        let d = spawn(&lab, 3, identity(3), &[1]).await;
        let (sink_t, sink_d) = (Sink::start(&t.handle).await, Sink::start(&d.handle).await);
        wait_routes(&t, &[node_ids[3].clone()], Duration::from_secs(15)).await;
        wait_routes(&f, &[node_ids[2].clone(), node_ids[3].clone()], Duration::from_secs(15)).await;
        let rss_start = rss_of(victim_pid);
        let peak = Arc::new(AtomicU64::new(rss_start));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_of(victim_pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        // T asks D something every 50 ms, through V, all through the flood.
        let requests = {
            let (handle, target, stop) = (t.handle.clone(), node_ids[3].clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed, mut slowest) = (0u32, 0u32, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    match handle.request(target.clone(), 0, Bytes::from_static(b"ping")).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                    slowest = slowest.max(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (ok, failed, slowest)
            })
        };
        // F broadcasts as fast as it is allowed to: small payloads, then 4 MiB ones.
        let (mut accepted, mut refused) = (0u64, 0u64);
        for (size, seconds) in [(1024usize, 4u64), (4 * 1024 * 1024, 4)] {
            let mut payload = vec![0u8; size];
            payload[0] = FLOOD;
            let payload = Bytes::from(payload);
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                match f.handle.broadcast(0, payload.clone()).await {
                    Ok(()) => accepted += 1,
                    // The sender is told at once when its link is full: backpressure, no loss.
                    Err(_) => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
        }
        // Let what is queued drain, then stop measuring.
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        let (ok, failed, slowest) = requests.await.unwrap();
        sampler.await.unwrap();
        let peak = peak.load(Ordering::Relaxed);
        let sv = daemon_status(&lab, 1).await;
        let (st, sd) = (t.handle.status().await.unwrap(), d.handle.status().await.unwrap());
        let dropped = |key: &str| sv["dropped"][key].as_u64().unwrap();
        let delivered = [
            sink_t.delivered.load(Ordering::Relaxed),
            sink_d.delivered.load(Ordering::Relaxed),
        ];
        println!(
            "flood: {accepted} broadcasts accepted, {refused} refused at the sender; delivered T {} D {}; \
             V dropped {} over budget, {} at full queues, {} at its full inbox; T/D over budget {}/{}, inbox {}/{}; \
             T->D requests {ok} ok, {failed} failed, slowest {slowest:?}; victim RSS {} MiB, peak {} MiB",
            delivered[0], delivered[1],
            dropped("over_budget"), dropped("queue_full"), dropped("inbox_full"),
            st.overlay.dropped_over_budget, sd.overlay.dropped_over_budget,
            st.inbox_dropped, sd.inbox_dropped,
            rss_start >> 20, peak >> 20,
        );
        // Every copy of a broadcast F was told was sent reached T and D, or is counted where it
        // was dropped: over V's budget (neither got it), at V's full queue towards one of them,
        // or at T's or D's own budget or inbox.
        let missing = 2 * accepted - delivered[0] - delivered[1];
        assert_eq!(
            missing,
            2 * dropped("over_budget")
                + dropped("queue_full")
                + st.overlay.dropped_over_budget
                + sd.overlay.dropped_over_budget
                + st.inbox_dropped
                + sd.inbox_dropped
        );
        // Unicast through the victim kept working.
        assert!(ok >= 20 && failed == 0, "{ok} ok, {failed} failed");
        assert!(slowest < Duration::from_secs(5), "slowest request {slowest:?}");
        // The victim's memory stayed within the documented bound.
        assert!(peak < 256 << 20, "victim RSS peaked at {} MiB", peak >> 20);
        drop((f, t, d, sink_t, sink_d, victim));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_half_of_a_split_network_keeps_working_and_the_whole_reconverges_when_healed() {
    const N: usize = 6;
    let ring: Vec<(usize, usize)> = (0..N).map(|i| (i, (i + 1) % N)).collect();
    let Some(lab) = Lab::new("partition", N, &ring) else {
        return;
    };
    bounded(async {
        let ids = identities(N);
        let node_ids: Vec<NodeId> = ids.iter().map(|i| i.node_id()).collect();
        let mut nodes = Vec::new();
        for (i, identity) in ids.into_iter().enumerate() {
            nodes.push(spawn(&lab, i, identity, &[(i + 1) % N]).await);
        }
        let mut servers = Vec::new();
        for node in &nodes {
            servers.push(Server::start(&node.handle).await);
        }
        for node in &nodes {
            let others: Vec<NodeId> = node_ids.iter().filter(|n| **n != node.handle.node_id()).cloned().collect();
            wait_routes(node, &others, Duration::from_secs(10)).await;
        }
        // Split {0, 1, 2} from {3, 4, 5}: both links between the halves go silent.
        lab.cut(2, 3);
        lab.cut(5, 0);
        let halves = [[0usize, 1, 2], [3, 4, 5]];
        // Each half finds its routes within itself and works alone.
        for half in &halves {
            for &i in half {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let routes = nodes[i].handle.routes().await.unwrap();
                    let inside = routes.iter().all(|r| half.iter().any(|&j| node_ids[j] == r.destination));
                    if inside && routes.len() == 2 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "node {i} still routes outside its half: {routes:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let reply = nodes[half[0]].handle.request(node_ids[half[2]].clone(), MODULE, Bytes::from_static(b"alone")).await.unwrap();
            assert_eq!(reply, "reply:alone");
        }
        // Heal: the links come back, every node sees every other again.
        lab.heal(2, 3);
        lab.heal(5, 0);
        let healed = Instant::now();
        for node in &nodes {
            let others: Vec<NodeId> = node_ids.iter().filter(|n| **n != node.handle.node_id()).cloned().collect();
            wait_routes(node, &others, Duration::from_secs(30)).await;
        }
        for node in &nodes {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let peers = node.handle.peers().await.unwrap();
                if peers.len() == N - 1 && peers.iter().all(|p| p.online) {
                    break;
                }
                assert!(Instant::now() < deadline, "views did not reconverge: {peers:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!("healed: routes and views whole again {:?} after the links came back", healed.elapsed());
        // Every broadcast sent after the heal is delivered once everywhere.
        for (i, node) in nodes.iter().enumerate() {
            node.handle.broadcast(MODULE, Bytes::from(format!("after-{i}"))).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let complete = servers.iter().enumerate().all(|(j, s)| {
                (0..N).filter(|i| *i != j).all(|i| {
                    let wanted = format!("after-{i}");
                    s.count(|d| matches!(d, Delivery::Broadcast { payload, .. } if payload == wanted.as_str())) == 1
                })
            });
            if complete {
                break;
            }
            assert!(Instant::now() < deadline, "a broadcast after the heal did not reach everyone once");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (j, s) in servers.iter().enumerate() {
            for i in (0..N).filter(|i| *i != j) {
                let wanted = format!("after-{i}");
                assert_eq!(
                    s.count(|d| matches!(d, Delivery::Broadcast { payload, .. } if payload == wanted.as_str())),
                    1,
                    "node {j} got broadcast {i} more than once"
                );
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_under_a_thousand_requests_leaves_every_request_ended_and_nothing_behind() {
    // A - B - C: every request from A to C crosses B, which dies in the middle.
    let Some(lab) = Lab::new("kill under load", 3, &[(0, 1), (1, 2)]) else {
        return;
    };
    bounded(async {
        let ids = identities(3);
        let node_ids: Vec<NodeId> = ids.iter().map(|i| i.node_id()).collect();
        let mut ids = ids.into_iter();
        let a = spawn(&lab, 0, ids.next().unwrap(), &[1]).await;
        let mut b = spawn(&lab, 1, ids.next().unwrap(), &[]).await;
        let c = spawn(&lab, 2, ids.next().unwrap(), &[1]).await;
        // C holds each request 100 ms, so that many are in flight at once.
        let mut inbox = c.handle.register(MODULE).await.unwrap();
        let server = tokio::spawn(async move {
            while let Some(message) = inbox.next().await {
                if let Message::Request(request) = message {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let _ = request.responder.reply(request.payload).await;
                    });
                }
            }
        });
        wait_routes(&a, &[node_ids[2].clone()], Duration::from_secs(10)).await;
        let replied = Arc::new(AtomicU64::new(0));
        let mut calls = Vec::new();
        for i in 0..1000u32 {
            let (handle, replied) = (a.handle.clone(), replied.clone());
            let target = node_ids[2].clone();
            calls.push(tokio::spawn(async move {
                let result = handle.request(target, MODULE, Bytes::from(i.to_be_bytes().to_vec())).await;
                if result.is_ok() {
                    replied.fetch_add(1, Ordering::Relaxed);
                }
                result.map_err(|e| e.to_string())
            }));
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Kill B once some replies came back and many requests are still in flight.
        let deadline = Instant::now() + Duration::from_secs(10);
        while replied.load(Ordering::Relaxed) < 200 {
            assert!(Instant::now() < deadline, "no replies before the kill");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = Instant::now();
        b.kill();
        let (mut replies, mut errors) = (0u32, std::collections::BTreeMap::<String, u32>::new());
        for call in calls {
            // Each call ends once, within its timeout plus slack, whatever happened to B.
            match tokio::time::timeout(Duration::from_secs(20), call).await.expect("every request ends").unwrap() {
                Ok(_) => replies += 1,
                Err(error) => {
                    let kind = error.split(": ").last().unwrap_or_default().to_string();
                    *errors.entry(kind).or_default() += 1;
                }
            }
        }
        let ended = killed.elapsed();
        println!("B killed: {replies} replies, errors {errors:?}; the last request ended {ended:?} after the kill");
        assert_eq!(replies + errors.values().sum::<u32>(), 1000);
        assert!(replies >= 200);
        assert!(ended < Duration::from_secs(12), "a request hung for {ended:?}");
        // Nothing left behind: no request in flight at A, no queue anywhere.
        for node in [&a, &c] {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let status = node.handle.status().await.unwrap();
                if status.requests_in_flight == 0 && status.queued_bytes == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "left behind: {status:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        server.abort();
    })
    .await;
}
