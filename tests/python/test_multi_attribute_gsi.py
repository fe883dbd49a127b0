"""Global secondary indexes with multi-attribute keys (DynamoDB, November 2025): up to four
partition-key and four sort-key attributes, queried as AWS allows, against a real server."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError

# Partition (S, N), sort (S, N, B): every key type in one index.
HASH = [("ten", "S"), ("reg", "N")]
RANGE = [("r1", "S"), ("r2", "N"), ("r3", "B")]


def gsi(name, hash_keys, range_keys, projection="ALL"):
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": n, "KeyType": "HASH"} for n, _ in hash_keys]
        + [{"AttributeName": n, "KeyType": "RANGE"} for n, _ in range_keys],
        "Projection": {"ProjectionType": projection},
    }


def attr_defs(*pairs):
    return [{"AttributeName": n, "AttributeType": t} for n, t in pairs]


def make_table(ddb, indexes=None, extra_attrs=()):
    name = "ma" + uuid.uuid4().hex[:10]
    args = {}
    if indexes:
        args["GlobalSecondaryIndexes"] = indexes
    ddb.create_table(TableName=name, AttributeDefinitions=attr_defs(("pk", "S"), *extra_attrs),
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST", **args)
    return name


@pytest.fixture
def mtable(ddb):
    name = make_table(ddb, [gsi("mix", HASH, RANGE)], HASH + RANGE)
    yield name
    ddb.delete_table(TableName=name)


def item(pk, ten="t", reg="1", r1=None, r2=None, r3=None, **more):
    out = {"pk": {"S": pk}, "ten": {"S": ten}, "reg": {"N": reg}}
    if r1 is not None:
        out["r1"] = {"S": r1}
    if r2 is not None:
        out["r2"] = {"N": r2}
    if r3 is not None:
        out["r3"] = {"B": r3}
    for k, v in more.items():
        out[k] = v
    return out


def query(ddb, name, cond, values, index="mix", **kw):
    vals = {k: v for k, v in values.items()}
    return ddb.query(TableName=name, IndexName=index, KeyConditionExpression=cond,
                     ExpressionAttributeValues=vals, **kw)


def pks(resp):
    return [i["pk"]["S"] for i in resp["Items"]]


def err(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


T = {":t": {"S": "t"}, ":g": {"N": "1"}}

# Rows in the order AWS keeps them: by r1 (bytes of UTF-8), then r2 (by value), then r3
# (unsigned bytes), whatever order they were written in.
ORDERED = [
    ("a", "-10", b"\x00"),
    ("a", "2", b"\x00\x00"),
    ("a", "2", b"\x01"),
    ("a", "2", b"\xff"),
    ("a", "10", b"\x00"),
    ("a\x00", "0", b"\x00"),
    ("ab", "-1.5", b"\x00"),
    ("b", "1e10", b"\x00"),
    ("\u00e9", "0", b"\x00"),
]


def load_ordered(ddb, name):
    for i in reversed(range(len(ORDERED))):
        r1, r2, r3 = ORDERED[i]
        ddb.put_item(TableName=name, Item=item(f"o{i}", r1=r1, r2=r2, r3=r3))


def test_create_describe_and_restart_keep_the_schema(fresh_server):
    s = fresh_server.start()
    ddb = s.client()
    name = make_table(ddb, [gsi("mix", HASH, RANGE), gsi("four", [(f"h{i}", "S") for i in range(4)],
                                                          [(f"s{i}", "N") for i in range(4)], "KEYS_ONLY")],
                      HASH + RANGE + [(f"h{i}", "S") for i in range(4)] + [(f"s{i}", "N") for i in range(4)])
    expect_mix = [{"AttributeName": "ten", "KeyType": "HASH"}, {"AttributeName": "reg", "KeyType": "HASH"},
                  {"AttributeName": "r1", "KeyType": "RANGE"}, {"AttributeName": "r2", "KeyType": "RANGE"},
                  {"AttributeName": "r3", "KeyType": "RANGE"}]

    def schemas():
        d = ddb.describe_table(TableName=name)["Table"]
        return {g["IndexName"]: g["KeySchema"] for g in d["GlobalSecondaryIndexes"]}

    assert schemas()["mix"] == expect_mix
    assert len(schemas()["four"]) == 8
    ddb.put_item(TableName=name, Item=item("x", r1="a", r2="1", r3=b"\x01"))
    # The definition (catalog format v2) and the composite index entries survive a restart.
    s.stop()
    s.start()
    ddb = s.client()
    assert schemas()["mix"] == expect_mix
    r = query(ddb, name, "ten = :t AND reg = :g AND r1 = :a", {**T, ":a": {"S": "a"}})
    assert pks(r) == ["x"]


def test_key_schema_errors(ddb):
    def create(indexes, extra):
        return lambda: make_table(ddb, indexes, extra)

    five = [(f"a{i}", "S") for i in range(5)]
    code, msg = err(create([gsi("gix", five, [])], five))
    assert (code, msg) == ("ValidationException",
                           "Invalid KeySchema: The KeySchema exceeds the maximum allowed number of HASH key attributes")
    code, msg = err(create([gsi("gix", [("h", "S")], five)], [("h", "S")] + five))
    assert msg == "Invalid KeySchema: The KeySchema exceeds the maximum allowed number of RANGE key attributes"
    interleaved = {"IndexName": "gix", "Projection": {"ProjectionType": "ALL"},
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"},
                                 {"AttributeName": "c", "KeyType": "HASH"}]}
    code, msg = err(create([interleaved], [("a", "S"), ("b", "S"), ("c", "S")]))
    assert msg == "Invalid KeySchema: All HASH key attributes must precede RANGE key attributes in the KeySchema"
    code, msg = err(create([gsi("gix", [], [("a", "S"), ("b", "S")])], [("a", "S"), ("b", "S")]))
    assert msg == "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
    dup = {"IndexName": "gix", "Projection": {"ProjectionType": "ALL"},
           "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "HASH"}]}
    code, msg = err(create([dup], [("a", "S")]))
    assert code == "ValidationException" and "Duplicate" in msg
    code, msg = err(create([gsi("gix", [("a", "S"), ("b", "S")], [])], [("a", "S")]))
    assert code == "ValidationException" and "AttributeDefinitions" in msg and "Keys: [b]" in msg
    # Local indexes keep one partition attribute (the table's) and one sort attribute.
    name = "ma" + uuid.uuid4().hex[:10]
    code, msg = err(lambda: ddb.create_table(
        TableName=name, AttributeDefinitions=attr_defs(("pk", "S"), ("sk", "S"), ("l1", "S"), ("l2", "S")),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        LocalSecondaryIndexes=[{"IndexName": "lsi", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "l1", "KeyType": "RANGE"},
                                              {"AttributeName": "l2", "KeyType": "RANGE"}]}]))
    assert code == "ValidationException"
    # Nothing was created by any of the refused requests.
    assert not [t for t in ddb.list_tables()["TableNames"] if t == name]


def test_query_orders_by_sort_attributes_left_to_right(ddb, mtable):
    load_ordered(ddb, mtable)
    want = [f"o{i}" for i in range(len(ORDERED))]
    assert pks(query(ddb, mtable, "ten = :t AND reg = :g", T)) == want
    assert pks(query(ddb, mtable, "reg = :g AND ten = :t", T, ScanIndexForward=False)) == want[::-1]
    # Pages of two follow the same order, and LastEvaluatedKey names every key attribute.
    got, start = [], {}
    while True:
        r = query(ddb, mtable, "ten = :t AND reg = :g", T, Limit=2, **start)
        got += pks(r)
        if "LastEvaluatedKey" not in r:
            break
        assert set(r["LastEvaluatedKey"]) == {"pk", "ten", "reg", "r1", "r2", "r3"}
        start = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
    assert got == want
    # Another partition (ten, reg) is its own: same ten, other reg.
    ddb.put_item(TableName=mtable, Item=item("other", reg="2", r1="a", r2="2", r3=b"\x01"))
    assert pks(query(ddb, mtable, "ten = :t AND reg = :g", {**T, ":g": {"N": "2"}})) == ["other"]


def test_query_prefixes_and_ranges(ddb, mtable):
    load_ordered(ddb, mtable)
    a = {":a": {"S": "a"}}
    cases = [
        ("r1 = :a", a, [0, 1, 2, 3, 4]),
        ("r1 = :a AND r2 = :n", {**a, ":n": {"N": "2.0"}}, [1, 2, 3]),
        ("r1 = :a AND r2 = :n AND r3 = :b", {**a, ":n": {"N": "2"}, ":b": {"B": b"\x01"}}, [2]),
        ("r1 = :a AND r2 > :n", {**a, ":n": {"N": "2"}}, [4]),
        ("r1 = :a AND r2 >= :n", {**a, ":n": {"N": "2"}}, [1, 2, 3, 4]),
        ("r1 = :a AND r2 < :n", {**a, ":n": {"N": "2"}}, [0]),
        ("r1 = :a AND r2 <= :n", {**a, ":n": {"N": "2"}}, [0, 1, 2, 3]),
        ("r1 = :a AND r2 BETWEEN :lo AND :hi", {**a, ":lo": {"N": "-10"}, ":hi": {"N": "2"}}, [0, 1, 2, 3]),
        ("r1 = :a AND r2 = :n AND r3 > :b", {**a, ":n": {"N": "2"}, ":b": {"B": b"\x00\x00"}}, [2, 3]),
        ("r1 = :a AND r2 = :n AND begins_with(r3, :b)", {**a, ":n": {"N": "2"}, ":b": {"B": b"\x00"}}, [1]),
        ("r1 > :a", a, [5, 6, 7, 8]),
        ("r1 < :x", {":x": {"S": "ab"}}, [0, 1, 2, 3, 4, 5]),
        ("begins_with(r1, :a)", a, [0, 1, 2, 3, 4, 5, 6]),
        ("r1 BETWEEN :lo AND :hi", {":lo": {"S": "a\x00"}, ":hi": {"S": "b"}}, [5, 6, 7]),
    ]
    for cond, values, want in cases:
        r = query(ddb, mtable, "ten = :t AND reg = :g AND " + cond, {**T, **values})
        assert pks(r) == [f"o{i}" for i in want], cond
    # The legacy KeyConditions take the same rules.
    r = ddb.query(TableName=mtable, IndexName="mix", KeyConditions={
        "ten": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "t"}]},
        "reg": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]},
        "r1": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "r2": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "-10"}]}})
    assert pks(r) == ["o1", "o2", "o3", "o4"]


def test_query_errors(ddb, mtable):
    def q(cond, values, **kw):
        return err(lambda: query(ddb, mtable, cond, values, **kw))

    assert q("ten = :t", {":t": {"S": "t"}}) == (
        "ValidationException", "Query condition missed key schema element: reg")
    assert q("ten = :t AND reg > :g", T) == ("ValidationException", "Query key condition not supported")
    assert q("ten = :t AND reg = :g AND r2 = :n", {**T, ":n": {"N": "1"}}) == (
        "ValidationException",
        "RANGE key attributes r1 must have equality conditions specified in the query because a condition is "
        "present on key attribute r2")
    assert q("ten = :t AND reg = :g AND r1 = :a AND r3 = :b", {**T, ":a": {"S": "a"}, ":b": {"B": b"1"}})[1] == (
        "RANGE key attributes r2 must have equality conditions specified in the query because a condition is "
        "present on key attribute r3")
    assert q("ten = :t AND reg = :g AND r1 > :a AND r2 = :n", {**T, ":a": {"S": "a"}, ":n": {"N": "1"}}) == (
        "ValidationException", "Query key condition not supported")
    assert q("ten = :t AND reg = :g AND begins_with(r2, :n)", {**T, ":n": {"N": "1"}})[0] == "ValidationException"
    assert q("ten = :t AND reg = :g AND r1 = :n", {**T, ":n": {"N": "1"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Condition parameter type does not match schema type")
    assert q("ten = :t AND reg = :g AND r1 = :a AND r1 = :a", {**T, ":a": {"S": "a"}})[1] == (
        "KeyConditionExpressions must only contain one condition per key")
    assert q("ten = :t AND reg = :g", {**T, ":n": {"N": "1"}}, FilterExpression="r2 = :n")[1] == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: r2")


def test_sparse_rows(ddb, mtable):
    full = dict(r1="a", r2="1", r3=b"\x01")
    ddb.put_item(TableName=mtable, Item=item("full", **full))
    ddb.put_item(TableName=mtable, Item=item("no-r3", r1="a", r2="1"))
    ddb.put_item(TableName=mtable, Item=item("no-r1", r2="1", r3=b"\x01"))
    no_reg = item("no-reg", **full)
    del no_reg["reg"]
    ddb.put_item(TableName=mtable, Item=no_reg)
    # A key attribute of another type than its definition is refused, as for one attribute.
    bad = item("bad", **full)
    bad["r2"] = {"S": "1"}
    code, msg = err(lambda: ddb.put_item(TableName=mtable, Item=bad))
    assert code == "ValidationException" and "Type mismatch for Index Key r2" in msg
    assert pks(query(ddb, mtable, "ten = :t AND reg = :g", T)) == ["full"]
    assert [i["pk"]["S"] for i in ddb.scan(TableName=mtable, IndexName="mix")["Items"]] == ["full"]
    # Setting the missing attribute puts the row in; removing one takes it out.
    ddb.update_item(TableName=mtable, Key={"pk": {"S": "no-r3"}}, UpdateExpression="SET r3 = :b",
                    ExpressionAttributeValues={":b": {"B": b"\x00"}})
    assert pks(query(ddb, mtable, "ten = :t AND reg = :g", T)) == ["no-r3", "full"]
    ddb.update_item(TableName=mtable, Key={"pk": {"S": "full"}}, UpdateExpression="REMOVE ten")
    assert pks(query(ddb, mtable, "ten = :t AND reg = :g", T)) == ["no-r3"]
    d = ddb.describe_table(TableName=mtable)["Table"]["GlobalSecondaryIndexes"][0]
    assert d["ItemCount"] == 1


def wait_active(ddb, name, index):
    for _ in range(200):
        d = ddb.describe_table(TableName=name)["Table"]
        g = [x for x in d.get("GlobalSecondaryIndexes", []) if x["IndexName"] == index]
        if g and g[0]["IndexStatus"] == "ACTIVE":
            return g[0]
        time.sleep(0.05)
    raise AssertionError("index did not become ACTIVE")


def test_backfill_on_update_table(ddb):
    name = make_table(ddb)
    try:
        load_ordered(ddb, name)
        ddb.put_item(TableName=name, Item=item("sparse", r1="a", r2="2"))
        bad = {"IndexName": "mix", "Projection": {"ProjectionType": "ALL"},
               "KeySchema": [{"AttributeName": "ten", "KeyType": "HASH"}, {"AttributeName": "r1", "KeyType": "RANGE"},
                             {"AttributeName": "reg", "KeyType": "HASH"}]}
        code, msg = err(lambda: ddb.update_table(TableName=name, AttributeDefinitions=attr_defs(*HASH, *RANGE),
                                                 GlobalSecondaryIndexUpdates=[{"Create": bad}]))
        assert msg == "Invalid KeySchema: All HASH key attributes must precede RANGE key attributes in the KeySchema"
        assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=name)["Table"]
        r = ddb.update_table(TableName=name, AttributeDefinitions=attr_defs(*HASH, *RANGE),
                             GlobalSecondaryIndexUpdates=[{"Create": gsi("mix", HASH, RANGE)}])
        assert r["TableDescription"]["GlobalSecondaryIndexes"][0]["KeySchema"][1] == {
            "AttributeName": "reg", "KeyType": "HASH"}
        g = wait_active(ddb, name, "mix")
        assert g["ItemCount"] == len(ORDERED)
        assert pks(query(ddb, name, "ten = :t AND reg = :g", T)) == [f"o{i}" for i in range(len(ORDERED))]
        # Writes after the backfill are kept in the index as well.
        ddb.put_item(TableName=name, Item=item("late", r1="a", r2="-100", r3=b"\x00"))
        assert pks(query(ddb, name, "ten = :t AND reg = :g AND r1 = :a", {**T, ":a": {"S": "a"}}))[0] == "late"
    finally:
        ddb.delete_table(TableName=name)


def test_backup_and_restore_keep_the_index(ddb, mtable):
    load_ordered(ddb, mtable)
    arn = ddb.create_backup(TableName=mtable, BackupName="multi")["BackupDetails"]["BackupArn"]
    gsis = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["SourceTableFeatureDetails"][
        "GlobalSecondaryIndexes"]
    assert [k["KeyType"] for k in gsis[0]["KeySchema"]] == ["HASH", "HASH", "RANGE", "RANGE", "RANGE"]
    target = mtable + "r"
    ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)
    try:
        for _ in range(200):
            if ddb.describe_table(TableName=target)["Table"]["TableStatus"] == "ACTIVE":
                break
            time.sleep(0.05)
        d = ddb.describe_table(TableName=target)["Table"]
        assert d["GlobalSecondaryIndexes"][0]["KeySchema"] == \
            ddb.describe_table(TableName=mtable)["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"]
        assert pks(query(ddb, target, "ten = :t AND reg = :g", T)) == [f"o{i}" for i in range(len(ORDERED))]
    finally:
        ddb.delete_table(TableName=target)
        ddb.delete_backup(BackupArn=arn)


def test_partiql_select_on_the_index(ddb, mtable):
    load_ordered(ddb, mtable)
    r = ddb.execute_statement(
        Statement=f'SELECT pk FROM "{mtable}"."mix" WHERE ten = ? AND reg = ? AND r1 = ? AND r2 > ?',
        Parameters=[{"S": "t"}, {"N": "1"}, {"S": "a"}, {"N": "2"}])
    assert [i["pk"]["S"] for i in r["Items"]] == ["o4"]
