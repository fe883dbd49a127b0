"""Validation and edge cases answered as AWS answers them, one test per case."""

import pytest
from botocore.exceptions import ClientError


def test_update_that_only_removes_creates_no_item(ddb, table):
    name = table()
    key = {"pk": {"S": "missing"}, "sk": {"S": "x"}}
    # REMOVE on a missing item: nothing is created, and nothing is returned.
    r = ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE a, b", ReturnValues="ALL_NEW")
    assert "Attributes" not in r
    assert "Item" not in ddb.get_item(TableName=name, Key=key, ConsistentRead=True)
    r = ddb.update_item(TableName=name, Key=key, UpdateExpression="DELETE s :v",
                        ExpressionAttributeValues={":v": {"SS": ["a"]}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    assert "Item" not in ddb.get_item(TableName=name, Key=key, ConsistentRead=True)
    # The legacy form too: AttributeUpdates DELETE.
    ddb.update_item(TableName=name, Key=key, AttributeUpdates={"a": {"Action": "DELETE"}})
    assert "Item" not in ddb.get_item(TableName=name, Key=key, ConsistentRead=True)
    # An update that sets something, or nothing at all, creates the item.
    ddb.update_item(TableName=name, Key=key)
    assert ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"] == key
    # On an existing item REMOVE works as always.
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET a = :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    r = ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE a", ReturnValues="ALL_NEW")
    assert r["Attributes"] == key


def test_query_select_with_key_condition_expression(ddb, table):
    name = table()
    for i in range(3):
        ddb.put_item(TableName=name, Item={"pk": {"S": "q"}, "sk": {"S": str(i)}, "v": {"N": str(i)}})
    r = ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="COUNT",
                  ExpressionAttributeValues={":p": {"S": "q"}})
    assert r["Count"] == 3 and "Items" not in r
    r = ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="ALL_ATTRIBUTES",
                  ExpressionAttributeValues={":p": {"S": "q"}})
    assert len(r["Items"]) == 3
    r = ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="SPECIFIC_ATTRIBUTES",
                  ProjectionExpression="v", ExpressionAttributeValues={":p": {"S": "q"}})
    assert r["Items"][0] == {"v": {"N": "0"}}


def test_tags_on_index_stream_and_malformed_arns(ddb):
    import uuid
    name = "tg" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                           {"AttributeName": "g", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     GlobalSecondaryIndexes=[{"IndexName": "gix", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    for bad in [arn + "/index/gix", arn + "/stream/2026-01-01T00:00:00.000", "arn:aws:dynamodb:us-east-1:x:table/abc",
                "arn:aws:dynamodb:us-east-1:000000000000:table/ab", "a:b:c:d:e:f/g"]:
        for call in (lambda: ddb.tag_resource(ResourceArn=bad, Tags=[{"Key": "a", "Value": "b"}]),
                     lambda: ddb.list_tags_of_resource(ResourceArn=bad)):
            with pytest.raises(ClientError) as e:
                call()
            assert e.value.response["Error"]["Code"] == "ValidationException", bad
            assert e.value.response["Error"]["Message"] == f"Invalid TableArn: Invalid ResourceArn provided as input {bad}"
    # A well-formed ARN of no table is not found.
    missing = arn + "zz"
    with pytest.raises(ClientError) as e:
        ddb.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}])
    assert e.value.response["Error"]["Message"] == f"Requested resource not found: ResourcArn: {missing} not found"
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]


def test_delete_table_describes_it_deleting_without_global_indexes(ddb):
    import uuid
    name = "dt" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                           {"AttributeName": "g", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     GlobalSecondaryIndexes=[{"IndexName": "gix", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])
    desc = ddb.delete_table(TableName=name)["TableDescription"]
    assert desc["TableStatus"] == "DELETING" and desc["TableName"] == name
    assert "GlobalSecondaryIndexes" not in desc


def test_duplicate_attribute_definition_and_empty_update_table(ddb, table):
    import uuid
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="dup" + uuid.uuid4().hex[:8],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    # AWS's text (ack-api-quirks DDB-TABLE-042 / 127, also for two different types).
    assert e.value.response["Error"]["Message"] == "Attribute Name is duplicated: pk"
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="dup" + uuid.uuid4().hex[:8],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "pk", "AttributeType": "N"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert e.value.response["Error"]["Message"] == "Attribute Name is duplicated: pk"
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=table())
    assert e.value.response["Error"]["Message"] == (
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates "
        "or SSESpecification or ReplicaUpdates is required")


def test_expression_over_4_kb_is_reported_as_such(ddb, table):
    name = table()
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "b"}},
                        UpdateExpression="SET a = :v" + " " * 5000, ExpressionAttributeValues={":v": {"S": "x"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size; expression size: 5010")


def test_request_checks_worded_per_operation(ddb, table):
    """PutItem / UpdateItem / DeleteItem and Query report request checks as a one-error
    validation report; GetItem and Scan send the same message bare (as AWS, 2026)."""
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    unused = "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}"

    def message(call):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ValidationException"
        return e.value.response["Error"]["Message"]

    prefixed = "1 validation error detected: " + unused
    assert message(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression="SET a = :v",
                                           ExpressionAttributeNames={"#n": "x"},
                                           ExpressionAttributeValues={":v": {"S": "1"}})) == prefixed
    assert message(lambda: ddb.delete_item(TableName=name, Key=key, ConditionExpression="attribute_exists(a)",
                                           ExpressionAttributeNames={"#n": "x"})) == prefixed
    assert message(lambda: ddb.get_item(TableName=name, Key=key, ProjectionExpression="a",
                                        ExpressionAttributeNames={"#n": "x"})) == unused
    assert message(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression="")) == (
        "1 validation error detected: Invalid UpdateExpression: The expression can not be empty;")
    select = "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
    assert message(lambda: ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="ALL_PROJECTED_ATTRIBUTES",
                                     ExpressionAttributeValues={":p": {"S": "a"}})) == "1 validation error detected: " + select
    assert message(lambda: ddb.scan(TableName=name, Select="ALL_PROJECTED_ATTRIBUTES")) == select
    # Checks made after the request is read stay bare.
    assert message(lambda: ddb.update_item(TableName=name, Key={"pk": {"S": "x" * 2049}, "sk": {"S": "b"}},
                                           UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"S": "1"}})
                   ).startswith("One or more parameter values were invalid: Size of hashkey")


def test_batch_get_by_table_arn_answers_under_that_arn(ddb, table):
    name = table()
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    ddb.put_item(TableName=arn, Item=dict(key, v={"S": "1"}))
    got = ddb.batch_get_item(RequestItems={arn: {"Keys": [key]}})["Responses"]
    assert got == {arn: [dict(key, v={"S": "1"})]}
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [key]}})["Responses"]
    assert got == {name: [dict(key, v={"S": "1"})]}


def _error(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_legacy_comparison_operator_argument_types(ddb, table):
    """Each ComparisonOperator takes only some AttributeValue types (the API reference's
    ComparisonOperator list): the wrong one is named, before anything is read."""
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    cases = [
        ("BETWEEN", [{"SS": ["1"]}, {"SS": ["2"]}], "SS"),
        ("IN", [{"S": "x"}, {"L": []}], "L"),
        ("CONTAINS", [{"SS": ["1"]}], "SS"),
        ("NOT_CONTAINS", [{"NS": ["1"]}], "NS"),
        ("LT", [{"BOOL": True}], "BOOL"),
        ("GE", [{"BS": [b"1"]}], "BS"),
        ("BEGINS_WITH", [{"N": "1"}], "N"),
    ]
    for op, args, kind in cases:
        got = _error(lambda: ddb.put_item(TableName=name, Item=key,
                                          Expected={"a": {"ComparisonOperator": op, "AttributeValueList": args}}))
        assert got == ("ValidationException", "One or more parameter values were invalid: ComparisonOperator "
                       f"{op} is not valid for {kind} AttributeValue type"), op
        got = _error(lambda: ddb.scan(TableName=name, ScanFilter={"a": {"ComparisonOperator": op,
                                                                      "AttributeValueList": args}}))
        assert got[1].endswith(f"ComparisonOperator {op} is not valid for {kind} AttributeValue type"), op
    assert "Item" not in ddb.get_item(TableName=name, Key=key)
    # The argument count is checked first; EQ takes any type.
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={
        "a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"SS": ["1"]}]}}))[1] == (
        "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={
        "a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"L": []}]}}))[0] == "ConditionalCheckFailedException"
    # Already as AWS (checked, unchanged): empty or contradictory Expected entries.
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={"a": {}}))[1] == (
        "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={
        "a": {"Exists": False, "Value": {"S": "1"}}}))[1] == (
        "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={
        "a": {"Value": {"S": "1"}, "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "1"}]}}))[1] == (
        "One or more parameter values were invalid: Value or Exists cannot be used with ComparisonOperator for "
        "Attribute: a")


def test_legacy_between_and_in_with_mixed_types(ddb, table):
    """AWS refuses IN / BETWEEN arguments of different types in a legacy condition
    (Expected, ScanFilter, QueryFilter, KeyConditions) with its own wording, not the
    FilterExpression one, and writes nothing."""
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    same = "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
    for op, args in [("BETWEEN", [{"N": "1"}, {"S": "z"}]), ("BETWEEN", [{"S": "a"}, {"B": b"5"}]),
                     ("IN", [{"S": "b"}, {"N": "1"}])]:
        cond = {"ComparisonOperator": op, "AttributeValueList": args}
        assert _error(lambda: ddb.put_item(TableName=name, Item=key, Expected={"a": cond})) == (
            "ValidationException", same), op
        assert _error(lambda: ddb.scan(TableName=name, ScanFilter={"a": cond})) == ("ValidationException", same), op
        assert _error(lambda: ddb.query(TableName=name, KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}, QueryFilter={"a": cond})) == (
            "ValidationException", same), op
    assert "Item" not in ddb.get_item(TableName=name, Key=key)
    # An argument of a type the operator never takes is named first.
    assert _error(lambda: ddb.scan(TableName=name, ScanFilter={"a": {
        "ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"SS": ["z"]}]}}))[1] == (
        "One or more parameter values were invalid: ComparisonOperator BETWEEN is not valid for SS AttributeValue type")


def test_functions_not_allowed_in_a_place(ddb, table):
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    v = {":v": {"S": "x"}}
    cond = "Invalid ConditionExpression: "
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, ConditionExpression="if_not_exists(a, :v) = :v",
                                       ExpressionAttributeValues=v))[1] == (
        cond + "The function is not allowed in a condition expression; function: if_not_exists")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, ConditionExpression="a = list_append(a, :l)",
                                       ExpressionAttributeValues={":l": {"L": []}}))[1] == (
        cond + "The function is not allowed in a condition expression; function: list_append")
    assert _error(lambda: ddb.scan(TableName=name, FilterExpression="if_not_exists(a, :v)",
                                   ExpressionAttributeValues=v))[1] == (
        "Invalid FilterExpression: The function is not allowed in a condition expression; function: if_not_exists")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, ConditionExpression="begins_with(a, :v) = :v",
                                       ExpressionAttributeValues=v))[1] == (
        cond + "The function is not allowed to be used this way in an expression; function: begins_with")
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, ConditionExpression="size(a)"))[1] == (
        cond + "The function is not allowed to be used this way in an expression; function: size")
    upd = "Invalid UpdateExpression: The function is not allowed in an update expression; function: "
    for f, text in [("attribute_exists", "attribute_exists(b)"), ("size", "size(b)"),
                    ("contains", "contains(b, :v)")]:
        extra = {"ExpressionAttributeValues": v} if ":v" in text else {}
        assert _error(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression=f"SET a = {text}",
                                              **extra))[1] == upd + f
    assert _error(lambda: ddb.put_item(TableName=name, Item=key, ConditionExpression="foo(a)"))[1] == (
        cond + "Invalid function name; function: foo")
    assert "Item" not in ddb.get_item(TableName=name, Key=key)


def test_key_schema_names_up_to_255_bytes(ddb):
    import uuid
    long_name = "k" * 256
    name = "kn" + uuid.uuid4().hex[:8]
    code, msg = _error(lambda: ddb.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": long_name, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": long_name, "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST"))
    assert code == "ValidationException"
    assert msg == ("2 validation errors detected: "
                   f"Value '{long_name}' at 'attributeDefinitions.1.member.attributeName' failed to satisfy "
                   "constraint: Member must have length less than or equal to 255; "
                   f"Value '{long_name}' at 'keySchema.1.member.attributeName' failed to satisfy constraint: "
                   "Member must have length less than or equal to 255")
    assert name not in ddb.list_tables()["TableNames"]
    ok = "k" * 255
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": ok, "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": ok, "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb.delete_table(TableName=name)


def test_checked_and_already_as_aws(ddb, table):
    """Cases of the issue's list that answered as AWS already; kept so they stay so."""
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    # Scan/Query Select with AttributesToGet.
    assert _error(lambda: ddb.scan(TableName=name, Select="ALL_ATTRIBUTES", AttributesToGet=["a"]))[1] == (
        "Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES")
    assert _error(lambda: ddb.scan(TableName=name, Select="COUNT", AttributesToGet=["a"]))[1] == (
        "Cannot specify the AttributesToGet when choosing to get only the Count")
    assert ddb.scan(TableName=name, Select="SPECIFIC_ATTRIBUTES", AttributesToGet=["a"])["Count"] == 0
    # Key values: 2048 bytes for a partition key, 1024 for a sort key; items up to 400 KB.
    assert _error(lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "x" * 2049}, "sk": {"S": "b"}}))[1] == (
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
    assert _error(lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "x" * 1025}}))[1] == (
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit "
        "of 1024 bytes")
    assert _error(lambda: ddb.put_item(TableName=name, Item={**key, "big": {"S": "x" * 409600}}))[1] == (
        "Item size has exceeded the maximum allowed size")
    # Update paths: past the end of a list appends (SET) or does nothing (REMOVE); through
    # a scalar, an index on a map or a missing parent is refused.
    ddb.put_item(TableName=name, Item={**key, "L": {"L": [{"S": "0"}]}, "M": {"M": {}}, "S": {"S": "s"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET L[5] = :v",
                    ExpressionAttributeValues={":v": {"S": "x"}})
    r = ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE L[9]", ReturnValues="ALL_NEW")
    assert r["Attributes"]["L"] == {"L": [{"S": "0"}, {"S": "x"}]}
    for path in ["S.x", "M[0]", "nope.x"]:
        assert _error(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression=f"SET {path} = :v",
                                              ExpressionAttributeValues={":v": {"S": "x"}}))[1] == (
            "The document path provided in the update expression is invalid for update")
    assert _error(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression="SET a = :nope"))[1] == (
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
        "attribute value: :nope")
    assert _error(lambda: ddb.update_item(TableName=name, Key=key, UpdateExpression="SET #n = :v",
                                          ExpressionAttributeValues={":v": {"S": "x"}}))[1] == (
        "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; "
        "attribute name: #n")


def test_attribute_names_less_than_64_kb(ddb, table):
    """AWS: an attribute name, top-level or nested, is less than 64 KB (65535 bytes is
    kept, 65536 refused with ValidationException, nothing written)."""
    name = table()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    ddb.put_item(TableName=name, Item=dict(key, **{"x" * 65535: {"S": "v"}}))
    assert "x" * 65535 in ddb.get_item(TableName=name, Key=key)["Item"]
    big = "y" * 65536
    msg = "Attribute name is too large, must be less than 65536 bytes"
    key2 = {"pk": {"S": "c"}, "sk": {"S": "d"}}
    assert _error(lambda: ddb.put_item(TableName=name, Item=dict(key2, **{big: {"S": "v"}}))) == (
        "ValidationException", msg)
    assert _error(lambda: ddb.put_item(TableName=name, Item=dict(key2, m={"M": {big: {"S": "v"}}}))) == (
        "ValidationException", msg)
    assert "Item" not in ddb.get_item(TableName=name, Key=key2)
