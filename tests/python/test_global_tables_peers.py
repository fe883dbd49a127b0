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


def site(tmp_path, name, port, regions, peers, cred, extra=()):
    """A deployment serving `regions` on `port`, with a peer deployment per region of `peers`."""
    return Server(tmp_path / name, extra_args=[
        "--listen", f"127.0.0.1:{port}", "--region", regions[0], "--regions", ",".join(regions),
        *[a for region, p in peers.items() for a in ("--peer", f"{region}=http://127.0.0.1:{p}")],
        "--peer-credential-file", str(cred), *extra])


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


def make_ca_and_cert(d):
    """A CA and a server certificate it signed for 127.0.0.1 (rustls refuses a self-signed
    CA certificate used as the server's own)."""
    import subprocess
    ca_key, ca, key, csr, cert, ext = (d / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "ext"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "1", "-subj", "/CN=sealdb test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
        "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="needs openssl for a test CA")
def test_replica_over_https(tmp_path):
    """One deployment serves TLS; the other reaches it over https, trusting its CA only."""
    ca, cert, key = make_ca_and_cert(tmp_path)
    cred = credential_file(tmp_path / "peer-credential", ACCESS_KEY, SECRET_KEY)
    east_port, west_port = free_port(), free_port()
    west_srv = Server(tmp_path / "west", extra_args=[
        "--listen", f"127.0.0.1:{west_port}", "--region", "eu-west-1", "--regions", "eu-west-1",
        "--tls-cert", str(cert), "--tls-key", str(key),
        "--peer", f"us-east-1=http://127.0.0.1:{east_port}", "--peer-credential-file", str(cred)])

    def east_with(ca_file):
        return Server(tmp_path / "east", extra_args=[
            "--listen", f"127.0.0.1:{east_port}", "--region", "us-east-1", "--regions", "us-east-1",
            "--peer", f"eu-west-1=https://127.0.0.1:{west_port}", "--peer-credential-file", str(cred),
            "--peer-ca-file", str(ca_file)])

    # An east that trusts another CA cannot reach west: the replica is not created.
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_ca_and_cert(tmp_path / "other")
    west_srv.start()
    east_srv = east_with(other_ca).start()
    try:
        east = east_srv.client(region="us-east-1")
        west = boto3_client_tls(west_srv, ca)
        name = "Tls" + uuid.uuid4().hex[:6]
        east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        east.put_item(TableName=name, Item={"pk": {"S": "seeded"}})
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
        time.sleep(1.5)
        [r] = east.describe_table(TableName=name)["Table"]["Replicas"]
        assert r["ReplicaStatus"] == "CREATING" and "does not answer" in r["ReplicaStatusDescription"], r
        assert name not in west.list_tables()["TableNames"]
        # Restarted trusting west's CA: the queued creation goes through over https.
        east_srv.kill()
        east_srv = east_with(ca).start()
        east = east_srv.client(region="us-east-1")
        eventually(lambda: get(west, name, "seeded"), "replica created and seeded over https")
        eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
                   "replica active")
        east.put_item(TableName=name, Item={"pk": {"S": "east-later"}})
        eventually(lambda: get(west, name, "east-later"), "east's write in west")
        west.put_item(TableName=name, Item={"pk": {"S": "west-later"}})
        eventually(lambda: get(east, name, "west-later"), "west's write in east")
    finally:
        east_srv.kill()
        west_srv.kill()


def boto3_client_tls(srv, ca):
    import boto3
    from botocore.config import Config
    assert srv.endpoint.startswith("https://")
    return boto3.client("dynamodb", endpoint_url=srv.endpoint, region_name="eu-west-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, verify=str(ca),
                        config=Config(retries={"max_attempts": 1}))


def test_replica_changes_wait_for_a_partitioned_peer(two_sites):
    """Replica management calls to a deployment that is down are queued, shown, and
    delivered once it is back; the status says what waits."""
    east_srv, west_srv = two_sites["us-east-1"], two_sites["eu-west-1"]
    east, west = east_srv.client(region="us-east-1"), west_srv.client(region="eu-west-1")
    name = "Part" + uuid.uuid4().hex[:6]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    east.put_item(TableName=name, Item={"pk": {"S": "a"}})
    west_srv.kill()
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    [r] = east.describe_table(TableName=name)["Table"]["Replicas"]
    assert r["ReplicaStatus"] == "CREATING", r
    assert "1 replica changes wait for the deployment serving eu-west-1" in r["ReplicaStatusDescription"], r
    east.put_item(TableName=name, Item={"pk": {"S": "b"}})
    # The queue survives a restart of the side that holds it.
    east_srv.kill()
    east_srv.start()
    east = east_srv.client(region="us-east-1")
    west_srv.start()
    west = west_srv.client(region="eu-west-1")
    eventually(lambda: get(west, name, "a") and get(west, name, "b"), "replica created after the partition")
    eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
               "active")
    assert "ReplicaStatusDescription" not in east.describe_table(TableName=name)["Table"]["Replicas"][0] or \
        "wait for" not in east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatusDescription"]
    # A peer that is down after a restart of this side: its last known status (kept in
    # the replica's definition), saying that it does not answer.
    time.sleep(0.5)
    west_srv.kill()
    east_srv.kill()
    east_srv.start()
    east = east_srv.client(region="us-east-1")
    [r] = east.describe_table(TableName=name)["Table"]["Replicas"]
    assert r["ReplicaStatus"] == "ACTIVE" and "does not answer" in r["ReplicaStatusDescription"], r
    # Removing the replica while its deployment is down: DELETING, then done when it is back.
    east.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])
    assert east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "DELETING"
    west_srv.start()
    west = west_srv.client(region="eu-west-1")
    eventually(lambda: name not in west.list_tables()["TableNames"], "west replica deleted after the partition")
    eventually(lambda: "Replicas" not in east.describe_table(TableName=name)["Table"], "east regional again")


def test_an_unreachable_peer_keeps_its_last_known_state_across_restarts(two_sites):
    """What a peer last reported of its replica (status, key, class) is kept in the sealed
    definition: after a restart of this side, while the peer is down, DescribeTable
    still shows it."""
    east_srv, west_srv = two_sites["us-east-1"], two_sites["eu-west-1"]
    east = east_srv.client(region="us-east-1")
    name = "Known" + uuid.uuid4().hex[:6]
    east_key = east_srv.client("kms", region="us-east-1").create_key()["KeyMetadata"]["Arn"]
    west_key = west_srv.client("kms", region="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                      SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": east_key})
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {
        "RegionName": "eu-west-1", "KMSMasterKeyId": west_key, "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}])
    live = eventually(lambda: (lambda r: r if r["ReplicaStatus"] == "ACTIVE" else None)(
        east.describe_table(TableName=name)["Table"]["Replicas"][0]), "replica active")
    assert live["KMSMasterKeyId"] == west_key
    time.sleep(0.5)  # the state is saved by a task of its own
    for _ in range(2):  # a restart, and a restart after a restart
        west_srv.kill()
        east_srv.kill()
        east_srv.start()
        east = east_srv.client(region="us-east-1")
        [r] = east.describe_table(TableName=name)["Table"]["Replicas"]
        assert r["ReplicaStatus"] == "ACTIVE", r
        assert r["KMSMasterKeyId"] == west_key, r
        assert r["ReplicaTableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}, r
        assert "The deployment serving eu-west-1 does not answer" in r["ReplicaStatusDescription"], r
    # Nothing readable of it in the data dir.
    east_srv.kill()
    for path in east_srv.data_dir.rglob("*"):
        if path.is_file():
            assert b"STANDARD_INFREQUENT_ACCESS" not in path.read_bytes(), path
    east_srv.start()


def test_partition_longer_than_the_stream_retention_recopies(two_sites):
    """A peer away for more than the stream's 24 hours finds the changes it missed
    trimmed: it copies the source's items again (deletions included) instead of losing
    them. The source's data clock is moved 25 hours forward to get there."""
    east_srv, west_srv = two_sites["us-east-1"], two_sites["eu-west-1"]
    east, west = east_srv.client(region="us-east-1"), west_srv.client(region="eu-west-1")
    name = "Gap" + uuid.uuid4().hex[:6]
    east.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    eventually(lambda: east.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE",
               "replica active")
    for pk in ("keep", "doomed"):
        east.put_item(TableName=name, Item={"pk": {"S": pk}})
    eventually(lambda: get(west, name, "doomed"), "first writes in west")
    west_srv.kill()
    for i in range(5):
        east.put_item(TableName=name, Item={"pk": {"S": f"during-{i}"}})
    east.delete_item(TableName=name, Key={"pk": {"S": "doomed"}})
    # 25 hours later at east: its next writes trim everything west has not read.
    east_srv.kill()
    east_srv.extra_args += ["--test-data-clock-offset-secs", str(25 * 3600)]
    east_srv.start()
    east = east_srv.client(region="us-east-1")
    for i in range(10):
        east.put_item(TableName=name, Item={"pk": {"S": f"after-{i}"}})
    # The changes west missed are gone from east's stream.
    streams = east_srv.client("dynamodbstreams", region="us-east-1")
    arn = east.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    kept = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it)
            kept += [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    assert kept and not any(k.startswith("during-") or k == "doomed" for k in kept), kept
    west_srv.start()
    west = west_srv.client(region="eu-west-1")
    wanted = {"keep", *(f"during-{i}" for i in range(5)), *(f"after-{i}" for i in range(10))}

    def west_keys():
        return {i["pk"]["S"] for i in west.scan(TableName=name, ConsistentRead=True)["Items"]}
    eventually(lambda: west_keys() == wanted, "west level with east after the long partition")
    # And the channel goes on from there.
    east.put_item(TableName=name, Item={"pk": {"S": "later"}})
    eventually(lambda: get(west, name, "later"), "a later write in west")


def test_2017_global_tables_of_a_peer_deployment_are_listed_and_described(tmp_path):
    """A global table of version 2017.11.29 is the account's, not a region's: from either
    deployment, ListGlobalTables and DescribeGlobalTable show the other's too."""
    cred = credential_file(tmp_path / "cred", ACCESS_KEY, SECRET_KEY)
    east_port, west_port = free_port(), free_port()
    east_regions, west_regions = ["us-east-1", "us-east-2"], ["eu-west-1", "eu-central-1"]
    east_srv = site(tmp_path, "east", east_port, east_regions, {r: west_port for r in west_regions}, cred)
    west_srv = site(tmp_path, "west", west_port, west_regions, {r: east_port for r in east_regions}, cred)
    suffix = uuid.uuid4().hex[:6]
    names = {"east": "EastG" + suffix, "west": "WestG" + suffix}
    try:
        east_srv.start()
        west_srv.start()
        for side, srv, regions in (("east", east_srv, east_regions), ("west", west_srv, west_regions)):
            for r in regions:
                srv.client(region=r).create_table(
                    TableName=names[side], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            srv.client(region=regions[0]).create_global_table(
                GlobalTableName=names[side], ReplicationGroup=[{"RegionName": r} for r in regions])
        groups = {names["east"]: sorted(east_regions), names["west"]: sorted(west_regions)}
        for srv, region in ((east_srv, "us-east-1"), (west_srv, "eu-central-1")):
            ddb = srv.client(region=region)
            listed = {g["GlobalTableName"]: [r["RegionName"] for r in g["ReplicationGroup"]]
                      for g in ddb.list_global_tables()["GlobalTables"]}
            assert listed == groups
            for side, regions in (("east", east_regions), ("west", west_regions)):
                d = ddb.describe_global_table(GlobalTableName=names[side])["GlobalTableDescription"]
                assert [r["RegionName"] for r in d["ReplicationGroup"]] == sorted(regions)
                assert d["GlobalTableStatus"] == "ACTIVE"
                assert d["GlobalTableArn"].endswith(f":global-table/{names[side]}")
                by_region = ddb.list_global_tables(RegionName=regions[1])["GlobalTables"]
                assert [g["GlobalTableName"] for g in by_region] == [names[side]]
        # A peer that does not answer adds nothing, and takes nothing of this side's.
        west_srv.kill()
        ddb = east_srv.client(region="us-east-1")
        assert [g["GlobalTableName"] for g in ddb.list_global_tables()["GlobalTables"]] == [names["east"]]
        with pytest.raises(ClientError) as e:
            ddb.describe_global_table(GlobalTableName=names["west"])
        assert e.value.response["Error"]["Code"] == "GlobalTableNotFoundException"
    finally:
        east_srv.kill()
        west_srv.kill()
