"""Items through boto3: every type, exact numbers, expressions, and AWS's errors with
nothing changed by a failed request."""

import decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError


def code(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_all_types_round_trip(ddb, table):
    t = table("N")
    item = {
        "pk": {"S": "ünïcode ✓"}, "sk": {"N": "-12.50"},
        "s": {"S": ""}, "n": {"N": "99999999999999999999999999999999999999"},
        "small": {"N": "1E-130"}, "b": {"B": b"\x00\xff\x10"}, "t": {"BOOL": False}, "z": {"NULL": True},
        "m": {"M": {"deep": {"L": [{"N": "1"}, {"M": {"x": {"S": "y"}}}]}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01", b"\xfe"]},
    }
    ddb.put_item(TableName=t, Item=item)
    got = ddb.get_item(TableName=t, Key={"pk": item["pk"], "sk": {"N": "-12.5"}}, ConsistentRead=True)["Item"]
    assert got["sk"] == {"N": "-12.5"}
    assert got["n"] == item["n"]
    assert got["small"] == {"N": "0." + "0" * 129 + "1"}
    assert got["b"] == {"B": b"\x00\xff\x10"}
    assert got["m"] == item["m"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"\x01", b"\xfe"]


def test_exact_arithmetic_with_resource_api(server, table):
    t = table(None)
    res = boto3.resource("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
                         aws_access_key_id="AKIDSEALDBTEST0000001",
                         aws_secret_access_key="sealdbTestSecretKey0000000000000000000000")
    tb = res.Table(t)
    tb.put_item(Item={"pk": "x", "v": decimal.Decimal("0.1")})
    out = tb.update_item(Key={"pk": "x"}, UpdateExpression="SET v = v + :d ADD c :one",
                         ExpressionAttributeValues={":d": decimal.Decimal("0.2"), ":one": 1},
                         ReturnValues="ALL_NEW")
    assert out["Attributes"]["v"] == decimal.Decimal("0.3")
    assert out["Attributes"]["c"] == 1
    with pytest.raises(ClientError) as e:
        tb.put_item(Item={"pk": "x"}, ConditionExpression=Attr("pk").not_exists())
    assert code(e)[0] == "ConditionalCheckFailedException"


def test_condition_failure_returns_old_item_and_changes_nothing(ddb, table):
    t = table(None)
    ddb.put_item(TableName=t, Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "k"}}, UpdateExpression="SET v = :two",
                        ConditionExpression="v > :five",
                        ExpressionAttributeValues={":two": {"N": "2"}, ":five": {"N": "5"}},
                        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert code(e) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert e.value.response["Item"] == {"pk": {"S": "k"}, "v": {"N": "1"}}
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "k"}})["Item"]["v"] == {"N": "1"}


@pytest.mark.parametrize("kwargs, expected", [
    (dict(Item={"pk": {"N": "1"}}), "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"),
    (dict(Item={"other": {"S": "x"}}), "One or more parameter values were invalid: Missing the key pk in the item"),
    (dict(Item={"pk": {"S": ""}}), "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
    (dict(Item={"pk": {"S": "x" * 2049}}), "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"),
    (dict(Item={"pk": {"S": "k"}, "big": {"S": "x" * (400 * 1024)}}), "Item size has exceeded the maximum allowed size"),
    (dict(Item={"pk": {"S": "k"}, "s": {"SS": []}}), "1 validation error detected: One or more parameter values were invalid: An string set  may not be empty"),
    (dict(Item={"pk": {"S": "k"}, "n": {"N": "1E126"}}), "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    (dict(Item={"pk": {"S": "k"}, "n": {"N": "1" * 39}}), "Attempting to store more than 38 significant digits in a Number"),
    (dict(Item={"pk": {"S": "k"}}, ConditionExpression="a = :v"), "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"),
    (dict(Item={"pk": {"S": "k"}}, ConditionExpression="a = :v", ExpressionAttributeValues={":v": {"S": "1"}, ":w": {"S": "2"}}), "1 validation error detected: Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
])
def test_put_validation(ddb, table, kwargs, expected):
    t = table(None)
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=t, **kwargs)
    assert code(e) == ("ValidationException", expected)
    assert ddb.scan(TableName=t)["Count"] == 0


def test_update_syntax_error_and_key_update(ddb, table):
    t = table(None)
    ddb.put_item(TableName=t, Item={"pk": {"S": "k"}, "a": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "k"}}, UpdateExpression="SET a = ")
    assert code(e)[1].startswith('Invalid UpdateExpression: Syntax error; token: "<EOF>"')
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "k"}}, UpdateExpression="SET pk = :v",
                        ExpressionAttributeValues={":v": {"S": "z"}})
    assert code(e)[1] == "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=t, Key={"pk": {"S": "k"}, "extra": {"S": "x"}})
    assert code(e)[1] == "The provided key element does not match the schema"
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "k"}})["Item"] == {"pk": {"S": "k"}, "a": {"N": "1"}}


def test_return_values_and_capacity(ddb, table):
    t = table(None)
    out = ddb.put_item(TableName=t, Item={"pk": {"S": "k"}, "a": {"S": "x" * 1500}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 2.0
    out = ddb.update_item(TableName=t, Key={"pk": {"S": "k"}}, UpdateExpression="SET b = :b REMOVE a",
                          ExpressionAttributeValues={":b": {"N": "7"}}, ReturnValues="UPDATED_OLD")
    assert list(out["Attributes"].keys()) == ["a"]
    out = ddb.get_item(TableName=t, Key={"pk": {"S": "k"}}, ReturnConsumedCapacity="TOTAL", ProjectionExpression="b")
    assert out["Item"] == {"b": {"N": "7"}}
    assert out["ConsumedCapacity"]["CapacityUnits"] == 0.5
    out = ddb.delete_item(TableName=t, Key={"pk": {"S": "k"}}, ReturnValues="ALL_OLD")
    assert out["Attributes"] == {"pk": {"S": "k"}, "b": {"N": "7"}}


def test_paginators(ddb, table):
    t = table("N")
    for i in range(0, 120, 25):
        ddb.batch_write_item(RequestItems={t: [
            {"PutRequest": {"Item": {"pk": {"S": "p%d" % (j % 3)}, "sk": {"N": str(j)}}}}
            for j in range(i, min(i + 25, 120))
        ]})
    seen = set()
    for page in ddb.get_paginator("scan").paginate(TableName=t, PaginationConfig={"PageSize": 7}):
        for it in page["Items"]:
            k = (it["pk"]["S"], it["sk"]["N"])
            assert k not in seen
            seen.add(k)
    assert len(seen) == 120
    sks = []
    for page in ddb.get_paginator("query").paginate(
            TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}},
            ScanIndexForward=False, PaginationConfig={"PageSize": 5}):
        sks += [int(it["sk"]["N"]) for it in page["Items"]]
    assert sks == sorted([j for j in range(120) if j % 3 == 1], reverse=True)


def test_updated_old_and_new_project_the_paths_as_aws(ddb, table):
    """UPDATED_OLD / UPDATED_NEW are the update's paths projected on the old / new item,
    as DynamoDB answers (ScyllaDB Alternator's test_update_item_returnvalues_nested, run
    against AWS): a removed list element leaves its shifted successor at that index in
    UPDATED_NEW; an element set past the end is not returned; a path that was not there
    is not in UPDATED_OLD."""
    t = table(None)
    key = {"pk": {"S": "lists"}}
    n = lambda i: {"N": str(i)}
    ddb.put_item(TableName=t, Item={**key, "L": {"L": [n(i) for i in range(12)]},
                                    "a": {"M": {"b": {"S": "dog"}, "c": {"L": [n(1), n(2), n(3)]}}}})

    def update(rv, expr, values=None):
        kw = {"ExpressionAttributeValues": values} if values else {}
        return ddb.update_item(TableName=t, Key=key, UpdateExpression=expr, ReturnValues=rv, **kw).get("Attributes")

    assert update("UPDATED_OLD", "SET L[5] = :v REMOVE L[9]", {":v": n(50)}) == {"L": {"L": [n(5), n(9)]}}
    ddb.put_item(TableName=t, Item={**key, "L": {"L": [n(i) for i in range(12)]},
                                    "a": {"M": {"b": {"S": "dog"}, "c": {"L": [n(1), n(2), n(3)]}}}})
    assert update("UPDATED_NEW", "SET L[5] = :v REMOVE L[9]", {":v": n(50)}) == {"L": {"L": [n(50), n(10)]}}
    assert ddb.get_item(TableName=t, Key=key, ConsistentRead=True)["Item"]["L"]["L"] == [
        n(i) for i in (0, 1, 2, 3, 4, 50, 6, 7, 8, 10, 11)]
    assert update("UPDATED_OLD", "SET a.c[1] = :v, a.b = :w", {":v": n(8), ":w": {"S": "yo"}}) == {
        "a": {"M": {"b": {"S": "dog"}, "c": {"L": [n(2)]}}}}
    assert update("UPDATED_OLD", "REMOVE a.c[1], a.c[3]") == {"a": {"M": {"c": {"L": [n(8)]}}}}
    assert update("UPDATED_NEW", "SET a.c[100] = :v", {":v": n(70)}) is None
    assert update("UPDATED_NEW", "REMOVE a.c[1]") == {"a": {"M": {"c": {"L": [n(70)]}}}}
    assert update("UPDATED_OLD", "SET a.x1 = :v", {":v": n(8)}) is None
    assert update("UPDATED_NEW", "SET a.x2 = :v", {":v": n(8)}) == {"a": {"M": {"x2": n(8)}}}
