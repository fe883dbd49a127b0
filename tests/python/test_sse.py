"""Encryption at rest as DynamoDB does it (issue 6): SSESpecification on CreateTable and
UpdateTable, SSEDescription, KMS failures with DynamoDB's wording, key switches under
load, and a disabled key making the table unreadable, across a restart."""

import json
import subprocess
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server, sealdb_bin

PREFIX = "One or more parameter values were invalid: "


@pytest.fixture
def sse_server(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--key-check-interval-secs", "1"]).start()
    yield s
    s.kill()


def create(ddb, name, **sse):
    return ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "Artist", "AttributeType": "S"},
                              {"AttributeName": "SongTitle", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"}, {"AttributeName": "SongTitle", "KeyType": "RANGE"}],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
        **sse,
    )["TableDescription"]


def err(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_documented_cli_commands(sse_server):
    s = sse_server
    env = s.cli_env()
    aws = [str(__import__("pathlib").Path(__import__("sys").executable).parent / "aws"), "--endpoint-url", s.endpoint, "--output", "json"]
    run = lambda *a: json.loads(subprocess.run(aws + list(a), env=env, capture_output=True, text=True, check=True).stdout or "null")
    key = run("kms", "create-key", "--description", "music")["KeyMetadata"]
    out = run("dynamodb", "create-table", "--table-name", "Music",
              "--attribute-definitions", "AttributeName=Artist,AttributeType=S", "AttributeName=SongTitle,AttributeType=S",
              "--key-schema", "AttributeName=Artist,KeyType=HASH", "AttributeName=SongTitle,KeyType=RANGE",
              "--provisioned-throughput", "ReadCapacityUnits=10,WriteCapacityUnits=5",
              "--sse-specification", f"Enabled=true,SSEType=KMS,KMSMasterKeyId={key['KeyId']}")
    assert out["TableDescription"]["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key["Arn"]}
    out = run("dynamodb", "update-table", "--table-name", "Music", "--sse-specification", "Enabled=true,SSEType=KMS")
    assert out["TableDescription"]["SSEDescription"]["Status"] == "UPDATING"
    desc = run("dynamodb", "describe-table", "--table-name", "Music")["Table"]
    managed = run("kms", "describe-key", "--key-id", "alias/aws/dynamodb")["KeyMetadata"]
    assert desc["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": managed["Arn"]}
    assert managed["KeyManager"] == "AWS"
    assert desc["TableStatus"] == "ACTIVE"


@pytest.mark.parametrize("spec, message", [
    ({"Enabled": False, "SSEType": "KMS"}, PREFIX + "SSEType can not be specified if Enabled is false"),
    ({"Enabled": False, "KMSMasterKeyId": "k"}, PREFIX + "KMSMasterKeyId can not be specified if Enabled is false"),
    ({"Enabled": False, "SSEType": "AES256", "KMSMasterKeyId": "k"}, PREFIX + "SSEType can not be specified if Enabled is false"),
    ({"Enabled": True, "KMSMasterKeyId": "k"}, PREFIX + "SSEType KMS is required if KMSMasterKeyId is specified"),
    ({"Enabled": True, "SSEType": "AES256"}, PREFIX + "SSEType AES256 is not supported"),
])
def test_request_validation(sse_server, spec, message):
    ddb = sse_server.client()
    with pytest.raises(ClientError) as e:
        create(ddb, "t" + uuid.uuid4().hex[:8], SSESpecification=spec)
    assert err(e) == ("ValidationException", message)
    assert ddb.list_tables()["TableNames"] == []


def test_kms_checks_at_create(sse_server):
    ddb, kms = sse_server.client(), sse_server.client("kms")
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    pending = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    cases = [
        (disabled["KeyId"], "ValidationException", f"KMS key disabled error: com.amazonaws.services.kms.model.DisabledException: {disabled['Arn']} is disabled."),
        (pending["Arn"], "ValidationException", f"KMS validation error: com.amazonaws.services.kms.model.KMSInvalidStateException: {pending['Arn']} is pending deletion."),
        ("alias/none", "ValidationException", "KMS validation error: com.amazonaws.services.kms.model.NotFoundException: Alias arn:aws:kms:us-east-1:000000000000:alias/none is not found."),
        ("11111111-2222-3333-4444-555555555555", "ValidationException", "KMS validation error: com.amazonaws.services.kms.model.NotFoundException: Key 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555' does not exist"),
        (hmac["KeyId"], "ValidationException", "KMS internal error: com.amazonaws.services.kms.model.AWSKMSException: EncryptionContext is supported only when creating a grant for a symmetric encryption KMS key."),
    ]
    for key_id, code, prefix in cases:
        with pytest.raises(ClientError) as e:
            create(ddb, "t" + uuid.uuid4().hex[:8], SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id})
        c, m = err(e)
        assert c == code and m.startswith(prefix), (key_id, m)
    assert ddb.list_tables()["TableNames"] == []


def test_update_rules_and_switch_under_load(sse_server):
    ddb, kms = sse_server.client(), sse_server.client("kms")
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    name = "Switch"
    create(ddb, name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k1["Arn"]})
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k1["Arn"]})
    assert err(e)[1] == PREFIX + "Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId parameter if you want to change Master Key"
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, SSESpecification={"Enabled": True}, DeletionProtectionEnabled=True)
    assert err(e)[1] == PREFIX + "Server-Side Encryption modification must be the only operation in the request"

    errors, written, stop = [], [], threading.Event()

    def load():
        c = sse_server.client()
        i = 0
        while not stop.is_set():
            try:
                c.put_item(TableName=name, Item={"Artist": {"S": "a"}, "SongTitle": {"S": str(i)}})
                written.append(str(i))
                c.get_item(TableName=name, Key={"Artist": {"S": "a"}, "SongTitle": {"S": str(i)}})
            except Exception as ex:  # noqa: BLE001 - any failure fails the test
                errors.append(ex)
            i += 1

    t = threading.Thread(target=load)
    t.start()
    try:
        time.sleep(0.3)
        for spec in ({"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k2["KeyId"]},
                     {"Enabled": True, "SSEType": "KMS"},
                     {"Enabled": False}):
            ddb.update_table(TableName=name, SSESpecification=spec)
            time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert len(written) > 10
    assert "SSEDescription" not in ddb.describe_table(TableName=name)["Table"]
    for i in written:
        assert "Item" in ddb.get_item(TableName=name, Key={"Artist": {"S": "a"}, "SongTitle": {"S": i}})
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, SSESpecification={"Enabled": False})
    assert err(e)[1] == PREFIX + "Table is already encrypted by default"
    # Four changes in 24 hours are allowed; the fifth is refused.
    ddb.update_table(TableName=name, SSESpecification={"Enabled": True})
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, SSESpecification={"Enabled": False})
    assert err(e)[0] == "LimitExceededException"
    assert "Encryption mode changes are limited in the 24h window" in err(e)[1]


def test_disabled_key_makes_table_unreadable_even_after_restart(sse_server):
    s = sse_server
    ddb, kms = s.client(), s.client("kms")
    key = kms.create_key()["KeyMetadata"]
    create(ddb, "Locked", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    ddb.put_item(TableName="Locked", Item={"Artist": {"S": "x"}, "SongTitle": {"S": "y"}, "v": {"S": "kept"}})
    kms.disable_key(KeyId=key["KeyId"])
    time.sleep(1.2)
    for call in (lambda: ddb.get_item(TableName="Locked", Key={"Artist": {"S": "x"}, "SongTitle": {"S": "y"}}),
                 lambda: ddb.put_item(TableName="Locked", Item={"Artist": {"S": "x"}, "SongTitle": {"S": "z"}})):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[0] == "ValidationException"
        assert err(e)[1].startswith("KMS key disabled error: ") and "is disabled." in err(e)[1]
    desc = ddb.describe_table(TableName="Locked")["Table"]
    assert desc["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert "InaccessibleEncryptionDateTime" in desc["SSEDescription"]
    s.stop()
    s.start()
    ddb, kms = s.client(), s.client("kms")
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName="Locked", Key={"Artist": {"S": "x"}, "SongTitle": {"S": "y"}})
    assert "is disabled." in err(e)[1]
    kms.enable_key(KeyId=key["KeyId"])
    time.sleep(1.2)
    item = ddb.get_item(TableName="Locked", Key={"Artist": {"S": "x"}, "SongTitle": {"S": "y"}})["Item"]
    assert item["v"] == {"S": "kept"}
    assert ddb.describe_table(TableName="Locked")["Table"]["TableStatus"] == "ACTIVE"


def test_revoked_grant_and_audit(sse_server):
    s = sse_server
    ddb, kms = s.client(), s.client("kms")
    key = kms.create_key()["KeyMetadata"]
    create(ddb, "Granted", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert len(grants) == 1 and grants[0]["GranteePrincipal"] == "dynamodb.us-east-1.amazonaws.com"
    assert grants[0]["Constraints"]["EncryptionContextSubset"] == {
        "aws:dynamodb:tableName": "Granted", "aws:dynamodb:subscriberId": "000000000000"}
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grants[0]["GrantId"])
    time.sleep(1.2)
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="Granted", Item={"Artist": {"S": "x"}, "SongTitle": {"S": "y"}})
    assert err(e)[0] in ("ValidationException", "AccessDeniedException")
    s.stop()
    verify = subprocess.run([sealdb_bin(), "audit", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_no_plaintext_on_disk_for_each_key_type(sse_server):
    """Items, GSI keys, stream records (old and new images) and backups, for each key type."""
    s = sse_server
    ddb, kms = s.client(), s.client("kms")
    key = kms.create_key()["KeyMetadata"]
    specs = {"Owned": None, "Managed": {"Enabled": True}, "Customer": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]}}
    for name, spec in specs.items():
        kwargs = {"SSESpecification": spec} if spec else {}
        t = "Marker" + name
        ddb.create_table(
            TableName=t,
            AttributeDefinitions=[{"AttributeName": "Artist", "AttributeType": "S"},
                                  {"AttributeName": "SongTitle", "AttributeType": "S"},
                                  {"AttributeName": "genre", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"}, {"AttributeName": "SongTitle", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "ByGenre", "KeySchema": [{"AttributeName": "genre", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            BillingMode="PAY_PER_REQUEST",
            **kwargs,
        )
        item_key = {"Artist": {"S": "ArtistMarker" + name}, "SongTitle": {"S": "SongMarkerQ9"}}
        ddb.put_item(TableName=t, Item={**item_key, "lyrics": {"S": "LyricsMarkerZ7"}, "genre": {"S": "GenreMarkerK4"}})
        ddb.update_item(TableName=t, Key=item_key, UpdateExpression="SET lyrics = :l",
                        ExpressionAttributeValues={":l": {"S": "UpdatedMarkerW2"}})
        ddb.create_backup(TableName=t, BackupName="BackupOf" + name)
        arn = ddb.describe_table(TableName=t)["Table"]["LatestStreamArn"]
        streams = s.client("dynamodbstreams")
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert [r["eventName"] for r in streams.get_records(ShardIterator=it)["Records"]] == ["INSERT", "MODIFY"]
    s.kill()
    for f in s.data_dir.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            for marker in (b"ArtistMarker", b"SongMarkerQ9", b"LyricsMarkerZ7", b"GenreMarkerK4", b"UpdatedMarkerW2",
                           b"MarkerCustomer", b"NewImage", b"OldImage"):
                assert marker not in raw, (marker, f)


def test_rotate_root_key(tmp_path):
    s = Server(tmp_path / "data").start()
    ddb, kms = s.client(), s.client("kms")
    key = kms.create_key()["KeyMetadata"]
    create(ddb, "Owned")
    create(ddb, "Kms", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    for t in ("Owned", "Kms"):
        ddb.put_item(TableName=t, Item={"Artist": {"S": "a"}, "SongTitle": {"S": "b"}, "v": {"S": t}})
    s.stop()
    old_key = (s.data_dir / "root.key").read_bytes()
    table_files = {f.name: f.read_bytes() for f in (s.data_dir / "tables").glob("*.db")}
    out = subprocess.run([sealdb_bin(), "rotate-root-key", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (s.data_dir / "root.key").read_bytes() != old_key
    assert {f.name: f.read_bytes() for f in (s.data_dir / "tables").glob("*.db")} == table_files
    verify = subprocess.run([sealdb_bin(), "audit", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    s.start()
    ddb = s.client()
    for t in ("Owned", "Kms"):
        assert ddb.get_item(TableName=t, Key={"Artist": {"S": "a"}, "SongTitle": {"S": "b"}})["Item"]["v"] == {"S": t}
    s.stop()


def test_backups_keep_their_key(sse_server):
    s = sse_server
    ddb, kms = s.client(), s.client("kms")
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    create(ddb, "Src", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k1["KeyId"]})
    for i in range(20):
        ddb.put_item(TableName="Src", Item={"Artist": {"S": "BackupMarkerA"}, "SongTitle": {"S": str(i)}})
    b = ddb.create_backup(TableName="Src", BackupName="first")["BackupDetails"]
    assert b["BackupStatus"] == "AVAILABLE" and "/backup/" in b["BackupArn"]
    d = ddb.describe_backup(BackupArn=b["BackupArn"])["BackupDescription"]
    assert d["SourceTableFeatureDetails"]["SSEDescription"]["KMSMasterKeyArn"] == k1["Arn"]
    assert d["SourceTableDetails"]["ItemCount"] == 20
    assert [x["BackupArn"] for x in ddb.list_backups(TableName="Src")["BackupSummaries"]] == [b["BackupArn"]]
    # The table moves to another key; the backup stays under the key it was taken with.
    ddb.update_table(TableName="Src", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k2["KeyId"]})
    r = ddb.restore_table_from_backup(TargetTableName="Restored", BackupArn=b["BackupArn"])["TableDescription"]
    assert r["SSEDescription"]["KMSMasterKeyArn"] == k1["Arn"]
    assert ddb.scan(TableName="Restored", Select="COUNT")["Count"] == 20
    r = ddb.restore_table_from_backup(TargetTableName="Restored2", BackupArn=b["BackupArn"],
                                      SSESpecificationOverride={"Enabled": False})["TableDescription"]
    assert "SSEDescription" not in r
    kms.disable_key(KeyId=k1["KeyId"])
    with pytest.raises(ClientError) as e:
        ddb.restore_table_from_backup(TargetTableName="Restored3", BackupArn=b["BackupArn"])
    assert "is disabled." in err(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.restore_table_from_backup(TargetTableName="Restored2", BackupArn=b["BackupArn"])
    assert err(e) == ("TableAlreadyExistsException", "Table already exists: Restored2")
    with pytest.raises(ClientError) as e:
        ddb.describe_backup(BackupArn=b["BackupArn"] + "x")
    assert err(e)[0] == "BackupNotFoundException"
    with pytest.raises(ClientError) as e:
        ddb.create_backup(TableName="NoSuchTable", BackupName="xyz")
    assert err(e)[0] == "TableNotFoundException"
    s.kill()
    for f in (s.data_dir / "backups").glob("*"):
        assert b"BackupMarkerA" not in f.read_bytes()
    assert any((s.data_dir / "backups").glob("*.db"))


def grant_id_of(record):
    return record["requestParameters"]["grantId"]


def test_audit_log_shows_dynamodb_calls(sse_server):
    s = sse_server
    ddb, kms = s.client(), s.client("kms")
    key = kms.create_key()["KeyMetadata"]
    create(ddb, "Audited", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    ddb.delete_table(TableName="Audited")
    s.stop()
    out = subprocess.run([sealdb_bin(), "audit", "list", "--data-dir", str(s.data_dir)], capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    by_name = {}
    for r in records:
        by_name.setdefault(r["eventName"], []).append(r)
    gdk = by_name["GenerateDataKey"][0]
    assert gdk["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
    # CloudTrail's members for GenerateDataKey, under its lowerCamel names.
    assert gdk["requestParameters"] == {
        "keyId": key["Arn"], "keySpec": "AES_256",
        "encryptionContext": {"aws:dynamodb:tableName": "Audited", "aws:dynamodb:subscriberId": "000000000000"}}
    assert gdk["readOnly"] is True and gdk["eventCategory"] == "Management"
    assert gdk["resources"][0]["ARN"] == key["Arn"]
    grant = by_name["CreateGrant"][0]
    assert grant["userIdentity"]["arn"] == "arn:aws:iam::000000000000:root"
    assert grant["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
    assert "DescribeKey" in by_name and "RetireGrant" in by_name
    assert grant["requestParameters"]["operations"][0] == "DescribeKey"
    assert grant["responseElements"]["grantId"] == grant_id_of(by_name["RetireGrant"][0])
    for r in records:
        params = json.dumps(r["requestParameters"])
        assert "plaintext" not in params.lower() and "ciphertextBlob" not in params


def test_archival_after_the_grace_period(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--key-check-interval-secs", "1", "--archive-after-secs", "2"]).start()
    try:
        ddb, kms = s.client(), s.client("kms")
        key = kms.create_key()["KeyMetadata"]
        create(ddb, "Doomed", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
        ddb.put_item(TableName="Doomed", Item={"Artist": {"S": "a"}, "SongTitle": {"S": "b"}})
        kms.disable_key(KeyId=key["KeyId"])
        deadline = time.time() + 60
        desc = {}
        while time.time() < deadline:
            desc = ddb.describe_table(TableName="Doomed")["Table"]
            if desc["TableStatus"] == "ARCHIVED":
                break
            time.sleep(0.5)
        assert desc["TableStatus"] == "ARCHIVED"
        summary = desc["ArchivalSummary"]
        assert summary["ArchivalReason"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        with pytest.raises(ClientError):
            ddb.get_item(TableName="Doomed", Key={"Artist": {"S": "a"}, "SongTitle": {"S": "b"}})
        kms.enable_key(KeyId=key["KeyId"])
        r = ddb.restore_table_from_backup(TargetTableName="Revived", BackupArn=summary["ArchivalBackupArn"])
        assert r["TableDescription"]["TableStatus"] == "ACTIVE"
        assert "Item" in ddb.get_item(TableName="Revived", Key={"Artist": {"S": "a"}, "SongTitle": {"S": "b"}})
    finally:
        s.kill()


def test_a_user_without_create_grant_cannot_put_a_table_under_the_key(tmp_path):
    """DynamoDB creates the table's grant as the caller (reference §3.4): a user whose key
    policy statement lacks kms:CreateGrant can neither create a table under the key nor
    switch one to it, and nothing changes."""
    s = Server(tmp_path / "data").start()
    try:
        s.stop()
        from test_kms_cli import make_user
        carol = make_user(s, "carol")
        s.start()
        kms, ddb = s.client("kms"), s.client()
        # Carol may do anything in DynamoDB by IAM; only the key policy stands in her way.
        s.client("iam").put_user_policy(UserName="carol", PolicyName="ddb", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
        ddb_carol = s.client(key=carol[0], secret=carol[1])
        carol_arn = "arn:aws:iam::000000000000:user/carol"
        via = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
        def key_with(actions):
            policy = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:root"}}},
                {"Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": actions, "Resource": "*",
                 "Condition": via}]}
            return kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
        no_grant = key_with(["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"])
        sse = {"SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": no_grant["Arn"]}}
        with pytest.raises(ClientError) as e:
            create(ddb_carol, "Denied", **sse)
        code, message = err(e)
        assert code == "AccessDeniedException" and "kms:CreateGrant" in message
        assert "Denied" not in ddb.list_tables()["TableNames"]
        assert kms.list_grants(KeyId=no_grant["KeyId"])["Grants"] == []
        # CloudTrail shows the denied CreateTable with its user and error, and the denied grant.
        trail = s.client("cloudtrail")
        denied = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateTable"}])
        event = json.loads(denied["Events"][0]["CloudTrailEvent"])
        assert event["userIdentity"]["userName"] == "carol" and event["errorCode"] == "AccessDeniedException"
        grant = json.loads(trail.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "CreateGrant"}])["Events"][0]["CloudTrailEvent"])
        assert grant["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
        assert grant["userIdentity"]["arn"] == carol_arn and grant["errorCode"] == "AccessDeniedException"

        # Switching an existing table to the key is refused the same way; the table keeps its key.
        create(ddb_carol, "Mine")
        with pytest.raises(ClientError) as e:
            ddb_carol.update_table(TableName="Mine", **sse)
        assert err(e)[0] == "AccessDeniedException"
        assert "SSEDescription" not in ddb.describe_table(TableName="Mine")["Table"]

        # With kms:CreateGrant through DynamoDB, the same user may.
        ok = key_with(["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                       "kms:CreateGrant"])
        ddb_carol.update_table(TableName="Mine", SSESpecification={
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": ok["Arn"]})
        assert ddb.describe_table(TableName="Mine")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == ok["Arn"]
        grants = kms.list_grants(KeyId=ok["KeyId"])["Grants"]
        assert [g["GranteePrincipal"] for g in grants] == ["dynamodb.us-east-1.amazonaws.com"]
    finally:
        s.kill()
