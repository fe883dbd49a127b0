"""KMS authorization as IAM users see it, through boto3 with real SigV4: which policy an
explicit deny came from (AWS's wording), and the condition keys of CreateKey, which IAM
policies alone authorize."""

import uuid

import botocore.exceptions
import pytest
from conftest import policy

ACCOUNT = "000000000000"
REGION = "us-east-1"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"].get("Message", "")


def new_user(server, statements):
    """An IAM user with an inline policy of `statements`, and its kms client."""
    iam = server.client("iam")
    name = f"kmsu{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client("kms", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def key_arn(kid):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}"


def test_an_explicit_deny_names_the_policy_it_came_from(server):
    admin = server.client("kms")
    # Identity-based: the key policy delegates to IAM, whose policy denies Encrypt.
    kid = admin.create_key(Description="deny in IAM")["KeyMetadata"]["KeyId"]
    user, kms = new_user(server, [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": key_arn(kid)},
    ])
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyId"] == kid
    code, message = error_of(kms.encrypt, KeyId=kid, Plaintext=b"x")
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: kms:Encrypt "
        f"on resource: {key_arn(kid)} with an explicit deny in an identity-based policy")

    # Resource-based: the key policy itself denies this user, whose IAM policy allows all.
    user2, kms2 = new_user(server, [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    key_policy = policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoEncryptForUser2", "Effect": "Deny",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user2}"}, "Action": "kms:Encrypt", "Resource": "*"},
    )
    kid2 = admin.create_key(Description="deny in key policy", Policy=key_policy)["KeyMetadata"]["KeyId"]
    assert kms2.describe_key(KeyId=kid2)["KeyMetadata"]["KeyId"] == kid2
    code, message = error_of(kms2.encrypt, KeyId=kid2, Plaintext=b"x")
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user2} is not authorized to perform: kms:Encrypt "
        f"on resource: {key_arn(kid2)} with an explicit deny in a resource-based policy")
    # The first user is denied nothing by the second key's policy.
    assert kms.encrypt(KeyId=kid2, Plaintext=b"x")["KeyId"] == key_arn(kid2)


def key_count(admin):
    return len(admin.list_keys(Limit=1000)["Keys"])


def test_create_key_conditions_on_key_spec(server):
    admin = server.client("kms")
    user, kms = new_user(server, [{
        "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
    }])
    # The default value counts: a request without KeySpec is SYMMETRIC_DEFAULT.
    assert kms.create_key()["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    before = key_count(admin)
    code, message = error_of(kms.create_key, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: kms:CreateKey "
        "on resource: * because no identity-based policy allows the kms:CreateKey action")
    assert key_count(admin) == before


def test_create_key_conditions_on_usage_origin_and_multi_region(server):
    _, kms = new_user(server, [{
        "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT", "kms:KeyOrigin": "AWS_KMS",
                                       "kms:CallerAccount": ACCOUNT},
                      "Bool": {"kms:MultiRegion": "false"}},
    }])
    kms.create_key()
    assert error_of(kms.create_key, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")[0] == "AccessDeniedException"
    assert error_of(kms.create_key, Origin="EXTERNAL")[0] == "AccessDeniedException"
    assert error_of(kms.create_key, MultiRegion=True)[0] == "AccessDeniedException"

    # kms:MultiRegionKeyType is PRIMARY for a new multi-Region key.
    _, mrk = new_user(server, [{
        "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
        "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}},
    }])
    assert mrk.create_key(MultiRegion=True)["KeyMetadata"]["MultiRegion"] is True
    assert error_of(mrk.create_key)[0] == "AccessDeniedException"


def test_create_key_conditions_on_request_tags(server):
    admin = server.client("kms")
    _, kms = new_user(server, [{
        "Effect": "Allow", "Action": ["kms:CreateKey", "kms:TagResource"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestTag/team": "db"},
                      "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
    }])
    made = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "db"}, {"TagKey": "cost", "TagValue": "1"}])
    kid = made["KeyMetadata"]["KeyId"]
    assert {t["TagKey"]: t["TagValue"] for t in admin.list_resource_tags(KeyId=kid)["Tags"]} == {"team": "db", "cost": "1"}
    before = key_count(admin)
    # Another value, a tag key outside the list, and no tag at all are each refused.
    assert error_of(kms.create_key, Tags=[{"TagKey": "team", "TagValue": "web"}])[0] == "AccessDeniedException"
    assert error_of(kms.create_key, Tags=[{"TagKey": "team", "TagValue": "db"},
                                          {"TagKey": "owner", "TagValue": "x"}])[0] == "AccessDeniedException"
    assert error_of(kms.create_key)[0] == "AccessDeniedException"
    assert key_count(admin) == before


def test_tag_and_untag_resource_conditions_on_request_tags(server):
    """TagResource carries aws:RequestTag/* and aws:TagKeys, UntagResource aws:TagKeys (the
    keys removed), as AWS documents, so a policy can say which tags a user may set."""
    admin = server.client("kms")
    kid = admin.create_key(Description="tag conditions")["KeyMetadata"]["KeyId"]
    user, kms = new_user(server, [
        {"Effect": "Allow", "Action": "kms:TagResource", "Resource": key_arn(kid),
         "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
        {"Effect": "Allow", "Action": "kms:UntagResource", "Resource": key_arn(kid),
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
    ])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "team", "TagValue": "blue"}])
    for tags in ([{"TagKey": "team", "TagValue": "red"}],
                 [{"TagKey": "team", "TagValue": "blue"}, {"TagKey": "cost", "TagValue": "1"}]):
        code, message = error_of(kms.tag_resource, KeyId=kid, Tags=tags)
        assert code == "AccessDeniedException", message
        assert f"user/{user} is not authorized to perform: kms:TagResource" in message
    admin.tag_resource(KeyId=kid, Tags=[{"TagKey": "cost", "TagValue": "1"}])
    code, message = error_of(kms.untag_resource, KeyId=kid, TagKeys=["cost"])
    assert code == "AccessDeniedException", message
    assert sorted(t["TagKey"] for t in admin.list_resource_tags(KeyId=kid)["Tags"]) == ["cost", "team"]
    kms.untag_resource(KeyId=kid, TagKeys=["team"])
    assert admin.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "cost", "TagValue": "1"}]
