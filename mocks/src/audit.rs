//! The Admin Activity audit entries the real services write for each
//! mutation, so that after a response the logs show it, exactly as on Google.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::names::KmsName;
use crate::wire::format_time;

/// Who made a request, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub ip: String,
    pub user_agent: String,
}

impl Caller {
    /// `principalSubject`: service accounts and users are spelled differently.
    fn subject(&self) -> String {
        if self.principal.ends_with(".gserviceaccount.com") {
            format!("serviceAccount:{}", self.principal)
        } else {
            format!("user:{}", self.principal)
        }
    }
}

/// What one KMS admin write looked like.
#[derive(Debug)]
pub struct AdminWrite<'a> {
    pub method: &'a str,
    /// The resource the entry is about (the version for version updates, the key for version creation).
    pub resource: &'a KmsName,
    pub resource_name: &'a str,
    pub permission: &'a str,
    /// The request message in JSON, without `@type`.
    pub request: Value,
    pub request_type: &'a str,
    pub service_data: Option<Value>,
}

/// Builds the LogEntry for a KMS admin write.
pub fn kms_admin_entry(
    write: AdminWrite<'_>,
    caller: &Caller,
    now: Timestamp,
    insert_id: &str,
) -> Value {
    let mut request = write.request;
    if let Value::Object(map) = &mut request {
        map.insert(
            "@type".into(),
            Value::String(format!("type.googleapis.com/{}", write.request_type)),
        );
    }
    let mut payload = json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": {},
        "authenticationInfo": {
            "principalEmail": caller.principal,
            "principalSubject": caller.subject(),
        },
        "requestMetadata": {
            "callerIp": caller.ip,
            "callerSuppliedUserAgent": caller.user_agent,
            "requestAttributes": {"time": format_time(now), "auth": {}},
            "destinationAttributes": {},
        },
        "serviceName": "cloudkms.googleapis.com",
        "methodName": write.method,
        "authorizationInfo": [{
            "resource": write.resource_name,
            "permission": write.permission,
            "granted": true,
            "resourceAttributes": {
                "service": "google.cloud.kms",
                "name": write.resource_name,
                "type": write.resource.attribute_type(),
            },
            "permissionType": "ADMIN_WRITE",
        }],
        "resourceName": write.resource_name,
        "request": request,
        "resourceLocation": {"currentLocations": [write.resource.location()]},
    });
    // Google leaves out what the caller did not supply rather than logging "".
    if caller.user_agent.is_empty()
        && let Some(meta) = payload
            .get_mut("requestMetadata")
            .and_then(Value::as_object_mut)
    {
        meta.remove("callerSuppliedUserAgent");
    }
    if let Some(data) = write.service_data {
        payload["serviceData"] = data;
    }
    // Cloud Logging receives entries a fraction of a second after they happen.
    let received = now
        .checked_add(jiff::SignedDuration::from_millis(417))
        .unwrap_or(now);
    json!({
        "protoPayload": payload,
        "insertId": insert_id,
        "resource": write.resource.monitored_resource(),
        "timestamp": format_time(now),
        "severity": "NOTICE",
        "logName": format!("projects/{}/logs/cloudaudit.googleapis.com%2Factivity", write.resource.project()),
        "receiveTimestamp": format_time(received),
    })
}

/// `serviceData` of a SetIamPolicy entry: the binding deltas between two policies.
pub fn policy_delta(old: &Value, new: &Value) -> Value {
    let pairs = |p: &Value| -> Vec<(String, String)> {
        let mut out = Vec::new();
        for b in p
            .get("bindings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let role = b.get("role").and_then(Value::as_str).unwrap_or_default();
            for m in b
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(m) = m.as_str() {
                    out.push((role.to_owned(), m.to_owned()));
                }
            }
        }
        out
    };
    let (before, after) = (pairs(old), pairs(new));
    let mut deltas = Vec::new();
    for (role, member) in &after {
        if !before.contains(&(role.clone(), member.clone())) {
            deltas.push(json!({"action": "ADD", "role": role, "member": member}));
        }
    }
    for (role, member) in &before {
        if !after.contains(&(role.clone(), member.clone())) {
            deltas.push(json!({"action": "REMOVE", "role": role, "member": member}));
        }
    }
    json!({
        "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
        "policyDelta": {"bindingDeltas": deltas}
    })
}
