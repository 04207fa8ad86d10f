//! `callerSuppliedUserAgent` → the client family that sent the request.
//!
//! The text is chosen by the caller: a classification is a hint, never proof
//! (anyone can claim to be Terraform). Extracted parts (versions, the gcloud
//! command, product names) are restricted to a safe character set and length.

use serde::Serialize;

use crate::playbook::Trust;

/// The client family of a user agent. [`UserAgentKind::family`] gives the
/// names used by the playbook's `trust.user_agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum UserAgentKind {
    /// The Google Cloud console (a browser, through Google's front end: `Mozilla/…,gzip(gfe)`).
    Console,
    /// `google-cloud-sdk gcloud/VERSION command/gcloud.kms.keys.create ...`
    Gcloud {
        version: Option<String>,
        command: Option<String>,
    },
    /// `Terraform/…` or `terraform-provider-google/…`.
    Terraform,
    Pulumi,
    /// Config Connector (`kcc/…`, `cnrm…`): it embeds the Terraform provider, so it is checked first.
    ConfigConnector,
    /// Deployment Manager (`…deployment-manager…`).
    DeploymentManager,
    /// A Google client library or gRPC stack (`gl-python/…`, `google-api-go-client/…`, `grpc-java…`).
    ClientLibrary {
        library: String,
    },
    Curl,
    Wget,
    PythonRequests,
    /// Go's default `Go-http-client/1.1`: a hand-written Go program.
    GoHttpClient,
    /// `PostmanRuntime/…`.
    Postman,
    /// No user agent at all.
    Empty,
    /// Anything else; `product` is its first product token.
    Unknown {
        product: String,
    },
}

impl UserAgentKind {
    /// The family name: one of [`crate::playbook::USER_AGENT_FAMILIES`], or
    /// `empty` / `unknown` (which a playbook cannot list, so they are never expected).
    pub fn family(&self) -> &'static str {
        match self {
            UserAgentKind::Console => "console",
            UserAgentKind::Gcloud { .. } => "gcloud",
            UserAgentKind::Terraform => "terraform",
            UserAgentKind::Pulumi => "pulumi",
            UserAgentKind::ConfigConnector => "config-connector",
            UserAgentKind::DeploymentManager => "deployment-manager",
            UserAgentKind::ClientLibrary { .. } => "client-library",
            UserAgentKind::Curl => "curl",
            UserAgentKind::Wget => "wget",
            UserAgentKind::PythonRequests => "python-requests",
            UserAgentKind::GoHttpClient => "go-http-client",
            UserAgentKind::Postman => "postman",
            UserAgentKind::Empty => "empty",
            UserAgentKind::Unknown { .. } => "unknown",
        }
    }

    /// Classifies a `callerSuppliedUserAgent`.
    ///
    /// Order: empty; tools that put their own name first (curl, Wget,
    /// python-requests, Go-http-client, PostmanRuntime); Config Connector and
    /// Deployment Manager; Terraform (before client libraries: its agent names
    /// the Go client too); Pulumi; gcloud (`google-cloud-sdk` with a
    /// `gcloud/` token); the console (`Mozilla/` with `gzip(gfe)`); client
    /// libraries; unknown.
    pub fn classify(ua: &str) -> UserAgentKind {
        let ua = ua.trim();
        if ua.is_empty() {
            return UserAgentKind::Empty;
        }
        let lower = ua.to_ascii_lowercase();
        let tokens: Vec<&str> = ua
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        let product =
            |t: &str| -> String { t.split('/').next().unwrap_or_default().to_ascii_lowercase() };
        let first = tokens.first().map(|t| product(t)).unwrap_or_default();
        match first.as_str() {
            "curl" => return UserAgentKind::Curl,
            "wget" => return UserAgentKind::Wget,
            "python-requests" => return UserAgentKind::PythonRequests,
            "go-http-client" => return UserAgentKind::GoHttpClient,
            "postmanruntime" => return UserAgentKind::Postman,
            _ => {}
        }
        if tokens.iter().any(|t| product(t) == "kcc") || lower.contains("cnrm") {
            return UserAgentKind::ConfigConnector;
        }
        if lower.contains("deployment-manager") || lower.contains("deploymentmanager") {
            return UserAgentKind::DeploymentManager;
        }
        if lower.contains("terraform/") || lower.contains("terraform-provider-google") {
            return UserAgentKind::Terraform;
        }
        if lower.contains("pulumi/") || lower.contains("pulumi-gcp") || first == "pulumi" {
            return UserAgentKind::Pulumi;
        }
        let has = |name: &str| tokens.iter().any(|t| product(t) == name);
        if has("google-cloud-sdk") && has("gcloud") {
            let value = |name: &str, max: usize| {
                tokens.iter().find_map(|t| {
                    let (p, v) = t.split_once('/')?;
                    (p.eq_ignore_ascii_case(name)).then(|| safe_token(v, max))?
                })
            };
            return UserAgentKind::Gcloud {
                version: value("gcloud", 32),
                command: value("command", 120),
            };
        }
        if first == "mozilla" && lower.contains("gzip(gfe)") {
            return UserAgentKind::Console;
        }
        if let Some(library) = tokens.iter().map(|t| product(t)).find(|p| is_library(p)) {
            return UserAgentKind::ClientLibrary {
                library: safe_token(&library, 40).unwrap_or_else(|| "?".into()),
            };
        }
        UserAgentKind::Unknown {
            product: tokens
                .first()
                .and_then(|t| safe_token(t.split('/').next().unwrap_or_default(), 40))
                .unwrap_or_else(|| "?".into()),
        }
    }

    /// Whether the family is one of `trust.user_agents`.
    pub fn is_expected(&self, trust: &Trust) -> bool {
        trust.trusts_user_agent(self.family())
    }

    /// For a title: `gcloud (gcloud.kms.keys.create)`, `client library gl-python`, `curl`.
    pub fn describe(&self) -> String {
        match self {
            UserAgentKind::Gcloud {
                command: Some(c), ..
            } => format!("gcloud ({c})"),
            UserAgentKind::ClientLibrary { library } => format!("client library {library}"),
            UserAgentKind::Unknown { product } => format!("an unrecognised client ({product})"),
            UserAgentKind::Empty => "no user agent".to_owned(),
            other => other.family().to_owned(),
        }
    }
}

/// Client-library and gRPC product tokens.
fn is_library(product: &str) -> bool {
    const EXACT: &[&str] = &[
        "google-api-go-client",
        "google-api-python-client",
        "google-api-java-client",
        "google-api-nodejs-client",
        "google-api-dotnet-client",
        "google-api-ruby-client",
        "google-api-php-client",
        "google-http-java-client",
        "google-cloud-sdk",
        "gccl",
        "gapic",
        "gax",
        "gdcl",
        "apitools",
        "gcloud-python",
        "gcloud-java",
        "gcloud-golang",
        "gcloud-node",
        "gcloud-ruby",
    ];
    EXACT.contains(&product) || product.starts_with("gl-") || product.starts_with("grpc-")
}

/// `s` if it is a short run of `[A-Za-z0-9._+-]`.
fn safe_token(s: &str, max: usize) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
    ok.then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCLOUD: &str = "google-cloud-sdk gcloud/498.0.0 command/gcloud.kms.keys.create invocation-id/e2b09830a6b9f665bcd1429f3c42d0a5 environment/None environment-version/None client-os/LINUX client-os-ver/6.1.0 client-pltf-arch/x86_64 interactive/True from-script/False python/3.12.3 term/xterm-256color (Linux 6.1.0)";

    fn family(ua: &str) -> &'static str {
        UserAgentKind::classify(ua).family()
    }

    #[test]
    fn gcloud_with_its_command() {
        assert_eq!(
            UserAgentKind::classify(GCLOUD),
            UserAgentKind::Gcloud {
                version: Some("498.0.0".into()),
                command: Some("gcloud.kms.keys.create".into())
            }
        );
        assert_eq!(
            UserAgentKind::classify(GCLOUD).describe(),
            "gcloud (gcloud.kms.keys.create)"
        );
        // A command token without the SDK is not gcloud.
        assert_eq!(
            family(
                "fake-user-agent-string command/gcloud.compute.instances.insert invocation-id/a1b2c3d4e5f6 environment/GCE"
            ),
            "unknown"
        );
        // Hostile command text is dropped, not repeated.
        assert_eq!(
            UserAgentKind::classify("google-cloud-sdk gcloud/1 command/\u{1b}[31mx"),
            UserAgentKind::Gcloud {
                version: Some("1".into()),
                command: None
            }
        );
    }

    #[test]
    fn console_terraform_pulumi() {
        assert_eq!(
            family(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0,gzip(gfe),gzip(gfe)"
            ),
            "console"
        );
        assert_eq!(family("Mozilla/5.0 (X11; Linux x86_64)"), "unknown");
        assert_eq!(
            family(
                "Terraform/1.9.8 (+https://www.terraform.io) Terraform-Plugin-SDK/2.33.0 terraform-provider-google/6.12.0,gzip(gfe)"
            ),
            "terraform"
        );
        assert_eq!(
            family("google-api-go-client/0.5 terraform-provider-google-beta/5.0"),
            "terraform"
        );
        assert_eq!(
            family(
                "Pulumi/3.140.0 (https://www.pulumi.com) pulumi-gcp/8.9.0 google-api-go-client/0.5"
            ),
            "pulumi"
        );
    }

    #[test]
    fn client_libraries() {
        for (ua, lib) in [
            (
                "gl-python/3.12.7 grpc/1.66.2 gax/2.23.0 gapic/3.1.0,gzip(gfe)",
                "gl-python",
            ),
            ("grpc-java-netty/1.68.1,gzip(gfe)", "grpc-java-netty"),
            ("gl-go/1.23.2 gccl/1.22.0,gzip(gfe)", "gl-go"),
            ("google-api-go-client/0.5", "google-api-go-client"),
            ("gl-rust/1.91 gccl/1.16.0", "gl-rust"),
            ("google-cloud-sdk bq/2.1.9", "google-cloud-sdk"),
        ] {
            assert_eq!(
                UserAgentKind::classify(ua),
                UserAgentKind::ClientLibrary {
                    library: lib.into()
                },
                "{ua}"
            );
        }
    }

    #[test]
    fn scripts_empty_unknown() {
        assert_eq!(family("curl/8.5.0"), "curl");
        assert_eq!(family("Wget/1.21.4"), "wget");
        assert_eq!(family("python-requests/2.32.3"), "python-requests");
        // A tool that names itself first is that tool, whatever follows.
        assert_eq!(family("curl/8.5.0 terraform-provider-google/6.0"), "curl");
        assert_eq!(family(""), "empty");
        assert_eq!(family("   "), "empty");
        assert_eq!(
            UserAgentKind::classify("UserAgent"),
            UserAgentKind::Unknown {
                product: "UserAgent".into()
            }
        );
        assert_eq!(
            UserAgentKind::classify("\u{202e}evil/1"),
            UserAgentKind::Unknown {
                product: "?".into()
            }
        );
        assert_eq!(family("Go-http-client/1.1"), "go-http-client");
        assert_eq!(family("PostmanRuntime/7.39.0"), "postman");
    }

    #[test]
    fn config_connector_and_deployment_manager() {
        assert_eq!(
            family(
                "kcc/1.120.0 (+https://github.com/GoogleCloudPlatform/k8s-config-connector) kcc/controller-manager Terraform/1.5 terraform-provider-google/5.0"
            ),
            "config-connector"
        );
        assert_eq!(family("google-deployment-manager"), "deployment-manager");
    }

    #[test]
    fn every_family_is_one_a_playbook_can_name() {
        let samples = [
            "Mozilla/5.0 x,gzip(gfe)",
            "google-cloud-sdk gcloud/1",
            "Terraform/1",
            "Pulumi/3",
            "kcc/1",
            "deployment-manager",
            "gl-go/1",
            "curl/8",
            "Wget/1",
            "python-requests/2",
            "Go-http-client/1.1",
            "PostmanRuntime/7",
        ];
        let mut seen: Vec<&str> = samples.iter().map(|ua| family(ua)).collect();
        seen.sort_unstable();
        let mut known = crate::playbook::USER_AGENT_FAMILIES.to_vec();
        known.sort_unstable();
        assert_eq!(seen, known);
        assert!(!crate::playbook::USER_AGENT_FAMILIES.contains(&family("")));
        assert!(!crate::playbook::USER_AGENT_FAMILIES.contains(&family("zzz")));
    }

    #[test]
    fn expected_families_come_from_the_playbook() {
        let trust = Trust {
            user_agents: vec!["terraform".into(), "gcloud".into(), "console".into()],
            ..Trust::default()
        };
        assert!(UserAgentKind::classify(GCLOUD).is_expected(&trust));
        assert!(UserAgentKind::Terraform.is_expected(&trust));
        assert!(!UserAgentKind::Curl.is_expected(&trust));
        assert!(
            !UserAgentKind::ClientLibrary {
                library: "gl-go".into()
            }
            .is_expected(&trust)
        );
    }
}
