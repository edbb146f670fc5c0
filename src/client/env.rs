//! [`ClientBuilder::from_env`]: the credentials `wix-inbox fake serve` prints, read back.

use super::builder::{AppCredentials, ClientBuilder};
use super::error::{Error, ErrorKind};

impl ClientBuilder {
    /// A builder with the credentials of the environment, as `wix-inbox fake serve` and the CLI
    /// name them: `WIX_API_KEY` and `WIX_SITE_ID`, or `WIX_APP_ID`, `WIX_APP_SECRET` and
    /// `WIX_INSTANCE_ID`; and `WIX_BASE_URL` when set (else Wix's). Empty variables count as
    /// unset. The values are never quoted in an error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when neither set is complete, or both are.
    pub fn from_env() -> Result<ClientBuilder, Error> {
        Self::from_vars(var)
    }

    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let key = (var("WIX_API_KEY"), var("WIX_SITE_ID"));
        let app = (
            var("WIX_APP_ID"),
            var("WIX_APP_SECRET"),
            var("WIX_INSTANCE_ID"),
        );
        let builder = match (key, app) {
            ((Some(key), Some(site)), (None, None, _)) => {
                ClientBuilder::default().api_key(key).site_id(site)
            }
            ((None, _), (Some(app_id), Some(app_secret), Some(instance_id))) => {
                ClientBuilder::default().app(AppCredentials {
                    app_id,
                    app_secret,
                    instance_id,
                })
            }
            _ => {
                return Err(Error::new(ErrorKind::Config).with_message(
                    "set WIX_API_KEY and WIX_SITE_ID, or WIX_APP_ID, WIX_APP_SECRET and \
                     WIX_INSTANCE_ID (one of the two)",
                ))
            }
        };
        Ok(match var("WIX_BASE_URL") {
            Some(url) => builder.base_url(url),
            None => builder,
        })
    }
}

/// The environment variable `name`; empty counts as unset (what both `from_env`s read).
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A set of variables, as `from_vars` reads them (tests).
#[cfg(test)]
pub(crate) fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        set.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_or_app_credentials_but_not_both() {
        let key = [("WIX_API_KEY", "k"), ("WIX_SITE_ID", "s")];
        assert!(ClientBuilder::from_vars(vars(&key))
            .unwrap()
            .build()
            .is_ok());
        let app = [
            ("WIX_APP_ID", "a"),
            ("WIX_APP_SECRET", "x"),
            ("WIX_INSTANCE_ID", "i"),
        ];
        assert!(ClientBuilder::from_vars(vars(&app))
            .unwrap()
            .build()
            .is_ok());
        let both = [key.as_slice(), app.as_slice()].concat();
        let e = ClientBuilder::from_vars(vars(&both)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = ClientBuilder::from_vars(vars(&key[..1])).unwrap_err();
        assert!(e.to_string().contains("WIX_SITE_ID"), "{e}");
    }
}
