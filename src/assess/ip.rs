//! `requestMetadata.callerIp` → what kind of address it is, and whether the
//! playbook trusts it.
//!
//! Audit logs write an address, or one of the literals `private` (a caller
//! inside a Google Cloud network) and `gce-internal-ip` (a Compute Engine VM
//! with no external address); an empty field when Google omitted it.

use std::net::IpAddr;

use serde::Serialize;

use crate::playbook::Trust;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum IpClass {
    /// A routable address.
    Public { ip: IpAddr },
    /// RFC 1918, IPv6 ULA (fc00::/7), loopback or link-local.
    Private { ip: IpAddr },
    /// The literal `private`.
    PrivateLiteral,
    /// The literal `gce-internal-ip`.
    GceInternal,
    /// No caller IP recorded.
    Missing,
    /// Anything else (kept for the report, at most 64 characters).
    Unparsable { raw: String },
}

impl IpClass {
    pub fn classify(raw: &str) -> IpClass {
        let raw = raw.trim();
        if raw.is_empty() {
            return IpClass::Missing;
        }
        if raw.eq_ignore_ascii_case("private") {
            return IpClass::PrivateLiteral;
        }
        if raw.eq_ignore_ascii_case("gce-internal-ip") {
            return IpClass::GceInternal;
        }
        let unbracketed = raw
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(raw);
        match unbracketed.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                if is_private(ip) {
                    IpClass::Private { ip }
                } else {
                    IpClass::Public { ip }
                }
            }
            Err(_) => IpClass::Unparsable {
                raw: raw.chars().take(64).collect(),
            },
        }
    }

    /// The address, when there is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            IpClass::Public { ip } | IpClass::Private { ip } => Some(*ip),
            _ => None,
        }
    }

    /// Trusted when the address is inside one of `trust.ip_ranges`, or the
    /// literal (`private`, `gce-internal-ip`) is one of `trust.ip_names`.
    /// A missing or unparsable IP is never trusted; a private address is
    /// trusted only when a range covers it.
    pub fn is_trusted(&self, trust: &Trust) -> bool {
        let named = |name: &str| {
            trust
                .ip_names
                .iter()
                .any(|n| n.trim().eq_ignore_ascii_case(name))
        };
        match self {
            IpClass::Public { ip } | IpClass::Private { ip } => {
                trust.ip_ranges.iter().any(|net| net.contains(ip))
            }
            IpClass::PrivateLiteral => named("private"),
            IpClass::GceInternal => named("gce-internal-ip"),
            IpClass::Missing | IpClass::Unparsable { .. } => false,
        }
    }

    /// For a title: `198.51.100.23, a public address`.
    pub fn describe(&self) -> String {
        match self {
            IpClass::Public { ip } => format!("{ip}, a public address"),
            IpClass::Private { ip } => format!("{ip}, a private address"),
            IpClass::PrivateLiteral => "a Google Cloud internal network (\"private\")".to_owned(),
            IpClass::GceInternal => "a Compute Engine VM (\"gce-internal-ip\")".to_owned(),
            IpClass::Missing => "no recorded caller IP".to_owned(),
            IpClass::Unparsable { raw } => {
                format!("an unparsable caller IP {:?}", crate::sanitize::text(raw))
            }
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests parse fixed literals")]
mod tests {
    use super::*;

    fn trust() -> Trust {
        Trust {
            ip_ranges: vec![
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8:ace::/48".parse().unwrap(),
            ],
            ip_names: vec!["private".into(), "gce-internal-ip".into()],
            ..Trust::default()
        }
    }

    #[test]
    fn classifies_addresses_and_literals() {
        assert_eq!(
            IpClass::classify("198.51.100.23"),
            IpClass::Public {
                ip: "198.51.100.23".parse().unwrap()
            }
        );
        assert_eq!(
            IpClass::classify("10.20.12.54"),
            IpClass::Private {
                ip: "10.20.12.54".parse().unwrap()
            }
        );
        assert!(matches!(
            IpClass::classify("192.168.1.9"),
            IpClass::Private { .. }
        ));
        assert!(matches!(
            IpClass::classify("172.16.0.1"),
            IpClass::Private { .. }
        ));
        assert!(matches!(
            IpClass::classify("172.32.0.1"),
            IpClass::Public { .. }
        ));
        assert!(matches!(
            IpClass::classify("fd12:3456::1"),
            IpClass::Private { .. }
        ));
        assert!(matches!(
            IpClass::classify("fe80::1"),
            IpClass::Private { .. }
        ));
        assert!(matches!(
            IpClass::classify("2001:4860::8888"),
            IpClass::Public { .. }
        ));
        assert!(matches!(
            IpClass::classify("[2001:4860::8888]"),
            IpClass::Public { .. }
        ));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(
            IpClass::classify("::ffff:10.1.2.3"),
            IpClass::Private {
                ip: "10.1.2.3".parse().unwrap()
            }
        );
        assert_eq!(IpClass::classify("private"), IpClass::PrivateLiteral);
        assert_eq!(IpClass::classify("gce-internal-ip"), IpClass::GceInternal);
        assert_eq!(IpClass::classify(""), IpClass::Missing);
        assert_eq!(
            IpClass::classify("10.0.0.1; rm -rf"),
            IpClass::Unparsable {
                raw: "10.0.0.1; rm -rf".into()
            }
        );
        assert_eq!(
            IpClass::classify(&"9".repeat(500)),
            IpClass::Unparsable {
                raw: "9".repeat(64)
            }
        );
    }

    #[test]
    fn trust_comes_from_ranges_and_names() {
        let t = trust();
        assert!(IpClass::classify("10.20.4.17").is_trusted(&t));
        assert!(IpClass::classify("2001:db8:ace:1::5").is_trusted(&t));
        assert!(IpClass::classify("private").is_trusted(&t));
        assert!(IpClass::classify("gce-internal-ip").is_trusted(&t));
        assert!(
            !IpClass::classify("192.168.1.9").is_trusted(&t),
            "private but not in a range"
        );
        assert!(!IpClass::classify("203.0.113.45").is_trusted(&t));
        assert!(!IpClass::classify("").is_trusted(&t));
        assert!(!IpClass::classify("nonsense").is_trusted(&t));
        assert!(!IpClass::classify("private").is_trusted(&Trust::default()));
    }

    #[test]
    fn descriptions_name_the_address() {
        assert_eq!(
            IpClass::classify("198.51.100.23").describe(),
            "198.51.100.23, a public address"
        );
        assert!(IpClass::classify("a\u{1b}b").describe().contains("\\u{1b}"));
    }
}
