use std::path::{Path, PathBuf};

use super::*;

const PATH: &str = "/data/nodes/127.0.0.1/node0/config.ini";

fn parse_ok(text: &str) -> NodeFile {
    parse(text, Path::new(PATH)).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> ConfigError {
    parse(text, Path::new(PATH)).expect_err("must be refused")
}

fn node_id(fixture: &str) -> String {
    let path = format!("{}/certs/{fixture}/node.nodeid", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn multiaddrs(addresses: &[Address]) -> Vec<String> {
    addresses
        .iter()
        .map(|a| a.multiaddr().to_string())
        .collect()
}

#[test]
fn reads_listen_peers_lists_and_data_path() {
    let (a, b) = (node_id("fisco-2.5/node0"), node_id("fisco-2.5/node1"));
    let file = parse_ok(&format!(
        "[p2p]\n    listen_ip=127.0.0.1\n    listen_port=30301\n    node.0=127.0.0.1:30300\n    \
         node.1=[::1]:30302\n[certificate_blacklist]\n    crl.0={a}\n[certificate_whitelist]\n    \
         cal.0={a}\n    cal.1={b}\n[network_security]\n    data_path=/etc/keys/\n"
    ));
    assert_eq!(multiaddrs(file.listen()), ["/ip4/127.0.0.1/tcp/30301"]);
    assert_eq!(
        multiaddrs(file.peers()),
        ["/ip4/127.0.0.1/tcp/30300", "/ip6/::1/tcp/30302"]
    );
    assert_eq!(file.blacklist().len(), 1);
    assert_eq!(file.blacklist()[0].to_string(), a);
    assert_eq!(file.whitelist().len(), 2);
    assert_eq!(file.whitelist()[1].to_string(), b);
    assert_eq!(file.dir(), Some(Path::new("/etc/keys/")));
    assert_eq!(file.source(), Some(Path::new(PATH)));
}

#[test]
fn fiscos_defaults_apply_to_what_is_left_out() {
    let file = parse_ok("[p2p]\nnode.0=127.0.0.1:30301\n");
    assert_eq!(multiaddrs(file.listen()), ["/ip4/0.0.0.0/tcp/30300"]);
    assert_eq!(
        file.dir(),
        Some(Path::new("/data/nodes/127.0.0.1/node0/conf/"))
    );
    assert!(file.blacklist().is_empty() && file.whitelist().is_empty());
    // What config.ini cannot say keeps node.toml's defaults.
    assert_eq!(file.limits(), NodeFile::default().limits());
    assert_eq!(file.admin(), None);
}

#[test]
fn an_ipv6_listen_ip_is_read_with_or_without_brackets() {
    for ip in ["::", "[::]"] {
        let file = parse_ok(&format!("[p2p]\nlisten_ip={ip}\nlisten_port=30300\n"));
        assert_eq!(multiaddrs(file.listen()), ["/ip6/::/tcp/30300"]);
        assert_eq!(file.listen()[0].as_str(), "[::]:30300");
    }
}

#[test]
fn other_sections_and_keys_are_skipped_whatever_they_hold_and_listed() {
    let file = parse_ok(
        "top=level\n[rpc]\nchannel_listen_port=not a port\n[chain]\nid=1\nsm_crypto_channel=true\n\
         [p2p]\nnode.0=127.0.0.1:30301\n[network_security]\nkey=node.key\n\
         [certificate_blacklist]\nnote=free text\n",
    );
    assert_eq!(file.peers().len(), 1);
    assert_eq!(
        file.unused(),
        [
            "top",
            "[certificate_blacklist]",
            "[chain]",
            "[rpc]",
            "chain.sm_crypto_channel (SDK channel, not P2P)"
        ]
    );
    assert!(file.enable_compression(), "FISCO's default");
}

#[test]
fn a_2x_file_names_its_certificate_files_and_compression() {
    let file = parse_ok(
        "[p2p]\nnode.0=127.0.0.1:1\nenable_compress=false\n[network_security]\n\
         data_path=keys/\nkey=gm.key\ncert=gm.crt\nca_cert=chain.crt\n",
    );
    let files = file.credentials().unwrap();
    let base = Path::new(PATH).parent().unwrap().join("keys/");
    assert_eq!(files.key(), base.join("gm.key"));
    assert_eq!(files.cert(), base.join("gm.crt"));
    assert_eq!(files.ca(), base.join("chain.crt"));
    assert!(!file.enable_compression());
    refused(
        "[p2p]\nenable_compress=maybe",
        "p2p.enable_compress",
        2,
        "true or false",
    );
    refused(
        "[chain]\nsm_crypto=true",
        "chain.sm_crypto",
        2,
        "SM (guomi) TLS is not supported yet",
    );
}

/// A FISCO 3.x node folder in a temporary directory: `config.ini` as given, and a nodes.json.
fn folder3(ini: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nodes.json"),
        r#"{"nodes":["127.0.0.1:30300","127.0.0.1:30301"]}"#,
    )
    .unwrap();
    let path = dir.path().join("config.ini");
    std::fs::write(&path, ini).unwrap();
    (dir, path)
}

#[test]
fn a_fisco3_config_ini_made_by_build_chain_is_read_with_its_nodes_json() {
    let dir = format!("{}/certs/fisco-3.x/node0", env!("CARGO_MANIFEST_DIR"));
    let path = Path::new(&dir).join("config.ini");
    let file = super::super::load(&path).unwrap();
    assert_eq!(multiaddrs(file.listen()), ["/ip4/0.0.0.0/tcp/30300"]);
    assert_eq!(file.peers().len(), 3);
    assert_eq!(
        file.peers_file(),
        Some(Path::new(&dir).join("./nodes.json").as_path())
    );
    let files = file.credentials().unwrap();
    let conf = Path::new(&dir).join("./conf");
    assert_eq!(files.key(), conf.join("ssl.key"));
    assert_eq!(files.cert(), conf.join("ssl.crt"));
    assert_eq!(files.ca(), conf.join("ca.crt"));
    assert_eq!(
        files.extra_cas(),
        Some((conf.join("multiCaPath").as_path(), false)),
        "build_chain names the default folder without making it: it may be missing"
    );
    assert_eq!(files.load().unwrap().node_id().to_string().len(), 540);
    assert!(file.enable_compression());
    for section in [
        "[rpc]",
        "[web3_rpc]",
        "[chain]",
        "[security]",
        "[storage]",
        "[log]",
    ] {
        assert!(
            file.unused().iter().any(|u| u == section),
            "{section}: {:?}",
            file.unused()
        );
    }
}

#[test]
fn a_fisco3_file_reads_its_keys_relative_to_its_folder() {
    let modulus = std::fs::read_to_string(format!(
        "{}/certs/fisco-3.x/node1/conf/ssl.nodeid",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (dir, path) = folder3(&format!(
        "[p2p]\nlisten_ip=127.0.0.1\nlisten_port=30301\nsm_ssl=false\nnodes_path=./\n\
         nodes_file=nodes.json\nenable_compression=false\nenable_rip_protocol=false\n\
         [certificate_blacklist]\ncrl.0={}\n[cert]\nca_path=certs\n",
        modulus.trim()
    ));
    let file = parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    assert_eq!(multiaddrs(file.listen()), ["/ip4/127.0.0.1/tcp/30301"]);
    assert_eq!(file.peers().len(), 2);
    assert!(!file.enable_compression());
    assert_eq!(
        file.blacklist()[0].rsa_modulus_hex().unwrap(),
        modulus.trim()
    );
    let files = file.credentials().unwrap();
    assert_eq!(files.key(), dir.path().join("certs/ssl.key"));
    assert_eq!(
        files.extra_cas(),
        Some((dir.path().join("certs/multiCaPath").as_path(), false))
    );
    // A folder of CAs named otherwise must exist.
    let (other, path) = folder3("[cert]\nca_path=certs\nmulti_ca_path=cas\n");
    let file = parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    let (cas, required) = file.credentials().unwrap().extra_cas().unwrap();
    assert_eq!(
        (cas, required),
        (other.path().join("certs/cas").as_path(), true)
    );
    let (_keep, path) = folder3("[p2p]\nenable_rip_protocol=false\n[cert]\nca_path=certs\n");
    let file = parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    assert!(file
        .unused()
        .iter()
        .any(|u| u.starts_with("p2p.enable_rip_protocol (routing")));
}

#[test]
fn fisco3_keys_that_would_change_the_network_unsupported_are_refused() {
    for (ini, key, says) in [
        (
            "[p2p]\nsm_ssl=true\n",
            "p2p.sm_ssl",
            "SM (guomi) TLS is not supported yet",
        ),
        (
            "[p2p]\nsm_ssl=false\nenable_ssl_verify=false\n",
            "p2p.enable_ssl_verify",
            "always checks",
        ),
        (
            "[cert]\nca_path=conf\n[p2p]\nnodes_file=missing.json\n",
            "p2p.nodes_path/nodes_file",
            "missing.json",
        ),
        (
            "[cert]\nca_path=conf\n[network_security]\ndata_path=conf/\n",
            "cert.ca_path",
            "one form",
        ),
    ] {
        let (_dir, path) = folder3(ini);
        let error = parse(ini, &path).unwrap_err();
        assert_eq!(error.key(), Some(key), "{error}");
        assert!(error.to_string().contains(says), "{error}");
    }
}

#[test]
fn comments_blank_lines_and_a_byte_order_mark_are_fine() {
    let file = parse_ok("\u{feff}; made by build_chain\n\n# also a comment\n[p2p]\n  ;node.9=bad\n\tnode.0 = 127.0.0.1:1 \n");
    assert_eq!(multiaddrs(file.peers()), ["/ip4/127.0.0.1/tcp/1"]);
}

/// Checks that `text` is refused naming `key`, the file and `line`.
fn refused(text: &str, key: &str, line: usize, says: &str) {
    let error = parse_err(text);
    let message = error.to_string();
    assert_eq!(error.key(), Some(key), "{message}");
    assert_eq!(error.line(), Some(line), "{message}");
    assert!(
        message.starts_with(&format!("{PATH}:{line}: key `{key}`")),
        "{message}"
    );
    assert!(message.contains(says), "{message}");
}

#[test]
fn bad_values_in_the_sections_read_name_key_line_and_file() {
    refused("[p2p]\nlisten_ip=localhost", "p2p.listen_ip", 2, "0.0.0.0");
    refused("[p2p]\nlisten_port=0", "p2p.listen_port", 2, "1 to 65535");
    refused("[p2p]\nlisten_port=70000", "p2p.listen_port", 2, "30300");
    refused(
        "[p2p]\nnode.0=127.0.0.1:1\nnode.1=::1:30300",
        "p2p.node.1",
        3,
        "brackets",
    );
    refused("[p2p]\nnode.0=", "p2p.node.0", 2, "empty");
    refused(
        "[certificate_blacklist]\ncrl.0=1234",
        "certificate_blacklist.crl.0",
        2,
        "node.nodeid",
    );
    refused(
        "[certificate_whitelist]\n\ncal.3=xyz",
        "certificate_whitelist.cal.3",
        3,
        "node.nodeid",
    );
    refused(
        "[network_security]\ndata_path=",
        "network_security.data_path",
        2,
        "empty",
    );
}

#[test]
fn a_repeated_key_is_refused() {
    refused(
        "[p2p]\nnode.0=127.0.0.1:1\nnode.0=127.0.0.1:2",
        "p2p.node.0",
        3,
        "twice",
    );
    refused(
        "[p2p]\nlisten_port=1\n[rpc]\n[p2p]\nlisten_port=2",
        "p2p.listen_port",
        5,
        "twice",
    );
}

#[test]
fn lines_that_are_not_ini_are_refused_anywhere() {
    for (text, line) in [
        ("[rpc]\nchannel_listen_port 20200", 2),
        ("[p2p\nnode.0=127.0.0.1:1", 1),
        ("[]\n", 1),
        ("=value", 1),
    ] {
        let error = parse_err(text);
        assert!(
            matches!(error, ConfigError::Syntax { format: "INI", .. }),
            "{error}"
        );
        assert_eq!(error.line(), Some(line), "{text}: {error}");
        assert!(error.to_string().starts_with(PATH), "{error}");
    }
}
