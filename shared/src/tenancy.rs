//! Who a request belongs to, and the escaped form of a tenant id that every storage key uses,
//! so that no tenant id can reach outside its own prefix.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// The tenant of single-tenant mode.
pub const SINGLE_TENANT: &str = "single";

/// Longest tenant id accepted (before escaping).
pub const MAX_TENANT_LEN: usize = 128;

/// A validated tenant id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId {
    raw: String,
    escaped: String,
}

impl TenantId {
    pub fn new(raw: &str) -> Result<Self, TenancyError> {
        if raw.is_empty() || raw.len() > MAX_TENANT_LEN {
            return Err(TenancyError::InvalidTenant(format!(
                "tenant id must have 1 to {MAX_TENANT_LEN} bytes"
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(TenancyError::InvalidTenant(
                "tenant id has control characters".into(),
            ));
        }
        Ok(TenantId {
            raw: raw.to_owned(),
            escaped: escape(raw),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The id as it appears in storage keys: everything but ASCII letters, digits, `-` and
    /// `_` percent-encoded, so `/`, `.` and `..` can never form a path of their own.
    pub fn escaped(&self) -> &str {
        &self.escaped
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.raw)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn unescape(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = escaped.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenancyError {
    #[error("missing tenant header {0}")]
    MissingHeader(String),
    #[error("missing probe token (Authorization: Scope-Probe token=...)")]
    MissingToken,
    #[error("unknown probe token")]
    UnknownToken,
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
}

/// Longest token accepted in a tokens file. Tokens are compared as this many bytes, so a
/// comparison takes the same time whatever the token and however long it is.
pub const MAX_TOKEN_LEN: usize = 256;

/// One token, padded to [`MAX_TOKEN_LEN`] bytes, with its length.
#[derive(Clone)]
struct Secret {
    bytes: [u8; MAX_TOKEN_LEN],
    len: u16,
}

impl Secret {
    fn new(token: &str) -> Option<Secret> {
        let raw = token.as_bytes();
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut bytes = [0; MAX_TOKEN_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Secret {
            bytes,
            len: raw.len() as u16,
        })
    }

    fn matches(&self, other: &Secret) -> subtle::Choice {
        use subtle::ConstantTimeEq;
        self.bytes.ct_eq(&other.bytes) & self.len.ct_eq(&other.len)
    }
}

/// Probe tokens and the tenants they belong to. `Debug` never shows a token.
#[derive(Clone, Default)]
pub struct Tokens(Vec<(Secret, TenantId)>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} tokens, redacted)", self.0.len())
    }
}

impl Tokens {
    /// Reads `TOKEN TENANT` lines; blank lines and `#` comments are skipped. A token listed
    /// twice is an error, whether for the same tenant or not: which one was meant cannot be
    /// told, and silently keeping one would give a probe's reports to the wrong tenant.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens: Vec<(Secret, TenantId)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(token), Some(tenant), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("line {}: expected `TOKEN TENANT`", n + 1));
            };
            let secret = Secret::new(token).ok_or_else(|| {
                format!("line {}: a token has at most {MAX_TOKEN_LEN} bytes", n + 1)
            })?;
            let tenant = TenantId::new(tenant).map_err(|e| format!("line {}: {e}", n + 1))?;
            if tokens.iter().any(|(s, _)| bool::from(s.matches(&secret))) {
                // The line number says where; the token itself never goes into a message.
                return Err(format!("line {}: this token is listed twice", n + 1));
            }
            tokens.push((secret, tenant));
        }
        Ok(Tokens(tokens))
    }

    /// The first token of a tokens file: what a client of this deployment (the chart's
    /// `helm test` check) authenticates with.
    pub fn first_token(text: &str) -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'))
            .and_then(|line| line.split_whitespace().next())
            .map(str::to_owned)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tenant of `token`. Every known token is compared, each in constant time, so how
    /// long this takes says nothing about how close a guess came.
    fn tenant_of(&self, token: &str) -> Option<TenantId> {
        let candidate = Secret::new(token)?;
        let mut found = None;
        for (secret, tenant) in &self.0 {
            if bool::from(secret.matches(&candidate)) {
                found = Some(tenant);
            }
        }
        found.cloned()
    }
}

/// The tokens in force, shared by every clone of a [`Tenancy`] so that a reload (SIGHUP, or
/// the file changing) reaches every request handler at once.
#[derive(Clone, Default)]
pub struct TokenSet(Arc<RwLock<Arc<Tokens>>>);

impl TokenSet {
    pub fn current(&self) -> Arc<Tokens> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, tokens: Tokens) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(tokens);
    }
}

impl From<Tokens> for TokenSet {
    fn from(tokens: Tokens) -> Self {
        TokenSet(Arc::new(RwLock::new(Arc::new(tokens))))
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.current().fmt(f)
    }
}

/// How a request's tenant is found (`--tenancy`).
#[derive(Clone, Debug)]
pub enum Tenancy {
    /// Every request belongs to [`SINGLE_TENANT`].
    Single,
    /// The tenant is the value of this header (`X-Scope-OrgID` by default), as set by an
    /// authenticating proxy in front of us.
    Header(String),
    /// Probes authenticate with `Authorization: Scope-Probe token=T`; the token names the tenant.
    Token(TokenSet),
}

impl Tenancy {
    /// Resolves the tenant from request headers, looked up by `header(name)`.
    pub fn resolve<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<TenantId, TenancyError> {
        match self {
            Tenancy::Single => TenantId::new(SINGLE_TENANT),
            Tenancy::Header(name) => match header(name).map(str::trim) {
                Some(value) if !value.is_empty() => TenantId::new(value),
                _ => Err(TenancyError::MissingHeader(name.clone())),
            },
            Tenancy::Token(tokens) => {
                let auth = header("authorization").ok_or(TenancyError::MissingToken)?;
                let token = auth
                    .trim()
                    .strip_prefix("Scope-Probe")
                    .map(str::trim)
                    .and_then(|rest| rest.strip_prefix("token="));
                let token = token
                    .filter(|t| !t.is_empty())
                    .ok_or(TenancyError::MissingToken)?;
                tokens
                    .current()
                    .tenant_of(token)
                    .ok_or(TenancyError::UnknownToken)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_ids_inside_their_prefix() {
        for hostile in [
            "../x",
            "a/b",
            ".",
            "..",
            "%2F",
            "x\\y",
            "tenant with spaces",
        ] {
            let id = TenantId::new(hostile).unwrap();
            let escaped = id.escaped();
            assert!(
                !escaped.contains('/') && !escaped.contains('.') && !escaped.contains(' '),
                "{hostile} -> {escaped}"
            );
            assert_eq!(unescape(escaped).as_deref(), Some(hostile));
        }
        assert_eq!(
            TenantId::new("acme-prod_1").unwrap().escaped(),
            "acme-prod_1"
        );
        assert_ne!(
            TenantId::new("a.b").unwrap().escaped(),
            TenantId::new("a%2Eb").unwrap().escaped(),
            "escaping is injective"
        );
    }

    #[test]
    fn invalid_ids_are_refused() {
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new(&"x".repeat(MAX_TENANT_LEN + 1)).is_err());
        assert!(TenantId::new("a\nb").is_err());
    }

    #[test]
    fn tokens_resolve_tenants_and_never_show_in_debug() {
        let tokens = Tokens::parse("# probes\nsecret-a acme\n\nsecret-b globex\n").unwrap();
        let tenancy = Tenancy::Token(tokens.into());
        let with = |auth: &'static str| move |name: &str| (name == "authorization").then_some(auth);
        assert_eq!(
            tenancy
                .resolve(with("Scope-Probe token=secret-a"))
                .unwrap()
                .as_str(),
            "acme"
        );
        assert_eq!(
            tenancy.resolve(with("Scope-Probe token=nope")),
            Err(TenancyError::UnknownToken)
        );
        assert_eq!(
            tenancy.resolve(with("Basic Zm9v")),
            Err(TenancyError::MissingToken)
        );
        assert_eq!(tenancy.resolve(|_| None), Err(TenancyError::MissingToken));
        let debug = format!("{tenancy:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(Tokens::parse("only-one-field").is_err());
    }

    #[test]
    fn the_first_token_skips_comments_and_blank_lines() {
        let text = "# probes\n\n  secret-a acme\nsecret-b globex\n";
        assert_eq!(Tokens::first_token(text).as_deref(), Some("secret-a"));
        assert_eq!(Tokens::first_token("# none\n\n"), None);
    }

    #[test]
    fn a_token_listed_twice_is_an_error_that_does_not_show_it() {
        let err = Tokens::parse("secret-a acme\nsecret-b globex\nsecret-a globex\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("twice"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(Tokens::parse("same acme\nsame acme\n").is_err());
        let long = "x".repeat(MAX_TOKEN_LEN + 1);
        assert!(Tokens::parse(&format!("{long} acme")).is_err());
    }

    #[test]
    fn a_replaced_token_set_reaches_every_clone() {
        let set = TokenSet::from(Tokens::parse("old acme").unwrap());
        let tenancy = Tenancy::Token(set.clone());
        let with = |auth: &'static str| move |name: &str| (name == "authorization").then_some(auth);
        assert!(
            tenancy
                .clone()
                .resolve(with("Scope-Probe token=old"))
                .is_ok()
        );
        set.replace(Tokens::parse("new acme").unwrap());
        assert_eq!(
            tenancy.resolve(with("Scope-Probe token=old")),
            Err(TenancyError::UnknownToken)
        );
        assert_eq!(
            tenancy
                .resolve(with("Scope-Probe token=new"))
                .unwrap()
                .as_str(),
            "acme"
        );
        // A prefix or an extension of a token is not the token.
        assert!(tenancy.resolve(with("Scope-Probe token=ne")).is_err());
        assert!(tenancy.resolve(with("Scope-Probe token=new1")).is_err());
    }

    #[test]
    fn header_and_single_modes() {
        let header = Tenancy::Header("x-scope-orgid".into());
        assert_eq!(
            header
                .resolve(|n| (n == "x-scope-orgid").then_some("t1"))
                .unwrap()
                .as_str(),
            "t1"
        );
        assert!(matches!(
            header.resolve(|_| Some("  ")),
            Err(TenancyError::MissingHeader(_))
        ));
        assert_eq!(
            Tenancy::Single.resolve(|_| None).unwrap().as_str(),
            SINGLE_TENANT
        );
    }
}
