"""Global tables, version 2017.11.29 (issue 18): CreateGlobalTable links empty tables of
the same name that the user made in each region (streams NEW_AND_OLD_IMAGES, same keys and
indexes); DescribeGlobalTable, UpdateGlobalTable (add, remove), ListGlobalTables and the
settings operations answer as AWS does, with boto3 over HTTP."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError


ACCOUNT = "000000000000"
TIMEOUT = 60


def eventually(check, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: still {last!r}")


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def make_table(ddb, name, stream="NEW_AND_OLD_IMAGES", key="pk", provisioned=False):
    spec = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream}} if stream else {}
    billing = ({"BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}
               if provisioned else {"BillingMode": "PAY_PER_REQUEST"})
    gsi_throughput = {"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}} if provisioned else {}
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}, **gsi_throughput}],
        **billing, **spec)


def get(ddb, name, pk):
    return ddb.get_item(TableName=name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def test_create_describe_list_and_replicate(gt_server):
    name = "Legacy" + uuid.uuid4().hex[:6]
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    make_table(east, name)
    make_table(west, name)
    before = time.time()
    d = east.create_global_table(GlobalTableName=name, ReplicationGroup=[{"RegionName": "us-east-1"},
                                                                         {"RegionName": "eu-west-1"}])
    d = d["GlobalTableDescription"]
    assert d["GlobalTableName"] == name
    assert d["GlobalTableArn"] == f"arn:aws:dynamodb::{ACCOUNT}:global-table/{name}"
    assert d["GlobalTableStatus"] == "CREATING"
    assert sorted(r["RegionName"] for r in d["ReplicationGroup"]) == ["eu-west-1", "us-east-1"]
    assert before - 2 < d["CreationDateTime"].timestamp() < time.time() + 2
    # Described the same from either region (and from a region with no member).
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        got = gt_server.client(region=region).describe_global_table(GlobalTableName=name)["GlobalTableDescription"]
        assert got["GlobalTableStatus"] == "ACTIVE"
        assert got["ReplicationGroup"] == [{"RegionName": "eu-west-1"}, {"RegionName": "us-east-1"}]
        assert got["CreationDateTime"] == d["CreationDateTime"]
    # Writes in each region reach the other.
    east.put_item(TableName=name, Item={"pk": {"S": "e"}, "g": {"S": "G"}, "v": {"S": "from east"}})
    west.put_item(TableName=name, Item={"pk": {"S": "w"}, "g": {"S": "G"}, "v": {"S": "from west"}})
    eventually(lambda: get(west, name, "e"), "east's write in west")
    eventually(lambda: get(east, name, "w"), "west's write in east")
    west.delete_item(TableName=name, Key={"pk": {"S": "e"}})
    eventually(lambda: get(east, name, "e") is None, "west's delete in east")
    # DescribeTable shows each region's own table, not 2019.11.21 replicas.
    t = east.describe_table(TableName=name)["Table"]
    assert "GlobalTableVersion" not in t and "Replicas" not in t
    # 2019.11.21 replica changes are refused on a member; nothing changes.
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "ap-southeast-2"}}])
    assert err(e)[0] == "ValidationException"
    assert name not in gt_server.client(region="ap-southeast-2").list_tables()["TableNames"]
    # ListGlobalTables, whole and per region.
    listed = east.list_global_tables()
    assert listed["GlobalTables"] == [{"GlobalTableName": name, "ReplicationGroup": [
        {"RegionName": "eu-west-1"}, {"RegionName": "us-east-1"}]}]
    assert "LastEvaluatedGlobalTableName" not in listed
    assert [g["GlobalTableName"] for g in east.list_global_tables(RegionName="eu-west-1")["GlobalTables"]] == [name]
    assert east.list_global_tables(RegionName="ap-southeast-2")["GlobalTables"] == []


def test_listing_pages_by_name(gt_server):
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    names = sorted(f"Page{i}{uuid.uuid4().hex[:4]}" for i in range(3))
    for n in names:
        make_table(east, n)
        make_table(west, n)
        east.create_global_table(GlobalTableName=n, ReplicationGroup=[{"RegionName": "us-east-1"},
                                                                      {"RegionName": "eu-west-1"}])
    first = east.list_global_tables(Limit=2)
    assert [g["GlobalTableName"] for g in first["GlobalTables"]] == names[:2]
    assert first["LastEvaluatedGlobalTableName"] == names[1]
    rest = east.list_global_tables(Limit=2, ExclusiveStartGlobalTableName=names[1])
    assert [g["GlobalTableName"] for g in rest["GlobalTables"]] == names[2:]
    assert "LastEvaluatedGlobalTableName" not in rest


def test_create_errors_change_nothing(gt_server):
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    group = [{"RegionName": "us-east-1"}, {"RegionName": "eu-west-1"}]

    def refused(name, code):
        with pytest.raises(ClientError) as e:
            east.create_global_table(GlobalTableName=name, ReplicationGroup=group)
        got = err(e)
        assert got[0] == code and got[2] == 400, got
        with pytest.raises(ClientError) as e:
            east.describe_global_table(GlobalTableName=name)
        assert err(e)[:2] == ("GlobalTableNotFoundException", f"Global table with name: '{name}' does not exist.")
        for ddb in (east, west):
            if name in ddb.list_tables()["TableNames"]:
                assert "GlobalTableVersion" not in ddb.describe_table(TableName=name)["Table"]
        return got

    # No table in one region.
    missing = "Missing" + uuid.uuid4().hex[:6]
    make_table(east, missing)
    assert refused(missing, "TableNotFoundException")[1] == f"Table: {missing} not found in region: eu-west-1"
    # A stream of another view type, or none.
    for stream in ("KEYS_ONLY", None):
        n = "Stream" + uuid.uuid4().hex[:6]
        make_table(east, n)
        make_table(west, n, stream=stream)
        assert "NEW_AND_OLD_IMAGES" in refused(n, "ValidationException")[1]
    # Another key schema.
    n = "Keys" + uuid.uuid4().hex[:6]
    make_table(east, n)
    make_table(west, n, key="other")
    refused(n, "ValidationException")
    # A table that holds data.
    n = "Full" + uuid.uuid4().hex[:6]
    make_table(east, n)
    make_table(west, n)
    west.put_item(TableName=n, Item={"pk": {"S": "x"}})
    assert "must be empty" in refused(n, "ValidationException")[1]
    assert get(west, n, "x") is not None and get(east, n, "x") is None
    # A bad name or no group.
    with pytest.raises(ClientError) as e:
        east.create_global_table(GlobalTableName="bad/name", ReplicationGroup=group)
    assert err(e)[0] == "ValidationException"
    # The same name twice.
    n = "Twice" + uuid.uuid4().hex[:6]
    make_table(east, n)
    make_table(west, n)
    east.create_global_table(GlobalTableName=n, ReplicationGroup=group)
    with pytest.raises(ClientError) as e:
        west.create_global_table(GlobalTableName=n, ReplicationGroup=group)
    assert err(e) == ("GlobalTableAlreadyExistsException", "Global table with this name already exists", 400)


def test_update_adds_and_removes_replicas(gt_server):
    name = "Update" + uuid.uuid4().hex[:6]
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    ddb = {r: gt_server.client(region=r) for r in regions}
    for r in regions:
        make_table(ddb[r], name)
    east = ddb["us-east-1"]
    east.create_global_table(GlobalTableName=name, ReplicationGroup=[{"RegionName": "us-east-1"}])
    d = east.update_global_table(GlobalTableName=name, ReplicaUpdates=[
        {"Create": {"RegionName": "eu-west-1"}}, {"Create": {"RegionName": "ap-southeast-2"}}])
    assert sorted(x["RegionName"] for x in d["GlobalTableDescription"]["ReplicationGroup"]) == sorted(regions)
    ddb["ap-southeast-2"].put_item(TableName=name, Item={"pk": {"S": "ap"}})
    for r in regions:
        eventually(lambda r=r: get(ddb[r], name, "ap"), f"ap's write in {r}")
    # Errors: a member added again, a non-member removed, a missing table, an unknown
    # global table; none changes the group.
    cases = [
        ([{"Create": {"RegionName": "eu-west-1"}}], "ReplicaAlreadyExistsException"),
        ([{"Delete": {"RegionName": "us-west-2"}}], "ReplicaNotFoundException"),
        ([{"Create": {"RegionName": "us-west-2"}}], "TableNotFoundException"),
        # Adding to a global table that holds data.
        ([{"Delete": {"RegionName": "eu-west-1"}}, {"Create": {"RegionName": "eu-west-1"}}], "ValidationException"),
    ]
    for updates, code in cases:
        with pytest.raises(ClientError) as e:
            east.update_global_table(GlobalTableName=name, ReplicaUpdates=updates)
        assert err(e)[0] == code, (updates, err(e))
        got = east.describe_global_table(GlobalTableName=name)["GlobalTableDescription"]["ReplicationGroup"]
        assert sorted(x["RegionName"] for x in got) == sorted(regions)
    with pytest.raises(ClientError) as e:
        east.update_global_table(GlobalTableName="NoSuch" + name, ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])
    assert err(e)[0] == "GlobalTableNotFoundException"
    # Removing a member keeps its table and stops replication to and from it.
    east.update_global_table(GlobalTableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "ap-southeast-2"}}])
    got = east.describe_global_table(GlobalTableName=name)["GlobalTableDescription"]["ReplicationGroup"]
    assert sorted(x["RegionName"] for x in got) == ["eu-west-1", "us-east-1"]
    assert get(ddb["ap-southeast-2"], name, "ap") is not None
    ddb["ap-southeast-2"].put_item(TableName=name, Item={"pk": {"S": "alone"}})
    east.put_item(TableName=name, Item={"pk": {"S": "east-after"}})
    eventually(lambda: get(ddb["eu-west-1"], name, "east-after"), "east's write in west")
    time.sleep(1.5)
    assert get(east, name, "alone") is None and get(ddb["ap-southeast-2"], name, "east-after") is None
    assert [g["GlobalTableName"] for g in east.list_global_tables(RegionName="ap-southeast-2")["GlobalTables"]] == []
    # Restart: the group and its replication survive.
    gt_server.kill()
    gt_server.start()
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    got = west.describe_global_table(GlobalTableName=name)["GlobalTableDescription"]["ReplicationGroup"]
    assert sorted(x["RegionName"] for x in got) == ["eu-west-1", "us-east-1"]
    west.put_item(TableName=name, Item={"pk": {"S": "after-restart"}})
    eventually(lambda: get(east, name, "after-restart"), "replication after a restart")


def test_settings(gt_server):
    name = "Settings" + uuid.uuid4().hex[:6]
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    make_table(east, name, provisioned=True)
    make_table(west, name, provisioned=True)
    east.create_global_table(GlobalTableName=name, ReplicationGroup=[{"RegionName": "us-east-1"},
                                                                     {"RegionName": "eu-west-1"}])
    s = east.describe_global_table_settings(GlobalTableName=name)
    assert s["GlobalTableName"] == name
    assert [r["RegionName"] for r in s["ReplicaSettings"]] == ["eu-west-1", "us-east-1"]
    for r in s["ReplicaSettings"]:
        assert r["ReplicaStatus"] == "ACTIVE"
        assert r["ReplicaBillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert (r["ReplicaProvisionedReadCapacityUnits"], r["ReplicaProvisionedWriteCapacityUnits"]) == (5, 5)
        assert [(i["IndexName"], i["IndexStatus"], i["ProvisionedReadCapacityUnits"])
                for i in r["ReplicaGlobalSecondaryIndexSettings"]] == [("ByG", "ACTIVE", 5)]
    u = east.update_global_table_settings(
        GlobalTableName=name, GlobalTableProvisionedWriteCapacityUnits=7,
        GlobalTableGlobalSecondaryIndexSettingsUpdate=[{"IndexName": "ByG", "ProvisionedWriteCapacityUnits": 8}],
        ReplicaSettingsUpdate=[{"RegionName": "eu-west-1", "ReplicaProvisionedReadCapacityUnits": 3,
                                "ReplicaGlobalSecondaryIndexSettingsUpdate": [
                                    {"IndexName": "ByG", "ProvisionedReadCapacityUnits": 2}]}])
    by_region = {r["RegionName"]: r for r in u["ReplicaSettings"]}
    assert by_region["eu-west-1"]["ReplicaProvisionedReadCapacityUnits"] == 3
    assert by_region["us-east-1"]["ReplicaProvisionedReadCapacityUnits"] == 5
    assert all(r["ReplicaProvisionedWriteCapacityUnits"] == 7 for r in by_region.values())
    assert by_region["eu-west-1"]["ReplicaGlobalSecondaryIndexSettings"][0]["ProvisionedReadCapacityUnits"] == 2
    assert all(r["ReplicaGlobalSecondaryIndexSettings"][0]["ProvisionedWriteCapacityUnits"] == 8
               for r in by_region.values())
    # Each region's table shows its new throughput.
    t = west.describe_table(TableName=name)["Table"]
    assert (t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]) == (3, 7)
    before = east.describe_global_table_settings(GlobalTableName=name)
    for kwargs, code in [
        (dict(ReplicaSettingsUpdate=[{"RegionName": "us-west-2", "ReplicaProvisionedReadCapacityUnits": 1}]),
         "ReplicaNotFoundException"),
        (dict(GlobalTableGlobalSecondaryIndexSettingsUpdate=[{"IndexName": "Nope", "ProvisionedWriteCapacityUnits": 1}]),
         "IndexNotFoundException"),
        (dict(GlobalTableBillingMode="PAY_PER_REQUEST", GlobalTableProvisionedWriteCapacityUnits=3),
         "ValidationException"),
    ]:
        with pytest.raises(ClientError) as e:
            east.update_global_table_settings(GlobalTableName=name, **kwargs)
        assert err(e)[0] == code, (kwargs, err(e))
        assert east.describe_global_table_settings(GlobalTableName=name)["ReplicaSettings"] == before["ReplicaSettings"]
    with pytest.raises(ClientError) as e:
        east.describe_global_table_settings(GlobalTableName="NoSuch" + name)
    assert err(e)[0] == "GlobalTableNotFoundException"
    # On demand for every replica.
    u = east.update_global_table_settings(GlobalTableName=name, GlobalTableBillingMode="PAY_PER_REQUEST")
    assert all(r["ReplicaBillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST" for r in u["ReplicaSettings"])
    assert west.describe_table(TableName=name)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_describe_table_replica_auto_scaling(gt_server):
    east = gt_server.client(region="us-east-1")
    name = "Scaling" + uuid.uuid4().hex[:6]
    make_table(east, name)
    with pytest.raises(ClientError) as e:
        east.describe_table_replica_auto_scaling(TableName=name)
    assert err(e) == ("ResourceNotFoundException", f"Global table with name: '{name}' does not exist.", 400)
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
               "replica active")
    d = east.describe_table_replica_auto_scaling(TableName=name)["TableAutoScalingDescription"]
    assert d["TableName"] == name and d["TableStatus"] == "ACTIVE"
    assert d["Replicas"] == [
        {"RegionName": r, "ReplicaStatus": "ACTIVE",
         "GlobalSecondaryIndexes": [{"IndexName": "ByG", "IndexStatus": "ACTIVE"}]}
        for r in ("eu-west-1", "us-east-1")]


def test_upgrade_to_2019_from_the_console(gt_server):
    """AWS offers the upgrade only in the DynamoDB console ("Update version"); sealdb's
    console does the same. Afterwards the members are 2019.11.21 replicas: DescribeTable
    shows GlobalTableVersion and Replicas, the 2017.11.29 operations no longer find the
    global table, ReplicaUpdates works, and replication goes on."""
    from conftest import ACCESS_KEY, SECRET_KEY
    from console_browser import Http

    name = "Upgrade" + uuid.uuid4().hex[:6]
    east, west = gt_server.client(region="us-east-1"), gt_server.client(region="eu-west-1")
    make_table(east, name)
    make_table(west, name)
    east.create_global_table(GlobalTableName=name, ReplicationGroup=[{"RegionName": "us-east-1"},
                                                                     {"RegionName": "eu-west-1"}])
    east.put_item(TableName=name, Item={"pk": {"S": "before"}, "g": {"S": "G"}})
    eventually(lambda: get(west, name, "before"), "east's write in west")
    h = Http(gt_server.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
    status, _, page = h.get(f"/console/tables/{name}")
    assert status == 200 and "2017.11.29 (Legacy)" in page and 'id="update-global-table-version"' in page
    # A prerequisite not met (Time to Live differs) refuses the upgrade and changes nothing.
    west.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    status, _, page = h.post(f"/console/tables/{name}/global-table-version", {"csrf": h.csrf()})
    assert status == 200 and "Time to Live differs between the replicas in eu-west-1 and us-east-1" in page, page[-2000:]
    assert east.describe_global_table(GlobalTableName=name)["GlobalTableDescription"]["GlobalTableStatus"] == "ACTIVE"
    east.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    status, headers, _ = h.post(f"/console/tables/{name}/global-table-version", {"csrf": h.csrf()})
    assert status == 303 and headers["location"] == f"/console/tables/{name}?notice=global-table-version"
    # Each member shows the other as UPDATING for the replica transition, then ACTIVE.
    t = east.describe_table(TableName=name)["Table"]
    assert t["GlobalTableVersion"] == "2019.11.21"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in t["Replicas"]] == [("eu-west-1", "UPDATING")]
    eventually(lambda: [(r["RegionName"], r["ReplicaStatus"]) for r in west.describe_table(TableName=name)["Table"]["Replicas"]]
               == [("us-east-1", "ACTIVE")], "east ACTIVE seen from west")
    for ddb in (east, west):
        with pytest.raises(ClientError) as e:
            ddb.describe_global_table(GlobalTableName=name)
        assert err(e) == ("GlobalTableNotFoundException", f"Global table with name: '{name}' does not exist.", 400)
    assert east.list_global_tables()["GlobalTables"] == []
    with pytest.raises(ClientError) as e:
        east.update_global_table(GlobalTableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])
    assert err(e)[0] == "GlobalTableNotFoundException"
    # Replication goes on, both ways.
    west.put_item(TableName=name, Item={"pk": {"S": "after"}, "g": {"S": "G"}})
    eventually(lambda: get(east, name, "after"), "west's write in east")
    # The console now shows the current version, without the action.
    status, _, page = h.get(f"/console/tables/{name}")
    assert "2019.11.21" in page and 'id="update-global-table-version"' not in page
    # ReplicaUpdates manages the replicas now: a third one, seeded with the items.
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "ap-southeast-2"}}])
    ap = gt_server.client(region="ap-southeast-2")
    eventually(lambda: get(ap, name, "before") and get(ap, name, "after"), "the new replica seeded")
    # The upgrade is one-way: the console has nothing to upgrade any more.
    status, _, page = h.post(f"/console/tables/{name}/global-table-version", {"csrf": h.csrf()})
    assert f"Global table with name: &#39;{name}&#39; does not exist." in page or \
        f"Global table with name: '{name}' does not exist." in page
