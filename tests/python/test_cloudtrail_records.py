"""CloudTrail records as AWS writes them, read back with `aws cloudtrail lookup-events`:
a role session's userIdentity with its sessionContext, the request's User-Agent and
source address, DynamoDB's own KMS calls marked invokedBy dynamodb.amazonaws.com,
errorCode/errorMessage on a denied call, and the management events of DynamoDB, IAM
and STS."""

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_cloudtrail import cli
from conftest import policy

ACCOUNT = "000000000000"
AGENT = "sealdb-trail-test/1.0"


def session_client(server, service, creds):
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(retries={"max_attempts": 1}, user_agent_extra=AGENT))


def lookup(server, name):
    """The records of every `name` event, newest first, through the aws CLI as the root."""
    from conftest import ACCESS_KEY, SECRET_KEY
    out = cli(server, (ACCESS_KEY, SECRET_KEY), "cloudtrail", "lookup-events",
              "--lookup-attributes", f"AttributeKey=EventName,AttributeValue={name}")
    return [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]


def wait_active(ddb, table):
    for _ in range(600):
        t = ddb.describe_table(TableName=table)["Table"]
        if t["TableStatus"] == "ACTIVE" and all(
                g["IndexStatus"] == "ACTIVE" for g in t.get("GlobalSecondaryIndexes", [])):
            return
        time.sleep(0.1)
    raise AssertionError(f"{table} did not become ACTIVE")


def test_role_sessions_user_agents_service_calls_and_management_events(fresh_server):
    s = fresh_server.start()
    iam = s.client("iam")
    iam.create_user(UserName="ops")
    iam.put_user_policy(UserName="ops", PolicyName="assume", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    ops_key = iam.create_access_key(UserName="ops")["AccessKey"]
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="TableAdmin", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName="TableAdmin", PolicyName="all", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["dynamodb:*", "kms:*"], "Resource": "*"}))
    sts = s.client("sts", key=ops_key["AccessKeyId"], secret=ops_key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="nightly")["Credentials"]
    ddb = session_client(s, "dynamodb", creds)
    kms = session_client(s, "kms", creds)

    key = kms.create_key(Description="tables")["KeyMetadata"]["Arn"]
    other = kms.create_key(Description="tables 2")["KeyMetadata"]["Arn"]
    table = f"Trail{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
    wait_active(ddb, table)
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    wait_active(ddb, table)
    ddb.update_table(TableName=table, AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {
                         "IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
    wait_active(ddb, table)
    ddb.update_table(TableName=table, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": other})
    wait_active(ddb, table)
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    backup = ddb.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]["BackupArn"]
    ddb.delete_backup(BackupArn=backup)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ops"}])
    ddb.put_resource_policy(ResourceArn=arn, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "dynamodb:GetItem", "Resource": arn}))
    ddb.delete_resource_policy(ResourceArn=arn)

    # A denied call is recorded with its error.
    iam.create_user(UserName="nobody")
    nobody = iam.create_access_key(UserName="nobody")["AccessKey"]
    with pytest.raises(ClientError) as denied:
        s.client(key=nobody["AccessKeyId"], secret=nobody["SecretAccessKey"]).delete_table(TableName=table)
    ddb.delete_table(TableName=table)

    # The role session: type, ARN, sessionContext, User-Agent, source address.
    [created] = lookup(s, "CreateTable")
    who = created["userIdentity"]
    assert who["type"] == "AssumedRole"
    assert who["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/TableAdmin/nightly"
    assert who["principalId"] == f"{role['RoleId']}:nightly"
    assert who["accessKeyId"] == creds["AccessKeyId"]
    issuer = who["sessionContext"]["sessionIssuer"]
    assert issuer == {"type": "Role", "principalId": role["RoleId"], "arn": role["Arn"],
                      "accountId": ACCOUNT, "userName": "TableAdmin"}
    attributes = who["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    assert attributes["creationDate"].endswith("Z") and attributes["creationDate"][:4].isdigit()
    assert AGENT in created["userAgent"]
    assert created["sourceIPAddress"] == "127.0.0.1"

    # The IAM user's calls carry no sessionContext.
    [assumed] = lookup(s, "AssumeRole")
    assert assumed["userIdentity"]["type"] == "IAMUser" and "sessionContext" not in assumed["userIdentity"]
    assert assumed["eventSource"] == "sts.amazonaws.com"

    # DynamoDB's own calls to KMS for the table: invokedBy, under the caller or its grant.
    kms_events = [e for name in ("GenerateDataKey", "Decrypt", "Encrypt", "CreateGrant", "DescribeKey")
                  for e in lookup(s, name)]
    by_dynamodb = [e for e in kms_events if e["userIdentity"].get("invokedBy") == "dynamodb.amazonaws.com"]
    assert {e["eventName"] for e in by_dynamodb} >= {"GenerateDataKey", "CreateGrant", "DescribeKey"}
    for e in by_dynamodb:
        assert e["sourceIPAddress"] == "dynamodb.amazonaws.com"
        assert e["userAgent"] == "dynamodb.amazonaws.com"

    # The denied call: errorCode and errorMessage, as answered.
    deletes = lookup(s, "DeleteTable")
    refused = [e for e in deletes if e.get("errorCode")]
    assert [e["errorCode"] for e in refused] == ["AccessDeniedException"]
    assert refused[0]["errorMessage"] == denied.value.response["Error"]["Message"]
    assert refused[0]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/nobody"

    # Management events: table, index, stream, encryption, TTL, backup, tag and policy
    # changes; a read-only control-plane call; IAM and STS.
    updates = lookup(s, "UpdateTable")
    params = [e["requestParameters"] for e in updates]
    assert any("streamSpecification" in p for p in params)
    assert any("globalSecondaryIndexUpdates" in p for p in params)
    assert any("sSESpecification" in p or "sseSpecification" in p for p in params)
    for name in ("UpdateTimeToLive", "CreateBackup", "DeleteBackup", "TagResource",
                 "PutResourcePolicy", "DeleteResourcePolicy", "CreateUser", "PutRolePolicy",
                 "CreateRole", "CreateAccessKey", "CreateKey"):
        events = lookup(s, name)
        assert events, f"no {name} event"
        assert all(e["readOnly"] is False for e in events), name
    described = lookup(s, "DescribeTable")
    assert described and all(e["readOnly"] is True and e["eventSource"] == "dynamodb.amazonaws.com"
                             for e in described)
