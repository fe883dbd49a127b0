"""DynamoDB Streams as consumers written for AWS see it: shards that close and hand over
to child shards, DescribeStream paging and filters, iterator errors, and a consumer that
follows the lineage reading every record exactly once. The server rolls shards every
two seconds of writes (--stream-shard-rollover-secs)."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server


@pytest.fixture(scope="module")
def rolling(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("shards") / "data",
               extra_args=["--stream-shard-rollover-secs", "2"]).start()
    yield s
    s.stop()


def make_table(ddb, view="NEW_AND_OLD_IMAGES"):
    name = "sh" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def all_shards(streams, arn, **kw):
    out, start = [], None
    while True:
        args = dict(StreamArn=arn, Limit=1, **kw)
        if start:
            args["ExclusiveStartShardId"] = start
        d = streams.describe_stream(**args)["StreamDescription"]
        out.extend(d["Shards"])
        start = d.get("LastEvaluatedShardId")
        if not start:
            return out


def consume(streams, arn):
    """A KCL-style consumer: parents before children, each shard read until it has no
    NextShardIterator (closed) or an empty page (open)."""
    shards = all_shards(streams, arn)
    seen, done, records = set(), set(), []
    pending = [s for s in shards if s.get("ParentShardId") not in {x["ShardId"] for x in shards}]
    while pending:
        shard = pending.pop(0)
        if shard["ShardId"] in seen:
            continue
        seen.add(shard["ShardId"])
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=3)
            records.extend(page["Records"])
            it = page.get("NextShardIterator")
            if not page["Records"] and "EndingSequenceNumber" not in shard["SequenceNumberRange"]:
                break
        done.add(shard["ShardId"])
        children = streams.describe_stream(
            StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard["ShardId"]})["StreamDescription"]["Shards"]
        pending.extend(children)
    return records


def test_shards_roll_over_and_a_consumer_follows_the_lineage(rolling):
    ddb, streams = rolling.client(), rolling.client("dynamodbstreams")
    name, arn = make_table(ddb)
    written = []
    for round_ in range(3):
        for i in range(4):
            key = f"r{round_}-{i}"
            ddb.put_item(TableName=name, Item={"pk": {"S": key}, "v": {"N": str(i)}})
            written.append(key)
        time.sleep(2.2)
    ddb.put_item(TableName=name, Item={"pk": {"S": "last"}})
    written.append("last")

    shards = all_shards(streams, arn)
    assert len(shards) >= 3
    closed, open_ = shards[:-1], shards[-1]
    for parent, child in zip(shards, shards[1:]):
        assert child["ParentShardId"] == parent["ShardId"]
        end = int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
        assert int(child["SequenceNumberRange"]["StartingSequenceNumber"]) == end + 1
    assert "ParentShardId" not in shards[0]
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in closed)
    assert "EndingSequenceNumber" not in open_["SequenceNumberRange"]
    # Limit=1 paging gives the same list as one call.
    assert shards == streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

    records = consume(streams, arn)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    assert keys == written  # every record once, in order
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for r in records:
        assert r["eventName"] == "INSERT" and r["dynamodb"]["SizeBytes"] > 0
        assert "ApproximateCreationDateTime" in r["dynamodb"]

    # A drained closed shard has no next iterator; an open one keeps giving one.
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=closed[0]["ShardId"],
                                    ShardIteratorType="LATEST")["ShardIterator"]
    page = streams.get_records(ShardIterator=it)
    assert page["Records"] == [] and "NextShardIterator" not in page
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=open_["ShardId"],
                                    ShardIteratorType="LATEST")["ShardIterator"]
    page = streams.get_records(ShardIterator=it)
    assert page["Records"] == [] and page["NextShardIterator"]


def test_reenabled_stream_begins_a_new_lineage(rolling):
    ddb, streams = rolling.client(), rolling.client("dynamodbstreams")
    name, arn = make_table(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}})
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    new_arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert new_arn != arn
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}})
    shards = all_shards(streams, new_arn)
    assert "ParentShardId" not in shards[0]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in consume(streams, new_arn)] == ["new"]


def error(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_stream_errors(rolling):
    ddb, streams = rolling.client(), rolling.client("dynamodbstreams")
    name, arn = make_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    # Malformed ARNs are validation errors; well-formed unknown ones are not found.
    import boto3
    from botocore.config import Config
    from conftest import ACCESS_KEY, SECRET_KEY
    unchecked = boto3.client("dynamodbstreams", endpoint_url=rolling.endpoint, region_name="us-east-1",
                             aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                             config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert error(unchecked.describe_stream, StreamArn="not-an-arn")[0] == "ValidationException"
    assert error(streams.describe_stream, StreamArn="x" * 40)[0] == "ValidationException"
    unknown = arn.replace(name, name + "nope")
    assert error(streams.describe_stream, StreamArn=unknown)[0] == "ResourceNotFoundException"
    assert error(streams.get_shard_iterator, StreamArn=arn, ShardId="shardId-00000000000000000001-00000000",
                 ShardIteratorType="TRIM_HORIZON")[0] == "ResourceNotFoundException"
    code, _ = error(streams.get_shard_iterator, StreamArn=arn, ShardId=shard["ShardId"],
                    ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert code == "ValidationException"
    code, _ = error(streams.get_shard_iterator, StreamArn=arn, ShardId=shard["ShardId"],
                    ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="9" * 21)
    assert code == "ValidationException"
    seq = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                    ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=seq)["ShardIterator"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=it)["Records"]] == ["a"]
    assert error(streams.get_records, ShardIterator="garbage")[0] == "ValidationException"
    # CHILD_SHARDS of the open shard: none.
    d = streams.describe_stream(StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard["ShardId"]})
    assert d["StreamDescription"]["Shards"] == []


def test_list_streams_pages(rolling):
    ddb, streams = rolling.client(), rolling.client("dynamodbstreams")
    arns = {make_table(ddb, "KEYS_ONLY")[1] for _ in range(3)}
    seen, start = [], None
    while True:
        args = {"Limit": 1}
        if start:
            args["ExclusiveStartStreamArn"] = start
        page = streams.list_streams(**args)
        seen.extend(s["StreamArn"] for s in page["Streams"])
        start = page.get("LastEvaluatedStreamArn")
        if not start:
            break
    assert arns <= set(seen) and len(seen) == len(set(seen))
