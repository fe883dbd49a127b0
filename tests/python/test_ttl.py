"""Time to Live: a server with a one-second sweep deletes expired items (and only those),
keeps its indexes consistent, and writes REMOVE stream records made by the service."""

import pathlib
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server

SERVICE_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
CHANGE_INTERVAL = 3
TOO_SOON = ("ValidationException", "Time to live has been modified multiple times within a fixed interval")


@pytest.fixture(scope="module")
def ttl_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ttl") / "data", extra_args=[
        "--ttl-sweep-interval", "1", "--ttl-transition-secs", "1",
        "--ttl-change-interval-secs", str(CHANGE_INTERVAL)]).start()
    yield s
    s.stop()


def wait_until(check, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def stream_records(server, arn):
    streams = server.client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    out = []
    for shard in shards:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it)
            out.extend(page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return out


def test_expired_items_are_deleted_with_service_stream_records(ttl_server):
    ddb = ttl_server.client()
    name = "ttl" + uuid.uuid4().hex[:8]
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        BillingMode="PAY_PER_REQUEST")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    now = int(time.time())
    items = {
        "expired": {"N": str(now - 100)},
        "expired-fraction": {"N": f"{now - 50}.25"},
        "future": {"N": str(now + 3600)},
        "string": {"S": str(now - 100)},
        "too-old": {"N": str(now - 6 * 365 * 86400)},
        "set": {"NS": [str(now - 100)]},
    }
    for pk, exp in items.items():
        ddb.put_item(TableName=name, Item={"pk": {"S": pk}, "g": {"S": "all"}, "exp": exp})
    ddb.put_item(TableName=name, Item={"pk": {"S": "no-ttl"}, "g": {"S": "all"}})
    # Nothing goes while TTL is off.
    time.sleep(2.5)
    assert ddb.scan(TableName=name)["Count"] == 7

    spec = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    enabled_at = time.monotonic()
    assert spec["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    assert wait_until(lambda: ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})

    def left():
        return sorted(i["pk"]["S"] for i in ddb.scan(TableName=name, ConsistentRead=True)["Items"])
    kept = ["future", "no-ttl", "set", "string", "too-old"]
    assert wait_until(lambda: left() == kept), left()
    in_index = sorted(i["pk"]["S"] for i in ddb.query(
        TableName=name, IndexName="byg", KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "all"}})["Items"])
    assert in_index == kept
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 5

    removes = [r for r in stream_records(ttl_server, arn) if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removes) == ["expired", "expired-fraction"]
    for r in removes:
        assert r["userIdentity"] == SERVICE_IDENTITY
        assert r["dynamodb"]["OldImage"]["exp"]["N"].startswith(str(now - 100)[:5])
        assert "NewImage" not in r["dynamodb"]
    # The inserts were made by a user: no userIdentity on them.
    inserts = [r for r in stream_records(ttl_server, arn) if r["eventName"] == "INSERT"]
    assert len(inserts) == 7 and all("userIdentity" not in r for r in inserts)

    # An item written already expired goes on a later sweep; disabling TTL stops deletions.
    ddb.put_item(TableName=name, Item={"pk": {"S": "late"}, "exp": {"N": str(now - 1)}})
    assert wait_until(lambda: "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "late"}}, ConsistentRead=True))
    time.sleep(max(0.0, enabled_at + CHANGE_INTERVAL + 0.2 - time.monotonic()))
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert wait_until(lambda: ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"})
    ddb.put_item(TableName=name, Item={"pk": {"S": "after-off"}, "exp": {"N": str(now - 1)}})
    time.sleep(2.5)
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "after-off"}}, ConsistentRead=True)


def test_update_time_to_live_errors(ttl_server):
    ddb = ttl_server.client()
    name = "ttl" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")

    def error(**spec):
        with pytest.raises(ClientError) as e:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    assert error(Enabled=False, AttributeName="exp") == ("ValidationException", "TimeToLive is already disabled")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert error(Enabled=True, AttributeName="exp") == ("ValidationException", "TimeToLive is already enabled")
    code, msg = error(Enabled=True, AttributeName="other")
    assert code == "ValidationException"
    assert error(Enabled=False, AttributeName="other") == (
        "ValidationException", "TimeToLive is active on a different AttributeName: current AttributeName is exp")
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="nope" + name,
                                TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def describe_ttl(ddb, name):
    return ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]


def test_ttl_passes_through_enabling_and_disabling_and_limits_changes(ttl_server):
    ddb = ttl_server.client()
    name = "ttl" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "exp": {"N": str(int(time.time()) - 10)}})

    def update(enabled, attr="exp"):
        try:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attr})
            return None
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"]["Message"]

    assert update(True) is None
    changed = time.monotonic()
    # Nothing expires while ENABLING (the item was read before the status was).
    present = "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}}, ConsistentRead=True)
    status = describe_ttl(ddb, name)
    assert status["TimeToLiveStatus"] in ("ENABLING", "ENABLED") and status["AttributeName"] == "exp"
    if status["TimeToLiveStatus"] == "ENABLING":
        assert present
    # The setting is checked first, then the change interval.
    assert update(True) == ("ValidationException", "TimeToLive is already enabled")
    assert update(False) == TOO_SOON
    assert wait_until(lambda: describe_ttl(ddb, name) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
    assert wait_until(lambda: "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}}, ConsistentRead=True))
    if time.monotonic() < changed + CHANGE_INTERVAL - 0.5:
        assert update(False) == TOO_SOON
    assert wait_until(lambda: update(False) is None)
    assert time.monotonic() >= changed + CHANGE_INTERVAL - 0.1
    status = describe_ttl(ddb, name)
    assert status in ({"TimeToLiveStatus": "DISABLING", "AttributeName": "exp"}, {"TimeToLiveStatus": "DISABLED"})
    assert update(False) == ("ValidationException", "TimeToLive is already disabled")
    assert update(True, "other") == TOO_SOON
    assert wait_until(lambda: describe_ttl(ddb, name) == {"TimeToLiveStatus": "DISABLED"})
    assert wait_until(lambda: update(True, "other") is None)
    assert describe_ttl(ddb, name)["AttributeName"] == "other"
