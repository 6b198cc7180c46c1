//! Human names for the key algorithms and curves found in keys and certificates.
//!
//! Errors say "the key is EC prime256v1" rather than quoting an OID, because that is what
//! `openssl` prints and what a user can act on.

/// `id-ecPublicKey`: the algorithm of every elliptic-curve key, the curve being a parameter.
pub(crate) const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// The secp256k1 curve.
pub(crate) const SECP256K1: &str = "1.3.132.0.10";

/// Names a key algorithm (dotted OID) and, for EC keys, its curve (dotted OID).
pub(crate) fn describe_key(algorithm: &str, curve: Option<&str>) -> String {
    let name = match algorithm {
        EC_PUBLIC_KEY => {
            let curve = curve.map_or_else(|| "with no named curve".to_owned(), curve_name);
            return format!("EC {curve}");
        }
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.156.10197.1.301" => "SM2",
        other => return format!("an unknown algorithm (OID {other})"),
    };
    name.to_owned()
}

/// Names an elliptic curve by its dotted OID, as OpenSSL does.
pub(crate) fn curve_name(oid: &str) -> String {
    let name = match oid {
        SECP256K1 => "secp256k1",
        "1.2.840.10045.3.1.7" => "prime256v1",
        "1.3.132.0.34" => "secp384r1",
        "1.3.132.0.35" => "secp521r1",
        "1.2.840.10045.3.1.1" => "prime192v1",
        "1.3.132.0.33" => "secp224r1",
        "1.2.156.10197.1.301" => "SM2",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        other => return format!("curve {other}"),
    };
    name.to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn common_keys_get_openssl_names() {
        assert_eq!(
            describe_key(EC_PUBLIC_KEY, Some("1.2.840.10045.3.1.7")),
            "EC prime256v1"
        );
        assert_eq!(describe_key(EC_PUBLIC_KEY, Some(SECP256K1)), "EC secp256k1");
        assert_eq!(describe_key("1.2.840.113549.1.1.1", None), "RSA");
        assert_eq!(
            describe_key("1.2.3", None),
            "an unknown algorithm (OID 1.2.3)"
        );
    }
}
