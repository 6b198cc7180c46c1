//! What `ctl` shows an operator, as separate processes on 127.0.0.1: nothing from the network
//! reaches the terminal unescaped, errors are one line (one JSON object with `--json`), a
//! request that times out blames the peer, and runtime-added peers survive a SIGHUP.

#[path = "cli_run/procs.rs"]
mod procs;

use std::{process::Stdio, time::Instant};

use procs::{fisco_p2p, Network, WAIT};
use serde_json::Value;

/// Escape codes that recolour the terminal, and a newline and carriage return that forge an
/// extra event line.
const HOSTILE: &str = "hi\u{1b}[31mred\u{1b}[0m\npeer_connected node_id=forged\r\u{1b}[2J";

fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[tokio::test]
async fn events_and_replies_from_the_network_are_escaped_and_raw_only_on_request() {
    let network = Network::generate(2).await;
    let _daemons = [network.run(0).await, network.run(1).await];
    network.wait_connected_to(0, &[1]).await;
    let id1 = network.node_id(1);

    // A readable event stream on node1; node0 broadcasts until it has printed the message.
    let admin1 = network.admin(1);
    let mut events = tokio::process::Command::new(procs::bin())
        .args([
            "ctl", "--admin", &admin1, "events", "--type", "message", "--count", "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ctl events starts");
    let deadline = Instant::now() + WAIT;
    while events.try_wait().expect("ctl events status").is_none() {
        assert!(Instant::now() < deadline, "no message event in time");
        let (code, _, err) = network.ctl(0, &["broadcast", HOSTILE]).await;
        assert_eq!(code, 0, "{err}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let output = events.wait_with_output().await.expect("ctl events output");
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    assert_eq!(
        printed.lines().count(),
        1,
        "one event, one line: {printed:?}"
    );
    assert!(!has_control(&printed), "{printed:?}");
    assert!(
        printed.contains("data=hi\\x1b[31mred\\x1b[0m\\npeer_connected node_id=forged\\r\\x1b[2J"),
        "{printed:?}"
    );

    // A reply: escaped by default, the exact bytes with --raw.
    let (code, out, err) = network.ctl(0, &["request", &id1, HOSTILE]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(!has_control(&out), "{out:?}");
    let (code, out, err) = network.ctl(0, &["--raw", "request", &id1, HOSTILE]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, HOSTILE);
}

#[tokio::test]
async fn an_unknown_event_type_is_refused_at_once_naming_the_known_ones() {
    let started = Instant::now();
    let (code, out, err) = fisco_p2p(&["ctl", "events", "--type", "nosuchtype"]).await;
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("nosuchtype") && err.contains("peer_connected") && err.contains("lagged"),
        "{err}"
    );
    assert!(started.elapsed() < WAIT / 2);
}

#[tokio::test]
async fn json_mode_reports_errors_as_one_json_object() {
    let network = Network::generate(1).await;
    let _daemon = network.run(0).await;
    let (code, out, err) = network.ctl(0, &["--json", "request", "abc", "x"]).await;
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    let error: Value = serde_json::from_str(err.trim()).expect("a JSON object on stderr");
    assert_eq!(error["status"], 400, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("bad node ID"),
        "{error}"
    );
    // A usage error, and an API that is not there.
    let (code, _, err) = fisco_p2p(&["ctl", "--json", "events", "--type", "x"]).await;
    assert_eq!(code, 2);
    let error: Value = serde_json::from_str(err.trim()).expect("a JSON object on stderr");
    assert!(error["error"].is_string(), "{error}");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();
    let (code, _, err) = fisco_p2p(&["ctl", "--admin", &nobody, "--json", "status"]).await;
    assert_ne!(code, 0);
    let error: Value = serde_json::from_str(err.trim()).expect("a JSON object on stderr");
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot reach the admin API"),
        "{error}"
    );
}

#[tokio::test]
async fn a_request_with_a_timeout_blames_the_peer_not_the_admin_api() {
    let network = Network::generate(1).await;
    let _daemon = network.run(0).await;
    // A valid node ID of another chain: no node of this network knows it.
    let stranger = std::fs::read_to_string(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("certs/tool/node0/node.nodeid"),
    )
    .expect("node.nodeid");
    let started = Instant::now();
    let (code, _, err) = network
        .ctl(0, &["--timeout", "2", "request", stranger.trim(), "x"])
        .await;
    assert_ne!(code, 0);
    // The node gave up on the peer (unreachable: 502, or timed out: 504) before ctl gave up on
    // the node.
    assert!(
        err.contains("HTTP 502") || err.contains("HTTP 504"),
        "{err}"
    );
    assert!(!err.contains("no answer from the admin API"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(7),
        "{err}"
    );
}

#[tokio::test]
async fn peers_added_at_runtime_survive_a_sighup_and_file_peers_follow_the_file() {
    let network = Network::generate(3).await;
    network.set_peers(0, &[1]);
    network.set_peers(1, &[]);
    network.set_peers(2, &[]);
    let node0 = network.run(0).await;
    let _others = [network.run(1).await, network.run(2).await];
    network.wait_connected_to(0, &[1]).await;

    let node2 = network.listen(2);
    let (code, out, err) = network.ctl(0, &["add-peer", &node2]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept across SIGHUP"), "{out}");
    network.wait_connected_to(0, &[1, 2]).await;

    // The file no longer lists node1: it goes, the runtime peer stays.
    network.set_peers(0, &[]);
    node0.signal("HUP");
    network.wait_connected_to(0, &[2]).await;
    let statics = network.ctl_json(0, &["peers", "--static"]).await;
    let addrs: Vec<&str> = statics
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["addr"].as_str())
        .collect();
    let expected = format!("/ip4/127.0.0.1/tcp/{}", network.base_port + 2);
    assert_eq!(addrs, [expected.as_str()], "{statics}");
    assert!(
        node0.log().contains("kept_runtime_peers=1"),
        "{}",
        node0.log()
    );
}

#[tokio::test]
async fn a_node_with_a_token_answers_only_ctl_calls_that_carry_it() {
    let network = Network::generate(1).await;
    let dir = network.node_dir(0);
    std::fs::write(
        dir.join("admin.token"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .expect("token");
    network.edit_config(0, |text| {
        text.replace(
            "admin_hosts = []",
            "admin_hosts = []\nadmin_token_file = \"admin.token\"",
        )
    });
    let _daemon = network.run(0).await;
    let (code, _, err) = network.ctl(0, &["status"]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("HTTP 401") && err.contains("--token-file"),
        "{err}"
    );
    let token = dir.join("admin.token");
    let token = token.to_str().expect("UTF-8 path");
    let (code, out, err) = network.ctl(0, &["--token-file", token, "status"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node ID"), "{out}");
}

#[tokio::test]
async fn routes_show_the_relay_to_a_node_that_is_not_a_neighbour() {
    // A line node0 - node1 - node2: node0 reaches node2 only through node1.
    let network = Network::generate(3).await;
    network.set_peers(0, &[1]);
    network.set_peers(1, &[]);
    network.set_peers(2, &[1]);
    let _daemons = [
        network.run(0).await,
        network.run(1).await,
        network.run(2).await,
    ];
    network.wait_connected_to(1, &[0, 2]).await;
    let (id1, id2) = (network.node_id(1), network.node_id(2));
    network
        .wait_ctl(0, &["routes"], "node0 has a route to node2", |routes| {
            routes.as_array().is_some_and(|list| {
                list.iter().any(|r| {
                    r["destination"] == id2.as_str()
                        && r["next_hop"] == id1.as_str()
                        && r["hops"] == 2
                })
            })
        })
        .await;
    let (code, out, err) = network.ctl(0, &["routes"]).await;
    assert_eq!(code, 0, "{err}");
    let short = |id: &str| id[..12].to_string();
    let row = out
        .lines()
        .find(|l| l.starts_with(&short(&id2)))
        .unwrap_or_else(|| panic!("no row for node2: {out}"));
    assert!(row.contains(&short(&id1)) && row.contains(" 2 "), "{row}");
}
