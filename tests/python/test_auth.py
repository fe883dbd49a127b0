"""The front door: SigV4 failures, framing errors, headers, with real signatures made by
botocore (not by our own signer)."""

import datetime
import json
import urllib.request
import zlib

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY


def raw_call(server, target, body, key=ACCESS_KEY, secret=SECRET_KEY, region="us-east-1",
             service="dynamodb", when=None, sign=True, content_type="application/x-amz-json-1.0"):
    """Sends one request signed by botocore's SigV4 (optionally at another time)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data,
                     headers={"X-Amz-Target": target, "Content-Type": content_type})
    if sign:
        auth = SigV4Auth(Credentials(key, secret), service, region)
        if when is None:
            auth.add_auth(req)
        else:
            # botocore reads the clock through botocore.auth.get_current_datetime:
            # sign as if it were `when`.
            import botocore.auth as ba
            real = ba.get_current_datetime
            ba.get_current_datetime = lambda *a, **k: when.replace(tzinfo=None)
            try:
                auth.add_auth(req)
            finally:
                ba.get_current_datetime = real
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_type(body):
    t = json.loads(body)["__type"]
    return t.split("#")[-1]


def test_valid_request_has_crc32_and_request_id(server):
    status, headers, body = raw_call(server, "DynamoDB_20120810.ListTables", {})
    assert status == 200
    lower = {k.lower(): v for k, v in headers.items()}
    assert int(lower["x-amz-crc32"]) == zlib.crc32(body) & 0xFFFFFFFF
    assert len(lower["x-amzn-requestid"]) == 52
    assert "TableNames" in json.loads(body)


def test_wrong_secret_is_invalid_signature(server):
    c = server.client(secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        c.list_tables()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "The request signature we calculated does not match" in e.value.response["Error"]["Message"]


def test_unknown_key_is_unrecognized_client(server):
    c = server.client(key="AKIDNOSUCHKEY0000000", secret="x")
    with pytest.raises(ClientError) as e:
        c.list_tables()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_missing_authentication(server):
    status, _, body = raw_call(server, "DynamoDB_20120810.ListTables", {}, sign=False)
    assert status == 400
    assert error_type(body) == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Request is missing Authentication Token"


def test_expired_signature(server):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, _, body = raw_call(server, "DynamoDB_20120810.ListTables", {}, when=old)
    assert status == 400
    assert error_type(body) == "InvalidSignatureException"
    assert json.loads(body)["message"].startswith("Signature expired: ")


def test_scope_must_name_region_and_service(server):
    # Regions of other partitions (and made-up names) are not served.
    status, _, body = raw_call(server, "DynamoDB_20120810.ListTables", {}, region="cn-north-1")
    assert status == 400 and error_type(body) == "InvalidSignatureException"
    assert "cn-north-1" in json.loads(body)["message"]
    status, _, body = raw_call(server, "DynamoDB_20120810.ListTables", {}, service="s3")
    assert status == 400 and error_type(body) == "InvalidSignatureException"


def test_tampered_body_fails_signature(server):
    data = json.dumps({}).encode()
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data,
                     headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
                              "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", "us-east-1").add_auth(req)
    p = req.prepare()
    # The Content-Length signed is that of the original body: send the new one's.
    headers = {k: v for k, v in p.headers.items() if k.lower() != "content-length"}
    r = urllib.request.Request(p.url, data=b'{"Limit": 1}', headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=30)
    assert error_type(e.value.read()) == "InvalidSignatureException"


def test_malformed_json_and_unknown_operation(server):
    status, headers, body = raw_call(server, "DynamoDB_20120810.ListTables", b"{not json")
    assert status == 400 and error_type(body) == "SerializationException"
    lower = {k.lower(): v for k, v in headers.items()}
    assert int(lower["x-amz-crc32"]) == zlib.crc32(body) & 0xFFFFFFFF
    status, _, body = raw_call(server, "DynamoDB_20120810.NoSuchThing", {})
    assert status == 400 and error_type(body) == "UnknownOperationException"


def test_health(server):
    with urllib.request.urlopen(server.endpoint + "/", timeout=10) as r:
        assert r.status == 200
        assert r.read().startswith(b"healthy")


def test_cli_with_bad_credentials(server, aws_cli):
    env = server.cli_env()
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    import subprocess
    import shutil
    import os
    import sys
    exe = shutil.which("aws", path=os.path.dirname(sys.executable)) or "aws"
    p = subprocess.run([exe, "--endpoint-url", server.endpoint, "dynamodb", "list-tables"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0
    assert "InvalidSignatureException" in p.stderr
