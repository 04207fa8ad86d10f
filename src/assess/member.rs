//! IAM members: their kind, their domain, whether they are Google service
//! agents (and of which project), and whether the playbook trusts them.
//!
//! Member strings come from IAM policies and audit logs; they are parsed,
//! never trusted: anything unrecognised is [`Member::Unknown`] and counts as
//! external.

use serde::Serialize;

use crate::playbook::Trust;

/// One IAM member (`user:a@b`, `serviceAccount:...`, `allUsers`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Member {
    User(String),
    ServiceAccount(String),
    Group(String),
    /// `domain:acme.example`: every account of a Google Workspace / Cloud Identity domain.
    Domain(String),
    AllUsers,
    AllAuthenticatedUsers,
    /// Workload or workforce identity federation (`principal://...`, `principalSet://...`).
    Federated(String),
    /// `deleted:user:a@b?uid=N`: a deleted principal. Its bindings grant nothing,
    /// even to a new account of the same name.
    Deleted(Box<Member>),
    /// The legacy convenience values `projectOwner:P`, `projectEditor:P`, `projectViewer:P`.
    ProjectRole {
        role: String,
        project: String,
    },
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl Member {
    /// Parses an IAM member string. Prefixes are matched case-insensitively.
    pub fn parse(raw: &str) -> Member {
        Self::parse_at(raw.trim(), 0)
    }

    fn parse_at(raw: &str, depth: u8) -> Member {
        if raw == "allUsers" {
            return Member::AllUsers;
        }
        if raw == "allAuthenticatedUsers" {
            return Member::AllAuthenticatedUsers;
        }
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("principal://") || lower.starts_with("principalset://") {
            return Member::Federated(raw.to_owned());
        }
        let Some((prefix, rest)) = raw.split_once(':') else {
            return Member::Unknown(raw.to_owned());
        };
        match prefix.to_ascii_lowercase().as_str() {
            "user" => Member::User(rest.to_owned()),
            "serviceaccount" => Member::ServiceAccount(rest.to_owned()),
            "group" => Member::Group(rest.to_owned()),
            "domain" => Member::Domain(rest.to_owned()),
            "deleted" if depth == 0 => {
                // deleted:user:a@b?uid=123456
                let inner = rest.split_once("?uid=").map_or(rest, |(m, _)| m);
                match Self::parse_at(inner, depth + 1) {
                    Member::Unknown(_) | Member::Deleted(_) => Member::Unknown(raw.to_owned()),
                    m => Member::Deleted(Box::new(m)),
                }
            }
            p @ ("projectowner" | "projecteditor" | "projectviewer") => Member::ProjectRole {
                role: p.trim_start_matches("project").to_owned(),
                project: rest.to_owned(),
            },
            _ => Member::Unknown(raw.to_owned()),
        }
    }

    /// The member an audit-log principal e-mail stands for: service accounts
    /// end in `gserviceaccount.com`, every other e-mail is a user.
    pub fn from_email(email: &str) -> Member {
        let email = email.trim();
        if email.to_ascii_lowercase().ends_with("gserviceaccount.com") {
            Member::ServiceAccount(email.to_owned())
        } else {
            Member::User(email.to_owned())
        }
    }

    /// The e-mail of a user, service account or group.
    pub fn email(&self) -> Option<&str> {
        match self {
            Member::User(e) | Member::ServiceAccount(e) | Member::Group(e) => Some(e),
            _ => None,
        }
    }

    /// The (lowercase) domain of an e-mail member or a `domain:` member; a
    /// deleted member's former domain.
    pub fn domain(&self) -> Option<String> {
        match self {
            Member::User(e) | Member::ServiceAccount(e) | Member::Group(e) => email_domain(e),
            Member::Domain(d) => Some(d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()),
            Member::Deleted(inner) => inner.domain(),
            _ => None,
        }
    }

    /// `allUsers` or `allAuthenticatedUsers`.
    pub fn is_public(&self) -> bool {
        matches!(self, Member::AllUsers | Member::AllAuthenticatedUsers)
    }

    /// The Google service agent this member is, if it is one.
    pub fn service_agent(&self) -> Option<ServiceAgent> {
        match self {
            Member::ServiceAccount(e) => service_agent(e),
            _ => None,
        }
    }
}

/// The lowercase domain of an e-mail address (after the last `@`).
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim().to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// What a Google service agent acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "number", rename_all = "snake_case")]
pub enum AgentOwner {
    /// A project, by number.
    Project(String),
    Folder(String),
    Organization(String),
    Unknown,
}

/// A Google-managed service account that a Google service uses in a
/// customer's name (Cloud Storage's, BigQuery's, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceAgent {
    /// The service, for a person: `Cloud Storage`, `BigQuery`, `cloud-sql`...
    pub service: String,
    pub owner: AgentOwner,
}

impl ServiceAgent {
    pub fn project_number(&self) -> Option<&str> {
        match &self.owner {
            AgentOwner::Project(n) => Some(n),
            _ => None,
        }
    }
}

/// `*.iam.gserviceaccount.com` labels that belong to Google, not to a customer
/// project (besides every `gcp-sa-*` label and `*.google.com` projects).
const AGENT_DOMAINS: &[(&str, &str)] = &[
    ("gs-project-accounts", "Cloud Storage"),
    ("bigquery-encryption", "BigQuery"),
    ("compute-system", "Compute Engine"),
    ("container-engine-robot", "GKE"),
    ("containerregistry", "Container Registry"),
    ("cloudcomposer-accounts", "Cloud Composer"),
    ("dataproc-accounts", "Dataproc"),
    ("dataflow-service-producer-prod", "Dataflow"),
    ("serverless-robot-prod", "Cloud Run"),
    ("gcf-admin-robot", "Cloud Functions"),
    ("cloud-redis", "Memorystore for Redis"),
    ("cloud-tpu", "Cloud TPU"),
    ("cloud-filer", "Filestore"),
    ("container-analysis", "Container Analysis"),
    ("sourcerepo-service-accounts", "Cloud Source Repositories"),
    ("endpoints-portal", "Cloud Endpoints"),
    ("firebase-rules", "Firebase Rules"),
    ("remotebuildexecution", "Remote Build Execution"),
    ("dlp-api", "Sensitive Data Protection"),
];

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Recognises Google service agents by their e-mail:
/// `service-N@gcp-sa-*.iam.gserviceaccount.com`, `service-N@gs-project-accounts...`,
/// `bq-N@bigquery-encryption...`, `service-N@compute-system...`,
/// `pN-M@gcp-sa-logging...`, `service-org-N@...`, `service-folder-N@...`,
/// `N@cloudservices.gserviceaccount.com` (the Google APIs service agent), and
/// the project number they act for.
///
/// Only names in Google-owned domains count: a customer may create
/// `service-123@my-project.iam.gserviceaccount.com`, and that is not an agent.
pub fn service_agent(email: &str) -> Option<ServiceAgent> {
    let email = email.trim().to_ascii_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    if domain == "cloudservices.gserviceaccount.com" {
        return digits(local).then(|| ServiceAgent {
            service: "Google APIs".into(),
            owner: AgentOwner::Project(local.to_owned()),
        });
    }
    let label = domain.strip_suffix(".iam.gserviceaccount.com")?;
    let service = if let Some((_, name)) = AGENT_DOMAINS.iter().find(|(d, _)| *d == label) {
        (*name).to_owned()
    } else if let Some(rest) = label.strip_prefix("gcp-sa-") {
        rest.to_owned()
    } else if let Some(rest) = label.strip_suffix(".google.com") {
        rest.to_owned()
    } else {
        return None;
    };
    let owner = if let Some(n) = local.strip_prefix("service-org-").filter(|n| digits(n)) {
        AgentOwner::Organization(n.to_owned())
    } else if let Some(n) = local.strip_prefix("service-folder-").filter(|n| digits(n)) {
        AgentOwner::Folder(n.to_owned())
    } else if let Some(n) = local.strip_prefix("service-").filter(|n| digits(n)) {
        AgentOwner::Project(n.to_owned())
    } else if let Some(n) = local.strip_prefix("bq-").filter(|n| digits(n)) {
        AgentOwner::Project(n.to_owned())
    } else if let Some((n, _)) = local
        .strip_prefix('p')
        .and_then(|r| r.split_once('-'))
        .filter(|(n, m)| digits(n) && digits(m))
    {
        AgentOwner::Project(n.to_owned())
    } else if digits(local) {
        AgentOwner::Project(local.to_owned())
    } else {
        AgentOwner::Unknown
    };
    Some(ServiceAgent { service, owner })
}

/// A project named by id or by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum ProjectRef {
    Id(String),
    Number(String),
}

impl std::fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProjectRef::Id(id) => write!(f, "{id}"),
            ProjectRef::Number(n) => write!(f, "project number {n}"),
        }
    }
}

/// The project a service account (or service agent) belongs to, from its e-mail:
/// `name@PROJECT.iam.gserviceaccount.com` (domain-scoped
/// `name@P.example.com.iam...` is `example.com:P`), `PROJECT@appspot...`,
/// `N-compute@developer...`, `N@cloudbuild...`, and service agents' numbers.
pub fn member_project(email: &str) -> Option<ProjectRef> {
    if let Some(agent) = service_agent(email) {
        return agent
            .project_number()
            .map(|n| ProjectRef::Number(n.to_owned()));
    }
    let email = email.trim().to_ascii_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    match domain {
        "developer.gserviceaccount.com" => local
            .strip_suffix("-compute")
            .filter(|n| digits(n))
            .map(|n| ProjectRef::Number(n.to_owned())),
        "cloudbuild.gserviceaccount.com" => {
            digits(local).then(|| ProjectRef::Number(local.to_owned()))
        }
        "appspot.gserviceaccount.com" => {
            (!local.is_empty()).then(|| ProjectRef::Id(local.to_owned()))
        }
        _ => {
            let project = domain.strip_suffix(".iam.gserviceaccount.com")?;
            match project.split_once('.') {
                None if !project.is_empty() => Some(ProjectRef::Id(project.to_owned())),
                Some((p, org_domain)) if !p.is_empty() && !org_domain.is_empty() => {
                    Some(ProjectRef::Id(format!("{org_domain}:{p}")))
                }
                _ => None,
            }
        }
    }
}

/// How the playbook regards a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberTrust {
    /// `allUsers` / `allAuthenticatedUsers`: public, not merely external.
    Public,
    /// Matches `trust.principals`.
    TrustedPrincipal,
    /// In one of `trust.domains`.
    TrustedDomain,
    /// A Google service agent (Google-managed; which project it acts for is a separate question).
    ServiceAgent,
    /// Everything else, unrecognised members included.
    External,
    /// Grants nothing: deleted principals and legacy convenience values.
    Inert,
}

impl MemberTrust {
    pub fn is_trusted(self) -> bool {
        matches!(
            self,
            MemberTrust::TrustedPrincipal | MemberTrust::TrustedDomain
        )
    }
}

/// Whether an e-mail is in `trust.principals` ([`Trust::trusts_principal`]),
/// or a federated principal URI matches one of them as a glob.
pub fn principal_trusted(principal: &str, trust: &Trust) -> bool {
    let principal = principal.trim();
    if principal.is_empty() {
        return false;
    }
    let lower = principal.to_ascii_lowercase();
    if lower.starts_with("principal://") || lower.starts_with("principalset://") {
        trust
            .principals
            .iter()
            .any(|p| crate::playbook::glob_match(p, principal))
    } else {
        trust.trusts_principal(principal)
    }
}

/// Whether a domain (or an e-mail's domain) is in `trust.domains`
/// ([`Trust::in_trusted_domain`]: exact, `*` within one label).
pub fn domain_trusted(domain: &str, trust: &Trust) -> bool {
    let domain = domain.trim();
    !domain.is_empty() && trust.in_trusted_domain(domain)
}

/// How the playbook regards `member`.
pub fn member_trust(member: &Member, trust: &Trust) -> MemberTrust {
    match member {
        Member::AllUsers | Member::AllAuthenticatedUsers => MemberTrust::Public,
        Member::Deleted(_) | Member::ProjectRole { .. } => MemberTrust::Inert,
        Member::User(e) | Member::ServiceAccount(e) | Member::Group(e) => {
            if principal_trusted(e, trust) {
                MemberTrust::TrustedPrincipal
            } else if member.domain().is_some_and(|d| domain_trusted(&d, trust)) {
                MemberTrust::TrustedDomain
            } else if member.service_agent().is_some() {
                MemberTrust::ServiceAgent
            } else {
                MemberTrust::External
            }
        }
        Member::Domain(d) => {
            if domain_trusted(d, trust) {
                MemberTrust::TrustedDomain
            } else {
                MemberTrust::External
            }
        }
        Member::Federated(uri) => {
            if principal_trusted(uri, trust) {
                MemberTrust::TrustedPrincipal
            } else {
                MemberTrust::External
            }
        }
        Member::Unknown(_) => MemberTrust::External,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> Trust {
        Trust {
            principals: vec![
                "terraform-ci@acme-ci-cd.iam.gserviceaccount.com".into(),
                "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/subject/repo:acme/*".into(),
            ],
            domains: vec![
                "acme.example".into(),
                "acme-*.iam.gserviceaccount.com".into(),
            ],
            ..Trust::default()
        }
    }

    #[test]
    fn parses_every_member_kind() {
        assert_eq!(Member::parse("user:a@b.c"), Member::User("a@b.c".into()));
        assert_eq!(
            Member::parse("serviceAccount:x@p.iam.gserviceaccount.com"),
            Member::ServiceAccount("x@p.iam.gserviceaccount.com".into())
        );
        assert_eq!(Member::parse("group:g@b.c"), Member::Group("g@b.c".into()));
        assert_eq!(Member::parse("domain:b.c"), Member::Domain("b.c".into()));
        assert_eq!(Member::parse("allUsers"), Member::AllUsers);
        assert_eq!(
            Member::parse("allAuthenticatedUsers"),
            Member::AllAuthenticatedUsers
        );
        let fed = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/s";
        assert_eq!(Member::parse(fed), Member::Federated(fed.into()));
        assert!(matches!(
            Member::parse("principalSet://iam.googleapis.com/locations/global/workforcePools/w/*"),
            Member::Federated(_)
        ));
        assert_eq!(
            Member::parse("deleted:serviceAccount:old@p.iam.gserviceaccount.com?uid=1234"),
            Member::Deleted(Box::new(Member::ServiceAccount(
                "old@p.iam.gserviceaccount.com".into()
            )))
        );
        assert!(matches!(
            Member::parse("deleted:deleted:user:a@b"),
            Member::Unknown(_)
        ));
        assert_eq!(
            Member::parse("projectOwner:acme-x"),
            Member::ProjectRole {
                role: "owner".into(),
                project: "acme-x".into()
            }
        );
        assert!(matches!(Member::parse("weird"), Member::Unknown(_)));
        assert!(matches!(Member::parse("robot:x@y"), Member::Unknown(_)));
    }

    #[test]
    fn domains_of_members() {
        assert_eq!(
            Member::parse("user:A@Acme.Example").domain().as_deref(),
            Some("acme.example")
        );
        assert_eq!(
            Member::parse("domain:acme.example").domain().as_deref(),
            Some("acme.example")
        );
        assert_eq!(
            Member::parse("deleted:user:x@gmail.com?uid=1")
                .domain()
                .as_deref(),
            Some("gmail.com")
        );
        assert_eq!(Member::AllUsers.domain(), None);
        assert_eq!(Member::parse("user:nodomain").domain(), None);
        assert_eq!(
            Member::from_email("a@p.iam.gserviceaccount.com"),
            Member::ServiceAccount("a@p.iam.gserviceaccount.com".into())
        );
        assert_eq!(Member::from_email("a@b.c"), Member::User("a@b.c".into()));
    }

    #[test]
    fn recognises_google_service_agents_and_their_projects() {
        let cases = [
            (
                "service-731554208816@gs-project-accounts.iam.gserviceaccount.com",
                "Cloud Storage",
                Some("731554208816"),
            ),
            (
                "service-305962718844@gcp-sa-cloud-sql.iam.gserviceaccount.com",
                "cloud-sql",
                Some("305962718844"),
            ),
            (
                "bq-662190837415@bigquery-encryption.iam.gserviceaccount.com",
                "BigQuery",
                Some("662190837415"),
            ),
            (
                "service-12@compute-system.iam.gserviceaccount.com",
                "Compute Engine",
                Some("12"),
            ),
            (
                "service-418273645091@container-engine-robot.iam.gserviceaccount.com",
                "GKE",
                Some("418273645091"),
            ),
            (
                "902117364458@cloudservices.gserviceaccount.com",
                "Google APIs",
                Some("902117364458"),
            ),
            (
                "p123-456789@gcp-sa-logging.iam.gserviceaccount.com",
                "logging",
                Some("123"),
            ),
            (
                "service-7@cloud-ml.google.com.iam.gserviceaccount.com",
                "cloud-ml",
                Some("7"),
            ),
        ];
        for (email, service, number) in cases {
            let agent = service_agent(email).unwrap_or_else(|| panic!("{email}"));
            assert_eq!(agent.service, service, "{email}");
            assert_eq!(agent.project_number(), number, "{email}");
        }
        assert_eq!(
            service_agent("service-org-583920174622@gcp-sa-cloudasset.iam.gserviceaccount.com")
                .map(|a| a.owner),
            Some(AgentOwner::Organization("583920174622".into()))
        );
        // Customer-made look-alikes and ordinary accounts are not agents.
        for email in [
            "service-731554208816@acme-payments-prod.iam.gserviceaccount.com",
            "deploy-bot@acme-payments-prod.iam.gserviceaccount.com",
            "123-compute@developer.gserviceaccount.com",
            "acme@appspot.gserviceaccount.com",
            "x@cloudservices.gserviceaccount.com",
            "jordan.lee@acme.example",
        ] {
            assert_eq!(service_agent(email), None, "{email}");
        }
    }

    #[test]
    fn projects_of_service_accounts() {
        let id = |s: &str| Some(ProjectRef::Id(s.into()));
        let num = |s: &str| Some(ProjectRef::Number(s.into()));
        assert_eq!(
            member_project("deploy-bot@acme-payments-prod.iam.gserviceaccount.com"),
            id("acme-payments-prod")
        );
        assert_eq!(
            member_project("sa@proj.example.com.iam.gserviceaccount.com"),
            id("example.com:proj")
        );
        assert_eq!(
            member_project("service-884120556307@gs-project-accounts.iam.gserviceaccount.com"),
            num("884120556307")
        );
        assert_eq!(
            member_project("123-compute@developer.gserviceaccount.com"),
            num("123")
        );
        assert_eq!(
            member_project("77@cloudbuild.gserviceaccount.com"),
            num("77")
        );
        assert_eq!(
            member_project("acme-web@appspot.gserviceaccount.com"),
            id("acme-web")
        );
        assert_eq!(member_project("jordan.lee@acme.example"), None);
        assert_eq!(
            member_project("service-org-1@gcp-sa-x.iam.gserviceaccount.com"),
            None
        );
    }

    #[test]
    fn trusted_principals_and_domains() {
        let t = trust();
        assert!(principal_trusted(
            "Terraform-CI@acme-ci-cd.iam.gserviceaccount.com",
            &t
        ));
        assert!(!principal_trusted(
            "other@acme-ci-cd.iam.gserviceaccount.com",
            &t
        ));
        assert!(!principal_trusted("", &t));
        assert!(principal_trusted(
            "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/subject/repo:acme/infra",
            &t
        ));
        assert!(domain_trusted("acme.example", &t));
        assert!(domain_trusted("acme-hr-prod.iam.gserviceaccount.com", &t));
        assert!(
            !domain_trusted("eu.acme.example", &t),
            "subdomains are not implied"
        );
        assert!(!domain_trusted("evil.iam.gserviceaccount.com", &t));
        assert!(!domain_trusted("", &t));
    }

    #[test]
    fn trust_of_members() {
        let t = trust();
        let of = |m: &str| member_trust(&Member::parse(m), &t);
        assert_eq!(of("allUsers"), MemberTrust::Public);
        assert_eq!(of("allAuthenticatedUsers"), MemberTrust::Public);
        assert_eq!(
            of("serviceAccount:terraform-ci@acme-ci-cd.iam.gserviceaccount.com"),
            MemberTrust::TrustedPrincipal
        );
        assert_eq!(
            of("user:jordan.lee@acme.example"),
            MemberTrust::TrustedDomain
        );
        assert_eq!(
            of("group:analytics-eng@acme.example"),
            MemberTrust::TrustedDomain
        );
        assert_eq!(
            of("serviceAccount:api@acme-orders-prod.iam.gserviceaccount.com"),
            MemberTrust::TrustedDomain
        );
        assert_eq!(of("domain:acme.example"), MemberTrust::TrustedDomain);
        assert_eq!(
            of("serviceAccount:service-1@gs-project-accounts.iam.gserviceaccount.com"),
            MemberTrust::ServiceAgent
        );
        assert_eq!(of("user:drop.box.2231@gmail.com"), MemberTrust::External);
        assert_eq!(of("domain:gmail.com"), MemberTrust::External);
        assert_eq!(
            of("serviceAccount:x@evil-proj.iam.gserviceaccount.com"),
            MemberTrust::External
        );
        assert_eq!(
            of("principal://iam.googleapis.com/x"),
            MemberTrust::External
        );
        assert_eq!(of("deleted:user:x@gmail.com?uid=1"), MemberTrust::Inert);
        assert_eq!(of("something:else"), MemberTrust::External);
        assert!(MemberTrust::TrustedDomain.is_trusted());
        assert!(!MemberTrust::ServiceAgent.is_trusted());
    }
}
