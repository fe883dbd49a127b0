"""What AWS checks first: expression members before parsing, expressions before the
table, resource-policy revision texts, AttributesToGet with a non-specific Select (as
moto's AWS-verified suite records AWS's answers)."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError


def message(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    return e.value.response["Error"]["Message"]


@pytest.fixture
def table(ddb):
    name = "Co" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    return name


def test_expression_members_are_checked_before_they_are_parsed(ddb, table):
    assert message(ddb.query, TableName=table, KeyConditionExpression="pk = sth", FilterExpression="") == \
        "Invalid FilterExpression: The expression can not be empty;"
    assert message(ddb.scan, TableName=table, FilterExpression="attr = loc",
                   ExpressionAttributeValues={"loc": {"S": "x"}}) == \
        'ExpressionAttributeValues contains invalid key: Syntax error; key: "loc"'
    assert message(ddb.query, TableName=table, KeyConditionExpression="attr = loc",
                   ExpressionAttributeValues={"loc": {"S": "x"}}) == \
        'ExpressionAttributeValues contains invalid key: Syntax error; key: "loc"'
    assert message(ddb.query, TableName=table, KeyConditionExpression="(#0 = x)",
                   ExpressionAttributeNames={"#0": "pk", "#count": "count"}) == \
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}"
    # #c is not mentioned by "#count" (the placeholder ends at a name character).
    assert message(ddb.scan, TableName=table, FilterExpression="#count = :v",
                   ExpressionAttributeNames={"#count": "n", "#c": "m"},
                   ExpressionAttributeValues={":v": {"S": "x"}}) == \
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#c}"
    # Before the table is looked for.
    assert message(ddb.batch_get_item, RequestItems={"NoSuchTable": {
        "Keys": [{"pk": {"S": "a"}}], "ProjectionExpression": "#p",
        "ExpressionAttributeNames": {"#p": "pk", "#count": "count"}}}) == \
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}"


def test_attributes_to_get_with_a_select_that_reads_everything(ddb, table):
    for select, what in [("ALL_ATTRIBUTES", "ALL_ATTRIBUTES"), ("COUNT", "only the Count")]:
        assert message(ddb.scan, TableName=table, Select=select, AttributesToGet=["pk"]) == \
            f"Cannot specify the AttributesToGet when choosing to get {what}"
        assert message(ddb.query, TableName=table, Select=select, AttributesToGet=["pk"],
                       KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}) == \
            f"1 validation error detected: Cannot specify the AttributesToGet when choosing to get {what}"


def test_resource_policy_revision_texts(ddb, table):
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    doc = lambda action: json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": action, "Resource": arn}]})
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=doc("dynamodb:GetItem"))["RevisionId"]
    second = ddb.put_resource_policy(ResourceArn=arn, Policy=doc("dynamodb:PutItem"), ExpectedRevisionId=first)["RevisionId"]
    def policy_error(call, **kwargs):
        with pytest.raises(ClientError) as e:
            call(ResourceArn=arn, **kwargs)
        assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"
        return e.value.response["Error"]["Message"]
    assert policy_error(ddb.put_resource_policy, Policy=doc("dynamodb:Query"), ExpectedRevisionId=first) == (
        f"Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id {first}, "
        f"but the policy associated to target table {table} has revision id {second}.")
    assert policy_error(ddb.put_resource_policy, Policy=doc("dynamodb:Query"), ExpectedRevisionId="NO_POLICY") == (
        f"Resource-based policy not found for the provided ResourceArn: Requested policy update expecting none to be present "
        f"for table {table}, but a policy exists with revision id {second}.")
    assert policy_error(ddb.delete_resource_policy, ExpectedRevisionId="unknown") == (
        f"Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id unknown, "
        f"but the policy associated to target table {table} has revision id {second}.")
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == second
    with pytest.raises(ClientError) as e:
        ddb.get_resource_policy(ResourceArn=arn + "nope")
    assert e.value.response["Error"]["Message"] == f"Requested resource not found: Table: {table}nope not found"
