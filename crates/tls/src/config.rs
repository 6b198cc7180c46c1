//! [`Config`]: a node's TLS settings, and the rustls configurations built from them.

use std::{sync::Arc, time::Duration};

use libp2p::{identity::Keypair, PeerId};
use rustls::{
    client::Resumption,
    crypto::CryptoProvider,
    pki_types::ServerName,
    server::NoServerSessionStorage,
    sign::{CertifiedKey, SigningKey, SingleCertAndKey},
    ClientConfig, ServerConfig,
};

use super::{
    chain::Trust,
    provider::{crypto_provider, NodeSigningKey},
    verifier::{PeerVerifier, Verdict},
    AccessList, TlsError,
};
use fisco_p2p_identity::{inspect_certificate, Directory, NodeIdentity, PrivateKey};

/// The protocol name negotiated by multistream-select before the TLS handshake.
pub const PROTOCOL_NAME: &str = "/fisco-tls/1.0.0";

/// Default bound on one handshake, acceptance byte included: 5 s.
///
/// A loopback handshake takes about a millisecond, a WAN one a few round trips. It is shorter than
/// the swarm's own connection timeout (libp2p's `with_connection_timeout`, 10 s by default, which
/// also covers TCP connect and multiplexer negotiation), so a stalled handshake ends with our
/// [`UpgradeError::Timeout`](super::UpgradeError::Timeout) rather than a bare transport timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default bound on the wait for a dialer's first TLS bytes (its ClientHello): 3 s.
///
/// A real peer sends its ClientHello together with the protocol proposal, one round trip after
/// TCP connects; a stranger that sends nothing is closed after this, long before the whole
/// handshake timeout, so that it cannot hold a pending slot.
pub const DEFAULT_FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(3);

/// The `/fisco-tls` security upgrade of one node: its certificate and key, the CAs it trusts, its
/// access lists. Cheap to clone (everything is shared).
///
/// Plug it into libp2p as the security upgrade of `SwarmBuilder::with_tcp`, either with
/// [`Config::into_security_upgrade`], which also checks that the swarm's keypair is the node key,
/// or as a closure `|_: &Keypair| Ok::<_, TlsError>(config.clone())` (annotated: Rust infers
/// neither the argument's lifetime nor the error type here). The swarm's keypair must be `NodeIdentity::keypair()`.
#[derive(Clone)]
pub struct Config {
    pub(crate) trust: Arc<Trust>,
    provider: Arc<CryptoProvider>,
    certified_key: Arc<CertifiedKey>,
    local_peer: PeerId,
    /// Our node certificate's not-before and not-after, Unix seconds.
    pub(crate) own_validity: (i64, i64),
    pub(crate) handshake_timeout: Duration,
    pub(crate) first_bytes_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("local_peer", &self.local_peer)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("first_bytes_timeout", &self.first_bytes_timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The TLS settings of the node `identity`, admitting peers by `access`.
    ///
    /// Trust anchors are parsed here, once. The handshake timeout is
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`], the wait for a dialer's ClientHello
    /// [`DEFAULT_FIRST_BYTES_TIMEOUT`]. Our own certificate is not judged here (tests build
    /// deliberately broken nodes); a peer will refuse it with a reason both sides log.
    pub fn new(identity: &NodeIdentity, access: AccessList) -> Result<Self, TlsError> {
        let trust = Trust::new(identity.trusted_cas(), access)?;
        let leaf = identity
            .chain()
            .first()
            .ok_or_else(|| TlsError::BadOwnCertificate("the chain is empty".to_owned()))?;
        let info =
            inspect_certificate(leaf).map_err(|e| TlsError::BadOwnCertificate(e.to_string()))?;
        let key: Arc<dyn SigningKey> = match identity.key() {
            PrivateKey::Secp256k1(key) => Arc::new(NodeSigningKey::new(*key.secret_key())),
            // ring signs RSA handshakes with RSA-PSS, the only RSA scheme TLS 1.3 allows.
            PrivateKey::Rsa(key) => rustls::crypto::ring::sign::any_supported_type(&key.to_der())
                .map_err(|e| TlsError::BadOwnKey(e.to_string()))?,
        };
        Ok(Self {
            trust: Arc::new(trust),
            provider: crypto_provider(),
            certified_key: Arc::new(CertifiedKey::new(identity.chain().to_vec(), key)),
            local_peer: identity.node_id().to_peer_id(),
            own_validity: (info.not_before, info.not_after),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            first_bytes_timeout: DEFAULT_FIRST_BYTES_TIMEOUT,
        })
    }

    /// Bounds each handshake (TLS plus the listener's acceptance byte) by `timeout`.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Bounds the listener's wait for the dialer's whole ClientHello by `timeout`
    /// (default [`DEFAULT_FIRST_BYTES_TIMEOUT`]), within the handshake timeout.
    pub fn with_first_bytes_timeout(mut self, timeout: Duration) -> Self {
        self.first_bytes_timeout = timeout;
        self
    }

    /// The access lists the verifier consults; change them through this (shared) handle.
    pub fn access_list(&self) -> &AccessList {
        self.trust.access()
    }

    /// Files every verified peer's node ID in `directory`, so that the PeerId of an RSA peer
    /// (a hash of its key) can be mapped back to its node ID. Without it the upgrade keeps a
    /// directory of its own ([`Config::directory`]).
    pub fn with_directory(mut self, directory: Directory) -> Self {
        let trust = Trust::clone_with_directory(&self.trust, directory);
        self.trust = Arc::new(trust);
        self
    }

    /// The directory verified peers are filed in.
    pub fn directory(&self) -> &Directory {
        self.trust.directory()
    }

    /// The PeerId peers derive from our certificate.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer
    }

    /// The security-upgrade constructor `SwarmBuilder::with_tcp` takes; it refuses a swarm keypair
    /// other than the node key, whose PeerId would not match the node ID of our certificate.
    pub fn into_security_upgrade(self) -> impl FnOnce(&Keypair) -> Result<Config, TlsError> {
        move |keypair: &Keypair| {
            let swarm = keypair.public().to_peer_id();
            if swarm == self.local_peer {
                Ok(self)
            } else {
                Err(TlsError::KeypairMismatch {
                    swarm: Box::new(swarm),
                    node: Box::new(self.local_peer),
                })
            }
        }
    }

    /// A server configuration whose verifier reports to `verdict`.
    ///
    /// Built per connection because the verdict is per connection; this costs a few allocations
    /// against a handshake's signature checks.
    pub(crate) fn server_config(&self, verdict: Verdict) -> Result<ServerConfig, rustls::Error> {
        let verifier = PeerVerifier::new(Arc::clone(&self.trust), verdict);
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(Arc::clone(
                &self.certified_key,
            ))));
        // A resumed session skips the certificate check, so a node blacklisted since its last
        // visit would come back in: no session cache, no tickets.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }

    /// A client configuration whose verifier reports to `verdict`.
    pub(crate) fn client_config(&self, verdict: Verdict) -> Result<ClientConfig, rustls::Error> {
        let verifier = PeerVerifier::new(Arc::clone(&self.trust), verdict);
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(Arc::clone(
                &self.certified_key,
            ))));
        config.resumption = Resumption::disabled();
        // Nodes are named by certificate, not by host name.
        config.enable_sni = false;
        Ok(config)
    }
}

/// The server name the client hands rustls: unused (no SNI, the verifier ignores it).
pub(crate) fn unused_server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())
}
