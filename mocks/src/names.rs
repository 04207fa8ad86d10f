//! Cloud KMS resource names: parsing, validation and the audit-log resource
//! labels derived from them.

use serde_json::{Value, json};

/// Which KMS resource a name designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsName {
    KeyRing {
        project: String,
        location: String,
        key_ring: String,
    },
    CryptoKey {
        project: String,
        location: String,
        key_ring: String,
        crypto_key: String,
    },
    Version {
        project: String,
        location: String,
        key_ring: String,
        crypto_key: String,
        version: u64,
    },
}

/// KMS ids are `[a-zA-Z0-9_-]{1,63}` (key rings and keys alike).
pub fn valid_kms_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Project ids or numbers, and location ids, are lower-case words with dashes.
fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl KmsName {
    pub fn parse(name: &str) -> Option<KmsName> {
        let parts: Vec<&str> = name.split('/').collect();
        match parts.as_slice() {
            ["projects", p, "locations", l, "keyRings", r]
                if valid_segment(p) && valid_segment(l) && valid_kms_id(r) =>
            {
                Some(KmsName::KeyRing {
                    project: (*p).into(),
                    location: (*l).into(),
                    key_ring: (*r).into(),
                })
            }
            [
                "projects",
                p,
                "locations",
                l,
                "keyRings",
                r,
                "cryptoKeys",
                k,
            ] if valid_segment(p) && valid_segment(l) && valid_kms_id(r) && valid_kms_id(k) => {
                Some(KmsName::CryptoKey {
                    project: (*p).into(),
                    location: (*l).into(),
                    key_ring: (*r).into(),
                    crypto_key: (*k).into(),
                })
            }
            [
                "projects",
                p,
                "locations",
                l,
                "keyRings",
                r,
                "cryptoKeys",
                k,
                "cryptoKeyVersions",
                v,
            ] if valid_segment(p) && valid_segment(l) && valid_kms_id(r) && valid_kms_id(k) => {
                let version = v.parse::<u64>().ok().filter(|v| *v > 0)?;
                if v.starts_with('0') {
                    return None;
                }
                Some(KmsName::Version {
                    project: (*p).into(),
                    location: (*l).into(),
                    key_ring: (*r).into(),
                    crypto_key: (*k).into(),
                    version,
                })
            }
            _ => None,
        }
    }

    pub fn project(&self) -> &str {
        match self {
            KmsName::KeyRing { project, .. }
            | KmsName::CryptoKey { project, .. }
            | KmsName::Version { project, .. } => project,
        }
    }

    /// The monitored resource Cloud Audit Logs attach to entries about this resource.
    pub fn monitored_resource(&self) -> Value {
        match self {
            KmsName::KeyRing {
                project,
                location,
                key_ring,
            } => json!({
                "type": "cloudkms_keyring",
                "labels": {"project_id": project, "location": location, "key_ring_id": key_ring}
            }),
            KmsName::CryptoKey {
                project,
                location,
                key_ring,
                crypto_key,
            } => json!({
                "type": "cloudkms_cryptokey",
                "labels": {"project_id": project, "location": location, "key_ring_id": key_ring, "crypto_key_id": crypto_key}
            }),
            KmsName::Version {
                project,
                location,
                key_ring,
                crypto_key,
                version,
            } => json!({
                "type": "cloudkms_cryptokeyversion",
                "labels": {
                    "project_id": project, "location": location, "key_ring_id": key_ring,
                    "crypto_key_id": crypto_key, "crypto_key_version_id": version.to_string()
                }
            }),
        }
    }

    /// `resourceAttributes.type` in newer audit entries.
    pub fn attribute_type(&self) -> &'static str {
        match self {
            KmsName::KeyRing { .. } => "cloudkms.googleapis.com/KeyRing",
            KmsName::CryptoKey { .. } => "cloudkms.googleapis.com/CryptoKey",
            KmsName::Version { .. } => "cloudkms.googleapis.com/CryptoKeyVersion",
        }
    }

    pub fn location(&self) -> &str {
        match self {
            KmsName::KeyRing { location, .. }
            | KmsName::CryptoKey { location, .. }
            | KmsName::Version { location, .. } => location,
        }
    }
}

/// The parent of a resource name (`a/b/c/d` -> `a/b`).
pub fn parent(name: &str) -> &str {
    let mut it = name.rmatch_indices('/');
    match (it.next(), it.next()) {
        (Some(_), Some((i, _))) => &name[..i],
        _ => "",
    }
}

/// The last path segment (the id) of a resource name.
pub fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_rejects_malformed_names() {
        assert!(matches!(
            KmsName::parse("projects/p-1/locations/global/keyRings/r"),
            Some(KmsName::KeyRing { .. })
        ));
        assert!(matches!(
            KmsName::parse("projects/p-1/locations/us/keyRings/r/cryptoKeys/k_1"),
            Some(KmsName::CryptoKey { .. })
        ));
        assert!(matches!(
            KmsName::parse("projects/p/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/12"),
            Some(KmsName::Version { version: 12, .. })
        ));
        for bad in [
            "",
            "projects/p/locations/us/keyRings/",
            "projects/P/locations/us/keyRings/r",
            "projects/p/locations/us/keyRings/r\"/cryptoKeys/k",
            "projects/p/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/0",
            "projects/p/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/01",
            "projects/p/locations/us/keyRings/r/cryptoKeys/k/extra",
        ] {
            assert_eq!(KmsName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn parent_and_leaf() {
        assert_eq!(
            parent("projects/p/locations/l/keyRings/r/cryptoKeys/k"),
            "projects/p/locations/l/keyRings/r"
        );
        assert_eq!(leaf("projects/p/locations/l/keyRings/r/cryptoKeys/k"), "k");
    }
}
