//! [`AppBuilder::from_env`]: the app's credentials as `wix-inbox fake serve` and `fake load`
//! print them, read back.

use super::AppBuilder;
use crate::{Error, ErrorKind};

impl AppBuilder {
    /// A builder with the app of the environment, as `wix-inbox fake serve` and
    /// `wix-inbox fake load` name it: `WIX_APP_ID` and `WIX_APP_SECRET`; the webhook public
    /// key `WIX_WEBHOOK_PUBLIC_KEY` and `WIX_BASE_URL` (else Wix's) when set. Empty variables
    /// count as unset. The values are never quoted in an error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] naming the variable missing.
    pub fn from_env() -> Result<AppBuilder, Error> {
        Self::from_vars(crate::client::env::var)
    }

    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let need = |name: &str| {
            var(name).ok_or_else(|| {
                Error::new(ErrorKind::Config).with_message(format!(
                    "set {name} (with WIX_APP_ID, WIX_APP_SECRET and, for webhooks, \
                     WIX_WEBHOOK_PUBLIC_KEY)"
                ))
            })
        };
        let mut builder = AppBuilder::default()
            .app_id(need("WIX_APP_ID")?)
            .app_secret(need("WIX_APP_SECRET")?);
        if let Some(pem) = var("WIX_WEBHOOK_PUBLIC_KEY") {
            builder = builder.public_key(&pem);
        }
        Ok(match var("WIX_BASE_URL") {
            Some(url) => builder.base_url(url),
            None => builder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::env::vars;

    #[test]
    fn the_app_id_and_secret_are_needed_and_named_never_quoted() {
        let e = AppBuilder::from_vars(vars(&[("WIX_APP_SECRET", "s3cr3t")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("WIX_APP_ID"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        let e = AppBuilder::from_vars(vars(&[("WIX_APP_ID", "a")])).unwrap_err();
        assert!(e.to_string().contains("set WIX_APP_SECRET"), "{e}");
    }

    #[test]
    fn the_base_url_and_public_key_are_taken_when_set() {
        let set = [
            ("WIX_APP_ID", "a"),
            ("WIX_APP_SECRET", "s"),
            ("WIX_BASE_URL", "http://127.0.0.1:9"),
        ];
        let app = AppBuilder::from_vars(vars(&set)).unwrap().build().unwrap();
        assert_eq!(app.app_id(), "a");
        let debug = format!("{:?}", AppBuilder::from_vars(vars(&set)).unwrap());
        assert!(debug.contains("127.0.0.1:9"), "{debug}");
        assert!(
            !debug.contains("\"s\""),
            "the secret is never shown: {debug}"
        );
        let bad_key = [
            ("WIX_APP_ID", "a"),
            ("WIX_APP_SECRET", "s"),
            ("WIX_WEBHOOK_PUBLIC_KEY", "x"),
        ];
        let e = AppBuilder::from_vars(vars(&bad_key))
            .unwrap()
            .build()
            .unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Config,
            "a broken key is refused at build: {e}"
        );
    }
}
