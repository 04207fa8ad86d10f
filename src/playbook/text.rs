//! Small text helpers: durations, glob patterns, quoting and suggestions.

use jiff::SignedDuration;

const UNITS: [(&str, i64); 4] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// Parses a playbook duration: a whole number and one unit, `d`, `h`, `m`
/// or `s` (`7d`, `36h`, `10m`, `30s`). `None` when malformed or too long.
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.len() > 9 {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let (_, seconds) = UNITS.iter().find(|(u, _)| *u == unit)?;
    Some(SignedDuration::from_secs(n.checked_mul(*seconds)?))
}

/// Writes a duration the way playbooks do, in the largest unit that divides
/// it exactly (`90d`, `36h`, `10m`, `30s`): `parse_duration` reads it back.
/// Sub-second durations (which playbooks never hold) use jiff's notation.
pub fn format_duration(duration: SignedDuration) -> String {
    if duration.subsec_nanos() != 0 {
        return format!("{duration:#}");
    }
    let secs = duration.as_secs();
    for (unit, size) in UNITS {
        if secs % size == 0 && (secs != 0 || unit == "s") {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Matches `text` against a pattern where `*` is any run of characters
/// (ASCII case-insensitive; no other special characters).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                backtrack = Some((pi, ti));
                continue;
            }
            Some(c) if t.get(ti).is_some_and(|x| c.eq_ignore_ascii_case(x)) => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bt)) => {
                pi = bp;
                ti = bt + 1;
                backtrack = Some((bp, bt + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

/// A domain pattern against a domain: label by label, so `*` stays within
/// one label (`acme-*.iam.gserviceaccount.com`).
pub(super) fn domain_match(pattern: &str, domain: &str) -> bool {
    let mut domain_labels = domain.split('.');
    for p in pattern.split('.') {
        match domain_labels.next() {
            Some(d) if glob_match(p, d) => {}
            _ => return false,
        }
    }
    domain_labels.next().is_none()
}

/// A principal pattern against an e-mail: local parts as globs, domains as
/// [`domain_match`]; `*` never crosses the `@`.
pub(super) fn principal_match(pattern: &str, email: &str) -> bool {
    match (pattern.rsplit_once('@'), email.rsplit_once('@')) {
        (Some((pl, pd)), Some((el, ed))) => {
            !el.contains('@') && glob_match(pl, el) && domain_match(pd, ed)
        }
        _ => false,
    }
}

/// User text, quoted for a message: escaped and bounded.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 80;
    let bounded: String = if s.chars().count() > MAX {
        s.chars().take(MAX).chain(std::iter::once('…')).collect()
    } else {
        s.to_owned()
    };
    format!(
        "\"{}\"",
        crate::sanitize::text(&bounded).replace('"', "\\\"")
    )
}

/// The candidate closest to `input`, if close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    const MAX: usize = 64;
    let input: Vec<char> = input.to_ascii_lowercase().chars().collect();
    if input.is_empty() || input.len() > MAX {
        return None;
    }
    let threshold = (input.len() / 3).max(1);
    let lower: String = input.iter().collect();
    candidates
        .filter_map(|c| {
            let chars: Vec<char> = c.chars().collect();
            let d = edit_distance(&input, &chars);
            // A typo, or a longer spelling of a name (`gcloud-sdk` for `gcloud`).
            let contained = chars.len() >= 4 && (lower.contains(c) || c.contains(lower.as_str()));
            (d <= threshold || contained).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions
/// and transpositions of neighbours (`hihg` → `high` is 1).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let idx = |i: usize, j: usize| i * width + j;
    let get = |d: &[usize], i: usize, j: usize| d.get(idx(i, j)).copied().unwrap_or(usize::MAX);
    for i in 0..=a.len() {
        if let Some(x) = d.get_mut(idx(i, 0)) {
            *x = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(x) = d.get_mut(idx(0, j)) {
            *x = j;
        }
    }
    for (i, ca) in a.iter().enumerate() {
        for (j, cb) in b.iter().enumerate() {
            let (i1, j1) = (i + 1, j + 1);
            let cost = usize::from(ca != cb);
            let mut best = get(&d, i, j)
                .saturating_add(cost)
                .min(get(&d, i, j1).saturating_add(1))
                .min(get(&d, i1, j).saturating_add(1));
            if i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca) {
                best = best.min(get(&d, i - 1, j - 1).saturating_add(1));
            }
            if let Some(x) = d.get_mut(idx(i1, j1)) {
                *x = best;
            }
        }
    }
    get(&d, a.len(), b.len())
}
