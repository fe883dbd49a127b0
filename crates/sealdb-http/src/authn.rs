//! SigV4 authentication of one request, with AWS's checks in AWS's order:
//!
//! ```text
//! Authorization present and "AWS4-…"        else MissingAuthenticationTokenException
//! Credential / Signature / SignedHeaders and a date header present
//!                                           else IncompleteSignatureException (all missing named)
//! date in ISO 8601 basic format             else IncompleteSignatureException
//! date within 15 minutes of ours            else InvalidSignatureException "Signature expired"
//! host among the signed headers             else InvalidSignatureException
//! algorithm AWS4-HMAC-SHA256                else IncompleteSignatureException
//! credential of five elements               else IncompleteSignatureException
//! region, service, terminator, date of the scope   else InvalidSignatureException (all wrong named)
//! access key known                          else UnrecognizedClientException
//! signature matches (constant time)         else InvalidSignatureException
//! ```
//! So a request signed at the wrong time is told so before anything else in its
//! signature is looked at.

use crate::front::Protocol;
use crate::query::QueryService;
use crate::signing_keys;
use crate::sigv4::{self, AuthorizationHeader, RequestParts};
use crate::wire::{CredentialLookup, CredentialRejection, WireError};
use bytes::Bytes;
use sealdb_common::Principal;
use std::fmt::Write as _;

/// How far the request time may be from ours.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// What the checks need besides the request.
pub(crate) struct Verifier<'a> {
    pub(crate) credentials: &'a dyn CredentialLookup,
    pub(crate) regions: &'a sealdb_common::RegionSet,
    pub(crate) account_id: &'a str,
    pub(crate) now_secs: i64,
    pub(crate) secure_transport: bool,
}

/// The `key=value` parameters of an `Authorization` header, split on commas and spaces.
struct AuthorizationParams<'a> {
    algorithm: &'a str,
    credential: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
}

fn split_authorization(value: &str) -> AuthorizationParams<'_> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = AuthorizationParams {
        algorithm,
        credential: None,
        signed_headers: None,
        signature: None,
    };
    for part in rest.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (key, val) = part.split_once('=').unwrap_or((part, ""));
        let slot = match key {
            "Credential" => &mut params.credential,
            "SignedHeaders" => &mut params.signed_headers,
            "Signature" => &mut params.signature,
            _ => continue,
        };
        *slot = Some(val).filter(|v| !v.is_empty());
    }
    params
}

/// A request whose headers passed every check but the signature, which needs the body.
pub(crate) struct HeadersChecked {
    auth: AuthorizationHeader,
    amz_date: String,
    secret: sealdb_common::secret::SecretString,
    identity: sealdb_common::Identity,
    session_created: Option<i64>,
    session_token_used: bool,
    protocol: Protocol,
}

impl Verifier<'_> {
    /// Every check that needs only the headers, in AWS's order: the Authorization header,
    /// the date and its window, the scope and the access key. Done before the body is read,
    /// so an unauthenticated client cannot make the server buffer a large body.
    pub(crate) fn check_headers(
        &self,
        parts: &http::request::Parts,
        protocol: Protocol,
    ) -> Result<HeadersChecked, WireError> {
        let err = |name: &str, msg: String| protocol.front_error(name, 400, msg);
        let auth_value = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .filter(|v| v.trim_start().starts_with("AWS4-"));
        let Some(auth_str) = auth_value else {
            return Err(err(
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token".into(),
            ));
        };
        let params = split_authorization(&auth_str);
        let date_header = ["x-amz-date", "date"]
            .iter()
            .find_map(|name| parts.headers.get(*name))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

        let mut missing = String::new();
        for (name, value) in [
            ("Credential", params.credential),
            ("Signature", params.signature),
            ("SignedHeaders", params.signed_headers),
        ] {
            if value.is_none() {
                let _ = write!(
                    missing,
                    "Authorization header requires '{name}' parameter. "
                );
            }
        }
        if date_header.is_none() {
            missing.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        let (Some(credential), Some(signature), Some(signed), Some(amz_date)) = (
            params.credential,
            params.signature,
            params.signed_headers,
            date_header,
        ) else {
            let _ = write!(missing, "Authorization={auth_str}");
            return Err(err("IncompleteSignatureException", missing));
        };

        let Some(request_time) = sigv4::parse_amz_date(&amz_date) else {
            return Err(err(
                "IncompleteSignatureException",
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
            ));
        };
        let now = self.now_secs;
        if request_time < now - MAX_SKEW_SECS {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    sigv4::format_amz_date(now - MAX_SKEW_SECS),
                    sigv4::format_amz_date(now)
                ),
            ));
        }
        if request_time > now + MAX_SKEW_SECS {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                    sigv4::format_amz_date(now + MAX_SKEW_SECS),
                    sigv4::format_amz_date(now)
                ),
            ));
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(err(
                "InvalidSignatureException",
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        if params.algorithm != sigv4::ALGORITHM {
            return Err(err(
                "IncompleteSignatureException",
                format!(
                    "Unsupported AWS 'algorithm': '{}' (only AWS4-HMAC-SHA256 for now). ",
                    params.algorithm
                ),
            ));
        }
        let scope: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
        let [key_id, date, region, service, terminator] = scope[..] else {
            return Err(err(
                "IncompleteSignatureException",
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
                ),
            ));
        };
        let mut wrong = String::new();
        // IAM is global (signed in us-east-1); STS answers its global and regional names;
        // every other service answers each region it serves.
        let global = sealdb_common::region::IAM_SIGNING_REGION;
        let region_ok = match protocol {
            Protocol::Query(QueryService::Iam) => region == global,
            Protocol::Query(QueryService::Sts) => region == global || self.regions.answers(region),
            _ => self.regions.answers(region),
        };
        if !region_ok {
            let _ = write!(
                wrong,
                "Credential should be scoped to a valid region, not '{region}'. "
            );
        }
        if service != protocol.signing_service() {
            let _ = write!(
                wrong,
                "Credential should be scoped to correct service: '{}'. ",
                protocol.signing_service()
            );
        }
        if terminator != "aws4_request" {
            let _ = write!(
                wrong,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            );
        }
        if !amz_date.starts_with(date) || date.len() != 8 {
            let _ = write!(
                wrong,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{amz_date}'.",
                amz_date.get(..8).unwrap_or(&amz_date)
            );
        }
        if !wrong.is_empty() {
            return Err(err("InvalidSignatureException", wrong));
        }
        let session_token = parts
            .headers
            .get("x-amz-security-token")
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        let resolved = self
            .credentials
            .resolve(key_id, session_token)
            .map_err(|rejection| match rejection {
                CredentialRejection::Invalid => err(
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.".into(),
                ),
                CredentialRejection::Expired => err(
                    "ExpiredTokenException",
                    "The security token included in the request is expired".into(),
                ),
            })?;
        let auth = AuthorizationHeader {
            access_key_id: key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_owned(),
        };
        Ok(HeadersChecked {
            auth,
            amz_date,
            secret: resolved.secret,
            identity: resolved.identity,
            session_created: resolved.session_created,
            session_token_used: session_token.is_some(),
            protocol,
        })
    }

    /// The signature over the headers and the body as sent (constant-time compare), and
    /// the caller it proves.
    pub(crate) fn check_signature(
        &self,
        checked: HeadersChecked,
        parts: &http::request::Parts,
        body: &Bytes,
        remote_ip: &str,
    ) -> Result<Principal, WireError> {
        let HeadersChecked {
            auth,
            amz_date,
            secret,
            identity,
            session_created,
            session_token_used,
            protocol,
        } = checked;
        // Only the signed headers enter the canonical request.
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter(|(k, _)| auth.signed_headers.iter().any(|s| s == k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // DynamoDB, KMS, IAM and STS always hash the body they received: a request
        // signed with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (an S3 option) does not
        // match, as AWS answers it.
        let payload_hash = sigv4::sha256_hex(body);
        let req_parts = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            payload_hash: &payload_hash,
        };
        let scope = format!("{}/{}/{}", auth.date, auth.region, auth.service);
        let ready = signing_keys::get(&auth.access_key_id, &scope, &secret);
        let fresh = ready.is_none();
        let verified = sigv4::verify_with(&auth, &secret, &amz_date, &req_parts, ready);
        if let (true, Some(key)) = (fresh, &verified) {
            signing_keys::put(&auth.access_key_id, &scope, &secret, key.clone());
        }
        if verified.is_none() {
            return Err(protocol.front_error(
                "InvalidSignatureException",
                400,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        if !session_token_used {
            self.credentials
                .record_use(&auth.access_key_id, &auth.service, &auth.region);
        }
        let mut caller = Principal::new(
            identity,
            &auth.access_key_id,
            self.account_id,
            &auth.region,
            remote_ip,
        );
        caller.session_token_used = session_token_used;
        caller.session_created = session_created;
        caller.secure_transport = self.secure_transport;
        // CloudTrail keeps the client's User-Agent; a longer one than any SDK sends is cut.
        caller.user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(1024).collect());
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_split_on_commas_and_spaces() {
        let p = split_authorization("AWS4- Signature=b Credential=a");
        assert_eq!(p.algorithm, "AWS4-");
        assert_eq!(p.signature, Some("b"));
        assert_eq!(p.credential, Some("a"));
        assert_eq!(p.signed_headers, None);
        let p = split_authorization(
            "AWS4-HMAC-SHA256 Credential=k/d/r/s/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab",
        );
        assert_eq!(p.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(p.credential, Some("k/d/r/s/aws4_request"));
        assert_eq!(p.signed_headers, Some("host;x-amz-date"));
        assert_eq!(p.signature, Some("ab"));
        let p = split_authorization("AWS4-HMAC-SHA256 Credential=, Signature=x");
        assert_eq!(p.credential, None);
    }
}
