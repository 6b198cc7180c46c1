//! Clients that are not libp2p swarms: plain TCP, and a hand-driven rustls client.
//!
//! They run on blocking std sockets (with read/write timeouts) inside `spawn_blocking`, while the
//! test drives the listening swarm.

use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream},
    sync::Arc,
};

use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned,
};

use super::harness::WAIT;

/// Our private-use TLS signature scheme for ECDSA/secp256k1/SHA-256.
const SECP256K1_SHA256: SignatureScheme = SignatureScheme::Unknown(0xFE03);

/// A TCP connection with every blocking call bounded by [`WAIT`].
pub(crate) fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("tcp connect");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream.set_write_timeout(Some(WAIT)).expect("write timeout");
    stream
}

/// Proposes `protocol` by multistream-select 1.0 as a dialer; returns whether the listener
/// accepted it.
pub(crate) fn negotiate(stream: &mut TcpStream, protocol: &str) -> io::Result<bool> {
    const HEADER: &str = "/multistream/1.0.0";
    stream.write_all(&frame(HEADER))?;
    stream.write_all(&frame(protocol))?;
    if read_frame(stream)? != HEADER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no multistream header",
        ));
    }
    Ok(read_frame(stream)? == protocol)
}

/// One multistream-select message: a one-byte length (enough here), the text, a newline.
fn frame(text: &str) -> Vec<u8> {
    let len = u8::try_from(text.len() + 1).expect("short protocol name");
    assert!(len < 0x80, "single-byte varint");
    [&[len][..], text.as_bytes(), b"\n"].concat()
}

fn read_frame(stream: &mut TcpStream) -> io::Result<String> {
    let mut len = [0u8];
    stream.read_exact(&mut len)?;
    let mut body = vec![0u8; usize::from(len[0])];
    stream.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).trim_end().to_owned())
}

/// Negotiates `/fisco-tls/1.0.0`, handshakes with stock rustls (ring) presenting `credentials`
/// (a chain and its key; none: no client certificate), and waits for the listener's acceptance
/// byte. Returns the TLS error that ended it, if any.
pub(crate) fn stock_rustls_client(
    addr: SocketAddr,
    credentials: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<(), rustls::Error> {
    let mut tcp = tcp(addr);
    assert!(
        negotiate(&mut tcp, "/fisco-tls/1.0.0").expect("negotiation"),
        "protocol refused"
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer));
    let config = match credentials {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    let server_name = ServerName::try_from("node").expect("name");
    let connection = ClientConnection::new(Arc::new(config), server_name)?;
    let mut stream = StreamOwned::new(connection, tcp);
    let mut byte = [0u8];
    stream.read_exact(&mut byte).map_err(|e| {
        e.into_inner()
            .and_then(|inner| inner.downcast::<rustls::Error>().ok())
            .map_or_else(
                || rustls::Error::General("connection failed".into()),
                |e| *e,
            )
    })
}

/// Accepts any server: the test is about what the server thinks of us.
#[derive(Debug)]
struct AcceptAnyServer;

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SECP256K1_SHA256]
    }
}
