//! Lifecycle hooks: an HTTP request to the owning service's standard
//! ingress with the instance's resolved outputs as the JSON body and
//! `Authorization: Bearer <JWT>` (HS256, `jsonwebtoken`), signed by the
//! environment's hook secret. One attempt, never retried (the Platz seed:
//! "a failed hook is logged once and forgotten").

use crate::state::HookResult;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The JWT's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub project: String,
    pub environment: String,
    pub service: String,
    pub resource_type: String,
    pub instance: String,
    pub operation: String,
    pub iat: u64,
    pub exp: u64,
}

pub const ISSUER: &str = "compartment";
const TOKEN_LIFETIME_SECS: u64 = 300;
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct HookRequest<'a> {
    pub url: String,
    pub method: &'a str,
    pub body: &'a serde_json::Value,
    pub claims: Claims,
    pub secret: &'a [u8],
}

pub fn claims(
    project: &str,
    environment: &str,
    service: &str,
    resource_type: &str,
    instance: &str,
    operation: &str,
) -> Claims {
    let iat = chrono::Utc::now().timestamp().max(0) as u64;
    Claims {
        iss: ISSUER.into(),
        sub: format!("instance.{instance}"),
        project: project.into(),
        environment: environment.into(),
        service: service.into(),
        resource_type: resource_type.into(),
        instance: instance.into(),
        operation: operation.into(),
        iat,
        exp: iat + TOKEN_LIFETIME_SECS,
    }
}

pub fn token(claims: &Claims, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing cannot fail")
}

/// Sends the hook once; the outcome is recorded whatever it is.
pub async fn fire(req: HookRequest<'_>) -> HookResult {
    let at = crate::support::time::now_rfc3339();
    let operation = req.claims.operation.clone();
    let method =
        reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            return HookResult {
                operation,
                method: req.method.into(),
                url: req.url,
                status: None,
                ok: false,
                error: Some(e.to_string()),
                at,
            }
        }
    };
    let response = client
        .request(method, &req.url)
        .bearer_auth(token(&req.claims, req.secret))
        .json(req.body)
        .send()
        .await;
    match response {
        Ok(r) => {
            let status = r.status();
            let error = (!status.is_success()).then(|| format!("the service answered {status}"));
            HookResult {
                operation,
                method: req.method.into(),
                url: req.url,
                status: Some(status.as_u16()),
                ok: status.is_success(),
                error,
                at,
            }
        }
        Err(e) => {
            let reason = if e.is_timeout() {
                format!("no answer within {}s", TIMEOUT.as_secs())
            } else {
                format!("cannot connect: {}", root_cause(&e))
            };
            HookResult {
                operation,
                method: req.method.into(),
                url: req.url,
                status: None,
                ok: false,
                error: Some(reason),
                at,
            }
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    #[test]
    fn tokens_verify_with_the_secret_only() {
        let c = claims(
            "p",
            "production",
            "storefront",
            "storefront/shop",
            "downtown",
            "create",
        );
        let t = token(&c, b"s3cret");
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        let got = decode::<Claims>(&t, &DecodingKey::from_secret(b"s3cret"), &v)
            .unwrap()
            .claims;
        assert_eq!(got, c);
        assert!(decode::<Claims>(&t, &DecodingKey::from_secret(b"other"), &v).is_err());
    }
}
