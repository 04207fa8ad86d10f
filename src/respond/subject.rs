//! What a response is about: the alert's investigated key, the other keys
//! its creator made in the window (the *affected keys*, investigated too),
//! and the playbook that governs both.

use jiff::Timestamp;

use crate::case::Case;
use crate::evidence::Investigation;
use crate::findings::{EvidenceRef, FindingId};
use crate::gcp::Gcp;
use crate::input::{Request, Subject as InputSubject};
use crate::investigate::{self, Options, Outcome};
use crate::keyname::KeyName;
use crate::playbook::Playbook;

use super::policy::{Facts, ResponsePolicy};

/// One key to respond to, with everything the response needs to decide.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The alert's key: its investigation and assessment.
    pub case: Case,
    /// The other keys the same principal created in the window, each
    /// investigated and assessed under the same playbook.
    pub affected: Vec<Case>,
    pub playbook: Playbook,
    pub policy: ResponsePolicy,
}

impl Subject {
    /// A subject without affected keys (see [`Subject::gather`]).
    pub fn new(case: Case, playbook: Playbook) -> Subject {
        let policy = playbook.response_policy();
        Subject {
            case,
            affected: Vec::new(),
            playbook,
            policy,
        }
    }

    /// Investigates the affected keys of `case` (reads only) and returns the
    /// subject. A key that cannot be read stays listed, with its gap.
    pub async fn gather(
        gcp: &Gcp,
        case: Case,
        playbook: Playbook,
        options: &Options,
        now: Timestamp,
    ) -> Subject {
        let mut subject = Subject::new(case, playbook);
        let keys = subject.affected_key_names();
        if keys.is_empty() {
            return subject;
        }
        let request = Request {
            subject: InputSubject::Keys { keys },
            ..subject.case.investigation.request.clone()
        };
        if let Outcome::Investigated(list) = investigate::run(gcp, &request, options, now).await {
            subject.affected = list
                .into_iter()
                .map(|investigation| {
                    let assessment = crate::assess::assess(&investigation, &subject.playbook);
                    Case {
                        investigation,
                        assessment,
                    }
                })
                .collect();
        }
        subject
    }

    /// The alert key's name.
    pub fn key(&self) -> String {
        self.case.investigation.key_name.to_string()
    }

    /// Other keys the creator made in the window (valid names only, in the
    /// order the log gave them).
    pub fn affected_key_names(&self) -> Vec<KeyName> {
        let own = &self.case.investigation.key_name;
        let mut out: Vec<KeyName> = Vec::new();
        for raw in self
            .case
            .investigation
            .creator_activity
            .iter()
            .flat_map(|a| a.keys_created.iter())
        {
            if let Ok(k) = KeyName::parse(raw)
                && &k != own
                && !out.contains(&k)
            {
                out.push(k);
            }
        }
        out
    }

    /// The alert's key first, then the affected keys, with whether each is affected.
    pub fn cases(&self) -> impl Iterator<Item = (&Case, bool)> {
        std::iter::once((&self.case, false)).chain(self.affected.iter().map(|c| (c, true)))
    }

    /// The case of a key (the alert's, or an affected one).
    pub fn case_of(&self, key: &str) -> Option<&Case> {
        self.cases()
            .map(|(c, _)| c)
            .find(|c| c.investigation.key_name.to_string() == key)
    }

    /// Whether `key` is the alert's key or one of its affected keys.
    pub fn is_in_scope(&self, key: &str) -> bool {
        key == self.key()
            || self
                .affected_key_names()
                .iter()
                .any(|k| k.to_string() == key)
    }

    /// Why the tool may not change `key`, if it may not: it must be the
    /// alert's key or an affected key, in a project the playbook allows.
    pub fn refusal(&self, key: &str) -> Option<String> {
        if !self.is_in_scope(key) {
            return Some(format!(
                "{} is neither the alert's key nor a key its creator made in the window",
                crate::sanitize::text(key)
            ));
        }
        let Ok(name) = KeyName::parse(key) else {
            return Some(format!("{} is not a key name", crate::sanitize::text(key)));
        };
        let inv = &self.case.investigation;
        let mut own: Vec<&str> = vec![inv.key_name.project()];
        if let Some(p) = &inv.project {
            own.push(p.project_id.as_str());
            if let Some(n) = p.name.strip_prefix("projects/") {
                own.push(n);
            }
        }
        if self.policy.allows_project(name.project(), &own) {
            return None;
        }
        Some(if self.policy.projects.is_empty() {
            format!(
                "project {} is not the alert key's project, and the playbook's response.projects is empty (only that project)",
                name.project()
            )
        } else {
            format!(
                "project {} is not in the playbook's response.projects",
                name.project()
            )
        })
    }

    /// The facts a step condition is evaluated against.
    pub fn facts(&self) -> (Vec<FindingId>, Vec<FindingId>) {
        let a = &self.case.assessment;
        (a.findings.iter().map(|f| f.id).collect(), a.drivers.clone())
    }

    /// Whether a step condition holds for the alert's case.
    pub fn holds(&self, condition: &super::policy::Condition) -> bool {
        let (findings, drivers) = self.facts();
        condition.holds(&Facts {
            verdict: self.case.assessment.verdict,
            findings: &findings,
            drivers: &drivers,
        })
    }

    /// The creator's e-mail, when the Admin Activity log showed it.
    pub fn creator(&self) -> Option<&str> {
        self.case
            .investigation
            .creator
            .as_ref()
            .map(|c| c.principal.as_str())
            .filter(|p| !p.is_empty())
    }

    /// The latest moment the key was touched by the suspect activity: the
    /// alert's event, the key's creation, and the creator's last action on
    /// the key or its versions. A primary made well after it is a rotation.
    pub fn suspect_until(&self, key: &str) -> Option<Timestamp> {
        let inv: &Investigation = &self.case.investigation;
        let own = self.case_of(key).map(|c| &c.investigation);
        let created = own
            .and_then(|i| i.key.as_ref())
            .and_then(|k| k.key.create_time);
        let prefix = format!("{key}/");
        let by_creator = inv
            .creator_activity
            .iter()
            .flat_map(|a| a.events.iter())
            .filter(|e| e.resource == key || e.resource.starts_with(&prefix))
            .filter_map(|e| e.time);
        [inv.request.event_time, created]
            .into_iter()
            .flatten()
            .chain(by_creator)
            .max()
    }

    /// Members the findings of `key`'s case name in bindings: those of
    /// `external-member`, and those behind the verdict's drivers.
    pub fn finding_members(&self, key: &str) -> (Vec<String>, Vec<String>) {
        let Some(case) = self.case_of(key) else {
            return (Vec::new(), Vec::new());
        };
        let members = |pick: &dyn Fn(FindingId) -> bool| {
            let mut out: Vec<String> = Vec::new();
            for f in case.assessment.findings.iter().filter(|f| pick(f.id)) {
                for e in &f.evidence {
                    if let EvidenceRef::Binding { member, .. } = e
                        && !out.contains(member)
                    {
                        out.push(member.clone());
                    }
                }
            }
            out
        };
        let drivers = &case.assessment.drivers;
        (
            members(&|id| id == FindingId::ExternalMember),
            members(&|id| drivers.contains(&id)),
        )
    }
}
