//! Peer and listen addresses as operators write them: `ip:port`, `[v6]:port`, `host:port`, or a
//! multiaddr such as `/ip4/127.0.0.1/tcp/30300`.

use std::net::{IpAddr, SocketAddr};

use libp2p::{multiaddr::Protocol, Multiaddr};

/// An address string that is neither `ip:port`, `[v6]:port`, `host:port` nor a TCP multiaddr.
#[derive(Debug, thiserror::Error)]
#[error("invalid address {input:?}: {reason}; write ip:port, [ipv6]:port, host:port or a multiaddr like /ip4/127.0.0.1/tcp/30300")]
pub struct AddressError {
    input: String,
    reason: String,
}

impl AddressError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Parses an address in any of the accepted forms into a TCP multiaddr.
///
/// ```
/// use fisco_p2p::node::parse_address;
/// assert_eq!(parse_address("127.0.0.1:30300").unwrap().to_string(), "/ip4/127.0.0.1/tcp/30300");
/// assert_eq!(parse_address("[::1]:30300").unwrap().to_string(), "/ip6/::1/tcp/30300");
/// assert_eq!(parse_address("node1.example:30300").unwrap().to_string(), "/dns/node1.example/tcp/30300");
/// assert_eq!(parse_address("/ip4/10.0.0.1/tcp/1").unwrap().to_string(), "/ip4/10.0.0.1/tcp/1");
/// ```
pub fn parse_address(input: &str) -> Result<Multiaddr, AddressError> {
    let text = input.trim();
    if text.starts_with('/') {
        let address: Multiaddr = text
            .parse()
            .map_err(|e| AddressError::new(input, format!("not a multiaddr ({e})")))?;
        return check_tcp(input, address);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Ok(socket_multiaddr(socket));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| AddressError::new(input, "no port"))?;
    let port: u16 = port.parse().map_err(|_| {
        AddressError::new(
            input,
            format!("port {port:?} is not a number from 0 to 65535"),
        )
    })?;
    if host.is_empty() {
        return Err(AddressError::new(input, "no host"));
    }
    if host.contains(':') || host.contains('[') {
        return Err(AddressError::new(
            input,
            "an IPv6 address must be written in brackets, like [::1]:30300",
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(socket_multiaddr(SocketAddr::new(ip, port)));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(AddressError::new(
            input,
            format!("{host:?} is not a valid host name"),
        ));
    }
    Ok(Multiaddr::empty()
        .with(Protocol::Dns(host.to_owned().into()))
        .with(Protocol::Tcp(port)))
}

/// The multiaddr of a TCP socket address.
pub(crate) fn socket_multiaddr(socket: SocketAddr) -> Multiaddr {
    let ip = match socket.ip() {
        IpAddr::V4(ip) => Protocol::Ip4(ip),
        IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty()
        .with(ip)
        .with(Protocol::Tcp(socket.port()))
}

fn check_tcp(input: &str, address: Multiaddr) -> Result<Multiaddr, AddressError> {
    let mut parts = address.iter();
    let host_ok = matches!(
        parts.next(),
        Some(
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
        )
    );
    let tcp_ok = matches!(parts.next(), Some(Protocol::Tcp(_)));
    let rest_ok = parts.all(|p| matches!(p, Protocol::P2p(_)));
    if host_ok && tcp_ok && rest_ok {
        Ok(address)
    } else {
        Err(AddressError::new(
            input,
            "only TCP addresses (/ip4|ip6|dns/.../tcp/PORT) are supported",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_form() {
        let cases = [
            ("127.0.0.1:30300", "/ip4/127.0.0.1/tcp/30300"),
            (" 10.1.2.3:1 ", "/ip4/10.1.2.3/tcp/1"),
            ("[::1]:30300", "/ip6/::1/tcp/30300"),
            ("[fe80::1]:0", "/ip6/fe80::1/tcp/0"),
            ("localhost:30300", "/dns/localhost/tcp/30300"),
            (
                "node-1.chain_a.example:7",
                "/dns/node-1.chain_a.example/tcp/7",
            ),
            ("/ip4/127.0.0.1/tcp/30300", "/ip4/127.0.0.1/tcp/30300"),
            ("/dns4/host/tcp/5", "/dns4/host/tcp/5"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_address(input).unwrap().to_string(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_bad_addresses_naming_the_problem() {
        let cases = [
            ("127.0.0.1", "no port"),
            ("127.0.0.1:99999", "not a number"),
            ("::1:30300", "brackets"),
            (":30300", "no host"),
            ("bad host:1", "not a valid host name"),
            ("/ip4/127.0.0.1/udp/1", "only TCP"),
            ("/ip4/1.2.3.4", "only TCP"),
            ("/nonsense", "not a multiaddr"),
        ];
        for (input, expected) in cases {
            let error = parse_address(input).unwrap_err().to_string();
            assert!(error.contains(expected), "{input}: {error}");
            assert!(error.contains(input.trim()), "{input}: {error}");
        }
    }
}
