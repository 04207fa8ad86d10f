//! Small encoders and decoders for Google's JSON wire conventions:
//! durations (`"2592000s"`), timestamps, etags and page tokens.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};

/// Parses a protobuf JSON Duration such as `"7776000s"` or `"1.5s"`.
pub fn parse_duration(s: &str) -> Option<SignedDuration> {
    let body = s.strip_suffix('s')?;
    let (secs, frac) = match body.split_once('.') {
        Some((a, b)) => (a, b),
        None => (body, ""),
    };
    if secs.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let nanos: i32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(SignedDuration::new(
        secs,
        if secs < 0 { -nanos } else { nanos },
    ))
}

/// Formats a Duration the way Google does: whole seconds as `"Ns"`.
pub fn format_duration(d: SignedDuration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos().abs());
        format!("{}s", s.trim_end_matches('0'))
    }
}

/// Parses an RFC 3339 timestamp, as found in resources and log entries.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// Formats a timestamp the way Google does: UTC, `Z`, and 0, 3, 6 or 9
/// fractional digits (never a trimmed count such as 8).
pub fn format_time(t: Timestamp) -> String {
    let base = t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.subsec_nanosecond();
    if nanos == 0 {
        format!("{base}Z")
    } else if nanos % 1_000_000 == 0 {
        format!("{base}.{:03}Z", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{base}.{:06}Z", nanos / 1_000)
    } else {
        format!("{base}.{nanos:09}Z")
    }
}

/// A fresh, opaque etag (8 bytes, base64) that differs on every write.
pub fn etag(counter: u64) -> String {
    // Looks like a real IAM etag ("BwY..."): a version byte pair and a varying tail.
    let mixed = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut bytes = [0u8; 8];
    bytes[0] = 0x07;
    bytes[1] = 0x06;
    bytes[2..].copy_from_slice(&mixed.to_be_bytes()[2..]);
    STANDARD.encode(bytes)
}

/// A page token that binds a position to the query it belongs to, so a token
/// reused with another query is refused like the real service does.
pub fn page_token(fingerprint: u64, position: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{fingerprint:016x}:{position}"))
}

/// The position in a page token, if it belongs to this query.
pub fn read_page_token(token: &str, fingerprint: u64) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (fp, pos) = text.split_once(':')?;
    if u64::from_str_radix(fp, 16).ok()? != fingerprint {
        return None;
    }
    pos.parse().ok()
}

/// FNV-1a, to fingerprint a query for its page tokens.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        assert_eq!(
            parse_duration("7776000s"),
            Some(SignedDuration::from_secs(7_776_000))
        );
        assert_eq!(
            parse_duration("1.5s"),
            Some(SignedDuration::from_millis(1500))
        );
        assert_eq!(parse_duration("7776000"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(
            format_duration(SignedDuration::from_secs(2_592_000)),
            "2592000s"
        );
        assert_eq!(format_duration(SignedDuration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn timestamps_use_0_3_6_or_9_digits() {
        let t = |s: &str| format_time(s.parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(t("2026-11-28T10:00:00Z"), "2026-11-28T10:00:00Z");
        assert_eq!(t("2026-11-28T10:00:00.1Z"), "2026-11-28T10:00:00.100Z");
        assert_eq!(
            t("2026-11-28T10:00:00.12345Z"),
            "2026-11-28T10:00:00.123450Z"
        );
        assert_eq!(
            t("2026-11-28T10:00:00.95496776Z"),
            "2026-11-28T10:00:00.954967760Z"
        );
    }

    #[test]
    fn page_tokens_are_bound_to_their_query() {
        let t = page_token(fingerprint(&["a"]), 42);
        assert_eq!(read_page_token(&t, fingerprint(&["a"])), Some(42));
        assert_eq!(read_page_token(&t, fingerprint(&["b"])), None);
        assert_eq!(read_page_token("garbage!", 1), None);
    }

    #[test]
    fn etags_change_per_write() {
        assert_ne!(etag(1), etag(2));
        assert_eq!(STANDARD.decode(etag(7)).map(|b| b.len()).ok(), Some(8));
    }
}
