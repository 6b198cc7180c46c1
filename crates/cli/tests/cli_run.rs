//! `fisco-p2p run` and `ctl` as separate processes on 127.0.0.1: a network made by
//! `certs network`, driven and watched through the admin API. `cli_run/procs.rs` runs them.

#[path = "cli_run/procs.rs"]
mod procs;

use std::{process::Stdio, time::Instant};

use procs::{fisco_p2p, Daemon, Network, WAIT};
use serde_json::Value;

/// Starts `ctl events --json` on node `i` for `count` events of `types`; returns the child.
fn watch_events(network: &Network, i: u16, count: usize, types: &[&str]) -> tokio::process::Child {
    let admin = network.admin(i);
    let count = count.to_string();
    let mut args = vec![
        "ctl", "--admin", &admin, "--json", "events", "--count", &count,
    ];
    for t in types {
        args.extend(["--type", t]);
    }
    tokio::process::Command::new(procs::bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ctl events starts")
}

/// Waits for an events child to print its events and exit; returns them.
async fn collected(child: tokio::process::Child) -> Vec<Value> {
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("ctl events ends in time")
        .expect("ctl events output");
    assert!(
        output.status.success(),
        "ctl events failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[tokio::test]
async fn run_daemons_answer_every_ctl_command_and_report_messages_as_events() {
    let network = Network::generate(3).await;
    let _daemons = [
        network.run(0).await,
        network.run(1).await,
        network.run(2).await,
    ];
    network.wait_connected_to(0, &[1, 2]).await;
    let (id1, id2) = (network.node_id(1), network.node_id(2));

    let status = network.ctl_json(0, &["status"]).await;
    assert_eq!(status["node_id"], network.node_id(0).as_str());
    let (code, table, _) = network.ctl(0, &["status"]).await;
    assert_eq!(code, 0);
    assert!(table.contains("connected  2"), "{table}");

    // A request is echoed by the other daemon.
    let (code, out, err) = network.ctl(0, &["request", &id1, "hello"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("reply from {id1}: hello"));
    let reply = network
        .ctl_json(0, &["request", &id1, "AAH/", "--base64"])
        .await;
    assert_eq!(reply["data_base64"], "AAH/");

    // node2 follows a topic; node0 learns it through state sync, then sends to it.
    let events = watch_events(&network, 2, 3, &["message"]);
    assert_eq!(
        network.ctl_json(2, &["subscribe", "blocks"]).await["changed"],
        true
    );
    network
        .wait_ctl(0, &["peers"], "node0 sees node2 follow blocks", |peers| {
            peers.as_array().into_iter().flatten().any(|p| {
                p["node_id"] == id2.as_str() && p["topics"] == serde_json::json!(["blocks"])
            })
        })
        .await;
    let reply = network.ctl_json(0, &["send-topic", "blocks", "one"]).await;
    assert_eq!(reply["from"], id2.as_str());
    assert_eq!(
        network.ctl_json(0, &["multicast", "blocks", "all"]).await["sent_to"],
        1
    );
    assert_eq!(
        network.ctl_json(0, &["broadcast", "everyone"]).await["sent"],
        true
    );

    let seen = collected(events).await;
    let mut kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default(),
                e["data"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // Each exactly once; multicast and broadcast travel on different streams, so their order of
    // arrival is not fixed.
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            ("broadcast", "everyone"),
            ("multicast", "all"),
            ("unicast", "one"),
        ]
    );
    assert!(
        seen.iter()
            .all(|e| e["from"] == network.node_id(0).as_str()),
        "{seen:?}"
    );

    // The rest of the commands, readable output.
    let (code, out, _) = network.ctl(2, &["unsubscribe", "blocks"]).await;
    assert_eq!((code, out.trim()), (0, "no longer following topic blocks"));
    let (code, out, _) = network.ctl(0, &["peers"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("NODE ID") && out.contains(&format!("{}…", &id1[..12])),
        "{out}"
    );
    assert!(out.lines().all(|line| line.chars().count() < 120), "{out}");
    let (code, out, _) = network.ctl(0, &["--wide", "peers"]).await;
    assert_eq!(code, 0);
    assert!(out.contains(&id1) && out.contains(&id2), "{out}");
    let node1 = network.listen(1);
    let (code, out, _) = network.ctl(0, &["remove-peer", &node1]).await;
    assert_eq!(
        (code, out.trim()),
        (0, format!("static peer {node1} removed").as_str())
    );
    let (code, out, _) = network.ctl(0, &["add-peer", &node1]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("static peer {node1} added (kept across SIGHUP")),
        "{out}"
    );
    let statics = network.ctl_json(0, &["peers", "--static"]).await;
    assert_eq!(statics.as_array().map(Vec::len), Some(2), "{statics}");
}

#[tokio::test]
async fn ctl_failures_are_one_line_on_stderr_with_a_non_zero_exit() {
    let network = Network::generate(1).await;
    let _daemon = network.run(0).await;
    let cases: [(&[&str], &str); 3] = [
        (&["request", "abc", "x"], "bad node ID"),
        (&["add-peer", "nowhere"], "no port"),
        (&["send-topic", "nobody", "x"], "no node follows"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = network.ctl(0, args).await;
        assert_ne!(code, 0, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    // A port nothing listens on.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();
    let (code, _, err) = fisco_p2p(&["ctl", "--admin", &nobody, "status"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("cannot reach the admin API"), "{err}");
}

#[tokio::test]
async fn sighup_reloads_the_peer_list_and_the_blacklist() {
    let network = Network::generate(3).await;
    network.set_peers(0, &[1]);
    network.set_peers(1, &[]);
    network.set_peers(2, &[]);
    let node0 = network.run(0).await;
    let _others = [network.run(1).await, network.run(2).await];
    network.wait_connected_to(0, &[1]).await;

    let id1 = network.node_id(1);
    network.set_peers(0, &[2]);
    network.edit_config(0, |text| {
        text.replace("blacklist = []", &format!("blacklist = [\"{id1}\"]"))
    });
    node0.signal("HUP");
    network.wait_connected_to(0, &[2]).await;
    let statics = network.ctl_json(0, &["peers", "--static"]).await;
    assert_eq!(statics.as_array().map(Vec::len), Some(1), "{statics}");
    assert_eq!(
        statics[0]["addr"],
        format!("/ip4/127.0.0.1/tcp/{}", network.base_port + 2)
    );
    // node1 is now refused even when it dials node0 itself.
    let refusals = watch_events(&network, 0, 1, &["connection_refused"]);
    network.ctl_json(1, &["add-peer", &network.listen(0)]).await;
    let refused = collected(refusals).await;
    assert_eq!(refused[0]["reason"], "blacklisted", "{refused:?}");
    network.wait_connected_to(0, &[2]).await;
    assert!(
        node0.log().contains("configuration reloaded"),
        "{}",
        node0.log()
    );
}

#[tokio::test]
async fn a_stopped_and_a_killed_node_are_reconnected_after_restart() {
    let network = Network::generate(2).await;
    network.set_peers(1, &[]); // only node0 dials: its redial brings node1 back
    let _node0 = network.run(0).await;
    let mut node1 = network.run(1).await;
    network.wait_connected_to(0, &[1]).await;

    node1.signal("TERM");
    assert_eq!(node1.wait_exit().await, Some(0), "{}", node1.log());
    assert!(node1.log().contains("node stopped"), "{}", node1.log());
    network.wait_connected_to(0, &[]).await;

    let node1 = network.run(1).await;
    let restarted = Instant::now();
    network.wait_connected_to(0, &[1]).await;
    let graceful = restarted.elapsed();

    drop(node1); // SIGKILL
    network.wait_connected_to(0, &[]).await;
    let _node1 = network.run(1).await;
    let restarted = Instant::now();
    network.wait_connected_to(0, &[1]).await;
    let killed = restarted.elapsed();
    // redial_max is 500 ms in these node.toml files; allow for a loaded machine.
    assert!(
        graceful.as_secs() < 5 && killed.as_secs() < 5,
        "{graceful:?} {killed:?}"
    );
}

#[tokio::test]
async fn flags_override_the_file_and_the_startup_line_names_the_addresses() {
    let network = Network::generate(1).await;
    let config = network.config(0);
    let daemon = Daemon::start(
        &[
            "run",
            "--config",
            config.to_str().expect("path"),
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--topic",
            "news",
        ],
        network.dir.path(),
        "node0",
    )
    .await;
    // node <ID> listening on <multiaddr> admin <ip:port>
    let words: Vec<&str> = daemon.startup.split(' ').collect();
    assert_eq!(words.len(), 7, "{}", daemon.startup);
    assert_eq!(
        (words[0], words[2], words[3], words[5]),
        ("node", "listening", "on", "admin")
    );
    assert_eq!(words[1], network.node_id(0));
    assert_ne!(
        words[4],
        format!("/ip4/127.0.0.1/tcp/{}", network.base_port)
    );
    let (code, out, err) = fisco_p2p(&["ctl", "--admin", words[6], "--json", "status"]).await;
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(status["topics"], serde_json::json!(["news"]));
    assert_eq!(status["listen"][0], words[4]);
}

#[tokio::test]
async fn bad_configuration_is_refused_naming_the_file_and_the_key() {
    let network = Network::generate(1).await;
    let dir = network.node_dir(0);
    let path = dir.join("bad.toml");
    let path_text = path.to_str().expect("path").to_owned();
    let dir_text = dir.to_str().expect("path").to_owned();
    let cases: [(&str, &[&str], &str); 8] = [
        ("[limits]\nmax_conections = 3\n", &[], "max_conections"),
        ("peers = [\"127.0.0.1\"]\n", &[], "peers[0]"),
        ("admin = \"0.0.0.0:31300\"\n", &[], "`admin`"),
        ("", &["--admin", "0.0.0.0:0"], "--admin-public"),
        (
            "",
            &["--admin", "0.0.0.0:0", "--admin-public"],
            "needs a token",
        ),
        (
            "admin = \"0.0.0.0:31300\"\nadmin_public = true\n",
            &[],
            "`admin_token_file`",
        ),
        (
            "[intervals]\nheartbeat = \"1ns\"\n",
            &[],
            "`intervals.heartbeat`: \"1ns\" is out of range; write a duration from 100ms to 10m",
        ),
        ("topics = [\"a\\tb\"]\n", &[], "control character"),
    ];
    for (text, flags, needle) in cases {
        std::fs::write(
            &path,
            format!("dir = \"{dir_text}\"\nlisten = [\"127.0.0.1:0\"]\n{text}"),
        )
        .expect("write");
        let mut args = vec!["run", "--config", path_text.as_str()];
        args.extend_from_slice(flags);
        let (code, _, err) = fisco_p2p(&args).await;
        assert_ne!(code, 0, "{text:?} was accepted");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ") && last.contains(needle),
            "{text:?}: {err}"
        );
        if flags.is_empty() {
            assert!(last.contains(&path_text), "{text:?}: {last}");
        }
    }
}

#[tokio::test]
async fn a_node_whose_ca_file_does_not_vouch_for_its_certificate_does_not_start() {
    let network = Network::generate(1).await;
    let dir = network.node_dir(0);
    let foreign = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("certs/bad/foreign-ca/ca.crt");
    std::fs::copy(foreign, dir.join("ca.crt")).expect("copy ca.crt");
    let dir_text = dir.to_str().expect("path").to_owned();
    let (code, out, err) = fisco_p2p(&["run", "--dir", &dir_text, "--listen", "127.0.0.1:0"]).await;
    assert_ne!(code, 0, "{out}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("node.crt") && last.contains("ca.crt") && last.contains("does not chain"),
        "{err}"
    );
}

#[tokio::test]
async fn a_fisco_config_ini_and_a_nodes_json_are_accepted() {
    let network = Network::generate(2).await;
    // node0 as FISCO 2.x lays it out: config.ini beside a conf/ folder with the keys.
    let dir0 = network.node_dir(0);
    let conf = dir0.join("conf");
    std::fs::create_dir(&conf).expect("conf/");
    for file in ["node.key", "node.crt", "ca.crt"] {
        std::fs::copy(dir0.join(file), conf.join(file)).expect("copy");
    }
    let ini = format!(
        "[rpc]\n    channel_listen_port=20200\n[p2p]\n    listen_ip=127.0.0.1\n    listen_port={}\n    node.0={}\n    node.1={}\n[certificate_blacklist]\n[network_security]\n    data_path=conf/\n",
        network.base_port,
        network.listen(0),
        network.listen(1)
    );
    std::fs::write(dir0.join("config.ini"), ini).expect("config.ini");
    let admin0 = network.admin(0);
    let ini_path = dir0.join("config.ini");
    let _node0 = Daemon::start(
        &[
            "run",
            "--config",
            ini_path.to_str().expect("path"),
            "--admin",
            &admin0,
        ],
        network.dir.path(),
        "node0",
    )
    .await;

    // node1 as FISCO 3.x: a nodes.json for the peers, flags for the rest.
    let dir1 = network.node_dir(1);
    let json_path = dir1.join("nodes.json");
    std::fs::write(
        &json_path,
        format!("{{\"nodes\":[\"{}\"]}}", network.listen(0)),
    )
    .expect("nodes.json");
    let (listen1, admin1) = (network.listen(1), network.admin(1));
    let _node1 = Daemon::start(
        &[
            "run",
            "--config",
            json_path.to_str().expect("path"),
            "--dir",
            dir1.to_str().expect("path"),
            "--listen",
            &listen1,
            "--admin",
            &admin1,
        ],
        network.dir.path(),
        "node1",
    )
    .await;
    network.wait_connected_to(0, &[1]).await;
    network.wait_connected_to(1, &[0]).await;
}

#[tokio::test]
async fn a_daemon_without_an_admin_api_still_echoes_requests() {
    let network = Network::generate(2).await;
    network.edit_config(1, |text| {
        text.lines()
            .filter(|line| !line.starts_with("admin = "))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let _node0 = network.run(0).await;
    let node1 = network.run(1).await;
    assert!(node1.startup.ends_with(" admin off"), "{}", node1.startup);
    network.wait_connected_to(0, &[1]).await;
    let id1 = network.node_id(1);
    let reply = network
        .ctl_json(0, &["request", &id1, "still echoed"])
        .await;
    assert_eq!(reply["data"], "still echoed");
}
