//! Create table: name and key schema, "Default settings" or customized settings
//! (capacity, a secondary index, deletion protection, TTL, streams, tags, encryption at
//! rest with the three choices AWS offers).

use crate::calls::{ServiceError, s};
use crate::form::Form;
use crate::layout::{self, Section};
use crate::{Ctx, Reply, path_segment};
use http::StatusCode;
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Value, json};

/// The account's enabled symmetric encryption keys managed by the customer, as
/// (key ARN, label), for the customer managed key picker.
pub(crate) async fn customer_keys(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let Ok(listed) = ctx.kms("ListKeys", json!({ "Limit": 1000 })).await else {
        return Vec::new();
    };
    let aliases = ctx
        .kms("ListAliases", json!({ "Limit": 100 }))
        .await
        .map(|a| a["Aliases"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    let mut keys = Vec::new();
    for k in listed["Keys"].as_array().into_iter().flatten() {
        let Ok(d) = ctx
            .kms("DescribeKey", json!({ "KeyId": s(k, "KeyId") }))
            .await
        else {
            continue;
        };
        let m = &d["KeyMetadata"];
        if s(m, "KeyManager") != "CUSTOMER"
            || s(m, "KeyState") != "Enabled"
            || s(m, "KeyUsage") != "ENCRYPT_DECRYPT"
            || s(m, "KeySpec") != "SYMMETRIC_DEFAULT"
        {
            continue;
        }
        let id = s(m, "KeyId");
        let alias = aliases
            .iter()
            .find(|a| s(a, "TargetKeyId") == id)
            .map(|a| s(a, "AliasName").to_owned());
        let arn = s(m, "Arn").to_owned();
        let label = match alias {
            Some(a) => format!("{a} ({id})"),
            None => id.to_owned(),
        };
        keys.push((arn, label));
    }
    keys
}

/// The encryption-at-rest choices, named as AWS names them.
pub(crate) fn encryption_fieldset(
    keys: &[(String, String)],
    chosen: &str,
    chosen_key: &str,
    error: Option<&str>,
) -> Markup {
    let radio = |value: &str, id: &str, label: &str| {
        html! {
            div {
                input type="radio" name="encryption" id=(id) value=(value) checked[chosen == value];
                label.inline for=(id) { (label) }
            }
        }
    };
    html! {
        fieldset #encryption-at-rest {
            legend { "Encryption at rest" }
            (radio("owned", "enc-owned", "Owned by Amazon DynamoDB"))
            (radio("aws", "enc-aws", "AWS managed key (aws/dynamodb)"))
            (radio("customer", "enc-customer", "Stored in your account, and owned and managed by you"))
            div data-show-when="encryption=customer" {
                label for="kms_key" { "Choose a KMS key" }
                select #kms_key name="kms_key" {
                    option value="" { "Choose a key" }
                    @for (arn, label) in keys {
                        option value=(arn) selected[chosen_key == arn] { (label) }
                    }
                }
                label for="kms_key_arn" { "Or enter a key ARN or alias" }
                input #kms_key_arn type="text" name="kms_key_arn";
                p.hint { a href="/console/keys/new" { "Create a KMS key" } }
            }
            @if let Some(e) = error { p.field-error role="alert" { (e) } }
        }
    }
}

/// The SSESpecification of the chosen encryption (none for the service-owned key).
pub(crate) fn sse_specification(form: &Form) -> Result<Option<Value>, String> {
    match form.get("encryption").unwrap_or("owned") {
        "owned" => Ok(None),
        "aws" => Ok(Some(json!({ "Enabled": true, "SSEType": "KMS" }))),
        "customer" => {
            let key = form
                .non_empty("kms_key_arn")
                .or_else(|| form.non_empty("kms_key"))
                .ok_or("Choose a KMS key, or enter its ARN or alias.")?;
            Ok(Some(
                json!({ "Enabled": true, "SSEType": "KMS", "KMSMasterKeyId": key }),
            ))
        }
        _ => Err("Choose one of the encryption choices.".into()),
    }
}

/// The field a service message is about (shown next to it), else the form's top.
fn field_of(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("kms") || m.contains("key ") || m.contains("sse") {
        "encryption"
    } else if m.contains("provisionedthroughput") || m.contains("capacity") {
        "capacity"
    } else if m.contains("index") {
        "index"
    } else if m.contains("tablename") || m.contains("table name") || m.contains("table already") {
        "name"
    } else if m.contains("keyschema") || m.contains("attribute") {
        "keys"
    } else {
        "form"
    }
}

fn key_type_select(name: &str, label: &str, chosen: &str) -> Markup {
    html! {
        select id=(name) name=(name) aria-label=(label) {
            @for (v, label) in [("S", "String"), ("N", "Number"), ("B", "Binary")] {
                option value=(v) selected[chosen == v] { (label) }
            }
        }
    }
}

/// Index rows the form shows at first, and at most (AWS's limits: 20 global, 5 local).
const INDEX_ROWS: [(&str, usize, usize); 2] = [("gsi", 2, 20), ("lsi", 1, 5)];

/// How many rows of index kind `kind` (`gsi`, `lsi`) the form has.
fn count(f: &Form, kind: &str) -> usize {
    let (_, first, most) = INDEX_ROWS
        .iter()
        .copied()
        .find(|(k, _, _)| *k == kind)
        .unwrap_or(("", 0, 0));
    f.get(&format!("{kind}_count"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(first)
        .min(most)
}

/// The Projection of index row `i`.
fn projection(f: &Form, kind: &str, i: usize) -> Value {
    match f.get(&format!("{kind}_projection_{i}")) {
        Some("KEYS_ONLY") => json!({ "ProjectionType": "KEYS_ONLY" }),
        Some("INCLUDE") => {
            let attrs: Vec<&str> = f
                .get(&format!("{kind}_include_{i}"))
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            json!({ "ProjectionType": "INCLUDE", "NonKeyAttributes": attrs })
        }
        _ => json!({ "ProjectionType": "ALL" }),
    }
}

/// The secondary index rows: global ones (own partition key, optional sort key) and
/// local ones (the table's partition key, a sort key of their own).
fn index_fieldsets(f: &Form, error: Option<&str>) -> Markup {
    let v = |name: String| f.get(&name).unwrap_or("").to_owned();
    let projection_select = |kind: &str, i: usize| {
        let id = format!("{kind}_projection_{i}");
        let chosen = f.get(&id).unwrap_or("ALL").to_owned();
        html! {
            div {
                label for=(id) { "Projected attributes " (i + 1) }
                select id=(id) name=(id) {
                    @for (p, label) in [("ALL", "All"), ("KEYS_ONLY", "Only keys"), ("INCLUDE", "Include")] {
                        option value=(p) selected[chosen == p] { (label) }
                    }
                }
            }
            div {
                label for=(format!("{kind}_include_{i}")) { "Included attributes " (i + 1) " (comma-separated)" }
                input type="text" id=(format!("{kind}_include_{i}")) name=(format!("{kind}_include_{i}")) value=(v(format!("{kind}_include_{i}")));
            }
        }
    };
    let (gsis, lsis) = (count(f, "gsi"), count(f, "lsi"));
    html! {
        fieldset #secondary-indexes {
            legend { "Secondary indexes - optional" }
            @if let Some(e) = error { p.field-error role="alert" { (e) } }
            input type="hidden" name="gsi_count" value=(gsis);
            input type="hidden" name="lsi_count" value=(lsis);
            h2 { "Global secondary indexes" }
            @for i in 0..gsis {
                @let id = |what: &str| format!("gsi_{what}_{i}");
                @let n = i + 1;
                div.index-row {
                    div { label for=(id("name")) { "Global index name " (n) } input type="text" id=(id("name")) name=(id("name")) value=(v(id("name"))); }
                    div { label for=(id("pk")) { "Partition key " (n) } input type="text" id=(id("pk")) name=(id("pk")) value=(v(id("pk"))); }
                    div { label for=(id("pk_type")) { "Partition key type " (n) } (type_select(&id("pk_type"), f.get(&id("pk_type")).unwrap_or("S"))) }
                    div { label for=(id("sk")) { "Sort key " (n) " - optional" } input type="text" id=(id("sk")) name=(id("sk")) value=(v(id("sk"))); }
                    div { label for=(id("sk_type")) { "Sort key type " (n) } (type_select(&id("sk_type"), f.get(&id("sk_type")).unwrap_or("S"))) }
                    (projection_select("gsi", i))
                }
            }
            @if gsis < 20 { div.actions { button #add-gsi type="submit" name="add_index" value="gsi" { "Add global index" } } }
            h2 { "Local secondary indexes" }
            p.hint { "A local index has the table's partition key and a sort key of its own." }
            @for i in 0..lsis {
                @let id = |what: &str| format!("lsi_{what}_{i}");
                @let n = i + 1;
                div.index-row {
                    div { label for=(id("name")) { "Local index name " (n) } input type="text" id=(id("name")) name=(id("name")) value=(v(id("name"))); }
                    div { label for=(id("sk")) { "Sort key " (n) } input type="text" id=(id("sk")) name=(id("sk")) value=(v(id("sk"))); }
                    div { label for=(id("sk_type")) { "Sort key type " (n) } (type_select(&id("sk_type"), f.get(&id("sk_type")).unwrap_or("S"))) }
                    (projection_select("lsi", i))
                }
            }
            @if lsis < 5 { div.actions { button #add-lsi type="submit" name="add_index" value="lsi" { "Add local index" } } }
        }
    }
}

fn type_select(id: &str, chosen: &str) -> Markup {
    html! {
        select id=(id) name=(id) {
            @for (v, label) in [("S", "String"), ("N", "Number"), ("B", "Binary")] {
                option value=(v) selected[chosen == v] { (label) }
            }
        }
    }
}

/// GET /console/tables/new (and the form again with an error).
pub(crate) async fn page(ctx: &Ctx<'_>, f: &Form, error: Option<(&str, String)>) -> Reply {
    let keys = customer_keys(ctx).await;
    let err = |field: &str| {
        error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let v = |name: &str| f.get(name).unwrap_or("").to_owned();
    let settings = f.get("settings").unwrap_or("default");
    let content = html! {
        h1 { "Create table" }
        (layout::flash(err("form")))
        form method="post" action="/console/tables/new" {
            (layout::csrf(ctx))
            fieldset {
                legend { "Table details" }
                label for="name" { "Table name" }
                input #name type="text" name="name" value=(v("name")) required;
                @if let Some(e) = err("name") { p.field-error role="alert" { (e) } }
                label for="pk" { "Partition key" }
                input #pk type="text" name="pk" value=(v("pk")) required;
                (key_type_select("pk_type", "Partition key type", f.get("pk_type").unwrap_or("S")))
                label for="sk" { "Sort key - optional" }
                input #sk type="text" name="sk" value=(v("sk"));
                (key_type_select("sk_type", "Sort key type", f.get("sk_type").unwrap_or("S")))
                @if let Some(e) = err("keys") { p.field-error role="alert" { (e) } }
            }
            fieldset {
                legend { "Table settings" }
                div {
                    input #settings-default type="radio" name="settings" value="default" checked[settings == "default"];
                    label.inline for="settings-default" { "Default settings" }
                }
                div {
                    input #settings-custom type="radio" name="settings" value="custom" checked[settings == "custom"];
                    label.inline for="settings-custom" { "Customize settings" }
                }
            }
            div data-show-when="settings=custom" {
                fieldset {
                    legend { "Read/write capacity settings" }
                    label for="capacity" { "Capacity mode" }
                    select #capacity name="capacity" {
                        option value="ondemand" selected[f.get("capacity") != Some("provisioned")] { "On-demand" }
                        option value="provisioned" selected[f.get("capacity") == Some("provisioned")] { "Provisioned" }
                    }
                    label for="rcu" { "Read capacity units (provisioned)" }
                    input #rcu type="number" min="1" name="rcu" value=(f.get("rcu").unwrap_or("5"));
                    label for="wcu" { "Write capacity units (provisioned)" }
                    input #wcu type="number" min="1" name="wcu" value=(f.get("wcu").unwrap_or("5"));
                    @if let Some(e) = err("capacity") { p.field-error role="alert" { (e) } }
                }
                (index_fieldsets(f, err("index")))
                fieldset {
                    legend { "Other settings" }
                    div {
                        input #deletion_protection type="checkbox" name="deletion_protection" checked[f.checked("deletion_protection")];
                        label.inline for="deletion_protection" { "Turn on deletion protection" }
                    }
                    label for="stream" { "DynamoDB stream" }
                    select #stream name="stream" {
                        @for (val, label) in [("off", "Off"), ("NEW_AND_OLD_IMAGES", "New and old images"), ("NEW_IMAGE", "New image"), ("OLD_IMAGE", "Old image"), ("KEYS_ONLY", "Key attributes only")] {
                            option value=(val) selected[f.get("stream") == Some(val)] { (label) }
                        }
                    }
                    label for="ttl" { "Time to Live attribute - optional" }
                    input #ttl type="text" name="ttl" value=(v("ttl"));
                    label for="tag_key" { "Tag key - optional" }
                    input #tag_key type="text" name="tag_key" value=(v("tag_key"));
                    label for="tag_value" { "Tag value" }
                    input #tag_value type="text" name="tag_value" value=(v("tag_value"));
                }
                (encryption_fieldset(&keys, f.get("encryption").unwrap_or("owned"), f.get("kms_key").unwrap_or(""), err("encryption")))
            }
            div.actions {
                button.primary #create type="submit" { "Create table" }
                a.button href="/console/tables" { "Cancel" }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    layout::page_with_status(ctx, status, Section::Tables, "Create table", content)
}

/// The CreateTable request of the form.
fn create_request(f: &Form) -> Result<Value, (&'static str, String)> {
    let name = f.get("name").unwrap_or("").trim();
    let mut attrs = vec![];
    let mut add_attr = |name: &str, ty: &str| {
        if !attrs.iter().any(|a: &Value| a["AttributeName"] == name) {
            attrs.push(json!({ "AttributeName": name, "AttributeType": ty }));
        }
    };
    let pk = f.get("pk").unwrap_or("").trim();
    add_attr(pk, f.get("pk_type").unwrap_or("S"));
    let mut schema = vec![json!({ "AttributeName": pk, "KeyType": "HASH" })];
    if let Some(sk) = f.non_empty("sk") {
        add_attr(sk, f.get("sk_type").unwrap_or("S"));
        schema.push(json!({ "AttributeName": sk, "KeyType": "RANGE" }));
    }
    let mut req =
        json!({ "TableName": name, "KeySchema": schema, "BillingMode": "PAY_PER_REQUEST" });
    if f.get("settings") == Some("custom") {
        let provisioned = f.get("capacity") == Some("provisioned");
        let throughput = || -> Result<Value, (&'static str, String)> {
            let unit = |n: &str| {
                f.get(n).unwrap_or("").trim().parse::<i64>().map_err(|_| {
                    (
                        "capacity",
                        "Capacity units must be whole numbers.".to_owned(),
                    )
                })
            };
            Ok(json!({ "ReadCapacityUnits": unit("rcu")?, "WriteCapacityUnits": unit("wcu")? }))
        };
        if provisioned {
            req["BillingMode"] = json!("PROVISIONED");
            req["ProvisionedThroughput"] = throughput()?;
        }
        let mut gsis = Vec::new();
        for i in 0..count(f, "gsi") {
            let field = |what: &str| format!("gsi_{what}_{i}");
            let (Some(index), Some(ipk)) = (f.non_empty(&field("name")), f.non_empty(&field("pk")))
            else {
                continue;
            };
            add_attr(ipk, f.get(&field("pk_type")).unwrap_or("S"));
            let mut schema = vec![json!({ "AttributeName": ipk, "KeyType": "HASH" })];
            if let Some(isk) = f.non_empty(&field("sk")) {
                add_attr(isk, f.get(&field("sk_type")).unwrap_or("S"));
                schema.push(json!({ "AttributeName": isk, "KeyType": "RANGE" }));
            }
            let mut gsi = json!({
                "IndexName": index,
                "KeySchema": schema,
                "Projection": projection(f, "gsi", i),
            });
            if provisioned {
                gsi["ProvisionedThroughput"] = throughput()?;
            }
            gsis.push(gsi);
        }
        if !gsis.is_empty() {
            req["GlobalSecondaryIndexes"] = json!(gsis);
        }
        let mut lsis = Vec::new();
        for i in 0..count(f, "lsi") {
            let field = |what: &str| format!("lsi_{what}_{i}");
            let Some(index) = f.non_empty(&field("name")) else {
                continue;
            };
            let Some(isk) = f.non_empty(&field("sk")) else {
                return Err((
                    "index",
                    format!("The local secondary index {index} needs a sort key."),
                ));
            };
            add_attr(isk, f.get(&field("sk_type")).unwrap_or("S"));
            lsis.push(json!({
                "IndexName": index,
                "KeySchema": [
                    { "AttributeName": pk, "KeyType": "HASH" },
                    { "AttributeName": isk, "KeyType": "RANGE" },
                ],
                "Projection": projection(f, "lsi", i),
            }));
        }
        if !lsis.is_empty() {
            req["LocalSecondaryIndexes"] = json!(lsis);
        }
        if f.checked("deletion_protection") {
            req["DeletionProtectionEnabled"] = json!(true);
        }
        if let Some(view) = f.get("stream").filter(|v| *v != "off") {
            req["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": view });
        }
        if let Some(key) = f.non_empty("tag_key") {
            req["Tags"] = json!([{ "Key": key, "Value": f.get("tag_value").unwrap_or("") }]);
        }
        if let Some(sse) = sse_specification(f).map_err(|e| ("encryption", e))? {
            req["SSESpecification"] = sse;
        }
    }
    req["AttributeDefinitions"] = json!(attrs);
    Ok(req)
}

/// POST /console/tables/new
pub(crate) async fn submit(ctx: &Ctx<'_>, f: &Form) -> Reply {
    // "Add global index" / "Add local index": the form again with one more row.
    if let Some(kind) = f.get("add_index").filter(|k| *k == "gsi" || *k == "lsi") {
        let more = Form::parse(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    f.pairs()
                        .filter(|(k, _)| *k != format!("{kind}_count") && *k != "add_index"),
                )
                .append_pair(&format!("{kind}_count"), &(count(f, kind) + 1).to_string())
                .finish()
                .as_bytes(),
        );
        return page(ctx, &more, None).await;
    }
    let req = match create_request(f) {
        Ok(r) => r,
        Err((field, message)) => return page(ctx, f, Some((field, message))).await,
    };
    let name = s(&req, "TableName").to_owned();
    if let Err(e) = ctx.dynamodb(Operation::CreateTable, req).await {
        return page(ctx, f, Some((field_of(&e.message), e.text()))).await;
    }
    // TTL is its own call, once the table exists (as the AWS console does).
    if f.get("settings") == Some("custom") {
        if let Some(attr) = f.non_empty("ttl") {
            let ttl = json!({
                "TableName": name,
                "TimeToLiveSpecification": { "Enabled": true, "AttributeName": attr },
            });
            if let Err(e) = ctx.dynamodb(Operation::UpdateTimeToLive, ttl).await {
                return created_with_warning(ctx, &name, &e);
            }
        }
    }
    crate::redirect(&format!("/console/tables/{}", path_segment(&name)))
}

fn created_with_warning(ctx: &Ctx<'_>, name: &str, e: &ServiceError) -> Reply {
    let link = format!("/console/tables/{}", path_segment(name));
    layout::page(
        ctx,
        Section::Tables,
        "Table created",
        html! {
            h1 { "Table created" }
            (layout::flash(Some(&format!("The table was created, but Time to Live was not turned on: {}", e.text()))))
            p { a href=(link) { "Go to the table" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Form {
        Form::default()
            .with("name", "orders")
            .with("pk", "id")
            .with("pk_type", "S")
    }

    #[test]
    fn default_settings_make_an_on_demand_table_with_the_owned_key() {
        let r = create_request(&base().with("encryption", "customer")).unwrap();
        assert_eq!(r["BillingMode"], "PAY_PER_REQUEST");
        assert!(r.get("SSESpecification").is_none());
        assert_eq!(r["KeySchema"][0]["KeyType"], "HASH");
    }

    #[test]
    fn customized_settings_carry_every_choice() {
        let f = base()
            .with("settings", "custom")
            .with("sk", "at")
            .with("sk_type", "N")
            .with("capacity", "provisioned")
            .with("rcu", "3")
            .with("wcu", "4")
            .with("deletion_protection", "on")
            .with("stream", "NEW_IMAGE")
            .with("encryption", "customer")
            .with("kms_key", "arn:aws:kms:us-east-1:000000000000:key/k");
        let r = create_request(&f).unwrap();
        assert_eq!(r["ProvisionedThroughput"]["WriteCapacityUnits"], 4);
        assert_eq!(r["DeletionProtectionEnabled"], true);
        assert_eq!(r["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
        assert_eq!(
            r["SSESpecification"]["KMSMasterKeyId"],
            "arn:aws:kms:us-east-1:000000000000:key/k"
        );
        assert_eq!(r["AttributeDefinitions"][1]["AttributeType"], "N");
    }

    #[test]
    fn several_global_and_local_indexes_are_made() {
        let f = base()
            .with("settings", "custom")
            .with("sk", "at")
            .with("gsi_count", "3")
            .with("gsi_name_0", "by-color")
            .with("gsi_pk_0", "color")
            .with("gsi_name_1", "by-size")
            .with("gsi_pk_1", "size")
            .with("gsi_pk_type_1", "N")
            .with("gsi_sk_1", "at")
            .with("gsi_projection_1", "INCLUDE")
            .with("gsi_include_1", "a, b")
            .with("lsi_name_0", "by-day")
            .with("lsi_sk_0", "day")
            .with("lsi_projection_0", "KEYS_ONLY");
        let r = create_request(&f).unwrap();
        let gsis = r["GlobalSecondaryIndexes"].as_array().unwrap();
        assert_eq!(gsis.len(), 2);
        assert_eq!(gsis[1]["KeySchema"][1]["AttributeName"], "at");
        assert_eq!(gsis[1]["Projection"]["NonKeyAttributes"], json!(["a", "b"]));
        let lsi = &r["LocalSecondaryIndexes"][0];
        assert_eq!(lsi["KeySchema"][0]["AttributeName"], "id");
        assert_eq!(lsi["KeySchema"][1]["AttributeName"], "day");
        assert_eq!(lsi["Projection"]["ProjectionType"], "KEYS_ONLY");
        // Each attribute is defined once, with its type.
        let defs: Vec<&str> = r["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AttributeName"].as_str().unwrap())
            .collect();
        assert_eq!(defs, ["id", "at", "color", "size", "day"]);
        let no_sort = base().with("settings", "custom").with("lsi_name_0", "x");
        assert_eq!(create_request(&no_sort).unwrap_err().0, "index");
    }

    #[test]
    fn a_customer_managed_choice_needs_a_key() {
        let f = base()
            .with("settings", "custom")
            .with("encryption", "customer");
        assert_eq!(create_request(&f).unwrap_err().0, "encryption");
        let aws = create_request(&base().with("settings", "custom").with("encryption", "aws"));
        assert!(
            aws.unwrap()["SSESpecification"]
                .get("KMSMasterKeyId")
                .is_none()
        );
    }
}
