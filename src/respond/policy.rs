//! The response half of a playbook, validated: which projects the tool may
//! change, which actions may run with nobody confirming them, how `rotate`
//! and `revoke` behave, and the scripted steps with their conditions.
//!
//! Conditions are a tiny language, parsed and checked when the playbook is
//! loaded (never evaluated as code):
//!
//! ```text
//! condition := term ("or" term)*
//! term      := factor ("and" factor)*
//! factor    := "not" factor | "(" condition ")" | atom
//! atom      := "always"
//!            | "verdict" OP VERDICT        OP: == != >= <= > <   (benign < suspicious < malicious)
//!            | "finding" FINDING_ID        the finding is raised
//!            | "driver" FINDING_ID         the finding drove the verdict
//! ```
//!
//! e.g. `verdict == malicious`, `verdict >= suspicious and not finding usage-unknown`.

use jiff::SignedDuration;

use crate::findings::{Action, FindingId, Verdict};

/// The validated `response:` half of a playbook. [`Default`] is what a
/// playbook without one gets: nothing may run unattended and no step runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponsePolicy {
    /// Projects (ids or numbers, exact) whose keys the tool may change.
    /// Empty: only the project of the alert's key.
    pub projects: Vec<String>,
    /// Actions that may run with nobody confirming them (`--non-interactive`).
    /// `schedule-destroy` also needs `--allow-destroy` on the command line.
    pub unattended: Vec<Action>,
    /// How `rotate` works.
    pub rotate: RotatePolicy,
    /// Whom `revoke` removes.
    pub revoke: RevokePolicy,
    /// Scripted steps, in order: each runs when its condition holds.
    pub steps: Vec<Step>,
}

impl ResponsePolicy {
    /// Whether `action` may run with nobody confirming it.
    pub fn allows_unattended(&self, action: Action) -> bool {
        self.unattended.contains(&action)
    }

    /// Whether the tool may change keys of `project` (an id or a number);
    /// `own` is the alert key's project, always allowed when `projects` is empty.
    pub fn allows_project(&self, project: &str, own: &[&str]) -> bool {
        if self.projects.is_empty() {
            return own.iter().any(|o| o.eq_ignore_ascii_case(project));
        }
        self.projects
            .iter()
            .any(|p| p.eq_ignore_ascii_case(project))
    }
}

/// `rotate` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotatePolicy {
    /// Rotation period set when the key has none or a longer one; `None`:
    /// the investigation's `rotation_max`.
    pub period: Option<SignedDuration>,
    /// Disable the versions that were enabled before the new one (default:
    /// no, so data encrypted with them can still be read).
    pub disable_previous: bool,
}

/// Who `revoke` removes from the key's and the key ring's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokePolicy {
    pub members: Vec<MemberSelector>,
}

impl Default for RevokePolicy {
    fn default() -> Self {
        RevokePolicy {
            members: MemberSelector::ALL.to_vec(),
        }
    }
}

/// A kind of member `revoke` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberSelector {
    /// The principal that created the key.
    Creator,
    /// `allUsers` and `allAuthenticatedUsers`.
    Public,
    /// Members the `external-member` finding names.
    External,
    /// Members of the bindings behind the findings that drove the verdict.
    Drivers,
}

impl MemberSelector {
    pub const ALL: [MemberSelector; 4] = [
        MemberSelector::Creator,
        MemberSelector::Public,
        MemberSelector::External,
        MemberSelector::Drivers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberSelector::Creator => "creator",
            MemberSelector::Public => "public",
            MemberSelector::External => "external",
            MemberSelector::Drivers => "drivers",
        }
    }

    pub fn parse(s: &str) -> Option<MemberSelector> {
        MemberSelector::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One scripted step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub when: Condition,
    /// Apply the action to the affected keys too (other keys the creator
    /// made in the window), not only the alert's key.
    pub affected_keys: bool,
}

/// A parsed condition (see the module docs for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Always,
    Verdict(Compare, Verdict),
    Finding(FindingId),
    Driver(FindingId),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

/// A comparison of verdicts, ordered benign < suspicious < malicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Compare {
    fn as_str(self) -> &'static str {
        match self {
            Compare::Eq => "==",
            Compare::Ne => "!=",
            Compare::Ge => ">=",
            Compare::Le => "<=",
            Compare::Gt => ">",
            Compare::Lt => "<",
        }
    }
}

/// What a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub verdict: Verdict,
    pub findings: &'a [FindingId],
    pub drivers: &'a [FindingId],
}

impl Condition {
    /// Whether the condition holds for these facts.
    pub fn holds(&self, facts: &Facts<'_>) -> bool {
        match self {
            Condition::Always => true,
            Condition::Verdict(op, v) => {
                let (a, b) = (facts.verdict, *v);
                // Inconclusive is off the benign < suspicious < malicious scale: an ordered
                // comparison never holds for it, so no step meant for "suspicious or worse"
                // (or "benign or better") runs on missing evidence.
                let ordered = !matches!(op, Compare::Eq | Compare::Ne);
                if ordered && (a == Verdict::Inconclusive || b == Verdict::Inconclusive) {
                    return false;
                }
                match op {
                    Compare::Eq => a == b,
                    Compare::Ne => a != b,
                    Compare::Ge => a >= b,
                    Compare::Le => a <= b,
                    Compare::Gt => a > b,
                    Compare::Lt => a < b,
                }
            }
            Condition::Finding(id) => facts.findings.contains(id),
            Condition::Driver(id) => facts.drivers.contains(id),
            Condition::Not(c) => !c.holds(facts),
            Condition::And(list) => list.iter().all(|c| c.holds(facts)),
            Condition::Or(list) => list.iter().any(|c| c.holds(facts)),
        }
    }
}

impl std::fmt::Display for Condition {
    /// The canonical text, which parses back to the same condition.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = |c: &Condition, f: &mut std::fmt::Formatter<'_>| match c {
            Condition::And(_) | Condition::Or(_) => write!(f, "({c})"),
            _ => write!(f, "{c}"),
        };
        match self {
            Condition::Always => f.write_str("always"),
            Condition::Verdict(op, v) => write!(f, "verdict {} {}", op.as_str(), verdict_name(*v)),
            Condition::Finding(id) => write!(f, "finding {id}"),
            Condition::Driver(id) => write!(f, "driver {id}"),
            Condition::Not(c) => {
                f.write_str("not ")?;
                group(c, f)
            }
            Condition::And(list) | Condition::Or(list) => {
                let sep = if matches!(self, Condition::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, c) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    // `or` inside `and` needs its parentheses back.
                    match (self, c) {
                        (Condition::And(_), Condition::Or(_)) => write!(f, "({c})")?,
                        _ => write!(f, "{c}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Benign => "benign",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Suspicious => "suspicious",
        Verdict::Malicious => "malicious",
    }
}

const VERDICTS: [Verdict; 3] = [Verdict::Benign, Verdict::Suspicious, Verdict::Malicious];

/// Why a condition did not parse: the 0-based character offset of the
/// offending token in the condition text, and the problem with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub offset: usize,
    pub message: String,
}

/// Longest condition accepted, in characters.
pub const MAX_CONDITION_CHARS: usize = 500;
/// Deepest nesting of `not` and parentheses accepted.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Op(Compare),
    Open,
    Close,
}

/// Splits a condition into tokens with their character offsets.
fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let next = chars.get(i + 1).copied();
        let token = match (c, next) {
            ('(', _) => Token::Open,
            (')', _) => Token::Close,
            ('=', Some('=')) => Token::Op(Compare::Eq),
            ('!', Some('=')) => Token::Op(Compare::Ne),
            ('>', Some('=')) => Token::Op(Compare::Ge),
            ('<', Some('=')) => Token::Op(Compare::Le),
            ('>', _) => Token::Op(Compare::Gt),
            ('<', _) => Token::Op(Compare::Lt),
            ('=', _) => {
                return Err(ConditionError {
                    offset: start,
                    message: "`=` is not an operator: compare with `==`".into(),
                });
            }
            (c, _) if c.is_ascii_alphanumeric() => {
                let mut word = String::new();
                while let Some(&w) = chars.get(i) {
                    if w.is_ascii_alphanumeric() || w == '-' || w == '_' {
                        word.push(w);
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push((start, Token::Word(word)));
                continue;
            }
            (c, _) => {
                return Err(ConditionError {
                    offset: start,
                    message: format!(
                        "unexpected character {} (conditions use words, ==, !=, >=, <=, >, <, and parentheses)",
                        crate::playbook::quote(&c.to_string())
                    ),
                });
            }
        };
        i += match token {
            Token::Op(Compare::Gt | Compare::Lt) | Token::Open | Token::Close => 1,
            _ => 2,
        };
        out.push((start, token));
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&(usize, Token)> {
        self.tokens.get(self.pos)
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.end, |(o, _)| *o)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some((_, Token::Word(x))) if x == w)
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ConditionError> {
        Err(ConditionError {
            offset,
            message: message.into(),
        })
    }

    fn condition(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut terms = vec![self.term(depth)?];
        while self.is_word("or") {
            self.pos += 1;
            terms.push(self.term(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Condition::Or(terms)
        })
    }

    fn term(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut factors = vec![self.factor(depth)?];
        while self.is_word("and") {
            self.pos += 1;
            factors.push(self.factor(depth)?);
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Condition::And(factors)
        })
    }

    fn factor(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        if depth > MAX_DEPTH {
            return self.err(
                self.at(),
                format!("the condition nests deeper than {MAX_DEPTH} levels; simplify it"),
            );
        }
        let offset = self.at();
        let Some((_, token)) = self.peek().cloned() else {
            return self.err(
                offset,
                "the condition ends too early: expected `verdict`, `finding`, `driver`, `always`, `not` or `(`",
            );
        };
        self.pos += 1;
        match token {
            Token::Open => {
                let inner = self.condition(depth + 1)?;
                match self.peek() {
                    Some((_, Token::Close)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => self.err(self.at(), "expected `)` to close the `(`"),
                }
            }
            Token::Close => self.err(offset, "unexpected `)`"),
            Token::Op(op) => self.err(
                offset,
                format!(
                    "unexpected `{}`: write `verdict {} VERDICT`",
                    op.as_str(),
                    op.as_str()
                ),
            ),
            Token::Word(w) => match w.as_str() {
                "not" => Ok(Condition::Not(Box::new(self.factor(depth + 1)?))),
                "always" => Ok(Condition::Always),
                "verdict" => {
                    let op_at = self.at();
                    let op = match self.peek() {
                        Some((_, Token::Op(op))) => *op,
                        _ => {
                            return self.err(
                                op_at,
                                "expected a comparison after `verdict`: ==, !=, >=, <=, > or <",
                            );
                        }
                    };
                    self.pos += 1;
                    let v_at = self.at();
                    let Some((_, Token::Word(v))) = self.peek().cloned() else {
                        return self.err(
                            v_at,
                            "expected a verdict after the comparison: benign, suspicious or malicious",
                        );
                    };
                    self.pos += 1;
                    let Some(verdict) = VERDICTS.into_iter().find(|x| verdict_name(*x) == v) else {
                        return self.err(v_at, unknown("verdict", &v, VERDICTS.map(verdict_name)));
                    };
                    Ok(Condition::Verdict(op, verdict))
                }
                "finding" | "driver" => {
                    let id_at = self.at();
                    let Some((_, Token::Word(id))) = self.peek().cloned() else {
                        return self.err(
                            id_at,
                            format!("expected a finding id after `{w}`, like public-access"),
                        );
                    };
                    self.pos += 1;
                    let Some(found) = FindingId::parse(&id) else {
                        return self.err(
                            id_at,
                            unknown("finding id", &id, FindingId::ALL.map(FindingId::as_str)),
                        );
                    };
                    Ok(if w == "finding" {
                        Condition::Finding(found)
                    } else {
                        Condition::Driver(found)
                    })
                }
                other => self.err(
                    offset,
                    unknown(
                        "word",
                        other,
                        ["verdict", "finding", "driver", "always", "not"],
                    ),
                ),
            },
        }
    }
}

fn unknown<const N: usize>(what: &str, got: &str, valid: [&str; N]) -> String {
    let mut message = format!(
        "unknown {what} {} (valid: {})",
        crate::playbook::quote(got),
        valid.join(", ")
    );
    if let Some(s) = crate::playbook::did_you_mean(got, valid.iter().copied()) {
        message.push_str(&format!("; did you mean \"{s}\"?"));
    }
    message
}

/// Parses a condition (see the module docs).
pub fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    let length = text.chars().count();
    if length > MAX_CONDITION_CHARS {
        return Err(ConditionError {
            offset: MAX_CONDITION_CHARS,
            message: format!(
                "the condition is longer than {MAX_CONDITION_CHARS} characters; simplify it"
            ),
        });
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ConditionError {
            offset: 0,
            message: "the condition is empty: write e.g. `verdict == malicious` or `always`".into(),
        });
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: length,
    };
    let condition = parser.condition(0)?;
    if let Some((offset, token)) = parser.peek() {
        let hint = match token {
            Token::Close => "unexpected `)` without a matching `(`".to_owned(),
            _ => "unexpected text after a complete condition: join conditions with `and` or `or`"
                .to_owned(),
        };
        return Err(ConditionError {
            offset: *offset,
            message: hint,
        });
    }
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(verdict: Verdict, findings: &[FindingId]) -> Facts<'_> {
        Facts {
            verdict,
            findings,
            drivers: &[],
        }
    }

    #[test]
    fn conditions_parse_evaluate_and_print_back() {
        let ok = |s: &str| parse_condition(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        let c = ok("verdict == malicious");
        assert!(c.holds(&facts(Verdict::Malicious, &[])));
        assert!(!c.holds(&facts(Verdict::Suspicious, &[])));
        let c = ok("verdict >= suspicious and not finding usage-unknown");
        assert!(c.holds(&facts(Verdict::Suspicious, &[])));
        assert!(c.holds(&facts(Verdict::Malicious, &[FindingId::PublicAccess])));
        assert!(!c.holds(&facts(Verdict::Malicious, &[FindingId::UsageUnknown])));
        assert!(!c.holds(&facts(Verdict::Benign, &[])));
        let c =
            ok("finding public-access or (verdict==malicious and driver external-key-material)");
        assert!(c.holds(&facts(Verdict::Benign, &[FindingId::PublicAccess])));
        assert!(!c.holds(&facts(Verdict::Malicious, &[])));
        assert!(c.holds(&Facts {
            verdict: Verdict::Malicious,
            findings: &[],
            drivers: &[FindingId::ExternalKeyMaterial],
        }));
        assert!(ok("always").holds(&facts(Verdict::Benign, &[])));
        assert!(ok("verdict < malicious").holds(&facts(Verdict::Suspicious, &[])));
        assert!(ok("verdict != benign").holds(&facts(Verdict::Suspicious, &[])));
        for text in [
            "verdict == malicious",
            "verdict >= suspicious and not finding usage-unknown",
            "finding public-access or verdict == malicious and driver external-key-material",
            "(finding public-access or verdict == malicious) and not (always or finding rotation-missing)",
        ] {
            let c = ok(text);
            assert_eq!(ok(&c.to_string()), c, "{text} -> {c}");
        }
    }

    #[test]
    fn errors_point_at_the_token() {
        let err = |s: &str| parse_condition(s).expect_err(s);
        let e = err("verdict == malicous");
        assert_eq!(e.offset, 11);
        assert!(e.message.contains("did you mean \"malicious\""), "{e:?}");
        let e = err("verdict = malicious");
        assert_eq!(e.offset, 8);
        assert!(e.message.contains("=="), "{e:?}");
        let e = err("verdict malicious");
        assert_eq!(e.offset, 8);
        let e = err("finding public-acess");
        assert_eq!(e.offset, 8);
        assert!(e.message.contains("public-access"), "{e:?}");
        let e = err("verdict == malicious and");
        assert_eq!(e.offset, 24);
        let e = err("(verdict == malicious");
        assert_eq!(e.offset, 21);
        let e = err("verdict == malicious)");
        assert_eq!(e.offset, 20);
        let e = err("verdict == malicious finding x");
        assert_eq!(e.offset, 21);
        let e = err("severity >= high");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("unknown word"), "{e:?}");
        let e = err("verdict == malicious; rm -rf /");
        assert_eq!(e.offset, 20);
        assert_eq!(err("").offset, 0);
        assert_eq!(err("   ").offset, 0);
        let deep = format!("{}always{}", "(".repeat(40), ")".repeat(40));
        assert!(err(&deep).message.contains("nests deeper"));
        let long = "always or ".repeat(60) + "always";
        assert!(err(&long).message.contains("longer than"));
    }
}
