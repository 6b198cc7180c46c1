//! The node's transport: TCP, admission, `/fisco-tls`, yamux.
//!
//! Built by hand rather than by `SwarmBuilder::with_tcp` for two reasons:
//! - admission (see `admission.rs`) must see each accepted socket and each whole pending
//!   connection;
//! - the dialer must not count a connection as established before the listener does. With
//!   libp2p's lazy negotiation the dialer sends its multiplexer proposal and uses the connection
//!   at once; if it then closed it (the duplicate of a simultaneous dial), the listener, still
//!   reading the proposal, saw a broken pipe and reported an inbound refusal. The dialer now
//!   waits for the listener to confirm the multiplexer ([`Confirmed`]): one round trip at
//!   connection setup, after which both ends agree the connection exists.

use std::{future::Future, pin::Pin};

use libp2p::{
    core::{
        muxing::StreamMuxerBox,
        transport::Boxed,
        upgrade::{InboundConnectionUpgrade, Negotiated, OutboundConnectionUpgrade, Version},
        UpgradeInfo,
    },
    tcp, yamux, PeerId, Transport,
};

use super::admission::Admission;
use crate::tls;

/// The TCP transport with admission and the `/fisco-tls` + yamux upgrades.
pub(super) fn build(
    tcp: tcp::Config,
    tls: tls::Config,
    admission: &Admission,
) -> Boxed<(PeerId, StreamMuxerBox)> {
    let upgraded = tcp::tokio::Transport::new(tcp)
        .map(admission.watch())
        .upgrade(Version::V1Lazy)
        .authenticate(tls)
        .multiplex(Confirmed(yamux::Config::default()))
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    admission.wrap(upgraded).boxed()
}

/// A multiplexer upgrade whose dialer waits for the listener's confirmation of the protocol
/// before it uses the connection (see the module docs). The listener's side is unchanged.
#[derive(Debug, Clone)]
pub(super) struct Confirmed<U>(pub(super) U);

impl<U: UpgradeInfo> UpgradeInfo for Confirmed<U> {
    type Info = U::Info;
    type InfoIter = U::InfoIter;

    fn protocol_info(&self) -> Self::InfoIter {
        self.0.protocol_info()
    }
}

impl<C, U> InboundConnectionUpgrade<C> for Confirmed<U>
where
    U: InboundConnectionUpgrade<C>,
{
    type Output = U::Output;
    type Error = U::Error;
    type Future = U::Future;

    fn upgrade_inbound(self, socket: C, info: Self::Info) -> Self::Future {
        self.0.upgrade_inbound(socket, info)
    }
}

impl<C, U> OutboundConnectionUpgrade<Negotiated<C>> for Confirmed<U>
where
    C: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    U: OutboundConnectionUpgrade<Negotiated<C>> + Send + 'static,
    U::Info: Send,
    U::Error: From<std::io::Error>,
    U::Future: Send,
{
    type Output = U::Output;
    type Error = U::Error;
    type Future = Pin<Box<dyn Future<Output = Result<U::Output, U::Error>> + Send>>;

    fn upgrade_outbound(self, socket: Negotiated<C>, info: Self::Info) -> Self::Future {
        Box::pin(async move {
            let socket = socket
                .complete()
                .await
                .map_err(|e| U::Error::from(std::io::Error::from(e)))?;
            self.0.upgrade_outbound(socket, info).await
        })
    }
}
