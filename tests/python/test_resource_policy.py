"""DynamoDB resource-based policies through boto3: PutResourcePolicy, GetResourcePolicy and
DeleteResourcePolicy on tables and streams, with RevisionId semantics and AWS's errors."""

import json

import pytest
from botocore.exceptions import ClientError


def policy_for(arn, action="dynamodb:GetItem"):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "reader",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:user/reader"},
            "Action": action,
            "Resource": arn,
        }],
    })


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_table_policy_round_trip(ddb, table):
    name = table("S")
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    code, message = error_of(lambda: ddb.get_resource_policy(ResourceArn=arn))
    assert code == "PolicyNotFoundException"
    assert message == f"Resource-based policy not found for the provided ResourceArn: {arn}"

    doc = policy_for(arn)
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=doc, ExpectedRevisionId="NO_POLICY")["RevisionId"]
    # The same document again is idempotent: same revision.
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=doc)["RevisionId"] == first
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert got["Policy"] == doc and got["RevisionId"] == first

    # A stale or absent-policy expectation is refused and changes nothing.
    assert error_of(lambda: ddb.put_resource_policy(ResourceArn=arn, Policy=policy_for(arn, "dynamodb:Query"),
                                                    ExpectedRevisionId="NO_POLICY"))[0] == "PolicyNotFoundException"
    assert error_of(lambda: ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId="12345"))[0] == "PolicyNotFoundException"
    assert ddb.get_resource_policy(ResourceArn=arn)["Policy"] == doc

    assert ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=first)["RevisionId"] == first
    assert error_of(lambda: ddb.get_resource_policy(ResourceArn=arn))[0] == "PolicyNotFoundException"
    assert error_of(lambda: ddb.delete_resource_policy(ResourceArn=arn))[0] == "PolicyNotFoundException"


def test_invalid_policies_are_refused_with_the_reason(ddb, table):
    name = table("S")
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    code, message = error_of(lambda: ddb.put_resource_policy(ResourceArn=arn, Policy="{not json"))
    assert code == "ValidationException"
    assert message == "One or more parameter values were invalid: Invalid policy document: Syntax errors in policy."
    no_principal = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": arn}]})
    code, message = error_of(lambda: ddb.put_resource_policy(ResourceArn=arn, Policy=no_principal))
    assert code == "ValidationException" and "Principal" in message
    unknown_operator = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "dynamodb:*", "Resource": arn,
        "Condition": {"StringEqualz": {"aws:username": "x"}}}]})
    assert error_of(lambda: ddb.put_resource_policy(ResourceArn=arn, Policy=unknown_operator))[0] == "ValidationException"
    assert error_of(lambda: ddb.get_resource_policy(ResourceArn=arn))[0] == "PolicyNotFoundException"


def test_stream_policies_are_separate_and_missing_resources_are_not_found(ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    described = ddb.describe_table(TableName=name)["Table"]
    stream_arn, table_arn = described["LatestStreamArn"], described["TableArn"]
    doc = policy_for(stream_arn, "dynamodb:GetRecords")
    ddb.put_resource_policy(ResourceArn=stream_arn, Policy=doc)
    assert ddb.get_resource_policy(ResourceArn=stream_arn)["Policy"] == doc
    assert error_of(lambda: ddb.get_resource_policy(ResourceArn=table_arn))[0] == "PolicyNotFoundException"

    missing = table_arn.rsplit("/", 1)[0] + "/NoSuchTable"
    assert error_of(lambda: ddb.get_resource_policy(ResourceArn=missing))[0] == "ResourceNotFoundException"
    # A policy given at CreateTable is there from the start.
    created = table("S", ResourcePolicy=policy_for("*"))
    arn = ddb.describe_table(TableName=created)["Table"]["TableArn"]
    assert json.loads(ddb.get_resource_policy(ResourceArn=arn)["Policy"])["Statement"][0]["Sid"] == "reader"
