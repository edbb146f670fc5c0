//! The generated client's hooks: before a request, the credentials are added; the request is
//! then sent through the [attempt loop](super::attempts), each attempt in a tracing span
//! `wix_inbox.request` with the operation, attempt, method, status and request ID, and with the
//! latest `X-Wix-Consistent` a response for the same site or app instance carried (not logged).

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::{header::AUTHORIZATION, StatusCode};
use tracing::{field::Empty, Span};

use std::sync::Arc;

use super::{
    attempts::{self, Attempt, Step},
    call,
    fleet::FleetStore,
    http, operations,
    pacing::Rate,
    state::ClientState,
    tenant::Tenant,
};
use crate::{trace::TraceContext, Client, GeneratedError};

impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), GeneratedError<E>> {
        let state = &self.inner;
        let authorized = match state.tenant() {
            Ok(tenant) => {
                let authorized = state.authorize(&tenant, &self.client, request).await;
                // Kept for `exec`: one lookup in the cache of instances per call.
                call::record(|call| call.tenant = Some(tenant));
                authorized
            }
            Err(e) => Err(e),
        };
        authorized.map_err(|e| {
            let e = e.with_operation(info.operation_id);
            let message = e.to_string();
            call::record(|call| call.token_error = Some(e));
            GeneratedError::Custom(message)
        })
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let state = &self.inner;
        let attempt = ApiCall {
            http: &self.client,
            state,
            // Found by `pre` (found again when the call is not driven by `convert`).
            tenant: call::take_tenant().or_else(|| state.tenant().ok()),
            operation: info.operation_id,
            method: request.method().clone(),
            repeatable: operations::is_repeatable(info.operation_id),
            token_renewed: false,
        };
        attempts::with_retries(state.policy(), attempt, request).await
    }
}

/// One request of an operation: sent, its response read in full (within the limit), and what
/// it calls for decided.
struct ApiCall<'a> {
    http: &'a reqwest::Client,
    state: &'a ClientState,
    /// The site or instance the call is for.
    tenant: Option<Arc<Tenant>>,
    operation: &'static str,
    method: reqwest::Method,
    repeatable: bool,
    token_renewed: bool,
}

impl Attempt for ApiCall<'_> {
    type Input = reqwest::Request;
    type Outcome = reqwest::Result<reqwest::Response>;

    fn operation(&self) -> &'static str {
        self.operation
    }

    fn span(&self, attempt: u32) -> Span {
        let span = tracing::info_span!(
            "wix_inbox.request",
            operation = self.operation,
            attempt,
            method = %self.method,
            status = Empty,
            request_id = Empty,
            trace_id = Empty,
        );
        // The delivery this call was made for, when there is one (`crate::trace`).
        if let Some(trace) = TraceContext::current() {
            span.record("trace_id", trace.trace_id());
        }
        span
    }

    async fn attempt(
        &mut self,
        n: u32,
        mut request: reqwest::Request,
        span: &Span,
    ) -> Step<reqwest::Request, Self::Outcome> {
        if let Some(tenant) = &self.tenant {
            if let Some(rate) = self.state.rate() {
                pace(self.state.fleet(), tenant, rate).await;
            }
            // Wix's read-your-writes token: the latest any response for this site or
            // instance carried.
            if let Some(consistent) = tenant.consistent() {
                request.headers_mut().insert(http::CONSISTENT, consistent);
            }
        }
        let spare = request.try_clone();
        let secret = self.state.credentials().secret();
        let outcome = http::send(self.http, request, self.state.max_response_size(), secret).await;
        crate::metrics::client_response(
            self.operation,
            outcome.as_ref().ok().map(|r| r.status().as_u16()),
            // The body was read whole: its exact size.
            outcome
                .as_ref()
                .ok()
                .and_then(reqwest::Response::content_length),
        );
        let retry_after = match &outcome {
            Ok(response) => {
                if let (Some(tenant), Some(consistent)) =
                    (&self.tenant, response.headers().get(http::CONSISTENT))
                {
                    tenant.keep_consistent(consistent);
                }
                let status = response.status();
                let request_id = response.headers().get(http::REQUEST_ID).cloned();
                let retry_after = (!status.is_success())
                    .then(|| http::retry_after(response.headers()))
                    .flatten();
                span.record("status", status.as_u16());
                if let Some(id) = request_id.as_ref().and_then(|id| id.to_str().ok()) {
                    span.record("request_id", id);
                }
                call::record(|call| {
                    call.attempts = n;
                    call.status = Some(status);
                    call.request_id = request_id;
                    call.retry_after = retry_after;
                });
                if status == StatusCode::UNAUTHORIZED
                    && !self.token_renewed
                    && self.state.credentials().renews()
                {
                    let Some(spare) = spare else {
                        return Step::Done(outcome);
                    };
                    return self.renew_token(spare, outcome).await;
                }
                if !(self.repeatable && http::is_retryable_status(status)) {
                    return Step::Done(outcome);
                }
                retry_after
            }
            Err(e) => {
                tracing::debug!(error = %e, "request failed");
                call::record(|call| {
                    call.attempts = n;
                    call.status = None;
                    call.request_id = None;
                    call.retry_after = None;
                });
                // A connection that could not be made provably never reached Wix.
                let never_sent = e.is_connect();
                if !(never_sent || (self.repeatable && !e.is_builder())) {
                    return Step::Done(outcome);
                }
                None
            }
        };
        match spare {
            Some(next) => Step::Retry {
                outcome,
                retry_after,
                next,
            },
            None => Step::Done(outcome),
        }
    }
}

impl ApiCall<'_> {
    /// After a 401: `next` with a token other than the refused one, or the 401 if none can be
    /// had (the reason is recorded for the error).
    async fn renew_token(
        &mut self,
        mut next: reqwest::Request,
        refused: reqwest::Result<reqwest::Response>,
    ) -> Step<reqwest::Request, reqwest::Result<reqwest::Response>> {
        self.token_renewed = true;
        let stale = next.headers().get(AUTHORIZATION).cloned();
        let Some(tenant) = self.tenant.clone() else {
            return Step::Done(refused);
        };
        // Boxed: a rare path, kept out of the size of every call's future.
        let renewal = Box::pin(self.state.renew(&tenant, self.http, stale.as_ref()));
        match renewal.await {
            Ok(fresh) => {
                next.headers_mut().insert(AUTHORIZATION, fresh);
                Step::RetryUncounted(next)
            }
            Err(e) => {
                call::record(|call| call.token_error = Some(e));
                Step::Done(refused)
            }
        }
    }
}

/// Waits for the instance's next request slot: the fleet's, when the app's processes share their
/// pacing (falling back to this process's own when the fleet store fails), else this process's.
async fn pace(fleet: Option<&dyn FleetStore>, tenant: &Tenant, rate: &Rate) {
    if let Some(fleet) = fleet {
        match fleet
            .reserve(tenant.id(), rate.interval(), rate.period())
            .await
        {
            Ok(wait) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                return;
            }
            Err(error) => tracing::warn!(%error, "pacing this request without the fleet"),
        }
    }
    tenant.pacer.wait(rate).await;
}
