"""GetRecords answers at most 1 MB, as AWS does, and the next iterator carries on from
the first record left out: large images page, nothing is skipped or repeated."""

import json

from test_streams import stream_of


def test_get_records_pages_at_one_megabyte(server, ddb, table):
    name = table("S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    streams = server.client("dynamodbstreams")
    arn = stream_of(ddb, name)
    blob = "x" * 300_000
    for i in range(8):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "sk": {"S": "1"}, "v": {"S": blob}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen, pages = [], 0
    while True:
        out = streams.get_records(ShardIterator=it)
        records = out["Records"]
        if not records:
            break
        pages += 1
        assert len(json.dumps(records, default=str)) <= 1024 * 1024, "a page over 1 MB"
        seen += [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
        it = out["NextShardIterator"]
    assert seen == [f"k{i}" for i in range(8)]
    assert pages >= 3
