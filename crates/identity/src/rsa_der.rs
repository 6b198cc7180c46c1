//! The few DER structures of an RSA public key a node needs: PKCS#1 `RSAPublicKey`
//! (`SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, FISCO 3.x's P2P ID) and the X.509
//! `SubjectPublicKeyInfo` that wraps it in certificates and in libp2p's key encoding.
//!
//! Encoding is canonical DER, so the same key always gives the same bytes, the same hex ID and
//! the same PeerId, whichever encoder wrote the certificate it came from.

use x509_parser::prelude::FromDer;

/// `AlgorithmIdentifier { rsaEncryption, NULL }`.
const RSA_ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// The rsaEncryption OID, dotted.
pub(crate) const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// The modulus and exponent of a PKCS#1 `RSAPublicKey`, refusing trailing bytes.
pub(crate) fn parse_pkcs1(der: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (rest, key) = x509_parser::public_key::RSAPublicKey::from_der(der)
        .map_err(|_| "not a PKCS#1 RSAPublicKey".to_owned())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the RSAPublicKey", rest.len()));
    }
    Ok((key.modulus, key.exponent))
}

/// The PKCS#1 key inside an RSA `SubjectPublicKeyInfo`.
pub(crate) fn pkcs1_of_spki(der: &[u8]) -> Result<&[u8], String> {
    let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der)
        .map_err(|_| "not a SubjectPublicKeyInfo".to_owned())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the key", rest.len()));
    }
    if spki.algorithm.algorithm.to_id_string() != RSA_ENCRYPTION {
        return Err("not an RSA key".to_owned());
    }
    let (start, len) = (
        spki.subject_public_key.data.as_ptr() as usize - der.as_ptr() as usize,
        spki.subject_public_key.data.len(),
    );
    der.get(start..start + len)
        .ok_or_else(|| "the key lies outside the structure".to_owned())
}

/// `bytes` without leading zero bytes (one zero stays for the number zero).
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

/// The length in bits of a big-endian unsigned integer.
pub(crate) fn bit_len(bytes: &[u8]) -> usize {
    let bytes = strip_zeros(bytes);
    match bytes.first() {
        None | Some(0) => 0,
        Some(top) => bytes.len() * 8 - top.leading_zeros() as usize,
    }
}

/// A big-endian unsigned integer of at most 8 bytes.
pub(crate) fn small_uint(bytes: &[u8]) -> Option<u64> {
    let bytes = strip_zeros(bytes);
    (bytes.len() <= 8).then(|| bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

/// Canonical `RSAPublicKey` DER of a modulus and exponent (big-endian, no leading zeros).
pub(crate) fn encode_pkcs1(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let body = [integer(modulus), integer(exponent)].concat();
    tlv(0x30, &body)
}

/// The `SubjectPublicKeyInfo` DER of a PKCS#1 key.
pub(crate) fn encode_spki(pkcs1: &[u8]) -> Vec<u8> {
    let bit_string = tlv(0x03, &[&[0u8][..], pkcs1].concat());
    tlv(0x30, &[&RSA_ALGORITHM[..], &bit_string].concat())
}

/// A positive DER INTEGER: a zero byte first when the top bit is set.
fn integer(value: &[u8]) -> Vec<u8> {
    let value = strip_zeros(value);
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        tlv(0x02, &[&[0u8][..], value].concat())
    } else {
        tlv(0x02, value)
    }
}

/// Tag, definite length, value.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let significant = strip_zeros(&bytes);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(integer(&[0, 0, 1, 0, 1]), vec![0x02, 3, 1, 0, 1]);
        assert_eq!(integer(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(tlv(0x30, &[7; 300])[..4], [0x30, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn bit_lengths_ignore_leading_zeros() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(small_uint(&[1, 0, 1]), Some(65537));
        assert_eq!(small_uint(&[1; 9]), None);
    }

    #[test]
    fn a_pkcs1_key_survives_the_spki_round_trip() {
        let mut modulus = vec![0xc5; 256];
        modulus[255] = 0x01;
        let pkcs1 = encode_pkcs1(&modulus, &[1, 0, 1]);
        let spki = encode_spki(&pkcs1);
        assert_eq!(pkcs1_of_spki(&spki).unwrap(), &pkcs1[..]);
        let (n, e) = parse_pkcs1(&pkcs1).unwrap();
        assert_eq!(strip_zeros(n), &modulus[..]);
        assert_eq!(e, &[1, 0, 1]);
        assert!(parse_pkcs1(&[&pkcs1[..], &[0][..]].concat()).is_err());
    }
}
