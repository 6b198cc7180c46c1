//! Processes for the `run`/`ctl` tests: a network made by `certs network` in a temporary
//! directory, `run` daemons killed when dropped, and `ctl` calls with a time limit.

#![allow(unreachable_pub, dead_code)]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use rand::Rng;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

/// Upper bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fisco-p2p")
}

/// A base port whose `count` listen ports and `count` admin ports (base + 1000 + i) are free
/// right now, so a generated network can listen where its node.toml files say.
fn free_base_port(count: u16) -> u16 {
    let mut rng = rand::thread_rng();
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    for _ in 0..100 {
        let base = rng.gen_range(20_000..28_000u16);
        if (base..base + count).all(|p| free(p) && free(p + 1000)) {
            return base;
        }
    }
    panic!("no {count} free listen and admin ports found");
}

/// A network written by `fisco-p2p certs network` into a temporary directory.
pub struct Network {
    pub dir: tempfile::TempDir,
    pub base_port: u16,
    pub size: u16,
}

impl Network {
    /// Makes `size` nodes whose node.toml files use short intervals so tests run fast.
    pub async fn generate(size: u16) -> Network {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base_port = free_base_port(size);
        let out = dir.path().join("net");
        let output = fisco_p2p(&[
            "certs",
            "network",
            "--nodes",
            &size.to_string(),
            "--out",
            out.to_str().expect("UTF-8 path"),
            "--base-port",
            &base_port.to_string(),
        ])
        .await;
        assert!(output.0 == 0, "certs network failed: {}", output.2);
        let network = Network {
            dir,
            base_port,
            size,
        };
        for i in 0..size {
            network.edit_config(i, |text| {
                text.replace("heartbeat = \"5s\"", "heartbeat = \"1s\"")
                    .replace("heartbeat_timeout = \"10s\"", "heartbeat_timeout = \"3s\"")
                    .replace("redial_max = \"10s\"", "redial_max = \"500ms\"")
                    .replace("announce = \"2s\"", "announce = \"300ms\"")
            });
        }
        network
    }

    pub fn node_dir(&self, i: u16) -> PathBuf {
        self.dir.path().join("net").join(format!("node{i}"))
    }

    pub fn config(&self, i: u16) -> PathBuf {
        self.node_dir(i).join("node.toml")
    }

    pub fn listen(&self, i: u16) -> String {
        format!("127.0.0.1:{}", self.base_port + i)
    }

    pub fn admin(&self, i: u16) -> String {
        format!("127.0.0.1:{}", self.base_port + 1000 + i)
    }

    pub fn node_id(&self, i: u16) -> String {
        std::fs::read_to_string(self.node_dir(i).join("node.nodeid"))
            .expect("node.nodeid")
            .trim()
            .to_owned()
    }

    /// Rewrites node `i`'s node.toml.
    pub fn edit_config(&self, i: u16, edit: impl FnOnce(String) -> String) {
        let path = self.config(i);
        let text = std::fs::read_to_string(&path).expect("node.toml readable");
        std::fs::write(&path, edit(text)).expect("node.toml written");
    }

    /// Sets node `i`'s static peers to the listen addresses of `peers`.
    pub fn set_peers(&self, i: u16, peers: &[u16]) {
        let list: Vec<String> = peers
            .iter()
            .map(|p| format!("\"{}\"", self.listen(*p)))
            .collect();
        self.edit_config(i, |text| {
            replace_line(&text, "peers = ", &format!("peers = [{}]", list.join(", ")))
        });
    }

    /// Starts node `i` from its node.toml.
    pub async fn run(&self, i: u16) -> Daemon {
        let config = self.config(i);
        Daemon::start(
            &["run", "--config", config.to_str().expect("UTF-8 path")],
            self.dir.path(),
            &format!("node{i}"),
        )
        .await
    }

    /// `ctl --admin <node i's admin address> args...`.
    pub async fn ctl(&self, i: u16, args: &[&str]) -> (i32, String, String) {
        let admin = self.admin(i);
        let mut all = vec!["ctl", "--admin", admin.as_str()];
        all.extend_from_slice(args);
        fisco_p2p(&all).await
    }

    /// `ctl --json args...` on node `i`, expecting success.
    pub async fn ctl_json(&self, i: u16, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (code, out, err) = self.ctl(i, &all).await;
        assert_eq!(code, 0, "ctl {args:?} on node{i} failed: {err}");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("ctl {args:?} printed no JSON ({e}): {out}"))
    }

    /// Polls `ctl --json args` on node `i` until `check` holds.
    pub async fn wait_ctl(
        &self,
        i: u16,
        args: &[&str],
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (code, out, _) = self.ctl(i, &[&["--json"], args].concat()).await;
            if code == 0 {
                if let Ok(value) = serde_json::from_str::<Value>(&out) {
                    if check(&value) {
                        return value;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until node `i` is connected to exactly the nodes `peers`.
    pub async fn wait_connected_to(&self, i: u16, peers: &[u16]) {
        let mut wanted: Vec<String> = peers.iter().map(|p| self.node_id(*p)).collect();
        wanted.sort();
        let what = format!("node{i} is connected to {peers:?}");
        self.wait_ctl(i, &["peers"], &what, |list| {
            let mut connected: Vec<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["connected"] == true)
                .filter_map(|p| p["node_id"].as_str().map(str::to_owned))
                .collect();
            connected.sort();
            connected == wanted
        })
        .await;
    }
}

fn replace_line(text: &str, prefix: &str, line: &str) -> String {
    text.lines()
        .map(|l| if l.starts_with(prefix) { line } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Runs `fisco-p2p args` to completion within [`WAIT`]: exit code, stdout, stderr.
pub async fn fisco_p2p(args: &[&str]) -> (i32, String, String) {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fisco-p2p starts");
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("fisco-p2p {args:?} did not finish in time"))
        .expect("fisco-p2p output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running `fisco-p2p run`: killed when dropped; its stderr goes to a log file.
pub struct Daemon {
    pub child: Child,
    pub startup: String,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `fisco-p2p args` and waits for its startup line (failing with its log if it exits).
    pub async fn start(args: &[&str], logs: &Path, name: &str) -> Daemon {
        let log = logs.join(format!("{name}-{}.log", rand::random::<u32>()));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(bin())
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("fisco-p2p run starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines: Lines<BufReader<ChildStdout>> = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(WAIT, lines.next_line()).await;
        let startup = match first {
            Ok(Ok(Some(line))) => line,
            _ => panic!(
                "{name} printed no startup line; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        Daemon {
            child,
            startup,
            log,
        }
    }

    /// Sends `signal` (a `kill -s` name such as TERM or HUP).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} {pid}");
    }

    /// Waits for the process to exit and returns its exit code.
    pub async fn wait_exit(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("process exits in time")
            .expect("exit status");
        status.code()
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
