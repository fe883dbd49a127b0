#!/usr/bin/env python3
"""Times the Python DynamoDB Encryption Client (dynamodb-encryption-sdk 3.3.0) on the item
that crates/dynamodb-encryption/benches/item.rs benchmarks: encrypt+sign and
verify+decrypt of one ~1 KB item with 10 attributes, all ENCRYPT_AND_SIGN except the
partition and sort keys (SIGN_ONLY), for a Static provider (AES-256 + HMAC-SHA256) and a
Wrapped provider (AESWrap + HMAC-SHA256).

Run with the test venv:  "$(scripts/python-env)/bin/python" scripts/bench-ddbec-python.py
Options: --number N (calls per timing, default 2000), --repeat R (timings, default 5).
Prints microseconds per call, the best of the R timings.
"""

import argparse
import hashlib
import timeit

from dynamodb_encryption_sdk.delegated_keys.jce import JceNameLocalDelegatedKey
from dynamodb_encryption_sdk.encrypted import CryptoConfig
from dynamodb_encryption_sdk.encrypted.item import decrypt_dynamodb_item, encrypt_dynamodb_item
from dynamodb_encryption_sdk.identifiers import CryptoAction, EncryptionKeyType, KeyEncodingType
from dynamodb_encryption_sdk.internal.formatting.serialize.attribute import serialize_attribute
from dynamodb_encryption_sdk.material_providers.static import StaticCryptographicMaterialsProvider
from dynamodb_encryption_sdk.material_providers.wrapped import WrappedCryptographicMaterialsProvider
from dynamodb_encryption_sdk.materials.raw import RawDecryptionMaterials, RawEncryptionMaterials
from dynamodb_encryption_sdk.structures import AttributeActions, EncryptionContext

TABLE = "BenchTable"
PARTITION_KEY = "id"
SORT_KEY = "created"


def item():
    """The benchmark item, in DynamoDB JSON; the same as the Rust bench's."""
    history = []
    for i in range(8):
        history.append({"N": str(1_700_000_000 + i * 86_400)})
        history.append({"S": "event-%02d" % i})
    return {
        PARTITION_KEY: {"S": "customer-000042"},
        SORT_KEY: {"N": "1733011200"},
        "name": {"S": ("Ada Lovelace, Countess of Lovelace; " * 3)[:100]},
        "address": {"S": ("12 St James's Square, London SW1Y 4JH, United Kingdom. " * 2)[:100]},
        "balance": {"N": "12345.67"},
        "photo": {"B": bytes(i * 7 % 256 for i in range(300))},
        "tags": {"SS": ["alpha", "beta", "delta", "epsilon", "eta", "gamma", "theta", "zeta"]},
        "profile": {
            "M": {
                "city": {"S": "Lisbon"},
                "country": {"S": "PT"},
                "zip": {"N": "1100148"},
                "verified": {"BOOL": True},
                "tier": {"S": "gold"},
            }
        },
        "history": {"L": history},
        "active": {"BOOL": True},
    }


def symmetric(key, algorithm):
    return JceNameLocalDelegatedKey(
        key=key, algorithm=algorithm, key_type=EncryptionKeyType.SYMMETRIC, key_encoding=KeyEncodingType.RAW
    )


def providers():
    aes = symmetric(b"\x11" * 32, "AES")
    mac = symmetric(b"\x22" * 32, "HmacSHA256")
    static = StaticCryptographicMaterialsProvider(
        encryption_materials=RawEncryptionMaterials(signing_key=mac, encryption_key=aes),
        decryption_materials=RawDecryptionMaterials(verification_key=mac, decryption_key=aes),
    )
    wrap = symmetric(b"\x33" * 32, "AES")
    wrapped_mac = symmetric(b"\x44" * 32, "HmacSHA256")
    wrapped = WrappedCryptographicMaterialsProvider(signing_key=wrapped_mac, wrapping_key=wrap, unwrapping_key=wrap)
    return [("static", static), ("wrapped", wrapped)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    plain = item()  # string set members in sorted order, as decryption returns them
    # The same size and fingerprint as the Rust bench prints: the same item.
    digest = hashlib.sha256()
    size = 0
    for name in sorted(plain):
        data = serialize_attribute(plain[name])
        size += len(name.encode()) + len(data)
        digest.update(name.encode())
        digest.update(data)
    print(
        "item: %d attributes, %d bytes (names + serialized values), sha256 %s"
        % (len(plain), size, digest.hexdigest()[:16])
    )

    context = EncryptionContext(table_name=TABLE, partition_key_name=PARTITION_KEY, sort_key_name=SORT_KEY)
    actions = AttributeActions(default_action=CryptoAction.ENCRYPT_AND_SIGN)
    actions.set_index_keys(PARTITION_KEY, SORT_KEY)

    for name, provider in providers():
        config = CryptoConfig(materials_provider=provider, encryption_context=context, attribute_actions=actions)
        stored = encrypt_dynamodb_item(plain, config)
        # decrypt_dynamodb_item pops the two reserved attributes from its argument, so each
        # call gets a shallow copy (a 12-key dict copy: well under a microsecond).
        assert decrypt_dynamodb_item(stored.copy(), config) == plain
        assert stored["name"].keys() == {"B"} and stored[PARTITION_KEY] == plain[PARTITION_KEY]
        for label, call in [
            ("encrypt_sign", lambda: encrypt_dynamodb_item(plain, config)),
            ("verify_decrypt", lambda: decrypt_dynamodb_item(stored.copy(), config)),
        ]:
            best = min(timeit.repeat(call, number=args.number, repeat=args.repeat)) / args.number
            print("python %s/%s: %.1f us/op" % (label, name, best * 1e6), flush=True)


if __name__ == "__main__":
    main()
