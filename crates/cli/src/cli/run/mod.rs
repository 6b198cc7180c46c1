//! `fisco-p2p run`: run one node from a configuration file and flags, with its admin API.
//!
//! Logs go to stderr (`RUST_LOG`, default `info`). Stdout gets exactly one line once the node
//! is up, for scripts: `node <ID> listening on <ADDR>[,<ADDR>...] admin <ADDR|off>`.
//! SIGINT and SIGTERM stop the node gracefully; SIGHUP (and SIGUSR1, FISCO 3.x's reload signal)
//! re-reads the configuration file (and a FISCO 3.x `config.ini`'s `nodes.json`) and applies its
//! static peers and black/white lists: peers removed from the file are removed,
//! peers added to it are dialled, and peers added at runtime (`ctl add-peer`) stay (peers given
//! with `--peer` stay as given).

#![allow(clippy::print_stdout)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context as _};
use clap::Args;
use fisco_p2p::{
    config::{self, Address, NodeFile, NODE_TOML_FILE},
    identity::NodeIdentity,
    node::{Handle, Node},
};
use fisco_p2p_admin as admin;
use fisco_p2p_metrics::Metrics;
use tokio::sync::oneshot;

mod signals;

/// How long the admin API and the node each get to stop before the process exits anyway.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `fisco-p2p run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Configuration file: a node.toml, a FISCO 2.x or 3.x config.ini (told apart by its keys),
    /// or a FISCO 3.x nodes.json (peers only). Without it, NODEDIR/node.toml is read when it
    /// exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Node directory holding node.key, node.crt and ca.crt (FISCO 2.x), or ssl.key, ssl.crt
    /// and ca.crt (FISCO 3.x conf/); overrides the file's `dir` and a config.ini's certificate
    /// files.
    #[arg(long, value_name = "NODEDIR")]
    dir: Option<PathBuf>,
    /// Address to listen on: ip:port, [v6]:port, host:port or a multiaddr; repeat for several.
    /// Replaces the file's `listen`.
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<Address>,
    /// Static peer, in the same forms; repeat for several. Replaces the file's `peers`.
    #[arg(long = "peer", value_name = "ADDR")]
    peers: Vec<Address>,
    /// Address of the admin API, ip:port (port 0 picks one). Overrides the file's `admin`.
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Allow the admin API on a non-loopback address (needs a token file).
    #[arg(long)]
    admin_public: bool,
    /// File holding the admin API's bearer token; every request must then present it.
    /// Overrides the file's `admin_token_file`.
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Topic to follow from the start; repeat for several. Replaces the file's `topics`.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
}

impl RunArgs {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        init_logs();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(self.run_async())
    }

    /// The configuration file to read: `--config`, else NODEDIR/node.toml when it exists.
    fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let candidate = self.dir.as_ref()?.join(NODE_TOML_FILE);
            candidate.is_file().then_some(candidate)
        })
    }

    /// The file's settings with the flags applied over them.
    fn settings(&self, path: Option<&Path>) -> anyhow::Result<NodeFile> {
        let mut file = match path {
            Some(path) => config::load(path)?,
            None => NodeFile::default(),
        };
        if let Some(dir) = &self.dir {
            file = file.with_dir(dir);
        }
        if !self.listen.is_empty() {
            file = file.with_listen(self.listen.clone());
        }
        if !self.peers.is_empty() {
            file = file.with_peers(self.peers.clone());
        }
        if self.admin.is_some() {
            file = file.with_admin(self.admin);
        }
        if self.admin_public {
            file = file.with_admin_public(true);
        }
        if self.admin_token_file.is_some() {
            file = file.with_admin_token_file(self.admin_token_file.clone());
        }
        if !self.topics.is_empty() {
            file = file.with_topics(self.topics.clone());
        }
        Ok(file)
    }

    async fn run_async(self) -> anyhow::Result<()> {
        let path = self.config_path();
        let settings = self.settings(path.as_deref())?;
        report_unused(path.as_deref(), &settings);
        let identity = load_identity(&settings)?;
        if settings.peers().is_empty() {
            tracing::warn!(
                "no static peers configured: this node only waits for others to connect \
                 (give peers in the configuration file or with --peer)"
            );
        }
        let admin_config = admin_config(&settings)?;
        let metrics = Arc::new(Metrics::new());
        let (handle, _) = Node::spawn(identity, node_config(&settings, &metrics))
            .await
            .context("cannot start the node")?;
        let admin_config = admin_config.with_metrics(metrics);
        // The service echoes the default module whether or not the API is served.
        let service = admin::Service::start(handle.clone(), admin_config).await?;
        let listener = match settings.admin() {
            Some(address) => Some(admin::bind(address, settings.admin_public()).await?),
            None => None,
        };
        announce(&handle, listener.as_ref()).await?;
        let (stop_admin, admin_stopped) = oneshot::channel::<()>();
        // Without an admin API the service stays here, echoing, until the node stops.
        let (server, _service) = match listener {
            Some(listener) => {
                let stopped = async {
                    let _ = admin_stopped.await;
                };
                (Some(tokio::spawn(service.serve(listener, stopped))), None)
            }
            None => (None, Some(service)),
        };
        let outcome = self.wait(&handle, path.as_deref(), &settings).await;
        let _ = stop_admin.send(());
        if let Some(server) = server {
            match tokio::time::timeout(STOP_GRACE, server).await {
                Ok(Ok(Err(error))) => tracing::warn!(%error, "admin API"),
                Err(_) => tracing::warn!("admin API did not stop in time"),
                _ => {}
            }
        }
        match tokio::time::timeout(STOP_GRACE, handle.shutdown()).await {
            Ok(_) => tracing::info!("node stopped"),
            Err(_) => tracing::warn!("node did not stop in time"),
        }
        outcome
    }

    /// Runs until SIGINT or SIGTERM, reloading the configuration on SIGHUP.
    async fn wait(
        &self,
        handle: &Handle,
        path: Option<&Path>,
        settings: &NodeFile,
    ) -> anyhow::Result<()> {
        let mut signals = signals::Signals::new()?;
        // The peers the configuration gave; a reload removes only those the file no longer has.
        let mut configured: Vec<_> = settings
            .peers()
            .iter()
            .map(|a| a.multiaddr().clone())
            .collect();
        loop {
            match signals.next().await {
                signals::Signal::Stop(name) => {
                    tracing::info!(signal = name, "stopping");
                    return Ok(());
                }
                signals::Signal::Reload => match path {
                    Some(path) => {
                        if let Err(error) = self.reload(handle, path, &mut configured).await {
                            tracing::error!(
                                "configuration not reloaded: {}",
                                super::one_line(&error)
                            );
                        }
                    }
                    None => tracing::warn!("reload signal: no configuration file to reload"),
                },
            }
        }
    }

    /// Applies the file's static peers (unless given as flags) and black/white lists. Of the
    /// static peers, only those `configured` earlier and gone from the file are removed: peers
    /// added at runtime through the admin API stay, as an operator who added one expects.
    async fn reload(
        &self,
        handle: &Handle,
        path: &Path,
        configured: &mut Vec<libp2p::Multiaddr>,
    ) -> anyhow::Result<()> {
        let settings = self.settings(Some(path))?;
        let wanted: Vec<_> = settings
            .peers()
            .iter()
            .map(|a| a.multiaddr().clone())
            .collect();
        let current: Vec<_> = handle
            .operator()
            .static_peers()
            .await?
            .into_iter()
            .map(|p| p.address)
            .collect();
        let mut added = 0;
        let mut removed = 0;
        for address in configured.iter().filter(|a| !wanted.contains(a)) {
            removed += usize::from(handle.operator().remove_peer(address.clone()).await?);
        }
        for address in wanted.iter().filter(|a| !current.contains(a)) {
            added += usize::from(handle.operator().add_peer(address.clone()).await?);
        }
        let runtime = current
            .iter()
            .filter(|a| !configured.contains(a) && !wanted.contains(a))
            .count();
        *configured = wanted;
        let barred = handle
            .operator()
            .set_blacklist(settings.blacklist().iter().cloned())
            .await?
            .len()
            + handle
                .operator()
                .set_whitelist(settings.whitelist().iter().cloned())
                .await?
                .len();
        tracing::info!(
            path = %path.display(),
            added,
            removed,
            kept_runtime_peers = runtime,
            blacklist = settings.blacklist().len(),
            whitelist = settings.whitelist().len(),
            disconnected = barred,
            "configuration reloaded"
        );
        Ok(())
    }
}

/// The node's identity: the certificate files a config.ini names, else the node directory.
fn load_identity(settings: &NodeFile) -> anyhow::Result<NodeIdentity> {
    if let Some(files) = settings.credentials() {
        return files.load().with_context(|| {
            format!(
                "cannot load the node certificates named by the configuration ({})",
                files.key().display()
            )
        });
    }
    let Some(dir) = settings.dir() else {
        bail!("no node directory: give --dir NODEDIR, or a configuration file with `dir`");
    };
    NodeIdentity::load_dir(dir)
        .with_context(|| format!("cannot load the node directory {}", dir.display()))
}

/// Says once, at start, which keys of the configuration file the node leaves aside.
fn report_unused(path: Option<&Path>, settings: &NodeFile) {
    if let (Some(path), false) = (path, settings.unused().is_empty()) {
        tracing::info!(
            file = %path.display(),
            "keys not used by the P2P network, left to the rest of a FISCO node: {}",
            settings.unused().join(", ")
        );
    }
}

/// The admin API's settings: body limit, token, host names. A non-loopback API without a token
/// is refused here, before the node starts.
fn admin_config(settings: &NodeFile) -> anyhow::Result<admin::Config> {
    let mut config =
        admin::Config::default().with_max_message_size(settings.limits().max_message_size());
    match settings.admin_token_file() {
        Some(path) => config = config.with_token(admin::Token::from_file(path)?),
        None => {
            let public = |a: &SocketAddr| !a.ip().is_loopback() && settings.admin_public();
            if let Some(address) = settings.admin().filter(public) {
                return Err(admin::AdminError::PublicWithoutToken(address).into());
            }
        }
    }
    for host in settings.admin_hosts() {
        config = config.with_allowed_host(host.clone());
    }
    Ok(config)
}

/// The node configuration: what `NodeFile::to_node_config` gives, plus the settings the
/// node reads elsewhere (topics, message size, announce period) and the metrics.
fn node_config(settings: &NodeFile, metrics: &Arc<Metrics>) -> fisco_p2p::node::Config {
    let mut config = settings
        .to_node_config()
        .with_max_message_size(settings.limits().max_message_size())
        .with_announce_interval(settings.intervals().announce())
        .with_recorder(metrics.clone());
    for topic in settings.topics() {
        config = config.with_topic(topic.clone());
    }
    config
}

/// Prints the one startup line on stdout.
async fn announce(handle: &Handle, admin: Option<&tokio::net::TcpListener>) -> anyhow::Result<()> {
    let listen: Vec<String> = handle
        .listen_addrs()
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    let admin = match admin.map(tokio::net::TcpListener::local_addr) {
        Some(Ok(address)) => address.to_string(),
        Some(Err(error)) => bail!("admin API address unknown: {error}"),
        None => "off".to_owned(),
    };
    let listen = if listen.is_empty() {
        "nothing".to_owned()
    } else {
        listen.join(",")
    };
    println!(
        "node {} listening on {listen} admin {admin}",
        handle.node_id()
    );
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), coloured only on a terminal.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or the journal gets plain text.
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
