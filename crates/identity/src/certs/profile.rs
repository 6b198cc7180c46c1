//! The certificate profile of FISCO's `build_chain`: which subject, issuer and extensions a certificate gets.
//!
//! x509-cert's ready-made profiles follow the CA/Browser Forum rules, which refuse FISCO's `O=`/`OU=`
//! subjects, so FISCO's `cert.cnf` is restated here: CA and agency certificates say `CA:TRUE`, node
//! certificates say `CA:FALSE` with keyUsage digitalSignature, nonRepudiation, keyEncipherment and no
//! extendedKeyUsage. Subject and authority key identifiers are added as OpenSSL does, so chain
//! building tools find the issuer.

use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::der::asn1::OctetString;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::Encode;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoRef;

/// One certificate's place in a FISCO chain.
pub(crate) struct FiscoProfile {
    pub(crate) subject: Name,
    /// `None` for a self-signed certificate.
    pub(crate) issuer: Option<Name>,
    pub(crate) is_ca: bool,
}

impl BuilderProfile for FiscoProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let basic = BasicConstraints {
            ca: self.is_ca,
            path_len_constraint: None,
        };
        // RFC 5280 wants CA:TRUE critical; FISCO's v3_req leaves the node's CA:FALSE non-critical.
        let mut extensions = vec![extension(&basic, self.is_ca)?];
        if !self.is_ca {
            let usage = KeyUsages::DigitalSignature
                | KeyUsages::NonRepudiation
                | KeyUsages::KeyEncipherment;
            extensions.push(extension(&KeyUsage(usage), false)?);
        }
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(extension(&ski, false)?);
        let aki = AuthorityKeyIdentifier::try_from(issuer_spk)?;
        extensions.push(extension(&aki, false)?);
        Ok(extensions)
    }
}

/// Encodes an extension with the criticality FISCO's certificates have (x509-cert fixes its own).
fn extension<T: AssociatedOid + Encode>(
    value: &T,
    critical: bool,
) -> x509_cert::builder::Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}
