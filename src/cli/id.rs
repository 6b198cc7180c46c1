//! `fisco-p2p id PATH`: print a node ID.

use std::path::PathBuf;

use clap::Args;
use fisco_p2p::identity::node_id_of_path;

/// Arguments of `fisco-p2p id`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// A node directory (its node.key, else its node.crt), a PEM private key, or a PEM certificate
    /// file (its first certificate).
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

impl IdArgs {
    /// Prints the node ID as 128 lowercase hex characters, as FISCO writes it to node.nodeid.
    #[allow(clippy::print_stdout)]
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let id = node_id_of_path(&self.path)?;
        println!("{id}");
        Ok(())
    }
}
