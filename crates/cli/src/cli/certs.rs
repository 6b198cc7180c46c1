//! `fisco-p2p certs ca|agency|node|network`: make certificates as FISCO's build_chain does.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use fisco_p2p::certs::{
    write_agency_dir, write_ca_dir, write_node_dir, CertSpec, Role, DEFAULT_DAYS,
};
use fisco_p2p::config::{write_network, NetworkSpec};

/// The `certs` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Make a chain CA: DIR/ca.crt (self-signed, CA:TRUE) and DIR/ca.key.
    Ca(CaArgs),
    /// Make an agency issued by a CA: DIR/agency.crt (CA:TRUE), DIR/agency.key, DIR/ca.crt.
    Agency(AgencyArgs),
    /// Make a node issued by an agency (or directly by the CA): node.key (PKCS#8), node.crt
    /// (node, agency, CA), ca.crt and node.nodeid.
    Node(NodeArgs),
    /// Make a whole local network: DIR/ca, DIR/agency and DIR/node0..node{N-1}, each node
    /// directory with its certificates and a node.toml listing the other nodes as peers.
    /// Node i listens on LISTEN_IP:(BASE_PORT + i), its admin API on 127.0.0.1:(BASE_PORT + 1000 + i).
    Network(NetworkArgs),
}

/// Options every `certs` subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Validity in days, from now.
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    days: u32,
    /// Replace key files that are already there (their certificates become useless).
    #[arg(long)]
    force: bool,
}

/// Arguments of `certs ca`.
#[derive(Debug, Args)]
pub(crate) struct CaArgs {
    #[command(flatten)]
    common: Common,
    /// Common name of the chain (CN=<name>,O=fisco-bcos,OU=chain).
    #[arg(long, default_value = "chain0")]
    name: String,
}

/// Arguments of `certs agency`.
#[derive(Debug, Args)]
pub(crate) struct AgencyArgs {
    /// Directory of the issuing CA (ca.crt, ca.key).
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    #[command(flatten)]
    common: Common,
    /// Common name of the agency (CN=<name>,O=fisco-bcos,OU=agency).
    #[arg(long, default_value = "agency0")]
    name: String,
}

/// Arguments of `certs node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Directory of the chain CA (ca.crt; also ca.key when there is no --agency).
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// Directory of the issuing agency (agency.crt, agency.key); without it the CA signs the node.
    #[arg(long, value_name = "DIR")]
    agency: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    /// Common name of the node (CN=<name>,O=fisco-bcos,OU=node).
    #[arg(long, default_value = "node0")]
    name: String,
}

/// Arguments of `certs network`.
#[derive(Debug, Args)]
pub(crate) struct NetworkArgs {
    /// Number of nodes.
    #[arg(long, value_name = "N")]
    nodes: usize,
    /// Directory to write into; must be empty or missing unless --force.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Listen port of node0; node i listens on BASE_PORT + i.
    #[arg(long, default_value_t = 30300)]
    base_port: u16,
    /// IP the nodes listen on and dial each other at.
    #[arg(long, default_value = "127.0.0.1")]
    listen_ip: IpAddr,
    /// Validity in days, from now.
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    days: u32,
    /// Write into a non-empty directory, replacing keys and files of the same names.
    #[arg(long)]
    force: bool,
}

impl NetworkArgs {
    #[allow(clippy::print_stdout)]
    fn run(self) -> anyhow::Result<()> {
        let spec = NetworkSpec::new(&self.out, self.nodes)
            .with_base_port(self.base_port)
            .with_listen_ip(self.listen_ip)
            .with_days(self.days)
            .with_force(self.force);
        let nodes = write_network(&spec)?;
        println!(
            "network of {} nodes written to {}",
            nodes.len(),
            self.out.display()
        );
        println!("{:<8} {:<24} {:<24} node ID", "node", "listen", "admin");
        for node in &nodes {
            println!(
                "{:<8} {:<24} {:<24} {}",
                node.name(),
                node.listen().to_string(),
                node.admin().to_string(),
                node.node_id()
            );
        }
        if let Some(first) = nodes.first() {
            println!(
                "start a node with: fisco-p2p run --config {}",
                first.config_path().display()
            );
        }
        Ok(())
    }
}

impl CertsCommand {
    /// Writes the certificate directory and says what it wrote.
    #[allow(clippy::print_stdout)]
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self {
            CertsCommand::Ca(args) => {
                let spec = CertSpec::new(Role::Chain, &args.name).with_days(args.common.days);
                write_ca_dir(&args.common.out, &spec, args.common.force)?;
                println!("CA {} written to {}", args.name, args.common.out.display());
            }
            CertsCommand::Agency(args) => {
                let spec = CertSpec::new(Role::Agency, &args.name).with_days(args.common.days);
                write_agency_dir(&args.ca, &args.common.out, &spec, args.common.force)?;
                println!(
                    "agency {} written to {}",
                    args.name,
                    args.common.out.display()
                );
            }
            CertsCommand::Node(args) => {
                let spec = CertSpec::new(Role::Node, &args.name).with_days(args.common.days);
                let id = write_node_dir(
                    &args.ca,
                    args.agency.as_deref(),
                    &args.common.out,
                    &spec,
                    args.common.force,
                )?;
                println!(
                    "node {} written to {}",
                    args.name,
                    args.common.out.display()
                );
                println!("node ID {id}");
            }
            CertsCommand::Network(args) => args.run()?,
        }
        Ok(())
    }
}
