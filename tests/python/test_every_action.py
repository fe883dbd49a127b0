"""Every action of every service, over HTTP with boto3: an IAM user with no policy is
denied (AccessDeniedException, or AccessDenied in the Query protocol of IAM and STS, with
AWS's message form) and nothing changes; the account root gets past authorization.

The list of actions comes from the server's own dispatch tables (`sealdb actions`), so
an action added without an entry here fails `test_every_served_action_has_an_entry`.
"""

import base64
import json
import subprocess
import uuid

import botocore
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import ACCESS_KEY, SECRET_KEY, sealdb_bin

ACCOUNT = "000000000000"

# Actions AWS does not authorize with IAM policies: any authenticated caller may call
# them (AWS: "No permissions are required to perform this operation").
NOT_AUTHORIZED_BY_AWS = {"sts:GetCallerIdentity", "sts:GetSessionToken"}
# Actions AWS refuses to the account root whatever the policies.
REFUSED_TO_ROOT = {"sts:AssumeRole": "Roles may not be assumed by root accounts."}

# Actions AWS authorizes under another action's name: transactions ask for each item
# operation (with dynamodb:EnclosingOperation), PartiQL for its statement's kind.
ASKED_AS = {
    "dynamodb:TransactWriteItems": "dynamodb:DeleteItem",
    "dynamodb:TransactGetItems": "dynamodb:GetItem",
    "dynamodb:ExecuteStatement": "dynamodb:PartiQLDelete",
    "dynamodb:BatchExecuteStatement": "dynamodb:PartiQLSelect",
    "dynamodb:ExecuteTransaction": "dynamodb:PartiQLDelete",
    # KMS's ReEncrypt is two permissions, on the source key and the destination key.
    "kms:ReEncrypt": "kms:ReEncryptFrom",
}

CLIENTS = {"dynamodb": "dynamodb", "kms": "kms", "iam": "iam", "sts": "sts", "cloudtrail": "cloudtrail"}
STREAMS = {"ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"}


def served_actions():
    out = subprocess.run([sealdb_bin(), "actions"], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def b64(data):
    return base64.b64encode(data).decode()


def policy_doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = policy_doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


class Resources:
    """What the calls act on, made by the root before the sweep."""

    def __init__(self, server):
        s = server
        ddb, kms, iam = s.client(), s.client("kms"), s.client("iam")
        self.table = f"every{uuid.uuid4().hex[:6]}"
        ddb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "g", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ddb.put_item(TableName=self.table, Item={"pk": {"S": "a"}, "g": {"S": "x"}, "v": {"S": "original"}})
        table = ddb.describe_table(TableName=self.table)["Table"]
        self.table_arn = table["TableArn"]
        self.stream_arn = table["LatestStreamArn"]
        self.backup_arn = ddb.create_backup(TableName=self.table, BackupName="bak")["BackupDetails"]["BackupArn"]
        streams = s.client("dynamodbstreams")
        self.shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=self.shard,
                                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.policy_text = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                       "Action": "dynamodb:GetItem", "Resource": self.table_arn})
        ddb.put_resource_policy(ResourceArn=self.table_arn, Policy=self.policy_text)

        self.key = kms.create_key()["KeyMetadata"]["KeyId"]
        self.alias = f"alias/every{uuid.uuid4().hex[:6]}"
        kms.create_alias(AliasName=self.alias, TargetKeyId=self.key)
        self.ciphertext = kms.encrypt(KeyId=self.key, Plaintext=b"secret")["CiphertextBlob"]
        self.grant = kms.create_grant(KeyId=self.key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/grantee",
                                      RetiringPrincipal=f"arn:aws:iam::{ACCOUNT}:role/grantee",
                                      Operations=["Decrypt"])["GrantId"]
        self.hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        self.mac = kms.generate_mac(KeyId=self.hmac, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
        self.signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        self.signature = kms.sign(KeyId=self.signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        self.external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        self.key_policy = kms.get_key_policy(KeyId=self.key, PolicyName="default")["Policy"]

        self.user = f"target{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=self.user)
        self.user_key = iam.create_access_key(UserName=self.user)["AccessKey"]["AccessKeyId"]
        iam.create_login_profile(UserName=self.user, Password="An0ther-Passw0rd!")
        iam.put_user_policy(UserName=self.user, PolicyName="inline", PolicyDocument=ALLOW_ALL)
        self.group = f"group{uuid.uuid4().hex[:6]}"
        iam.create_group(GroupName=self.group)
        iam.put_group_policy(GroupName=self.group, PolicyName="inline", PolicyDocument=ALLOW_ALL)
        self.role = f"role{uuid.uuid4().hex[:6]}"
        trust = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "sts:AssumeRole"})
        self.role_arn = iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(RoleName=self.role, PolicyName="inline", PolicyDocument=ALLOW_ALL)
        self.trust = trust
        self.managed = iam.create_policy(PolicyName=f"pol{uuid.uuid4().hex[:6]}",
                                         PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=self.managed, PolicyDocument=ALLOW_ALL)


def requests(r):
    """The request of every action: valid, naming the resources above."""
    key = {"pk": {"S": "a"}}
    item_table = r.table
    new_table = dict(TableName=f"new{uuid.uuid4().hex[:6]}", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    user = r.user
    return {
        # DynamoDB
        "dynamodb:CreateTable": new_table,
        "dynamodb:DescribeTable": dict(TableName=item_table),
        "dynamodb:ListTables": {},
        "dynamodb:DeleteTable": dict(TableName=item_table),
        "dynamodb:UpdateTable": dict(TableName=item_table, BillingMode="PROVISIONED",
                                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}),
        "dynamodb:TagResource": dict(ResourceArn=r.table_arn, Tags=[{"Key": "k", "Value": "v"}]),
        "dynamodb:UntagResource": dict(ResourceArn=r.table_arn, TagKeys=["k"]),
        "dynamodb:ListTagsOfResource": dict(ResourceArn=r.table_arn),
        "dynamodb:DescribeLimits": {},
        "dynamodb:DescribeEndpoints": {},
        "dynamodb:DescribeTimeToLive": dict(TableName=item_table),
        "dynamodb:UpdateTimeToLive": dict(TableName=item_table,
                                          TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}),
        "dynamodb:PutItem": dict(TableName=item_table, Item={"pk": {"S": "b"}}),
        "dynamodb:GetItem": dict(TableName=item_table, Key=key),
        "dynamodb:UpdateItem": dict(TableName=item_table, Key=key, UpdateExpression="SET v = :v",
                                    ExpressionAttributeValues={":v": {"S": "changed"}}),
        "dynamodb:DeleteItem": dict(TableName=item_table, Key=key),
        "dynamodb:Query": dict(TableName=item_table, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "a"}}),
        "dynamodb:Scan": dict(TableName=item_table, IndexName="byg"),
        "dynamodb:BatchGetItem": dict(RequestItems={item_table: {"Keys": [key]}}),
        "dynamodb:BatchWriteItem": dict(RequestItems={item_table: [{"DeleteRequest": {"Key": key}}]}),
        "dynamodb:TransactWriteItems": dict(TransactItems=[{"Delete": {"TableName": item_table, "Key": key}}]),
        "dynamodb:TransactGetItems": dict(TransactItems=[{"Get": {"TableName": item_table, "Key": key}}]),
        "dynamodb:CreateBackup": dict(TableName=item_table, BackupName="nope"),
        "dynamodb:DescribeBackup": dict(BackupArn=r.backup_arn),
        "dynamodb:ListBackups": {},
        "dynamodb:DeleteBackup": dict(BackupArn=r.backup_arn),
        "dynamodb:RestoreTableFromBackup": dict(TargetTableName=f"rest{uuid.uuid4().hex[:6]}",
                                                BackupArn=r.backup_arn),
        "dynamodb:UpdateContinuousBackups": dict(
            TableName=item_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}),
        "dynamodb:DescribeContinuousBackups": dict(TableName=item_table),
        "dynamodb:RestoreTableToPointInTime": dict(SourceTableName=item_table, UseLatestRestorableTime=True,
                                                   TargetTableName=f"pitr{uuid.uuid4().hex[:6]}"),
        "dynamodb:PutResourcePolicy": dict(ResourceArn=r.table_arn, Policy=r.policy_text.replace("GetItem", "Query")),
        "dynamodb:GetResourcePolicy": dict(ResourceArn=r.table_arn),
        "dynamodb:DeleteResourcePolicy": dict(ResourceArn=r.table_arn),
        "dynamodb:ExecuteStatement": dict(Statement=f'DELETE FROM "{item_table}" WHERE pk = \'a\''),
        "dynamodb:BatchExecuteStatement": dict(
            Statements=[{"Statement": f'SELECT * FROM "{item_table}" WHERE pk = \'a\''}]),
        "dynamodb:ExecuteTransaction": dict(
            TransactStatements=[{"Statement": f'DELETE FROM "{item_table}" WHERE pk = \'a\''}]),
        # Global tables: version 2017.11.29, and DescribeTableReplicaAutoScaling.
        "dynamodb:CreateGlobalTable": dict(GlobalTableName=item_table, ReplicationGroup=[{"RegionName": "us-east-1"}]),
        "dynamodb:DescribeGlobalTable": dict(GlobalTableName=item_table),
        "dynamodb:UpdateGlobalTable": dict(GlobalTableName=item_table,
                                           ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}]),
        "dynamodb:ListGlobalTables": {},
        "dynamodb:DescribeGlobalTableSettings": dict(GlobalTableName=item_table),
        "dynamodb:UpdateGlobalTableSettings": dict(GlobalTableName=item_table,
                                                   GlobalTableProvisionedWriteCapacityUnits=1),
        "dynamodb:DescribeTableReplicaAutoScaling": dict(TableName=item_table),
        # DynamoDB Streams
        "dynamodb:ListStreams": dict(TableName=item_table),
        "dynamodb:DescribeStream": dict(StreamArn=r.stream_arn),
        "dynamodb:GetShardIterator": dict(StreamArn=r.stream_arn, ShardId=r.shard,
                                          ShardIteratorType="TRIM_HORIZON"),
        "dynamodb:GetRecords": dict(ShardIterator=r.iterator),
        # KMS
        "kms:CancelKeyDeletion": dict(KeyId=r.key),
        "kms:ConnectCustomKeyStore": dict(CustomKeyStoreId="cks-0123456789abcdef0"),
        "kms:CreateCustomKeyStore": dict(CustomKeyStoreName="not-made", CloudHsmClusterId="cluster-notconfigured",
                                         TrustAnchorCertificate="anchor", KeyStorePassword="password-1"),
        "kms:DeleteCustomKeyStore": dict(CustomKeyStoreId="cks-0123456789abcdef0"),
        "kms:DescribeCustomKeyStores": {},
        "kms:DisconnectCustomKeyStore": dict(CustomKeyStoreId="cks-0123456789abcdef0"),
        "kms:UpdateCustomKeyStore": dict(CustomKeyStoreId="cks-0123456789abcdef0", NewCustomKeyStoreName="x"),
        "kms:CreateAlias": dict(AliasName=f"alias/no{uuid.uuid4().hex[:6]}", TargetKeyId=r.key),
        "kms:CreateGrant": dict(KeyId=r.key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/x",
                                Operations=["Encrypt"]),
        "kms:CreateKey": dict(Description="not made"),
        "kms:Decrypt": dict(CiphertextBlob=r.ciphertext),
        "kms:DeleteAlias": dict(AliasName=r.alias),
        "kms:DeleteImportedKeyMaterial": dict(KeyId=r.external),
        "kms:DescribeKey": dict(KeyId=r.key),
        "kms:DisableKey": dict(KeyId=r.key),
        "kms:DisableKeyRotation": dict(KeyId=r.key),
        "kms:EnableKey": dict(KeyId=r.external),
        "kms:EnableKeyRotation": dict(KeyId=r.key),
        "kms:Encrypt": dict(KeyId=r.key, Plaintext=b"x"),
        "kms:GenerateDataKey": dict(KeyId=r.key, KeySpec="AES_256"),
        "kms:GenerateDataKeyPair": dict(KeyId=r.key, KeyPairSpec="ECC_NIST_P256"),
        "kms:GenerateDataKeyPairWithoutPlaintext": dict(KeyId=r.key, KeyPairSpec="ECC_NIST_P256"),
        "kms:GenerateDataKeyWithoutPlaintext": dict(KeyId=r.key, NumberOfBytes=16),
        "kms:GenerateMac": dict(KeyId=r.hmac, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
        "kms:GenerateRandom": dict(NumberOfBytes=16),
        "kms:GetKeyPolicy": dict(KeyId=r.key, PolicyName="default"),
        "kms:GetKeyRotationStatus": dict(KeyId=r.key),
        "kms:GetParametersForImport": dict(KeyId=r.external, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048"),
        "kms:GetPublicKey": dict(KeyId=r.signer),
        "kms:ImportKeyMaterial": dict(KeyId=r.external, ImportToken=b"t", EncryptedKeyMaterial=b"m",
                                      ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"),
        "kms:ListAliases": {},
        "kms:ListGrants": dict(KeyId=r.key),
        "kms:ListKeyPolicies": dict(KeyId=r.key),
        "kms:ListKeyRotations": dict(KeyId=r.key),
        "kms:ListKeys": {},
        "kms:ListResourceTags": dict(KeyId=r.key),
        "kms:ListRetirableGrants": dict(RetiringPrincipal=f"arn:aws:iam::{ACCOUNT}:role/grantee"),
        "kms:PutKeyPolicy": dict(KeyId=r.key, PolicyName="default", Policy=r.key_policy),
        "kms:ReEncrypt": dict(CiphertextBlob=r.ciphertext, DestinationKeyId=r.key),
        "kms:ReplicateKey": dict(KeyId=r.key, ReplicaRegion="us-west-2"),
        "kms:RetireGrant": dict(KeyId=r.key, GrantId=r.grant),
        "kms:RevokeGrant": dict(KeyId=r.key, GrantId=r.grant),
        "kms:RotateKeyOnDemand": dict(KeyId=r.key),
        "kms:ScheduleKeyDeletion": dict(KeyId=r.key, PendingWindowInDays=7),
        "kms:Sign": dict(KeyId=r.signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
        "kms:TagResource": dict(KeyId=r.key, Tags=[{"TagKey": "k", "TagValue": "v"}]),
        "kms:UntagResource": dict(KeyId=r.key, TagKeys=["k"]),
        "kms:UpdateAlias": dict(AliasName=r.alias, TargetKeyId=r.hmac),
        "kms:UpdateKeyDescription": dict(KeyId=r.key, Description="changed"),
        "kms:UpdatePrimaryRegion": dict(KeyId=r.key, PrimaryRegion="us-west-2"),
        "kms:Verify": dict(KeyId=r.signer, Message=b"m", Signature=r.signature, SigningAlgorithm="ECDSA_SHA_256"),
        "kms:VerifyMac": dict(KeyId=r.hmac, Message=b"m", Mac=r.mac, MacAlgorithm="HMAC_SHA_256"),
        # IAM
        "iam:CreateUser": dict(UserName=f"new{uuid.uuid4().hex[:6]}"),
        "iam:GetUser": dict(UserName=user),
        "iam:ListUsers": {},
        "iam:UpdateUser": dict(UserName=user, NewPath="/changed/"),
        "iam:DeleteUser": dict(UserName=user),
        "iam:CreateAccessKey": dict(UserName=user),
        "iam:ListAccessKeys": dict(UserName=user),
        "iam:UpdateAccessKey": dict(UserName=user, AccessKeyId=r.user_key, Status="Inactive"),
        "iam:DeleteAccessKey": dict(UserName=user, AccessKeyId=r.user_key),
        "iam:GetAccessKeyLastUsed": dict(AccessKeyId=r.user_key),
        "iam:CreateLoginProfile": dict(UserName=user, Password="Yet-An0ther-Passw0rd!"),
        "iam:GetLoginProfile": dict(UserName=user),
        "iam:UpdateLoginProfile": dict(UserName=user, Password="Changed-Passw0rd!"),
        "iam:DeleteLoginProfile": dict(UserName=user),
        "iam:ChangePassword": dict(OldPassword="An0ther-Passw0rd!", NewPassword="Brand-New-Passw0rd!"),
        "iam:TagUser": dict(UserName=user, Tags=[{"Key": "k", "Value": "v"}]),
        "iam:UntagUser": dict(UserName=user, TagKeys=["k"]),
        "iam:ListUserTags": dict(UserName=user),
        "iam:CreateGroup": dict(GroupName=f"new{uuid.uuid4().hex[:6]}"),
        "iam:GetGroup": dict(GroupName=r.group),
        "iam:ListGroups": {},
        "iam:DeleteGroup": dict(GroupName=r.group),
        "iam:AddUserToGroup": dict(GroupName=r.group, UserName=user),
        "iam:RemoveUserFromGroup": dict(GroupName=r.group, UserName=user),
        "iam:ListGroupsForUser": dict(UserName=user),
        "iam:CreateRole": dict(RoleName=f"new{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=r.trust),
        "iam:GetRole": dict(RoleName=r.role),
        "iam:ListRoles": {},
        "iam:UpdateRole": dict(RoleName=r.role, Description="changed"),
        "iam:UpdateAssumeRolePolicy": dict(RoleName=r.role, PolicyDocument=r.trust),
        "iam:DeleteRole": dict(RoleName=r.role),
        "iam:TagRole": dict(RoleName=r.role, Tags=[{"Key": "k", "Value": "v"}]),
        "iam:UntagRole": dict(RoleName=r.role, TagKeys=["k"]),
        "iam:ListRoleTags": dict(RoleName=r.role),
        "iam:CreatePolicy": dict(PolicyName=f"new{uuid.uuid4().hex[:6]}", PolicyDocument=ALLOW_ALL),
        "iam:GetPolicy": dict(PolicyArn=r.managed),
        "iam:DeletePolicy": dict(PolicyArn=r.managed),
        "iam:ListPolicies": {},
        "iam:CreatePolicyVersion": dict(PolicyArn=r.managed, PolicyDocument=ALLOW_ALL),
        "iam:GetPolicyVersion": dict(PolicyArn=r.managed, VersionId="v1"),
        "iam:ListPolicyVersions": dict(PolicyArn=r.managed),
        "iam:DeletePolicyVersion": dict(PolicyArn=r.managed, VersionId="v1"),
        "iam:SetDefaultPolicyVersion": dict(PolicyArn=r.managed, VersionId="v2"),
        "iam:AttachUserPolicy": dict(UserName=user, PolicyArn=r.managed),
        "iam:DetachUserPolicy": dict(UserName=user, PolicyArn=r.managed),
        "iam:ListAttachedUserPolicies": dict(UserName=user),
        "iam:AttachGroupPolicy": dict(GroupName=r.group, PolicyArn=r.managed),
        "iam:DetachGroupPolicy": dict(GroupName=r.group, PolicyArn=r.managed),
        "iam:ListAttachedGroupPolicies": dict(GroupName=r.group),
        "iam:AttachRolePolicy": dict(RoleName=r.role, PolicyArn=r.managed),
        "iam:DetachRolePolicy": dict(RoleName=r.role, PolicyArn=r.managed),
        "iam:ListAttachedRolePolicies": dict(RoleName=r.role),
        "iam:PutUserPolicy": dict(UserName=user, PolicyName="other", PolicyDocument=ALLOW_ALL),
        "iam:GetUserPolicy": dict(UserName=user, PolicyName="inline"),
        "iam:DeleteUserPolicy": dict(UserName=user, PolicyName="inline"),
        "iam:ListUserPolicies": dict(UserName=user),
        "iam:PutGroupPolicy": dict(GroupName=r.group, PolicyName="other", PolicyDocument=ALLOW_ALL),
        "iam:GetGroupPolicy": dict(GroupName=r.group, PolicyName="inline"),
        "iam:DeleteGroupPolicy": dict(GroupName=r.group, PolicyName="inline"),
        "iam:ListGroupPolicies": dict(GroupName=r.group),
        "iam:PutRolePolicy": dict(RoleName=r.role, PolicyName="other", PolicyDocument=ALLOW_ALL),
        "iam:GetRolePolicy": dict(RoleName=r.role, PolicyName="inline"),
        "iam:DeleteRolePolicy": dict(RoleName=r.role, PolicyName="inline"),
        "iam:ListRolePolicies": dict(RoleName=r.role),
        "iam:SimulatePrincipalPolicy": dict(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{user}",
                                            ActionNames=["s3:GetObject"]),
        "iam:SimulateCustomPolicy": dict(PolicyInputList=[ALLOW_ALL], ActionNames=["s3:GetObject"]),
        # STS
        "sts:GetCallerIdentity": {},
        "sts:AssumeRole": dict(RoleArn=r.role_arn, RoleSessionName="sweep"),
        "sts:GetSessionToken": {},
        # CloudTrail
        "cloudtrail:LookupEvents": dict(MaxResults=1),
    }


def call(server, action, params, key, secret):
    service, name = action.split(":")
    client_name = "dynamodbstreams" if service == "dynamodb" and name in STREAMS else CLIENTS[service]
    client = server.client(client_name, key=key, secret=secret)
    return getattr(client, botocore.xform_name(name))(**params)


def outcome(server, action, params, key, secret):
    """(error code, message, HTTP status), or None for a success. BatchExecuteStatement
    answers each statement apart: its first statement's error counts (AWS codes it
    `AccessDenied` inside a 200 response)."""
    try:
        reply = call(server, action, params, key, secret)
        if action == "dynamodb:BatchExecuteStatement" and "Error" in reply["Responses"][0]:
            err = reply["Responses"][0]["Error"]
            code = "AccessDeniedException" if err["Code"] == "AccessDenied" else err["Code"]
            return code, err.get("Message", ""), 400
        return None
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        return err["Code"], err.get("Message", ""), e.response["ResponseMetadata"]["HTTPStatusCode"]


def snapshot(server, r):
    """Everything the calls could change, read by the root."""
    ddb, kms, iam = server.client(), server.client("kms"), server.client("iam")
    state = {}
    state["tables"] = ddb.list_tables()["TableNames"]
    for t in state["tables"]:
        d = ddb.describe_table(TableName=t)["Table"]
        state[f"table {t}"] = {k: d.get(k) for k in ("TableStatus", "BillingModeSummary", "SSEDescription",
                                                     "StreamSpecification", "GlobalSecondaryIndexes", "ItemCount")}
        state[f"items {t}"] = sorted(json.dumps(i, sort_keys=True)
                                     for i in ddb.scan(TableName=t, ConsistentRead=True)["Items"])
        state[f"ttl {t}"] = ddb.describe_time_to_live(TableName=t)["TimeToLiveDescription"]
        state[f"tags {t}"] = ddb.list_tags_of_resource(ResourceArn=d["TableArn"])["Tags"]
        state[f"pitr {t}"] = ddb.describe_continuous_backups(TableName=t)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    state["backups"] = sorted(b["BackupArn"] for b in ddb.list_backups()["BackupSummaries"])
    state["resource policy"] = ddb.get_resource_policy(ResourceArn=r.table_arn)["Policy"]
    keys = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    state["keys"] = sorted(keys)
    for k in keys:
        m = kms.describe_key(KeyId=k)["KeyMetadata"]
        state[f"key {k}"] = {f: m.get(f) for f in ("KeyState", "Description", "MultiRegion", "DeletionDate")}
        state[f"key tags {k}"] = kms.list_resource_tags(KeyId=k)["Tags"]
        state[f"key policy {k}"] = kms.get_key_policy(KeyId=k, PolicyName="default")["Policy"]
        state[f"grants {k}"] = sorted(g["GrantId"] for g in kms.list_grants(KeyId=k)["Grants"])
        if m["KeySpec"] == "SYMMETRIC_DEFAULT" and m["Origin"] == "AWS_KMS":
            state[f"rotation {k}"] = kms.get_key_rotation_status(KeyId=k)["KeyRotationEnabled"]
            state[f"rotations {k}"] = len(kms.list_key_rotations(KeyId=k)["Rotations"])
    state["aliases"] = sorted((a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"])
    users = iam.list_users()["Users"]
    state["users"] = sorted((u["UserName"], u["Path"]) for u in users)
    for u in users:
        n = u["UserName"]
        state[f"user {n}"] = (
            sorted((k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=n)["AccessKeyMetadata"]),
            iam.list_user_policies(UserName=n)["PolicyNames"],
            iam.list_attached_user_policies(UserName=n)["AttachedPolicies"],
            iam.list_groups_for_user(UserName=n)["Groups"],
            iam.list_user_tags(UserName=n)["Tags"],
        )
        try:
            state[f"login {n}"] = iam.get_login_profile(UserName=n)["LoginProfile"]["UserName"]
        except iam.exceptions.NoSuchEntityException:
            state[f"login {n}"] = None
    for g in iam.list_groups()["Groups"]:
        n = g["GroupName"]
        state[f"group {n}"] = (iam.list_group_policies(GroupName=n)["PolicyNames"],
                               iam.list_attached_group_policies(GroupName=n)["AttachedPolicies"])
    for role in iam.list_roles()["Roles"]:
        n = role["RoleName"]
        full = iam.get_role(RoleName=n)["Role"]
        state[f"role {n}"] = (full.get("Description"), full["AssumeRolePolicyDocument"],
                              iam.list_role_policies(RoleName=n)["PolicyNames"],
                              iam.list_attached_role_policies(RoleName=n)["AttachedPolicies"],
                              iam.list_role_tags(RoleName=n)["Tags"])
    for p in iam.list_policies(Scope="Local")["Policies"]:
        state[f"policy {p['Arn']}"] = (p["DefaultVersionId"], sorted(
            v["VersionId"] for v in iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]))
    return state


@pytest.fixture
def sweep_server(fresh_server):
    return fresh_server.start()


def test_every_served_action_has_an_entry(sweep_server):
    r = Resources(sweep_server)
    served = set(served_actions())
    table = set(requests(r))
    assert served - table == set(), "served actions without an entry in this test"
    assert table - served == set(), "entries for actions the server does not serve"


def test_no_policy_is_denied_everything_and_the_root_gets_past_authorization(sweep_server):
    server = sweep_server
    r = Resources(server)
    iam = server.client("iam")
    name = f"nobody{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    creds = iam.create_access_key(UserName=name)["AccessKey"]
    key, secret = creds["AccessKeyId"], creds["SecretAccessKey"]
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    actions = served_actions()
    reqs = requests(r)

    before = snapshot(server, r)
    wrong = []
    for action in actions:
        got = outcome(server, action, reqs[action], key, secret)
        if action in NOT_AUTHORIZED_BY_AWS:
            if got is not None:
                wrong.append((action, got))
            continue
        if got is None:
            wrong.append((action, "allowed to a user with no policy"))
            continue
        code, message, status = got
        service = action.split(":")[0]
        want_code = "AccessDenied" if service in ("iam", "sts") else "AccessDeniedException"
        asked = ASKED_AS.get(action, action)
        # STS's AssumeRole text names the role and gives no reason, as AWS's does.
        reason = "" if action == "sts:AssumeRole" else \
            f" because no identity-based policy allows the {asked} action"
        ok = (code, status) in ((want_code, 403), (want_code, 400)) \
            and message.startswith(f"User: {user_arn} is not authorized to perform: {asked}") \
            and message.endswith(reason)
        if not ok:
            wrong.append((action, got))
    assert wrong == [], "\n".join(map(repr, wrong))
    after = snapshot(server, r)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}
    assert after == before

    wrong = []
    for action in actions:
        got = outcome(server, action, reqs[action], ACCESS_KEY, SECRET_KEY)
        if action in REFUSED_TO_ROOT:
            if got is None or got[1] != REFUSED_TO_ROOT[action]:
                wrong.append((action, got))
        elif got is not None and got[0] in ("AccessDenied", "AccessDeniedException"):
            wrong.append((action, got))
    assert wrong == [], "\n".join(map(repr, wrong))
