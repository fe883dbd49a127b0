"""DynamoDB authorizes every call: IAM users with no policy, policies through groups,
explicit denies, role sessions and fine-grained access (dynamodb:LeadingKeys), through
boto3 against a real server with real SigV4."""

import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import ACCESS_KEY, SECRET_KEY, policy

ACCOUNT = "000000000000"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"].get("Message", "")


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(server):
    return server.client("iam")


def new_user(server, iam, user):
    created = iam.create_user(UserName=user)["User"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return created, server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])


@pytest.fixture
def music(ddb):
    name = unique("acc")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"S": "original"}})
    return name


def table_arn(name):
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


def test_a_user_with_no_policy_is_denied_everything_and_nothing_changes(server, iam, ddb, music):
    user = unique("nopol")
    _, client = new_user(server, iam, user)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    code, message = error_of(client.put_item, TableName=music, Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: dynamodb:PutItem "
        f"on resource: {table_arn(music)} because no identity-based policy allows the dynamodb:PutItem action")
    calls = [
        (client.get_item, dict(TableName=music, Key=key)),
        (client.update_item, dict(TableName=music, Key=key, UpdateExpression="SET v = :v",
                                  ExpressionAttributeValues={":v": {"S": "changed"}})),
        (client.delete_item, dict(TableName=music, Key=key)),
        (client.query, dict(TableName=music, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "a"}})),
        (client.scan, dict(TableName=music)),
        (client.batch_get_item, dict(RequestItems={music: {"Keys": [key]}})),
        (client.batch_write_item, dict(RequestItems={music: [{"DeleteRequest": {"Key": key}}]})),
        (client.transact_write_items, dict(TransactItems=[{"Delete": {"TableName": music, "Key": key}}])),
        (client.transact_get_items, dict(TransactItems=[{"Get": {"TableName": music, "Key": key}}])),
        (client.describe_table, dict(TableName=music)),
        (client.update_table, dict(TableName=music, BillingMode="PROVISIONED",
                                   ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})),
        (client.create_backup, dict(TableName=music, BackupName="bak")),
        (client.tag_resource, dict(ResourceArn=table_arn(music), Tags=[{"Key": "k", "Value": "v"}])),
        (client.delete_table, dict(TableName=music)),
        (client.list_tables, dict()),
        (client.create_table, dict(TableName=unique("nope"), BillingMode="PAY_PER_REQUEST",
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])),
    ]
    for call, kwargs in calls:
        code, message = error_of(call, **kwargs)
        assert code == "AccessDeniedException", (call, message)
        assert f"user/{user} is not authorized to perform: dynamodb:" in message
    # Nothing changed: the item, the table, its tags and its backups are as they were.
    assert ddb.get_item(TableName=music, Key=key, ConsistentRead=True)["Item"]["v"] == {"S": "original"}
    assert ddb.scan(TableName=music)["Count"] == 1
    table = ddb.describe_table(TableName=music)["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb.list_tags_of_resource(ResourceArn=table_arn(music))["Tags"] == []
    assert ddb.list_backups(TableName=music)["BackupSummaries"] == []


def test_group_policy_explicit_deny_and_role_session(server, iam, ddb, music):
    # Reads allowed through a group's managed policy; writes are not.
    group, user = unique("readers"), unique("reader")
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName=unique("read"), PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": table_arn(music)}))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    _, reader = new_user(server, iam, user)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    assert error_of(reader.get_item, TableName=music, Key=key)[0] == "AccessDeniedException"
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert reader.get_item(TableName=music, Key=key)["Item"]["v"] == {"S": "original"}
    assert error_of(reader.put_item, TableName=music, Item=key)[0] == "AccessDeniedException"

    # An explicit deny beats an allow of everything.
    denied_user = unique("denied")
    _, denied = new_user(server, iam, denied_user)
    iam.put_user_policy(UserName=denied_user, PolicyName="p", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": table_arn(music)}))
    denied.put_item(TableName=music, Item={"pk": {"S": "d"}, "sk": {"S": "1"}})
    code, message = error_of(denied.delete_item, TableName=music, Key={"pk": {"S": "d"}, "sk": {"S": "1"}})
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in an identity-based policy")
    assert "Item" in ddb.get_item(TableName=music, Key={"pk": {"S": "d"}, "sk": {"S": "1"}}, ConsistentRead=True)

    # A role session has the role's policies, and denials name the assumed-role ARN.
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="get", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn(music)}))
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/{role}"}))
    creds = reader_sts(server, iam, user).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="s1")["Credentials"]
    session = boto3.client("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"], config=Config(retries={"max_attempts": 1}))
    assert session.get_item(TableName=music, Key=key)["Item"]["v"] == {"S": "original"}
    code, message = error_of(session.put_item, TableName=music, Item=key)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1 is not authorized")


def reader_sts(server, iam, user):
    """An STS client signed with a fresh key of `user`."""
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def test_leading_keys_confine_a_user_to_its_own_items(server, iam, ddb, music):
    user = unique("lk")
    created, client = new_user(server, iam, user)
    me = created["UserId"]
    iam.put_user_policy(UserName=user, PolicyName="own", PolicyDocument=policy({
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchGetItem",
                   "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        "Resource": table_arn(music),
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}}))
    mine = {"pk": {"S": me}, "sk": {"S": "1"}}
    theirs = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    client.put_item(TableName=music, Item=dict(mine, v={"S": "mine"}))
    assert client.get_item(TableName=music, Key=mine)["Item"]["v"] == {"S": "mine"}
    assert client.query(TableName=music, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": me}})["Count"] == 1
    assert len(client.batch_get_item(RequestItems={music: {"Keys": [mine]}})["Responses"][music]) == 1
    client.batch_write_item(RequestItems={music: [{"PutRequest": {"Item": dict(mine, sk={"S": "2"})}}]})
    client.transact_write_items(TransactItems=[{"Put": {"TableName": music, "Item": dict(mine, sk={"S": "3"})}}])

    denied = [
        (client.get_item, dict(TableName=music, Key=theirs)),
        (client.put_item, dict(TableName=music, Item=dict(theirs, v={"S": "stolen"}))),
        (client.query, dict(TableName=music, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "a"}})),
        (client.batch_get_item, dict(RequestItems={music: {"Keys": [mine, theirs]}})),
        (client.batch_write_item, dict(RequestItems={music: [{"PutRequest": {"Item": dict(mine, sk={"S": "4"})}},
                                                             {"DeleteRequest": {"Key": theirs}}]})),
        (client.transact_write_items, dict(TransactItems=[
            {"Put": {"TableName": music, "Item": dict(mine, sk={"S": "5"})}},
            {"Delete": {"TableName": music, "Key": theirs}}])),
    ]
    for call, kwargs in denied:
        code, message = error_of(call, **kwargs)
        assert code == "AccessDeniedException", (call, message)
    # Nothing of the refused requests happened, not even their allowed halves.
    assert ddb.get_item(TableName=music, Key=theirs, ConsistentRead=True)["Item"]["v"] == {"S": "original"}
    owned = ddb.query(TableName=music, KeyConditionExpression="pk = :p", ConsistentRead=True,
                      ExpressionAttributeValues={":p": {"S": me}})["Items"]
    assert sorted(i["sk"]["S"] for i in owned) == ["1", "2", "3"]


def test_attribute_level_access_over_http(server, iam, ddb):
    """The attribute-level policy of DynamoDB's guide (dynamodb:Attributes with
    dynamodb:Select = SPECIFIC_ATTRIBUTES): the user reads and writes only the listed
    attributes; a read of the whole item, or of or to another attribute, is refused and
    changes nothing."""
    table = unique("attrs")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "shown", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     GlobalSecondaryIndexes=[{"IndexName": "byshown",
                                              "KeySchema": [{"AttributeName": "shown", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "shown": {"S": "p"}, "secret": {"S": "s"}})
    user = unique("erin")
    _, erin = new_user(server, iam, user)
    iam.put_user_policy(UserName=user, PolicyName="attrs", PolicyDocument=policy({
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": [table_arn(table), f"{table_arn(table)}/index/*"],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "shown"]},
                      "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}}))
    key = {"pk": {"S": "a"}}

    got = erin.get_item(TableName=table, Key=key, ProjectionExpression="pk, shown")
    assert got["Item"] == {"pk": {"S": "a"}, "shown": {"S": "p"}}
    got = erin.query(TableName=table, KeyConditionExpression="pk = :p", ProjectionExpression="pk, shown",
                     ExpressionAttributeValues={":p": {"S": "a"}})
    assert got["Items"] == [{"pk": {"S": "a"}, "shown": {"S": "p"}}]
    got = erin.query(TableName=table, IndexName="byshown", KeyConditionExpression="shown = :s",
                     Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="pk",
                     ExpressionAttributeValues={":s": {"S": "p"}})
    assert got["Items"] == [{"pk": {"S": "a"}}]

    refused = [
        (erin.get_item, dict(TableName=table, Key=key)),
        (erin.get_item, dict(TableName=table, Key=key, ProjectionExpression="pk, secret")),
        (erin.query, dict(TableName=table, KeyConditionExpression="pk = :p", Select="ALL_ATTRIBUTES",
                          ExpressionAttributeValues={":p": {"S": "a"}})),
        (erin.query, dict(TableName=table, IndexName="byshown", KeyConditionExpression="shown = :s",
                          ExpressionAttributeValues={":s": {"S": "p"}})),
        (erin.put_item, dict(TableName=table, Item={"pk": {"S": "a"}, "shown": {"S": "x"}, "secret": {"S": "x"}})),
        (erin.update_item, dict(TableName=table, Key=key, UpdateExpression="SET secret = :v",
                                ExpressionAttributeValues={":v": {"S": "changed"}})),
        (erin.update_item, dict(TableName=table, Key=key, UpdateExpression="REMOVE secret")),
    ]
    for call, kwargs in refused:
        code, message = error_of(call, **kwargs)
        assert code == "AccessDeniedException", (kwargs, message)
        assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized"), message
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == {
        "pk": {"S": "a"}, "shown": {"S": "p"}, "secret": {"S": "s"}}

    # Writes of the listed attributes only are allowed.
    erin.put_item(TableName=table, Item={"pk": {"S": "b"}, "shown": {"S": "q"}})
    erin.update_item(TableName=table, Key=key, UpdateExpression="SET shown = :v",
                     ExpressionAttributeValues={":v": {"S": "updated"}})
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == {
        "pk": {"S": "a"}, "shown": {"S": "updated"}, "secret": {"S": "s"}}


def unvalidated(server, key, secret):
    """A client that sends what it is given (botocore checks no parameters)."""
    return boto3.client("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, parameter_validation=False))


def test_a_malformed_request_is_refused_as_such_before_authorization(server, iam, ddb, music):
    """AWS validates a request before it authorizes it: a caller with no policy who sends
    a malformed request gets the same ValidationException as the root, and a well-formed
    one is denied whether or not its table exists."""
    user = unique("val")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    client = unvalidated(server, key["AccessKeyId"], key["SecretAccessKey"])
    root = unvalidated(server, ACCESS_KEY, SECRET_KEY)
    item_key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    malformed = [
        ("get_item", dict(TableName="ab", Key=item_key)),
        ("describe_table", dict(TableName="a" * 300)),
        ("put_item", dict(TableName=music, Item=item_key, ConditionExpression="attribute_exists(")),
        ("put_item", dict(TableName=music, Item=item_key, ExpressionAttributeValues={":x": {"S": "x"}},
                          ConditionExpression="pk = :v")),
        ("delete_item", dict(TableName=music, Key=item_key, ReturnValues="ALL_NEW")),
        ("update_item", dict(TableName=music, Key=item_key, UpdateExpression="SET v = :v SET w = :v",
                             ExpressionAttributeValues={":v": {"S": "x"}})),
        ("get_item", dict(TableName=music, Key=item_key, ProjectionExpression="#a",
                          ExpressionAttributeNames={"#a": "v", "#b": "w"})),
        ("query", dict(TableName=music)),
        ("scan", dict(TableName=music, Segment=1)),
        ("batch_write_item", dict(RequestItems={})),
        ("batch_get_item", dict(RequestItems={music: {"Keys": [item_key], "ProjectionExpression": "#p",
                                                      "ExpressionAttributeNames": {"#p": "pk", "#q": "q"}}})),
        ("transact_write_items", dict(TransactItems=[])),
        ("transact_write_items", dict(TransactItems=[{"Put": {"TableName": music, "Item": item_key},
                                                      "Delete": {"TableName": music, "Key": item_key}}])),
        ("transact_get_items", dict(TransactItems=[])),
        ("create_table", dict(TableName=unique("val"), BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])),
    ]
    for operation, kwargs in malformed:
        want = error_of(getattr(root, operation), **kwargs)
        assert want[0] in ("ValidationException", "SerializationException"), (operation, want)
        assert error_of(getattr(client, operation), **kwargs) == want, (operation, kwargs)
    # Well-formed: denied, on a table that exists and on one that does not.
    for table in (music, unique("absent")):
        code, message = error_of(client.get_item, TableName=table, Key=item_key)
        assert code == "AccessDeniedException", message
        assert f"user/{user} is not authorized to perform: dynamodb:GetItem" in message
    # Nothing was written by any of it.
    assert ddb.scan(TableName=music)["Count"] == 1
    assert ddb.get_item(TableName=music, Key=item_key)["Item"]["v"] == {"S": "original"}
