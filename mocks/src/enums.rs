//! Enum numbers and names of the Google APIs the mock serves.
//!
//! Google's Rust and Python typed clients send enums as proto numbers
//! (`{"state": 2}`), the discovery-based clients send names, and the real
//! service always answers with names. Proto numbers are not the declaration
//! order, so these tables are generated from the official Rust SDK sources
//! (and checked against them in the tests) rather than from the discovery
//! documents.

/// `CryptoKeyVersionState`: proto number and JSON name.
pub const CRYPTO_KEY_VERSION_STATE: &[(i64, &str)] = &[
    (0, "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED"),
    (1, "ENABLED"),
    (2, "DISABLED"),
    (3, "DESTROYED"),
    (4, "DESTROY_SCHEDULED"),
    (5, "PENDING_GENERATION"),
    (6, "PENDING_IMPORT"),
    (7, "IMPORT_FAILED"),
    (8, "GENERATION_FAILED"),
    (9, "PENDING_EXTERNAL_DESTRUCTION"),
    (10, "EXTERNAL_DESTRUCTION_FAILED"),
];

/// `ProtectionLevel`: proto number and JSON name.
pub const PROTECTION_LEVEL: &[(i64, &str)] = &[
    (0, "PROTECTION_LEVEL_UNSPECIFIED"),
    (1, "SOFTWARE"),
    (2, "HSM"),
    (3, "EXTERNAL"),
    (4, "EXTERNAL_VPC"),
    (5, "HSM_SINGLE_TENANT"),
];

/// `CryptoKeyPurpose`: proto number and JSON name.
pub const CRYPTO_KEY_PURPOSE: &[(i64, &str)] = &[
    (0, "CRYPTO_KEY_PURPOSE_UNSPECIFIED"),
    (1, "ENCRYPT_DECRYPT"),
    (5, "ASYMMETRIC_SIGN"),
    (6, "ASYMMETRIC_DECRYPT"),
    (7, "RAW_ENCRYPT_DECRYPT"),
    (9, "MAC"),
    (10, "KEY_ENCAPSULATION"),
    (11, "AES_WRAPPING"),
];

/// `CryptoKeyVersionAlgorithm`: proto number and JSON name.
pub const CRYPTO_KEY_VERSION_ALGORITHM: &[(i64, &str)] = &[
    (0, "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED"),
    (1, "GOOGLE_SYMMETRIC_ENCRYPTION"),
    (2, "RSA_SIGN_PSS_2048_SHA256"),
    (3, "RSA_SIGN_PSS_3072_SHA256"),
    (4, "RSA_SIGN_PSS_4096_SHA256"),
    (5, "RSA_SIGN_PKCS1_2048_SHA256"),
    (6, "RSA_SIGN_PKCS1_3072_SHA256"),
    (7, "RSA_SIGN_PKCS1_4096_SHA256"),
    (8, "RSA_DECRYPT_OAEP_2048_SHA256"),
    (9, "RSA_DECRYPT_OAEP_3072_SHA256"),
    (10, "RSA_DECRYPT_OAEP_4096_SHA256"),
    (12, "EC_SIGN_P256_SHA256"),
    (13, "EC_SIGN_P384_SHA384"),
    (15, "RSA_SIGN_PSS_4096_SHA512"),
    (16, "RSA_SIGN_PKCS1_4096_SHA512"),
    (17, "RSA_DECRYPT_OAEP_4096_SHA512"),
    (18, "EXTERNAL_SYMMETRIC_ENCRYPTION"),
    (19, "AES_256_GCM"),
    (28, "RSA_SIGN_RAW_PKCS1_2048"),
    (29, "RSA_SIGN_RAW_PKCS1_3072"),
    (30, "RSA_SIGN_RAW_PKCS1_4096"),
    (31, "EC_SIGN_SECP256K1_SHA256"),
    (32, "HMAC_SHA256"),
    (33, "HMAC_SHA1"),
    (34, "HMAC_SHA384"),
    (35, "HMAC_SHA512"),
    (36, "HMAC_SHA224"),
    (37, "RSA_DECRYPT_OAEP_2048_SHA1"),
    (38, "RSA_DECRYPT_OAEP_3072_SHA1"),
    (39, "RSA_DECRYPT_OAEP_4096_SHA1"),
    (40, "EC_SIGN_ED25519"),
    (41, "AES_128_GCM"),
    (42, "AES_128_CBC"),
    (43, "AES_256_CBC"),
    (44, "AES_128_CTR"),
    (45, "AES_256_CTR"),
    (47, "ML_KEM_768"),
    (48, "ML_KEM_1024"),
    (56, "PQ_SIGN_ML_DSA_65"),
    (57, "PQ_SIGN_SLH_DSA_SHA2_128S"),
    (60, "PQ_SIGN_HASH_SLH_DSA_SHA2_128S_SHA256"),
    (63, "KEM_XWING"),
    (67, "PQ_SIGN_ML_DSA_65_EXTERNAL_MU"),
    (68, "PQ_SIGN_ML_DSA_44"),
    (69, "PQ_SIGN_ML_DSA_87"),
    (70, "PQ_SIGN_ML_DSA_44_EXTERNAL_MU"),
    (71, "PQ_SIGN_ML_DSA_87_EXTERNAL_MU"),
    (73, "AES_256_KWP"),
];

/// `CryptoKeyVersionView`: proto number and JSON name.
pub const CRYPTO_KEY_VERSION_VIEW: &[(i64, &str)] =
    &[(0, "CRYPTO_KEY_VERSION_VIEW_UNSPECIFIED"), (1, "FULL")];

/// `LogType`: proto number and JSON name.
pub const LOG_TYPE: &[(i64, &str)] = &[
    (0, "LOG_TYPE_UNSPECIFIED"),
    (1, "ADMIN_READ"),
    (2, "DATA_WRITE"),
    (3, "DATA_READ"),
];

/// `Action`: proto number and JSON name.
pub const BINDING_DELTA_ACTION: &[(i64, &str)] =
    &[(0, "ACTION_UNSPECIFIED"), (1, "ADD"), (2, "REMOVE")];

/// Which enum a JSON field holds, by field name, for the request bodies the
/// mock accepts. Field names are unique enough across the KMS and IAM request
/// messages that a name-based table is exact.
pub fn table_for_field(field: &str) -> Option<&'static [(i64, &'static str)]> {
    Some(match field {
        "state" => CRYPTO_KEY_VERSION_STATE,
        "protectionLevel" => PROTECTION_LEVEL,
        "purpose" => CRYPTO_KEY_PURPOSE,
        "algorithm" => CRYPTO_KEY_VERSION_ALGORITHM,
        "logType" => LOG_TYPE,
        "action" => BINDING_DELTA_ACTION,
        _ => return None,
    })
}

/// The name of an enum value given as a number or a name; `None` when the
/// value is not a member of the table.
pub fn to_name(table: &[(i64, &'static str)], value: &serde_json::Value) -> Option<&'static str> {
    match value {
        serde_json::Value::Number(n) => {
            let n = n.as_i64()?;
            table
                .iter()
                .find(|(num, _)| *num == n)
                .map(|(_, name)| *name)
        }
        serde_json::Value::String(s) => {
            // Proto3 JSON also accepts the number spelled as a string.
            if let Ok(n) = s.parse::<i64>() {
                return table
                    .iter()
                    .find(|(num, _)| *num == n)
                    .map(|(_, name)| *name);
            }
            table
                .iter()
                .find(|(_, name)| name == s)
                .map(|(_, name)| *name)
        }
        _ => None,
    }
}

/// Rewrites every enum field of a request body to its name, in place.
/// Returns the JSON path of the first value that is not a member of its enum.
pub fn normalize(value: &mut serde_json::Value, path: &str) -> Result<(), String> {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(table) = table_for_field(key)
                    && (v.is_number() || v.is_string())
                {
                    match to_name(table, v) {
                        Some(name) => *v = serde_json::Value::String(name.to_owned()),
                        None => return Err(child),
                    }
                    continue;
                }
                normalize(v, &child)?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                normalize(v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tables must agree with the official client, which is what sends the numbers.
    #[test]
    fn tables_match_the_official_rust_client() {
        use google_cloud_kms_v1::model::{
            CryptoKeyVersion, ProtectionLevel,
            crypto_key::CryptoKeyPurpose,
            crypto_key_version::{
                CryptoKeyVersionAlgorithm, CryptoKeyVersionState, CryptoKeyVersionView,
            },
        };
        let _ = CryptoKeyVersion::default();
        for (n, name) in CRYPTO_KEY_VERSION_STATE {
            assert_eq!(CryptoKeyVersionState::from(*n as i32).name(), Some(*name));
        }
        for (n, name) in PROTECTION_LEVEL {
            assert_eq!(ProtectionLevel::from(*n as i32).name(), Some(*name));
        }
        for (n, name) in CRYPTO_KEY_PURPOSE {
            assert_eq!(CryptoKeyPurpose::from(*n as i32).name(), Some(*name));
        }
        for (n, name) in CRYPTO_KEY_VERSION_ALGORITHM {
            assert_eq!(
                CryptoKeyVersionAlgorithm::from(*n as i32).name(),
                Some(*name)
            );
        }
        for (n, name) in CRYPTO_KEY_VERSION_VIEW {
            assert_eq!(CryptoKeyVersionView::from(*n as i32).name(), Some(*name));
        }
    }

    #[test]
    fn normalizes_numbers_and_names_and_rejects_strangers() {
        let mut body = serde_json::json!({"name": "x", "state": 2, "versionTemplate": {"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protectionLevel": 2}});
        assert_eq!(normalize(&mut body, ""), Ok(()));
        assert_eq!(body["state"], "DISABLED");
        assert_eq!(body["versionTemplate"]["protectionLevel"], "HSM");
        let mut bad = serde_json::json!({"policy": {"auditConfigs": [{"auditLogConfigs": [{"logType": 99}]}]}});
        assert_eq!(
            normalize(&mut bad, ""),
            Err("policy.auditConfigs[0].auditLogConfigs[0].logType".to_owned())
        );
    }
}
