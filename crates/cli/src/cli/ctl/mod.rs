//! `fisco-p2p ctl`: a thin client of a running node's admin API. Readable output by default,
//! with everything that came from the network escaped (`--raw` for payloads as they are); the
//! API's JSON with `--json`. Any failure is one line on stderr (a JSON object with `--json`) and
//! a non-zero exit.

mod event_line;
mod show;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{builder::PossibleValuesParser, Args, Subcommand};
use fisco_p2p_admin::{api, client::Client, EVENT_TYPES};

/// A call waits this long when `--timeout` is not given.
const DEFAULT_TIMEOUT: u64 = 30;
/// How much longer than a request's own timeout the client waits for the API's answer, so the
/// node reports a timeout of the peer rather than the client one of the API.
const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `fisco-p2p ctl`.
#[derive(Debug, Args)]
pub(crate) struct CtlArgs {
    /// Address of the node's admin API (`admin` in node.toml; node0 of `certs network` uses
    /// 127.0.0.1:31300).
    #[arg(
        long,
        global = true,
        value_name = "ADDR",
        default_value = "127.0.0.1:31300"
    )]
    admin: SocketAddr,
    /// Print the API's JSON (one object per line for `events`; errors as {"error": ...} on
    /// stderr) instead of readable text.
    #[arg(long, global = true)]
    json: bool,
    /// Give up on a call after this many seconds (default 30; a request also asks the node to
    /// give up on the peer by then; `events` waits for events as long as needed).
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// File holding the admin API's token (`admin_token_file` of the node).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "FISCO_P2P_ADMIN_TOKEN_FILE"
    )]
    token_file: Option<PathBuf>,
    /// Show full node IDs and state values (tables show the first 12 hex characters).
    #[arg(long, global = true)]
    wide: bool,
    /// Print payloads exactly as received: a reply as its bytes alone, event data unescaped.
    /// Without it, control characters from the network are shown escaped (\x1b, \n).
    #[arg(long, global = true)]
    raw: bool,
    /// What to ask.
    #[command(subcommand)]
    command: CtlCommand,
}

/// A message payload given on the command line.
#[derive(Debug, Args)]
struct PayloadArgs {
    /// The data: UTF-8 text, or base64 with --base64.
    data: String,
    /// DATA is base64 (for binary payloads).
    #[arg(long)]
    base64: bool,
    /// Application module (default 0, which `run` daemons answer by echoing).
    #[arg(long)]
    module: Option<u16>,
}

impl PayloadArgs {
    /// `(data, data_base64)`: DATA in the field its form goes in.
    fn data(self) -> (Option<String>, Option<String>) {
        match self.base64 {
            true => (None, Some(self.data)),
            false => (Some(self.data), None),
        }
    }

    /// The body of `POST /v1/request`.
    fn request(self, to: String, timeout_ms: Option<u64>) -> api::RequestBody {
        let module = self.module;
        let (data, data_base64) = self.data();
        api::RequestBody {
            to,
            module,
            data,
            data_base64,
            timeout_ms,
        }
    }

    /// The body of `POST /v1/send-topic` and `/v1/multicast`.
    fn topic(self, topic: String) -> api::TopicBody {
        let module = self.module;
        let (data, data_base64) = self.data();
        api::TopicBody {
            topic,
            module,
            data,
            data_base64,
        }
    }

    /// The body of `POST /v1/broadcast`.
    fn broadcast(self) -> api::BroadcastBody {
        let module = self.module;
        let (data, data_base64) = self.data();
        api::BroadcastBody {
            module,
            data,
            data_base64,
        }
    }
}

/// The `ctl` subcommands.
#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// The node's ID, listen addresses, seq, topics, connected nodes and routes.
    Status,
    /// Every node known (connected or not); with --static, the static peer list.
    Peers {
        /// Show the static peers and who is connected at each address.
        #[arg(long = "static")]
        static_peers: bool,
    },
    /// Every node this node has a route to: the next hop, the links to it and the path.
    Routes,
    /// Send a request to one node and print its reply.
    Request {
        /// The node ID: 128 hex characters (FISCO 2.x node.nodeid), or for a FISCO 3.x node its
        /// P2P ID or the 512-hex modulus of its conf/ssl.nodeid.
        node: String,
        #[command(flatten)]
        payload: PayloadArgs,
        /// Timeout of this request in milliseconds (default: --timeout when given, else the
        /// node's).
        #[arg(long, value_name = "MS")]
        timeout_ms: Option<u64>,
    },
    /// Send a request to one follower of a topic (another on failure) and print the reply.
    SendTopic {
        /// The topic.
        topic: String,
        #[command(flatten)]
        payload: PayloadArgs,
    },
    /// Send a message to every follower of a topic.
    Multicast {
        /// The topic.
        topic: String,
        #[command(flatten)]
        payload: PayloadArgs,
    },
    /// Send a message to every node.
    Broadcast {
        #[command(flatten)]
        payload: PayloadArgs,
    },
    /// Follow a topic.
    Subscribe {
        /// The topic.
        topic: String,
    },
    /// Stop following a topic.
    Unsubscribe {
        /// The topic.
        topic: String,
    },
    /// Add a static peer (ip:port, [v6]:port, host:port or a multiaddr).
    AddPeer {
        /// The address.
        addr: String,
    },
    /// Remove a static peer and disconnect the node there.
    RemovePeer {
        /// The address.
        addr: String,
    },
    /// Print the node's events as they happen (Ctrl-C to stop).
    Events {
        /// Exit after this many events.
        #[arg(long, value_name = "N")]
        count: Option<usize>,
        /// Only events of this type; repeat for several.
        #[arg(long = "type", value_name = "TYPE", value_parser = PossibleValuesParser::new(EVENT_TYPES))]
        types: Vec<String>,
    },
}

impl CtlArgs {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let json = self.json;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        match runtime.block_on(self.run_async()) {
            Err(error) if json => Err(super::ReportedError::json(&error).into()),
            other => other,
        }
    }

    /// The client: its timeout (longer for a request, which then carries the timeout itself),
    /// and its token.
    fn client(&self) -> anyhow::Result<Client> {
        let mut timeout = Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT));
        if self.request_timeout_ms().is_some() {
            timeout += ANSWER_GRACE;
        }
        let client = Client::new(self.admin).with_timeout(timeout);
        match &self.token_file {
            Some(path) => Ok(client.with_token_file(path)?),
            None => Ok(client),
        }
    }

    /// The `timeout_ms` a request carries: `--timeout-ms`, else `--timeout` when given.
    fn request_timeout_ms(&self) -> Option<u64> {
        match &self.command {
            CtlCommand::Request { timeout_ms, .. } => {
                timeout_ms.or_else(|| self.timeout.map(|seconds| seconds.saturating_mul(1000)))
            }
            _ => None,
        }
    }

    async fn run_async(self) -> anyhow::Result<()> {
        let client = self.client()?;
        let request_timeout = self.request_timeout_ms();
        let out = show::Output::new(self.json, self.wide, self.raw);
        match self.command {
            CtlCommand::Status => out.status(&client.status().await?),
            CtlCommand::Peers { static_peers: true } => {
                out.static_peers(&client.static_peers().await?)
            }
            CtlCommand::Peers {
                static_peers: false,
            } => out.peers(&client.peers().await?),
            CtlCommand::Routes => out.routes(&client.routes().await?),
            CtlCommand::Request { node, payload, .. } => {
                let body = payload.request(node, request_timeout);
                out.reply(&client.request(&body).await?)
            }
            CtlCommand::SendTopic { topic, payload } => {
                out.reply(&client.send_topic(&payload.topic(topic)).await?)
            }
            CtlCommand::Multicast { topic, payload } => {
                out.multicast(&client.multicast(&payload.topic(topic)).await?)
            }
            CtlCommand::Broadcast { payload } => {
                out.broadcast(&client.broadcast(&payload.broadcast()).await?)
            }
            CtlCommand::Subscribe { topic } => {
                let answer = client.subscribe(&api::SubscribeBody { topic }).await?;
                out.subscription(&answer, true)
            }
            CtlCommand::Unsubscribe { topic } => {
                let answer = client.unsubscribe(&api::SubscribeBody { topic }).await?;
                out.subscription(&answer, false)
            }
            CtlCommand::AddPeer { addr } => {
                out.peer_added(&client.add_peer(&api::AddrBody { addr }).await?)
            }
            CtlCommand::RemovePeer { addr } => {
                out.peer_removed(&client.remove_peer(&api::AddrBody { addr }).await?)
            }
            CtlCommand::Events { count, types } => events(&client, &out, count, &types).await,
        }
    }
}

/// Prints events until `count` have been printed, the stream ends, or Ctrl-C.
async fn events(
    client: &Client,
    out: &show::Output,
    count: Option<usize>,
    types: &[String],
) -> anyhow::Result<()> {
    let mut stream = client.events().await?;
    let mut printed = 0;
    while count.is_none_or(|count| printed < count) {
        let next = tokio::select! {
            next = stream.next() => next?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = next else {
            anyhow::bail!("the event stream ended: the node or its admin API stopped");
        };
        if types.is_empty() || types.iter().any(|t| t == event.kind()) {
            out.event(&event)?;
            printed += 1;
        }
    }
    Ok(())
}
