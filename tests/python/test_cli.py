"""The aws CLI against sealdb: the commands of the DynamoDB getting-started guide."""

import uuid


def test_table_and_item_lifecycle(aws_cli):
    name = "Music" + uuid.uuid4().hex[:6]
    out = aws_cli(
        "dynamodb", "create-table", "--table-name", name,
        "--attribute-definitions", "AttributeName=Artist,AttributeType=S", "AttributeName=SongTitle,AttributeType=S",
        "--key-schema", "AttributeName=Artist,KeyType=HASH", "AttributeName=SongTitle,KeyType=RANGE",
        "--provisioned-throughput", "ReadCapacityUnits=10,WriteCapacityUnits=5",
    )
    assert out["TableDescription"]["TableName"] == name
    assert out["TableDescription"]["TableStatus"] in ("CREATING", "ACTIVE")
    aws_cli("dynamodb", "wait", "table-exists", "--table-name", name)
    desc = aws_cli("dynamodb", "describe-table", "--table-name", name)["Table"]
    assert desc["TableStatus"] == "ACTIVE"
    assert desc["TableArn"].endswith(":table/" + name)
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    assert name in aws_cli("dynamodb", "list-tables")["TableNames"]

    key = '{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}}'
    aws_cli("dynamodb", "put-item", "--table-name", name, "--item",
            '{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "Plays": {"N": "1"}}')
    out = aws_cli("dynamodb", "update-item", "--table-name", name, "--key", key,
                  "--update-expression", "SET Plays = Plays + :one",
                  "--condition-expression", "Plays < :ten",
                  "--expression-attribute-values", '{":one": {"N": "1"}, ":ten": {"N": "10"}}',
                  "--return-values", "ALL_NEW")
    assert out["Attributes"]["Plays"] == {"N": "2"}
    failed = aws_cli("dynamodb", "update-item", "--table-name", name, "--key", key,
                     "--update-expression", "SET Plays = Plays + :one",
                     "--condition-expression", "Plays > :ten",
                     "--expression-attribute-values", '{":one": {"N": "1"}, ":ten": {"N": "10"}}', check=False)
    assert failed.returncode != 0
    assert "ConditionalCheckFailedException" in failed.stderr
    got = aws_cli("dynamodb", "get-item", "--table-name", name, "--key", key)
    assert got["Item"]["Plays"] == {"N": "2"}
    aws_cli("dynamodb", "delete-item", "--table-name", name, "--key", key)
    assert aws_cli("dynamodb", "get-item", "--table-name", name, "--key", key) in (None, {})
    out = aws_cli("dynamodb", "delete-table", "--table-name", name)
    assert out["TableDescription"]["TableStatus"] == "DELETING"
    aws_cli("dynamodb", "wait", "table-not-exists", "--table-name", name)
    missing = aws_cli("dynamodb", "describe-table", "--table-name", name, check=False)
    assert "ResourceNotFoundException" in missing.stderr


def test_cli_validation_error(aws_cli):
    p = aws_cli("dynamodb", "create-table", "--table-name", "x",
                "--attribute-definitions", "AttributeName=a,AttributeType=S",
                "--key-schema", "AttributeName=a,KeyType=HASH",
                "--billing-mode", "PAY_PER_REQUEST", check=False)
    assert p.returncode != 0
    assert "ValidationException" in p.stderr
    assert "Member must have length greater than or equal to 3" in p.stderr
