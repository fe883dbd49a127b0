"""Global tables across two deployments (issue 18): `sealdb serve --peer REGION=URL` on
each side, a replication credential (an IAM user's access key on the other side), a
replica created and fed over HTTP with SigV4; writes in each appear in the other; one
process SIGKILLed and restarted under load, then both converge with nothing acknowledged
lost or duplicated."""

import os
import socket
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, Server
from conftest import eventually as poll

TIMEOUT = 90


def eventually(check, what, timeout=TIMEOUT):
    return poll(check, what, timeout, interval=0.2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def credential_file(path, key, secret):
    path.write_text(f"{key}\n{secret}\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def two_sites(tmp_path):
    ports = {"us-east-1": free_port(), "eu-west-1": free_port()}
    other = {"us-east-1": "eu-west-1", "eu-west-1": "us-east-1"}
    # Each side signs its calls to the other with the other's admin key here (a test:
    # the README shows a least-privilege IAM user instead).
    cred = credential_file(tmp_path / "peer-credential", ACCESS_KEY, SECRET_KEY)
    servers = {}
    for region in ports:
        servers[region] = Server(tmp_path / region, extra_args=[
            "--listen", f"127.0.0.1:{ports[region]}", "--region", region, "--regions", region,
            "--peer", f"{other[region]}=http://127.0.0.1:{ports[other[region]]}",
            "--peer-credential-file", str(cred)])
    for s in servers.values():
        s.start()
    yield servers
    for s in servers.values():
        s.kill()


def get(ddb, name, pk):
    return ddb.get_item(TableName=name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def test_two_deployments_replicate_and_survive_a_kill(two_sites):
    east_srv, west_srv = two_sites["us-east-1"], two_sites["eu-west-1"]
    east, west = east_srv.client(region="us-east-1"), west_srv.client(region="eu-west-1")
    name = "Peers" + uuid.uuid4().hex[:6]
    # Each replica on a customer managed key of its own region, made in its own deployment.
    east_key = east_srv.client("kms", region="us-east-1").create_key()["KeyMetadata"]["Arn"]
    west_key = west_srv.client("kms", region="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                      StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                      SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": east_key})
    east.put_item(TableName=name, Item={"pk": {"S": "before"}, "v": {"S": "PeerSeedMarkerQ7"}})
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1", "KMSMasterKeyId": west_key}}])
    r = eventually(lambda: (lambda r: r if r["ReplicaStatus"] == "ACTIVE" else None)(
        east.describe_table(TableName=name)["Table"]["Replicas"][0]), "replica active")
    assert r["RegionName"] == "eu-west-1" and r["KMSMasterKeyId"] == west_key
    t = west.describe_table(TableName=name)["Table"]
    assert t["SSEDescription"]["KMSMasterKeyArn"] == west_key
    assert t["GlobalTableVersion"] == "2019.11.21" and t["Replicas"][0]["RegionName"] == "us-east-1"
    assert get(west, name, "before")["v"]["S"] == "PeerSeedMarkerQ7"
    west.put_item(TableName=name, Item={"pk": {"S": "from-west"}})
    eventually(lambda: get(east, name, "from-west"), "west's write in east")
    # Under load in both sites, kill the west process and start it again.
    acked = {"us-east-1": [], "eu-west-1": []}
    stop = threading.Event()

    def writer(region, ddb_of):
        i = 0
        while not stop.is_set():
            pk = f"{region}-{i}"
            try:
                ddb_of().put_item(TableName=name, Item={"pk": {"S": pk}, "n": {"N": str(i)}})
                acked[region].append(pk)
            except Exception:  # the killed side refuses while down
                time.sleep(0.05)
            i += 1

    # Both sites keep their ports, so the clients reach a restarted process again.
    threads = [threading.Thread(target=writer, args=("us-east-1", lambda: east)),
               threading.Thread(target=writer, args=("eu-west-1", lambda: west))]
    for t in threads:
        t.start()
    for victim, survivor in ((west_srv, east), (east_srv, west)):
        time.sleep(2)
        victim.kill()
        # While one side is down, the other keeps serving and says where its changes wait.
        time.sleep(1)
        [down] = survivor.describe_table(TableName=name)["Table"]["Replicas"]
        assert "does not answer" in down["ReplicaStatusDescription"], down
        time.sleep(1)
        victim.start()
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    print(f"acknowledged writes: east {len(acked['us-east-1'])}, west {len(acked['eu-west-1'])}")
    for region, pks in acked.items():
        assert pks, f"no write acknowledged in {region}"
        for ddb in (east, west):
            eventually(lambda: all(get(ddb, name, pk) for pk in pks[-50:]), f"{region}'s writes everywhere")
    # Same items, each once, in both sites.
    def scan(ddb):
        items, start = [], None
        while True:
            page = ddb.scan(TableName=name, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
            items += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(i["pk"]["S"] for i in items)
    everything = {"before", "from-west", *acked["us-east-1"], *acked["eu-west-1"]}
    eventually(lambda: set(scan(east)) >= everything and set(scan(west)) >= everything, "converged")
    assert scan(east) == scan(west)
    assert len(scan(east)) == len(set(scan(east)))

    # Nothing applied twice: each site's stream has exactly one record of each write of
    # the other (a change applied again would be a second record).
    def records_per_key(srv, ddb, region):
        streams = srv.client("dynamodbstreams", region=region)
        arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        seen = {}
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                page = streams.get_records(ShardIterator=it)
                for r in page["Records"]:
                    pk = r["dynamodb"]["Keys"]["pk"]["S"]
                    seen[pk] = seen.get(pk, 0) + 1
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        return seen

    in_east = records_per_key(east_srv, east, "us-east-1")
    in_west = records_per_key(west_srv, west, "eu-west-1")
    assert [pk for pk in acked["eu-west-1"] if in_east.get(pk) != 1] == []
    assert [pk for pk in acked["us-east-1"] if in_west.get(pk) != 1] == []


REPLICATOR_POLICY = """{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Action": ["dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:CreateTable", "dynamodb:UpdateTable"],
  "Resource": "arn:aws:dynamodb:*:*:table/*"},
  {"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey*", "kms:Decrypt"],
   "Resource": "*", "Condition": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}}}]}"""


def test_least_privilege_replicator_and_removing_a_remote_replica(two_sites, tmp_path):
    east_srv, west_srv = two_sites["us-east-1"], two_sites["eu-west-1"]
    # Each side's replicator: an IAM user allowed only what replication asks; the other
    # side signs with its key.
    keys = {}
    for region, srv in two_sites.items():
        iam = srv.client("iam", region="us-east-1")
        iam.create_user(UserName="replicator")
        iam.put_user_policy(UserName="replicator", PolicyName="replicate", PolicyDocument=REPLICATOR_POLICY)
        keys[region] = iam.create_access_key(UserName="replicator")["AccessKey"]
    for region, other in (("us-east-1", "eu-west-1"), ("eu-west-1", "us-east-1")):
        srv = two_sites[region]
        srv.kill()
        cred = credential_file(tmp_path / f"cred-{region}", keys[other]["AccessKeyId"], keys[other]["SecretAccessKey"])
        i = srv.extra_args.index("--peer-credential-file")
        srv.extra_args[i + 1] = str(cred)
        srv.start()
    east, west = east_srv.client(region="us-east-1"), west_srv.client(region="eu-west-1")
    name = "LeastPriv" + uuid.uuid4().hex[:6]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    east.put_item(TableName=name, Item={"pk": {"S": "seeded"}})
    # Both replicas on customer managed keys; the west one is used by the replicator.
    east.update_table(TableName=name, SSESpecification={
        "Enabled": True, "SSEType": "KMS",
        "KMSMasterKeyId": east_srv.client("kms", region="us-east-1").create_key()["KeyMetadata"]["Arn"]})
    west_key = west_srv.client("kms", region="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1", "KMSMasterKeyId": west_key}}])
    eventually(lambda: get(west, name, "seeded"), "seeded over HTTP with the replicator's key")
    assert west.describe_table(TableName=name)["Table"]["SSEDescription"]["KMSMasterKeyArn"] == west_key
    west.put_item(TableName=name, Item={"pk": {"S": "back"}})
    eventually(lambda: get(east, name, "back"), "west's write in east")
    # The replicator can do nothing else (its policy is the whole of its rights).
    west_as_replicator = west_srv.client(region="eu-west-1", key=keys["eu-west-1"]["AccessKeyId"],
                                         secret=keys["eu-west-1"]["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        west_as_replicator.put_item(TableName=name, Item={"pk": {"S": "nope"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # Removing the remote replica: DELETING from both sides, then gone.
    east.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])
    assert east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "DELETING"
    assert west.describe_table(TableName=name)["Table"]["TableStatus"] == "DELETING"
    eventually(lambda: name not in west.list_tables()["TableNames"], "west replica deleted")
    eventually(lambda: "Replicas" not in east.describe_table(TableName=name)["Table"], "east regional again")

    # Neither data dir holds the items in plain text.
    for srv in (east_srv, west_srv):
        east_srv.kill() if srv is east_srv else west_srv.kill()
        for path in srv.data_dir.rglob("*"):
            if path.is_file():
                assert b"PeerSeedMarkerQ7" not in path.read_bytes(), path
