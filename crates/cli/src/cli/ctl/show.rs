//! How `ctl` prints answers: their JSON (`--json`, each answer written back from its `api`
//! type), or readable lines and tables in which every string that came from the network is
//! escaped (see `terminal.rs`), node IDs are shortened unless `--wide`, and payloads are shown
//! as they are with `--raw`. Events are put in words in `event_line.rs`.

#![allow(clippy::print_stdout)]

use std::io::Write as _;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use fisco_p2p::identity::NodeId;
use fisco_p2p_admin::api::{self, Data};
use serde::Serialize;

use super::event_line;
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
    let mut short = cut_to(text, max);
    short.push('…');
    short
}

/// The first `max` characters of `text`.
fn cut_to(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn yes_no(value: bool) -> String {
    match value {
        true => "yes".to_owned(),
        false => "no".to_owned(),
    }
}

impl Output {
    pub(super) fn new(json: bool, wide: bool, raw: bool) -> Self {
        Self { json, wide, raw }
    }

    /// Prints the JSON of `value` and returns true in `--json` mode.
    fn as_json(&self, value: &impl Serialize) -> anyhow::Result<bool> {
        if self.json {
            println!("{}", serde_json::to_string(value)?);
        }
        Ok(self.json)
    }

    /// Text from the network, escaped.
    pub(super) fn text(&self, text: &str) -> String {
        escape(text).into_owned()
    }

    /// Texts from the network, escaped and joined by commas; `-` for none.
    pub(super) fn list(&self, items: &[String]) -> String {
        if items.is_empty() {
            return "-".to_owned();
        }
        let items: Vec<String> = items.iter().map(|item| self.text(item)).collect();
        items.join(",")
    }

    /// A node ID, shortened unless `--wide`.
    pub(super) fn id(&self, id: &NodeId) -> String {
        let id = id.to_string();
        match id.chars().count() > SHORT_ID && !self.wide {
            true => format!("{}…", self.text(&cut_to(&id, SHORT_ID))),
            false => self.text(&id),
        }
    }

    /// A node ID that may be absent: `-` when it is.
    pub(super) fn maybe_id(&self, id: Option<&NodeId>) -> String {
        id.map_or_else(|| "-".to_owned(), |id| self.id(id))
    }

    /// A payload: the text of `data` (escaped unless `--raw`), or `data_base64` marked as such,
    /// or the size of a payload the feed left out.
    pub(super) fn payload(&self, data: &Data) -> String {
        match data {
            Data::Text { data } if self.raw => data.clone(),
            Data::Text { data } => self.text(data),
            Data::Base64 { data_base64 } => format!("{} (base64)", self.text(data_base64)),
            Data::Omitted { size, .. } => format!("({size} bytes, not shown)"),
        }
    }

    pub(super) fn status(&self, status: &api::Status) -> anyhow::Result<()> {
        if self.as_json(status)? {
            return Ok(());
        }
        for (name, value) in [
            ("node ID", self.text(&status.node_id.to_string())),
            ("listen", self.list(&status.listen)),
            ("seq", status.seq.to_string()),
            ("topics", self.list(&status.topics)),
            ("connected", status.connected.to_string()),
            ("routes", status.routes.to_string()),
        ] {
            println!("{name:<10} {value}");
        }
        Ok(())
    }

    /// The application state of a peer: `key=value` pairs, values cut unless `--wide`.
    fn state(&self, peer: &api::Peer) -> String {
        let width = if self.wide { usize::MAX } else { SHORT_VALUE };
        let text = peer.state.iter().map(|(key, value)| (key, value, ""));
        let binary = peer
            .state_base64
            .iter()
            .map(|(key, value)| (key, value, " (base64)"));
        let pairs: Vec<String> = text
            .chain(binary)
            .map(|(key, value, mark)| {
                let value = cut(&self.text(value), width);
                format!("{}={value}{mark}", self.text(key))
            })
            .collect();
        if pairs.is_empty() {
            "-".to_owned()
        } else {
            pairs.join(",")
        }
    }

    pub(super) fn peers(&self, peers: &[api::Peer]) -> anyhow::Result<()> {
        if self.as_json(&peers)? {
            return Ok(());
        }
        let rows: Vec<Vec<String>> = peers
            .iter()
            .map(|p| {
                vec![
                    self.id(&p.node_id),
                    yes_no(p.connected),
                    yes_no(p.online),
                    p.seq.to_string(),
                    self.list(&p.topics),
                    self.state(p),
                    self.list(&p.addrs),
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
        Ok(())
    }

    pub(super) fn routes(&self, routes: &[api::Route]) -> anyhow::Result<()> {
        if self.as_json(&routes)? {
            return Ok(());
        }
        let rows: Vec<Vec<String>> = routes
            .iter()
            .map(|r| {
                let path: Vec<String> = r.path.iter().map(|id| self.id(id)).collect();
                vec![
                    self.id(&r.destination),
                    self.id(&r.next_hop),
                    r.hops.to_string(),
                    path.join(" > "),
                ]
            })
            .collect();
        table(&["DESTINATION", "NEXT HOP", "HOPS", "PATH"], &rows);
        Ok(())
    }

    pub(super) fn static_peers(&self, peers: &[api::StaticPeer]) -> anyhow::Result<()> {
        if self.as_json(&peers)? {
            return Ok(());
        }
        let rows: Vec<Vec<String>> = peers
            .iter()
            .map(|p| {
                let node = match p.own_address {
                    true => "(this node)".to_owned(),
                    false => self.maybe_id(p.connected.as_ref()),
                };
                vec![self.text(&p.addr), node]
            })
            .collect();
        table(&["ADDRESS", "CONNECTED NODE"], &rows);
        Ok(())
    }

    /// A reply: `reply from <ID>: <data>`; with `--raw`, the payload's bytes alone.
    pub(super) fn reply(&self, reply: &api::Reply) -> anyhow::Result<()> {
        if self.as_json(reply)? {
            return Ok(());
        }
        if self.raw {
            let bytes = match &reply.data {
                Data::Text { data } => data.as_bytes().to_vec(),
                Data::Base64 { data_base64 } => BASE64.decode(data_base64)?,
                Data::Omitted { .. } => Vec::new(),
            };
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes)?;
            stdout.flush()?;
            return Ok(());
        }
        println!(
            "reply from {}: {}",
            self.text(&reply.from.to_string()),
            self.payload(&reply.data)
        );
        Ok(())
    }

    pub(super) fn multicast(&self, answer: &api::Multicast) -> anyhow::Result<()> {
        if !self.as_json(answer)? {
            println!(
                "sent to {} follower(s) of topic {}",
                answer.sent_to,
                self.text(&answer.topic)
            );
        }
        Ok(())
    }

    pub(super) fn broadcast(&self, answer: &api::Broadcast) -> anyhow::Result<()> {
        if !self.as_json(answer)? {
            println!("broadcast sent");
        }
        Ok(())
    }

    pub(super) fn subscription(
        &self,
        answer: &api::Subscription,
        subscribe: bool,
    ) -> anyhow::Result<()> {
        if self.as_json(answer)? {
            return Ok(());
        }
        let topic = self.text(&answer.topic);
        match (subscribe, answer.changed) {
            (true, true) => println!("now following topic {topic}"),
            (true, false) => println!("already following topic {topic}"),
            (false, true) => println!("no longer following topic {topic}"),
            (false, false) => println!("was not following topic {topic}"),
        }
        Ok(())
    }

    pub(super) fn peer_added(&self, answer: &api::PeerAdded) -> anyhow::Result<()> {
        if self.as_json(answer)? {
            return Ok(());
        }
        let addr = self.text(&answer.addr);
        match answer.added {
            true => println!(
                "static peer {addr} added (kept across SIGHUP reloads until removed; add it to \
                 the configuration file to keep it across restarts)"
            ),
            false => println!("{addr} is already a static peer"),
        }
        Ok(())
    }

    pub(super) fn peer_removed(&self, answer: &api::PeerRemoved) -> anyhow::Result<()> {
        if self.as_json(answer)? {
            return Ok(());
        }
        let addr = self.text(&answer.addr);
        match answer.removed {
            true => println!("static peer {addr} removed"),
            false => println!("{addr} was not a static peer"),
        }
        Ok(())
    }

    /// One event per line: its type, then its fields as `key=value`, everything escaped.
    pub(super) fn event(&self, event: &api::Event) -> anyhow::Result<()> {
        if !self.as_json(event)? {
            println!("{}", event_line::line(self, event));
        }
        Ok(())
    }
}
