"""The key service through the aws CLI (the walkthrough of issue 5) and boto3."""

import base64
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import REGION


def kms_json(aws_cli, *args):
    return aws_cli("kms", *args)


def test_cli_walkthrough(server, aws_cli, tmp_path):
    key = kms_json(aws_cli, "create-key", "--description", "walkthrough")["KeyMetadata"]
    kid = key["KeyId"]
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
    assert key["Arn"] == f"arn:aws:kms:{REGION}:000000000000:key/{kid}"
    aws_cli("kms", "create-alias", "--alias-name", "alias/walk", "--target-key-id", kid)
    (tmp_path / "plain.txt").write_bytes(b"attack at dawn")
    ct = kms_json(aws_cli, "encrypt", "--key-id", "alias/walk", "--plaintext", f"fileb://{tmp_path / 'plain.txt'}",
                  "--encryption-context", "purpose=demo")["CiphertextBlob"]
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(ct))
    out = kms_json(aws_cli, "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}", "--encryption-context", "purpose=demo")
    assert base64.b64decode(out["Plaintext"]) == b"attack at dawn"
    assert out["KeyId"].endswith(kid)
    bad = aws_cli("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}", "--encryption-context", "purpose=other", check=False)
    assert "InvalidCiphertextException" in bad.stderr

    aws_cli("kms", "disable-key", "--key-id", kid)
    disabled = aws_cli("kms", "encrypt", "--key-id", kid, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}", check=False)
    assert "DisabledException" in disabled.stderr and "is disabled." in disabled.stderr
    aws_cli("kms", "enable-key", "--key-id", kid)

    aws_cli("kms", "rotate-key-on-demand", "--key-id", kid)
    out = kms_json(aws_cli, "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}", "--encryption-context", "purpose=demo")
    assert base64.b64decode(out["Plaintext"]) == b"attack at dawn"
    assert len(kms_json(aws_cli, "list-key-rotations", "--key-id", kid)["Rotations"]) == 1

    sched = kms_json(aws_cli, "schedule-key-deletion", "--key-id", kid, "--pending-window-in-days", "7")
    assert sched["KeyState"] == "PendingDeletion"
    pending = aws_cli("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}", "--encryption-context", "purpose=demo", check=False)
    assert "KMSInvalidStateException" in pending.stderr
    aws_cli("kms", "cancel-key-deletion", "--key-id", kid)
    assert kms_json(aws_cli, "describe-key", "--key-id", kid)["KeyMetadata"]["KeyState"] == "Disabled"
    aws_cli("kms", "enable-key", "--key-id", kid)

    policy = kms_json(aws_cli, "get-key-policy", "--key-id", kid, "--policy-name", "default")["Policy"]
    assert json.loads(policy)["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::000000000000:root"


def make_user(server, name):
    p = subprocess.run([__import__("conftest").sealdb_bin(), "credentials", "create", "--name", name,
                        "--data-dir", str(server.data_dir)], capture_output=True, text=True, check=True)
    lines = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    return lines["AWS_ACCESS_KEY_ID"], lines["AWS_SECRET_ACCESS_KEY"]


def test_grants_and_a_denying_policy(fresh_server):
    s = fresh_server.start()
    s.stop()
    bob = make_user(s, "bob")
    s.start()
    admin = s.client("kms")
    kms_bob = s.client("kms", key=bob[0], secret=bob[1])
    only_admin = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:root"}}},
    ]}
    kid = admin.create_key(Policy=json.dumps(only_admin))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms_bob.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    grant = admin.create_grant(KeyId=kid, GranteePrincipal="arn:aws:iam::000000000000:user/bob",
                               Operations=["GenerateDataKey", "Decrypt"])
    dk = kms_bob.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    assert kms_bob.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    admin.revoke_grant(KeyId=kid, GrantId=grant["GrantId"])
    with pytest.raises(ClientError) as e:
        kms_bob.decrypt(CiphertextBlob=dk["CiphertextBlob"])
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"

    # A key policy that denies bob, on a key the account may otherwise use.
    # The default key policy lets IAM decide: bob may use kid2 through his own IAM policy.
    meta2 = admin.create_key()["KeyMetadata"]
    kid2 = meta2["KeyId"]
    with pytest.raises(ClientError) as e:
        kms_bob.encrypt(KeyId=kid2, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    s.client("iam").put_user_policy(UserName="bob", PolicyName="kid2", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": meta2["Arn"]}]}))
    ct = kms_bob.encrypt(KeyId=kid2, Plaintext=b"x")["CiphertextBlob"]
    deny = json.loads(admin.get_key_policy(KeyId=kid2, PolicyName="default")["Policy"])
    deny["Statement"].append({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"},
                              "Action": "kms:Decrypt", "Resource": "*"})
    admin.put_key_policy(KeyId=kid2, PolicyName="default", Policy=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        kms_bob.decrypt(CiphertextBlob=ct)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert admin.decrypt(CiphertextBlob=ct)["Plaintext"] == b"x"
    s.stop()
    verify = subprocess.run([__import__("conftest").sealdb_bin(), "audit", "verify", "--data-dir", str(s.data_dir)],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and "audit log intact" in verify.stdout


def test_keys_survive_restart_and_store_has_no_material(fresh_server):
    s = fresh_server.start()
    kms = s.client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    s.stop()
    raw = (s.data_dir / "keystore.db").read_bytes()
    assert dk["Plaintext"][:16] not in raw
    s.start()
    kms = s.client("kms")
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"


def test_cli_import_key_material(server, aws_cli, tmp_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    kid = aws_cli("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    assert aws_cli("kms", "describe-key", "--key-id", kid)["KeyMetadata"]["KeyState"] == "PendingImport"
    params = aws_cli("kms", "get-parameters-for-import", "--key-id", kid,
                     "--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
    public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
    material = bytes(range(32))
    wrapped = public.encrypt(material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    (tmp_path / "token.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    (tmp_path / "material.bin").write_bytes(wrapped)
    aws_cli("kms", "import-key-material", "--key-id", kid,
            "--import-token", f"fileb://{tmp_path / 'token.bin'}",
            "--encrypted-key-material", f"fileb://{tmp_path / 'material.bin'}",
            "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert aws_cli("kms", "describe-key", "--key-id", kid)["KeyMetadata"]["KeyState"] == "Enabled"
    (tmp_path / "p.txt").write_bytes(b"imported")
    ct = aws_cli("kms", "encrypt", "--key-id", kid, "--plaintext", f"fileb://{tmp_path / 'p.txt'}")["CiphertextBlob"]
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(ct))
    aws_cli("kms", "delete-imported-key-material", "--key-id", kid)
    gone = aws_cli("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}", check=False)
    assert "KMSInvalidStateException" in gone.stderr


def test_asymmetric_with_boto3(server):
    kms = server.client("kms")
    kid = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    sig = kms.sign(KeyId=kid, Message=b"msg", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    assert kms.verify(KeyId=kid, Message=b"msg", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=kid)["PublicKey"])
    public.verify(sig, b"msg", ec.ECDSA(hashes.SHA256()))  # raises if the signature is wrong
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=kid, Message=b"other", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
    assert e.value.response["Error"]["Code"] == "KMSInvalidSignatureException"


def test_grant_delegation_cannot_widen_and_lockout_is_refused(fresh_server):
    s = fresh_server.start()
    s.stop()
    alice, bob = make_user(s, "alice"), make_user(s, "bob")
    s.start()
    admin = s.client("kms")
    kms_alice = s.client("kms", key=alice[0], secret=alice[1])
    root_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:root"}}}]}
    kid = admin.create_key(Policy=json.dumps(root_only))["KeyMetadata"]["KeyId"]
    admin.create_grant(KeyId=kid, GranteePrincipal="arn:aws:iam::000000000000:user/alice",
                       Operations=["CreateGrant", "Decrypt"],
                       Constraints={"EncryptionContextSubset": {"app": "x"}})
    bob_arn = "arn:aws:iam::000000000000:user/bob"
    for ops, constraints in ((["Decrypt", "Encrypt"], {"EncryptionContextSubset": {"app": "x"}}),
                             (["Decrypt"], None)):
        kwargs = {"Constraints": constraints} if constraints else {}
        with pytest.raises(ClientError) as e:
            kms_alice.create_grant(KeyId=kid, GranteePrincipal=bob_arn, Operations=ops, **kwargs)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    kms_alice.create_grant(KeyId=kid, GranteePrincipal=bob_arn, Operations=["Decrypt"],
                           Constraints={"EncryptionContextEquals": {"app": "x"}})
    grants = admin.list_grants(KeyId=kid)["Grants"]
    assert sorted(g["GranteePrincipal"] for g in grants) == ["arn:aws:iam::000000000000:user/alice", bob_arn]

    # A policy that would lock the caller (root) out is refused, and the key keeps its policy.
    only_bob = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": bob_arn}, "Action": "kms:*", "Resource": "*"}]}
    with pytest.raises(ClientError) as e:
        admin.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(only_bob))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert e.value.response["Error"]["Message"] == \
        "The new key policy will not allow you to update the key policy in the future."
    assert json.loads(admin.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == root_only
    with pytest.raises(ClientError) as e:
        admin.create_key(Policy=json.dumps(only_bob))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    admin.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(only_bob),
                         BypassPolicyLockoutSafetyCheck=True)
    with pytest.raises(ClientError) as e:
        admin.get_key_policy(KeyId=kid, PolicyName="default")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    kms_bob = s.client("kms", key=bob[0], secret=bob[1])
    assert json.loads(kms_bob.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == only_bob
