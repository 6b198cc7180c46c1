//! Identities for the benchmarks, made in memory: FISCO-style secp256k1 node certificates for our
//! stack, and a P-256 chain for the plain rustls baseline. Both chains have three levels
//! (CA, agency / intermediate, node), so both handshakes verify the same number of signatures.

use std::sync::Arc;

use anyhow::Context as _;
use fisco_p2p::{
    certs::{self, CertSpec, Issuer, Role},
    identity::NodeIdentity,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::{
    client::Resumption,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::{NoServerSessionStorage, WebPkiClientVerifier},
    ClientConfig, RootCertStore, ServerConfig,
};

/// One chain: a CA and an agency that issue node identities.
pub struct Chain {
    ca: Issuer,
    agency: Issuer,
    issued: usize,
}

impl Chain {
    /// A new chain CA and agency, with no node issued yet.
    pub fn new() -> anyhow::Result<Chain> {
        let ca = certs::new_ca(&CertSpec::new(Role::Chain, "chain0"))?;
        let agency = certs::new_agency(&CertSpec::new(Role::Agency, "agency0"), &ca)?;
        Ok(Chain {
            ca,
            agency,
            issued: 0,
        })
    }

    /// A fresh node identity of this chain.
    pub fn node(&mut self) -> anyhow::Result<NodeIdentity> {
        let spec = CertSpec::new(Role::Node, format!("node{}", self.issued));
        self.issued += 1;
        let (key, cert) = certs::new_node(&spec, &self.agency)?;
        let chain = vec![
            cert,
            self.agency.certificate().clone(),
            self.ca.certificate().clone(),
        ];
        Ok(NodeIdentity::from_parts(
            key,
            chain,
            vec![self.ca.certificate().clone()],
        )?)
    }

    /// `n` new node identities of this chain.
    pub fn nodes(&mut self, n: usize) -> anyhow::Result<Vec<NodeIdentity>> {
        (0..n).map(|_| self.node()).collect()
    }
}

/// The plain-rustls baseline's client and server configurations: TLS 1.3 only, P-256 chain of
/// three, mutual authentication, no session resumption (as ours), ring's default cipher suites.
pub struct RustlsPair {
    /// The client side.
    pub client: Arc<ClientConfig>,
    /// The server side.
    pub server: Arc<ServerConfig>,
}

/// The name in the server certificate that the client checks.
pub const SERVER_NAME: &str = "localhost";

impl RustlsPair {
    /// A fresh P-256 CA and one certificate for each side.
    pub fn new() -> anyhow::Result<RustlsPair> {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key)?;
        let mid_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut mid_params = CertificateParams::new(Vec::<String>::new())?;
        mid_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mid = mid_params.signed_by(&mid_key, &ca, &ca_key)?;
        let leaf =
            |name: &str| -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                let cert = CertificateParams::new(vec![name.to_owned()])?
                    .signed_by(&key, &mid, &mid_key)?;
                let chain = vec![cert.der().clone(), mid.der().clone(), ca.der().clone()];
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
                Ok((chain, der))
            };
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone())?;
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let (server_chain, server_key) = leaf(SERVER_NAME)?;
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .context("client verifier")?;
        let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(server_chain, server_key)?;
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        let (client_chain, client_key) = leaf("client")?;
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(client_chain, client_key)?;
        client.resumption = Resumption::disabled();
        Ok(RustlsPair {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}
