//! `fisco-p2p run` on node folders made by FISCO's own recipe (`certs/regenerate.sh`), each node
//! started from its own `config.ini` as a FISCO operator would: FISCO 3.x folders (RSA, peers in
//! `nodes.json`, SIGUSR1), FISCO 2.11 folders (X.509 v1 chain CA, a generator bundle), and a 2.x
//! and a 3.x node that trust each other's CA. `cli_run/procs.rs` runs the processes.

#[path = "cli_run/procs.rs"]
mod procs;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    time::Duration,
};

use procs::{fisco_p2p, Daemon, WAIT};
use serde_json::Value;

/// Copies the fixture folder `certs/<set>/<node>` into `into`.
fn copy_folder(set: &str, node: &str, into: &Path) -> PathBuf {
    let from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("certs")
        .join(set)
        .join(node);
    let to = into.join(format!("{set}-{node}"));
    copy_tree(&from, &to);
    to
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("fixture folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// `count` ports free right now on 127.0.0.1.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("address").port())
        .collect()
}

/// Rewrites the `[p2p]` section of a config.ini: listen on 127.0.0.1:`port`, and for a 2.x file
/// the peers `node.N` as `peers`.
fn edit_p2p(ini: &Path, port: u16, peers: &[u16]) {
    let text = std::fs::read_to_string(ini).expect("config.ini");
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        if section == "[p2p]" {
            if trimmed.starts_with("listen_ip=") {
                out.push("    listen_ip=127.0.0.1".to_owned());
                continue;
            }
            if trimmed.starts_with("listen_port=") {
                out.push(format!("    listen_port={port}"));
                continue;
            }
            if trimmed.starts_with("node.") {
                continue;
            }
            if trimmed == "[p2p]" {
                out.push(line.to_owned());
                for (i, peer) in peers.iter().enumerate() {
                    out.push(format!("    node.{i}=127.0.0.1:{peer}"));
                }
                continue;
            }
        }
        out.push(line.to_owned());
    }
    std::fs::write(ini, out.join("\n") + "\n").expect("config.ini written");
}

/// Writes a FISCO 3.x nodes.json listing `peers` on 127.0.0.1.
fn write_nodes_json(folder: &Path, peers: &[u16]) {
    let nodes: Vec<String> = peers.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    std::fs::write(
        folder.join("nodes.json"),
        format!("{{\"nodes\":[{}]}}", nodes.join(",")),
    )
    .expect("nodes.json");
}

/// `fisco-p2p id PATH`.
async fn id_of(path: &Path) -> String {
    let (code, out, err) = fisco_p2p(&["id", path.to_str().expect("UTF-8")]).await;
    assert_eq!(code, 0, "id {}: {err}", path.display());
    out.trim().to_owned()
}

/// `run --config <folder>/config.ini --admin 127.0.0.1:<admin>`.
async fn run(folder: &Path, admin: u16, logs: &Path) -> Daemon {
    let ini = folder.join("config.ini");
    let admin = format!("127.0.0.1:{admin}");
    let name = folder
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    Daemon::start(
        &[
            "run",
            "--config",
            ini.to_str().expect("UTF-8"),
            "--admin",
            &admin,
        ],
        logs,
        &name,
    )
    .await
}

/// Polls `ctl --json peers` on the node at `admin` until its connected peers are `wanted`.
async fn wait_connected(admin: u16, wanted: &[String]) {
    let mut wanted = wanted.to_vec();
    wanted.sort();
    let admin = format!("127.0.0.1:{admin}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, out, _) = fisco_p2p(&["ctl", "--admin", &admin, "--json", "peers"]).await;
        if code == 0 {
            if let Ok(Value::Array(list)) = serde_json::from_str::<Value>(&out) {
                let mut connected: Vec<String> = list
                    .iter()
                    .filter(|p| p["connected"] == true)
                    .filter_map(|p| p["node_id"].as_str().map(str::to_owned))
                    .collect();
                connected.sort();
                if connected == wanted {
                    return;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node at {admin} never connected to exactly {wanted:?}; last peers: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the daemon's log holds `text`.
async fn wait_log(daemon: &Daemon, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon.log().contains(text) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {text:?} in the log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn fisco3_folders_run_from_their_own_config_ini_and_reload_nodes_json_on_sigusr1() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let ports = free_ports(6);
    let (listen, admin) = ports.split_at(3);
    let mut folders = Vec::new();
    for n in 0..3 {
        let folder = copy_folder("fisco-3.x", &format!("node{n}"), tmp.path());
        edit_p2p(&folder.join("config.ini"), listen[n], &[]);
        write_nodes_json(&folder, listen);
        folders.push(folder);
    }
    let mut ids = Vec::new();
    for folder in &folders {
        let id = id_of(folder).await;
        assert_eq!(id.len(), 540, "the P2P ID of an RSA-2048 node: {id}");
        ids.push(id);
    }
    let mut daemons = Vec::new();
    for (n, folder) in folders.iter().enumerate() {
        let daemon = run(folder, admin[n], tmp.path()).await;
        assert!(
            daemon
                .startup
                .starts_with(&format!("node {} listening", ids[n])),
            "{}",
            daemon.startup
        );
        daemons.push(daemon);
    }
    for (n, admin) in admin.iter().enumerate() {
        let others: Vec<String> = (0..3).filter(|m| *m != n).map(|m| ids[m].clone()).collect();
        wait_connected(*admin, &others).await;
    }
    // Keys of a FISCO node's other parts are listed once, not silently dropped.
    wait_log(&daemons[0], "keys not used by the P2P network").await;
    assert!(daemons[0].log().contains("[rpc]"), "{}", daemons[0].log());

    // nodes.json loses node2 and SIGUSR1 (FISCO 3.x's reload signal) applies it.
    write_nodes_json(&folders[0], &listen[..2]);
    daemons[0].signal("USR1");
    wait_log(&daemons[0], "configuration reloaded").await;
    let log = daemons[0].log();
    let reloaded = log
        .lines()
        .find(|l| l.contains("configuration reloaded"))
        .unwrap_or("");
    assert!(reloaded.contains("removed=1"), "{reloaded}");
}

#[tokio::test]
async fn fisco_2_11_folders_with_a_v1_ca_and_a_generator_bundle_run_from_their_config_ini() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let ports = free_ports(6);
    let (listen, admin) = ports.split_at(3);
    let mut folders = Vec::new();
    for n in 0..3 {
        let folder = copy_folder("fisco-2.11", &format!("node{n}"), tmp.path());
        let peers: Vec<u16> = listen.iter().copied().filter(|p| *p != listen[n]).collect();
        edit_p2p(&folder.join("config.ini"), listen[n], &peers);
        folders.push(folder);
    }
    let mut ids = Vec::new();
    for folder in &folders {
        let written =
            std::fs::read_to_string(folder.join("conf/node.nodeid")).expect("node.nodeid");
        let id = id_of(folder).await;
        assert_eq!(id, written.trim(), "node IDs match node.nodeid");
        ids.push(id);
    }
    let mut daemons = Vec::new();
    for (n, folder) in folders.iter().enumerate() {
        daemons.push(run(folder, admin[n], tmp.path()).await);
    }
    for (n, admin) in admin.iter().enumerate() {
        let others: Vec<String> = (0..3).filter(|m| *m != n).map(|m| ids[m].clone()).collect();
        wait_connected(*admin, &others).await;
    }
}

#[tokio::test]
async fn a_2x_and_a_3x_folder_that_trust_each_others_ca_connect_and_answer_requests() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let ports = free_ports(4);
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("certs");
    // The 3.x node trusts the 2.x chain through multi_ca_path, the 2.x node the 3.x chain through
    // a second CA in its ca.crt.
    let three = copy_folder("fisco-3.x", "node0", tmp.path());
    edit_p2p(&three.join("config.ini"), ports[0], &[]);
    write_nodes_json(&three, &[ports[1]]);
    std::fs::create_dir(three.join("conf/multiCaPath")).expect("multiCaPath");
    std::fs::copy(
        root.join("fisco-2.11/ca/ca.crt"),
        three.join("conf/multiCaPath/a1b2c3d4.0"),
    )
    .expect("CA copied");
    let two = copy_folder("fisco-2.11", "node0", tmp.path());
    edit_p2p(&two.join("config.ini"), ports[1], &[]);
    let both = [
        std::fs::read_to_string(two.join("conf/ca.crt")).expect("ca.crt"),
        std::fs::read_to_string(root.join("fisco-3.x/ca/ca.crt")).expect("ca.crt"),
    ]
    .concat();
    std::fs::write(two.join("conf/ca.crt"), both).expect("ca.crt written");

    let _a = run(&three, ports[2], tmp.path()).await;
    let _b = run(&two, ports[3], tmp.path()).await;
    let (id3, id2) = (id_of(&three).await, id_of(&two).await);
    wait_connected(ports[2], std::slice::from_ref(&id2)).await;
    wait_connected(ports[3], std::slice::from_ref(&id3)).await;
    // The 2.x node names the 3.x node by the modulus FISCO wrote to ssl.nodeid.
    let modulus = std::fs::read_to_string(three.join("conf/ssl.nodeid")).expect("ssl.nodeid");
    let admin = format!("127.0.0.1:{}", ports[3]);
    let (code, out, err) =
        fisco_p2p(&["ctl", "--admin", &admin, "request", modulus.trim(), "hello"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hello"), "the echo module answers: {out}");
}
