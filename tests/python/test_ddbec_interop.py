"""Interop with the Python legacy DynamoDB Encryption Client (dynamodb-encryption-sdk 3.3.0)
through a real sealdb server: Python writes and the Rust crate (its `interop` example) reads,
and the other way round, for the Static, Wrapped (AES and RSA), MostRecent and DirectKMS
providers. Items carry numbers Python renders differently, binary sets with high bytes and
non-ASCII strings."""

import base64
import json
import os
import subprocess
import uuid
from decimal import Decimal

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dynamodb_encryption_sdk.delegated_keys.jce import JceNameLocalDelegatedKey
from dynamodb_encryption_sdk.encrypted.client import EncryptedClient
from dynamodb_encryption_sdk.exceptions import SignatureVerificationError
from dynamodb_encryption_sdk.identifiers import CryptoAction, EncryptionKeyType, KeyEncodingType
from dynamodb_encryption_sdk.material_providers.aws_kms import AwsKmsCryptographicMaterialsProvider
from dynamodb_encryption_sdk.material_providers.most_recent import CachingMostRecentProvider
from dynamodb_encryption_sdk.material_providers.static import StaticCryptographicMaterialsProvider
from dynamodb_encryption_sdk.material_providers.store.meta import MetaStore
from dynamodb_encryption_sdk.material_providers.wrapped import WrappedCryptographicMaterialsProvider
from dynamodb_encryption_sdk.materials.raw import RawDecryptionMaterials, RawEncryptionMaterials
from dynamodb_encryption_sdk.structures import AttributeActions

from conftest import ACCESS_KEY, REGION, REPO, SECRET_KEY

AES_KEY = bytes(range(32))
HMAC_KEY = bytes(range(100, 132))
STORE_KEY = bytes(range(50, 82))
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE_DER = RSA_PRIVATE.private_bytes(
    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
RSA_PUBLIC_DER = RSA_PRIVATE.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
BIG = "12345678901234567890123456789012345678"  # 38 digits: Python keeps 28


def interop_bin():
    return os.environ.get("DDBEC_INTEROP_BIN", str(REPO / "target" / "debug" / "examples" / "interop"))


@pytest.fixture(scope="module")
def rust_bin():
    path = interop_bin()
    if not os.path.exists(path):
        pytest.skip(f"no Rust interop example at {path} (cargo build -p dynamodb-encryption --example interop)")
    return path


def b64(data):
    return base64.b64encode(data).decode()


def to_wire(value):
    """A boto3 low-level value as the example's JSON (binary as base64)."""
    (tag, body), = value.items()
    if tag == "B":
        return {"B": b64(body)}
    if tag == "BS":
        return {"BS": [b64(b) for b in body]}
    if tag == "L":
        return {"L": [to_wire(v) for v in body]}
    if tag == "M":
        return {"M": {k: to_wire(v) for k, v in body.items()}}
    return {tag: body}


def from_wire(value):
    (tag, body), = value.items()
    if tag == "B":
        return {"B": base64.b64decode(body)}
    if tag == "BS":
        return {"BS": [base64.b64decode(b) for b in body]}
    if tag == "L":
        return {"L": [from_wire(v) for v in body]}
    if tag == "M":
        return {"M": {k: from_wire(v) for k, v in body.items()}}
    return {tag: body}


def canon(value):
    """A value in comparable form: numbers as Decimals, sets sorted."""
    (tag, body), = value.items()
    if tag == "N":
        return ("N", Decimal(body))
    if tag == "NS":
        return ("NS", sorted(Decimal(n) for n in body))
    if tag in ("SS", "BS"):
        return (tag, sorted(bytes(b) if tag == "BS" else b for b in body))
    if tag == "B":
        return ("B", bytes(body))
    if tag == "L":
        return ("L", [canon(v) for v in body])
    if tag == "M":
        return ("M", {k: canon(v) for k, v in body.items()})
    return (tag, body)


def canon_item(item):
    return {k: canon(v) for k, v in item.items()}


ACTIONS = {"default": "encrypt", "override": {"signed_num": "sign", "signed_bs": "sign", "signed_ss": "sign", "signed_zero": "sign", "loose": "nothing"}}


def python_actions():
    words = {"encrypt": CryptoAction.ENCRYPT_AND_SIGN, "sign": CryptoAction.SIGN_ONLY, "nothing": CryptoAction.DO_NOTHING}
    return AttributeActions(
        default_action=words[ACTIONS["default"]],
        attribute_actions={k: words[v] for k, v in ACTIONS["override"].items()},
    )


def items(prefix):
    """Plaintext items: awkward numbers, high-byte binary sets, non-ASCII strings."""
    return [
        {
            "pk": {"S": f"{prefix}-ünï-1"},
            "sk": {"N": "1"},
            "secret": {"S": "naïve café 😀 ｡ \u0000 end"},
            "num": {"N": "1.50"},
            "tiny": {"N": "1.5E-5"},
            "huge": {"N": "9.9E+125"},
            "neg": {"N": "-0.0"},
            "bin": {"B": bytes([0x80, 0xFF, 0x00, 0x7F])},
            "bs": {"BS": [b"\x80", b"\x01", b"\x01\x00", b"\x7f", b"\xff\xfe"]},
            "signed_num": {"N": "55.00"},
            "signed_bs": {"BS": [b"\x80", b"\x01", b"\xff"]},
            "signed_ss": {"SS": ["😀", "｡", "a", "é"]},
            "nested": {"M": {"l": {"L": [{"N": "10"}, {"S": "ß"}, {"NULL": True}, {"BOOL": False}]}, "z": {"NS": ["3", "-1.0", "20"]}}},
            "loose": {"S": "not signed"},
        },
        {"pk": {"S": f"{prefix}-2"}, "sk": {"N": "2"}, "secret": {"S": ""}, "bin": {"B": b""}},
    ]


def create_table(ddb, name):
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def sym(key, algorithm):
    return JceNameLocalDelegatedKey(key=key, algorithm=algorithm, key_type=EncryptionKeyType.SYMMETRIC, key_encoding=KeyEncodingType.RAW)


def static_python():
    aes, mac = sym(AES_KEY, "AES"), sym(HMAC_KEY, "HmacSHA256")
    return StaticCryptographicMaterialsProvider(
        encryption_materials=RawEncryptionMaterials(signing_key=mac, encryption_key=aes),
        decryption_materials=RawDecryptionMaterials(verification_key=mac, decryption_key=aes),
    )


def static_rust():
    return {"type": "static", "aes": b64(AES_KEY), "hmac": b64(HMAC_KEY)}


def wrapped_aes_python():
    aes = sym(AES_KEY, "AES")
    return WrappedCryptographicMaterialsProvider(signing_key=sym(HMAC_KEY, "HmacSHA256"), wrapping_key=aes, unwrapping_key=aes)


def wrapped_aes_rust():
    return {"type": "wrapped_aes", "wrap": b64(AES_KEY), "hmac": b64(HMAC_KEY)}


def wrapped_rsa_python():
    def key(der, algorithm, kind):
        return JceNameLocalDelegatedKey(key=der, algorithm=algorithm, key_type=kind, key_encoding=KeyEncodingType.DER)

    return WrappedCryptographicMaterialsProvider(
        signing_key=key(RSA_PRIVATE_DER, "SHA256withRSA", EncryptionKeyType.PRIVATE),
        wrapping_key=key(RSA_PUBLIC_DER, "RSA", EncryptionKeyType.PUBLIC),
        unwrapping_key=key(RSA_PRIVATE_DER, "RSA", EncryptionKeyType.PRIVATE),
    )


def wrapped_rsa_rust():
    return {"type": "wrapped_rsa", "private": b64(RSA_PRIVATE_DER), "public": b64(RSA_PUBLIC_DER)}


def store_python_provider():
    aes = sym(STORE_KEY, "AES")
    return WrappedCryptographicMaterialsProvider(signing_key=sym(HMAC_KEY, "HmacSHA256"), wrapping_key=aes, unwrapping_key=aes)


def store_rust_provider():
    return {"type": "wrapped_aes", "wrap": b64(STORE_KEY), "hmac": b64(HMAC_KEY)}


class Harness:
    def __init__(self, server, rust_bin):
        self.server = server
        self.rust_bin = rust_bin
        self.ddb = server.client()
        self.kms = server.client("kms")

    def rust(self, request):
        request = dict(request, endpoint=self.server.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        done = subprocess.run([self.rust_bin], input=json.dumps(request), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        return json.loads(done.stdout)

    def rust_put(self, table, provider, plain):
        self.rust({"op": "put", "table": table, "provider": provider, "actions": ACTIONS, "items": [{k: to_wire(v) for k, v in i.items()} for i in plain]})

    def rust_get(self, table, provider, keys):
        out = self.rust({"op": "get", "table": table, "provider": provider, "actions": ACTIONS, "keys": [{k: to_wire(v) for k, v in key.items()} for key in keys]})
        return [None if i is None else {k: from_wire(v) for k, v in i.items()} for i in out["items"]]

    def python_client(self, provider):
        return EncryptedClient(client=self.ddb, materials_provider=provider, attribute_actions=python_actions())

    def kms_provider(self, key_arn):
        return AwsKmsCryptographicMaterialsProvider(key_id=key_arn, regional_clients={REGION: self.kms})

    def new_kms_key(self):
        return self.kms.create_key()["KeyMetadata"]["Arn"]


@pytest.fixture
def harness(server, rust_bin):
    return Harness(server, rust_bin)


def keys_of(plain):
    return [{"pk": i["pk"], "sk": i["sk"]} for i in plain]


def check_both_ways(h, python_provider, rust_provider):
    # Python writes, Rust reads: the same plaintext Python itself reads back.
    table = f"interop-{uuid.uuid4().hex[:8]}"
    create_table(h.ddb, table)
    py = h.python_client(python_provider)
    written = items("py")
    for item in written:
        py.put_item(TableName=table, Item=item)
    raw = h.ddb.get_item(TableName=table, Key=keys_of(written)[0], ConsistentRead=True)["Item"]
    assert "*amzn-ddb-map-sig*" in raw and isinstance(raw["secret"]["B"], bytes)
    from_rust = h.rust_get(table, rust_provider, keys_of(written))
    for key, got in zip(keys_of(written), from_rust):
        own = py.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        assert canon_item(got) == canon_item(own)
    assert canon_item(from_rust[0]) == canon_item(written[0])

    # Rust writes, Python reads. A signed -0 is stored as 0 by the server (as by DynamoDB);
    # Rust signs the canonical 0 it stores, so Python verifies it. (Python itself signs -0
    # and then cannot verify its own item once the server has normalized it.)
    plain = items("rs")
    plain[0]["signed_zero"] = {"N": "-0"}
    h.rust_put(table, rust_provider, plain)
    for key, want in zip(keys_of(plain), plain):
        got = py.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        assert canon_item(got) == canon_item(want)
    # And Rust reads its own items back.
    for got, want in zip(h.rust_get(table, rust_provider, keys_of(plain)), plain):
        assert canon_item(got) == canon_item(want)
    return table


def test_static(harness):
    check_both_ways(harness, static_python(), static_rust())


def test_wrapped_aes(harness):
    check_both_ways(harness, wrapped_aes_python(), wrapped_aes_rust())


def test_wrapped_rsa(harness):
    check_both_ways(harness, wrapped_rsa_python(), wrapped_rsa_rust())


def test_direct_kms(harness):
    arn = harness.new_kms_key()
    check_both_ways(harness, harness.kms_provider(arn), {"type": "kms", "key_id": arn})


@pytest.mark.parametrize("creator", ["python", "rust"])
def test_most_recent(harness, creator):
    # One provider-store table per test; whoever writes first creates version 0 there.
    store_table = f"store-{uuid.uuid4().hex[:8]}"
    MetaStore.create_table(harness.ddb, store_table, 1, 1)
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=harness.server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    meta = MetaStore(resource.Table(store_table), store_python_provider())
    python_provider = CachingMostRecentProvider(provider_store=meta, material_name="interop", version_ttl=600.0)
    rust_provider = {"type": "most_recent", "store_table": store_table, "material_name": "interop", "store_provider": store_rust_provider()}
    if creator == "rust":
        # Rust creates version 0 in the store; Python must then read Rust's row.
        table = f"interop-{uuid.uuid4().hex[:8]}"
        create_table(harness.ddb, table)
        harness.rust_put(table, rust_provider, items("first"))
        got = harness.python_client(python_provider).get_item(TableName=table, Key=keys_of(items("first"))[0], ConsistentRead=True)["Item"]
        assert canon_item(got) == canon_item(items("first")[0])
    check_both_ways(harness, python_provider, rust_provider)
    rows = harness.ddb.scan(TableName=store_table)["Items"]
    assert [r["V"]["N"] for r in rows] == ["0"]
    assert isinstance(rows[0]["enc"]["B"], bytes) and len(rows[0]["enc"]["B"]) > 32


def test_signed_numbers_beyond_28_digits(harness):
    """Python rounds numbers to 28 significant digits before signing (reference §9.1). A
    Python-written signed 38-digit number verifies in Rust through the documented fallback;
    a Rust-written one does not verify in Python (a known difference)."""
    table = f"interop-{uuid.uuid4().hex[:8]}"
    create_table(harness.ddb, table)
    py = harness.python_client(static_python())
    item = {"pk": {"S": "big"}, "sk": {"N": "1"}, "signed_num": {"N": BIG}, "secret": {"N": BIG}}
    py.put_item(TableName=table, Item=item)
    (got,) = harness.rust_get(table, static_rust(), keys_of([item]))
    assert got["signed_num"] == {"N": BIG}
    # The encrypted copy holds what Python encrypted: the rounded value.
    assert Decimal(got["secret"]["N"]) == Decimal("12345678901234567890123456790000000000")

    item = dict(item, pk={"S": "big-rust"})
    harness.rust_put(table, static_rust(), [item])
    with pytest.raises(SignatureVerificationError):
        py.get_item(TableName=table, Key=keys_of([item])[0], ConsistentRead=True)
