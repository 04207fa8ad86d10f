//! Which API method an HTTP request is, by verb and path, named by its
//! discovery method id (what the ledger records and fault rules target).

/// The resource and method a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Discovery method id, e.g. `cloudkms.projects.locations.keyRings.cryptoKeys.get`.
    pub id: &'static str,
    /// The IAM permission the real service checks (named in injected 403s).
    pub permission: &'static str,
    /// Whether the method changes anything (the ledger's "mutating" flag).
    pub mutating: bool,
    /// The resource name (or parent, or scope) from the path.
    pub name: String,
}

fn route(
    id: &'static str,
    permission: &'static str,
    mutating: bool,
    name: String,
) -> Option<Route> {
    Some(Route {
        id,
        permission,
        mutating,
        name,
    })
}

/// Maps `METHOD /vN/...` to a route. The path must be percent-decoded already.
pub fn resolve(method: &str, path: &str) -> Option<Route> {
    let (version, rest) = path.strip_prefix('/')?.split_once('/')?;
    let (resource, verb) = match rest.rsplit_once('/') {
        Some((head, last)) => match last.split_once(':') {
            Some((l, v)) => (format!("{head}/{l}"), Some(v)),
            None => (rest.to_owned(), None),
        },
        None => match rest.split_once(':') {
            Some((r, v)) => (r.to_owned(), Some(v)),
            None => (rest.to_owned(), None),
        },
    };
    let segs: Vec<&str> = resource.split('/').collect();
    match (version, method, segs.as_slice(), verb) {
        ("v2", "POST", ["entries"], Some("list")) => route(
            "logging.entries.list",
            "logging.logEntries.list",
            false,
            String::new(),
        ),
        ("v3", "GET", ["projects", _], None) => route(
            "cloudresourcemanager.projects.get",
            "resourcemanager.projects.get",
            false,
            resource,
        ),
        ("v3", "POST", ["projects", _], Some("getIamPolicy")) => route(
            "cloudresourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.getIamPolicy",
            false,
            resource,
        ),
        ("v3", "GET", ["folders", _], None) => route(
            "cloudresourcemanager.folders.get",
            "resourcemanager.folders.get",
            false,
            resource,
        ),
        ("v3", "POST", ["folders", _], Some("getIamPolicy")) => route(
            "cloudresourcemanager.folders.getIamPolicy",
            "resourcemanager.folders.getIamPolicy",
            false,
            resource,
        ),
        ("v3", "POST", ["organizations", _], Some("getIamPolicy")) => route(
            "cloudresourcemanager.organizations.getIamPolicy",
            "resourcemanager.organizations.getIamPolicy",
            false,
            resource,
        ),
        ("v1", "GET", ["projects", _, "protectedResources"], Some("search")) => route(
            "kmsinventory.projects.protectedResources.search",
            "cloudkms.protectedResources.search",
            false,
            segs[..2].join("/"),
        ),
        ("v1", "GET", ["organizations", _, "protectedResources"], Some("search")) => route(
            "kmsinventory.organizations.protectedResources.search",
            "cloudkms.protectedResources.search",
            false,
            segs[..2].join("/"),
        ),
        ("v1", "GET", ["projects", _, "locations"], None) => route(
            "cloudkms.projects.locations.list",
            "cloudkms.locations.list",
            false,
            segs[..2].join("/"),
        ),
        ("v1", "GET", ["projects", _, "locations", _], None) => route(
            "cloudkms.projects.locations.get",
            "cloudkms.locations.get",
            false,
            resource,
        ),
        ("v1", "GET", ["projects", _, "locations", _, "keyRings"], None) => route(
            "cloudkms.projects.locations.keyRings.list",
            "cloudkms.keyRings.list",
            false,
            segs[..4].join("/"),
        ),
        ("v1", _, ["projects", _, "locations", _, "keyRings", _], v) => {
            let (id, perm, mutating) = match (method, v) {
                ("GET", None) => ("get", "cloudkms.keyRings.get", false),
                ("GET", Some("getIamPolicy")) => {
                    ("getIamPolicy", "cloudkms.keyRings.getIamPolicy", false)
                }
                ("POST", Some("setIamPolicy")) => {
                    ("setIamPolicy", "cloudkms.keyRings.setIamPolicy", true)
                }
                ("POST", Some("testIamPermissions")) => ("testIamPermissions", "", false),
                _ => return None,
            };
            Some(Route {
                id: keyring_id(id),
                permission: perm,
                mutating,
                name: resource,
            })
        }
        ("v1", "GET", ["projects", _, "locations", _, "keyRings", _, "cryptoKeys"], None) => route(
            "cloudkms.projects.locations.keyRings.cryptoKeys.list",
            "cloudkms.cryptoKeys.list",
            false,
            segs[..6].join("/"),
        ),
        (
            "v1",
            _,
            [
                "projects",
                _,
                "locations",
                _,
                "keyRings",
                _,
                "cryptoKeys",
                _,
            ],
            v,
        ) => {
            let (id, perm, mutating) = match (method, v) {
                ("GET", None) => ("get", "cloudkms.cryptoKeys.get", false),
                ("PATCH", None) => ("patch", "cloudkms.cryptoKeys.update", true),
                ("POST", Some("updatePrimaryVersion")) => {
                    ("updatePrimaryVersion", "cloudkms.cryptoKeys.update", true)
                }
                ("GET", Some("getIamPolicy")) => {
                    ("getIamPolicy", "cloudkms.cryptoKeys.getIamPolicy", false)
                }
                ("POST", Some("setIamPolicy")) => {
                    ("setIamPolicy", "cloudkms.cryptoKeys.setIamPolicy", true)
                }
                ("POST", Some("testIamPermissions")) => ("testIamPermissions", "", false),
                _ => return None,
            };
            Some(Route {
                id: key_id(id),
                permission: perm,
                mutating,
                name: resource,
            })
        }
        (
            "v1",
            _,
            [
                "projects",
                _,
                "locations",
                _,
                "keyRings",
                _,
                "cryptoKeys",
                _,
                "cryptoKeyVersions",
            ],
            None,
        ) => {
            let key = segs[..8].join("/");
            match method {
                "GET" => route(
                    "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.list",
                    "cloudkms.cryptoKeyVersions.list",
                    false,
                    key,
                ),
                "POST" => route(
                    "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.create",
                    "cloudkms.cryptoKeyVersions.create",
                    true,
                    key,
                ),
                _ => None,
            }
        }
        (
            "v1",
            _,
            [
                "projects",
                _,
                "locations",
                _,
                "keyRings",
                _,
                "cryptoKeys",
                _,
                "cryptoKeyVersions",
                _,
            ],
            v,
        ) => {
            let (id, perm, mutating) = match (method, v) {
                ("GET", None) => ("get", "cloudkms.cryptoKeyVersions.get", false),
                ("PATCH", None) => ("patch", "cloudkms.cryptoKeyVersions.update", true),
                ("POST", Some("destroy")) => {
                    ("destroy", "cloudkms.cryptoKeyVersions.destroy", true)
                }
                ("POST", Some("restore")) => {
                    ("restore", "cloudkms.cryptoKeyVersions.restore", true)
                }
                _ => return None,
            };
            Some(Route {
                id: version_id(id),
                permission: perm,
                mutating,
                name: resource,
            })
        }
        _ => None,
    }
}

fn keyring_id(m: &str) -> &'static str {
    match m {
        "get" => "cloudkms.projects.locations.keyRings.get",
        "getIamPolicy" => "cloudkms.projects.locations.keyRings.getIamPolicy",
        "setIamPolicy" => "cloudkms.projects.locations.keyRings.setIamPolicy",
        _ => "cloudkms.projects.locations.keyRings.testIamPermissions",
    }
}

fn key_id(m: &str) -> &'static str {
    match m {
        "get" => "cloudkms.projects.locations.keyRings.cryptoKeys.get",
        "patch" => "cloudkms.projects.locations.keyRings.cryptoKeys.patch",
        "updatePrimaryVersion" => {
            "cloudkms.projects.locations.keyRings.cryptoKeys.updatePrimaryVersion"
        }
        "getIamPolicy" => "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy",
        "setIamPolicy" => "cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy",
        _ => "cloudkms.projects.locations.keyRings.cryptoKeys.testIamPermissions",
    }
}

fn version_id(m: &str) -> &'static str {
    match m {
        "get" => "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.get",
        "patch" => "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.patch",
        "destroy" => "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.destroy",
        _ => "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.restore",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_served_surface() {
        let key = "projects/p/locations/us/keyRings/r/cryptoKeys/k";
        let cases = [
            (
                "GET",
                format!("/v1/{key}"),
                "cloudkms.projects.locations.keyRings.cryptoKeys.get",
                key.to_owned(),
            ),
            (
                "POST",
                format!("/v1/{key}:updatePrimaryVersion"),
                "cloudkms.projects.locations.keyRings.cryptoKeys.updatePrimaryVersion",
                key.to_owned(),
            ),
            (
                "GET",
                format!("/v1/{key}/cryptoKeyVersions"),
                "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.list",
                key.to_owned(),
            ),
            (
                "POST",
                format!("/v1/{key}/cryptoKeyVersions/3:destroy"),
                "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.destroy",
                format!("{key}/cryptoKeyVersions/3"),
            ),
            (
                "GET",
                "/v1/projects/p/locations/us/keyRings/r:getIamPolicy".to_owned(),
                "cloudkms.projects.locations.keyRings.getIamPolicy",
                "projects/p/locations/us/keyRings/r".to_owned(),
            ),
            (
                "POST",
                "/v2/entries:list".to_owned(),
                "logging.entries.list",
                String::new(),
            ),
            (
                "GET",
                "/v1/organizations/9/protectedResources:search".to_owned(),
                "kmsinventory.organizations.protectedResources.search",
                "organizations/9".to_owned(),
            ),
            (
                "POST",
                "/v3/projects/p:getIamPolicy".to_owned(),
                "cloudresourcemanager.projects.getIamPolicy",
                "projects/p".to_owned(),
            ),
        ];
        for (method, path, id, name) in cases {
            let r = resolve(method, &path).unwrap_or_else(|| panic!("{method} {path}"));
            assert_eq!(
                (r.id, r.name.as_str()),
                (id, name.as_str()),
                "{method} {path}"
            );
        }
        assert_eq!(resolve("DELETE", &format!("/v1/{key}")), None);
        assert_eq!(
            resolve("GET", "/v1/projects/p/locations/us/keyRings/r:setIamPolicy"),
            None
        );
        assert_eq!(resolve("GET", "/v9/whatever"), None);
    }
}
