//! The heartbeat protocol: on one long-lived stream per connection the dialling side of the
//! stream writes an 8-byte nonce every interval and the other side echoes it.
//!
//! libp2p's ping protocol would do, but it keeps its first failure silent and then waits for a
//! fresh stream's negotiation timeout (10 s, fixed), so a frozen link took interval + timeout +
//! 10 s to notice. Here the deadline covers the whole exchange, stream opening included, so a
//! dead link is found within `interval + timeout`.

use std::{io, time::Duration};

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{Stream, StreamProtocol};

/// Protocol name of the heartbeat.
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/fisco/heartbeat/1.0.0");

const NONCE_LEN: usize = 8;

/// Sends one nonce and waits for its echo; returns the stream for the next round and the RTT.
pub(crate) async fn beat(mut stream: Stream) -> io::Result<(Stream, Duration)> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let started = std::time::Instant::now();
    stream.write_all(&nonce).await?;
    stream.flush().await?;
    let mut echo = [0u8; NONCE_LEN];
    stream.read_exact(&mut echo).await?;
    if echo != nonce {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "heartbeat echo does not match the nonce sent",
        ));
    }
    Ok((stream, started.elapsed()))
}

/// Echoes nonces until the stream ends.
pub(crate) async fn echo(mut stream: Stream) -> io::Result<()> {
    let mut nonce = [0u8; NONCE_LEN];
    loop {
        match stream.read_exact(&mut nonce).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        stream.write_all(&nonce).await?;
        stream.flush().await?;
    }
}
