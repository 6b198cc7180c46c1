//! Network namespaces a test makes itself: one namespace per node, one veth pair per link, each
//! link its own subnet, so that nodes reach exactly their neighbours and nothing else. A link
//! can be cut silently (both ends set down: packets vanish, nobody gets a reset) and healed.
//!
//! Nodes run in this process: each on its own thread that has entered its namespace, with a
//! single-threaded tokio runtime, so every socket the node makes (listening and dialling) is
//! made inside the namespace. The test talks to it through its `Handle` as usual. Everything is
//! deleted when the [`Lab`] is dropped, also when the test fails.
//!
//! Needs root and `ip` (iproute2). Without them [`Lab::new`] returns `None` after saying why, and
//! the test is skipped; under CI (`CI=true`) it panics instead, so a namespace test can never
//! pass by not running.

use std::{
    fs::File,
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::Duration,
};

use fisco_p2p::{
    identity::NodeIdentity,
    node::{Config, Event, Events, Handle, Node},
};
use libp2p::Multiaddr;
use tokio::sync::oneshot;

/// Port every node listens on, inside its own namespace.
pub const PORT: u16 = 30300;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Whether this process can make network namespaces; why not, if not. Probed once per test
/// binary: its tests run in parallel and would otherwise race on the probe's name.
fn unavailable() -> Option<String> {
    static PROBE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            if Command::new("ip").arg("-V").output().is_err() {
                return Some("the `ip` command (iproute2) is not installed".into());
            }
            let name = format!("fp2p-probe-{}", std::process::id());
            match ip(&["netns", "add", &name]) {
                Ok(()) => {
                    let _ = ip(&["netns", "del", &name]);
                    None
                }
                Err(e) => Some(format!(
                    "cannot create a network namespace (root needed): {e}"
                )),
            }
        })
        .clone()
}

/// A link between two namespaces.
struct Link {
    a: usize,
    b: usize,
    /// Interface names in a's and b's namespace.
    ends: (String, String),
}

/// A set of namespaces and links; see the module docs.
pub struct Lab {
    tag: String,
    namespaces: Vec<String>,
    links: Vec<Link>,
    /// Each node's addresses on its links.
    addresses: Vec<Vec<String>>,
}

impl Lab {
    /// `n` namespaces joined by `links` (pairs of indices). `None` (after printing why) when
    /// namespaces cannot be made here; panics instead under CI.
    pub fn new(test: &str, n: usize, links: &[(usize, usize)]) -> Option<Lab> {
        if let Some(reason) = unavailable() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: network namespace test cannot run under CI: {reason}");
            }
            #[allow(clippy::print_stderr)] // the skip must be visible in the test output
            {
                eprintln!("SKIPPED {test}: {reason}");
            }
            return None;
        }
        let tag = format!(
            "{:x}{}",
            std::process::id() & 0xffff,
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut lab = Lab {
            namespaces: (0..n).map(|i| format!("fp2p-{tag}-n{i}")).collect(),
            tag,
            links: Vec::new(),
            addresses: vec![Vec::new(); n],
        };
        for ns in &lab.namespaces {
            ip(&["netns", "add", ns]).expect("namespace");
            ip(&["-n", ns, "link", "set", "lo", "up"]).expect("loopback up");
        }
        for (k, &(a, b)) in links.iter().enumerate() {
            lab.add_link(k, a, b);
        }
        Some(lab)
    }

    fn add_link(&mut self, k: usize, a: usize, b: usize) {
        // Interface names are at most 15 bytes and made in the root namespace first.
        let (ea, eb) = (format!("f{}l{k}a", self.tag), format!("f{}l{k}b", self.tag));
        ip(&["link", "add", &ea, "type", "veth", "peer", "name", &eb]).expect("veth pair");
        for (end, node, host) in [(&ea, a, 1), (&eb, b, 2)] {
            let ns = &self.namespaces[node];
            ip(&["link", "set", end, "netns", ns]).expect("veth into namespace");
            let address = format!("10.{}.{}.{host}", 64 + k / 256, k % 256);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                end,
            ])
            .expect("address");
            ip(&["-n", ns, "link", "set", end, "up"]).expect("veth up");
            self.addresses[node].push(address);
        }
        self.links.push(Link {
            a,
            b,
            ends: (ea, eb),
        });
    }

    /// The address of `node` on its link with `other`.
    pub fn address(&self, node: usize, other: usize) -> Multiaddr {
        let k = self
            .links
            .iter()
            .position(|l| (l.a, l.b) == (node, other) || (l.a, l.b) == (other, node))
            .expect("the two nodes share a link");
        let host = if self.links[k].a == node { 1 } else { 2 };
        format!("/ip4/10.{}.{}.{host}/tcp/{PORT}", 64 + k / 256, k % 256)
            .parse()
            .expect("valid multiaddr")
    }

    fn link_ends(&self, a: usize, b: usize) -> (String, String, String, String) {
        let link = self
            .links
            .iter()
            .find(|l| (l.a, l.b) == (a, b) || (l.a, l.b) == (b, a))
            .expect("no such link");
        (
            self.namespaces[link.a].clone(),
            link.ends.0.clone(),
            self.namespaces[link.b].clone(),
            link.ends.1.clone(),
        )
    }

    /// Cuts the link silently: both ends go down, packets on it vanish, no reset is sent.
    pub fn cut(&self, a: usize, b: usize) {
        let (na, ea, nb, eb) = self.link_ends(a, b);
        ip(&["-n", &na, "link", "set", &ea, "down"]).expect("link down");
        ip(&["-n", &nb, "link", "set", &eb, "down"]).expect("link down");
    }

    /// Heals a cut link.
    pub fn heal(&self, a: usize, b: usize) {
        let (na, ea, nb, eb) = self.link_ends(a, b);
        ip(&["-n", &na, "link", "set", &ea, "up"]).expect("link up");
        ip(&["-n", &nb, "link", "set", &eb, "up"]).expect("link up");
    }

    /// A command that runs `program` inside namespace `i` (through `ip netns exec`).
    pub fn command(&self, i: usize, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", &self.namespaces[i], program])
            .kill_on_drop(true);
        command
    }

    /// Starts a node in namespace `i`, listening on port [`PORT`] of every address it has, with
    /// `config` (to which the listen addresses are added).
    pub async fn spawn(&self, i: usize, identity: NodeIdentity, config: Config) -> NsNode {
        super::init_tracing();
        let config = self.addresses[i].iter().fold(config, |config, address| {
            config.with_listen(
                format!("/ip4/{address}/tcp/{PORT}")
                    .parse()
                    .expect("valid multiaddr"),
            )
        });
        let ns = self.namespaces[i].clone();
        let (started, ready) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("node-{ns}"))
            .spawn(move || {
                let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("enter the namespace");
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let _ = started.send(Node::spawn(identity, config).await);
                    let _ = stopped.await;
                });
                // Dropping the runtime drops the node's tasks and sockets at once, as a crash would.
            })
            .expect("node thread");
        let (handle, events) = tokio::time::timeout(super::WAIT, ready)
            .await
            .expect("node starts in time")
            .expect("node thread alive")
            .expect("node starts");
        NsNode {
            handle,
            events,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends inside it (and their peers).
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// A node running in a namespace.
pub struct NsNode {
    /// Its handle.
    pub handle: Handle,
    /// Its events.
    pub events: Events,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl NsNode {
    /// Kills the node: its runtime is dropped with every socket, no goodbye.
    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits until `f` accepts an event, failing the test after `limit`.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        let events = &mut self.events;
        tokio::time::timeout(limit, async {
            loop {
                if let Some(found) = f(&events.next().await.expect("node running")) {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }
}

impl Drop for NsNode {
    fn drop(&mut self) {
        self.kill();
    }
}
