//! How `ctl` prints answers: the JSON as the API gave it (`--json`), or readable lines and
//! tables.

#![allow(clippy::print_stdout)]

use serde_json::Value;

/// Prints answers in the chosen form.
pub(super) struct Output {
    json: bool,
}

/// A JSON value as plain text: strings without quotes, null as `-`.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A payload field pair: the text of `data`, or `data_base64` marked as such.
fn payload(value: &Value) -> String {
    match (&value["data"], &value["data_base64"]) {
        (Value::String(text), _) => text.clone(),
        (_, Value::String(encoded)) => format!("{encoded} (base64)"),
        _ => "-".to_owned(),
    }
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

impl Output {
    pub(super) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints the JSON and returns true in `--json` mode.
    fn raw(&self, value: &Value) -> bool {
        if self.json {
            println!("{value}");
        }
        self.json
    }

    pub(super) fn status(&self, status: &Value) {
        if self.raw(status) {
            return;
        }
        for (name, key) in [
            ("node ID", "node_id"),
            ("listen", "listen"),
            ("seq", "seq"),
            ("topics", "topics"),
            ("connected", "connected"),
        ] {
            println!("{name:<10} {}", plain(&status[key]));
        }
    }

    pub(super) fn peers(&self, peers: &Value) {
        if self.raw(peers) {
            return;
        }
        let rows: Vec<Vec<String>> = peers
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                vec![
                    plain(&p["node_id"]),
                    yes_no(&p["connected"]),
                    yes_no(&p["online"]),
                    plain(&p["seq"]),
                    plain(&p["topics"]),
                    plain(&p["addrs"]),
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
                "ADDRESSES",
            ],
            &rows,
        );
    }

    pub(super) fn static_peers(&self, peers: &Value) {
        if self.raw(peers) {
            return;
        }
        let rows: Vec<Vec<String>> = peers
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let node = match (&p["connected"], &p["own_address"]) {
                    (_, Value::Bool(true)) => "(this node)".to_owned(),
                    (connected, _) => plain(connected),
                };
                vec![plain(&p["addr"]), node]
            })
            .collect();
        table(&["ADDRESS", "CONNECTED NODE"], &rows);
    }

    pub(super) fn reply(&self, reply: &Value) {
        if !self.raw(reply) {
            println!("reply from {}: {}", plain(&reply["from"]), payload(reply));
        }
    }

    pub(super) fn multicast(&self, answer: &Value) {
        if !self.raw(answer) {
            println!(
                "sent to {} follower(s) of topic {}",
                plain(&answer["sent_to"]),
                plain(&answer["topic"])
            );
        }
    }

    pub(super) fn broadcast(&self, answer: &Value) {
        if !self.raw(answer) {
            println!("broadcast sent");
        }
    }

    pub(super) fn subscription(&self, answer: &Value, subscribe: bool) {
        if self.raw(answer) {
            return;
        }
        let topic = plain(&answer["topic"]);
        let changed = answer["changed"] == Value::Bool(true);
        match (subscribe, changed) {
            (true, true) => println!("now following topic {topic}"),
            (true, false) => println!("already following topic {topic}"),
            (false, true) => println!("no longer following topic {topic}"),
            (false, false) => println!("was not following topic {topic}"),
        }
    }

    pub(super) fn peer_change(&self, answer: &Value) {
        if self.raw(answer) {
            return;
        }
        let addr = plain(&answer["addr"]);
        match (&answer["added"], &answer["removed"]) {
            (Value::Bool(true), _) => println!("static peer {addr} added"),
            (Value::Bool(false), _) => println!("{addr} is already a static peer"),
            (_, Value::Bool(true)) => println!("static peer {addr} removed"),
            _ => println!("{addr} was not a static peer"),
        }
    }

    /// One event per line: its type, then its fields as `key=value`.
    pub(super) fn event(&self, event: &Value) {
        if self.raw(event) {
            return;
        }
        let mut line = plain(&event["type"]);
        if let Value::Object(fields) = event {
            for (key, value) in fields.iter().filter(|(k, _)| *k != "type") {
                line.push_str(&format!(" {key}={}", plain(value)));
            }
        }
        println!("{line}");
    }
}

fn yes_no(value: &Value) -> String {
    match value {
        Value::Bool(true) => "yes".to_owned(),
        _ => "no".to_owned(),
    }
}
