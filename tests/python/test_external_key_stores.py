"""KMS external key stores (issue 15) through boto3 against a real `sealdb serve` and a
real `sealdb xks-proxy` over TLS (fixtures of test_xks_proxy.py): the store's connection
states and error codes, keys with an XksKeyId, double encryption, and a DynamoDB table on
such a key that becomes INACCESSIBLE_ENCRYPTION_CREDENTIALS while the proxy is down and
readable once it is back."""

import http.server
import ssl
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, eventually
from test_xks_proxy import ACCESS_KEY_ID, DISABLED, KEY, OTHER_SECRET, PATH, SECRET, xks  # noqa: F401


class FakeProxy:
    """A TLS listener that answers nonsense, or nothing (for the error codes)."""

    def __init__(self, port, cert, key, mode):
        mode_ = mode

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if mode_ == "silent":
                    time.sleep(5)
                    return
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def code(e):
    return e.value.response["Error"]["Code"]


def entry(kms, store_id):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def settled(kms, store_id):
    return eventually(lambda: (e := entry(kms, store_id))["ConnectionState"] != "CONNECTING" and e,
                      "connection still CONNECTING")


def reconnect(kms, store):
    if entry(kms, store)["ConnectionState"] != "DISCONNECTED":
        kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    return settled(kms, store)


def create_store(kms, name, endpoint, secret=SECRET, path=PATH, **extra):
    return kms.create_custom_key_store(
        CustomKeyStoreName=name, CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyUriEndpoint=endpoint,
        XksProxyUriPath=path, XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyAuthenticationCredential={"AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": secret},
        **extra)["CustomKeyStoreId"]


def test_external_key_store_with_a_table_follows_the_proxy(xks):
    proxy, ca, d = xks
    s = Server(d / "data", extra_args=[
        "--key-check-interval-secs", "1", "--custom-key-store-connect-delay-ms", "300",
        "--xks-proxy-ca-file", str(ca), "--xks-proxy-timeout-ms", "1500"]).start()
    try:
        run_end_to_end(s, proxy, d)
    finally:
        s.kill()


def run_end_to_end(s, proxy, d):
    kms, ddb = s.client("kms"), s.client()
    # Creation asks the proxy's health with the given settings.
    with pytest.raises(ClientError) as e:
        create_store(kms, "wrong-secret", proxy.endpoint, secret=OTHER_SECRET)
    assert code(e) == "XksProxyIncorrectAuthenticationCredentialException"
    with pytest.raises(ClientError) as e:
        create_store(kms, "nowhere", "https://127.0.0.1:9")
    assert code(e) == "XksProxyUriUnreachableException"
    with pytest.raises(ClientError) as e:
        create_store(kms, "other-path", proxy.endpoint, path="/tenant/kms/xks/v1")
    assert code(e) == "XksProxyInvalidConfigurationException"
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(
            CustomKeyStoreName="vpc", CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyUriEndpoint="https://myproxy-private.xks.example.com", XksProxyUriPath=PATH,
            XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
            XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-example12345678",
            XksProxyAuthenticationCredential={"AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": SECRET})
    assert code(e) == "XksProxyVpcEndpointServiceNotFoundException"

    store = create_store(kms, "ekm", proxy.endpoint)
    assert store.startswith("cks-")
    with pytest.raises(ClientError) as e:
        create_store(kms, "ekm-again", proxy.endpoint)
    assert code(e) == "XksProxyUriInUseException"
    e0 = entry(kms, store)
    assert e0["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE" and e0["ConnectionState"] == "DISCONNECTED"
    assert e0["XksProxyConfiguration"] == {"Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": ACCESS_KEY_ID,
                                           "UriEndpoint": proxy.endpoint, "UriPath": PATH}
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store, XksKeyId=KEY)
    assert code(e) == "CustomKeyStoreInvalidStateException"

    kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert entry(kms, store)["ConnectionState"] == "CONNECTING"
    assert settled(kms, store)["ConnectionState"] == "CONNECTED"

    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store, XksKeyId="no-such-key")
    assert code(e) == "XksKeyNotFoundException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store, XksKeyId=DISABLED)
    assert code(e) == "XksKeyInvalidConfigurationException"
    meta = kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store, XksKeyId=KEY)["KeyMetadata"]
    assert meta["Origin"] == "EXTERNAL_KEY_STORE" and meta["XksKeyConfiguration"] == {"Id": KEY}
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store, XksKeyId=KEY)
    assert code(e) == "XksKeyAlreadyInUseException"
    key = meta["KeyId"]
    described = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert described["CustomKeyStoreId"] == store and described["XksKeyConfiguration"] == {"Id": KEY}

    blob = kms.encrypt(KeyId=key, Plaintext=b"double", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert blob[0] == 4  # the external key store blob version (docs/formats.md)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"double"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "w"})
    assert code(e) == "InvalidCiphertextException"
    dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"k": "v"},
                           DestinationKeyId=plain_key)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=moved)["Plaintext"] == b"double"
    back = kms.re_encrypt(CiphertextBlob=moved, DestinationKeyId=key)["CiphertextBlob"]
    assert back[0] == 4 and kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"double"

    ddb.create_table(
        TableName="XksTable", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": meta["Arn"]})
    ddb.put_item(TableName="XksTable", Item={"pk": {"S": "a"}, "v": {"S": "kept"}})

    # The proxy goes away: the store stays CONNECTED (as in AWS), every use of the key
    # fails with KMSInvalidStateException, and the table becomes inaccessible.
    proxy.stop()
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})
    assert code(e) == "KMSInvalidStateException"
    assert "not reachable" in e.value.response["Error"]["Message"]
    time.sleep(1.2)
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName="XksTable", Key={"pk": {"S": "a"}})
    assert code(e) == "ValidationException"
    assert "KMSInvalidStateException" in e.value.response["Error"]["Message"]
    eventually(lambda: ddb.describe_table(TableName="XksTable")["Table"]["TableStatus"]
               == "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "table inaccessible")

    proxy.start()
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"double"
    time.sleep(1.2)
    item = eventually(lambda: ddb.get_item(TableName="XksTable", Key={"pk": {"S": "a"}}).get("Item"),
                      "item readable")
    assert item["v"] == {"S": "kept"}
    eventually(lambda: ddb.describe_table(TableName="XksTable")["Table"]["TableStatus"] == "ACTIVE",
               "table active")

    # The proxy's credential changes without KMS knowing: INVALID_CREDENTIALS, until
    # the store is updated (while disconnected) with the new one.
    proxy.stop()
    proxy.start(secret=OTHER_SECRET)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert code(e) == "KMSInvalidStateException"
    failed = reconnect(kms, store)
    assert (failed["ConnectionState"], failed["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(CustomKeyStoreId=store, XksProxyAuthenticationCredential={
            "AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": OTHER_SECRET})
    assert code(e) == "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    kms.update_custom_key_store(CustomKeyStoreId=store, XksProxyAuthenticationCredential={
        "AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": OTHER_SECRET})
    ok = reconnect(kms, store)
    assert ok["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in ok
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"double"

    # Not reachable, timed out, nonsense.
    proxy.stop()
    failed = reconnect(kms, store)
    assert failed["ConnectionErrorCode"] == "XKS_PROXY_NOT_REACHABLE"
    fake = FakeProxy(proxy.port, proxy.cert, proxy.key, "silent")
    try:
        assert reconnect(kms, store)["ConnectionErrorCode"] == "XKS_PROXY_TIMED_OUT"
    finally:
        fake.stop()
    fake = FakeProxy(proxy.port, proxy.cert, proxy.key, "garbage")
    try:
        assert reconnect(kms, store)["ConnectionErrorCode"] == "XKS_PROXY_INVALID_RESPONSE"
    finally:
        fake.stop()
    proxy.start(secret=OTHER_SECRET)
    assert reconnect(kms, store)["ConnectionState"] == "CONNECTED"

    # Across a restart the store reconnects; the proxy secret is in no file in the clear
    # and in no audit record.
    events, token = [], {}
    while True:
        page = s.client("cloudtrail").lookup_events(MaxResults=50, **token)
        events += page["Events"]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert {"CreateCustomKeyStore", "UpdateCustomKeyStore"} <= {ev["EventName"] for ev in events}
    assert not any(SECRET in ev.get("CloudTrailEvent", "") or OTHER_SECRET in ev.get("CloudTrailEvent", "")
                   for ev in events)
    s.stop()
    for f in s.data_dir.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert SECRET.encode() not in raw and OTHER_SECRET.encode() not in raw, f
    s.start()
    kms, ddb = s.client("kms"), s.client()
    assert settled(kms, store)["ConnectionState"] == "CONNECTED"
    assert ddb.get_item(TableName="XksTable", Key={"pk": {"S": "a"}})["Item"]["v"] == {"S": "kept"}
