"""Global tables, version 2019.11.21 (issue 18): UpdateTable ReplicaUpdates adds and
removes replicas in other regions of the same server, each sealed under a customer
managed key of its own region; changes travel asynchronously in every direction,
conflicting writes converge last-writer-wins, and a replica whose key is disabled pauses
and catches up."""

import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server, eventually

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def err(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def make_global(s, name, regions=REGIONS, stream=True):
    """A table in the first region with a replica in each other, each on a key of its region."""
    ddbs = {r: s.client(region=r) for r in regions}
    keys = {r: s.client("kms", region=r).create_key(Description=f"{name} in {r}")["KeyMetadata"] for r in regions}
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    ddbs[regions[0]].create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": keys[regions[0]]["KeyId"]},
        **extra,
    )
    # Items written before the replicas exist are copied into them.
    ddbs[regions[0]].put_item(TableName=name, Item={"pk": {"S": "before"}, "g": {"S": "G"}, "v": {"S": "SeedMarkerR5"}})
    for r in regions[1:]:
        ddbs[regions[0]].update_table(
            TableName=name,
            ReplicaUpdates=[{"Create": {"RegionName": r, "KMSMasterKeyId": keys[r]["Arn"]}}])
        eventually(lambda: all(x["ReplicaStatus"] == "ACTIVE"
                               for x in ddbs[regions[0]].describe_table(TableName=name)["Table"]["Replicas"]),
                   f"replica in {r} active")
    return ddbs, keys


def item(ddb, name, pk, consistent=True):
    return ddb.get_item(TableName=name, Key={"pk": {"S": pk}}, ConsistentRead=consistent).get("Item")


def test_replicas_are_described_and_replicate_every_way(gt_server):
    s = gt_server
    name = "Global" + uuid.uuid4().hex[:6]
    ddbs, keys = make_global(s, name)
    for r in REGIONS:
        t = ddbs[r].describe_table(TableName=name)["Table"]
        assert t["GlobalTableVersion"] == "2019.11.21"
        # The other replicas, each with its own region's key.
        assert sorted(x["RegionName"] for x in t["Replicas"]) == sorted(set(REGIONS) - {r})
        for x in t["Replicas"]:
            assert x["ReplicaStatus"] == "ACTIVE"
            assert x["KMSMasterKeyId"] == keys[x["RegionName"]]["Arn"]
            assert x["GlobalSecondaryIndexes"] == [{"IndexName": "ByG"}]
        assert t["SSEDescription"]["KMSMasterKeyArn"] == keys[r]["Arn"]
        assert t["TableArn"] == f"arn:aws:dynamodb:{r}:000000000000:table/{name}"
        assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["ByG"]
        # The existing item was copied.
        assert item(ddbs[r], name, "before")["v"]["S"] == "SeedMarkerR5"
    # A write in each region (put, update, batch, transaction) reaches the others.
    east, west, ap = (ddbs[r] for r in REGIONS)
    east.put_item(TableName=name, Item={"pk": {"S": "from-east"}, "g": {"S": "G"}, "v": {"S": "EastMarkerA1"}})
    west.update_item(TableName=name, Key={"pk": {"S": "from-west"}}, UpdateExpression="SET v = :v, g = :g",
                     ExpressionAttributeValues={":v": {"S": "WestMarkerB2"}, ":g": {"S": "G"}})
    ap.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": f"batch-{i}"}, "g": {"S": "G"}}}}
                                             for i in range(5)]})
    ap.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": "txn"}, "g": {"S": "G"}, "v": {"S": "TxnMarkerC3"}}}},
        {"Delete": {"TableName": name, "Key": {"pk": {"S": "before"}}}},
    ])
    west.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'partiql', 'g': 'G'}}")
    # Time to Live runs in us-east-1 only: its deletion of an item written in eu-west-1
    # reaches every replica like any write.
    east.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    west.put_item(TableName=name, Item={"pk": {"S": "expired"}, "exp": {"N": str(int(time.time()) - 60)}})
    expected = {"from-east", "from-west", "txn", "partiql"} | {f"batch-{i}" for i in range(5)}
    for r in REGIONS:
        def converged(r=r):
            got = {i["pk"]["S"] for i in ddbs[r].scan(TableName=name, ConsistentRead=True)["Items"]}
            return got == expected
        eventually(converged, f"items in {r}")
        # Indexes of every replica are kept too.
        assert ddbs[r].query(TableName=name, IndexName="ByG", KeyConditionExpression="g = :g",
                             ExpressionAttributeValues={":g": {"S": "G"}})["Count"] == len(expected)
        assert item(ddbs[r], name, "from-west")["v"]["S"] == "WestMarkerB2"
    # Each replica's stream shows the changes applied to it, without internal members.
    streams = s.client("dynamodbstreams", region="eu-west-1")
    arn = west.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    keys_seen = {r["dynamodb"]["Keys"]["pk"]["S"] for r in records}
    assert {"before", "from-east", "from-west", "txn"} <= keys_seen
    assert all(set(r["dynamodb"]) <= {"Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes",
                                      "StreamViewType", "ApproximateCreationDateTime"} for r in records)
    assert all(r["awsRegion"] == "eu-west-1" for r in records)


def test_conflicting_writes_converge(gt_server):
    s = gt_server
    name = "Conflict" + uuid.uuid4().hex[:6]
    ddbs, _ = make_global(s, name)

    def writer(r):
        for i in range(30):
            ddbs[r].put_item(TableName=name, Item={"pk": {"S": f"hot-{i % 3}"}, "by": {"S": r}, "n": {"N": str(i)}})

    threads = [threading.Thread(target=writer, args=(r,)) for r in REGIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def same_everywhere():
        views = [sorted((i["pk"]["S"], i["by"]["S"], i["n"]["N"]) for i in
                        ddbs[r].scan(TableName=name, ConsistentRead=True)["Items"] if i["pk"]["S"].startswith("hot-"))
                 for r in REGIONS]
        return len(views[0]) == 3 and all(v == views[0] for v in views)

    eventually(same_everywhere, "hot items equal in every replica")
    # Stays converged (nothing is still bouncing between replicas).
    time.sleep(0.5)
    assert same_everywhere()


def test_validation_errors_change_nothing(gt_server):
    s = gt_server
    east = s.client(region="us-east-1")
    kms_west = s.client("kms", region="eu-west-1")
    west_key = kms_west.create_key()["KeyMetadata"]
    name = "Valid" + uuid.uuid4().hex[:6]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                      StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    assert err(e) == ("ValidationException",
                      "One or more parameter values were invalid: Table StreamViewType must be NEW_AND_OLD_IMAGES to add a replica")
    other = "Owned" + uuid.uuid4().hex[:6]
    east.create_table(TableName=other, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    cases = [
        ([{"Create": {"RegionName": "eu-west-1"}}, {"Create": {"RegionName": "ap-southeast-2"}}],
         "One or more parameter values were invalid: Only one replica update is allowed per request"),
        ([{"Create": {"RegionName": "us-east-1"}}],
         "One or more parameter values were invalid: Cannot add a replica in the table's own region: us-east-1"),
        ([{"Create": {"RegionName": "eu-west-1", "KMSMasterKeyId": west_key["Arn"]}}],
         "One or more parameter values were invalid: KMSMasterKeyId cannot be specified for a replica of a table that uses an AWS owned key"),
        ([{"Delete": {"RegionName": "eu-west-1"}}],
         f"One or more parameter values were invalid: Cannot delete a replica that does not exist: no replica of {other} in region eu-west-1"),
    ]
    for updates, message in cases:
        with pytest.raises(ClientError) as e:
            east.update_table(TableName=other, ReplicaUpdates=updates)
        assert err(e) == ("ValidationException", message)
    # A table of that name in the replica's region.
    s.client(region="eu-west-1").create_table(
        TableName=other, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=other, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    assert err(e) == ("ValidationException",
                      f"Failed to create a the new replica of table with name: '{other}' because one or more replicas already existed as tables.")
    t = east.describe_table(TableName=other)["Table"]
    assert "Replicas" not in t and "GlobalTableVersion" not in t and "StreamSpecification" not in t
    # A customer managed table needs a key for each replica.
    cmk = s.client("kms").create_key()["KeyMetadata"]
    third = "Cmk" + uuid.uuid4().hex[:6]
    east.create_table(TableName=third, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                      SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": cmk["KeyId"]})
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=third, ReplicaUpdates=[{"Create": {"RegionName": "ap-southeast-2"}}])
    assert err(e) == ("ValidationException", "One or more parameter values were invalid: KMSMasterKeyId must be specified for each replica.")
    assert third not in s.client(region="ap-southeast-2").list_tables()["TableNames"]


def test_disabled_key_pauses_a_replica_until_it_returns(gt_server):
    s = gt_server
    name = "Paused" + uuid.uuid4().hex[:6]
    ddbs, keys = make_global(s, name)
    east, west, ap = (ddbs[r] for r in REGIONS)
    kms_ap = s.client("kms", region="ap-southeast-2")
    kms_ap.disable_key(KeyId=keys["ap-southeast-2"]["KeyId"])
    eventually(lambda: {x["RegionName"]: x["ReplicaStatus"] for x in east.describe_table(TableName=name)["Table"]["Replicas"]}
               == {"eu-west-1": "ACTIVE", "ap-southeast-2": "INACCESSIBLE_ENCRYPTION_CREDENTIALS"},
               "ap replica inaccessible")
    # The others keep serving and replicating among themselves.
    east.put_item(TableName=name, Item={"pk": {"S": "while-down"}, "v": {"S": "x"}})
    eventually(lambda: item(west, name, "while-down"), "west got the write")
    with pytest.raises(ClientError):
        ap.get_item(TableName=name, Key={"pk": {"S": "while-down"}})
    kms_ap.enable_key(KeyId=keys["ap-southeast-2"]["KeyId"])
    eventually(lambda: item(ap, name, "while-down"), "ap caught up")
    eventually(lambda: all(x["ReplicaStatus"] == "ACTIVE" for x in east.describe_table(TableName=name)["Table"]["Replicas"]),
               "all active again")


def test_removing_a_replica(gt_server):
    s = gt_server
    name = "Remove" + uuid.uuid4().hex[:6]
    ddbs, _ = make_global(s, name)
    east, west, ap = (ddbs[r] for r in REGIONS)
    resp = east.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "ap-southeast-2"}}])
    # DELETING, seen from every region, for the replica transition (2 s), then gone.
    assert {x["RegionName"]: x["ReplicaStatus"] for x in resp["TableDescription"]["Replicas"]} == \
        {"eu-west-1": "ACTIVE", "ap-southeast-2": "DELETING"}
    assert {x["RegionName"]: x["ReplicaStatus"] for x in west.describe_table(TableName=name)["Table"]["Replicas"]} == \
        {"us-east-1": "ACTIVE", "ap-southeast-2": "DELETING"}
    assert ap.describe_table(TableName=name)["Table"]["TableStatus"] == "DELETING"
    # As AWS answers for a table being deleted.
    with pytest.raises(ClientError) as e:
        ap.describe_time_to_live(TableName=name)
    assert err(e) == ("ValidationException",
                      "Cannot describe time to live while table is in DELETING state: Current table state is DELETING")
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "ap-southeast-2"}}])
    assert err(e) == ("ResourceInUseException",
                      f"Attempt to change a resource which is still in use: Replica is being deleted: {name}")
    eventually(lambda: name not in ap.list_tables()["TableNames"], "ap replica deleted")
    for r in ("us-east-1", "eu-west-1"):
        assert [x["RegionName"] for x in ddbs[r].describe_table(TableName=name)["Table"]["Replicas"]] == \
            sorted(set(REGIONS) - {r, "ap-southeast-2"})
    west.put_item(TableName=name, Item={"pk": {"S": "after"}})
    eventually(lambda: item(east, name, "after"), "east got the write")
    # The region's table of that name is a table of its own again.
    ap.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    time.sleep(0.5)
    assert ap.scan(TableName=name)["Items"] == []
    # Deleting the last other replica leaves a regional table.
    west.delete_table(TableName=name)
    t = east.describe_table(TableName=name)["Table"]
    assert "Replicas" not in t and "GlobalTableVersion" not in t


def test_nothing_readable_on_disk_and_restart_loses_nothing(gt_server):
    s = gt_server
    name = "Durable" + uuid.uuid4().hex[:6]
    ddbs, _ = make_global(s, name)
    east = ddbs["us-east-1"]
    acknowledged = []
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            pk = f"load-{i}"
            try:
                east.put_item(TableName=name, Item={"pk": {"S": pk}, "v": {"S": "PlainMarkerQ8"}})
            except Exception:  # the server was killed under us
                return
            acknowledged.append(pk)
            i += 1

    t = threading.Thread(target=load)
    t.start()
    eventually(lambda: len(acknowledged) > 30, "load running")
    s.kill()
    stop.set()
    t.join()
    for f in s.data_dir.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for marker in (b"PlainMarkerQ8", b"SeedMarkerR5", name.encode()):
                assert marker not in data, f"{marker!r} readable in {f}"
    s.start()
    for r in REGIONS:
        ddb = s.client(region=r)
        def all_there(ddb=ddb):
            got = set()
            kwargs = {}
            while True:
                page = ddb.scan(TableName=name, ConsistentRead=True, **kwargs)
                got |= {i["pk"]["S"] for i in page["Items"]}
                if "LastEvaluatedKey" not in page:
                    return set(acknowledged) <= got
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        eventually(all_there, f"acknowledged writes in {r}")


def test_readme_cli_two_regions(gt_server):
    """The README's aws CLI set-up of a two-region global table with a key per region."""
    import json
    import pathlib
    import subprocess
    import sys

    s = gt_server
    aws = [str(pathlib.Path(sys.executable).parent / "aws"), "--endpoint-url", s.endpoint, "--output", "json"]

    def run(*args):
        out = subprocess.run(aws + list(args), env=s.cli_env(), capture_output=True, text=True, check=True).stdout
        return json.loads(out) if out.strip() else None

    east = run("kms", "create-key", "--region", "us-east-1")["KeyMetadata"]["Arn"]
    west = run("kms", "create-key", "--region", "eu-west-1")["KeyMetadata"]["Arn"]
    run("dynamodb", "create-table", "--region", "us-east-1", "--table-name", "Music",
        "--attribute-definitions", "AttributeName=Artist,AttributeType=S",
        "--key-schema", "AttributeName=Artist,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST",
        "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
        "--sse-specification", f"Enabled=true,SSEType=KMS,KMSMasterKeyId={east}")
    out = run("dynamodb", "update-table", "--region", "us-east-1", "--table-name", "Music",
              "--replica-updates", json.dumps([{"Create": {"RegionName": "eu-west-1", "KMSMasterKeyId": west}}]))
    assert [r["RegionName"] for r in out["TableDescription"]["Replicas"]] == ["eu-west-1"]
    version, replicas = eventually(
        lambda: (lambda d: d if d[1][0]["ReplicaStatus"] == "ACTIVE" else None)(
            run("dynamodb", "describe-table", "--region", "eu-west-1", "--table-name", "Music",
                "--query", "Table.[GlobalTableVersion, Replicas]")),
        "replica active")
    assert version == "2019.11.21"
    assert replicas == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE", "KMSMasterKeyId": east}]
    run("dynamodb", "put-item", "--region", "eu-west-1", "--table-name", "Music", "--item", '{"Artist": {"S": "Acme"}}')
    got = eventually(lambda: run("dynamodb", "get-item", "--region", "us-east-1", "--table-name", "Music",
                                 "--key", '{"Artist": {"S": "Acme"}}'), "item in us-east-1")
    assert got["Item"] == {"Artist": {"S": "Acme"}}


def test_a_replica_inaccessible_too_long_leaves_the_group(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--key-check-interval-secs", "1", "--replica-inaccessible-secs", "2"]).start()
    try:
        name = "Leaves" + uuid.uuid4().hex[:6]
        regions = ["us-east-1", "eu-west-1"]
        ddbs, keys = make_global(s, name, regions=regions)
        east, west = ddbs["us-east-1"], ddbs["eu-west-1"]
        kms_west = s.client("kms", region="eu-west-1")
        kms_west.disable_key(KeyId=keys["eu-west-1"]["KeyId"])
        eventually(lambda: "Replicas" not in east.describe_table(TableName=name)["Table"], "west left the group")
        east.put_item(TableName=name, Item={"pk": {"S": "after-leaving"}})
        kms_west.enable_key(KeyId=keys["eu-west-1"]["KeyId"])
        # The west table stays, as a regional table of its own; it no longer replicates.
        t = eventually(lambda: (lambda t: t if t["TableStatus"] == "ACTIVE" else None)(
            west.describe_table(TableName=name)["Table"]), "west table back")
        assert "Replicas" not in t and "GlobalTableVersion" not in t
        assert item(west, name, "before")["v"]["S"] == "SeedMarkerR5"
        west.put_item(TableName=name, Item={"pk": {"S": "west-alone"}})
        time.sleep(1)
        assert item(west, name, "after-leaving") is None
        assert item(east, name, "west-alone") is None
    finally:
        s.kill()


def test_updating_a_replica_key_and_class(gt_server):
    s = gt_server
    name = "Update" + uuid.uuid4().hex[:6]
    regions = ["us-east-1", "eu-west-1"]
    ddbs, keys = make_global(s, name, regions=regions)
    east, west = ddbs["us-east-1"], ddbs["eu-west-1"]
    new_key = s.client("kms", region="eu-west-1").create_key(Description="new")["KeyMetadata"]
    resp = east.update_table(TableName=name, ReplicaUpdates=[{"Update": {
        "RegionName": "eu-west-1", "KMSMasterKeyId": new_key["KeyId"], "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}])
    # UPDATING for the replica transition (2 s), in the response, from east and in west itself.
    assert resp["TableDescription"]["Replicas"][0]["ReplicaStatus"] == "UPDATING"
    assert west.describe_table(TableName=name)["Table"]["TableStatus"] == "UPDATING"
    eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
               "replica active after the update")
    assert west.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    [replica] = east.describe_table(TableName=name)["Table"]["Replicas"]
    assert replica["KMSMasterKeyId"] == new_key["Arn"]
    assert replica["ReplicaTableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert west.describe_table(TableName=name)["Table"]["SSEDescription"]["KMSMasterKeyArn"] == new_key["Arn"]
    # The old key no longer matters: disabling it leaves the replica serving.
    s.client("kms", region="eu-west-1").disable_key(KeyId=keys["eu-west-1"]["KeyId"])
    east.put_item(TableName=name, Item={"pk": {"S": "after-update"}})
    eventually(lambda: item(west, name, "after-update"), "west got the write")
    time.sleep(2.5)  # past a key re-check (1 s): the replica is not inaccessible
    assert east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE"
    with pytest.raises(ClientError) as e:
        east.update_table(TableName=name, ReplicaUpdates=[{"Update": {"RegionName": "ap-southeast-2", "KMSMasterKeyId": new_key["Arn"]}}])
    assert err(e) == ("ValidationException",
                      f"One or more parameter values were invalid: Cannot update a replica that does not exist: no replica of {name} in region ap-southeast-2")


def test_replica_throughput_overrides(gt_server):
    s = gt_server
    east, west = s.client(region="us-east-1"), s.client(region="eu-west-1")
    name = "Override" + uuid.uuid4().hex[:6]
    east.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"},
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}],
        BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    # Refused overrides change nothing.
    for create, code in [
        ({"OnDemandThroughputOverride": {"MaxReadRequestUnits": 10}}, "ValidationException"),
        ({"GlobalSecondaryIndexes": [{"IndexName": "Nope", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 2}}]},
         "ValidationException"),
    ]:
        with pytest.raises(ClientError) as e:
            east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1", **create}}])
        assert err(e)[0] == code
        assert name not in west.list_tables()["TableNames"]
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {
        "RegionName": "eu-west-1", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 3},
        "GlobalSecondaryIndexes": [{"IndexName": "ByG", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 2}}]}}])
    eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
               "replica active")
    r = east.describe_table(TableName=name)["Table"]["Replicas"][0]
    assert r["ProvisionedThroughputOverride"] == {"ReadCapacityUnits": 3}
    assert r["GlobalSecondaryIndexes"] == [{"IndexName": "ByG", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 2}}]
    t = west.describe_table(TableName=name)["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    assert t["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
    # Update changes what it names and keeps the rest.
    east.update_table(TableName=name, ReplicaUpdates=[{"Update": {
        "RegionName": "eu-west-1", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 4}}}])
    r = east.describe_table(TableName=name)["Table"]["Replicas"][0]
    assert r["ReplicaStatus"] == "UPDATING"
    assert r["ProvisionedThroughputOverride"] == {"ReadCapacityUnits": 4}
    assert r["GlobalSecondaryIndexes"][0]["ProvisionedThroughputOverride"] == {"ReadCapacityUnits": 2}
    assert west.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    # The source table keeps its own throughput.
    assert east.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
