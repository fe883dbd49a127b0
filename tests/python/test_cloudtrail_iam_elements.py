"""The responseElements of IAM and STS records, read back with `aws cloudtrail
lookup-events`: what AWS records for CreateUser, CreateGroup, CreateRole, CreatePolicy,
CreateAccessKey, AssumeRole and GetSessionToken, and never a secret access key or a
session token (sealdb records no secret or bearer credential; AWS records the token)."""

import json
import re

from test_cloudtrail_records import lookup, policy

ACCOUNT = "000000000000"
# AWS's CloudTrail date for IAM and STS, e.g. "Dec 2, 2026, 3:04:05 PM".
DATE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$")


def only(records):
    assert len(records) == 1, records
    return records[0]


def test_iam_and_sts_response_elements(fresh_server):
    s = fresh_server.start()
    iam = s.client("iam")
    user = iam.create_user(UserName="carol", Tags=[{"Key": "team", "Value": "db"}])["User"]
    group = iam.create_group(GroupName="readers")["Group"]
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=trust)["Role"]
    managed = iam.create_policy(PolicyName="assume", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}))["Policy"]
    iam.attach_user_policy(UserName="carol", PolicyArn=managed["Arn"])
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    sts = s.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="night")
    session = sts.get_session_token(DurationSeconds=900)["Credentials"]
    iam.create_policy_version(PolicyArn=managed["Arn"], SetAsDefault=True, PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    password = "Tr41l-elements-pw!"
    iam.create_login_profile(UserName="carol", Password=password)

    created = only(lookup(s, "CreateUser"))["responseElements"]
    assert created == {"user": {"path": "/", "userName": "carol", "userId": user["UserId"],
                                "arn": user["Arn"], "createDate": created["user"]["createDate"],
                                "tags": [{"key": "team", "value": "db"}]}}
    assert DATE.match(created["user"]["createDate"])

    g = only(lookup(s, "CreateGroup"))["responseElements"]["group"]
    assert (g["groupName"], g["groupId"], g["arn"]) == ("readers", group["GroupId"], group["Arn"])

    r = only(lookup(s, "CreateRole"))["responseElements"]["role"]
    assert (r["roleName"], r["roleId"], r["arn"], r["path"]) == ("Reader", role["RoleId"], role["Arn"], "/")
    assert r["maxSessionDuration"] == 3600 and DATE.match(r["createDate"])
    assert "%22sts%3AAssumeRole%22" in r["assumeRolePolicyDocument"]

    p = only(lookup(s, "CreatePolicy"))["responseElements"]["policy"]
    assert (p["policyName"], p["policyId"], p["arn"], p["defaultVersionId"]) == (
        "assume", managed["PolicyId"], managed["Arn"], "v1")
    assert p["attachmentCount"] == 0 and p["isAttachable"] is True

    # CreateAccessKey: the key id and status, never the secret.
    ak = only(lookup(s, "CreateAccessKey"))
    assert ak["responseElements"] == {"accessKey": {
        "userName": "carol", "accessKeyId": key["AccessKeyId"], "status": "Active",
        "createDate": ak["responseElements"]["accessKey"]["createDate"]}}

    # AssumeRole: the temporary key id, its expiry and the assumed-role user; no secret,
    # no session token.
    ar = only(lookup(s, "AssumeRole"))["responseElements"]
    creds = assumed["Credentials"]
    assert ar["credentials"]["accessKeyId"] == creds["AccessKeyId"]
    assert ar["credentials"]["accessKeyId"].startswith("ASIA")
    assert set(ar["credentials"]) == {"accessKeyId", "expiration"}
    assert DATE.match(ar["credentials"]["expiration"])
    assert ar["assumedRoleUser"] == {"assumedRoleId": assumed["AssumedRoleUser"]["AssumedRoleId"],
                                     "arn": assumed["AssumedRoleUser"]["Arn"]}

    st = only(lookup(s, "GetSessionToken"))["responseElements"]
    assert st == {"credentials": {"accessKeyId": session["AccessKeyId"],
                                  "expiration": st["credentials"]["expiration"]}}

    pv = only(lookup(s, "CreatePolicyVersion"))["responseElements"]
    assert pv == {"policyVersion": {"versionId": "v2", "isDefaultVersion": True,
                                    "createDate": pv["policyVersion"]["createDate"]}}
    lp = only(lookup(s, "CreateLoginProfile"))["responseElements"]
    assert lp == {"loginProfile": {"userName": "carol", "passwordResetRequired": False,
                                   "createDate": lp["loginProfile"]["createDate"]}}

    # Nowhere in the log: a secret access key, a session token or a password.
    every = json.dumps([lookup(s, n) for n in ("CreateAccessKey", "AssumeRole", "GetSessionToken",
                                               "CreateLoginProfile")])
    for secret in (key["SecretAccessKey"], creds["SecretAccessKey"], creds["SessionToken"],
                   session["SecretAccessKey"], session["SessionToken"], password):
        assert secret not in every

    # Reads and changes without an answer record none.
    iam.get_user(UserName="carol")
    assert only(lookup(s, "GetUser"))["responseElements"] is None
    assert only(lookup(s, "AttachUserPolicy"))["responseElements"] is None
