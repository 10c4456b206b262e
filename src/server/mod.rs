//! `cab serve`: the HTTP API of SPEC section 5 over one store, so a team shares it.
//!
//! axum on tokio; every store call runs on a blocking thread over the same [`LocalStore`] the
//! command line uses, so the store's lock still guards a `cab` process writing the same file.
//! Identity comes from bearer tokens (`auth`), never from the client. Every request is logged
//! (method, route, status, latency, user; never a token). Connections are served by our own
//! accept loop (`connections`): header-read timeout, a connection cap, and on SIGTERM or Ctrl-C
//! no new connections, the requests in flight finished, writes included, and an exit within
//! 10 s whatever clients do.

pub mod auth;
pub mod connections;
pub mod error;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use tokio::sync::{Notify, watch};

use crate::backend::LocalStore;
use auth::Users;
pub use connections::Limits;
use error::ApiError;
use routes::{AppState, PUBLIC};

/// The longest any request may take; long-polls wait at most `routes::MAX_WAIT` seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
struct Guard {
    users: Arc<Users>,
}

/// Serve until SIGTERM or Ctrl-C with the default [`Limits`]. `ready` hears the address
/// actually bound (useful with port 0).
pub fn serve(
    store: LocalStore,
    users: Users,
    listen: &str,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    serve_with(store, users, Limits::default(), Vec::new(), listen, ready)
}

/// Serve until SIGTERM or Ctrl-C within these limits (`Limits::from_config` reads them from
/// the `[server]` section), delivering these webhooks meanwhile.
pub fn serve_with(
    store: LocalStore,
    users: Users,
    limits: Limits,
    webhooks: Vec<crate::notify::Webhook>,
    listen: &str,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(store, users, limits, webhooks, listen, ready));
    // Store work still running past the connections' deadline is abandoned, not awaited: the
    // store survives a process that ends mid-write.
    runtime.shutdown_timeout(connections::BLOCKING_GRACE);
    result
}

async fn run(
    store: LocalStore,
    users: Users,
    limits: Limits,
    webhooks: Vec<crate::notify::Webhook>,
    listen: &str,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen.to_string(),
            source,
        })?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState {
        store: Arc::new(store),
        written: Arc::new(Notify::new()),
        stopping: stop_rx,
        snapshot_refreshing: Arc::default(),
    };
    // Read the store once now, in the background. Until something has read it, a status
    // request is answered by a scan of the whole file (the one-shot path `cab status` takes),
    // so a server asked only for statuses would scan it on every request. A failure here is
    // reported by the requests that need the store.
    let warm = state.store.clone();
    tokio::task::spawn_blocking(move || warm.head());
    // Writes through other instances (a database's notifications) wake long-polls at once,
    // as this server's own writes do.
    let written = Arc::clone(&state.written);
    state
        .store
        .watch(Arc::new(move || written.notify_waiters()));
    let deliveries = crate::notify::spawn_for_server(
        Arc::clone(&state.store),
        webhooks,
        Arc::clone(&state.written),
        state.stopping.clone(),
    );
    // When the stop began, so that the deliveries' grace ends with the connections'.
    let mut stopping = state.stopping.clone();
    let stop_began = tokio::spawn(async move {
        let _ = stopping.changed().await;
        Instant::now()
    });
    let app = app(state, Arc::new(users));
    let files = connections::open_file_limit();
    let cap = connections::effective_cap(limits.max_connections, files);
    tracing::info!(
        max_connections = cap,
        open_file_limit = files.map_or_else(|| "-".to_string(), |f| f.to_string()),
        "connection cap"
    );
    ready(listener.local_addr()?);
    connections::serve(listener, app, cap, shutdown_signal(), stop_tx).await;
    // A delivery in flight finishes and records its progress, so a graceful restart sends
    // nothing already acknowledged; within the same grace as the connections.
    if let Some(deliveries) = deliveries {
        let began = stop_began.await.unwrap_or_else(|_| Instant::now());
        let left = connections::SHUTDOWN_GRACE.saturating_sub(began.elapsed());
        if tokio::time::timeout(left, deliveries).await.is_err() {
            tracing::warn!(
                "webhooks: a delivery still in flight was abandoned; it is sent again at the next start"
            );
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The whole application: routes, authentication and logging on every matched route, and JSON
/// answers for unknown routes and methods.
pub fn app(state: AppState, users: Arc<Users>) -> Router {
    routes::router(state)
        .route_layer(middleware::from_fn_with_state(Guard { users }, guard))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
}

/// SIGTERM or Ctrl-C (SIGINT): how a server, or `cab notify --follow`, is told to stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Authenticate (except the public routes), time out, and log every request.
async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let mut user = "-".to_string();
    if !PUBLIC.contains(&route.as_str()) {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        match token.and_then(|t| guard.users.authenticate(t)) {
            Some(actor) => {
                user = actor.name.clone();
                request.extensions_mut().insert(actor.clone());
            }
            None => {
                let response = ApiError::unauthorized().into_response();
                log(&method, &route, response.status(), started, &user);
                return response;
            }
        }
    }
    if let Err(e) = routes::check_query_names(method.as_str(), &route, request.uri()) {
        let response = e.into_response();
        log(&method, &route, response.status(), started, &user);
        return response;
    }
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            crate::engine::error::ErrorCode::Timeout,
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    };
    log(&method, &route, response.status(), started, &user);
    response
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme's case does not matter
/// (RFC 9110).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn log(method: &Method, route: &str, status: StatusCode, started: Instant, user: &str) {
    tracing::info!(
        method = %method,
        route = %crate::untrusted::line(route),
        status = status.as_u16(),
        latency_ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        user = %crate::untrusted::line(user),
        "request"
    );
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> Response {
    let started = Instant::now();
    let response = ApiError::new(
        crate::engine::error::ErrorCode::NotFound,
        format!("no route {method} {}", uri.path()),
    )
    .into_response();
    log(&method, uri.path(), response.status(), started, "-");
    response
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> Response {
    let started = Instant::now();
    let response = ApiError::new(
        crate::engine::error::ErrorCode::MethodNotAllowed,
        format!("{} does not take {method}", uri.path()),
    )
    .into_response();
    log(&method, uri.path(), response.status(), started, "-");
    response
}

/// Logs to stderr: one line per request, and the server's own news.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_not_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
