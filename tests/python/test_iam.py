"""IAM and STS over the Query protocol with boto3 and the aws CLI: entities, AWS's errors,
and who may do what (no policy, allowed, explicit deny, through a group, through a role
session, inactive key, deleted user, tampered session token)."""

import time
import uuid

import botocore.exceptions
import pytest
from conftest import policy


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kwargs)
    err = e.value.response["Error"]
    return err["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(server):
    return server.client("iam")


def user_with_key(server, iam, user):
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def wait_until(check, timeout=60):
    """Retries `check` until it stops raising (a new key is usable at once here, but the
    loop keeps the test robust on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except botocore.exceptions.ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_users_and_errors(iam, server):
    user = name("alice")
    created = iam.create_user(UserName=user, Path="/team/", Tags=[{"Key": "dept", "Value": "db"}])["User"]
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Arn"] == f"arn:aws:iam::000000000000:user/team/{user}"
    assert iam.get_user(UserName=user)["User"]["Tags"] == [{"Key": "dept", "Value": "db"}]
    assert user in [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]

    assert error_of(iam.create_user, UserName=user) == (
        "EntityAlreadyExists", 409, f"User with name {user} already exists.")
    assert error_of(iam.get_user, UserName="nobody-here") == (
        "NoSuchEntity", 404, "The user with name nobody-here cannot be found.")
    code, status, msg = error_of(iam.create_user, UserName="bad name")
    assert (code, status) == ("ValidationError", 400)
    assert "at 'userName' failed to satisfy constraint" in msg

    iam.tag_user(UserName=user, Tags=[{"Key": "env", "Value": "test"}])
    iam.untag_user(UserName=user, TagKeys=["dept"])
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "env", "Value": "test"}]

    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.create_access_key(UserName=user)
    assert error_of(iam.create_access_key, UserName=user) == (
        "LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    assert error_of(iam.delete_user, UserName=user) == (
        "DeleteConflict", 409, "Cannot delete entity, must delete access keys first.")
    for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        assert k["Status"] == "Active"
        iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
    assert error_of(iam.delete_access_key, UserName=user, AccessKeyId=key["AccessKeyId"]) == (
        "NoSuchEntity", 404, f"The Access Key with id {key['AccessKeyId']} cannot be found.")

    renamed = user + "-b"
    iam.update_user(UserName=user, NewUserName=renamed)
    assert iam.get_user(UserName=renamed)["User"]["UserId"] == created["UserId"]
    iam.delete_user(UserName=renamed)
    assert error_of(iam.get_user, UserName=renamed)[0] == "NoSuchEntity"


def test_login_profiles(iam):
    user = name("carol")
    iam.create_user(UserName=user)
    code, status, _ = error_of(iam.create_login_profile, UserName=user, Password="short")
    assert (code, status) == ("PasswordPolicyViolation", 400)
    profile = iam.create_login_profile(UserName=user, Password="a-long-Passw0rd!", PasswordResetRequired=True)
    assert profile["LoginProfile"]["PasswordResetRequired"] is True
    assert error_of(iam.create_login_profile, UserName=user, Password="a-long-Passw0rd!") == (
        "EntityAlreadyExists", 409, f"Login Profile for user {user} already exists.")
    iam.update_login_profile(UserName=user, Password="another-Passw0rd!", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    assert error_of(iam.delete_user, UserName=user) == (
        "DeleteConflict", 409, "Cannot delete entity, must delete login profile first.")
    iam.delete_login_profile(UserName=user)
    assert error_of(iam.delete_login_profile, UserName=user) == (
        "NoSuchEntity", 404, f"Login Profile for User {user} cannot be found.")
    iam.delete_user(UserName=user)


def unvalidated(server, service, key=None, secret=None):
    """A client that sends what it is given, so the server's own checks are seen."""
    import boto3
    from botocore.config import Config
    from conftest import ACCESS_KEY, SECRET_KEY
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key or ACCESS_KEY,
        aws_secret_access_key=secret or SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


def test_managed_policies_versions_and_attachments(server, iam):
    user, group, role = name("pu"), name("pg"), name("pr")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}))
    iam.tag_role(RoleName=role, Tags=[{"Key": "team", "Value": "a"}, {"Key": "tier", "Value": "1"}])
    iam.untag_role(RoleName=role, TagKeys=["tier"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert error_of(iam.tag_role, RoleName=name("nope"), Tags=[{"Key": "k", "Value": "v"}])[:2] == ("NoSuchEntity", 404)
    pname = name("pol")
    p = iam.create_policy(PolicyName=pname, PolicyDocument=policy(allow("iam:GetUser")))["Policy"]
    arn = p["Arn"]
    assert arn == f"arn:aws:iam::000000000000:policy/{pname}"
    assert p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1"
    assert error_of(iam.create_policy, PolicyName=pname, PolicyDocument=policy(allow("iam:GetUser")))[:2] == (
        "EntityAlreadyExists", 409)

    code, status, _ = error_of(iam.create_policy, PolicyName=name("bad"), PolicyDocument='{"Version": "2012-10-17"')
    assert (code, status) == ("MalformedPolicyDocument", 400)
    code, _, _ = error_of(iam.create_policy, PolicyName=name("bad"), PolicyDocument=policy(
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringLikeMaybe": {"aws:username": "x"}}}))
    assert code == "MalformedPolicyDocument", "an unknown operator is refused, never ignored"

    for i in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow(f"iam:Get{i}")), SetAsDefault=(i == 3))
        assert v["PolicyVersion"]["VersionId"] == f"v{i}"
    assert error_of(iam.create_policy_version, PolicyArn=arn, PolicyDocument=policy(allow("iam:X"))) == (
        "LimitExceeded", 409,
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == "iam:Get3"
    assert error_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v3") == (
        "DeleteConflict", 409, "Cannot delete the default version of a policy.")
    assert error_of(iam.get_policy_version, PolicyArn=arn, VersionId="v9") == (
        "NoSuchEntity", 404, f"Policy {arn} version v9 does not exist or is not attachable.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    for v in ["v1", "v2", "v3", "v4"]:
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v5"]

    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [{"PolicyName": pname, "PolicyArn": arn}]
    assert error_of(iam.delete_policy, PolicyArn=arn) == (
        "DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    assert error_of(iam.delete_role, RoleName=role) == (
        "DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    missing = "arn:aws:iam::000000000000:policy/none-such"
    assert error_of(iam.attach_user_policy, UserName=user, PolicyArn=missing) == (
        "NoSuchEntity", 404, f"Policy {missing} does not exist or is not attachable.")
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    assert error_of(iam.get_policy, PolicyArn=arn) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")

    # Inline policies of users, groups and roles.
    for put, get, lst, delete, kw, word in [
        (iam.put_user_policy, iam.get_user_policy, iam.list_user_policies, iam.delete_user_policy, {"UserName": user}, "user"),
        (iam.put_group_policy, iam.get_group_policy, iam.list_group_policies, iam.delete_group_policy, {"GroupName": group}, "group"),
        (iam.put_role_policy, iam.get_role_policy, iam.list_role_policies, iam.delete_role_policy, {"RoleName": role}, "role"),
    ]:
        put(PolicyName="inline", PolicyDocument=policy(allow("iam:ListUsers")), **kw)
        assert get(PolicyName="inline", **kw)["PolicyDocument"]["Statement"][0]["Action"] == "iam:ListUsers"
        assert lst(**kw)["PolicyNames"] == ["inline"]
        delete(PolicyName="inline", **kw)
        assert error_of(get, PolicyName="inline", **kw) == (
            "NoSuchEntity", 404, f"The {word} policy with name inline cannot be found.")

    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert error_of(iam.delete_group, GroupName=group) == (
        "DeleteConflict", 409, "Cannot delete entity, must remove users from group first.")
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    assert error_of(iam.get_group, GroupName=group) == (
        "NoSuchEntity", 404, f"The group with name {group} cannot be found.")

    got = iam.get_role(RoleName=role)["Role"]
    assert got["RoleId"].startswith("AROA") and got["MaxSessionDuration"] == 3600
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    unchecked = unvalidated(server, "iam")
    assert error_of(unchecked.update_role, RoleName=role, MaxSessionDuration=100) == (
        "ValidationError", 400, "1 validation error detected: Value '100' at 'maxSessionDuration' "
        "failed to satisfy constraint: Member must have value greater than or equal to 3600")
    iam.update_role(RoleName=role, MaxSessionDuration=7200)
    assert iam.get_role(RoleName=role)["Role"]["MaxSessionDuration"] == 7200
    iam.delete_role(RoleName=role)
    iam.delete_user(UserName=user)


def test_who_may_do_what(server, iam):
    """No policy, allowed, explicit deny, through a group, inactive key, deleted user."""
    alice = name("alice")
    akid, secret = user_with_key(server, iam, alice)
    as_alice = server.client("iam", key=akid, secret=secret)
    sts_alice = server.client("sts", key=akid, secret=secret)

    who = wait_until(sts_alice.get_caller_identity)
    assert who["Arn"] == f"arn:aws:iam::000000000000:user/{alice}"
    assert who["UserId"] == iam.get_user(UserName=alice)["User"]["UserId"]
    assert who["Account"] == "000000000000"

    # No policy: implicitly denied, with AWS's text.
    assert error_of(as_alice.list_users) == (
        "AccessDenied", 403,
        f"User: arn:aws:iam::000000000000:user/{alice} is not authorized to perform: iam:ListUsers "
        "on resource: arn:aws:iam::000000000000:user/ because no identity-based policy allows the iam:ListUsers action")

    # Allowed by an attached managed policy.
    arn = iam.create_policy(PolicyName=name("list"), PolicyDocument=policy(allow("iam:ListUsers")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=alice, PolicyArn=arn)
    assert alice in [u["UserName"] for u in as_alice.list_users()["Users"]]

    # An explicit deny wins.
    iam.put_user_policy(UserName=alice, PolicyName="no-list", PolicyDocument=policy(deny("iam:List*")))
    code, status, msg = error_of(as_alice.list_users)
    assert (code, status) == ("AccessDenied", 403)
    assert msg.endswith("with an explicit deny in an identity-based policy")
    iam.delete_user_policy(UserName=alice, PolicyName="no-list")

    # Allowed through a group: bob has no policy of his own.
    bob = name("bob")
    bkid, bsecret = user_with_key(server, iam, bob)
    as_bob = server.client("iam", key=bkid, secret=bsecret)
    assert error_of(as_bob.list_groups)[0] == "AccessDenied"
    group = name("readers")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="read", PolicyDocument=policy(allow("iam:ListGroups")))
    iam.add_user_to_group(GroupName=group, UserName=bob)
    assert group in [g["GroupName"] for g in as_bob.list_groups()["Groups"]]
    # Bob may not create users: nothing changes.
    assert error_of(as_bob.create_user, UserName="made-by-bob")[0] == "AccessDenied"
    assert error_of(iam.get_user, UserName="made-by-bob")[0] == "NoSuchEntity"

    # Last use is recorded.
    last = iam.get_access_key_last_used(AccessKeyId=bkid)
    assert last["UserName"] == bob
    assert last["AccessKeyLastUsed"]["ServiceName"] in ("iam", "sts")

    # Inactive key: refused as an unknown key, back when active again.
    iam.update_access_key(UserName=bob, AccessKeyId=bkid, Status="Inactive")
    assert error_of(as_bob.list_groups) == (
        "InvalidClientTokenId", 403, "The security token included in the request is invalid.")
    ddb_bob = server.client("dynamodb", key=bkid, secret=bsecret)
    assert error_of(ddb_bob.list_tables)[0] == "UnrecognizedClientException"
    iam.update_access_key(UserName=bob, AccessKeyId=bkid, Status="Active")
    as_bob.list_groups()

    # Deleted user: its keys and sessions stop working.
    session = server.client("sts", key=bkid, secret=bsecret).get_session_token(DurationSeconds=900)["Credentials"]
    as_session = session_client(server, "sts", session)
    assert as_session.get_caller_identity()["Arn"].endswith(f":user/{bob}")
    iam.remove_user_from_group(GroupName=group, UserName=bob)
    iam.delete_access_key(UserName=bob, AccessKeyId=bkid)
    iam.delete_user(UserName=bob)
    assert error_of(as_bob.list_groups)[0] == "InvalidClientTokenId"
    assert error_of(as_session.get_caller_identity)[0] == "InvalidClientTokenId"


def session_client(server, service, creds):
    import boto3
    from botocore.config import Config
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_role_sessions(server, iam):
    alice = name("ra")
    akid, secret = user_with_key(server, iam, alice)
    sts_alice = server.client("sts", key=akid, secret=secret)
    role = name("reader")
    alice_arn = f"arn:aws:iam::000000000000:user/{alice}"
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy({"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"}),
        MaxSessionDuration=7200,
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="roles", PolicyDocument=policy(allow("iam:ListRoles")))

    # The root may not assume roles; another user not in the trust policy may not either.
    code, status, msg = error_of(server.client("sts").assume_role, RoleArn=role_arn, RoleSessionName="root-session")
    assert (code, status, msg) == ("AccessDenied", 403, "Roles may not be assumed by root accounts.")
    mallory = name("mallory")
    mkid, msecret = user_with_key(server, iam, mallory)
    code, status, msg = error_of(server.client("sts", key=mkid, secret=msecret).assume_role,
                                 RoleArn=role_arn, RoleSessionName="s1")
    assert (code, status) == ("AccessDenied", 403)
    assert msg == f"User: arn:aws:iam::000000000000:user/{mallory} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"

    assert error_of(sts_alice.assume_role, RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7201) == (
        "ValidationError", 400, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    assert error_of(unvalidated(server, "sts", akid, secret).assume_role, RoleArn=role_arn,
                    RoleSessionName="s1", DurationSeconds=899) == (
        "ValidationError", 400, "1 validation error detected: Value '899' at 'durationSeconds' "
        "failed to satisfy constraint: Member must have value greater than or equal to 900")

    out = sts_alice.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role}/s1"
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:s1"
    lifetime = creds["Expiration"].timestamp() - time.time()
    assert 0 < lifetime <= 900 + 60

    as_role = session_client(server, "iam", creds)
    who = session_client(server, "sts", creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role}/s1"
    assert who["UserId"] == f"{role_id}:s1"
    assert role in [r["RoleName"] for r in as_role.list_roles()["Roles"]]
    assert error_of(as_role.list_users)[0] == "AccessDenied", "the session has the role's rights, not alice's"
    assert error_of(session_client(server, "sts", creds).get_session_token) == (
        "AccessDenied", 403, "Cannot call GetSessionToken with session credentials")

    # A tampered token, or a token with another key id, is refused on every protocol.
    forged = dict(creds, SessionToken=creds["SessionToken"][:-6] + ("AAAAAA" if not creds["SessionToken"].endswith("AAAAAA") else "BBBBBB"))
    assert error_of(session_client(server, "iam", forged).list_roles)[0] == "InvalidClientTokenId"
    assert error_of(session_client(server, "dynamodb", forged).list_tables)[0] == "UnrecognizedClientException"
    swapped = dict(creds, AccessKeyId="ASIA" + "A" * 16)
    assert error_of(session_client(server, "kms", swapped).list_keys)[0] == "UnrecognizedClientException"
    # A long-term key with a session token is refused too.
    assert error_of(session_client(server, "sts", {"AccessKeyId": akid, "SecretAccessKey": secret,
                                                    "SessionToken": creds["SessionToken"]}).get_caller_identity)[0] \
        == "InvalidClientTokenId"

    # Deleting the role ends its sessions.
    iam.delete_role_policy(RoleName=role, PolicyName="roles")
    iam.delete_role(RoleName=role)
    assert error_of(as_role.list_roles)[0] == "InvalidClientTokenId"


def test_query_protocol_errors(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpsession import URLLib3Session

    def send(body, service="iam"):
        req = AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials("AKIDSEALDBTEST0000001", "sealdbTestSecretKey0000000000000000000000"),
                  service, "us-east-1").add_auth(req)
        return URLLib3Session().send(req.prepare())

    r = send("Action=NoSuchThing&Version=2010-05-08")
    assert r.status_code == 400
    assert b"<Code>InvalidAction</Code>" in r.content
    assert b"Could not find operation NoSuchThing for version 2010-05-08" in r.content
    assert b"<Type>Sender</Type>" in r.content and b"<RequestId>" in r.content
    r = send("Action=GetCallerIdentity&Version=2011-06-15", service="sts")
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml"
    assert b"<Arn>arn:aws:iam::000000000000:root</Arn>" in r.content
    assert r.headers["x-amzn-requestid"].encode() in r.content


def test_aws_cli_unmodified(aws_cli):
    user = name("cli")
    out = aws_cli("iam", "create-user", "--user-name", user)
    assert out["User"]["UserName"] == user
    assert user in [u["UserName"] for u in aws_cli("iam", "list-users")["Users"]]
    who = aws_cli("sts", "get-caller-identity")
    assert who["Arn"] == "arn:aws:iam::000000000000:root" and who["Account"] == "000000000000"
    p = aws_cli("iam", "get-user", "--user-name", "no-such-cli-user", check=False)
    assert p.returncode != 0
    assert "NoSuchEntity" in p.stderr and "The user with name no-such-cli-user cannot be found." in p.stderr
    aws_cli("iam", "delete-user", "--user-name", user)


def test_policy_simulator(iam):
    user = name("sim")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="reads", PolicyDocument=policy(
        {"Sid": "Reads", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}))
    arn = f"arn:aws:iam::000000000000:user/{user}"
    table = "arn:aws:dynamodb:us-east-1:000000000000:table/Music"
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], ResourceArns=[table])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"dynamodb:GetItem": "allowed", "dynamodb:PutItem": "implicitDeny",
                         "dynamodb:DeleteItem": "explicitDeny"}
    by_action = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert by_action["dynamodb:GetItem"]["MatchedStatements"][0]["SourcePolicyId"] == "reads"
    assert by_action["dynamodb:GetItem"]["MatchedStatements"][0]["SourcePolicyType"] == "user"
    custom = iam.simulate_custom_policy(PolicyInputList=[policy(allow("kms:Decrypt"))],
                                        ActionNames=["kms:Decrypt", "kms:Encrypt"])
    assert [r["EvalDecision"] for r in custom["EvaluationResults"]] == ["allowed", "implicitDeny"]
    assert error_of(iam.simulate_principal_policy, PolicySourceArn=arn + "-none",
                    ActionNames=["dynamodb:GetItem"])[:2] == ("NoSuchEntity", 404)
    iam.delete_user_policy(UserName=user, PolicyName="reads")
    iam.delete_user(UserName=user)


def test_policy_simulator_reports_statement_positions(iam):
    # A multi-line policy whose statements' places are known: the second statement opens
    # at line 10 column 5 and its `}` is at line 14 column 5 (AWS reports the column
    # just after it: 6).
    text = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Reads",
      "Effect": "Allow",
      "Action": "dynamodb:GetItem",
      "Resource": "*"
    },
    {
      "Effect": "Deny",
      "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem"],
      "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/Secret"
    }
  ]
}"""
    lines = text.split("\n")
    assert lines[9] == "    {" and lines[13] == "    }"
    out = iam.simulate_custom_policy(PolicyInputList=[text], ActionNames=["dynamodb:GetItem"],
                                     ResourceArns=["arn:aws:dynamodb:us-east-1:000000000000:table/Music",
                                                   "arn:aws:dynamodb:us-east-1:000000000000:table/Secret"])
    allowed, denied = out["EvaluationResults"]
    assert allowed["EvalDecision"] == "allowed" and denied["EvalDecision"] == "explicitDeny"
    assert allowed["MatchedStatements"] == [{
        "SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
        "StartPosition": {"Line": 4, "Column": 5}, "EndPosition": {"Line": 9, "Column": 6}}]
    assert denied["MatchedStatements"] == [{
        "SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
        "StartPosition": {"Line": 10, "Column": 5}, "EndPosition": {"Line": 14, "Column": 6}}]

    # SimulatePrincipalPolicy: positions in the user's stored inline policy text.
    user = name("pos")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=text)
    out = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::000000000000:user/{user}",
                                        ActionNames=["dynamodb:DeleteItem"],
                                        ResourceArns=["arn:aws:dynamodb:us-east-1:000000000000:table/Secret"])
    [m] = out["EvaluationResults"][0]["MatchedStatements"]
    assert (m["SourcePolicyId"], m["SourcePolicyType"]) == ("p", "user")
    assert (m["StartPosition"], m["EndPosition"]) == ({"Line": 10, "Column": 5}, {"Line": 14, "Column": 6})
    iam.delete_user_policy(UserName=user, PolicyName="p")
    iam.delete_user(UserName=user)
