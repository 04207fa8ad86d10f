//! The Cloud Logging query language: the `filter` of `POST /v2/entries:list`.
//!
//! This module owns parsing a filter into an AST ([`Filter::parse`]) and deciding whether a
//! `LogEntry`, in Google's REST JSON form, matches it ([`Filter::matches`]). It follows
//! <https://cloud.google.com/logging/docs/view/logging-query-language>; anything it cannot
//! parse or does not implement is a [`FilterError`] (which the server reports as
//! `400 INVALID_ARGUMENT`), never a filter that silently matches everything.
//!
//! Semantics implemented, with the reason where the documentation decides it:
//!
//! - **Precedence**: `NOT` (or a leading `-`) binds tightest, then `OR`, then `AND` — the
//!   reverse of SQL. The docs state "The NOT operator has the highest precedence, followed by
//!   OR and AND in that order" and give `"a" OR NOT "b" AND NOT "c" OR "d"` ≡
//!   `("a" OR (NOT "b")) AND ((NOT "c") OR "d")`. Juxtaposition is an implicit `AND`. Boolean
//!   operators are recognised only in upper case; `and`/`or`/`not` are search terms.
//! - **Comparisons** `field OP value`, OP one of `=` `!=` `:` `<` `<=` `>` `>=` `=~` `!~`.
//!   The value may be a parenthesised boolean combination of values
//!   (`resource.type = ("a" OR "b")`), which applies the field and operator to each value.
//! - **Strings**: `=`, `!=` and the orderings ignore letter case (the docs: "string:
//!   Comparisons ignore letter case", NFKC_CF-normalised; approximated here by Unicode
//!   lower-casing). `:` ("has") is a case-insensitive substring test; on an object it searches
//!   every scalar below it. `=~`/`!~` are RE2 searches (the `regex` crate), case sensitive and
//!   unanchored, on string values only.
//! - **Typed fields**: `timestamp`/`receiveTimestamp` compare as instants (RFC 3339 with `Z`,
//!   `±hh:mm` or `±hhmm`, fractional seconds, or a bare `YYYY-MM-DD` meaning midnight UTC; an
//!   invalid value is a parse error); `severity` compares by level (`DEFAULT` < `DEBUG` < … <
//!   `EMERGENCY`, names or numbers; an unknown name is a parse error). Otherwise two numbers
//!   (including int64 values that JSON carries as strings) compare numerically, JSON booleans
//!   compare as booleans (`true > false`), `NULL_VALUE` matches JSON null.
//! - **Paths**: dotted, segments may be double-quoted (`labels."compute.googleapis.com/x"`,
//!   `protoPayload."@type"`). The first segment must be a `LogEntry` field, and fields of the
//!   typed messages (`resource`, `httpRequest`, `operation`, `sourceLocation`, `split`) and the
//!   map `labels` are checked too; an undefined field is a parse error, as in the real service.
//!   A path crossing an array compares every element and ORs the results.
//! - **Missing fields**: under `jsonPayload`, `protoPayload` or the label maps, a comparison on
//!   a missing field fails (so `NOT missing=x` matches and `missing!=x` does not). Scalar
//!   fields defined by `LogEntry` itself are *defaulted*: compared as if present with their
//!   default (`severity` is `DEFAULT`, strings are empty, numbers zero). `field:*` tests
//!   explicit presence.
//! - **Global restrictions** (a bare value such as `unicorn` or `"The cat"`): the entry matches
//!   if any scalar anywhere in it contains the value, case-insensitively — the `:` operator
//!   applied to every field, as the docs describe.
//! - **Functions**: `log_id()`, `source()`, `sample()`, `ip_in_net()` and `SEARCH()` (with a
//!   simplified tokenizer: runs of letters and digits). `cast()`, `regexp_extract()` and any
//!   unknown function are errors.
//! - **Lexical**: `--` starts a comment to end of line; strings take the escapes `\"` `\\`
//!   `\n` `\t` `\r` `\'` `\uXXXX` `\UXXXXXXXX` `\xHH` and octal `\NNN`; any other escape keeps
//!   its backslash so regex escapes like `"\d"` survive. Unquoted values may not contain `.`
//!   (except numbers) or operator characters, as the docs require. Filters over 20,000
//!   characters and nesting deeper than 64 levels are rejected.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use jiff::Timestamp;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value as Json};

/// The real API rejects longer filters; comments count towards the limit.
const MAX_FILTER_CHARS: usize = 20_000;
/// Bounds parser and evaluator recursion so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;
/// Keeps a pathological pattern from costing the mock unbounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A filter that cannot be parsed, with the byte offset in the filter where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    /// Byte offset into the filter text.
    pub position: usize,
    /// Short, lower-case description.
    pub message: String,
}

impl FilterError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// A parsed Logging query-language filter.
#[derive(Debug, Clone)]
pub struct Filter {
    /// `None` for the empty filter, which matches every entry.
    root: Option<Expr>,
}

impl Filter {
    /// Parses a filter; the empty / whitespace-only filter matches everything (that is the real
    /// API's rule).
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        if let Some((position, _)) = src.char_indices().nth(MAX_FILTER_CHARS) {
            return Err(FilterError::new(
                position,
                format!("filter exceeds {MAX_FILTER_CHARS} characters"),
            ));
        }
        let tokens = tokenize(src)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            end: src.len(),
            depth: 0,
        };
        let root = parser.parse_filter()?;
        Ok(Filter { root })
    }

    /// Whether a LogEntry, in Google's REST JSON form (camelCase: logName, timestamp, severity,
    /// resource.type, resource.labels.x, protoPayload.methodName, ...), matches.
    pub fn matches(&self, entry: &serde_json::Value) -> bool {
        self.root.as_ref().is_none_or(|root| root.eval(entry))
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Dot,
    Star,
    Minus,
    Op(CmpOp),
    Str(String),
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Has,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    NotRe,
}

impl CmpOp {
    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "=" => Self::Eq,
            "!=" => Self::Ne,
            ":" => Self::Has,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "=~" => Self::Re,
            "!~" => Self::NotRe,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Has => ":",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Re => "=~",
            Self::NotRe => "!~",
        }
    }

    /// The operators whose meaning depends on the field's type (as opposed to `:` and the
    /// regex operators, which work on the textual form).
    fn is_typed(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge
        )
    }

    fn accepts(self, ord: Ordering) -> bool {
        match self {
            Self::Eq => ord == Ordering::Equal,
            Self::Ne => ord != Ordering::Equal,
            Self::Lt => ord == Ordering::Less,
            Self::Le => ord != Ordering::Greater,
            Self::Gt => ord == Ordering::Greater,
            Self::Ge => ord != Ordering::Less,
            Self::Has | Self::Re | Self::NotRe => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "'('".to_owned(),
        Tok::RParen => "')'".to_owned(),
        Tok::Comma => "','".to_owned(),
        Tok::Dot => "'.'".to_owned(),
        Tok::Star => "'*'".to_owned(),
        Tok::Minus => "'-'".to_owned(),
        Tok::Op(op) => format!("operator '{}'", op.as_str()),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Word(w) => format!("'{w}'"),
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '/' | '%' | '$' | '#')
}

/// `-` and `+` may appear inside unquoted text (`us-central1`, `1e+5`) but not lead it: a
/// leading `-` is NOT, and the docs require strings starting with `+` to be quoted.
fn is_word_char(c: char) -> bool {
    is_word_start(c) || matches!(c, '-' | '+')
}

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~' | ':')
}

fn tokenize(src: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '.' => Some(Tok::Dot),
            '*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            out.push(Token {
                tok,
                start,
                end: start + c.len_utf8(),
            });
            continue;
        }
        match c {
            '-' => {
                chars.next();
                if matches!(chars.peek(), Some(&(_, '-'))) {
                    for (_, c) in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                } else {
                    out.push(Token {
                        tok: Tok::Minus,
                        start,
                        end: start + 1,
                    });
                }
            }
            '"' => {
                chars.next();
                let (text, end) = lex_string(start, &mut chars)?;
                out.push(Token {
                    tok: Tok::Str(text),
                    start,
                    end,
                });
            }
            c if is_op_char(c) => {
                // Maximal munch, so that `==` or `=>` is reported as one unknown operator
                // rather than as a confusing "expected a value".
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if !is_op_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let text = src.get(start..end).unwrap_or_default();
                let op = CmpOp::from_text(text).ok_or_else(|| {
                    FilterError::new(start, format!("unknown comparison operator '{text}'"))
                })?;
                out.push(Token {
                    tok: Tok::Op(op),
                    start,
                    end,
                });
            }
            c if is_word_start(c) => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                out.push(Token {
                    tok: Tok::Word(src.get(start..end).unwrap_or_default().to_owned()),
                    start,
                    end,
                });
            }
            '\'' => {
                return Err(FilterError::new(
                    start,
                    "unexpected character ''' (strings use double quotes)",
                ));
            }
            c => {
                return Err(FilterError::new(
                    start,
                    format!("unexpected character '{c}'"),
                ));
            }
        }
    }
    Ok(out)
}

type CharStream<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// Lexes a string whose opening quote (at `open`) has been consumed; returns the decoded text
/// and the byte offset just past the closing quote.
fn lex_string(open: usize, chars: &mut CharStream<'_>) -> Result<(String, usize), FilterError> {
    let unterminated = || FilterError::new(open, "unterminated string");
    let mut text = String::new();
    loop {
        let (i, c) = chars.next().ok_or_else(unterminated)?;
        match c {
            '"' => return Ok((text, i + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(unterminated)?;
                match e {
                    '"' | '\\' | '\'' => text.push(e),
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    'u' => {
                        let first = hex_escape(chars, 4, i)?;
                        text.push(decode_utf16_escape(first, chars, i)?);
                    }
                    'U' => {
                        let code = hex_escape(chars, 8, i)?;
                        text.push(char::from_u32(code).ok_or_else(|| {
                            FilterError::new(i, "escape is not a valid unicode code point")
                        })?);
                    }
                    'x' => {
                        let code = hex_escape(chars, 2, i)?;
                        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    '0'..='7' => {
                        let mut code = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|&(_, d)| d.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    // Kept verbatim: regular expressions are written as strings, and `\d`,
                    // `\.` or `\b` must reach the regex engine intact.
                    other => {
                        text.push('\\');
                        text.push(other);
                    }
                }
            }
            c => text.push(c),
        }
    }
}

fn hex_escape(chars: &mut CharStream<'_>, digits: usize, at: usize) -> Result<u32, FilterError> {
    let mut code: u32 = 0;
    for _ in 0..digits {
        let d = chars
            .peek()
            .and_then(|&(_, c)| c.to_digit(16))
            .ok_or_else(|| FilterError::new(at, "invalid escape sequence in string"))?;
        chars.next();
        code = code.saturating_mul(16).saturating_add(d);
    }
    Ok(code)
}

/// `\uXXXX` is a UTF-16 code unit, so characters outside the BMP arrive as a surrogate pair.
fn decode_utf16_escape(
    first: u32,
    chars: &mut CharStream<'_>,
    at: usize,
) -> Result<char, FilterError> {
    let invalid = || FilterError::new(at, "invalid unicode escape in string");
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(first).ok_or_else(invalid);
    }
    if chars.next().map(|(_, c)| c) != Some('\\') || chars.next().map(|(_, c)| c) != Some('u') {
        return Err(invalid());
    }
    let second = hex_escape(chars, 4, at)?;
    if !(0xDC00..0xE000).contains(&second) {
        return Err(invalid());
    }
    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
    char::from_u32(code).ok_or_else(invalid)
}

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Box<Comparison>),
    Global(Box<Value>),
    Call(Box<Call>),
}

#[derive(Debug, Clone)]
struct Comparison {
    path: FieldPath,
    op: CmpOp,
    rhs: Rhs,
}

#[derive(Debug, Clone)]
enum Rhs {
    /// `field:*`
    Present,
    Values(ValueExpr),
}

/// The right-hand side of a comparison: one value, or a boolean combination of values to each
/// of which the field and operator are applied.
#[derive(Debug, Clone)]
enum ValueExpr {
    And(Vec<ValueExpr>),
    Or(Vec<ValueExpr>),
    Not(Box<ValueExpr>),
    Leaf(Box<Value>),
}

/// A literal, pre-converted to every type it may be compared as so that evaluation never
/// re-parses it.
#[derive(Debug, Clone)]
struct Value {
    folded: String,
    number: Option<Num>,
    boolean: Option<bool>,
    timestamp: Option<Timestamp>,
    severity: Option<i64>,
    regex: Option<Regex>,
    is_null: bool,
}

#[derive(Debug, Clone)]
enum Call {
    /// `log_id("a/b")`: logName ends with one of these (lower-cased) suffixes.
    LogId(Vec<String>),
    /// `source(projects/p)`: logName starts with this (lower-cased) prefix.
    Source(String),
    Sample {
        field: FieldPath,
        fraction: f64,
    },
    IpInNet {
        field: FieldPath,
        net: IpNet,
    },
    Search {
        field: Option<FieldPath>,
        terms: Vec<Vec<String>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Timestamp,
    Severity,
    Other,
}

#[derive(Debug, Clone)]
struct PathSeg {
    name: String,
    /// Protocol-buffer field names are matched ignoring case and underscores (the docs: "when
    /// querying the regular protocol buffer field protoPayload, you don't need to preserve
    /// case"); map and struct keys are matched exactly.
    loose: bool,
}

#[derive(Debug, Clone)]
struct FieldPath {
    segs: Vec<PathSeg>,
    kind: FieldKind,
    /// The value a defaulted `LogEntry` field is compared as when absent.
    default: Option<Json>,
}

// ---------------------------------------------------------------------------------------------
// LogEntry schema
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Fallback {
    /// Not defaulted: absent means missing.
    Missing,
    Str,
    Int,
    Bool,
    Severity,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Scalar(Fallback),
    /// A `map<string, string>`: exactly one more, case-sensitive, segment.
    Map,
    /// `jsonPayload`: arbitrary depth, keys case-sensitive.
    Struct,
    /// A protocol buffer whose schema this mock does not know: arbitrary depth, loose names.
    Proto,
    Message(&'static [(&'static str, Shape)]),
}

const RESOURCE: &[(&str, Shape)] = &[
    ("type", Shape::Scalar(Fallback::Str)),
    ("labels", Shape::Map),
];

const HTTP_REQUEST: &[(&str, Shape)] = &[
    ("requestMethod", Shape::Scalar(Fallback::Str)),
    ("requestUrl", Shape::Scalar(Fallback::Str)),
    ("requestSize", Shape::Scalar(Fallback::Int)),
    ("status", Shape::Scalar(Fallback::Int)),
    ("responseSize", Shape::Scalar(Fallback::Int)),
    ("userAgent", Shape::Scalar(Fallback::Str)),
    ("remoteIp", Shape::Scalar(Fallback::Str)),
    ("serverIp", Shape::Scalar(Fallback::Str)),
    ("referer", Shape::Scalar(Fallback::Str)),
    ("latency", Shape::Scalar(Fallback::Str)),
    ("cacheLookup", Shape::Scalar(Fallback::Bool)),
    ("cacheHit", Shape::Scalar(Fallback::Bool)),
    (
        "cacheValidatedWithOriginServer",
        Shape::Scalar(Fallback::Bool),
    ),
    ("cacheFillBytes", Shape::Scalar(Fallback::Int)),
    ("protocol", Shape::Scalar(Fallback::Str)),
];

const OPERATION: &[(&str, Shape)] = &[
    ("id", Shape::Scalar(Fallback::Str)),
    ("producer", Shape::Scalar(Fallback::Str)),
    ("first", Shape::Scalar(Fallback::Bool)),
    ("last", Shape::Scalar(Fallback::Bool)),
];

const SOURCE_LOCATION: &[(&str, Shape)] = &[
    ("file", Shape::Scalar(Fallback::Str)),
    ("line", Shape::Scalar(Fallback::Int)),
    ("function", Shape::Scalar(Fallback::Str)),
];

const SPLIT: &[(&str, Shape)] = &[
    ("uid", Shape::Scalar(Fallback::Str)),
    ("index", Shape::Scalar(Fallback::Int)),
    ("totalSplits", Shape::Scalar(Fallback::Int)),
];

const LOG_ENTRY: &[(&str, Shape)] = &[
    ("logName", Shape::Scalar(Fallback::Str)),
    ("resource", Shape::Message(RESOURCE)),
    ("protoPayload", Shape::Proto),
    ("textPayload", Shape::Scalar(Fallback::Missing)),
    ("jsonPayload", Shape::Struct),
    ("timestamp", Shape::Scalar(Fallback::Missing)),
    ("receiveTimestamp", Shape::Scalar(Fallback::Missing)),
    ("severity", Shape::Scalar(Fallback::Severity)),
    ("insertId", Shape::Scalar(Fallback::Str)),
    ("httpRequest", Shape::Message(HTTP_REQUEST)),
    ("labels", Shape::Map),
    ("operation", Shape::Message(OPERATION)),
    ("trace", Shape::Scalar(Fallback::Str)),
    ("spanId", Shape::Scalar(Fallback::Str)),
    ("traceSampled", Shape::Scalar(Fallback::Bool)),
    ("sourceLocation", Shape::Message(SOURCE_LOCATION)),
    ("split", Shape::Message(SPLIT)),
    ("metadata", Shape::Proto),
    ("errorGroups", Shape::Proto),
    ("apphub", Shape::Proto),
    ("apphubDestination", Shape::Proto),
    ("apphubSource", Shape::Proto),
];

/// Protocol-buffer names compare ignoring case and `_`, so `log_name` finds `logName`.
fn loose_eq(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|&c| c != '_')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// One `.`-separated component of a path or value as written.
#[derive(Debug, Clone)]
struct Segment {
    text: String,
    quoted: bool,
    start: usize,
}

#[derive(Debug, Clone)]
struct Atom {
    segs: Vec<Segment>,
    start: usize,
    end: usize,
}

impl Atom {
    fn display(&self) -> String {
        self.segs
            .iter()
            .map(|s| {
                if s.quoted {
                    format!("\"{}\"", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The atom as a literal value; only numbers may contain an unquoted `.`.
    fn as_value_text(&self) -> Result<(String, bool), FilterError> {
        match self.segs.as_slice() {
            [only] => Ok((only.text.clone(), only.quoted)),
            segs => {
                let joined = segs
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                if segs.iter().all(|s| !s.quoted) && parse_num(&joined).is_some() {
                    Ok((joined, false))
                } else {
                    Err(FilterError::new(
                        self.start,
                        "values containing '.' must be double-quoted",
                    ))
                }
            }
        }
    }

    fn to_field_path(&self) -> Result<FieldPath, FilterError> {
        let mut segs = self.segs.iter();
        let first = segs
            .next()
            .ok_or_else(|| FilterError::new(self.start, "expected a field name"))?;
        let undefined = |seg: &Segment| {
            FilterError::new(seg.start, format!("undefined field '{}'", self.display()))
        };
        let &(name, mut shape) = LOG_ENTRY
            .iter()
            .find(|(name, _)| loose_eq(name, &first.text))
            .ok_or_else(|| undefined(first))?;
        let mut path = vec![PathSeg {
            name: name.to_owned(),
            loose: false,
        }];
        for seg in segs {
            shape = match shape {
                Shape::Scalar(_) => return Err(undefined(seg)),
                Shape::Map => {
                    path.push(PathSeg {
                        name: seg.text.clone(),
                        loose: false,
                    });
                    Shape::Scalar(Fallback::Missing)
                }
                Shape::Struct | Shape::Proto => {
                    path.push(PathSeg {
                        name: seg.text.clone(),
                        loose: matches!(shape, Shape::Proto),
                    });
                    shape
                }
                Shape::Message(fields) => {
                    let (name, sub) = fields
                        .iter()
                        .find(|(name, _)| loose_eq(name, &seg.text))
                        .ok_or_else(|| undefined(seg))?;
                    path.push(PathSeg {
                        name: (*name).to_owned(),
                        loose: false,
                    });
                    *sub
                }
            };
        }
        let default = match shape {
            Shape::Scalar(Fallback::Str) => Some(Json::String(String::new())),
            Shape::Scalar(Fallback::Int) => Some(Json::from(0)),
            Shape::Scalar(Fallback::Bool) => Some(Json::Bool(false)),
            Shape::Scalar(Fallback::Severity) => Some(Json::String("DEFAULT".to_owned())),
            _ => None,
        };
        let kind = match path.as_slice() {
            [only] if only.name == "timestamp" || only.name == "receiveTimestamp" => {
                FieldKind::Timestamp
            }
            [only] if only.name == "severity" => FieldKind::Severity,
            _ => FieldKind::Other,
        };
        Ok(FieldPath {
            segs: path,
            kind,
            default,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Byte length of the source, the position reported for "unexpected end".
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.pos + offset)
    }

    fn bump(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        if tok.is_some() {
            self.pos += 1;
        }
        tok
    }

    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w == kw)
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.start)
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                at,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether the next token is a `-` glued to a number, i.e. a negative literal rather than
    /// a NOT.
    fn at_negative_number(&self) -> bool {
        match (self.peek(), self.peek_at(1)) {
            (
                Some(Token {
                    tok: Tok::Minus,
                    end,
                    ..
                }),
                Some(Token {
                    tok: Tok::Word(w),
                    start,
                    ..
                }),
            ) => end == start && w.starts_with(|c: char| c.is_ascii_digit()),
            _ => false,
        }
    }

    fn parse_filter(&mut self) -> Result<Option<Expr>, FilterError> {
        if self.tokens.is_empty() {
            return Ok(None);
        }
        let expr = self.parse_and()?;
        if let Some(t) = self.peek() {
            let message = if t.tok == Tok::RParen {
                "unbalanced ')'".to_owned()
            } else {
                format!("unexpected {}", describe(&t.tok))
            };
            return Err(FilterError::new(t.start, message));
        }
        Ok(Some(expr))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_or()?];
        loop {
            if self.peek().is_none() || self.at(&Tok::RParen) {
                break;
            }
            if self.at_keyword("AND") {
                self.bump();
                if self.peek().is_none() || self.at(&Tok::RParen) {
                    return Err(FilterError::new(
                        self.here(),
                        "expected an expression after AND",
                    ));
                }
            }
            items.push(self.parse_or()?);
        }
        Ok(collapse(items, Expr::And))
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_unary()?];
        while self.at_keyword("OR") {
            self.bump();
            if self.peek().is_none() || self.at(&Tok::RParen) {
                return Err(FilterError::new(
                    self.here(),
                    "expected an expression after OR",
                ));
            }
            items.push(self.parse_unary()?);
        }
        Ok(collapse(items, Expr::Or))
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if self.at_keyword("NOT") || self.at(&Tok::Minus) {
            let start = self.here();
            self.bump();
            if self.peek().is_none() {
                return Err(FilterError::new(
                    self.end,
                    "expected an expression after NOT",
                ));
            }
            self.enter(start)?;
            let inner = self.parse_unary();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(FilterError::new(self.end, "unexpected end of filter"));
        };
        match &tok.tok {
            Tok::LParen => {
                self.bump();
                if self.at(&Tok::RParen) {
                    return Err(FilterError::new(tok.start, "empty parentheses"));
                }
                self.enter(tok.start)?;
                let inner = self.parse_and();
                self.leave();
                let inner = inner?;
                self.expect_close(tok.start)?;
                Ok(inner)
            }
            Tok::Word(w) if w == "AND" || w == "OR" => Err(FilterError::new(
                tok.start,
                format!("unexpected {w}: expected an expression"),
            )),
            Tok::Word(name)
                if self
                    .peek_at(1)
                    .is_some_and(|next| next.tok == Tok::LParen && next.start == tok.end) =>
            {
                let name = name.clone();
                self.parse_call(&name, tok.start)
            }
            Tok::Word(_) | Tok::Str(_) => {
                let atom = self.parse_atom()?;
                match self.peek() {
                    Some(Token {
                        tok: Tok::Op(op), ..
                    }) => {
                        let op = *op;
                        self.bump();
                        self.parse_comparison(&atom, op)
                    }
                    _ => {
                        let (text, quoted) = atom.as_value_text().map_err(|_| {
                            FilterError::new(
                                atom.end,
                                format!(
                                    "expected a comparison operator after '{}'",
                                    atom.display()
                                ),
                            )
                        })?;
                        let value =
                            Value::build(&text, quoted, atom.start, FieldKind::Other, CmpOp::Has)?;
                        Ok(Expr::Global(Box::new(value)))
                    }
                }
            }
            Tok::Op(op) => Err(FilterError::new(
                tok.start,
                format!("comparison operator '{}' without a field name", op.as_str()),
            )),
            Tok::RParen => Err(FilterError::new(tok.start, "expected an expression")),
            other => Err(FilterError::new(
                tok.start,
                format!("unexpected {}", describe(other)),
            )),
        }
    }

    fn expect_close(&mut self, open: usize) -> Result<(), FilterError> {
        match self.peek() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => {
                self.bump();
                Ok(())
            }
            Some(t) => Err(FilterError::new(
                t.start,
                format!("expected ')' but found {}", describe(&t.tok)),
            )),
            None => Err(FilterError::new(open, "unbalanced '('")),
        }
    }

    /// A field path or literal: words and strings joined by `.` with no space around it.
    fn parse_atom(&mut self) -> Result<Atom, FilterError> {
        let (text, quoted, start, mut end) = match self.bump() {
            Some(Token {
                tok: Tok::Word(text),
                start,
                end,
            }) => (text, false, start, end),
            Some(Token {
                tok: Tok::Str(text),
                start,
                end,
            }) => (text, true, start, end),
            Some(t) => {
                return Err(FilterError::new(
                    t.start,
                    format!("expected a field name or value, found {}", describe(&t.tok)),
                ));
            }
            None => return Err(FilterError::new(self.end, "unexpected end of filter")),
        };
        let mut segs = vec![Segment {
            text,
            quoted,
            start,
        }];
        while let Some(dot) = self.peek().filter(|t| t.tok == Tok::Dot && t.start == end) {
            let dot_end = dot.end;
            let dot_start = dot.start;
            self.bump();
            match self.peek().cloned() {
                Some(Token {
                    tok: tok @ (Tok::Word(_) | Tok::Str(_)),
                    start,
                    end: seg_end,
                }) if start == dot_end => {
                    self.bump();
                    let (text, quoted) = match tok {
                        Tok::Str(s) => (s, true),
                        Tok::Word(w) => (w, false),
                        _ => (String::new(), false),
                    };
                    segs.push(Segment {
                        text,
                        quoted,
                        start,
                    });
                    end = seg_end;
                }
                _ => {
                    return Err(FilterError::new(dot_start, "expected a name after '.'"));
                }
            }
        }
        Ok(Atom { segs, start, end })
    }

    fn parse_comparison(&mut self, atom: &Atom, op: CmpOp) -> Result<Expr, FilterError> {
        let path = atom.to_field_path()?;
        let rhs = match self.peek().cloned() {
            Some(Token {
                tok: Tok::Star,
                start,
                ..
            }) => {
                if op != CmpOp::Has {
                    return Err(FilterError::new(start, "'*' is only valid as ':*'"));
                }
                self.bump();
                Rhs::Present
            }
            Some(Token {
                tok: Tok::LParen,
                start,
                ..
            }) => Rhs::Values(self.parse_value_group(start, path.kind, op)?),
            _ => Rhs::Values(ValueExpr::Leaf(Box::new(self.parse_value(path.kind, op)?))),
        };
        Ok(Expr::Compare(Box::new(Comparison { path, op, rhs })))
    }

    fn parse_value_group(
        &mut self,
        open: usize,
        kind: FieldKind,
        op: CmpOp,
    ) -> Result<ValueExpr, FilterError> {
        self.bump();
        if self.at(&Tok::RParen) {
            return Err(FilterError::new(open, "empty parentheses"));
        }
        self.enter(open)?;
        let inner = self.parse_value_and(kind, op);
        self.leave();
        let inner = inner?;
        self.expect_close(open)?;
        Ok(inner)
    }

    fn parse_value_and(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        let mut items = vec![self.parse_value_or(kind, op)?];
        loop {
            if self.peek().is_none() || self.at(&Tok::RParen) {
                break;
            }
            if self.at_keyword("AND") {
                self.bump();
            }
            items.push(self.parse_value_or(kind, op)?);
        }
        Ok(collapse(items, ValueExpr::And))
    }

    fn parse_value_or(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        let mut items = vec![self.parse_value_unary(kind, op)?];
        while self.at_keyword("OR") {
            self.bump();
            items.push(self.parse_value_unary(kind, op)?);
        }
        Ok(collapse(items, ValueExpr::Or))
    }

    fn parse_value_unary(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        if self.at_keyword("NOT") || (self.at(&Tok::Minus) && !self.at_negative_number()) {
            let start = self.here();
            self.bump();
            self.enter(start)?;
            let inner = self.parse_value_unary(kind, op);
            self.leave();
            return Ok(ValueExpr::Not(Box::new(inner?)));
        }
        if let Some(open) = self
            .peek()
            .filter(|t| t.tok == Tok::LParen)
            .map(|t| t.start)
        {
            return self.parse_value_group(open, kind, op);
        }
        Ok(ValueExpr::Leaf(Box::new(self.parse_value(kind, op)?)))
    }

    /// A single literal on the right of an operator.
    fn parse_value(&mut self, kind: FieldKind, op: CmpOp) -> Result<Value, FilterError> {
        let expected = || format!("expected a value after '{}'", op.as_str());
        let Some(tok) = self.peek().cloned() else {
            return Err(FilterError::new(self.end, expected()));
        };
        let negative = self.at_negative_number();
        if negative {
            self.bump();
        }
        match self.peek().cloned().map(|t| t.tok) {
            Some(Tok::Word(w)) if w == "AND" || w == "OR" || w == "NOT" => {
                Err(FilterError::new(tok.start, expected()))
            }
            Some(Tok::Word(_)) | Some(Tok::Str(_)) => {
                if let Some(next) = self.peek_at(1)
                    && next.tok == Tok::LParen
                    && self.peek().is_some_and(|t| t.end == next.start)
                {
                    return Err(FilterError::new(
                        tok.start,
                        "functions are not supported as comparison values",
                    ));
                }
                let atom = self.parse_atom()?;
                let (mut text, quoted) = atom.as_value_text()?;
                if negative {
                    text.insert(0, '-');
                }
                Value::build(&text, quoted, tok.start, kind, op)
            }
            Some(Tok::Star) => Err(FilterError::new(tok.start, "'*' is only valid as ':*'")),
            _ => Err(FilterError::new(tok.start, expected())),
        }
    }

    fn parse_call(&mut self, name: &str, start: usize) -> Result<Expr, FilterError> {
        self.bump();
        let open = self.here();
        self.bump();
        let mut args = Vec::new();
        if self.at(&Tok::RParen) {
            self.bump();
        } else {
            loop {
                match self.peek().map(|t| &t.tok) {
                    Some(Tok::Word(_) | Tok::Str(_)) => args.push(self.parse_atom()?),
                    Some(other) => {
                        return Err(FilterError::new(
                            self.here(),
                            format!("unexpected {} in function arguments", describe(other)),
                        ));
                    }
                    None => return Err(FilterError::new(open, "unbalanced '('")),
                }
                match self.bump() {
                    Some(Token {
                        tok: Tok::Comma, ..
                    }) => {}
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => break,
                    Some(t) => {
                        return Err(FilterError::new(
                            t.start,
                            format!("expected ',' or ')' but found {}", describe(&t.tok)),
                        ));
                    }
                    None => return Err(FilterError::new(open, "unbalanced '('")),
                }
            }
        }
        let lower = name.to_ascii_lowercase();
        let arity = |n: usize| -> Result<(), FilterError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(FilterError::new(
                    start,
                    format!("{lower}() takes {n} argument(s), got {}", args.len()),
                ))
            }
        };
        let call = match lower.as_str() {
            "log_id" => {
                arity(1)?;
                let (id, _) = single_value(&args, 0)?;
                let encoded = url_encode(&id);
                Call::LogId(vec![
                    format!("/logs/{encoded}").to_lowercase(),
                    format!("/logs/{id}").to_lowercase(),
                ])
            }
            "source" => {
                arity(1)?;
                let (resource, _) = single_value(&args, 0)?;
                let valid = resource.split_once('/').is_some_and(|(kind, id)| {
                    matches!(
                        kind,
                        "projects" | "folders" | "organizations" | "billingAccounts"
                    ) && !id.is_empty()
                        && !id.contains('/')
                });
                if !valid {
                    return Err(FilterError::new(
                        start,
                        format!("invalid source resource '{resource}'"),
                    ));
                }
                Call::Source(format!("{resource}/").to_lowercase())
            }
            "sample" => {
                arity(2)?;
                let field = field_arg(&args, 0)?;
                let (text, _) = single_value(&args, 1)?;
                let fraction = text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .ok_or_else(|| {
                        FilterError::new(
                            arg_start(&args, 1, start),
                            "sample() fraction must be a number in (0, 1]",
                        )
                    })?;
                Call::Sample { field, fraction }
            }
            "ip_in_net" => {
                arity(2)?;
                let field = field_arg(&args, 0)?;
                let (text, _) = single_value(&args, 1)?;
                let net = IpNet::parse(&text).ok_or_else(|| {
                    FilterError::new(
                        arg_start(&args, 1, start),
                        format!("invalid IP address or range '{text}'"),
                    )
                })?;
                Call::IpInNet { field, net }
            }
            "search" => {
                let (field, query_arg) = match args.len() {
                    1 => (None, 0),
                    2 => (Some(field_arg(&args, 0)?), 1),
                    n => {
                        return Err(FilterError::new(
                            start,
                            format!("search() takes 1 or 2 arguments, got {n}"),
                        ));
                    }
                };
                let (query, quoted) = single_value(&args, query_arg)?;
                let at = arg_start(&args, query_arg, start);
                if !quoted {
                    return Err(FilterError::new(
                        at,
                        "search() query must be a string literal",
                    ));
                }
                Call::Search {
                    field,
                    terms: search_terms(&query, at)?,
                }
            }
            "cast" | "regexp_extract" => {
                return Err(FilterError::new(
                    start,
                    format!("function {lower}() is not supported"),
                ));
            }
            _ => {
                return Err(FilterError::new(
                    start,
                    format!("unknown function '{name}'"),
                ));
            }
        };
        Ok(Expr::Call(Box::new(call)))
    }
}

fn arg_start(args: &[Atom], index: usize, fallback: usize) -> usize {
    args.get(index).map_or(fallback, |a| a.start)
}

fn single_value(args: &[Atom], index: usize) -> Result<(String, bool), FilterError> {
    args.get(index)
        .ok_or_else(|| FilterError::new(0, "missing function argument"))?
        .as_value_text()
}

fn field_arg(args: &[Atom], index: usize) -> Result<FieldPath, FilterError> {
    args.get(index)
        .ok_or_else(|| FilterError::new(0, "missing function argument"))?
        .to_field_path()
}

/// Builds an n-ary node, or returns the only operand so single terms stay flat.
fn collapse<T>(mut items: Vec<T>, make: fn(Vec<T>) -> T) -> T {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    make(items)
}

// ---------------------------------------------------------------------------------------------
// Literals and conversions
// ---------------------------------------------------------------------------------------------

impl Value {
    fn build(
        text: &str,
        quoted: bool,
        at: usize,
        kind: FieldKind,
        op: CmpOp,
    ) -> Result<Value, FilterError> {
        let is_null = !quoted && text == "NULL_VALUE";
        if is_null && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(FilterError::new(
                at,
                "NULL_VALUE can only be compared with '=' or '!='",
            ));
        }
        let regex = if matches!(op, CmpOp::Re | CmpOp::NotRe) {
            Some(
                RegexBuilder::new(text)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|_| {
                        FilterError::new(at, format!("invalid regular expression \"{text}\""))
                    })?,
            )
        } else {
            None
        };
        let typed = op.is_typed() && !is_null;
        let timestamp = if kind == FieldKind::Timestamp && typed {
            Some(
                parse_timestamp(text)
                    .ok_or_else(|| FilterError::new(at, format!("invalid timestamp \"{text}\"")))?,
            )
        } else {
            None
        };
        let severity = if kind == FieldKind::Severity && typed {
            Some(
                severity_level(text)
                    .ok_or_else(|| FilterError::new(at, format!("invalid severity \"{text}\"")))?,
            )
        } else {
            None
        };
        let boolean = if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        };
        Ok(Value {
            folded: fold(text),
            number: parse_num(text),
            boolean,
            timestamp,
            severity,
            regex,
            is_null,
        })
    }
}

/// Stands in for the NFKC_CF normalisation the real service applies before comparing strings.
fn fold(s: &str) -> String {
    s.to_lowercase()
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Precision loss only matters beyond 2^53, where both sides are integers anyway.
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn from_json(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Self::Int(i128::from(i)))
        } else if let Some(u) = n.as_u64() {
            Some(Self::Int(i128::from(u)))
        } else {
            n.as_f64().map(Self::Float)
        }
    }
}

/// Decimal numbers only: Rust's float parser would also take "nan" and "inf", which must stay
/// ordinary words when compared against string fields.
fn parse_num(s: &str) -> Option<Num> {
    let bytes = s.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    let mut integral = true;
    if bytes.get(i) == Some(&b'.') {
        integral = false;
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        integral = false;
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    if integral && let Ok(n) = s.parse::<i128>() {
        return Some(Num::Int(n));
    }
    s.parse::<f64>().ok().map(Num::Float)
}

const SEVERITIES: [(&str, i64); 9] = [
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

fn severity_level(s: &str) -> Option<i64> {
    SEVERITIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, level)| level)
        .or_else(|| s.parse::<i64>().ok())
}

fn severity_of(json: &Json) -> Option<i64> {
    match json {
        Json::String(s) => severity_level(s),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Accepts what the docs allow in queries (RFC 3339 with `Z` or `±hh:mm`, ISO 8601 dates) plus
/// the `±hhmm` offset some clients send; jiff does the rest.
fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let bytes = s.as_bytes();
    let is_date_only = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if is_date_only {
        return format!("{s}T00:00:00Z").parse().ok();
    }
    let has_time = s.contains(['T', 't', ' ']);
    if has_time
        && let Some(split) = s.len().checked_sub(5)
        && let (Some(head), Some(tail)) = (s.get(..split), s.get(split..))
        && tail.starts_with(['+', '-'])
        && tail.bytes().skip(1).all(|b| b.is_ascii_digit())
        && head.ends_with(|c: char| c.is_ascii_digit())
        && head.contains(':')
    {
        let (sign_hh, mm) = tail.split_at(3);
        return format!("{head}{sign_hh}:{mm}").parse().ok();
    }
    s.parse().ok()
}

/// How `logName` spells a log id: every byte outside the URL-unreserved set is %-encoded, so
/// `cloudaudit.googleapis.com/activity` becomes `cloudaudit.googleapis.com%2Factivity`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    /// Whether `inner` (an address or a range) lies entirely within `self`.
    fn contains(&self, inner: &IpNet) -> bool {
        if inner.prefix < self.prefix {
            return false;
        }
        match (self.addr, inner.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Splits text into lower-cased runs of letters and digits, a simplification of the BigQuery
/// `LOG_ANALYZER` that `SEARCH()` uses.
fn search_tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(fold)
        .collect()
}

/// Each term is a token sequence: one token for a bare word, several for a backticked phrase.
fn search_terms(query: &str, at: usize) -> Result<Vec<Vec<String>>, FilterError> {
    let mut terms = Vec::new();
    let parts: Vec<&str> = query.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return Err(FilterError::new(at, "unbalanced '`' in search() query"));
    }
    for (i, part) in parts.iter().enumerate() {
        let tokens = search_tokens(part);
        if i % 2 == 1 {
            if !tokens.is_empty() {
                terms.push(tokens);
            }
        } else {
            terms.extend(tokens.into_iter().map(|t| vec![t]));
        }
    }
    if terms.is_empty() {
        return Err(FilterError::new(
            at,
            "search() query has no searchable terms",
        ));
    }
    Ok(terms)
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

fn lookup<'a>(map: &'a Map<String, Json>, seg: &PathSeg) -> Option<&'a Json> {
    map.get(&seg.name).or_else(|| {
        if seg.loose {
            map.iter()
                .find(|(key, _)| loose_eq(key, &seg.name))
                .map(|(_, v)| v)
        } else {
            None
        }
    })
}

/// Every value the path reaches; arrays anywhere along it (or at its end) fan out.
fn resolve<'a>(entry: &'a Json, segs: &[PathSeg]) -> Vec<&'a Json> {
    let mut out = Vec::new();
    let mut stack = vec![(entry, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        match node {
            // Reversed so that results come out in document order.
            Json::Array(items) => stack.extend(items.iter().rev().map(|it| (it, depth))),
            _ => match segs.get(depth) {
                None => out.push(node),
                Some(seg) => {
                    if let Json::Object(map) = node
                        && let Some(child) = lookup(map, seg)
                    {
                        stack.push((child, depth + 1));
                    }
                }
            },
        }
    }
    out
}

/// The textual form of every scalar at or below `node`.
fn scalar_texts(node: &Json) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) => out.push(Cow::Borrowed(s.as_str())),
            Json::Number(n) => out.push(Cow::Owned(n.to_string())),
            Json::Bool(b) => out.push(Cow::Owned(b.to_string())),
            Json::Null => {}
            Json::Array(items) => stack.extend(items.iter().rev()),
            Json::Object(map) => stack.extend(map.values().rev()),
        }
    }
    out
}

fn has(node: &Json, needle_folded: &str) -> bool {
    scalar_texts(node)
        .iter()
        .any(|t| fold(t).contains(needle_folded))
}

fn compare(kind: FieldKind, leaf: &Json, value: &Value) -> Option<Ordering> {
    match kind {
        FieldKind::Timestamp => {
            let have = parse_timestamp(leaf.as_str()?)?;
            Some(have.cmp(&value.timestamp?))
        }
        FieldKind::Severity => Some(severity_of(leaf)?.cmp(&value.severity?)),
        FieldKind::Other => match leaf {
            Json::Bool(b) => Some(b.cmp(&value.boolean?)),
            Json::Number(n) => Num::from_json(n)?.compare(value.number?),
            Json::String(s) => match (parse_num(s), value.number) {
                (Some(have), Some(want)) => have.compare(want),
                _ => Some(fold(s).cmp(&value.folded)),
            },
            Json::Null | Json::Array(_) | Json::Object(_) => None,
        },
    }
}

fn leaf_matches(op: CmpOp, kind: FieldKind, leaf: &Json, value: &Value) -> bool {
    match op {
        CmpOp::Re | CmpOp::NotRe => {
            let (Some(s), Some(re)) = (leaf.as_str(), value.regex.as_ref()) else {
                return false;
            };
            re.is_match(s) == (op == CmpOp::Re)
        }
        CmpOp::Has => has(leaf, &value.folded),
        _ if value.is_null => leaf.is_null() == (op == CmpOp::Eq),
        _ => compare(kind, leaf, value).is_some_and(|ord| op.accepts(ord)),
    }
}

impl ValueExpr {
    fn eval(&self, leaf: &dyn Fn(&Value) -> bool) -> bool {
        match self {
            Self::And(items) => items.iter().all(|e| e.eval(leaf)),
            Self::Or(items) => items.iter().any(|e| e.eval(leaf)),
            Self::Not(inner) => !inner.eval(leaf),
            Self::Leaf(value) => leaf(value),
        }
    }
}

impl Comparison {
    fn eval(&self, entry: &Json) -> bool {
        let mut found = resolve(entry, &self.path.segs);
        let values = match &self.rhs {
            Rhs::Present => return !found.is_empty(),
            Rhs::Values(values) => values,
        };
        if found.is_empty()
            && let Some(default) = &self.path.default
        {
            found.push(default);
        }
        values.eval(&|value: &Value| {
            found
                .iter()
                .any(|leaf| leaf_matches(self.op, self.path.kind, leaf, value))
        })
    }
}

/// The values a function's field argument refers to, with defaulting applied.
fn field_values<'a>(entry: &'a Json, field: &'a FieldPath) -> Vec<&'a Json> {
    let mut found = resolve(entry, &field.segs);
    if found.is_empty()
        && let Some(default) = &field.default
    {
        found.push(default);
    }
    found
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

impl Call {
    fn eval(&self, entry: &Json) -> bool {
        let log_name = || {
            entry
                .get("logName")
                .and_then(Json::as_str)
                .map(fold)
                .unwrap_or_default()
        };
        match self {
            Self::LogId(suffixes) => {
                let name = log_name();
                suffixes.iter().any(|s| name.ends_with(s.as_str()))
            }
            Self::Source(prefix) => log_name().starts_with(prefix.as_str()),
            Self::Sample { field, fraction } => {
                let Some(first) = field_values(entry, field).into_iter().next() else {
                    return false;
                };
                let key = match first {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    _ => return false,
                };
                let position = fnv1a(key.as_bytes()) as f64 / u64::MAX as f64;
                position <= *fraction
            }
            Self::IpInNet { field, net } => field_values(entry, field)
                .iter()
                .filter_map(|v| v.as_str())
                .filter_map(IpNet::parse)
                .any(|ip| net.contains(&ip)),
            Self::Search { field, terms } => {
                let scope: Vec<&Json> = match field {
                    Some(field) => resolve(entry, &field.segs),
                    None => vec![entry],
                };
                let fields: Vec<Vec<String>> = scope
                    .iter()
                    .flat_map(|node| scalar_strings(node))
                    .map(search_tokens)
                    .collect();
                terms
                    .iter()
                    .all(|term| fields.iter().any(|tokens| contains_phrase(tokens, term)))
            }
        }
    }
}

/// String scalars only: `SEARCH()` does not match non-text fields.
fn scalar_strings(node: &Json) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) => out.push(s.as_str()),
            Json::Array(items) => stack.extend(items.iter().rev()),
            Json::Object(map) => stack.extend(map.values().rev()),
            Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }
    out
}

impl Expr {
    fn eval(&self, entry: &Json) -> bool {
        match self {
            Self::And(items) => items.iter().all(|e| e.eval(entry)),
            Self::Or(items) => items.iter().any(|e| e.eval(entry)),
            Self::Not(inner) => !inner.eval(entry),
            Self::Compare(cmp) => cmp.eval(entry),
            Self::Global(value) => has(entry, &value.folded),
            Self::Call(call) => call.eval(entry),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn parse(filter: &str) -> Filter {
        Filter::parse(filter).unwrap_or_else(|e| panic!("{filter:?} should parse: {e}"))
    }

    #[track_caller]
    fn m(filter: &str, entry: &Json) -> bool {
        parse(filter).matches(entry)
    }

    #[track_caller]
    fn err(filter: &str) -> FilterError {
        match Filter::parse(filter) {
            Ok(f) => panic!("{filter:?} should not parse, got {f:?}"),
            Err(e) => e,
        }
    }

    #[track_caller]
    fn err_at(filter: &str, position: usize, needle: &str) {
        let e = err(filter);
        assert_eq!(e.position, position, "{filter:?}: {e}");
        assert!(
            e.message.contains(needle),
            "{filter:?}: {e} lacks {needle:?}"
        );
    }

    fn audit() -> Json {
        json!({
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "insertId": "abc123",
            "timestamp": "2026-11-20T10:00:00.123456789Z",
            "receiveTimestamp": "2026-11-20T10:00:01Z",
            "severity": "NOTICE",
            "resource": {
                "type": "cloudkms_cryptokey",
                "labels": {"project_id": "p", "location": "us-central1", "key_ring_id": "ring"}
            },
            "labels": {"compute.googleapis.com/resource_name": "vm-1", "env": "Prod"},
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "serviceName": "cloudkms.googleapis.com",
                "methodName": "CreateCryptoKey",
                "authenticationInfo": {
                    "principalEmail": "a@b.com",
                    "serviceAccountDelegationInfo": [
                        {"firstPartyPrincipal": {"principalEmail": "sa1@p.iam.gserviceaccount.com"}},
                        {"firstPartyPrincipal": {"principalEmail": "sa2@p.iam.gserviceaccount.com"}}
                    ]
                },
                "authorizationInfo": [
                    {"permission": "cloudkms.cryptoKeys.create", "granted": true},
                    {"permission": "cloudkms.cryptoKeys.get", "granted": false}
                ],
                "requestMetadata": {"callerIp": "10.1.2.3"},
                "resourceLocation": {"currentLocations": ["us-central1", "europe-west1"]},
                "numResponseItems": "1234",
                "request": {"cryptoKey": {"purpose": "ENCRYPT_DECRYPT"}}
            }
        })
    }

    fn app() -> Json {
        json!({
            "logName": "projects/p/logs/app",
            "insertId": "xyz",
            "timestamp": "2026-11-20T10:00:00+00:00",
            "severity": "ERROR",
            "resource": {"type": "gce_instance", "labels": {"project_id": "p"}},
            "jsonPayload": {
                "message": "Hello Kitty: the Cat in the Hat",
                "shoeSize": [8.5, 9, 6],
                "count": 42,
                "flag": true,
                "nothing": null,
                "big": "9223372036854775807",
                "end_time": "later",
                "\"q\"": "quoted key",
                "nested": {"deep": [{"x": "needle-in-array"}]}
            }
        })
    }

    fn text(payload: &str) -> Json {
        json!({
            "logName": "projects/p/logs/syslog",
            "timestamp": "2026-11-20T10:00:00Z",
            "resource": {"type": "global"},
            "textPayload": payload
        })
    }

    // ----- empty filter, comments ------------------------------------------------------------

    #[test]
    fn empty_filter_matches_everything() {
        for f in ["", "   ", "\n\t ", "-- only a comment", "-- one\n-- two\n"] {
            assert!(m(f, &audit()), "{f:?}");
            assert!(m(f, &json!({})), "{f:?}");
        }
    }

    #[test]
    fn comments_run_to_end_of_line() {
        let e = audit();
        assert!(m(
            "resource.type=\"cloudkms_cryptokey\" -- the key\nseverity=NOTICE",
            &e
        ));
        assert!(m(
            "resource.type=\"cloudkms_cryptokey\" -- severity=ERROR",
            &e
        ));
        assert!(!m(
            "-- resource.type=\"cloudkms_cryptokey\"\nseverity=ERROR",
            &e
        ));
    }

    // ----- comparison operators --------------------------------------------------------------

    #[test]
    fn equality_ignores_letter_case() {
        let e = audit();
        assert!(m("protoPayload.methodName=\"CreateCryptoKey\"", &e));
        assert!(m("protoPayload.methodName=\"createcryptokey\"", &e));
        assert!(m("resource.type = CLOUDKMS_CRYPTOKEY", &e));
        assert!(!m("protoPayload.methodName=\"CreateCryptoKe\"", &e));
        assert!(!m("protoPayload.methodName=\"CreateCryptoKeys\"", &e));
    }

    #[test]
    fn not_equal() {
        let e = audit();
        assert!(m("protoPayload.methodName!=\"GetCryptoKey\"", &e));
        assert!(!m("protoPayload.methodName!=\"createCryptoKey\"", &e));
    }

    #[test]
    fn has_is_a_case_insensitive_substring_test() {
        let e = audit();
        assert!(m("protoPayload.methodName:cryptokey", &e));
        assert!(m("logName:\"ACTIVITY\"", &e));
        assert!(m("logName:\"%2Factivity\"", &e));
        assert!(!m("protoPayload.methodName:destroy", &e));
        // On an object, every scalar below it is searched.
        assert!(m("protoPayload.request:encrypt_decrypt", &e));
        assert!(!m("protoPayload.request:sign", &e));
        // An empty needle is in every present string.
        assert!(m("protoPayload.methodName:\"\"", &e));
    }

    #[test]
    fn string_orderings_ignore_case() {
        let e = audit();
        assert!(m("resource.type > \"CLOUDKMS\"", &e));
        assert!(m("resource.type < \"d\"", &e));
        assert!(m("resource.type >= \"Cloudkms_CryptoKey\"", &e));
        assert!(m("resource.type <= \"cloudkms_cryptokey\"", &e));
        assert!(!m("resource.type < \"cloudkms_cryptokey\"", &e));
        assert!(!m("resource.type > \"cloudkms_cryptokey\"", &e));
    }

    #[test]
    fn numbers_compare_numerically() {
        let a = audit();
        let j = app();
        // Lexicographically "42" < "9" and "1234" < "999"; numerically the opposite.
        assert!(m("jsonPayload.count > 9", &j));
        assert!(m("protoPayload.numResponseItems > 999", &a));
        assert!(m("protoPayload.numResponseItems = \"1234\"", &a));
        assert!(m("protoPayload.numResponseItems = 1234.0", &a));
        assert!(m("jsonPayload.count >= 42", &j));
        assert!(m("jsonPayload.count <= 42", &j));
        assert!(m("jsonPayload.count = \"42\"", &j));
        assert!(m("jsonPayload.count = 4.2e1", &j));
        assert!(!m("jsonPayload.count < 42", &j));
        assert!(!m("jsonPayload.count != 42", &j));
        assert!(m("jsonPayload.count > -1", &j));
        assert!(m("jsonPayload.count > -100.5", &j));
        assert!(!m("jsonPayload.count < -1", &j));
        // int64 values beyond f64 precision still compare exactly.
        assert!(m("jsonPayload.big = 9223372036854775807", &j));
        assert!(m("jsonPayload.big > 9223372036854775806", &j));
        assert!(!m("jsonPayload.big > \"9223372036854775807\"", &j));
        // A non-numeric value against a number field: the conversion fails, so does the test.
        assert!(!m("jsonPayload.count = abc", &j));
        assert!(!m("jsonPayload.count != abc", &j));
        // "nan" and "inf" are words, not numbers.
        assert!(m("textPayload = nan", &text("NaN")));
        assert!(m("textPayload = inf", &text("inf")));
    }

    #[test]
    fn booleans() {
        let j = app();
        assert!(m("jsonPayload.flag = true", &j));
        assert!(m("jsonPayload.flag = TRUE", &j));
        assert!(m("jsonPayload.flag != false", &j));
        assert!(m("jsonPayload.flag > false", &j));
        assert!(!m("jsonPayload.flag = false", &j));
        assert!(m(
            "protoPayload.authorizationInfo.granted = false",
            &audit()
        ));
    }

    #[test]
    fn regular_expressions() {
        let e = audit();
        assert!(m("protoPayload.methodName =~ \"^Create\"", &e));
        assert!(!m("protoPayload.methodName =~ \"^create\"", &e));
        assert!(m("protoPayload.methodName =~ \"(?i)^create\"", &e));
        assert!(m("protoPayload.methodName =~ \"Crypto\"", &e));
        assert!(m("protoPayload.methodName =~ \"Key$\"", &e));
        assert!(m(
            "logName =~ \"/cloudaudit\\\\.googleapis\\\\.com%2Factivity$\"",
            &e
        ));
        assert!(m("logName =~ \"%2F(activity|data_access)$\"", &e));
        assert!(m("protoPayload.methodName !~ \"^Get\"", &e));
        assert!(!m("protoPayload.methodName !~ \"Crypto\"", &e));
        // An unknown string escape keeps its backslash, so regex escapes work unescaped too.
        assert!(m("resource.labels.location =~ \"^us-\\w+\\d$\"", &e));
        // Missing fields fail both ways.
        assert!(!m("jsonPayload.absent =~ \".*\"", &e));
        assert!(!m("jsonPayload.absent !~ \"x\"", &e));
        // Only strings are matched.
        assert!(!m("jsonPayload.count =~ \"42\"", &app()));
        err_at("logName =~ \"(unclosed\"", 11, "invalid regular expression");
    }

    #[test]
    fn present_operator() {
        let e = audit();
        assert!(m("protoPayload.methodName:*", &e));
        assert!(m("labels.env:*", &e));
        assert!(!m("labels.absent:*", &e));
        assert!(m("NOT labels.absent:*", &e));
        assert!(!m("jsonPayload:*", &e));
        assert!(m("protoPayload.authorizationInfo.permission:*", &e));
        assert!(m("jsonPayload.nothing:*", &app()));
    }

    // ----- boolean structure -----------------------------------------------------------------

    #[test]
    fn or_binds_tighter_than_and() {
        let e = json!({"jsonPayload": {"x": 1, "y": 0, "z": 0}});
        // With SQL precedence this would be x OR (y AND z) = true.
        assert!(!m(
            "jsonPayload.x=1 OR jsonPayload.y=1 AND jsonPayload.z=1",
            &e
        ));
        assert!(m(
            "jsonPayload.x=1 OR (jsonPayload.y=1 AND jsonPayload.z=1)",
            &e
        ));
        assert!(!m(
            "jsonPayload.z=1 AND jsonPayload.y=1 OR jsonPayload.x=1",
            &e
        ));
        // Implicit AND is still AND: (x OR y) AND z.
        assert!(!m("jsonPayload.x=1 OR jsonPayload.y=1 jsonPayload.z=1", &e));
        assert!(m("jsonPayload.x=1 OR jsonPayload.y=1 jsonPayload.z=0", &e));
    }

    #[test]
    fn documented_precedence_example() {
        let plain = parse("\"apple\" OR NOT \"banana\" AND NOT \"cherry\" OR \"durian\"");
        let grouped = parse("(\"apple\" OR (NOT \"banana\")) AND ((NOT \"cherry\") OR \"durian\")");
        let words = ["apple", "banana", "cherry", "durian"];
        for bits in 0..16u32 {
            let has = |i: u32| bits & (1 << i) != 0;
            let payload: Vec<&str> = (0..4)
                .filter(|&i| has(i))
                .filter_map(|i| words.get(i as usize).copied())
                .collect();
            let e = text(&payload.join(" "));
            let expected = (has(0) || !has(1)) && (!has(2) || has(3));
            assert_eq!(plain.matches(&e), expected, "{payload:?}");
            assert_eq!(grouped.matches(&e), expected, "{payload:?}");
        }
    }

    #[test]
    fn not_and_minus() {
        let e = audit();
        assert!(m("NOT protoPayload.methodName=GetCryptoKey", &e));
        assert!(!m("NOT protoPayload.methodName=CreateCryptoKey", &e));
        assert!(m("NOT NOT protoPayload.methodName=CreateCryptoKey", &e));
        assert!(!m("-protoPayload.methodName=CreateCryptoKey", &e));
        assert!(!m("- protoPayload.methodName=CreateCryptoKey", &e));
        assert!(m("-protoPayload.methodName=GetCryptoKey", &e));
        assert!(m("NOT(severity=ERROR OR severity=DEBUG)", &e));
        assert!(!m("-(severity=ERROR OR severity=NOTICE)", &e));
        // The documented equivalence.
        let a = "protoPayload.serviceName=\"cloudkms.googleapis.com\" AND severity=NOTICE AND NOT resource.type=\"x\"";
        let b = "protoPayload.serviceName=\"cloudkms.googleapis.com\" severity=NOTICE -resource.type=\"x\"";
        assert!(m(a, &e));
        assert!(m(b, &e));
        // NOT binds tighter than OR and AND.
        assert!(m("NOT severity=ERROR OR severity=ERROR", &e));
    }

    #[test]
    fn lower_case_operators_are_search_terms() {
        let e = text("cats and dogs");
        assert!(m("cats and dogs", &e));
        assert!(m("textPayload:cats or", &text("cats or dogs")));
        assert!(!m("textPayload:cats or", &text("cats")));
        assert!(!m("textPayload:cats not", &text("cats")));
    }

    #[test]
    fn value_groups_apply_field_and_operator_to_each_value() {
        let e = audit();
        assert!(m(
            "resource.type = (\"gae_app\" OR \"cloudkms_cryptokey\")",
            &e
        ));
        assert!(!m("resource.type = (gae_app OR gce_instance)", &e));
        assert!(m("labels.env =~ (\"^Pr\" OR \"^St\")", &e));
        let t = text("a unicorn met a phoenix");
        assert!(m("textPayload:(unicorn phoenix)", &t));
        assert!(m("textPayload:(\"unicorn\" AND \"phoenix\")", &t));
        assert!(!m("textPayload:(unicorn dragon)", &t));
        assert!(m("textPayload:(unicorn AND NOT dragon)", &t));
        assert!(m("textPayload:(unicorn -dragon)", &t));
        assert!(!m("textPayload:(unicorn AND NOT phoenix)", &t));
        assert!(m("textPayload:(dragon OR (unicorn AND phoenix))", &t));
        // OR binds tighter than AND inside groups as well.
        assert!(!m("textPayload:(phoenix OR dragon AND griffin)", &t));
        let j = app();
        assert!(m("jsonPayload.count = (-1 OR 42)", &j));
        assert!(m("jsonPayload.count > (-5 AND 41)", &j));
    }

    #[test]
    fn global_restrictions_search_every_field() {
        let t = text("A UNICORN and a Phoenix");
        assert!(m("unicorn", &t));
        assert!(m("\"Unicorn and\"", &t));
        assert!(m("unicorn phoenix", &t));
        assert!(!m("unicorn dragon", &t));
        assert!(m("unicorn OR dragon", &t));
        assert!(m("(\"unicorn\" AND (\"hat\" OR \"phoenix\"))", &t));
        let j = app();
        assert!(m("\"The Cat in The Hat\"", &j));
        assert!(m("needle-in-array", &j));
        assert!(m("42", &j));
        assert!(m("8.5", &j));
        assert!(m("gce_instance", &j));
        assert!(!m("absent_everywhere", &j));
        // The documented pitfall: this is (insertId="ABC-1") OR (global "xyz").
        assert!(m("insertId = \"ABC-1\" OR \"xyz\"", &j));
        assert!(!m("insertId = (\"ABC-1\" OR \"ABC-2\")", &j));
    }

    // ----- field paths -----------------------------------------------------------------------

    #[test]
    fn quoted_path_segments() {
        let e = audit();
        assert!(m(
            "labels.\"compute.googleapis.com/resource_name\"=\"vm-1\"",
            &e
        ));
        assert!(m(
            "protoPayload.\"@type\"=\"type.googleapis.com/google.cloud.audit.AuditLog\"",
            &e
        ));
        assert!(m("protoPayload.@type:AuditLog", &e));
        let j = app();
        assert!(m("jsonPayload.\"end_time\"=later", &j));
        assert!(m("jsonPayload.\"\\\"q\\\"\":quoted", &j));
        assert!(m("jsonPayload.\"nested\".deep.x:needle", &j));
    }

    #[test]
    fn map_and_struct_keys_are_case_sensitive_but_proto_names_are_not() {
        let e = audit();
        assert!(m("labels.env=\"prod\"", &e));
        assert!(!m("labels.ENV=\"prod\"", &e));
        assert!(m("protoPayload.method_name=\"CreateCryptoKey\"", &e));
        assert!(m("protoPayload.METHODNAME=\"CreateCryptoKey\"", &e));
        assert!(m(
            "protoPayload.authentication_info.principal_email=\"a@b.com\"",
            &e
        ));
        assert!(m("log_name:activity", &e));
        assert!(m("resource.labels.project_id=p", &e));
        assert!(!m("resource.labels.projectId=p", &e));
        let j = app();
        assert!(m("jsonPayload.end_time=later", &j));
        assert!(!m("jsonPayload.endTime=later", &j));
    }

    #[test]
    fn repeated_fields_match_if_any_element_matches() {
        let e = audit();
        assert!(m(
            "protoPayload.authorizationInfo.permission=\"cloudkms.cryptoKeys.create\"",
            &e
        ));
        assert!(m(
            "protoPayload.authorizationInfo.permission=\"cloudkms.cryptoKeys.get\"",
            &e
        ));
        assert!(!m(
            "protoPayload.authorizationInfo.permission=\"cloudkms.cryptoKeys.list\"",
            &e
        ));
        assert!(m(
            "protoPayload.authenticationInfo.serviceAccountDelegationInfo.firstPartyPrincipal.principalEmail=\"sa2@p.iam.gserviceaccount.com\"",
            &e
        ));
        assert!(m(
            "protoPayload.resourceLocation.currentLocations=\"europe-west1\"",
            &e
        ));
        // The documented example: {8.5, 9, 6} < 7 is true because 6 < 7.
        let j = app();
        assert!(m("jsonPayload.shoeSize < 7", &j));
        assert!(!m("jsonPayload.shoeSize < 6", &j));
        assert!(m("jsonPayload.shoeSize = 9", &j));
        assert!(m("jsonPayload.shoeSize = 8.5", &j));
        // != is also ORed over the elements.
        assert!(m("jsonPayload.shoeSize != 9", &j));
    }

    #[test]
    fn missing_fields() {
        let e = audit();
        assert!(!m("jsonPayload.nearest_store=\"x\"", &e));
        assert!(m("NOT jsonPayload.nearest_store=\"x\"", &e));
        assert!(!m("jsonPayload.nearest_store!=\"x\"", &e));
        assert!(!m("protoPayload.name.nickname:x", &e));
        assert!(!m("labels.absent=\"\"", &e));
        assert!(!m("protoPayload.methodName.sub=\"x\"", &e));
        assert!(!m("textPayload:x", &e));
        assert!(!m("timestamp>=\"2000-01-01T00:00:00Z\"", &json!({})));
    }

    #[test]
    fn defaulted_log_entry_fields() {
        let bare = json!({"logName": "projects/p/logs/x"});
        assert!(m("severity=DEFAULT", &bare));
        assert!(m("severity<INFO", &bare));
        assert!(!m("severity>=INFO", &bare));
        assert!(m("trace=\"\"", &bare));
        assert!(m("trace!=\"x\"", &bare));
        assert!(!m("trace:*", &bare));
        assert!(!m("severity:*", &bare));
        assert!(m("httpRequest.status=0", &bare));
        assert!(!m("httpRequest.status>=500", &bare));
        assert!(m("operation.first=false", &bare));
        assert!(m("insertId=\"\"", &bare));
    }

    #[test]
    fn null_values() {
        let j = app();
        assert!(m("jsonPayload.nothing = NULL_VALUE", &j));
        assert!(!m("NOT jsonPayload.nothing = NULL_VALUE", &j));
        assert!(!m("jsonPayload.nothing != NULL_VALUE", &j));
        assert!(!m("jsonPayload.count = NULL_VALUE", &j));
        assert!(m("jsonPayload.count != NULL_VALUE", &j));
        assert!(!m("jsonPayload.absent = NULL_VALUE", &j));
        // Quoted, it is just a string.
        assert!(!m("jsonPayload.nothing = \"NULL_VALUE\"", &j));
        err_at("jsonPayload.nothing < NULL_VALUE", 22, "NULL_VALUE");
    }

    // ----- severity --------------------------------------------------------------------------

    #[test]
    fn severity_compares_by_level() {
        let e = audit();
        assert!(m("severity>=NOTICE", &e));
        assert!(m("severity>INFO", &e));
        assert!(m("severity<WARNING", &e));
        assert!(m("severity=notice", &e));
        assert!(m("severity=\"Notice\"", &e));
        assert!(m("severity=300", &e));
        assert!(m("severity>=200", &e));
        assert!(!m("severity>=ERROR", &e));
        assert!(m("severity:noti", &e));
        assert!(!m("severity:err", &e));
        assert!(m("severity=~\"^NOT\"", &e));
        for pair in SEVERITIES.windows(2) {
            let [(low, _), (high, _)] = pair else {
                continue;
            };
            let entry = json!({"severity": high});
            assert!(m(&format!("severity>{low}"), &entry), "{high} > {low}");
            assert!(!m(&format!("severity<={low}"), &entry), "{high} > {low}");
            let entry = json!({"severity": low});
            assert!(m(&format!("severity<{high}"), &entry), "{low} < {high}");
        }
        // The entry may carry the number.
        assert!(m("severity=ERROR", &json!({"severity": 500})));
        err_at("severity>=WARN", 10, "invalid severity");
        err_at("severity=(ERROR OR BOGUS)", 19, "invalid severity");
    }

    // ----- timestamps ------------------------------------------------------------------------

    #[test]
    fn timestamps_compare_as_instants() {
        let e = audit(); // 2026-11-20T10:00:00.123456789Z
        assert!(m("timestamp>=\"2026-11-20T00:00:00Z\"", &e));
        assert!(m("timestamp>=\"2026-11-20T10:00:00.123456789Z\"", &e));
        assert!(!m("timestamp>=\"2026-11-20T10:00:00.12345679Z\"", &e));
        assert!(m("timestamp=\"2026-11-20T10:00:00.123456789Z\"", &e));
        assert!(m("timestamp=\"2026-11-20T11:00:00.123456789+01:00\"", &e));
        assert!(m("timestamp=\"2026-11-20T11:00:00.123456789+0100\"", &e));
        assert!(m("timestamp>\"2026-11-20T10:00:00+0000\"", &e));
        assert!(m("timestamp>\"2026-11-20T10:00:00+00:00\"", &e));
        assert!(!m("timestamp<\"2026-11-20T11:00:00+01:00\"", &e));
        assert!(m("timestamp>\"2026-11-20T05:00:00-05:00\"", &e));
        assert!(m("timestamp<=\"2026-11-20T05:00:01-0500\"", &e));
        assert!(m("timestamp!=\"2026-11-20T10:00:00Z\"", &e));
        // Date-only values mean midnight UTC, quoted or not.
        assert!(m("timestamp>\"2026-11-20\"", &e));
        assert!(m("timestamp<\"2026-11-21\"", &e));
        assert!(m("timestamp>=2026-11-20 timestamp<2026-11-21", &e));
        assert!(m("receiveTimestamp>\"2026-11-20T10:00:00.5Z\"", &e));
        assert!(!m("receiveTimestamp>\"2026-11-20T10:00:01Z\"", &e));
        // The entry's own offset is honoured too.
        assert!(m("timestamp=\"2026-11-20T10:00:00Z\"", &app()));
        // Substring and regex work on the text.
        assert!(m("timestamp:\"2026-11-20\"", &e));
        assert!(m("timestamp=~\"^2026-\"", &e));
    }

    #[test]
    fn invalid_timestamps_are_errors() {
        err_at("timestamp>=\"yesterday\"", 11, "invalid timestamp");
        err_at(
            "timestamp>=\"2026-13-01T00:00:00Z\"",
            11,
            "invalid timestamp",
        );
        err_at(
            "timestamp>=\"2026-11-20T00:00:00\"",
            11,
            "invalid timestamp",
        );
        err_at("receiveTimestamp<2026", 17, "invalid timestamp");
        err_at(
            "timestamp=(\"2026-11-20\" OR \"x\")",
            27,
            "invalid timestamp",
        );
    }

    #[test]
    fn timestamp_parser_forms() {
        let want: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
        for s in [
            "2026-11-20T00:00:00Z",
            "2026-11-20T00:00:00z",
            "2026-11-20T00:00:00+00:00",
            "2026-11-20T00:00:00+0000",
            "2026-11-20T00:00:00.000000000Z",
            "2026-11-20T01:00:00+01:00",
            "2026-11-20T01:00:00+0100",
            "2026-11-19T19:00:00-0500",
            "2026-11-20",
        ] {
            assert_eq!(parse_timestamp(s), Some(want), "{s}");
        }
        for s in [
            "",
            "2026",
            "2026-11-20T00:00:00",
            "2026-11-20T00:00:00+000",
            "x+0000",
        ] {
            assert_eq!(parse_timestamp(s), None, "{s}");
        }
    }

    // ----- functions -------------------------------------------------------------------------

    #[test]
    fn log_id_function() {
        let e = audit();
        assert!(m("log_id(\"cloudaudit.googleapis.com/activity\")", &e));
        assert!(m("LOG_ID(\"cloudaudit.googleapis.com/activity\")", &e));
        assert!(m("log_id(\"cloudaudit.googleapis.com%2Factivity\")", &e));
        assert!(!m("log_id(\"cloudaudit.googleapis.com/data_access\")", &e));
        assert!(!m("log_id(\"activity\")", &e));
        assert!(m(
            "NOT log_id(\"cloudaudit.googleapis.com/data_access\")",
            &e
        ));
        let j = app();
        assert!(m("log_id(app)", &j));
        assert!(!m("log_id(pp)", &j));
        assert!(!m("log_id(app)", &json!({})));
        assert_eq!(
            url_encode("cloudaudit.googleapis.com/activity"),
            "cloudaudit.googleapis.com%2Factivity"
        );
        assert_eq!(url_encode("a b~c"), "a%20b~c");
    }

    #[test]
    fn source_function() {
        let e = audit();
        assert!(m("source(projects/p)", &e));
        assert!(m("source(\"projects/p\")", &e));
        assert!(!m("source(projects/q)", &e));
        assert!(!m(
            "source(projects/pp)",
            &json!({"logName": "projects/p/logs/x"})
        ));
        err_at("source(buckets/p)", 0, "invalid source");
    }

    #[test]
    fn sample_function() {
        let e = audit();
        assert!(m("sample(insertId, 1)", &e));
        assert!(m("sample(insertId, 1.0)", &e));
        assert!(!m("sample(jsonPayload.absent, 1)", &e));
        let f = parse("sample(insertId, 0.25)");
        let hits = (0..2000)
            .filter(|i| f.matches(&json!({"insertId": format!("id-{i}")})))
            .count();
        assert!((300..700).contains(&hits), "{hits}");
        // Deterministic.
        let again = (0..2000)
            .filter(|i| f.matches(&json!({"insertId": format!("id-{i}")})))
            .count();
        assert_eq!(hits, again);
        err_at("sample(insertId, 0)", 17, "fraction");
        err_at("sample(insertId, 1.5)", 17, "fraction");
        err_at("sample(insertId, x)", 17, "fraction");
        err_at("sample(insertId)", 0, "takes 2 argument");
    }

    #[test]
    fn ip_in_net_function() {
        let e = audit();
        assert!(m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"10.1.2.0/24\")",
            &e
        ));
        assert!(m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"10.0.0.0/8\")",
            &e
        ));
        assert!(m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"10.1.2.3\")",
            &e
        ));
        assert!(m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"0.0.0.0/0\")",
            &e
        ));
        assert!(!m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"10.1.3.0/24\")",
            &e
        ));
        assert!(!m("ip_in_net(jsonPayload.ip, \"10.0.0.0/8\")", &e));
        let v6 = json!({"jsonPayload": {"ip": ["not an ip", "2001:db8::1"]}});
        assert!(m("ip_in_net(jsonPayload.ip, \"2001:db8::/32\")", &v6));
        assert!(!m("ip_in_net(jsonPayload.ip, \"2001:db9::/32\")", &v6));
        assert!(!m("ip_in_net(jsonPayload.ip, \"10.0.0.0/8\")", &v6));
        err_at(
            "ip_in_net(jsonPayload.ip, \"10.0.0.0/33\")",
            26,
            "invalid IP",
        );
        err_at("ip_in_net(jsonPayload.ip, \"nope\")", 26, "invalid IP");
    }

    #[test]
    fn search_function() {
        let j = app();
        assert!(m("SEARCH(\"hello kitty\")", &j));
        assert!(m("SEARCH(\"Kitty HELLO\")", &j));
        assert!(m("search(\"hello\")", &j));
        assert!(!m("SEARCH(\"Kit\")", &j));
        assert!(m("SEARCH(\"`the cat`\")", &j));
        assert!(!m("SEARCH(\"`cat the`\")", &j));
        assert!(m("SEARCH(jsonPayload.message, \"cat hat\")", &j));
        assert!(!m("SEARCH(jsonPayload.message, \"cat gce\")", &j));
        assert!(m("SEARCH(\"cat gce\")", &j));
        err_at("SEARCH(hello)", 7, "string literal");
        err_at("SEARCH(\"`x\")", 7, "unbalanced");
        err_at("SEARCH(\"...\")", 7, "no searchable");
        err_at("SEARCH(a, b, c)", 0, "1 or 2");
    }

    #[test]
    fn unknown_and_unsupported_functions_are_errors() {
        err_at("foo(1)", 0, "unknown function 'foo'");
        err_at("severity=ERROR bar(\"x\")", 15, "unknown function");
        err_at("cast(timestamp, STRING)", 0, "not supported");
        err_at("regexp_extract(logName, \"(x)\")", 0, "not supported");
        err_at("log_id()", 0, "takes 1 argument");
        err_at("log_id(a, b)", 0, "takes 1 argument");
        err_at("log_id(\"a\"", 6, "unbalanced '('");
        err_at("log_id(\"a\" \"b\")", 11, "expected ',' or ')'");
        err_at("log_id(,)", 7, "unexpected ','");
        err_at(
            "resource.type=log_id(\"x\")",
            14,
            "functions are not supported",
        );
    }

    // ----- strings and escapes ---------------------------------------------------------------

    fn lexed(src: &str) -> String {
        match tokenize(src).unwrap().first().map(|t| t.tok.clone()) {
            Some(Tok::Str(s)) => s,
            other => panic!("{src:?} lexed as {other:?}"),
        }
    }

    #[test]
    fn string_escapes() {
        assert_eq!(lexed(r#""a\"b""#), "a\"b");
        assert_eq!(lexed(r#""back\\slash""#), "back\\slash");
        assert_eq!(lexed(r#""\n\t\r""#), "\n\t\r");
        assert_eq!(lexed(r#""it\'s""#), "it's");
        assert_eq!(lexed(r#""\u00e9""#), "é");
        assert_eq!(lexed(r#""\uD83D\uDE00""#), "😀");
        assert_eq!(lexed(r#""\U0001F600""#), "😀");
        assert_eq!(lexed(r#""\x41\101""#), "AA");
        assert_eq!(lexed(r#""\d+\.""#), "\\d+\\.");
        assert_eq!(lexed("\"multi\nline\""), "multi\nline");
        assert_eq!(lexed("\"héllo wörld\""), "héllo wörld");
        assert!(m(r#"textPayload = "say \"hi\"""#, &text("say \"hi\"")));
        assert!(m(r#"textPayload = "tab\there""#, &text("tab\there")));
        assert!(m(r#"textPayload : "\u00E9T\u00c9""#, &text("été")));
    }

    #[test]
    fn string_errors() {
        err_at("textPayload=\"abc", 12, "unterminated string");
        err_at("textPayload=\"abc\\", 12, "unterminated string");
        err_at("textPayload=\"abc\\\"", 12, "unterminated string");
        err_at("\"", 0, "unterminated string");
        err_at(r#"textPayload="\u12""#, 13, "invalid escape");
        err_at(r#"textPayload="\uZZZZ""#, 13, "invalid escape");
        err_at(r#"textPayload="\uD83D""#, 13, "invalid unicode escape");
        err_at(r#"textPayload="\uD83Dx""#, 13, "invalid unicode escape");
        err_at(r#"textPayload="\uDE00""#, 13, "invalid unicode escape");
        err_at(r#"textPayload="\U00110000""#, 13, "not a valid unicode");
    }

    // ----- syntax errors ---------------------------------------------------------------------

    #[test]
    fn length_limit() {
        let ok = "a".repeat(MAX_FILTER_CHARS);
        assert!(Filter::parse(&ok).is_ok());
        err_at(
            &"a".repeat(MAX_FILTER_CHARS + 1),
            MAX_FILTER_CHARS,
            "exceeds 20000",
        );
        // Counted in characters, reported in bytes.
        let wide = "é".repeat(MAX_FILTER_CHARS + 1);
        err_at(&wide, MAX_FILTER_CHARS * 2, "exceeds");
        assert!(Filter::parse(&"é".repeat(MAX_FILTER_CHARS)).is_ok());
    }

    #[test]
    fn unbalanced_parentheses() {
        err_at("(resource.type=x", 0, "unbalanced '('");
        err_at("((resource.type=x)", 0, "unbalanced '('");
        err_at("resource.type=x)", 15, "unbalanced ')'");
        err_at(")", 0, "expected an expression");
        err_at("()", 0, "empty parentheses");
        err_at("resource.type=()", 14, "empty parentheses");
        err_at("resource.type=(x", 14, "unbalanced '('");
        err_at("resource.type=(x OR y", 14, "unbalanced '('");
        err_at(
            "(severity=ERROR AND)",
            19,
            "expected an expression after AND",
        );
    }

    #[test]
    fn dangling_operators() {
        err_at("severity=ERROR AND", 18, "expected an expression after AND");
        err_at("severity=ERROR OR", 17, "expected an expression after OR");
        err_at(
            "severity=ERROR AND ",
            19,
            "expected an expression after AND",
        );
        err_at("NOT", 3, "expected an expression after NOT");
        err_at("severity=ERROR NOT", 18, "expected an expression after NOT");
        err_at("-", 1, "expected an expression after NOT");
        err_at("AND severity=ERROR", 0, "unexpected AND");
        err_at("OR severity=ERROR", 0, "unexpected OR");
        err_at("severity=ERROR AND OR severity=INFO", 19, "unexpected OR");
        err_at("resource.type=", 14, "expected a value after '='");
        err_at("resource.type:", 14, "expected a value after ':'");
        err_at("resource.type= AND x", 15, "expected a value");
        err_at("resource.type=NOT", 14, "expected a value");
        err_at("resource.type=(a OR)", 19, "expected a value");
        err_at("=x", 0, "without a field name");
        err_at("severity=ERROR =x", 15, "without a field name");
    }

    #[test]
    fn unknown_operators_and_stray_characters() {
        err_at(
            "resource.type==\"x\"",
            13,
            "unknown comparison operator '=='",
        );
        err_at(
            "resource.type<>\"x\"",
            13,
            "unknown comparison operator '<>'",
        );
        err_at(
            "resource.type=>\"x\"",
            13,
            "unknown comparison operator '=>'",
        );
        err_at("resource.type!\"x\"", 13, "unknown comparison operator '!'");
        err_at("resource.type~\"x\"", 13, "unknown comparison operator '~'");
        err_at("resource.type:=\"x\"", 13, "unknown comparison operator");
        err_at("resource.type=[x]", 14, "unexpected character '['");
        err_at("'x'", 0, "double quotes");
        err_at("a & b", 2, "unexpected character '&'");
        err_at(
            "severity=ERROR || severity=INFO",
            15,
            "unexpected character '|'",
        );
        err_at("\"é\" [", 5, "unexpected character '['");
        err_at("+x", 0, "unexpected character '+'");
        err_at("resource.type=\\x", 14, "unexpected character");
        err_at("resource.type=x,", 15, "unexpected ','");
        err_at("severity=ERROR .", 15, "unexpected '.'");
        err_at("resource.type=*", 14, "':*'");
        err_at("resource.type:(*)", 15, "':*'");
        err_at("*", 0, "unexpected '*'");
    }

    #[test]
    fn values_and_paths_that_need_quotes() {
        err_at(
            "protoPayload.serviceName=cloudkms.googleapis.com",
            25,
            "double-quoted",
        );
        err_at("labels.", 6, "expected a name after '.'");
        err_at("labels. env=x", 6, "expected a name after '.'");
        err_at("resource.labels", 15, "expected a comparison operator");
        assert!(m("jsonPayload.x=1.5", &json!({"jsonPayload": {"x": 1.5}})));
        assert!(m("unicorn-horn", &text("a unicorn-horn")));
    }

    #[test]
    fn undefined_fields_are_errors() {
        err_at("thud=1", 0, "undefined field 'thud'");
        err_at("operation.thud=1", 10, "undefined field 'operation.thud'");
        err_at("textPayload.thud=1", 12, "undefined field");
        err_at("labels.a.b=1", 9, "undefined field");
        err_at("logName.x=1", 8, "undefined field");
        err_at("resource.thud=1", 9, "undefined field");
        err_at("resource.labels.a.b=1", 18, "undefined field");
        err_at("sample(thud, 0.5)", 7, "undefined field");
        assert!(Filter::parse("httpRequest.remote_ip=\"1.2.3.4\"").is_ok());
        assert!(Filter::parse("sourceLocation.line>10").is_ok());
        assert!(Filter::parse("split.totalSplits>1").is_ok());
        assert!(Filter::parse("metadata.anything.goes:x").is_ok());
    }

    #[test]
    fn nesting_depth_is_bounded() {
        let nested = |n: usize| format!("{}severity=ERROR{}", "(".repeat(n), ")".repeat(n));
        assert!(m(&nested(MAX_DEPTH), &json!({"severity": "ERROR"})));
        err_at(&nested(MAX_DEPTH + 1), MAX_DEPTH, "nesting deeper than 64");
        let nots = |n: usize| format!("{}severity=ERROR", "NOT ".repeat(n));
        assert!(m(&nots(MAX_DEPTH), &json!({"severity": "ERROR"})));
        err_at(&nots(MAX_DEPTH + 1), MAX_DEPTH * 4, "nesting");
        err_at(
            &format!("{}severity=ERROR", "- ".repeat(MAX_DEPTH + 1)),
            MAX_DEPTH * 2,
            "nesting",
        );
        let values = |n: usize| format!("textPayload:{}x{}", "(".repeat(n), ")".repeat(n));
        assert!(m(&values(MAX_DEPTH), &text("x")));
        assert!(Filter::parse(&values(MAX_DEPTH + 1)).is_err());
        // Deep input far beyond the limit fails cleanly rather than overflowing the stack.
        assert!(Filter::parse(&"(".repeat(15_000)).is_err());
        assert!(Filter::parse(&"NOT ".repeat(4_000)).is_err());
        assert!(Filter::parse(&format!("textPayload:{}", "(".repeat(15_000))).is_err());
        // Long flat chains are not nesting.
        let flat = vec!["severity=ERROR"; 1000].join(" OR ");
        assert!(m(&flat, &json!({"severity": "ERROR"})));
    }

    #[test]
    fn error_display() {
        let e = err("(severity=ERROR");
        assert_eq!(e.to_string(), "unbalanced '(' at position 0");
        assert_eq!(
            e,
            FilterError {
                position: 0,
                message: "unbalanced '('".to_owned()
            }
        );
    }

    /// Random token soup must never panic, whether or not it parses.
    #[test]
    fn arbitrary_input_never_panics() {
        const PIECES: &[&str] = &[
            "(",
            ")",
            "\"",
            "\\",
            "\\u",
            "\\uD83D",
            "AND",
            "OR",
            "NOT",
            "-",
            "--",
            "=",
            "!=",
            ":",
            "<",
            ">=",
            "=~",
            "!~",
            "!",
            "~",
            "*",
            ".",
            ",",
            " ",
            "\n",
            "severity",
            "timestamp",
            "protoPayload",
            "labels",
            "jsonPayload",
            "resource",
            "\"x\"",
            "ERROR",
            "NOTICE",
            "\"2026-11-20T00:00:00Z\"",
            "\"2026-11-20T00:00:00+0000\"",
            "log_id",
            "SEARCH",
            "sample",
            "ip_in_net",
            "source",
            "é",
            "😀",
            "[",
            "1",
            "-1",
            "0.5",
            "1e999",
            "NULL_VALUE",
            "\"(?\"",
            "\"`\"",
            "@type",
            "\"@type\"",
            "x",
            "y",
        ];
        let entries = [
            audit(),
            app(),
            text("x y"),
            json!({}),
            json!(null),
            json!([1, [2]]),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let len = next() % 12;
            let filter: String = (0..len)
                .filter_map(|_| PIECES.get((next() % PIECES.len() as u64) as usize).copied())
                .collect();
            if let Ok(f) = Filter::parse(&filter) {
                parsed += 1;
                for e in &entries {
                    let _ = f.matches(e);
                }
            }
        }
        assert!(parsed > 100, "{parsed}");
    }

    #[test]
    fn every_prefix_of_a_real_filter_is_handled() {
        let filter = "logName=\"projects/p/logs/cloudaudit.googleapis.com%2Factivity\" AND \
                      (protoPayload.methodName=(\"CreateCryptoKey\" OR \"CreateKeyRing\") OR \
                      log_id(\"x/y\")) -- why\n timestamp>=\"2026-11-20T00:00:00+0000\" é \
                      NOT labels.\"a.b\":* severity>=\"NOTICE\" SEARCH(\"`a b`\") \"\\u00e9\\\"\"";
        assert!(!m(filter, &audit()), "the full filter parses");
        for (i, _) in filter.char_indices() {
            let prefix = filter.get(..i).unwrap();
            if let Ok(f) = Filter::parse(prefix) {
                let _ = f.matches(&audit());
            }
        }
    }

    // ----- real audit-log entries ------------------------------------------------------------

    fn realdata(path: &str) -> Json {
        let full = format!(
            "{}/../../shared/realdata/audit-logs/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
    }

    #[test]
    fn real_cloud_custodian_entries() {
        let create = realdata("cloud-custodian/kms-cryptokey-create.json");
        let keyring = realdata("cloud-custodian/kms-keyring-create.json");
        let version = realdata("cloud-custodian/kms-cryptokey-version-create.json");

        let brief = "logName=\"projects/p/logs/cloudaudit.googleapis.com%2Factivity\" AND \
                     protoPayload.serviceName=\"cloudkms.googleapis.com\" AND \
                     (protoPayload.methodName=\"CreateCryptoKey\" OR \
                     protoPayload.authenticationInfo.principalEmail=\"a@b.com\") AND \
                     timestamp>=\"2026-11-20T00:00:00Z\"";
        // Wrong project and a window after the 2019 event: no match.
        assert!(!m(brief, &create));

        let in_window = "logName=\"projects/cloud-custodian/logs/cloudaudit.googleapis.com%2Factivity\" AND \
                         protoPayload.serviceName=\"cloudkms.googleapis.com\" AND \
                         (protoPayload.methodName=\"CreateCryptoKey\" OR \
                         protoPayload.authenticationInfo.principalEmail=\"a@b.com\") AND \
                         timestamp>=\"2019-04-22T00:00:00Z\" AND timestamp<\"2019-04-23T00:00:00+0000\"";
        assert!(m(in_window, &create));
        assert!(
            !m(in_window, &keyring),
            "CreateKeyRing is not CreateCryptoKey"
        );
        assert!(!m(in_window, &version), "different method and day");

        // The principal branch of the OR alone selects all three.
        let by_principal = "protoPayload.serviceName=\"cloudkms.googleapis.com\" AND \
                            (protoPayload.methodName=\"NoSuchMethod\" OR \
                            protoPayload.authenticationInfo.principalEmail=\"alex.karpitski@gmail.com\")";
        for e in [&create, &keyring, &version] {
            assert!(m(by_principal, e));
            assert!(m("log_id(\"cloudaudit.googleapis.com/activity\")", e));
            assert!(m("resource.labels.project_id=\"cloud-custodian\"", e));
            assert!(m(
                "protoPayload.\"@type\"=\"type.googleapis.com/google.cloud.audit.AuditLog\"",
                e
            ));
            assert!(m("severity>=NOTICE AND severity<WARNING", e));
            assert!(m("resource.type=~\"^cloudkms_\"", e));
        }

        let create_perm =
            "protoPayload.authorizationInfo.permission=\"cloudkms.cryptoKeys.create\"";
        assert!(m(create_perm, &create));
        assert!(!m(create_perm, &keyring));
        assert!(m(
            "protoPayload.request.cryptoKey.purpose=ENCRYPT_DECRYPT",
            &create
        ));
        assert!(m(
            "protoPayload.resourceLocation.currentLocations=\"us-central1\"",
            &create
        ));
        assert!(m(
            "protoPayload.methodName=(\"CreateCryptoKey\" OR \"CreateKeyRing\" OR \"CreateCryptoKeyVersion\")",
            &version
        ));
        assert!(m("\"alex.karpitski\"", &create));
        assert!(m("SEARCH(\"karpitski\")", &create));
    }

    /// The shapes `src/logfilter.rs` of kms-responder sends, verbatim.
    #[test]
    fn kms_responder_filters() {
        let key = "projects/p1/locations/us/keyRings/r/cryptoKeys/k";
        let usage = format!(
            "logName=\"projects/p1/logs/cloudaudit.googleapis.com%2Fdata_access\" AND \
             (protoPayload.resourceName=\"{key}\" OR \
             protoPayload.resourceName:\"{key}/cryptoKeyVersions/\") AND \
             timestamp>=\"2026-11-20T00:00:00.5Z\""
        );
        let entry = |resource: &str, at: &str| {
            json!({
                "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Fdata_access",
                "timestamp": at,
                "protoPayload": {"serviceName": "cloudkms.googleapis.com", "resourceName": resource}
            })
        };
        let f = parse(&usage);
        assert!(f.matches(&entry(key, "2026-11-20T00:00:01Z")));
        assert!(f.matches(&entry(
            &format!("{key}/cryptoKeyVersions/3"),
            "2026-11-21T00:00:00Z"
        )));
        assert!(!f.matches(&entry(&format!("{key}-backup"), "2026-11-21T00:00:00Z")));
        assert!(!f.matches(&entry(key, "2026-11-20T00:00:00.4Z")));
        let admin = "logName=\"projects/p1/logs/cloudaudit.googleapis.com%2Factivity\" AND \
                     protoPayload.serviceName=\"cloudkms.googleapis.com\" AND \
                     timestamp>=\"2026-11-20T00:00:00Z\"";
        let mut e = entry(key, "2026-11-20T00:00:00Z");
        if let Some(name) = e.get_mut("logName") {
            *name = json!("projects/p1/logs/cloudaudit.googleapis.com%2Factivity");
        }
        assert!(m(admin, &e));
        // Control characters reach the filter as \u escapes.
        assert!(m(r#"textPayload="\u001b[31m""#, &text("\u{1b}[31m")));
    }

    #[test]
    fn real_plaso_entry_with_delegation_chain() {
        let e = realdata("plaso/split/line-10.json");
        assert!(m(
            "protoPayload.authenticationInfo.serviceAccountDelegationInfo.firstPartyPrincipal.principalEmail=\"service-account-two@fake-project.com\"",
            &e
        ));
        assert!(!m(
            "protoPayload.authenticationInfo.serviceAccountDelegationInfo.firstPartyPrincipal.principalEmail=\"service-account-three@fake-project.com\"",
            &e
        ));
        assert!(m("labels.\"compute.googleapis.com/root_trigger_id\":*", &e));
        assert!(m("operation.first=true AND operation.last=false", &e));
        assert!(m("operation.producer=\"compute.googleapis.com\"", &e));
        assert!(m(
            "ip_in_net(protoPayload.requestMetadata.callerIp, \"1.1.1.0/24\")",
            &e
        ));
        assert!(m(
            "protoPayload.authorizationInfo.permission=\"compute.disks.create\"",
            &e
        ));
        assert!(m(
            "timestamp>=\"2024-04-26T20:10:10Z\" AND timestamp<\"2024-04-26T20:10:10.1Z\"",
            &e
        ));
        assert!(m(
            "source(projects/fake-project) log_id(\"cloudaudit.googleapis.com/activity\")",
            &e
        ));

        let json_payload = realdata("plaso/split/line-08.json");
        assert!(m("jsonPayload.actor.user:\"fakeemailxyz\"", &json_payload));
        assert!(m("jsonPayload.event_subtype=test_subtype", &json_payload));
        assert!(!m("jsonPayload.eventSubtype=test_subtype", &json_payload));
        let text_payload = realdata("plaso/split/line-09.json");
        assert!(m(
            "textPayload:\"TEXT payload\" log_id(testlog)",
            &text_payload
        ));
        assert!(m("severity=DEFAULT", &text_payload));
    }
}
