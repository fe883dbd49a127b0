//! Drives the encrypted client from a JSON request on stdin, for the Python interop tests
//! (`tests/python/test_ddbec_interop.py`). Request:
//!
//! ```json
//! {"endpoint": "http://127.0.0.1:8000", "access_key": "...", "secret_key": "...",
//!  "table": "t", "op": "put" | "get",
//!  "items": [<DynamoDB JSON item>],        // op put: plaintext items to write
//!  "keys": [<DynamoDB JSON key>],           // op get: keys to read
//!  "actions": {"default": "encrypt", "override": {"name": "sign" | "nothing"}},
//!  "provider": {"type": "static", "aes": "<b64>", "hmac": "<b64>"}
//!            | {"type": "wrapped_aes", "wrap": "<b64>", "hmac": "<b64>"}
//!            | {"type": "wrapped_rsa", "private": "<b64 PKCS#8 DER>", "public": "<b64 SPKI DER>"}
//!            | {"type": "kms", "key_id": "..."}
//!            | {"type": "most_recent", "store_table": "...", "material_name": "...",
//!               "store_provider": <one of the above>}}
//! ```
//!
//! Binary values are base64 strings. `get` prints `{"items": [...]}` with the decrypted
//! items (or `null` for a missing one); errors go to stderr with exit status 1.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::dynamodb::{DynamoDbMetaStore, EncryptedClient, SdkItem};
use dynamodb_encryption::keys::{SigningKey, SymmetricKey, VerificationKey};
use dynamodb_encryption::kms::DirectKmsProvider;
use dynamodb_encryption::providers::{
    MostRecentProvider, ProviderStoreRows, StaticProvider, UnwrappingKey, WrappedProvider,
    WrappingKey,
};
use dynamodb_encryption::{Action, AttributeActions, CryptographicMaterialsProvider};
use serde_json::{Map, Value, json};
use std::error::Error;
use std::io::Read as _;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync>;

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, BoxError> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("missing string field {field}").into())
}

fn bytes(v: &Value, field: &str) -> Result<Vec<u8>, BoxError> {
    Ok(B64.decode(text(v, field)?)?)
}

fn value_from_json(v: &Value) -> Result<AttributeValue, BoxError> {
    let (tag, body) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or("attribute value must be a one-entry object")?;
    let strings = |b: &Value| -> Result<Vec<String>, BoxError> {
        b.as_array()
            .ok_or("set must be an array")?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "set member".into())
            })
            .collect()
    };
    let string = |b: &Value| -> Result<String, BoxError> {
        Ok(b.as_str().ok_or("expected a string")?.to_owned())
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(string(body)?),
        "N" => AttributeValue::N(string(body)?),
        "B" => AttributeValue::B(Blob::new(B64.decode(string(body)?)?)),
        "SS" => AttributeValue::Ss(strings(body)?),
        "NS" => AttributeValue::Ns(strings(body)?),
        "BS" => AttributeValue::Bs(
            strings(body)?
                .iter()
                .map(|s| Ok(Blob::new(B64.decode(s)?)))
                .collect::<Result<_, BoxError>>()?,
        ),
        "BOOL" => AttributeValue::Bool(body.as_bool().ok_or("BOOL")?),
        "NULL" => AttributeValue::Null(true),
        "L" => AttributeValue::L(
            body.as_array()
                .ok_or("L")?
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(body)?),
        other => return Err(format!("unknown type {other}").into()),
    })
}

fn item_from_json(v: &Value) -> Result<SdkItem, BoxError> {
    v.as_object()
        .ok_or("item must be an object")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), value_from_json(v)?)))
        .collect()
}

fn value_to_json(v: &AttributeValue) -> Result<Value, BoxError> {
    Ok(match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": B64.encode(b.as_ref())}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(n) => json!({"NS": n}),
        AttributeValue::Bs(b) => {
            json!({"BS": b.iter().map(|b| B64.encode(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::L(l) => {
            json!({"L": l.iter().map(value_to_json).collect::<Result<Vec<_>, _>>()?})
        }
        AttributeValue::M(m) => json!({"M": item_to_json(m)?}),
        _ => return Err("unknown attribute type".into()),
    })
}

fn item_to_json(item: &SdkItem) -> Result<Value, BoxError> {
    Ok(Value::Object(
        item.iter()
            .map(|(k, v)| Ok((k.clone(), value_to_json(v)?)))
            .collect::<Result<Map<_, _>, BoxError>>()?,
    ))
}

fn actions_from_json(v: &Value) -> Result<AttributeActions, BoxError> {
    let action = |word: &Value| -> Result<Action, BoxError> {
        Ok(match word.as_str() {
            Some("encrypt") => Action::EncryptAndSign,
            Some("sign") => Action::SignOnly,
            Some("nothing") => Action::DoNothing,
            _ => return Err("action must be encrypt, sign or nothing".into()),
        })
    };
    let mut actions = AttributeActions::new(action(&v["default"])?);
    for (name, word) in v["override"].as_object().into_iter().flatten() {
        actions = actions.with_action(name, action(word)?)?;
    }
    Ok(actions)
}

/// The non-KMS, non-store providers, which can also protect a provider store.
enum Local {
    Static(StaticProvider),
    Wrapped(WrappedProvider),
}

fn local_provider(p: &Value) -> Result<Local, BoxError> {
    Ok(match text(p, "type")? {
        "static" => Local::Static(StaticProvider::new(
            Some(SymmetricKey::new(bytes(p, "aes")?)),
            SigningKey::hmac_sha256(bytes(p, "hmac")?),
            Default::default(),
        )),
        "wrapped_aes" => Local::Wrapped(WrappedProvider::aes_hmac(
            SymmetricKey::new(bytes(p, "wrap")?),
            SymmetricKey::new(bytes(p, "hmac")?),
        )),
        "wrapped_rsa" => {
            let (private, public) = (bytes(p, "private")?, bytes(p, "public")?);
            Local::Wrapped(WrappedProvider::new(
                Some(WrappingKey::rsa_from_der(&public)?),
                Some(UnwrappingKey::rsa_from_pkcs8(&private)?),
                Some(SigningKey::rsa_sha256_from_pkcs8(&private)?),
                Some(VerificationKey::rsa_sha256_from_der(&public)),
            ))
        }
        other => return Err(format!("unknown provider {other}").into()),
    })
}

async fn run<P: CryptographicMaterialsProvider>(
    request: &Value,
    client: aws_sdk_dynamodb::Client,
    provider: P,
) -> Result<Value, BoxError> {
    let table = text(request, "table")?;
    let enc = EncryptedClient::new(client, provider, actions_from_json(&request["actions"])?);
    match text(request, "op")? {
        "put" => {
            for item in request["items"].as_array().ok_or("items")? {
                let put = enc
                    .client()
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item_from_json(item)?));
                enc.put_item(put).await?;
            }
            Ok(json!({"ok": true}))
        }
        "get" => {
            let mut items = Vec::new();
            for key in request["keys"].as_array().ok_or("keys")? {
                let get = enc
                    .client()
                    .get_item()
                    .table_name(table)
                    .set_key(Some(item_from_json(key)?))
                    .consistent_read(true);
                items.push(match enc.get_item(get).await?.item {
                    Some(item) => item_to_json(&item)?,
                    None => Value::Null,
                });
            }
            Ok(json!({ "items": items }))
        }
        other => Err(format!("unknown op {other}").into()),
    }
}

async fn with_store<P: CryptographicMaterialsProvider>(
    request: &Value,
    client: aws_sdk_dynamodb::Client,
    store_provider: P,
) -> Result<Value, BoxError> {
    let p = &request["provider"];
    let rows = ProviderStoreRows::new(text(p, "store_table")?, store_provider);
    let store = DynamoDbMetaStore::new(client.clone(), rows);
    let provider =
        MostRecentProvider::new(store, text(p, "material_name")?, Duration::from_secs(60));
    run(request, client, provider).await
}

async fn main_inner() -> Result<Value, BoxError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let request: Value = serde_json::from_str(&input)?;
    let endpoint = text(&request, "endpoint")?;
    let credentials = Credentials::new(
        text(&request, "access_key")?,
        text(&request, "secret_key")?,
        None,
        None,
        "interop",
    );
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials.clone())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .build(),
    );
    let p = &request["provider"];
    match text(p, "type")? {
        "kms" => {
            run(
                &request,
                client,
                DirectKmsProvider::new(kms, text(p, "key_id")?),
            )
            .await
        }
        "most_recent" => {
            let store_provider = &p["store_provider"];
            if text(store_provider, "type")? == "kms" {
                let kms = DirectKmsProvider::new(kms, text(store_provider, "key_id")?);
                return with_store(&request, client, kms).await;
            }
            match local_provider(store_provider)? {
                Local::Static(sp) => with_store(&request, client, sp).await,
                Local::Wrapped(sp) => with_store(&request, client, sp).await,
            }
        }
        _ => match local_provider(p)? {
            Local::Static(sp) => run(&request, client, sp).await,
            Local::Wrapped(sp) => run(&request, client, sp).await,
        },
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    match main_inner().await {
        Ok(out) => println!("{out}"),
        Err(e) => {
            eprintln!("interop: {e}");
            std::process::exit(1);
        }
    }
}
