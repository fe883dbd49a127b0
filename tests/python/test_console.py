"""The web console in a real headless Chromium against a real `sealdb serve`: sign-in,
tables with encryption at rest, Manage encryption, items, keys, a read-only user, and the
security properties (sessions, CSRF, console secret, escaping). Each browser test leaves
a screenshot of its final page under target/test-output/console/."""

import json
import re
import shutil
import subprocess
import tempfile
import pathlib
import uuid

import pytest
from botocore.exceptions import ClientError
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import ACCESS_KEY, SECRET_KEY, Server
from selenium.webdriver.common.keys import Keys
from console_browser import (
    Http, a11y_problems, chrome, path_key, expect_alert, focus_is_visible, click, click_element, csrf_of, fill, reload_until, screenshot, sign_in_with_key,
    sign_in_with_password, submit, text, wait_until,
)

ACCOUNT = "000000000000"
WRONG = "Your authentication information is incorrect. Please try again."


@pytest.fixture(scope="module")
def srv():
    """A server whose table keys are re-checked every second, so a disabled key shows."""
    tmp = tempfile.mkdtemp(prefix="sealdb-console-")
    s = Server(pathlib.Path(tmp) / "data",
               extra_args=["--key-check-interval-secs", "1", "--archive-after-secs", "2"]).start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def browser(request):
    driver = chrome()
    yield driver
    try:
        screenshot(driver, request.node.name)
    finally:
        driver.quit()


@pytest.fixture
def admin(browser, srv):
    sign_in_with_key(browser, srv.endpoint, ACCESS_KEY, SECRET_KEY)
    wait_until(lambda: "/console/tables" in browser.current_url, "the tables page")
    return browser


def unique(prefix):
    return prefix + uuid.uuid4().hex[:10]


def new_user(srv, name, password, policy=None):
    iam = srv.client("iam")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=password)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))


def create_key_in_console(driver, srv, alias):
    driver.get(f"{srv.endpoint}/console/keys/new")
    Select(driver.find_element(By.ID, "key_spec")).select_by_value("SYMMETRIC_DEFAULT")
    fill(driver, "#alias", alias)
    fill(driver, "#description", "made in the console")
    click(driver, "#create-key-submit")
    wait_until(lambda: text(driver, "#key-state") == "Enabled", "the new key's page")
    return driver.current_url.rsplit("/", 1)[1]


# ---- security ---------------------------------------------------------------------------

def test_no_page_or_endpoint_works_without_a_session(srv):
    h = Http(srv.endpoint)
    for path in ["/console", "/console/tables", "/console/tables/new", "/console/keys",
                 "/console/tables/x/items", "/console/keys/some-key"]:
        status, headers, body = h.get(path)
        assert status == 303 and headers["location"] == "/console/signin", path
        assert body == ""
    for path in ["/console/tables/new", "/console/signout", "/console/keys/new",
                 "/console/tables/x/delete", "/console/tables/x/items/put"]:
        status, _, body = h.post(path, {"csrf": "0" * 64, "name": "nosession"})
        assert status == 403 and "not signed in" in body, path
    # A made-up or tampered cookie is no session either.
    h.cookies["sealdb-console"] = "v1." + "ab" * 32 + "." + "cd" * 32
    assert h.get("/console/tables")[0] == 303
    with pytest.raises(ClientError):
        srv.client().describe_table(TableName="nosession")


def test_a_forged_or_missing_csrf_token_is_refused(srv):
    h = Http(srv.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
    token = h.csrf()
    name = unique("csrf")
    form = {"name": name, "pk": "id", "pk_type": "S", "settings": "default"}
    for bad in [None, "", "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1")]:
        f = dict(form) if bad is None else dict(form, csrf=bad)
        status, _, body = h.post("/console/tables/new", f)
        assert status == 403 and "security token" in body
    with pytest.raises(ClientError):
        srv.client().describe_table(TableName=name)
    # The sign-in form needs its own token too.
    fresh = Http(srv.endpoint)
    status, _, body = fresh.post("/console/signin", {"csrf": token, "mode": "key",
                                                     "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY})
    assert status == 403 and "sealdb-console" not in fresh.cookies
    # With the right token the same form works.
    status, headers, _ = h.post("/console/tables/new", dict(form, csrf=token))
    assert status == 303, status
    srv.client().describe_table(TableName=name)


def test_sign_out_and_a_new_console_secret_end_sessions(tmp_path):
    first = tmp_path / "secret-a"
    first.write_text("a" * 40)
    second = tmp_path / "secret-b"
    second.write_text("b" * 40)
    s = Server(tmp_path / "data", extra_args=["--console-secret-file", str(first)]).start()
    try:
        h = Http(s.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        old_cookie = h.cookies["sealdb-console"]
        token = h.csrf()
        assert h.get("/console/keys")[0] == 200
        # Sign-out ends the session: the same cookie no longer works.
        status, headers, _ = h.post("/console/signout", {"csrf": token})
        assert status == 303 and "sealdb-console" not in h.cookies
        h.cookies["sealdb-console"] = old_cookie
        assert h.get("/console/tables")[0] == 303
        h = Http(s.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        before_change = h.cookies["sealdb-console"]
    finally:
        s.stop()
    s = Server(tmp_path / "data", extra_args=["--console-secret-file", str(second)]).start()
    try:
        h = Http(s.endpoint)
        h.cookies["sealdb-console"] = before_change
        assert h.get("/console/tables")[0] == 303
    finally:
        s.stop()


def test_sign_in_attempts_are_limited(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        new_user(s, "limited", "right-password-1")
        h = Http(s.endpoint)
        for _ in range(5):
            token = csrf_of(h.get("/console/signin")[2])
            status, _, body = h.post("/console/signin", {"csrf": token, "mode": "password", "account": ACCOUNT,
                                                         "username": "limited", "password": "wrong-password"})
            assert status == 401 and WRONG in body
        token = csrf_of(h.get("/console/signin")[2])
        status, _, body = h.post("/console/signin", {"csrf": token, "mode": "password", "account": ACCOUNT,
                                                     "username": "limited", "password": "right-password-1"})
        assert status == 429 and "Too many failed sign-in attempts" in body
        assert "sealdb-console" not in h.cookies
    finally:
        s.stop()


def test_values_are_rendered_as_text(srv, admin):
    ddb = srv.client()
    name = unique("esc")
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     Tags=[{"Key": "note", "Value": "<script>window.tagran=1</script>"}])
    ddb.put_item(TableName=name, Item={"id": {"S": "<script>window.itemran=1</script>"}, "b": {"S": "<b>x</b>"}})
    admin.get(f"{srv.endpoint}/console/tables/{name}")
    assert "<script>window.tagran=1</script>" in text(admin, "#tag-list")
    admin.get(f"{srv.endpoint}/console/tables/{name}/items")
    assert "<script>window.itemran=1</script>" in text(admin, "#items")
    assert admin.execute_script("return [window.tagran, window.itemran]") == [None, None]
    assert admin.find_elements(By.CSS_SELECTOR, "#items b") == []
    # And in the HTML itself.
    h = Http(srv.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
    page = h.get(f"/console/tables/{name}/items")[2]
    assert "<script>window.itemran" not in page and "&lt;script&gt;window.itemran=1&lt;/script&gt;" in page


# ---- workflows --------------------------------------------------------------------------

def test_wrong_password(srv, browser):
    user = unique("pw")
    new_user(srv, user, "correct-horse-1")
    sign_in_with_password(browser, srv.endpoint, ACCOUNT, user, "correct-horse-2")
    expect_alert(browser, WRONG)
    assert "/console/signin" in browser.current_url
    assert browser.get_cookie("sealdb-console") is None


def test_create_table_with_customer_key_then_switch_to_aws_managed(srv, admin):
    alias = unique("alias/console-")
    key_id = create_key_in_console(admin, srv, alias)
    key_arn = srv.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    name = unique("enc")
    admin.get(f"{srv.endpoint}/console/tables/new")
    fill(admin, "#name", name)
    fill(admin, "#pk", "id")
    click(admin, "#settings-custom")
    click(admin, "#deletion_protection")
    click(admin, "#enc-customer")
    Select(admin.find_element(By.ID, "kms_key")).select_by_value(key_arn)
    click(admin, "#create")
    wait_until(lambda: admin.find_elements(By.ID, "key-arn"), "the table's overview")
    assert text(admin, "#key-arn") == key_arn
    assert text(admin, "#key-type") == "Customer managed key"
    assert text(admin, "#last-switch").startswith("Never")
    assert srv.client().describe_table(TableName=name)["Table"]["SSEDescription"]["KMSMasterKeyArn"] == key_arn
    # The key's page lists the table.
    click(admin, "#key-arn")
    assert name in text(admin, "#tables + ul")
    # Manage encryption: to the AWS managed key.
    admin.get(f"{srv.endpoint}/console/tables/{name}")
    click(admin, "#manage-encryption summary")
    click(admin, "#manage-encryption #enc-aws")
    click(admin, "#save-encryption")
    expect_alert(admin, "being updated")
    reload_until(admin, "#key-type", lambda t: t == "AWS managed key", "the AWS managed key")
    reload_until(admin, "#encryption-status", lambda t: t == "ENABLED", "encryption ENABLED")
    managed = srv.client("kms").describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"]
    assert text(admin, "#key-arn") == managed
    # The date of the switch, from what the service keeps for the daily limit.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text(admin, "#last-switch")), text(admin, "#last-switch")
    assert text(admin, "#switches-today").startswith("1 ")
    # Deletion protection is the service's to enforce; the typed confirmation is ours.
    fill(admin, "#confirm", "confirm")
    click(admin, "#delete-table")
    expect_alert(admin, "Disable deletion protection first.")
    srv.client().describe_table(TableName=name)


def test_put_edit_query_and_delete_an_item(srv, admin):
    ddb = srv.client()
    name = unique("items")
    ddb.create_table(TableName=name,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=name, Item={"pk": {"S": "other"}, "sk": {"N": "1"}})
    admin.get(f"{srv.endpoint}/console/tables/{name}/items")
    click(admin, "#create-item")
    click(admin, "#view-json")
    fill(admin, "#item", json.dumps({"pk": {"S": "a"}, "sk": {"N": "7"}, "color": {"S": "red"}}))
    click(admin, "#save-item")
    expect_alert(admin, "The item was saved.")
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "7"}})["Item"]["color"] == {"S": "red"}
    # Creating it again is refused: it exists.
    click(admin, "#create-item")
    click(admin, "#view-json")
    fill(admin, "#item", json.dumps({"pk": {"S": "a"}, "sk": {"N": "7"}}))
    click(admin, "#save-item")
    expect_alert(admin, "The conditional request failed")
    # Edit, with a condition that the item did not change meanwhile.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items?mode=query&pk=a")
    click_element(admin, admin.find_element(By.LINK_TEXT, "Edit"))
    click(admin, "#view-json")
    item = json.loads(admin.find_element(By.ID, "item").get_attribute("value"))
    item["color"] = {"S": "blue"}
    fill(admin, "#item", json.dumps(item))
    click(admin, "#save-item")
    expect_alert(admin, "The item was saved.")
    # A change made elsewhere meanwhile makes the edit fail.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items?mode=query&pk=a")
    click_element(admin, admin.find_element(By.LINK_TEXT, "Edit"))
    click(admin, "#view-json")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "7"}, "color": {"S": "green"}})
    fill(admin, "#item", json.dumps({"pk": {"S": "a"}, "sk": {"N": "7"}, "color": {"S": "mine"}}))
    click(admin, "#save-item")
    expect_alert(admin, "changed or deleted since you opened it")
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "7"}})["Item"]["color"] == {"S": "green"}
    # Query with a key condition and a filter.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items")
    click(admin, "#mode-query")
    fill(admin, "#pk", "a")
    Select(admin.find_element(By.ID, "sk_op")).select_by_value(">=")
    fill(admin, "#sk", "5")
    fill(admin, "#filter_attr", "color")
    fill(admin, "#filter_value", "green")
    click(admin, "#run")
    rows = admin.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert len(rows) == 1 and "green" in rows[0].text and "other" not in text(admin, "#items")
    # Delete.
    click_element(admin, rows[0].find_element(By.CSS_SELECTOR, "button.danger"))
    expect_alert(admin, "The item was deleted.")
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "7"}})


def test_disabling_a_key_makes_its_table_inaccessible_and_enabling_brings_it_back(srv, admin):
    key_id = create_key_in_console(admin, srv, unique("alias/gate-"))
    name = unique("gate")
    srv.client().create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id})
    admin.get(f"{srv.endpoint}/console/keys/{key_id}")
    click(admin, "#key-disable")
    expect_alert(admin, "The key is disabled.")
    assert text(admin, "#key-state") == "Disabled"
    admin.get(f"{srv.endpoint}/console/tables/{name}")
    reload_until(admin, "#table-status", lambda t: t == "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "an inaccessible table")
    admin.get(f"{srv.endpoint}/console/keys/{key_id}")
    click(admin, "#key-enable")
    assert text(admin, "#key-state") == "Enabled"
    admin.get(f"{srv.endpoint}/console/tables/{name}")
    reload_until(admin, "#table-status", lambda t: t == "ACTIVE", "the table back")
    srv.client().put_item(TableName=name, Item={"id": {"S": "back"}})


def test_a_read_only_user_sees_writes_refused_with_the_services_message(srv, browser):
    user = unique("reader")
    read_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:Describe*", "dynamodb:List*", "dynamodb:Get*",
                                       "dynamodb:Scan", "dynamodb:Query", "kms:Describe*", "kms:List*"],
         "Resource": "*"}]}
    new_user(srv, user, "reader-password-1", read_only)
    sign_in_with_password(browser, srv.endpoint, ACCOUNT, user, "reader-password-1")
    wait_until(lambda: "/console/tables" in browser.current_url, "the tables page")
    assert f"user/{user}" in text(browser, ".who")
    name = unique("ro")
    browser.get(f"{srv.endpoint}/console/tables/new")
    fill(browser, "#name", name)
    fill(browser, "#pk", "id")
    click(browser, "#create")
    shown = expect_alert(browser, "AccessDeniedException")
    # The same call through the API, as the same user, gets the same message.
    iam = srv.client("iam")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    api = srv.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        api.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    message = denied.value.response["Error"]["Message"]
    assert "is not authorized to perform: dynamodb:CreateTable" in message
    assert f"AccessDeniedException: {message}" in shown
    # Reads work.
    browser.get(f"{srv.endpoint}/console/tables")
    assert browser.find_elements(By.ID, "tables")


def test_event_history_shows_the_consoles_calls_and_a_verified_chain(srv, admin):
    name = unique("trail")
    admin.get(f"{srv.endpoint}/console/tables/new")
    fill(admin, "#name", name)
    fill(admin, "#pk", "id")
    click(admin, "#create")
    wait_until(lambda: admin.find_elements(By.ID, "table-status"), "the new table's page")
    admin.get(f"{srv.endpoint}/console/audit")
    assert "hash chain verifies" in text(admin, "#chain")
    Select(admin.find_element(By.ID, "attribute")).select_by_value("ResourceName")
    fill(admin, "#value", name)
    click(admin, "#lookup")
    rows = wait_until(lambda: admin.find_elements(By.CSS_SELECTOR, "#events tbody tr"), "events")
    # The console's reads of the table (DescribeTable, ListTagsOfResource) are
    # management events too, as on CloudTrail; the one change is the CreateTable.
    names = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
    assert names.count("CreateTable") == 1, names
    assert set(names) <= {"CreateTable", "DescribeTable", "ListTagsOfResource", "GetResourcePolicy",
                          "DescribeTimeToLive"}, names
    row = rows[names.index("CreateTable")]
    row.find_element(By.TAG_NAME, "summary").click()
    record = json.loads(row.find_element(By.TAG_NAME, "pre").text)
    assert record["eventName"] == "CreateTable" and record["requestParameters"]["tableName"] == name


def test_users_create_with_password_and_policy_and_an_access_key_shown_once(srv, admin):
    name = unique("u")
    admin.get(f"{srv.endpoint}/console/users")
    fill(admin, "#user_name", name)
    fill(admin, "#user_password", "console-pass-1")
    fill(admin, "#inline_policy", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"}]}))
    click(admin, "#create-user")
    wait_until(lambda: f"/console/users/{name}" in admin.current_url, "the user's page")
    assert "console-inline" in admin.find_element(By.CSS_SELECTOR, "[aria-labelledby=permissions]").text
    iam = srv.client("iam")
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["console-inline"]
    # A policy IAM refuses is refused with IAM's message.
    fill(admin, "#policy_name", "bad")
    fill(admin, "#policy_document", '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}')
    submit(admin, "#policy_document")
    expect_alert(admin, "MalformedPolicyDocument")
    # An access key: the secret is shown once, and it works.
    click_element(admin, admin.find_element(By.XPATH, "//button[text()='Create access key']"))
    key_id = wait_until(lambda: admin.find_elements(By.ID, "new-key-id"), "the new key")[0].text
    secret = text(admin, "#new-key-secret")
    srv.client(key=key_id, secret=secret).list_tables()
    admin.get(f"{srv.endpoint}/console/users/{name}")
    assert secret not in admin.page_source
    # Deactivate it: the API refuses it from then on.
    click_element(admin, admin.find_element(By.XPATH, "//button[text()='Deactivate']"))
    expect_alert(admin, "status is changed")
    with pytest.raises(ClientError):
        srv.client(key=key_id, secret=secret).list_tables()
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"


def test_key_policy_from_the_template_and_the_policy_simulator(srv, admin):
    user = unique("app")
    new_user(srv, user, "app-password-1", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]})
    arn = srv.client("iam").get_user(UserName=user)["User"]["Arn"]
    admin.get(f"{srv.endpoint}/console/keys/new")
    fill(admin, "#alias", unique("alias/tpl-"))
    Select(admin.find_element(By.ID, "key_users")).select_by_value(arn)
    click(admin, "#create-key-submit")
    wait_until(lambda: admin.find_elements(By.ID, "key-state"), "the new key's page")
    key_id = admin.current_url.rsplit("/", 1)[1]
    policy = json.loads(srv.client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    use = [s for s in policy["Statement"] if s.get("Sid") == "Allow use of the key"][0]
    assert use["Principal"]["AWS"] in (arn, [arn]) and "kms:Decrypt" in use["Action"]
    # The simulator on the user's page answers as IAM does.
    admin.get(f"{srv.endpoint}/console/users/{user}")
    fill(admin, "#sim_actions", "dynamodb:GetItem, dynamodb:PutItem")
    submit(admin, "#sim_actions")
    rows = wait_until(lambda: admin.find_elements(By.CSS_SELECTOR, "#simulation tbody tr"), "the simulation")
    assert [r.text.split() for r in rows] == [["dynamodb:GetItem", "allowed"], ["dynamodb:PutItem", "implicitDeny"]]


def test_managed_policies_are_created_and_edited_with_iams_validation(srv, admin):
    name = unique("pol")
    admin.get(f"{srv.endpoint}/console/policies")
    fill(admin, "#policy_name", name)
    click(admin, "#create-policy")
    wait_until(lambda: admin.find_elements(By.ID, "default-version"), "the policy's page")
    assert text(admin, "#default-version") == "v1"
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    doc = json.loads(admin.find_element(By.ID, "document").get_attribute("value"))
    assert doc["Statement"][0]["Action"] == "dynamodb:GetItem"
    # A document IAM refuses: its message, and no new version.
    fill(admin, "#document", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    click(admin, "#save-policy")
    expect_alert(admin, "MalformedPolicyDocument")
    assert srv.client("iam").get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    doc["Statement"][0]["Action"] = "dynamodb:Query"
    fill(admin, "#document", json.dumps(doc))
    click(admin, "#save-policy")
    expect_alert(admin, "new default version")
    assert text(admin, "#default-version") == "v2"
    click(admin, "#delete-policy")
    expect_alert(admin, "The policy is deleted.")
    with pytest.raises(ClientError):
        srv.client("iam").get_policy(PolicyArn=arn)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
def test_session_cookies_are_secure_under_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    try:
        assert s.endpoint.startswith("https://")
        h = Http(s.endpoint, ca_file=str(cert)).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        session = [c for c in h.set_cookies if c.startswith("sealdb-console=v1.")]
        assert session and all(a in session[0] for a in ("Secure", "HttpOnly", "SameSite=Strict"))
        assert all("Secure" in c for c in h.set_cookies)
        assert h.get("/console/tables")[0] == 200
    finally:
        s.stop()
    # Over plain HTTP the cookie cannot be Secure (the browser would drop it), and is not.
    plain = Server(tmp_path / "data").start()
    try:
        h = Http(plain.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        assert not any("Secure" in c for c in h.set_cookies)
    finally:
        plain.stop()


def test_create_table_with_several_indexes_then_items_through_the_form_and_an_index_query(srv, admin):
    name = unique("idx")
    admin.get(f"{srv.endpoint}/console/tables/new")
    fill(admin, "#name", name)
    fill(admin, "#pk", "pk")
    fill(admin, "#sk", "sk")
    Select(admin.find_element(By.ID, "sk_type")).select_by_value("N")
    click(admin, "#settings-custom")
    fill(admin, "#gsi_name_0", "by-color")
    fill(admin, "#gsi_pk_0", "color")
    fill(admin, "#gsi_name_1", "by-size")
    fill(admin, "#gsi_pk_1", "size")
    Select(admin.find_element(By.ID, "gsi_pk_type_1")).select_by_value("N")
    Select(admin.find_element(By.ID, "gsi_projection_1")).select_by_value("KEYS_ONLY")
    # One more global index row; what was typed stays.
    click(admin, "#add-gsi")
    assert admin.find_element(By.ID, "gsi_name_0").get_attribute("value") == "by-color"
    fill(admin, "#gsi_name_2", "by-shape")
    fill(admin, "#gsi_pk_2", "shape")
    fill(admin, "#gsi_sk_2", "size")
    Select(admin.find_element(By.ID, "gsi_sk_type_2")).select_by_value("N")
    fill(admin, "#lsi_name_0", "by-day")
    fill(admin, "#lsi_sk_0", "day")
    click(admin, "#create")
    wait_until(lambda: admin.find_elements(By.ID, "table-status"), "the table's overview")
    ddb = srv.client()
    t = ddb.describe_table(TableName=name)["Table"]
    gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
    assert sorted(gsis) == ["by-color", "by-shape", "by-size"]
    assert gsis["by-size"]["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert [k["AttributeName"] for k in gsis["by-shape"]["KeySchema"]] == ["shape", "size"]
    assert [(k["AttributeName"], k["KeyType"]) for k in t["LocalSecondaryIndexes"][0]["KeySchema"]] == \
        [("pk", "HASH"), ("day", "RANGE")]
    admin.get(f"{srv.endpoint}/console/tables/{name}?tab=indexes")
    assert all(i in admin.find_element(By.TAG_NAME, "main").text for i in ["by-color", "by-size", "by-shape", "by-day"])

    # Create an item in the form view (the default): key rows first, then attributes.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items")
    click(admin, "#create-item")
    assert admin.find_element(By.ID, "attr_name_0").get_attribute("value") == "pk"
    assert admin.find_element(By.ID, "attr_name_1").get_attribute("value") == "sk"
    fill(admin, "#attr_value_0", "a")
    fill(admin, "#attr_value_1", "1")
    fill(admin, "#attr_name_2", "color")
    fill(admin, "#attr_value_2", "red")
    fill(admin, "#attr_name_3", "size")
    Select(admin.find_element(By.ID, "attr_type_3")).select_by_value("N")
    fill(admin, "#attr_value_3", "3")
    click(admin, "#add-attribute")
    assert admin.find_element(By.ID, "attr_value_2").get_attribute("value") == "red"
    fill(admin, "#attr_name_4", "tags")
    Select(admin.find_element(By.ID, "attr_type_4")).select_by_value("SS")
    fill(admin, "#attr_value_4", '["x", "y"]')
    click(admin, "#save-item")
    expect_alert(admin, "The item was saved.")
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert ddb.get_item(TableName=name, Key=key)["Item"] == {
        **key, "color": {"S": "red"}, "size": {"N": "3"}, "tags": {"SS": ["x", "y"]}}
    # A bad value in the form is refused with what is wrong, and nothing is written.
    click(admin, "#create-item")
    fill(admin, "#attr_value_0", "b")
    fill(admin, "#attr_value_1", "2")
    fill(admin, "#attr_name_2", "on")
    Select(admin.find_element(By.ID, "attr_type_2")).select_by_value("BOOL")
    fill(admin, "#attr_value_2", "maybe")
    click(admin, "#save-item")
    expect_alert(admin, "The value of on must be true or false.")
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "b"}, "sk": {"N": "2"}})

    # Edit it in the form: change one attribute, remove another.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items?mode=query&pk=a")
    click_element(admin, admin.find_element(By.LINK_TEXT, "Edit"))
    assert admin.find_element(By.ID, "attr_value_0").get_attribute("readonly") is not None
    rows = {admin.find_element(By.ID, f"attr_name_{i}").get_attribute("value"): i for i in range(5)}
    fill(admin, f"#attr_value_{rows['color']}", "blue")
    click(admin, f"#attr_remove_{rows['tags']}")
    click(admin, "#save-item")
    expect_alert(admin, "The item was saved.")
    assert ddb.get_item(TableName=name, Key=key)["Item"] == {**key, "color": {"S": "blue"}, "size": {"N": "3"}}
    # The same item as DynamoDB JSON.
    admin.get(f"{srv.endpoint}/console/tables/{name}/items?mode=query&pk=a")
    click_element(admin, admin.find_element(By.LINK_TEXT, "Edit"))
    click(admin, "#view-json")
    assert json.loads(admin.find_element(By.ID, "item").get_attribute("value"))["color"] == {"S": "blue"}

    # Query an index: the key condition is on the index's keys.
    for i, (color, size) in enumerate([("blue", 5), ("green", 1), ("blue", 9)]):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"o{i}"}, "sk": {"N": str(i)},
                                           "color": {"S": color}, "size": {"N": str(size)}})
    admin.get(f"{srv.endpoint}/console/tables/{name}/items")
    click(admin, "#mode-query")
    Select(admin.find_element(By.ID, "index")).select_by_value("by-color")
    assert text(admin, "#pk-name") == "color"
    assert not admin.find_element(By.ID, "sk-group").is_displayed()
    fill(admin, "#pk", "blue")
    fill(admin, "#filter_attr", "size")
    Select(admin.find_element(By.ID, "filter_op")).select_by_value(">")
    Select(admin.find_element(By.ID, "filter_type")).select_by_value("N")
    fill(admin, "#filter_value", "4")
    fill(admin, "#filter_attr_2", "pk")
    Select(admin.find_element(By.ID, "filter_op_2")).select_by_value("begins_with")
    fill(admin, "#filter_value_2", "o")
    click(admin, "#run")
    rows = admin.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert sorted(r.find_elements(By.TAG_NAME, "td")[0].text for r in rows) == ["o0", "o2"]
    # An index with a sort key: a range condition on it.
    Select(admin.find_element(By.ID, "index")).select_by_value("by-shape")
    assert admin.find_element(By.ID, "sk-group").is_displayed() and text(admin, "#sk-name") == "size"
    ddb.put_item(TableName=name, Item={"pk": {"S": "s1"}, "sk": {"N": "1"}, "shape": {"S": "round"}, "size": {"N": "2"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "s2"}, "sk": {"N": "1"}, "shape": {"S": "round"}, "size": {"N": "8"}})
    admin.get(f"{srv.endpoint}/console/tables/{name}/items?mode=query&index=by-shape&pk=round&sk_op=between&sk=1&sk2=5")
    rows = admin.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == ["s1"]


def test_with_any_region_the_selector_offers_every_aws_region(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--regions", "*"]).start()
    driver = chrome()
    try:
        sign_in_with_key(driver, s.endpoint, ACCESS_KEY, SECRET_KEY)
        wait_until(lambda: "/console/tables" in driver.current_url, "the tables page")
        offered = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "region")).options]
        assert offered[0] == "us-east-1"
        for region in ["eu-west-3", "ap-southeast-2", "sa-east-1", "ca-central-1", "me-central-1"]:
            assert region in offered
        assert len(offered) == len(set(offered)) >= 30
        Select(driver.find_element(By.ID, "region")).select_by_value("eu-west-3")
        click(driver, "form.region button")
        assert Select(driver.find_element(By.ID, "region")).first_selected_option.get_attribute("value") == "eu-west-3"
        assert driver.find_elements(By.ID, "tables")
    finally:
        screenshot(driver, "test_with_any_region_the_selector_offers_every_aws_region")
        driver.quit()
        s.stop()


def test_groups_are_edited_and_a_required_password_reset_is_enforced_at_sign_in(srv, admin):
    group = unique("ops")
    user = unique("new")
    admin.get(f"{srv.endpoint}/console/users")
    fill(admin, "#group_name", group)
    click(admin, "#create-group")
    expect_alert(admin, f"The group {group} is created.")
    assert group in text(admin, "#groups")
    # A user made in a group, who must choose a new password at the first sign-in, and
    # may change it (as AWS's IAMUserChangePassword allows).
    fill(admin, "#user_name", user)
    fill(admin, "#user_password", "first-pass-1")
    click(admin, "#user_reset")
    Select(admin.find_element(By.ID, "user_group")).select_by_value(group)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    fill(admin, "#inline_policy", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": arn},
        {"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"}]}))
    click(admin, "#create-user")
    wait_until(lambda: f"/console/users/{user}" in admin.current_url, "the user's page")
    iam = srv.client("iam")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is True
    assert "new password must be chosen" in text(admin, "#console-access")
    # Out of the group and back in, on the user's page.
    assert group in text(admin, "#user-groups")
    click_element(admin, admin.find_element(By.XPATH, "//button[text()='Remove from group']"))
    expect_alert(admin, "The user is removed from the group.")
    assert iam.list_groups_for_user(UserName=user)["Groups"] == []
    Select(admin.find_element(By.ID, "add_group")).select_by_value(group)
    click_element(admin, admin.find_element(By.XPATH, "//button[text()='Add to group']"))
    expect_alert(admin, "The user is added to the group.")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]

    # Signing in with the right password leads to the password change, not into the console.
    driver = chrome()
    try:
        sign_in_with_password(driver, srv.endpoint, ACCOUNT, user, "first-pass-1")
        wait_until(lambda: driver.find_elements(By.ID, "change-password"), "the password change")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Change your password"
        assert driver.get_cookie("sealdb-console") is None
        assert "first-pass-1" not in driver.page_source
        fill(driver, "#password", "first-pass-1")
        fill(driver, "#new_password", "second-pass-2")
        fill(driver, "#confirm_password", "second-pass-3")
        click(driver, "#change-password")
        expect_alert(driver, "The new passwords do not match.")
        # IAM's own password rule, with its message.
        fill(driver, "#password", "first-pass-1")
        fill(driver, "#new_password", "short")
        fill(driver, "#confirm_password", "short")
        click(driver, "#change-password")
        expect_alert(driver, "PasswordPolicyViolation")
        assert driver.get_cookie("sealdb-console") is None
        fill(driver, "#password", "first-pass-1")
        fill(driver, "#new_password", "second-pass-2")
        fill(driver, "#confirm_password", "second-pass-2")
        click(driver, "#change-password")
        wait_until(lambda: "/console/tables" in driver.current_url, "the tables page")
        assert f"user/{user}" in text(driver, ".who")
        screenshot(driver, "test_password_reset_at_sign_in")
    finally:
        driver.quit()
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    h = Http(srv.endpoint)
    for password, status in [("first-pass-1", 401), ("second-pass-2", 303)]:
        token = csrf_of(h.get("/console/signin")[2])
        got = h.post("/console/signin", {"csrf": token, "mode": "password", "account": ACCOUNT,
                                         "username": user, "password": password})
        assert got[0] == status, (password, got[0])


def test_change_password_through_the_api_needs_the_permission_and_the_old_password(srv):
    iam = srv.client("iam")
    allowed, denied = unique("cp"), unique("cp")
    for name in (allowed, denied):
        new_user(srv, name, "old-password-1")
    iam.put_user_policy(UserName=allowed, PolicyName="self", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword",
                                                "Resource": f"arn:aws:iam::{ACCOUNT}:user/{allowed}"}]}))
    iam.update_login_profile(UserName=allowed, PasswordResetRequired=True)

    def as_user(name):
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return srv.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    with pytest.raises(ClientError) as e:
        as_user(denied).change_password(OldPassword="old-password-1", NewPassword="new-password-2")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "iam:ChangePassword" in e.value.response["Error"]["Message"]
    mine = as_user(allowed)
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword="not-the-password", NewPassword="new-password-2")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert iam.get_login_profile(UserName=allowed)["LoginProfile"]["PasswordResetRequired"] is True
    mine.change_password(OldPassword="old-password-1", NewPassword="new-password-2")
    assert iam.get_login_profile(UserName=allowed)["LoginProfile"]["PasswordResetRequired"] is False
    # The account root is no IAM user: InvalidUserType.
    with pytest.raises(ClientError) as e:
        iam.change_password(OldPassword="x", NewPassword="new-password-3")
    assert e.value.response["Error"]["Code"] == "InvalidUserType"


def test_every_main_page_passes_the_accessibility_check_wide_and_narrow(srv, admin):
    ddb, kms, iam = srv.client(), srv.client("kms"), srv.client("iam")
    name = unique("a11y")
    key_id = kms.create_key(Description="a11y")["KeyMetadata"]["KeyId"]
    ddb.create_table(TableName=name,
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                           {"AttributeName": "at", "AttributeType": "N"},
                                           {"AttributeName": "color", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-color", "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}],
                     BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id})
    ddb.put_item(TableName=name, Item={"id": {"S": "a"}, "at": {"N": "1"}, "color": {"S": "red"},
                                       "note": {"S": "a rather long value " * 8}})
    user = unique("a11y")
    new_user(srv, user, "a11y-password-1")
    policy_arn = iam.create_policy(PolicyName=unique("a11y"), PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}))["Policy"]["Arn"]
    item_key = path_key({"id": {"S": "a"}, "at": {"N": "1"}})
    pages = ["/console/tables", "/console/tables/new", f"/console/tables/{name}",
             *[f"/console/tables/{name}?tab={t}" for t in ["indexes", "backups", "streams", "ttl", "permissions"]],
             f"/console/tables/{name}/items", f"/console/tables/{name}/items?mode=query&index=by-color&pk=red",
             f"/console/tables/{name}/items/edit", f"/console/tables/{name}/items/edit?key={item_key}",
             f"/console/tables/{name}/items/edit?view=json&key={item_key}",
             "/console/keys", "/console/keys/new", f"/console/keys/{key_id}",
             "/console/users", f"/console/users/{user}", "/console/policies",
             f"/console/policies/view?arn={policy_arn}", "/console/audit", "/console/nowhere"]
    found = {}
    for width in (1280, 400):
        admin.set_window_size(width, 800)
        for path in pages:
            admin.get(srv.endpoint + path)
            # Every hidden part shown too, so its controls are checked as well.
            admin.execute_script("document.querySelectorAll('[hidden]').forEach(e => e.hidden = false);"
                                 "document.querySelectorAll('details').forEach(d => d.open = true);")
            problems = a11y_problems(admin)
            if problems:
                found[f"{path} at {width}px"] = problems
        if width == 400:
            admin.get(f"{srv.endpoint}/console/tables/{name}")
            screenshot(admin, "narrow-table-overview")
    # The sign-in page (no session) too.
    signin = chrome(width=400)
    try:
        signin.get(f"{srv.endpoint}/console/signin")
        if a11y_problems(signin):
            found["/console/signin at 400px"] = a11y_problems(signin)
    finally:
        signin.quit()
    admin.set_window_size(1280, 800)
    assert found == {}, json.dumps(found, indent=1)
    # The check finds what it looks for.
    admin.get(f"{srv.endpoint}/console/tables")
    admin.execute_script(
        "const m = document.getElementById('main');"
        "m.insertAdjacentHTML('beforeend', '<input id=\"stray\"><h4>deep</h4><button></button><h1>two</h1>');"
        "const wide = document.createElement('div'); wide.style.width = '3000px'; wide.textContent = 'wide'; m.appendChild(wide);")
    problems = "\n".join(a11y_problems(admin))
    for wanted in ["control without a label", "heading skips a level", "button or link without a name",
                   "the page has 2 h1 headings", "wider than the window"]:
        assert wanted in problems, problems


def test_the_console_is_usable_by_keyboard_with_visible_focus(srv, browser):
    browser.get(f"{srv.endpoint}/console/signin")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    order = []
    for _ in range(6):
        active = browser.switch_to.active_element
        assert focus_is_visible(browser), active.get_attribute("outerHTML")[:100]
        order.append(active.get_attribute("id"))
        if active.get_attribute("id") == "access_key_id":
            break
        active.send_keys(Keys.TAB)
    assert order == ["account", "username", "password", "signin-password", "access_key_id"]
    browser.switch_to.active_element.send_keys(ACCESS_KEY, Keys.TAB)
    browser.switch_to.active_element.send_keys(SECRET_KEY)
    old = browser.find_element(By.TAG_NAME, "html")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(lambda: "/console/tables" in browser.current_url, "the tables page")
    # The first Tab stop is the skip link, shown when focused; Enter moves to the content.
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed() and focus_is_visible(browser)
    skip.send_keys(Keys.ENTER)
    wait_until(lambda: browser.switch_to.active_element.get_attribute("id") == "main", "focus on the content")
    # Manage encryption opens from the keyboard (a details element).
    name = unique("kbd")
    srv.client().create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    browser.get(f"{srv.endpoint}/console/tables/{name}")
    summary = browser.find_element(By.CSS_SELECTOR, "#manage-encryption summary")
    browser.execute_script("arguments[0].focus()", summary)
    assert focus_is_visible(browser)
    summary.send_keys(Keys.ENTER)
    wait_until(lambda: browser.find_element(By.ID, "enc-aws").is_displayed(), "the dialog open")


def test_sessions_survive_a_restart_sealed_on_disk_and_sign_out_still_ends_them(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        kept = Http(s.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        token = kept.csrf()
        # A region chosen before the restart is kept too.
        assert kept.post("/console/region", {"csrf": token, "region": "eu-west-1"})[0] == 303
        ended = Http(s.endpoint).sign_in_with_key(ACCESS_KEY, SECRET_KEY)
        ended_cookie = ended.cookies["sealdb-console"]
        assert ended.post("/console/signout", {"csrf": ended.csrf()})[0] == 303
    finally:
        s.stop()
    # Nothing of the sessions is readable in the data dir.
    session_id = kept.cookies["sealdb-console"].split(".")[1]
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            for secret in (session_id, token):
                assert secret.encode() not in raw and bytes.fromhex(secret) not in raw, path
    s = Server(tmp_path / "data").start()
    try:
        # The same browser (its cookies) at the restarted server's address.
        cookies = kept.cookies
        kept = Http(s.endpoint)
        kept.cookies = dict(cookies)
        status, _, page = kept.get("/console/tables")
        assert status == 200 and csrf_of(page) == token
        assert 'value="eu-west-1" selected' in page
        # The CSRF token from before the restart still works for a form.
        name = unique("restart")
        status, _, _ = kept.post("/console/tables/new", {"csrf": token, "name": name, "pk": "id",
                                                        "pk_type": "S", "settings": "default"})
        assert status == 303
        gone = Http(s.endpoint)
        gone.cookies["sealdb-console"] = ended_cookie
        assert gone.get("/console/tables")[0] == 303
    finally:
        s.stop()
