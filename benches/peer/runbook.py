"""The peer of the benchmark: the "New Cloud KMS Key Created" runbook done step by step with
Google's official Python clients, one call after another, as an on-call engineer's script would.

    python benches/peer/runbook.py --endpoint http://127.0.0.1:PORT --alert ALERT.json

It reads what kms-responder reads (the key, its versions, the key, key ring, project, folder and
organization policies, the creation entry, the creator's other KMS admin actions, the key's Data
Access entries, the protected resources) through google-cloud-kms, google-cloud-logging,
google-cloud-kms-inventory and google-cloud-resource-manager (REST / HTTP-JSON transports,
anonymous credentials, `api_endpoint` set to the mock). It prints a short summary, then, on the
last line, a JSON object with the time spent in calls (`calls_ms`, imports and client set-up
excluded) and the number of calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time

for _var in ("NO_PROXY", "no_proxy"):
    _have = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_have + ["127.0.0.1", "localhost"])

from google.api_core.client_options import ClientOptions  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.cloud import kms_inventory_v1, kms_v1, resourcemanager_v3  # noqa: E402
from google.cloud import logging as gcl  # noqa: E402

LOOKBACK = dt.timedelta(days=7)


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def all(self, fn, *args, **kwargs) -> list:
        """A listing: pagers and iterators fetch lazily, so they are drained inside the timing."""
        return self(lambda: list(fn(*args, **kwargs)))


def alert_facts(path: str) -> dict:
    data = json.load(open(path))["data"]
    facts = {"start": data["startTime"], "end": data["endTime"], "key": None, "short": None}
    entities = data.get("entityMap", {})
    for user in entities.get("CT_User", []):
        facts["project"] = user["KEY"]["account"]
        facts["user"] = user["KEY"]["username"]
    # The alert's Details scope alone: "User U created a new Cloud KMS key K in project P".
    said = re.search(
        r"(?:User )?(\S+@\S+) created a new Cloud KMS key (?:(\S+) )?in project (\S+)",
        data.get("alertInfo", {}).get("description", ""),
    )
    if said:
        facts.setdefault("user", said.group(1))
        facts.setdefault("project", said.group(3))
        if said.group(2):
            facts["short"] = said.group(2)
    for res in entities.get("Resource", []):
        if res["PROPS"].get("resource_type") == "cloudkms.googleapis.com/CryptoKey":
            value = res["KEY"].get("value", "")
            if value.startswith("projects/"):
                facts["key"] = value
            facts["short"] = res["KEY"].get("name") or value.rsplit("/", 1)[-1]
    if facts["key"] is None:
        desc = data.get("alertInfo", {}).get("description", "")
        if "projects/" in desc:
            facts["key"] = desc[desc.index("projects/"):].split()[0].rstrip(".,)")
    return facts


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--alert", required=True)
    args = ap.parse_args()

    facts = alert_facts(args.alert)
    opts = ClientOptions(api_endpoint=args.endpoint)
    creds = AnonymousCredentials()
    kms = kms_v1.KeyManagementServiceClient(credentials=creds, transport="rest", client_options=opts)
    inventory = kms_inventory_v1.KeyTrackingServiceClient(credentials=creds, transport="rest", client_options=opts)
    projects = resourcemanager_v3.ProjectsClient(credentials=creds, transport="rest", client_options=opts)
    folders = resourcemanager_v3.FoldersClient(credentials=creds, transport="rest", client_options=opts)
    orgs = resourcemanager_v3.OrganizationsClient(credentials=creds, transport="rest", client_options=opts)
    project_id = facts["project"] if facts.get("project") else facts["key"].split("/")[1]
    log = gcl.Client(project=project_id, credentials=creds, _use_grpc=False, client_options=opts)
    call = Timer()

    event = parse_time(facts["start"])
    since = rfc3339(event - LOOKBACK)
    activity_log = f"projects/{project_id}/logs/cloudaudit.googleapis.com%2Factivity"
    data_log = f"projects/{project_id}/logs/cloudaudit.googleapis.com%2Fdata_access"
    resource = [f"projects/{project_id}"]

    # 0. The key, when the alert gives only its short name: the creation in the alert's window.
    key = facts["key"]
    if key is None:
        flt = (
            f'logName="{activity_log}" AND protoPayload.methodName="CreateCryptoKey" '
            f'AND timestamp>="{rfc3339(parse_time(facts["start"]) - dt.timedelta(minutes=15))}" '
            f'AND timestamp<="{rfc3339(parse_time(facts["end"]) + dt.timedelta(minutes=15))}" '
            f'AND protoPayload.authenticationInfo.principalEmail="{facts["user"]}"'
        )
        for e in call.all(log.list_entries, resource_names=resource, filter_=flt, order_by=gcl.ASCENDING, page_size=1000):
            name = e.payload.get("resourceName", "") if isinstance(e.payload, dict) else ""
            if name.rsplit("/", 1)[-1] == facts["short"]:
                key = name
        if key is None:
            print("no key found", file=sys.stderr)
            return 1
    ring = key.split("/cryptoKeys/")[0]

    # 1. The key and its versions.
    crypto_key = call(kms.get_crypto_key, name=key)
    versions = call.all(kms.list_crypto_key_versions, parent=key)
    # 2. Who can use it.
    key_policy = call(kms.get_iam_policy, request={"resource": key})
    ring_policy = call(kms.get_iam_policy, request={"resource": ring})
    project = call(projects.get_project, name=f"projects/{project_id}")
    project_policy = call(projects.get_iam_policy, request={"resource": f"projects/{project_id}"})
    parent = project.parent
    policies = [key_policy, ring_policy, project_policy]
    org = None
    while parent.startswith("folders/"):
        policies.append(call(folders.get_iam_policy, request={"resource": parent}))
        parent = call(folders.get_folder, name=parent).parent
    if parent.startswith("organizations/"):
        org = parent
        policies.append(call(orgs.get_iam_policy, request={"resource": org}))
    # 3. Who created it, and how.
    creation = call.all(
        log.list_entries,
        resource_names=resource,
        filter_=f'logName="{activity_log}" AND protoPayload.methodName="CreateCryptoKey" '
        f'AND protoPayload.resourceName="{key}" AND timestamp>="{since}"',
        order_by=gcl.ASCENDING,
        page_size=1000,
    )
    creator = creation[0].payload["authenticationInfo"]["principalEmail"] if creation else None
    # 4. What else the creator did in KMS.
    actions = []
    if creator:
        actions = call.all(
            log.list_entries,
            resource_names=resource,
            filter_=f'logName="{activity_log}" AND protoPayload.serviceName="cloudkms.googleapis.com" '
            f'AND protoPayload.authenticationInfo.principalEmail="{creator}" AND timestamp>="{since}"',
            order_by=gcl.ASCENDING,
            page_size=1000,
        )
    # 5. Who used it.
    usage = call.all(
        log.list_entries,
        resource_names=resource,
        filter_=f'logName="{data_log}" AND (protoPayload.resourceName="{key}" OR '
        f'protoPayload.resourceName:"{key}/cryptoKeyVersions/") AND timestamp>="{since}"',
        order_by=gcl.ASCENDING,
        page_size=1000,
    )
    # 6. What it protects.
    protected = call.all(
        inventory.search_protected_resources,
        request={"scope": org or f"projects/{project_id}", "crypto_key": key},
    )

    print(
        f"key {crypto_key.name} ({len(versions)} versions), {len(policies)} policies, "
        f"creator {creator}, {len(actions)} admin actions, {len(usage)} uses, {len(protected)} protected resources"
    )
    print(json.dumps({"calls_ms": round(call.seconds * 1000, 1), "calls": call.calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
