//! Fault injection: what goes wrong, on which API method, and how often.
//!
//! A rule is written `METHOD_ID=KIND[,times=N][,rate=P][,after=N][,retry-after=S]`, where
//! METHOD_ID is the discovery method id the request maps to (`*` matches any
//! run of characters, `*` alone matches all), e.g.
//! `logging.entries.list=503,times=2` or
//! `cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy=403`.
//! KIND is an HTTP status (answered in Google's error envelope), `hang` (never
//! answer), `delay=MS` (answer late), `reset` (drop the connection),
//! `malformed` (a 200 whose body is not valid JSON) or `truncated` (the request
//! runs, a write lands, but its answer stops half way: the headers announce the
//! whole body, half is sent, then the connection drops) or `hang-after-apply` (the
//! request runs, a write lands, and the answer never comes: with a killed client,
//! the "intent without an outcome" case). `after=N` lets the first N
//! matching requests through untouched before the rule starts counting, so
//! `...cryptoKeyVersions.patch=403,after=1,times=1` fails the second PATCH only.

use std::fmt;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Hang,
    Delay {
        ms: u64,
    },
    Reset,
    Malformed,
    Truncated,
    HangAfterApply,
}

/// How often a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Always,
    /// The first N matching requests.
    Times(u32),
    /// Each matching request with probability P (deterministic sequence per rule).
    Rate(f64),
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub method: String,
    pub kind: FaultKind,
    pub trigger: Trigger,
    /// Matching requests let through before the rule applies (`after=N`; 0 by default).
    pub after: u32,
}

/// Why a rule did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault rule {rule:?}: {problem}")]
pub struct FaultParseError {
    pub rule: String,
    pub problem: String,
}

impl std::str::FromStr for FaultRule {
    type Err = FaultParseError;

    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let fail = |problem: &str| FaultParseError {
            rule: rule.to_owned(),
            problem: problem.to_owned(),
        };
        let (method, spec) = rule
            .split_once('=')
            .ok_or_else(|| fail("expected METHOD_ID=KIND[,times=N|,rate=P][,after=N]"))?;
        let method = method.trim();
        if method.is_empty() {
            return Err(fail(
                "missing method id (e.g. logging.entries.list, or * for all)",
            ));
        }
        let mut parts = spec.split(',').map(str::trim);
        let kind_text = parts.next().unwrap_or_default();
        let mut kind = match kind_text {
            "hang" => FaultKind::Hang,
            "reset" => FaultKind::Reset,
            "malformed" => FaultKind::Malformed,
            "truncated" => FaultKind::Truncated,
            "hang-after-apply" => FaultKind::HangAfterApply,
            k if k.starts_with("delay=") => FaultKind::Delay {
                ms: k["delay=".len()..]
                    .parse()
                    .map_err(|_| fail("delay=MS needs a number of milliseconds"))?,
            },
            k => {
                let status: u16 = k.parse().map_err(|_| {
                    fail(
                        "kind must be an HTTP status, hang, delay=MS, reset, malformed, truncated or hang-after-apply",
                    )
                })?;
                if crate::error::Code::from_http_status(status).is_none() {
                    return Err(fail(
                        "status must be one Google uses: 400 401 403 404 409 429 499 500 501 503 504",
                    ));
                }
                FaultKind::Status {
                    status,
                    retry_after: None,
                }
            }
        };
        let mut trigger = Trigger::Always;
        let mut after = 0;
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| fail("options are times=N, rate=P, after=N, retry-after=S"))?;
            match k {
                "after" => {
                    after = v
                        .parse()
                        .map_err(|_| fail("after=N needs a whole number"))?;
                }
                "times" => {
                    trigger = Trigger::Times(
                        v.parse()
                            .map_err(|_| fail("times=N needs a whole number"))?,
                    )
                }
                "rate" => {
                    let p: f64 = v.parse().map_err(|_| fail("rate=P needs a number"))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(fail("rate must be between 0 and 1"));
                    }
                    trigger = Trigger::Rate(p);
                }
                "retry-after" => match &mut kind {
                    FaultKind::Status { retry_after, .. } => {
                        *retry_after = Some(
                            v.parse()
                                .map_err(|_| fail("retry-after=S needs whole seconds"))?,
                        );
                    }
                    _ => return Err(fail("retry-after only applies to a status")),
                },
                _ => return Err(fail("options are times=N, rate=P, after=N, retry-after=S")),
            }
        }
        Ok(FaultRule {
            method: method.to_owned(),
            kind,
            trigger,
            after,
        })
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.method)?;
        match &self.kind {
            FaultKind::Status { status, .. } => write!(f, "{status}")?,
            FaultKind::Hang => f.write_str("hang")?,
            FaultKind::Delay { ms } => write!(f, "delay={ms}")?,
            FaultKind::Reset => f.write_str("reset")?,
            FaultKind::Malformed => f.write_str("malformed")?,
            FaultKind::Truncated => f.write_str("truncated")?,
            FaultKind::HangAfterApply => f.write_str("hang-after-apply")?,
        }
        match self.trigger {
            Trigger::Always => {}
            Trigger::Times(n) => write!(f, ",times={n}")?,
            Trigger::Rate(p) => write!(f, ",rate={p}")?,
        }
        if self.after > 0 {
            write!(f, ",after={}", self.after)?;
        }
        if let FaultKind::Status {
            retry_after: Some(s),
            ..
        } = self.kind
        {
            write!(f, ",retry-after={s}")?;
        }
        Ok(())
    }
}

impl FaultRule {
    /// `*` matches any run of characters, anywhere in the pattern
    /// (`cloudkms.*.getIamPolicy`, `logging.*`, `*`).
    pub fn applies_to(&self, method_id: &str) -> bool {
        let mut parts = self.method.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = method_id.strip_prefix(first) else {
            return false;
        };
        let pieces: Vec<&str> = parts.collect();
        let Some((last, middle)) = pieces.split_last() else {
            return rest.is_empty();
        };
        for piece in middle {
            match rest.find(piece) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

/// A rule with its firing state.
#[derive(Debug)]
pub struct ActiveFault {
    pub rule: FaultRule,
    fired: u32,
    /// Matching requests let through so far under `after=N`.
    passed: u32,
    rng: u64,
}

impl ActiveFault {
    pub fn new(rule: FaultRule) -> Self {
        ActiveFault {
            rule,
            fired: 0,
            passed: 0,
            rng: 0x2545_F491_4F6C_DD1D,
        }
    }

    /// Whether the rule fires for this (matching) request; advances its state.
    pub fn fire(&mut self) -> bool {
        if self.passed < self.rule.after {
            self.passed += 1;
            return false;
        }
        match self.rule.trigger {
            Trigger::Always => true,
            Trigger::Times(n) => {
                if self.fired < n {
                    self.fired += 1;
                    true
                } else {
                    false
                }
            }
            Trigger::Rate(p) => {
                // xorshift: reproducible runs without a dependency on a seeded RNG.
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "a uniform draw in [0,1) needs only 53 bits"
                )]
                let draw = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
                draw < p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let r: FaultRule = "logging.entries.list=503,times=2"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.kind,
            FaultKind::Status {
                status: 503,
                retry_after: None
            }
        );
        assert_eq!(r.trigger, Trigger::Times(2));
        let r: FaultRule = "cloudkms.*=429,retry-after=3,rate=0.5"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.kind,
            FaultKind::Status {
                status: 429,
                retry_after: Some(3)
            }
        );
        assert!(r.applies_to("cloudkms.projects.locations.keyRings.get"));
        assert!(!r.applies_to("logging.entries.list"));
        let r: FaultRule = "cloudkms.*.getIamPolicy=403"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.applies_to("cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy"));
        assert!(r.applies_to("cloudkms.projects.locations.keyRings.getIamPolicy"));
        assert!(!r.applies_to("cloudkms.projects.locations.keyRings.cryptoKeys.get"));
        assert!(!r.applies_to("cloudresourcemanager.projects.getIamPolicy"));
        let exact: FaultRule = "logging.entries.list=503"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            exact.applies_to("logging.entries.list") && !exact.applies_to("logging.entries.listx")
        );
        assert_eq!(
            "*=delay=1500".parse::<FaultRule>().map(|r| r.kind),
            Ok(FaultKind::Delay { ms: 1500 })
        );
        let r: FaultRule = "cloudkms.*=truncated,times=1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.kind.clone(), r.trigger.clone()),
            (FaultKind::Truncated, Trigger::Times(1))
        );
        assert_eq!(r.to_string(), "cloudkms.*=truncated,times=1");
        assert_eq!(
            "x=hang-after-apply".parse::<FaultRule>().map(|r| r.kind),
            Ok(FaultKind::HangAfterApply)
        );
        for bad in [
            "nothing",
            "=503",
            "x=999",
            "x=503,times=-1",
            "x=hang,retry-after=1",
            "x=503,rate=2",
            "x=boom",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn times_fires_exactly_n_times_and_rate_is_roughly_p() {
        let mut f = ActiveFault::new("x=503,times=2".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!((f.fire(), f.fire(), f.fire()), (true, true, false));
        let mut f = ActiveFault::new("x=503,rate=0.25".parse().unwrap_or_else(|e| panic!("{e}")));
        let hits = (0..4000).filter(|_| f.fire()).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn after_lets_the_first_n_through_then_applies_the_trigger() {
        let rule: FaultRule = "x=403,after=1,times=1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rule.after, rule.trigger.clone()), (1, Trigger::Times(1)));
        assert_eq!(rule.to_string(), "x=403,times=1,after=1");
        assert_eq!(
            rule.to_string().parse::<FaultRule>().map(|r| r.after),
            Ok(1)
        );
        let mut f = ActiveFault::new(rule);
        assert_eq!(
            (f.fire(), f.fire(), f.fire(), f.fire()),
            (false, true, false, false)
        );
        let mut always =
            ActiveFault::new("x=503,after=2".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            (always.fire(), always.fire(), always.fire(), always.fire()),
            (false, false, true, true)
        );
        assert_eq!(
            "x=503".parse::<FaultRule>().map(|r| r.after),
            Ok(0),
            "no after: the existing behaviour"
        );
        assert!("x=503,after=-1".parse::<FaultRule>().is_err());
        assert!("x=503,after=many".parse::<FaultRule>().is_err());
    }
}
