"""KMS multi-Region keys over HTTP (issue 18): boto3 clients of three regions against one
server; replicate, encrypt in one region and decrypt in another, rotate, change the primary,
and delete in AWS's order, with each region's own audit log."""

import json

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
EAST, WEST, SOUTH = "us-east-1", "eu-west-1", "ap-southeast-2"


def arn(region, key_id):
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def error_code(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"]


def view(kms, key_id):
    md = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    config = md["MultiRegionConfiguration"]
    return (config["MultiRegionKeyType"], config["PrimaryKey"]["Region"],
            [k["Region"] for k in config["ReplicaKeys"]], md)


def test_replicas_decrypt_each_other_and_follow_the_primary(server):
    kms = {r: server.client("kms", region=r) for r in (EAST, WEST, SOUTH)}
    key = kms[EAST].create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key_id = key["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36
    assert key["MultiRegion"] is True
    assert key["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"

    out = kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST, Description="replica",
                                  Tags=[{"TagKey": "site", "TagValue": "west"}])
    assert out["ReplicaKeyMetadata"]["Arn"] == arn(WEST, key_id)
    assert out["ReplicaKeyMetadata"]["KeyState"] == "Enabled"
    assert out["ReplicaTags"] == [{"TagKey": "site", "TagValue": "west"}]
    assert json.loads(out["ReplicaPolicy"])["Statement"]
    kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=SOUTH)
    for region in (EAST, WEST, SOUTH):
        kind, primary, replicas, md = view(kms[region], key_id)
        assert (kind, primary, replicas) == ("PRIMARY" if region == EAST else "REPLICA", EAST, [WEST, SOUTH])
        assert md["Arn"] == arn(region, key_id)
    assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "replica"

    assert error_code(kms[EAST].replicate_key, KeyId=key_id, ReplicaRegion=WEST) == "AlreadyExistsException"
    assert error_code(kms[WEST].replicate_key, KeyId=key_id, ReplicaRegion="eu-north-1") \
        == "UnsupportedOperationException"
    single = kms[EAST].create_key()["KeyMetadata"]["KeyId"]
    assert error_code(kms[EAST].replicate_key, KeyId=single, ReplicaRegion=WEST) \
        == "UnsupportedOperationException"

    # Ciphertext and data keys from any region open in every other one.
    ctx = {"purpose": "multi-region test"}
    for src in (EAST, WEST, SOUTH):
        blob = kms[src].encrypt(KeyId=key_id, Plaintext=src.encode(), EncryptionContext=ctx)["CiphertextBlob"]
        for dst in (EAST, WEST, SOUTH):
            out = kms[dst].decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
            assert out["Plaintext"] == src.encode()
            assert out["KeyId"] == arn(dst, key_id)
    dk = kms[SOUTH].generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms[WEST].decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]

    # The primary moves to eu-west-1: every region sees it, and only it manages rotation.
    kms[EAST].update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    for region in (EAST, WEST, SOUTH):
        kind, primary, replicas, _ = view(kms[region], key_id)
        assert (kind, primary, replicas) == ("PRIMARY" if region == WEST else "REPLICA", WEST, [SOUTH, EAST])
    assert error_code(kms[EAST].enable_key_rotation, KeyId=key_id) == "UnsupportedOperationException"
    old = kms[EAST].encrypt(KeyId=key_id, Plaintext=b"before rotation")["CiphertextBlob"]
    kms[WEST].rotate_key_on_demand(KeyId=key_id)
    current = kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert kms[EAST].describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == current
    new = kms[EAST].encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms[SOUTH].decrypt(CiphertextBlob=new)["KeyMaterialId"] == current
    assert kms[SOUTH].decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"

    # Deletion: the primary waits for its replicas.
    out = kms[WEST].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in out
    md = kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "PendingReplicaDeletion" and md["PendingDeletionWindowInDays"] == 7
    assert error_code(kms[WEST].encrypt, KeyId=key_id, Plaintext=b"x") == "KMSInvalidStateException"
    assert kms[SOUTH].decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    out = kms[SOUTH].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and "DeletionDate" in out
    kms[SOUTH].cancel_key_deletion(KeyId=key_id)
    kms[WEST].cancel_key_deletion(KeyId=key_id)
    assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"

    # Each region's log: ReplicateKey where the primary was, CreateKey where the replica is.
    def events(region, name):
        ct = server.client("cloudtrail", region=region)
        found = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        return [json.loads(e["CloudTrailEvent"]) for e in found["Events"]]

    replicated = [e for e in events(EAST, "ReplicateKey") if e.get("errorCode") is None]
    assert {e["requestParameters"]["replicaRegion"] for e in replicated} >= {WEST, SOUTH}
    assert all(e["awsRegion"] == EAST for e in replicated)
    created = [e for e in events(WEST, "CreateKey") if e["resources"][0]["ARN"] == arn(WEST, key_id)]
    assert len(created) == 1 and created[0]["awsRegion"] == WEST
    assert [e for e in events(WEST, "ReplicateKey") if e.get("errorCode") is None] == []
