//! The AWS Query protocol (IAM, STS): form-encoded `POST` bodies with `Action=` and
//! `Version=`, answered with XML.
//!
//! ```text
//! POST /  Content-Type: application/x-www-form-urlencoded
//!   Action=CreateUser&Version=2010-05-08&UserName=alice
//! → <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//!     <CreateUserResult>…</CreateUserResult>              (the backend's body)
//!     <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//!   </CreateUserResponse>
//! errors: <ErrorResponse xmlns=…><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
//!           <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//! ```
//! The service is told by the SigV4 credential scope (`iam` or `sts`); the backend gets
//! the whole form and answers the `…Result` element (or nothing), the front door adds
//! the envelope, so request ids are made in one place.

use crate::wire::WireError;

/// A Query-protocol service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryService {
    /// IAM, API version 2010-05-08, signed for `iam` in `us-east-1`.
    Iam,
    /// STS, API version 2011-06-15, signed for `sts`.
    Sts,
}

impl QueryService {
    /// The XML namespace of replies.
    pub fn namespace(self) -> &'static str {
        match self {
            QueryService::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            QueryService::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    /// The SigV4 service name.
    pub fn signing_name(self) -> &'static str {
        match self {
            QueryService::Iam => "iam",
            QueryService::Sts => "sts",
        }
    }

    /// The API version requests must name.
    pub fn version(self) -> &'static str {
        match self {
            QueryService::Iam => "2010-05-08",
            QueryService::Sts => "2011-06-15",
        }
    }
}

/// True if the content type is the Query protocol's form encoding.
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

/// The service a Query request is for, from the credential scope of its Authorization
/// header (`Credential=AKID/20260101/us-east-1/iam/aws4_request`); STS when unsigned or
/// scoped to anything but `iam`, so an unsigned request is refused in STS's words.
pub fn service_from_authorization(authorization: Option<&str>) -> QueryService {
    let scope_service = authorization
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|c| c.split('/').nth(3));
    match scope_service {
        Some("iam") => QueryService::Iam,
        _ => QueryService::Sts,
    }
}

/// The decoded form, in order (`+` is a space, `%XX` a byte; bad UTF-8 is replaced).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in a decoded form.
pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Refuses a form without an `Action`, or naming another API version.
pub fn check_action(service: QueryService, form: &[(String, String)]) -> Result<(), WireError> {
    let Some(action) = form_value(form, "Action").filter(|a| !a.is_empty()) else {
        return Err(WireError::new("MissingAction", 400, "Missing Action"));
    };
    if form_value(form, "Version") != Some(service.version()) {
        return Err(invalid_action(service, action));
    }
    Ok(())
}

/// AWS's answer to an action the service does not have.
pub fn invalid_action(service: QueryService, action: &str) -> WireError {
    WireError::new(
        "InvalidAction",
        400,
        format!(
            "Could not find operation {action} for version {}",
            service.version()
        ),
    )
}

/// Escapes text for an XML element or attribute.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// `<ActionResponse xmlns=…>result<ResponseMetadata>…</ResponseMetadata></ActionResponse>`.
pub fn success_body(
    service: QueryService,
    action: &str,
    result: &[u8],
    request_id: &str,
) -> Vec<u8> {
    let mut out = format!("<{action}Response xmlns=\"{}\">", service.namespace()).into_bytes();
    out.extend_from_slice(result);
    out.extend_from_slice(
        format!(
            "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
            escape_xml(request_id)
        )
        .as_bytes(),
    );
    out
}

/// AWS's XML error body: `Type` is `Sender` for 4xx, `Receiver` for 5xx.
pub fn error_body(service: QueryService, err: &WireError, request_id: &str) -> Vec<u8> {
    let kind = if err.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        service.namespace(),
        escape_xml(&err.type_name),
        escape_xml(&err.message),
        escape_xml(request_id)
    )
    .into_bytes()
}

/// The Query protocol's names for the errors the front door raises itself (the JSON
/// protocols' `…Exception` names), with their statuses.
pub fn front_error(name: &str, status: u16, message: String) -> WireError {
    let (code, status) = match name {
        "MissingAuthenticationTokenException" => ("MissingAuthenticationToken", 403),
        "IncompleteSignatureException" => ("IncompleteSignature", 400),
        "InvalidSignatureException" => ("SignatureDoesNotMatch", 403),
        "UnrecognizedClientException" => ("InvalidClientTokenId", 403),
        "ExpiredTokenException" => ("ExpiredToken", 403),
        "RequestEntityTooLarge" => ("RequestEntityTooLarge", 413),
        other => (other, status),
    };
    WireError::new(code, status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_scope() {
        let form = parse_form(
            b"Action=CreateUser&Version=2010-05-08&UserName=a%2Bb+c&Tags.member.1.Key=k",
        );
        assert_eq!(form_value(&form, "Action"), Some("CreateUser"));
        assert_eq!(form_value(&form, "UserName"), Some("a+b c"));
        assert_eq!(form_value(&form, "Tags.member.1.Key"), Some("k"));
        assert_eq!(form_value(&form, "Nope"), None);
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(service_from_authorization(Some(auth)), QueryService::Iam);
        assert_eq!(
            service_from_authorization(Some(&auth.replace("/iam/", "/sts/"))),
            QueryService::Sts
        );
        assert_eq!(service_from_authorization(None), QueryService::Sts);
        assert!(is_form(Some(
            "application/x-www-form-urlencoded; charset=utf-8"
        )));
        assert!(!is_form(Some("application/x-amz-json-1.0")));
    }

    #[test]
    fn envelopes_escape_and_classify() {
        let err = WireError::new(
            "NoSuchEntity",
            404,
            "The user with name <x> cannot be found.",
        );
        let body =
            String::from_utf8(error_body(QueryService::Iam, &err, "rid")).unwrap_or_default();
        assert!(body.contains("<Type>Sender</Type><Code>NoSuchEntity</Code>"));
        assert!(body.contains("name &lt;x&gt; cannot"));
        let internal = WireError::new("ServiceFailure", 500, "");
        let body =
            String::from_utf8(error_body(QueryService::Sts, &internal, "r")).unwrap_or_default();
        assert!(body.contains("<Type>Receiver</Type>"));
        let ok = String::from_utf8(success_body(
            QueryService::Sts,
            "GetCallerIdentity",
            b"<R/>",
            "id1",
        ))
        .unwrap_or_default();
        assert_eq!(
            ok,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><R/><ResponseMetadata><RequestId>id1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let e = front_error("UnrecognizedClientException", 400, "m".into());
        assert_eq!(
            (e.type_name.as_str(), e.status),
            ("InvalidClientTokenId", 403)
        );
    }
}
