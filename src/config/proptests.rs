//! Properties of the readers: any configuration written reads back the same, and no input
//! makes a reader panic (operators' files are arbitrary text).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use proptest::prelude::*;

use super::{fisco_ini, node_toml, nodes_json, Address, NodeFile};

fn socket() -> impl Strategy<Value = SocketAddr> {
    let v4 = any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)));
    let v6 = any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s)));
    (prop_oneof![v4, v6], any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        socket().prop_map(Address::from),
        ("[a-z][a-z0-9-]{0,10}(\\.[a-z]{1,5})?", any::<u16>()).prop_map(|(host, port)| format!(
            "{host}:{port}"
        )
        .parse()
        .unwrap()),
    ]
}

fn node_file() -> impl Strategy<Value = NodeFile> {
    (
        "[a-zA-Z0-9_./-]{1,20}",
        prop::collection::vec(address(), 0..4),
        prop::collection::vec(address(), 0..6),
        prop::option::of(any::<u16>()),
        prop::collection::vec(
            "[^\\p{Cc}]{1,30}".prop_filter("not blank", |t| !t.trim().is_empty()),
            0..4,
        ),
    )
        .prop_map(|(dir, listen, peers, admin_port, topics)| {
            NodeFile::default()
                .with_dir(format!("/{dir}"))
                .with_listen(listen)
                .with_peers(peers)
                .with_admin(admin_port.map(|p| SocketAddr::new(Ipv4Addr::LOCALHOST.into(), p)))
                .with_topics(topics)
        })
}

proptest! {
    #[test]
    fn any_node_file_written_as_toml_reads_back_the_same(file in node_file()) {
        let path = Path::new("/node.toml");
        let mut expected = file.clone();
        expected.set_source(path);
        let read = node_toml::parse(&file.to_toml(), path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn no_text_makes_a_reader_panic(text in "(\\PC|\\n|\\[|\\]|=|\"|\\{|\\}){0,200}") {
        let _ = node_toml::parse(&text, Path::new("node.toml"));
        let _ = fisco_ini::parse(&text, Path::new("config.ini"));
        let _ = nodes_json::parse(&text, Path::new("nodes.json"));
    }

    #[test]
    fn ini_like_text_never_panics_and_errors_name_a_line(
        lines in prop::collection::vec(
            prop_oneof![
                Just("[p2p]".to_owned()),
                Just("[certificate_blacklist]".to_owned()),
                "node\\.[0-9]=[0-9.:\\[\\]a-z]{0,20}",
                "crl\\.[0-9]=[0-9a-f]{0,130}",
                "listen_(ip|port)=[0-9.:]{0,16}",
                "[a-z ;#=]{0,12}",
            ],
            0..12,
        )
    ) {
        let text = lines.join("\n");
        if let Err(error) = fisco_ini::parse(&text, Path::new("config.ini")) {
            prop_assert!(error.line().is_some(), "{}", error);
        }
    }
}
