//! Configuration files as operators have them: a network made by `certs network` whose node.toml
//! files start nodes that find each other, and FISCO's own config.ini and nodes.json.
#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use common::{eventually, TestNode};
use fisco_p2p::config::{self, write_network, ConfigError, NetworkError, NetworkSpec, NodeFile};
use fisco_p2p::identity::{NodeId, NodeIdentity};
use rand::Rng;

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

fn multiaddrs(file: &NodeFile) -> BTreeSet<String> {
    file.peers()
        .iter()
        .map(|p| p.multiaddr().to_string())
        .collect()
}

/// A base port below the ephemeral range whose next `count` ports are free right now, so that
/// a generated network can listen where its node.toml files say.
fn free_base_port(count: u16) -> u16 {
    let mut rng = rand::thread_rng();
    for _ in 0..50 {
        let base = rng.gen_range(20_000..30_000u16);
        let free = (base..base + count).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no {count} consecutive free ports found");
}

#[test]
fn a_generated_networks_node_files_list_every_other_node_as_a_peer() {
    let out = tempfile::tempdir().unwrap();
    let nodes = write_network(&NetworkSpec::new(out.path(), 4).with_base_port(40100)).unwrap();
    assert_eq!(nodes.len(), 4);
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.name(), format!("node{i}"));
        assert_eq!(
            node.listen(),
            format!("127.0.0.1:{}", 40100 + i)
                .parse::<SocketAddr>()
                .unwrap()
        );
        assert_eq!(
            node.admin(),
            format!("127.0.0.1:{}", 41100 + i)
                .parse::<SocketAddr>()
                .unwrap()
        );

        let file = config::load(node.config_path()).unwrap();
        let expected: BTreeSet<String> = (0..4)
            .filter(|j| *j != i)
            .map(|j| format!("/ip4/127.0.0.1/tcp/{}", 40100 + j))
            .collect();
        assert_eq!(multiaddrs(&file), expected, "{}", node.name());
        assert_eq!(file.listen().len(), 1);
        assert_eq!(
            file.listen()[0].as_str(),
            format!("127.0.0.1:{}", 40100 + i)
        );
        assert_eq!(file.admin(), Some(node.admin()));

        // The dir key finds the node's own keys, whatever the working directory.
        let identity = NodeIdentity::load_dir(file.dir().unwrap()).unwrap();
        assert_eq!(identity.node_id(), node.node_id());
        let written: NodeId = std::fs::read_to_string(node.dir().join("node.nodeid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(written, node.node_id());
    }
    for dir in ["ca", "agency"] {
        assert!(out.path().join(dir).join("ca.crt").is_file(), "{dir}");
    }
}

#[tokio::test]
async fn nodes_started_from_a_generated_network_connect_to_each_other() {
    let out = tempfile::tempdir().unwrap();
    let count = 3;
    let base = free_base_port(count);
    let spec = NetworkSpec::new(out.path(), usize::from(count)).with_base_port(base);
    let nodes = write_network(&spec).unwrap();
    let mut running = Vec::new();
    for node in &nodes {
        let file = config::load(node.config_path()).unwrap();
        let identity = NodeIdentity::load_dir(file.dir().unwrap()).unwrap();
        running.push(TestNode::spawn(identity, file.to_node_config()).await);
    }
    for (i, node) in running.iter().enumerate() {
        let others: BTreeSet<NodeId> = nodes
            .iter()
            .filter(|n| n.name() != nodes[i].name())
            .map(|n| n.node_id())
            .collect();
        eventually("every node is connected to every other", async || {
            let connected: BTreeSet<NodeId> = node
                .handle
                .connected_peers()
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.node_id)
                .collect();
            connected == others
        })
        .await;
    }
    for node in running {
        node.shutdown().await;
    }
}

#[test]
fn a_network_is_not_written_into_a_non_empty_directory_without_force() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("keep.txt"), "operator's file").unwrap();
    let spec = NetworkSpec::new(out.path(), 2);
    let error = write_network(&spec).unwrap_err();
    assert!(matches!(error, NetworkError::NotEmpty(_)), "{error}");
    assert!(error.to_string().contains("--force"), "{error}");
    assert!(!out.path().join("ca").exists());

    let first = write_network(&spec.clone().with_force(true)).unwrap();
    let second = write_network(&spec.with_force(true)).unwrap();
    assert_ne!(
        first[0].node_id(),
        second[0].node_id(),
        "--force makes new keys"
    );
    assert!(out.path().join("keep.txt").is_file());
}

#[test]
fn unusable_network_specs_are_refused_saying_what_to_give() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("net");
    for (spec, says) in [
        (NetworkSpec::new(&dir, 0), "from 1"),
        (
            NetworkSpec::new(&dir, 2).with_base_port(65000),
            "lower base port",
        ),
        (NetworkSpec::new(&dir, 2).with_base_port(0), "30300"),
        (
            NetworkSpec::new(&dir, 2).with_listen_ip("0.0.0.0".parse().unwrap()),
            "127.0.0.1",
        ),
    ] {
        let error = write_network(&spec).unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
    }
    assert!(!dir.exists(), "nothing written for a refused spec");
}

#[test]
fn an_ipv6_network_lists_bracketed_peers() {
    let out = tempfile::tempdir().unwrap();
    let spec = NetworkSpec::new(out.path(), 2)
        .with_listen_ip("::1".parse().unwrap())
        .with_base_port(40200);
    let nodes = write_network(&spec).unwrap();
    let text = std::fs::read_to_string(nodes[0].config_path()).unwrap();
    assert!(text.contains("peers = [\"[::1]:40201\"]"), "{text}");
    let file = config::load(nodes[0].config_path()).unwrap();
    assert_eq!(
        multiaddrs(&file),
        BTreeSet::from(["/ip6/::1/tcp/40201".to_owned()])
    );
}

#[test]
fn a_fisco_2_config_ini_as_build_chain_writes_it_is_read() {
    let path = fixture("fisco-2.x/node0/config.ini");
    let file = config::load(&path).unwrap();
    let listen: Vec<String> = file
        .listen()
        .iter()
        .map(|a| a.multiaddr().to_string())
        .collect();
    assert_eq!(listen, ["/ip4/0.0.0.0/tcp/30300"]);
    let peers: Vec<&str> = file.peers().iter().map(|a| a.as_str()).collect();
    assert_eq!(
        peers,
        [
            "127.0.0.1:30300",
            "127.0.0.1:30301",
            "127.0.0.1:30302",
            "127.0.0.1:30303"
        ]
    );
    let blacklisted = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/fisco-2.5/node1/node.nodeid"),
    )
    .unwrap();
    assert_eq!(file.blacklist().len(), 1);
    assert_eq!(file.blacklist()[0].to_string(), blacklisted.trim());
    assert!(
        file.whitelist().is_empty(),
        "the commented-out cal.0 is not read"
    );
    assert_eq!(
        file.dir(),
        Some(fixture("fisco-2.x/node0").join("conf/").as_path())
    );
}

#[test]
fn a_fisco_3_nodes_json_is_read_and_merged_into_a_node_toml() {
    let nodes_json = config::load(fixture("fisco-3.x/node0/nodes.json")).unwrap();
    let peers: Vec<&str> = nodes_json.peers().iter().map(|a| a.as_str()).collect();
    assert_eq!(
        peers,
        [
            "127.0.0.1:30300",
            "127.0.0.1:30301",
            "127.0.0.1:30302",
            "127.0.0.1:30303"
        ]
    );
    assert_eq!(nodes_json.dir(), None);

    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("node.toml");
    std::fs::write(
        &toml,
        "listen = [\"127.0.0.1:30300\"]\npeers = [\"127.0.0.1:30301\", \"127.0.0.1:30309\"]\n",
    )
    .unwrap();
    let mut file = config::load(&toml).unwrap();
    assert_eq!(
        file.merge_peers_from(&nodes_json),
        3,
        "30301 was already a peer"
    );
    let peers: Vec<&str> = file.peers().iter().map(|a| a.as_str()).collect();
    assert_eq!(
        peers,
        [
            "127.0.0.1:30301",
            "127.0.0.1:30309",
            "127.0.0.1:30300",
            "127.0.0.1:30302",
            "127.0.0.1:30303"
        ]
    );
}

#[test]
fn bad_files_of_every_format_are_refused_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "node.toml",
            "[limits]\nmax_connections = 0\n",
            "limits.max_connections",
        ),
        ("node.toml", "peers = []\nadmin_port = 1\n", "admin_port"),
        (
            "config.ini",
            "[p2p]\nlisten_port=30300\nnode.0=127.0.0.1:30300:1\n",
            "p2p.node.0",
        ),
        (
            "nodes.json",
            "{\"nodes\": [\"127.0.0.1:30300\", \"[::1]\"]}",
            "nodes[1]",
        ),
    ];
    for (name, text, key) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let error: ConfigError = config::load(&path).unwrap_err();
        assert_eq!(error.key(), Some(key), "{error}");
        let message = error.to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(message.contains(&format!("`{key}`")), "{message}");
    }
}

#[test]
fn the_sample_node_toml_in_the_docs_loads_with_the_defaults_it_states() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md"))
        .unwrap();
    let start = doc.find("```toml\n").expect("a toml sample") + "```toml\n".len();
    let sample = &doc[start..start + doc[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, sample).unwrap();
    let file = config::load(&path).unwrap();
    let defaults = NodeFile::default();
    assert_eq!(file.limits(), defaults.limits());
    assert_eq!(file.intervals(), defaults.intervals());
    assert_eq!(file.peers().len(), 4);
    assert_eq!(file.admin(), Some("127.0.0.1:31300".parse().unwrap()));
}
