"""HTTP as DynamoDB speaks it: compressed requests and responses, CORS, the health check,
404s, and the order of the front door's checks. Requests are signed by botocore."""

import gzip
import json
import urllib.error
import urllib.request
import uuid
import zlib

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, REGION, SECRET_KEY


def send(server, method="POST", headers=None, data=b"", path="/"):
    r = urllib.request.Request(server.endpoint + path, data=data if method != "GET" else None,
                               headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def signed(server, target, body, extra_headers=None, content_type="application/x-amz-json-1.0"):
    """Headers and body of a request signed by botocore; extra headers are signed too."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": target, "Content-Type": content_type}
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", REGION).add_auth(req)
    p = req.prepare()
    return dict(p.headers), p.body


def call(server, target, body, extra_headers=None, **kw):
    headers, data = signed(server, target, body, extra_headers, **kw)
    return send(server, headers=headers, data=data)


def error_type(body):
    return json.loads(body)["__type"].split("#")[-1]


@pytest.fixture(scope="module")
def table(server):
    ddb = server.client()
    name = "http-" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return name


def get(server, table, key):
    return server.client().get_item(TableName=table, Key={"p": {"S": key}}, ConsistentRead=True).get("Item")


def compressing_client(server):
    """A boto3 client that gzips every request, as botocore does for operations whose
    model asks for request compression (DynamoDB's does not yet, so the model is patched)."""
    c = boto3.client("dynamodb", endpoint_url=server.endpoint, region_name=REGION,
                     aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                     config=Config(retries={"max_attempts": 1}, request_min_compression_size_bytes=1))
    ops = c.meta.service_model._service_description["operations"]
    for op in ops.values():
        op["requestcompression"] = {"encodings": ["gzip"]}
    return c


def test_botocore_compressed_requests_of_every_kind(server, table):
    c = compressing_client(server)
    sent = []
    c.meta.events.register("before-send", lambda request, **kw: sent.append(request.headers.get("Content-Encoding")))
    c.put_item(TableName=table, Item={"p": {"S": "z1"}, "v": {"S": "x" * 20000}})
    c.update_item(TableName=table, Key={"p": {"S": "z1"}}, UpdateExpression="SET w = :w",
                  ExpressionAttributeValues={":w": {"N": "7"}})
    got = c.get_item(TableName=table, Key={"p": {"S": "z1"}}, ConsistentRead=True)["Item"]
    assert got["v"]["S"] == "x" * 20000 and got["w"]["N"] == "7"
    c.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"p": {"S": f"zb{i}"}}}} for i in range(5)]})
    keys = [{"p": {"S": f"zb{i}"}} for i in range(5)]
    assert len(c.batch_get_item(RequestItems={table: {"Keys": keys}})["Responses"][table]) == 5
    assert c.query(TableName=table, KeyConditionExpression="p = :p",
                   ExpressionAttributeValues={":p": {"S": "z1"}})["Count"] == 1
    assert c.scan(TableName=table)["Count"] >= 6
    c.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": {"p": {"S": "zb0"}}}}])
    c.delete_item(TableName=table, Key={"p": {"S": "z1"}})
    assert table in c.list_tables()["TableNames"]
    assert c.describe_table(TableName=table)["Table"]["TableName"] == table
    # Every request really went compressed.
    assert len(sent) == 11 and all(e == b"gzip" for e in sent), sent
    assert get(server, table, "z1") is None and get(server, table, "zb0") is None


@pytest.mark.parametrize("coding,compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("gzip", lambda b: gzip.compress(b[:10]) + gzip.compress(b[10:])),
])
def test_compressed_request_bodies(server, table, coding, compress):
    key = "c-" + uuid.uuid4().hex[:8]
    body = json.dumps({"TableName": table, "Item": {"p": {"S": key}, "v": {"S": coding}}}).encode()
    status, headers, resp = call(server, "DynamoDB_20120810.PutItem", compress(body),
                                 {"Content-Encoding": coding})
    assert status == 200, resp
    assert get(server, table, key) == {"p": {"S": key}, "v": {"S": coding}}


@pytest.mark.parametrize("coding,payload", [
    ("gzip", lambda b: b),                                   # not gzip at all
    ("gzip", lambda b: gzip.compress(b)[:-1]),               # truncated
    ("gzip", lambda b: gzip.compress(b) + b"junk"),          # trailing junk
    ("gzip", lambda b: b""),                                 # empty
    ("deflate", lambda b: b),
    ("deflate", lambda b: zlib.compress(b[:10]) + zlib.compress(b[10:])),
    ("garbage", lambda b: b),                                # unknown coding
])
def test_bodies_that_do_not_decode_are_internal_errors_and_change_nothing(server, table, coding, payload):
    key = "bad-" + uuid.uuid4().hex[:8]
    body = json.dumps({"TableName": table, "Item": {"p": {"S": key}}}).encode()
    status, headers, resp = call(server, "DynamoDB_20120810.PutItem", payload(body),
                                 {"Content-Encoding": coding})
    assert status == 500, resp
    assert error_type(resp) == "InternalServerError"
    assert get(server, table, key) is None


def test_inflated_body_over_the_limit_is_413(server, table):
    key = "big-" + uuid.uuid4().hex[:8]
    body = json.dumps({"TableName": table, "Item": {"p": {"S": key}}})
    body = (body[:-1] + " " * (17 * 1024 * 1024) + body[-1]).encode()
    packed = gzip.compress(body)
    assert len(packed) < 1024 * 1024
    status, _, resp = call(server, "DynamoDB_20120810.PutItem", packed, {"Content-Encoding": "gzip"})
    assert status == 413, resp
    assert get(server, table, key) is None


def decompressing(client):
    """Lets boto3 parse compressed replies: botocore has already checked x-amz-crc32
    over the bytes received (compressed) before this runs; we record what came."""
    seen = {}

    def before_parse(response_dict, **kw):
        enc = response_dict["headers"].get("Content-Encoding")
        seen["encoding"] = enc
        seen["wire_length"] = len(response_dict["body"])
        if enc == "gzip":
            response_dict["body"] = gzip.decompress(response_dict["body"])
        elif enc == "deflate":
            response_dict["body"] = zlib.decompress(response_dict["body"])
    client.meta.events.register("before-parse", before_parse)
    return seen


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_responses_compressed_on_accept_encoding_with_crc32_botocore_checks(server, table, coding):
    c = server.client()
    value = "y" * 6000
    c.put_item(TableName=table, Item={"p": {"S": "resp"}, "v": {"S": value}})
    seen = decompressing(c)
    c.meta.events.register("before-call", lambda params, **kw: params["headers"].update({"Accept-Encoding": coding}))
    got = c.get_item(TableName=table, Key={"p": {"S": "resp"}}, ConsistentRead=True)["Item"]
    assert got["v"]["S"] == value
    assert seen["encoding"] == coding
    assert seen["wire_length"] < 1000
    # Below 4 KiB the reply goes as it is.
    small = c.get_item(TableName=table, Key={"p": {"S": "resp"}}, ProjectionExpression="p")["Item"]
    assert small == {"p": {"S": "resp"}}
    assert seen["encoding"] is None


def test_crc32_is_over_the_compressed_bytes(server, table):
    server.client().put_item(TableName=table, Item={"p": {"S": "crc"}, "v": {"S": "q" * 8000}})
    status, headers, body = call(server, "DynamoDB_20120810.GetItem",
                                 {"TableName": table, "Key": {"p": {"S": "crc"}}},
                                 {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body) & 0xFFFFFFFF
    assert json.loads(gzip.decompress(body))["Item"]["v"]["S"] == "q" * 8000
    status, headers, body = call(server, "DynamoDB_20120810.GetItem",
                                 {"TableName": table, "Key": {"p": {"S": "crc"}}},
                                 {"Accept-Encoding": "br, identity"})
    assert status == 200 and "content-encoding" not in headers
    assert json.loads(body)["Item"]["v"]["S"] == "q" * 8000


def test_cors_preflight_and_allow_origin(server):
    status, headers, body = send(server, method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-amz-target, authorization"})
    assert status == 200 and body == b""
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-target, authorization"
    assert headers["access-control-max-age"] == "172800"
    assert len(headers["x-amzn-requestid"]) == 52
    # Without an Origin, OPTIONS is no API request.
    status, _, body = send(server, method="OPTIONS")
    assert status == 404 and body == b"<UnknownOperationException/>\n"
    # Real requests from a page get the origin header too, errors included.
    status, headers, _ = call(server, "DynamoDB_20120810.ListTables", {}, {"Origin": "https://app.example"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    status, headers, _ = send(server, headers={"Origin": "x", "X-Amz-Target": "DynamoDB_20120810.ListTables",
                                               "Content-Type": "application/x-amz-json-1.0"}, data=b"{}")
    assert status == 400 and headers["access-control-allow-origin"] == "*"
    status, headers, _ = call(server, "DynamoDB_20120810.ListTables", {})
    assert "access-control-allow-origin" not in headers


def test_health_check_and_404s(server):
    status, headers, body = send(server, method="GET")
    host = server.endpoint.split("://", 1)[1]
    assert status == 200 and body == f"healthy: {host} ".encode()
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body) & 0xFFFFFFFF
    assert len(headers["x-amzn-requestid"]) == 52
    for method, path in [("GET", "/elsewhere"), ("PUT", "/"), ("DELETE", "/"), ("PATCH", "/")]:
        status, headers, body = send(server, method=method, path=path, data=b"")
        assert (status, body) == (404, b"<UnknownOperationException/>\n"), (method, path)
        assert headers["x-amz-crc32"] == "3552371480"


@pytest.mark.parametrize("content_type", [None, "whatever", "application/x-amz-json-1.1", "application/jsonasdf"])
def test_body_of_another_content_type_is_404(server, content_type):
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables"}
    if content_type:
        headers["Content-Type"] = content_type
    status, _, body = send(server, headers=headers, data=b"{}")
    assert (status, body) == (404, b"<UnknownOperationException/>\n")


def test_framing_errors_come_before_authentication(server):
    # Unsigned requests: JSON framing and the target are judged first.
    base = {"Content-Type": "application/x-amz-json-1.0"}
    status, headers, body = send(server, headers=dict(base, **{"X-Amz-Target": "DynamoDB_20120810.ListTables"}), data=b"hi")
    assert status == 400 and json.loads(body) == {"__type": "com.amazon.coral.service#SerializationException"}
    assert headers["content-type"] == "application/x-amz-json-1.0"
    status, headers, body = send(server, headers={"Content-Type": "application/json; charset=x",
                                                  "X-Amz-Target": "DynamoDB_20120810.ListTables"}, data=b"hi")
    assert status == 400 and error_type(body) == "SerializationException"
    assert headers["content-type"] == "application/json"
    for target in [None, "whatever", "DynamoDB_20120810.ListTable"]:
        h = dict(base)
        if target:
            h["X-Amz-Target"] = target
        status, _, body = send(server, headers=h, data=b"{}")
        assert status == 400 and json.loads(body) == {"__type": "com.amazon.coral.service#UnknownOperationException"}
    status, _, body = send(server, headers=dict(base, **{"X-Amz-Target": "DynamoDB_20120810.ListTables"}), data=b"{}")
    assert error_type(body) == "MissingAuthenticationTokenException"


def auth_error(server, authorization, date="20260101T000000Z"):
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
               "Authorization": authorization}
    if date:
        headers["X-Amz-Date"] = date
    status, _, body = send(server, headers=headers, data=b"{}")
    assert status == 400
    parsed = json.loads(body)
    return parsed["__type"].split("#")[-1], parsed.get("message")


def test_signature_checks_in_aws_order(server):
    assert auth_error(server, "AWS4") == ("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    assert auth_error(server, "AWS4-", date=None) == ("IncompleteSignatureException",
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either "
        "a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-")
    assert auth_error(server, "AWS4- Signature=b Credential=a") == ("IncompleteSignatureException",
        "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b Credential=a")
    # A date outside the window is told before the algorithm, the credential or the host.
    kind, msg = auth_error(server, "AWS4-X Credential=a, SignedHeaders=x, Signature=b", date="20130301T000000Z")
    assert kind == "InvalidSignatureException" and msg.startswith("Signature expired: 20130301T000000Z is now earlier than ")
    kind, msg = auth_error(server, "AWS4-X Credential=a, SignedHeaders=x, Signature=b", date="201")
    assert (kind, msg) == ("IncompleteSignatureException",
                           "Date must be in ISO-8601 'basic format'. Got '201'. See http://en.wikipedia.org/wiki/ISO_8601")
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    assert auth_error(server, "AWS4-X Credential=a, SignedHeaders=x, Signature=b", date=now) == (
        "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    assert auth_error(server, "AWS4-HMAC-SHA25 Credential=a, SignedHeaders=host, Signature=b", date=now) == (
        "IncompleteSignatureException", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA25' (only AWS4-HMAC-SHA256 for now). ")
    assert auth_error(server, "AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=b", date=now) == (
        "IncompleteSignatureException",
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'")
    kind, msg = auth_error(server, "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=b", date=now)
    assert kind == "InvalidSignatureException"
    assert msg == ("Credential should be scoped to a valid region, not 'c'. "
                   "Credential should be scoped to correct service: 'dynamodb'. "
                   "Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. "
                   f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'b' != '{now[:8]}', from '{now}'.")
    kind, _ = auth_error(server, f"AWS4-HMAC-SHA256 Credential=AKIDNOPE/{now[:8]}/us-east-1/dynamodb/aws4_request, "
                                 "SignedHeaders=host, Signature=b", date=now)
    assert kind == "UnrecognizedClientException"
