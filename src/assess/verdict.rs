//! The verdict: the playbook's rules applied to the findings, and the
//! actions it recommends for that verdict.

use crate::findings::{
    Action, EvidenceRef, Finding, FindingId, RecommendedAction, Severity, Verdict,
};
use crate::playbook::{Playbook, VerdictRules};

/// Malicious rules first, then suspicious; the first matching rule wins
/// ([`VerdictRules::first_match`], which defines how `all`, `any`,
/// `min_findings` and `min_severity` combine and which findings drive a
/// match); benign when none matches. Returns the verdict, the rule's name
/// and its drivers.
pub fn decide(
    findings: &[Finding],
    rules: &VerdictRules,
) -> (Verdict, Option<String>, Vec<FindingId>) {
    let raised: Vec<(FindingId, Severity)> = findings.iter().map(|f| (f.id, f.severity)).collect();
    match rules.first_match(&raised) {
        Some((verdict, rule, drivers)) => (verdict, Some(rule.name.clone()), drivers),
        None => (Verdict::Benign, None, Vec::new()),
    }
}

/// The playbook's actions for `verdict`, each with a reason naming the
/// verdict, its rule and its driving findings (for benign: the findings
/// raised, if any). `revoke` also names the bindings it is about: those of
/// the drivers' evidence (member, role, and the resource's last segment).
pub fn recommend(
    verdict: Verdict,
    rule: Option<&str>,
    drivers: &[FindingId],
    findings: &[Finding],
    playbook: &Playbook,
) -> Vec<RecommendedAction> {
    let actions = playbook.actions_for(verdict);
    let ids = |list: &[FindingId]| {
        list.iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let why = match rule {
        Some(rule) => format!(
            "verdict {} by rule {:?}, driven by {}",
            verdict_name(verdict),
            crate::sanitize::text(rule),
            if drivers.is_empty() {
                "no specific finding".to_owned()
            } else {
                ids(drivers)
            }
        ),
        None => {
            let raised: Vec<FindingId> = findings.iter().map(|f| f.id).collect();
            if raised.is_empty() {
                format!("verdict {}: no findings", verdict_name(verdict))
            } else {
                format!(
                    "verdict {}: no rule matched the findings ({})",
                    verdict_name(verdict),
                    ids(&raised)
                )
            }
        }
    };
    // The bindings behind the drivers: what `revoke` is about.
    let mut bindings: Vec<String> = Vec::new();
    for f in findings.iter().filter(|f| drivers.contains(&f.id)) {
        for e in &f.evidence {
            if let EvidenceRef::Binding {
                resource,
                role,
                member,
            } = e
            {
                let place = resource.rsplit('/').next().unwrap_or(resource.as_str());
                let line = format!(
                    "{} ({} on {})",
                    crate::sanitize::text(member),
                    crate::sanitize::text(role),
                    crate::sanitize::text(place)
                );
                if !bindings.contains(&line) {
                    bindings.push(line);
                }
            }
        }
    }
    let mut seen = Vec::new();
    actions
        .iter()
        .filter(|a| {
            let first = !seen.contains(*a);
            seen.push(**a);
            first
        })
        .map(|&action| {
            let what = match action {
                Action::Disable => {
                    "disable the key's enabled versions so nothing can encrypt or decrypt with it while the case is open (reversible)".to_owned()
                }
                Action::Revoke if bindings.is_empty() => {
                    "revoke the bindings that let unexpected members use or manage the key".to_owned()
                }
                Action::Revoke => format!("revoke the bindings {}", bindings.join(", ")),
                Action::Rotate => {
                    "rotate the key: make a new Google-generated version primary so new data no longer uses material others may hold".to_owned()
                }
                Action::ScheduleDestroy => {
                    "schedule destruction of the key's versions (cancellable until the scheduled-destruction period ends)".to_owned()
                }
            };
            RecommendedAction {
                action,
                reason: format!("{what}: {why}"),
            }
        })
        .collect()
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Benign => "benign",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Suspicious => "suspicious",
        Verdict::Malicious => "malicious",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::VerdictRule;

    fn f(id: FindingId, severity: Severity) -> Finding {
        Finding {
            id,
            severity,
            title: id.as_str().into(),
            evidence: vec![],
        }
    }

    fn rule(name: &str, all: &[FindingId], any: &[FindingId]) -> VerdictRule {
        VerdictRule {
            name: name.into(),
            all: all.to_vec(),
            any: any.to_vec(),
            min_findings: None,
            min_severity: None,
        }
    }

    use FindingId::*;

    #[test]
    fn malicious_first_then_suspicious_first_match_wins() {
        let rules = VerdictRules {
            malicious: vec![
                rule("m1", &[DestroyScheduled], &[]),
                rule("m2", &[ExternalKeyMaterial, ServiceAgentGranted], &[]),
                rule("m3", &[ExternalKeyMaterial], &[]),
            ],
            suspicious: vec![rule("s1", &[], &[ExternalKeyMaterial])],
        };
        let findings = [
            f(ExternalKeyMaterial, Severity::High),
            f(ServiceAgentGranted, Severity::Low),
        ];
        assert_eq!(
            decide(&findings, &rules),
            (
                Verdict::Malicious,
                Some("m2".into()),
                vec![ServiceAgentGranted, ExternalKeyMaterial]
            )
        );
        assert_eq!(
            decide(&findings[1..], &rules),
            (Verdict::Benign, None, vec![])
        );
        let rules = VerdictRules {
            malicious: vec![],
            suspicious: vec![rule("s1", &[], &[ExternalKeyMaterial])],
        };
        assert_eq!(
            decide(&findings, &rules),
            (
                Verdict::Suspicious,
                Some("s1".into()),
                vec![ExternalKeyMaterial]
            )
        );
    }

    #[test]
    fn severity_and_count_rules() {
        let mut high = rule("high", &[], &[]);
        high.min_severity = Some(Severity::High);
        let rules = VerdictRules {
            malicious: vec![],
            suspicious: vec![high],
        };
        let findings = [
            f(RotationMissing, Severity::Low),
            f(UsageCrossProject, Severity::High),
        ];
        assert_eq!(
            decide(&findings, &rules),
            (
                Verdict::Suspicious,
                Some("high".into()),
                vec![UsageCrossProject]
            )
        );
        assert_eq!(decide(&findings[..1], &rules).0, Verdict::Benign);
        assert_eq!(decide(&[], &rules).0, Verdict::Benign);
    }
}
