"""Regions as namespaces on one endpoint (issue 18): the region of a request is its SigV4
scope; each region has its own tables, streams, backups, KMS keys, aliases and audit
log, with that region in every ARN; IAM is global; `--regions` limits what is served."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server

KEY_SCHEMA = dict(
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
)


def create(ddb, name, **extra):
    ddb.create_table(TableName=name, **KEY_SCHEMA, **extra)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    return ddb.describe_table(TableName=name)["Table"]


def test_tables_of_the_same_name_stay_apart(server):
    east, west = server.client(region="us-east-1"), server.client(region="eu-west-1")
    name = "Same" + uuid.uuid4().hex[:6]
    a = create(east, name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    b = create(west, name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert a["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    assert b["TableArn"] == f"arn:aws:dynamodb:eu-west-1:000000000000:table/{name}"
    assert a["TableId"] != b["TableId"]
    assert ":eu-west-1:" in b["LatestStreamArn"] and ":us-east-1:" in a["LatestStreamArn"]
    east.put_item(TableName=name, Item={"pk": {"S": "k"}, "where": {"S": "east"}})
    west.put_item(TableName=name, Item={"pk": {"S": "k"}, "where": {"S": "west"}})
    assert east.get_item(TableName=name, Key={"pk": {"S": "k"}})["Item"]["where"]["S"] == "east"
    assert west.get_item(TableName=name, Key={"pk": {"S": "k"}})["Item"]["where"]["S"] == "west"
    # A table only in one region is unknown in the others.
    only = "Only" + uuid.uuid4().hex[:6]
    create(west, only)
    assert only in west.list_tables()["TableNames"]
    assert only not in east.list_tables()["TableNames"]
    with pytest.raises(ClientError) as e:
        east.describe_table(TableName=only)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Streams and backups name their region too.
    streams = server.client("dynamodbstreams", region="eu-west-1")
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [b["LatestStreamArn"]]
    backup = west.create_backup(TableName=name, BackupName="backup1")["BackupDetails"]
    assert backup["BackupArn"].startswith(f"arn:aws:dynamodb:eu-west-1:000000000000:table/{name}/backup/")
    assert [x["BackupArn"] for x in west.list_backups(TableName=name)["BackupSummaries"]] == [backup["BackupArn"]]
    assert east.list_backups(TableName=name)["BackupSummaries"] == []
    # Every region AWS lists answers, each with its own (empty) namespace.
    assert server.client(region="ap-southeast-2").list_tables()["TableNames"] == []


def test_keys_aliases_and_the_aws_managed_key_are_per_region(server):
    east_kms, west_kms = server.client("kms", region="us-east-1"), server.client("kms", region="eu-west-2")
    key = west_kms.create_key(Description="west")["KeyMetadata"]
    assert key["Arn"] == f"arn:aws:kms:eu-west-2:000000000000:key/{key['KeyId']}"
    with pytest.raises(ClientError) as e:
        east_kms.describe_key(KeyId=key["KeyId"])
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    alias = "alias/same-" + uuid.uuid4().hex[:6]
    west_kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    east_key = east_kms.create_key()["KeyMetadata"]
    east_kms.create_alias(AliasName=alias, TargetKeyId=east_key["KeyId"])
    assert west_kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert east_kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == east_key["KeyId"]
    # Ciphertext of one region's key does not decrypt in another.
    blob = west_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert west_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    with pytest.raises(ClientError):
        east_kms.decrypt(CiphertextBlob=blob)
    # The AWS managed key exists once per region, each in its own region's ARN.
    east, west = server.client(region="us-east-1"), server.client(region="eu-west-2")
    managed = {}
    for region, ddb in (("us-east-1", east), ("eu-west-2", west)):
        t = create(ddb, "Sse" + uuid.uuid4().hex[:6], SSESpecification={"Enabled": True, "SSEType": "KMS"})
        arn = t["SSEDescription"]["KMSMasterKeyArn"]
        assert arn.startswith(f"arn:aws:kms:{region}:000000000000:key/")
        managed[region] = arn
    assert managed["us-east-1"].split("/")[-1] != managed["eu-west-2"].split("/")[-1]
    assert west_kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"] == managed["eu-west-2"]
    # A table on a customer managed key of its region.
    t = create(west, "Cmk" + uuid.uuid4().hex[:6],
               SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": alias})
    assert t["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]


def test_audit_trail_is_per_region_and_iam_is_global(server):
    west = server.client(region="eu-north-1")
    name = "Trail" + uuid.uuid4().hex[:6]
    create(west, name)
    def names(region):
        trail = server.client("cloudtrail", region=region)
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": name}])
        return [json.loads(e["CloudTrailEvent"])["awsRegion"] for e in events["Events"]]
    assert names("eu-north-1") and set(names("eu-north-1")) == {"eu-north-1"}
    assert names("us-east-1") == []
    # One IAM user, usable in every region; aws:RequestedRegion confines it.
    iam = server.client("iam")
    user = "regional-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-north-1"}}}],
    }))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = lambda region: server.client(key=k["AccessKeyId"], secret=k["SecretAccessKey"], region=region)
    assert name in as_user("eu-north-1").list_tables()["TableNames"]
    with pytest.raises(ClientError) as e:
        as_user("us-east-1").list_tables()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_aws_cli_in_another_region(server):
    exe = shutil.which("aws", path=os.path.dirname(sys.executable)) or "aws"
    name = "Cli" + uuid.uuid4().hex[:6]
    create(server.client(region="sa-east-1"), name)
    env = dict(server.cli_env(), AWS_DEFAULT_REGION="sa-east-1")
    p = subprocess.run([exe, "--endpoint-url", server.endpoint, "--output", "json",
                        "dynamodb", "describe-table", "--table-name", name],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Table"]["TableArn"].startswith("arn:aws:dynamodb:sa-east-1:")
    p = subprocess.run([exe, "--endpoint-url", server.endpoint, "--region", "us-east-1",
                        "dynamodb", "describe-table", "--table-name", name],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr


def test_regions_flag_limits_what_is_served_and_data_stays_in_its_region(tmp_path):
    data = tmp_path / "data"
    s = Server(data, ["--region", "eu-west-1", "--regions", "eu-west-1,ap-south-1"]).start()
    try:
        home, other = s.client(region="eu-west-1"), s.client(region="ap-south-1")
        create(home, "Home", SSESpecification={"Enabled": True, "SSEType": "KMS"})
        create(other, "Other")
        home.put_item(TableName="Home", Item={"pk": {"S": "plaintext-marker-home"}})
        other.put_item(TableName="Other", Item={"pk": {"S": "plaintext-marker-other"}})
        for refused in ("us-east-1", "us-west-2"):
            with pytest.raises(ClientError) as e:
                s.client(region=refused).list_tables()
            err = e.value.response["Error"]
            assert err["Code"] == "InvalidSignatureException"
            assert f"not '{refused}'" in err["Message"]
            with pytest.raises(ClientError) as e:
                s.client("kms", region=refused).list_keys()
            assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        # IAM is global: signed for us-east-1 even when that region is not served.
        assert "Users" in s.client("iam", region="us-east-1").list_users()
    finally:
        s.stop()
    # Nothing readable in any region's files.
    for path in data.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert b"plaintext-marker" not in raw, path
    assert (data / "home-region").read_text().splitlines() == ["sealdb-home-region 1", "eu-west-1"]
    assert (data / "regions" / "ap-south-1" / "catalog.db").exists()
    # A restart with another default keeps the recorded home region; each table in its own.
    s = Server(data, ["--region", "us-east-1"]).start()
    try:
        assert s.client(region="eu-west-1").list_tables()["TableNames"] == ["Home"]
        assert s.client(region="ap-south-1").list_tables()["TableNames"] == ["Other"]
        assert s.client(region="us-east-1").list_tables()["TableNames"] == []
        got = s.client(region="eu-west-1").get_item(TableName="Home", Key={"pk": {"S": "plaintext-marker-home"}})
        assert "Item" in got
    finally:
        s.stop()
    # verify and audit verify cover every region.
    for cmd in (["verify"], ["audit", "verify"]):
        p = subprocess.run([os.environ.get("SEALDB_BIN", "target/debug/sealdb"), *cmd, "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "ap-south-1: " in p.stdout


def test_multi_region_key_replicated_across_regions_of_one_server(server):
    east, west = server.client("kms", region="us-east-1"), server.client("kms", region="eu-west-3")
    key = east.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    assert key["KeyId"].startswith("mrk-") and key["MultiRegion"] is True
    out = east.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-3", Description="replica")
    assert out["ReplicaKeyMetadata"]["Arn"] == f"arn:aws:kms:eu-west-3:000000000000:key/{key['KeyId']}"
    # Ciphertext of either region decrypts in the other.
    blob = west.encrypt(KeyId=key["KeyId"], Plaintext=b"across")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    blob = east.encrypt(KeyId=key["KeyId"], Plaintext=b"back")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"back"
    config = west.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"]["Region"] == "us-east-1"
    assert [r["Region"] for r in config["ReplicaKeys"]] == ["eu-west-3"]


def test_a_region_holding_only_replicated_keys_is_rotated_and_verified(tmp_path):
    data = tmp_path / "data"
    bin_ = os.environ.get("SEALDB_BIN", "target/debug/sealdb")
    s = Server(data, ["--regions", "us-east-1,eu-west-3"]).start()
    try:
        east = s.client("kms", region="us-east-1")
        key = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        east.replicate_key(KeyId=key, ReplicaRegion="eu-west-3")
        blob = east.encrypt(KeyId=key, Plaintext=b"kept")["CiphertextBlob"]
    finally:
        s.stop()
    # eu-west-3 has a key store and nothing else.
    assert (data / "regions" / "eu-west-3" / "keystore.db").exists()
    for cmd in (["rotate-root-key"], ["verify"]):
        p = subprocess.run([bin_, *cmd, "--data-dir", str(data)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
    assert "eu-west-3: key store" in p.stdout
    s = Server(data, ["--regions", "us-east-1,eu-west-3"]).start()
    try:
        assert s.client("kms", region="eu-west-3").decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    finally:
        s.stop()
