//! The libp2p connection upgrade: TLS 1.3 handshake, then the listener's acceptance byte.
//!
//! In TLS 1.3 the client's handshake is over once it has sent its certificate and `Finished`; the
//! server checks that certificate afterwards. A dialer refused by the listener would thus see a
//! successful upgrade, libp2p would report the connection established, and only then would it
//! break. So the listener confirms acceptance with one byte after its handshake has succeeded, and
//! the dialer's upgrade ends only when that byte arrives; a refusal arrives instead as the TLS
//! alert naming the reason.

use std::{
    future::Future,
    io,
    pin::pin,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use futures::{
    future::{self, BoxFuture, Either},
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt,
};
use futures_rustls::{LazyConfigAcceptor, TlsConnector, TlsStream};
use futures_timer::Delay;
use libp2p::{
    core::{
        upgrade::{InboundConnectionUpgrade, NegotiationError, OutboundConnectionUpgrade},
        UpgradeInfo,
    },
    PeerId,
};

use super::{
    config::{unused_server_name, Config, PROTOCOL_NAME},
    verifier::Verdict,
    RefusalReason, UpgradeError,
};
use fisco_p2p_identity::NodeId;

/// The byte a listener sends after accepting a dialer.
const ACCEPTED: u8 = 0x01;

impl UpgradeInfo for Config {
    type Info = &'static str;
    type InfoIter = std::iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        std::iter::once(PROTOCOL_NAME)
    }
}

impl<C> InboundConnectionUpgrade<C> for Config
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = (PeerId, Stream<C>);
    type Error = UpgradeError;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, socket: C, _: Self::Info) -> Self::Future {
        let verdict = Verdict::default();
        let handshake = accept(self.clone(), socket, verdict.clone());
        bounded(self, verdict, handshake).boxed()
    }
}

impl<C> OutboundConnectionUpgrade<C> for Config
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = (PeerId, Stream<C>);
    type Error = UpgradeError;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, socket: C, _: Self::Info) -> Self::Future {
        let verdict = Verdict::default();
        let handshake = connect(self.clone(), socket, verdict.clone());
        bounded(self, verdict, handshake).boxed()
    }
}

/// An upgraded connection: TLS with writes buffered until the multiplexer flushes.
///
/// Without the buffer every write of the multiplexer (a frame header, then its body) became its
/// own TLS record and its own syscall: 6.9 `writev` calls per request against stock libp2p's 2.6
/// (see BENCHMARKS.md). yamux flushes after each batch of frames, so nothing waits in the buffer.
pub type Stream<C> = futures::io::BufWriter<TlsStream<C>>;

/// Size of the write buffer: one TLS record's worth of plaintext.
const WRITE_BUFFER: usize = 16 * 1024;

fn buffered<C: AsyncRead + AsyncWrite + Unpin>(stream: TlsStream<C>) -> Stream<C> {
    futures::io::BufWriter::with_capacity(WRITE_BUFFER, stream)
}

/// The listener's side: handshake, then confirm acceptance.
async fn accept<C>(
    config: Config,
    socket: C,
    verdict: Verdict,
) -> Result<(PeerId, Stream<C>), UpgradeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let server = config
        .server_config(verdict.clone())
        .map_err(UpgradeError::Config)?;
    let fail = |e| classify(e, &config, &verdict);
    // The ClientHello first, within its own short deadline: a silent dialer must not hold the
    // connection for the whole handshake timeout.
    let after = config.first_bytes_timeout;
    let hello = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), socket);
    let start = match future::select(hello, Delay::new(after)).await {
        Either::Left((hello, _)) => hello.map_err(fail)?,
        Either::Right(((), _)) => {
            tracing::debug!(?after, "no TLS ClientHello in time");
            return Err(UpgradeError::Timeout { after, peer: None });
        }
    };
    let mut stream = start.into_stream(Arc::new(server)).await.map_err(fail)?;
    let peer = authenticated_peer(&verdict)?;
    stream.write_all(&[ACCEPTED]).await.map_err(fail)?;
    stream.flush().await.map_err(fail)?;
    Ok((peer, buffered(stream.into())))
}

/// The dialer's side: handshake, then wait for the listener's acceptance.
async fn connect<C>(
    config: Config,
    socket: C,
    verdict: Verdict,
) -> Result<(PeerId, Stream<C>), UpgradeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let client = config
        .client_config(verdict.clone())
        .map_err(UpgradeError::Config)?;
    let fail = |e| classify(e, &config, &verdict);
    let mut stream = TlsConnector::from(Arc::new(client))
        .connect(unused_server_name(), socket)
        .await
        .map_err(fail)?;
    let peer = authenticated_peer(&verdict)?;
    let mut byte = [0u8];
    stream.read_exact(&mut byte).await.map_err(fail)?;
    if byte[0] != ACCEPTED {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected the acceptance byte, got {:#04x}", byte[0]),
        );
        return Err(UpgradeError::Io(e));
    }
    Ok((peer, buffered(stream.into())))
}

/// The peer's PeerId, from the node ID the verifier found in its certificate.
fn authenticated_peer(verdict: &Verdict) -> Result<PeerId, UpgradeError> {
    // rustls calls our verifier before it can complete a handshake, so a completed handshake
    // always has a peer; an error here would mean rustls skipped verification.
    verdict
        .findings()
        .peer
        .map(|node| node.to_peer_id())
        .ok_or_else(|| {
            UpgradeError::Io(io::Error::other(
                "handshake completed without a verified peer certificate",
            ))
        })
}

/// Runs `handshake` within the configured timeout.
async fn bounded<T>(
    config: Config,
    verdict: Verdict,
    handshake: impl Future<Output = Result<T, UpgradeError>>,
) -> Result<T, UpgradeError> {
    let after = config.handshake_timeout;
    match future::select(pin!(handshake), Delay::new(after)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            let peer = verdict.findings().peer.map(Box::new);
            tracing::debug!(peer = ?peer, ?after, "TLS handshake timed out");
            Err(UpgradeError::Timeout { after, peer })
        }
    }
}

/// Turns a failed handshake into an error that names who refused whom and why, and logs refusals.
fn classify(err: io::Error, config: &Config, verdict: &Verdict) -> UpgradeError {
    let findings = verdict.findings();
    if let Some(refusal) = findings.refusal {
        tracing::debug!(peer = ?refusal.peer, reason = %refusal.reason, detail = %refusal.detail, "refused peer in TLS handshake");
        return UpgradeError::Refused {
            reason: refusal.reason,
            peer: refusal.peer,
            detail: refusal.detail,
        };
    }
    let peer = findings.peer.map(Box::new);
    match err.get_ref() {
        Some(inner) => {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return classify_tls(tls, config, peer).unwrap_or(UpgradeError::Io(err));
            }
            if inner.downcast_ref::<NegotiationError>().is_some() {
                // The dialer negotiates lazily, so the listener's "na" surfaces here.
                return not_tls(peer, format!("the peer does not support {PROTOCOL_NAME}"));
            }
            UpgradeError::Io(err)
        }
        // multistream-select turns a malformed negotiation message into a bare InvalidData.
        None if err.kind() == io::ErrorKind::InvalidData => {
            not_tls(peer, "malformed multistream-select message".to_owned())
        }
        None => UpgradeError::Io(err),
    }
}

fn not_tls(peer: Option<Box<NodeId>>, detail: String) -> UpgradeError {
    tracing::debug!(peer = ?peer, %detail, "refused peer: not speaking fisco-tls");
    UpgradeError::Refused {
        reason: RefusalReason::NotTls,
        peer,
        detail,
    }
}

/// Names a rustls error that our verifier did not raise.
fn classify_tls(
    err: &rustls::Error,
    config: &Config,
    peer: Option<Box<NodeId>>,
) -> Option<UpgradeError> {
    match err {
        rustls::Error::AlertReceived(alert) => {
            let reason = RefusalReason::from_alert(*alert, config.own_validity, unix_now());
            Some(match reason {
                Some(reason) => {
                    tracing::debug!(peer = ?peer, %reason, "peer refused our TLS handshake");
                    UpgradeError::RefusedByPeer { reason, peer }
                }
                None => {
                    let alert = format!("{alert:?}");
                    tracing::debug!(peer = ?peer, %alert, "peer aborted the TLS handshake");
                    UpgradeError::Aborted { alert, peer }
                }
            })
        }
        rustls::Error::NoCertificatesPresented => {
            tracing::debug!(peer = ?peer, "refused peer: it presented no certificate");
            Some(UpgradeError::Refused {
                reason: RefusalReason::NoCertificate,
                peer,
                detail: "the peer presented no certificate".to_owned(),
            })
        }
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            Some(not_tls(peer, format!("not a TLS 1.3 handshake: {err}")))
        }
        _ => None,
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
