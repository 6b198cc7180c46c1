//! The two unicast messages and their CBOR bodies.
//!
//! - request: `[module: u16, payload: bytes]`
//! - response: `[0, payload: bytes]` for a reply, or an error: `[1, module: u16]` unknown
//!   module, `[2, size: u64, max: u64]` too large, `[3, message: text]` application error.
//!
//! Bodies are written as a CBOR header followed by the payload bytes straight from the caller's
//! buffer, and decoded into slices of the received frame, so a payload is never copied.

use bytes::Bytes;
use cbor4ii::core::{
    dec::{Decode, Read},
    enc::Encode,
    error::DecodeError,
    types,
    utils::{BufWriter, SliceReader},
};

use crate::ReplyError;

/// Upper bound of the CBOR bytes around a payload (array, code or module, byte-string header).
pub(crate) const ENVELOPE_MAX: usize = 16;

const OK: u8 = 0;
const UNKNOWN_MODULE: u8 = 1;
const TOO_LARGE: u8 = 2;
const APPLICATION: u8 = 3;

/// A request as it travels.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) module: u16,
    pub(crate) payload: Bytes,
}

/// A response as it travels.
pub type Response = Result<Bytes, ReplyError>;

/// An encoded message: a small CBOR header, then a payload slice written as is.
pub(crate) struct Encoded {
    pub(crate) header: Vec<u8>,
    pub(crate) payload: Bytes,
}

type EncodeResult = Result<(), cbor4ii::core::enc::Error<std::collections::TryReserveError>>;

fn encoded(build: impl FnOnce(&mut BufWriter) -> EncodeResult, payload: Bytes) -> Encoded {
    let mut w = BufWriter::new(Vec::with_capacity(ENVELOPE_MAX));
    // Writing a few integers into a Vec fails only if memory is exhausted.
    if let Err(error) = build(&mut w) {
        tracing::error!(%error, "encoding a unicast header failed");
    }
    Encoded {
        header: w.into_inner(),
        payload,
    }
}

pub(crate) fn encode_request(request: &Request) -> Encoded {
    let len = request.payload.len();
    encoded(
        |w| {
            types::Array::bounded(2, &mut *w)?;
            request.module.encode(&mut *w)?;
            types::Bytes::<()>::bounded(len, w)
        },
        request.payload.clone(),
    )
}

pub(crate) fn encode_response(response: &Response) -> Encoded {
    match response {
        Ok(payload) => {
            let len = payload.len();
            encoded(
                |w| {
                    types::Array::bounded(2, &mut *w)?;
                    OK.encode(&mut *w)?;
                    types::Bytes::<()>::bounded(len, w)
                },
                payload.clone(),
            )
        }
        Err(error) => {
            let mut w = BufWriter::new(Vec::new());
            let result: EncodeResult = (|| match error {
                ReplyError::UnknownModule(module) => {
                    types::Array::bounded(2, &mut w)?;
                    UNKNOWN_MODULE.encode(&mut w)?;
                    module.encode(&mut w)
                }
                ReplyError::TooLarge { size, max } => {
                    types::Array::bounded(3, &mut w)?;
                    TOO_LARGE.encode(&mut w)?;
                    size.encode(&mut w)?;
                    max.encode(&mut w)
                }
                ReplyError::Application(message) => {
                    types::Array::bounded(2, &mut w)?;
                    APPLICATION.encode(&mut w)?;
                    message.as_str().encode(&mut w)
                }
            })();
            if let Err(error) = result {
                tracing::error!(%error, "encoding a unicast error reply failed");
            }
            Encoded {
                header: w.into_inner(),
                payload: Bytes::new(),
            }
        }
    }
}

fn decode_failed<E: std::fmt::Debug>(what: &str, error: DecodeError<E>) -> String {
    format!("malformed unicast {what}: {error}")
}

pub(crate) fn decode_request(frame: Bytes) -> Result<Request, String> {
    let mut reader = SliceReader::new(&frame);
    let r = &mut reader;
    let parsed = (|| {
        let items = types::Array::len(r)?;
        let module = u16::decode(r)?;
        let payload = <types::Bytes<&[u8]>>::decode(r)?.0;
        Ok((items, module, payload, r.fill(1)?.as_ref().is_empty()))
    })();
    let (items, module, payload, at_end) = parsed.map_err(|e| decode_failed("request", e))?;
    if items != Some(2) || !at_end {
        return Err("malformed unicast request: expected exactly [module, payload]".into());
    }
    Ok(Request {
        module,
        payload: frame.slice_ref(payload),
    })
}

pub(crate) fn decode_response(frame: Bytes) -> Result<Response, String> {
    let mut reader = SliceReader::new(&frame);
    let r = &mut reader;
    let parsed = (|| {
        let items = types::Array::len(r)?;
        let response = match u8::decode(r)? {
            OK => Some(Ok(frame.slice_ref(<types::Bytes<&[u8]>>::decode(r)?.0))),
            UNKNOWN_MODULE => Some(Err(ReplyError::UnknownModule(u16::decode(r)?))),
            TOO_LARGE => Some(Err(ReplyError::TooLarge {
                size: u64::decode(r)?,
                max: u64::decode(r)?,
            })),
            APPLICATION => Some(Err(ReplyError::Application(<&str>::decode(r)?.to_owned()))),
            _ => None,
        };
        Ok((items, response, r.fill(1)?.as_ref().is_empty()))
    })();
    let (items, response, at_end) = parsed.map_err(|e| decode_failed("response", e))?;
    let response = response.ok_or("malformed unicast response: unknown response code")?;
    let expected = if matches!(response, Err(ReplyError::TooLarge { .. })) {
        3
    } else {
        2
    };
    if items != Some(expected) || !at_end {
        return Err("malformed unicast response: wrong number of items".into());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(e: Encoded) -> Bytes {
        let mut out = e.header;
        out.extend_from_slice(&e.payload);
        Bytes::from(out)
    }

    #[test]
    fn a_request_decodes_to_what_was_encoded() {
        let request = Request {
            module: 513,
            payload: Bytes::from_static(b"ping"),
        };
        let decoded = decode_request(joined(encode_request(&request))).expect("decodes");
        assert_eq!((decoded.module, &decoded.payload[..]), (513, &b"ping"[..]));
    }

    #[test]
    fn every_response_kind_decodes_to_what_was_encoded() {
        let responses = [
            Ok(Bytes::from_static(b"pong")),
            Ok(Bytes::new()),
            Err(ReplyError::UnknownModule(7)),
            Err(ReplyError::TooLarge {
                size: 1 << 40,
                max: 32 << 20,
            }),
            Err(ReplyError::Application("no such block".into())),
        ];
        for response in responses {
            let decoded = decode_response(joined(encode_response(&response))).expect("decodes");
            assert_eq!(decoded, response);
        }
    }

    #[test]
    fn the_envelope_never_exceeds_its_bound() {
        let request = Request {
            module: u16::MAX,
            payload: Bytes::from(vec![0u8; 70_000]),
        };
        assert!(encode_request(&request).header.len() <= ENVELOPE_MAX);
        let response = Ok(Bytes::from(vec![0u8; 70_000]));
        assert!(encode_response(&response).header.len() <= ENVELOPE_MAX);
    }

    #[test]
    fn trailing_bytes_and_unknown_codes_are_refused() {
        let mut bytes = joined(encode_request(&Request {
            module: 1,
            payload: Bytes::from_static(b"x"),
        }))
        .to_vec();
        bytes.push(0);
        assert!(decode_request(Bytes::from(bytes)).is_err());
        // [9, h'']: a response code nobody defined.
        assert!(decode_response(Bytes::from_static(&[0x82, 0x09, 0x40])).is_err());
    }
}
