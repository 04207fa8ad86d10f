//! Cloud KMS key names: the one validated form every other module works with.
//!
//! A name from an alert or a log is attacker-controlled; it only becomes a
//! [`KeyName`] after every segment has been checked against the character
//! sets Google allows, so it can go into a URL path or a Logging filter
//! without changing its meaning.

use std::fmt;

/// `projects/P/locations/L/keyRings/R/cryptoKeys/K`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(into = "String")]
pub struct KeyName {
    project: String,
    location: String,
    key_ring: String,
    key: String,
}

/// Why a string is not a key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyNameError {
    #[error(
        "not a Cloud KMS key name: expected projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY"
    )]
    Shape,
    #[error("invalid {part} {value:?} in key name")]
    Segment { part: &'static str, value: String },
}

/// Project ids (6–30 chars) and numbers; location ids.
fn lower_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Key ring and key ids: `[a-zA-Z0-9_-]{1,63}`.
pub fn valid_kms_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl KeyName {
    /// Parses a key name, with or without the `//cloudkms.googleapis.com/`
    /// full-resource prefix; a trailing `/cryptoKeyVersions/N` is accepted and dropped.
    pub fn parse(raw: &str) -> Result<KeyName, KeyNameError> {
        let s = raw.trim();
        let s = s.strip_prefix("//cloudkms.googleapis.com/").unwrap_or(s);
        let parts: Vec<&str> = s.split('/').collect();
        let (p, l, r, k) = match parts.as_slice() {
            [
                "projects",
                p,
                "locations",
                l,
                "keyRings",
                r,
                "cryptoKeys",
                k,
            ] => (*p, *l, *r, *k),
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
            ] if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => (*p, *l, *r, *k),
            _ => return Err(KeyNameError::Shape),
        };
        let check = |part: &'static str, value: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(KeyNameError::Segment {
                    part,
                    // Shown in errors: a bounded, printable excerpt of the hostile value.
                    value: crate::sanitize::excerpt(value, 80),
                })
            }
        };
        check("project", p, lower_word(p))?;
        check("location", l, lower_word(l))?;
        check("key ring", r, valid_kms_id(r))?;
        check("key", k, valid_kms_id(k))?;
        Ok(KeyName {
            project: p.to_owned(),
            location: l.to_owned(),
            key_ring: r.to_owned(),
            key: k.to_owned(),
        })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn key_id(&self) -> &str {
        &self.key
    }

    /// `projects/P/locations/L/keyRings/R`.
    pub fn key_ring(&self) -> String {
        format!(
            "projects/{}/locations/{}/keyRings/{}",
            self.project, self.location, self.key_ring
        )
    }

    /// Finds every well-formed key name inside free text (alert descriptions,
    /// entity values), in order of appearance, without duplicates.
    pub fn find_all(text: &str) -> Vec<KeyName> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("projects/") {
            let candidate = &rest[i..];
            let end = candidate
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_')))
                .unwrap_or(candidate.len());
            if let Ok(name) = KeyName::parse(&candidate[..end])
                && !found.contains(&name)
            {
                found.push(name);
            }
            rest = &candidate["projects/".len()..];
        }
        found
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "projects/{}/locations/{}/keyRings/{}/cryptoKeys/{}",
            self.project, self.location, self.key_ring, self.key
        )
    }
}

impl From<KeyName> for String {
    fn from(k: KeyName) -> String {
        k.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_full_and_version_forms() {
        let want = "projects/p-1/locations/us/keyRings/r/cryptoKeys/k_1";
        for raw in [
            want.to_owned(),
            format!("//cloudkms.googleapis.com/{want}"),
            format!("{want}/cryptoKeyVersions/3"),
            format!("  {want}\n"),
        ] {
            assert_eq!(
                KeyName::parse(&raw).map(|k| k.to_string()),
                Ok(want.to_owned()),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_anything_that_could_change_a_query() {
        for bad in [
            "projects/p/locations/us/keyRings/r/cryptoKeys/k\" OR \"1\"=\"1",
            "projects/p/locations/us/keyRings/r/cryptoKeys/k)",
            "projects/P/locations/us/keyRings/r/cryptoKeys/k",
            "projects/p/locations/us/keyRings/r/cryptoKeys/",
            "projects/p/locations/us/keyRings/r",
            "projects/p/locations/us/keyRings/r/cryptoKeys/k\nfake",
        ] {
            assert!(KeyName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_quote_a_short_printable_excerpt() {
        let hostile = format!(
            "projects/p/locations/us/keyRings/r/cryptoKeys/k\u{1b}[2J\u{202e}{}",
            "A".repeat(10_000)
        );
        let Err(err) = KeyName::parse(&hostile) else {
            panic!("a hostile key name was accepted")
        };
        let err = err.to_string();
        assert!(err.chars().count() < 200, "{err}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{202e}'),
            "{err:?}"
        );
    }

    #[test]
    fn finds_names_in_free_text() {
        let text = "Key projects/a-1/locations/global/keyRings/r/cryptoKeys/k was created; see //cloudkms.googleapis.com/projects/a-1/locations/global/keyRings/r/cryptoKeys/k2.";
        let found: Vec<String> = KeyName::find_all(text)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            found,
            [
                "projects/a-1/locations/global/keyRings/r/cryptoKeys/k",
                "projects/a-1/locations/global/keyRings/r/cryptoKeys/k2"
            ]
        );
    }
}
