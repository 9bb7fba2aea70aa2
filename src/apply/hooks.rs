//! Lifecycle hooks: an HTTP request to the owning service's standard
//! ingress with the instance's resolved outputs as the JSON body and
//! `Authorization: Bearer <JWT>` (HS256, `jsonwebtoken`), signed by the
//! receiving service's own hook secret. One attempt, never retried (the
//! Platz seed: "a failed hook is logged once and forgotten").
//!
//! Each service's secret is derived from the environment's (sealed in the
//! state) as HMAC-SHA256(environment secret, service name), so a service
//! knows its own secret only and cannot sign a hook another service would
//! accept. The token names the receiving service (`aud`), is unique
//! (`jti`, a random UUID) and carries the SHA-256 of the exact body sent
//! (`body_sha256`), so a captured token cannot be replayed with another
//! body or at another service.

use crate::docker::{Docker, HttpRequest};
use crate::state::HookResult;
use hmac::{Hmac, Mac};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;

/// The JWT's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The receiving service: a token is for one service only.
    pub aud: String,
    pub sub: String,
    /// A random UUID: a receiver that remembers them refuses a replay.
    pub jti: String,
    pub project: String,
    pub environment: String,
    pub service: String,
    pub resource_type: String,
    pub instance: String,
    pub operation: String,
    /// Hex SHA-256 of the request body, byte for byte as sent.
    pub body_sha256: String,
    pub iat: u64,
    pub exp: u64,
}

pub const ISSUER: &str = "compartment";
const TOKEN_LIFETIME_SECS: u64 = 300;
const TIMEOUT: Duration = Duration::from_secs(10);
/// Domain separation of the per-service secret derivation.
const SERVICE_SECRET_CONTEXT: &[u8] = b"compartment/hook-secret/v1/";

pub struct HookRequest<'a> {
    /// The receiving container's address on the environment network.
    pub ip: &'a str,
    pub port: u16,
    pub path: &'a str,
    pub method: &'a str,
    /// The JSON body, serialised once: these bytes are hashed and sent.
    pub body: Vec<u8>,
    pub claims: Claims,
    /// The receiving service's secret (`service_secret`).
    pub secret: &'a [u8],
}

/// The hook secret of one service: base64url of HMAC-SHA256 keyed by the
/// environment's secret over the service's name. It is what the service
/// receives as `COMPARTMENT_HOOK_SECRET` and what its hooks are signed with.
pub fn service_secret(environment_secret: &str, service: &str) -> String {
    use base64::Engine;
    let mut mac = Hmac::<Sha256>::new_from_slice(environment_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(SERVICE_SECRET_CONTEXT);
    mac.update(service.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The body of a hook as sent: the JSON of the instance's outputs.
pub fn body_bytes(body: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(body).expect("a JSON value serialises")
}

pub fn claims(
    project: &str,
    environment: &str,
    service: &str,
    resource_type: &str,
    instance: &str,
    operation: &str,
    body: &[u8],
) -> Claims {
    let iat = chrono::Utc::now().timestamp().max(0) as u64;
    Claims {
        iss: ISSUER.into(),
        aud: service.into(),
        sub: format!("instance.{instance}"),
        jti: uuid::Uuid::new_v4().to_string(),
        project: project.into(),
        environment: environment.into(),
        service: service.into(),
        resource_type: resource_type.into(),
        instance: instance.into(),
        operation: operation.into(),
        body_sha256: crate::support::digest::sha256_hex(body),
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

/// Sends the hook once through `docker` (from this process, or from the
/// probe agent on `network` for an engine on another machine); the outcome
/// is recorded whatever it is.
pub async fn fire(docker: &Docker, network: &str, req: HookRequest<'_>) -> HookResult {
    let at = crate::support::time::now_rfc3339();
    let token = token(&req.claims, req.secret);
    let headers = BTreeMap::from([
        ("Authorization".to_string(), format!("Bearer {token}")),
        ("Content-Type".to_string(), "application/json".to_string()),
    ]);
    let answer = docker
        .http(HttpRequest {
            network,
            ip: req.ip,
            port: req.port,
            method: req.method,
            path: req.path,
            headers,
            body: req.body,
            timeout: TIMEOUT,
        })
        .await;
    let (status, ok, error) = match answer {
        Ok(code) if (200..300).contains(&code) => (Some(code), true, None),
        Ok(code) => (
            Some(code),
            false,
            Some(format!("the service answered {}", status_text(code))),
        ),
        Err(reason) => (None, false, Some(reason)),
    };
    HookResult {
        operation: req.claims.operation.clone(),
        method: req.method.into(),
        url: format!("http://{}:{}{}", req.ip, req.port, req.path),
        status,
        ok,
        error,
        at,
    }
}

/// `500 Internal Server Error`, as reqwest's status prints it.
fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(s) => s.to_string(),
        Err(_) => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    fn decoder(audience: &str) -> Validation {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[audience]);
        v
    }

    #[test]
    fn tokens_verify_with_the_receiving_services_secret_only() {
        let body = body_bytes(&serde_json::json!({"name": "Downtown"}));
        let c = claims(
            "p",
            "production",
            "storefront",
            "storefront/shop",
            "downtown",
            "create",
            &body,
        );
        let shop = service_secret("environment-secret", "storefront");
        let billing = service_secret("environment-secret", "billing");
        assert_ne!(shop, billing, "one secret per service");
        assert_eq!(shop, service_secret("environment-secret", "storefront"));
        assert_ne!(shop, service_secret("other-environment", "storefront"));
        let t = token(&c, shop.as_bytes());
        let got = decode::<Claims>(
            &t,
            &DecodingKey::from_secret(shop.as_bytes()),
            &decoder("storefront"),
        )
        .unwrap()
        .claims;
        assert_eq!(got, c);
        assert_eq!(got.aud, "storefront");
        assert_eq!(got.body_sha256, crate::support::digest::sha256_hex(&body));
        // Another service's secret does not verify it, nor another audience.
        assert!(decode::<Claims>(
            &t,
            &DecodingKey::from_secret(billing.as_bytes()),
            &decoder("storefront")
        )
        .is_err());
        assert!(decode::<Claims>(
            &t,
            &DecodingKey::from_secret(shop.as_bytes()),
            &decoder("billing")
        )
        .is_err());
    }

    #[test]
    fn every_token_has_its_own_id() {
        let c = |_| claims("p", "e", "s", "s/t", "i", "create", b"{}");
        assert_ne!(c(1).jti, c(2).jti);
    }
}
