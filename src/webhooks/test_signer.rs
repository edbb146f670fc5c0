//! A stand-in for Wix's side of webhooks, for tests (feature `test-util`): an RSA key pair and
//! functions that sign events exactly as Wix does, plus lower-level signing for attack tests.
//!
//! Key generation uses aws-lc-rs; signing goes through `jsonwebtoken`. Generating a 2048-bit key
//! takes a moment, so [`TestSigner::shared`] makes one per process and keeps it.
//!
//! ```
//! use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
//! use wix_inbox::webhooks::InboxEvent;
//!
//! let signer = TestSigner::shared();
//! let token = signer.sign_event(&TestEvent::new(
//!     "wix.crm.inbox.v2.message_button_interacted",
//!     serde_json::json!({
//!         "id": "5c1e8a0a-0000-4000-8000-000000000001",
//!         "entityFqdn": "wix.crm.inbox.v2.message",
//!         "slug": "button_interacted",
//!         "actionEvent": {"body": {"conversationId": "c1", "interactionId": "yes"}},
//!     }),
//! ));
//! let event = signer.verifier().verify(token.as_bytes()).unwrap();
//! assert!(matches!(event.event, InboxEvent::ButtonInteracted(_)));
//! ```

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

use super::verify::unix_now;
use super::WebhookVerifier;
use crate::types;

/// An RSA-2048 key pair that signs webhook tokens as Wix does.
pub struct TestSigner {
    encoding_key: EncodingKey,
    public_key_pem: String,
    public_key_der: Vec<u8>,
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSigner")
            .field("public_key_pem", &self.public_key_pem)
            .finish_non_exhaustive()
    }
}

impl TestSigner {
    /// Generates a fresh key pair (slow in debug builds: prefer [`shared`](Self::shared) unless a
    /// second key is the point of the test).
    ///
    /// # Panics
    ///
    /// If the crypto library fails to generate or encode a key.
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self::from_key_pair(&pair).expect("a generated key signs")
    }

    /// The signer of an aws-lc-rs key pair: its PKCS#8 form for jsonwebtoken, its public key as
    /// SPKI PEM and DER.
    fn from_key_pair(pair: &KeyPair) -> Result<Self, InvalidSigningKey> {
        let private: Pkcs8V1Der<'static> = pair
            .as_der()
            .map_err(|_| InvalidSigningKey("it cannot be encoded as PKCS#8"))?;
        let public: PublicKeyX509Der<'static> = pair
            .public_key()
            .as_der()
            .map_err(|_| InvalidSigningKey("its public key cannot be encoded"))?;
        let encoding_key =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", private.as_ref()).as_bytes())
                .map_err(|_| InvalidSigningKey("jsonwebtoken rejects it"))?;
        Ok(TestSigner {
            encoding_key,
            public_key_pem: pem("PUBLIC KEY", public.as_ref()),
            public_key_der: public.as_ref().to_vec(),
        })
    }

    /// The signer of this process, generated on first use.
    pub fn shared() -> &'static TestSigner {
        static SHARED: OnceLock<TestSigner> = OnceLock::new();
        SHARED.get_or_init(TestSigner::generate)
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as Wix shows it.
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// The public key as SPKI DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// A verifier with this signer's public key and default settings.
    ///
    /// # Panics
    ///
    /// Never for a key made by this type.
    pub fn verifier(&self) -> WebhookVerifier {
        WebhookVerifier::from_public_key(&self.public_key_pem).expect("own public key")
    }

    /// Signs `event` as Wix does: RS256 over claims whose `data` is the JSON text of the
    /// envelope, whose `identity` and `data` are JSON text in turn.
    pub fn sign_event(&self, event: &TestEvent) -> String {
        self.sign_claims(&event.claims())
    }

    /// Signs any claims with RS256 and the header `{"alg":"RS256","typ":"JWT"}`.
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.sign_with(
            Algorithm::RS256,
            &json!({"alg": "RS256", "typ": "JWT"}),
            claims,
        )
    }

    /// Signs `claims` under `header` (written as given, whatever its `alg` says) with this key
    /// and `algorithm`, which must be an RSA one (RS256/384/512, PS256/384/512).
    ///
    /// # Panics
    ///
    /// If `algorithm` is not an RSA algorithm.
    pub fn sign_with(&self, algorithm: Algorithm, header: &Value, claims: &Value) -> String {
        self.sign_raw(
            algorithm,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    /// Signs raw header and claims bytes (which need not be JSON, nor UTF-8) with this key and
    /// `algorithm` (an RSA one), for tokens whose inner layers are broken on purpose.
    ///
    /// # Panics
    ///
    /// If `algorithm` is not an RSA algorithm.
    pub fn sign_raw(&self, algorithm: Algorithm, header: &[u8], claims: &[u8]) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding_key, algorithm)
                .expect("RSA signing");
        format!("{message}.{signature}")
    }
}

/// `header.claims.` with an empty signature, as for `alg: none`.
pub fn encode_unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.", unsigned_message(header, claims))
}

/// Signs `claims` under `header` with HMAC-SHA256 and `secret` (for the "public key as HMAC
/// secret" attack).
///
/// # Panics
///
/// Never in practice (HMAC accepts any secret).
pub fn sign_hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let message = unsigned_message(header, claims);
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .expect("HMAC signing");
    format!("{message}.{signature}")
}

fn unsigned_message(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// PEM text with 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One webhook delivery to sign: the domain event (as in Wix's examples) and what Wix wraps
/// around it.
#[derive(Clone, Debug)]
pub struct TestEvent {
    /// The envelope's `eventType`.
    pub event_type: String,
    /// The envelope's `instanceId`.
    pub instance_id: String,
    /// The identity, sent as JSON text in the envelope (`None`: no `identity`).
    pub identity: Option<types::WebhookIdentity>,
    /// The envelope's `accountInfo`.
    pub account_info: Option<types::AccountInfo>,
    /// The domain event, sent as JSON text in the envelope's `data`.
    pub domain_event: Value,
    /// The `iat` claim.
    pub iat: i64,
    /// The `exp` claim (`None`: no `exp`).
    pub exp: Option<i64>,
    /// The `nbf` claim (`None`: no `nbf`, as Wix sends it).
    pub nbf: Option<i64>,
}

impl TestEvent {
    /// An event of `event_type` with `domain_event`, issued now, expiring in 5 minutes, caused by
    /// an anonymous visitor, on a fixed test instance and site.
    pub fn new(event_type: impl Into<String>, domain_event: Value) -> Self {
        let now = unix_now();
        TestEvent {
            event_type: event_type.into(),
            instance_id: "b7d3fb8c-0ea7-4d8c-8b50-1a1b1c1d1e1f".to_owned(),
            identity: Some(types::WebhookIdentity {
                identity_type: Some(types::IdentityType::AnonymousVisitor),
                anonymous_visitor_id: Some("2b7e4ad9-5b1f-4c3c-9f7e-0a0b0c0d0e0f".to_owned()),
                ..Default::default()
            }),
            account_info: Some(types::AccountInfo {
                account_id: Some("0b7e4ad9-0000-4c3c-9f7e-000000000001".to_owned()),
                site_id: Some("0b7e4ad9-0000-4c3c-9f7e-000000000002".to_owned()),
                ..Default::default()
            }),
            domain_event,
            iat: now,
            exp: Some(now + 300),
            nbf: None,
        }
    }

    /// The envelope Wix wraps around the domain event: its `identity` and `data` are JSON text
    /// (of the identity and of the domain event).
    pub fn envelope(&self) -> types::WebhookEnvelope {
        types::WebhookEnvelope {
            event_type: Some(self.event_type.clone()),
            instance_id: Some(self.instance_id.clone()),
            identity: self.identity.as_ref().map(to_json_text),
            account_info: self.account_info.clone(),
            data: Some(self.domain_event.to_string()),
            ..Default::default()
        }
    }

    /// The JWT claims Wix would send for this event, as the spec's generated type: `data` is the
    /// JSON text of the [`envelope`](Self::envelope).
    pub fn payload(&self) -> types::WebhookPayload {
        types::WebhookPayload {
            data: to_json_text(&self.envelope()),
            iat: Some(self.iat),
            exp: self.exp,
            nbf: self.nbf,
            extra: Default::default(),
        }
    }

    /// The JWT claims Wix would send for this event (the [`payload`](Self::payload) as JSON):
    /// strings inside strings, each layer the spec's generated type.
    pub fn claims(&self) -> Value {
        serde_json::to_value(self.payload()).expect("generated types serialize")
    }
}

fn to_json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("generated types serialize")
}

/// A private key given to [`TestSigner::from_private_key_pem`] that cannot sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSigningKey(&'static str);

impl std::fmt::Display for InvalidSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the signing key is not usable: {}", self.0)
    }
}

impl std::error::Error for InvalidSigningKey {}

impl TestSigner {
    /// A signer with an existing RSA private key, as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`),
    /// e.g. one written by [`generate_private_key_pem`](Self::generate_private_key_pem) or by
    /// `wix-inbox fake serve`.
    pub fn from_private_key_pem(private_key_pem: &str) -> Result<Self, InvalidSigningKey> {
        let body: String = private_key_pem
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        if body.is_empty() {
            return Err(InvalidSigningKey(
                "expected a PKCS#8 PEM block (-----BEGIN PRIVATE KEY-----)",
            ));
        }
        let der = STANDARD
            .decode(body)
            .map_err(|_| InvalidSigningKey("the PEM body is not base64"))?;
        let pair =
            KeyPair::from_pkcs8(&der).map_err(|_| InvalidSigningKey("not an RSA private key"))?;
        Self::from_key_pair(&pair)
    }

    /// A fresh RSA-2048 private key as PKCS#8 PEM, for [`from_private_key_pem`](Self::from_private_key_pem)
    /// (and for a fake Inbox that should sign with a key written to a file).
    ///
    /// # Panics
    ///
    /// If the crypto library fails to generate or encode a key.
    pub fn generate_private_key_pem() -> String {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let private: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8 encoding");
        pem("PRIVATE KEY", private.as_ref())
    }
}
