//! Compression of frames on a link: zstd at level 1, as FISCO 3.x compresses P2P payloads.
//!
//! Each direction of a link negotiates it by protocol name: a node that compresses offers
//! [`PROTOCOL_NAME_ZSTD`](crate::PROTOCOL_NAME_ZSTD) before [`PROTOCOL_NAME`](crate::PROTOCOL_NAME),
//! one that does not offers only the plain name, so two nodes settle on zstd only when both
//! compress, and a node with compression off still talks to one with it on.
//!
//! On a zstd stream every frame starts with a codec byte: `0`, the frame follows as on a plain
//! stream; `1`, a `u32` decompressed length, then the zstd frame of the plain frame's bytes.
//! Frames whose payload is at most [`THRESHOLD`] bytes are sent plain (not worth the work), and
//! so is a frame that does not shrink. Compression is per link: a relay decompresses what it receives and
//! compresses again (or not) for its next link; the origin's signature covers the plain bytes.
//!
//! The declared decompressed length is checked against the maximum message size before
//! anything is inflated, and the output buffer is exactly that long: a zip bomb is refused as
//! too large, never inflated.

use std::cell::RefCell;

/// Frames whose payload is larger than this are compressed (FISCO: payloads over 1 KiB).
pub(crate) const THRESHOLD: usize = 1024;
/// zstd level: 1, FISCO 3.x's (fast; most of the ratio of higher levels on typical payloads).
const LEVEL: i32 = 1;

/// Codec byte of a plain frame on a zstd stream.
pub(crate) const PLAIN: u8 = 0;
/// Codec byte of a compressed frame.
pub(crate) const ZSTD: u8 = 1;

thread_local! {
    // Contexts are reused: making one per frame costs more than compressing a small frame.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The zstd frame of `plain`, if it is smaller than `plain`.
pub(crate) fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        let compressed = cell.as_mut()?.compress(plain).ok()?;
        (compressed.len() < plain.len()).then_some(compressed)
    })
}

/// Why a compressed frame was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The declared decompressed size is over the maximum: refused before inflating.
    TooLarge { len: u64 },
    /// The data is not a zstd frame of the declared size.
    Corrupt(String),
}

/// Inflates the body of a compressed frame (`[u32 decompressed length][zstd frame]`) into at
/// most `max` bytes.
pub(crate) fn decompress(body: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let (len, data) = body
        .split_first_chunk::<4>()
        .ok_or_else(|| InflateError::Corrupt("no decompressed length".into()))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > max {
        return Err(InflateError::TooLarge { len: len as u64 });
    }
    let plain = DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| InflateError::Corrupt(e.to_string()))?,
            );
        }
        let decompressor = cell
            .as_mut()
            .ok_or_else(|| InflateError::Corrupt("no zstd context".into()))?;
        // The buffer is exactly the declared size: zstd fails rather than grow it.
        decompressor
            .decompress(data, len)
            .map_err(|e| InflateError::Corrupt(format!("zstd: {e}")))
    })?;
    if plain.len() != len {
        return Err(InflateError::Corrupt(format!(
            "{} bytes inflated, {len} declared",
            plain.len()
        )));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressible_frame_shrinks_and_inflates_back() {
        let plain: Vec<u8> = b"block 42 "
            .iter()
            .copied()
            .cycle()
            .take(64 * 1024)
            .collect();
        let compressed = compress(&plain).unwrap();
        assert!(compressed.len() < plain.len() / 10, "{}", compressed.len());
        let body = [&(plain.len() as u32).to_be_bytes()[..], &compressed].concat();
        assert_eq!(decompress(&body, plain.len()).unwrap(), plain);
    }

    #[test]
    fn random_bytes_are_not_worth_compressing() {
        let plain: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        assert_eq!(compress(&plain), None);
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_declared_size_before_inflating() {
        // 64 MiB of zeros compress to a few KiB.
        let plain = vec![0u8; 64 * 1024 * 1024];
        let compressed = compress(&plain).unwrap();
        assert!(compressed.len() < 16 * 1024, "{}", compressed.len());
        let body = [&(plain.len() as u32).to_be_bytes()[..], &compressed].concat();
        assert_eq!(
            decompress(&body, 1024 * 1024),
            Err(InflateError::TooLarge {
                len: plain.len() as u64
            })
        );
        // A size declared under the truth does not make it inflate further.
        let lying = [&(1024u32 * 1024).to_be_bytes()[..], &compressed].concat();
        assert!(matches!(
            decompress(&lying, 32 * 1024 * 1024),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        assert!(matches!(
            decompress(&[0, 0], 10),
            Err(InflateError::Corrupt(_))
        ));
        assert!(matches!(
            decompress(&[0, 0, 0, 8, 1, 2, 3], 10),
            Err(InflateError::Corrupt(_))
        ));
    }
}
