//! How `ctl` prints answers: the JSON as the API gave it (`--json`), or readable lines and
//! tables in which every string that came from the network is escaped (see `terminal.rs`),
//! node IDs are shortened unless `--wide`, and payloads are shown as they are with `--raw`.

#![allow(clippy::print_stdout)]

use std::io::Write as _;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde_json::Value;

use crate::cli::terminal::escape;

/// Hex characters of a node ID shown in tables and events without `--wide`.
const SHORT_ID: usize = 12;
/// Characters of a state value shown in the peers table without `--wide`.
const SHORT_VALUE: usize = 24;

/// Prints answers in the chosen form.
pub(super) struct Output {
    json: bool,
    wide: bool,
    raw: bool,
}

/// Prints rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max).collect();
    short.push('…');
    short
}

fn yes_no(value: &Value) -> String {
    match value {
        Value::Bool(true) => "yes".to_owned(),
        _ => "no".to_owned(),
    }
}

impl Output {
    pub(super) fn new(json: bool, wide: bool, raw: bool) -> Self {
        Self { json, wide, raw }
    }

    /// Prints the JSON and returns true in `--json` mode.
    fn as_json(&self, value: &Value) -> bool {
        if self.json {
            println!("{value}");
        }
        self.json
    }

    /// A JSON value as plain, escaped text: strings without quotes, null and `[]` as `-`.
    fn plain(&self, value: &Value) -> String {
        match value {
            Value::String(text) => escape(text).into_owned(),
            Value::Null => "-".to_owned(),
            Value::Array(items) if items.is_empty() => "-".to_owned(),
            Value::Array(items) => items
                .iter()
                .map(|item| self.plain(item))
                .collect::<Vec<_>>()
                .join(","),
            other => escape(&other.to_string()).into_owned(),
        }
    }

    /// A node ID, shortened unless `--wide`.
    fn id(&self, value: &Value) -> String {
        match value {
            Value::String(id) if !self.wide && id.len() > SHORT_ID => {
                format!("{}…", escape(&id[..SHORT_ID.min(id.len())]))
            }
            other => self.plain(other),
        }
    }

    /// A payload: the text of `data` (escaped unless `--raw`), or `data_base64` marked as such,
    /// or the size of a payload the feed left out.
    fn payload(&self, value: &Value) -> String {
        match (&value["data"], &value["data_base64"], &value["size"]) {
            (Value::String(text), _, _) if self.raw => text.clone(),
            (Value::String(text), _, _) => escape(text).into_owned(),
            (_, Value::String(encoded), _) => format!("{encoded} (base64)"),
            (_, _, Value::Number(size)) => format!("({size} bytes, not shown)"),
            _ => "-".to_owned(),
        }
    }

    pub(super) fn status(&self, status: &Value) {
        if self.as_json(status) {
            return;
        }
        for (name, key) in [
            ("node ID", "node_id"),
            ("listen", "listen"),
            ("seq", "seq"),
            ("topics", "topics"),
            ("connected", "connected"),
            ("routes", "routes"),
        ] {
            println!("{name:<10} {}", self.plain(&status[key]));
        }
    }

    /// The application state of a peer: `key=value` pairs, values cut unless `--wide`.
    fn state(&self, peer: &Value) -> String {
        let width = if self.wide { usize::MAX } else { SHORT_VALUE };
        let mut pairs = Vec::new();
        for (field, binary) in [("state", false), ("state_base64", true)] {
            if let Value::Object(state) = &peer[field] {
                for (key, value) in state {
                    let value = self.plain(value);
                    let value = if binary {
                        format!("{} (base64)", cut(&value, width))
                    } else {
                        cut(&value, width)
                    };
                    pairs.push(format!("{}={value}", escape(key)));
                }
            }
        }
        if pairs.is_empty() {
            "-".to_owned()
        } else {
            pairs.join(",")
        }
    }

    pub(super) fn peers(&self, peers: &Value) {
        if self.as_json(peers) {
            return;
        }
        let rows: Vec<Vec<String>> = peers
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                vec![
                    self.id(&p["node_id"]),
                    yes_no(&p["connected"]),
                    yes_no(&p["online"]),
                    self.plain(&p["seq"]),
                    self.plain(&p["topics"]),
                    self.state(p),
                    self.plain(&p["addrs"]),
                ]
            })
            .collect();
        table(
            &[
                "NODE ID",
                "CONNECTED",
                "ONLINE",
                "SEQ",
                "TOPICS",
                "STATE",
                "ADDRESSES",
            ],
            &rows,
        );
    }

    pub(super) fn routes(&self, routes: &Value) {
        if self.as_json(routes) {
            return;
        }
        let rows: Vec<Vec<String>> = routes
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let path: Vec<String> = r["path"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|id| self.id(id))
                    .collect();
                vec![
                    self.id(&r["destination"]),
                    self.id(&r["next_hop"]),
                    self.plain(&r["hops"]),
                    path.join(" > "),
                ]
            })
            .collect();
        table(&["DESTINATION", "NEXT HOP", "HOPS", "PATH"], &rows);
    }

    pub(super) fn static_peers(&self, peers: &Value) {
        if self.as_json(peers) {
            return;
        }
        let rows: Vec<Vec<String>> = peers
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let node = match (&p["connected"], &p["own_address"]) {
                    (_, Value::Bool(true)) => "(this node)".to_owned(),
                    (connected, _) => self.id(connected),
                };
                vec![self.plain(&p["addr"]), node]
            })
            .collect();
        table(&["ADDRESS", "CONNECTED NODE"], &rows);
    }

    /// A reply: `reply from <ID>: <data>`; with `--raw`, the payload's bytes alone.
    pub(super) fn reply(&self, reply: &Value) -> anyhow::Result<()> {
        if self.as_json(reply) {
            return Ok(());
        }
        if self.raw {
            let bytes = match (&reply["data"], &reply["data_base64"]) {
                (Value::String(text), _) => text.as_bytes().to_vec(),
                (_, Value::String(encoded)) => BASE64.decode(encoded)?,
                _ => Vec::new(),
            };
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes)?;
            stdout.flush()?;
            return Ok(());
        }
        println!(
            "reply from {}: {}",
            self.plain(&reply["from"]),
            self.payload(reply)
        );
        Ok(())
    }

    pub(super) fn multicast(&self, answer: &Value) {
        if !self.as_json(answer) {
            println!(
                "sent to {} follower(s) of topic {}",
                self.plain(&answer["sent_to"]),
                self.plain(&answer["topic"])
            );
        }
    }

    pub(super) fn broadcast(&self, answer: &Value) {
        if !self.as_json(answer) {
            println!("broadcast sent");
        }
    }

    pub(super) fn subscription(&self, answer: &Value, subscribe: bool) {
        if self.as_json(answer) {
            return;
        }
        let topic = self.plain(&answer["topic"]);
        let changed = answer["changed"] == Value::Bool(true);
        match (subscribe, changed) {
            (true, true) => println!("now following topic {topic}"),
            (true, false) => println!("already following topic {topic}"),
            (false, true) => println!("no longer following topic {topic}"),
            (false, false) => println!("was not following topic {topic}"),
        }
    }

    pub(super) fn peer_change(&self, answer: &Value) {
        if self.as_json(answer) {
            return;
        }
        let addr = self.plain(&answer["addr"]);
        match (&answer["added"], &answer["removed"]) {
            (Value::Bool(true), _) => println!(
                "static peer {addr} added (kept across SIGHUP reloads until removed; add it to \
                 the configuration file to keep it across restarts)"
            ),
            (Value::Bool(false), _) => println!("{addr} is already a static peer"),
            (_, Value::Bool(true)) => println!("static peer {addr} removed"),
            _ => println!("{addr} was not a static peer"),
        }
    }

    /// One event per line: its type, then its fields as `key=value`, everything escaped.
    pub(super) fn event(&self, event: &Value) {
        if self.as_json(event) {
            return;
        }
        let mut line = self.plain(&event["type"]);
        let mut payload_shown = false;
        if let Value::Object(fields) = event {
            for (key, value) in fields.iter().filter(|(k, _)| *k != "type") {
                let shown = match key.as_str() {
                    "node_id" | "from" => self.id(value),
                    "data" | "data_base64" | "size" | "data_omitted" => {
                        if payload_shown {
                            continue;
                        }
                        payload_shown = true;
                        line.push_str(&format!(" data={}", self.payload(event)));
                        continue;
                    }
                    _ => self.plain(value),
                };
                line.push_str(&format!(" {}={shown}", escape(key)));
            }
        }
        println!("{line}");
    }
}
