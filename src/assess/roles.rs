//! Roles and what they let a member do with a key; who can use, administer
//! and re-grant the key, from the key's, the key ring's and the project's
//! bindings.

use serde::Serialize;

use crate::evidence::Investigation;
use crate::findings::EvidenceRef;
use crate::gcp::Binding;

/// What one role allows on a Cloud KMS key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoleCapabilities {
    pub encrypt: bool,
    pub decrypt: bool,
    pub sign: bool,
    pub verify: bool,
    /// Change the key: create, update, disable or destroy versions, rotation.
    pub administer: bool,
    /// Change who may use the key (its IAM policy, or one above it).
    pub set_iam_policy: bool,
    /// A basic (primitive) role: owner, editor, viewer.
    pub basic: bool,
}

impl RoleCapabilities {
    /// Any cryptographic use of the key.
    pub fn can_use(&self) -> bool {
        self.encrypt || self.decrypt || self.sign || self.verify
    }
}

/// Whether `role` is a basic role (`roles/owner`, `roles/editor`, `roles/viewer`).
pub fn is_basic_role(role: &str) -> bool {
    matches!(role, "roles/owner" | "roles/editor" | "roles/viewer")
}

/// What `role` allows on a key.
///
/// - use: `roles/owner`, `roles/editor`, `roles/cloudkms.cryptoOperator`, and
///   every `roles/cloudkms.*` role whose name says Encrypter, Decrypter,
///   Signer, Verifier, Decapsulator or ExpertRaw (the `…ViaDelegation`
///   variants included: they let a Google service use the key for the member);
/// - administer: `roles/owner`, `roles/editor`, `roles/cloudkms.admin`;
/// - set IAM policy: `roles/owner`, `roles/cloudkms.admin`,
///   `roles/iam.securityAdmin`, and the project/folder/organization IAM
///   admin roles (a binding they make at the project reaches the key).
///
/// `roles/cloudkms.admin` does NOT allow encrypt/decrypt (only via
/// delegation, through another service) — that is what separation of duties rests on.
/// Custom roles are unknown here and allow nothing.
pub fn role_capabilities(role: &str) -> RoleCapabilities {
    let all_use = RoleCapabilities {
        encrypt: true,
        decrypt: true,
        sign: true,
        verify: true,
        ..RoleCapabilities::default()
    };
    match role {
        "roles/owner" => RoleCapabilities {
            administer: true,
            set_iam_policy: true,
            basic: true,
            ..all_use
        },
        "roles/editor" => RoleCapabilities {
            administer: true,
            basic: true,
            ..all_use
        },
        "roles/viewer" => RoleCapabilities {
            basic: true,
            ..RoleCapabilities::default()
        },
        "roles/cloudkms.admin" => RoleCapabilities {
            administer: true,
            set_iam_policy: true,
            ..RoleCapabilities::default()
        },
        "roles/cloudkms.cryptoOperator" => all_use,
        "roles/iam.securityAdmin"
        | "roles/resourcemanager.projectIamAdmin"
        | "roles/resourcemanager.folderIamAdmin"
        | "roles/resourcemanager.folderAdmin"
        | "roles/resourcemanager.organizationAdmin" => RoleCapabilities {
            set_iam_policy: true,
            ..RoleCapabilities::default()
        },
        _ => {
            let Some(name) = role.strip_prefix("roles/cloudkms.") else {
                return RoleCapabilities::default();
            };
            let name = name.to_ascii_lowercase();
            let raw = name.starts_with("expertraw");
            RoleCapabilities {
                encrypt: raw || name.contains("encrypter"),
                decrypt: raw || name.contains("decrypter") || name.contains("decapsulat"),
                sign: name.contains("signer"),
                verify: name.contains("verifier"),
                ..RoleCapabilities::default()
            }
        }
    }
}

/// Where a binding sits, relative to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Key,
    KeyRing,
    Project,
    /// A folder above the project (inherited).
    Folder,
    /// The organization (inherited).
    Organization,
}

/// One member holding one role on one resource that reaches the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub scope: Scope,
    /// `projects/P/locations/L/keyRings/R[/cryptoKeys/K]` or `projects/P`.
    pub resource: String,
    pub role: String,
    pub member: String,
    /// The IAM condition's title (or expression) when the binding is conditional.
    pub condition: Option<String>,
}

impl Grant {
    pub fn capabilities(&self) -> RoleCapabilities {
        role_capabilities(&self.role)
    }

    pub fn evidence(&self) -> EvidenceRef {
        EvidenceRef::Binding {
            resource: self.resource.clone(),
            role: self.role.clone(),
            member: self.member.clone(),
        }
    }

    /// `key`, `key ring dr-sync`, `project acme-x`: where, for a title.
    pub fn place(&self) -> String {
        let last = self.resource.rsplit('/').next().unwrap_or_default();
        match self.scope {
            Scope::Key => "the key".to_owned(),
            Scope::KeyRing => format!("key ring {last}"),
            Scope::Project => format!("project {last}"),
            Scope::Folder => format!("folder {last}"),
            Scope::Organization => format!("organization {last}"),
        }
    }
}

fn push_bindings(out: &mut Vec<Grant>, scope: Scope, resource: &str, bindings: &[Binding]) {
    for b in bindings {
        for m in &b.members {
            out.push(Grant {
                scope,
                resource: resource.to_owned(),
                role: b.role.clone(),
                member: m.clone(),
                condition: b.condition.as_ref().map(|c| {
                    if c.title.is_empty() {
                        c.expression.clone()
                    } else {
                        c.title.clone()
                    }
                }),
            });
        }
    }
}

/// Every grant that reaches the key: the key's policy, the key ring's, and
/// the project's KMS-relevant bindings, in that order.
pub fn grants(inv: &Investigation) -> Vec<Grant> {
    let mut out = Vec::new();
    if let Some(p) = &inv.iam.key {
        push_bindings(&mut out, Scope::Key, &inv.key_name.to_string(), &p.bindings);
    }
    if let Some(p) = &inv.iam.key_ring {
        push_bindings(
            &mut out,
            Scope::KeyRing,
            &inv.key_name.key_ring(),
            &p.bindings,
        );
    }
    push_bindings(
        &mut out,
        Scope::Project,
        &format!("projects/{}", inv.key_name.project()),
        &inv.iam.project_kms_bindings,
    );
    for inherited in &inv.iam.inherited_kms_bindings {
        let scope = if inherited.container.starts_with("organizations/") {
            Scope::Organization
        } else {
            Scope::Folder
        };
        push_bindings(
            &mut out,
            scope,
            &inherited.container,
            std::slice::from_ref(&inherited.binding),
        );
    }
    out
}

/// Who can do what with the key, each with the grant that allows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessSummary {
    /// Can encrypt, decrypt, sign or verify with it.
    pub use_key: Vec<Grant>,
    /// Can change or destroy it.
    pub administer: Vec<Grant>,
    /// Can change who may use it.
    pub set_iam_policy: Vec<Grant>,
}

/// Sorts the grants of an investigation by what they allow.
pub fn access(inv: &Investigation) -> AccessSummary {
    access_of(&grants(inv))
}

/// [`access`] over a list of grants.
pub fn access_of(grants: &[Grant]) -> AccessSummary {
    let mut out = AccessSummary::default();
    for g in grants {
        let caps = g.capabilities();
        if caps.can_use() {
            out.use_key.push(g.clone());
        }
        if caps.administer {
            out.administer.push(g.clone());
        }
        if caps.set_iam_policy {
            out.set_iam_policy.push(g.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_roles() {
        for role in [
            "roles/cloudkms.cryptoKeyEncrypterDecrypter",
            "roles/cloudkms.cryptoKeyEncrypter",
            "roles/cloudkms.cryptoKeyDecrypter",
            "roles/cloudkms.cryptoKeyEncrypterDecrypterViaDelegation",
            "roles/cloudkms.signerVerifier",
            "roles/cloudkms.signer",
            "roles/cloudkms.cryptoOperator",
            "roles/cloudkms.expertRawAesCbc",
            "roles/owner",
            "roles/editor",
        ] {
            assert!(role_capabilities(role).can_use(), "{role}");
        }
        let ed = role_capabilities("roles/cloudkms.cryptoKeyEncrypterDecrypter");
        assert!(ed.encrypt && ed.decrypt && !ed.sign && !ed.administer && !ed.set_iam_policy);
        let e = role_capabilities("roles/cloudkms.cryptoKeyEncrypter");
        assert!(e.encrypt && !e.decrypt);
        let d = role_capabilities("roles/cloudkms.cryptoKeyDecrypter");
        assert!(!d.encrypt && d.decrypt);
        let sv = role_capabilities("roles/cloudkms.signerVerifier");
        assert!(sv.sign && sv.verify && !sv.encrypt);
        for role in [
            "roles/cloudkms.admin",
            "roles/cloudkms.viewer",
            "roles/cloudkms.publicKeyViewer",
            "roles/viewer",
            "roles/iam.securityAdmin",
            "roles/storage.admin",
            "projects/p/roles/custom",
        ] {
            assert!(!role_capabilities(role).can_use(), "{role}");
        }
    }

    #[test]
    fn admin_and_policy_roles() {
        let admin = role_capabilities("roles/cloudkms.admin");
        assert!(admin.administer && admin.set_iam_policy && !admin.basic);
        let owner = role_capabilities("roles/owner");
        assert!(owner.administer && owner.set_iam_policy && owner.basic);
        let editor = role_capabilities("roles/editor");
        assert!(editor.administer && !editor.set_iam_policy && editor.basic);
        assert!(role_capabilities("roles/iam.securityAdmin").set_iam_policy);
        assert!(!role_capabilities("roles/iam.securityAdmin").administer);
        assert!(!role_capabilities("roles/cloudkms.cryptoKeyEncrypterDecrypter").administer);
        assert!(is_basic_role("roles/viewer") && !is_basic_role("roles/cloudkms.admin"));
    }

    #[test]
    fn access_sorts_grants_by_capability() {
        let g = |scope, role: &str, member: &str| Grant {
            scope,
            resource: match scope {
                Scope::Key => "projects/p/locations/l/keyRings/r/cryptoKeys/k".into(),
                Scope::KeyRing => "projects/p/locations/l/keyRings/r".into(),
                Scope::Project => "projects/p".into(),
                Scope::Folder => "folders/1".into(),
                Scope::Organization => "organizations/1".into(),
            },
            role: role.into(),
            member: member.into(),
            condition: None,
        };
        let grants = vec![
            g(
                Scope::Key,
                "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                "user:a@x",
            ),
            g(Scope::KeyRing, "roles/cloudkms.admin", "user:b@x"),
            g(Scope::Project, "roles/owner", "group:o@x"),
            g(Scope::Project, "roles/cloudkms.viewer", "group:v@x"),
        ];
        let a = access_of(&grants);
        let members = |v: &[Grant]| v.iter().map(|g| g.member.clone()).collect::<Vec<_>>();
        assert_eq!(members(&a.use_key), ["user:a@x", "group:o@x"]);
        assert_eq!(members(&a.administer), ["user:b@x", "group:o@x"]);
        assert_eq!(members(&a.set_iam_policy), ["user:b@x", "group:o@x"]);
        assert_eq!(grants[1].place(), "key ring r");
        assert_eq!(grants[2].place(), "project p");
        assert_eq!(grants[0].place(), "the key");
    }
}
