//! What every request must show before a route sees it: that it was addressed to this API and not
//! sent by a web page, and, when the API has a token, the token.
//!
//! A browser lets any page it shows send a "simple" cross-origin request (a form post, or a
//! `fetch` with `Content-Type: text/plain`) to 127.0.0.1 without asking anyone, and a page whose
//! host name its owner points at 127.0.0.1 (DNS rebinding) can even read the answers. So:
//! - **Host** must be an IP address, `localhost`, or a name the operator allowed
//!   ([`Config::with_allowed_host`](super::Config::with_allowed_host)); a rebinding page's
//!   requests carry its own name and are refused (403).
//! - **Origin**, when present, must be this API's own (`http://` + the Host); browsers send it
//!   with every cross-origin request, so a page elsewhere, on 127.0.0.1 or not, is refused (403).
//!   `Sec-Fetch-Site`, when present, must say `same-origin` or `none`.
//! - **Content-Type** of `POST` and `DELETE` must be `application/json` (415): a page cannot send
//!   that cross-origin without a CORS preflight, which this API never approves.
//! - **Authorization: Bearer** must carry the token when one is configured (401).

use axum::{
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};

use super::{error::ApiError, token::Token};

/// What the checks need.
#[derive(Debug, Clone)]
pub(super) struct Guard {
    pub(super) token: Option<Token>,
    /// Host names accepted besides IP addresses and `localhost`, lower case.
    pub(super) hosts: Vec<String>,
}

impl Guard {
    /// `Ok`, or the answer refusing the request (large, but made once per refused request).
    /// The server asks before it reads the body, so a refused client cannot make it hold one.
    #[allow(clippy::result_large_err)]
    pub(super) fn admit(&self, method: &Method, headers: &HeaderMap) -> Result<(), Response> {
        let host = text(headers.get(header::HOST)).ok_or_else(|| {
            forbidden("missing Host header; send the address you connect to as Host")
        })?;
        if !self.host_allowed(host) {
            return Err(forbidden(format!(
                "Host {host:?} is not an address of this admin API; it answers requests addressed \
                 to an IP address or localhost (a web page could otherwise reach it through DNS \
                 rebinding); allow a name with the admin_hosts setting"
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let own = text(Some(origin)).is_some_and(|origin| same_origin(origin, host));
            if !own {
                return Err(forbidden(format!(
                    "cross-origin request refused (Origin {origin:?}): web pages may not drive \
                     the admin API; use fisco-p2p ctl, curl or another HTTP client"
                )));
            }
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            if !matches!(text(Some(site)), Some("same-origin" | "none")) {
                return Err(forbidden(format!(
                    "request from a web page of another site refused (Sec-Fetch-Site {site:?})"
                )));
            }
        }
        if let Some(token) = &self.token {
            let presented = text(headers.get(header::AUTHORIZATION))
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim);
            if !presented.is_some_and(|presented| token.matches(presented)) {
                return Err(unauthorized());
            }
        }
        if (method == Method::POST || method == Method::DELETE) && !is_json(headers) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with Content-Type: application/json",
            )
            .into_response());
        }
        Ok(())
    }

    /// An IP address, `localhost`, or an allowed name, with or without a port.
    fn host_allowed(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || self.hosts.contains(&name)
    }
}

/// The name part of a Host header: `a.b:80` → `a.b`, `[::1]:80` → `::1`; `None` if malformed.
fn host_name(host: &str) -> Option<&str> {
    if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(is_port)).then_some(name);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) && !name.contains(':') => Some(name),
        Some(_) => None,
        None => Some(host),
    }
    .filter(|name| !name.is_empty())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `origin` is `http://HOST` or `https://HOST` for this request's Host.
fn same_origin(origin: &str, host: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    })
}

/// Whether the body is declared JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    text(headers.get(header::CONTENT_TYPE)).is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"))
    })
}

fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value.and_then(|value| value.to_str().ok())
}

fn forbidden(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, message).into_response()
}

fn unauthorized() -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this admin API needs its token: send Authorization: Bearer <token> (ctl --token-file FILE)",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"fisco-p2p admin\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn status(guard: &Guard, method: Method, pairs: &[(&'static str, &'static str)]) -> u16 {
        match guard.admit(&method, &headers(pairs)) {
            Ok(()) => 200,
            Err(response) => response.status().as_u16(),
        }
    }

    fn open() -> Guard {
        Guard {
            token: None,
            hosts: vec!["node1.internal".into()],
        }
    }

    #[test]
    fn hosts_are_ip_addresses_localhost_or_allowed_names() {
        let guard = open();
        for host in [
            "127.0.0.1:31300",
            "127.0.0.1",
            "[::1]:31300",
            "LOCALHOST:1",
            "10.0.0.7:31300",
            "node1.internal:31300",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example:31300",
            "127.0.0.1.evil.example",
            "[::1",
            "",
            ":80",
        ] {
            assert!(!guard.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn a_cross_origin_form_post_is_refused() {
        let guard = open();
        let form = [
            ("host", "127.0.0.1:31300"),
            ("origin", "http://evil.example"),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        assert_eq!(status(&guard, Method::POST, &form), 403);
        let same_site = [
            ("host", "127.0.0.1:31300"),
            ("origin", "http://127.0.0.1:8080"),
            ("content-type", "application/json"),
        ];
        assert_eq!(status(&guard, Method::POST, &same_site), 403);
        let own = [
            ("host", "127.0.0.1:31300"),
            ("origin", "http://127.0.0.1:31300"),
            ("content-type", "application/json"),
        ];
        assert_eq!(status(&guard, Method::POST, &own), 200);
    }

    #[test]
    fn posts_must_be_json_but_gets_need_no_body_type() {
        let guard = open();
        let plain = [("host", "127.0.0.1:1"), ("content-type", "text/plain")];
        assert_eq!(status(&guard, Method::POST, &plain), 415);
        assert_eq!(
            status(&guard, Method::DELETE, &[("host", "127.0.0.1:1")]),
            415
        );
        let json = [
            ("host", "127.0.0.1:1"),
            ("content-type", "Application/JSON; charset=utf-8"),
        ];
        assert_eq!(status(&guard, Method::POST, &json), 200);
        assert_eq!(status(&guard, Method::GET, &[("host", "127.0.0.1:1")]), 200);
    }

    #[test]
    fn a_configured_token_is_required() {
        let guard = Guard {
            token: Some(Token::new("0123456789abcdef0123").unwrap()),
            hosts: Vec::new(),
        };
        assert_eq!(status(&guard, Method::GET, &[("host", "127.0.0.1:1")]), 401);
        let wrong = [
            ("host", "127.0.0.1:1"),
            ("authorization", "Bearer 0123456789abcdef0124"),
        ];
        assert_eq!(status(&guard, Method::GET, &wrong), 401);
        let right = [
            ("host", "127.0.0.1:1"),
            ("authorization", "Bearer 0123456789abcdef0123"),
        ];
        assert_eq!(status(&guard, Method::GET, &right), 200);
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused() {
        let guard = open();
        let cross = [("host", "127.0.0.1:1"), ("sec-fetch-site", "cross-site")];
        assert_eq!(status(&guard, Method::GET, &cross), 403);
        let typed = [("host", "127.0.0.1:1"), ("sec-fetch-site", "none")];
        assert_eq!(status(&guard, Method::GET, &typed), 200);
    }
}
