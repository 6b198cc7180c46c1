use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::Address;
use crate::config::DEFAULT_MAX_MESSAGE_SIZE;

const PATH: &str = "/etc/fisco/node0/node.toml";
const NODE_ID: &str = "0a52a6a0e3cbd8c3e0b28c3a6e0e1f8d7d4b0f6f0b7d1f2e9d6a1b2c3d4e5f6a\
                       0b7d1f2e9d6a1b2c3d4e5f6a0a52a6a0e3cbd8c3e0b28c3a6e0e1f8d7d4b0f6f";

fn parse_ok(text: &str) -> NodeFile {
    parse(text, Path::new(PATH)).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> ConfigError {
    parse(text, Path::new(PATH)).expect_err("must be refused")
}

/// A node ID that is a point on the curve (from the fixture certificates).
fn node_id() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/certs/fisco-2.5/node0/node.nodeid"
    );
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

const FULL: &str = r#"
dir = "keys"
listen = ["0.0.0.0:30300", "[::]:30300"]
peers = ["127.0.0.1:30301", "node2.example:30302", "/ip4/10.0.0.3/tcp/30303"]
admin = "127.0.0.1:31300"
admin_public = false
topics = ["orders", "blocks"]
blacklist = []
whitelist = []

[limits]
max_message_size = 1048576
max_connections = 50
max_pending_incoming = 8
max_pending_per_ip = 2
max_concurrent_dials = 16

[intervals]
heartbeat = "2s"
heartbeat_timeout = "6s"
redial_initial = "200ms"
redial_max = "30s"
announce = "1s"
handshake_timeout = "3s"
first_bytes_timeout = "1s"
"#;

#[test]
fn an_empty_file_gives_the_defaults_and_the_files_folder_as_dir() {
    let file = parse_ok("");
    assert_eq!(file.dir(), Some(Path::new("/etc/fisco/node0/.")));
    assert_eq!(file.source(), Some(Path::new(PATH)));
    assert!(file.listen().is_empty() && file.peers().is_empty() && file.topics().is_empty());
    assert_eq!(file.admin(), None);
    assert!(!file.admin_public());
    assert_eq!(file.limits().max_message_size(), DEFAULT_MAX_MESSAGE_SIZE);
    assert_eq!(file.limits().max_connections(), 256);
    assert_eq!(file.limits().max_pending_incoming(), 64);
    assert_eq!(file.limits().max_pending_per_ip(), 4);
    assert_eq!(file.limits().max_concurrent_dials(), 32);
    let intervals = file.intervals();
    assert_eq!(intervals.first_bytes_timeout(), Duration::from_secs(3));
    assert_eq!(intervals.heartbeat(), Duration::from_secs(1));
    assert_eq!(intervals.heartbeat_timeout(), Duration::from_secs(2));
    assert!(!file.direct_connections());
    assert_eq!(intervals.redial_initial(), Duration::from_millis(100));
    assert_eq!(intervals.redial_max(), Duration::from_secs(10));
    assert_eq!(intervals.announce(), Duration::from_secs(2));
    assert_eq!(intervals.handshake_timeout(), Duration::from_secs(10));
}

#[test]
fn every_key_is_read() {
    let file = parse_ok(FULL);
    assert_eq!(file.dir(), Some(Path::new("/etc/fisco/node0/keys")));
    let listen: Vec<String> = file
        .listen()
        .iter()
        .map(|a| a.multiaddr().to_string())
        .collect();
    assert_eq!(listen, ["/ip4/0.0.0.0/tcp/30300", "/ip6/::/tcp/30300"]);
    let peers: Vec<&str> = file.peers().iter().map(Address::as_str).collect();
    assert_eq!(
        peers,
        [
            "127.0.0.1:30301",
            "node2.example:30302",
            "/ip4/10.0.0.3/tcp/30303"
        ]
    );
    assert_eq!(file.admin(), Some("127.0.0.1:31300".parse().unwrap()));
    assert_eq!(file.topics(), ["orders", "blocks"]);
    assert_eq!(file.limits().max_message_size(), 1 << 20);
    assert_eq!(file.limits().max_connections(), 50);
    assert_eq!(file.limits().max_pending_incoming(), 8);
    assert_eq!(file.intervals().heartbeat(), Duration::from_secs(2));
    assert_eq!(file.intervals().heartbeat_timeout(), Duration::from_secs(6));
    assert_eq!(
        file.intervals().redial_initial(),
        Duration::from_millis(200)
    );
    assert_eq!(file.intervals().redial_max(), Duration::from_secs(30));
    assert_eq!(file.intervals().announce(), Duration::from_secs(1));
    assert_eq!(file.intervals().handshake_timeout(), Duration::from_secs(3));
}

#[test]
fn an_absolute_dir_is_kept() {
    let file = parse_ok("dir = \"/var/lib/node\"");
    assert_eq!(file.dir(), Some(Path::new("/var/lib/node")));
}

#[test]
fn node_id_lists_are_read() {
    let id = node_id();
    let file = parse_ok(&format!(
        "blacklist = [\"{id}\"]\nwhitelist = [\"{}\", \"{id}\"]",
        id.to_uppercase()
    ));
    assert_eq!(file.blacklist().len(), 1);
    assert_eq!(file.whitelist().len(), 2);
    assert_eq!(file.blacklist()[0].to_string(), id);
    assert_eq!(file.whitelist()[0], file.blacklist()[0]);
}

#[test]
fn the_node_config_gets_every_value_it_supports() {
    let id = node_id();
    let file = parse_ok(&FULL.replace("blacklist = []", &format!("blacklist = [\"{id}\"]")));
    let config = file.to_node_config();
    let strings = |v: &[libp2p::Multiaddr]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        strings(&config.listen),
        ["/ip4/0.0.0.0/tcp/30300", "/ip6/::/tcp/30300"]
    );
    assert_eq!(
        strings(&config.peers),
        [
            "/ip4/127.0.0.1/tcp/30301",
            "/dns/node2.example/tcp/30302",
            "/ip4/10.0.0.3/tcp/30303"
        ]
    );
    assert_eq!(config.blacklist, file.blacklist());
    assert!(config.whitelist.is_empty());
    assert_eq!(
        config.peers_config().heartbeat_interval(),
        Duration::from_secs(2)
    );
    assert_eq!(
        config.peers_config().heartbeat_timeout(),
        Duration::from_secs(6)
    );
    assert_eq!(config.handshake_timeout, Duration::from_secs(3));
    assert_eq!(
        config.peers_config().initial_backoff(),
        Duration::from_millis(200)
    );
    assert_eq!(config.peers_config().max_backoff(), Duration::from_secs(30));
    assert_eq!(config.max_connections, 50);
    assert_eq!(config.max_pending_incoming, 8);
    assert_eq!(config.max_pending_per_ip, 2);
    assert_eq!(config.max_concurrent_dials, 16);
    assert_eq!(config.first_bytes_timeout, Duration::from_secs(1));
}

#[test]
fn written_toml_reads_back_the_same() {
    let file = parse_ok(FULL);
    let again = parse_ok(&file.to_toml());
    assert_eq!(again, file);
    let defaults = parse_ok("");
    assert_eq!(parse_ok(&defaults.to_toml()), defaults);
}

#[test]
fn peers_merge_without_duplicates() {
    let mut file = parse_ok("peers = [\"127.0.0.1:30301\"]");
    let other = parse_ok(
        "peers = [\"/ip4/127.0.0.1/tcp/30301\", \"127.0.0.1:30302\", \"127.0.0.1:30302\"]",
    );
    assert_eq!(file.merge_peers_from(&other), 1);
    let peers: Vec<&str> = file.peers().iter().map(Address::as_str).collect();
    assert_eq!(peers, ["127.0.0.1:30301", "127.0.0.1:30302"]);
}

/// Checks that `text` is refused naming `key`, the file, and (when given) the line.
fn refused(text: &str, key: &str, line: Option<usize>, says: &str) {
    let error = parse_err(text);
    let message = error.to_string();
    assert_eq!(error.key(), Some(key), "{text}: {message}");
    assert_eq!(error.path(), Path::new(PATH), "{message}");
    if line.is_some() {
        assert_eq!(error.line(), line, "{text}: {message}");
    }
    assert!(message.starts_with(PATH), "{message}");
    assert!(message.contains(&format!("`{key}`")), "{message}");
    assert!(message.contains(says), "{text}: {message}");
}

#[test]
fn unknown_keys_are_named_with_their_table() {
    refused("listen = []\nlistn = []", "listn", Some(2), "peers");
    refused(
        "[limits]\nmax_conections = 5",
        "limits.max_conections",
        Some(2),
        "max_connections",
    );
    refused(
        "[intervals]\nheartbeat = \"1s\"\nping = \"1s\"",
        "intervals.ping",
        Some(3),
        "heartbeat_timeout",
    );
    let error = parse_err("[p2p]\nlisten_ip = \"0.0.0.0\"");
    assert!(matches!(error, ConfigError::UnknownKey { .. }), "{error}");
}

#[test]
fn bad_addresses_are_named_by_index() {
    refused(
        "peers = [\n  \"127.0.0.1:30301\",\n  \"127.0.0.1\",\n]",
        "peers[1]",
        Some(3),
        "no port",
    );
    refused("listen = [\"::1:30300\"]", "listen[0]", Some(1), "brackets");
    refused(
        "listen = \"127.0.0.1:30300\"",
        "listen",
        Some(1),
        "sequence",
    );
    refused("peers = [30301]", "peers[0]", Some(1), "integer");
}

#[test]
fn bad_node_ids_say_where_to_find_a_good_one() {
    refused(
        "blacklist = [\"abc\"]",
        "blacklist[0]",
        Some(1),
        "node.nodeid",
    );
    let not_on_curve = NODE_ID.replace(' ', "");
    refused(
        &format!("whitelist = [\"{not_on_curve}\"]"),
        "whitelist[0]",
        Some(1),
        "curve",
    );
}

#[test]
fn bad_durations_say_how_to_write_one() {
    refused(
        "[intervals]\nheartbeat = \"5\"",
        "intervals.heartbeat",
        Some(2),
        "\"500ms\"",
    );
    refused(
        "[intervals]\nannounce = \"0s\"",
        "intervals.announce",
        Some(2),
        "zero",
    );
    refused(
        "[intervals]\nredial_max = 10",
        "intervals.redial_max",
        Some(2),
        "integer",
    );
    refused(
        "[intervals]\nredial_initial = \"20s\"\nredial_max = \"10s\"",
        "intervals.redial_initial",
        None,
        "redial_max",
    );
}

#[test]
fn limits_must_be_usable() {
    refused(
        "[limits]\nmax_connections = 0",
        "limits.max_connections",
        Some(2),
        "0 is out of range; write a number from 1 to 65536",
    );
    refused(
        "[limits]\nmax_pending_incoming = 5000",
        "limits.max_pending_incoming",
        Some(2),
        "from 1 to 4096",
    );
    refused(
        "[limits]\nmax_pending_incoming = -1",
        "limits.max_pending_incoming",
        Some(2),
        "-1",
    );
    refused(
        "[limits]\nmax_message_size = 10",
        "limits.max_message_size",
        Some(2),
        "33554432",
    );
    refused(
        "[limits]\nmax_message_size = 2147483648",
        "limits.max_message_size",
        Some(2),
        "1 GiB",
    );
}

#[test]
fn the_admin_address_must_be_loopback_unless_public() {
    refused(
        "admin = \"0.0.0.0:31300\"",
        "admin",
        None,
        "admin_public = true",
    );
    refused(
        "admin = \"localhost:1\"",
        "admin",
        Some(1),
        "127.0.0.1:31300",
    );
    refused(
        "admin = \"0.0.0.0:31300\"\nadmin_public = true",
        "admin_token_file",
        None,
        "openssl rand -hex 32",
    );
    let file = parse_ok(
        "admin = \"0.0.0.0:31300\"\nadmin_public = true\nadmin_token_file = \"admin.token\"\n\
         admin_hosts = [\"Node0.Example.\"]",
    );
    assert!(file.admin_public());
    assert_eq!(
        file.admin_token_file(),
        Some(Path::new("/etc/fisco/node0/admin.token"))
    );
    assert_eq!(file.admin_hosts(), ["node0.example"]);
    refused(
        "admin_hosts = [\"node0.example:31300\"]",
        "admin_hosts[0]",
        Some(1),
        "without a port",
    );
    refused("admin_public = \"yes\"", "admin_public", Some(1), "bool");
}

#[test]
fn topics_must_be_named() {
    refused("topics = [\"a\", \"\"]", "topics[1]", Some(1), "empty");
    refused(
        "topics = [\"a\\tb\"]",
        "topics[0]",
        Some(1),
        "control character",
    );
    let long = "x".repeat(256);
    refused(
        &format!("topics = [\"{long}\"]"),
        "topics[0]",
        Some(1),
        "longer than 255 bytes",
    );
    let file = parse_ok(&format!("topics = [\"{}\"]", "x".repeat(255)));
    assert_eq!(file.topics()[0].len(), 255);
}

#[test]
fn every_interval_is_refused_outside_its_range_naming_the_value_and_the_range() {
    for (key, range) in crate::config::INTERVAL_RANGES {
        let below = range.min - Duration::from_nanos(1);
        let above = range.max + Duration::from_millis(1);
        for value in [below, above] {
            let written = format!("{}ns", value.as_nanos());
            let text = format!("[intervals]\n{key} = \"{written}\"");
            let error = parse_err(&text).to_string();
            assert!(
                error.contains(&format!("`intervals.{key}`"))
                    && error.contains(&written)
                    && error.contains(&format!(
                        "from {} to {}",
                        humantime::format_duration(range.min),
                        humantime::format_duration(range.max)
                    )),
                "{text}: {error}"
            );
        }
        let ok = format!(
            "[intervals]\n{key} = \"{}\"",
            humantime::format_duration(range.min)
        );
        let _ = parse_ok(&ok);
    }
    refused(
        "[intervals]\nheartbeat = \"1ns\"",
        "intervals.heartbeat",
        Some(2),
        "\"1ns\" is out of range",
    );
    refused(
        "[intervals]\nhandshake_timeout = \"1ns\"",
        "intervals.handshake_timeout",
        Some(2),
        "from 1s to 5m",
    );
}

#[test]
fn the_defaults_lie_within_the_ranges() {
    let file = parse_ok("");
    let intervals = file.intervals();
    for (key, value) in [
        ("heartbeat", intervals.heartbeat()),
        ("heartbeat_timeout", intervals.heartbeat_timeout()),
        ("redial_initial", intervals.redial_initial()),
        ("redial_max", intervals.redial_max()),
        ("announce", intervals.announce()),
        ("handshake_timeout", intervals.handshake_timeout()),
    ] {
        let (_, range) = crate::config::INTERVAL_RANGES
            .iter()
            .find(|(name, _)| *name == key)
            .unwrap_or_else(|| panic!("{key} has a range"));
        assert!(range.min <= value && value <= range.max, "{key}");
    }
}

#[cfg(unix)]
#[test]
fn a_config_that_is_a_symlink_to_dev_zero_or_a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let error = crate::config::load(&zero).unwrap_err().to_string();
    assert!(error.contains("character device"), "{error}");
    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let error = crate::config::load(&fifo).unwrap_err().to_string();
    assert!(error.contains("FIFO"), "{error}");
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let error = crate::config::load(&big).unwrap_err().to_string();
    assert!(error.contains("larger than 1 MiB"), "{error}");
}

#[test]
fn syntax_errors_name_the_line() {
    let error = parse_err("listen = []\npeers = [\n\"a\"\n\"b\"]");
    assert!(
        matches!(error, ConfigError::Syntax { format: "TOML", .. }),
        "{error}"
    );
    assert_eq!(error.line(), Some(4), "{error}");
    let error = parse_err("listen = []\nlisten = []");
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    assert_eq!(error.line(), Some(2), "{error}");
    assert!(error.to_string().contains("`listen`"), "{error}");
}

#[test]
fn a_missing_file_and_an_unknown_extension_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("node.toml");
    let error = crate::config::load(&missing).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }), "{error}");
    assert_eq!(error.path(), missing);
    let yaml = dir.path().join("node.yaml");
    std::fs::write(&yaml, "listen: []").unwrap();
    let error = crate::config::load(&yaml).unwrap_err();
    assert!(error.to_string().contains("*.toml"), "{error}");
    let _: PathBuf = error.path().to_owned();
}
