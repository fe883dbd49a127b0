"""Queries, scans, secondary indexes, batches, transactions and the legacy parameters,
through boto3 (client and resource APIs, paginators) against a real server."""

import uuid

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY


def code(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def s(v):
    return {"S": v}


def n(v):
    return {"N": str(v)}


def fill(ddb, t, parts=3, per=20):
    """parts partitions of per items each, sk = 0..per-1, with a 'v' attribute."""
    items = [{"pk": s(f"p{p}"), "sk": n(i), "v": n(i * 10), "odd": {"BOOL": i % 2 == 1}}
             for p in range(parts) for i in range(per)]
    for i in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    return items


def test_key_conditions_order_and_select(ddb, table):
    t = table("N")
    fill(ddb, t)
    q = lambda cond, **kw: ddb.query(TableName=t, KeyConditionExpression=cond, **kw)  # noqa: E731
    vals = {":p": s("p1"), ":a": n(5), ":b": n(8)}
    got = q("pk = :p AND sk BETWEEN :a AND :b", ExpressionAttributeValues=vals)
    assert [int(i["sk"]["N"]) for i in got["Items"]] == [5, 6, 7, 8]
    got = q("pk = :p AND sk > :b", ExpressionAttributeValues={":p": s("p1"), ":b": n(16)}, ScanIndexForward=False)
    assert [int(i["sk"]["N"]) for i in got["Items"]] == [19, 18, 17]
    for op, want in [("<", 5), ("<=", 6), (">=", 15), ("=", 1)]:
        got = q(f"pk = :p AND sk {op} :a", ExpressionAttributeValues={":p": s("p1"), ":a": n(5)})
        assert got["Count"] == want, op
    # Filters apply after the key condition; ScannedCount counts what was read.
    got = q("pk = :p", FilterExpression="odd = :t", ExpressionAttributeValues={":p": s("p0"), ":t": {"BOOL": True}})
    assert got["Count"] == 10 and got["ScannedCount"] == 20
    got = q("pk = :p", Select="COUNT", ExpressionAttributeValues={":p": s("p0")})
    assert got["Count"] == 20 and "Items" not in got
    got = q("pk = :p AND sk = :a", ProjectionExpression="#v", ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":p": s("p2"), ":a": n(3)})
    assert got["Items"] == [{"v": n(30)}]
    # Limit counts items read before the filter, and pages carry on from LastEvaluatedKey.
    got = q("pk = :p", Limit=4, FilterExpression="odd = :t",
            ExpressionAttributeValues={":p": s("p0"), ":t": {"BOOL": True}})
    assert got["ScannedCount"] == 4 and got["Count"] == 2
    assert got["LastEvaluatedKey"] == {"pk": s("p0"), "sk": n(3)}
    rest = q("pk = :p", ExclusiveStartKey=got["LastEvaluatedKey"], ExpressionAttributeValues={":p": s("p0")})
    assert [int(i["sk"]["N"]) for i in rest["Items"]] == list(range(4, 20))
    got = q("pk = :p", ReturnConsumedCapacity="TOTAL", ExpressionAttributeValues={":p": s("p0")})
    assert got["ConsumedCapacity"]["TableName"] == t and got["ConsumedCapacity"]["CapacityUnits"] > 0


def test_sort_orders_strings_and_binary_by_unsigned_bytes(ddb, table):
    t = table("B")
    keys = [b"\x00", b"\x01\xff", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]
    for k in reversed(keys):
        ddb.put_item(TableName=t, Item={"pk": s("x"), "sk": {"B": k}})
    got = ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("x")})
    assert [i["sk"]["B"] for i in got["Items"]] == keys
    got = ddb.query(TableName=t, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                    ExpressionAttributeValues={":p": s("x"), ":b": {"B": b"\xff"}})
    assert [i["sk"]["B"] for i in got["Items"]] == [b"\xff", b"\xff\x00"]
    ts = table("S")
    words = ["A", "Z", "a", "é", "z", "€"]  # UTF-8 bytes: 41 5a 61 c3a9 7a e282ac
    for w in words:
        ddb.put_item(TableName=ts, Item={"pk": s("x"), "sk": s(w)})
    got = ddb.query(TableName=ts, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("x")})
    assert [i["sk"]["S"] for i in got["Items"]] == sorted(words, key=lambda w: w.encode())
    tn = table("N")
    nums = ["-1E+10", "-2.5", "-0.001", "0", "1E-5", "3", "12", "1E+20"]
    for v in nums:
        ddb.put_item(TableName=tn, Item={"pk": s("x"), "sk": n(v)})
    got = ddb.query(TableName=tn, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("x")})
    assert [float(i["sk"]["N"]) for i in got["Items"]] == [float(v) for v in nums]


@pytest.mark.parametrize("kwargs,message", [
    ({"KeyConditionExpression": "sk = :a", "ExpressionAttributeValues": {":a": n(1)}},
     "Query condition missed key schema element: pk"),
    ({"KeyConditionExpression": "pk = :p OR sk = :a", "ExpressionAttributeValues": {":p": s("p"), ":a": n(1)}},
     "Invalid operator used in KeyConditionExpression: OR"),
    ({"KeyConditionExpression": "pk = :p", "FilterExpression": "pk = :p", "ExpressionAttributeValues": {":p": s("p")}},
     "Filter Expression can only contain non-primary key attributes: Primary key attribute: pk"),
    ({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": s("p")},
      "KeyConditions": {"pk": {"AttributeValueList": [s("p")], "ComparisonOperator": "EQ"}}},
     "Can not use both expression and non-expression parameters in the same request: "
     "Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}"),
    ({"KeyConditions": {"pk": {"AttributeValueList": [s("p")], "ComparisonOperator": "EQ"}},
      "ExpressionAttributeValues": {":p": s("p")}},
     "ExpressionAttributeValues can only be specified when using expressions"),
    ({"KeyConditionExpression": "pk = :p AND sk = :a", "FilterExpression": "size(sk) > :a",
      "ExpressionAttributeValues": {":p": s("p"), ":a": n(1)}},
     "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"),
])
def test_query_errors(ddb, table, kwargs, message):
    t = table("N")
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=t, **kwargs)
    assert code(e) == ("ValidationException", message)


def test_parallel_scan_segments_partition_every_item_once(ddb, table):
    t = table("N")
    items = fill(ddb, t, parts=12, per=10)
    seen = []
    for seg in range(4):
        kwargs = {"TableName": t, "Segment": seg, "TotalSegments": 4, "Limit": 7}
        while True:
            page = ddb.scan(**kwargs)
            seen += [(i["pk"]["S"], i["sk"]["N"]) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(seen) == sorted((i["pk"]["S"], i["sk"]["N"]) for i in items)
    got = ddb.scan(TableName=t, FilterExpression="v >= :x", ExpressionAttributeValues={":x": n(50)}, Select="COUNT")
    assert got["Count"] == 12 * 5 and got["ScannedCount"] == 120
    with pytest.raises(ClientError) as e:
        ddb.scan(TableName=t, Segment=4, TotalSegments=4)
    assert code(e) == ("ValidationException", "The Segment parameter is zero-based and must be less than "
                       "parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4")


def test_paginators_query_and_scan(ddb, table):
    t = table("N")
    fill(ddb, t, parts=2, per=150)
    pages = list(ddb.get_paginator("query").paginate(
        TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p1")},
        PaginationConfig={"PageSize": 40}))
    assert len(pages) == 4
    assert [int(i["sk"]["N"]) for p in pages for i in p["Items"]] == list(range(150))
    scanned = [i for p in ddb.get_paginator("scan").paginate(TableName=t, PaginationConfig={"PageSize": 33})
               for i in p["Items"]]
    assert len(scanned) == 300 and len({(i["pk"]["S"], i["sk"]["N"]) for i in scanned}) == 300


def test_global_and_local_indexes(ddb):
    t = "idx" + uuid.uuid4().hex[:8]
    ddb.create_table(
        TableName=t, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": ty} for a, ty in
                              [("pk", "S"), ("sk", "N"), ("status", "S"), ("amount", "N")]],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "amount", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}}],
        LocalSecondaryIndexes=[{
            "IndexName": "by_amount",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "amount", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    for i in range(10):
        item = {"pk": s(f"c{i % 2}"), "sk": n(i), "amount": n(100 - i), "note": s(f"n{i}"), "secret": s("x")}
        if i != 9:  # sparse: an item without the index key is not in the GSI
            item["status"] = s("open" if i < 5 else "shipped")
        ddb.put_item(TableName=t, Item=item)
    got = ddb.query(TableName=t, IndexName="by_status", KeyConditionExpression="#s = :o",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":o": s("open")})
    assert [i["amount"]["N"] for i in got["Items"]] == ["96", "97", "98", "99", "100"]
    assert set(got["Items"][0]) == {"pk", "sk", "status", "amount", "note"}
    page = ddb.query(TableName=t, IndexName="by_status", KeyConditionExpression="#s = :o", Limit=2,
                     ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":o": s("open")})
    assert set(page["LastEvaluatedKey"]) == {"pk", "sk", "status", "amount"}
    scanned = ddb.scan(TableName=t, IndexName="by_status")
    assert scanned["Count"] == 9
    got = ddb.query(TableName=t, IndexName="by_amount", KeyConditionExpression="pk = :c AND amount < :a",
                    ExpressionAttributeValues={":c": s("c1"), ":a": n(96)})
    assert [i["sk"]["N"] for i in got["Items"]] == ["9", "7", "5"]
    assert set(got["Items"][0]) == {"pk", "sk", "amount"}
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=t, IndexName="by_status", ConsistentRead=True, KeyConditionExpression="#s = :o",
                  ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":o": s("open")})
    assert code(e) == ("ValidationException", "Consistent reads are not supported on global secondary indexes")
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": s("c0"), "sk": n(99), "status": n(1)})
    assert code(e)[0] == "ValidationException" and "Type mismatch for Index Key status" in code(e)[1]
    assert ddb.get_item(TableName=t, Key={"pk": s("c0"), "sk": n(99)}).get("Item") is None
    desc = ddb.describe_table(TableName=t)["Table"]
    gsi = desc["GlobalSecondaryIndexes"][0]
    assert gsi["IndexStatus"] == "ACTIVE" and gsi["ItemCount"] == 9 and gsi["IndexArn"].endswith("/index/by_status")
    assert desc["LocalSecondaryIndexes"][0]["ItemCount"] == 10
    ddb.delete_table(TableName=t)


def test_batches(ddb, table):
    t1, t2 = table(None), table("N")
    ddb.batch_write_item(RequestItems={
        t1: [{"PutRequest": {"Item": {"pk": s(f"k{i}"), "v": n(i)}}} for i in range(20)],
        t2: [{"PutRequest": {"Item": {"pk": s("p"), "sk": n(i)}}} for i in range(5)]})
    got = ddb.batch_get_item(RequestItems={
        t1: {"Keys": [{"pk": s(f"k{i}")} for i in range(0, 30, 3)], "ProjectionExpression": "v", "ConsistentRead": True},
        t2: {"Keys": [{"pk": s("p"), "sk": n(4)}]}})
    assert sorted(int(i["v"]["N"]) for i in got["Responses"][t1]) == [0, 3, 6, 9, 12, 15, 18]
    assert got["Responses"][t2] == [{"pk": s("p"), "sk": n(4)}]
    assert got["UnprocessedKeys"] == {}
    out = ddb.batch_write_item(RequestItems={t1: [{"DeleteRequest": {"Key": {"pk": s(f"k{i}")}}} for i in range(10)]})
    assert out["UnprocessedItems"] == {}
    assert ddb.scan(TableName=t1, Select="COUNT")["Count"] == 10
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={t1: [{"PutRequest": {"Item": {"pk": s("d"), "v": n(1)}}},
                                                {"DeleteRequest": {"Key": {"pk": s("d")}}}]})
    assert code(e) == ("ValidationException", "Provided list of item keys contains duplicates")
    with pytest.raises(ClientError) as e:
        ddb.batch_get_item(RequestItems={t1: {"Keys": [{"pk": s(f"x{i}")} for i in range(101)]}})
    assert code(e) == ("ValidationException", "Too many items requested for the BatchGetItem call")
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={t1: [{"PutRequest": {"Item": {"pk": s(f"y{i}")}}} for i in range(26)]})
    assert code(e)[0] == "ValidationException" and "Member must have length less than or equal to 25" in code(e)[1]
    assert ddb.scan(TableName=t1, Select="COUNT")["Count"] == 10
    # The resource API's batch_writer groups puts into BatchWriteItem calls.
    res = boto3.resource("dynamodb", endpoint_url=ddb.meta.endpoint_url, region_name=REGION,
                         aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    with res.Table(t2).batch_writer() as w:
        for i in range(5, 60):
            w.put_item(Item={"pk": "p", "sk": i})
    assert res.Table(t2).query(KeyConditionExpression=Key("pk").eq("p"), Select="COUNT")["Count"] == 60


def test_transactions(ddb, table):
    a, b = table(None), table(None)
    ddb.put_item(TableName=a, Item={"pk": s("acct"), "bal": n(100)})
    ddb.put_item(TableName=b, Item={"pk": s("acct"), "bal": n(0)})

    def transfer(amount, token=None):
        kw = {"ClientRequestToken": token} if token else {}
        return ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": a, "Key": {"pk": s("acct")}, "UpdateExpression": "SET bal = bal - :x",
                        "ConditionExpression": "bal >= :x", "ExpressionAttributeValues": {":x": n(amount)},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": {"TableName": b, "Key": {"pk": s("acct")}, "UpdateExpression": "SET bal = bal + :x",
                        "ExpressionAttributeValues": {":x": n(amount)}}},
            {"Put": {"TableName": b, "Item": {"pk": s(f"log-{amount}")}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ], **kw)

    transfer(30, token="tok-1")
    transfer(30, token="tok-1")  # same token, same request: applied once
    with pytest.raises(ClientError) as e:
        transfer(31, token="tok-1")
    assert code(e)[0] == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError) as e:
        transfer(500)
    assert code(e)[0] == "TransactionCanceledException"
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None", "None"]
    assert reasons[0]["Item"] == {"pk": s("acct"), "bal": n(70)}
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": a, "Key": {"pk": s("acct")}}},
        {"Get": {"TableName": b, "Key": {"pk": s("acct")}, "ProjectionExpression": "bal"}},
        {"Get": {"TableName": b, "Key": {"pk": s("missing")}}}])
    assert [r.get("Item") for r in got["Responses"]] == [{"pk": s("acct"), "bal": n(70)}, {"bal": n(30)}, None]
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": a, "Key": {"pk": s("acct")}, "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": a, "Key": {"pk": s("acct")}}}])
    assert code(e) == ("ValidationException", "Transaction request cannot include multiple operations on one item")
    assert ddb.get_item(TableName=a, Key={"pk": s("acct")})["Item"]["bal"] == n(70)


def test_legacy_parameters(ddb, table):
    t = table("N")
    fill(ddb, t, parts=2, per=10)
    got = ddb.query(TableName=t, KeyConditions={
        "pk": {"AttributeValueList": [s("p1")], "ComparisonOperator": "EQ"},
        "sk": {"AttributeValueList": [n(2), n(5)], "ComparisonOperator": "BETWEEN"}},
        QueryFilter={"odd": {"AttributeValueList": [{"BOOL": True}], "ComparisonOperator": "EQ"}},
        AttributesToGet=["sk", "v"])
    assert got["Items"] == [{"sk": n(3), "v": n(30)}, {"sk": n(5), "v": n(50)}]
    got = ddb.scan(TableName=t, ScanFilter={
        "v": {"AttributeValueList": [n(80)], "ComparisonOperator": "GE"},
        "odd": {"AttributeValueList": [{"BOOL": True}], "ComparisonOperator": "EQ"}}, ConditionalOperator="OR")
    assert got["Count"] == 2 * (2 + 4)  # v in {80, 90} or odd sk, per partition
    ddb.put_item(TableName=t, Item={"pk": s("p0"), "sk": n(0), "v": n(1)},
                 Expected={"v": {"Value": n(0)}})
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": s("p0"), "sk": n(0), "v": n(2)}, Expected={"v": {"Exists": False}})
    assert code(e)[0] == "ConditionalCheckFailedException"
    out = ddb.update_item(TableName=t, Key={"pk": s("p0"), "sk": n(0)}, ReturnValues="ALL_NEW", AttributeUpdates={
        "v": {"Action": "ADD", "Value": n(5)}, "odd": {"Action": "DELETE"}, "w": {"Action": "PUT", "Value": s("x")}})
    assert out["Attributes"] == {"pk": s("p0"), "sk": n(0), "v": n(6), "w": s("x")}
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": s("p0"), "sk": n(0)}, UpdateExpression="SET v = :z",
                        ExpressionAttributeValues={":z": n(0)}, Expected={"v": {"Value": n(6)}})
    assert code(e)[0] == "ValidationException" and code(e)[1].startswith(
        "Can not use both expression and non-expression parameters in the same request")
    assert ddb.get_item(TableName=t, Key={"pk": s("p0"), "sk": n(0)})["Item"]["v"] == n(6)


def test_resource_api_conditions(server, table):
    t = table("N")
    res = boto3.resource("dynamodb", endpoint_url=server.endpoint, region_name=REGION,
                         aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    tb = res.Table(t)
    for i in range(10):
        tb.put_item(Item={"pk": "a", "sk": i, "n": i, "tag": "even" if i % 2 == 0 else "odd"})
    got = tb.query(KeyConditionExpression=Key("pk").eq("a") & Key("sk").between(2, 6),
                   FilterExpression=Attr("tag").eq("even") & Attr("n").is_in([2, 4, 5]))
    assert [int(i["sk"]) for i in got["Items"]] == [2, 4]
    got = tb.scan(FilterExpression=Attr("tag").begins_with("od") & Attr("sk").gt(5))
    assert sorted(int(i["sk"]) for i in got["Items"]) == [7, 9]


def test_scan_returns_each_partition_in_sort_key_order(ddb, table):
    """As AWS (moto's AWS-verified test_scan_with_numeric_range_key): a Scan reads the
    items of one partition together, in sort-key order (numbers by value), and pages
    with Limit carry on from LastEvaluatedKey in the same order."""
    t = table("N")
    tb = boto3.resource("dynamodb", endpoint_url=ddb.meta.endpoint_url, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY).Table(t)
    with tb.batch_writer() as batch:
        for i in range(8):
            batch.put_item(Item={"pk": "A" if i % 2 else "B", "sk": i})
    with tb.batch_writer() as batch:
        for i in range(20, 15, -1):
            batch.put_item(Item={"pk": "A", "sk": i})
    pages = []
    resp = tb.scan(Limit=3)
    pages.append(resp["Items"])
    while "LastEvaluatedKey" in resp:
        resp = tb.scan(Limit=3, ExclusiveStartKey=resp["LastEvaluatedKey"])
        pages.append(resp["Items"])
    got = [(i["pk"], int(i["sk"])) for p in pages for i in p]
    assert len(got) == 13
    by_part = {}
    for pk, sk in got:
        by_part.setdefault(pk, []).append(sk)
    # Each partition is contiguous and ascending by numeric value.
    assert [pk for pk, _ in got] == sorted([pk for pk, _ in got], key=[pk for pk, _ in got].index)
    assert by_part["A"] == [1, 3, 5, 7, 16, 17, 18, 19, 20]
    assert by_part["B"] == [0, 2, 4, 6]
    assert [len(p) for p in pages] == [3, 3, 3, 3, 1]
    # And the order is the same every time.
    assert [(i["pk"], int(i["sk"])) for i in tb.scan()["Items"]] == got
