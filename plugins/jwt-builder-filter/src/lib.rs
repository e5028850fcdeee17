//! IG's `JwtBuilderFilter`: builds a JWT from a claims template for every request, signed
//! and/or encrypted with keys from secrets, and publishes it as `contexts.jwtBuilder.value`
//! (with the claims as `contexts.jwtBuilder.claims`) for the rest of the chain, typically a
//! HeaderFilter that forwards it.
//!
//! ```json
//! {"type": "JwtBuilderFilter", "config": {
//!     "template": {"sub": "${attributes.user}", "iat": "${now.epochSeconds}"},
//!     "secretsProvider": "JwtKeys",
//!     "signature": {"secretId": "jwt.signing", "algorithm": "RS256"},
//!     "encryption": {"secretId": "jwt.encryption", "algorithm": "RSA-OAEP-256", "method": "A256GCM"}
//! }}
//! ```
//!
//! Signing: HS256, HS384, HS512 (the secret is the key), RS256 (a PEM RSA private key), ES256
//! (a PEM P-256 private key). Encryption: `dir` (the secret is the 16 or 32 byte content key)
//! or RSA-OAEP-256 (a PEM RSA public or private key), with A128GCM or A256GCM. Signed and
//! encrypted: a nested JWT (`cty: JWT`), signed first; IG also writes that with the
//! encryption inside the signature (`"signature": {..., "encryption": {...}}`). The template
//! may be one expression giving every claim (`"${attributes.claims}"`).

mod jose;

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request};
use serde_json::{Value, json};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignatureConfig {
    secret_id: String,
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    include_key_id: Option<bool>,
    /// IG's other spelling of a signed, then encrypted JWT: the top-level `encryption`.
    #[serde(default)]
    encryption: Option<EncryptionConfig>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EncryptionConfig {
    secret_id: String,
    algorithm: String,
    #[serde(default)]
    method: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    /// The claims, or one expression giving them all (`"${contexts.attributes}"`).
    template: Value,
    #[serde(default)]
    secrets_provider: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    signature: Option<SignatureConfig>,
    #[serde(default)]
    encryption: Option<EncryptionConfig>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

/// A claims template: JSON whose strings with `${` are expressions evaluated per request.
enum Template {
    Literal(Value),
    Expression(Expression),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

impl Template {
    fn compile(value: Value, at: &str) -> Result<Template, String> {
        Ok(match value {
            Value::String(text) if text.contains("${") => Template::Expression(
                ferrogate_sdk::compile(&text).map_err(|e| format!("\"template\"{at}: {e}"))?,
            ),
            Value::Object(members) => Template::Object(
                members
                    .into_iter()
                    .map(|(key, value)| {
                        let nested = Template::compile(value, &format!("{at}.{key}"))?;
                        Ok((key, nested))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Value::Array(items) => Template::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| Template::compile(item, &format!("{at}[{index}]")))
                    .collect::<Result<_, _>>()?,
            ),
            other => Template::Literal(other),
        })
    }

    fn evaluate(&self) -> Value {
        match self {
            Template::Literal(value) => value.clone(),
            Template::Expression(expression) => {
                serde_json::from_str(&expression.evaluate()).unwrap_or(Value::Null)
            }
            Template::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, template)| (key.clone(), template.evaluate()))
                    // An expression that evaluates to null leaves the claim out, as in IG.
                    .filter(|(_, value)| !value.is_null())
                    .collect(),
            ),
            Template::Array(items) => Value::Array(items.iter().map(Template::evaluate).collect()),
        }
    }
}

struct JwtBuilderFilter {
    claims: Template,
    signer: Option<jose::Signer>,
    encrypter: Option<jose::Encrypter>,
}

fn secret(id: &str, at: &str) -> Result<Vec<u8>, String> {
    ferrogate_sdk::secret(id).map_err(|e| format!("{at}: {e}"))
}

impl Filter for JwtBuilderFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let _ = config.secrets_provider;
        let claims = match config.template {
            template @ Value::Object(_) => Template::compile(template, "")?,
            Value::String(text) if text.contains("${") => {
                Template::compile(Value::String(text), "")?
            }
            other => {
                return Err(format!(
                    "\"template\": {other} is neither an object of claims nor a ${{...}} expression giving one"
                ));
            }
        };
        let mut nested_encryption = None;
        let signer = config
            .signature
            .map(|signature| {
                nested_encryption = signature.encryption;
                let algorithm = signature.algorithm.unwrap_or_else(|| "RS256".to_owned());
                let key = secret(&signature.secret_id, "\"signature\".\"secretId\"")?;
                let key_id = signature
                    .include_key_id
                    .unwrap_or(true)
                    .then(|| signature.secret_id.clone());
                jose::Signer::new(&algorithm, &key, key_id)
                    .map_err(|e| format!("\"signature\": {e}"))
            })
            .transpose()?;
        let (at, encryption) = match (config.encryption, nested_encryption) {
            (Some(_), Some(_)) => {
                return Err(
                    "use \"encryption\" or \"signature\".\"encryption\", not both: they say the same"
                        .into(),
                );
            }
            (Some(encryption), None) => ("\"encryption\"", Some(encryption)),
            (None, nested) => ("\"signature\".\"encryption\"", nested),
        };
        let encrypter = encryption
            .map(|encryption| {
                let key = secret(&encryption.secret_id, &format!("{at}.\"secretId\""))?;
                let method = encryption.method.unwrap_or_else(|| "A256GCM".to_owned());
                jose::Encrypter::new(&encryption.algorithm, &method, &key)
                    .map_err(|e| format!("{at}: {e}"))
            })
            .transpose()?;
        if signer.is_none() && encrypter.is_none() {
            return Err(
                "declare \"signature\", \"encryption\" or both: an unprotected JWT proves nothing"
                    .into(),
            );
        }
        Ok(JwtBuilderFilter {
            claims,
            signer,
            encrypter,
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        let claims = self.claims.evaluate();
        if !claims.is_object() {
            // Only a whole-template expression can give something else.
            return Err(format!(
                "\"template\" evaluated to {claims}, not an object of claims"
            ));
        }
        let payload = claims.to_string();
        let jwt = match (&self.signer, &self.encrypter) {
            (Some(signer), None) => signer.sign(payload.as_bytes())?,
            (None, Some(encrypter)) => encrypter.encrypt(payload.as_bytes(), None)?,
            (Some(signer), Some(encrypter)) => {
                let signed = signer.sign(payload.as_bytes())?;
                encrypter.encrypt(signed.as_bytes(), Some("JWT"))?
            }
            (None, None) => return Err("no signature and no encryption".into()),
        };
        ferrogate_sdk::exchange::set_context(
            "jwtBuilder",
            &json!({"value": jwt, "claims": claims}),
        )?;
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(JwtBuilderFilter, "JwtBuilderFilter");
