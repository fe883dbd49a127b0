"""Hostile clients at the front door, over real sockets: slow and endless bodies, slow
headers and TLS handshakes, header floods, invalid UTF-8, idle connection floods,
`UNSIGNED-PAYLOAD`, the per-connection request cap, clients that never read their
responses, and plain HTTP on the TLS port (served with a CA → intermediate → leaf
chain). Each gets an error or a close, the
server's memory stays bounded, and a real boto3 client is served throughout.

The server runs with short limits (1-2 s) so the tests are quick; nothing here asserts
how long anything took: every wait is a generous socket timeout."""

import json
import re
import shutil
import socket
import ssl
import subprocess
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, REGION, SECRET_KEY, Server

# A generous bound for any single wait on a loaded CI machine.
WAIT = 60
MAX_CONNECTIONS = 64


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("hostile") / "data", extra_args=[
        "--header-timeout-secs", "1", "--body-timeout-secs", "2", "--tls-handshake-timeout-secs", "1",
        "--max-connections", str(MAX_CONNECTIONS), "--max-requests-per-connection", "3"]).start()
    yield s
    s.stop()


def address(server):
    u = urllib.parse.urlparse(server.endpoint)
    return u.hostname, u.port


def connect(server):
    s = socket.create_connection(address(server), timeout=WAIT)
    s.settimeout(WAIT)
    return s


def read_response(sock):
    """Status, lower-cased headers and body of one response (Content-Length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def closed_by_server(sock):
    """True once the server has closed the connection (EOF or reset), reading until then."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def signed_headers(server, body, extra=None):
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    headers.update(extra or {})
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", REGION).add_auth(req)
    return dict(req.prepare().headers)


def raw_head(server, headers, method="POST"):
    host, port = address(server)
    lines = [f"{method} / HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def rss_kib(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def still_served(server):
    # A fresh client each time: it must get through whatever else is connected.
    c = server.client()
    assert "TableNames" in c.list_tables()


def test_unauthenticated_large_body_is_refused_before_it_is_read(hostile):
    s = connect(hostile)
    # 10 MB announced, 100 bytes sent: the answer comes without the rest of the body.
    s.sendall(raw_head(hostile, {"Content-Type": "application/x-amz-json-1.0",
                                 "X-Amz-Target": "DynamoDB_20120810.ListTables",
                                 "Content-Length": str(10 * 1024 * 1024)}) + b"{" * 100)
    status, headers, body = read_response(s)
    assert status == 400
    assert json.loads(body)["__type"].endswith("#MissingAuthenticationTokenException")
    assert headers["connection"] == "close"
    assert closed_by_server(s)
    still_served(hostile)


def test_unauthenticated_endless_chunked_body_gets_the_auth_error_after_a_small_read(hostile):
    s = connect(hostile)
    s.sendall(raw_head(hostile, {"Content-Type": "application/x-amz-json-1.0",
                                 "X-Amz-Target": "DynamoDB_20120810.ListTables",
                                 "Authorization": "AWS4-HMAC-SHA256 Credential=nope",
                                 "Transfer-Encoding": "chunked"}))
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    answered = None
    # Far past the unauthenticated read limit (64 KiB); the server answers within it.
    for _ in range(64):
        try:
            s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
    status, headers, body = read_response(s)
    answered = json.loads(body)["__type"]
    assert status == 400 and answered.endswith("#IncompleteSignatureException")
    assert headers["connection"] == "close"
    still_served(hostile)


def test_declared_body_over_16_mib_is_413_without_reading_it(hostile):
    s = connect(hostile)
    s.sendall(raw_head(hostile, signed_headers(hostile, b"{}") | {"Content-Length": str(16 * 1024 * 1024 + 1)}))
    status, headers, body = read_response(s)
    assert status == 413 and json.loads(body)["__type"].endswith("#RequestEntityTooLarge")
    assert headers["connection"] == "close"


def test_authenticated_endless_chunked_body_stops_at_16_mib(hostile):
    before = rss_kib(hostile)
    headers = signed_headers(hostile, b"{}")
    headers.pop("Content-Length", None)
    headers["Transfer-Encoding"] = "chunked"
    s = connect(hostile)
    s.sendall(raw_head(hostile, headers))
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    for _ in range(40):  # 40 MiB offered
        try:
            s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
    status, headers, body = read_response(s)
    assert status == 413 and json.loads(body)["__type"].endswith("#RequestEntityTooLarge")
    assert headers["connection"] == "close"
    # The 16 MiB buffer is the most one request holds.
    assert rss_kib(hostile) - before < 200 * 1024
    still_served(hostile)


def test_slow_body_is_answered_408_and_closed(hostile):
    s = connect(hostile)
    s.sendall(raw_head(hostile, signed_headers(hostile, b'{"Limit": 1}')) + b'{"Li')
    status, headers, _ = read_response(s)
    assert status == 408
    assert headers["connection"] == "close"
    assert closed_by_server(s)


def test_slow_headers_are_closed(hostile):
    s = connect(hostile)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Tar")
    assert closed_by_server(s)
    still_served(hostile)


def test_header_floods_get_431(hostile):
    many = {f"X-Flood-{i}": "v" for i in range(1000)}
    big = {"X-Big": "v" * (128 * 1024)}
    for flood in (many, big):
        s = connect(hostile)
        try:
            s.sendall(raw_head(hostile, flood))
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, _ = read_response(s)
        assert status == 431
        assert closed_by_server(s)
    still_served(hostile)


def test_invalid_utf8_in_headers_and_body_is_an_error(hostile):
    # In the target: not a known operation.
    s = connect(hostile)
    s.sendall(raw_head(hostile, {"Content-Type": "application/x-amz-json-1.0", "Content-Length": "2"})
              .replace(b"Content-Length", b"X-Amz-Target: DynamoDB_20120810.\xff\xfe\r\nContent-Length") + b"{}")
    status, _, body = read_response(s)
    assert status == 400 and json.loads(body)["__type"].endswith("#UnknownOperationException")
    # In the Authorization header: not a SigV4 header at all.
    s = connect(hostile)
    s.sendall(raw_head(hostile, {"Content-Type": "application/x-amz-json-1.0",
                                 "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Length": "2"})
              .replace(b"Content-Length", b"Authorization: AWS4-\xff Credential=\xff\r\nContent-Length") + b"{}")
    status, _, body = read_response(s)
    assert status == 400 and json.loads(body)["__type"].endswith("#IncompleteSignatureException")
    # In a signed JSON body: a framing error, nothing created.
    body = b'{"TableName": "t\xff"}'
    headers = signed_headers(hostile, body, {"X-Amz-Target": "DynamoDB_20120810.DescribeTable"})
    s = connect(hostile)
    s.sendall(raw_head(hostile, headers) + body)
    status, _, reply = read_response(s)
    assert status == 400 and json.loads(reply)["__type"].endswith("#SerializationException")
    still_served(hostile)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded; charset=\xff", ""])
def test_wrong_content_types_are_404(hostile, content_type):
    s = connect(hostile)
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Length": "2"}
    if content_type:
        headers["Content-Type"] = content_type
    s.sendall(raw_head(hostile, headers).replace(b"\\xff", b"\xff") + b"{}")
    status, _, body = read_response(s)
    if content_type.startswith("application/x-www-form-urlencoded"):
        # A form body is the Query protocol (IAM/STS): its own error, not a crash.
        assert status in (400, 403, 404)
    else:
        assert status == 404 and body == b"<UnknownOperationException/>\n"


def test_thousands_of_idle_connections_are_closed_and_others_served(hostile):
    before = rss_kib(hostile)
    idle = []
    for i in range(1000):
        s = socket.create_connection(address(hostile), timeout=WAIT)
        if i % 2:
            s.sendall(b"POST / HTTP/1.1\r\n")  # a request begun and never finished
        idle.append(s)
    # Far more idle connections than the server serves at once; a real client still gets
    # through as the idle ones are closed.
    still_served(hostile)
    for s in idle:
        s.settimeout(WAIT)
        assert closed_by_server(s)
        s.close()
    assert rss_kib(hostile) - before < 200 * 1024
    still_served(hostile)


def test_requests_per_connection_are_capped(hostile):
    s = connect(hostile)
    statuses = []
    for _ in range(3):
        s.sendall(raw_head(hostile, {}, method="GET"))
        status, headers, _ = read_response(s)
        statuses.append((status, headers.get("connection")))
    assert statuses == [(200, None), (200, None), (200, "close")]
    assert closed_by_server(s)


def test_unsigned_payload_is_refused_as_dynamodb_does(hostile):
    # botocore signs the header's value as the payload hash; DynamoDB hashes the body.
    body = b"{}"
    headers = signed_headers(hostile, body, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert "x-amz-content-sha256" in headers["Authorization"].lower()
    s = connect(hostile)
    s.sendall(raw_head(hostile, headers) + body)
    status, _, reply = read_response(s)
    reply = json.loads(reply)
    assert status == 400 and reply["__type"].endswith("#InvalidSignatureException")
    assert reply["message"].startswith("The request signature we calculated does not match")
    # The same request with the body's real hash is served.
    import hashlib
    headers = signed_headers(hostile, body, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    s = connect(hostile)
    s.sendall(raw_head(hostile, headers) + body)
    status, _, reply = read_response(s)
    assert status == 200 and "TableNames" in json.loads(reply)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
def test_slow_tls_handshakes_are_closed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key),
                                              "--tls-handshake-timeout-secs", "1", "--max-connections", "4"]).start()
    try:
        stalled = []
        for i in range(8):
            c = connect(s)
            if i % 2:
                c.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
            stalled.append(c)
        # Twice the connection cap stalls, then a real TLS client is served.
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(address(s), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.settimeout(WAIT)
                tls.sendall(raw_head(s, {}, method="GET"))
                status, _, body = read_response(tls)
                assert status == 200 and body.startswith(b"healthy: ")
        for c in stalled:
            assert closed_by_server(c)
    finally:
        s.stop()


def test_a_client_that_never_reads_its_responses_is_closed_and_others_served(tmp_path):
    """Pipelined Scans of about 1 MB each, sent on connections that never read: their
    writes stall once the socket buffers are full. With every connection slot held by
    such clients, a real client is still served once the write timeout closes them."""
    s = Server(tmp_path / "data", extra_args=["--write-timeout-secs", "1", "--max-connections", "2"]).start()
    try:
        ddb = s.client()
        ddb.create_table(TableName="Big", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        for i in range(3):
            ddb.put_item(TableName="Big", Item={"pk": {"S": str(i)}, "v": {"S": str(i) * 350_000}})
        body = json.dumps({"TableName": "Big"}).encode()
        request = raw_head(s, signed_headers(s, body, {"X-Amz-Target": "DynamoDB_20120810.Scan"})) + body
        stuck = []
        for _ in range(2):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.settimeout(WAIT)
            c.connect(address(s))
            # About 24 MB of answers, more than any socket buffer holds.
            c.sendall(request * 24)
            stuck.append(c)
        still_served(s)
        for c in stuck:
            assert closed_by_server(c)
            c.close()
    finally:
        s.stop()


def make_chain(d):
    """A root CA, an intermediate CA it signs, and a leaf for 127.0.0.1 the intermediate
    signs (openssl). Returns (root cert, leaf + intermediate chain, leaf key)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def ec_key(name):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(d / f"{name}.key"))

    for name in ("root", "inter", "leaf"):
        ec_key(name)
    (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n")
    run("req", "-x509", "-new", "-key", str(d / "root.key"), "-subj", "/CN=sealdb test root", "-days", "2",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", str(d / "root.pem"))
    for name, issuer, subject, ext in (("inter", "root", "/CN=sealdb test intermediate", "ca.ext"),
                                       ("leaf", "inter", "/CN=127.0.0.1", "leaf.ext")):
        run("req", "-new", "-key", str(d / f"{name}.key"), "-subj", subject, "-out", str(d / f"{name}.csr"))
        run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / f"{issuer}.pem"),
            "-CAkey", str(d / f"{issuer}.key"), "-CAcreateserial", "-days", "2", "-extfile", str(d / ext),
            "-out", str(d / f"{name}.pem"))
    chain = d / "chain.pem"
    chain.write_text((d / "leaf.pem").read_text() + (d / "inter.pem").read_text())
    return d / "root.pem", chain, d / "leaf.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make the certificates")
def test_tls_with_a_real_chain_and_plain_http_on_the_tls_port(tmp_path):
    root, chain, key = make_chain(tmp_path)
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(chain), "--tls-key", str(key)]).start()
    try:
        # A client that trusts only the root verifies the leaf through the intermediate
        # the server sends.
        ctx = ssl.create_default_context(cafile=str(root))
        with socket.create_connection(address(s), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.settimeout(WAIT)
                assert len(tls.getpeercert(binary_form=False)["subject"]) > 0
                tls.sendall(raw_head(s, {}, method="GET"))
                status, _, body = read_response(tls)
                assert status == 200 and body.startswith(b"healthy: ")
        # A client that trusts neither test CA refuses the server.
        with socket.create_connection(address(s), timeout=WAIT) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        # Plain HTTP sent to the TLS port: no TLS record, so the handshake fails and the
        # server closes the connection (no answer in the clear, no hang).
        for request in (raw_head(s, {}, method="GET"), raw_head(s, signed_headers(s, b"{}"), method="POST") + b"{}"):
            c = connect(s)
            c.sendall(request)
            received = b""
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except ConnectionResetError:
                pass
            c.close()
            assert b"HTTP/1.1" not in received and b"healthy" not in received
        # The server is unharmed.
        with socket.create_connection(address(s), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.settimeout(WAIT)
                tls.sendall(raw_head(s, {}, method="GET"))
                assert read_response(tls)[0] == 200
        assert s.proc.poll() is None
    finally:
        s.stop()
