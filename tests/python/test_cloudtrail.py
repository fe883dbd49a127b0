"""CloudTrail's LookupEvents over the audit log, through the aws CLI and boto3."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

from test_kms_cli import make_user

ACCOUNT = "000000000000"


def cli(server, creds, *args):
    exe = shutil.which("aws", path=os.path.dirname(sys.executable)) or "aws"
    env = dict(server.cli_env(), AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1])
    p = subprocess.run([exe, "--endpoint-url", server.endpoint, "--output", "json", *args],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout) if p.stdout.strip() else None


def create_table(ddb, name):
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")


def test_lookup_events_finds_management_calls_with_their_user(fresh_server):
    s = fresh_server.start()
    s.stop()
    alice = make_user(s, "alice")
    s.start()
    s.client("iam").put_user_policy(UserName="alice", PolicyName="ddb", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "cloudtrail:LookupEvents"],
                                                "Resource": "*"}]}))
    ddb_alice = s.client(key=alice[0], secret=alice[1])
    create_table(ddb_alice, "Music")
    ddb_alice.put_item(TableName="Music", Item={"pk": {"S": "SecretItemValue"}})
    ddb_alice.update_time_to_live(TableName="Music",
                                  TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    with pytest.raises(ClientError):
        create_table(ddb_alice, "Music")  # ResourceInUseException, recorded with its error

    out = cli(s, alice, "cloudtrail", "lookup-events",
              "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateTable")
    events = out["Events"]
    assert len(events) == 2
    failed, created = events  # newest first
    assert created["Username"] == "alice" and created["EventSource"] == "dynamodb.amazonaws.com"
    assert created["AccessKeyId"] == alice[0] and created["ReadOnly"] == "false"
    assert created["Resources"] == [{"ResourceType": "AWS::DynamoDB::Table",
                                     "ResourceName": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Music"}]
    record = json.loads(created["CloudTrailEvent"])
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["requestParameters"]["tableName"] == "Music"
    assert record["requestParameters"]["keySchema"] == [{"attributeName": "pk", "keyType": "HASH"}]
    assert record["sourceIPAddress"] == "127.0.0.1" and "errorCode" not in record
    bad = json.loads(failed["CloudTrailEvent"])
    assert bad["errorCode"] == "ResourceInUseException" and bad["errorMessage"]

    # Other attributes; item operations are data events, not recorded here.
    by_user = cli(s, alice, "cloudtrail", "lookup-events",
                  "--lookup-attributes", "AttributeKey=Username,AttributeValue=alice")["Events"]
    assert [e["EventName"] for e in by_user] == ["CreateTable", "UpdateTimeToLive", "CreateTable"]
    assert cli(s, alice, "cloudtrail", "lookup-events", "--lookup-attributes",
               "AttributeKey=ResourceName,AttributeValue=Music")["Events"][0]["EventName"] == "CreateTable"
    assert cli(s, alice, "cloudtrail", "lookup-events", "--lookup-attributes",
               "AttributeKey=EventId,AttributeValue=" + created["EventId"])["Events"] == [created]
    root = s.client("cloudtrail")
    by_root = root.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}])["Events"]
    assert [e["EventName"] for e in by_root] == ["PutUserPolicy"]  # alice's policy, given by the root
    everything = json.dumps(root.lookup_events()["Events"], default=str)
    assert "SecretItemValue" not in everything


def test_lookup_events_pages_filters_by_time_and_validates(fresh_server):
    s = fresh_server.start()
    kms = s.client("kms")
    ct = s.client("cloudtrail")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(7):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=b"\x01" * 40)

    first = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
                             MaxResults=3)
    assert len(first["Events"]) == 3 and "NextToken" in first
    assert first["Events"][0]["EventName"] == "Decrypt"
    assert json.loads(first["Events"][0]["CloudTrailEvent"])["errorCode"] == "InvalidCiphertextException"
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        PaginationConfig={"PageSize": 3})
    names = [e["EventName"] for p in pages for e in p["Events"]]
    assert names == ["Decrypt"] + ["Encrypt"] * 7 + ["CreateKey"]
    assert [e["EventName"] for e in ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])["Events"]] == ["CreateKey"]
    # A range in the past holds nothing; one around now holds everything.
    newest = first["Events"][0]["EventTime"]
    import datetime
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    assert ct.lookup_events(StartTime=past, EndTime=past + datetime.timedelta(days=1))["Events"] == []
    assert len(ct.lookup_events(StartTime=past, EndTime=newest + datetime.timedelta(seconds=5))["Events"]) == 9

    def code(**kwargs):
        with pytest.raises(ClientError) as e:
            ct.lookup_events(**kwargs)
        return e.value.response["Error"]["Code"]
    assert code(MaxResults=51) == "InvalidMaxResultsException"
    assert code(StartTime=newest, EndTime=past) == "InvalidTimeRangeException"
    assert code(NextToken="garbage") == "InvalidNextTokenException"
    assert code(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"},
                                  {"AttributeKey": "Username", "AttributeValue": "b"}]) == "InvalidLookupAttributesException"


def test_iam_and_sts_calls_are_recorded_without_secrets(fresh_server):
    s = fresh_server.start()
    iam = s.client("iam")
    iam.create_user(UserName="erin")
    iam.create_login_profile(UserName="erin", Password="Erin-Secret-Passw0rd!")
    key = iam.create_access_key(UserName="erin")["AccessKey"]
    erin_iam = s.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError):
        erin_iam.create_user(UserName="mallory")  # no policy: denied, and recorded so
    s.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"]).get_caller_identity()

    trail = s.client("cloudtrail")

    def events(name):
        found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        return [json.loads(e["CloudTrailEvent"]) for e in found["Events"]]

    denied, created = events("CreateUser")  # newest first
    assert created["eventSource"] == "iam.amazonaws.com" and "errorCode" not in created
    assert created["requestParameters"] == {"userName": "erin"}
    assert created["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert denied["errorCode"] == "AccessDenied" and denied["requestParameters"] == {"userName": "mallory"}
    assert denied["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/erin"
    [caller] = events("GetCallerIdentity")
    assert caller["eventSource"] == "sts.amazonaws.com" and caller["readOnly"] is True
    [profile] = events("CreateLoginProfile")
    assert profile["requestParameters"] == {"userName": "erin"}
    everything = json.dumps(trail.lookup_events(MaxResults=50)["Events"], default=str)
    assert "Erin-Secret-Passw0rd!" not in everything
    assert key["SecretAccessKey"] not in everything


def test_lookup_events_needs_cloudtrail_permission(server):
    iam = server.client("iam")
    user = "trail-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    trail = server.client("cloudtrail", key=k["AccessKeyId"], secret=k["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        trail.lookup_events()
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert err["Message"] == (f"User: arn:aws:iam::000000000000:user/{user} is not authorized to perform: "
                              "cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action")
    iam.put_user_policy(UserName=user, PolicyName="read-trail", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]}))
    assert "Events" in trail.lookup_events(MaxResults=1)
