"""DynamoDB Streams through boto3's dynamodbstreams client: records for INSERT, MODIFY and
REMOVE with the images the view type asks for, iterators that resume, and no plaintext of
stream records on disk."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server


def stream_of(ddb, name):
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def read_all(streams, arn):
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = streams.get_records(ShardIterator=it)
    return out["Records"], out["NextShardIterator"]


def test_records_follow_changes(server, ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    streams = server.client("dynamodbstreams")
    arn = stream_of(ddb, name)
    assert any(s["StreamArn"] == arn for s in streams.list_streams(TableName=name)["Streams"])
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "ENABLED" and desc["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert desc["TableName"] == name

    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    # Rewriting the same values and deleting a missing item write no record.
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "zz"}, "sk": {"S": "1"}})
    ddb.delete_item(TableName=name, Key=key)

    records, nxt = read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    ins, mod, rem = (r["dynamodb"] for r in records)
    assert ins["Keys"] == key and ins["NewImage"]["v"] == {"N": "1"} and "OldImage" not in ins
    assert mod["OldImage"]["v"] == {"N": "1"} and mod["NewImage"]["v"] == {"N": "2"}
    assert rem["OldImage"]["v"] == {"N": "2"} and "NewImage" not in rem
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert all(r["eventSource"] == "aws:dynamodb" for r in records)

    # The next iterator sees only what comes after.
    assert streams.get_records(ShardIterator=nxt)["Records"] == []
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    later = streams.get_records(ShardIterator=nxt)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later] == ["b"]

    after = streams.get_shard_iterator(
        StreamArn=arn, ShardId=desc["Shards"][0]["ShardId"],
        ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=records[1]["dynamodb"]["SequenceNumber"],
    )["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=after, Limit=1)["Records"]] == ["REMOVE"]


def test_keys_only_and_errors(server, ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    streams = server.client("dynamodbstreams")
    arn = stream_of(ddb, name)
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "sk": {"S": "1"}, "secret": {"S": "x"}})
    records, _ = read_all(streams, arn)
    assert records[0]["dynamodb"]["Keys"] == {"pk": {"S": "k"}, "sk": {"S": "1"}}
    assert "NewImage" not in records[0]["dynamodb"]

    with pytest.raises(ClientError) as e:
        streams.describe_stream(StreamArn=arn + "x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_stream_records_not_readable_on_disk(fresh_server):
    s = fresh_server.start()
    ddb = s.client()
    ddb.create_table(
        TableName="streamed", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    marker = "stream-plaintext-marker-7f3a"
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "a"}, "v": {"S": marker}})
    ddb.delete_item(TableName="streamed", Key={"pk": {"S": "a"}})
    records, _ = read_all(s.client("dynamodbstreams"), stream_of(ddb, "streamed"))
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    s.stop()
    for f in s.data_dir.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert marker.encode() not in data, f
            assert b"NewImage" not in data and b"eventName" not in data, f


def test_stream_locked_with_its_kms_key(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--key-check-interval-secs", "1"]).start()
    try:
        ddb, kms, streams = s.client(), s.client("kms"), s.client("dynamodbstreams")
        key = kms.create_key()["KeyMetadata"]
        ddb.create_table(
            TableName="locked", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]},
        )
        ddb.put_item(TableName="locked", Item={"pk": {"S": "a"}})
        arn = stream_of(ddb, "locked")
        kms.disable_key(KeyId=key["KeyId"])
        time.sleep(1.5)
        with pytest.raises(ClientError) as e:
            read_all(streams, arn)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert "is disabled." in e.value.response["Error"]["Message"]
        kms.enable_key(KeyId=key["KeyId"])
        time.sleep(1.5)
        records, _ = read_all(streams, arn)
        assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in records] == ["a"]
    finally:
        s.kill()


def test_reenabled_stream_starts_empty(server, ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    streams = server.client("dynamodbstreams")
    first = stream_of(ddb, name)
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "sk": {"S": "1"}})
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert e.value.response["Error"]["Message"] == "Stream is already disabled for this table"
    # Writes while the stream is off are not recorded.
    ddb.put_item(TableName=name, Item={"pk": {"S": "off"}, "sk": {"S": "1"}})
    time.sleep(0.01)  # the new stream's label is a millisecond timestamp
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    second = stream_of(ddb, name)
    assert second != first
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}, "sk": {"S": "1"}})
    records, _ = read_all(streams, second)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["new"]
    assert records[0]["dynamodb"]["NewImage"]["pk"] == {"S": "new"}


def test_aws_cli_reads_a_stream(aws_cli, ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    ddb.put_item(TableName=name, Item={"pk": {"S": "cli"}, "sk": {"S": "1"}, "n": {"N": "7"}})
    arn = aws_cli("dynamodbstreams", "list-streams", "--table-name", name)["Streams"][0]["StreamArn"]
    shard = aws_cli("dynamodbstreams", "describe-stream", "--stream-arn", arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = aws_cli("dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard,
                 "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    records = aws_cli("dynamodbstreams", "get-records", "--shard-iterator", it)["Records"]
    assert [r["dynamodb"]["NewImage"]["n"] for r in records] == [{"N": "7"}]
