//! The substream upgrade of a link: negotiates [`PROTOCOL_NAME_ZSTD`] or [`PROTOCOL_NAME`] and
//! yields the stream with the [`Codec`] its frames use.
//!
//! A node that compresses offers the zstd name first and the plain one as fallback; one that
//! does not offers only the plain name. multistream-select settles each stream (one per
//! direction of a link) on the first name both ends know.

use std::{convert::Infallible, future::Ready};

use libp2p::{
    core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo},
    swarm::Stream,
    StreamProtocol,
};

use crate::{frame::Codec, PROTOCOL_NAME, PROTOCOL_NAME_ZSTD};

/// The protocols one side offers.
#[derive(Debug, Clone, Copy)]
pub struct Protocols {
    compression: bool,
}

impl Protocols {
    pub(crate) fn new(compression: bool) -> Self {
        Self { compression }
    }

    fn codec(protocol: &StreamProtocol) -> Codec {
        if *protocol == PROTOCOL_NAME_ZSTD {
            Codec::Zstd
        } else {
            Codec::Plain
        }
    }
}

impl UpgradeInfo for Protocols {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        if self.compression {
            vec![PROTOCOL_NAME_ZSTD, PROTOCOL_NAME].into_iter()
        } else {
            vec![PROTOCOL_NAME].into_iter()
        }
    }
}

/// A negotiated stream and how its frames are written.
pub struct Negotiated(pub(crate) Stream, pub(crate) Codec);

impl std::fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Negotiated").field(&self.1).finish()
    }
}

impl InboundUpgrade<Stream> for Protocols {
    type Output = Negotiated;
    type Error = Infallible;
    type Future = Ready<Result<Negotiated, Infallible>>;

    fn upgrade_inbound(self, stream: Stream, protocol: StreamProtocol) -> Self::Future {
        std::future::ready(Ok(Negotiated(stream, Self::codec(&protocol))))
    }
}

impl OutboundUpgrade<Stream> for Protocols {
    type Output = Negotiated;
    type Error = Infallible;
    type Future = Ready<Result<Negotiated, Infallible>>;

    fn upgrade_outbound(self, stream: Stream, protocol: StreamProtocol) -> Self::Future {
        std::future::ready(Ok(Negotiated(stream, Self::codec(&protocol))))
    }
}
