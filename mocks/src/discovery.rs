//! Validation of JSON values against the schemas of Google's API discovery documents.
//!
//! The mock has to answer exactly like Google, and Google's discovery documents are the
//! published schema of those answers. This module compiles the three documents the mock
//! serves (vendored verbatim in `mocks/discovery/`, see its README) into the binary and checks
//! JSON values (scenario files, and the answers built from them) against a named schema, so a
//! typo such as `"purpose": "ENCRYPT"` or `"rotationPeriod": "90d"` is reported at load time
//! with its JSON path instead of surfacing as a confusing client-side decode error later.
//!
//! Everything is read from the document: field names (`properties`), JSON types (`type`),
//! `$ref`, `items`, `additionalProperties` (maps), `enum` and `format`. The rules follow the
//! proto3 JSON mapping that Google's REST front end (ESF) implements:
//!
//! * unknown field names are violations (Google never sends fields outside its schema);
//! * `null` is a violation wherever the schema names a type, because Google omits unset fields
//!   instead of sending `null`. Inside values whose schema is `any` (`google.protobuf.Value`
//!   and `Struct` contents such as `jsonPayload`) `null` is a legitimate value and is accepted;
//! * enums must be one of the names in `enum` (Google answers with names, never numbers);
//! * formats: `int64`/`uint64`/`int32`/`uint32` must be integers in range, `double`/`float`
//!   numbers, `google-datetime` RFC 3339, `google-duration` like `"7776000s"`, `byte` base64
//!   (standard or URL-safe, padding optional), `google-fieldmask` comma-separated field paths;
//! * `google.protobuf.Any` values (objects whose `additionalProperties` is `any` and documented
//!   as containing `@type`, e.g. `LogEntry.protoPayload`, `Status.details[]`,
//!   `Location.metadata`) must carry a string `@type` type URL. If the named message is a
//!   schema of the same document (e.g. `google.cloud.kms.v1.LocationMetadata`) the rest of the
//!   object is checked against it; otherwise (notably `google.cloud.audit.AuditLog`, which no
//!   discovery document describes) the contents are accepted as they are, except that their
//!   top-level members must not be `null`.
//!
//! Two [`Mode`]s exist because Google's clients accept more than Google sends:
//! [`Mode::Lenient`] accepts everything a proto3 JSON parser accepts (64-bit integers as JSON
//! numbers, 32-bit integers and floats as strings); [`Mode::Strict`] additionally requires the
//! exact JSON type Google emits (64-bit integers quoted, 32-bit integers and floats as numbers).
//! Use strict mode for the mock's own answers.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::LazyLock;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

/// Deepest value nesting that is validated. The protobuf runtimes (Go `protojson`, Java
/// `JsonFormat`, C++) stop parsing at 100 levels, so a deeper answer could not be decoded by a
/// real client anyway; the limit also bounds our own recursion for recursive schemas
/// (`Status`, `FilterPredicate`, ...) by the size of the value rather than of the schema.
const MAX_DEPTH: usize = 100;

/// Largest magnitude of a `google.protobuf.Duration`, in seconds (10,000 years).
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;

/// The audit-log payload type. It is packed into `LogEntry.protoPayload` but described by no
/// discovery document, so its contents are never checked beyond the generic `Any` rules.
const AUDIT_LOG_TYPE: &str = "google.cloud.audit.AuditLog";

/// Base64 decoders for `format: "byte"`: proto3 JSON parsers accept both alphabets, with or
/// without padding.
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A Google API whose discovery document is embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Cloud KMS v1 (`cloudkms.v1.json`).
    CloudKms,
    /// Cloud Logging v2 (`logging.v2.json`).
    Logging,
    /// KMS Inventory v1 (`kmsinventory.v1.json`).
    KmsInventory,
}

impl Api {
    /// Every embedded API.
    pub const ALL: [Api; 3] = [Api::CloudKms, Api::Logging, Api::KmsInventory];

    /// File name of the document in `mocks/discovery/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Api::CloudKms => "cloudkms.v1.json",
            Api::Logging => "logging.v2.json",
            Api::KmsInventory => "kmsinventory.v1.json",
        }
    }

    /// The embedded document, byte for byte as Google published it (the mock can also serve
    /// it as a discovery endpoint).
    pub fn document_text(self) -> &'static str {
        match self {
            Api::CloudKms => include_str!("../discovery/cloudkms.v1.json"),
            Api::Logging => include_str!("../discovery/logging.v2.json"),
            Api::KmsInventory => include_str!("../discovery/kmsinventory.v1.json"),
        }
    }
}

/// How closely a value must match what Google itself sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Accept whatever Google's clients (proto3 JSON parsers) accept: 64-bit integers as JSON
    /// numbers or strings, 32-bit integers and floats as numbers or decimal strings.
    #[default]
    Lenient,
    /// Require the JSON type Google emits: `int64`/`uint64` as strings, `int32`/`uint32` as
    /// integer numbers, `double`/`float` as numbers (or `"NaN"`, `"Infinity"`, `"-Infinity"`).
    Strict,
}

/// One way in which a value does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path of the offending value, e.g. `cryptoKeys[2].purpose`; map keys that are not
    /// identifiers are quoted, e.g. `labels["cloud.googleapis.com/region"]`. Empty for the
    /// root when no prefix was given.
    pub path: String,
    /// What is wrong, e.g. `unknown enum value "ENCRYPT" (expected one of ...)`.
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for Violation {}

/// Why a discovery document could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The text is not JSON.
    #[error("discovery document is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The document has no `schemas` object.
    #[error("discovery document has no \"schemas\" object")]
    NoSchemas,
    /// A schema is malformed (unknown type, dangling `$ref`, ...).
    #[error("discovery schema {at}: {problem}")]
    BadSchema {
        /// Where in `schemas`, e.g. `CryptoKey.properties.primary`.
        at: String,
        /// What is wrong.
        problem: String,
    },
}

fn bad_schema(at: &str, problem: impl Into<String>) -> DiscoveryError {
    DiscoveryError::BadSchema {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

/// The parsed schemas of one discovery document.
#[derive(Debug)]
pub struct Discovery {
    schemas: HashMap<String, Node>,
}

/// A schema, compiled from its discovery JSON.
#[derive(Debug)]
enum Node {
    /// `{"$ref": "Name"}`.
    Ref(String),
    /// `{"type": "any"}`: any JSON value (a `google.protobuf.Value`).
    Any,
    Scalar(Scalar),
    /// `{"type": "array", "items": ...}`.
    Array(Box<Node>),
    Object(Object),
}

#[derive(Debug)]
struct Scalar {
    ty: ScalarType,
    format: Format,
    /// Allowed names for enum fields.
    enum_values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarType {
    String,
    Integer,
    Number,
    Boolean,
}

#[derive(Debug)]
struct Object {
    properties: HashMap<String, Node>,
    /// Schema of the values of a map (`labels`, `jsonPayload`, ...).
    additional: Option<Box<Node>>,
    /// A `google.protobuf.Any`: must carry `@type`. Discovery documents render Any exactly
    /// like Struct (an object whose values are `any`); the only difference the document records
    /// is the value description "Contains field @type with type URL.", so that is what marks it.
    packed_any: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    None,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Double,
    Float,
    Byte,
    DateTime,
    Duration,
    FieldMask,
    /// A format this module does not know; not checked, so newer documents still load.
    Other,
}

impl Format {
    fn parse(name: &str) -> Format {
        match name {
            "int32" => Format::Int32,
            "uint32" => Format::Uint32,
            "int64" => Format::Int64,
            "uint64" => Format::Uint64,
            "double" => Format::Double,
            "float" => Format::Float,
            "byte" => Format::Byte,
            "google-datetime" => Format::DateTime,
            "google-duration" => Format::Duration,
            "google-fieldmask" => Format::FieldMask,
            _ => Format::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Int32 => "int32",
            Format::Uint32 => "uint32",
            Format::Int64 => "int64",
            Format::Uint64 => "uint64",
            Format::Double => "double",
            Format::Float => "float",
            Format::Byte => "byte",
            Format::DateTime => "google-datetime",
            Format::Duration => "google-duration",
            Format::FieldMask => "google-fieldmask",
            Format::None | Format::Other => "",
        }
    }

    /// Inclusive range of an integer format; integers without a format are held to int64.
    fn integer_range(self) -> Option<(i128, i128)> {
        match self {
            Format::Int32 => Some((i32::MIN.into(), i32::MAX.into())),
            Format::Uint32 => Some((0, u32::MAX.into())),
            Format::Int64 => Some((i64::MIN.into(), i64::MAX.into())),
            Format::Uint64 => Some((0, u64::MAX.into())),
            _ => None,
        }
    }
}

static CLOUD_KMS: LazyLock<Discovery> = LazyLock::new(|| load_embedded(Api::CloudKms));
static LOGGING: LazyLock<Discovery> = LazyLock::new(|| load_embedded(Api::Logging));
static KMS_INVENTORY: LazyLock<Discovery> = LazyLock::new(|| load_embedded(Api::KmsInventory));

fn load_embedded(api: Api) -> Discovery {
    match Discovery::from_json(api.document_text()) {
        Ok(doc) => doc,
        // The text is compiled in and parsed by the unit tests, so this is a build defect,
        // not an input error; there is nothing sensible to validate against without it.
        Err(err) => panic!(
            "embedded discovery document {} is invalid: {err}",
            api.file_name()
        ),
    }
}

impl Discovery {
    /// The embedded document of `api`, parsed on first use and shared afterwards.
    pub fn embedded(api: Api) -> &'static Discovery {
        match api {
            Api::CloudKms => &CLOUD_KMS,
            Api::Logging => &LOGGING,
            Api::KmsInventory => &KMS_INVENTORY,
        }
    }

    /// Parses the `schemas` of a discovery document. Every `$ref` must name a schema of the
    /// same document, so validation can never meet a dangling reference.
    pub fn from_json(text: &str) -> Result<Discovery, DiscoveryError> {
        let doc: Value = serde_json::from_str(text)?;
        let raw = doc
            .get("schemas")
            .and_then(Value::as_object)
            .ok_or(DiscoveryError::NoSchemas)?;
        let mut schemas = HashMap::with_capacity(raw.len());
        for (name, schema) in raw {
            schemas.insert(name.clone(), parse_node(schema, name)?);
        }
        let discovery = Discovery { schemas };
        discovery.check_references()?;
        Ok(discovery)
    }

    /// Whether `name` is a schema of this document (see [`Discovery::validate`] for names).
    pub fn has_schema(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// Checks `value` against schema `schema` (e.g. "CryptoKey", "CryptoKeyVersion",
    /// "KeyRing", "Policy", "LogEntry", "ListLogEntriesResponse", "ProtectedResource",
    /// "SearchProtectedResourcesResponse", "ListCryptoKeysResponse", "Status") in
    /// [`Mode::Lenient`], i.e. accepting everything Google's clients accept.
    ///
    /// `path` is the JSON path prefix used in messages, e.g. "cryptoKeys[2]". A schema name
    /// is either exact or, for documents that prefix their schemas with the proto package
    /// (KMS Inventory's `GoogleCloudKmsInventoryV1ProtectedResource`), the unprefixed message
    /// name when exactly one schema matches. An unknown schema is reported as a violation.
    /// Returns no violations when the value matches.
    pub fn validate(&self, schema: &str, value: &Value, path: &str) -> Vec<Violation> {
        self.validate_in(Mode::Lenient, schema, value, path)
    }

    /// Like [`Discovery::validate`] in [`Mode::Strict`]: the value must also use the JSON
    /// types Google itself emits (quoted 64-bit integers and so on). Use it for the mock's
    /// answers.
    pub fn validate_strict(&self, schema: &str, value: &Value, path: &str) -> Vec<Violation> {
        self.validate_in(Mode::Strict, schema, value, path)
    }

    /// Like [`Discovery::validate`] with an explicit [`Mode`].
    pub fn validate_in(
        &self,
        mode: Mode,
        schema: &str,
        value: &Value,
        path: &str,
    ) -> Vec<Violation> {
        let mut checker = Checker {
            doc: self,
            mode,
            violations: Vec::new(),
        };
        match self.lookup(schema) {
            Some((name, node)) => {
                let mut path = path.to_owned();
                checker.check(node, name, value, &mut path, 0);
            }
            None => checker.report(path, format!("unknown schema {schema:?}")),
        }
        checker.violations
    }

    /// Finds a schema by exact name, else by its name without a proto-package prefix.
    fn lookup(&self, name: &str) -> Option<(&str, &Node)> {
        if let Some((key, node)) = self.schemas.get_key_value(name) {
            return Some((key, node));
        }
        if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return None;
        }
        let mut found = None;
        for (key, node) in &self.schemas {
            if let Some(prefix) = key.strip_suffix(name)
                && is_package_prefix(prefix)
            {
                if found.is_some() {
                    // Ambiguous: refuse rather than validate against the wrong message.
                    return None;
                }
                found = Some((key.as_str(), node));
            }
        }
        found
    }

    /// The schema of a message packed into an `Any`, by its full proto name (e.g.
    /// `google.cloud.kms.v1.LocationMetadata`): first as the package-prefixed schema name
    /// (`GoogleCloudKmsV1LocationMetadata`), then by the bare message name.
    fn packed_schema(&self, full_name: &str) -> Option<(&str, &Node)> {
        let prefixed: String = full_name.split('.').map(capitalize).collect();
        let simple = full_name.rsplit('.').next().unwrap_or(full_name);
        [prefixed.as_str(), simple]
            .into_iter()
            .find_map(|name| self.schemas.get_key_value(name))
            .map(|(key, node)| (key.as_str(), node))
    }

    /// Follows `$ref`s to a concrete schema; returns it with the name of the last schema
    /// entered (for messages), or the dangling name.
    fn resolve<'a>(
        &'a self,
        mut node: &'a Node,
        mut name: &'a str,
    ) -> Result<(&'a Node, &'a str), &'a str> {
        // A chain longer than the number of schemas is a cycle; `from_json` rejects those, the
        // bound only guarantees termination.
        for _ in 0..=self.schemas.len() {
            let Node::Ref(target) = node else {
                return Ok((node, name));
            };
            let (key, next) = self
                .schemas
                .get_key_value(target.as_str())
                .ok_or(target.as_str())?;
            node = next;
            name = key;
        }
        Err(name)
    }

    fn check_references(&self) -> Result<(), DiscoveryError> {
        fn walk(doc: &Discovery, node: &Node, at: &str) -> Result<(), DiscoveryError> {
            match node {
                Node::Ref(target) if !doc.schemas.contains_key(target) => Err(bad_schema(
                    at,
                    format!("$ref {target:?} names no schema of this document"),
                )),
                Node::Array(items) => walk(doc, items, &format!("{at}.items")),
                Node::Object(object) => {
                    for (name, property) in &object.properties {
                        walk(doc, property, &format!("{at}.properties.{name}"))?;
                    }
                    match &object.additional {
                        Some(additional) => {
                            walk(doc, additional, &format!("{at}.additionalProperties"))
                        }
                        None => Ok(()),
                    }
                }
                Node::Ref(_) | Node::Any | Node::Scalar(_) => Ok(()),
            }
        }
        for (name, node) in &self.schemas {
            walk(self, node, name)?;
            if self.resolve(node, name).is_err() {
                return Err(bad_schema(name, "$ref cycle"));
            }
        }
        Ok(())
    }
}

fn parse_node(raw: &Value, at: &str) -> Result<Node, DiscoveryError> {
    let Some(schema) = raw.as_object() else {
        return Err(bad_schema(at, "schema is not a JSON object"));
    };
    if let Some(target) = schema.get("$ref") {
        return match target.as_str() {
            Some(target) => Ok(Node::Ref(target.to_owned())),
            None => Err(bad_schema(at, "$ref is not a string")),
        };
    }
    let Some(ty) = schema.get("type").and_then(Value::as_str) else {
        return Err(bad_schema(at, "neither \"type\" nor \"$ref\""));
    };
    let format = schema
        .get("format")
        .and_then(Value::as_str)
        .map_or(Format::None, Format::parse);
    let enum_values = match schema.get("enum") {
        None => None,
        Some(Value::Array(values)) => Some(
            values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad_schema(at, "enum value is not a string"))?,
        ),
        Some(_) => return Err(bad_schema(at, "enum is not an array")),
    };
    let scalar = |ty| {
        Node::Scalar(Scalar {
            ty,
            format,
            enum_values: enum_values.clone(),
        })
    };
    Ok(match ty {
        "any" => Node::Any,
        "string" => scalar(ScalarType::String),
        "integer" => scalar(ScalarType::Integer),
        "number" => scalar(ScalarType::Number),
        "boolean" => scalar(ScalarType::Boolean),
        // An array without `items` constrains nothing about its elements.
        "array" => Node::Array(Box::new(match schema.get("items") {
            Some(items) => parse_node(items, &format!("{at}.items"))?,
            None => Node::Any,
        })),
        "object" => {
            let mut properties = HashMap::new();
            match schema.get("properties") {
                None => {}
                Some(Value::Object(raw)) => {
                    for (name, property) in raw {
                        let node = parse_node(property, &format!("{at}.properties.{name}"))?;
                        properties.insert(name.clone(), node);
                    }
                }
                Some(_) => return Err(bad_schema(at, "properties is not an object")),
            }
            let raw_additional = schema.get("additionalProperties");
            let additional = match raw_additional {
                None | Some(Value::Bool(false)) => None,
                // JSON Schema's `true`; discovery documents spell it `{"type": "any"}`.
                Some(Value::Bool(true)) => Some(Box::new(Node::Any)),
                Some(raw) => Some(Box::new(parse_node(
                    raw,
                    &format!("{at}.additionalProperties"),
                )?)),
            };
            let packed_any = properties.is_empty()
                && matches!(additional.as_deref(), Some(Node::Any))
                && raw_additional
                    .and_then(|a| a.get("description"))
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.contains("@type"));
            Node::Object(Object {
                properties,
                additional,
                packed_any,
            })
        }
        other => return Err(bad_schema(at, format!("unknown type {other:?}"))),
    })
}

/// Walks a value and collects violations.
struct Checker<'a> {
    doc: &'a Discovery,
    mode: Mode,
    violations: Vec<Violation>,
}

impl Checker<'_> {
    fn report(&mut self, path: &str, problem: impl Into<String>) {
        self.violations.push(Violation {
            path: path.to_owned(),
            problem: problem.into(),
        });
    }

    /// `schema` is the name of the innermost named schema, for messages.
    fn check(&mut self, node: &Node, schema: &str, value: &Value, path: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            self.report(
                path,
                format!("nested deeper than {MAX_DEPTH} levels (protobuf parsers reject this)"),
            );
            return;
        }
        let (node, schema) = match self.doc.resolve(node, schema) {
            Ok(resolved) => resolved,
            Err(name) => {
                self.report(path, format!("schema {name:?} cannot be resolved"));
                return;
            }
        };
        match (node, value) {
            // `google.protobuf.Value`: any JSON, including null (`NullValue`).
            (Node::Any, _) => {}
            (_, Value::Null) => self.report(
                path,
                "null is not allowed (Google omits unset fields instead of sending null)",
            ),
            (Node::Array(items), Value::Array(elements)) => {
                for (index, element) in elements.iter().enumerate() {
                    let len = path.len();
                    // Writing to a String cannot fail.
                    let _ = write!(path, "[{index}]");
                    self.check(items, schema, element, path, depth + 1);
                    path.truncate(len);
                }
            }
            (Node::Object(object), Value::Object(members)) if object.packed_any => {
                self.check_any(members, path, depth);
            }
            (Node::Object(object), Value::Object(members)) => {
                self.check_members(object, schema, members.iter(), path, depth);
            }
            (Node::Scalar(scalar), _) => self.check_scalar(scalar, value, path),
            (Node::Array(_), _) => {
                self.report(path, format!("expected array, got {}", describe(value)))
            }
            (Node::Object(_), _) => {
                self.report(path, format!("expected object, got {}", describe(value)));
            }
            // `resolve` never returns a reference.
            (Node::Ref(_), _) => {}
        }
    }

    fn check_members<'v>(
        &mut self,
        object: &Object,
        schema: &str,
        members: impl Iterator<Item = (&'v String, &'v Value)>,
        path: &mut String,
        depth: usize,
    ) {
        for (key, value) in members {
            let len = path.len();
            push_key(path, key);
            if let Some(property) = object.properties.get(key) {
                self.check(property, schema, value, path, depth + 1);
            } else if let Some(additional) = &object.additional {
                self.check(additional, schema, value, path, depth + 1);
            } else {
                self.report(path, format!("unknown field (not a property of {schema})"));
            }
            path.truncate(len);
        }
    }

    /// A `google.protobuf.Any`: `{"@type": "type.googleapis.com/<message>", <fields>...}`.
    fn check_any(
        &mut self,
        members: &serde_json::Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        const TYPE_KEY: &str = "@type";
        let mut packed = None;
        match members.get(TYPE_KEY) {
            None => self.report(
                path,
                "missing \"@type\" (a google.protobuf.Any must name the type of its contents)",
            ),
            Some(Value::String(url)) => match url.rsplit_once('/') {
                Some((_, message)) if !message.is_empty() => packed = Some(message),
                _ => {
                    let len = path.len();
                    push_key(path, TYPE_KEY);
                    self.report(
                        path,
                        format!("not a type URL like \"type.googleapis.com/google.rpc.ErrorInfo\": {url:?}"),
                    );
                    path.truncate(len);
                }
            },
            Some(other) => {
                let len = path.len();
                push_key(path, TYPE_KEY);
                self.report(path, format!("expected string, got {}", describe(other)));
                path.truncate(len);
            }
        }
        let fields = members.iter().filter(|(key, _)| key.as_str() != TYPE_KEY);
        // Deep-check messages this document describes; AuditLog is described by none (and is
        // excluded explicitly so a same-named schema could never be mistaken for it).
        if let Some(message) = packed
            && message != AUDIT_LOG_TYPE
            && let Some((name, node)) = self.doc.packed_schema(message)
            && let Ok((Node::Object(object), name)) = self.doc.resolve(node, name)
        {
            self.check_members(object, name, fields, path, depth);
            return;
        }
        // Opaque contents: its top-level members are fields of a proto message, which Google
        // omits rather than nulls; deeper values may be Struct contents, where null is valid.
        for (key, value) in fields {
            if value.is_null() {
                let len = path.len();
                push_key(path, key);
                self.report(
                    path,
                    "null is not allowed (Google omits unset fields instead of sending null)",
                );
                path.truncate(len);
            }
        }
    }

    fn check_scalar(&mut self, scalar: &Scalar, value: &Value, path: &str) {
        let strict = self.mode == Mode::Strict;
        match (scalar.ty, value) {
            (ScalarType::Boolean, Value::Bool(_)) => {}
            (ScalarType::String, Value::String(text)) => {
                self.check_string_format(scalar.format, text, path);
                if let Some(allowed) = &scalar.enum_values
                    && !allowed.iter().any(|name| name == text)
                {
                    self.report(
                        path,
                        format!(
                            "unknown enum value {text:?} (expected one of {})",
                            allowed.join(", ")
                        ),
                    );
                }
            }
            // 64-bit integers are typed "string" in discovery: proto3 JSON quotes them because
            // JavaScript numbers lose precision above 2^53. Parsers accept numbers too.
            (ScalarType::String, Value::Number(number))
                if scalar.format.integer_range().is_some() =>
            {
                if strict {
                    self.report(
                        path,
                        format!(
                            "{} must be a JSON string such as \"{number}\" (Google quotes 64-bit integers), got number {number}",
                            scalar.format.name()
                        ),
                    );
                } else {
                    self.check_integer_number(scalar.format, number, path);
                }
            }
            (ScalarType::Integer, Value::Number(number)) => {
                if strict && number.as_i64().is_none() && number.as_u64().is_none() {
                    self.report(
                        path,
                        format!("expected an integer literal, got number {number}"),
                    );
                } else {
                    self.check_integer_number(scalar.format, number, path);
                }
            }
            (ScalarType::Integer, Value::String(text)) => {
                if strict {
                    self.report(
                        path,
                        format!(
                            "{} must be a JSON number, got string {text:?}",
                            integer_name(scalar.format)
                        ),
                    );
                } else {
                    self.check_integer_string(scalar.format, text, path);
                }
            }
            (ScalarType::Number, Value::Number(_)) => {}
            (ScalarType::Number, Value::String(text)) => {
                // Non-finite values can only be written as these strings, also by Google.
                let special = matches!(text.as_str(), "NaN" | "Infinity" | "-Infinity");
                if strict && !special {
                    self.report(path, format!("expected a JSON number, got string {text:?}"));
                } else if !special && !is_decimal_number(text) {
                    self.report(path, format!("not a number: {text:?}"));
                }
            }
            (ty, _) => {
                let expected = match (ty, scalar.format) {
                    (ScalarType::String, Format::None | Format::Other) => "string".to_owned(),
                    (ScalarType::String, format) => format!("string ({})", format.name()),
                    (ScalarType::Integer, format) => format!("integer ({})", integer_name(format)),
                    (ScalarType::Number, _) => "number".to_owned(),
                    (ScalarType::Boolean, _) => "boolean".to_owned(),
                };
                self.report(
                    path,
                    format!("expected {expected}, got {}", describe(value)),
                );
            }
        }
    }

    fn check_string_format(&mut self, format: Format, text: &str, path: &str) {
        match format {
            Format::Int32 | Format::Uint32 | Format::Int64 | Format::Uint64 => {
                self.check_integer_string(format, text, path);
            }
            Format::Double | Format::Float => {
                if !matches!(text, "NaN" | "Infinity" | "-Infinity") && !is_decimal_number(text) {
                    self.report(path, format!("not a number: {text:?}"));
                }
            }
            Format::Byte => {
                if BASE64_STANDARD.decode(text).is_err() && BASE64_URL_SAFE.decode(text).is_err() {
                    self.report(
                        path,
                        format!("not valid base64 (format byte): {}", quote(text)),
                    );
                }
            }
            Format::DateTime => {
                if let Err(why) = check_timestamp(text) {
                    self.report(
                        path,
                        format!(
                            "not an RFC 3339 timestamp like \"2019-04-22T14:38:20.559717266Z\" ({why}): {}",
                            quote(text)
                        ),
                    );
                }
            }
            Format::Duration => {
                if let Err(why) = check_duration(text) {
                    self.report(
                        path,
                        format!(
                            "not a duration like \"7776000s\" or \"0.5s\" ({why}): {}",
                            quote(text)
                        ),
                    );
                }
            }
            Format::FieldMask => {
                if let Some(bad) = text
                    .split(',')
                    .find(|field| !field.split('.').all(is_identifier))
                    .filter(|_| !text.is_empty())
                {
                    self.report(
                        path,
                        format!("not a field mask (comma-separated field paths): bad path {bad:?}"),
                    );
                }
            }
            Format::None | Format::Other => {}
        }
    }

    fn check_integer_number(&mut self, format: Format, number: &serde_json::Number, path: &str) {
        let integral = if let Some(n) = number.as_i64() {
            Some(i128::from(n))
        } else if let Some(n) = number.as_u64() {
            Some(i128::from(n))
        } else {
            // Parsers accept floats with an integral value such as 5.0 or 1e3.
            number
                .as_f64()
                .filter(|f| f.is_finite() && f.fract() == 0.0)
                // Saturating cast: out-of-range values still fail the range check below.
                .map(|f| f as i128)
        };
        match integral {
            Some(n) => self.check_integer_range(format, n, &number.to_string(), path),
            None => self.report(path, format!("not an integer: {number}")),
        }
    }

    fn check_integer_string(&mut self, format: Format, text: &str, path: &str) {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            self.report(
                path,
                format!("not a decimal {}: {}", integer_name(format), quote(text)),
            );
            return;
        }
        match text.parse::<i128>() {
            Ok(n) => self.check_integer_range(format, n, text, path),
            Err(_) => self.report(
                path,
                format!("{} out of range: {}", integer_name(format), quote(text)),
            ),
        }
    }

    fn check_integer_range(&mut self, format: Format, n: i128, shown: &str, path: &str) {
        let (min, max) = format
            .integer_range()
            .unwrap_or((i64::MIN.into(), i64::MAX.into()));
        if n < min || n > max {
            self.report(
                path,
                format!(
                    "{} out of range [{min}, {max}]: {shown}",
                    integer_name(format)
                ),
            );
        }
    }
}

fn integer_name(format: Format) -> &'static str {
    match format {
        Format::Int32 | Format::Uint32 | Format::Int64 | Format::Uint64 => format.name(),
        _ => "integer",
    }
}

/// RFC 3339 as proto3 JSON uses it: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`. The shape is
/// checked by hand because jiff's parser is more liberal (it accepts e.g. a space for `T`, a
/// bracketed time zone, or a missing seconds field), then jiff checks the calendar.
fn check_timestamp(text: &str) -> Result<(), &'static str> {
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let is = |i: usize, expected: &[u8]| bytes.get(i).is_some_and(|b| expected.contains(b));
    let date_time_ok = (0..4).all(digit)
        && is(4, b"-")
        && (5..7).all(digit)
        && is(7, b"-")
        && (8..10).all(digit)
        && is(10, b"Tt")
        && (11..13).all(digit)
        && is(13, b":")
        && (14..16).all(digit)
        && is(16, b":")
        && (17..19).all(digit);
    if !date_time_ok {
        return Err("expected YYYY-MM-DDTHH:MM:SS");
    }
    let mut rest = text.get(19..).unwrap_or("");
    if let Some(fraction) = rest.strip_prefix('.') {
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 || count > 9 {
            return Err("1 to 9 fractional digits");
        }
        rest = fraction.get(count..).unwrap_or("");
    }
    let offset_ok = matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes().first(), Some(b'+' | b'-'))
            && rest.as_bytes().get(3) == Some(&b':')
            && [1, 2, 4, 5]
                .iter()
                .all(|&i| rest.as_bytes().get(i).is_some_and(u8::is_ascii_digit)));
    if !offset_ok {
        return Err("expected Z or a ±HH:MM offset");
    }
    // google.protobuf.Timestamp starts at 0001-01-01T00:00:00Z.
    if text.starts_with("0000-") {
        return Err("year 0000 is before 0001-01-01");
    }
    text.parse::<jiff::Timestamp>()
        .map(|_| ())
        .map_err(|_| "not a valid date or time")
}

/// `google.protobuf.Duration` JSON: `-?\d+(\.\d{1,9})?s`, at most 10,000 years.
fn check_duration(text: &str) -> Result<(), &'static str> {
    let Some(body) = text.strip_suffix('s') else {
        return Err("missing the \"s\" suffix");
    };
    let body = body.strip_prefix('-').unwrap_or(body);
    let (seconds, nanos) = match body.split_once('.') {
        Some((seconds, nanos)) => (seconds, Some(nanos)),
        None => (body, None),
    };
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return Err("seconds must be decimal digits");
    }
    if let Some(nanos) = nanos
        && (nanos.is_empty() || nanos.len() > 9 || !nanos.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("1 to 9 fractional digits");
    }
    match seconds.parse::<u64>() {
        Ok(s) if s <= MAX_DURATION_SECONDS => Ok(()),
        _ => Err("more than 315576000000 seconds"),
    }
}

/// A decimal number as proto3 JSON parsers accept it in a string (`"1.5"`, `"-2e10"`); Rust's
/// `f64` parser alone would also take `"inf"` or `"nan"`.
fn is_decimal_number(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && text.parse::<f64>().is_ok()
}

fn is_identifier(segment: &str) -> bool {
    segment
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `prefix` is a proto package rendered as a schema-name prefix, as in
/// `GoogleCloudKmsInventoryV1` + `ProtectedResource` (`google.cloud.kms.inventory.v1`): starts
/// with `Google`, ends with a version such as `V1`, `V2beta1` or `V1alpha`.
fn is_package_prefix(prefix: &str) -> bool {
    let Some(rest) = prefix.strip_prefix("Google") else {
        return false;
    };
    let Some(v) = rest.rfind('V') else {
        return false;
    };
    let (package, version) = rest.split_at(v);
    let version = version.get(1..).unwrap_or("");
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    let stability = version.get(digits..).unwrap_or("");
    let stability_ok = stability.is_empty()
        || ["alpha", "beta"].iter().any(|label| {
            stability
                .strip_prefix(label)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        });
    digits > 0 && stability_ok && package.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Appends `.key`, or `["key"]` when the key is not an identifier (map keys such as
/// `cloud.googleapis.com/region` or `@type`).
fn push_key(path: &mut String, key: &str) {
    if is_identifier(key) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        // JSON string syntax, so the key can be copied back into a filter or a file.
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
}

/// A short description of a value for messages: its JSON type, plus the value for scalars.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

/// Quotes a string for a message, shortened so a huge value cannot flood the report.
fn quote(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head:?}...")
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::{Path, PathBuf};

    const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/realdata");

    fn kms() -> &'static Discovery {
        Discovery::embedded(Api::CloudKms)
    }

    fn logging() -> &'static Discovery {
        Discovery::embedded(Api::Logging)
    }

    fn messages(violations: &[Violation]) -> Vec<String> {
        violations.iter().map(ToString::to_string).collect()
    }

    /// All `.json` files under `dir`, sorted, recursively.
    fn json_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    fn read_json(path: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn embedded_documents_are_verbatim_copies_of_shared_realdata() {
        for api in Api::ALL {
            let shared = std::fs::read(format!("{SHARED}/discovery/{}", api.file_name())).unwrap();
            assert!(
                api.document_text().as_bytes() == shared.as_slice(),
                "mocks/discovery/{} differs from the shared copy",
                api.file_name()
            );
        }
    }

    #[test]
    fn embedded_documents_parse_and_shared_ones_load_too() {
        for (api, count) in [
            (Api::CloudKms, 96),
            (Api::Logging, 94),
            (Api::KmsInventory, 12),
        ] {
            assert_eq!(Discovery::embedded(api).schemas.len(), count, "{api:?}");
            let text =
                std::fs::read_to_string(format!("{SHARED}/discovery/{}", api.file_name())).unwrap();
            assert_eq!(Discovery::from_json(&text).unwrap().schemas.len(), count);
        }
        for name in [
            "CryptoKey",
            "CryptoKeyVersion",
            "KeyRing",
            "Policy",
            "ListCryptoKeysResponse",
        ] {
            assert!(kms().has_schema(name), "{name}");
        }
        for name in [
            "LogEntry",
            "ListLogEntriesResponse",
            "Status",
            "MonitoredResource",
        ] {
            assert!(logging().has_schema(name), "{name}");
        }
        assert!(!kms().has_schema("LogEntry"));
        assert!(!kms().has_schema(""));
    }

    #[test]
    fn kms_inventory_schemas_resolve_without_their_package_prefix() {
        let inventory = Discovery::embedded(Api::KmsInventory);
        for name in [
            "ProtectedResource",
            "SearchProtectedResourcesResponse",
            "ListCryptoKeysResponse",
            "CryptoKey",
            "GoogleCloudKmsInventoryV1ProtectedResource",
        ] {
            assert!(inventory.has_schema(name), "{name}");
        }
        // Only whole message names after a package prefix match.
        assert!(!inventory.has_schema("Resource"));
        assert!(!inventory.has_schema("Key"));
        let answer = json!({
            "protectedResources": [{
                "name": "//storage.googleapis.com/projects/_/buckets/b",
                "project": "projects/123",
                "projectId": "p",
                "cloudProduct": "storage",
                "resourceType": "storage.googleapis.com/Bucket",
                "location": "us",
                "labels": {"env": "prod"},
                "cryptoKeyVersion": "projects/p/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
                "cryptoKeyVersions": ["projects/p/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"],
                "createTime": "2024-01-02T03:04:05Z"
            }],
            "nextPageToken": "t"
        });
        let v = inventory.validate_strict("SearchProtectedResourcesResponse", &answer, "");
        assert!(v.is_empty(), "{:?}", messages(&v));
        let bad = json!({"protectedResources": [{"cryptoKeyVersions": "one"}]});
        assert_eq!(
            messages(&inventory.validate("SearchProtectedResourcesResponse", &bad, "")),
            ["protectedResources[0].cryptoKeyVersions: expected array, got string \"one\""]
        );
    }

    /// Schema of a recorded KMS answer, from the request path encoded in its file name
    /// (`get-v1-projects-...-keyRings-<ring>-cryptoKeys_1.json`): the last collection named
    /// decides, and whether an id follows it tells a get from a list.
    fn kms_schema_for(file_name: &str) -> Option<&'static str> {
        let stem = file_name.strip_suffix("_1.json")?;
        if stem.ends_with("-getIamPolicy") {
            return Some("Policy");
        }
        let collections = [
            (
                "-cryptoKeyVersions",
                "CryptoKeyVersion",
                "ListCryptoKeyVersionsResponse",
            ),
            ("-cryptoKeys", "CryptoKey", "ListCryptoKeysResponse"),
            ("-keyRings", "KeyRing", "ListKeyRingsResponse"),
            ("-locations", "Location", "ListLocationsResponse"),
        ];
        let (position, marker, get, list) = collections
            .iter()
            .filter_map(|&(marker, get, list)| stem.rfind(marker).map(|p| (p, marker, get, list)))
            .max_by_key(|&(position, ..)| position)?;
        Some(if stem.len() == position + marker.len() {
            list
        } else {
            get
        })
    }

    #[test]
    fn recorded_kms_api_responses_validate_strictly() {
        let files = json_files(Path::new(&format!("{SHARED}/kms-api-responses")));
        assert!(files.len() >= 28, "only {} recordings found", files.len());
        let mut failures = Vec::new();
        let mut per_schema: HashMap<&str, usize> = HashMap::new();
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            let schema = kms_schema_for(name)
                .unwrap_or_else(|| panic!("no schema known for recording {name}"));
            let recording = read_json(file);
            assert_eq!(recording["headers"]["status"], "200", "{name}");
            *per_schema.entry(schema).or_default() += 1;
            for violation in kms().validate_strict(schema, &recording["body"], "body") {
                failures.push(format!("{name} ({schema}): {violation}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        // Every kind of answer in the brief was exercised.
        for schema in [
            "ListKeyRingsResponse",
            "KeyRing",
            "CryptoKey",
            "CryptoKeyVersion",
            "ListCryptoKeysResponse",
            "ListCryptoKeyVersionsResponse",
            "Policy",
            "Location",
            "ListLocationsResponse",
        ] {
            assert!(
                per_schema.contains_key(schema),
                "no recording of {schema}: {per_schema:?}"
            );
        }
    }

    #[test]
    fn real_audit_log_entries_validate_strictly() {
        let mut files = json_files(Path::new(&format!("{SHARED}/audit-logs/cloud-custodian")));
        files.extend(json_files(Path::new(&format!(
            "{SHARED}/audit-logs/plaso/split"
        ))));
        assert_eq!(files.len(), 14);
        let mut failures = Vec::new();
        for file in &files {
            let entry = read_json(file);
            for violation in logging().validate_strict("LogEntry", &entry, "") {
                failures.push(format!("{}: {violation}", file.display()));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        // The same entries wrapped in a list answer.
        let entries: Vec<Value> = files.iter().map(|f| read_json(f)).collect();
        let answer = json!({"entries": entries, "nextPageToken": "abc"});
        assert!(
            logging()
                .validate_strict("ListLogEntriesResponse", &answer, "")
                .is_empty()
        );
    }

    /// Panther's test logs are normalised, not raw (see the caveats in
    /// shared/realdata/README.md); the validator must catch exactly those quirks and nothing
    /// else, which shows it is neither too lax nor too strict on otherwise real entries.
    #[test]
    fn panther_normalised_entries_fail_only_for_their_documented_quirks() {
        let files = json_files(Path::new(&format!("{SHARED}/audit-logs/panther-analysis")));
        assert_eq!(files.len(), 13);
        for file in &files {
            let violations = logging().validate("LogEntry", &read_json(file), "");
            assert!(!violations.is_empty(), "{}", file.display());
            for v in &violations {
                let documented_quirk = v.path == "p_log_type"
                    || (v.path == "protoPayload" && v.problem.starts_with("missing \"@type\""))
                    || (matches!(v.path.as_str(), "timestamp" | "receiveTimestamp")
                        && v.problem.starts_with("not an RFC 3339 timestamp"));
                assert!(documented_quirk, "{}: {v}", file.display());
            }
        }
    }

    #[test]
    fn unknown_field_is_reported_with_its_path() {
        let key = json!({"name": "projects/p/locations/l/keyRings/r/cryptoKeys/k", "purpos": "ENCRYPT_DECRYPT"});
        assert_eq!(
            messages(&kms().validate("CryptoKey", &key, "key")),
            ["key.purpos: unknown field (not a property of CryptoKey)"]
        );
        // Nested: the innermost named schema is reported.
        let key = json!({"primary": {"state": "ENABLED", "primary": true}});
        assert_eq!(
            messages(&kms().validate("CryptoKey", &key, "")),
            ["primary.primary: unknown field (not a property of CryptoKeyVersion)"]
        );
        // Schemas without properties accept nothing.
        assert_eq!(
            messages(&kms().validate("Empty", &json!({"x": 1}), "")),
            ["x: unknown field (not a property of Empty)"]
        );
        assert!(kms().validate("Empty", &json!({}), "").is_empty());
    }

    #[test]
    fn wrong_enum_value_names_the_list_element() {
        let list = json!({"cryptoKeys": [
            {"purpose": "ENCRYPT_DECRYPT"},
            {"purpose": "ASYMMETRIC_SIGN"},
            {"purpose": "ENCRYPT"}
        ]});
        let v = kms().validate("ListCryptoKeysResponse", &list, "");
        assert_eq!(v.len(), 1, "{:?}", messages(&v));
        assert_eq!(v[0].path, "cryptoKeys[2].purpose");
        assert_eq!(
            v[0].to_string(),
            "cryptoKeys[2].purpose: unknown enum value \"ENCRYPT\" (expected one of \
             CRYPTO_KEY_PURPOSE_UNSPECIFIED, ENCRYPT_DECRYPT, ASYMMETRIC_SIGN, ASYMMETRIC_DECRYPT, \
             RAW_ENCRYPT_DECRYPT, MAC, KEY_ENCAPSULATION, AES_WRAPPING)"
        );
        // Enums are names; the numbers clients send in requests are not valid in answers.
        assert_eq!(
            messages(&kms().validate("CryptoKeyVersion", &json!({"state": 1}), "")),
            ["state: expected string, got number 1"]
        );
        // Enum on array items.
        let policy = json!({"allowedAccessReasons": ["CUSTOMER_INITIATED_SUPPORT", "BECAUSE"]});
        let v = kms().validate("KeyAccessJustificationsPolicy", &policy, "");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].path, "allowedAccessReasons[1]");
    }

    #[test]
    fn null_is_reported_where_a_type_is_expected() {
        let key =
            json!({"primary": {"state": null}, "labels": {"a": null}, "versionTemplate": null});
        assert_eq!(
            messages(&kms().validate("CryptoKey", &key, "")),
            [
                "primary.state: null is not allowed (Google omits unset fields instead of sending null)",
                "labels.a: null is not allowed (Google omits unset fields instead of sending null)",
                "versionTemplate: null is not allowed (Google omits unset fields instead of sending null)",
            ]
        );
        assert_eq!(
            messages(&kms().validate("CryptoKey", &Value::Null, "key")),
            ["key: null is not allowed (Google omits unset fields instead of sending null)"]
        );
        // A Struct may hold null (google.protobuf.NullValue).
        let entry = json!({"jsonPayload": {"a": null, "b": [null]}});
        assert!(logging().validate("LogEntry", &entry, "").is_empty());
    }

    #[test]
    fn bad_timestamps_are_reported() {
        for (bad, why) in [
            ("2019-04-22 14:38:20Z", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2019-04-22T14:38:20", "expected Z or a ±HH:MM offset"),
            (
                "2019-04-22T14:38:20.1234567890Z",
                "1 to 9 fractional digits",
            ),
            ("2019-13-22T14:38:20Z", "not a valid date or time"),
            ("2019-02-30T14:38:20Z", "not a valid date or time"),
            ("0000-01-01T00:00:00Z", "year 0000 is before 0001-01-01"),
            ("2019-04-22T14:38:20Z[UTC]", "expected Z or a ±HH:MM offset"),
        ] {
            let wrapper = json!({"cryptoKeyVersions": [
                {"createTime": "2019-04-22T14:38:20Z"},
                {"createTime": bad}
            ]});
            assert_eq!(
                messages(&kms().validate("ListCryptoKeyVersionsResponse", &wrapper, "")),
                [format!(
                    "cryptoKeyVersions[1].createTime: not an RFC 3339 timestamp like \
                     \"2019-04-22T14:38:20.559717266Z\" ({why}): {bad:?}"
                )],
                "{bad}"
            );
        }
        for good in [
            "2019-04-22T14:38:20Z",
            "2019-04-22T14:38:20.5Z",
            "2019-04-22T14:38:20.559717266Z",
            "2021-10-18T19:42:14.870-07:00",
            "2016-12-31T23:59:60Z",
        ] {
            let v = kms().validate("CryptoKey", &json!({"createTime": good}), "");
            assert!(v.is_empty(), "{good}: {:?}", messages(&v));
        }
    }

    #[test]
    fn bad_durations_are_reported() {
        for (bad, why) in [
            ("90d", "missing the \"s\" suffix"),
            ("7776000", "missing the \"s\" suffix"),
            ("1.s", "1 to 9 fractional digits"),
            ("1.0000000001s", "1 to 9 fractional digits"),
            ("s", "seconds must be decimal digits"),
            ("+5s", "seconds must be decimal digits"),
            ("315576000001s", "more than 315576000000 seconds"),
        ] {
            let key = json!({"rotationPeriod": bad});
            assert_eq!(
                messages(&kms().validate("CryptoKey", &key, "keys[0]")),
                [format!(
                    "keys[0].rotationPeriod: not a duration like \"7776000s\" or \"0.5s\" ({why}): {bad:?}"
                )],
            );
        }
        for good in ["7776000s", "0s", "-1.5s", "0.000000001s", "315576000000s"] {
            assert!(
                kms()
                    .validate("CryptoKey", &json!({"rotationPeriod": good}), "")
                    .is_empty()
            );
        }
    }

    #[test]
    fn int64_as_a_number_is_only_accepted_leniently() {
        let entry =
            json!({"httpRequest": {"requestSize": 512, "responseSize": "1024", "status": 200}});
        assert!(logging().validate("LogEntry", &entry, "").is_empty());
        assert_eq!(
            messages(&logging().validate_strict("LogEntry", &entry, "entries[0]")),
            [
                "entries[0].httpRequest.requestSize: int64 must be a JSON string such as \"512\" \
              (Google quotes 64-bit integers), got number 512"
            ]
        );
        assert_eq!(
            logging()
                .validate_in(Mode::Strict, "LogEntry", &entry, "")
                .len(),
            1
        );
        // Lenient still checks the value.
        let entry = json!({"httpRequest": {"requestSize": 1.5, "responseSize": "12a", "cacheFillBytes": "99999999999999999999"}});
        assert_eq!(
            messages(&logging().validate("LogEntry", &entry, "")),
            [
                "httpRequest.requestSize: not an integer: 1.5",
                "httpRequest.responseSize: not a decimal int64: \"12a\"",
                "httpRequest.cacheFillBytes: int64 out of range [-9223372036854775808, 9223372036854775807]: 99999999999999999999",
            ]
        );
    }

    #[test]
    fn int32_must_be_a_number_in_range() {
        let policy = json!({"version": "3"});
        assert!(kms().validate("Policy", &policy, "").is_empty());
        assert_eq!(
            messages(&kms().validate_strict("Policy", &policy, "")),
            ["version: int32 must be a JSON number, got string \"3\""]
        );
        assert_eq!(
            messages(&kms().validate("Policy", &json!({"version": 2_147_483_648_i64}), "")),
            ["version: int32 out of range [-2147483648, 2147483647]: 2147483648"]
        );
        assert_eq!(
            messages(&kms().validate_strict("Policy", &json!({"version": 3.0}), "")),
            ["version: expected an integer literal, got number 3.0"]
        );
        assert!(
            kms()
                .validate("Policy", &json!({"version": 3.0}), "")
                .is_empty()
        );
        assert_eq!(
            messages(&kms().validate("Policy", &json!({"version": true}), "")),
            ["version: expected integer (int32), got boolean true"]
        );
    }

    #[test]
    fn wrong_type_in_a_nested_array_element_is_reported() {
        let policy = json!({
            "version": 3,
            "etag": "BwWKmjvelug=",
            "bindings": [
                {"role": "roles/cloudkms.admin", "members": ["user:a@example.com"]},
                {"role": "roles/cloudkms.viewer", "members": [5, "group:g@example.com", ["x"]]}
            ]
        });
        assert_eq!(
            messages(&kms().validate("Policy", &policy, "policy")),
            [
                "policy.bindings[1].members[0]: expected string, got number 5",
                "policy.bindings[1].members[2]: expected string, got array",
            ]
        );
        assert_eq!(
            messages(&kms().validate("Policy", &json!({"bindings": {"role": "r"}}), "")),
            ["bindings: expected array, got object"]
        );
    }

    #[test]
    fn proto_payload_needs_a_type_and_audit_log_contents_are_opaque() {
        let entry = json!({"protoPayload": {"serviceName": "cloudkms.googleapis.com"}});
        assert_eq!(
            messages(&logging().validate("LogEntry", &entry, "")),
            [
                "protoPayload: missing \"@type\" (a google.protobuf.Any must name the type of its contents)"
            ]
        );
        // AuditLog: any contents, even ones no schema of this document would allow.
        let entry = json!({"protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {"code": "not-a-number", "whatever": [1, {"x": null}]},
            "request": {"@type": "type.googleapis.com/google.cloud.kms.v1.CreateCryptoKeyRequest", "v": null}
        }});
        assert!(logging().validate_strict("LogEntry", &entry, "").is_empty());
        // ... but its own fields are never null.
        let entry = json!({"protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": null
        }});
        assert_eq!(
            messages(&logging().validate("LogEntry", &entry, "")),
            [
                "protoPayload.methodName: null is not allowed (Google omits unset fields instead of sending null)"
            ]
        );
        for (bad, problem) in [
            (json!(7), "expected string, got number 7"),
            (
                json!("AuditLog"),
                "not a type URL like \"type.googleapis.com/google.rpc.ErrorInfo\": \"AuditLog\"",
            ),
        ] {
            let entry = json!({"protoPayload": {"@type": bad}});
            assert_eq!(
                messages(&logging().validate("LogEntry", &entry, "")),
                [format!("protoPayload[\"@type\"]: {problem}")]
            );
        }
        assert_eq!(
            messages(&logging().validate("LogEntry", &json!({"protoPayload": "x"}), "")),
            ["protoPayload: expected object, got string \"x\""]
        );
    }

    #[test]
    fn any_of_a_message_in_the_document_is_checked_deeply() {
        let location = json!({
            "name": "projects/p/locations/us-east1",
            "locationId": "us-east1",
            "labels": {"cloud.googleapis.com/region": "us-east1"},
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.kms.v1.LocationMetadata",
                "hsmAvailable": true,
                "ekmAvailable": "yes",
                "hsmRegion": "x"
            }
        });
        assert_eq!(
            messages(&kms().validate("Location", &location, "locations[0]")),
            [
                "locations[0].metadata.ekmAvailable: expected boolean, got string \"yes\"",
                "locations[0].metadata.hsmRegion: unknown field (not a property of LocationMetadata)",
            ]
        );
        // Status.details: google.rpc.ErrorInfo is in no document, so it is only type-checked.
        let status = json!({"code": 7, "message": "denied", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED"},
            {"reason": "no type"}
        ]});
        assert_eq!(
            messages(&logging().validate("Status", &status, "error")),
            [
                "error.details[1]: missing \"@type\" (a google.protobuf.Any must name the type of its contents)"
            ]
        );
    }

    #[test]
    fn map_values_are_checked_and_odd_keys_are_quoted() {
        let entry = json!({"resource": {"type": "cloudkms_cryptokey", "labels": {
            "project_id": "p",
            "cloud.googleapis.com/location": 5
        }}});
        assert_eq!(
            messages(&logging().validate("LogEntry", &entry, "")),
            ["resource.labels[\"cloud.googleapis.com/location\"]: expected string, got number 5"]
        );
    }

    #[test]
    fn bytes_and_field_masks_are_checked() {
        for good in ["BwWKmjvelug=", "BwWKmjvelug", "-_-_", ""] {
            assert!(
                kms()
                    .validate("Policy", &json!({"etag": good}), "")
                    .is_empty(),
                "{good}"
            );
        }
        assert_eq!(
            messages(&kms().validate("Policy", &json!({"etag": "not base64!"}), "")),
            ["etag: not valid base64 (format byte): \"not base64!\""]
        );
        // `+` and `_` mix the two alphabets.
        assert_eq!(
            kms().validate("Policy", &json!({"etag": "ab+_"}), "").len(),
            1
        );
        for good in ["bindings", "bindings,etag", "auditConfigs.service", ""] {
            let request = json!({"updateMask": good});
            assert!(
                kms()
                    .validate("SetIamPolicyRequest", &request, "")
                    .is_empty(),
                "{good}"
            );
        }
        assert_eq!(
            messages(&kms().validate(
                "SetIamPolicyRequest",
                &json!({"updateMask": "bindings,,etag"}),
                ""
            )),
            ["updateMask: not a field mask (comma-separated field paths): bad path \"\""]
        );
    }

    #[test]
    fn unknown_schema_and_wrong_root_type_are_violations() {
        assert_eq!(
            messages(&kms().validate("NoSuchThing", &json!({}), "")),
            ["unknown schema \"NoSuchThing\""]
        );
        assert_eq!(
            messages(&kms().validate("CryptoKey", &json!([]), "key")),
            ["key: expected object, got array"]
        );
        assert_eq!(
            Violation {
                path: String::new(),
                problem: "p".into()
            }
            .to_string(),
            "p"
        );
    }

    #[test]
    fn deep_nesting_is_bounded_by_the_value() {
        // FilterPredicate refers to itself through childPredicates.
        let mut value = json!({});
        for _ in 0..300 {
            value = json!({"childPredicates": [value]});
        }
        let v = logging().validate("FilterPredicate", &value, "");
        assert_eq!(v.len(), 1, "{:?}", messages(&v));
        assert!(v[0].problem.starts_with("nested deeper than 100 levels"));
        assert!(
            v[0].path
                .starts_with("childPredicates[0].childPredicates[0].")
        );
        // A value within the limit validates.
        let mut value = json!({"operatorType": "AND"});
        for _ in 0..40 {
            value = json!({"childPredicates": [value], "operatorType": "OR"});
        }
        assert!(logging().validate("FilterPredicate", &value, "").is_empty());
    }

    #[test]
    fn malformed_documents_are_rejected() {
        let cases = [
            ("not json", "not valid JSON"),
            ("{}", "no \"schemas\""),
            (
                r#"{"schemas": {"A": {"type": "object", "properties": {"b": {"$ref": "B"}}}}}"#,
                "A.properties.b: $ref \"B\"",
            ),
            (
                r#"{"schemas": {"A": {"$ref": "B"}, "B": {"$ref": "A"}}}"#,
                "$ref cycle",
            ),
            (
                r#"{"schemas": {"A": {"type": "tuple"}}}"#,
                "unknown type \"tuple\"",
            ),
            (
                r#"{"schemas": {"A": {"type": "string", "enum": [1]}}}"#,
                "enum value is not a string",
            ),
            (r#"{"schemas": {"A": {"description": "x"}}}"#, "neither"),
            (r#"{"schemas": {"A": 5}}"#, "not a JSON object"),
        ];
        for (text, expected) in cases {
            let err = Discovery::from_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        // A minimal well-formed document, including JSON Schema's boolean additionalProperties.
        let doc = Discovery::from_json(
            r#"{"schemas": {"M": {"type": "object", "additionalProperties": true}, "N": {"$ref": "M"}}}"#,
        )
        .unwrap();
        assert!(doc.validate("N", &json!({"a": [1, null]}), "").is_empty());
    }

    #[test]
    fn arbitrary_values_never_panic() {
        let odd = [
            Value::Null,
            json!(true),
            json!(-0.0),
            json!(1e308),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(""),
            json!("é\u{0}\"ÿ🦀"),
            json!("x".repeat(500)),
            json!([]),
            json!([null, {}, [[]]]),
            json!({}),
            json!({"@type": "", "name": {}, "labels": [], "": null}),
        ];
        for api in Api::ALL {
            let doc = Discovery::embedded(api);
            for name in doc.schemas.keys() {
                for value in &odd {
                    for mode in [Mode::Lenient, Mode::Strict] {
                        let _ = doc.validate_in(mode, name, value, "x");
                    }
                    // Every property of every schema, given each odd value.
                    if let Some(Node::Object(object)) = doc.schemas.get(name) {
                        for property in object.properties.keys() {
                            let mut wrapped = serde_json::Map::new();
                            wrapped.insert(property.clone(), value.clone());
                            let _ = doc.validate_strict(name, &Value::Object(wrapped), "");
                        }
                    }
                }
            }
        }
    }
}
