"""KMS custom key stores of type AWS_CLOUDHSM (issue 15), the "cluster" a SoftHSM2 token
made in a temporary directory and named to the server by --cloudhsm-cluster
(cluster-id=module:label), the KeyStorePassword its user PIN: every operation and
connection state through boto3, a KMS key whose AES-GCM runs in the token, and a
DynamoDB table on that key that becomes INACCESSIBLE_ENCRYPTION_CREDENTIALS while the
store is disconnected and readable again once it reconnects (also across a restart)."""

import pathlib
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, eventually, sealdb_bin

MODULES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
]
PIN = "cks-user-pin-1"
SO_PIN = "cks-so-pin-1"
CLUSTER = "cluster-sealdbtokena"
MISSING = "cluster-sealdbnotoken"
ANCHOR = "-----BEGIN CERTIFICATE-----\nMIIBsealdbtest\n-----END CERTIFICATE-----\n"


def module_path():
    for m in MODULES:
        if pathlib.Path(m).exists():
            return m
    # Not a skip: scripts/test installs softhsm2, so its absence is a failure.
    raise AssertionError("SoftHSM2 is not installed (Debian package softhsm2)")


@pytest.fixture
def hsm_server(tmp_path, monkeypatch):
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "sealdb-cks",
                    "--pin", PIN, "--so-pin", SO_PIN], check=True, capture_output=True)
    module = module_path()
    s = Server(tmp_path / "data", extra_args=[
        "--key-check-interval-secs", "1",
        "--custom-key-store-connect-delay-ms", "700",
        "--cloudhsm-cluster", f"{CLUSTER}={module}:sealdb-cks",
        "--cloudhsm-cluster", f"{MISSING}={module}:no-such-token",
    ]).start()
    yield s
    s.kill()


def code(e):
    return e.value.response["Error"]["Code"]


def entry(kms, store_id):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def settled(kms, store_id):
    return eventually(lambda: (e := entry(kms, store_id))["ConnectionState"] != "CONNECTING" and e,
                      "connection still CONNECTING")


def create_store(kms, name, cluster=CLUSTER, pin=PIN):
    return kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cluster,
                                       TrustAnchorCertificate=ANCHOR, KeyStorePassword=pin)["CustomKeyStoreId"]


def test_store_operations_and_every_connection_state(hsm_server):
    kms = hsm_server.client("kms")
    with pytest.raises(ClientError) as e:
        create_store(kms, "nowhere", cluster="cluster-notconfigured")
    assert code(e) == "CloudHsmClusterNotFoundException"
    # The server's own check (botocore's is switched off for this client).
    raw = boto3.client("kms", endpoint_url=hsm_server.endpoint, region_name=REGION,
                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                       config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        create_store(raw, "short-pin", pin="123")
    assert code(e) == "ValidationException"
    assert "keyStorePassword" in e.value.response["Error"]["Message"]

    store = create_store(kms, "music-hsm", pin="wrong-pin-99")
    assert store.startswith("cks-")
    with pytest.raises(ClientError) as e:
        create_store(kms, "music-hsm", cluster=MISSING)
    assert code(e) == "CustomKeyStoreNameInUseException"
    with pytest.raises(ClientError) as e:
        create_store(kms, "second")
    assert code(e) == "CloudHsmClusterInUseException"

    e0 = entry(kms, store)
    assert e0["ConnectionState"] == "DISCONNECTED"
    assert e0["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert e0["CloudHsmClusterId"] == CLUSTER
    assert e0["TrustAnchorCertificate"] == ANCHOR
    assert e0["CustomKeyStoreName"] == "music-hsm"
    listed = kms.describe_custom_key_stores()["CustomKeyStores"]
    assert [s["CustomKeyStoreId"] for s in listed] == [store]

    # Wrong PIN: CONNECTING, then FAILED with INVALID_CREDENTIALS.
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert entry(kms, store)["ConnectionState"] == "CONNECTING"
    failed = settled(kms, store)
    assert failed["ConnectionState"] == "FAILED"
    assert failed["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    with pytest.raises(ClientError) as e:
        kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreInvalidStateException"
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword=PIN)
    assert code(e) == "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    assert entry(kms, store)["ConnectionState"] == "DISCONNECTED"
    with pytest.raises(ClientError) as e:
        kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreInvalidStateException"

    kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword=PIN)
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    ok = settled(kms, store)
    assert ok["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in ok
    kms.update_custom_key_store(CustomKeyStoreId=store, NewCustomKeyStoreName="renamed-hsm")
    assert entry(kms, store)["CustomKeyStoreName"] == "renamed-hsm"
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreInvalidStateException"

    # A token that does not exist: FAILED with CLUSTER_NOT_FOUND.
    lost = create_store(kms, "lost", cluster=MISSING)
    kms.connect_custom_key_store(CustomKeyStoreId=lost)
    assert settled(kms, lost)["ConnectionErrorCode"] == "CLUSTER_NOT_FOUND"
    kms.disconnect_custom_key_store(CustomKeyStoreId=lost)
    kms.delete_custom_key_store(CustomKeyStoreId=lost)

    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    kms.delete_custom_key_store(CustomKeyStoreId=store)
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores(CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreNotFoundException"
    # The password never reaches the audit log.
    events = hsm_server.client("cloudtrail").lookup_events(MaxResults=50)["Events"]
    assert any(ev["EventName"] == "CreateCustomKeyStore" for ev in events)
    assert not any(PIN in ev.get("CloudTrailEvent", "") for ev in events)


def test_key_in_store_and_table_on_it_follow_the_connection(hsm_server):
    s = hsm_server
    kms, ddb = s.client("kms"), s.client()
    store = create_store(kms, "tables-hsm")
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreInvalidStateException"
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert settled(kms, store)["ConnectionState"] == "CONNECTED"

    md = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store, Description="in the token")["KeyMetadata"]
    assert md["Origin"] == "AWS_CLOUDHSM" and md["CustomKeyStoreId"] == store
    described = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert described["CloudHsmClusterId"] == CLUSTER and described["CustomKeyStoreId"] == store
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"hello hsm", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert blob[0] == 3  # the CloudHSM blob version (docs/formats.md)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"hello hsm"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "other"})
    assert code(e) == "InvalidCiphertextException"
    dk = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"k": "v"},
                           DestinationKeyId=plain_key)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=moved)["Plaintext"] == b"hello hsm"

    ddb.create_table(
        TableName="HsmTable",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": md["Arn"]},
    )
    ddb.put_item(TableName="HsmTable", Item={"pk": {"S": "a"}, "v": {"S": "kept"}})
    assert ddb.describe_table(TableName="HsmTable")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == md["Arn"]

    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})
    assert code(e) == "KMSInvalidStateException"
    # AWS: a key in a disconnected store is Unavailable, back to its own state on reconnect.
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Unavailable"
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=store)
    assert code(e) == "CustomKeyStoreHasCMKsException"

    time.sleep(1.2)
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName="HsmTable", Key={"pk": {"S": "a"}})
    assert code(e) == "ValidationException"
    assert "KMSInvalidStateException" in e.value.response["Error"]["Message"]
    eventually(lambda: ddb.describe_table(TableName="HsmTable")["Table"]["TableStatus"]
               == "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "table inaccessible")

    kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert settled(kms, store)["ConnectionState"] == "CONNECTED"
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    time.sleep(1.2)
    item = eventually(lambda: ddb.get_item(TableName="HsmTable", Key={"pk": {"S": "a"}}).get("Item"), "item readable")
    assert item["v"] == {"S": "kept"}
    assert ddb.describe_table(TableName="HsmTable")["Table"]["TableStatus"] == "ACTIVE"

    # A connected store reconnects when the server restarts, also after a root key
    # rotation (the PIN is in keystore.db, which the rotation re-keys); the PIN is never
    # in the data dir's files in the clear.
    s.stop()
    for f in s.data_dir.rglob("*"):
        if f.is_file():
            assert PIN.encode() not in f.read_bytes(), f
    out = subprocess.run([sealdb_bin(), "rotate-root-key", "--data-dir", str(s.data_dir)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    s.start()
    kms, ddb = s.client("kms"), s.client()
    assert settled(kms, store)["ConnectionState"] == "CONNECTED"
    assert ddb.get_item(TableName="HsmTable", Key={"pk": {"S": "a"}})["Item"]["v"] == {"S": "kept"}
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"hello hsm"
