"""Global tables across deployments with a third region (issue 18): a re-copy after a
partition longer than the stream retention deletes what the source deleted during the
gap even when the last write here came from the third region; a replica that leaves its
group for an unusable key still sends the replica changes it had queued for a peer."""

import uuid

from conftest import ACCESS_KEY, SECRET_KEY
from test_global_tables_peers import credential_file, eventually, free_port, get, site


def keys_of(ddb, name):
    out, start = set(), None
    while True:
        page = ddb.scan(TableName=name, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        out |= {i["pk"]["S"] for i in page["Items"]}
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


def put_many(ddb, name, pks):
    pks = list(pks)
    for i in range(0, len(pks), 25):
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": pk}}}}
                                                  for pk in pks[i:i + 25]]})


def stream_keys(srv, ddb, name):
    """The keys of every record the table's stream still holds."""
    streams = srv.client("dynamodbstreams", region=ddb.meta.region_name)
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    keys = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it)
            keys += [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return keys


def active(ddb, name, region):
    replicas = ddb.describe_table(TableName=name)["Table"].get("Replicas", [])
    return any(r["RegionName"] == region and r["ReplicaStatus"] == "ACTIVE" for r in replicas)


def test_recopy_deletes_what_the_source_deleted_after_a_third_regions_write(tmp_path):
    """Three deployments, one region each. Items written in ap-southeast-2 reach the
    others; west goes down; east deletes some of them and, 25 hours on, has trimmed its
    stream. West's re-copy from east must delete them (east's tombstones are later than
    west's last write, which came from ap-southeast-2, whose own channel has nothing to
    say of east's deletions), across more than one page of west's items."""
    cred = credential_file(tmp_path / "cred", ACCESS_KEY, SECRET_KEY)
    ports = {"us-east-1": free_port(), "eu-west-1": free_port(), "ap-southeast-2": free_port()}
    sites = {r: site(tmp_path, r, p, [r], {o: q for o, q in ports.items() if o != r}, cred) for r, p in ports.items()}
    try:
        for s in sites.values():
            s.start()
        east, west, ap = (sites[r].client(region=r) for r in ("us-east-1", "eu-west-1", "ap-southeast-2"))
        name = "Third" + uuid.uuid4().hex[:6]
        east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        for r in ("eu-west-1", "ap-southeast-2"):
            east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": r}}])
            eventually(lambda: active(east, name, r), f"replica in {r} active")
        eventually(lambda: active(ap, name, "eu-west-1") and active(west, name, "ap-southeast-2"), "all know all")
        # More than a page (256) of items written in the third region.
        third = [f"ap-{i}" for i in range(300)]
        put_many(ap, name, third)
        eventually(lambda: keys_of(west, name) == set(third) and keys_of(east, name) == set(third),
                   "the third region's items everywhere")
        sites["eu-west-1"].kill()
        doomed = third[::10]
        for pk in doomed:
            east.delete_item(TableName=name, Key={"pk": {"S": pk}})
        eventually(lambda: not (keys_of(ap, name) & set(doomed)), "east's deletions in the third region")
        # 25 hours later at east: its next writes trim what west has not read.
        sites["us-east-1"].kill()
        sites["us-east-1"].extra_args += ["--test-data-clock-offset-secs", str(25 * 3600)]
        sites["us-east-1"].start()
        east = sites["us-east-1"].client(region="us-east-1")
        # Each write trims up to 8 records past the retention: enough writes to trim all.
        later = [f"east-{i}" for i in range(80)]
        put_many(east, name, later)
        kept = stream_keys(sites["us-east-1"], east, name)
        assert kept and not (set(kept) & set(third)), kept
        sites["eu-west-1"].start()
        west = sites["eu-west-1"].client(region="eu-west-1")
        wanted = (set(third) - set(doomed)) | set(later)
        eventually(lambda: keys_of(west, name) == wanted, "west level with east after the long partition")
        assert keys_of(ap, name) == wanted
    finally:
        for s in sites.values():
            s.kill()


def test_a_replica_that_leaves_still_sends_what_it_queued(tmp_path):
    """us-east-1 and us-west-2 in one deployment, eu-west-1 in another, down. A replica
    in eu-west-1 is asked through us-east-1 (queued there); then us-east-1's key stays
    disabled past the limit and it leaves the group. The group it left (us-west-2) still
    gets its replica in eu-west-1 when that deployment is back, copied from us-west-2."""
    cred = credential_file(tmp_path / "cred", ACCESS_KEY, SECRET_KEY)
    east_port, west_port = free_port(), free_port()
    east_srv = site(tmp_path, "east", east_port, ["us-east-1", "us-west-2"], {"eu-west-1": west_port}, cred,
                    ["--key-check-interval-secs", "1", "--replica-inaccessible-secs", "3"])
    west_srv = site(tmp_path, "west", west_port, ["eu-west-1"],
                    {"us-east-1": east_port, "us-west-2": east_port}, cred)
    try:
        east_srv.start()
        west_srv.start()
        east, usw2 = east_srv.client(region="us-east-1"), east_srv.client(region="us-west-2")
        keys = {r: srv.client("kms", region=r).create_key()["KeyMetadata"]
                for r, srv in (("us-east-1", east_srv), ("us-west-2", east_srv), ("eu-west-1", west_srv))}
        name = "Leaver" + uuid.uuid4().hex[:6]
        east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                          SSESpecification={"Enabled": True, "SSEType": "KMS",
                                            "KMSMasterKeyId": keys["us-east-1"]["Arn"]})
        east.put_item(TableName=name, Item={"pk": {"S": "before"}})
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {
            "RegionName": "us-west-2", "KMSMasterKeyId": keys["us-west-2"]["Arn"]}}])
        eventually(lambda: active(east, name, "us-west-2"), "us-west-2 active")
        west_srv.kill()
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {
            "RegionName": "eu-west-1", "KMSMasterKeyId": keys["eu-west-1"]["Arn"]}}])
        usw2.put_item(TableName=name, Item={"pk": {"S": "from-usw2"}})
        east_srv.client("kms", region="us-east-1").disable_key(KeyId=keys["us-east-1"]["KeyId"])
        eventually(lambda: "us-east-1" not in [r["RegionName"] for r in
                                               usw2.describe_table(TableName=name)["Table"].get("Replicas", [])],
                   "us-east-1 left the group")
        # What it queued outlives a restart too.
        east_srv.kill()
        east_srv.start()
        usw2 = east_srv.client(region="us-west-2")
        west_srv.start()
        west = west_srv.client(region="eu-west-1")
        eventually(lambda: get(west, name, "before") and get(west, name, "from-usw2"),
                   "eu-west-1 created and copied from us-west-2")
        eventually(lambda: active(usw2, name, "eu-west-1"), "us-west-2 sees eu-west-1 active")
        t = west.describe_table(TableName=name)["Table"]
        assert t["SSEDescription"]["KMSMasterKeyArn"] == keys["eu-west-1"]["Arn"]
        assert [r["RegionName"] for r in t["Replicas"]] == ["us-west-2"], t["Replicas"]
        west.put_item(TableName=name, Item={"pk": {"S": "from-west"}})
        eventually(lambda: get(usw2, name, "from-west"), "eu-west-1's write in us-west-2")
        usw2.put_item(TableName=name, Item={"pk": {"S": "later"}})
        eventually(lambda: get(west, name, "later"), "us-west-2's write in eu-west-1")
        # The replica that left is a table of its own, out of the group.
        assert "Replicas" not in east_srv.client(region="us-east-1").describe_table(TableName=name)["Table"]
    finally:
        east_srv.kill()
        west_srv.kill()
