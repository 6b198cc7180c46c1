//! `fisco-p2p id PATH`: print the node ID peers see, and with `--all` every ID of a FISCO node.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use fisco_p2p::identity::{certificate_folder, node_id_of_path, NodeId, NodeKey};

/// Arguments of `fisco-p2p id`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// A node's certificate folder (FISCO 2.x node.key/node.crt, FISCO 3.x conf/ with
    /// ssl.key/ssl.crt, or the node folder holding conf/), a PEM private key, or a PEM
    /// certificate file (its first certificate).
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// Also print, one per line and labelled, the forms FISCO writes down: for an RSA node its
    /// modulus (conf/ssl.nodeid, what FISCO 3.x black/white lists hold), and the consensus
    /// node ID of a FISCO 3.x node (conf/node.pem, conf/node.nodeid), which the network does not
    /// use.
    #[arg(long)]
    all: bool,
}

impl IdArgs {
    /// Prints the node ID: 128 lowercase hex characters for a secp256k1 node, as FISCO 2.x writes
    /// it to node.nodeid; for an RSA node its P2P ID (the PKCS#1 public key in hex, 540
    /// characters for RSA-2048), as FISCO 3.x names peers.
    #[allow(clippy::print_stdout)]
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let id = node_id_of_path(&self.path)?;
        if !self.all {
            println!("{id}");
            return Ok(());
        }
        for (label, value) in all_ids(&self.path, &id)? {
            println!("{label}: {value}");
        }
        Ok(())
    }
}

/// The labelled IDs `--all` prints.
fn all_ids(path: &Path, id: &NodeId) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut lines = vec![("p2p_id", id.to_string()), ("kind", id.kind().to_string())];
    if let Some(modulus) = id.rsa_modulus_hex() {
        lines.push(("ssl_nodeid", modulus));
    }
    if path.is_dir() {
        let (dir, _) = certificate_folder(path)?;
        if let Some(consensus) = consensus_id(&dir)? {
            lines.push(("consensus_nodeid", consensus));
        }
    }
    Ok(lines)
}

/// The consensus node ID of a FISCO 3.x node: from conf/node.pem, else conf/node.nodeid. A 2.x
/// folder's node.nodeid is the P2P ID itself, so it is not repeated.
fn consensus_id(dir: &Path) -> anyhow::Result<Option<String>> {
    let pem = dir.join("node.pem");
    if pem.is_file() {
        let key = NodeKey::load(&pem)
            .with_context(|| format!("cannot read the consensus key {}", pem.display()))?;
        return Ok(Some(key.node_id().to_string()));
    }
    let written = dir.join("node.nodeid");
    if dir.join("ssl.key").is_file() && written.is_file() {
        let text = std::fs::read_to_string(&written)
            .with_context(|| format!("cannot read {}", written.display()))?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(None)
}
