//! What the response knows about a key and its policies: plain, serialisable
//! snapshots (they go into the journal as the prior state, and come back out
//! of it for `undo`), built from the investigation or read fresh.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::evidence::Investigation;
use crate::gcp::{self, Gcp, GcpError};
use crate::keyname::KeyName;

/// A version of a key, as far as the response cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub name: String,
    /// Google's state name: `ENABLED`, `DISABLED`, `DESTROY_SCHEDULED`, ...
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_time: Option<Timestamp>,
}

impl VersionInfo {
    fn from_gcp(v: &gcp::CryptoKeyVersion) -> VersionInfo {
        VersionInfo {
            name: v.name.clone(),
            state: v.state.clone(),
            create_time: v.create_time,
            destroy_time: v.destroy_time,
        }
    }

    /// The last segment of the name (`"3"`).
    pub fn id(&self) -> &str {
        version_id(&self.name)
    }
}

/// The last segment of a version name.
pub fn version_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A key's automatic rotation schedule (both absent: none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_time: Option<Timestamp>,
}

/// A key: what the actions read and change (policies are kept apart, since a
/// key ring's policy is shared by its keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub key: String,
    /// `ENCRYPT_DECRYPT`, `ASYMMETRIC_SIGN`, ...
    pub purpose: String,
    /// `SOFTWARE`, `HSM`, `EXTERNAL`, `EXTERNAL_VPC`.
    pub protection_level: String,
    pub import_only: bool,
    /// The primary version's name (symmetric keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default)]
    pub rotation: Rotation,
    /// How long a version stays DESTROY_SCHEDULED before it is destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_scheduled_duration_seconds: Option<u64>,
    pub versions: Vec<VersionInfo>,
}

impl KeyState {
    pub fn from_gcp(key: &gcp::CryptoKey, versions: &[gcp::CryptoKeyVersion]) -> KeyState {
        let mut versions: Vec<VersionInfo> = versions.iter().map(VersionInfo::from_gcp).collect();
        versions.sort_by_key(|v| v.id().parse::<u64>().unwrap_or(u64::MAX));
        KeyState {
            key: key.name.clone(),
            purpose: key.purpose.clone(),
            protection_level: key.protection_level.clone(),
            import_only: key.import_only,
            primary: key.primary.as_ref().map(|p| p.name.clone()),
            rotation: Rotation {
                period_seconds: key.rotation_period.map(|d| d.as_secs()),
                next_rotation_time: key.next_rotation_time,
            },
            destroy_scheduled_duration_seconds: key.destroy_scheduled_duration.map(|d| d.as_secs()),
            versions,
        }
    }

    pub fn version(&self, name: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.name == name)
    }

    pub fn version_mut(&mut self, name: &str) -> Option<&mut VersionInfo> {
        self.versions.iter_mut().find(|v| v.name == name)
    }

    /// Symmetric keys have a primary version and automatic rotation.
    pub fn is_symmetric(&self) -> bool {
        self.purpose == "ENCRYPT_DECRYPT"
    }

    /// Key material held outside Google (Cloud EKM).
    pub fn is_external(&self) -> bool {
        self.protection_level.starts_with("EXTERNAL")
    }
}

/// One role granted to members, optionally under a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBinding {
    pub role: String,
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<PolicyCondition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCondition {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAuditConfig {
    pub service: String,
    pub log_configs: Vec<PolicyAuditLogConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAuditLogConfig {
    pub log_type: String,
    #[serde(default)]
    pub exempted_members: Vec<String>,
}

/// A whole IAM policy with its etag, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub version: i32,
    pub etag: String,
    pub bindings: Vec<PolicyBinding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_configs: Vec<PolicyAuditConfig>,
}

impl Policy {
    pub fn from_gcp(p: &gcp::IamPolicy) -> Policy {
        Policy {
            version: p.version,
            etag: p.etag.clone(),
            bindings: p
                .bindings
                .iter()
                .map(|b| PolicyBinding {
                    role: b.role.clone(),
                    members: b.members.clone(),
                    condition: b.condition.as_ref().map(|c| PolicyCondition {
                        title: c.title.clone(),
                        description: c.description.clone(),
                        expression: c.expression.clone(),
                    }),
                })
                .collect(),
            audit_configs: p
                .audit_configs
                .iter()
                .map(|a| PolicyAuditConfig {
                    service: a.service.clone(),
                    log_configs: a
                        .log_configs
                        .iter()
                        .map(|l| PolicyAuditLogConfig {
                            log_type: l.log_type.clone(),
                            exempted_members: l.exempted_members.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn to_gcp(&self) -> gcp::IamPolicy {
        gcp::IamPolicy {
            version: self.version,
            etag: self.etag.clone(),
            bindings: self
                .bindings
                .iter()
                .map(|b| gcp::Binding {
                    role: b.role.clone(),
                    members: b.members.clone(),
                    condition: b.condition.as_ref().map(|c| gcp::Condition {
                        title: c.title.clone(),
                        description: c.description.clone(),
                        expression: c.expression.clone(),
                    }),
                })
                .collect(),
            audit_configs: self
                .audit_configs
                .iter()
                .map(|a| gcp::AuditConfig {
                    service: a.service.clone(),
                    log_configs: a
                        .log_configs
                        .iter()
                        .map(|l| gcp::AuditLogConfig {
                            log_type: l.log_type.clone(),
                            exempted_members: l.exempted_members.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The bindings as a set of (role, member, condition) grants, for
    /// comparisons that ignore order and how grants are grouped.
    pub fn grants(&self) -> Vec<Grant> {
        let mut out: Vec<Grant> = self
            .bindings
            .iter()
            .flat_map(|b| {
                b.members.iter().map(|m| Grant {
                    role: b.role.clone(),
                    member: m.clone(),
                    condition: b.condition.as_ref().map(|c| c.expression.clone()),
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Removes these grants (a binding left with no member goes away).
    pub fn without(&self, grants: &[Grant]) -> Policy {
        let mut p = self.clone();
        for b in &mut p.bindings {
            let condition = b.condition.as_ref().map(|c| c.expression.clone());
            b.members.retain(|m| {
                !grants.iter().any(|g| {
                    g.role == b.role && g.condition == condition && g.member.eq_ignore_ascii_case(m)
                })
            });
        }
        p.bindings.retain(|b| !b.members.is_empty());
        p
    }

    /// Adds these grants back, to the binding of the same role and
    /// condition when there is one (conditions come from `like`, the
    /// policy they were removed from).
    pub fn with(&self, grants: &[Grant], like: &Policy) -> Policy {
        let mut p = self.clone();
        for g in grants {
            let same = |b: &PolicyBinding| {
                b.role == g.role
                    && b.condition.as_ref().map(|c| &c.expression) == g.condition.as_ref()
            };
            if let Some(b) = p.bindings.iter_mut().find(|b| same(b)) {
                if !b.members.iter().any(|m| m.eq_ignore_ascii_case(&g.member)) {
                    b.members.push(g.member.clone());
                }
                continue;
            }
            let condition = like
                .bindings
                .iter()
                .find(|b| same(b))
                .and_then(|b| b.condition.clone());
            p.bindings.push(PolicyBinding {
                role: g.role.clone(),
                members: vec![g.member.clone()],
                condition,
            });
        }
        if p.bindings.iter().any(|b| b.condition.is_some()) {
            p.version = p.version.max(3);
        }
        p
    }
}

/// One member's role on a resource, under a condition (its expression).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub role: String,
    pub member: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// The keys and policies a response works on, keyed by resource name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct World {
    pub keys: BTreeMap<String, KeyState>,
    /// Key and key ring policies; `None`: could not be read.
    pub policies: BTreeMap<String, Option<Policy>>,
}

impl World {
    /// What the investigation saw of its key (nothing when the key itself
    /// could not be read).
    pub fn add_investigation(&mut self, inv: &Investigation) {
        let name = inv.key_name.to_string();
        if let Some(k) = &inv.key {
            self.keys
                .insert(name.clone(), KeyState::from_gcp(&k.key, &k.versions));
        }
        self.policies
            .entry(name)
            .or_insert_with(|| inv.iam.key.as_ref().map(Policy::from_gcp));
        self.policies
            .entry(inv.key_name.key_ring())
            .or_insert_with(|| inv.iam.key_ring.as_ref().map(Policy::from_gcp));
    }

    pub fn policy(&self, resource: &str) -> Option<&Policy> {
        self.policies.get(resource).and_then(Option::as_ref)
    }
}

/// A key and both its policies: the prior state the journal records
/// before an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub key: KeyState,
    pub key_policy: Policy,
    pub key_ring_policy: Policy,
}

/// Reads a key, its versions and both policies, concurrently. Every read
/// must succeed: an action is never taken without its prior state on record.
pub async fn read_snapshot(gcp: &Gcp, key: &KeyName) -> Result<Snapshot, GcpError> {
    let name = key.to_string();
    let ring = key.key_ring();
    let (k, versions, key_policy, ring_policy) = tokio::join!(
        gcp.get_crypto_key(&name),
        gcp.list_crypto_key_versions(&name),
        gcp.get_iam_policy(&name),
        gcp.get_iam_policy(&ring),
    );
    Ok(Snapshot {
        key: KeyState::from_gcp(&k?, &versions?),
        key_policy: Policy::from_gcp(&key_policy?),
        key_ring_policy: Policy::from_gcp(&ring_policy?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(bindings: &[(&str, &[&str], Option<&str>)]) -> Policy {
        Policy {
            version: 1,
            etag: "ACAB".into(),
            bindings: bindings
                .iter()
                .map(|(role, members, cond)| PolicyBinding {
                    role: (*role).into(),
                    members: members.iter().map(|m| (*m).to_owned()).collect(),
                    condition: cond.map(|e| PolicyCondition {
                        title: "t".into(),
                        description: String::new(),
                        expression: e.into(),
                    }),
                })
                .collect(),
            audit_configs: vec![],
        }
    }

    fn grant(role: &str, member: &str, condition: Option<&str>) -> Grant {
        Grant {
            role: role.into(),
            member: member.into(),
            condition: condition.map(str::to_owned),
        }
    }

    #[test]
    fn grants_come_out_and_go_back_in() {
        let before = policy(&[
            ("roles/a", &["user:x@e.com", "allUsers"], None),
            ("roles/a", &["user:x@e.com"], Some("request.time < x")),
            ("roles/b", &["allUsers"], None),
        ]);
        let gone = [
            grant("roles/a", "allUsers", None),
            grant("roles/b", "allUsers", None),
            grant("roles/a", "user:X@e.com", Some("request.time < x")),
        ];
        let after = before.without(&gone);
        assert_eq!(after.grants(), vec![grant("roles/a", "user:x@e.com", None)]);
        assert_eq!(after.bindings.len(), 1, "empty bindings are dropped");
        let back = after.with(&gone, &before);
        assert_eq!(back.grants().len(), before.grants().len());
        assert!(
            back.bindings
                .iter()
                .any(|b| b.condition.as_ref().is_some_and(|c| c.title == "t"))
        );
        assert_eq!(back.version, 3, "a conditional binding needs version 3");
    }
}
