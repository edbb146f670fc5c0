//! Get App Instance: the instance a token is for, and its site.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::errors::ApiError;
use super::oauth::{authenticate, Caller};
use super::Shared;
use wix_inbox::types::{AppInstance, AppInstanceSite, GetAppInstanceResponse};

/// The fake's app, as Get App Instance names it.
pub(crate) const APP_NAME: &str = "Fake Inbox App";

pub(super) async fn get_app_instance(
    State(inner): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<GetAppInstanceResponse>, ApiError> {
    let (caller, instance) = authenticate(&inner, &headers)?;
    if caller != Caller::App {
        // Wix answers it for an app's (or a Wix user's) identity: an API key names no instance.
        return Err(ApiError::unauthorized(
            "Get App Instance needs an app's access token: an API key names no app instance",
        ));
    }
    let ids = inner.state().instances[instance].clone();
    Ok(Json(GetAppInstanceResponse {
        instance: Some(AppInstance {
            instance_id: Some(ids.instance_id),
            app_name: Some(APP_NAME.to_owned()),
            app_version: Some("1.0.0".to_owned()),
            is_free: Some(true),
            free_trial_available: Some(false),
            copied_from_template: Some(ids.origin.is_some()),
            origin_instance_id: ids.origin,
            ..Default::default()
        }),
        site: Some(AppInstanceSite {
            site_id: Some(ids.site_id),
            site_display_name: Some("Fake Inbox site".to_owned()),
            locale: Some("en".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }))
}
