//! Making certificates: a self-signed chain CA, agency certificates, node certificates.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::profile::FiscoProfile;
use super::CertsError;
use crate::{inspect_certificate, LeafKey, NodeKey, Origin};

/// FISCO's default validity: 36500 days (about a hundred years).
pub const DEFAULT_DAYS: u32 = 36500;

/// The organisation FISCO's `build_chain` puts in every subject.
const ORGANIZATION: &str = "fisco-bcos";

/// Longest common name X.509 allows (`ub-common-name`).
const MAX_COMMON_NAME: usize = 64;

/// A certificate's place in a FISCO chain: it sets the subject's `OU` and whether it is a CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The chain's root CA (`OU=chain`, `CA:TRUE`, self-signed).
    Chain,
    /// An agency, issued by the chain CA (`OU=agency`, `CA:TRUE`).
    Agency,
    /// A node (`OU=node`, `CA:FALSE`).
    Node,
}

impl Role {
    fn organizational_unit(self) -> &'static str {
        match self {
            Role::Chain => "chain",
            Role::Agency => "agency",
            Role::Node => "node",
        }
    }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From now on, for this many days.
    Days(u32),
    /// An explicit window (tests use it for expired and not-yet-valid certificates).
    Window {
        /// Start of validity.
        not_before: SystemTime,
        /// End of validity.
        not_after: SystemTime,
    },
}

/// What to put in a certificate: subject common name, role, validity, CA flag.
#[derive(Debug, Clone)]
pub struct CertSpec {
    common_name: String,
    role: Role,
    validity: Validity,
    is_ca: bool,
}

impl CertSpec {
    /// A certificate for `common_name` in `role`, valid for [`DEFAULT_DAYS`] from now, with the CA
    /// flag of its role (`CA:TRUE` for chain and agency, `CA:FALSE` for nodes).
    pub fn new(role: Role, common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            role,
            validity: Validity::Days(DEFAULT_DAYS),
            is_ca: role != Role::Node,
        }
    }

    /// Valid from now for `days` days.
    pub fn with_days(mut self, days: u32) -> Self {
        self.validity = Validity::Days(days);
        self
    }

    /// Valid in an explicit window.
    pub fn with_validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }

    /// Overrides the CA flag of the role (tests use it to make a `CA:TRUE` node certificate).
    pub fn with_ca(mut self, is_ca: bool) -> Self {
        self.is_ca = is_ca;
        self
    }

    /// The subject common name.
    pub fn common_name(&self) -> &str {
        &self.common_name
    }

    /// The subject, in DER order `CN`, `O`, `OU` as `-subj /CN=../O=fisco-bcos/OU=..` makes it.
    fn subject(&self) -> Result<Name, CertsError> {
        check_common_name(&self.common_name)?;
        // RFC 4514 strings list the RDNs last first, hence OU before CN here.
        let text = format!(
            "OU={},O={ORGANIZATION},CN={}",
            self.role.organizational_unit(),
            self.common_name
        );
        Name::from_str(&text).map_err(|e| CertsError::BadName {
            name: self.common_name.clone(),
            reason: e.to_string(),
        })
    }

    fn validity(&self) -> Result<x509_cert::time::Validity, CertsError> {
        let (not_before, not_after) = match self.validity {
            Validity::Days(days) => {
                let now = SystemTime::now();
                (now, now + Duration::from_secs(u64::from(days) * 86_400))
            }
            Validity::Window {
                not_before,
                not_after,
            } => (not_before, not_after),
        };
        if not_after <= not_before {
            return Err(CertsError::BadValidity(
                "the end of validity must come after its start".into(),
            ));
        }
        let time = |t: SystemTime| {
            Time::try_from(t).map_err(|e| CertsError::BadValidity(format!("{t:?}: {e}")))
        };
        Ok(x509_cert::time::Validity::new(
            time(not_before)?,
            time(not_after)?,
        ))
    }
}

/// Refuses names that would need RFC 4514 escaping or that X.509 does not allow.
fn check_common_name(name: &str) -> Result<(), CertsError> {
    let bad = |reason: &str| CertsError::BadName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || name.len() > MAX_COMMON_NAME {
        return Err(bad("a name has 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("use letters, digits, '-', '_' and '.' only"));
    }
    Ok(())
}

/// A CA or agency that can issue certificates: its secp256k1 key and its own certificate.
#[derive(Debug, Clone)]
pub struct Issuer {
    key: NodeKey,
    certificate: CertificateDer<'static>,
    subject: Name,
}

impl Issuer {
    /// Pairs a key with its certificate, checking that the certificate is a CA for this key.
    pub fn new(key: NodeKey, certificate: CertificateDer<'static>) -> Result<Self, CertsError> {
        Self::checked(key, certificate, Origin::Memory("issuer certificate"))
    }

    /// Loads an issuer from a PEM key and a PEM certificate (the first one of the file).
    pub fn load(key: impl AsRef<Path>, certificate: impl AsRef<Path>) -> Result<Self, CertsError> {
        let cert_path = certificate.as_ref();
        let origin = Origin::File(cert_path.to_owned());
        let pem = crate::read_file(cert_path)?;
        let first = crate::parse_pem_certificates(&pem, &origin)?
            .into_iter()
            .next();
        let certificate = first.ok_or_else(|| CertsError::NotAnIssuer {
            origin: origin.clone(),
            reason: "it holds no certificate".into(),
        })?;
        Self::checked(NodeKey::load(key)?, certificate, origin)
    }

    fn checked(
        key: NodeKey,
        certificate: CertificateDer<'static>,
        origin: Origin,
    ) -> Result<Self, CertsError> {
        let info = inspect_certificate(&certificate)?;
        let not_an_issuer = |reason: String| CertsError::NotAnIssuer {
            origin: origin.clone(),
            reason,
        };
        match info.key {
            LeafKey::Secp256k1(id) if id == key.node_id() => {}
            LeafKey::Secp256k1(_) => {
                return Err(not_an_issuer(
                    "its key is not the issuer key given with it".into(),
                ))
            }
            LeafKey::Rsa(_) => {
                return Err(not_an_issuer(
                    "its key is RSA; this tool signs with secp256k1 only".into(),
                ))
            }
            LeafKey::Other(found) => {
                return Err(not_an_issuer(format!(
                    "its key is {found}; this tool signs with secp256k1 only"
                )))
            }
        }
        if !info.is_ca {
            return Err(not_an_issuer("it is not a CA (CA:FALSE)".into()));
        }
        let subject = Certificate::from_der(&certificate)
            .map_err(|e| not_an_issuer(e.to_string()))?
            .tbs_certificate()
            .subject()
            .clone();
        Ok(Self {
            key,
            certificate,
            subject,
        })
    }

    /// The issuer's key.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// The issuer's certificate.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }
}

/// Makes a self-signed certificate for `key` (a chain CA, normally).
pub fn self_signed(spec: &CertSpec, key: &NodeKey) -> Result<CertificateDer<'static>, CertsError> {
    let profile = FiscoProfile {
        subject: spec.subject()?,
        issuer: None,
        is_ca: spec.is_ca,
    };
    build(profile, spec, &key.public_key(), key)
}

/// Makes a certificate for `subject_key`, signed by `issuer`.
pub fn issue(
    spec: &CertSpec,
    subject_key: &secp256k1::PublicKey,
    issuer: &Issuer,
) -> Result<CertificateDer<'static>, CertsError> {
    let profile = FiscoProfile {
        subject: spec.subject()?,
        issuer: Some(issuer.subject.clone()),
        is_ca: spec.is_ca,
    };
    build(profile, spec, subject_key, &issuer.key)
}

/// A fresh chain CA: a new key and its self-signed certificate.
pub fn new_ca(spec: &CertSpec) -> Result<Issuer, CertsError> {
    let key = NodeKey::generate();
    let certificate = self_signed(spec, &key)?;
    Issuer::new(key, certificate)
}

/// A fresh agency: a new key and its certificate signed by `ca`.
pub fn new_agency(spec: &CertSpec, ca: &Issuer) -> Result<Issuer, CertsError> {
    let key = NodeKey::generate();
    let certificate = issue(spec, &key.public_key(), ca)?;
    Issuer::new(key, certificate)
}

/// A fresh node: a new key and its certificate signed by `issuer` (an agency or the CA).
pub fn new_node(
    spec: &CertSpec,
    issuer: &Issuer,
) -> Result<(NodeKey, CertificateDer<'static>), CertsError> {
    let key = NodeKey::generate();
    let certificate = issue(spec, &key.public_key(), issuer)?;
    Ok((key, certificate))
}

fn build(
    profile: FiscoProfile,
    spec: &CertSpec,
    subject_key: &secp256k1::PublicKey,
    signer: &NodeKey,
) -> Result<CertificateDer<'static>, CertsError> {
    let build_error = |e: &dyn std::fmt::Display| CertsError::Build(e.to_string());
    let subject_key = k256::PublicKey::from_sec1_bytes(&subject_key.serialize_uncompressed())
        .map_err(|e| build_error(&e))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(&subject_key).map_err(|e| build_error(&e))?;
    let builder = CertificateBuilder::new(profile, random_serial()?, spec.validity()?, spki)
        .map_err(|e| build_error(&e))?;
    let signing_key = k256::ecdsa::SigningKey::from(signer.to_k256());
    let certificate = builder
        .build::<_, k256::ecdsa::DerSignature>(&signing_key)
        .map_err(|e| build_error(&e))?;
    let der = certificate.to_der().map_err(|e| build_error(&e))?;
    Ok(CertificateDer::from(der))
}

/// A random positive 16-byte serial number, as OpenSSL's `-CAcreateserial` would draw.
fn random_serial() -> Result<SerialNumber, CertsError> {
    let mut bytes: [u8; 16] = rand::random();
    // Positive, and no leading zero byte, so the encoding is exactly these 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(|e| CertsError::Build(e.to_string()))
}
