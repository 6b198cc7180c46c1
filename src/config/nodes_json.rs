//! FISCO BCOS 3.x `nodes.json`: the static peer list, `{"nodes": ["ip:port", ...]}`. Other keys
//! are ignored, as FISCO ignores them.

use std::path::Path;

use serde::Deserialize;
use serde_json::error::Category;

use super::error::{ConfigError, Location};
use super::file::NodeFile;
use super::value::Address;

#[derive(Deserialize)]
struct NodesJson {
    nodes: Vec<Address>,
}

/// Reads the `nodes.json` at `path`.
pub(crate) fn load(path: &Path) -> Result<NodeFile, ConfigError> {
    parse(&super::read_text(path)?, path)
}

/// Reads `text`, the contents of the `nodes.json` at `path`, into a [`NodeFile`] holding only
/// peers.
pub(crate) fn parse(text: &str, path: &Path) -> Result<NodeFile, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed: NodesJson = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        // serde_json counts lines from 1, and says 0 when it has no position.
        let location = Location::new(path, Some(inner.line()).filter(|l| *l > 0));
        match inner.classify() {
            Category::Data => ConfigError::from_serde(location, e.path(), &data_message(inner)),
            Category::Syntax | Category::Eof | Category::Io => ConfigError::Syntax {
                location,
                format: "JSON",
                message: data_message(inner),
            },
        }
    })?;
    deserializer.end().map_err(|e| ConfigError::Syntax {
        location: Location::new(path, Some(e.line())),
        format: "JSON",
        message: data_message(&e),
    })?;
    let mut file = NodeFile::default().with_peers(parsed.nodes);
    file.set_source(path);
    Ok(file)
}

/// serde_json's message without the " at line L column C" it appends: the location says it.
fn data_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> NodeFile {
        parse(text, Path::new("conf/nodes.json")).unwrap()
    }

    fn parse_err(text: &str) -> ConfigError {
        parse(text, Path::new("conf/nodes.json")).unwrap_err()
    }

    #[test]
    fn reads_the_peer_list_in_order() {
        let file = parse_ok(r#"{"nodes":["127.0.0.1:30300","[::1]:30301","node2.example:30302"]}"#);
        let peers: Vec<String> = file
            .peers()
            .iter()
            .map(|p| p.multiaddr().to_string())
            .collect();
        assert_eq!(
            peers,
            [
                "/ip4/127.0.0.1/tcp/30300",
                "/ip6/::1/tcp/30301",
                "/dns/node2.example/tcp/30302"
            ]
        );
        assert_eq!(file.dir(), None);
        assert!(file.listen().is_empty());
        assert_eq!(file.source(), Some(Path::new("conf/nodes.json")));
    }

    #[test]
    fn an_empty_list_is_fine() {
        assert!(parse_ok(r#"{ "nodes": [] }"#).peers().is_empty());
    }

    #[test]
    fn a_bad_address_names_its_index_line_and_file() {
        let error = parse_err("{\"nodes\": [\n  \"127.0.0.1:30300\",\n  \"127.0.0.1\"\n]}");
        assert_eq!(error.key(), Some("nodes[1]"));
        assert_eq!(error.line(), Some(3));
        let text = error.to_string();
        assert!(
            text.starts_with("conf/nodes.json:3: key `nodes[1]`"),
            "{text}"
        );
        assert!(text.contains("no port"), "{text}");
    }

    #[test]
    fn other_keys_are_ignored_as_fisco_does_and_a_missing_list_is_named() {
        let file = parse_ok(r#"{"nodes": ["127.0.0.1:1"], "comment": "group0", "node": []}"#);
        assert_eq!(file.peers().len(), 1);
        let error = parse_err(r#"{"node": []}"#);
        assert_eq!(error.key(), Some("nodes"), "{error}");
        let error = parse_err(r#"{}"#);
        assert_eq!(error.key(), Some("nodes"), "{error}");
        assert!(error.to_string().contains("missing"), "{error}");
    }

    #[test]
    fn wrong_types_and_broken_json_are_refused() {
        let error = parse_err(r#"{"nodes": "127.0.0.1:30300"}"#);
        assert_eq!(error.key(), Some("nodes"), "{error}");
        let error = parse_err(r#"{"nodes": [1]}"#);
        assert_eq!(error.key(), Some("nodes[0]"), "{error}");
        let error = parse_err("{\"nodes\": [\"127.0.0.1:1\",]}");
        assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
        let error = parse_err("{\"nodes\": []} trailing");
        assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    }
}
